import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  appendComparison, appendComparisons, goldAgreement, labelerAgreement, makeComparison, parseComparisons,
  distinctPairs, readComparisons, sampledReplies, Strength, STRENGTHS, strengthLevel, strengthOf,
} from '../lib/feedback/preferences';
import { Labeler, labelPairs, SimulatedLabeler } from '../lib/feedback/labeler';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { rollout, samplePairs } from '../lib/rl/rollout';

function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prefs-'));
  return path.join(dir, name);
}

const rec = (strength: Strength = 'A>B', labeler = 'me') =>
  makeComparison('Human: Hi.\nAssistant: ', 'Hail.<end>', 'Go.<end>', strength, labeler, { timestamp: '2026-01-01T00:00:00.000Z' });

describe('comparison format', () => {
  it('maps the 8-point scale to levels and back', () => {
    expect(STRENGTHS.map(strengthLevel)).toEqual([3, 2, 1, 0, 0, 1, 2, 3]);
    expect(STRENGTHS.map((s) => strengthOf(s[0] as 'A' | 'B', strengthLevel(s)))).toEqual([...STRENGTHS]);
  });

  it('appends atomically and reads back', () => {
    const f = tmpFile('c.jsonl');
    expect(readComparisons(f)).toEqual([]);
    expect(appendComparison(f, rec())).toBe(1);
    expect(appendComparisons(f, [rec('B>>>A'), rec('A>=B', 'you')])).toBe(3);
    const back = readComparisons(f);
    expect(back.map((r) => [r.choice, r.strength, r.labeler])).toEqual([['A', 'A>B', 'me'], ['B', 'B>>>A', 'me'], ['A', 'A>=B', 'you']]);
    expect(fs.readdirSync(path.dirname(f))).toEqual(['c.jsonl']); // no temp file left behind
  });

  it('refuses to append to a malformed file and keeps it intact', () => {
    const f = tmpFile('bad.jsonl');
    appendComparison(f, rec());
    fs.appendFileSync(f, '{"version": 1, "prompt": "x"\n');
    const before = fs.readFileSync(f, 'utf8');
    expect(() => appendComparison(f, rec())).toThrow(new RegExp(`bad.jsonl:2: not valid JSON`));
    expect(fs.readFileSync(f, 'utf8')).toBe(before);
  });

  it('names file and line for schema errors', () => {
    const good = JSON.stringify(rec());
    const bad = (patch: object) => JSON.stringify({ ...rec(), ...patch });
    expect(() => parseComparisons(`${good}\n${bad({ choice: 'C' })}\n`, 'f.jsonl')).toThrow('f.jsonl:2: choice must be "A" or "B", got "C"');
    expect(() => parseComparisons(bad({ strength: 'B>A' }), 'f')).toThrow('f:1: strength B>A contradicts choice A');
    expect(() => parseComparisons(bad({ version: 2 }), 'f')).toThrow('f:1: version 2 is not supported');
    expect(() => parseComparisons(bad({ extra: 1 }), 'f')).toThrow('f:1: unknown field "extra"');
    expect(() => parseComparisons(bad({ timestamp: 'yesterday' }), 'f')).toThrow(/f:1: timestamp "yesterday"/);
    expect(() => parseComparisons(`${good}\n\n${good}\n`, 'f')).toThrow('f:2: empty line');
    const { comment, ...noComment } = rec();
    expect(() => parseComparisons(JSON.stringify(noComment), 'f')).toThrow('f:1: missing field "comment"');
  });
});

describe('simulated labelers', () => {
  const gold = (c: string) => Number(c);

  it('at temperature 0 reproduce the gold order, strength from the margin', () => {
    const lab = new SimulatedLabeler(gold, { temperature: 0 });
    const r = lab.label('p', '1', '0.5');
    expect([r.choice, r.strength]).toEqual(['A', 'A>B']); // margin 0.5: past 0.25, not 0.75
    expect(lab.label('p', '0', '2').strength).toBe('B>>>A');
    expect(lab.label('p', '0', '0.1').strength).toBe('B>=A');
    const rs = Array.from({ length: 50 }, (_, i) => lab.label('p', String(i % 7), String((i * 3) % 5)));
    expect(goldAgreement(rs).rate).toBe(1);
  });

  it('choose A with probability sigmoid((gA - gB) / T)', () => {
    const lab = new SimulatedLabeler(gold, { temperature: 0.5, seed: 3 });
    expect(lab.probA(1, 0.5)).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    const n = 4000;
    let a = 0;
    for (let i = 0; i < n; i++) if (lab.label('p', '1', '0.5').choice === 'A') a++;
    // sigmoid(1) = 0.731; binomial std sqrt(.731 * .269 / 4000) = 0.007: 4 std = 0.028.
    expect(Math.abs(a / n - 0.7311)).toBeLessThan(0.028);
  });

  it('is reproducible from its seed', () => {
    const run = () => {
      const lab = new SimulatedLabeler(gold, { temperature: 1, seed: 9 });
      return Array.from({ length: 20 }, () => lab.label('p', '0.3', '0').strength);
    };
    expect(run()).toEqual(run());
  });

  it('measures agreement between labelers and with gold', () => {
    const pairs = [['1', '0'], ['0', '1'], ['2', '0']];
    const l1 = new SimulatedLabeler(gold, { id: 'one', temperature: 0 });
    const records = pairs.map(([a, b]) => l1.label('p', a, b));
    // A second labeler who flips the second pair.
    records.push(makeComparison('p', '1', '0', 'A>B', 'two'), makeComparison('p', '0', '1', 'A>B', 'two'));
    expect(labelerAgreement(records)).toEqual({ rate: 0.5, count: 2 });
    expect(goldAgreement(records.slice(0, 3))).toEqual({ rate: 1, count: 3 });
    expect(() => goldAgreement(records)).toThrow(/record 3 has no numeric metadata.goldA/);
  });

  it('rejects a negative temperature', () => {
    expect(() => new SimulatedLabeler(gold, { temperature: -1 })).toThrow(/temperature must be >= 0, got -1/);
  });
});

describe('pair generation', () => {
  it('samples two completions per prompt from a policy, reproducibly, and labels them', async () => {
    const tok = new CharTokenizer(['a', 'b', ':', ' ']);
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 16, seed: 1 });
    const prompts = ['a: ', 'b: ', 'ab: '];
    const s = { maxNewTokens: 6, temperature: 1, seed: 4 };
    const pairs = await samplePairs(policy, tok, prompts, s);
    expect(pairs.map((p) => p.prompt)).toEqual(prompts);
    expect(await samplePairs(policy, tok, prompts, s)).toEqual(pairs);
    for (const p of pairs) {
      for (const c of [p.completionA, p.completionB]) {
        expect(c).toMatch(/^[ab: ]*(<end>)?$/);
        expect(tok.encode(c, { allowSpecial: true }).length).toBeLessThanOrEqual(6);
      }
    }
    expect(pairs.some((p) => p.completionA !== p.completionB)).toBe(true);
    const count = (c: string) => (c.match(/a/g) ?? []).length;
    const labelers = [0, 1, 2].map((k) => new SimulatedLabeler(count, { id: `sim${k}`, temperature: 0, seed: k }));
    const records = labelPairs(pairs, labelers, 2);
    expect(records.map((r) => r.labeler)).toEqual(['sim0', 'sim1', 'sim1', 'sim2', 'sim2', 'sim0']);
    expect(records[0].metadata).toMatchObject({ sampleSeed: 4, goldA: count(pairs[0].completionA), goldB: count(pairs[0].completionB) });
    // Zero-noise labelers agree except on gold ties (coin flips).
    const ties = pairs.filter((p) => count(p.completionA) === count(p.completionB)).length;
    const agreement = labelerAgreement(records);
    expect(agreement.count).toBe(3);
    expect(agreement.rate).toBeGreaterThanOrEqual((3 - ties) / 3);
    expect(() => labelPairs(pairs, labelers, 4)).toThrow('perPair must be an integer in 1..3, got 4');
    policy.dispose();
  });

  it('labelPairs takes any Labeler: a rule-based one (shorter wins) mixed with a simulated one', () => {
    const shorter: Labeler = {
      id: 'shorter',
      label: (prompt, a, b, metadata = {}) => makeComparison(prompt, a, b, a.length <= b.length ? 'A>B' : 'B>A', 'shorter', { metadata }),
    };
    const sim = new SimulatedLabeler((c) => c.length, { id: 'longer', temperature: 0 });
    expect(sim.id).toBe('longer');
    const pairs = [{ prompt: 'p', completionA: 'ab', completionB: 'abc', metadata: { k: 1 } }, { prompt: 'q', completionA: 'xyz', completionB: 'x' }];
    const records = labelPairs(pairs, [shorter, sim], 2);
    expect(records.map((r) => [r.labeler, r.choice])).toEqual([['shorter', 'A'], ['longer', 'B'], ['longer', 'A'], ['shorter', 'B']]);
    expect(records[0].metadata).toEqual({ k: 1 });
    expect(labelerAgreement(records)).toEqual({ rate: 0, count: 2 });
  });

  it('makes every pair of K samples per prompt; K = 2 is one pair per prompt', async () => {
    const tok = new CharTokenizer(['a', 'b', ':', ' ']);
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 16, seed: 1 });
    const prompts = ['a: ', 'b: '];
    const s = { maxNewTokens: 6, temperature: 1, seed: 4 };
    const four = await samplePairs(policy, tok, prompts, s, { perPrompt: 4 });
    // 2 prompts x C(4, 2) = 12 pairs, grouped by prompt, samples (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    expect(four).toHaveLength(12);
    expect(four.map((p) => p.prompt)).toEqual([...Array(6).fill('a: '), ...Array(6).fill('b: ')]);
    expect(four.slice(0, 6).map((p) => p.metadata!.samples)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
    // the same sample appears in every pair that names it
    expect(four[0].completionA).toBe(four[1].completionA);
    expect(four[1].completionB).toBe(four[3].completionB);
    expect(four[3].completionA).toBe(four[0].completionB);
    expect(four[5].completionB).toBe(four[4].completionB);
    // K = 2 (the default) is one pair per prompt: sample i and sample n + i of one rollout of the prompts twice
    const r = await rollout(policy, tok, [...prompts, ...prompts], s);
    expect((await samplePairs(policy, tok, prompts, s)).map((p) => [p.completionA, p.completionB]))
      .toEqual([[r.completions[0], r.completions[2]], [r.completions[1], r.completions[3]]]);
    await expect(samplePairs(policy, tok, prompts, s, { perPrompt: 1 })).rejects.toThrow('perPrompt must be an integer >= 2, got 1');
    // each of the 2 x 4 drawn replies once, in drawing order; K = 2 pairs give both replies of each pair
    const replies = sampledReplies(four);
    expect(replies).toHaveLength(8);
    expect(replies.slice(0, 4).map((x) => x.completion)).toEqual([four[0].completionA, four[0].completionB, four[1].completionB, four[2].completionB]);
    expect(replies.slice(4).every((x) => x.prompt === 'b: ')).toBe(true);
    expect(sampledReplies(await samplePairs(policy, tok, prompts, s)).map((x) => x.completion))
      .toEqual([r.completions[0], r.completions[2], r.completions[1], r.completions[3]]);
    policy.dispose();
  });
});

describe('distinct pairs of labeled records', () => {
  it('keeps each (prompt, A, B) once, first seen first; order of A and B matters; labels dropped', () => {
    const r = (p: string, a: string, b: string, s: Strength, who: string) => makeComparison(p, a, b, s, who);
    const pairs = distinctPairs([r('P', 'x', 'y', 'A>B', 'one'), r('P', 'x', 'y', 'B>A', 'two'), r('P', 'y', 'x', 'A>B', 'one'), r('Q', 'x', 'y', 'A>B', 'one')]);
    expect(pairs).toEqual([
      { prompt: 'P', completionA: 'x', completionB: 'y' },
      { prompt: 'P', completionA: 'y', completionB: 'x' },
      { prompt: 'Q', completionA: 'x', completionB: 'y' },
    ]);
    expect(distinctPairs([])).toEqual([]);
  });
});
