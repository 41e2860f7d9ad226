/**
 * Grade one submission of one assignment: rebuild the notebook from the official cells plus the
 * student's answer cells, run it in a sandboxed tslab kernel (run_notebook.py), score each test.
 *
 * Tests run in the same process as student code, so a test counts as passed only when its cell
 * finished with status "ok" AND printed a marker carrying a random nonce that exists only in
 * this run's copy of the test cell. The official cells (hidden tests included) go to the kernel
 * over a pipe and never touch the submission's folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Assignment, Cell, HELPERS_FILE, HELPERS_PATH, Limits, REPO, cellSource, parseNotebook, stripSolutions, testBody } from './format';

const RUNNER = path.join(__dirname, 'run_notebook.py');
const PYTHON = '/usr/bin/python3';
const MAX_OUTPUT = 20_000;
const MAX_MESSAGE = 1_500;
const MAX_SUBMISSION_BYTES = 20_000_000;

export interface TestResult {
  name: string;
  points: number;
  maxPoints: number;
  visible: boolean;
  passed: boolean;
  message: string;
}

export interface SubmissionResult {
  student: string;
  assignment: string;
  score: number;
  maxScore: number;
  tests: TestResult[];
  /** Problems with the submission as a whole (bad JSON, missing cells, kernel death...). */
  notes: string[];
  /** Code patterns in student cells a TA may want to look at (no effect on points). */
  flags: string[];
  seconds: number;
}

interface RunnerCell {
  status: 'ok' | 'error' | 'timeout' | 'not_run';
  stdout: string;
  stderr: string;
}

interface RunnerResult {
  kernel: 'ok' | 'died' | 'timeout' | 'no_start';
  message: string;
  cells: RunnerCell[];
}

/** A graded cell: the code to run and, for a test cell, which test and its nonce. */
interface PlannedCell {
  code: string;
  test?: { index: number; marker: string };
}

const SUSPICIOUS: [RegExp, string][] = [
  [/\brequire\s*\(/, 'require('],
  [/\bprocess\s*\./, 'process.'],
  [/\bglobalThis\b|\bglobal\s*\./, 'globalThis'],
  [/__tslab__/, '__tslab__'],
  [/\bfrom\s+['"](node:)?(fs|vm|child_process|worker_threads)['"]/, 'imports fs/vm/child_process'],
  [/\.prototype\b|defineProperty|setPrototypeOf/, 'prototype patching'],
  [/\bconsole\s*\.\s*\w+\s*=/, 'console reassignment'],
];

/**
 * The assertions of check.ts as one block-scoped declaration of its exported names, pasted into
 * each test cell: test code sees only those names, and a student's redefinition cannot reach them.
 */
function inlineHelpers(): string {
  const source = fs.readFileSync(HELPERS_PATH, 'utf8');
  const names = [...source.matchAll(/^export function (\w+)/gm)].map((m) => m[1]);
  const body = source.replace(/^export\s+/gm, '');
  return `const { ${names.join(', ')} } = (() => {\n${body}\nreturn { ${names.join(', ')} };\n})();`;
}

/** A cell's identity: the id the release stored in its metadata, else its nbformat id. */
function cellId(cell: Cell): string | undefined {
  const stored = cell.metadata?.grader_id;
  return typeof stored === 'string' ? stored : cell.id;
}

/**
 * The cells to run, in the official order: official setup, helpers and test cells (tests wrapped
 * with the assertions and a pass marker), the student's answer cells (the stub, with a note, if
 * one was deleted), and each cell the student added right after the official cell it followed.
 */
function plan(a: Assignment, submission: Cell[], helpers: string, notes: string[], flags: Set<string>): PlannedCell[] {
  const official = new Set(a.notebook.cells.map((c) => c.id));
  const byId = new Map<string, Cell>();
  const extrasAfter = new Map<string, Cell[]>();
  let anchor = '';
  for (const cell of submission) {
    const id = cellId(cell);
    if (id !== undefined && official.has(id)) {
      if (!byId.has(id)) byId.set(id, cell);
      anchor = id;
    } else if (cell.cell_type === 'code') {
      extrasAfter.set(anchor, [...(extrasAfter.get(anchor) ?? []), cell]);
    }
  }
  const studentCode = (cell: Cell): PlannedCell => {
    const code = cellSource(cell);
    for (const [re, label] of SUSPICIOUS) if (re.test(code)) flags.add(label);
    return { code };
  };
  const planned: PlannedCell[] = (extrasAfter.get('') ?? []).map(studentCode);
  a.notebook.cells.forEach((cell, i) => {
    const kind = a.kinds[i];
    const id = cell.id as string;
    if (kind.kind === 'answer') {
      const mine = byId.get(id);
      if (mine && mine.cell_type === 'code') planned.push(studentCode(mine));
      else {
        notes.push(`answer cell "${id}" is missing from the submission; graded with the empty stub`);
        planned.push({ code: stripSolutions(cellSource(cell), id) });
      }
    } else if (kind.kind === 'test') {
      const marker = `@@grader-pass ${randomBytes(16).toString('hex')}@@`;
      const code = `{\n${helpers}\n${testBody(cell)}\n}\nconsole.log(${JSON.stringify(marker)});\n`;
      planned.push({ code, test: { index: a.tests.indexOf(kind.test), marker } });
    } else if (kind.kind !== 'markdown') {
      planned.push({ code: cellSource(cell) });
    }
    planned.push(...(extrasAfter.get(id) ?? []).map(studentCode));
  });
  return planned;
}

/**
 * The error of a failed cell without its stack trace or the source excerpt Node prints above
 * the error line (the excerpt could quote test code).
 */
function errorText(cell: RunnerCell): string {
  let lines = cell.stderr.split('\n');
  const caret = lines.findIndex((l) => /^\s*\^+\s*$/.test(l));
  if (caret >= 0) lines = lines.slice(caret + 1);
  lines = lines.filter((l) => !/^\s+at /.test(l) && l.trim() !== '');
  const text = lines.join('\n').trim() || `cell ended with status "${cell.status}" and no error text`;
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + ' [...]' : text;
}

function runKernel(job: object, limits: Limits): Promise<RunnerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [RUNNER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    // Backstop if the runner itself hangs: its own limits plus time to start and stop a kernel.
    const timer = setTimeout(() => child.kill('SIGKILL'), (limits.notebookTimeout + 60) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`the grader's kernel runner failed (exit ${code}): ${err.trim().slice(-800)}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** Throws a clear error unless bubblewrap and Debian's Jupyter client can run here. */
export function checkSandbox(): void {
  const bwrap = spawnSync('bwrap', ['--ro-bind', '/', '/', 'true'], { encoding: 'utf8' });
  if (bwrap.status !== 0) {
    const why = bwrap.error ? 'bwrap is not installed' : bwrap.stderr.trim();
    throw new Error(`the grader's sandbox needs bubblewrap (apt-get install bubblewrap): ${why}`);
  }
  const py = spawnSync(PYTHON, ['-c', 'import jupyter_client'], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`${PYTHON} cannot import jupyter_client (apt-get install python3-jupyter-client)`);
}

/** Grades one submission file; never throws for problems of the submission itself. */
export async function gradeSubmission(
  a: Assignment,
  student: string,
  file: string,
  limits: Limits = a.limits,
): Promise<SubmissionResult> {
  const started = Date.now();
  const notes: string[] = [];
  const flags = new Set<string>();
  const tests: TestResult[] = a.tests.map((t) => ({
    name: t.name,
    points: 0,
    maxPoints: t.points,
    visible: t.visible,
    passed: false,
    message: 'not run',
  }));
  const finish = (): SubmissionResult => ({
    student,
    assignment: a.name,
    score: tests.reduce((s, t) => s + t.points, 0),
    maxScore: tests.reduce((s, t) => s + t.maxPoints, 0),
    tests,
    notes,
    flags: [...flags],
    seconds: (Date.now() - started) / 1000,
  });
  let cells: Cell[];
  try {
    const bytes = fs.statSync(file).size;
    if (bytes > MAX_SUBMISSION_BYTES) throw new Error(`${path.basename(file)}: ${bytes} bytes is over the ${MAX_SUBMISSION_BYTES}-byte limit (clear the outputs)`);
    cells = parseNotebook(fs.readFileSync(file, 'utf8'), path.basename(file)).cells;
  } catch (e) {
    notes.push((e as Error).message);
    for (const t of tests) t.message = 'submission could not be read';
    return finish();
  }
  const planned = plan(a, cells, inlineHelpers(), notes, flags);
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `grade-${student}-`));
  try {
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(workdir, 'node_modules'));
    fs.copyFileSync(HELPERS_PATH, path.join(workdir, HELPERS_FILE));
    const job = {
      workdir,
      repo: REPO,
      cells: planned.map((p) => p.code),
      cell_timeout: limits.cellTimeout,
      notebook_timeout: limits.notebookTimeout,
      max_output: MAX_OUTPUT,
      sandbox: true,
    };
    const run = await runKernel(job, limits);
    if (run.message) notes.push(run.message);
    planned.forEach((p, i) => {
      if (!p.test) return;
      const t = tests[p.test.index];
      const cell = run.cells[i];
      t.passed = cell.status === 'ok' && cell.stdout.includes(p.test.marker);
      t.points = t.passed ? t.maxPoints : 0;
      if (t.passed) t.message = '';
      else if (cell.status === 'not_run') t.message = `not run: ${run.message}`;
      else if (cell.status === 'ok') t.message = 'the test cell did not report a pass (its output was tampered with)';
      else t.message = errorText(cell);
    });
  } catch (e) {
    notes.push(`grading failed: ${(e as Error).message}`);
  } finally {
    fs.rmSync(workdir, { recursive: true, force: true });
  }
  return finish();
}
