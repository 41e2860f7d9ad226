import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getBatch, loadCorpus, splitText } from '../lib/text/corpus';
import { Rng } from '../lib/core/rng';

describe('loadCorpus', () => {
  it('loads tiny-shakespeare from the repo root by default', () => {
    const text = loadCorpus();
    expect(text.length).toBe(1115394);
    expect(text.startsWith('First Citizen:')).toBe(true);
  });

  it('names the path of a missing or empty file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-'));
    const missing = path.join(dir, 'nope.txt');
    expect(() => loadCorpus(missing)).toThrow(`not found: ${missing}`);
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '');
    expect(() => loadCorpus(empty)).toThrow(`empty: ${empty}`);
    expect(() => loadCorpus(dir)).toThrow(/not a file/);
  });
});

describe('splitText', () => {
  it('splits contiguously at the fraction', () => {
    expect(splitText('abcdefghij', 0.9)).toEqual({ train: 'abcdefghi', heldOut: 'j' });
    expect(splitText('abcdefghij', 0.5)).toEqual({ train: 'abcde', heldOut: 'fghij' });
  });
  it('rejects bad fractions and too-short text', () => {
    expect(() => splitText('abc', 1)).toThrow(/trainFrac.*got 1/);
    expect(() => splitText('abc', 0)).toThrow(/trainFrac/);
    expect(() => splitText('a', 0.9)).toThrow(/too short/);
  });
});

describe('getBatch', () => {
  it('returns int32 [B, T] windows with y shifted by one', () => {
    const ids = Int32Array.from({ length: 50 }, (_, i) => i);
    const { x, y } = getBatch(ids, 4, 8, new Rng(3));
    expect(x.shape).toEqual([4, 8]);
    expect(y.shape).toEqual([4, 8]);
    expect(x.dtype).toBe('int32');
    const xs = x.arraySync();
    const ys = y.arraySync();
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 8; t++) {
        expect(ys[b][t]).toBe(xs[b][t] + 1); // ids are 0..49, so the next token is +1
        if (t > 0) expect(xs[b][t]).toBe(xs[b][t - 1] + 1);
      }
      expect(xs[b][0]).toBeGreaterThanOrEqual(0);
      expect(ys[b][7]).toBeLessThanOrEqual(49);
    }
    x.dispose();
    y.dispose();
  });

  it('is reproducible from the seed and covers the last window', () => {
    const ids = Int32Array.from({ length: 6 }, (_, i) => i);
    const a = getBatch(ids, 20, 5, new Rng(1));
    const b = getBatch(ids, 20, 5, new Rng(1));
    expect(a.x.arraySync()).toEqual(b.x.arraySync());
    // only one window of 5 + 1 tokens fits in 6 tokens
    expect(a.y.arraySync()[0]).toEqual([1, 2, 3, 4, 5]);
    expect(() => getBatch(ids, 1, 6, new Rng(1))).toThrow(/at least blockSize \+ 1 = 7 tokens, got 6/);
    expect(() => getBatch(ids, 0, 2, new Rng(1))).toThrow(/batchSize/);
  });
});
