/**
 * npm run fill-notebooks: write the reference results into the markdown of the source notebooks, so a
 * student who opens notebooks/*.ipynb (in Jupyter or on GitHub) reads numbers, not keys.
 *
 * Each quoted result sits between two HTML comments that keep its key:
 *
 *   <!--ref rm.accVsGold-->82.3% to 84.8% over 3 seeds<!--/ref-->
 *
 * Jupyter's markdown renderer, GitHub and nbconvert all drop HTML comments, so the reader sees the
 * text only. A `{{ref key}}` placeholder written by an author becomes such a pair the first time this
 * runs; later runs replace what is between the comments with the text of the reference file
 * (data/reference-results.json, or RLHF_REFERENCE), formatted by lib/course/results.ts refText. Only
 * markdown cells change: code cells are the recipe (scripts/reference.ts chainHash) and are never touched.
 * `npm run reference` calls this after writing a new reference; the course build (scripts/run_course.py)
 * fills the same markers in the executed copies.
 *
 *   npm run fill-notebooks                 # notebooks/*.ipynb from the committed reference
 *   npm run fill-notebooks -- --check      # exit 1 and list the notebooks that are not up to date
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadReference, refText, ReferenceFile } from '../lib/course/results';
import { writeAtomic } from '../lib/core/files';

const KEY = '[a-z][A-Za-z0-9]*(?:\\.[A-Za-z0-9=_]+(?:-[A-Za-z0-9=_]+)*)+';
/** An author's placeholder. */
export const PLACEHOLDER = new RegExp(`\\{\\{ref (${KEY})\\}\\}`, 'g');
/** A filled result: opening comment with the key, the text, closing comment. */
export const MARKER = new RegExp(`<!--ref (${KEY})-->([^<]*)<!--/ref-->`, 'g');

export const marker = (key: string, text: string) => `<!--ref ${key}-->${text}<!--/ref-->`;

/** Keys quoted by a markdown text, as placeholders or markers, in order of appearance. */
export function quotedKeys(markdown: string): string[] {
  const found: [number, string][] = [];
  for (const re of [PLACEHOLDER, MARKER]) for (const m of markdown.matchAll(re)) found.push([m.index!, m[1]]);
  return found.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
}

/**
 * Placeholders become markers and every marker gets the text `textOf(key)`. A marker may not start a
 * line: CommonMark reads a line starting with `<!--` as a raw HTML block (its markdown would not
 * render), so a placeholder at the start of a paragraph's continuation line is joined to the line
 * before; one that starts a paragraph is an error naming it.
 */
export function fillMarkdown(markdown: string, textOf: (key: string) => string, where = 'markdown'): string {
  const joined = markdown.replace(/([^\n])\n[ \t]*(?=\{\{ref |<!--ref )/g, '$1 ');
  for (const m of joined.matchAll(/(^|\n)[ \t]*(\{\{ref [^}]*\}\}|<!--ref [^>]*>)/g)) {
    throw new Error(`${where}: ${m[2]} starts a paragraph; a marker there would turn the line into raw HTML: start the sentence with a word`);
  }
  return joined
    .replace(PLACEHOLDER, (_, key: string) => marker(key, textOf(key)))
    .replace(MARKER, (_, key: string) => marker(key, textOf(key)));
}

interface Cell { cell_type: string; source: string | string[] }

/** Fill one notebook's markdown cells; writes the file only when its text changed. Returns whether it did. */
export function fillNotebook(file: string, ref: ReferenceFile | null, opts: { write?: boolean } = {}): boolean {
  const before = fs.readFileSync(file, 'utf8');
  const nb = JSON.parse(before) as { cells: Cell[] };
  const name = path.basename(file);
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== 'markdown') return;
    const src = [c.source].flat().join('');
    const filled = fillMarkdown(src, (key) => refText(key, ref), `${name} cell ${i}`);
    if (filled !== src) c.source = filled;
  });
  const after = JSON.stringify(nb, null, 1) + '\n'; // nbformat's own layout (indent 1)
  if (after === before) return false;
  if (opts.write !== false) writeAtomic(file, after);
  return true;
}

/** The chapter notebooks of a folder (NN-*.ipynb), in order. */
export function chapterNotebooks(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort().map((f) => path.join(dir, f));
}

/** Fill every chapter notebook of `dir` from `ref`; returns the files that changed (or would, with write: false). */
export function fillNotebooks(dir: string, ref: ReferenceFile | null, opts: { write?: boolean } = {}): string[] {
  return chapterNotebooks(dir).filter((f) => fillNotebook(f, ref, opts));
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const dir = path.resolve(__dirname, '..', 'notebooks');
  try {
    const ref = loadReference();
    const changed = fillNotebooks(dir, ref, { write: !check });
    const rel = changed.map((f) => path.relative(process.cwd(), f));
    if (check) {
      console.log(changed.length ? `fill-notebooks: not up to date with the reference: ${rel.join(', ')} (run npm run fill-notebooks)` : 'fill-notebooks: every notebook quotes the reference file');
      process.exit(changed.length ? 1 : 0);
    }
    console.log(changed.length ? `fill-notebooks: wrote the reference texts into ${rel.join(', ')}` : 'fill-notebooks: every notebook already quotes the reference file');
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
