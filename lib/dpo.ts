/**
 * DPO (and IPO) training on preference pairs: the policy is pushed to raise the log-ratio
 * log pi / pi_ref of the chosen completion over the rejected one (losses and the derivation in
 * dpoLoss.ts). No reward model, no sampling: one forward pass of the policy per pair, plus the
 * frozen reference's log-probs, which never change and are computed once before training.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from './model';
import { padBatch, sequenceLogProbs } from './sample';
import { CharTokenizer } from './tokenizer';
import { Comparison, strengthLevel } from './preferences';
import { dpoLoss, ipoLoss } from './dpoLoss';
import { Presets } from './mode';
export * from './dpoLoss';

/** One preference pair; completions end with the text "<end>" when the writer stopped. */
export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** Pairs from comparison records (the chapter-04 JSONL); "about the same" (A>=B, B>=A) kept unless `minLevel` > 0. */
export function pairsFromComparisons(records: Comparison[], minLevel = 0): PreferencePair[] {
  return records
    .filter((r) => strengthLevel(r.strength) >= minLevel && r.completionA !== r.completionB)
    .map((r) => ({
      prompt: r.prompt,
      chosen: r.choice === 'A' ? r.completionA : r.completionB,
      rejected: r.choice === 'A' ? r.completionB : r.completionA,
    }));
}

/** Token ids of each pair: prompt ids and the two completions' ids ("<end>" parsed as the end token). */
export interface EncodedPair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

export function encodePairs(pairs: PreferencePair[], tokenizer: CharTokenizer, blockSize: number): EncodedPair[] {
  return pairs.map((p, i) => {
    const e = {
      prompt: tokenizer.encode(p.prompt),
      chosen: tokenizer.encode(p.chosen, { allowSpecial: true }),
      rejected: tokenizer.encode(p.rejected, { allowSpecial: true }),
    };
    const longest = e.prompt.length + Math.max(e.chosen.length, e.rejected.length);
    if (longest > blockSize) throw new Error(`encodePairs: pair ${i} needs ${longest} tokens, more than blockSize ${blockSize} (prompt ${JSON.stringify(p.prompt)})`);
    if (e.chosen.length === 0 || e.rejected.length === 0) throw new Error(`encodePairs: pair ${i} has an empty completion`);
    return e;
  });
}

/**
 * Summed completion log-probs log pi(y|x) for the chosen and the rejected completion of each
 * pair, [B] each, differentiable: one forward pass over 2B right-padded rows.
 */
export function pairLogProbs(model: GPT, pairs: EncodedPair[], padId: number): { chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
  return tf.tidy(() => {
    const B = pairs.length;
    const rs = [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])];
    const { tokens, mask } = padBatch(rs, padId);
    const T = tokens.shape[1];
    const action = new Float32Array(2 * B * T);
    rs.forEach((r, b) => action.fill(1, b * T + pairs[b % B].prompt.length, b * T + r.length));
    const lp = sequenceLogProbs(model, tokens, mask);
    const sums = tf.sum(tf.mul(lp, tf.tensor2d(action, [2 * B, T])), 1);
    const [chosen, rejected] = tf.split(sums, 2) as tf.Tensor1D[];
    return { chosen, rejected };
  });
}

/** Reference log-probs of every pair, computed once (the reference is frozen). */
export function referenceLogProbs(refPolicy: GPT, pairs: EncodedPair[], padId: number, batchSize = 32): { chosen: number[]; rejected: number[] } {
  const chosen: number[] = [];
  const rejected: number[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) {
    const r = pairLogProbs(refPolicy, pairs.slice(i, i + batchSize), padId);
    chosen.push(...r.chosen.dataSync());
    rejected.push(...r.rejected.dataSync());
    r.chosen.dispose();
    r.rejected.dispose();
  }
  return { chosen, rejected };
}

export interface DPOConfig {
  /** Strength of the implicit KL regularisation (DPO temperature). Default 0.1 (TRL). */
  beta: number;
  /** 'dpo' (log-sigmoid) or 'ipo' (squared loss toward 1/(2 beta)). Default 'dpo'. */
  loss: 'dpo' | 'ipo';
  /** Pairs per step. */
  batchSize: number;
  /** Passes over the pairs. */
  epochs: number;
  /** AdamW peak learning rate (DPO uses small ones: 5e-7 for 7B models; larger for our tiny GPT). */
  lr: number;
  /** Seed of the pair order. */
  seed: number;
}

export const DPO_PRESETS: Presets<DPOConfig> = {
  tiny: { beta: 0.1, loss: 'dpo', batchSize: 8, epochs: 1, lr: 1e-4, seed: 0 },
  course: { beta: 0.1, loss: 'dpo', batchSize: 32, epochs: 2, lr: 5e-5, seed: 0 },
};

/** The loss of a batch of pairs given policy log-probs and cached reference log-probs. */
export function preferenceLoss(
  cfg: Pick<DPOConfig, 'beta' | 'loss'>,
  policyChosen: tf.Tensor1D, policyRejected: tf.Tensor1D, refChosen: tf.Tensor1D, refRejected: tf.Tensor1D,
): tf.Scalar {
  if (cfg.loss === 'dpo') return dpoLoss(policyChosen, policyRejected, refChosen, refRejected, cfg.beta);
  if (cfg.loss === 'ipo') return ipoLoss(policyChosen, policyRejected, refChosen, refRejected, cfg.beta);
  throw new Error(`DPOConfig.loss must be 'dpo' or 'ipo', got ${JSON.stringify(cfg.loss)}`);
}
