/**
 * Best-of-N: sample N completions per prompt from the policy, keep the one the reward model
 * (proxy) ranks first. No training, yet it traces a reward-KL curve as N grows, and its KL to the
 * base policy is known in closed form: at most log N - (N-1)/N nats (Beirami et al. 2024; the
 * often-quoted formula is this upper bound, reached only when no two samples tie). Against the base
 * policy, the best of N wins at most N/(N+1) of the time (the chance that the best of N+1 samples is
 * among the first N).
 * Rejection-sampling fine-tuning (Llama 2) then trains the policy on its own best-of-N outputs,
 * amortising the N-fold sampling cost into the weights.
 */
import { GPT } from '../model/model';
import { Tokenizer } from '../text/tokenizer';
import { GenSettings, groupValues, ProxyScorer, Rollout, rolloutGroups, rolloutRows, SampleGroups } from '../rl/rollout';

/** Analytic KL(best-of-n || base) upper bound in nats: log n - (n - 1) / n. */
export function bonKL(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`bonKL: n must be an integer >= 1, got ${n}`);
  return Math.log(n) - (n - 1) / n;
}

/** Upper bound on the win rate of best-of-n against one base sample (by the same reward): n/(n+1). */
export function bonWinRateBound(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`bonWinRateBound: n must be an integer >= 1, got ${n}`);
  return n / (n + 1);
}

/** Index of the largest score in each group (the first one on ties). */
export function selectBest(scores: number[][]): number[] {
  return scores.map((s, g) => {
    if (s.length === 0) throw new Error(`selectBest: group ${g} is empty`);
    let best = 0;
    for (let i = 1; i < s.length; i++) if (s[i] > s[best]) best = i;
    return best;
  });
}

/**
 * Sample-based KL(best-of-n || base) for one prompt, from m base samples of it: their proxy
 * scores and, optionally, keys (the completion text) so identical completions form one outcome.
 * Best-of-n depends on a completion only through its score, so its KL to the base equals the KL
 * between the score distributions. With distinct scores s_1 < s_2 < ... holding base mass Q_g and
 * CDF F_g, the best of n samples has score s_g with probability F_g^n - F_{g-1}^n; distinct
 * outcomes j sharing a score split that mass in proportion to q_j (selectBest keeps the first of
 * the tied samples, and each of them is equally likely to come first). Repeated replies (a peaked
 * policy) make the KL smaller than the analytic log n - (n-1)/n; it never exceeds it.
 */
export function bonKLEstimate(scores: number[], n: number, keys?: string[]): number {
  if (scores.length === 0) throw new Error('bonKLEstimate: no samples');
  if (!Number.isInteger(n) || n < 1) throw new Error(`bonKLEstimate: n must be an integer >= 1, got ${n}`);
  if (keys && keys.length !== scores.length) throw new Error(`bonKLEstimate: ${keys.length} keys for ${scores.length} scores`);
  const outcomes = new Map<string, { score: number; count: number }>();
  scores.forEach((s, i) => {
    const k = keys ? keys[i] : String(s);
    const o = outcomes.get(k);
    if (o) o.count++;
    else outcomes.set(k, { score: s, count: 1 });
  });
  // outcomes grouped by exactly equal score, groups in ascending score order
  const byScore = new Map<number, number[]>();
  for (const o of outcomes.values()) {
    const g = byScore.get(o.score);
    if (g) g.push(o.count);
    else byScore.set(o.score, [o.count]);
  }
  const groups = [...byScore.entries()].sort((a, b) => a[0] - b[0]).map(([, counts]) => counts);
  const m = scores.length;
  let cdf = 0;
  let kl = 0;
  for (const counts of groups) {
    const mass = counts.reduce((a, c) => a + c, 0) / m;
    const pGroup = Math.pow(cdf + mass, n) - Math.pow(cdf, n);
    // p_j / q_j is the same for every outcome j of the group: pGroup / mass
    if (pGroup > 0) kl += pGroup * Math.log(pGroup / mass);
    cdf += mass;
  }
  return Math.max(0, kl);
}

export interface BestOfNResult {
  /** One row per prompt: the selected completion (a Rollout, ready for scoreRollout). */
  best: Rollout;
  /** All n x prompts samples, `groups` says where (sample k of prompt p is row groups.rows[p][k] = p*n + k), and their proxy scores scores[p][k]. */
  samples: Rollout;
  groups: SampleGroups;
  scores: number[][];
  /** Index (0..n-1) of the selected sample of each prompt. */
  chosen: number[];
}

/**
 * Best-of-n for each prompt: n samples from `policy`, scored by `proxy` (the reward model as a
 * scorer of rows, rewardModel.scorer(padId)), the top one kept. Samples of prompt p are rows
 * p*n .. p*n+n-1 of `samples` (`groups`, layout byPrompt).
 */
export async function bestOfN(
  policy: GPT, proxy: ProxyScorer, prompts: string[], n: number,
  opts: { tokenizer: Tokenizer; gen: GenSettings },
): Promise<BestOfNResult> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`bestOfN: n must be an integer >= 1, got ${n}`);
  const { rollout: samples, groups } = await rolloutGroups(policy, opts.tokenizer, prompts, n, opts.gen);
  const scores = groupValues(groups, proxy(rolloutRows(samples)));
  const chosen = selectBest(scores);
  const pick = chosen.map((k, p) => groups.rows[p][k]);
  const best: Rollout = {
    prompts: [...prompts],
    promptIds: pick.map((i) => samples.promptIds[i]),
    completionIds: pick.map((i) => samples.completionIds[i]),
    completions: pick.map((i) => samples.completions[i]),
    finished: pick.map((i) => samples.finished[i]),
  };
  return { best, samples, groups, scores, chosen };
}

/** Best-of-n for every n in `ns` from one pool of max(ns) samples per prompt (the first n of each). */
export function bestOfNSweep(scores: number[][], ns: number[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const n of ns) {
    if (scores.some((s) => s.length < n)) throw new Error(`bestOfNSweep: n = ${n} but some prompt has only ${Math.min(...scores.map((s) => s.length))} samples`);
    out.set(n, selectBest(scores.map((s) => s.slice(0, n))));
  }
  return out;
}

/**
 * SFT examples for rejection-sampling fine-tuning: each prompt with its best-of-n reply, keeping
 * only replies that ended (an unfinished reply would teach the policy not to stop). The reply is
 * the text before "<end>" (SFT appends the end token itself).
 */
export function rejectionSamplingData(best: Rollout, endMark = '<end>'): { prompt: string; completion: string }[] {
  const out: { prompt: string; completion: string }[] = [];
  best.completions.forEach((c, i) => {
    if (!best.finished[i]) return;
    out.push({ prompt: best.prompts[i], completion: c.slice(0, c.indexOf(endMark)) });
  });
  return out;
}
