import { describe, expect, it } from 'vitest';
import { gae, groupAdvantages, leaveOneOutAdvantages, MovingAverageBaseline, whiten } from '../lib/rl/advantages';

describe('GAE', () => {
  it('matches a 3-step toy episode computed by hand', () => {
    // rewards 0, 0, 1; values 0.5, 0.6, 0.7; gamma 1, lambda 0.95
    // delta2 = 1 - 0.7 = 0.3; A2 = 0.3
    // delta1 = 0 + 0.7 - 0.6 = 0.1; A1 = 0.1 + 0.95 * 0.3 = 0.385
    // delta0 = 0 + 0.6 - 0.5 = 0.1; A0 = 0.1 + 0.95 * 0.385 = 0.46575
    const { advantages, returns } = gae([[0, 0, 1]], [[0.5, 0.6, 0.7]], [[1, 1, 1]], 1, 0.95);
    expect(advantages[0][0]).toBeCloseTo(0.46575, 12);
    expect(advantages[0][1]).toBeCloseTo(0.385, 12);
    expect(advantages[0][2]).toBeCloseTo(0.3, 12);
    expect(returns[0][0]).toBeCloseTo(0.96575, 12);
  });

  it('with gamma < 1, ignores prompt and pad positions, and lambda = 1 gives MC returns', () => {
    // gamma 0.9, lambda 0.5 on [prompt, a, b, pad]: rewards at a = 0.2, b = 1; values 0.1, 0.4
    // delta_b = 1 - 0.4 = 0.6; A_b = 0.6
    // delta_a = 0.2 + 0.9 * 0.4 - 0.1 = 0.46; A_a = 0.46 + 0.45 * 0.6 = 0.73
    const mask = [[0, 1, 1, 0]];
    const r = gae([[9, 0.2, 1, 9]], [[9, 0.1, 0.4, 9]], mask, 0.9, 0.5);
    expect(r.advantages[0][1]).toBeCloseTo(0.73, 12);
    expect(r.advantages[0][2]).toBeCloseTo(0.6, 12);
    expect(r.advantages[0][0]).toBe(0);
    expect(r.advantages[0][3]).toBe(0);
    const mc = gae([[0, 0.2, 1, 0]], [[0, 0.1, 0.4, 0]], mask, 0.9, 1);
    expect(mc.returns[0][1]).toBeCloseTo(0.2 + 0.9 * 1, 12);
  });
});

describe('whiten', () => {
  it('gives mean 0 and std 1 over masked entries, pads 0', () => {
    const w = whiten([[1, 2, 3, 100]], [[1, 1, 1, 0]]);
    expect(w[0][0]).toBeCloseTo(-1, 6);
    expect(w[0][1]).toBeCloseTo(0, 6);
    expect(w[0][2]).toBeCloseTo(1, 6);
    expect(w[0][3]).toBe(0);
    expect(whiten([[1, 2, 3]], [[1, 1, 1]], false)[0][2]).toBeCloseTo(3, 6); // (3-2)/1 + 2
  });
});

describe('group advantages (GRPO, Dr. GRPO)', () => {
  it('normalises within each group by the sample std, + 1e-4', () => {
    // group [1, 2, 3]: mean 2, sample sd 1 -> (r - 2) / 1.0001
    // group [0, 4]: mean 2, sample sd sqrt(8) -> -+2 / (2.828427... + 1e-4)
    const a = groupAdvantages([[1, 2, 3], [0, 4]]);
    expect(a[0][0]).toBeCloseTo(-1 / 1.0001, 12);
    expect(a[0][1]).toBe(0);
    expect(a[0][2]).toBeCloseTo(1 / 1.0001, 12);
    expect(a[1][0]).toBeCloseTo(-2 / (Math.sqrt(8) + 1e-4), 12);
    expect(a[1][1]).toBeCloseTo(2 / (Math.sqrt(8) + 1e-4), 12);
  });

  it('gives exactly 0 (no NaN) for a group whose rewards are all equal, and for one sample', () => {
    const a = groupAdvantages([[0.7, 0.7, 0.7, 0.7], [5], [1, 0]]);
    expect(a[0]).toEqual([0, 0, 0, 0]);
    expect(a[1]).toEqual([0]);
    expect(a[2][0]).toBeCloseTo(1 / 2 / (Math.SQRT1_2 + 1e-4), 12); // [1, 0]: mean 1/2, sd sqrt(1/2)
    expect(groupAdvantages([[3, 3]], { scaleByStd: false })[0]).toEqual([0, 0]);
    // three equal rewards: their float mean is not exactly 0.7, yet the advantages are exactly 0
    expect(groupAdvantages([[0.7, 0.7, 0.7]])[0]).toEqual([0, 0, 0]);
    expect(groupAdvantages([[0.7, 0.7, 0.7]], { scaleByStd: false })[0]).toEqual([0, 0, 0]);
  });

  it('Dr. GRPO: scaleByStd false is r - mean', () => {
    const a = groupAdvantages([[1, 2, 6]], { scaleByStd: false });
    expect(a[0]).toEqual([-2, -1, 3]);
    expect(() => groupAdvantages([[]])).toThrow('group 0 is empty');
  });
});

describe('leave-one-out advantages (RLOO)', () => {
  it('subtracts the mean of the other samples', () => {
    // [1, 2, 6]: baselines (2+6)/2 = 4, (1+6)/2 = 3.5, (1+2)/2 = 1.5
    const a = leaveOneOutAdvantages([[1, 2, 6], [0, 1]]);
    expect(a[0][0]).toBeCloseTo(-3, 12);
    expect(a[0][1]).toBeCloseTo(-1.5, 12);
    expect(a[0][2]).toBeCloseTo(4.5, 12);
    expect(a[1]).toEqual([-1, 1]);
    // = K/(K-1) (r - mean): 3/2 * (1 - 3) = -3
    expect(leaveOneOutAdvantages([[2, 2, 2]])[0]).toEqual([0, 0, 0]);
    expect(leaveOneOutAdvantages([[0.7, 0.7, 0.7, 0.7]])[0]).toEqual([0, 0, 0, 0]); // 0.7 - 2.1 / 3 is 1.1e-16 in floats
    expect(() => leaveOneOutAdvantages([[1, 2], [3]])).toThrow('group 1 has 1 sample(s)');
  });
});

describe('moving-average baseline (REINFORCE)', () => {
  it('subtracts the baseline of earlier batches, then moves it toward the batch mean', () => {
    const b = new MovingAverageBaseline(0.5);
    expect(b.value).toBeUndefined();
    // first batch [1, 3]: no baseline yet, so its own mean 2; then b = 0.5 * 2 + 0.5 * 2 = 2
    expect(b.advantages([1, 3])).toEqual([-1, 1]);
    expect(b.value).toBe(2);
    // second batch [6, 6]: advantages 6 - 2 = 4; b = 0.5 * 2 + 0.5 * 6 = 4
    expect(b.advantages([6, 6])).toEqual([4, 4]);
    expect(b.value).toBe(4);
    const c = new MovingAverageBaseline(0.9, 1);
    // baseline 1; then 0.9 * 1 + 0.1 * 3 = 1.2
    expect(c.advantages([3])).toEqual([2]);
    expect(c.value).toBeCloseTo(1.2, 12);
    expect(() => new MovingAverageBaseline(1)).toThrow('decay must be in [0, 1), got 1');
  });
});
