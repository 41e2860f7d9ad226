import { describe, expect, it } from 'vitest';
import {
  CRITIC_FREE_METHODS, CRITIC_FREE_PRESETS, CriticFreeConfig, criticFreeAdvantages, criticFreeMethodName, criticFreeTrain,
} from '../lib/methods/criticFree';
import { MovingAverageBaseline } from '../lib/rl/advantages';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { fractionOfA, tinyChatTokenizer, TINY_PROMPTS } from './tinyChat';

// tiny preset with 4-token completions (the prompts take 22 of the tiny model's 32 positions)
const cfg = (name: keyof typeof CRITIC_FREE_METHODS, o: Partial<CriticFreeConfig> = {}): CriticFreeConfig => ({ ...CRITIC_FREE_PRESETS.tiny, maxNewTokens: 4, ...CRITIC_FREE_METHODS[name], minLr: o.lr ?? CRITIC_FREE_PRESETS.tiny.lr, ...o });

describe('the critic-free config', () => {
  it('carries each paper\'s defaults and names the method', () => {
    const grpo = { ...CRITIC_FREE_PRESETS.course, ...CRITIC_FREE_METHODS.grpo };
    expect([grpo.beta, grpo.clip, grpo.scaleByStd, grpo.normalize, grpo.updateEpochs]).toEqual([0.04, 0.2, true, 'sequence', 1]);
    const dr = { ...CRITIC_FREE_PRESETS.course, ...CRITIC_FREE_METHODS.drgrpo };
    expect([dr.method, dr.scaleByStd, dr.normalize]).toEqual(['grpo', false, 'constant']);
    expect(CRITIC_FREE_METHODS.rloo.beta).toBe(0.05);
    expect(CRITIC_FREE_PRESETS.course.samplesPerPrompt).toBe(4);
    expect(['reinforce', 'rloo', 'grpo', 'drgrpo'].map((m) => criticFreeMethodName(cfg(m as never)))).toEqual(['REINFORCE', 'RLOO', 'GRPO', 'Dr. GRPO']);
    // the lr is constant, as PPO's
    expect(CRITIC_FREE_PRESETS.course.minLr).toBe(CRITIC_FREE_PRESETS.course.lr);
  });
});

describe('advantages per method, laid back onto rollout rows', () => {
  // two prompts, K = 3; the rows of a byCopy layout (sample j of prompt p at row j * 2 + p) to check the mapping
  const rewards = [[1, 2, 3], [5, 5, 5]];
  const rows = [[0, 2, 4], [1, 3, 5]];
  it('RLOO: reward minus the mean of the other two; an equal group gets 0', () => {
    // 1 - (2 + 3)/2 = -1.5, 2 - (1 + 3)/2 = 0, 3 - (1 + 2)/2 = 1.5
    expect(criticFreeAdvantages(cfg('rloo'), rewards, rows)).toEqual([-1.5, 0, 0, 0, 1.5, 0]);
  });
  it('GRPO: (r - mean) / (sample std + 1e-4); Dr. GRPO: r - mean', () => {
    const a = criticFreeAdvantages(cfg('grpo'), rewards, rows); // std of 1, 2, 3 is 1
    [-1 / 1.0001, 0, 0, 0, 1 / 1.0001, 0].forEach((x, i) => expect(a[i]).toBeCloseTo(x, 12));
    expect(a[1]).toBe(0);
    expect(criticFreeAdvantages(cfg('drgrpo'), rewards, rows)).toEqual([-1, 0, 0, 0, 1, 0]);
  });
  it('REINFORCE: reward minus the moving average of earlier batches (the first batch\'s own mean at first)', () => {
    const b = new MovingAverageBaseline(0.9);
    // batch mean (1 + 2 + 3 + 15) / 6 = 3.5
    expect(criticFreeAdvantages(cfg('reinforce'), rewards, rows, b)).toEqual([-2.5, 1.5, -1.5, 1.5, -0.5, 1.5]);
    // next batch: baseline 3.5, then moves to 0.9 * 3.5 + 0.1 * 0 = 3.15
    expect(criticFreeAdvantages(cfg('reinforce'), [[0, 0, 0], [0, 0, 0]], rows, b)).toEqual(new Array(6).fill(-3.5));
    expect(b.value).toBeCloseTo(3.15, 12);
    expect(() => criticFreeAdvantages(cfg('reinforce'), rewards, rows)).toThrow(/needs its MovingAverageBaseline/);
  });
});

describe('criticFreeTrain on a tiny model', () => {
  const tok = tinyChatTokenizer();
  const prompts = TINY_PROMPTS;
  // proxy = fraction of 'a' in the completion (no penalty for a missing <end> where the proxy must rise: ending early would pay more)
  const fracA = fractionOfA(tok);
  const models = (seed = 4) => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed });
    return { policy, refPolicy: policy.copy({ trainable: false }) };
  };
  const weights = (m: GPT) => m.parameters().map((p) => Array.from(p.variable.dataSync()));

  it('rejects a config it cannot run, naming the field', async () => {
    const { policy, refPolicy } = models();
    const inp = { policy, refPolicy, proxy: fracA, gold: () => 0, tokenizer: tok, prompts };
    await expect(criticFreeTrain(inp, cfg('rloo', { samplesPerPrompt: 1 }))).rejects.toThrow(/samplesPerPrompt must be >= 2/);
    await expect(criticFreeTrain(inp, cfg('grpo', { minibatches: 3 }))).rejects.toThrow(/not divisible by minibatches 3/);
    await expect(criticFreeTrain(inp, cfg('grpo', { method: 'ppo' as never }))).rejects.toThrow(/method must be/);
    await expect(criticFreeTrain({ ...inp, prompts: [] }, cfg('grpo'))).rejects.toThrow(/no prompts/);
    policy.dispose(); refPolicy.dispose();
  });

  it('learns nothing from groups whose rewards are all equal (GRPO, beta 0): zero gradient, weights unchanged', async () => {
    const { policy, refPolicy } = models();
    const before = weights(policy);
    const res = await criticFreeTrain(
      { policy, refPolicy, proxy: (ids) => ids.map(() => 0.7), gold: () => 0, tokenizer: tok, prompts },
      cfg('grpo', { beta: 0, noEndPenalty: 0, iterations: 2 }),
    );
    expect(res.stats.map((s) => s.flatGroups)).toEqual([1, 1]);
    expect(res.stats.every((s) => s.advantageSq === 0 && s.gradNorm === 0 && s.policyLoss === 0)).toBe(true);
    expect(weights(policy)).toEqual(before);
    policy.dispose(); refPolicy.dispose();
  });

  it('is reproducible from its seed and differs with another', async () => {
    const runOnce = async (seed: number) => {
      const { policy, refPolicy } = models();
      const res = await criticFreeTrain({ policy, refPolicy, proxy: fracA, gold: (c) => -c.length, tokenizer: tok, prompts }, cfg('rloo', { seed, lr: 1e-2 }));
      const w = weights(policy);
      policy.dispose(); refPolicy.dispose();
      return { stats: res.stats.map(({ seconds: _s, ...rest }) => rest), w };
    };
    const a = await runOnce(1), b = await runOnce(1), c = await runOnce(2);
    expect(b.stats).toEqual(a.stats);
    expect(b.w).toEqual(a.w);
    expect(c.w).not.toEqual(a.w);
  });

  for (const name of ['reinforce', 'rloo', 'grpo', 'drgrpo'] as const) {
    it(`${criticFreeMethodName(cfg(name))} starts at KL 0 and raises the proxy`, async () => {
      const { policy, refPolicy } = models();
      const c = cfg(name, { iterations: 8, promptsPerIteration: 4, samplesPerPrompt: 4, minibatches: 2, lr: 1e-2, maxNewTokens: 2, beta: 0.01, noEndPenalty: 0 });
      const res = await criticFreeTrain({ policy, refPolicy, proxy: fracA, gold: (t) => -t.length, tokenizer: tok, prompts }, c);
      const h = res.stats;
      expect(h.length).toBe(8);
      expect(res.history.length).toBe(16); // 8 iterations x 1 epoch x 2 minibatches, one trainLoop
      expect(res.optimizer.t).toBe(16);
      expect(Math.abs(h[0].kl)).toBeLessThan(1e-4);
      expect((h[6].proxy + h[7].proxy) / 2).toBeGreaterThan((h[0].proxy + h[1].proxy) / 2 + 0.2);
      if (c.method !== 'grpo') expect(h.every((s) => s.clipFrac === 0)).toBe(true);
      policy.dispose(); refPolicy.dispose();
    });
  }

  it('stops when its signal is aborted', async () => {
    const { policy, refPolicy } = models();
    const ctl = new AbortController();
    const res = await criticFreeTrain({ policy, refPolicy, proxy: fracA, gold: () => 0, tokenizer: tok, prompts }, cfg('grpo', { iterations: 5 }), {
      signal: ctl.signal, onIteration: (s) => { if (s.iteration === 2) ctl.abort(); },
    });
    expect(res.stopped).toBe(true);
    expect(res.stats.length).toBe(2);
    policy.dispose(); refPolicy.dispose();
  });
});
