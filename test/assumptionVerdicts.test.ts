import { describe, expect, it } from 'vitest';
import { binomialSe, ceilingGap, populationGold, sameItems, sizeTrend, whoseTaste } from '../lib/eval/assumptionVerdicts';

describe('chapter 11 verdicts, read against their noise', () => {
  it('binomial standard error', () => {
    expect(binomialSe(0.8, 100)).toBeCloseTo(0.04, 12); // sqrt(0.16 / 100)
    expect(binomialSe(1, 10)).toBeCloseTo(Math.sqrt(1 / 400 / 10), 12); // floored at 1/(4n^2)
  });

  it('ceilingGap: below, at within noise, above the lower bound', () => {
    // se = 0.04, 2 se = 0.08
    const below = ceilingGap({ what: 'rm', ceiling: 0.9, accuracy: 0.8, pairs: 100 });
    expect(below.answer.below).toBe('yes');
    expect(below.answer.gap).toBeCloseTo(0.1, 12);
    expect(below.answer.stderr).toBeCloseTo(0.04, 12);
    expect(ceilingGap({ what: 'rm', ceiling: 0.85, accuracy: 0.8, pairs: 100 }).answer.below).toBe('within noise');
    expect(ceilingGap({ what: 'rm', ceiling: 0.7, accuracy: 0.8, pairs: 100 }).answer.below).toBe('no');
    expect(below.sentence).toMatch(/80\.0% ± 4\.0 points of 100 pairs against a scalar ceiling of 90\.0%/);
  });

  it('whoseTaste: a side beyond noise, or neither', () => {
    const many = (share: number) => Array.from({ length: 100 }, (_, i) => (i < 100 * share ? 1 : 0));
    // share 0.75 of 100: se = sqrt(0.1875 / 100) = 0.0433; 0.25 > 0.0866
    const a = whoseTaste('short', 'long', many(0.75));
    expect(a.answer.side).toBe('short');
    expect(a.answer.stderr).toBeCloseTo(Math.sqrt(0.1875 / 100), 12);
    expect(whoseTaste('short', 'long', many(0.25)).answer.side).toBe('long');
    // share 0.75 of 4: se = 0.2165, 0.25 < 0.433
    expect(whoseTaste('short', 'long', [1, 1, 1, 0]).answer.side).toBe('within noise');
    expect(() => whoseTaste('a', 'b', [])).toThrow(/no pairs/);
  });

  it('populationGold: paired changes per population, and whether someone lost', () => {
    // diffs 1, 2, 3: mean 2, sd 1, se 1/sqrt(3) = 0.577 -> rose; -1, -2, -3 -> fell
    const lost = populationGold('bon', [
      { population: 'short', before: [0, 0, 0], after: [1, 2, 3] },
      { population: 'long', before: [0, 0, 0], after: [-1, -2, -3] },
    ]);
    expect(lost.answer.shifts).toEqual({ short: 'rose', long: 'fell' });
    expect(lost.answer.changes.short).toBeCloseTo(2, 12);
    expect(lost.answer.stderrs.long).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(lost.answer.someoneLost).toBe('yes');
    expect(lost.sentence).toMatch(/short \+2\.00 ± 0\.58 \(rose\); long -2\.00 ± 0\.58 \(fell\)/);
    const all = populationGold('bon', [{ population: 'a', before: [0, 0, 0], after: [1, 2, 3] }, { population: 'b', before: [1, 1, 1], after: [2, 3, 4] }]);
    expect(all.answer.someoneLost).toBe('no');
    // diffs 1, -1, 0: mean 0 -> within noise
    expect(populationGold('bon', [{ population: 'a', before: [0, 0, 0], after: [1, -1, 0] }, { population: 'b', before: [0, 0, 0], after: [1, 2, 3] }]).answer.someoneLost).toBe('within noise');
  });

  it('sameItems: the paired difference b - a', () => {
    // diffs 1, 0, 1, 0: mean 0.5, sd sqrt(1/3), se 0.2887 -> 0.5 < 0.577: within noise at z = 2, higher at z = 1
    const c = sameItems('acc', 'drift', [0, 1, 0, 1], 'gold', [1, 1, 1, 1]);
    expect(c.answer.diff).toBeCloseTo(0.5, 12);
    expect(c.answer.stderr).toBeCloseTo(Math.sqrt(1 / 3) / 2, 12);
    expect(c.answer.higher).toBe('within noise');
    expect(sameItems('acc', 'drift', [0, 1, 0, 1], 'gold', [1, 1, 1, 1], 1).answer.higher).toBe('yes');
    expect(sameItems('acc', 'drift', [1, 1, 1, 1], 'gold', [0, 1, 0, 1], 1).answer.higher).toBe('no');
  });

  it('sizeTrend: largest against smallest on the same pairs, and the slope per doubling', () => {
    const rows = [
      { label: 'big', params: 4000, correct: [1, 1, 1, 1] },
      { label: 'small', params: 1000, correct: [0, 0, 1, 1] },
      { label: 'mid', params: 2000, correct: [0, 1, 1, 1] },
    ];
    // accuracies 0.5, 0.75, 1 at log2 sizes k, k+1, k+2: slope 0.25 per doubling; paired diffs 1, 1, 0, 0: mean 0.5, se 0.2887
    const t = sizeTrend(rows);
    expect(t.answer.slopePerDoubling).toBeCloseTo(0.25, 12);
    // uneven spacing: sizes 1000, 2000, 8000 (log2 offsets 0, 1, 3), accuracies 0.5, 0.75, 1: slope = sum dx dy / sum dx^2
    // dx = -4/3, -1/3, 5/3; dy = -0.25, 0, 0.25 -> (1/3 + 5/12) / (16/9 + 1/9 + 25/9) = 0.75 / (42/9) = 0.160714...
    expect(sizeTrend([{ ...rows[1] }, { ...rows[2] }, { ...rows[0], params: 8000 }]).answer.slopePerDoubling).toBeCloseTo(0.75 / (42 / 9), 12);
    expect(t.answer.diff).toBeCloseTo(0.5, 12);
    expect(t.answer.biggerBetter).toBe('within noise');
    expect(sizeTrend(rows, 1).answer.biggerBetter).toBe('yes');
    expect(t.sentence).toMatch(/From small \(1,000 parameters\) to big \(4,000\)/);
    expect(() => sizeTrend([rows[0]])).toThrow(/at least two/);
  });
});
