/**
 * An exact oracle for RLHF on a policy small enough to enumerate: a categorical over a handful of
 * replies to one prompt (probabilities `ref` of the reference policy, `rewards` r(y) of each reply).
 * Everything the sampled methods estimate is computed here in closed form, so a chapter can show
 * what PPO, GRPO, DPO or best-of-N aim at and how far they land (test/exactOracle.test.ts).
 *
 *   optimum    pi*(y) = ref(y) exp(r(y)/beta) / Z maximises E_pi[r] - beta KL(pi || ref), and its
 *              value is beta log Z (Ziegler et al. 2019; Rafailov et al. 2023)
 *   estimators E_pi[k1] = KL exactly; E_pi[k3] = KL - ref(replies pi never samples), unbiased only
 *              when pi covers the reference's support (Schulman 2020); their variances
 *   best-of-N  the exact distribution of the best of N samples of ref, its KL next to the bound
 *              log N - (N-1)/N (Beirami et al. 2024), reached only when samples never tie
 * Probabilities must each be >= 0 and sum to 1 (within 1e-9).
 */
import { categoricalKL } from '../rl/kl';
import { bonKL } from '../methods/bestOfN';

function checkDist(name: string, p: number[]): void {
  if (p.length === 0) throw new Error(`${name}: no replies`);
  p.forEach((x, i) => { if (!(x >= 0)) throw new Error(`${name}: probability ${i} is negative or NaN (${x})`); });
  const s = p.reduce((a, b) => a + b, 0);
  if (Math.abs(s - 1) > 1e-9) throw new Error(`${name}: probabilities sum to ${s}, not 1`);
}

function checkRewards(name: string, ref: number[], rewards: number[]): void {
  checkDist(`${name} ref`, ref);
  if (rewards.length !== ref.length) throw new Error(`${name}: ${rewards.length} rewards for ${ref.length} replies`);
  rewards.forEach((r, i) => { if (!Number.isFinite(r)) throw new Error(`${name}: reward ${i} is not finite (${r})`); });
}

/** log ref(y) + r(y)/beta for each reply (-Infinity where ref is 0) and their maximum. */
function tilted(name: string, ref: number[], rewards: number[], beta: number): { logits: number[]; m: number } {
  if (!(beta > 0)) throw new Error(`${name}: beta must be > 0, got ${beta}`);
  const logits = ref.map((q, i) => (q > 0 ? Math.log(q) + rewards[i] / beta : -Infinity));
  return { logits, m: Math.max(...logits) };
}

/** The KL-regularised optimum pi*(y) proportional to ref(y) exp(r(y)/beta) (computed stably in log space). */
export function klRegularisedOptimum(ref: number[], rewards: number[], beta: number): number[] {
  checkRewards('klRegularisedOptimum', ref, rewards);
  const { logits, m } = tilted('klRegularisedOptimum', ref, rewards, beta);
  const w = logits.map((l) => Math.exp(l - m));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** The objective E_pi[r] - beta * KL(pi || ref) of a policy (in reward units). */
export function regularisedObjective(policy: number[], ref: number[], rewards: number[], beta: number): number {
  checkRewards('regularisedObjective', ref, rewards);
  checkDist('regularisedObjective policy', policy);
  if (policy.length !== ref.length) throw new Error(`regularisedObjective: policy has ${policy.length} replies, ref ${ref.length}`);
  const er = policy.reduce((s, p, i) => s + p * rewards[i], 0);
  return er - beta * categoricalKL(policy, ref);
}

/** The best value of the objective, beta * log sum_y ref(y) exp(r(y)/beta), reached by the optimum. */
export function optimalObjective(ref: number[], rewards: number[], beta: number): number {
  checkRewards('optimalObjective', ref, rewards);
  const { logits, m } = tilted('optimalObjective', ref, rewards, beta);
  return beta * (m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0)));
}

/**
 * Exact KL(policy || ref) next to the expectation and variance, under the policy, of the per-sample
 * estimators k1 = log(p/q) and k3 = q/p - 1 - log(q/p) (nats). Where the policy gives a reply 0
 * probability it is never sampled, so k3's expectation misses that reply's reference mass.
 */
export function estimatorMoments(policy: number[], ref: number[]): { kl: number; k1Mean: number; k3Mean: number; k1Var: number; k3Var: number } {
  checkDist('estimatorMoments policy', policy);
  checkDist('estimatorMoments ref', ref);
  if (policy.length !== ref.length) throw new Error(`estimatorMoments: policy has ${policy.length} replies, ref ${ref.length}`);
  const kl = categoricalKL(policy, ref);
  let k1Mean = 0, k3Mean = 0, k1Sq = 0, k3Sq = 0;
  policy.forEach((p, i) => {
    if (p === 0) return;
    const logr = Math.log(ref[i]) - Math.log(p);
    const k1 = -logr;
    const k3 = Math.expm1(logr) - logr;
    k1Mean += p * k1;
    k3Mean += p * k3;
    k1Sq += p * k1 * k1;
    k3Sq += p * k3 * k3;
  });
  return { kl, k1Mean, k3Mean, k1Var: k1Sq - k1Mean ** 2, k3Var: k3Sq - k3Mean ** 2 };
}

/**
 * The exact distribution of best-of-n over the replies: draw n replies from ref, keep the one with
 * the highest reward. Replies with equal rewards form one level; with levels in ascending reward
 * order, cumulative mass F_g, the best lands on level g with probability F_g^n - F_{g-1}^n, split
 * among its replies in proportion to ref (which of the tied replies comes first is a fair draw).
 */
export function bestOfNDistribution(ref: number[], rewards: number[], n: number): number[] {
  checkRewards('bestOfNDistribution', ref, rewards);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bestOfNDistribution: n must be an integer >= 1, got ${n}`);
  const levels = new Map<number, number[]>();
  rewards.forEach((r, i) => { const l = levels.get(r); if (l) l.push(i); else levels.set(r, [i]); });
  const out = new Array<number>(ref.length).fill(0);
  let below = 0;
  for (const r of [...levels.keys()].sort((a, b) => a - b)) {
    const idx = levels.get(r)!;
    const mass = idx.reduce((s, i) => s + ref[i], 0);
    const p = (below + mass) ** n - below ** n;
    if (mass > 0) for (const i of idx) out[i] = (p * ref[i]) / mass;
    below += mass;
  }
  return out;
}

/** Exact KL(best-of-n || ref) and the bound log n - (n-1)/n it never exceeds. */
export function bestOfNKL(ref: number[], rewards: number[], n: number): { kl: number; bound: number } {
  return { kl: categoricalKL(bestOfNDistribution(ref, rewards, n), ref), bound: bonKL(n) };
}
