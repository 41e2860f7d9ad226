/**
 * What a reward model learned: agreement with each part of a score (chapter 4's gold parts), and a
 * bag-of-words Bradley-Terry baseline fitted to the same comparisons, to tell what the data carry
 * from what the model picked up. Used by notebook 04 and scripts/reward-probe.ts.
 */
import { Comparison } from '../feedback/preferences';
import { RewardModel, rewardPairs } from './reward';
import { END_MARK, wordsOf } from '../feedback/task';
import { Tokenizer } from '../text/tokenizer';

export interface PartAgreement {
  part: string;
  /** Pairs whose two replies differ in this part. */
  pairs: number;
  /** Fraction of those where the reward model prefers the reply this part prefers. */
  agreement: number;
}

/**
 * What a reward model learned, part by part: for each named part of a score (signed, higher =
 * better, e.g. the gold score's sentiment and minus its penalties), the fraction of pairs differing
 * in that part where rA - rB has the part's sign. rA, rB: rewards of completionA, completionB.
 */
export function partAgreement(records: Comparison[], rA: number[], rB: number[], parts: (completion: string) => Record<string, number>): PartAgreement[] {
  if (rA.length !== records.length || rB.length !== records.length) {
    throw new Error(`partAgreement: ${records.length} records but ${rA.length} and ${rB.length} rewards`);
  }
  const tally = new Map<string, { pairs: number; agree: number }>();
  records.forEach((r, i) => {
    const a = parts(r.completionA);
    const b = parts(r.completionB);
    for (const name of Object.keys(a)) {
      const d = a[name] - b[name];
      if (Math.abs(d) < 1e-9) continue;
      const t = tally.get(name) ?? { pairs: 0, agree: 0 };
      t.pairs++;
      if (d * (rA[i] - rB[i]) > 0) t.agree++;
      tally.set(name, t);
    }
  });
  return [...tally].map(([part, t]) => ({ part, pairs: t.pairs, agreement: t.agree / t.pairs }));
}

export interface WordRewardOptions {
  /** Full-batch gradient steps (default 1000). */
  iterations: number;
  /** Step size (default 5: the features are 0/1 and most words are rare). */
  lr: number;
  /** L2 penalty on the weights (default 1e-4). */
  l2: number;
}

/**
 * A bag-of-words Bradley-Terry baseline on the same comparisons: r(reply) = sum of one weight per
 * distinct word of the reply (before `<end>`), fit by full-batch gradient descent on the mean
 * Bradley-Terry loss plus l2/2 |w|^2, from w = 0. It knows words and nothing else (not whether the
 * reply ended); what it reaches says how much of the preference the words carry in this data.
 */
export function fitWordRewards(train: Comparison[], opts: Partial<WordRewardOptions> = {}): (completion: string) => number {
  const { iterations = 1000, lr = 5, l2 = 1e-4 } = opts;
  if (train.length === 0) throw new Error('fitWordRewards: no comparisons');
  const index = new Map<string, number>();
  const featurize = (c: string, grow: boolean): number[] => {
    const end = c.indexOf(END_MARK);
    const ids: number[] = [];
    for (const word of new Set(wordsOf(end >= 0 ? c.slice(0, end) : c))) {
      if (grow && !index.has(word)) index.set(word, index.size);
      const i = index.get(word);
      if (i !== undefined) ids.push(i);
    }
    return ids;
  };
  const pairs = train.map((r) => {
    const [c, rj] = r.choice === 'A' ? [r.completionA, r.completionB] : [r.completionB, r.completionA];
    return { chosen: featurize(c, true), rejected: featurize(rj, true) };
  });
  const w = new Float64Array(index.size);
  const sum = (ids: number[]) => ids.reduce((a, i) => a + w[i], 0);
  for (let it = 0; it < iterations; it++) {
    const g = new Float64Array(w.length);
    for (const p of pairs) {
      const d = 1 / (1 + Math.exp(-(sum(p.chosen) - sum(p.rejected)))) - 1; // d loss / d (r_c - r_r)
      for (const i of p.chosen) g[i] += d;
      for (const i of p.rejected) g[i] -= d;
    }
    for (let i = 0; i < w.length; i++) w[i] -= lr * (g[i] / pairs.length + l2 * w[i]);
  }
  return (completion) => sum(featurize(completion, false));
}

export interface PartComparison {
  part: string;
  pairs: number;
  /** How often the reward model prefers the reply better in this part. */
  rewardModelAgreement: number;
  /** The same for the bag-of-words baseline fitted to `train`. */
  bagOfWordsAgreement: number;
}

/**
 * The reward model beside a bag-of-words baseline fitted to the same training comparisons, part by
 * part on `heldOut`. `parts` gives a reply's signed parts (they should sum to its score, as
 * GoldScorer.parts does); the first row, "all parts", compares on their sum.
 */
export function compareByPart(
  rm: RewardModel, tok: Tokenizer, train: Comparison[], heldOut: Comparison[], parts: (completion: string) => Record<string, number>,
): PartComparison[] {
  const withTotal = (c: string) => {
    const p = parts(c);
    return { 'all parts': Object.values(p).reduce((a, x) => a + x, 0), ...p };
  };
  const { rA, rB } = rewardPairs(rm, tok, heldOut);
  const words = fitWordRewards(train);
  const byWords = partAgreement(heldOut, heldOut.map((r) => words(r.completionA)), heldOut.map((r) => words(r.completionB)), withTotal);
  return partAgreement(heldOut, rA, rB, withTotal).map((p) => ({
    part: p.part, pairs: p.pairs, rewardModelAgreement: p.agreement, bagOfWordsAgreement: byWords.find((w) => w.part === p.part)!.agreement,
  }));
}
