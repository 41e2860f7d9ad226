/**
 * The arithmetic of critic-free RL (chapter 08): the policy losses of REINFORCE / RLOO and of GRPO
 * (with the Dr. GRPO option), separated from any training loop so each can be checked by hand
 * (test/criticFreeMath.test.ts). Advantages (group-normalised, leave-one-out, moving-average
 * baseline) are rl/advantages.ts; KL estimators are rl/kl.ts.
 *
 * Layout as in ppoMath.ts: per-token log-probs are rows [B, T] of a right-padded batch with
 * `actionMask` [B, T] = 1 on the tokens the policy generated. Advantages here are per *sequence*
 * [B] (one number per completion, applied to each of its tokens). `oldLogProbs` are the rollout's
 * (the policy that sampled), `refLogProbs` the frozen reference's; both are constants of the loss.
 * Every loss comes twice: a differentiable tfjs version (tensors in, scalars out) for training, and
 * a plain-array reference version with the same formula for tests (finite differences, hand values).
 *
 *   REINFORCE / RLOO  loss = -(1/B) sum_i A_i * sum_t log pi(y_it)          (vanilla policy gradient)
 *                     the KL is folded into the reward: r_i - beta * sum_t (logp - ref_logp)
 *   GRPO              loss = (1/B) sum_i (1/|o_i|) sum_t [ -min(rho A_i, clip(rho) A_i) + beta * k3 ]
 *   Dr. GRPO          the same sum over tokens, divided by a constant instead of |o_i|
 */
import * as tf from '@tensorflow/tfjs';
import { checkShape } from '../rl/advantages';
import { maskedMean } from '../model/layers';
import { klK3, klPerToken } from '../rl/kl';

type Rows = number[][];

/** GRPO's defaults, from DeepSeekMath (Shao et al. 2024, arXiv 2402.03300). */
export const GRPO_DEFAULTS = {
  /** PPO's clip range epsilon on the per-token ratio (0.2, as in PPO and the GRPO objective). */
  clip: 0.2,
  /** Coefficient of the k3 KL-to-reference loss term: 0.04 in DeepSeekMath's RL setup (as quoted by
   * the course's field notes; the paper's own text was not reachable here to re-check it). */
  beta: 0.04,
  /** 'sequence': 1/|o_i| per completion, as in GRPO; 'constant': Dr. GRPO (Liu et al. 2025). */
  normalize: 'sequence' as GRPONormalize,
};

/**
 * How GRPO turns per-token losses into one number per completion:
 * 'sequence' divides completion i's token sum by its length |o_i| (GRPO, Shao et al. 2024), which
 * gives each token of a short completion more weight: a wrong (A < 0) long answer is penalised less
 * per token, and Liu et al. 2025 (arXiv 2503.20783, "Dr. GRPO") show it lengthens wrong answers.
 * 'constant' divides every token sum by the same constant `maxLength` (Dr. GRPO: their code,
 * sail-sg/understand-r1-zero, aggregates with masked_sum and constant_normalizer =
 * generate_max_length, the generation budget), so every token weighs the same.
 */
export type GRPONormalize = 'sequence' | 'constant';

export interface GRPOOptions {
  clip?: number;
  beta?: number;
  normalize?: GRPONormalize;
  /** Dr. GRPO's constant denominator (tokens): pass the generation budget (max new tokens) so it
   * is the same for every batch. Default: T, the batch's padded width (prompt included). */
  maxLength?: number;
}

/** Diagnostics every critic-free loss returns, over the generated tokens (masked means). */
export interface CriticFreeStats<S> {
  /** Fraction of tokens where the clipped term was the one chosen (0 for REINFORCE: no clipping). */
  clipFrac: S;
  /** Mean of rho = pi / pi_old: exactly 1 on the first update of a batch. */
  meanRatio: S;
  /** Mean per-token k3 estimate of KL(pi || pi_ref) in nats (>= 0). */
  k3Mean: S;
}

function resolve(o: GRPOOptions, width: number, name: string): Required<GRPOOptions> {
  const r = { ...GRPO_DEFAULTS, maxLength: width, ...o };
  if (!(r.clip > 0)) throw new Error(`${name}: clip must be > 0, got ${r.clip}`);
  if (!(r.beta >= 0)) throw new Error(`${name}: beta must be >= 0, got ${r.beta}`);
  if (r.normalize !== 'sequence' && r.normalize !== 'constant') {
    throw new Error(`${name}: normalize must be 'sequence' or 'constant', got ${JSON.stringify(r.normalize)}`);
  }
  if (!(r.maxLength > 0)) throw new Error(`${name}: maxLength must be > 0, got ${r.maxLength}`);
  return r;
}

function checkRows(name: string, logProbs: Rows, oldLogProbs: Rows, refLogProbs: Rows, advantages: number[], actionMask: Rows): void {
  checkShape(`${name} logProbs`, logProbs, actionMask);
  checkShape(`${name} oldLogProbs`, oldLogProbs, actionMask);
  checkShape(`${name} refLogProbs`, refLogProbs, actionMask);
  if (advantages.length !== actionMask.length) throw new Error(`${name}: ${advantages.length} advantages for ${actionMask.length} rows (one per completion)`);
}

function checkTensors(name: string, lp: tf.Tensor2D, old: tf.Tensor2D, ref: tf.Tensor2D, adv: tf.Tensor1D, mask: tf.Tensor2D): void {
  const s = mask.shape.join(',');
  for (const [n, t] of [['logProbs', lp], ['oldLogProbs', old], ['refLogProbs', ref]] as const) {
    if (t.shape.join(',') !== s) throw new Error(`${name}: ${n} has shape [${t.shape}] but actionMask [${mask.shape}]`);
  }
  if (adv.shape[0] !== mask.shape[0]) throw new Error(`${name}: ${adv.shape[0]} advantages for ${mask.shape[0]} rows (one per completion)`);
}

/**
 * RLOO's sequence reward with the KL folded in (Ahmadian et al. 2024, arXiv 2402.14740, as in
 * Ziegler et al. 2019): r_i = score_i - beta * sum_t (logp_t - ref_logp_t), the k1 estimate of the
 * completion's KL summed over its generated tokens. Returns the rewards and the sequence KLs [B].
 * Feed the rewards, grouped [prompts][K], to leaveOneOutAdvantages.
 */
export function klFoldedRewards(scores: number[], logProbs: Rows, refLogProbs: Rows, actionMask: Rows, beta: number): { rewards: number[]; kl: number[] } {
  checkShape('klFoldedRewards logProbs', logProbs, actionMask);
  checkShape('klFoldedRewards refLogProbs', refLogProbs, actionMask);
  if (scores.length !== actionMask.length) throw new Error(`klFoldedRewards: ${scores.length} scores for ${actionMask.length} rows`);
  if (!(beta >= 0)) throw new Error(`klFoldedRewards: beta must be >= 0, got ${beta}`);
  const kl = logProbs.map((row, i) => row.reduce((s, lp, t) => s + actionMask[i][t] * (lp - refLogProbs[i][t]), 0));
  return { rewards: scores.map((s, i) => s - beta * kl[i]), kl };
}

function statsTensor(lp: tf.Tensor2D, old: tf.Tensor2D, ref: tf.Tensor2D, m: tf.Tensor): { ratio: tf.Tensor; k3: tf.Tensor; meanRatio: tf.Scalar; k3Mean: tf.Scalar } {
  const ratio = tf.exp(tf.sub(lp, old));
  const k3 = klPerToken(lp, ref, m as tf.Tensor2D, 'k3');
  return { ratio, k3, meanRatio: maskedMean(ratio, m), k3Mean: maskedMean(k3, m) };
}

/**
 * REINFORCE / RLOO policy loss: -(1/B) sum_i A_i * sum_t mask_it * logProbs_it, the vanilla policy
 * gradient on whole completions (RLOO treats the completion as one action; Ahmadian et al. 2024
 * found PPO's clipping fired rarely and drop it). Its gradient w.r.t. logProbs_it is -A_i / B on
 * generated tokens. advantages [B]: leave-one-out (RLOO) or reward minus a moving average (REINFORCE).
 */
export function reinforceLoss(
  logProbs: tf.Tensor2D, oldLogProbs: tf.Tensor2D, refLogProbs: tf.Tensor2D, advantages: tf.Tensor1D, actionMask: tf.Tensor2D,
): { loss: tf.Scalar } & CriticFreeStats<tf.Scalar> {
  checkTensors('reinforceLoss', logProbs, oldLogProbs, refLogProbs, advantages, actionMask);
  return tf.tidy(() => {
    const m = actionMask.toFloat();
    const seqLogProb = tf.sum(tf.mul(logProbs, m), 1);
    const loss = tf.neg(tf.mean(tf.mul(advantages, seqLogProb))) as tf.Scalar;
    const { meanRatio, k3Mean } = statsTensor(logProbs, oldLogProbs, refLogProbs, m);
    return { loss, clipFrac: tf.scalar(0), meanRatio, k3Mean };
  });
}

/** reinforceLoss on plain arrays (the reference for tests). */
export function reinforceLossRows(
  logProbs: Rows, oldLogProbs: Rows, refLogProbs: Rows, advantages: number[], actionMask: Rows,
): { loss: number } & CriticFreeStats<number> {
  checkRows('reinforceLossRows', logProbs, oldLogProbs, refLogProbs, advantages, actionMask);
  let loss = 0;
  logProbs.forEach((row, i) => row.forEach((lp, t) => { loss -= advantages[i] * actionMask[i][t] * lp; }));
  return { loss: loss / logProbs.length, clipFrac: 0, ...rowStats(logProbs, oldLogProbs, refLogProbs, actionMask) };
}

function rowStats(logProbs: Rows, oldLogProbs: Rows, refLogProbs: Rows, actionMask: Rows): { meanRatio: number; k3Mean: number } {
  let n = 0;
  let ratio = 0;
  let k3 = 0;
  logProbs.forEach((row, i) => {
    const k = klK3(row, refLogProbs[i]);
    row.forEach((lp, t) => {
      if (!actionMask[i][t]) return;
      n += 1;
      ratio += Math.exp(lp - oldLogProbs[i][t]);
      k3 += k[t];
    });
  });
  return { meanRatio: ratio / Math.max(n, 1), k3Mean: k3 / Math.max(n, 1) };
}

/**
 * GRPO's loss (Shao et al. 2024, arXiv 2402.03300: the GRPO objective with the KL term inside the
 * token average), to minimise:
 *   l_it = -min(rho_it A_i, clip(rho_it, 1 - eps, 1 + eps) A_i) + beta * k3_it
 *   rho_it = exp(logProbs - oldLogProbs),  k3_it = exp(ref - logp) - (ref - logp) - 1
 *   loss = (1/B) sum_i (1/|o_i|) sum_t mask_it l_it            normalize 'sequence' (GRPO)
 *   loss = (1/B) sum_i (1/maxLength) sum_t mask_it l_it        normalize 'constant' (Dr. GRPO)
 * The same advantage A_i (group-normalised, from groupAdvantages) applies to every token of
 * completion i. On the first update of a batch rho = 1, and group advantages sum to 0 within each
 * group, so with equal lengths the policy term is 0 whatever the policy learns: the loss value is not
 * a progress signal (watch reward and gradient norm). A row whose mask is all 0 contributes 0.
 */
export function grpoLoss(
  logProbs: tf.Tensor2D, oldLogProbs: tf.Tensor2D, refLogProbs: tf.Tensor2D, advantages: tf.Tensor1D, actionMask: tf.Tensor2D, options: GRPOOptions = {},
): { loss: tf.Scalar; policyLoss: tf.Scalar; klLoss: tf.Scalar } & CriticFreeStats<tf.Scalar> {
  checkTensors('grpoLoss', logProbs, oldLogProbs, refLogProbs, advantages, actionMask);
  const o = resolve(options, actionMask.shape[1], 'grpoLoss');
  return tf.tidy(() => {
    const m = actionMask.toFloat();
    const { ratio, k3, meanRatio, k3Mean } = statsTensor(logProbs, oldLogProbs, refLogProbs, m);
    const negA = tf.neg(advantages).expandDims(1);
    const unclipped = tf.mul(negA, ratio);
    const clipped = tf.mul(negA, tf.clipByValue(ratio, 1 - o.clip, 1 + o.clip));
    const pg = tf.maximum(unclipped, clipped);
    const denom = o.normalize === 'sequence' ? tf.maximum(tf.sum(m, 1), 1) : tf.scalar(o.maxLength);
    const reduce = (x: tf.Tensor): tf.Scalar => tf.mean(tf.div(tf.sum(tf.mul(x, m), 1), denom)) as tf.Scalar;
    const policyLoss = reduce(pg);
    const klLoss = tf.mul(o.beta, reduce(k3)) as tf.Scalar;
    return {
      loss: tf.add(policyLoss, klLoss) as tf.Scalar, policyLoss, klLoss,
      clipFrac: maskedMean(tf.greater(clipped, unclipped).toFloat(), m), meanRatio, k3Mean,
    };
  });
}

/** grpoLoss on plain arrays (the reference for tests). */
export function grpoLossRows(
  logProbs: Rows, oldLogProbs: Rows, refLogProbs: Rows, advantages: number[], actionMask: Rows, options: GRPOOptions = {},
): { loss: number; policyLoss: number; klLoss: number } & CriticFreeStats<number> {
  checkRows('grpoLossRows', logProbs, oldLogProbs, refLogProbs, advantages, actionMask);
  const o = resolve(options, actionMask[0]?.length ?? 0, 'grpoLossRows');
  let policyLoss = 0;
  let klLoss = 0;
  let clipped = 0;
  let n = 0;
  logProbs.forEach((row, i) => {
    const k3 = klK3(row, refLogProbs[i]);
    const len = actionMask[i].reduce((s, x) => s + x, 0);
    const denom = o.normalize === 'sequence' ? Math.max(len, 1) : o.maxLength;
    const a = advantages[i];
    row.forEach((lp, t) => {
      if (!actionMask[i][t]) return;
      const rho = Math.exp(lp - oldLogProbs[i][t]);
      const u = -a * rho;
      const c = -a * Math.min(1 + o.clip, Math.max(1 - o.clip, rho));
      policyLoss += Math.max(u, c) / denom;
      klLoss += (o.beta * k3[t]) / denom;
      if (c > u) clipped += 1;
      n += 1;
    });
  });
  const B = logProbs.length;
  return {
    loss: (policyLoss + klLoss) / B, policyLoss: policyLoss / B, klLoss: klLoss / B,
    clipFrac: clipped / Math.max(n, 1), ...rowStats(logProbs, oldLogProbs, refLogProbs, actionMask),
  };
}
