/**
 * npm run reference: the course's reference results, the numbers its text quotes.
 *
 * Runs the chain through the course runner (scripts/run_course.py: the notebooks themselves, through
 * Jupyter, as a student runs them; no second copy of their logic), chapters 02-03 once (pretraining
 * and SFT are not re-seeded) and chapters 04-08 once per seed with RLHF_SEED set, each seed in its
 * own runs folder. Every notebook records its quantities (rl.record -> recorded.json); this script
 * summarises them per key over the seeds (mean, sd, min, max, per-seed values) into
 * data/reference-results.json with the seeds, machine, date, commit and recipe hash, and rewrites
 * the marked block of README.md (quoted results and course times). Only this command writes them.
 *
 *   npm run reference                      # seeds 0, 1, 2 in default mode: about 24 minutes per seed of
 *                                          # chapters 04-08 on an idle 2-core machine (04 alone about 12),
 *                                          # plus about 10 minutes for 02-03 once: about 83 minutes in all
 *   npm run reference -- --seeds 3,4       # more seeds, merged into the existing file
 *   npm run reference -- --fast --out /tmp/ref.json --work /tmp/refwork   # fast mode (a test of the machinery)
 *   npm run reference -- --hash            # print the recipe hash (library presets and the notebooks' code)
 *   npm run reference -- --texts KEY...    # JSON: recipe hashes and each key's reference text (the course
 *                                          # build calls this to fill {{ref KEY}} and to warn on a changed recipe)
 *
 * Resumable: each finished seed leaves <work>/seed-<k>/done.json; a re-run skips finished seeds (and
 * the shared chapters) and re-runs a seed that did not finish from its start. Mergeable: seeds from
 * separate invocations (same recipe hash and mode) are combined: the output file keeps every seed's
 * values, and a seed run again replaces its old values. A finished part is re-run only when the recipe hash changes:
 * it covers the library's presets (lib/course/results.ts courseRecipe) and the code cells of the notebooks this
 * script runs, so a changed setting in a notebook (chapter 04's prompt count, say) starts the chain afresh.
 *
 * Options: --seeds a,b,c (default 0,1,2) | --fast | --out FILE (default data/reference-results.json;
 * fast mode: build/reference/fast-results.json) | --work DIR (default build/reference/<mode>) |
 * --readme FILE (default README.md when writing the default-mode default file, else none) |
 * --replace (start the output afresh when its recipe hash or mode differs) | --hash.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, execFileSync } from 'child_process';
import {
  courseRecipe, hashRecipe, readRecorded, meanSdRange, loadReference, refText, formatReference, formatValue, ReferenceFile, ReferenceEntry, RecordedValue, Unit,
} from '../lib/course/results';
import { writeAtomic } from '../lib/core/files';

const ROOT = path.resolve(__dirname, '..');
const SHARED_NOTEBOOKS = ['02-transformer', '03-sft'];
const SEED_NOTEBOOKS = ['04-reward-model', '05-ppo', '06-best-of-n', '07-dpo', '08-evaluation'];
/** Checkpoints chapters 04-08 load from the shared run (linked into every seed's runs folder). */
const SHARED_STAGES = ['pretrained', 'pretrained-chat', 'sft'];

/**
 * The recipe hash of the reference chain: the library's presets and the code cells of the notebooks
 * it runs (their markdown is text, not recipe). The course build compares it with the reference's.
 */
export function chainHash(notebookDir = path.join(ROOT, 'notebooks')): string {
  const code = Object.fromEntries([...SHARED_NOTEBOOKS, ...SEED_NOTEBOOKS].map((n) => {
    const file = path.join(notebookDir, `${n}.ipynb`);
    if (!fs.existsSync(file)) throw new Error(`reference: notebook ${file} is missing (the recipe hash covers its code)`);
    const cells = (JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
    return [n, cells.filter((c) => c.cell_type === 'code').map((c) => [c.source].flat().join(''))];
  }));
  return hashRecipe({ library: courseRecipe(), notebooks: code });
}

/** The results README.md quotes, in its marked block (key, what it is). */
export const README_KEYS: [string, string][] = [
  ['pretrain.heldOutNatsPerChar', 'chapter 02: GPT held-out loss (nats/char)'],
  ['sft.endRate', 'chapter 03: SFT replies that end their turn'],
  ['rm.accVsGold', 'chapter 04: reward model, held-out accuracy vs gold (labeler noise T = 0.1)'],
  ['rm.t1.accVsGold', 'chapter 04: reward model on the policy\'s temperature-1 samples'],
  ['ppo.beta0.05.gold', 'chapter 05: PPO beta 0.05, gold on held-out prompts'],
  ['ppo.beta0.05.kl', 'chapter 05: PPO beta 0.05, KL to SFT'],
  ['ppo.beta0.005.goldFell', 'chapter 05: small beta, gold peaked and fell'],
  ['bon.n16.gold', 'chapter 06: best-of-16, gold'],
  ['rs.cheaperInKL', 'chapter 06: rejection sampling cheaper in KL than best-of-N'],
  ['dpo.beta0.1.winRate', 'chapter 07: DPO beta 0.1, gold win rate vs SFT'],
  ['eval.ppoEndsFrontier', 'chapter 08: PPO beta 0.05 ends the gold frontier'],
];

interface Args {
  seeds: number[]; fast: boolean; out: string; work: string; readme: string | null; replace: boolean; hash: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`reference: ${name} needs a value`);
    return v;
  };
  const known = new Set(['--seeds', '--fast', '--out', '--work', '--readme', '--replace', '--hash']);
  argv.forEach((a, i) => {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`reference: unknown option ${a} (see the header of scripts/reference.ts)`);
    if (!a.startsWith('--') && !(i > 0 && ['--seeds', '--out', '--work', '--readme'].includes(argv[i - 1]))) throw new Error(`reference: unexpected argument ${a}`);
  });
  const fast = argv.includes('--fast');
  const seedText = get('--seeds') ?? '0,1,2';
  const seeds = seedText.split(',').map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 9999) || new Set(seeds).size !== seeds.length) {
    throw new Error(`reference: --seeds must be distinct whole numbers from 0 to 9999, separated by commas (got "${seedText}")`);
  }
  const defaultOut = fast ? path.join(ROOT, 'build', 'reference', 'fast-results.json') : path.join(ROOT, 'data', 'reference-results.json');
  const out = path.resolve(get('--out') ?? defaultOut);
  const work = path.resolve(get('--work') ?? path.join(ROOT, 'build', 'reference', fast ? 'fast' : 'course'));
  const readmeArg = get('--readme');
  const readme = readmeArg ? path.resolve(readmeArg) : (!fast && out === path.join(ROOT, 'data', 'reference-results.json') ? path.join(ROOT, 'README.md') : null);
  return { seeds, fast, out, work, readme, replace: argv.includes('--replace'), hash: argv.includes('--hash') };
}

const say = (msg: string) => console.log(`reference: ${msg}`);
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

/** Run the course runner on `notebooks` with `env`, streaming its progress lines with a prefix. */
function runCourse(notebooks: string[], env: Record<string, string>, outDir: string, prefix: string): Promise<void> {
  const paths = notebooks.map((n) => path.join(ROOT, 'notebooks', `${n}.ipynb`));
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [path.join(ROOT, 'scripts', 'run_course.py'), ...paths, '--out', outDir], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = (stream: NodeJS.ReadableStream, to: NodeJS.WriteStream) => {
      let buf = '';
      stream.on('data', (d) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) to.write(`${prefix} ${l}\n`);
      });
      stream.on('end', () => { if (buf) to.write(`${prefix} ${buf}\n`); });
    };
    relay(child.stdout!, process.stdout);
    relay(child.stderr!, process.stderr);
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${prefix} the course runner failed (${signal ?? `exit ${code}`}); see its output above`))));
  });
}

interface DoneRun {
  seed: number | 'shared';
  recipeHash: string;
  mode: 'fast' | 'course';
  values: Record<string, RecordedValue>;
  /** Seconds per notebook. */
  times: Record<string, number>;
  machine: { cpu: string; cores: number };
  date: string;
  commit: string;
}

function machine(): { cpu: string; cores: number } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length };
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }).toString()
      .split('\n').filter((l) => l.trim() && !/(data\/reference-results\.json|README\.md)$/.test(l));
    return dirty.length ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Seconds per notebook from the rows of the runner's timings.json (names without .ipynb). The runner
 * names the modes 'fast' and 'default'; results files name them 'fast' and 'course'.
 */
export function timesFromRunner(rows: { notebook: string; seconds: number; mode: string; ok?: boolean }[], mode: 'fast' | 'course'): Record<string, number> {
  const runnerMode = mode === 'course' ? 'default' : 'fast';
  return Object.fromEntries(rows.filter((r) => r.mode === runnerMode && r.ok !== false).map((r) => [path.basename(r.notebook, '.ipynb'), r.seconds]));
}

function readTimes(pagesDir: string, mode: 'fast' | 'course'): Record<string, number> {
  const file = path.join(pagesDir, 'timings.json');
  if (!fs.existsSync(file)) return {};
  return timesFromRunner(JSON.parse(fs.readFileSync(file, 'utf8')), mode);
}

/** One finished part of the chain (shared chapters or one seed): run it unless its done.json exists. */
async function runPart(a: Args, hash: string, seed: number | 'shared', label: string): Promise<DoneRun> {
  const mode = a.fast ? 'fast' : 'course';
  const dir = path.join(a.work, seed === 'shared' ? 'shared' : `seed-${seed}`);
  const doneFile = path.join(dir, 'done.json');
  if (fs.existsSync(doneFile)) {
    const done = JSON.parse(fs.readFileSync(doneFile, 'utf8')) as DoneRun;
    if (done.recipeHash === hash && done.mode === mode) {
      say(`${label}: already done (${doneFile}), skipped`);
      return done;
    }
    say(`${label}: ${doneFile} is of another recipe (${done.recipeHash}) or mode; running again`);
  }
  // A part that did not finish starts again from scratch: its partial checkpoints could be of any step.
  fs.rmSync(dir, { recursive: true, force: true });
  const runs = path.join(dir, 'runs');
  const modeDir = path.join(runs, mode);
  fs.mkdirSync(modeDir, { recursive: true });
  if (seed !== 'shared') {
    const sharedMode = path.join(a.work, 'shared', 'runs', mode);
    for (const s of SHARED_STAGES) {
      if (fs.existsSync(path.join(sharedMode, s))) fs.symlinkSync(path.join(sharedMode, s), path.join(modeDir, s));
    }
  }
  const env: Record<string, string> = { RLHF_RUNS: runs, RLHF_SEED: String(seed === 'shared' ? 0 : seed), RLHF_FAST: a.fast ? '1' : '' };
  const pages = path.join(dir, 'pages');
  const t0 = Date.now();
  await runCourse(seed === 'shared' ? SHARED_NOTEBOOKS : SEED_NOTEBOOKS, env, pages, `[${label}]`);
  const done: DoneRun = {
    seed, recipeHash: hash, mode, values: readRecorded(path.join(modeDir, 'recorded.json')).values,
    times: readTimes(pages, mode), machine: machine(), date: new Date().toISOString(), commit: commit(),
  };
  writeAtomic(doneFile, JSON.stringify(done, null, 1) + '\n');
  say(`${label}: done in ${minutes((Date.now() - t0) / 1000)}, ${Object.keys(done.values).length} quantities recorded`);
  return done;
}

/** Per-seed runs stored in an existing output file (its `runs` section), if compatible. */
function previousRuns(a: Args, hash: string): DoneRun[] {
  if (!fs.existsSync(a.out)) return [];
  const old = JSON.parse(fs.readFileSync(a.out, 'utf8')) as ReferenceFile & { runs?: DoneRun[] };
  const mode = a.fast ? 'fast' : 'course';
  if (old.recipeHash !== hash || old.mode !== mode) {
    if (!a.replace) {
      throw new Error(`reference: ${a.out} was made with recipe ${old.recipeHash} in ${old.mode} mode; this run is recipe ${hash} in ${mode} mode. `
        + 'Seeds of different recipes must not be merged: pass --replace to start it afresh.');
    }
    say(`${a.out}: other recipe or mode, replaced (--replace)`);
    return [];
  }
  return old.runs ?? [];
}

/** Summarise runs into the reference file: per key over the seeds, shared keys once. */
export function buildReference(runs: DoneRun[], hash: string, mode: 'fast' | 'course'): ReferenceFile & { runs: DoneRun[] } {
  const seedRuns = runs.filter((r) => r.seed !== 'shared').sort((x, y) => (x.seed as number) - (y.seed as number));
  const shared = runs.find((r) => r.seed === 'shared');
  const keys: Record<string, ReferenceEntry> = {};
  const add = (key: string, seeds: (number | 'shared')[], vals: RecordedValue[]) => {
    const unit: Unit = vals[0].unit;
    const nums = vals.map((v) => (typeof v.value === 'boolean' ? (v.value ? 1 : 0) : v.value));
    keys[key] = { unit, digits: vals[0].digits, ...meanSdRange(nums), values: vals.map((v) => v.value), seeds };
  };
  const seedKeys = new Set(seedRuns.flatMap((r) => Object.keys(r.values)));
  for (const key of [...seedKeys].sort()) {
    const have = seedRuns.filter((r) => r.values[key] !== undefined);
    add(key, have.map((r) => r.seed), have.map((r) => r.values[key]));
  }
  if (shared) for (const key of Object.keys(shared.values).sort()) if (!seedKeys.has(key)) add(key, ['shared'], [shared.values[key]]);
  const times: ReferenceFile['times'] = {};
  const names = new Set(runs.flatMap((r) => Object.keys(r.times)));
  for (const n of [...names].sort()) {
    const xs = runs.map((r) => r.times[n]).filter((x): x is number => typeof x === 'number');
    const s = meanSdRange(xs);
    times[n] = { mean: s.mean, min: s.min, max: s.max, runs: xs.length };
  }
  const last = [...runs].sort((x, y) => x.date.localeCompare(y.date)).pop()!;
  return {
    format: 1, mode, seeds: seedRuns.map((r) => r.seed as number), machine: last.machine, date: last.date, commit: last.commit,
    recipeHash: hash, times, keys, runs: [...(shared ? [shared] : []), ...seedRuns],
  };
}

const BEGIN = '<!-- reference:begin (written by npm run reference; do not edit by hand) -->';
const END = '<!-- reference:end -->';

/** "79.6% ± 3.1" for a number measured over several seeds (sd in the value's unit; a fraction's sd in
 * percentage points); empty for a yes/no result or one measured once. */
export function meanSd(e: ReferenceEntry): string {
  if (e.unit === 'bool' || e.values.length < 2) return '';
  const sd = formatValue(e.sd, e.unit, e.digits).replace(/%$/, '').replace(/ nats$/, '');
  return `${formatValue(e.mean, e.unit, e.digits)} ± ${sd}`;
}

/** The README block: where and when the reference ran, its headline results and the course times. */
export function readmeBlock(ref: ReferenceFile): string {
  const rows = README_KEYS.map(([k, what]) => {
    const e = ref.keys[k];
    return `| ${what} | ${e ? formatReference(e) : 'not recorded'} | ${e ? meanSd(e) : ''} |`;
  });
  const t = (n: string) => (ref.times[n] ? `${formatValue(ref.times[n].mean, 'seconds')}` : 'n/a');
  const all = [...SHARED_NOTEBOOKS, ...SEED_NOTEBOOKS];
  const perSeed = SEED_NOTEBOOKS.reduce((s, n) => s + (ref.times[n]?.mean ?? 0), 0);
  const sharedTime = SHARED_NOTEBOOKS.reduce((s, n) => s + (ref.times[n]?.mean ?? 0), 0);
  return [
    BEGIN,
    `Reference results (\`npm run reference\`, ${ref.mode === 'fast' ? 'fast mode' : 'default mode'}): seed${ref.seeds.length === 1 ? '' : 's'} ${ref.seeds.join(', ')} of chapters 04-08 `
      + `(chapters 02-03 once), ${ref.date.slice(0, 10)}, commit ${ref.commit}, ${ref.machine.cpu} (${ref.machine.cores} cores), recipe ${ref.recipeHash}.`,
    'Every number the chapters quote comes from this run, as a range over the seeds (`data/reference-results.json`).',
    '',
    '| result | reference | mean ± sd |',
    '| --- | --- | --- |',
    ...rows,
    '',
    `Course times (mean over runs): ${all.map((n) => `${n.slice(0, 2)} ${t(n)}`).join(', ')}; chapters 04-08 ${formatValue(perSeed, 'seconds')} per seed, `
      + `02-03 ${formatValue(sharedTime, 'seconds')}. The reference command itself: about ${formatValue(sharedTime + ref.seeds.length * perSeed, 'seconds')} for ${ref.seeds.length} seed${ref.seeds.length === 1 ? '' : 's'}.`,
    END,
  ].join('\n');
}

/** Replace the marked block of `file` (or append one at the end if it has none). */
export function writeReadmeBlock(file: string, block: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const i = text.indexOf(BEGIN.slice(0, 24)), j = text.indexOf(END);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeAtomic(file, next);
}

/** For the course build: the recipe hash, the reference's, and the text of each placeholder key. */
function texts(keys: string[]): string {
  const ref = loadReference();
  return JSON.stringify({
    recipeHash: chainHash(),
    reference: ref ? { recipeHash: ref.recipeHash, date: ref.date, seeds: ref.seeds, mode: ref.mode } : null,
    texts: Object.fromEntries(keys.map((k) => [k, refText(k, ref)])),
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--texts') {
    console.log(texts(argv.slice(1)));
    return 0;
  }
  const a = parseArgs(argv);
  const hash = chainHash();
  if (a.hash) {
    console.log(hash);
    return 0;
  }
  const mode = a.fast ? 'fast' : 'course';
  const previous = previousRuns(a, hash);
  say(`${mode} mode, seeds ${a.seeds.join(', ')}, recipe ${hash}; work in ${path.relative(ROOT, a.work) || a.work}, results to ${a.out}`);
  if (!a.fast) say('expect about 24 minutes per seed of chapters 04-08 on an idle 2-core machine, plus about 10 minutes for 02-03 once (the README block has the times of the last reference run)');
  const t0 = Date.now();
  const runs: DoneRun[] = [await runPart(a, hash, 'shared', 'chapters 02-03')];
  for (const [i, seed] of a.seeds.entries()) {
    runs.push(await runPart(a, hash, seed, `seed ${seed} (${i + 1}/${a.seeds.length})`));
    const elapsed = (Date.now() - t0) / 1000;
    say(`${i + 1} of ${a.seeds.length} seeds finished, ${minutes(elapsed)} so far`);
  }
  // Merge: this invocation's runs replace earlier ones of the same seed.
  const mine = new Set(runs.map((r) => String(r.seed)));
  const merged = [...previous.filter((r) => !mine.has(String(r.seed))), ...runs];
  const ref = buildReference(merged, hash, mode);
  writeAtomic(a.out, JSON.stringify(ref, null, 1) + '\n');
  say(`wrote ${a.out}: seeds ${ref.seeds.join(', ')}, ${Object.keys(ref.keys).length} keys`);
  if (a.readme) {
    writeReadmeBlock(a.readme, readmeBlock(ref));
    say(`rewrote the reference block of ${a.readme}`);
  }
  return 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
