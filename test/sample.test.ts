import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GPT, GPTConfig } from '../lib/model/model';
import { Rng } from '../lib/core/rng';
import { generate, padBatch, samplingProbs } from '../lib/model/sample';
import { completionLogProbs, logProbsFromLogits } from '../lib/model/logprobs';

const CFG: GPTConfig = { vocabSize: 13, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0, tieWeights: true, seed: 5 };
const END = 11;
const PAD = 12;

/** A model with weights spread wide enough that sampling is far from uniform. */
function model(seed = 1): GPT {
  const m = new GPT(CFG);
  const rng = new Rng(seed);
  for (const { variable } of m.parameters()) {
    variable.assign(tf.tensor(Float32Array.from({ length: variable.size }, () => 0.5 * rng.normal()), variable.shape));
  }
  return m;
}

describe('samplingProbs', () => {
  it('applies temperature, top-k and top-p to hand-computed distributions', () => {
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const p = samplingProbs(logits, 1);
    expect(p[0]).toBeCloseTo(0.5, 6);
    const hot = samplingProbs(logits, 2); // p^(1/2) renormalised
    const z = Math.sqrt(0.5) + Math.sqrt(0.3) + Math.sqrt(0.2);
    expect(hot[2]).toBeCloseTo(Math.sqrt(0.2) / z, 6);
    expect(Array.from(samplingProbs(logits, 1, 2)).map((x) => +x.toFixed(6))).toEqual([0.625, 0.375, 0]);
    expect(Array.from(samplingProbs(logits, 1, undefined, 0.5))).toEqual([1, 0, 0]); // 0.5 alone reaches p
    expect(Array.from(samplingProbs(logits, 1, undefined, 0.7)).map((x) => +x.toFixed(6))).toEqual([0.625, 0.375, 0]);
    expect(Array.from(samplingProbs(logits, 0))).toEqual([1, 0, 0]);
  });
});

describe('generate', () => {
  const prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9]];

  it('cached and uncached decoding give the same tokens and log-probs', () => {
    const m = model();
    const opts = { maxNewTokens: 6, padId: PAD, seed: 3 };
    const a = generate(m, prompts, { ...opts, useCache: true });
    const b = generate(m, prompts, { ...opts, useCache: false });
    expect(a.map((g) => g.tokens)).toEqual(b.map((g) => g.tokens));
    a.forEach((g, i) => g.logProbs.forEach((lp, t) => expect(Math.abs(lp - b[i].logProbs[t])).toBeLessThan(1e-4)));
    expect(a[1].completion).toHaveLength(6);
    expect(a[1].tokens.slice(0, 1)).toEqual([4]);
  });

  it('cached and uncached agree beyond the context window (window restart rule)', () => {
    const m = model(2);
    const opts = { maxNewTokens: 20, padId: PAD, seed: 8 }; // 5 + 20 > blockSize 12
    const a = generate(m, prompts, { ...opts, useCache: true });
    const b = generate(m, prompts, { ...opts, useCache: false });
    expect(a.map((g) => g.tokens)).toEqual(b.map((g) => g.tokens));
    expect(a[2].tokens).toHaveLength(25);
  });

  it('a fixed seed gives identical samples twice, another seed differs', () => {
    const m = model();
    const run = (seed: number) => generate(m, prompts, { maxNewTokens: 8, padId: PAD, seed }).map((g) => g.completion);
    expect(run(4)).toEqual(run(4));
    expect(run(4)).not.toEqual(run(5));
  });

  it("a prompt's continuation does not depend on the other rows (padding handled)", () => {
    const m = model(3);
    const opts = { maxNewTokens: 5, padId: PAD, temperature: 0 };
    const alone = generate(m, [[4]], opts)[0];
    const inBatch = generate(m, [[5, 6, 7, 8, 9], [4]], opts)[1];
    expect(inBatch.tokens).toEqual(alone.tokens);
    alone.logProbs.forEach((lp, t) => expect(Math.abs(lp - inBatch.logProbs[t])).toBeLessThan(1e-4));
  });

  it('stops a row at endId and keeps endId as its last token', () => {
    const m = model(4);
    const greedy = generate(m, [[1, 2]], { maxNewTokens: 4, padId: PAD, temperature: 0 })[0];
    expect(greedy.finished).toBe(false);
    const endAfter = greedy.completion[1]; // treat the second greedy token as the end token
    const g = generate(m, [[1, 2], [3]], { maxNewTokens: 4, padId: PAD, temperature: 0, endId: endAfter })[0];
    expect(g.completion).toEqual(greedy.completion.slice(0, greedy.completion.indexOf(endAfter) + 1));
    expect(g.finished).toBe(true);
    const allStop = generate(m, [[1, 2]], { maxNewTokens: 4, padId: PAD, temperature: 0, endId: greedy.completion[0] })[0];
    expect(allStop.completion).toEqual([greedy.completion[0]]);
  });

  it('generation log-probs equal completionLogProbs of the generated tokens (filtered sampling or not)', () => {
    const m = model(5);
    // with top-k the log-prob is of the unfiltered tempered distribution; without, the sampling one is reused
    for (const filter of [{ topK: 5 }, {}]) {
      const gens = generate(m, prompts, { maxNewTokens: 4, padId: PAD, seed: 1, temperature: 0.7, ...filter });
      const { tokens, mask } = padBatch(gens.map((g) => g.tokens), PAD);
      const lp = completionLogProbs(m, tokens, mask, { temperature: 0.7 }).logProbs.arraySync();
      gens.forEach((g, b) => {
        const P = prompts[b].length;
        g.logProbs.forEach((x, t) => expect(Math.abs(lp[b][P + t] - x)).toBeLessThan(1e-4));
      });
    }
  });

  it('leaves no tensors behind (cache and per-step tensors are freed)', () => {
    const m = model();
    generate(m, prompts, { maxNewTokens: 3, padId: PAD, seed: 1 }); // warm-up allocations
    const before = tf.memory().numTensors;
    generate(m, prompts, { maxNewTokens: 15, padId: PAD, seed: 2 }); // crosses the window restart too
    generate(m, prompts, { maxNewTokens: 5, padId: PAD, seed: 2, useCache: false });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options naming the value', () => {
    const m = model();
    expect(() => generate(m, [[1], []], { maxNewTokens: 2, padId: PAD })).toThrow(/prompt 1 is empty/);
    expect(() => generate(m, [[1, 99]], { maxNewTokens: 2, padId: PAD })).toThrow(/id 99 outside \[0, 13\)/);
    expect(() => generate(m, [[1]], { maxNewTokens: 2, padId: PAD, topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
  });
});

describe('completionLogProbs and logProbsFromLogits', () => {
  it('equals a manual log-softmax gather, 0 at position 0 and at pads', () => {
    const m = model(6);
    const { tokens, mask } = padBatch([[1, 2, 3, 4], [5, 6]], PAD);
    const lp = completionLogProbs(m, tokens, mask).logProbs.arraySync();
    const logits = m.forward(tokens).logits.arraySync();
    const rows = [[1, 2, 3, 4], [5, 6]];
    rows.forEach((r, b) => {
      expect(Math.abs(lp[b][0])).toBe(0);
      for (let t = 1; t < 4; t++) {
        if (t >= r.length) {
          expect(Math.abs(lp[b][t])).toBe(0);
          continue;
        }
        const z = logits[b][t - 1];
        const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
        expect(lp[b][t]).toBeCloseTo(z[r[t]] - lse, 4);
      }
    });
  });

  it('has the closed-form gradient: d log p(y) / d logits = onehot(y) - softmax, masked positions 0', () => {
    // Two rows, 3 positions, vocabulary 4; row 1's last position is padding (mask 0).
    const z = [[[0.1, -0.4, 0.7, 0.2], [1.0, 0.0, -1.0, 0.5], [0.3, 0.3, 0.3, 0.3]], [[-0.2, 0.9, 0.0, 0.4], [0.6, -0.3, 0.2, 0.1], [2.0, 0.0, 0.0, 0.0]]];
    const logits = tf.tensor3d(z);
    const tokens = tf.tensor2d([[0, 2, 1], [3, 1, 0]], [2, 3], 'int32');
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(logProbsFromLogits(x as tf.Tensor3D, tokens, mask).logProbs))(logits).arraySync() as number[][][];
    const tok = [[0, 2, 1], [3, 1, 0]];
    const m = [[1, 1, 1], [1, 1, 0]];
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 3; t++) {
        const row = z[b][t];
        const sum = row.reduce((s, v) => s + Math.exp(v), 0);
        for (let v = 0; v < 4; v++) {
          // position t predicts token t+1 (the last position predicts nothing); counted iff the target is real
          const counted = t < 2 && m[b][t + 1] === 1;
          const want = counted ? (v === tok[b][t + 1] ? 1 : 0) - Math.exp(row[v]) / sum : 0;
          expect(g[b][t][v]).toBeCloseTo(want, 5);
        }
      }
    }
  });

  it('runs on GPT.logProbsAt (no [B,T,V] logits): same values and parameter gradients as the logits path, tied and untied head', () => {
    const { tokens, mask } = padBatch([[1, 2, 3, 4, 5], [5, 6, 7], [8, 1]], PAD);
    for (const tieWeights of [true, false]) {
      const m = new GPT({ ...CFG, tieWeights, seed: 9 });
      const vars = m.trainableVariables();
      const viaLogits = () => logProbsFromLogits(m.forward(tokens, { attentionMask: mask }).logits, tokens, mask, { temperature: 0.7 }).logProbs;
      const fused = () => completionLogProbs(m, tokens, mask, { temperature: 0.7 }).logProbs;
      const weights = tf.tensor2d([[0, 1, -2, 0.5, 3], [0, 2, 1, 0, 0], [0, -1, 0, 0, 0]]);
      const grads = (f: () => tf.Tensor) => tf.variableGrads(() => tf.sum(tf.mul(f(), weights)) as tf.Scalar, vars).grads;
      const [a, b] = [viaLogits().arraySync(), fused().arraySync()];
      a.forEach((row, i) => row.forEach((x, j) => expect(b[i][j]).toBeCloseTo(x, 5)));
      const [ga, gb] = [grads(viaLogits), grads(fused)];
      expect(Object.keys(gb).sort()).toEqual(Object.keys(ga).sort());
      for (const name of Object.keys(ga)) {
        const x = ga[name].dataSync(), y = gb[name].dataSync();
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-5 * (1 + Math.abs(x[i])));
      }
      expect(() => m.logProbsAt(m.forwardHidden(tokens), tokens.slice([0, 0], [3, 2]))).toThrow(/targets/);
      m.dispose();
    }
  });

  it('divides logits by the temperature and gives entropies of the same distributions', () => {
    const logits = tf.tensor3d([[[0, Math.log(3)], [0, 0]]]); // position 0 predicts token 1
    const tokens = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    const mask = tf.tensor2d([[1, 1]]);
    const r = logProbsFromLogits(logits, tokens, mask, { temperature: 2, entropy: true });
    const p1 = Math.sqrt(3) / (1 + Math.sqrt(3));
    expect(r.logProbs.dataSync()[1]).toBeCloseTo(Math.log(p1), 5);
    expect(r.entropy!.dataSync()[1]).toBeCloseTo(-(p1 * Math.log(p1) + (1 - p1) * Math.log(1 - p1)), 5);
    expect(r.entropy!.dataSync()[0]).toBe(0);
    const m = model(7);
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), ones = tf.tensor2d([[1, 1, 1]]);
    const both = logProbsFromLogits(m.forward(ids).logits, ids, ones, { entropy: true });
    expect(both.entropy!.dataSync()[2]).toBeGreaterThan(0);
    expect(both.entropy!.dataSync()[2]).toBeLessThanOrEqual(Math.log(CFG.vocabSize) + 1e-5);
  });
});
