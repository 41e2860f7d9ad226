import { describe, expect, it } from 'vitest';
import { bestOfN, bestOfNSweep, bonKL, bonKLEstimate, bonWinRateBound, rejectionSamplingData, selectBest } from '../lib/methods/bestOfN';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { Rng } from '../lib/core/rng';

describe('best-of-N KL and win-rate bounds', () => {
  it('closed-form values', () => {
    expect(bonKL(1)).toBe(0);
    expect(bonKL(2)).toBeCloseTo(Math.log(2) - 0.5, 15); // 0.193147
    expect(bonKL(16)).toBeCloseTo(Math.log(16) - 15 / 16, 15); // 1.835
    expect(bonWinRateBound(1)).toBe(0.5);
    expect(bonWinRateBound(4)).toBe(0.8);
    expect(() => bonKL(0)).toThrow(/n must be an integer >= 1, got 0/);
  });

  it('sample estimate: hand-computed, zero for ties, below the bound and close to it without ties', () => {
    // two equally likely outcomes, n = 2: P_bon = 0.25, 0.75 -> 0.25 log 0.5 + 0.75 log 1.5
    expect(bonKLEstimate([1, 2], 2)).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 12);
    expect(bonKLEstimate([3, 3, 3, 3], 8)).toBe(0);
    // identical completions form one outcome even if their float scores differ slightly
    expect(bonKLEstimate([1, 1 + 1e-7], 4, ['x', 'x'])).toBe(0);
    expect(bonKLEstimate([5, 1, 2], 1)).toBeCloseTo(0, 12);
    const rng = new Rng(1);
    const many = Array.from({ length: 5000 }, () => rng.normal());
    for (const n of [2, 4, 16]) {
      const est = bonKLEstimate(many, n);
      expect(est).toBeLessThanOrEqual(bonKL(n));
      expect(bonKL(n) - est).toBeLessThan(0.01);
    }
    // a peaked policy whose favourite reply (half the samples) is also the best-scored: best-of-16
    // returns it with probability 1 - 0.5^16, so KL is about log 2, far below the bound 1.835
    const peaked = many.slice(0, 1000).map((x, i) => (i % 2 ? 10 : x));
    const est = bonKLEstimate(peaked, 16, peaked.map((x, i) => (i % 2 ? 'same' : String(x))));
    expect(est).toBeCloseTo(Math.log(2), 3);
  });

  it('sample estimate with ties: distinct replies of equal score split their group\'s mass by q_j', () => {
    // D, E score 1, F, G score 0, each q = 1/4. Best-of-n returns a score-1 reply with probability
    // 1 - 2^-n, D or E with half of it each; F or G with 2^-n / 2 each. So
    // KL = p log(2p) + (1 - p) log(2(1 - p)) with p = 1 - 2^-n:
    //   n = 2:  0.75 log 1.5 + 0.25 log 0.5           = 0.130812
    //   n = 4:  (15/16) log(15/8) + (1/16) log(1/8)    = 0.459356
    //   n = 16: (1 - 2^-16) log(2 - 2^-15) + 2^-16 log(2^-15) = 0.692963
    // (handing out F_j^n - F_{j-1}^n in sort order instead gave 0.174, 0.590, 1.330.)
    const keys = ['D', 'E', 'F', 'G'];
    const scores = [1, 1, 0, 0];
    expect(bonKLEstimate(scores, 2, keys)).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 12);
    expect(bonKLEstimate(scores, 2, keys)).toBeCloseTo(0.130812, 6);
    expect(bonKLEstimate(scores, 4, keys)).toBeCloseTo((15 / 16) * Math.log(15 / 8) + (1 / 16) * Math.log(1 / 8), 12);
    expect(bonKLEstimate(scores, 4, keys)).toBeCloseTo(0.459356, 6);
    const p = 1 - 2 ** -16;
    expect(bonKLEstimate(scores, 16, keys)).toBeCloseTo(p * Math.log(2 * p) + (1 - p) * Math.log(2 * (1 - p)), 12);
    expect(bonKLEstimate(scores, 16, keys)).toBeCloseTo(0.692963, 6);
    // the same four replies with distinct scores: the untied formula, larger than with ties
    expect(bonKLEstimate([4, 3, 2, 1], 2, keys)).toBeCloseTo(
      [1, 3, 5, 7].reduce((a, k) => a + (k / 16) * Math.log(k / 16 / 0.25), 0), 12);
    // the order of the samples does not matter
    expect(bonKLEstimate([0, 1, 0, 1], 4, ['F', 'D', 'G', 'E'])).toBeCloseTo(bonKLEstimate(scores, 4, keys), 14);
  });
});

describe('selection', () => {
  it('picks the maximum (first on ties)', () => {
    expect(selectBest([[1, 3, 2], [5, 5, 0], [-1]])).toEqual([1, 0, 0]);
    const sweep = bestOfNSweep([[1, 0, 9, 2]], [1, 2, 4]);
    expect(sweep.get(1)).toEqual([0]);
    expect(sweep.get(2)).toEqual([0]);
    expect(sweep.get(4)).toEqual([2]);
  });

  it('bestOfN keeps the top proxy-scored sample of each prompt', async () => {
    const tok = CharTokenizer.fromText('Human: hi\nAssistant: abz!');
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 3 });
    const countA = (rs: number[][]) => rs.map((r) => tok.decode(r).split('a').length - 1);
    const prompts = ['Human: hi\nAssistant: ', 'Human: ha\nAssistant: '];
    const r = await bestOfN(policy, countA, prompts, 4, { tokenizer: tok, gen: { maxNewTokens: 6, temperature: 1, seed: 5 } });
    expect(r.samples.prompts.length).toBe(8);
    r.scores.forEach((s, p) => {
      expect(s.length).toBe(4);
      expect(s[r.chosen[p]]).toBe(Math.max(...s));
      expect(r.best.completions[p]).toBe(r.samples.completions[p * 4 + r.chosen[p]]);
      expect(r.best.prompts[p]).toBe(prompts[p]);
    });
    const scoresOfBest = countA(r.best.promptIds.map((p, i) => [...p, ...r.best.completionIds[i]]));
    expect(scoresOfBest).toEqual(r.scores.map((s) => Math.max(...s)));
    policy.dispose();
  });

  it('rejection-sampling data keeps finished replies without the end mark', () => {
    const best = {
      prompts: ['p1', 'p2'], promptIds: [[], []], completionIds: [[], []],
      completions: ['Good day.<end>', 'Never end'], finished: [true, false],
    };
    expect(rejectionSamplingData(best)).toEqual([{ prompt: 'p1', completion: 'Good day.' }]);
  });
});
