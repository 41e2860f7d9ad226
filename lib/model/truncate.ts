/**
 * Smaller models from a trained one (chapter 11's reward models of three sizes): keep the token and
 * position embeddings, the first `nLayer` blocks and the final LayerNorm, and drop the later blocks.
 * The residual stream after block k is the same in both models (blocks only add to it), so the
 * truncated model reads the trained model's features at depth k: a size axis without pretraining
 * three models.
 *
 * One block holds 12 C^2 + 13 C parameters (C = nEmbd): two LayerNorms (4C), attention qkv
 * (3C^2 + 3C) and output (C^2 + C), MLP up (4C^2 + 4C) and down (4C^2 + C).
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from './model';

/** Parameters of one transformer block of width C. */
export function blockParams(nEmbd: number): number {
  return 12 * nEmbd * nEmbd + 13 * nEmbd;
}

/** A trainable model with `model`'s first `nLayer` blocks (1 <= nLayer <= model's), weights copied. */
export function truncateLayers(model: GPT, nLayer: number): GPT {
  const L = model.config.nLayer;
  if (!Number.isInteger(nLayer) || nLayer < 1 || nLayer > L) throw new Error(`truncateLayers: nLayer must be an integer from 1 to ${L}, got ${nLayer}`);
  const init = new Map<string, tf.Tensor>();
  for (const [name, v] of model.params) {
    const block = /^h(\d+)\./.exec(name);
    if (!block || Number(block[1]) < nLayer) init.set(name, v);
  }
  return new GPT({ ...model.config, nLayer }, init);
}

/** The distinct depths of `sizes` reward models from a trunk of `nLayer` blocks: 1, about half, all (fewer when the trunk is shallow). */
export function depthLadder(nLayer: number): number[] {
  if (!Number.isInteger(nLayer) || nLayer < 1) throw new Error(`depthLadder: nLayer must be a positive integer, got ${nLayer}`);
  return [...new Set([1, Math.ceil(nLayer / 2), nLayer])];
}
