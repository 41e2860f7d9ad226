import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { buildReference, commit, QUOTABLE_CELL_SECONDS, readmeBlock, timesFromRunner, writeReadmeBlock } from '../scripts/reference';
import { refText, ChapterRun, loadReference } from '../lib/course/results';
import * as ts from 'typescript';
import { chapterHashes, planReference, runtimeImports, staleChapters } from '../lib/course/recipe';
import { CHAPTERS } from '../lib/course/chapters';
import { IN_CONTAINER } from './sandboxHost';

const rv = (value: number | boolean, unit: 'score' | 'fraction' | 'bool' = 'score') => ({ value, unit, digits: unit === 'fraction' ? 1 : 2, seed: 0, at: '' });
const run = (chapter: string, seed: number | 'shared', values: Record<string, ReturnType<typeof rv>>, seconds: number | null, date = '2026-11-30T00:00:00Z'): ChapterRun =>
  ({ chapter, seed, hash: `h-${chapter}`, mode: 'course', values, seconds, machine: { cpu: 'Test CPU', cores: 2 }, date, commit: 'abc123' });

describe('reference: summarising chapter runs over seeds', () => {
  it('per key over seeds (mean, sample sd, min, max, values), shared keys once, booleans as fractions, times and hashes per chapter', () => {
    const ref = buildReference([
      run('05-ppo', 2, { 'ppo.beta0.05.gold': rv(0.97) }, 200, '2026-11-30T02:00:00Z'),
      run('12-evaluation', 2, { 'eval.ppoEndsFrontier': rv(false, 'bool') }, 16),
      run('02-transformer', 'shared', { 'pretrain.heldOutNatsPerChar': rv(1.53) }, 384),
      run('05-ppo', 0, { 'ppo.beta0.05.gold': rv(0.88) }, 180),
      run('12-evaluation', 0, { 'eval.ppoEndsFrontier': rv(true, 'bool') }, 15),
      run('04-reward-model', 0, { 'rm.accVsGold': rv(0.8, 'fraction') }, 300),
      run('05-ppo', 1, { 'ppo.beta0.05.gold': rv(1.05) }, 190),
      run('12-evaluation', 1, { 'eval.ppoEndsFrontier': rv(false, 'bool'), 'ppo.beta0.05.gold': rv(1.06) }, 17), // a later chapter's value of a key wins
    ], 'course');
    expect(ref.format).toBe(2);
    expect(ref.seeds).toEqual([0, 1, 2]);
    const g = ref.keys['ppo.beta0.05.gold'];
    expect(g.values).toEqual([0.88, 1.06, 0.97]);
    expect(g.seeds).toEqual([0, 1, 2]);
    expect(g.mean).toBeCloseTo(2.91 / 3, 12);
    expect([g.min, g.max]).toEqual([0.88, 1.06]);
    expect(ref.keys['rm.accVsGold'].seeds).toEqual([0]); // recorded by one seed only
    expect(ref.keys['eval.ppoEndsFrontier'].mean).toBeCloseTo(1 / 3, 12);
    expect(ref.keys['pretrain.heldOutNatsPerChar'].seeds).toEqual(['shared']);
    expect(ref.times['05-ppo']).toEqual({ mean: 190, min: 180, max: 200, runs: 3 });
    expect(ref.chapters['05-ppo']).toEqual({ hash: 'h-05-ppo', seeds: [0, 1, 2] });
    expect(ref.chapters['02-transformer']).toEqual({ hash: 'h-02-transformer', seeds: ['shared'] });
    expect(ref.date).toBe('2026-11-30T02:00:00Z');
    expect(refText('ppo.beta0.05.gold', ref)).toBe('0.88 to 1.06 over 3 seeds');
    expect(refText('eval.ppoEndsFrontier', ref)).toBe('in 1 of 3 seeds');
    expect(refText('pretrain.heldOutNatsPerChar', ref)).toBe('1.53');
  });

  it('gives a cell a time key when its mean over the runs reaches QUOTABLE_CELL_SECONDS, and only then', () => {
    const withCells = (seed: number, cells: Record<string, number>): ChapterRun => ({ ...run('08-critic-free', seed, {}, 400), cells });
    // train: 40 and 26 s, mean 33 >= 30; probe: 35 and 20 s, mean 27.5 < 30 although one run is over; plot: under in both
    const ref = buildReference([withCells(0, { train: 40, probe: 35, plot: 1 }), withCells(1, { train: 26, probe: 20, plot: 2 })], 'course');
    expect(QUOTABLE_CELL_SECONDS).toBe(30);
    expect(ref.keys['time.08-critic-free.train']).toMatchObject({ unit: 'seconds', mean: 33, min: 26, max: 40, values: [40, 26], seeds: [0, 1] });
    expect(ref.keys['time.08-critic-free.probe']).toBeUndefined();
    expect(ref.keys['time.08-critic-free.plot']).toBeUndefined();
    expect(ref.keys['time.08-critic-free']).toMatchObject({ mean: 400, values: [400, 400] });
    expect(ref.times['08-critic-free'].cells).toEqual({ train: 33, probe: 27.5, plot: 1.5 });
  });

  // in the container image: no git
  it.skipIf(IN_CONTAINER)('names the commit, dirty only when a change reaches a recipe (not its own outputs, not a notebook\'s markdown)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-commit-'));
    const git = (...a: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: dir }).toString().trim();
    const nb = (md: string, code: string) => JSON.stringify({ cells: [{ cell_type: 'markdown', metadata: {}, source: md }, { cell_type: 'code', metadata: {}, source: [code], outputs: [], execution_count: null }], metadata: {}, nbformat: 4, nbformat_minor: 5 });
    fs.mkdirSync(path.join(dir, 'notebooks')); fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'notebooks', '05-ppo.ipynb'), nb('text {{ref ppo.beta0.05.gold}}', 'const a = 1;'));
    fs.writeFileSync(path.join(dir, 'README.md'), 'readme\n'); fs.writeFileSync(path.join(dir, 'lib', 'a.ts'), 'export const a = 1;\n');
    git('init', '-q'); git('add', '-A'); git('commit', '-qm', 'one');
    const head = git('rev-parse', '--short=12', 'HEAD');
    fs.writeFileSync(path.join(dir, 'notebooks', '05-ppo.ipynb'), nb('text <!--ref ppo.beta0.05.gold-->0.91 to 1.00 over 3 seeds<!--/ref-->', 'const a = 1;'));
    fs.writeFileSync(path.join(dir, 'README.md'), 'readme, new block\n');
    expect(commit(dir)).toBe(head);
    fs.writeFileSync(path.join(dir, 'notebooks', '05-ppo.ipynb'), nb('text', 'const a = 2;'));
    expect(commit(dir)).toBe(`${head}-dirty`);
    git('checkout', '-q', '--', 'notebooks');
    fs.writeFileSync(path.join(dir, 'lib', 'a.ts'), 'export const a = 2;\n');
    expect(commit(dir)).toBe(`${head}-dirty`);
  });

  it('writes the README block between its markers, and only there; chapter numbers and spans from the registry', () => {
    const ref = buildReference([run('02-transformer', 'shared', {}, 384), run('03-sft', 'shared', {}, 41),
      run('04-reward-model', 0, { 'rm.accVsGold': rv(0.813, 'fraction') }, 320), run('04-reward-model', 1, { 'rm.accVsGold': rv(0.782, 'fraction') }, 328),
      run('12-evaluation', 0, {}, 10), run('12-evaluation', 1, {}, 14)], 'course');
    const block = readmeBlock(ref);
    // mean 79.75%, sd |81.3 - 78.2| / sqrt(2) = 2.19 points
    expect(block).toMatch(/\| chapter 04: reward model, held-out accuracy vs gold \(labeler noise T = 0.1\) \| 78.2% to 81.3% over 2 seeds \| 79.8% ± 2.2 \|/);
    expect(block).toMatch(/\| chapter 05: PPO beta 0.05, gold on held-out prompts \| reference pending \(not in this reference run\) \|  \|/);
    expect(block).toMatch(/\| chapter 12: PPO beta 0.05 ends the gold frontier \(the most gold of all policies\) \| reference pending/);
    expect(block).toMatch(/seeds 0, 1 of chapters 04, 12 \(chapters 02-03 once\)/);
    expect(block).toMatch(/02 6.4 min, 03 41 s, 04 5.4 min, 12 12 s/);
    expect(block).toMatch(/chapters 04, 12 5.6 min per seed, 02-03 7.1 min\. The reference command itself: about 18.3 min for 2 seeds/);
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

describe('reference per chapter: hashes and the plan', () => {
  const src = path.resolve(__dirname, '..', 'notebooks');
  const copy = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-chain-'));
    for (const f of fs.readdirSync(src)) if (f.endsWith('.ipynb')) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    return dir;
  };
  const edit = (dir: string, name: string, cell: 'code' | 'markdown') => {
    const file = path.join(dir, `${name}.ipynb`);
    const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
    const c = nb.cells.find((x: { cell_type: string }) => x.cell_type === cell);
    c.source = [c.source].flat().join('') + (cell === 'code' ? '\nconst nPromptsExtra = 1;' : '\nA new sentence.');
    fs.writeFileSync(file, JSON.stringify(nb));
  };
  /** A reference made at `hashes` for seeds 0-2, and work folders that hold every chapter. */
  const current = (hashes: ReturnType<typeof chapterHashes>) => buildReference(CHAPTERS.filter((c) => c.reference !== 'none').flatMap((c) =>
    (c.reference === 'shared' ? ['shared' as const] : [0, 1, 2]).map((seed) => ({ ...run(c.notebook, seed, {}, 1), hash: hashes[c.notebook].hash }))), 'course');

  it('a code change in one chapter plans only that chapter and its downstream ones; markdown changes nothing', () => {
    const dir = copy();
    const before = chapterHashes({ notebooks: dir });
    expect(before['05-ppo'].hash).toBe(chapterHashes()['05-ppo'].hash);
    const ref = current(before);
    const all = () => true;
    expect(planReference({ hashes: before, ref, seeds: [0, 1, 2], workHas: all })).toEqual([]);
    expect(staleChapters(ref, before)).toEqual([]);
    edit(dir, '06-best-of-n', 'markdown');
    expect(chapterHashes({ notebooks: dir })).toEqual(before);
    edit(dir, '06-best-of-n', 'code');
    const after = chapterHashes({ notebooks: dir });
    const plan = planReference({ hashes: after, ref, seeds: [0, 1, 2], workHas: all });
    expect([...new Set(plan.map((p) => p.chapter))]).toEqual(['06-best-of-n', '12-evaluation']);
    expect(plan.filter((p) => p.seed === 1).map((p) => `${p.chapter} ${p.why}`)).toEqual(['06-best-of-n recipe changed', '12-evaluation recipe changed']);
    expect(staleChapters(ref, after).map((s) => s.chapter)).toEqual(['06-best-of-n', '12-evaluation']);
    edit(dir, '03-sft', 'code'); // a shared chapter: itself once, and every seeded chapter after it
    const plan3 = planReference({ hashes: chapterHashes({ notebooks: dir }), ref, seeds: [0], workHas: all });
    expect(plan3.map((p) => `${p.seed} ${p.chapter}`)).toEqual(['shared 03-sft', '0 04-reward-model', '0 05-ppo', '0 06-best-of-n', '0 07-dpo', '0 08-critic-free', '0 11-assumptions', '0 12-evaluation']);
  });

  it('a new seed runs every chapter for it; a new chapter adds its seeds alone; missing upstream artifacts are re-made', () => {
    const hashes = chapterHashes();
    const ref = current(hashes);
    const plan = planReference({ hashes, ref, seeds: [0, 3], workHas: (c, s) => s !== 3 || c === '03-sft' || c === '02-transformer' });
    expect(plan.map((p) => `${p.seed} ${p.chapter}`)).toEqual(['3 04-reward-model', '3 05-ppo', '3 06-best-of-n', '3 07-dpo', '3 08-critic-free', '3 11-assumptions', '3 12-evaluation']);
    const without = { ...ref, chapters: Object.fromEntries(Object.entries(ref.chapters).filter(([n]) => n !== '07-dpo')) };
    expect(planReference({ hashes, ref: without, seeds: [0, 1, 2], workHas: () => true }).map((p) => `${p.seed} ${p.chapter} ${p.why}`))
      .toEqual(['0 07-dpo new chapter', '1 07-dpo new chapter', '2 07-dpo new chapter']);
    // The same, in an empty work folder: 07 needs 04's reward model and comparisons (and 03's SFT policy, 02's model)
    expect(planReference({ hashes, ref: without, seeds: [0], workHas: () => false }).map((p) => `${p.seed} ${p.chapter} ${p.why}`))
      .toEqual(['shared 02-transformer artifacts needed by 03-sft', 'shared 03-sft artifacts needed by 07-dpo', '0 04-reward-model artifacts needed by 07-dpo', '0 07-dpo new chapter']);
  });

  it('a library change marks the chapters whose code reaches the file: conclusions from 02 on (the ladder\'s verdicts), the gold score from 02 on, never 01', () => {
    const h = chapterHashes();
    const reach = (f: string) => Object.entries(h).filter(([, r]) => r.library.includes(f)).map(([n]) => n);
    expect(reach('eval/conclusions.ts')).toEqual(['02-transformer', '04-reward-model', '05-ppo', '06-best-of-n', '07-dpo', '08-critic-free', '11-assumptions', '12-evaluation']);
    expect(reach('feedback/task.ts')).toEqual(['02-transformer', '03-sft', '04-reward-model', '05-ppo', '06-best-of-n', '07-dpo', '08-critic-free', '11-assumptions', '12-evaluation']);
        expect(reach('methods/ppo.ts')).toEqual(['05-ppo', '08-critic-free']); // 08 reads GAE's values through ppoValues; 12 reads run histories as { gold, kl } only
    expect(h['01-shannon-ngrams'].library).toContain('text/ngram.ts');
    // A copy of lib/ with one threshold changed in conclusions.ts: those chapters' hashes move, and 03's
    // with its upstream 02's; 01's stays
    const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-lib-'));
    fs.cpSync(path.resolve(__dirname, '..', 'lib'), lib, { recursive: true, filter: (f) => !f.includes(`${path.sep}build`) && !f.includes('node_modules') });
    const same = chapterHashes({ lib, notebooks: src });
    fs.appendFileSync(path.join(lib, 'eval', 'conclusions.ts'), '\nexport const PLANTED_THRESHOLD = 0.5;\n');
    const moved = chapterHashes({ lib, notebooks: src });
    const changed = Object.keys(h).filter((n) => moved[n].hash !== same[n].hash);
    expect(changed).toEqual(['02-transformer', '03-sft', '04-reward-model', '05-ppo', '06-best-of-n', '07-dpo', '08-critic-free', '11-assumptions', '12-evaluation']);
  });

  it("reads a lib file's runtime imports as TypeScript does, leaving out only type-only ones", () => {
    const lib = path.resolve(__dirname, '..', 'lib');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) { if (e.name !== 'build') walk(path.join(d, e.name)); } else if (e.name.endsWith('.ts')) files.push(path.join(d, e.name));
      }
    };
    walk(lib);
    expect(files.length).toBeGreaterThan(30);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      const all = ts.preProcessFile(text, true, true).importedFiles.map((x) => x.fileName).filter((x) => x.startsWith('.'));
      const mine = runtimeImports(text);
      for (const m of mine) expect(all, f).toContain(m);
      for (const x of all.filter((y) => !mine.includes(y))) {
        expect(new RegExp(`^\\s*(import|export)\\s+type\\s[^;]*['"]${x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"]`, 'm').test(text), `${f}: ${x} is neither a runtime nor a type-only import`).toBe(true);
      }
    }
  });

  it('the committed reference has every registered chapter, per chapter one hash for all its runs', () => {
    // Whether it is current is the course build's warning (staleChapters), not a test: a code change
    // would otherwise fail the tests until the next reference run.
    const ref = loadReference()!;
    expect(ref.format).toBe(2);
    expect(ref.legacyRecipeHash).toBeUndefined();
    for (const c of CHAPTERS.filter((x) => x.reference !== 'none')) {
      const entry = ref.chapters[c.notebook];
      expect(entry, c.notebook).toBeDefined();
      const runs = ref.runs.filter((r) => r.chapter === c.notebook);
      expect(runs.length, c.notebook).toBeGreaterThan(0);
      for (const r of runs) expect(r.hash, `${c.notebook} seed ${r.seed}`).toBe(entry.hash);
      expect(entry.seeds, c.notebook).toEqual(c.reference === 'shared' ? ['shared'] : ref.seeds);
    }
  });
});

describe('course build: placeholders and the recipe check (scripts/run_course.py)', () => {
  it('fills {{ref key}} in executed markdown from the reference file and warns when the recipe hash differs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-fill-'));
    const ref = buildReference([run('04-reward-model', 0, { 'rm.accVsGold': rv(0.813, 'fraction') }, 1), run('04-reward-model', 1, { 'rm.accVsGold': rv(0.782, 'fraction') }, 1)], 'course');
    fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref));
    const nb = { cells: [{ cell_type: 'markdown', metadata: {}, source: 'one epoch reached {{ref rm.accVsGold}}; pending: {{ref ppo.beta0.05.gold}}; not a key: `{{ref key}}`; filled: <!--ref rm.accVsGold-->an old text<!--/ref-->.' }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
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
    expect(out).toMatch(/WARNING: the reference results of 2026-11-30 are stale for chapter\(s\) 01-shannon-ngrams, 02-transformer, 03-sft, 04-reward-model, 05-ppo, 06-best-of-n, 07-dpo, 08-critic-free, 11-assumptions, 12-evaluation: its code or the library code it runs changed; not in the reference/);
    expect(out).toMatch(/one epoch reached 78\.2% to 81\.3% over 2 seeds; pending: reference pending: ppo\.beta0\.05\.gold is not in the reference results yet \(run npm run reference\); not a key: `\{\{ref key\}\}`; filled: <!--ref rm\.accVsGold-->78\.2% to 81\.3% over 2 seeds<!--\/ref-->\./);
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
