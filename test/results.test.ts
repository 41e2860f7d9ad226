import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { spawn } from 'child_process';
import {
  record, readRecorded, recordFile, formatValue, formatReference, refText, compareToReference, meanSdRange,
  referenceRows, REFERENCE_PENDING, ReferenceFile, ReferenceEntry, loadReference,
} from '../lib/course/results';
import { canonicalJson, hashRecipe, courseRecipe } from '../lib/course/recipe';
import { runSeed, seedFor, SEED_STRIDE } from '../lib/core/seed';
import { SimulatedLabeler } from '../lib/feedback/labeler';
import { GPT } from '../lib/model/model';
import { rollout } from '../lib/rl/rollout';
import { CharTokenizer } from '../lib/text/tokenizer';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-results-'));
const saved = { ...process.env };
afterEach(() => {
  for (const k of ['RLHF_SEED', 'RLHF_RUNS', 'RLHF_REFERENCE']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const entry = (values: number[], o: Partial<ReferenceEntry> = {}): ReferenceEntry => ({
  unit: 'score', digits: 2, ...meanSdRange(values), values, seeds: values.map((_, i) => i), ...o,
});
const refFile = (keys: Record<string, ReferenceEntry>, mode: 'fast' | 'course' = 'course'): ReferenceFile => ({
  format: 2, mode, seeds: [0, 1, 2], machine: { cpu: 'test', cores: 2 }, date: '2026-11-30', commit: 'abc', chapters: {}, runs: [], times: {}, keys,
});

describe('record: the run results file', () => {
  it('writes under runsDir, merges keys, keeps unit, digits and seed, and overwrites a key', () => {
    process.env.RLHF_RUNS = tmp();
    process.env.RLHF_SEED = '2';
    expect(recordFile()).toBe(path.join(process.env.RLHF_RUNS, 'course', 'recorded.json'));
    expect(record('ppo.beta0.05.gold', 0.91)).toBe(0.91);
    record('rm.accVsGold', 0.8125, { unit: 'fraction' });
    record('frontier.ppoEnds', true);
    record('ppo.beta0.05.gold', 0.95);
    const r = readRecorded();
    expect(Object.keys(r.values).sort()).toEqual(['frontier.ppoEnds', 'ppo.beta0.05.gold', 'rm.accVsGold']);
    expect(r.values['ppo.beta0.05.gold']).toMatchObject({ value: 0.95, unit: 'score', digits: 2, seed: 2 });
    expect(r.values['rm.accVsGold']).toMatchObject({ value: 0.8125, unit: 'fraction', digits: 1 });
    expect(r.values['frontier.ppoEnds']).toMatchObject({ value: true, unit: 'bool' });
    expect(fs.readdirSync(path.dirname(recordFile()))).toEqual(['recorded.json']); // no temp or lock file left
  });

  it('refuses bad keys and values with a message naming them', () => {
    const f = path.join(tmp(), 'r.json');
    expect(() => record('PPO gold', 1, {}, f)).toThrow(/key "PPO gold" is not a dotted key/);
    expect(() => record('ppo', 1, {}, f)).toThrow(/not a dotted key/);
    expect(() => record('ppo.gold', NaN, {}, f)).toThrow(/ppo.gold = NaN is not a finite number/);
    expect(fs.existsSync(f)).toBe(false);
  });

  it('two processes recording at the same time both keep every key (lock + atomic rename)', async () => {
    const f = path.join(tmp(), 'recorded.json');
    const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');
    const script = (who: string) => `const r = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'course', 'results'))});
      for (let i = 0; i < 40; i++) r.record('test.${who}' + i, i, {}, ${JSON.stringify(f)});`;
    const run = (who: string) => new Promise<number>((resolve) => {
      const p = spawn(tsx, ['-e', script(who)], { stdio: 'inherit' });
      p.on('exit', (code) => resolve(code ?? 1));
    });
    expect(await Promise.all([run('a'), run('b')])).toEqual([0, 0]);
    const keys = Object.keys(readRecorded(f).values);
    expect(keys.length).toBe(80);
    expect(readRecorded(f).values['test.b39'].value).toBe(39);
  });
});

describe('formatting values and reference ranges', () => {
  it('formats each unit', () => {
    expect(formatValue(0.8125, 'fraction')).toBe('81.3%');
    expect(formatValue(7.456, 'nats')).toBe('7.46 nats');
    expect(formatValue(-0.001, 'score')).toBe('0.00');
    expect(formatValue(-0.06, 'score')).toBe('-0.06');
    expect(formatValue(90, 'seconds')).toBe('90 s');
    expect(formatValue(384, 'seconds')).toBe('6.4 min');
    expect(formatValue(true, 'bool')).toBe('yes');
  });

  it('mean, sample sd, min and max by hand', () => {
    const s = meanSdRange([0.88, 1.05, 0.97]);
    expect(s.mean).toBeCloseTo(0.9666667, 6);
    // deviations -0.0866667, 0.0833333, 0.0033333: squares 0.0075111 + 0.0069444 + 0.0000111 = 0.0144667, / 2
    expect(s.sd).toBeCloseTo(Math.sqrt(0.0144666667 / 2), 6);
    expect([s.min, s.max]).toEqual([0.88, 1.05]);
    expect(meanSdRange([3]).sd).toBe(0);
  });

  it('renders ranges over seeds, equal values, booleans and shared keys', () => {
    expect(formatReference(entry([0.88, 1.05, 0.97]))).toBe('0.88 to 1.05 over 3 seeds');
    expect(formatReference(entry([-0.06, 0.25]))).toBe('-0.06 to 0.25 over 2 seeds');
    expect(formatReference(entry([0.782, 0.813, 0.80], { unit: 'fraction', digits: 1 }))).toBe('78.2% to 81.3% over 3 seeds');
    expect(formatReference(entry([7.5, 9.99], { unit: 'nats', digits: 1 }))).toBe('7.5 to 10.0 nats over 2 seeds');
    expect(formatReference(entry([1.83, 1.83, 1.83], { unit: 'nats' }))).toBe('1.83 nats');
    // one unit per range, so the text reads as English: "5.1 to 6.0 min", mixed units kept
    expect(formatReference(entry([306, 360], { unit: 'seconds', digits: 0 }))).toBe('5.1 to 6.0 min over 2 seeds');
    expect(formatReference(entry([20, 40], { unit: 'seconds', digits: 0 }))).toBe('20 to 40 s over 2 seeds');
    expect(formatReference(entry([58, 130], { unit: 'seconds', digits: 0 }))).toBe('58 s to 2.2 min over 2 seeds');
    const b = (vs: boolean[]) => ({ unit: 'bool' as const, digits: 0, mean: 0, sd: 0, min: 0, max: 1, values: vs, seeds: vs.map((_, i) => i) });
    expect(formatReference(b([true, false, true]))).toBe('in 2 of 3 seeds');
    expect(formatReference(b([true, true, true]))).toBe('in all 3 seeds');
    expect(formatReference(b([false, false]))).toBe('in none of 2 seeds');
    expect(formatReference(b([true]))).toBe('yes (one seed)');
    expect(formatReference(entry([1.53], { seeds: ['shared'] }))).toBe('1.53');
  });

  it('refText and compareToReference, with pointers when the file or the key is missing', () => {
    const ref = refFile({ 'ppo.beta0.05.gold': entry([0.88, 1.05, 0.97]) });
    expect(refText('ppo.beta0.05.gold', ref)).toBe('0.88 to 1.05 over 3 seeds');
    expect(refText('ppo.beta0.05.gold', null)).toBe(REFERENCE_PENDING);
    expect(refText('dpo.gold', ref)).toMatch(/reference pending: dpo.gold is not in the reference results yet \(run npm run reference\)/);
    expect(compareToReference('ppo.beta0.05.gold', 0.91, {}, ref)).toBe('your run: 0.91; reference: 0.88 to 1.05 over 3 seeds (inside the reference range of 3 seeds)');
    expect(compareToReference('ppo.beta0.05.gold', 1.05, {}, ref)).toMatch(/\(inside the reference range of 3 seeds\)$/); // the ends belong to the range
    expect(compareToReference('ppo.beta0.05.gold', 1.2, {}, ref)).toBe('your run: 1.20; reference: 0.88 to 1.05 over 3 seeds (outside the reference range of 3 seeds)');
    expect(compareToReference('ppo.beta0.05.gold', 0.9, {}, refFile({ 'ppo.beta0.05.gold': entry([1, 1.1]) }, 'fast')))
      .toMatch(/reference is of fast mode, this run of default mode: not comparable/);
    expect(compareToReference('dpo.gold', 0.3, {}, null)).toBe(`your run: 0.30 (${REFERENCE_PENDING})`);
  });

  it('reads the reference from RLHF_REFERENCE and lists recorded keys beside it', () => {
    const dir = tmp();
    process.env.RLHF_RUNS = dir;
    process.env.RLHF_REFERENCE = path.join(dir, 'ref.json');
    expect(refText('ppo.beta0.05.gold')).toBe(REFERENCE_PENDING);
    fs.writeFileSync(process.env.RLHF_REFERENCE, JSON.stringify(refFile({ 'rm.accVsGold': entry([0.78, 0.82], { unit: 'fraction', digits: 1 }) })));
    record('rm.accVsGold', 0.8, { unit: 'fraction' });
    expect(referenceRows(['rm.accVsGold'])).toEqual([{ quantity: 'rm.accVsGold', 'your run': '80.0%', reference: '78.0% to 82.0% over 2 seeds' }]);
    expect(() => referenceRows(['ppo.gold'])).toThrow(/has not recorded ppo.gold/);
  });
});

describe('recipe hash', () => {
  it('is the SHA-256 of canonical JSON: key order does not matter, every value does', () => {
    expect(canonicalJson({ b: [1, { d: 2, c: 'x' }], a: true })).toBe('{"a":true,"b":[1,{"c":"x","d":2}]}');
    const h = hashRecipe({ b: [1, { d: 2, c: 'x' }], a: true });
    expect(h).toBe(crypto.createHash('sha256').update('{"a":true,"b":[1,{"c":"x","d":2}]}').digest('hex').slice(0, 16));
    expect(hashRecipe({ a: true, b: [1, { c: 'x', d: 2 }] })).toBe(h);
    expect(hashRecipe({ a: true, b: [1, { c: 'x', d: 2.0001 }] })).not.toBe(h);
    expect(hashRecipe({ a: true, b: [{ c: 'x', d: 2 }, 1] })).not.toBe(h);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/cannot hash a function/);
  });

  it('covers the library presets: changing one learning rate changes the hash, and it is stable', () => {
    const h = hashRecipe(courseRecipe());
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(hashRecipe(courseRecipe())).toBe(h);
    const r = courseRecipe() as { ppo: { course: { lr: number } } };
    const changed = { ...r, ppo: { ...r.ppo, course: { ...r.ppo.course, lr: r.ppo.course.lr * 2 } } };
    expect(hashRecipe(changed)).not.toBe(h);
    expect(Object.keys(courseRecipe()).sort()).toEqual(['bpeMerges', 'comparisonTemperature', 'criticFree', 'dpo', 'gold', 'gpt', 'ppo', 'pretrain', 'reward', 'sft', 'task', 'train']);
  });
});

describe('reference file of format 1 (one recipe for the chain)', () => {
  it('reads as format 2: 08-evaluation named 12-evaluation, every chapter stale ("legacy:" hash), keys kept', () => {
    const dir = tmp();
    const file = path.join(dir, 'ref.json');
    const v = { '08-evaluation': 16, '05-ppo': 170 };
    fs.writeFileSync(file, JSON.stringify({
      format: 1, mode: 'course', seeds: [0, 1], machine: { cpu: 'x', cores: 2 }, date: '2026-11-30', commit: 'abc', recipeHash: '9ec26bdf5b8c9058',
      times: { '08-evaluation': { mean: 16, min: 15, max: 17, runs: 2 } }, keys: { 'eval.clearPairs': entry([3, 3]) },
      runs: [{ seed: 'shared', times: { '02-transformer': 500 } }, { seed: 0, times: v }, { seed: 1, times: v }],
    }));
    const ref = loadReference(file)!;
    expect(ref.format).toBe(2);
    expect(ref.legacyRecipeHash).toBe('9ec26bdf5b8c9058');
    expect(Object.keys(ref.times)).toEqual(['12-evaluation']);
    expect(ref.chapters).toEqual({
      '02-transformer': { hash: 'legacy:9ec26bdf5b8c9058', seeds: ['shared'] },
      '12-evaluation': { hash: 'legacy:9ec26bdf5b8c9058', seeds: [0, 1] },
      '05-ppo': { hash: 'legacy:9ec26bdf5b8c9058', seeds: [0, 1] },
    });
    expect(refText('eval.clearPairs', ref)).toBe('3.00');
    expect(ref.runs).toEqual([]);
  });
});

describe('run seed', () => {
  it('RLHF_SEED offsets base seeds by k * SEED_STRIDE; unset or 0 keeps them', () => {
    delete process.env.RLHF_SEED;
    expect([runSeed(), seedFor(2024)]).toEqual([0, 2024]);
    process.env.RLHF_SEED = '0';
    expect(seedFor(5)).toBe(5);
    process.env.RLHF_SEED = '2';
    expect(seedFor(5)).toBe(5 + 2 * SEED_STRIDE);
    for (const bad of ['-1', '1.5', 'two']) {
      process.env.RLHF_SEED = bad;
      expect(() => seedFor(5)).toThrow(/RLHF_SEED must be a whole number from 0 to 9999/);
    }
  });

  it('is applied where labelers and rollouts consume their seeds', async () => {
    const labels = (seed: number) => {
      const l = new SimulatedLabeler((c) => c.length, { id: 'x', temperature: 1, seed: seed });
      return Array.from({ length: 20 }, () => l.label('p', 'abc', 'abd').strength);
    };
    process.env.RLHF_SEED = '1';
    const shifted = JSON.stringify(labels(10));
    process.env.RLHF_SEED = '0';
    expect(JSON.stringify(labels(10 + SEED_STRIDE))).toBe(shifted);
    expect(JSON.stringify(labels(10))).not.toBe(shifted);

    const tok = CharTokenizer.fromText('abcdefgh ');
    const gpt = new GPT({ vocabSize: tok.vocabSize, blockSize: 16, nLayer: 1, nHead: 1, nEmbd: 8, dropout: 0 });
    const prompts = ['ab', 'cd', 'ef'];
    const sample = async (seed: number) => (await rollout(gpt, tok, prompts, { maxNewTokens: 6, temperature: 1, seed })).completions;
    process.env.RLHF_SEED = '3';
    const s3 = await sample(7);
    process.env.RLHF_SEED = '0';
    expect(await sample(7 + 3 * SEED_STRIDE)).toEqual(s3);
    expect(await sample(7)).not.toEqual(s3);
    gpt.dispose();
  });
});
