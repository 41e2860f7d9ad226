/**
 * Human preference data: comparisons of two completions of one prompt.
 *
 * File format: JSON Lines, one comparison per line, UTF-8, each line a JSON object
 *
 *   { "version": 1, "prompt": str, "completionA": str, "completionB": str,
 *     "choice": "A" | "B", "strength": one of STRENGTHS, "labeler": str,
 *     "timestamp": ISO-8601 str, "comment": str, "metadata": object }
 *
 * `strength` is the 8-point scale of the lecture (Anthropic's labeling interface, Bai et al. 2022):
 * A>>>B, A>>B, A>B, A>=B, B>=A, B>A, B>>A, B>>>A; its first letter must agree with `choice`.
 * Completions render the end-of-turn token as the text "<end>". `metadata` holds anything else
 * (gold scores of simulated labels, the sampling seed, the page that collected it...).
 *
 * Nothing collected is ever lost: `appendComparisons` first reads and checks the whole existing
 * file (a malformed file is refused, naming file and line, rather than appended to), then writes
 * old content + new lines to a temporary file in the same folder, fsyncs it and renames it over the
 * original (rename is atomic on POSIX), then fsyncs the folder. A crash leaves either the old file
 * or the new one, never a half-written line. Rewriting costs O(file) per append: fine for the
 * thousands of comparisons a course collects.
 */
import * as fs from 'fs';
import { writeAtomic } from '../core/files';

const PREFERENCE_FORMAT_VERSION = 1;

/** The 8-point scale, from "A much better" to "B much better". */
export const STRENGTHS = ['A>>>B', 'A>>B', 'A>B', 'A>=B', 'B>=A', 'B>A', 'B>>A', 'B>>>A'] as const;
export type Strength = (typeof STRENGTHS)[number];

export interface Comparison {
  version: number;
  prompt: string;
  completionA: string;
  completionB: string;
  choice: 'A' | 'B';
  strength: Strength;
  labeler: string;
  timestamp: string;
  comment: string;
  metadata: Record<string, unknown>;
}

/** 0 (A>=B, "about the same") to 3 (A>>>B, "much better"): the Likert margin of a choice. */
export function strengthLevel(s: Strength): number {
  const i = STRENGTHS.indexOf(s);
  if (i < 0) throw new Error(`strengthLevel: unknown strength ${JSON.stringify(s)}; expected one of ${STRENGTHS.join(' ')}`);
  return i < 4 ? 3 - i : i - 4;
}

/** The strength for a choice and a level 0..3 (inverse of strengthLevel). */
export function strengthOf(choice: 'A' | 'B', level: number): Strength {
  if (!Number.isInteger(level) || level < 0 || level > 3) throw new Error(`strengthOf: level must be 0..3, got ${level}`);
  return choice === 'A' ? STRENGTHS[3 - level] : STRENGTHS[4 + level];
}

const FIELDS: Record<keyof Comparison, string> = {
  version: 'number',
  prompt: 'string',
  completionA: 'string',
  completionB: 'string',
  choice: 'string',
  strength: 'string',
  labeler: 'string',
  timestamp: 'string',
  comment: 'string',
  metadata: 'object',
};

/** Check one record; `where` (e.g. "file.jsonl:3") prefixes the error. Returns it typed. */
function checkComparison(x: unknown, where = 'comparison'): Comparison {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`${where}: expected a JSON object, got ${JSON.stringify(x)?.slice(0, 60)}`);
  const r = x as Record<string, unknown>;
  for (const [k, type] of Object.entries(FIELDS)) {
    if (!(k in r)) throw new Error(`${where}: missing field "${k}"`);
    const v = r[k];
    if (typeof v !== type || (type === 'object' && (v === null || Array.isArray(v)))) {
      throw new Error(`${where}: field "${k}" must be ${type === 'object' ? 'an object' : 'a ' + type}, got ${JSON.stringify(v)?.slice(0, 60)}`);
    }
  }
  for (const k of Object.keys(r)) if (!(k in FIELDS)) throw new Error(`${where}: unknown field "${k}" (put extra data in "metadata")`);
  if (r.version !== PREFERENCE_FORMAT_VERSION) throw new Error(`${where}: version ${r.version} is not supported (this library reads version ${PREFERENCE_FORMAT_VERSION})`);
  if (r.choice !== 'A' && r.choice !== 'B') throw new Error(`${where}: choice must be "A" or "B", got ${JSON.stringify(r.choice)}`);
  if (!(STRENGTHS as readonly string[]).includes(r.strength as string)) {
    throw new Error(`${where}: strength ${JSON.stringify(r.strength)} is not one of ${STRENGTHS.join(' ')}`);
  }
  if ((r.strength as string)[0] !== r.choice) throw new Error(`${where}: strength ${r.strength} contradicts choice ${r.choice}`);
  if ((r.prompt as string).length === 0) throw new Error(`${where}: prompt is empty`);
  if ((r.labeler as string).length === 0) throw new Error(`${where}: labeler is empty`);
  if (Number.isNaN(Date.parse(r.timestamp as string))) throw new Error(`${where}: timestamp ${JSON.stringify(r.timestamp)} is not an ISO-8601 date`);
  return r as unknown as Comparison;
}

/** Parse JSONL text; errors name `file` and the 1-based line. A blank line is only allowed at the end. */
export function parseComparisons(text: string, file = '<text>'): Comparison[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    const where = `${file}:${i + 1}`;
    if (line.trim() === '') throw new Error(`${where}: empty line`);
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message}): ${line.slice(0, 60)}`);
    }
    return checkComparison(obj, where);
  });
}

/** All comparisons in a JSONL file ([] if it does not exist yet). */
export function readComparisons(file: string): Comparison[] {
  if (!fs.existsSync(file)) return [];
  return parseComparisons(fs.readFileSync(file, 'utf8'), file);
}

/** Append records atomically (see the module comment). Returns the number of records now in the file. */
export function appendComparisons(file: string, records: Comparison[]): number {
  const fresh = records.map((r, i) => checkComparison(r, `new record ${i}`));
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const existing = parseComparisons(old, file).length;
  const body = (old === '' || old.endsWith('\n') ? old : old + '\n') + fresh.map((r) => JSON.stringify(r) + '\n').join('');
  writeAtomic(file, body);
  return existing + fresh.length;
}

export function appendComparison(file: string, record: Comparison): number {
  return appendComparisons(file, [record]);
}

/** A new comparison record with the current time; `choice` follows from the strength. */
export function makeComparison(
  prompt: string, completionA: string, completionB: string, strength: Strength, labeler: string,
  opts: { comment?: string; metadata?: Record<string, unknown>; timestamp?: string } = {},
): Comparison {
  return checkComparison({
    version: PREFERENCE_FORMAT_VERSION, prompt, completionA, completionB,
    choice: strength[0] as 'A' | 'B', strength, labeler,
    timestamp: opts.timestamp ?? new Date().toISOString(), comment: opts.comment ?? '', metadata: opts.metadata ?? {},
  });
}

/** Records grouped by the pair they compare (prompt + both completions, in order). */
function pairKey(r: Comparison): string {
  return JSON.stringify([r.prompt, r.completionA, r.completionB]);
}

export interface Agreement {
  /** Fraction of (pair, labeler, labeler) triples whose two labelers made the same choice. */
  rate: number;
  /** Number of labeler-pairs compared (over pairs labeled by at least two labelers). */
  count: number;
}

/**
 * Inter-labeler agreement: for every comparison labeled by two or more different labelers, the
 * fraction of labeler pairs that chose the same completion. It bounds the accuracy any reward
 * model can reach against one labeler's labels (the "ceiling"; InstructGPT reports ~73%).
 */
export function labelerAgreement(records: Comparison[]): Agreement {
  const groups = new Map<string, Comparison[]>();
  for (const r of records) {
    const k = pairKey(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  let same = 0;
  let count = 0;
  for (const g of groups.values()) {
    for (let i = 0; i < g.length; i++) {
      for (let j = i + 1; j < g.length; j++) {
        if (g[i].labeler === g[j].labeler) continue;
        count++;
        if (g[i].choice === g[j].choice) same++;
      }
    }
  }
  return { rate: count > 0 ? same / count : NaN, count };
}

/** Fraction of records whose choice agrees with the gold order in metadata (gold ties skipped). */
export function goldAgreement(records: Comparison[]): Agreement {
  let same = 0;
  let count = 0;
  records.forEach((r, i) => {
    const { goldA, goldB } = r.metadata as { goldA?: unknown; goldB?: unknown };
    if (typeof goldA !== 'number' || typeof goldB !== 'number') throw new Error(`goldAgreement: record ${i} has no numeric metadata.goldA/goldB`);
    if (goldA === goldB) return;
    count++;
    if ((goldA > goldB) === (r.choice === 'A')) same++;
  });
  return { rate: count > 0 ? same / count : NaN, count };
}

/** Two completions of one prompt, before anyone judged them. */
export interface Pair {
  prompt: string;
  completionA: string;
  completionB: string;
  /** Copied into the comparison's metadata. */
  metadata?: Record<string, unknown>;
}

/**
 * Every reply that samplePairs (rl/rollout.ts) drew, once, in drawing order (prompt by prompt): a reply of K > 2
 * samples appears in K - 1 pairs, and statistics over replies (e.g. reward normalisation) must
 * count it once. Pairs without samplePairs' K-wise metadata count as two fresh replies each.
 */
export function sampledReplies(pairs: Pair[]): { prompt: string; completion: string }[] {
  const seen = new Set<string>();
  const out: { prompt: string; completion: string }[] = [];
  pairs.forEach((p, i) => {
    const m = p.metadata ?? {};
    const ids = Array.isArray(m.samples) && typeof m.promptIndex === 'number'
      ? (m.samples as number[]).map((k) => `${m.promptIndex}/${k}`)
      : [`pair ${i}/A`, `pair ${i}/B`];
    [p.completionA, p.completionB].forEach((completion, j) => {
      if (seen.has(ids[j])) return;
      seen.add(ids[j]);
      out.push({ prompt: p.prompt, completion });
    });
  });
  return out;
}

/**
 * The distinct pairs of labeled records (prompt and the two completions in their order), first seen
 * first, labels and metadata dropped: the pairs to give other labelers (chapter 11 relabels chapter
 * 04's pairs). A pair labeled twice, or by several labelers, appears once.
 */
export function distinctPairs(records: Comparison[]): Pair[] {
  const seen = new Map<string, Pair>();
  for (const r of records) {
    const key = JSON.stringify([r.prompt, r.completionA, r.completionB]);
    if (!seen.has(key)) seen.set(key, { prompt: r.prompt, completionA: r.completionA, completionB: r.completionB });
  }
  return [...seen.values()];
}
