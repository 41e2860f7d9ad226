import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  BENCH_CATEGORIES, BenchMeta, benchPath, benchmarkAccuracy, pairOutcomes, checkBenchmark, goldViolations, NEAR_TIE_MAX, readBenchmark, scoreBenchmark,
} from '../lib/feedback/rmBench';
import { buildBenchmark } from '../lib/feedback/rmBenchBuild';
import { flaggedWords, lexiconWithValence, SAFETY_LEXICON } from '../lib/feedback/safetyLexicon';
import { defaultGold, wordsOf } from '../lib/feedback/task';
import { loadCorpus } from '../lib/text/corpus';
import { makeComparison } from '../lib/feedback/preferences';

const meta = (r: { metadata: Record<string, unknown> }) => r.metadata as unknown as BenchMeta;

function tmpFile(text: string): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rmbench-')), 'bench.jsonl');
  fs.writeFileSync(f, text);
  return f;
}

describe('the committed benchmark, data/rm-bench/v1.jsonl', () => {
  const bench = readBenchmark();

  it('is what the builder makes from its seed, byte for byte (regenerable)', () => {
    const built = buildBenchmark(loadCorpus(), defaultGold());
    expect(built.map((r) => JSON.stringify(r) + '\n').join('')).toBe(fs.readFileSync(benchPath(), 'utf8'));
  });

  it('has every category, 40 pairs per subcategory, ids unique, positions balanced', () => {
    const cats = new Set(bench.map((r) => meta(r).category));
    expect([...cats].sort()).toEqual(Object.keys(BENCH_CATEGORIES).sort());
    const subs = new Map<string, number>();
    for (const r of bench) subs.set(`${meta(r).category}/${meta(r).subcategory}`, (subs.get(`${meta(r).category}/${meta(r).subcategory}`) ?? 0) + 1);
    expect([...subs.values()].every((c) => c === 40)).toBe(true);
    expect(subs.size).toBe(11);
    expect(new Set(bench.map((r) => meta(r).id)).size).toBe(bench.length);
    const aChosen = bench.filter((r) => r.choice === 'A').length / bench.length;
    expect(Math.abs(aChosen - 0.5)).toBeLessThan(0.1); // chosen side drawn by a coin: position carries nothing
  });

  it("every pair's gold order holds by its category's margin, re-scored now (near-ties: below NEAR_TIE_MAX)", () => {
    const gold = defaultGold();
    expect(goldViolations(bench, (c) => gold.score(c))).toEqual([]);
    for (const r of bench) {
      expect(meta(r).margin).toBe(BENCH_CATEGORIES[meta(r).category].margin);
      expect(meta(r).goldA).toBe(gold.score(r.completionA));
    }
    // a gold that prefers the other reply everywhere breaks every pair
    expect(goldViolations(bench, (c) => -gold.score(c))).toHaveLength(bench.length);
  });

  it('safety pairs: the unsafe reply has a lexicon word gold sees, the civil one none', () => {
    const afinn = defaultGold().lexicon;
    for (const r of bench.filter((x) => meta(x).category === 'safety')) {
      const [chosen, rejected] = r.choice === 'A' ? [r.completionA, r.completionB] : [r.completionB, r.completionA];
      expect(flaggedWords(chosen)).toEqual([]);
      expect(meta(r).flagged!.length).toBeGreaterThan(0);
      expect(meta(r).flagged!.some((w) => (afinn.get(w) ?? 0) <= -2)).toBe(true);
      expect(flaggedWords(rejected)).toEqual(meta(r).flagged);
    }
  });

  it('adversarial pairs differ only by repetition: same words, more repeats', () => {
    for (const r of bench.filter((x) => meta(x).category === 'adversarial')) {
      const [chosen, rejected] = r.choice === 'A' ? [r.completionA, r.completionB] : [r.completionB, r.completionA];
      expect(new Set(wordsOf(rejected))).toEqual(new Set(wordsOf(chosen)));
      expect(wordsOf(rejected).length).toBeGreaterThan(wordsOf(chosen).length);
    }
  });

  it('near-ties are near: 0.02 <= gold margin < NEAR_TIE_MAX', () => {
    for (const r of bench.filter((x) => meta(x).category === 'near-ties')) {
      const d = Math.abs(meta(r).goldA - meta(r).goldB);
      expect(d).toBeGreaterThanOrEqual(0.02);
      expect(d).toBeLessThan(NEAR_TIE_MAX);
    }
  });
});

describe('the safety lexicon', () => {
  it('every word occurs in the corpus; gold is blind to some (no AFINN valence)', () => {
    const words = new Set(wordsOf(loadCorpus()));
    for (const e of SAFETY_LEXICON) expect(words.has(e.word), e.word).toBe(true);
    const rows = lexiconWithValence(defaultGold().lexicon);
    expect(rows.find((e) => e.word === 'villain')!.valence).toBeUndefined();
    expect(rows.find((e) => e.word === 'kill')!.valence).toBe(-3);
    expect(flaggedWords('Thou villain, I will kill thee, villain!')).toEqual(['villain', 'kill']);
  });
});

describe('reading a benchmark file', () => {
  const good = makeComparison('Human: Hi.\nAssistant: ', 'Good.<end>', 'Bad.<end>', 'A>B', 'gold', {
    timestamp: '2026-12-06T00:00:00.000Z',
    metadata: { category: 'parts', subcategory: 'sentiment', goldA: 1, goldB: 0, margin: 0.2, id: 'parts/sentiment/0', benchVersion: 1 },
  });
  const line = (m: Record<string, unknown>, over: Record<string, unknown> = {}) => JSON.stringify({ ...good, ...over, metadata: { ...good.metadata, ...m } });

  it('reads a good file and names file and line for each error', () => {
    const ok = tmpFile(line({}) + '\n' + line({ id: 'x' }) + '\n');
    expect(readBenchmark(ok)).toHaveLength(2);
    const cases: [string, RegExp][] = [
      [line({}) + '\n' + line({ category: 'chat' }) + '\n', /bench\.jsonl:2: metadata\.category "chat" is not one of parts/],
      [line({ goldA: 'high' }) + '\n', /bench\.jsonl:1: metadata\.goldA must be a finite number/],
      [line({ benchVersion: 2 }) + '\n', /bench\.jsonl:1: metadata\.benchVersion 2 is not 1/],
      [line({}) + '\n' + line({}) + '\n', /bench\.jsonl:2: metadata\.id "parts\/sentiment\/0" is missing or repeats/],
      [line({ goldA: 0.1 }) + '\n', /bench\.jsonl:1: the chosen reply's gold 0\.1 does not exceed the rejected one's 0 by the margin 0\.2/],
      [line({ subcategory: '' }) + '\n', /bench\.jsonl:1: metadata\.subcategory/],
      [line({}, { choice: 'C' }) + '\n', /bench\.jsonl:1: choice must be "A" or "B"/], // the comparison schema
      ['{not json\n', /bench\.jsonl:1: not valid JSON/],
    ];
    for (const [text, re] of cases) expect(() => readBenchmark(tmpFile(text))).toThrow(re);
    expect(() => readBenchmark(path.join(os.tmpdir(), 'no-such-bench.jsonl'))).toThrow(/does not exist or is empty/);
  });
});

describe('scoring a reward model per category', () => {
  const rec = (category: string, choice: 'A' | 'B', k: number) => checkBenchmark([makeComparison('P', 'a', 'b', choice === 'A' ? 'A>B' : 'B>A', 'gold', {
    metadata: { category, subcategory: 's', goldA: choice === 'A' ? 1 : 0, goldB: choice === 'A' ? 0 : 1, margin: 0.2, id: `${category}/${k}`, benchVersion: 1 },
  })])[0];

  it('accuracy (ties wrong) and its standard error, per category and overall', () => {
    const records = [rec('parts', 'A', 0), rec('parts', 'B', 1), rec('parts', 'A', 2), rec('parts', 'A', 3), rec('safety', 'B', 4), rec('safety', 'A', 5)];
    const rA = [1, 0, 2, 0.5, 0, 3];
    const rB = [0, 1, 1, 0.5, 2, 3]; // right, right, right, tie, right, tie
    const rows = benchmarkAccuracy(records, rA, rB);
    expect(rows.map((r) => r.group)).toEqual(['parts', 'safety', 'all']);
    expect(rows[0]).toMatchObject({ pairs: 4, accuracy: 0.75, ties: 1 });
    expect(rows[2].ties).toBe(2);
    expect(rows[0].stderr).toBeCloseTo(Math.sqrt(0.25 / 4), 12); // sd of 1,1,1,0 = 0.5
    expect(rows[1]).toMatchObject({ pairs: 2, accuracy: 0.5, ties: 1 });
    expect(rows[1].stderr).toBeCloseTo(Math.sqrt(0.5 / 2), 12);
    expect(rows[2].accuracy).toBeCloseTo(4 / 6, 12);
    expect(benchmarkAccuracy(records, rA, rB, 'subcategory')[0].group).toBe('parts/s');
    expect(() => benchmarkAccuracy(records, [1], rB)).toThrow(/6 records but 1 and 6 rewards/);
  });

  it('pair outcomes: 1 where the chosen reply gets the strictly higher reward, ties wrong', () => {
    const records = [rec('parts', 'A', 0), rec('parts', 'B', 1), rec('parts', 'A', 2), rec('safety', 'B', 3)];
    expect(pairOutcomes(records, [1, 1, 0.5, 0], [0, 0, 0.5, 2])).toEqual([1, 0, 0, 1]);
    expect(() => pairOutcomes(records, [1], [1, 2, 3, 4])).toThrow(/4 records but 1 and 4 rewards/);
  });

  it('on the committed file: gold scores 1 everywhere, "longer is better" 0 on longer-but-worse', () => {
    const bench = readBenchmark();
    expect(scoreBenchmark(bench, (_, c) => defaultGold().score(c)).every((r) => r.accuracy === 1)).toBe(true);
    const longer = scoreBenchmark(bench, (_, c) => c.length).find((r) => r.group === 'longer-but-worse')!;
    expect(longer.accuracy).toBe(0);
  });
});
