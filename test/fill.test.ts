import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { chapterNotebooks, fillMarkdown, fillNotebook, marker, MARKER, PLACEHOLDER, quotedKeys } from '../scripts/fill_notebooks';
import { loadReference, refText } from '../lib/course/results';
import { buildReference } from '../scripts/reference';
import { chapterHashes } from '../lib/course/recipe';

const NOTEBOOKS = path.join(__dirname, '..', 'notebooks');
const REFERENCE = path.join(__dirname, '..', 'data', 'reference-results.json');
const markdownCells = (file: string): string[] => (JSON.parse(fs.readFileSync(file, 'utf8')).cells as { cell_type: string; source: string | string[] }[])
  .filter((c) => c.cell_type === 'markdown').map((c) => [c.source].flat().join(''));

describe('notebooks quote the reference results as numbers (scripts/fill_notebooks.ts)', () => {
  const ref = loadReference(REFERENCE);

  it('no {{ref key}} is left in the markdown of any notebook a student opens', () => {
    for (const f of chapterNotebooks(NOTEBOOKS)) {
      const left = markdownCells(f).flatMap((c) => c.match(/\{\{ref[^}]*\}\}?/g) ?? []);
      expect(left, path.basename(f)).toEqual([]);
    }
  });

  it('every written text is the text the committed reference file gives for its key', () => {
    let n = 0;
    for (const f of chapterNotebooks(NOTEBOOKS)) {
      for (const cell of markdownCells(f)) {
        for (const m of cell.matchAll(MARKER)) {
          n++;
          expect(m[2], `${path.basename(f)}: ${m[1]}`).toBe(refText(m[1], ref));
        }
      }
    }
    expect(n).toBeGreaterThan(80); // the chapters quote about ninety results
  });

  it('no marker starts a line (CommonMark would read the line as raw HTML) and the filled text reads as English', () => {
    for (const f of chapterNotebooks(NOTEBOOKS)) {
      for (const cell of markdownCells(f)) {
        expect(cell, path.basename(f)).not.toMatch(/(^|\n)[ \t]*<!--ref /);
        const plain = cell.replace(/<!--\/?ref[^>]*-->/g, '');
        // "... over 3 seeds nats", "from A over 3 seeds to B over 3 seeds"
        expect(plain, path.basename(f)).not.toMatch(/over \d+ seeds,? *(nats|bits|s|min|%|to\b)/);
      }
    }
  });

  it('a written value that differs from the reference fails the check; filling rewrites only markdown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-fillnb-'));
    const src = chapterNotebooks(NOTEBOOKS).find((f) => f.includes('04-'))!;
    const file = path.join(dir, path.basename(src));
    const text = fs.readFileSync(src, 'utf8');
    fs.writeFileSync(file, text);
    expect(fillNotebook(file, ref, { write: false })).toBe(false); // up to date
    const tampered = text.replace(/(<!--ref rm\.accVsGold-->)[^<]*/, '$190.0% to 95.0% over 3 seeds');
    expect(tampered).not.toBe(text);
    fs.writeFileSync(file, tampered);
    expect(fillNotebook(file, ref, { write: false })).toBe(true);
    expect(fillNotebook(file, ref)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    const codeOf = (t: string) => JSON.parse(t).cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
    expect(codeOf(fs.readFileSync(file, 'utf8'))).toEqual(codeOf(text));
  });

  it('placeholders become markers with the key; markers are refreshed; a line-start placeholder joins its line', () => {
    const texts: Record<string, string> = { 'rm.accVsGold': '78.2% to 81.3% over 2 seeds', 'ppo.beta0.05.kl': '6.23 to 8.62 nats over 3 seeds' };
    const md = 'It reached\n{{ref rm.accVsGold}} held out, at a KL of <!--ref ppo.beta0.05.kl-->old<!--/ref-->; `{{ref key}}` is no key.';
    const out = fillMarkdown(md, (k) => texts[k]);
    expect(out).toBe(`It reached ${marker('rm.accVsGold', texts['rm.accVsGold'])} held out, at a KL of ${marker('ppo.beta0.05.kl', texts['ppo.beta0.05.kl'])}; \`{{ref key}}\` is no key.`);
    expect(fillMarkdown(out, (k) => texts[k])).toBe(out); // idempotent
    expect(quotedKeys(md)).toEqual(['rm.accVsGold', 'ppo.beta0.05.kl']);
    expect(() => fillMarkdown('Intro.\n\n{{ref rm.accVsGold}} of pairs', (k) => texts[k], 'x.ipynb cell 3')).toThrow(/x.ipynb cell 3: \{\{ref rm.accVsGold\}\} starts a paragraph/);
    expect('{{ref a.b}}'.match(PLACEHOLDER)).toHaveLength(1);
  });

  it('the recipe hash does not see the filled markdown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-fillhash-'));
    for (const f of chapterNotebooks(NOTEBOOKS)) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    const hashes = () => Object.fromEntries(Object.entries(chapterHashes({ notebooks: dir })).map(([k, v]) => [k, v.hash]));
    const before = hashes();
    const other = buildReference([{ chapter: '04-reward-model', seed: 0, hash: 'h', mode: 'course', values: { 'rm.accVsGold': { value: 0.5, unit: 'fraction', digits: 1, seed: 0, at: '' } }, seconds: null, machine: { cpu: 'x', cores: 2 }, date: '2026-01-01T00:00:00Z', commit: 'c' }], 'course');
    for (const f of chapterNotebooks(dir)) fillNotebook(f, other);
    expect(markdownCells(path.join(dir, '04-reward-model.ipynb')).join('')).toContain(marker('rm.accVsGold', '50.0% (one seed)'));
    expect(hashes()).toEqual(before);
  });

  it('npm run fill-notebooks -- --check passes on the committed notebooks', () => {
    const out = execFileSync(path.join(__dirname, '..', 'node_modules', '.bin', 'tsx'), [path.join(__dirname, '..', 'scripts', 'fill_notebooks.ts'), '--check'], {
      env: { ...process.env, RLHF_REFERENCE: REFERENCE },
    }).toString();
    expect(out).toMatch(/every notebook quotes the reference file/);
  });
});
