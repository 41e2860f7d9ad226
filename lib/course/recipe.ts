/**
 * The recipe of each chapter, hashed: what must not change for the reference results
 * (data/reference-results.json) to describe a student's run of that chapter.
 *
 * A chapter's hash covers
 *   - its notebook's code cells (markdown is text, not recipe);
 *   - the library code it runs: the lib files exporting the `rl.*` names its code uses and every
 *     file they import, transitively (type-only imports left out; the native kernels' C++ sources
 *     with the native module). A conclusion threshold (eval/conclusions.ts) or the gold scorer
 *     (feedback/task.ts) thus marks the chapters that reach it;
 *   - the presets of the registry's trainers whose module it reaches (courseRecipe);
 *   - the hashes of the chapters whose artifacts it loads (chapters.ts `loads`), so a change
 *     reaches every chapter downstream.
 * The file-level closure is coarse on purpose (a test can check it): course/stages.ts, which
 * every chapter from 02 on reaches to save or load an artifact, imports the task and the
 * sampling code, so a change there marks chapter 02 too. It never misses a file a chapter runs.
 *
 * `npm run reference` (scripts/reference.ts) re-runs a chapter for a seed when its hash differs
 * from the one its reference runs were made with (planReference); the course build names the
 * stale chapters (staleChapters).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { GPT_PRESETS } from '../model/model';
import { TRAIN_DEFAULTS } from '../train/train';
import { PRETRAIN_PRESETS } from '../train/pretrain';
import { COURSE_BPE_MERGES } from '../text/bpe';
import { SFT_PRESETS } from '../methods/sft';
import { REWARD_PRESETS } from '../methods/reward';
import { CRITIC_FREE_PRESETS } from '../methods/criticFree';
import { PPO_PRESETS } from '../methods/ppo';
import { DPO_PRESETS } from '../methods/dpo';
import { DEFAULT_GOLD, DEFAULT_TASK } from '../feedback/task';
import { COMPARISON_TEMPERATURE } from './stages';
import { CHAPTERS, ChapterEntry, registeredTrainers, upstreamOf } from './chapters';
import type { ReferenceFile } from './results';

/** JSON with object keys sorted at every level (arrays keep their order); functions are refused. */
export function canonicalJson(x: unknown): string {
  if (x === null || typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return JSON.stringify(x);
  if (x === undefined) return 'null';
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  if (typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new Error(`canonicalJson: cannot hash a ${typeof x}`);
}

/** First 16 hex digits of the SHA-256 of the canonical JSON of `recipe`. */
export function hashRecipe(recipe: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(recipe)).digest('hex').slice(0, 16);
}

/** The presets the registry names (chapters.ts TrainerEntry.presets), by export name. */
const PRESETS: Record<string, unknown> = { PRETRAIN_PRESETS, SFT_PRESETS, REWARD_PRESETS, PPO_PRESETS, DPO_PRESETS, CRITIC_FREE_PRESETS };

/**
 * The library's recipe: every registered trainer's presets (tiny and course) under its recipe key,
 * read from the chapter registry (a trainer missing there fails test/chapters.test.ts), and the
 * settings every chapter shares: the model presets, the training defaults, the BPE merge count,
 * the gold score and the chat task, the comparison temperature.
 */
export function courseRecipe(): Record<string, unknown> {
  const trainers = Object.fromEntries(registeredTrainers().map((t) => {
    if (!(t.presets.name in PRESETS)) throw new Error(`courseRecipe: the registry names presets ${t.presets.name} (${t.trainer}) that lib/course/recipe.ts does not import`);
    return [t.recipeKey, PRESETS[t.presets.name]];
  }));
  return {
    ...trainers, gpt: GPT_PRESETS, train: TRAIN_DEFAULTS, bpeMerges: COURSE_BPE_MERGES, gold: DEFAULT_GOLD, task: DEFAULT_TASK,
    comparisonTemperature: COMPARISON_TEMPERATURE,
  };
}

const LIB = path.resolve(__dirname, '..');

/** Files outside TypeScript that a module runs: the native addon's sources (built into engine/native/build). */
const ASSETS: Record<string, string[]> = { 'engine/native/': ['binding.gyp', 'src'] };

const read = (f: string) => fs.readFileSync(f, 'utf8');
const rel = (f: string, lib: string) => path.relative(lib, f).split(path.sep).join('/');

/** Relative imports of a TypeScript/JavaScript source that run (not `import type` / `export type`). */
export function runtimeImports(source: string): string[] {
  const out: string[] = [];
  const res = [
    /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm,
    /\brequire\(\s*['"](\.[^'"]+)['"]\s*\)/g,
    /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  ];
  for (const re of res) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

function resolveImport(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  return null;
}

/** Exported names of a lib file and the file each comes from, following `export *` and `export { } from`. */
function exportsOf(file: string, seen = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  if (seen.has(file)) return out;
  seen.add(file);
  const src = read(file);
  for (const m of src.matchAll(/^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|var|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm)) out.set(m[1], file);
  for (const m of src.matchAll(/^export\s+\*\s+from\s+['"](\.[^'"]+)['"]/gm)) {
    const f = resolveImport(file, m[1]);
    if (f) for (const [k, v] of exportsOf(f, seen)) if (!out.has(k)) out.set(k, v);
  }
  for (const m of src.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"](\.[^'"]+)['"]/gm)) {
    const f = resolveImport(file, m[2]);
    if (!f) continue;
    const inner = exportsOf(f, new Set(seen));
    for (const part of m[1].split(',').map((x) => x.trim()).filter(Boolean)) {
      const [name, alias] = part.replace(/^type\s+/, '').split(/\s+as\s+/);
      out.set(alias ?? name, inner.get(name) ?? f);
    }
  }
  return out;
}

/** The lib files a notebook's code runs (relative to lib/, sorted): see the header. */
export function libraryClosure(code: string, lib = LIB): string[] {
  const exported = exportsOf(path.join(lib, 'index.ts'));
  const start = new Set<string>();
  for (const m of code.matchAll(/\brl\.([A-Za-z_$][\w$]*)/g)) {
    const f = exported.get(m[1]);
    if (f) start.add(f);
  }
  const files = new Set<string>();
  const todo = [...start];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    if (!/\.(ts|js)$/.test(f)) continue;
    for (const spec of runtimeImports(read(f))) {
      const g = resolveImport(f, spec);
      if (g && g.startsWith(lib + path.sep)) todo.push(g);
    }
  }
  for (const [dir, extra] of Object.entries(ASSETS)) {
    if (![...files].some((f) => rel(f, lib).startsWith(dir))) continue;
    for (const e of extra) {
      const full = path.join(lib, dir, e);
      if (!fs.existsSync(full)) continue;
      const walk = (p: string): string[] => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).flatMap((x) => walk(path.join(p, x))) : [p]);
      for (const f of walk(full)) files.add(f);
    }
  }
  return [...files].map((f) => rel(f, lib)).sort();
}

/** The code cells of a notebook's JSON text, joined per cell (what the hash covers; markdown is text). */
export function notebookCodeCells(json: string): string[] {
  const cells = (JSON.parse(json) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
  return cells.filter((c) => c.cell_type === 'code').map((c) => [c.source].flat().join(''));
}

/** A notebook file's code cells (notebookCodeCells of its text). */
export function notebookCode(file: string): string[] {
  if (!fs.existsSync(file)) throw new Error(`recipe: notebook ${file} is missing (its chapter is in lib/course/chapters.ts)`);
  return notebookCodeCells(read(file));
}

export interface ChapterRecipe {
  hash: string;
  /** lib files it runs (relative to lib/). */
  library: string[];
  /** Notebooks of the chapters whose hashes it includes. */
  upstream: string[];
}

/** Every chapter's recipe hash, in course order (upstream chapters first). */
export function chapterHashes(opts: { notebooks?: string; lib?: string; chapters?: readonly ChapterEntry[] } = {}): Record<string, ChapterRecipe> {
  const lib = opts.lib ?? LIB;
  const dir = opts.notebooks ?? path.join(lib, '..', 'notebooks');
  const recipe = courseRecipe();
  const out: Record<string, ChapterRecipe> = {};
  for (const c of opts.chapters ?? CHAPTERS) {
    const code = notebookCode(path.join(dir, `${c.notebook}.ipynb`));
    const library = libraryClosure(code.join('\n'), lib);
    const files = Object.fromEntries(library.map((f) => [f, crypto.createHash('sha256').update(fs.readFileSync(path.join(lib, f))).digest('hex')]));
    const presets = Object.fromEntries(registeredTrainers().filter((t) => library.includes(`${t.presets.module}.ts`)).map((t) => [t.recipeKey, recipe[t.recipeKey]]));
    const upstream = upstreamOf(c).map((u) => u.notebook);
    const missing = upstream.filter((u) => !out[u]);
    if (missing.length) throw new Error(`recipe: ${c.notebook} loads artifacts of ${missing.join(', ')}, which come later in lib/course/chapters.ts`);
    out[c.notebook] = {
      hash: hashRecipe({ code, files, presets, shared: { gpt: recipe.gpt, train: recipe.train }, upstream: Object.fromEntries(upstream.map((u) => [u, out[u].hash])) }),
      library, upstream,
    };
  }
  return out;
}

/** Chapters of the reference whose runs were made with another recipe (or never), with why. */
export function staleChapters(ref: ReferenceFile | null, hashes: Record<string, ChapterRecipe>): { chapter: string; why: string }[] {
  return CHAPTERS.filter((c) => c.reference !== 'none').flatMap((c) => {
    const have = ref?.chapters[c.notebook];
    if (!have) return [{ chapter: c.notebook, why: 'not in the reference' }];
    if (have.hash.startsWith('legacy:')) return [{ chapter: c.notebook, why: 'made before per-chapter recipes' }];
    return have.hash === hashes[c.notebook].hash ? [] : [{ chapter: c.notebook, why: 'its code or the library code it runs changed' }];
  });
}

/** One chapter to run for one seed, and why. */
export interface PlannedRun { chapter: string; seed: number | 'shared'; why: string }

/**
 * What `npm run reference` runs: per seed (shared chapters once), every chapter whose reference runs
 * are of another hash or lack that seed, then, for each of those, the upstream chapters whose
 * artifacts that seed's work folder does not hold at their current hash (`workHas`). In course order.
 */
export function planReference(o: {
  hashes: Record<string, ChapterRecipe>; ref: ReferenceFile | null; seeds: number[];
  workHas: (chapter: string, seed: number | 'shared', hash: string) => boolean; chapters?: readonly ChapterEntry[];
}): PlannedRun[] {
  const chapters = (o.chapters ?? CHAPTERS).filter((c) => c.reference !== 'none');
  const byName = new Map(chapters.map((c) => [c.notebook, c]));
  const slot = (c: ChapterEntry, seed: number): number | 'shared' => (c.reference === 'shared' ? 'shared' : seed);
  const plan = new Map<string, PlannedRun>();
  const add = (c: ChapterEntry, seed: number | 'shared', why: string) => {
    const id = `${c.notebook}@${seed}`;
    if (!plan.has(id)) plan.set(id, { chapter: c.notebook, seed, why });
  };
  for (const seed of o.seeds) {
    for (const c of chapters) {
      const s = slot(c, seed);
      const have = o.ref?.chapters[c.notebook];
      const hash = o.hashes[c.notebook].hash;
      if (!have || have.hash !== hash) add(c, s, have ? (have.hash.startsWith('legacy:') ? 'made before per-chapter recipes' : 'recipe changed') : 'new chapter');
      else if (!have.seeds.includes(s)) add(c, s, 'new seed');
    }
  }
  // Upstream artifacts a planned run needs, when this seed's work folder lacks them at their current hash.
  const todo = [...plan.values()];
  while (todo.length) {
    const run = todo.pop()!;
    for (const u of o.hashes[run.chapter].upstream) {
      const uc = byName.get(u);
      if (!uc) continue;
      const s = uc.reference === 'shared' ? 'shared' : run.seed;
      if (plan.has(`${u}@${s}`) || o.workHas(u, s, o.hashes[u].hash)) continue;
      add(uc, s, `artifacts needed by ${run.chapter}`);
      todo.push(plan.get(`${u}@${s}`)!);
    }
  }
  const order = new Map(chapters.map((c, i) => [c.notebook, i]));
  const seedRank = (s: number | 'shared') => (s === 'shared' ? -1 : s);
  return [...plan.values()].sort((a, b) => seedRank(a.seed) - seedRank(b.seed) || order.get(a.chapter)! - order.get(b.chapter)!);
}
