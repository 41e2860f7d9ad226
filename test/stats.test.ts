// core/stats.ts against hand-computed values: the one mean / sd / stderr / smoothing of lib.
import { describe, expect, it } from 'vitest';
import { mean, meanStderr, sampleSd, smooth, trailingMean } from '../lib/core/stats';

describe('stats', () => {
  it('mean and sample standard deviation of [2, 4, 4, 4, 5, 5, 7, 9]', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).toBe(5);
    // squared deviations sum to 32; n - 1 = 7
    expect(sampleSd(xs)).toBeCloseTo(Math.sqrt(32 / 7), 15);
    expect(sampleSd(xs, 4)).toBeCloseTo(Math.sqrt(40 / 7), 15); // around a given centre: 32 + 8 * 1
    expect(sampleSd([3])).toBe(0);
    expect(mean(Float32Array.from([1, 2]))).toBe(1.5);
    expect(() => mean([])).toThrow('mean: empty list');
  });

  it('meanStderr: sd / sqrt(n), NaN for one value, an error for none', () => {
    const { mean: m, stderr } = meanStderr([1, 2, 3, 4]);
    expect(m).toBe(2.5);
    expect(stderr).toBeCloseTo(Math.sqrt(5 / 3 / 4), 15); // deviations 2.25 + 0.25 + 0.25 + 2.25 = 5
    expect(meanStderr([7]).stderr).toBeNaN();
    expect(() => meanStderr([])).toThrow('meanStderr: empty list');
  });

  it('smooth and trailingMean are one trailing average', () => {
    expect(smooth([3, 5, 10], 2)).toEqual([3, 4, 7.5]);
    expect(trailingMean([3, 5, 10], 2)).toEqual([3, 4, 7.5]);
    expect(() => trailingMean([1], 0)).toThrow(/k must be an integer >= 1/);
  });
});
