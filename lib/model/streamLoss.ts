/**
 * The next-token loss of a language model over a long token stream (pretraining's train and
 * held-out estimates, chapter 02's comparisons of rungs and recipes).
 */
import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from './model';

/**
 * Next-token loss (nats/token) of `model` over a token stream, read as consecutive windows of
 * blockSize + 1 tokens (each token predicted from up to blockSize - 1 earlier ones, as in
 * training), batchSize windows per forward pass: one mean per pass, in stream order (the items a
 * paired comparison of two models on the same text reads its noise from). `maxTokens` limits it
 * to the stream's start (a quick, deterministic estimate); the last partial window is dropped.
 */
export function streamLossChunks(model: LanguageModel, ids: Int32Array, opts: { batchSize?: number; maxTokens?: number } = {}): { loss: number; windows: number }[] {
  const T = model.config.blockSize;
  const B = opts.batchSize ?? 32;
  const n = Math.min(ids.length, (opts.maxTokens ?? Infinity) + 1);
  const windows = Math.floor((n - 1) / T);
  if (windows < 1) throw new Error(`streamLoss: need at least blockSize + 1 = ${T + 1} tokens, got ${n}`);
  const out: { loss: number; windows: number }[] = [];
  for (let w0 = 0; w0 < windows; w0 += B) {
    const rows = Math.min(B, windows - w0);
    const x = new Int32Array(rows * T);
    const y = new Int32Array(rows * T);
    for (let r = 0; r < rows; r++) {
      const s = (w0 + r) * T;
      x.set(ids.subarray(s, s + T), r * T);
      y.set(ids.subarray(s + 1, s + T + 1), r * T);
    }
    out.push({ loss: tf.tidy(() => model.loss(tf.tensor2d(x, [rows, T], 'int32'), tf.tensor2d(y, [rows, T], 'int32')).dataSync()[0]), windows: rows });
  }
  return out;
}

/** Mean next-token loss (nats/token) of `model` over a token stream (streamLossChunks, weighted by windows). */
export function streamLoss(model: LanguageModel, ids: Int32Array, opts: { batchSize?: number; maxTokens?: number } = {}): number {
  const chunks = streamLossChunks(model, ids, opts);
  return chunks.reduce((a, c) => a + c.loss * c.windows, 0) / chunks.reduce((a, c) => a + c.windows, 0);
}
