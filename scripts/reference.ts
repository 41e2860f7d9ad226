/**
 * npm run reference: the course's reference results, the numbers its text quotes.
 *
 * Runs the chapters through the course runner (scripts/run_course.py: the notebooks themselves,
 * through Jupyter, as a student runs them; no second copy of their logic), one chapter at a time:
 * the registry's shared chapters once (pretraining and SFT are not re-seeded), its seeded chapters
 * once per seed with RLHF_SEED set, each seed in its own runs folder (lib/course/chapters.ts says
 * which is which). Every notebook records its quantities (rl.record -> recorded.json); what one
 * chapter's run recorded is kept as that chapter's run. This script summarises them per key over
 * the seeds (mean, sd, min, max, per-seed values) into data/reference-results.json with each
 * chapter's recipe hash, seeds, machine, date and commit, and rewrites the marked block of
 * README.md (quoted results and course times), and writes the new texts into the notebooks' markdown
 * markers (scripts/fill_notebooks.ts). Only this command writes them.
 *
 * Per chapter: each chapter has its own recipe hash (lib/course/recipe.ts: its code cells, the lib
 * files it runs, the hashes of the chapters whose artifacts it loads). A run re-runs, per seed, only
 * the chapters whose hash changed (and so those downstream) or that lack the seed, plus upstream
 * chapters whose artifacts that seed's work folder lacks; the others keep their runs. A new chapter
 * adds its seeds without re-running the others.
 *
 *   npm run reference                      # seeds 0, 1, 2 in default mode (the README block has the times)
 *   npm run reference -- --plan            # what would run, per seed and chapter, and why; runs nothing
 *   npm run reference -- --seeds 3,4       # more seeds, merged into the existing file
 *   npm run reference -- --fast --out /tmp/ref.json --work /tmp/refwork   # fast mode (a test of the machinery)
 *   npm run reference -- --hash            # print every chapter's recipe hash
 *   npm run reference -- --texts KEY...    # JSON: the registry's chapters, the stale ones and each key's reference
 *                                          # text (the course build calls this to fill {{ref KEY}} and <!--ref KEY--> markers and name stale chapters)
 *
 * Resumable: each finished chapter leaves <work>/<shared|seed-k>/chapters/<notebook>.json; a re-run
 * skips it while its hash holds. A file of format 1 (one hash for the whole chain, before per-chapter
 * recipes) reads as stale for every chapter; writing over it needs --replace, since its seeds
 * cannot be split by chapter.
 *
 * Options: --seeds a,b,c (default 0,1,2) | --fast | --out FILE (default data/reference-results.json;
 * fast mode: build/reference/fast-results.json) | --work DIR (default build/reference/<mode>) |
 * --readme FILE (default README.md when writing the default-mode default file, else none) |
 * --replace (start the output afresh when its mode differs or it is of format 1) | --plan | --hash.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, execFileSync } from 'child_process';
import {
  readRecorded, meanSdRange, loadReference, refText, formatReference, formatValue, ReferenceFile, ReferenceEntry, RecordedValue, Unit, ChapterRun,
} from '../lib/course/results';
import { CHAPTERS, ChapterEntry, chapterOf, chapterSpan, referenceChapters } from '../lib/course/chapters';
import { chapterHashes, ChapterRecipe, notebookCodeCells, PlannedRun, planReference, staleChapters } from '../lib/course/recipe';
import { STAGES } from '../lib/course/stages';
import { writeAtomic } from '../lib/core/files';
import { fillNotebooks } from './fill_notebooks';

const ROOT = path.resolve(__dirname, '..');

/** The results README.md quotes, in its marked block (key, what it is; the chapter comes from the registry's key prefixes). */
export const README_KEYS: [string, string][] = [
  ['pretrain.heldOutNatsPerChar', 'GPT held-out loss (nats/char)'],
  ['sft.endRate', 'SFT replies that end their turn'],
  ['rm.accVsGold', 'reward model, held-out accuracy vs gold (labeler noise T = 0.1)'],
  ['rm.t1.accVsGold', 'reward model on the policy\'s temperature-1 samples'],
  ['ppo.beta0.05.gold', 'PPO beta 0.05, gold on held-out prompts'],
  ['ppo.beta0.05.kl', 'PPO beta 0.05, KL to SFT'],
  ['ppo.beta0.005.gaveBack', 'small beta, share of its rollout gold gain given back after the peak'],
  ['ppo.beta0.005.fellBeyondNoise', 'small beta, gold fell after its peak by more than 2 standard errors'],
  ['bon.n16.gold', 'best-of-16, gold'],
  ['rs.n8.cheaperThanBonSample', 'rejection sampling (N = 8) spent less KL than best-of-8 (sample estimates, paired over prompts), by more than 2 standard errors'],
  ['dpo.beta0.1.winRate', 'DPO beta 0.1, gold win rate vs SFT'],
  ['eval.ppo.beta0.05.endsFrontier', 'PPO beta 0.05 ends the gold frontier (the most gold of all policies)'],
  ['eval.ppo.beta0.05.aheadOfBestOfN', 'PPO beta 0.05 has more gold than the best best-of-N (paired over prompts), by more than 2 standard errors'],
];

/** The chapter whose key prefixes (chapters.ts `keys`) hold `key`. */
export function keyChapter(key: string): ChapterEntry | undefined {
  return CHAPTERS.find((c) => c.keys.some((p) => key.startsWith(p)));
}

interface Args {
  seeds: number[]; fast: boolean; out: string; work: string; readme: string | null; replace: boolean; hash: boolean; plan: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`reference: ${name} needs a value`);
    return v;
  };
  const known = new Set(['--seeds', '--fast', '--out', '--work', '--readme', '--replace', '--hash', '--plan']);
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
  return { seeds, fast, out, work, readme, replace: argv.includes('--replace'), hash: argv.includes('--hash'), plan: argv.includes('--plan') };
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

function machine(): { cpu: string; cores: number } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length };
}

/**
 * HEAD, with "-dirty" when a tracked file differs from it, except what this command writes itself:
 * the results file, README.md and the notebooks' markdown (a notebook counts only if a code cell differs).
 */
export function commit(root = ROOT): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).toString()
      .split('\n').filter((l) => l.trim() && !/(data\/reference-results\.json|README\.md)$/.test(l))
      .filter((l) => {
        const file = l.slice(3).trim();
        if (!/^notebooks\/.*\.ipynb$/.test(file) || !fs.existsSync(path.join(root, file))) return true;
        const before = execFileSync('git', ['show', `HEAD:${file}`], { cwd: root, maxBuffer: 64 << 20 }).toString();
        return JSON.stringify(notebookCodeCells(before)) !== JSON.stringify(notebookCodeCells(fs.readFileSync(path.join(root, file), 'utf8')));
      });
    return dirty.length ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** A row of the runner's timings.json. */
export interface RunnerTiming { notebook: string; seconds: number; mode: string; ok?: boolean; cells?: { cell: number; id?: string | null; seconds: number }[] }

/**
 * Seconds per notebook from the rows of the runner's timings.json (names without .ipynb). The runner
 * names the modes 'fast' and 'default'; results files name them 'fast' and 'course'.
 */
export function timesFromRunner(rows: RunnerTiming[], mode: 'fast' | 'course'): Record<string, number> {
  const runnerMode = mode === 'course' ? 'default' : 'fast';
  return Object.fromEntries(rows.filter((r) => r.mode === runnerMode && r.ok !== false).map((r) => [path.basename(r.notebook, '.ipynb'), r.seconds]));
}

/** Seconds per code cell (by cell id) of one notebook, from the runner's rows. */
export function cellTimesFromRunner(rows: RunnerTiming[], mode: 'fast' | 'course', notebook: string): Record<string, number> {
  const runnerMode = mode === 'course' ? 'default' : 'fast';
  const row = rows.find((r) => r.mode === runnerMode && r.ok !== false && path.basename(r.notebook, '.ipynb') === notebook);
  return Object.fromEntries((row?.cells ?? []).filter((c) => c.id).map((c) => [c.id!, c.seconds]));
}

function readTimings(pagesDir: string): RunnerTiming[] {
  const file = path.join(pagesDir, 'timings.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
}

/** The work folder of a seed (or of the shared chapters) and a chapter's marker in it. */
const partDir = (a: Args, seed: number | 'shared') => path.join(a.work, seed === 'shared' ? 'shared' : `seed-${seed}`);
const markerFile = (a: Args, chapter: string, seed: number | 'shared') => path.join(partDir(a, seed), 'chapters', `${chapter}.json`);

/** True if this seed's work folder holds a finished run of `chapter` at `hash` (its artifacts are there). */
function workHas(a: Args, chapter: string, seed: number | 'shared', hash: string): boolean {
  const f = markerFile(a, chapter, seed);
  if (!fs.existsSync(f)) return false;
  const run = JSON.parse(fs.readFileSync(f, 'utf8')) as ChapterRun;
  return run.hash === hash && run.mode === (a.fast ? 'fast' : 'course');
}

/** Artifacts the shared chapters hand on (linked into every seed's runs folder). */
const sharedStages = () => referenceChapters('shared').flatMap((c) => c.hands).map((h) => STAGES[h as keyof typeof STAGES]).filter(Boolean);

/** Run one chapter for one seed; what it recorded (keys new or rewritten during its run) becomes its run. */
async function runChapter(a: Args, hashes: Record<string, ChapterRecipe>, p: PlannedRun, label: string): Promise<ChapterRun> {
  const mode = a.fast ? 'fast' : 'course';
  const dir = partDir(a, p.seed);
  const modeDir = path.join(dir, 'runs', mode);
  fs.mkdirSync(modeDir, { recursive: true });
  fs.rmSync(markerFile(a, p.chapter, p.seed), { force: true });
  const c = chapterOf(p.chapter);
  // A chapter's own artifacts start afresh (a partial checkpoint could be of any step); results and policies are per file.
  for (const h of c.hands) if (h in STAGES && !['results', 'histories'].includes(h)) fs.rmSync(path.join(modeDir, STAGES[h as keyof typeof STAGES]), { recursive: true, force: true });
  if (p.seed !== 'shared') {
    const sharedMode = path.join(partDir(a, 'shared'), 'runs', mode);
    for (const st of sharedStages()) {
      const link = path.join(modeDir, st);
      if (!fs.existsSync(link) && fs.existsSync(path.join(sharedMode, st))) fs.symlinkSync(path.join(sharedMode, st), link);
    }
  }
  const recordedFile = path.join(modeDir, 'recorded.json');
  const before = readRecorded(recordedFile).values;
  // RLHF_REFERENCE: the file being built, so the runner's stale-chapter line speaks of it, not of data/'s.
  const env: Record<string, string> = {
    RLHF_RUNS: path.join(dir, 'runs'), RLHF_SEED: String(p.seed === 'shared' ? 0 : p.seed), RLHF_FAST: a.fast ? '1' : '', RLHF_REFERENCE: a.out,
  };
  const pages = path.join(dir, 'pages');
  const t0 = Date.now();
  await runCourse([p.chapter], env, pages, `[${label}]`);
  const after = readRecorded(recordedFile).values;
  const values = Object.fromEntries(Object.entries(after).filter(([k, v]) => before[k]?.at !== v.at));
  const run: ChapterRun = {
    chapter: p.chapter, seed: p.seed, hash: hashes[p.chapter].hash, mode, values, seconds: timesFromRunner(readTimings(pages), mode)[p.chapter] ?? null,
    cells: cellTimesFromRunner(readTimings(pages), mode, p.chapter),
    machine: machine(), date: new Date().toISOString(), commit: commit(),
  };
  writeAtomic(markerFile(a, p.chapter, p.seed), JSON.stringify(run, null, 1) + '\n');
  say(`${label}: done in ${minutes((Date.now() - t0) / 1000)}, ${Object.keys(values).length} quantities recorded`);
  return run;
}

/**
 * Cells whose mean reference time reaches this many seconds get a time key the text can quote. Half
 * the contract's minute, so that a cell near a minute keeps its key when more seeds move its mean
 * below 60 s, and a text may warn before a cell of 30-60 s too.
 */
export const QUOTABLE_CELL_SECONDS = 30;

/**
 * Summarise chapter runs into the reference file: per key over the seeds (a key recorded by two
 * chapters of one seed takes the later chapter's value), shared keys once; per chapter its hash and
 * seeds; times per notebook over its runs.
 */
export function buildReference(runs: ChapterRun[], mode: 'fast' | 'course'): ReferenceFile {
  const order = new Map(CHAPTERS.map((c, i) => [c.notebook, i]));
  const sorted = [...runs].sort((x, y) => order.get(x.chapter)! - order.get(y.chapter)!);
  const perKey = new Map<string, Map<number | 'shared', RecordedValue>>();
  for (const r of sorted) for (const [k, v] of Object.entries(r.values)) {
    if (!perKey.has(k)) perKey.set(k, new Map());
    perKey.get(k)!.set(r.seed, v);
  }
  const keys: Record<string, ReferenceEntry> = {};
  for (const k of [...perKey.keys()].sort()) {
    const bySeed = perKey.get(k)!;
    const numbered = [...bySeed.keys()].filter((s): s is number => s !== 'shared').sort((x, y) => x - y);
    const seeds: (number | 'shared')[] = numbered.length ? numbered : ['shared'];
    const vals = seeds.map((s) => bySeed.get(s)!);
    const nums = vals.map((v) => (typeof v.value === 'boolean' ? (v.value ? 1 : 0) : v.value));
    const unit: Unit = vals[0].unit;
    keys[k] = { unit, digits: vals[0].digits, ...meanSdRange(nums), values: vals.map((v) => v.value), seeds };
  }
  const chapters: ReferenceFile['chapters'] = {};
  const times: ReferenceFile['times'] = {};
  for (const c of CHAPTERS) {
    const mine = sorted.filter((r) => r.chapter === c.notebook);
    if (!mine.length) continue;
    chapters[c.notebook] = { hash: mine[0].hash, seeds: [...new Set(mine.map((r) => r.seed))].sort((x, y) => (x === 'shared' ? -1 : y === 'shared' ? 1 : x - y)) };
    const xs = mine.map((r) => r.seconds).filter((x): x is number => typeof x === 'number');
    if (!xs.length) continue;
    const t = meanSdRange(xs);
    const ids = [...new Set(mine.flatMap((r) => Object.keys(r.cells ?? {})))];
    const cells = Object.fromEntries(ids.map((id) => [id, meanSdRange(mine.map((r) => r.cells?.[id]).filter((x): x is number => typeof x === 'number')).mean]));
    times[c.notebook] = { mean: t.mean, min: t.min, max: t.max, runs: xs.length, ...(ids.length ? { cells } : {}) };
    // Times the text can quote: {{ref time.<notebook>}}, and {{ref time.<notebook>.<cell id>}} for cells of
    // QUOTABLE_CELL_SECONDS or more (the contract asks for one before every cell over a minute)
    const timeKey = (k: string, v: number[]) => { keys[k] = { unit: 'seconds', digits: 0, ...meanSdRange(v), values: v, seeds: mine.map((r) => r.seed).slice(0, v.length) }; };
    timeKey(`time.${c.notebook}`, xs);
    for (const id of ids) {
      const v = mine.map((r) => r.cells?.[id]).filter((x): x is number => typeof x === 'number');
      if (v.length && meanSdRange(v).mean >= QUOTABLE_CELL_SECONDS) timeKey(`time.${c.notebook}.${id}`, v);
    }
  }
  const last = [...runs].sort((x, y) => x.date.localeCompare(y.date)).pop()!;
  const seeds = [...new Set(runs.map((r) => r.seed).filter((s): s is number => s !== 'shared'))].sort((x, y) => x - y);
  return { format: 2, mode, seeds, machine: last.machine, date: last.date, commit: last.commit, chapters, times, keys, runs: sorted };
}

const BEGIN = '<!-- reference:begin (written by npm run reference; do not edit by hand) -->';
export const REFERENCE_END = '<!-- reference:end -->';
const END = REFERENCE_END;

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
    const ch = keyChapter(k);
    return `| ${ch ? `chapter ${ch.number}: ` : ''}${what} | ${e ? formatReference(e) : 'reference pending (not in this reference run)'} | ${e ? meanSd(e) : ''} |`;
  });
  const t = (n: string) => (ref.times[n] ? `${formatValue(ref.times[n].mean, 'seconds')}` : 'n/a');
  const shared = referenceChapters('shared').filter((c) => ref.chapters[c.notebook]);
  const seeded = referenceChapters('seeded').filter((c) => ref.chapters[c.notebook]);
  const all = [...shared, ...seeded];
  const sum = (cs: ChapterEntry[]) => cs.reduce((s, c) => s + (ref.times[c.notebook]?.mean ?? 0), 0);
  const perSeed = sum(seeded), sharedTime = sum(shared);
  const span = (cs: ChapterEntry[]) => chapterSpan(cs.map((c) => c.number));
  const recipe = ref.legacyRecipeHash ? `recipe ${ref.legacyRecipeHash} (one for the whole chain, before per-chapter recipes)` : 'a recipe hash per chapter';
  return [
    BEGIN,
    `Reference results (\`npm run reference\`, ${ref.mode === 'fast' ? 'fast mode' : 'default mode'}): seed${ref.seeds.length === 1 ? '' : 's'} ${ref.seeds.join(', ')} of chapters ${span(seeded)} `
      + `(chapters ${span(shared)} once), ${ref.date.slice(0, 10)}, commit ${ref.commit}, ${ref.machine.cpu} (${ref.machine.cores} cores), ${recipe}.`,
    'Every number the chapters quote comes from this run, as a range over the seeds (`data/reference-results.json`).',
    '',
    '| result | reference | mean ± sd |',
    '| --- | --- | --- |',
    ...rows,
    '',
    `Course times (mean over runs): ${all.map((c) => `${c.number} ${t(c.notebook)}`).join(', ')}; chapters ${span(seeded)} ${formatValue(perSeed, 'seconds')} per seed, `
      + `${span(shared)} ${formatValue(sharedTime, 'seconds')}. The reference command itself: about ${formatValue(sharedTime + ref.seeds.length * perSeed, 'seconds')} for ${ref.seeds.length} seed${ref.seeds.length === 1 ? '' : 's'}.`,
    END,
  ].join('\n');
}

/**
 * `text` with its marked block replaced by `block`, whose first and last lines are the markers (the
 * begin marker matched up to its comment, so a reworded comment still matches); null when `text` has
 * no such block. The reference's block here, the cross-check's in scripts/crosscheck.ts.
 */
export function replaceMarkedBlock(text: string, block: string): string | null {
  const lines = block.split('\n');
  const begin = lines[0].split(' (')[0], end = lines[lines.length - 1];
  const i = text.indexOf(begin), j = text.indexOf(end);
  return i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : null;
}

/** Replace the marked block of `file` (or append one at the end if it has none). */
export function writeReadmeBlock(file: string, block: string): void {
  const text = fs.readFileSync(file, 'utf8');
  writeAtomic(file, replaceMarkedBlock(text, block) ?? `${text.trimEnd()}\n\n${block}\n`);
}

/**
 * For the course build: the registry's chapters (number, notebook, part, title), the reference's
 * date and seeds, its stale chapters with why, and the text of each placeholder key.
 */
export function texts(keys: string[], ref: ReferenceFile | null = loadReference(), hashes = chapterHashes()): string {
  return JSON.stringify({
    chapters: CHAPTERS.map((c) => ({ number: c.number, notebook: c.notebook, part: c.part, title: c.title })),
    reference: ref ? { date: ref.date, seeds: ref.seeds, mode: ref.mode, legacyRecipeHash: ref.legacyRecipeHash ?? null } : null,
    stale: staleChapters(ref, hashes),
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
  const hashes = chapterHashes();
  if (a.hash) {
    for (const [n, r] of Object.entries(hashes)) console.log(`${r.hash}  ${n}`);
    return 0;
  }
  const mode = a.fast ? 'fast' : 'course';
  const old = fs.existsSync(a.out) ? loadReference(a.out) : null;
  const plan = planReference({ hashes, ref: old && old.mode === mode ? old : null, seeds: a.seeds, workHas: (c, s, h) => workHas(a, c, s, h) });
  const seedLabel = (s: number | 'shared') => (s === 'shared' ? 'shared' : `seed ${s}`);
  if (a.plan) {
    if (!plan.length) say(`nothing to run: every chapter of seeds ${a.seeds.join(', ')} is in ${a.out} at its current recipe`);
    for (const p of plan) console.log(`${seedLabel(p.seed).padEnd(8)} ${p.chapter.padEnd(18)} ${p.why}`);
    return 0;
  }
  if (old && (old.mode !== mode || old.legacyRecipeHash) && !a.replace) {
    throw new Error(`reference: ${a.out} is ${old.legacyRecipeHash ? `of format 1 (one recipe ${old.legacyRecipeHash} for the chain; its seeds cannot be split by chapter)` : `of ${old.mode} mode`}; `
      + 'pass --replace to start it afresh.');
  }
  say(`${mode} mode, seeds ${a.seeds.join(', ')}; work in ${path.relative(ROOT, a.work) || a.work}, results to ${a.out}; ${plan.length} chapter run(s) to do`);
  const t0 = Date.now();
  const runs: ChapterRun[] = [];
  for (const [i, p] of plan.entries()) {
    const label = `${seedLabel(p.seed)} ${p.chapter} (${i + 1}/${plan.length}: ${p.why})`;
    runs.push(await runChapter(a, hashes, p, label));
    say(`${i + 1} of ${plan.length} chapter runs finished, ${minutes((Date.now() - t0) / 1000)} so far`);
  }
  // Merge: keep earlier runs of the current recipe that this invocation did not redo.
  const redone = new Set(runs.map((r) => `${r.chapter}@${r.seed}`));
  const kept = (old && !old.legacyRecipeHash && old.mode === mode ? old.runs : []).filter((r) => hashes[r.chapter]?.hash === r.hash && !redone.has(`${r.chapter}@${r.seed}`));
  const dropped = (old?.runs ?? []).length - kept.length - (old?.runs ?? []).filter((r) => redone.has(`${r.chapter}@${r.seed}`)).length;
  if (dropped > 0) say(`${dropped} earlier chapter run(s) of another recipe left out (their seeds must be run again)`);
  const ref = buildReference([...kept, ...runs], mode);
  writeAtomic(a.out, JSON.stringify(ref, null, 1) + '\n');
  say(`wrote ${a.out}: seeds ${ref.seeds.join(', ')}, ${Object.keys(ref.keys).length} keys`);
  if (a.readme) {
    writeReadmeBlock(a.readme, readmeBlock(ref));
    say(`rewrote the reference block of ${a.readme}`);
    say(`notebooks: ${fillNotebooks(path.join(ROOT, 'notebooks'), ref).length} rewritten with the new reference texts (scripts/fill_notebooks.ts)`);
  }
  return 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
