// PPO-ptx (InstructGPT's pretraining mix): the term it adds to PPO's loss, its gradient, by hand,
// and what ppoTrain does with it.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ppoConfig, ppoTrain, pretrainingBatches, ptxTerm, PtxBatch } from '../lib/methods/ppo';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { fractionOfA, tinyChatTokenizer, TINY_PROMPTS } from './tinyChat';

const tok = tinyChatTokenizer();
const V = tok.vocabSize;
const tinyPolicy = () => new GPT({ ...GPT_PRESETS.tiny, vocabSize: V, seed: 4 });
const ids = tok.encode('Human: hi\nAssistant: abcdez. Human: ha\nAssistant: zed.');
const batchOf = (): PtxBatch => ({
  x: tf.tensor2d([ids.slice(0, 6), ids.slice(10, 16)], [2, 6], 'int32'),
  y: tf.tensor2d([ids.slice(1, 7), ids.slice(11, 17)], [2, 6], 'int32'),
});

/** Softmax of each row of logits [N, V] (plain arrays). */
const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((z) => Math.exp(z - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

describe('the ptx term', () => {
  it('adds ptxCoef times the cross-entropy of the policy on the batch, computed by hand from its logits', () => {
    const policy = tinyPolicy();
    const b = batchOf();
    const logits = (policy.forward(b.x).logits.arraySync() as number[][][]).flat();
    const targets = (b.y.arraySync() as number[][]).flat();
    // cross-entropy per position: -log softmax(logits)[target], mean over the 12 positions
    const ce = logits.reduce((a, row, i) => a - Math.log(softmax(row)[targets[i]]), 0) / logits.length;
    const { loss, lmLoss } = ptxTerm(policy, b, 0.3);
    expect(lmLoss.dataSync()[0]).toBeCloseTo(ce, 5);
    expect(loss.dataSync()[0]).toBeCloseTo(0.3 * ce, 5);
    expect(ptxTerm(policy, b, 0).loss.dataSync()[0]).toBe(0);
    expect(() => ptxTerm(policy, b, -1)).toThrow(/ptxCoef must be >= 0, got -1/);
    policy.dispose();
  });

  it('has the gradient ptxCoef/N * sum_t (softmax_t - onehot(y_t)) . wte on the final layer-norm bias', () => {
    // logits_t = (LN(h_t) * g + b) wte^T (tied head), so d logits_tv / d b_c = wte[v, c] and
    // d CE / d logits_tv = (p_tv - [v = y_t]) / N.
    const policy = tinyPolicy();
    const b = batchOf();
    const coef = 0.7;
    const named = new Map(policy.parameters().map((p) => [p.name, p.variable]));
    const wte = named.get('wte')!.arraySync() as number[][];
    const C = wte[0].length;
    const logits = (policy.forward(b.x).logits.arraySync() as number[][][]).flat();
    const targets = (b.y.arraySync() as number[][]).flat();
    const hand = new Array<number>(C).fill(0);
    logits.forEach((row, i) => {
      const p = softmax(row);
      for (let v = 0; v < V; v++) {
        const d = (coef * (p[v] - (v === targets[i] ? 1 : 0))) / logits.length;
        for (let c = 0; c < C; c++) hand[c] += d * wte[v][c];
      }
    });
    const lnfB = named.get('lnf.b')!;
    const { grads } = tf.variableGrads(() => ptxTerm(policy, b, coef).loss, [lnfB]);
    const got = Array.from(grads[lnfB.name].dataSync());
    got.forEach((g, c) => expect(g).toBeCloseTo(hand[c], 5));
    expect(Math.max(...hand.map(Math.abs))).toBeGreaterThan(1e-3); // a gradient worth checking
    policy.dispose();
  });
});

describe('pretraining batches', () => {
  it('are seeded windows of the ids, targets shifted by one', () => {
    const trainIds = Int32Array.from({ length: 50 }, (_, i) => i);
    const next = pretrainingBatches(trainIds, 3, 8, 5);
    const { x, y } = next(0);
    const xs = x.arraySync() as number[][], ys = y.arraySync() as number[][];
    expect(x.shape).toEqual([3, 8]);
    xs.forEach((row, r) => row.forEach((id, t) => {
      expect(id).toBe(row[0] + t); // consecutive ids of the stream
      expect(ys[r][t]).toBe(id + 1);
    }));
    expect(pretrainingBatches(trainIds, 3, 8, 5)(0).x.arraySync()).toEqual(xs);
  });
});

describe('ppoTrain with ptxCoef', () => {
  const prompts = TINY_PROMPTS;
  const fracA = fractionOfA(tok);
  const cfg = (ptxCoef: number) => ppoConfig({ iterations: 1, rolloutBatch: 8, minibatches: 2, ppoEpochs: 2, lr: 1e-2, maxNewTokens: 3, ptxCoef });

  it('adds ptxCoef x the language-modelling loss to the first step, calls ptxBatch once per step, logs it', async () => {
    const coef = 0.5;
    const runs = [];
    const calls: number[] = [];
    let lm0 = NaN;
    for (const c of [0, coef]) {
      const policy = tinyPolicy();
      const refPolicy = policy.copy({ trainable: false });
      if (c > 0) lm0 = policy.loss(batchOf().x, batchOf().y).dataSync()[0];
      const res = await ppoTrain(
        { policy, refPolicy, proxy: fracA, gold: (s) => -s.length, tokenizer: tok, prompts, ptxBatch: (step) => { calls.push(step); return batchOf(); } },
        cfg(c),
      );
      runs.push(res);
      policy.dispose();
      refPolicy.dispose();
    }
    const [plain, ptx] = runs;
    // same seed, same weights at step 0: the same rollout and minibatch, so the losses differ by the ptx term alone
    expect(ptx.history[0].loss - plain.history[0].loss).toBeCloseTo(coef * lm0, 4);
    expect(ptx.history[0].metrics.ptxLoss).toBeCloseTo(lm0, 4);
    expect(calls).toEqual([0, 1, 2, 3]); // ptxCoef 0 never asks for a batch
    expect(ptx.stats[0].ptxLoss).toBeCloseTo(ptx.history.reduce((a, h) => a + h.metrics.ptxLoss, 0) / 4, 6);
    expect(plain.stats[0].ptxLoss).toBeUndefined();
    expect('ptxLoss' in plain.history[0].metrics).toBe(false);
  });

  it('refuses ptxCoef without batches, and a negative coefficient', async () => {
    const policy = tinyPolicy();
    const inp = { policy, refPolicy: policy, proxy: fracA, gold: () => 0, tokenizer: tok, prompts };
    await expect(ppoTrain(inp, cfg(0.1))).rejects.toThrow(/ptxCoef is 0.1 but no ptxBatch was given/);
    await expect(ppoTrain({ ...inp, ptxBatch: batchOf }, cfg(-1))).rejects.toThrow(/ptxCoef must be >= 0, got -1/);
    policy.dispose();
  });
});
