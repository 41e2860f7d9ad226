/**
 * npm run crosscheck: does a default-mode run made elsewhere land inside the reference?
 *
 * The reference (data/reference-results.json) quotes each result as a range over its seeds, measured
 * on one machine. A student's machine differs: OpenBLAS picks other kernels on another CPU, the
 * floats differ, and so do the samples. This script reads the values a whole-course run recorded
 * (runs/course/recorded.json: `npm run course` on a fresh checkout) and says, for every row of
 * README.md's reference block and over all recorded numbers, whether the run lands inside the range
 * the text quotes.
 *
 *   npm run crosscheck -- --run /path/to/runs/course/recorded.json --label "where it ran"
 *   npm run crosscheck -- --run ... --label ... --readme README.md   # also rewrite README's cross-check block,
 *                                                                    # keeping the run in data/crosscheck.json
 *   npm run crosscheck -- --stored     # rewrite README's block from data/crosscheck.json (after a new reference)
 *
 * What counts as inside:
 *   - a number measured over several seeds: between the lowest and highest seed, or equal to one
 *     of them at the digits the text quotes (a reader sees the rounded bounds);
 *   - a number measured once (chapters 02-03 are not re-seeded): equal at the quoted digits, which
 *     another CPU rarely is, so these rows say by how much they differ;
 *   - a yes/no verdict: the run's answer is one the seeds gave ("in 2 of 4 seeds" admits both);
 *     against "in all" or "in none" the other answer is new.
 * Times (the `time.` keys and every value in seconds) are the machine's, not the recipe's: left out.
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatReference, formatValue, loadReference, readRecorded, RecordedFile, RecordedValue, ReferenceEntry, ReferenceFile } from '../lib/course/results';
import { writeAtomic } from '../lib/core/files';
import { keyChapter, README_KEYS, REFERENCE_END, replaceMarkedBlock } from './reference';

export type Landing = 'inside' | 'outside' | 'missing';

export interface CrossCheckRow {
  key: string;
  /** The run's value as the text would print it, or "not recorded". */
  run: string;
  /** The reference as the text quotes it. */
  reference: string;
  landing: Landing;
  /** Why, when it is not plainly inside: "one reference run: 1.546, this run 0.012 lower". */
  note: string;
}

/** A difference in the entry's unit: fractions in percentage points ("3.1 points"), not as a share. */
function difference(d: number, e: ReferenceEntry): string {
  return e.unit === 'fraction' ? `${(100 * d).toFixed(e.digits)} points` : formatValue(d, e.unit, e.digits);
}

/** Where one recorded value lands against one reference entry (see the header for the rules). */
export function landing(value: RecordedValue | undefined, e: ReferenceEntry): { landing: Landing; note: string } {
  if (!value) return { landing: 'missing', note: 'this run did not record it' };
  const fmt = (x: number) => formatValue(x, e.unit, e.digits);
  if (e.unit === 'bool' || typeof value.value === 'boolean') {
    const seen = new Set(e.values.map((v) => v === true));
    const mine = value.value === true;
    return seen.has(mine) ? { landing: 'inside', note: '' } : { landing: 'outside', note: `${mine ? 'yes' : 'no'}, which no reference seed gave` };
  }
  const v = value.value;
  const once = e.values.length === 1 || e.seeds.every((s) => s === 'shared');
  if (once) {
    if (fmt(v) === fmt(e.mean)) return { landing: 'inside', note: '' };
    return { landing: 'outside', note: `one reference run (${fmt(e.mean)}); this run is ${difference(Math.abs(v - e.mean), e)} ${v > e.mean ? 'higher' : 'lower'}` };
  }
  if ((v >= e.min && v <= e.max) || fmt(v) === fmt(e.min) || fmt(v) === fmt(e.max)) return { landing: 'inside', note: '' };
  return { landing: 'outside', note: `${difference(v < e.min ? e.min - v : v - e.max, e)} ${v < e.min ? 'below the lowest' : 'above the highest'} of ${e.values.length} seeds` };
}

/** Keys of the machine's times, not of the recipe's results. */
function isTime(key: string, e: ReferenceEntry): boolean {
  return key.startsWith('time.') || e.unit === 'seconds';
}

/** The README rows and, over every key both recorded (times left out), how many land outside. */
export function crossCheck(ref: ReferenceFile, run: RecordedFile): { rows: CrossCheckRow[]; outside: string[]; compared: number } {
  if (run.mode !== ref.mode) throw new Error(`crosscheck: the run is of ${run.mode === 'fast' ? 'fast' : 'default'} mode, the reference of ${ref.mode === 'fast' ? 'fast' : 'default'} mode; compare runs of the same mode`);
  const rows = README_KEYS.map(([key]) => {
    const e = ref.keys[key];
    if (!e) throw new Error(`crosscheck: the reference has no ${key} (README_KEYS names it); run npm run reference first`);
    const r = run.values[key];
    return { key, run: r ? formatValue(r.value, e.unit, e.digits) : 'not recorded', reference: formatReference(e), ...landing(r, e) };
  });
  const both = Object.keys(ref.keys).filter((k) => !isTime(k, ref.keys[k]) && run.values[k] !== undefined).sort();
  const outside = both.filter((k) => landing(run.values[k], ref.keys[k]).landing === 'outside');
  return { rows, outside, compared: both.length };
}

const BEGIN = '<!-- crosscheck:begin (written by npm run crosscheck; do not edit by hand) -->';
const END = '<!-- crosscheck:end -->';

/** The README block: where the run was made, each row's landing, and the count over all keys. */
export function crossCheckBlock(ref: ReferenceFile, run: RecordedFile, label: string, date: string): string {
  const c = crossCheck(ref, run);
  const out = c.rows.filter((r) => r.landing !== 'inside');
  const what = Object.fromEntries(README_KEYS);
  const chapter = (k: string) => { const ch = keyChapter(k); return ch ? `chapter ${ch.number}: ` : ''; };
  return [
    BEGIN,
    `A default-mode run of the whole course beside the reference, with other arithmetic (${label}, ${date}): `
      + `${out.length === 0 ? 'every row lands inside the quoted spread' : `${c.rows.length - out.length} of ${c.rows.length} rows land inside the quoted spread`}; `
      + `over every number both recorded (times left out), ${c.outside.length} of ${c.compared} fall outside.`,
    '',
    '| result | this run | reference | lands |',
    '| --- | --- | --- | --- |',
    ...c.rows.map((r) => `| ${chapter(r.key)}${what[r.key]} | ${r.run} | ${r.reference} | ${r.landing}${r.note ? `: ${r.note}` : ''} |`),
    END,
  ].join('\n');
}

/** Replace the marked block of `file`, or put one right after the reference block. */
export function writeCrossCheckBlock(file: string, block: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const replaced = replaceMarkedBlock(text, block);
  if (replaced !== null) { writeAtomic(file, replaced); return; }
  const k = text.indexOf(REFERENCE_END);
  if (k < 0) throw new Error(`crosscheck: ${file} has no reference block to follow (run npm run reference first)`);
  writeAtomic(file, `${text.slice(0, k + REFERENCE_END.length)}\n\n${block}${text.slice(k + REFERENCE_END.length)}`);
}

/** The other run behind README's block, kept so the block can be checked and rewritten when the reference changes. */
export const STORED = path.join(__dirname, '..', 'data', 'crosscheck.json');

export interface StoredCrossCheck { label: string; date: string; run: RecordedFile }

function main(argv: string[]): number {
  const get = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  for (const a of argv) if (a.startsWith('--') && !['--run', '--label', '--readme', '--stored'].includes(a)) throw new Error(`crosscheck: unknown option ${a} (see the header of scripts/crosscheck.ts)`);
  const ref = loadReference();
  if (!ref) throw new Error('crosscheck: no reference results (data/reference-results.json); run npm run reference first');
  const fromStored = argv.includes('--stored');
  let stored: StoredCrossCheck;
  if (fromStored) {
    if (!fs.existsSync(STORED)) throw new Error(`crosscheck: ${STORED} does not exist (run npm run crosscheck -- --run ... --label ... --readme README.md once)`);
    stored = JSON.parse(fs.readFileSync(STORED, 'utf8'));
  } else {
    const runFile = get('--run'), label = get('--label');
    if (!runFile || !label) throw new Error('crosscheck: needs --run <runs/course/recorded.json of the other run> and --label "<where it ran>", or --stored');
    if (!fs.existsSync(runFile)) throw new Error(`crosscheck: ${runFile} does not exist`);
    const run = readRecorded(path.resolve(runFile));
    stored = { label, date: Object.values(run.values).map((v) => v.at).sort().pop()?.slice(0, 10) ?? 'undated', run };
  }
  const block = crossCheckBlock(ref, stored.run, stored.label, stored.date);
  console.log(block);
  const c = crossCheck(ref, stored.run);
  if (c.outside.length) console.log(`\nOutside (all keys): ${c.outside.join(', ')}`);
  const readme = get('--readme') ?? (fromStored ? path.join(__dirname, '..', 'README.md') : undefined);
  if (readme) {
    writeCrossCheckBlock(readme, block);
    if (!fromStored) writeAtomic(STORED, `${JSON.stringify(stored, null, 1)}\n`);
    console.log(`\nwrote the cross-check block of ${readme}${fromStored ? '' : ` and kept the run in ${STORED}`}`);
  }
  return 0;
}

if (require.main === module) {
  try { process.exitCode = main(process.argv.slice(2)); } catch (e) { console.error((e as Error).message); process.exitCode = 1; }
}
