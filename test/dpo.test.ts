import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { dpoLoss, implicitRewards, ipoLoss } from '../lib/methods/dpoLoss';
import { DPO_PRESETS, dpoTrain, encodePreferencePairs, pairLogProbs, referenceLogProbs } from '../lib/methods/dpo';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { padBatch } from '../lib/model/sample';
import { completionLogProbs } from '../lib/model/logprobs';

const t1 = (x: number[]) => tf.tensor1d(x);

describe('DPO loss', () => {
  it('matches a hand-computed value', () => {
    // pair 1: h = (-10 - -12) - (-11 - -10) = 2 + 1 = 3; beta 0.1: -log sigmoid(0.3) = log(1 + e^-0.3) = 0.554355
    // pair 2: h = (-5 - -5) - (-6 - -6) = 0: log 2 = 0.693147
    const loss = dpoLoss(t1([-10, -5]), t1([-11, -6]), t1([-12, -5]), t1([-10, -6]), 0.1).dataSync()[0];
    const expected = (Math.log1p(Math.exp(-0.3)) + Math.log(2)) / 2;
    expect(loss).toBeCloseTo(expected, 6);
    expect(expected).toBeCloseTo(0.623751, 5);
  });

  it('has gradient -beta * sigmoid(-beta h) / B for chosen and the opposite for rejected', () => {
    const beta = 0.5;
    const rc = t1([-12, -5]);
    const rr = t1([-10, -6]);
    const [gc, gr] = tf.grads((pc: tf.Tensor, pr: tf.Tensor) => dpoLoss(pc as tf.Tensor1D, pr as tf.Tensor1D, rc, rr, beta))([
      t1([-10, -5]), t1([-11, -6]),
    ]);
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    const hs = [3, 0];
    const c = gc.dataSync(), r = gr.dataSync();
    hs.forEach((h, i) => {
      expect(c[i]).toBeCloseTo((-beta * sig(-beta * h)) / 2, 6);
      expect(r[i]).toBeCloseTo((beta * sig(-beta * h)) / 2, 6);
    });
    // and agrees with a central finite difference
    const f = (x: number) => dpoLoss(t1([x, -5]), t1([-11, -6]), rc, rr, beta).dataSync()[0];
    expect((f(-10 + 1e-2) - f(-10 - 1e-2)) / 2e-2).toBeCloseTo(c[0], 3);
  });

  it('rejects beta <= 0', () => {
    expect(() => dpoLoss(t1([0]), t1([0]), t1([0]), t1([0]), 0)).toThrow(/beta must be > 0, got 0/);
  });
});

describe('IPO loss and implicit rewards', () => {
  it('is zero exactly at the margin 1/(2 beta)', () => {
    // beta 0.25 -> target margin 2
    expect(ipoLoss(t1([-1]), t1([-3]), t1([0]), t1([0]), 0.25).dataSync()[0]).toBeCloseTo(0, 6);
    // margin 0 -> loss 4
    expect(ipoLoss(t1([-1]), t1([-1]), t1([0]), t1([0]), 0.25).dataSync()[0]).toBeCloseTo(4, 6);
  });

  it('implicit rewards are beta times the log-ratio', () => {
    const r = implicitRewards([-10, -3], [-12, -3], 0.1);
    expect(r[0]).toBeCloseTo(0.2, 12);
    expect(r[1]).toBe(0);
  });
});

describe('dpoTrain on a tiny model', () => {
  const tok = CharTokenizer.fromText('Human: hi\nAssistant: abcz.');
  const pairs = ['hi', 'ha', 'hi.', 'a'].flatMap((w) => [
    { prompt: `Human: ${w}\nAssistant: `, chosen: 'aa<end>', rejected: 'zz.<end>' },
    { prompt: `Human: ${w}\nAssistant: `, chosen: 'ab<end>', rejected: 'cz<end>' },
  ]);

  it('pair log-probs equal the per-row sums of completionLogProbs over the completion', () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 2 });
    const enc = encodePreferencePairs(pairs.slice(0, 3), tok, policy.config.blockSize);
    expect(enc[0].chosen[enc[0].chosen.length - 1]).toBe(tok.endId); // "<end>" parsed as the end token
    const { chosen, rejected } = pairLogProbs(policy, enc, tok.padId);
    const c = chosen.dataSync(), r = rejected.dataSync();
    enc.forEach((e, i) => {
      for (const [comp, got] of [[e.chosen, c[i]], [e.rejected, r[i]]] as const) {
        const row = [...e.prompt, ...comp];
        const { tokens, mask } = padBatch([row], tok.padId);
        const lp = completionLogProbs(policy, tokens, mask).logProbs.arraySync()[0];
        const want = lp.slice(e.prompt.length).reduce((a, b) => a + b, 0);
        expect(got).toBeCloseTo(want, 4);
      }
    });
    expect(() => encodePreferencePairs([{ prompt: 'a'.repeat(40), chosen: 'a', rejected: 'b' }], tok, 32)).toThrow(/more than blockSize 32/);
    policy.dispose();
  });

  it('starts at loss log 2 and learns to prefer the chosen completions', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 2 });
    const refPolicy = policy.copy({ trainable: false });
    const res = await dpoTrain({ policy, refPolicy, tokenizer: tok, pairs }, { ...DPO_PRESETS.tiny, steps: 12, lr: 3e-3, warmupSteps: 1, batchSize: 8, livePlot: false }, { display: false });
    const cv = res.curves;
    expect(cv.length).toBe(12);
    expect(cv[0].loss).toBeCloseTo(Math.log(2), 5); // policy == reference at step 0
    expect(cv[0].chosenReward).toBeCloseTo(0, 5);
    expect(cv[11].loss).toBeLessThan(0.6);
    expect(cv[11].accuracy).toBe(1);
    expect(cv[11].chosenReward).toBeGreaterThan(cv[11].rejectedReward);
    // cached reference log-probs are those of the frozen reference
    const again = referenceLogProbs(refPolicy, encodePreferencePairs(pairs, tok, 32), tok.padId);
    again.chosen.forEach((x, i) => expect(x).toBeCloseTo(res.refLogProbs.chosen[i], 5));
    // a second run handed those cached log-probs trains exactly like one that recomputes them
    const cfg = { ...DPO_PRESETS.tiny, steps: 3, lr: 3e-3, warmupSteps: 1, batchSize: 8, livePlot: false };
    const [p1, p2] = [refPolicy.copy(), refPolicy.copy()];
    const steps: number[] = [];
    const fresh = await dpoTrain({ policy: p1, refPolicy, tokenizer: tok, pairs }, cfg, { display: false, onStep: (s) => steps.push(s.step) });
    expect(steps).toEqual([0, 1, 2]); // onStep sees every step's curves
    const cached = await dpoTrain({ policy: p2, refPolicy, tokenizer: tok, pairs, refLogProbs: res.refLogProbs }, cfg, { display: false });
    expect(cached.refLogProbs).toBe(res.refLogProbs);
    expect(cached.curves.map((c) => c.loss)).toEqual(fresh.curves.map((c) => c.loss));
    await expect(dpoTrain({ policy: p2, refPolicy, tokenizer: tok, pairs, refLogProbs: { chosen: [0], rejected: [0] } }, cfg, { display: false }))
      .rejects.toThrow('refLogProbs has 1 chosen and 1 rejected log-probs for 8 pairs');
    [p1, p2, policy, refPolicy].forEach((m) => m.dispose());
  });
});
