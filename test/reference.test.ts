import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { buildReference, chainHash, readmeBlock, timesFromRunner, writeReadmeBlock } from '../scripts/reference';
import { refText } from '../lib/course/results';

const rv = (value: number | boolean, unit: 'score' | 'fraction' | 'bool' = 'score') => ({ value, unit, digits: unit === 'fraction' ? 1 : 2, seed: 0, at: '' });
const run = (seed: number | 'shared', values: Record<string, ReturnType<typeof rv>>, times: Record<string, number>, date = '2026-11-30T00:00:00Z') =>
  ({ seed, recipeHash: 'h', mode: 'course' as const, values, times, machine: { cpu: 'Test CPU', cores: 2 }, date, commit: 'abc123' });

describe('reference: summarising seeds', () => {
  it('per key over seeds (mean, sample sd, min, max, values), shared keys once, booleans as fractions, times', () => {
    const ref = buildReference([
      run(2, { 'ppo.beta0.05.gold': rv(0.97), 'eval.ppoEndsFrontier': rv(false, 'bool') }, { '05-ppo': 200 }, '2026-11-30T02:00:00Z'),
      run('shared', { 'pretrain.heldOutNatsPerChar': rv(1.53) }, { '02-transformer': 384 }),
      run(0, { 'ppo.beta0.05.gold': rv(0.88), 'eval.ppoEndsFrontier': rv(true, 'bool'), 'rm.accVsGold': rv(0.8, 'fraction') }, { '05-ppo': 180 }),
      run(1, { 'ppo.beta0.05.gold': rv(1.05), 'eval.ppoEndsFrontier': rv(false, 'bool') }, { '05-ppo': 190 }),
    ], 'h', 'course');
    expect(ref.seeds).toEqual([0, 1, 2]);
    const g = ref.keys['ppo.beta0.05.gold'];
    expect(g.values).toEqual([0.88, 1.05, 0.97]);
    expect(g.seeds).toEqual([0, 1, 2]);
    expect(g.mean).toBeCloseTo(2.9 / 3, 12);
    expect(g.sd).toBeCloseTo(Math.sqrt(0.0144666667 / 2), 6);
    expect([g.min, g.max]).toEqual([0.88, 1.05]);
    expect(ref.keys['rm.accVsGold'].seeds).toEqual([0]); // recorded by one seed only
    expect(ref.keys['eval.ppoEndsFrontier'].mean).toBeCloseTo(1 / 3, 12);
    expect(ref.keys['pretrain.heldOutNatsPerChar'].seeds).toEqual(['shared']);
    expect(ref.times['05-ppo']).toEqual({ mean: 190, min: 180, max: 200, runs: 3 });
    expect(ref.date).toBe('2026-11-30T02:00:00Z');
    expect(refText('ppo.beta0.05.gold', ref)).toBe('0.88 to 1.05 over 3 seeds');
    expect(refText('eval.ppoEndsFrontier', ref)).toBe('in 1 of 3 seeds');
    expect(refText('pretrain.heldOutNatsPerChar', ref)).toBe('1.53');
  });

  it('writes the README block between its markers, and only there', () => {
    const ref = buildReference([run('shared', {}, { '02-transformer': 384, '03-sft': 41 }), run(0, { 'rm.accVsGold': rv(0.813, 'fraction') }, { '04-reward-model': 320 }),
      run(1, { 'rm.accVsGold': rv(0.782, 'fraction') }, { '04-reward-model': 328 })], 'h', 'course');
    const block = readmeBlock(ref);
    // mean 79.75%, sd |81.3 - 78.2| / sqrt(2) = 2.19 points
    expect(block).toMatch(/\| chapter 04: reward model, held-out accuracy vs gold \(labeler noise T = 0.1\) \| 78.2% to 81.3% over 2 seeds \| 79.8% ± 2.2 \|/);
    expect(block).toMatch(/\| chapter 05: PPO beta 0.05, gold on held-out prompts \| not recorded \|  \|/);
    expect(block).toMatch(/02 6.4 min, 03 41 s, 04 5.4 min/);
    expect(block).toMatch(/chapters 04-08 5.4 min per seed, 02-03 7.1 min\. The reference command itself: about 17.9 min for 2 seeds/);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-readme-')), 'README.md');
    fs.writeFileSync(file, '# Title\n\nbefore\n');
    writeReadmeBlock(file, block);
    writeReadmeBlock(file, block.replace('78.2%', '77.0%')); // a second run replaces the block, no duplicate
    const text = fs.readFileSync(file, 'utf8');
    expect(text.startsWith('# Title\n\nbefore\n\n<!-- reference:begin')).toBe(true);
    expect(text.match(/reference:begin/g)!.length).toBe(1);
    expect(text).toMatch(/77.0% to 81.3%/);
  });
});

describe('reference: the recipe hash covers the notebooks\' code', () => {
  it('changes with a code cell of a chained notebook, not with its markdown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-chain-'));
    const src = path.resolve(__dirname, '..', 'notebooks');
    for (const f of fs.readdirSync(src)) if (/^0[2-8]-.*\.ipynb$/.test(f)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const h = chainHash(dir);
    expect(h).toBe(chainHash(src));
    const file = path.join(dir, '04-reward-model.ipynb');
    const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
    const md = nb.cells.find((c: { cell_type: string }) => c.cell_type === 'markdown');
    md.source = [md.source].flat().join('') + '\nA new sentence.';
    fs.writeFileSync(file, JSON.stringify(nb));
    expect(chainHash(dir)).toBe(h);
    const code = nb.cells.find((c: { cell_type: string }) => c.cell_type === 'code');
    code.source = [code.source].flat().join('') + '\nconst nPromptsExtra = 1;';
    fs.writeFileSync(file, JSON.stringify(nb));
    expect(chainHash(dir)).not.toBe(h);
    fs.rmSync(file);
    expect(() => chainHash(dir)).toThrow(/04-reward-model.ipynb is missing/);
  });
});

describe('course build: placeholders and the recipe check (scripts/run_course.py)', () => {
  it('fills {{ref key}} in executed markdown from the reference file and warns when the recipe hash differs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-fill-'));
    const ref = buildReference([run(0, { 'rm.accVsGold': rv(0.813, 'fraction') }, {}), run(1, { 'rm.accVsGold': rv(0.782, 'fraction') }, {})], 'not-the-recipe', 'course');
    fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref));
    const nb = { cells: [{ cell_type: 'markdown', metadata: {}, source: 'one epoch reached {{ref rm.accVsGold}}; pending: {{ref ppo.beta0.05.gold}}; not a key: `{{ref key}}`' }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    fs.writeFileSync(path.join(dir, 'x.ipynb'), JSON.stringify(nb));
    const py = `import sys, nbformat
sys.path.insert(0, ${JSON.stringify(path.join(__dirname, '..', 'scripts'))})
import run_course as rc
path = ${JSON.stringify(path.join(dir, 'x.ipynb'))}
texts = rc.reference_texts([path])
nb = nbformat.read(path, as_version=4)
rc.fill_placeholders(nb, texts)
print(nb.cells[0].source)`;
    const out = execFileSync('/usr/bin/python3', ['-c', py], { env: { ...process.env, RLHF_REFERENCE: path.join(dir, 'ref.json') } }).toString();
    expect(out).toMatch(/WARNING: the recipe \(library presets or the notebooks' code cells\) changed since the reference results were made \(recipe [0-9a-f]{16}, reference not-the-recipe/);
    expect(out).toMatch(/one epoch reached 78\.2% to 81\.3% over 2 seeds; pending: reference pending: ppo\.beta0\.05\.gold is not in the reference results yet \(run npm run reference\); not a key: `\{\{ref key\}\}`/);
    const source = JSON.parse(fs.readFileSync(path.join(dir, 'x.ipynb'), 'utf8'));
    expect(source.cells[0].source).toContain('{{ref rm.accVsGold}}'); // the source file is never rewritten
  });
});

describe('course times from the runner', () => {
  it("reads the runner's 'default' mode as the results' 'course' mode and leaves out failed notebooks", () => {
    const rows = [
      { notebook: 'notebooks/04-reward-model.ipynb', seconds: 334.4, ok: true, mode: 'default' },
      { notebook: 'notebooks/05-ppo.ipynb', seconds: 12.5, ok: false, mode: 'default' },
      { notebook: 'notebooks/06-best-of-n.ipynb', seconds: 20.1, ok: true, mode: 'fast' },
    ];
    expect(timesFromRunner(rows, 'course')).toEqual({ '04-reward-model': 334.4 });
    expect(timesFromRunner(rows, 'fast')).toEqual({ '06-best-of-n': 20.1 });
  });
});
