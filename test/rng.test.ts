import { describe, expect, it } from 'vitest';
import { Rng } from '../lib/core/rng';

describe('Rng.batches', () => {
  it('covers every index exactly once per epoch, reshuffling between epochs', () => {
    const next = new Rng(7).batches(6, 3);
    const epoch1 = [...next(), ...next()].sort();
    const epoch2 = [...next(), ...next()].sort();
    expect(epoch1).toEqual([0, 1, 2, 3, 4, 5]);
    expect(epoch2).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('is the same for the same seed and draws the same stream as shuffle-then-pop', () => {
    const a = new Rng(3).batches(5, 2);
    const b = new Rng(3).batches(5, 2);
    const ref = new Rng(3).shuffle([0, 1, 2, 3, 4]);
    const first = a();
    expect(first).toEqual([ref[4], ref[3]]);
    expect([first, a(), a()]).toEqual([b(), b(), b()]);
  });

  it('names bad sizes', () => {
    expect(() => new Rng(1).batches(0, 2)).toThrow(/n must be a positive integer/);
    expect(() => new Rng(1).batches(4, 1.5)).toThrow(/batchSize must be a positive integer/);
  });
});
