// Chapter 02's ladder (lib/model/ladder.ts): the full rung is lib's GPT, rungs add one piece each,
// and hand-computed forwards of the pieces; the SGD baseline (lib/train/sgd.ts) by hand and in trainLoop.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FULL_GPT, LADDER_RUNGS, ladderConfigs, LadderConfig, LadderModel } from '../lib/model/ladder';
import { GPT } from '../lib/model/model';
import { streamLoss, streamLossChunks } from '../lib/model/streamLoss';
import { SGD } from '../lib/train/sgd';
import { TRAIN_DEFAULTS, trainLoop } from '../lib/train/train';

const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
const base: LadderConfig = { ...FULL_GPT, vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, nLayer: 2, seed: 5 };

describe('the ladder: lib\'s GPT built one piece at a time', () => {
  for (const tieWeights of [true, false]) {
    it(`with every piece on computes GPT.forward from the same weights (tieWeights ${tieWeights})`, () => {
      const gpt = new GPT({ vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, nLayer: 2, tieWeights, seed: 3 });
      // random biases and gains, so a mix-up of any two pieces shows
      const init = new Map<string, tf.Tensor>([...gpt.params].map(([n, v]) => [n, tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 7))]));
      const reference = new GPT(gpt.config, init);
      const ladder = new LadderModel({ ...base, tieWeights }, init);
      expect([...ladder.params.keys()].sort()).toEqual([...reference.params.keys()].sort());
      const x = ids([[1, 4, 2, 9, 0, 3], [7, 7, 1, 2, 10, 5]]);
      const want = reference.forward(x).logits.arraySync() as number[][][];
      const got = ladder.forward(x).arraySync() as number[][][];
      for (let b = 0; b < 2; b++) for (let t = 0; t < 6; t++) for (let v = 0; v < 11; v++) expect(got[b][t][v]).toBeCloseTo(want[b][t][v], 4);
      expect(ladder.loss(x, x).dataSync()[0]).toBeCloseTo(reference.loss(x, x).dataSync()[0], 4);
    });
  }

  it('has six rungs, each adding its pieces to the one before; the last has `depth` blocks and is the full GPT', () => {
    const rungs = ladderConfigs({ vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, seed: 1 }, 3);
    expect(rungs.map((r) => [r.nLayer, r.positions, r.attention, r.mlp, r.residual, r.layerNorm])).toEqual([
      [0, false, false, false, false, false],
      [1, true, true, false, false, false],
      [1, true, true, true, false, false],
      [1, true, true, true, true, false],
      [1, true, true, true, true, true],
      [3, true, true, true, true, true],
    ]);
    expect(LADDER_RUNGS.map((r) => r.name)).toEqual(['bigram', '+ attention', '+ MLP', '+ residual', '+ LayerNorm', 'deeper']);
    expect(rungs[5]).toEqual({ ...FULL_GPT, vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, nLayer: 3, seed: 1 });
    // parameter count of one block by hand: LN 2*2C, qkv C*3C+3C, proj C*C+C, MLP C*4C+4C+4C*C+C (C = 8)
    const C = 8;
    const block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (8 * C * C + 5 * C);
    const n = rungs.map((r) => new LadderModel(r).numParams());
    expect(n[0]).toBe(11 * C);
    expect(n[4] - n[0]).toBe(8 * C + block + 2 * C); // positions [blockSize, C], one block, final LayerNorm
    expect(n[5] - n[4]).toBe(2 * block);
  });

  it('the bigram rung: logits = E[token] E^T, from the token alone', () => {
    const E = [[1, 0], [0, 2], [1, -1]];
    const m = new LadderModel({ ...ladderConfigs({ vocabSize: 3, blockSize: 4, nEmbd: 2, nHead: 1, seed: 0 })[0] }, new Map([['wte', tf.tensor2d(E)]]));
    const got = m.forward(ids([[0, 1, 2, 1]])).arraySync()[0];
    const want = [0, 1, 2, 1].map((a) => E.map((e) => E[a][0] * e[0] + E[a][1] * e[1]));
    expect(got).toEqual(want);
  });

  it('attention is causal: changing a token changes the logits at its position and after, never before', () => {
    const m = new LadderModel(ladderConfigs({ vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, seed: 2 })[1]);
    const a = m.forward(ids([[1, 2, 3, 4, 5, 6]])).arraySync()[0];
    const b = m.forward(ids([[1, 2, 3, 9, 5, 6]])).arraySync()[0];
    for (let t = 0; t < 6; t++) {
      const diff = Math.max(...a[t].map((x, v) => Math.abs(x - b[t][v])));
      if (t < 3) expect(diff).toBe(0);
      else expect(diff).toBeGreaterThan(1e-6);
    }
  });

  it('residual: with an MLP whose weights are zero, x + f(x) keeps the bigram, x = f(x) loses the token (logits 0)', () => {
    const E = [[1, 0], [0, 2], [1, -1]];
    const zeros = new Map<string, tf.Tensor>([['wte', tf.tensor2d(E)], ['h0.mlp.w1', tf.zeros([2, 8])], ['h0.mlp.b1', tf.zeros([8])], ['h0.mlp.w2', tf.zeros([8, 2])], ['h0.mlp.b2', tf.zeros([2])]]);
    const cfg = { ...ladderConfigs({ vocabSize: 3, blockSize: 4, nEmbd: 2, nHead: 1, seed: 0 })[0], nLayer: 1, mlp: true };
    const kept = new LadderModel({ ...cfg, residual: true }, zeros).forward(ids([[2, 0]])).arraySync()[0];
    const lost = new LadderModel({ ...cfg, residual: false }, zeros).forward(ids([[2, 0]])).arraySync()[0];
    expect(kept).toEqual([[1, -2, 2], [1, 0, 1]]);
    expect(lost).toEqual([[0, 0, 0], [0, 0, 0]]);
  });

  it('relu and gelu differ exactly where the MLP pre-activation is negative; layerNorm rows have mean 0 and variance 1 before the gain', () => {
    const cfg = ladderConfigs({ vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, seed: 4 })[4];
    const g = new LadderModel(cfg);
    const r = new LadderModel({ ...cfg, activation: 'relu' }, g.params as Map<string, tf.Tensor>);
    const x = ids([[3, 1, 4, 1, 5]]);
    expect(Math.max(...(tf.abs(tf.sub(g.forward(x), r.forward(x))).dataSync() as Float32Array))).toBeGreaterThan(1e-5);
    expect(() => new LadderModel({ ...cfg, attention: false, mlp: false })).toThrow(/needs attention or the MLP/);
    expect(() => new LadderModel({ ...cfg, nHead: 3 })).toThrow(/nHead \(3\) must divide nEmbd \(8\)/);
    expect(() => g.forward(ids([[1, 2, 3, 4, 5, 6, 7, 8, 9]]))).toThrow(/9 positions exceed blockSize 8/);
  });
});

describe('the stream loss in chunks', () => {
  it('one mean per forward pass of batchSize windows, in order; streamLoss is their window-weighted mean', () => {
    const m = new LadderModel(ladderConfigs({ vocabSize: 11, blockSize: 4, nEmbd: 8, nHead: 2, seed: 6 })[4]);
    const ids = Int32Array.from({ length: 45 }, (_, i) => (i * 7) % 11); // 44 targets: 11 windows of 4
    const chunks = streamLossChunks(m, ids, { batchSize: 4 });
    expect(chunks.map((c) => c.windows)).toEqual([4, 4, 3]);
    // the first chunk by hand: windows 0-3 as one batch
    const x = tf.tensor2d(Array.from({ length: 4 }, (_, r) => Array.from(ids.subarray(4 * r, 4 * r + 4))), [4, 4], 'int32');
    const y = tf.tensor2d(Array.from({ length: 4 }, (_, r) => Array.from(ids.subarray(4 * r + 1, 4 * r + 5))), [4, 4], 'int32');
    expect(chunks[0].loss).toBeCloseTo(m.loss(x, y).dataSync()[0], 6);
    expect(streamLoss(m, ids, { batchSize: 4 })).toBeCloseTo((4 * chunks[0].loss + 4 * chunks[1].loss + 3 * chunks[2].loss) / 11, 6);
    expect(streamLoss(m, ids, { batchSize: 32 })).toBeCloseTo(streamLoss(m, ids, { batchSize: 4 }), 5);
    expect(() => streamLossChunks(m, ids.subarray(0, 4))).toThrow(/need at least blockSize \+ 1 = 5 tokens, got 4/);
  });
});

describe('SGD, the baseline AdamW is measured against', () => {
  it('steps by hand: plain, with momentum, with decoupled weight decay and a clip scale', () => {
    const p = tf.variable(tf.tensor2d([[1, 2]]));
    const g = tf.tensor2d([[0.5, -1]]);
    const plain = new SGD([{ name: 'p', variable: p, decay: true }]);
    plain.step([g], 0.1);
    expect(Array.from(p.dataSync())).toEqual([1 - 0.05, 2 + 0.1].map(Math.fround));
    const q = tf.variable(tf.tensor2d([[1, 2]]));
    const heavy = new SGD([{ name: 'q', variable: q, decay: true }], { momentum: 0.9, weightDecay: 0.5 });
    heavy.step([g], 0.1, 0.5); // m = 0.5 g; q = q (1 - 0.05) - 0.1 m
    heavy.step([g], 0.1, 0.5); // m = 0.9 m + 0.5 g = 0.95 g
    const q1 = [1 * 0.95 - 0.1 * 0.25, 2 * 0.95 + 0.1 * 0.5];
    const q2 = [q1[0] * 0.95 - 0.1 * 0.95 * 0.5, q1[1] * 0.95 + 0.1 * 0.95];
    Array.from(q.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(q2[i], 6));
    expect(heavy.t).toBe(2);
    expect(() => new SGD([p], { momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
  });

  it('runs in the one training loop: on 0.5 (w - 3)^2 at a constant lr 0.1, w_n = 3 + (w_0 - 3) 0.9^n', async () => {
    const w = tf.variable(tf.scalar(1));
    const optimizer = new SGD([w]);
    const config = { ...TRAIN_DEFAULTS, steps: 10, lr: 0.1, minLr: 0.1, warmupSteps: 0, gradClip: 0, evalEvery: 0, livePlot: false };
    const run = await trainLoop({ params: [w], optimizer, config, display: false, lossFn: () => ({ loss: tf.mul(0.5, tf.square(tf.sub(w, 3))) as tf.Scalar }) });
    expect(run.optimizer).toBe(optimizer);
    expect(w.dataSync()[0]).toBeCloseTo(3 - 2 * 0.9 ** 10, 5);
    run.history.forEach((h, n) => expect(h.loss).toBeCloseTo(0.5 * (2 * 0.9 ** n) ** 2, 5));
  });
});
