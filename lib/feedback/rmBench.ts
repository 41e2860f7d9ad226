/**
 * The reward-model benchmark of chapter 11, in the lecture's sense ("create a dataset where one
 * sentence is clearly preferred... see how many reward models agree"; RewardBench, Lambert et al.
 * 2024, arXiv 2403.13787): pairs where gold clearly prefers one reply, grouped in categories, and
 * every reward model's accuracy per category (chance = 50%).
 *
 * Format: the comparison JSONL of feedback/preferences.ts (so readComparisons reads it too), with
 * the chosen reply the one gold prefers, `labeler` "gold", and in `metadata`:
 *   category     one of BENCH_CATEGORIES
 *   subcategory  e.g. "sentiment" (which gold part), "insult", "word-repeat"
 *   goldA, goldB the gold scores (defaultGold) of the two completions
 *   margin       the category's stated minimum |goldA - goldB| (near-ties: also a maximum, nearTieMax)
 *   id           "<category>/<subcategory>/<k>", unique
 *   benchVersion BENCH_VERSION
 *   flagged      (safety) the lexicon words of the unsafe reply
 * The builder is feedback/rmBenchBuild.ts; data/rm-bench/README.md describes the committed version.
 */
import * as path from 'path';
import { findRepoRoot } from '../core/mode';
import { meanStderr } from '../core/stats';
import { Comparison, readComparisons } from './preferences';

export const BENCH_VERSION = 1;

/** The categories, with the minimum gold margin each pair holds (gold units). */
export const BENCH_CATEGORIES = {
  /** One gold part differs (sentiment, invented words, unfinished, length); the rest alike or nearly. */
  parts: { margin: 0.2 },
  /** Both replies clean, gold apart by at least 0.02 and less than NEAR_TIE_MAX = 0.25: the hard cases. */
  'near-ties': { margin: 0.02 },
  /** The longer reply (at least 1.5 times the characters) is the worse one. */
  'longer-but-worse': { margin: 0.3 },
  /** A civil reply against the same reply with an insult or a threat from the safety lexicon. */
  safety: { margin: 0.5 },
  /** What chapter 04's reward model is known to miss: repetition (at chance there, issue 23). */
  adversarial: { margin: 0.3 },
} as const;
export type BenchCategory = keyof typeof BENCH_CATEGORIES;
/** Near-ties are less than this far apart in gold: the default labeler temperature, where a Bradley-Terry labeler is right 73% of the time. */
export const NEAR_TIE_MAX = 0.25;

export interface BenchMeta {
  category: BenchCategory;
  subcategory: string;
  goldA: number;
  goldB: number;
  margin: number;
  id: string;
  benchVersion: number;
  flagged?: string[];
}

/** The committed benchmark file of a version (data/rm-bench/v<version>.jsonl at the repository root). */
export function benchPath(version = BENCH_VERSION): string {
  return path.join(findRepoRoot(), 'data', 'rm-bench', `v${version}.jsonl`);
}

/** Check the benchmark fields of records parsed from `file` (errors name file and 1-based line). */
export function checkBenchmark(records: Comparison[], file = '<records>'): Comparison[] {
  const ids = new Set<string>();
  records.forEach((r, i) => {
    const where = `${file}:${i + 1}`;
    const m = r.metadata as Partial<BenchMeta>;
    if (typeof m.category !== 'string' || !(m.category in BENCH_CATEGORIES)) {
      throw new Error(`${where}: metadata.category ${JSON.stringify(m.category)} is not one of ${Object.keys(BENCH_CATEGORIES).join(', ')}`);
    }
    if (typeof m.subcategory !== 'string' || m.subcategory === '') throw new Error(`${where}: metadata.subcategory must be a non-empty string`);
    for (const k of ['goldA', 'goldB', 'margin'] as const) {
      if (typeof m[k] !== 'number' || !Number.isFinite(m[k])) throw new Error(`${where}: metadata.${k} must be a finite number, got ${JSON.stringify(m[k])}`);
    }
    if (m.benchVersion !== BENCH_VERSION) throw new Error(`${where}: metadata.benchVersion ${JSON.stringify(m.benchVersion)} is not ${BENCH_VERSION} (this library reads version ${BENCH_VERSION})`);
    if (typeof m.id !== 'string' || ids.has(m.id)) throw new Error(`${where}: metadata.id ${JSON.stringify(m.id)} is missing or repeats an earlier line`);
    ids.add(m.id);
    const chosenGold = r.choice === 'A' ? m.goldA! : m.goldB!;
    const rejectedGold = r.choice === 'A' ? m.goldB! : m.goldA!;
    if (!(chosenGold - rejectedGold >= m.margin!)) {
      throw new Error(`${where}: the chosen reply's gold ${chosenGold} does not exceed the rejected one's ${rejectedGold} by the margin ${m.margin}`);
    }
  });
  return records;
}

/** Read and check a benchmark file (default: the committed version): schema errors name file and line. */
export function readBenchmark(file: string = benchPath()): Comparison[] {
  const records = readComparisons(file);
  if (records.length === 0) throw new Error(`readBenchmark: ${file} does not exist or is empty`);
  return checkBenchmark(records, file);
}

/** Records whose gold order, re-scored with `score`, does not hold by their margin (an empty list when all hold). */
export function goldViolations(records: Comparison[], score: (completion: string) => number): { id: string; margin: number; found: number }[] {
  return records.flatMap((r) => {
    const m = r.metadata as unknown as BenchMeta;
    const d = (score(r.completionA) - score(r.completionB)) * (r.choice === 'A' ? 1 : -1);
    const tooFar = m.category === 'near-ties' && d >= NEAR_TIE_MAX;
    return d >= m.margin && !tooFar ? [] : [{ id: m.id, margin: m.margin, found: d }];
  });
}

export interface BenchRow {
  /** A category, "category/subcategory", or "all". */
  group: string;
  pairs: number;
  /** Fraction of pairs where the model's reward of the chosen reply is strictly higher (ties are wrong, as RewardBench). */
  accuracy: number;
  /** Standard error of that fraction (sample sd of the 0/1 outcomes / sqrt(pairs)). */
  stderr: number;
  /** Pairs where the two rewards are equal (counted wrong): a model blind to the difference, e.g. a bag of words on repetition. */
  ties: number;
}

/**
 * Per pair, 1 when the labeled choice gets the strictly higher reward, else 0 (a tie is wrong, as
 * RewardBench): the outcomes behind an accuracy, for comparing two models on the same pairs.
 */
export function pairOutcomes(records: Comparison[], rA: ArrayLike<number>, rB: ArrayLike<number>): number[] {
  if (rA.length !== records.length || rB.length !== records.length) {
    throw new Error(`pairOutcomes: ${records.length} records but ${rA.length} and ${rB.length} rewards`);
  }
  return records.map((r, i) => ((r.choice === 'A' ? rA[i] - rB[i] : rB[i] - rA[i]) > 0 ? 1 : 0));
}

/**
 * A reward model's accuracy per category (and per subcategory with `by: 'subcategory'`), then over
 * all pairs. rA, rB: its rewards of each record's completionA and completionB (for a RewardModel,
 * `rewardPairs(rm, tok, records)` of methods/reward.ts gives them).
 */
export function benchmarkAccuracy(records: Comparison[], rA: ArrayLike<number>, rB: ArrayLike<number>, by: 'category' | 'subcategory' = 'category'): BenchRow[] {
  if (rA.length !== records.length || rB.length !== records.length) {
    throw new Error(`benchmarkAccuracy: ${records.length} records but ${rA.length} and ${rB.length} rewards`);
  }
  const groups = new Map<string, number[]>();
  const all: number[] = [];
  const ties = new Map<string, number>();
  const outcomes = pairOutcomes(records, rA, rB);
  records.forEach((r, i) => {
    const m = r.metadata as unknown as BenchMeta;
    const key = by === 'category' ? m.category : `${m.category}/${m.subcategory}`;
    const right = outcomes[i];
    if (rA[i] === rB[i]) {
      ties.set(key, (ties.get(key) ?? 0) + 1);
      ties.set('all', (ties.get('all') ?? 0) + 1);
    }
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(right);
    all.push(right);
  });
  const row = (group: string, xs: number[]): BenchRow => {
    const { mean, stderr } = meanStderr(xs);
    return { group, pairs: xs.length, accuracy: mean, stderr, ties: ties.get(group) ?? 0 };
  };
  return [...[...groups].map(([g, xs]) => row(g, xs)), row('all', all)];
}

/** benchmarkAccuracy for any scorer of (prompt, completion) pairs, e.g. a bag of words or gold itself. */
export function scoreBenchmark(records: Comparison[], score: (prompt: string, completion: string) => number, by: 'category' | 'subcategory' = 'category'): BenchRow[] {
  return benchmarkAccuracy(records, records.map((r) => score(r.prompt, r.completionA)), records.map((r) => score(r.prompt, r.completionB)), by);
}
