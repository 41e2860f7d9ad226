/**
 * Advantages: how much better an action (a token, or a whole completion) was than a baseline.
 * Every policy-gradient method of the course differs mainly here:
 *
 *   PPO        per-token GAE over a learned value (Schulman et al. 2016), whitened per rollout
 *   REINFORCE  sequence reward minus a moving average of past rewards (Williams 1992)
 *   RLOO       reward minus the mean of the other K - 1 samples of the same prompt (Ahmadian et al. 2024)
 *   GRPO       (reward - group mean) / group std over the K samples of a prompt (Shao et al. 2024);
 *              Dr. GRPO drops the std scaling (Liu et al. 2025)
 *
 * Layouts: per-token quantities are rows [B, T] with an `actionMask` (1 on the completion's tokens),
 * as in methods/ppoMath.ts; sequence rewards of K samples per prompt are groups [prompts][K]
 * (rl/rollout.ts's `SampleGroups` and `groupValues` lay a rollout's rewards out this way).
 * A group whose rewards are all equal carries no signal: its advantages are exactly 0, never NaN.
 */
import { mean } from '../core/stats';

type Rows = number[][];

/** Throws unless `a` has the [B, T] shape of `actionMask`; `name` says whose shape it is. */
export function checkShape(name: string, a: Rows, actionMask: Rows): void {
  if (a.length !== actionMask.length || a.some((r, i) => r.length !== actionMask[i].length)) {
    throw new Error(`${name}: shape [${a.length}, ${a[0]?.length}] does not match actionMask [${actionMask.length}, ${actionMask[0]?.length}]`);
  }
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) over each row's masked positions:
 *   delta_t = r_t + gamma * V_{t+1} - V_t        (V after the last real token = 0: episode ends)
 *   A_t     = delta_t + gamma * lambda * A_{t+1}
 *   returns = A + V                              (the value head's regression target)
 * With gamma = 1, lambda = 1 the advantage is the Monte-Carlo return minus the value.
 */
export function gae(rewards: Rows, values: Rows, actionMask: Rows, gamma = 1, lambda = 0.95): { advantages: Rows; returns: Rows } {
  checkShape('gae rewards', rewards, actionMask);
  checkShape('gae values', values, actionMask);
  if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1)) {
    throw new Error(`gae: gamma and lambda must be in [0, 1], got gamma=${gamma}, lambda=${lambda}`);
  }
  const advantages = rewards.map((row, i) => {
    const T = row.length;
    const adv = new Array<number>(T).fill(0);
    let next = 0; // A_{t+1}
    let nextValue = 0; // V_{t+1}
    for (let t = T - 1; t >= 0; t--) {
      if (!actionMask[i][t]) { next = 0; nextValue = 0; continue; }
      const delta = row[t] + gamma * nextValue - values[i][t];
      next = delta + gamma * lambda * next;
      adv[t] = next;
      nextValue = values[i][t];
    }
    return adv;
  });
  const returns = advantages.map((row, i) => row.map((a, t) => (actionMask[i][t] ? a + values[i][t] : 0)));
  return { advantages, returns };
}

/** Masked mean and (unbiased) variance over all entries of the batch. */
function maskedMoments(x: Rows, actionMask: Rows): { mean: number; variance: number; n: number } {
  checkShape('maskedMoments', x, actionMask);
  let n = 0, s = 0;
  x.forEach((row, i) => row.forEach((v, t) => { if (actionMask[i][t]) { n++; s += v; } }));
  if (n === 0) throw new Error('maskedMoments: actionMask is all 0');
  const mean = s / n;
  let ss = 0;
  x.forEach((row, i) => row.forEach((v, t) => { if (actionMask[i][t]) ss += (v - mean) ** 2; }));
  return { mean, variance: n > 1 ? ss / (n - 1) : 0, n };
}

/** (x - mean) / std over masked entries; with shiftMean false the mean is added back (TRL's
 * choice for rewards: rescale without re-centering). Pads become 0. */
export function whiten(x: Rows, actionMask: Rows, shiftMean = true): Rows {
  const { mean, variance } = maskedMoments(x, actionMask);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return x.map((row, i) => row.map((v, t) => (actionMask[i][t] ? (v - mean) * inv + (shiftMean ? 0 : mean) : 0)));
}

/**
 * GRPO's group-normalised advantages: A_i = (r_i - mean(r)) / (std(r) + eps) within each group of
 * K samples of one prompt, with the sample std (K - 1 in the denominator) and eps = 1e-4 as in TRL's
 * GRPOTrainer. `scaleByStd: false` is Dr. GRPO's r_i - mean(r) (Liu et al. 2025: the std scaling
 * over-weights prompts that are almost always solved or failed). A group of equal rewards gets 0.
 */
export function groupAdvantages(rewards: Rows, opts: { scaleByStd?: boolean; eps?: number } = {}): Rows {
  const scale = opts.scaleByStd ?? true;
  const eps = opts.eps ?? 1e-4;
  if (!(eps > 0)) throw new Error(`groupAdvantages: eps must be > 0, got ${eps}`);
  return rewards.map((g, i) => {
    if (g.length === 0) throw new Error(`groupAdvantages: group ${i} is empty`);
    // No contrast, no signal: exactly 0 (the float mean of equal values can differ from them in the last bit).
    if (g.every((r) => r === g[0])) return g.map(() => 0);
    const m = mean(g);
    if (!scale) return g.map((r) => r - m);
    let ss = 0;
    for (const r of g) ss += (r - m) ** 2;
    const sd = g.length > 1 ? Math.sqrt(ss / (g.length - 1)) : 0;
    return g.map((r) => (r - m) / (sd + eps));
  });
}

/**
 * RLOO's leave-one-out advantages: A_i = r_i - (sum_j r_j - r_i) / (K - 1), the reward minus the
 * mean of the other samples of the same prompt: an unbiased baseline, since it does not depend on
 * sample i (Kool et al. 2019; Ahmadian et al. 2024). Equals K / (K - 1) * (r_i - mean(r)). K >= 2.
 */
export function leaveOneOutAdvantages(rewards: Rows): Rows {
  return rewards.map((g, i) => {
    if (g.length < 2) throw new Error(`leaveOneOutAdvantages: group ${i} has ${g.length} sample(s); the baseline needs K >= 2 per prompt`);
    if (g.every((r) => r === g[0])) return g.map(() => 0); // no contrast: exactly 0 (s - r)/(K-1) can miss r in the last bit
    let s = 0;
    for (const r of g) s += r;
    return g.map((r) => r - (s - r) / (g.length - 1));
  });
}

/**
 * REINFORCE's moving-average baseline: advantages(rewards) returns r_i - b with the baseline b
 * of the batches before, then moves b toward this batch's mean: b <- decay * b + (1 - decay) * mean(r).
 * Before any batch b is `init`, or, if none is given, the first batch's own mean.
 * decay 0.9 by default.
 */
export class MovingAverageBaseline {
  private b: number | undefined;

  constructor(readonly decay = 0.9, init?: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`MovingAverageBaseline: decay must be in [0, 1), got ${decay}`);
    this.b = init;
  }

  /** The current baseline (undefined before the first batch when no init was given). */
  get value(): number | undefined {
    return this.b;
  }

  advantages(rewards: number[]): number[] {
    const m = mean(rewards);
    const b = this.b ?? m;
    this.b = this.decay * b + (1 - this.decay) * m;
    return rewards.map((r) => r - b);
  }
}
