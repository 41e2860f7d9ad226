/**
 * Scoring given text with a GPT: per-token log p(token_t | tokens_<t) of right-padded sequences,
 * the quantity KL penalties, PPO ratios, DPO losses and every critic-free method are made of.
 *
 * `completionLogProbs` is the one function every method calls (PPO's rollout scoring and update,
 * DPO's pairs and reference, rollouts' KL): a faster path (e.g. fusing the output layer with the
 * log-softmax) goes inside it, and every caller gets it. `logProbsFromLogits` is its arithmetic on
 * logits already computed.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from './model';
import { softmaxCrossEntropy } from '../engine/native';

export interface LogProbOptions {
  /** 1 on the positions whose log-probs count (the completion's tokens: the policy's actions), [B, T]; default `mask`. */
  actionMask?: tf.Tensor2D;
  /** Logits are divided by it first (use the sampling temperature, a PPO detail). Default 1. */
  temperature?: number;
  /** Also the entropy (nats) of each position's predictive distribution, aligned like the log-probs. */
  entropy?: boolean;
  /** Also the final hidden states [B, T, C] of the same forward pass (PPO's value head reads them). */
  hidden?: boolean;
}

export interface CompletionLogProbs {
  /** [B, T]: log p(token_t | tokens_<t) (natural log, logits / temperature) where the action mask is 1; 0 elsewhere and at t = 0. */
  logProbs: tf.Tensor2D;
  /** [B]: logProbs summed over each row: log pi(completion | prompt) with an actionMask on the completion. */
  sums: tf.Tensor1D;
  /** [B, T] when asked: entropy of the predictive distribution of token t, masked by `mask` (not the action mask). */
  entropy?: tf.Tensor2D;
  /** [B, T, C] when asked. */
  hidden?: tf.Tensor3D;
}

/**
 * Per-token log-probs of right-padded `tokens` [B, T] (int32; `mask` [B, T], 1 real, 0 pad) under
 * `model`, one forward pass, differentiable. With `actionMask`, log-probs outside it are 0 and
 * `sums` are the completions' log-probs.
 */
export function completionLogProbs(model: GPT, tokens: tf.Tensor2D, mask: tf.Tensor2D, opts: LogProbOptions = {}): CompletionLogProbs {
  const { actionMask, temperature, entropy, hidden } = opts;
  if (actionMask && actionMask.shape.join() !== tokens.shape.join()) {
    throw new Error(`completionLogProbs: actionMask [${actionMask.shape}] must be [${tokens.shape}] like the tokens`);
  }
  return tf.tidy((): CompletionLogProbs & tf.TensorContainerObject => {
    let all: tf.Tensor2D;
    let h: tf.Tensor3D;
    let ent: tf.Tensor2D | undefined;
    if (entropy) {
      // The entropy needs every position's whole distribution: the [B, T, V] logits.
      const out = model.forward(tokens, { attentionMask: mask });
      const r = logProbsFromLogits(out.logits, tokens, mask, { temperature, entropy });
      [all, h, ent] = [r.logProbs, out.hidden, r.entropy];
    } else {
      // Hidden state t predicts token t + 1; GPT.logProbsAt fuses the output layer with the
      // log-softmax at the target ids (no [B, T, V] logits). 0 at t = 0 and at pads.
      const t = temperature ?? 1;
      if (!(t > 0)) throw new Error(`completionLogProbs: temperature must be > 0, got ${t}`);
      const [B, T] = tokens.shape;
      if (mask.shape.join() !== [B, T].join()) throw new Error(`completionLogProbs: mask [${mask.shape}] must be [${B}, ${T}] like the tokens`);
      h = model.forwardHidden(tokens, { attentionMask: mask });
      const C = h.shape[2];
      const next = T > 1 ? model.logProbsAt(h.slice([0, 0, 0], [B, T - 1, C]) as tf.Tensor3D, tokens.slice([0, 1], [B, T - 1]), t) : tf.zeros([B, 0]);
      all = tf.mul(tf.concat([tf.zeros([B, 1]), next], 1), mask.cast('float32')) as tf.Tensor2D;
    }
    const logProbs = actionMask ? (tf.mul(all, actionMask) as tf.Tensor2D) : all;
    const res: CompletionLogProbs & tf.TensorContainerObject = { logProbs, sums: tf.sum(logProbs, 1) as tf.Tensor1D };
    if (ent) res.entropy = ent;
    if (hidden) res.hidden = h;
    return res;
  });
}

/**
 * From logits [B,T,V] of tokens [B,T] (right-padded, mask [B,T]) to per-token log-probs [B,T]:
 * out[b,t] = log softmax(logits[b,t-1] / temperature)[tokens[b,t]] for t >= 1 where mask[b,t] = 1,
 * and 0 at t = 0 (nothing predicts the first token) and at pads. Differentiable.
 * With `entropy`, also the entropy of the same predictive distributions, aligned the same way.
 */
export function logProbsFromLogits(
  logits: tf.Tensor3D, tokens: tf.Tensor2D, mask: tf.Tensor2D, opts: { temperature?: number; entropy?: boolean } = {},
): { logProbs: tf.Tensor2D; entropy?: tf.Tensor2D } {
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`logProbs: temperature must be > 0, got ${temperature}`);
  const [B, T, V] = logits.shape;
  if (tokens.shape.join() !== [B, T].join() || mask.shape.join() !== [B, T].join()) {
    throw new Error(`logProbs: tokens [${tokens.shape}] and mask [${mask.shape}] must both be [${B}, ${T}] like the logits`);
  }
  return tf.tidy(() => {
    const m = mask.cast('float32');
    const align = (x: tf.Tensor) => tf.mul(tf.concat([tf.zeros([B, 1]), x], 1), m) as tf.Tensor2D;
    if (!opts.entropy) {
      // log p(target) = -cross-entropy, by the fused (native) kernel on all B*T rows: with a
      // 4k-token vocabulary, materialising log-softmax [B, T, V] dominated DPO's step time.
      // The last position predicts nothing; its target (the first token, any valid id) is dropped.
      const z = temperature === 1 ? logits : tf.div(logits, temperature);
      const targets = tf.concat([tokens.slice([0, 1], [B, T - 1]), tokens.slice([0, 0], [B, 1])], 1).reshape([B * T]);
      const nll = softmaxCrossEntropy(z.reshape([B * T, V]) as tf.Tensor2D, targets.cast('int32') as tf.Tensor1D);
      return { logProbs: align(tf.neg(nll).reshape([B, T]).slice([0, 0], [B, T - 1])) };
    }
    const logp = tf.logSoftmax(tf.div(logits.slice([0, 0, 0], [B, T - 1, V]), temperature)); // predicts tokens 1..T-1
    // Pick each target's log-prob by a gather from the flattened [B*(T-1)*V] tensor (a one-hot
    // mask of the same size, and its gradient, cost twice as much).
    const n = B * (T - 1);
    const flat = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), tokens.slice([0, 1], [B, T - 1]).reshape([n]));
    const logProbs = align(tf.gather(logp.reshape([n * V]), flat).reshape([B, T - 1]));
    const entropy = align(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)));
    return { logProbs, entropy };
  });
}
