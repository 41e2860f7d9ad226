/**
 * The numbers a run measures, and the reference they are read against.
 *
 * A notebook records every quantity its text discusses: `record("ppo.beta0.05.gold", 0.91)` merges
 * the key into the run's results file, runsDir()/recorded.json, with the run seed and the time.
 * `npm run reference` (scripts/reference.ts) runs the chain over several seeds and summarises those
 * files in data/reference-results.json; the course text quotes that file through placeholders
 * (`{{ref ppo.beta0.05.gold}}`, filled by the course build) and the notebooks print the student's
 * own value beside it: `compareToReference(key, value)`.
 *
 * Keys are stable and dotted: chapter, then what, lower camelCase, numbers as written in the
 * notebook ("rm.accVsGold", "ppo.beta0.05.gold", "bon.n16.gold"). A value is a finite number or a
 * boolean (a conclusion that holds or not).
 *
 * Reference ranges are printed as "min to max over n seeds" (not mean ± sd): with three seeds a
 * standard deviation says little, while the range is exactly what the seeds showed and what a
 * student should expect to land near. The file keeps mean and sd too.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { FAST, runsDir, findRepoRoot } from '../core/mode';
import { runSeed } from '../core/seed';
import { writeAtomic } from '../core/files';
import { mean, sampleSd } from '../core/stats';
import { GPT_PRESETS } from '../model/model';
import { TRAIN_DEFAULTS } from '../train/train';
import { PRETRAIN_PRESETS } from '../train/pretrain';
import { COURSE_BPE_MERGES } from '../text/bpe';
import { SFT_PRESETS } from '../methods/sft';
import { REWARD_PRESETS } from '../methods/reward';
import { PPO_PRESETS } from '../methods/ppo';
import { DPO_PRESETS } from '../methods/dpo';
import { DEFAULT_GOLD, DEFAULT_TASK } from '../feedback/task';
import { COMPARISON_TEMPERATURE, MethodResult } from './stages';
import { table } from '../view/display';

/** How a value reads in text: a fraction is shown as a percentage; the rest with their unit. */
export type Unit = 'fraction' | 'nats' | 'seconds' | 'count' | 'score' | 'bool';

export interface RecordOptions {
  /** Default: 'bool' for booleans, 'score' otherwise. */
  unit?: Unit;
  /** Decimals shown (percent for fractions). Defaults: fraction 1, nats 2, seconds 0, count 0, score 2. */
  digits?: number;
}

/** One recorded quantity of one run. */
export interface RecordedValue {
  value: number | boolean;
  unit: Unit;
  digits: number;
  /** RLHF_SEED of the run that recorded it. */
  seed: number;
  /** ISO time of the record. */
  at: string;
}

export interface RecordedFile {
  format: 1;
  mode: 'fast' | 'course';
  values: Record<string, RecordedValue>;
}

/** Summary of one key over the reference seeds. */
export interface ReferenceEntry {
  unit: Unit;
  digits: number;
  /** Numbers: over the seeds (booleans: fraction of seeds where it held). */
  mean: number;
  sd: number;
  min: number;
  max: number;
  /** Value per seed, in the order of `seeds` ("shared": measured once, before the seeds split). */
  values: (number | boolean)[];
  seeds: (number | 'shared')[];
}

export interface ReferenceFile {
  format: 1;
  mode: 'fast' | 'course';
  seeds: number[];
  machine: { cpu: string; cores: number };
  date: string;
  commit: string;
  recipeHash: string;
  /** Seconds per notebook: mean, min, max over the runs that executed it. */
  times: Record<string, { mean: number; min: number; max: number; runs: number }>;
  keys: Record<string, ReferenceEntry>;
}

const KEY = /^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9=_-]+)+$/;
const DEFAULT_DIGITS: Record<Unit, number> = { fraction: 1, nats: 2, seconds: 0, count: 0, score: 2, bool: 0 };

/** Throws unless `key` is a dotted key such as "ppo.beta0.05.gold". */
export function checkKey(key: string): void {
  if (!KEY.test(key)) {
    throw new Error(`record: key "${key}" is not a dotted key like "ppo.beta0.05.gold" (a lower-case chapter word, then dot-separated parts of letters, digits, = _ -)`);
  }
}

/** The results file of the current run: runsDir()/recorded.json. */
export function recordFile(): string {
  return path.join(runsDir(), 'recorded.json');
}

/** The recorded values of a run (an empty set if it recorded nothing yet). */
export function readRecorded(file: string = recordFile()): RecordedFile {
  if (!fs.existsSync(file)) return { format: 1, mode: FAST ? 'fast' : 'course', values: {} };
  let parsed: RecordedFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); delete it and re-run the notebooks to record again`);
  }
  if (parsed.format !== 1 || typeof parsed.values !== 'object') throw new Error(`${file}: not a results file of format 1`);
  return parsed;
}

/**
 * Record a quantity of this run under `key`: read, merge, write atomically (a temporary file renamed
 * over the old one), under a lock file so two processes recording at once both keep their keys.
 * Returns `value`, so a cell can record and use it in one expression.
 */
export function record<T extends number | boolean>(key: string, value: T, opts: RecordOptions = {}, file: string = recordFile()): T {
  checkKey(key);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`record: ${key} = ${value} is not a finite number`);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new Error(`record: ${key} must be a number or a boolean, got ${typeof value}`);
  const unit: Unit = opts.unit ?? (typeof value === 'boolean' ? 'bool' : 'score');
  const digits = opts.digits ?? DEFAULT_DIGITS[unit];
  withLock(file, () => {
    const current = readRecorded(file);
    current.values[key] = { value, unit, digits, seed: runSeed(), at: new Date().toISOString() };
    writeAtomic(file, JSON.stringify({ ...current, mode: FAST ? 'fast' : 'course' }, null, 1) + '\n');
  });
  return value;
}

/** Record several quantities of one unit at once: `recordAll({ "ppo.sft.gold": -0.08, ... }, { unit: "score" })`. */
export function recordAll(values: Record<string, number | boolean>, opts: RecordOptions = {}): void {
  for (const [k, v] of Object.entries(values)) record(k, v, opts);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Run `fn` holding `<file>.lock` (created exclusively; a lock older than 30 s is taken as stale). */
function withLock(file: string, fn: () => void): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const lock = `${file}.lock`;
  const t0 = Date.now();
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 30_000) fs.rmSync(lock, { force: true });
      } catch { /* removed by its owner meanwhile */ }
      if (Date.now() - t0 > 60_000) throw new Error(`record: ${lock} is held for over a minute; delete it if no notebook is running`);
      sleepMs(5);
    }
  }
  try {
    fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** A value as text in its unit: fraction 0.8125 -> "81.3%", nats 7.46 -> "7.46 nats", bool -> "yes". */
export function formatValue(value: number | boolean, unit: Unit, digits: number = DEFAULT_DIGITS[unit]): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const fixed = (x: number, d: number) => {
    const s = x.toFixed(d);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s; // no "-0.00"
  };
  switch (unit) {
    case 'fraction': return `${fixed(100 * value, digits)}%`;
    case 'nats': return `${fixed(value, digits)} nats`;
    case 'seconds': return value >= 120 ? `${fixed(value / 60, 1)} min` : `${fixed(value, digits)} s`;
    default: return fixed(value, digits);
  }
}

/** Mean, sample standard deviation (0 for one value), min and max. */
export function meanSdRange(xs: number[]): { mean: number; sd: number; min: number; max: number } {
  if (xs.length === 0) throw new Error('meanSdRange: no values');
  const m = mean(xs);
  return { mean: m, sd: sampleSd(xs, m), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * A reference entry as text: "0.88 to 1.05 over 3 seeds", "432" (the same in every seed),
 * "in 2 of 3 seeds" (booleans), "1.530" (shared keys: chapters 02-03 run once, so one value).
 */
export function formatReference(e: ReferenceEntry): string {
  const n = e.values.length;
  if (e.unit === 'bool') {
    const yes = e.values.filter((v) => v === true).length;
    if (n === 1) return `${yes ? 'yes' : 'no'} (one seed)`;
    return yes === n ? `in all ${n} seeds` : yes === 0 ? `in none of ${n} seeds` : `in ${yes} of ${n} seeds`;
  }
  if (e.seeds.every((s) => s === 'shared')) return formatValue(e.mean, e.unit, e.digits); // chapters 02-03: one run, not re-seeded
  const lo = formatValue(e.min, e.unit, e.digits);
  const hi = formatValue(e.max, e.unit, e.digits);
  if (n === 1) return `${lo} (one seed)`;
  if (lo === hi) return lo; // the same in every seed (e.g. a count fixed by the recipe): reads as a plain number
  if (e.unit === 'nats') return `${formatValue(e.min, 'score', e.digits)} to ${hi} over ${n} seeds`;
  return `${lo} to ${hi} over ${n} seeds`;
}

// ---------------------------------------------------------------------------------------------
// The reference file

/** data/reference-results.json of the checkout, or RLHF_REFERENCE when set. */
export function referencePath(): string {
  return process.env.RLHF_REFERENCE ?? path.join(findRepoRoot(__dirname), 'data', 'reference-results.json');
}

/** The reference results, or null when the file does not exist yet. */
export function loadReference(file: string = referencePath()): ReferenceFile | null {
  if (!fs.existsSync(file)) return null;
  let parsed: ReferenceFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); re-create it with npm run reference`);
  }
  if (parsed.format !== 1 || typeof parsed.keys !== 'object') throw new Error(`${file}: not a reference file of format 1`);
  return parsed;
}

export const REFERENCE_PENDING = 'reference pending: run npm run reference';

/** The reference of `key` as text, or a pointer saying what to run when it is missing. */
export function refText(key: string, ref: ReferenceFile | null = loadReference()): string {
  if (!ref) return REFERENCE_PENDING;
  const e = ref.keys[key];
  if (!e) return `reference pending: ${key} is not in the reference results yet (run npm run reference)`;
  return formatReference(e);
}

/**
 * "your run: 0.91; reference: 0.88 to 1.05 over 3 seeds", with a note when the value lies outside
 * the reference range or when the run and the reference are in different modes (fast vs course).
 */
export function compareToReference(key: string, value: number | boolean, opts: RecordOptions = {}, ref: ReferenceFile | null = loadReference()): string {
  checkKey(key);
  const e = ref?.keys[key];
  const unit = opts.unit ?? e?.unit ?? (typeof value === 'boolean' ? 'bool' : 'score');
  const digits = opts.digits ?? e?.digits ?? DEFAULT_DIGITS[unit];
  const mine = formatValue(value, unit, digits);
  const mode = FAST ? 'fast' : 'course';
  if (!ref || !e) return `your run: ${mine} (${refText(key, ref)})`;
  let text = `your run: ${mine}; reference: ${refText(key, ref)}`;
  if (ref.mode !== mode) text += ` (the reference is of ${ref.mode === 'fast' ? 'fast' : 'default'} mode, this run of ${mode === 'fast' ? 'fast' : 'default'} mode: not comparable)`;
  else if (typeof value === 'number' && e.unit !== 'bool' && e.values.length > 1 && (value < e.min || value > e.max)) text += ' (outside the reference range)';
  return text;
}

/** Rows "quantity | your run | reference" for keys this run recorded (for rl.table). */
export function referenceRows(keys: string[], ref: ReferenceFile | null = loadReference(), recorded: RecordedFile = readRecorded()): { quantity: string; 'your run': string; reference: string }[] {
  return keys.map((k) => {
    const r = recorded.values[k];
    if (!r) throw new Error(`referenceRows: this run has not recorded ${k} (run the cell that records it)`);
    return { quantity: k, 'your run': formatValue(r.value, r.unit, r.digits), reference: refText(k, ref) };
  });
}

/**
 * The key prefix of an evaluated policy: "PPO beta=0.05" -> "ppo.beta0.05", "best-of-16" -> "bon.n16",
 * "rejection sampling N=8" -> "rs.n8", "DPO beta=0.0333" -> "dpo.beta0.0333", "SFT" -> "sftPolicy".
 */
export function policyKey(label: string): string {
  const m = label.match(/^(PPO|DPO|IPO) beta=([0-9.]+)$/);
  if (m) return `${m[1].toLowerCase()}.beta${m[2]}`;
  const n = label.match(/^best-of-(\d+)$/) ?? label.match(/^rejection sampling N=(\d+)$/);
  if (n) return `${label.startsWith('best') ? 'bon' : 'rs'}.n${n[1]}`;
  if (label === 'SFT') return 'sftPolicy';
  const generic = label.toLowerCase().replace(/[^a-z0-9.=_-]+/g, '.').replace(/^\.+|\.+$/g, '');
  return /^[a-z]/.test(generic) && generic.includes('.') ? generic : `policy.${generic}`;
}

/** Record an evaluated policy's gold, proxy, KL (nats), end rate and length under policyKey(label). */
export function recordPolicy(r: Pick<MethodResult, 'label' | 'gold' | 'proxy' | 'klK1' | 'endRate' | 'length'>): string {
  const k = policyKey(r.label);
  record(`${k}.gold`, r.gold);
  record(`${k}.proxy`, r.proxy);
  record(`${k}.kl`, r.klK1, { unit: 'nats' });
  record(`${k}.endRate`, r.endRate, { unit: 'fraction', digits: 0 });
  record(`${k}.length`, r.length, { digits: 1 });
  return k;
}

/**
 * Show "quantity | your run | reference" for every key this run recorded under one of `prefixes`
 * (e.g. ["rm."]): the student's numbers beside the reference ranges the text quotes.
 */
export function referenceTable(prefixes: string[], caption = 'your run beside the reference results (data/reference-results.json)'): void {
  const recorded = readRecorded();
  const keys = Object.keys(recorded.values).filter((k) => prefixes.some((p) => k.startsWith(p))).sort();
  if (keys.length === 0) throw new Error(`referenceTable: this run recorded nothing under ${prefixes.join(', ')}`);
  const ref = loadReference();
  if (!ref) {
    // No reference yet: a column repeating "pending" on every row says nothing; say it once.
    table(keys.map((k) => ({ quantity: k, 'your run': formatValue(recorded.values[k].value, recorded.values[k].unit, recorded.values[k].digits) })), { caption: `your run (${REFERENCE_PENDING})` });
    return;
  }
  table(referenceRows(keys, ref, recorded), { caption });
}

// ---------------------------------------------------------------------------------------------
// Recipe hash

/** JSON with object keys sorted at every level (arrays keep their order); functions are refused. */
export function canonicalJson(x: unknown): string {
  if (x === null || typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return JSON.stringify(x);
  if (x === undefined) return 'null';
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  if (typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new Error(`canonicalJson: cannot hash a ${typeof x}`);
}

/** First 16 hex digits of the SHA-256 of the canonical JSON of `recipe`. */
export function hashRecipe(recipe: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(recipe)).digest('hex').slice(0, 16);
}

/**
 * The recipe of the chain, as the library defines it: the model, pretraining, SFT, reward-model,
 * PPO and DPO presets (tiny and course), the BPE merge count, the gold score and the chat task,
 * and the sampling temperature of chapter 04's comparisons. Settings written in a notebook's own
 * cells (e.g. chapter 04's prompt count, chapter 05's small-beta run) are added by the reference
 * script, which hashes this together with the notebooks' code cells (scripts/reference.ts chainHash).
 * The reference file keeps the hash it was made with, and the course build warns when it changed.
 */
export function courseRecipe(): Record<string, unknown> {
  return {
    gpt: GPT_PRESETS, pretrain: PRETRAIN_PRESETS, train: TRAIN_DEFAULTS, bpeMerges: COURSE_BPE_MERGES, sft: SFT_PRESETS, reward: REWARD_PRESETS,
    ppo: PPO_PRESETS, dpo: DPO_PRESETS, gold: DEFAULT_GOLD, task: DEFAULT_TASK, comparisonTemperature: COMPARISON_TEMPERATURE,
  };
}
