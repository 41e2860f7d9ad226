/**
 * Gradescope export: one assignment as the autograder zip Gradescope expects, and the grading run
 * inside Gradescope's container (see "For TAs" in README.md).
 *
 * The zip (Gradescope's contract: setup.sh and run_autograder at its root, unpacked into
 * /autograder/source):
 *   setup.sh, run_autograder         from grader/gradescope/
 *   kit/                             the grader and what a kernel needs: package.json and its lock,
 *                                    lib/, grader/, scripts/build-native.sh,
 *                                    assignments/check.ts and this one assignment's notebook
 *   kit/gradescope.json              {assignment, hidden, cell_timeout?, notebook_timeout?}
 * In the container run_autograder grades the notebook in /autograder/submission with the same
 * grader, sandbox and checks as `npm run grade`, and writes /autograder/results/results.json.
 * The official notebook (solutions, hidden tests) lives in kit/assignments/, readable by root
 * only (0700/0600, set in the zip, by setup.sh and again by run_autograder): the kernel never
 * runs as root, so in every sandbox mode (even "uid", which sees the file system) it cannot read it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Assignment, Limits, REPO, loadAssignment, writeAtomic } from './format';
import { SubmissionResult, gradeSubmission, ungradedResult } from './grade';

/** Where a hidden test shows on Gradescope: after grades are published, or never to the student. */
export type HiddenVisibility = 'after_published' | 'hidden';
export const HIDDEN_VISIBILITIES: HiddenVisibility[] = ['after_published', 'hidden'];

export interface KitConfig {
  assignment: string;
  hidden: HiddenVisibility;
  cell_timeout?: number;
  notebook_timeout?: number;
}

const CONFIG = 'gradescope.json';
const TEMPLATES = path.join(REPO, 'grader', 'gradescope');
/** What the kit copies from the repository (folders recursively, minus build output). */
const KIT_PATHS = ['package.json', 'package-lock.json', 'patches', 'lib', 'grader', 'scripts/build-native.sh', 'assignments/check.ts'];
const SKIP = new Set(['node_modules', 'build', 'build.log', 'dist', '.ipynb_checkpoints']);
/** Submission folders Gradescope (or a student's zip) may add that never hold the notebook. */
const IGNORED_DIRS = new Set(['.ipynb_checkpoints', '__MACOSX', 'node_modules', '.git']);

function copyTree(from: string, to: string): void {
  const st = fs.lstatSync(from);
  if (st.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const name of fs.readdirSync(from)) if (!SKIP.has(name)) copyTree(path.join(from, name), path.join(to, name));
  } else if (st.isFile()) {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
    fs.chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Builds <outDir>/<assignment>.zip (atomically: a temporary zip in outDir, then a rename) and
 * returns its path. Needs Debian's `zip`.
 */
export function buildAutograderZip(a: Assignment, outDir: string, hidden: HiddenVisibility = 'after_published', limits: Partial<Limits> = {}): string {
  if (!HIDDEN_VISIBILITIES.includes(hidden)) throw new Error(`--hidden must be ${HIDDEN_VISIBILITIES.join(' or ')}, got "${hidden}"`);
  if (spawnSync('zip', ['-v'], { stdio: 'ignore' }).status !== 0) throw new Error('building the autograder zip needs `zip` (apt-get install zip)');
  fs.mkdirSync(outDir, { recursive: true });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'gradescope-kit-'));
  const zip = path.join(outDir, `${a.name}.zip`);
  const tmp = path.join(outDir, `.${a.name}.${process.pid}.${Date.now()}.zip`);
  try {
    for (const f of ['setup.sh', 'run_autograder']) {
      fs.copyFileSync(path.join(TEMPLATES, f), path.join(stage, f));
      fs.chmodSync(path.join(stage, f), 0o755);
    }
    const kit = path.join(stage, 'kit');
    for (const p of KIT_PATHS) copyTree(path.join(REPO, p), path.join(kit, p));
    const official = path.join(kit, 'assignments', path.basename(a.file));
    fs.copyFileSync(a.file, official);
    const config: KitConfig = { assignment: a.name, hidden };
    if (limits.cellTimeout) config.cell_timeout = limits.cellTimeout;
    if (limits.notebookTimeout) config.notebook_timeout = limits.notebookTimeout;
    fs.writeFileSync(path.join(kit, CONFIG), JSON.stringify(config, null, 1) + '\n');
    // Official material readable by its owner (root in the container) only.
    fs.chmodSync(official, 0o600);
    fs.chmodSync(path.join(kit, 'assignments', 'check.ts'), 0o600);
    fs.chmodSync(path.join(kit, 'assignments'), 0o700);
    // -X: no extra attributes (uid/gid, times); entries keep their Unix modes, which unzip restores.
    const r = spawnSync('zip', ['-q', '-r', '-X', tmp, 'setup.sh', 'run_autograder', 'kit'], { cwd: stage, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`zip failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
    fs.renameSync(tmp, zip);
    return zip;
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function readConfig(kit: string): KitConfig {
  const file = path.join(kit, CONFIG);
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as KitConfig;
  if (typeof c.assignment !== 'string' || !HIDDEN_VISIBILITIES.includes(c.hidden)) throw new Error(`${file}: needs "assignment" and "hidden" (${HIDDEN_VISIBILITIES.join(' or ')})`);
  return c;
}

/** Every .ipynb under `dir` (not following links, skipping checkpoint and macOS folders), relative paths. */
function notebooksIn(dir: string, rel = '', depth = 0): string[] {
  if (depth > 4 || !fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
    const r = path.join(rel, e.name);
    if (e.isDirectory() && !IGNORED_DIRS.has(e.name)) out.push(...notebooksIn(path.join(dir, e.name), r, depth + 1));
    else if (!e.isDirectory() && e.name.toLowerCase().endsWith('.ipynb')) out.push(r);
  }
  return out;
}

/**
 * The notebook to grade in a Gradescope submission folder: `<assignment>.ipynb` wherever it is, else
 * the only notebook handed in (with a note), else none (with a note saying what was found).
 */
export function findSubmission(dir: string, a: Assignment): { file?: string; note?: string } {
  const found = notebooksIn(dir);
  const exact = found.filter((f) => path.basename(f) === `${a.name}.ipynb`);
  if (exact.length >= 1) {
    return { file: path.join(dir, exact[0]), note: exact.length > 1 ? `${exact.length} files named ${a.name}.ipynb; graded ${exact[0]}` : undefined };
  }
  if (found.length === 1) return { file: path.join(dir, found[0]), note: `graded "${found[0]}" as ${a.name}.ipynb (name your file exactly ${a.name}.ipynb)` };
  if (found.length === 0) return { note: `no notebook handed in (expected ${a.name}.ipynb)` };
  return { note: `not graded: ${found.length} notebooks handed in (${found.slice(0, 5).join(', ')}) and none is named ${a.name}.ipynb` };
}

/**
 * Gradescope's results.json for one graded submission: visible tests with their messages, hidden
 * tests with `hidden` visibility and no message (a message can quote an expected value; the TA
 * reads them in run_autograder's output, which students never see), notes as the overall output.
 */
export function gradescopeResults(r: SubmissionResult, hidden: HiddenVisibility): object {
  return {
    score: r.score,
    execution_time: Math.round(r.seconds),
    output: r.notes.join('\n'),
    visibility: 'visible',
    stdout_visibility: 'hidden',
    tests: r.tests.map((t) => ({
      name: t.name,
      score: t.points,
      max_score: t.maxPoints,
      status: t.passed ? 'passed' : 'failed',
      visibility: t.visible ? 'visible' : hidden,
      output: t.visible ? (t.passed ? '' : t.message) : t.passed ? '' : 'hidden test: details are not shown',
    })),
    extra_data: { sandbox: r.sandbox, flags: r.flags },
  };
}

/** The TA's view of a result (run_autograder's stdout: instructors only): every message, flags, sandbox. */
function taLog(r: SubmissionResult): string {
  const lines = [`${r.assignment}: ${r.score}/${r.maxScore} in ${r.seconds.toFixed(1)} s, sandbox "${r.sandbox || 'none'}"`];
  for (const n of r.notes) lines.push(`note: ${n}`);
  for (const t of r.tests) lines.push(`${t.passed ? 'PASS' : 'FAIL'} ${t.name} (${t.visible ? 'visible' : 'hidden'}) ${t.points}/${t.maxPoints}${t.passed ? '' : `: ${t.message}`}`);
  if (r.flags.length) lines.push(`review: ${r.flags.join(', ')}`);
  return lines.join('\n');
}

/**
 * run_autograder's work: grade the submission in <root>/submission with the kit's assignment and
 * write <root>/results/results.json (atomically). Problems with the submission are its notes;
 * only a broken kit throws (Gradescope then reports the autograder as failed to the TA).
 */
export async function runAutograder(root: string, kit = REPO): Promise<SubmissionResult> {
  const config = readConfig(kit);
  const a = loadAssignment(path.join(kit, 'assignments', `${config.assignment}.ipynb`));
  const limits: Limits = { cellTimeout: config.cell_timeout ?? a.limits.cellTimeout, notebookTimeout: config.notebook_timeout ?? a.limits.notebookTimeout };
  const { file, note } = findSubmission(path.join(root, 'submission'), a);
  let r: SubmissionResult;
  if (!file) r = ungradedResult(a, 'submission', note!);
  else {
    try {
      r = await gradeSubmission(a, 'submission', file, limits);
    } catch (e) {
      r = ungradedResult(a, 'submission', `grading failed: ${(e as Error)?.message ?? String(e)}`);
    }
    if (note) r.notes.unshift(note);
  }
  writeAtomic(path.join(root, 'results', 'results.json'), JSON.stringify(gradescopeResults(r, config.hidden), null, 1) + '\n');
  console.log(taLog(r));
  return r;
}

/**
 * setup.sh's last step: the official notebook, graded as a submission in this image, must get
 * full marks (so a broken image fails at build time, not on the students' submissions).
 */
export async function selfTest(kit = REPO): Promise<boolean> {
  const config = readConfig(kit);
  const a = loadAssignment(path.join(kit, 'assignments', `${config.assignment}.ipynb`));
  const r = await gradeSubmission(a, 'self-test', a.file);
  console.log(`self-test: ${taLog(r)}`);
  return r.score === r.maxScore;
}
