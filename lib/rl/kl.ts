/**
 * KL divergence between the policy and the reference, estimated from samples of the policy.
 *
 * We sample completions y ~ policy and know, per token, logp = log policy(y_t | ...) and
 * logq = log refPolicy(y_t | ...). KL(policy || ref) = E_policy[logp - logq]. Two unbiased
 * estimators from John Schulman's note "Approximating KL divergence" (2020), with r = q/p:
 *   k1 = logp - logq            unbiased, high variance, negative for some samples
 *   k3 = (r - 1) - log r        unbiased (E_p[r] = 1), never negative, lower variance
 * Both are exactly 0 when the two policies agree. A negative *mean* k1 over many samples is a
 * bug signal: the rollout and the scoring used different distributions (top-k, temperature, ...).
 */
import * as tf from '@tensorflow/tfjs';

export type KLEstimator = 'k1' | 'k3';

function checkPair(name: string, logp: ArrayLike<number>, logq: ArrayLike<number>): void {
  if (logp.length !== logq.length) {
    throw new Error(`${name}: logProbs has ${logp.length} entries but refLogProbs has ${logq.length}`);
  }
}

/** Per-sample k1 = logp - logq (nats). */
export function klK1(logProbs: ArrayLike<number>, refLogProbs: ArrayLike<number>): number[] {
  checkPair('klK1', logProbs, refLogProbs);
  return Array.from(logProbs, (lp, i) => lp - refLogProbs[i]);
}

/** Per-sample k3 = (r - 1) - log r with r = q/p = exp(logq - logp) (nats, >= 0). */
export function klK3(logProbs: ArrayLike<number>, refLogProbs: ArrayLike<number>): number[] {
  checkPair('klK3', logProbs, refLogProbs);
  return Array.from(logProbs, (lp, i) => {
    const logr = refLogProbs[i] - lp;
    return Math.expm1(logr) - logr;
  });
}

/** Exact KL(p || q) in nats for two categorical distributions given as probabilities. */
export function categoricalKL(p: ArrayLike<number>, q: ArrayLike<number>): number {
  checkPair('categoricalKL', p, q);
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    if (!(p[i] >= 0) || !(q[i] >= 0)) throw new Error(`categoricalKL: probability ${i} is negative or NaN (p=${p[i]}, q=${q[i]})`);
    if (p[i] === 0) continue;
    if (q[i] === 0) return Infinity;
    kl += p[i] * Math.log(p[i] / q[i]);
  }
  return kl;
}

/**
 * Per-token KL estimate as a tensor [B, T] (zeros where mask is 0), differentiable: a KL penalty
 * inside a loss, as critic-free RL (GRPO, Shao et al. 2024) adds beta * k3 per token. PPO puts its
 * penalty in the reward instead (ppoMath.ts tokenRewards, on arrays). logProbs, refLogProbs,
 * mask: [B, T].
 */
export function klPerToken(
  logProbs: tf.Tensor2D,
  refLogProbs: tf.Tensor2D,
  mask: tf.Tensor2D,
  estimator: KLEstimator = 'k3',
): tf.Tensor2D {
  if (estimator !== 'k1' && estimator !== 'k3') throw new Error(`klPerToken: unknown estimator ${JSON.stringify(estimator)}; use 'k1' or 'k3'`);
  return tf.tidy(() => {
    const m = mask.toFloat();
    const logr = tf.sub(refLogProbs, logProbs);
    const k = estimator === 'k1' ? tf.neg(logr) : tf.sub(tf.sub(tf.exp(logr), 1), logr);
    return tf.mul(k, m) as tf.Tensor2D;
  });
}
