/**
 * The course's RL methods on a policy small enough to enumerate (chapter 08's exact oracle): a
 * softmax over a handful of replies to one prompt, pi = softmax(theta), trained by the same
 * advantage estimators as the language model (rl/advantages.ts) from sampled groups, so where each
 * lands can be set beside the exact optimum pi* ∝ ref·exp(r/beta) of exactOracle.ts.
 *
 *   REINFORCE / RLOO  reward with the KL folded in, r - beta (log pi - log ref) (k1, as the trainer):
 *                     its expected gradient is the gradient of E[r] - beta KL(pi || ref), so it aims at pi*
 *   GRPO / Dr. GRPO   advantages from the raw rewards, KL as a separate k3 loss differentiated at the
 *                     sampled replies: E_pi[(1 - ref/pi) grad log pi] is the gradient of KL(ref || pi),
 *                     the *reverse* KL (Tang & Munos 2025), and the std scaling rescales the reward per
 *                     group, so GRPO aims somewhere else
 *   DPO               the exact expected DPO loss over all pairs of ref's replies labelled by Bradley-Terry
 *                     on r: its minimum is pi* (Rafailov et al. 2023)
 * The score-function gradient of log pi(y) with respect to theta is onehot(y) - pi.
 */
import { Rng } from '../core/rng';
import { groupAdvantages, leaveOneOutAdvantages, MovingAverageBaseline } from '../rl/advantages';

export type ToyMethod = 'reinforce' | 'rloo' | 'grpo' | 'drgrpo' | 'dpo';

export interface ToyOptions {
  /** KL coefficient (DPO's beta too). */
  beta: number;
  /** Updates (plain gradient ascent on theta). Default 3000. */
  steps?: number;
  /** Samples per update, K. Default 8. */
  k?: number;
  /** Step size. Default 0.1. */
  lr?: number;
  seed?: number;
}

/** softmax(theta). */
export function softmax(theta: number[]): number[] {
  const m = Math.max(...theta);
  const w = theta.map((t) => Math.exp(t - m));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Expected gradient (to ascend) of minus the DPO loss, E over pairs (a, b) ~ ref x ref with label
 * P(a > b) = sigmoid(r_a - r_b), of log sigmoid(beta (h_a - h_b)) with h = log pi - log ref.
 */
export function dpoToyGradient(theta: number[], ref: number[], rewards: number[], beta: number): number[] {
  const pi = softmax(theta);
  const h = pi.map((p, i) => Math.log(p) - Math.log(ref[i]));
  const dh = new Array<number>(pi.length).fill(0); // d objective / d h
  for (let a = 0; a < pi.length; a++) for (let b = 0; b < pi.length; b++) {
    if (a === b) continue;
    const w = ref[a] * ref[b] * sigmoid(rewards[a] - rewards[b]);
    const g = w * beta * (1 - sigmoid(beta * (h[a] - h[b])));
    dh[a] += g;
    dh[b] -= g;
  }
  // h_i = theta_i - logsumexp(theta) - log ref_i: dh_i/dtheta_j = [i = j] - pi_j
  const s = dh.reduce((x, y) => x + y, 0);
  return dh.map((d, j) => d - pi[j] * s);
}

/** The one-sample score-function gradient A * (onehot(y) - pi), accumulated into g with weight w. */
function addScore(g: number[], pi: number[], y: number, w: number): void {
  for (let j = 0; j < pi.length; j++) g[j] += w * ((j === y ? 1 : 0) - pi[j]);
}

/**
 * Train pi = softmax(theta), theta starting at log ref, by `method`; returns the final policy and
 * the objective E_pi[r] - beta KL(pi || ref) every 10% of the way (for a learning curve).
 */
export function trainToyPolicy(method: ToyMethod, ref: number[], rewards: number[], o: ToyOptions): { policy: number[]; curve: number[][] } {
  const steps = o.steps ?? 3000, k = o.k ?? 8, lr = o.lr ?? 0.1, beta = o.beta;
  if (!(beta > 0)) throw new Error(`trainToyPolicy: beta must be > 0, got ${beta}`);
  if (!Number.isInteger(k) || k < 2) throw new Error(`trainToyPolicy: k must be an integer >= 2, got ${k}`);
  if (rewards.length !== ref.length) throw new Error(`trainToyPolicy: ${rewards.length} rewards for ${ref.length} replies`);
  if (ref.some((q) => !(q > 0))) throw new Error('trainToyPolicy: every reply needs ref > 0 (theta starts at log ref)');
  const rng = new Rng(o.seed ?? 0);
  const theta = ref.map(Math.log);
  const baseline = new MovingAverageBaseline(0.9);
  const curve: number[][] = [];
  for (let step = 0; step < steps; step++) {
    const pi = softmax(theta);
    if (step % Math.max(1, Math.floor(steps / 10)) === 0) curve.push(pi);
    let g: number[];
    if (method === 'dpo') g = dpoToyGradient(theta, ref, rewards, beta);
    else {
      g = new Array<number>(pi.length).fill(0);
      const ys = Array.from({ length: k }, () => rng.categorical(pi));
      if (method === 'grpo' || method === 'drgrpo') {
        const adv = groupAdvantages([ys.map((y) => rewards[y])], { scaleByStd: method === 'grpo' })[0];
        // policy term A_i grad log pi(y_i), and -beta grad k3(y_i) = -beta (1 - ref/pi) grad log pi(y_i)
        ys.forEach((y, i) => addScore(g, pi, y, (adv[i] - beta * (1 - ref[y] / pi[y])) / k));
      } else {
        const folded = ys.map((y) => rewards[y] - beta * (Math.log(pi[y]) - Math.log(ref[y])));
        const adv = method === 'rloo' ? leaveOneOutAdvantages([folded])[0] : baseline.advantages(folded);
        ys.forEach((y, i) => addScore(g, pi, y, adv[i] / k));
      }
    }
    for (let j = 0; j < theta.length; j++) theta[j] += lr * g[j];
  }
  const policy = softmax(theta);
  curve.push(policy);
  return { policy, curve };
}
