/**
 * The transformer's building blocks, each a function of tensors: embedding lookup, LayerNorm, GELU,
 * the additive attention mask, the per-token cross-entropy and the masked mean that turns per-token
 * values into one number. GPT (model.ts) and chapter 02's ladder (ladder.ts) are made of them; the
 * trainers' losses (methods/) average with maskedMean.
 *
 * Shapes: B batch, T positions in this call, Tk keys (cached + new), C width, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedGelu, fusedLayerNorm, softmaxCrossEntropy } from '../engine/native';

export const MASKED = -1e9; // added to the scores of forbidden keys; finite so a fully masked row gives no NaN

/** GELU, GPT-2's tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); one fused kernel on cpu+blas. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedGelu(x);
}

/** LayerNorm's epsilon, in every block and the final norm. */
export const LN_EPS = 1e-5;

/** LayerNorm over the last axis, (x - mean) / sqrt(var + 1e-5) * g + b; one fused kernel on cpu+blas. */
export function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return fusedLayerNorm(x, g, b, LN_EPS);
}

/**
 * Embedding lookup table[ids]. The backward of tf.gather needs the UnsortedSegmentSum kernel,
 * which the wasm backend lacks; there the gradient is one-hot(ids)^T dy instead.
 */
export function embed(
  table: tf.Tensor2D, ids: tf.Tensor, oneHotGrad = !tf.getKernel('UnsortedSegmentSum', tf.getBackend()),
): tf.Tensor {
  if (!oneHotGrad) return tf.gather(table, ids);
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, i, save] = args as [tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.gather(t, i),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [V, C] = t.shape;
        const oneHot = tf.oneHot(saved[0].flatten(), V).cast('float32'); // cast: oneHot's float path is wrong on wasm
        return [tf.matMul(oneHot, tf.reshape(dy, [-1, C]), true, false), tf.zerosLike(saved[0])];
      },
    };
  });
  return lookup(table, ids as tf.Tensor2D);
}

/** Mean cross-entropy (nats/token) of logits [B,T,V] against targets [B,T], over mask [B,T] if given. */
export function crossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, mask?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const nll = softmaxCrossEntropy(logits.reshape([B * T, V]), targets.reshape([B * T]).cast('int32') as tf.Tensor1D);
    return maskedMean(nll.reshape([B, T]) as tf.Tensor2D, mask);
  });
}

/** Mean of per-token values [B,T] over mask [B,T] (1 counts, 0 not; all tokens without one). */
export function maskedMean(values: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  if (!mask) return tf.mean(values) as tf.Scalar;
  const m = mask.cast('float32');
  return tf.div(tf.sum(tf.mul(values, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
}

/**
 * The additive attention mask [B or 1, 1, T, Tk] (0 = may attend, MASKED = may not): query t, at
 * absolute position past + t, sees keys j <= past + t; with attentionMask [B, Tk] (1 = token,
 * 0 = pad) no query sees a pad. Broadcast over heads; over rows too when there is no attentionMask.
 */
export function attentionBias(T: number, past: number, attentionMask?: tf.Tensor2D): tf.Tensor4D {
  const Tk = past + T;
  return tf.tidy(() => {
    const causal = new Float32Array(T * Tk);
    for (let t = 0; t < T; t++) for (let j = past + t + 1; j < Tk; j++) causal[t * Tk + j] = MASKED;
    const bias = tf.tensor4d(causal, [1, 1, T, Tk]);
    if (!attentionMask) return bias;
    const B = attentionMask.shape[0];
    const padBias = tf.mul(tf.sub(1, attentionMask.cast('float32')), MASKED).reshape([B, 1, 1, Tk]);
    return tf.add(bias, padBias) as tf.Tensor4D;
  });
}
