import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS, GPTConfig, KVCache } from '../lib/model/model';
import { attentionBias, crossEntropy, embed, gelu, layerNorm, MASKED, maskedMean } from '../lib/model/layers';
import { streamLoss } from '../lib/model/streamLoss';
import { ScalarHead } from '../lib/model/heads';
import { Rng } from '../lib/core/rng';

// Small enough for finite differences on the plain cpu backend.
const SMALL: GPTConfig = { vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, dropout: 0, tieWeights: true, seed: 3 };

function randomIds(rng: Rng, B: number, T: number, V: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(V))), [B, T], 'int32');
}

/** Re-draw every weight with a larger spread so gradients are far from float32 noise. */
function roughen(model: GPT, seed: number, std = 0.4): void {
  const rng = new Rng(seed);
  for (const { variable } of model.parameters()) {
    const data = Float32Array.from({ length: variable.size }, () => std * rng.normal());
    variable.assign(tf.tensor(data, variable.shape));
  }
}

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('GPT building blocks', () => {
  it('gelu matches the tanh formula at hand-computed points', () => {
    const y = gelu(tf.tensor1d([-1, 0, 1, 2])).dataSync();
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    expect(y[0]).toBeCloseTo(-0.158808, 5);
    expect(y[1]).toBe(0);
    expect(y[2]).toBeCloseTo(0.841192, 5);
    expect(y[3]).toBeCloseTo(1.954598, 5);
  });

  it('layerNorm normalises the last axis then scales and shifts', () => {
    // x = [1, 2, 3, 6]: mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
    const y = layerNorm(tf.tensor2d([[1, 2, 3, 6]]), tf.tensor1d([1, 1, 2, 1]), tf.tensor1d([0, 0, 0, 1])).dataSync();
    const s = Math.sqrt(3.5 + 1e-5);
    expect(y[0]).toBeCloseTo(-2 / s, 5);
    expect(y[2]).toBeCloseTo(0, 5);
    expect(y[3]).toBeCloseTo(3 / s + 1, 5);
  });

  it('crossEntropy equals -log softmax at the target, masked mean', () => {
    const logits = tf.tensor3d([[[0, Math.log(3)], [2, 2]]]); // p(1) = 3/4 ; uniform
    const targets = tf.tensor2d([[1, 0]], [1, 2], 'int32');
    expect(crossEntropy(logits, targets).dataSync()[0]).toBeCloseTo((-Math.log(0.75) + Math.log(2)) / 2, 5);
    expect(crossEntropy(logits, targets, tf.tensor2d([[1, 0]])).dataSync()[0]).toBeCloseTo(-Math.log(0.75), 5);
  });

  it('maskedMean averages over the mask, 0 for an empty mask, all values without one', () => {
    const v = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    expect(maskedMean(v).dataSync()[0]).toBeCloseTo(21 / 6, 6);
    expect(maskedMean(v, tf.tensor2d([[1, 0, 1], [0, 0, 1]])).dataSync()[0]).toBeCloseTo((1 + 3 + 6) / 3, 6);
    expect(maskedMean(v, tf.tensor2d([[0, 0, 0], [0, 0, 0]], [2, 3], 'int32')).dataSync()[0]).toBe(0);
  });

  it('attentionBias: query t at position past + t sees keys up to past + t, and no pad', () => {
    const M = MASKED;
    // 2 new positions after 1 cached: query 0 (position 1) sees keys 0-1, query 1 sees keys 0-2
    expect(attentionBias(2, 1).arraySync()).toEqual([[[[0, 0, M], [0, 0, 0]]]]);
    // row 1's key 0 is a pad: no query of that row sees it
    const padded = attentionBias(2, 1, tf.tensor2d([[1, 1, 1], [0, 1, 1]], [2, 3], 'int32'));
    expect(padded.shape).toEqual([2, 1, 2, 3]);
    expect(padded.arraySync()).toEqual([[[[0, 0, M], [0, 0, 0]]], [[[M, 0, M], [M, 0, 0]]]]);
  });

  it("embed's one-hot gradient (used where gather has no gradient kernel) equals gather's", () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ids = tf.tensor2d([[2, 0], [2, 2]], [2, 2], 'int32');
    const dy = tf.tensor3d([[[1, 0], [0, 1]], [[2, 3], [4, 5]]]);
    const g = (oneHot: boolean) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embed(t as tf.Tensor2D, ids, oneHot), dy)))(table);
    expect(Array.from(g(true).dataSync())).toEqual([0, 1, 0, 0, 7, 8]);
    expect(maxAbsDiff(g(true), g(false))).toBe(0);
    expect(Array.from(embed(table, ids, true).dataSync())).toEqual([5, 6, 1, 2, 5, 6, 5, 6]);
  });
});

describe('GPT', () => {
  it('has the closed-form parameter count and output shapes', () => {
    const m = new GPT(GPT_PRESETS.tiny);
    const { vocabSize: V, blockSize: T, nLayer: L, nEmbd: C } = GPT_PRESETS.tiny;
    expect(m.numParams()).toBe(V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C);
    const untied = new GPT({ ...GPT_PRESETS.tiny, tieWeights: false });
    expect(untied.numParams()).toBe(m.numParams() + C * V);
    const { logits, hidden } = m.forward(tf.zeros([3, 5], 'int32') as tf.Tensor2D);
    expect(logits.shape).toEqual([3, 5, V]);
    expect(hidden.shape).toEqual([3, 5, C]);
    m.dispose();
    untied.dispose();
  });

  it('is seeded: same seed same weights, different seed different weights', () => {
    const a = new GPT(SMALL);
    const b = new GPT(SMALL);
    const c = new GPT({ ...SMALL, seed: 4 });
    const idx = randomIds(new Rng(1), 2, 5, SMALL.vocabSize);
    expect(maxAbsDiff(a.forward(idx).logits, b.forward(idx).logits)).toBe(0);
    expect(maxAbsDiff(a.forward(idx).logits, c.forward(idx).logits)).toBeGreaterThan(1e-3);
  });

  it('gradients match central finite differences on random parameter entries', () => {
    const m = new GPT(SMALL);
    roughen(m, 11);
    const rng = new Rng(5);
    const x = randomIds(rng, 2, 6, SMALL.vocabSize);
    const y = randomIds(rng, 2, 6, SMALL.vocabSize);
    const loss = () => m.loss(x, y);
    const { grads } = tf.variableGrads(loss, m.trainableVariables());
    const eps = 1e-2;
    let checked = 0;
    for (const { name, variable } of m.parameters()) {
      const g = grads[variable.name].dataSync();
      const base = variable.dataSync().slice();
      for (let trial = 0; trial < 2; trial++) {
        const i = rng.int(variable.size);
        const at = (delta: number) => {
          const w = base.slice();
          w[i] += delta;
          variable.assign(tf.tensor(w, variable.shape));
          return tf.tidy(() => loss().dataSync()[0]);
        };
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        variable.assign(tf.tensor(base, variable.shape));
        // float32 loss: rounding ~1e-5 at this eps, plus O(eps^2) curvature; gradients here are ~5e-3..1e-1
        expect(Math.abs(numeric - g[i]), `${name}[${i}] analytic ${g[i]} numeric ${numeric}`).toBeLessThan(3e-4 + 1e-2 * Math.abs(g[i]));
        checked++;
      }
    }
    expect(checked).toBe(2 * m.parameters().length);
  });

  it('loss (through logProbsAt, no logits) = crossEntropy of the logits, with and without a mask', () => {
    const m = new GPT(SMALL);
    roughen(m, 12);
    const rng = new Rng(6);
    const x = randomIds(rng, 3, 5, SMALL.vocabSize), y = randomIds(rng, 3, 5, SMALL.vocabSize);
    const mask = tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]], [3, 5], 'float32');
    const logits = m.forward(x).logits;
    expect(m.loss(x, y).dataSync()[0]).toBeCloseTo(crossEntropy(logits, y).dataSync()[0], 5);
    expect(m.loss(x, y, { mask }).dataSync()[0]).toBeCloseTo(crossEntropy(logits, y, mask).dataSync()[0], 5);
    tf.dispose([x, y, mask, logits]);
    m.dispose();
  });

  it('is causal: changing a later token leaves earlier logits unchanged', () => {
    const m = new GPT(SMALL);
    roughen(m, 2);
    const a = tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32');
    const b = tf.tensor2d([[1, 2, 3, 9, 5]], [1, 5], 'int32');
    const la = m.forward(a).logits;
    const lb = m.forward(b).logits;
    expect(maxAbsDiff(la.slice([0, 0, 0], [1, 3, -1]), lb.slice([0, 0, 0], [1, 3, -1]))).toBe(0);
    expect(maxAbsDiff(la.slice([0, 3, 0], [1, 1, -1]), lb.slice([0, 3, 0], [1, 1, -1]))).toBeGreaterThan(1e-3);
  });

  it('attention weights are causal and rows sum to 1', () => {
    const m = new GPT(SMALL);
    const { attention } = m.forward(tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32'), { returnAttention: true });
    expect(attention).toHaveLength(SMALL.nLayer);
    const w = attention![0].arraySync()[0][1]; // batch 0, head 1: [T, T]
    for (let t = 0; t < 4; t++) {
      expect(w[t].reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      for (let j = t + 1; j < 4; j++) expect(w[t][j]).toBe(0);
    }
  });

  it('a KV cache fed one token at a time gives the full-sequence logits', () => {
    const m = new GPT(SMALL);
    roughen(m, 3);
    const idx = randomIds(new Rng(9), 2, 7, SMALL.vocabSize);
    const full = m.forward(idx).logits;
    const cache = new KVCache(SMALL.nLayer);
    const first = m.forward(idx.slice([0, 0], [2, 3]), { cache }).logits; // prefill 3 positions
    expect(maxAbsDiff(first, full.slice([0, 0, 0], [2, 3, -1]))).toBeLessThan(1e-4);
    for (let t = 3; t < 7; t++) {
      const step = m.forward(idx.slice([0, t], [2, 1]), { cache }).logits;
      expect(maxAbsDiff(step, full.slice([0, t, 0], [2, 1, -1]))).toBeLessThan(1e-4);
    }
    expect(cache.length).toBe(7);
    expect(cache.keys[0]!.shape).toEqual([2, SMALL.nHead, 7, SMALL.nEmbd / SMALL.nHead]);
    cache.dispose();
    expect(() => m.forward(tf.zeros([1, 9], 'int32') as tf.Tensor2D)).toThrow(/exceed blockSize 8/);
  });

  it('left padding with attention mask and positions does not change a sequence', () => {
    const m = new GPT(SMALL);
    roughen(m, 4);
    const alone = m.forward(tf.tensor2d([[3, 1, 4]], [1, 3], 'int32')).logits;
    const padded = m.forward(tf.tensor2d([[10, 10, 3, 1, 4], [5, 9, 2, 6, 5]], [2, 5], 'int32'), {
      attentionMask: tf.tensor2d([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]),
      positions: tf.tensor2d([[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]], [2, 5], 'int32'),
    }).logits;
    expect(maxAbsDiff(padded.slice([0, 2, 0], [1, 3, -1]), alone)).toBeLessThan(1e-5);
  });

  it('copy({trainable: false}) is a frozen, independent refPolicy', () => {
    const m = new GPT(SMALL);
    const ref = m.copy({ trainable: false });
    const idx = randomIds(new Rng(2), 1, 4, SMALL.vocabSize);
    expect(maxAbsDiff(m.forward(idx).logits, ref.forward(idx).logits)).toBe(0);
    expect(ref.trainableVariables()).toHaveLength(0);
    expect(m.trainableVariables()).toHaveLength(m.parameters().length);
    roughen(m, 1);
    expect(maxAbsDiff(m.forward(idx).logits, ref.forward(idx).logits)).toBeGreaterThan(1e-3);
  });

  it('weight decay flags: only matmul weights decay', () => {
    const flags = Object.fromEntries(new GPT(SMALL).parameters().map((p) => [p.name, p.decay]));
    expect(flags['h0.attn.wqkv']).toBe(true);
    expect(flags['h1.mlp.w2']).toBe(true);
    expect(flags['wte']).toBe(false);
    expect(flags['wpe']).toBe(false);
    expect(flags['h0.ln1.g']).toBe(false);
    expect(flags['h0.mlp.b1']).toBe(false);
  });

  it('rejects bad configs and inputs with messages naming the value', () => {
    expect(() => new GPT({ ...SMALL, nHead: 3 })).toThrow(/nHead \(3\) must divide nEmbd \(8\)/);
    expect(() => new GPT({ ...SMALL, nLayer: 0 })).toThrow(/nLayer must be a positive integer, got 0/);
    const m = new GPT(SMALL);
    expect(() => m.forward(tf.zeros([1, 3]) as tf.Tensor2D)).toThrow(/int32, got float32/);
  });
});

describe('ScalarHead', () => {
  it("'zero' init reads 0; apply is w . hidden + b", () => {
    const hidden = tf.tensor3d([[[1, 2], [3, -1]]]);
    const v = new ScalarHead(2, 'zero');
    expect(Array.from(v.apply(hidden).dataSync())).toEqual([0, 0]);
    v.w.assign(tf.tensor1d([0.5, 2]));
    v.b.assign(tf.scalar(1));
    expect(Array.from(v.apply(hidden).dataSync())).toEqual([5.5, 0.5]);
    expect(v.apply(hidden).shape).toEqual([1, 2]);
  });

  it("'normal' init has std about 1/sqrt(C+1) and copies are frozen on request", () => {
    const r = new ScalarHead(400, 'normal', 1);
    const w = Array.from(r.w.dataSync());
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.8 / Math.sqrt(401));
    expect(std).toBeLessThan(1.2 / Math.sqrt(401));
    expect(r.copy({ trainable: false }).trainableVariables()).toHaveLength(0);
  });
});

describe('streamLoss', () => {
  it('averages the loss of consecutive windows, whatever the batch size', () => {
    const m = new GPT(SMALL);
    roughen(m, 8);
    const ids = Int32Array.from({ length: 30 }, (_, i) => (i * 7) % SMALL.vocabSize);
    // 29 predictable tokens -> 3 windows of 8 (24 targets); the rest is dropped.
    const byHand = [0, 8, 16].map((s) => m.loss(
      tf.tensor2d(Array.from(ids.subarray(s, s + 8)), [1, 8], 'int32'),
      tf.tensor2d(Array.from(ids.subarray(s + 1, s + 9)), [1, 8], 'int32'),
    ).dataSync()[0]);
    const mean = byHand.reduce((a, b) => a + b, 0) / 3;
    expect(streamLoss(m, ids, { batchSize: 2 })).toBeCloseTo(mean, 5);
    expect(streamLoss(m, ids, { batchSize: 5 })).toBeCloseTo(mean, 5);
    expect(streamLoss(m, ids, { maxTokens: 8 })).toBeCloseTo(byHand[0], 5);
    expect(() => streamLoss(m, ids.subarray(0, 5))).toThrow(/need at least blockSize \+ 1 = 9 tokens, got 5/);
  });
});
