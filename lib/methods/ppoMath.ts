/**
 * The arithmetic of PPO for language models, separated from the training loop so each piece can
 * be checked by hand (test/ppo.test.ts): per-token rewards, the clipped policy and value losses,
 * the adaptive KL controller. Following "The N implementation details of RLHF with PPO" (Huang et
 * al.) and TRL. Advantages (GAE, whitening) are rl/advantages.ts, shared with the critic-free methods.
 *
 * Layout: every per-token quantity is a row-major batch [B, T] over the positions of a right-padded
 * sequence, with `actionMask` [B, T] = 1 on the tokens the policy generated (the completion, its <end>
 * included) and 0 on prompt tokens and pads. Position t holds the action y_t (the token) and the
 * state before it, so values[t] = V(state before y_t). Rows are plain number arrays during a
 * rollout (no gradients) and tensors inside the loss.
 */
import * as tf from '@tensorflow/tfjs';
import { klK1, klK3, KLEstimator } from '../rl/kl';
import { checkShape } from '../rl/advantages';
import { maskedMean } from '../model/layers';

type Rows = number[][];

/** Index of the last position with actionMask 1 in each row (-1 if none). */
function lastIndex(actionMask: Rows): number[] {
  return actionMask.map((row) => row.lastIndexOf(1));
}

/**
 * Per-token rewards of RLHF: r_t = -beta * kl_t on every generated token, plus the reward-model
 * score of the whole completion at its last real token (nothing is scored at pads).
 * Returns the rewards and the per-token KL estimate used (for logging). Shapes [B, T].
 */
export function tokenRewards(
  scores: number[],
  logProbs: Rows,
  refLogProbs: Rows,
  actionMask: Rows,
  beta: number,
  estimator: KLEstimator = 'k1',
): { rewards: Rows; kl: Rows } {
  checkShape('tokenRewards logProbs', logProbs, actionMask);
  checkShape('tokenRewards refLogProbs', refLogProbs, actionMask);
  if (scores.length !== actionMask.length) throw new Error(`tokenRewards: ${scores.length} scores for ${actionMask.length} rows`);
  if (!(beta >= 0)) throw new Error(`tokenRewards: beta must be >= 0, got ${beta}`);
  const f = estimator === 'k1' ? klK1 : klK3;
  const last = lastIndex(actionMask);
  const kl = logProbs.map((row, i) => f(row, refLogProbs[i]).map((k, t) => k * actionMask[i][t]));
  const rewards = kl.map((row, i) => row.map((k, t) => -beta * k + (t === last[i] ? scores[i] : 0)));
  last.forEach((t, i) => { if (t < 0) throw new Error(`tokenRewards: row ${i} has no generated token (actionMask all 0)`); });
  return { rewards, kl };
}

/**
 * PPO-clip policy loss (per-token, masked mean): with ratio = exp(logProbs - oldLogProbs),
 *   loss = mean( max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)) )
 * i.e. minus the pessimistic (clipped) surrogate. Also returns the fraction of tokens where the
 * clipped term was chosen (clipFrac) and approxKL = mean((ratio - 1) - log ratio) (k3 of old vs new).
 */
export function ppoPolicyLoss(
  logProbs: tf.Tensor2D,
  oldLogProbs: tf.Tensor2D,
  advantages: tf.Tensor2D,
  actionMask: tf.Tensor2D,
  clip = 0.2,
): { loss: tf.Scalar; clipFrac: tf.Scalar; approxKL: tf.Scalar } {
  if (!(clip > 0)) throw new Error(`ppoPolicyLoss: clip must be > 0, got ${clip}`);
  return tf.tidy(() => {
    const m = actionMask.toFloat();
    const logRatio = tf.sub(logProbs, oldLogProbs);
    const ratio = tf.exp(logRatio);
    const unclipped = tf.mul(tf.neg(advantages), ratio);
    const clipped = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clip, 1 + clip));
    const loss = maskedMean(tf.maximum(unclipped, clipped), m);
    const clipFrac = maskedMean(tf.greater(clipped, unclipped).toFloat(), m);
    const approxKL = maskedMean(tf.sub(tf.sub(ratio, 1), logRatio), m);
    return { loss, clipFrac, approxKL };
  });
}

/**
 * Clipped value loss: the new value may move at most `clip` from the rollout's value before the
 * squared error stops rewarding it; 0.5 * mean(max((V - R)^2, (Vclip - R)^2)).
 */
export function ppoValueLoss(
  values: tf.Tensor2D,
  oldValues: tf.Tensor2D,
  returns: tf.Tensor2D,
  actionMask: tf.Tensor2D,
  clip = 0.2,
): { loss: tf.Scalar; clipFrac: tf.Scalar } {
  if (!(clip > 0)) throw new Error(`ppoValueLoss: clip must be > 0, got ${clip}`);
  return tf.tidy(() => {
    const m = actionMask.toFloat();
    const vClipped = tf.add(oldValues, tf.clipByValue(tf.sub(values, oldValues), -clip, clip));
    const e1 = tf.square(tf.sub(values, returns));
    const e2 = tf.square(tf.sub(vClipped, returns));
    return {
      loss: tf.mul(0.5, maskedMean(tf.maximum(e1, e2), m)) as tf.Scalar,
      clipFrac: maskedMean(tf.greater(e2, e1).toFloat(), m),
    };
  });
}

/**
 * Adaptive KL controller of Ziegler et al. (2019): after each batch, move klCoef toward the value
 * that keeps the measured KL near `target`: e = clip(KL / target - 1, -0.2, 0.2),
 * klCoef *= 1 + e * nSteps / horizon. Defaults: init 0.15, target 6 nats, horizon 10000.
 */
export class AdaptiveKLController {
  klCoef: number;

  constructor(init = 0.15, readonly target = 6, readonly horizon = 10000) {
    if (!(init >= 0) || !(target > 0) || !(horizon > 0)) {
      throw new Error(`AdaptiveKLController: need init >= 0, target > 0, horizon > 0; got ${init}, ${target}, ${horizon}`);
    }
    this.klCoef = init;
  }

  /** `kl`: mean sequence KL of the batch (nats); `nSteps`: number of samples in it. */
  update(kl: number, nSteps: number): number {
    const e = Math.min(0.2, Math.max(-0.2, kl / this.target - 1));
    this.klCoef *= 1 + (e * nSteps) / this.horizon;
    return this.klCoef;
  }
}
