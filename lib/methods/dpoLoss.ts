/**
 * The losses of direct preference optimisation, on summed completion log-probabilities [B].
 *
 * DPO (Rafailov et al. 2023). The KL-regularised RL objective max E[r] - beta KL(pi || pi_ref)
 * has the closed-form optimum pi_r(y|x) = pi_ref(y|x) exp(r(x,y) / beta) / Z(x), so
 * r(x,y) = beta log(pi_r(y|x) / pi_ref(y|x)) + beta log Z(x). Put that into the Bradley-Terry
 * likelihood of a preference y_w > y_l: Z(x) cancels, and the policy itself is the reward model:
 *   h    = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))
 *   loss = -log sigmoid(beta * h)
 * IPO (Azar et al. 2023) regresses h toward 1/(2 beta) instead, (h - 1/(2 beta))^2, so the margin
 * stops growing once reached (DPO's loss keeps pushing h up even on pairs it already gets right).
 */
import * as tf from '@tensorflow/tfjs';

function checkBeta(name: string, beta: number): void {
  if (!(beta > 0)) throw new Error(`${name}: beta must be > 0, got ${beta}`);
}

/** h = policy log-ratio of chosen minus that of rejected, [B]. */
function logRatioMargin(
  policyChosenLogp: tf.Tensor1D, policyRejectedLogp: tf.Tensor1D,
  refChosenLogp: tf.Tensor1D, refRejectedLogp: tf.Tensor1D,
): tf.Tensor1D {
  return tf.tidy(() => tf.sub(tf.sub(policyChosenLogp, refChosenLogp), tf.sub(policyRejectedLogp, refRejectedLogp)) as tf.Tensor1D);
}

/** Mean DPO loss -log sigmoid(beta * h) over the batch (nats per pair). Default beta 0.1. */
export function dpoLoss(
  policyChosenLogp: tf.Tensor1D, policyRejectedLogp: tf.Tensor1D,
  refChosenLogp: tf.Tensor1D, refRejectedLogp: tf.Tensor1D,
  beta = 0.1,
): tf.Scalar {
  checkBeta('dpoLoss', beta);
  return tf.tidy(() => {
    const h = logRatioMargin(policyChosenLogp, policyRejectedLogp, refChosenLogp, refRejectedLogp);
    // -log sigmoid(z) = softplus(-z) (tf.logSigmoid's gradient fails inside tf.grads in tfjs 4.22)
    return tf.mean(tf.softplus(tf.neg(tf.mul(beta, h)))) as tf.Scalar;
  });
}

/** Mean IPO loss (h - 1/(2 beta))^2. */
export function ipoLoss(
  policyChosenLogp: tf.Tensor1D, policyRejectedLogp: tf.Tensor1D,
  refChosenLogp: tf.Tensor1D, refRejectedLogp: tf.Tensor1D,
  beta = 0.1,
): tf.Scalar {
  checkBeta('ipoLoss', beta);
  return tf.tidy(() => {
    const h = logRatioMargin(policyChosenLogp, policyRejectedLogp, refChosenLogp, refRejectedLogp);
    return tf.mean(tf.square(tf.sub(h, 1 / (2 * beta)))) as tf.Scalar;
  });
}

/** DPO's implicit reward beta * (log pi(y|x) - log pi_ref(y|x)), per completion (number arrays). */
export function implicitRewards(policyLogp: ArrayLike<number>, refLogp: ArrayLike<number>, beta = 0.1): number[] {
  checkBeta('implicitRewards', beta);
  if (policyLogp.length !== refLogp.length) throw new Error(`implicitRewards: ${policyLogp.length} policy vs ${refLogp.length} reference log-probs`);
  return Array.from(policyLogp, (lp, i) => beta * (lp - refLogp[i]));
}
