import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { AdaptiveKLController, ppoPolicyLoss, ppoValueLoss, tokenRewards } from '../lib/methods/ppoMath';
import { PPO_PRESETS, ppoConfig, ppoTrain } from '../lib/methods/ppo';
import { TRAIN_DEFAULTS } from '../lib/train/train';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { fractionOfA, tinyChatTokenizer, TINY_PROMPTS } from './tinyChat';
import { rollout, rolloutLogProbs } from '../lib/rl/rollout';
import { generate } from '../lib/model/sample';

const t2 = (x: number[][]) => tf.tensor2d(x);

describe('per-token rewards', () => {
  it('puts -beta * KL on each token and the score at the last real token', () => {
    const lp = [[0, -1, -2, -0.5]];
    const ref = [[0, -1.5, -1.5, -9]];
    const mask = [[0, 1, 1, 0]];
    const { rewards, kl } = tokenRewards([2], lp, ref, mask, 0.1, 'k1');
    expect(kl[0]).toEqual([0, 0.5, -0.5, 0]);
    expect(rewards[0][1]).toBeCloseTo(-0.05, 12);
    expect(rewards[0][2]).toBeCloseTo(0.05 + 2, 12);
    expect(Math.abs(rewards[0][3])).toBe(0); // pad: nothing
    expect(() => tokenRewards([1], lp, ref, [[0, 0, 0, 0]], 0.1)).toThrow(/no generated token/);
  });
});

describe('PPO-clip policy loss', () => {
  it('matches hand-computed values including clipped cases', () => {
    // ratios 1.5 (A=+1: clipped to 1.2), 0.5 (A=+1: unclipped 0.5 is the min), 1.5 (A=-1: unclipped -1.5... max(1.5, 1.2) = 1.5),
    // 0.5 (A=-1: max(0.5, 0.8) = 0.8, clipped)
    const ratios = [1.5, 0.5, 1.5, 0.5];
    const adv = [[1, 1, -1, -1, 7]];
    const old = [[0, 0, 0, 0, 0]];
    const lp = [[...ratios.map(Math.log), 3]]; // last position is a pad
    const mask = [[1, 1, 1, 1, 0]];
    const { loss, clipFrac, approxKL } = ppoPolicyLoss(t2(lp), t2(old), t2(adv), t2(mask), 0.2);
    // per token: -1.2, -0.5, 1.5, 0.8 -> mean 0.15
    expect(loss.dataSync()[0]).toBeCloseTo(0.15, 5);
    expect(clipFrac.dataSync()[0]).toBeCloseTo(0.5, 6);
    const k3 = ratios.map((r) => r - 1 - Math.log(r)).reduce((a, b) => a + b) / 4;
    expect(approxKL.dataSync()[0]).toBeCloseTo(k3, 5);
  });

  it('has gradient -A * ratio / N where unclipped and 0 where clipped', () => {
    const old = t2([[0, 0]]);
    const adv = t2([[1, 1]]);
    const mask = t2([[1, 1]]);
    const g = tf.grad((lp: tf.Tensor) => ppoPolicyLoss(lp as tf.Tensor2D, old, adv, mask, 0.2).loss)(t2([[Math.log(1.5), Math.log(0.9)]]));
    const v = g.dataSync();
    expect(v[0]).toBeCloseTo(0, 6); // clipped: ratio 1.5 > 1.2 with A > 0
    expect(v[1]).toBeCloseTo(-0.9 / 2, 5); // d/dlogp of -A * exp(logp) / 2
  });
});

describe('clipped value loss', () => {
  it('matches a hand computation', () => {
    // old 0, new 1, return 1: e1 = 0, clipped V = 0.2, e2 = 0.64 -> max 0.64
    // old 0, new 0.1, return -1: e1 = 1.21, e2 = 1.21 -> 1.21
    const { loss, clipFrac } = ppoValueLoss(t2([[1, 0.1]]), t2([[0, 0]]), t2([[1, -1]]), t2([[1, 1]]), 0.2);
    expect(loss.dataSync()[0]).toBeCloseTo(0.5 * (0.64 + 1.21) / 2, 5);
    expect(clipFrac.dataSync()[0]).toBeCloseTo(0.5, 6);
  });
});

describe('the adaptive KL controller', () => {
  it('moves klCoef by at most 20% * nSteps / horizon', () => {
    const c = new AdaptiveKLController(0.15, 6, 10000);
    expect(c.update(12, 100)).toBeCloseTo(0.15 * (1 + 0.2 * 0.01), 12); // KL too high: up, clipped error
    const d = new AdaptiveKLController(0.15, 6, 10000);
    expect(d.update(5.4, 1000)).toBeCloseTo(0.15 * (1 - 0.1 * 0.1), 12); // e = -0.1
  });
});

describe('ppoConfig', () => {
  it('extends the training defaults with a constant lr unless minLr is given', () => {
    const c = ppoConfig({ lr: 2e-4 });
    expect(c.lr).toBe(2e-4);
    expect(c.minLr).toBe(2e-4);
    expect(c.warmupSteps).toBe(0);
    expect(c.weightDecay).toBe(0);
    expect([c.beta1, c.beta2, c.eps]).toEqual([TRAIN_DEFAULTS.beta1, TRAIN_DEFAULTS.beta2, TRAIN_DEFAULTS.eps]);
    expect(ppoConfig({ lr: 2e-4, minLr: 1e-5 }).minLr).toBe(1e-5);
    expect(ppoConfig()).toEqual(PPO_PRESETS.course); // RLHF_FAST is unset in tests
    expect('sampleEvery' in ppoConfig()).toBe(false);
  });
});

describe('ppoTrain on a tiny model', () => {
  const tok = tinyChatTokenizer();
  const prompts = TINY_PROMPTS;
  // proxy = fraction of 'a' in the completion; gold = the same minus a length penalty
  const fracA = fractionOfA(tok);

  it('rollout log-probs from the forward pass match the sampler at the same temperature', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 4 });
    const r = await rollout(policy, tok, prompts, { maxNewTokens: 8, temperature: 0.7, seed: 1 });
    const gens = generate(policy, r.promptIds, { maxNewTokens: 8, temperature: 0.7, seed: 1, endId: tok.endId, padId: tok.padId });
    const lp = rolloutLogProbs(policy, r, tok.padId, 0.7);
    gens.forEach((g, i) => g.logProbs.forEach((x, t) => expect(lp[i][t]).toBeCloseTo(x, 4)));
    policy.dispose();
  });

  it('starts at KL 0 and raises the proxy reward', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 4 });
    const refPolicy = policy.copy({ trainable: false });
    const res = await ppoTrain(
      { policy, refPolicy, proxy: fracA, gold: (c) => -c.length, tokenizer: tok, prompts },
      ppoConfig({ iterations: 6, rolloutBatch: 16, minibatches: 2, ppoEpochs: 2, lr: 1e-2, maxNewTokens: 2, beta: 0.01 }),
    );
    const h = res.stats;
    expect(h.length).toBe(6);
    // a TrainResult: every optimizer step (6 iterations x 2 epochs x 2 minibatches) at the constant lr
    expect(res.history.length).toBe(24);
    expect(res.history.map((r) => r.step)).toEqual([...Array(24).keys()]);
    expect(res.history.every((r) => r.lr === 1e-2)).toBe(true);
    expect(res.optimizer.t).toBe(24);
    expect(res.stopped).toBe(false);
    expect(Math.abs(h[0].kl)).toBeLessThan(1e-4); // policy == refPolicy in the first rollout
    expect(h[0].approxKL).toBeGreaterThanOrEqual(0);
    // seeded run: the proxy rises, KL grows from 0, entropy falls
    expect((h[4].proxy + h[5].proxy) / 2).toBeGreaterThan((h[0].proxy + h[1].proxy) / 2 + 0.3);
    expect(h[5].kl).toBeGreaterThan(0.5);
    expect(h[5].entropy).toBeLessThan(h[0].entropy);
    expect(res.rewardStd).toBeGreaterThan(0);
    policy.dispose();
    refPolicy.dispose();
  });
});
