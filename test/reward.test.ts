import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  btLoss, calibration, dedupeRows, encodeComparisons, evaluateRewardModel, groupByPrompt, lastRealIndex, packBatches, rewardPairs,
  REWARD_PRESETS, RewardModel, rewardLoss, rewardTrain,
} from '../lib/methods/reward';
import { compareByPart, fitWordRewards, partAgreement } from '../lib/methods/rewardProbe';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { Comparison, goldAgreement } from '../lib/feedback/preferences';
import { SimulatedLabeler } from '../lib/feedback/labeler';
import { Rng } from '../lib/core/rng';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const tok = new CharTokenizer(['a', 'b', 'c']); // a=0 b=1 c=2 <end>=3 <pad>=4

function tinyRM(seed = 5): RewardModel {
  return RewardModel.fromPolicy(new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 16, nEmbd: 16, seed }), seed);
}

describe('Bradley-Terry loss', () => {
  it('equals -log sigmoid(r_c - r_r - margin) and has the hand-computed gradient', () => {
    const rc = tf.tensor1d([1, 0]);
    const rr = tf.tensor1d([0, 2]);
    const margin = tf.tensor1d([0.5, 0]);
    // d = [0.5, -2]: loss = (log(1 + e^-0.5) + log(1 + e^2)) / 2
    expect(btLoss(rc, rr, margin).dataSync()[0]).toBeCloseTo((Math.log1p(Math.exp(-0.5)) + Math.log1p(Math.exp(2))) / 2, 6);
    expect(btLoss(rc, rr).dataSync()[0]).toBeCloseTo((Math.log1p(Math.exp(-1)) + Math.log1p(Math.exp(2))) / 2, 6);
    // d loss / d r_c,i = -sigmoid(-d_i) / N, and d loss / d r_r,i = +sigmoid(-d_i) / N.
    const [gc, gr] = tf.grads((a: tf.Tensor, b: tf.Tensor) => btLoss(a as tf.Tensor1D, b as tf.Tensor1D, margin))([rc, rr]);
    const gcv = Array.from(gc.dataSync());
    const grv = Array.from(gr.dataSync());
    [-sigmoid(-0.5) / 2, -sigmoid(2) / 2].forEach((g, i) => expect(gcv[i]).toBeCloseTo(g, 6));
    [sigmoid(-0.5) / 2, sigmoid(2) / 2].forEach((g, i) => expect(grv[i]).toBeCloseTo(g, 6));
    tf.dispose([rc, rr, margin, gc, gr]);
  });

  it('is log 2 for equal rewards and stable for large gaps', () => {
    const z = tf.zeros([3]) as tf.Tensor1D;
    expect(btLoss(z, z).dataSync()[0]).toBeCloseTo(Math.log(2), 6);
    expect(btLoss(tf.tensor1d([200]), tf.tensor1d([0])).dataSync()[0]).toBeCloseTo(0, 6);
    expect(btLoss(tf.tensor1d([0]), tf.tensor1d([200])).dataSync()[0]).toBeCloseTo(200, 3);
  });
});

describe('reward read at the last real token', () => {
  it('finds the last mask = 1 position for right and left padding', () => {
    const mask = tf.tensor2d([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]);
    expect(Array.from(lastRealIndex(mask).dataSync())).toEqual([2, 4, 4]);
    mask.dispose();
  });

  it('gives the same reward to a sequence alone, right-padded and left-padded', () => {
    const rm = tinyRM();
    const seq = [0, 1, 2, 0, 3]; // a b c a <end>
    const other = [1, 1, 0, 2, 2, 1, 0, 3];
    const P = tok.padId;
    const alone = rm.raw(tf.tensor2d([seq], [1, 5], 'int32'), tf.ones([1, 5]) as tf.Tensor2D).dataSync()[0];
    // By hand: the head on the trunk's hidden state at the last position.
    const { hidden } = rm.trunk.forward(tf.tensor2d([seq], [1, 5], 'int32'));
    const byHand = rm.head.apply(hidden).dataSync()[4];
    expect(alone).toBeCloseTo(byHand, 5);
    const right = rm.raw(tf.tensor2d([[...seq, P, P, P], other], [2, 8], 'int32'), tf.tensor2d([[1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]));
    const left = rm.raw(tf.tensor2d([[P, P, P, ...seq], other], [2, 8], 'int32'), tf.tensor2d([[0, 0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]]));
    expect(right.dataSync()[0]).toBeCloseTo(alone, 5);
    expect(left.dataSync()[0]).toBeCloseTo(alone, 5);
    expect(left.dataSync()[1]).toBeCloseTo(right.dataSync()[1], 5);
    // Reading the pad position instead would give a different number.
    const atPad = rm.head.apply(rm.trunk.forward(tf.tensor2d([[...seq, P, P, P]], [1, 8], 'int32')).hidden).dataSync()[7];
    expect(Math.abs(atPad - alone)).toBeGreaterThan(1e-4);
    rm.dispose();
  });
});

/** Comparisons of random a/b/c strings; gold = number of 'a's; labeled by a zero-noise labeler. */
function toyComparisons(n: number, seed: number): Comparison[] {
  const rng = new Rng(seed);
  const gold = (c: string) => (c.match(/a/g) ?? []).length;
  const labeler = new SimulatedLabeler(gold, { temperature: 0, seed });
  const rand = () => Array.from({ length: 2 + rng.int(4) }, () => 'abc'[rng.int(3)]).join('') + '<end>';
  const out: Comparison[] = [];
  while (out.length < n) {
    const a = rand();
    const b = rand();
    if (gold(a) !== gold(b)) out.push(labeler.label('c', a, b));
  }
  return out;
}

describe('K-wise batches: each reply forwarded once', () => {
  it('dedupeRows keeps first-seen order and maps every row to its copy', () => {
    expect(dedupeRows([[1, 2], [3], [1, 2], [1], [3]])).toEqual({ unique: [[1, 2], [3], [1]], index: [0, 1, 0, 2, 1] });
  });

  it('groups by prompt and packs whole groups, every comparison once per pass', () => {
    const recs = ['p', 'q', 'p', 'r', 'q', 'p'].map((prompt) => ({ prompt }) as Comparison);
    const groups = groupByPrompt(recs);
    expect(groups).toEqual([[0, 2, 5], [1, 4], [3]]);
    const batches = packBatches(groups, 4, 2, new Rng(1));
    for (const pass of [batches.slice(0, batches.length / 2), batches.slice(batches.length / 2)]) {
      expect(pass.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    }
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(4);
      for (const g of groups) if (g.some((i) => b.includes(i))) expect(g.every((i) => b.includes(i))).toBe(true);
    }
    expect(packBatches(groups, 4, 2, new Rng(1))).toEqual(batches); // seeded
    // A group larger than the batch is cut into chunks; half a pass keeps half the batches.
    const big = packBatches([[0, 1, 2, 3, 4, 5, 6]], 3, 1, new Rng(2));
    expect(big.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(packBatches([[0], [1], [2], [3]], 1, 0.5, new Rng(3)).length).toBe(2);
    // Groups of one give exactly Rng.batches' batches (the pairwise-shuffled order).
    const next = new Rng(4).batches(12, 4);
    expect(packBatches(Array.from({ length: 12 }, (_, i) => [i]), 4, 2, new Rng(4))).toEqual([next(), next(), next(), next(), next(), next()]);
    expect(() => packBatches(groups, 0, 1, new Rng(1))).toThrow(/batchSize/);
  });

  it('the loss of a batch with shared replies equals the loss of each pair scored alone', () => {
    const rm = tinyRM(9);
    // Three replies of one prompt, all three pairs (K = 3): 6 rows, 3 distinct.
    const x = [2, 0, 0, 3];
    const y = [2, 1, 3];
    const z = [2, 0, 1, 1, 3];
    const pairs = [{ chosen: x, rejected: y, level: 1 }, { chosen: x, rejected: z, level: 2 }, { chosen: z, rejected: y, level: 0 }];
    const alone = (row: number[]) => rm.raw(tf.tensor2d([row], [1, row.length], 'int32'), tf.ones([1, row.length]) as tf.Tensor2D).dataSync()[0];
    const [rx, ry, rz] = [alone(x), alone(y), alone(z)];
    const d = [rx - ry, rx - rz, rz - ry];
    const bt = d.reduce((s, di) => s + Math.log1p(Math.exp(-di)), 0) / 3;
    const center = ((rx + ry) ** 2 + (rx + rz) ** 2 + (rz + ry) ** 2) / 3;
    for (const share of [true, false]) {
      const { loss, accuracy } = rewardLoss(rm, pairs, tok.padId, { marginScale: 0, centerCoef: 0.01 }, false, share);
      expect(loss.dataSync()[0]).toBeCloseTo(bt + 0.01 * center, 5);
      expect(accuracy.dataSync()[0]).toBeCloseTo(d.filter((di) => di > 0).length / 3, 6);
    }
    rm.dispose();
  });
});

describe('partAgreement', () => {
  it('counts, per part, the pairs it separates and how often the rewards agree in sign', () => {
    // parts: a = number of 'a's (higher better), short = minus length
    const parts = (c: string) => ({ a: (c.match(/a/g) ?? []).length, short: -c.length });
    const recs = [['aa', 'b'], ['ab', 'ba'], ['a', 'bbb']].map(([A, B]) => ({ completionA: A, completionB: B }) as Comparison);
    // rewards prefer A, A, B: pair 1 differs in a (A better) and short (B better); pair 2 in neither;
    // pair 3 in a (A) and short (A).
    const out = partAgreement(recs, [1, 0, 0], [0, -1, 2], parts);
    expect(out).toEqual([{ part: 'a', pairs: 2, agreement: 0.5 }, { part: 'short', pairs: 2, agreement: 0 }]);
    expect(() => partAgreement(recs, [1], [0, 1, 2], parts)).toThrow(/3 records but 1 and 3/);
  });
});

describe('bag-of-words Bradley-Terry baseline', () => {
  const cmp = (A: string, B: string, choice: 'A' | 'B') => ({ prompt: 'p', completionA: A, completionB: B, choice }) as Comparison;

  it('takes the hand-computed first gradient step', () => {
    // From w = 0: r_c - r_r = 0, dL/d(r_c - r_r) = sigmoid(0) - 1 = -1/2, so w_good = lr/2, w_bad = -lr/2.
    const r = fitWordRewards([cmp('good day<end>', 'bad day<end>', 'A')], { iterations: 1, lr: 0.2, l2: 0 });
    expect(r('good')).toBeCloseTo(0.1, 12);
    expect(r('bad<end>')).toBeCloseTo(-0.1, 12);
    expect(r('day')).toBe(0); // in both: its gradient cancels
    expect(r('good good unseen<end>bad')).toBeCloseTo(0.1, 12); // distinct words, unknown ones 0, nothing after <end>
  });

  it('ranks held-out replies by the words the labels favoured', () => {
    const train = [cmp('good sir', 'bad sir', 'A'), cmp('a bad day', 'a good day', 'B'), cmp('good', 'no', 'A'), cmp('bad', 'no', 'B')];
    const r = fitWordRewards(train, { iterations: 300 });
    expect(r('good night')).toBeGreaterThan(r('no night'));
    expect(r('no night')).toBeGreaterThan(r('bad night'));
    expect(() => fitWordRewards([])).toThrow(/no comparisons/);
  });
});

describe('compareByPart', () => {
  it('is partAgreement of the reward model and of the bag of words, with the sum of the parts first', () => {
    const rm = tinyRM(11);
    const train = toyComparisons(24, 5);
    const heldOut = toyComparisons(16, 6);
    const parts = (c: string) => ({ a: (c.match(/a/g) ?? []).length, short: -c.length / 10 });
    const withTotal = (c: string) => ({ 'all parts': parts(c).a + parts(c).short, ...parts(c) });
    const { rA, rB } = rewardPairs(rm, tok, heldOut);
    const words = fitWordRewards(train);
    const wA = heldOut.map((r) => words(r.completionA));
    const wB = heldOut.map((r) => words(r.completionB));
    const byRm = partAgreement(heldOut, rA, rB, withTotal);
    const byWords = partAgreement(heldOut, wA, wB, withTotal);
    const rows = compareByPart(rm, tok, train, heldOut, parts);
    expect(rows.map((r) => r.part)).toEqual(['all parts', 'a', 'short']);
    rows.forEach((r, i) => {
      expect(r).toEqual({ part: byRm[i].part, pairs: byRm[i].pairs, rewardModelAgreement: byRm[i].agreement, bagOfWordsAgreement: byWords.find((w) => w.part === r.part)!.agreement });
    });
    rm.dispose();
  });
});

describe('reward training', () => {
  it('zero-noise labelers reproduce the gold order', () => {
    expect(goldAgreement(toyComparisons(100, 1)).rate).toBe(1);
  });

  it('learns a gold preference from comparisons and normalises on reference rows', async () => {
    const rm = tinyRM();
    const train = toyComparisons(192, 2);
    const test = toyComparisons(64, 3);
    const before = evaluateRewardModel(rm, tok, test);
    const res = await rewardTrain({ rewardModel: rm, tokenizer: tok, comparisons: train, heldOut: test }, { ...REWARD_PRESETS.tiny, epochs: 2, batchSize: 16, lr: 3e-3 }, { display: false });
    expect(res.history.length).toBe(24); // 2 epochs x 192 / 16
    const after = evaluateRewardModel(rm, tok, test);
    // At init rewards are small (loss near log 2 = 0.693); after training the pairs are separated.
    expect(before.loss).toBeGreaterThan(0.55);
    expect(after.loss).toBeLessThan(0.25);
    expect(after.accuracyVsGold).toBeGreaterThanOrEqual(0.95);
    expect(after.accuracyVsLabels).toBe(after.accuracyVsGold); // zero noise: labels are gold
    expect(res.evals[res.evals.length - 1].values.heldOutGoldAcc).toBe(after.accuracyVsGold);

    const bins = calibration(rm, tok, test, 5);
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(64);
    bins.forEach((b) => expect(b.predicted).toBeGreaterThanOrEqual(0));

    const ref = test.map((r) => [2, ...tok.encode(r.completionA, { allowSpecial: true })]);
    const { offset, scale } = rm.normalize(ref, tok.padId);
    const z = rm.scoreRows(ref, tok.padId);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / (z.length - 1));
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 5);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rm-'));
    rm.save(path.join(dir, 'rm'), tok);
    const { rewardModel: back } = RewardModel.load(path.join(dir, 'rm'));
    expect([back.offset, back.scale]).toEqual([offset, scale]);
    expect(back.scoreRows(ref.slice(0, 4), tok.padId).map((x) => x.toFixed(4))).toEqual(z.slice(0, 4).map((x) => x.toFixed(4)));
    rm.dispose();
    back.dispose();
    res.optimizer.dispose();
  });
});
