import { describe, expect, it } from 'vitest';
import { passAtK, passAtKCurve, passAtKMean } from '../lib/eval/passAtK';

/** C(n, k) by the definition, for the tests' small n. */
function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe('pass@k (Chen et al. 2021, unbiased)', () => {
  it('matches 1 - C(n-c, k)/C(n, k) worked by hand', () => {
    // n = 4, c = 1, k = 2: C(3,2)/C(4,2) = 3/6 -> 0.5 (the one pass is among 2 of 4 drawn with probability 1/2)
    expect(passAtK(4, 1, 2)).toBeCloseTo(0.5, 12);
    // n = 5, c = 2, k = 2: C(3,2)/C(5,2) = 3/10 -> 0.7
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    // n = 10, c = 3, k = 4: C(7,4)/C(10,4) = 35/210 -> 5/6
    expect(passAtK(10, 3, 4)).toBeCloseTo(5 / 6, 12);
    // k = 1 is the pass rate c/n
    expect(passAtK(8, 3, 1)).toBeCloseTo(3 / 8, 12);
  });

  it('is 0 with no pass, 1 when fewer than k samples fail, and equals the binomial ratio everywhere', () => {
    expect(passAtK(6, 0, 3)).toBe(0);
    expect(passAtK(6, 4, 3)).toBe(1); // 2 failures cannot fill 3 draws
    expect(passAtK(6, 6, 6)).toBe(1);
    for (let n = 1; n <= 9; n++) for (let c = 0; c <= n; c++) for (let k = 1; k <= n; k++) {
      expect(passAtK(n, c, k)).toBeCloseTo(1 - binom(n - c, k) / binom(n, k), 12);
    }
  });

  it('lies above the plug-in 1 - (1 - c/n)^k, which is biased low', () => {
    // n = 4, c = 1, k = 2: plug-in 1 - 0.75^2 = 0.4375 < 0.5
    expect(passAtK(4, 1, 2)).toBeGreaterThan(1 - 0.75 ** 2);
  });

  it('averages over prompts with the standard error of the per-prompt values', () => {
    // prompt 0: 1 of 4 passes -> pass@2 0.5; prompt 1: 0 of 4 -> 0; prompt 2: 4 of 4 -> 1
    const r = passAtKMean([[true, false, false, false], [false, false, false, false], [1, 1, 1, 1]], 2);
    expect(r.perPrompt).toEqual([0.5, 0, 1]);
    expect(r.mean).toBeCloseTo(0.5, 12);
    expect(r.stderr).toBeCloseTo(0.5 / Math.sqrt(3), 12); // sd of (0.5, 0, 1) is 0.5
    const curve = passAtKCurve([[true, false, false, false]], [1, 2, 4]);
    expect(curve.map((p) => p.mean)).toEqual([0.25, 0.5, 1].map((x) => expect.closeTo(x, 12)));
  });

  it('names bad input', () => {
    expect(() => passAtK(4, 5, 1)).toThrow(/c \(passing samples\) must be an integer in 0\.\.4, got 5/);
    expect(() => passAtK(4, 1, 5)).toThrow(/k must be an integer in 1\.\.n = 4, got 5/);
    expect(() => passAtK(0, 0, 1)).toThrow(/n \(samples\)/);
    expect(() => passAtK(4, 1.5, 1)).toThrow(/got 1.5/);
    expect(() => passAtKMean([[true]], 2)).toThrow(/prompt 0 has 1 samples, fewer than k = 2/);
    expect(() => passAtKMean([], 1)).toThrow(/no prompts/);
  });
});
