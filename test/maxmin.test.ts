import { describe, expect, it } from 'vitest';
import { maxMinScorer, minOver, reselect } from '../lib/methods/maxmin';

// two prompts, two samples each; a sample's row ends with its completion id 5, 6, 7, 8
const pool = {
  samples: { prompts: ['p', 'p', 'q', 'q'], promptIds: [[1], [1], [2], [2]], completionIds: [[5], [6], [7], [8]], completions: ['a', 'b', 'c', 'd'], finished: [true, true, true, true] },
  groups: { prompts: ['p', 'q'], k: 2, rows: [[0, 1], [2, 3]] },
};
const likesHigh = (rows: number[][]) => rows.map((r) => r[r.length - 1]); // 5, 6, 7, 8
const likesLow = (rows: number[][]) => rows.map((r) => 10 - r[r.length - 1]); // 5, 4, 3, 2

describe('max-min over populations (MaxMin-RLHF)', () => {
  it('takes the lowest reward of each item', () => {
    expect(minOver([[1, 5, 3], [2, 4, 6]])).toEqual([1, 4, 3]);
    expect(minOver([[2, -1]])).toEqual([2, -1]);
    expect(() => minOver([])).toThrow(/no populations/);
    expect(() => minOver([[1, 2], [1]])).toThrow(/population 1 1/);
  });

  it('selects, on the same pool, the sample whose worst population reward is highest', () => {
    // min(5,5)=5, min(6,4)=4 -> sample 0 of p; min(7,3)=3, min(8,2)=2 -> sample 0 of q
    const mm = reselect(pool, maxMinScorer([likesHigh, likesLow]));
    expect(mm.chosen).toEqual([0, 0]);
    expect(mm.completions).toEqual(['a', 'c']);
    expect(mm.scores).toEqual([[5, 4], [3, 2]]);
    // one population alone picks its own favourite
    expect(reselect(pool, likesHigh).completions).toEqual(['b', 'd']);
    expect(reselect(pool, likesLow).completions).toEqual(['a', 'c']);
    expect(() => maxMinScorer([])).toThrow(/no scorers/);
  });
});
