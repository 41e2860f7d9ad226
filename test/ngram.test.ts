import { describe, expect, it } from 'vitest';
import { CountMap } from '../lib/text/countmap';
import { NGramCounts, NGramModel, shannonAlphabet, shannonSeries } from '../lib/text/ngram';
import { Rng } from '../lib/core/rng';
import { CharTokenizer } from '../lib/text/tokenizer';

const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);

describe('CountMap', () => {
  it('matches a Map on random keys up to 2^53, through growth', () => {
    const m = new CountMap(4);
    const ref = new Map<number, number>();
    const rng = new Rng(5);
    for (let i = 0; i < 20000; i++) {
      const key = i % 3 === 0 ? rng.int(50) : Math.floor(rng.next() * 2 ** 52) * 2 + (i & 1);
      const d = 1 + rng.int(3);
      m.add(key, d);
      ref.set(key, (ref.get(key) ?? 0) + d);
    }
    expect(m.size).toBe(ref.size);
    for (const [k, v] of ref) expect(m.get(k)).toBe(v);
    expect(m.get(123456789012345)).toBe(0);
    expect(m.has(0)).toBe(ref.has(0));
    let total = 0;
    m.forEach((k, v) => {
      expect(ref.get(k)).toBe(v);
      total += v;
    });
    expect(total).toBe(sum([...ref.values()]));
    expect(() => m.add(-1)).toThrow(/got -1/);
  });
});

describe('n-gram counts and probabilities on "abab"', () => {
  const counts = NGramCounts.fromText('abab', 'char', 2);
  const [a, b] = [0, 1];

  it('counts unigrams and digrams', () => {
    expect(counts.V).toBe(2);
    expect(counts.count([a])).toBe(2);
    expect(counts.count([b])).toBe(2);
    expect(counts.count([a, b])).toBe(2);
    expect(counts.count([b, a])).toBe(1);
    expect(counts.count([a, a])).toBe(0);
    expect(counts.distinct(2)).toBe(2);
  });

  it('add-1 digram probabilities are (c + 1) / (c(context) + V)', () => {
    const m = counts.model({ order: 2, smoothing: 'add-k', addK: 1 });
    expect(m.prob('a', 'b')).toBeCloseTo(3 / 4, 15);
    expect(m.prob('a', 'a')).toBeCloseTo(1 / 4, 15);
    expect(m.prob('b', 'a')).toBeCloseTo(2 / 3, 15);
    expect(m.prob('b', 'b')).toBeCloseTo(1 / 3, 15);
  });

  it('Kneser-Ney digram probabilities match the hand computation', () => {
    // digram discount D2 = n1 / (n1 + 2 n2) = 1 / 3 (ba seen once, ab twice); continuation
    // unigrams a:1, b:1 give p(a) = p(b) = 1/2 below.
    const m = counts.model({ order: 2 });
    expect(m.prob('a', 'b')).toBeCloseTo((2 - 1 / 3 + (1 / 3) * 0.5) / 2, 15); // 11/12
    expect(m.prob('a', 'a')).toBeCloseTo(1 / 12, 15);
    expect(m.prob('b', 'a')).toBeCloseTo(5 / 6, 15);
    expect(m.prob('b', 'b')).toBeCloseTo(1 / 6, 15);
    // first symbol: raw unigram level, D = 0.05 (clamped), p(a) = (2 - 0.05 + 0.05 * 2 * 0.5) / 4
    const bits = -(Math.log2(0.5) + 2 * Math.log2(11 / 12) + Math.log2(5 / 6)) / 4;
    expect(m.crossEntropyBits('abab')).toBeCloseTo(bits, 12);
  });

  it('first-order model gives symbol frequencies (lightly smoothed)', () => {
    const m = NGramModel.fit('aaab', 'char', { order: 1, smoothing: 'add-k', addK: 0.01 });
    expect(m.prob('', 'a')).toBeCloseTo(3.01 / 4.02, 15);
    expect(m.prob('bbb', 'a')).toBeCloseTo(3.01 / 4.02, 15); // context is ignored
  });
});

describe('smoothing gives proper distributions', () => {
  const train = 'the cat sat on the mat. the dog sat on the log.';
  for (const smoothing of ['kneser-ney', 'add-k'] as const) {
    it(`${smoothing}: sums to one over the alphabet for seen and unseen contexts, never 0`, () => {
      const counts = NGramCounts.fromText(train, 'char', 4);
      for (let order = 0; order <= 4; order++) {
        const m = counts.model({ order, smoothing });
        for (const ctx of ['', 't', 'th', ' th', 'the', 'gsd', 'ggg', '...', 'at.']) {
          const p = m.distribution(ctx);
          expect(p.length).toBe(counts.V);
          expect(sum(p)).toBeCloseTo(1, 12);
          expect(Math.min(...p)).toBeGreaterThan(0);
        }
      }
    });
  }
});

describe('entropy', () => {
  it('order 0 costs exactly log2 of the alphabet size', () => {
    const m = NGramModel.fit('abcdefg hij', 'char', { order: 0 });
    expect(m.crossEntropyBits('jihgfedcba  ')).toBeCloseTo(Math.log2(11), 12);
    expect(m.crossEntropyBits('aaaa')).toBeCloseTo(Math.log2(11), 12);
  });

  it('a uniform source of 8 symbols measures 3 bits per symbol at orders 1 and 2', () => {
    const rng = new Rng(11);
    const gen = (n: number) => Array.from({ length: n }, () => 'abcdefgh'[rng.int(8)]).join('');
    const train = gen(200_000);
    const held = gen(50_000);
    const counts = NGramCounts.fromText(train, 'char', 2);
    for (const order of [1, 2]) {
      const h = counts.model({ order }).crossEntropyBits(held);
      expect(Math.abs(h - 3)).toBeLessThan(0.005);
    }
  });

  it('a deterministic cycle costs almost nothing at order 2 but log2(3) at order 1', () => {
    const train = 'abc'.repeat(2000);
    const counts = NGramCounts.fromText(train, 'char', 2);
    expect(counts.model({ order: 1 }).crossEntropyBits('abcabc')).toBeCloseTo(Math.log2(3), 3);
    expect(counts.model({ order: 2 }).crossEntropyBits('abcabcabcabc')).toBeLessThan(0.2);
  });
});

describe('sampling', () => {
  const m = NGramModel.fit('the cat sat on the mat. the dog sat on the log.', 'char', { order: 3 });
  it('is identical for the same seed and differs for another', () => {
    const s1 = m.sample(100, new Rng(7));
    expect(s1.length).toBe(100);
    expect(m.sample(100, new Rng(7))).toBe(s1);
    expect(m.sample(100, new Rng(8))).not.toBe(s1);
    expect(m.sample(10, new Rng(7), 'the').startsWith('the')).toBe(true);
  });
  it('word models sample words', () => {
    const w = NGramModel.fit('to be or not to be , that is the question .', 'word', { order: 2 });
    const s = w.sample(12, new Rng(1));
    expect(s.split(/\s+/).length).toBeGreaterThan(5);
    expect(w.sample(12, new Rng(1))).toBe(s);
    expect(w.prob('to', 'be')).toBeGreaterThan(w.prob('to', 'question'));
  });
});

describe('bad input', () => {
  it('rejects negative, fractional and non-numeric orders', () => {
    for (const order of [-1, 1.5, NaN]) {
      expect(() => NGramModel.fit('abc', 'char', { order })).toThrow(`order must be an integer >= 0, got ${order}`);
    }
    expect(() => shannonSeries({ train: 'ab', heldOut: 'ba', charOrders: [2, -3] })).toThrow(/got -3/);
  });
  it('rejects an empty corpus', () => {
    expect(() => NGramModel.fit('', 'char', { order: 2 })).toThrow(/empty/);
    expect(() => shannonSeries({ train: 'abc', heldOut: '' })).toThrow(/non-empty/);
  });
  it('names symbols outside the vocabulary', () => {
    const m = NGramModel.fit('abc', 'char', { order: 2 });
    expect(() => m.crossEntropyBits('abz')).toThrow(/"z" \(U\+007A\) at position 2/);
    expect(() => m.prob('a', 'q')).toThrow(/"q"/);
    const w = NGramModel.fit('to be or not', 'word', { order: 1 });
    expect(() => w.crossEntropyBits('to sleep')).toThrow(/"sleep"/);
  });
  it('rejects orders too high for numeric keys and counts beyond maxOrder', () => {
    const tok = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?-');
    expect(() => new NGramCounts(tok, [0, 1, 2], 9)).toThrow(/order 9 is too high for 69 symbols.*order <= 8/);
    const counts = NGramCounts.fromText('abab', 'char', 2);
    expect(() => counts.model({ order: 3 })).toThrow(/exceeds/);
  });
});

describe('shannonSeries', () => {
  it('builds rows whose zero-order bits equal log2 of the alphabet and samples reproducibly', () => {
    const text = 'the cat sat on the mat. the dog sat on the log. a cat and a dog.\n'.repeat(20);
    const split = { train: text.slice(0, 1000), heldOut: text.slice(1000) };
    const rows = shannonSeries({ ...split, charOrders: [0, 1, 2, 3], wordOrders: [1, 2], sampleChars: 30, sampleWords: 5 });
    expect(rows.map((r) => `${r.kind}${r.order}`)).toEqual(['char0', 'char1', 'char2', 'char3', 'word1', 'word2']);
    const V = new Set(text).size;
    expect(rows[0].trainBits).toBeCloseTo(Math.log2(V), 12);
    expect(rows[0].heldOutBits).toBeCloseTo(Math.log2(V), 12);
    expect(rows[0].distinctNGrams).toBe(V);
    for (let i = 1; i < 4; i++) expect(rows[i].heldOutBits).toBeLessThan(rows[i - 1].heldOutBits);
    expect(rows[3].heldOutContextSeen).toBe(1); // the text repeats, so every context was seen
    expect(rows[4].unit).toBe('bits/word');
    expect(rows[1].sample.length).toBe(30);
    const again = shannonSeries({ ...split, charOrders: [0, 1, 2, 3], wordOrders: [1, 2], sampleChars: 30, sampleWords: 5 });
    expect(again.map((r) => r.sample)).toEqual(rows.map((r) => r.sample));
  });
});

describe('shannonAlphabet', () => {
  it('maps text to 26 capitals and single spaces', () => {
    expect(shannonAlphabet("First Citizen:\nWe know't, we know't.")).toBe('FIRST CITIZEN WE KNOW T WE KNOW T ');
    const V = NGramModel.fit(shannonAlphabet('The quick brown fox jumps over the lazy dog!'), 'char', { order: 0 }).V;
    expect(V).toBe(27);
  });
});
