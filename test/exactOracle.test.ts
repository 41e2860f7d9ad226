import { describe, expect, it } from 'vitest';
import {
  bestOfNDistribution, bestOfNKL, estimatorMoments, klRegularisedOptimum, optimalObjective, regularisedObjective,
} from '../lib/eval/exactOracle';

const E = Math.E;

describe('the KL-regularised optimum', () => {
  // two replies, ref 1/2 each, rewards 0 and 1, beta 1: pi* = [1, e] / (1 + e), value log((1 + e) / 2)
  const ref = [0.5, 0.5];
  const r = [0, 1];

  it('matches the hand computation and reaches the value beta log Z', () => {
    const pi = klRegularisedOptimum(ref, r, 1);
    expect(pi[0]).toBeCloseTo(1 / (1 + E), 12);
    expect(pi[1]).toBeCloseTo(E / (1 + E), 12);
    expect(optimalObjective(ref, r, 1)).toBeCloseTo(Math.log((1 + E) / 2), 12);
    expect(regularisedObjective(pi, ref, r, 1)).toBeCloseTo(Math.log((1 + E) / 2), 12);
  });

  it('beats every other policy on a grid, and moves from ref (large beta) to the best reply (small beta)', () => {
    const best = optimalObjective(ref, r, 0.5);
    for (let k = 0; k <= 100; k++) {
      const p = [k / 100, 1 - k / 100];
      expect(regularisedObjective(p, ref, r, 0.5)).toBeLessThanOrEqual(best + 1e-12);
    }
    expect(klRegularisedOptimum(ref, r, 1e4)[1]).toBeCloseTo(0.5, 4);
    expect(klRegularisedOptimum(ref, r, 1e-3)[1]).toBeCloseTo(1, 10);
    // a reply the reference never says stays impossible, whatever its reward
    expect(klRegularisedOptimum([0, 0.5, 0.5], [100, 0, 1], 1)[0]).toBe(0);
    expect(() => klRegularisedOptimum(ref, r, 0)).toThrow(/beta must be > 0/);
    expect(() => klRegularisedOptimum([0.5, 0.6], r, 1)).toThrow(/sum to 1.1/);
  });
});

describe('k1 and k3 against the exact KL', () => {
  it('both are unbiased when the policy covers the reference, k3 with far less variance', () => {
    // p = [1/2, 1/2], q = [1/4, 3/4]: k1 = ln 2, ln(2/3); k3 = ln 2 - 1/2, 1/2 - ln(3/2)
    const m = estimatorMoments([0.5, 0.5], [0.25, 0.75]);
    const kl = 0.5 * Math.LN2 + 0.5 * Math.log(2 / 3);
    expect(m.kl).toBeCloseTo(kl, 12);
    expect(m.k1Mean).toBeCloseTo(kl, 12);
    expect(m.k3Mean).toBeCloseTo(kl, 12);
    // two equally likely values x, y: variance ((x - y) / 2)^2
    expect(m.k1Var).toBeCloseTo(((Math.LN2 - Math.log(2 / 3)) / 2) ** 2, 12);
    expect(m.k3Var).toBeCloseTo(((Math.LN2 - 0.5 - (0.5 - Math.log(1.5))) / 2) ** 2, 12);
    expect(m.k3Var).toBeLessThan(m.k1Var / 50);
  });

  it('k3 misses the reference mass the policy never samples', () => {
    // p = [1, 0], q = [1/2, 1/2]: KL = ln 2; the only sample has q/p = 1/2, k3 = ln 2 - 1/2
    const m = estimatorMoments([1, 0], [0.5, 0.5]);
    expect(m.kl).toBeCloseTo(Math.LN2, 12);
    expect(m.k1Mean).toBeCloseTo(Math.LN2, 12);
    expect(m.k3Mean).toBeCloseTo(Math.LN2 - 0.5, 12);
    expect(m.k1Var).toBeCloseTo(0, 12);
  });
});

describe('exact best-of-N', () => {
  it('matches the hand computation for two replies and stays below the bound', () => {
    // best of 2 picks the reward-1 reply unless both draws are the reward-0 one: [1/4, 3/4]
    expect(bestOfNDistribution([0.5, 0.5], [0, 1], 2)).toEqual([0.25, 0.75]);
    const { kl, bound } = bestOfNKL([0.5, 0.5], [0, 1], 2);
    expect(kl).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 12);
    expect(bound).toBeCloseTo(Math.LN2 - 0.5, 12);
    expect(kl).toBeLessThan(bound - 0.05);
  });

  it('is the reference when n = 1 or all rewards tie, and splits a tied level by ref', () => {
    expect(bestOfNDistribution([0.2, 0.3, 0.5], [3, 1, 2], 1).map((x) => +x.toFixed(12))).toEqual([0.2, 0.3, 0.5]);
    expect(bestOfNKL([0.2, 0.3, 0.5], [1, 1, 1], 8).kl).toBeCloseTo(0, 12);
    // rewards [0, 1, 1], ref [1/2, 1/4, 1/4], n = 2: top level gets 1 - 1/4 = 3/4, split 3/8 each
    const d = bestOfNDistribution([0.5, 0.25, 0.25], [0, 1, 1], 2);
    [0.25, 0.375, 0.375].forEach((e, i) => expect(d[i]).toBeCloseTo(e, 12));
  });

  it('approaches log N - (N-1)/N from below as replies stop repeating', () => {
    const kls = [4, 40, 4000].map((m) => {
      const ref = new Array<number>(m).fill(1 / m);
      return bestOfNKL(ref, ref.map((_, i) => i), 4);
    });
    kls.forEach(({ kl, bound }) => expect(kl).toBeLessThan(bound));
    expect(kls[0].kl).toBeLessThan(kls[1].kl);
    expect(kls[1].kl).toBeLessThan(kls[2].kl);
    expect(kls[2].bound - kls[2].kl).toBeLessThan(2e-3);
    expect(kls[2].bound).toBeCloseTo(Math.log(4) - 0.75, 12);
  });
});
