import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  agreement, biasedJudge, bradleyTerry, elo, eloExpected, eloUpdate, fitGao, judgeWinRate, paretoFrontier, winRate,
} from '../lib/eval/eval';
import { categoricalKL, klK1, klK3, klPerToken } from '../lib/rl/kl';
import { meanStderr, smooth } from '../lib/core/stats';
import { Rng } from '../lib/core/rng';

describe('KL estimators', () => {
  it('are zero for identical policies', () => {
    const lp = [-0.1, -2.3, -0.7];
    expect(klK1(lp, lp)).toEqual([0, 0, 0]);
    expect(klK3(lp, lp)).toEqual([0, 0, 0]);
  });

  it('k3 matches the hand-computed value and is never negative', () => {
    // logp = log 0.5, logq = log 0.25: r = 0.5, k3 = -0.5 - log 0.5 = 0.193147
    const [k3] = klK3([Math.log(0.5)], [Math.log(0.25)]);
    expect(k3).toBeCloseTo(-0.5 + Math.log(2), 12);
    const [k3b] = klK3([Math.log(0.25)], [Math.log(0.5)]); // r = 2: 1 - log 2
    expect(k3b).toBeCloseTo(1 - Math.log(2), 12);
    expect(klK1([Math.log(0.25)], [Math.log(0.5)])[0]).toBeCloseTo(-Math.log(2), 12);
  });

  it('sample means match the exact KL of a small categorical distribution', () => {
    const p = [0.5, 0.3, 0.2]; // policy
    const q = [0.2, 0.5, 0.3]; // reference
    const exact = categoricalKL(p, q);
    expect(exact).toBeCloseTo(0.5 * Math.log(2.5) + 0.3 * Math.log(0.6) + 0.2 * Math.log(2 / 3), 12);
    const rng = new Rng(3);
    const N = 20000;
    const lp: number[] = [], lq: number[] = [];
    for (let i = 0; i < N; i++) {
      const x = rng.categorical(p);
      lp.push(Math.log(p[x]));
      lq.push(Math.log(q[x]));
    }
    for (const est of [klK1(lp, lq), klK3(lp, lq)]) {
      const { mean, stderr } = meanStderr(est);
      expect(Math.abs(mean - exact)).toBeLessThan(4 * stderr);
      expect(stderr).toBeLessThan(0.01);
    }
    // k3 has lower variance than k1 here (the reason TRL offers it)
    expect(meanStderr(klK3(lp, lq)).stderr).toBeLessThan(meanStderr(klK1(lp, lq)).stderr);
  });

  it('klPerToken masks pads and agrees with the array versions', () => {
    const lp = tf.tensor2d([[-0.5, -1.0, -2.0]]);
    const lq = tf.tensor2d([[-0.7, -0.2, -9.0]]);
    const mask = tf.tensor2d([[1, 1, 0]]);
    const k1 = klPerToken(lp, lq, mask, 'k1').arraySync()[0];
    const k3 = klPerToken(lp, lq, mask, 'k3').arraySync()[0];
    expect(k1[0]).toBeCloseTo(0.2, 5);
    expect(k1[1]).toBeCloseTo(-0.8, 5);
    expect(k1[2]).toBe(0);
    expect(k3[1]).toBeCloseTo(klK3([-1.0], [-0.2])[0], 5);
    expect(k3[2]).toBe(0);
    // k3 = (r - 1) - log r with log r = logq - logp = -0.2: e^-0.2 - 1 + 0.2, and k3 is the default
    expect(k3[0]).toBeCloseTo(Math.exp(-0.2) - 0.8, 6);
    expect(klPerToken(lp, lq, mask).arraySync()[0]).toEqual(k3);
    // its gradient in logp (a penalty inside a loss): d k3 / d logp = 1 - r = 1 - e^(logq - logp)
    const g = tf.grad((x: tf.Tensor) => tf.sum(klPerToken(x as tf.Tensor2D, lq, mask)))(lp).arraySync() as number[][];
    expect(g[0][0]).toBeCloseTo(1 - Math.exp(-0.2), 5);
    expect(g[0][1]).toBeCloseTo(1 - Math.exp(0.8), 5);
    expect(Math.abs(g[0][2])).toBe(0); // masked: no gradient (-0 or 0)
  });
});

describe('win rates and judges', () => {
  it('counts ties as half', () => {
    const w = winRate([3, 1, 2, 5], [1, 1, 4, 0]);
    expect([w.wins, w.ties, w.losses]).toEqual([2, 1, 1]);
    expect(w.rate).toBeCloseTo(2.5 / 4, 12);
    expect(winRate([1, 2], [1, 2]).rate).toBe(0.5);
  });

  it('swapping order exposes a position-biased judge', () => {
    const score = (_p: string, t: string) => t.length; // longer is better
    const prompts = Array.from({ length: 400 }, (_, i) => `p${i}`);
    const same = prompts.map(() => 'abc');
    // Identical texts: a biased judge prefers whichever is first
    const r = judgeWinRate(biasedJudge(score, { positionBias: 2, seed: 1 }), prompts, same, same);
    const pFirst = 1 / (1 + Math.exp(-2)); // 0.881
    expect(Math.abs(r.aFirst.rate - pFirst)).toBeLessThan(0.05);
    expect(Math.abs(r.bFirst.rate - (1 - pFirst))).toBeLessThan(0.05);
    expect(Math.abs(r.pooled.rate - 0.5)).toBeLessThan(0.05);
    expect(r.inconsistency).toBeGreaterThan(0.6);
    // An unbiased, decisive judge is consistent and prefers the longer text
    const fair = judgeWinRate(biasedJudge(score, { positionBias: 0, temperature: 0.01 }), prompts, prompts.map(() => 'abcd'), same);
    expect(fair.pooled.rate).toBe(1);
    expect(fair.inconsistency).toBe(0);
  });
});

describe('Elo and Bradley-Terry', () => {
  it('one Elo update by hand', () => {
    expect(eloExpected(1000, 1000)).toBe(0.5);
    // 1200 vs 1000: E = 1 / (1 + 10^-0.5) = 0.759747
    const e = 1 / (1 + Math.pow(10, -0.5));
    expect(eloExpected(1200, 1000)).toBeCloseTo(e, 12);
    const [a, b] = eloUpdate(1200, 1000, 0, 32); // the favourite loses
    expect(a).toBeCloseTo(1200 - 32 * e, 9); // 1175.688
    expect(b).toBeCloseTo(1000 + 32 * e, 9);
    const r = elo([{ a: 'x', b: 'y', score: 1 }]);
    expect(r.get('x')).toBe(1016);
    expect(r.get('y')).toBe(984);
  });

  it('Bradley-Terry recovers known strengths', () => {
    // Strengths 4 : 2 : 1, expected win counts in 700 games per pair
    const s: Record<string, number> = { a: 4, b: 2, c: 1 };
    const matches = [];
    for (const [x, y] of [['a', 'b'], ['a', 'c'], ['b', 'c']]) {
      const wins = Math.round((700 * s[x]) / (s[x] + s[y]));
      for (let i = 0; i < 700; i++) matches.push({ a: x, b: y, score: i < wins ? 1 : 0 });
    }
    const r = bradleyTerry(matches, { prior: 0 });
    const gap = (400 * Math.log10(2));
    expect(r.get('a')! - r.get('b')!).toBeCloseTo(gap, 0);
    expect(r.get('b')! - r.get('c')!).toBeCloseTo(gap, 0);
    expect((r.get('a')! + r.get('b')! + r.get('c')!) / 3).toBeCloseTo(1000, 6);
  });
});

describe('smooth', () => {
  it('is a trailing moving average over what there is', () => {
    expect(smooth([1, 2, 3, 4, 5, 6], 3)).toEqual([1, 1.5, 2, 3, 4, 5]);
    expect(smooth([4, 8])).toEqual([4, 6]);
    expect(smooth([2, 7, 1], 1)).toEqual([2, 7, 1]);
    expect(() => smooth([1], 0)).toThrow(/k must be an integer >= 1, got 0/);
  });
});

describe('Gao et al. over-optimization fits', () => {
  it('recovers alpha and beta from synthetic points', () => {
    const d = [0.3, 0.7, 1.2, 1.8, 2.5, 3.1];
    const bon = fitGao('bon', d, d.map((x) => x * (1.5 - 0.4 * x)));
    expect(bon.alpha).toBeCloseTo(1.5, 9);
    expect(bon.beta).toBeCloseTo(0.4, 9);
    expect(bon.r2).toBeCloseTo(1, 9);
    const rl = fitGao('rl', d, d.map((x) => x * (0.8 - 0.3 * Math.log(x))));
    expect(rl.alpha).toBeCloseTo(0.8, 9);
    expect(rl.beta).toBeCloseTo(0.3, 9);
    expect(rl.predict(2)).toBeCloseTo(2 * (0.8 - 0.3 * Math.log(2)), 9);
    // With noise the fit is close, not exact
    const rng = new Rng(5);
    const noisy = fitGao('bon', d, d.map((x) => x * (1.5 - 0.4 * x) + 0.01 * rng.normal()));
    expect(Math.abs(noisy.alpha - 1.5)).toBeLessThan(0.1);
    expect(() => fitGao('bon', [1, 1], [0, 0])).toThrow(/distinct/);
  });
});

describe('frontier and agreement', () => {
  it('keeps only undominated points', () => {
    const pts = [{ kl: 0, r: 0 }, { kl: 1, r: 2 }, { kl: 2, r: 1 }, { kl: 3, r: 3 }, { kl: 0.5, r: -1 }];
    expect(paretoFrontier(pts, (p) => p.r).map((p) => p.kl)).toEqual([0, 1, 3]);
  });

  it('reports per-model accuracy and unanimity', () => {
    const r = agreement({
      m1: { chosen: [1, 1, 1, 0], rejected: [0, 0, 2, 1] },
      m2: { chosen: [1, 0, 1, 0], rejected: [0, 1, 2, 1] },
    });
    expect(r.accuracy).toEqual({ m1: 0.5, m2: 0.25 });
    expect(r.allAgree).toBe(0.25);
    expect(r.noneAgree).toBe(0.5);
  });
});
