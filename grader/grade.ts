/**
 * Grade one submission of one assignment: rebuild the notebook from the official cells plus the
 * student's answer cells, run it in a sandboxed tslab kernel (run_notebook.py), score each test.
 *
 * Expected values never enter the kernel: each test cell runs as a probe that sends the student's
 * values back (checks.ts), and the comparison happens here, in the grader's process. The official
 * cells go to the kernel over a pipe and never touch the submission's folder; the kernel's own
 * output cannot reach the runner's result pipe.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProbeRecord, TestProbe, judge, literalForms, probeCell } from './checks';
import { Assignment, Cell, HELPERS_FILE, HELPERS_PATH, Limits, REPO, cellSource, parseNotebook, stripSolutions } from './format';

const RUNNER = path.join(__dirname, 'run_notebook.py');
const PRELOAD = path.join(__dirname, 'kernel_preload.cjs');
const PYTHON = '/usr/bin/python3';
const MAX_OUTPUT = 20_000;
const MAX_MESSAGE = 1_500;
const MAX_SUBMISSION_BYTES = 20_000_000;
/** The runner's whole answer is at most a few MB (capped per cell); anything bigger is a fault. */
const MAX_RUNNER_BYTES = 64 << 20;

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
  /** The sandbox mode the kernel ran in (run_notebook.py), "" if no kernel ran. */
  sandbox: string;
  seconds: number;
}

interface RunnerCell {
  status: 'ok' | 'error' | 'timeout' | 'not_run';
  stdout: string;
  stderr: string;
  records: string[];
}

interface RunnerResult {
  kernel: 'ok' | 'died' | 'timeout' | 'no_start';
  message: string;
  sandbox: string;
  sandbox_note: string;
  /** "" if the kernel had a control group, else why not. */
  cgroup?: string;
  cells: RunnerCell[];
}

/** A graded cell: the code to run and, for a test cell, which test, its probe and nonce. */
interface PlannedCell {
  code: string;
  test?: { index: number; probe: TestProbe; nonce: string };
}

const SUSPICIOUS: [RegExp, string][] = [
  [/\brequire\s*\(/, 'require('],
  [/\bprocess\s*\./, 'process.'],
  [/\bglobalThis\b|\bglobal\s*\./, 'globalThis'],
  [/__tslab__/, '__tslab__'],
  [/(\bfrom\s+|\brequire\s*\(\s*|\bimport\s*\(\s*)['"`](node:)?(fs|vm|child_process|worker_threads|module|inspector|typescript|tslab)\b/, 'imports fs/vm/child_process'],
  [/\bimport\s*\(/, 'dynamic import('],
  [/runInThisContext|\bcaller\b|\bcallee\b|prepareStackTrace|\.toString\s*\(\s*\)/, 'reads callers or compiled code'],
  [/\bProxy\b/, 'Proxy'],
  [/\.prototype\b|defineProperty|setPrototypeOf/, 'prototype patching'],
  [/\bconsole\s*\.\s*\w+\s*=/, 'console reassignment'],
];

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
function plan(a: Assignment, submission: Cell[], notes: string[], flags: Set<string>): PlannedCell[] {
  const official = new Set(a.notebook.cells.map((c) => c.id));
  const byId = new Map<string, Cell>();
  const extrasAfter = new Map<string, Cell[]>();
  let anchor = '';
  const duplicates: string[] = [];
  for (const cell of submission) {
    const id = cellId(cell);
    if (id !== undefined && official.has(id)) {
      if (!byId.has(id)) byId.set(id, cell);
      else if (!duplicates.includes(id)) duplicates.push(id);
      anchor = id;
    } else if (cell.cell_type === 'code') {
      extrasAfter.set(anchor, [...(extrasAfter.get(anchor) ?? []), cell]);
    }
  }
  for (const id of duplicates) notes.push(`two or more cells have the id "${id}"; the first one was graded, the others were ignored`);
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
      const probe = a.probes[i]!;
      const nonce = randomBytes(16).toString('hex');
      planned.push({ code: probeCell(probe, nonce), test: { index: a.tests.indexOf(kind.test), probe, nonce } });
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
    const chunks: Buffer[] = [];
    let bytes = 0;
    let err = '';
    let tooBig = false;
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      if (bytes > MAX_RUNNER_BYTES) {
        tooBig = true;
        child.kill('SIGKILL');
      } else chunks.push(d);
    });
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    // Backstop if the runner itself hangs: its own limits plus time to start and stop a kernel.
    const timer = setTimeout(() => child.kill('SIGKILL'), (limits.notebookTimeout + 150) * 1000);
    child.on('error', reject);
    child.stdin.on('error', () => {}); // a runner that dies early closes its stdin
    child.on('close', (code) => {
      clearTimeout(timer);
      if (tooBig) return reject(new Error(`the kernel runner answered with more than ${MAX_RUNNER_BYTES} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error(`the grader's kernel runner failed (exit ${code}): ${err.trim().slice(-800)}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/**
 * Throws a clear error unless the grader can run kernels here at all; without bubblewrap it warns
 * and the runner falls back to its weakest mode (see run_notebook.py).
 */
export function checkSandbox(): void {
  if (process.getuid?.() === 0 && !fs.existsSync('/usr/bin/setpriv')) {
    throw new Error('grading as root needs /usr/bin/setpriv to drop to an unprivileged uid (apt-get install util-linux)');
  }
  if (!fs.existsSync('/usr/bin/bwrap')) {
    console.error('grader: bubblewrap is not installed (apt-get install bubblewrap): kernels will run without namespaces (mode "uid": network open, world-readable files visible)');
  }
  const py = spawnSync(PYTHON, ['-c', 'import jupyter_client'], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`${PYTHON} cannot import jupyter_client (apt-get install python3-jupyter-client)`);
}

/**
 * Reads a submission without following a symlink or blocking on a FIFO; throws an error fit
 * for the student's notes (never quoting the file's text).
 */
export function readSubmission(file: string): string {
  const name = path.basename(file);
  const st = fs.lstatSync(file);
  if (st.isSymbolicLink()) throw new Error(`${name} is a symbolic link, not a file: not graded (hand in the notebook itself)`);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new Error(`${name} could not be opened (${(e as NodeJS.ErrnoException).code ?? 'error'}): not graded`);
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) throw new Error(`${name} is not a regular file: not graded`);
    if (opened.size > MAX_SUBMISSION_BYTES) throw new Error(`${name}: ${opened.size} bytes is over the ${MAX_SUBMISSION_BYTES}-byte limit (clear the outputs)`);
    const buf = Buffer.alloc(opened.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw new Error(`${name} could not be read (${(e as NodeJS.ErrnoException).code}): not graded`);
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Distinctive text found only in hidden test cells (lines and string literals of the cell and of
 * its probe, the arrays and long numbers written in it in any spacing, minus anything that also
 * occurs in the other cells): a message a student sees must not quote it, e.g. a visible test's
 * error thrown with a hidden test's inputs the submission saved. Values a hidden test computes,
 * or text the submission encodes, are not recognized (README "Limits").
 */
function hiddenText(a: Assignment): string[] {
  const secret = new Set<string>();
  let shown = '';
  a.notebook.cells.forEach((cell, i) => {
    const kind = a.kinds[i];
    const src = cellSource(cell);
    const probe = a.probes[i]?.code ?? '';
    if (kind.kind !== 'test' || kind.test.visible) {
      shown += `${src}\n${probe}\n`;
      return;
    }
    for (const line of `${src}\n${probe}`.split('\n')) if (line.trim().length >= 12) secret.add(line.trim());
    for (const form of literalForms(src)) secret.add(form);
    for (const arg of a.probes[i]!.probed) if (arg.length >= 12) secret.add(arg);
    for (const m of src.matchAll(/"([^"\\]{6,})"|'([^'\\]{6,})'|`([^`\\]{6,})`/g)) secret.add(m[1] ?? m[2] ?? m[3]);
  });
  const shownFlat = shown.replace(/\s+/g, '');
  return [...secret].filter((s) => !shown.includes(s) && !shownFlat.includes(s.replace(/\s+/g, '')));
}

const hiddenTexts = new WeakMap<Assignment, string[]>();

/** A message for a visible test as the student may see it: withheld if it quotes a hidden test. */
export function visibleMessage(a: Assignment, message: string): string {
  if (!hiddenTexts.has(a)) hiddenTexts.set(a, hiddenText(a));
  const flat = message.replace(/\s+/g, '');
  const quotes = hiddenTexts.get(a)!.some((s) => message.includes(s) || flat.includes(s.replace(/\s+/g, '')));
  return quotes ? '[message withheld: it quotes a hidden test]' : message;
}

function parseRecords(cell: RunnerCell, nonce: string): ProbeRecord[] {
  const out: ProbeRecord[] = [];
  for (const text of cell.records ?? []) {
    try {
      const r = JSON.parse(text) as ProbeRecord;
      if (r && typeof r === 'object' && r.nonce === nonce && Array.isArray(r.checks)) out.push(r);
    } catch {
      // not ours: ignored
    }
  }
  return out;
}

/** A result for a submission that was not graded (its grading failed, or no file): zero points and why. */
export function ungradedResult(a: Assignment, student: string, note: string): SubmissionResult {
  return {
    student,
    assignment: a.name,
    score: 0,
    maxScore: a.tests.reduce((s, t) => s + t.points, 0),
    tests: a.tests.map((t) => ({ name: t.name, points: 0, maxPoints: t.points, visible: t.visible, passed: false, message: 'not graded' })),
    notes: [note],
    flags: [],
    sandbox: '',
    seconds: 0,
  };
}

/** The sandbox every run used, once per process, for the TA's log. */
let reportedSandbox = '';
let reportedCgroup = false;

/** Grades one submission file into a result; never throws for problems of the submission itself. */
export async function gradeSubmission(
  a: Assignment,
  student: string,
  file: string,
  limits: Limits = a.limits,
  options: { sandbox?: string; kernelMemory?: number } = {},
): Promise<SubmissionResult> {
  const started = Date.now();
  const notes: string[] = [];
  const flags = new Set<string>();
  let sandbox = '';
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
    sandbox,
    seconds: (Date.now() - started) / 1000,
  });
  let cells: Cell[];
  try {
    cells = parseNotebook(readSubmission(file), path.basename(file)).cells;
  } catch (e) {
    notes.push((e as Error).message);
    for (const t of tests) t.message = 'submission could not be read';
    return finish();
  }
  try {
    const planned = plan(a, cells, notes, flags);
    const job = {
      repo: REPO,
      preload: PRELOAD,
      files: { [HELPERS_FILE]: HELPERS_PATH },
      cells: planned.map((p) => p.code),
      cell_timeout: limits.cellTimeout,
      notebook_timeout: limits.notebookTimeout,
      max_output: MAX_OUTPUT,
      sandbox: options.sandbox || process.env.RLHF_GRADER_SANDBOX || 'auto',
      kernel_memory: options.kernelMemory,
    };
    const run = await runKernel(job, limits);
    sandbox = run.sandbox ?? '';
    if (run.message) notes.push(run.message);
    if (sandbox && sandbox !== 'userns') {
      notes.push(`graded in the weaker sandbox mode "${sandbox}"${run.sandbox_note ? ` (${run.sandbox_note})` : ' (chosen by the TA)'}`);
    }
    if (sandbox && sandbox !== reportedSandbox) {
      reportedSandbox = sandbox;
      console.error(`grader: kernels run in sandbox mode "${sandbox}"${run.sandbox_note ? ` (${run.sandbox_note})` : ''}`);
    }
    if (run.cgroup && !reportedCgroup) {
      reportedCgroup = true;
      console.error(`grader: ${run.cgroup}: memory is limited per process only, and kernels graded at once do not share the CPU fairly (README "Sandbox")`);
    }
    planned.forEach((p, i) => {
      if (!p.test) return;
      const t = tests[p.test.index];
      const cell: RunnerCell = run.cells?.[i] ?? { status: 'not_run', stdout: '', stderr: '', records: [] };
      const records = parseRecords(cell, p.test.nonce);
      for (const r of records) {
        if (typeof r.noticed === 'string' && r.noticed) for (const line of r.noticed.split('\n').slice(0, 10)) flags.add(`at run time: ${line.slice(0, 200)}`);
        if (typeof r.changed === 'string' && r.changed) flags.add(`changed built-ins: ${r.changed.slice(0, 300)}`);
      }
      let verdict: { passed: boolean; message: string };
      if (cell.status === 'not_run') verdict = { passed: false, message: `not run: ${run.message}` };
      else if (cell.status === 'timeout') verdict = { passed: false, message: errorText(cell) };
      else if (records.length > 1) verdict = { passed: false, message: 'the test cell sent more than one result (forged)' };
      else if (records.length === 0) verdict = { passed: false, message: cell.status === 'ok' ? 'the test cell sent no result (its output was tampered with)' : errorText(cell) };
      else verdict = judge(p.test.probe, records[0]);
      if (verdict.passed && cell.status !== 'ok') verdict = { passed: false, message: errorText(cell) };
      t.passed = verdict.passed;
      t.points = t.passed ? t.maxPoints : 0;
      const message = verdict.message.length > MAX_MESSAGE ? verdict.message.slice(0, MAX_MESSAGE) + ' [...]' : verdict.message;
      t.message = t.visible ? visibleMessage(a, message) : message;
    });
  } catch (e) {
    notes.push(`grading failed: ${(e as Error).message}`);
  }
  return finish();
}
