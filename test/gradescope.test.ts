// The Gradescope export: every assignment's autograder zip, and its run_autograder in a simulated
// Gradescope container layout (a temporary root with source/, submission/, results/). Not
// simulated: setup.sh (it installs Ubuntu packages and Node from the network); the kit's
// node_modules is a link to this checkout's, standing in for what setup.sh's `npm ci` installs.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Assignment, Notebook, REPO, cellSource, loadAssignments } from '../grader/format';
import { findSubmission } from '../grader/gradescope';
import { studentNotebook } from '../grader/release';
import { EXPECTED_SANDBOX } from './sandboxHost';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradescope-test-'));
// The uid-mode kernel must reach the kit's lib/ and node_modules/ (as on Gradescope, /autograder is 0755).
fs.chmodSync(tmp, 0o755);
const zips = path.join(tmp, 'zips');
const assignments = loadAssignments(path.join(REPO, 'assignments'));
const bt = assignments.find((a) => a.name === 'ch04-bradley-terry')!;

interface GradescopeResults {
  score: number;
  output: string;
  stdout_visibility: string;
  tests: { name: string; score: number; max_score: number; status: string; visibility: string; output: string }[];
  extra_data: { sandbox: string; flags: string[] };
}

function cli(args: string[]): string {
  return execFileSync(path.join(REPO, 'node_modules', '.bin', 'tsx'), [path.join(REPO, 'grader', 'cli.ts'), ...args], { cwd: REPO, encoding: 'utf8' });
}

/** The student version of `a` with answer cells replaced (by id) and the official answers elsewhere if `solve`. */
function submission(a: Assignment, answers: Record<string, string>, solve = true): string {
  const nb: Notebook = studentNotebook(a);
  for (const c of nb.cells) {
    const official = a.notebook.cells.find((o) => o.id === c.id)!;
    if (answers[c.id!] !== undefined) c.source = answers[c.id!];
    else if (solve && a.kinds[a.notebook.cells.indexOf(official)].kind === 'answer') c.source = cellSource(official);
  }
  return JSON.stringify(nb);
}

/**
 * A fresh /autograder: the zip unpacked in source/, run_autograder copied to the root (as Gradescope
 * does when it builds the image), one file in submission/; returns the root.
 */
function container(zip: string, name: string, file: string, text: string): string {
  const root = path.join(tmp, 'roots', name);
  fs.mkdirSync(path.join(root, 'submission'), { recursive: true });
  fs.mkdirSync(path.join(root, 'source'));
  execFileSync('unzip', ['-q', zip, '-d', path.join(root, 'source')]);
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'source', 'kit', 'node_modules'));
  fs.copyFileSync(path.join(root, 'source', 'run_autograder'), path.join(root, 'run_autograder'));
  fs.writeFileSync(path.join(root, 'submission', file), text);
  return root;
}

async function runAutograder(root: string, env: Record<string, string> = {}): Promise<{ results: GradescopeResults; stdout: string }> {
  const { stdout } = await run('bash', [path.join(root, 'run_autograder')], {
    cwd: root,
    env: { ...process.env, RLHF_AUTOGRADER_ROOT: root, ...env },
    maxBuffer: 16 << 20,
  });
  return { results: JSON.parse(fs.readFileSync(path.join(root, 'results', 'results.json'), 'utf8')), stdout };
}

/** At most two at a time (the machine's cores), like Gradescope's one container per submission. */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

const byCase = new Map<string, { results: GradescopeResults; stdout: string }>();
const brokenByAssignment = new Map<string, GradescopeResults>();
const points = (c: string) => Object.fromEntries(byCase.get(c)!.results.tests.map((t) => [t.name, t.score]));
const official = (root: string) => path.join(root, 'source', 'kit', 'assignments', 'ch04-bradley-terry.ipynb');

beforeAll(async () => {
  cli(['gradescope', '--out', zips]);
  cli(['gradescope', 'ch04-bradley-terry', '--hidden', 'hidden', '--out', path.join(zips, 'hidden')]);
  const zip = path.join(zips, 'ch04-bradley-terry.zip');
  const file = 'ch04-bradley-terry.ipynb';
  const escapeRoot = path.join(tmp, 'roots', 'misnamed-escape');
  const cases: [string, string, string, Record<string, string>][] = [
    ['correct', zip, file, {}],
    ['partial', zip, file, {}],
    ['stub', zip, file, {}],
    ['misnamed-escape', zip, 'ch04-bradley-terry (1).ipynb', { RLHF_GRADER_SANDBOX: 'uid' }],
  ];
  const texts: Record<string, string> = {
    correct: submission(bt, {}),
    partial: submission(bt, { 'answer-bt': 'function btLoss(chosen: number[], rejected: number[]): number {\n  return 0;\n}' }),
    stub: submission(bt, {}, false),
    // Reads the official notebook (hidden tests, solutions): logSigmoid is right only if that worked.
    'misnamed-escape': submission(bt, {
      'answer-logsigmoid': `import * as fs from "fs";\nlet official = "";\ntry { official = fs.readFileSync(${JSON.stringify(official(escapeRoot))}, "utf8"); } catch {}\nfunction logSigmoid(x: number): number {\n  return official.includes("logsigmoid-stable") ? (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x))) : 0;\n}`,
    }),
  };
  const jobs: (() => Promise<unknown>)[] = cases.map(([name, z, f, env]) => async () => byCase.set(name, await runAutograder(container(z, name, f, texts[name]), env)));
  // Every zip (and the hidden-visibility one) grades a broken notebook: its kit loads and answers.
  const broken = [...assignments.map((a) => [a.name, path.join(zips, `${a.name}.zip`)]), ['hidden', path.join(zips, 'hidden', 'ch04-bradley-terry.zip')]];
  for (const [name, z] of broken) {
    const a = assignments.find((x) => x.name === name) ?? bt;
    jobs.push(async () => brokenByAssignment.set(name, (await runAutograder(container(z, `broken-${name}`, `${a.name}.ipynb`, '{"cells": ['))).results));
  }
  await inPairs(jobs);
}, 900_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('autograder zip', () => {
  it('is built for every assignment with setup.sh, run_autograder and a kit holding only that notebook', () => {
    for (const a of assignments) {
      const zip = path.join(zips, `${a.name}.zip`);
      const listing = execFileSync('zipinfo', [zip], { encoding: 'utf8' });
      const names = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n');
      expect(names).toEqual(expect.arrayContaining(['setup.sh', 'run_autograder', 'kit/package-lock.json', 'kit/lib/index.ts', 'kit/grader/grade.ts', 'kit/grader/run_notebook.py', 'kit/grader/sandbox.py', `kit/assignments/${a.name}.ipynb`, 'kit/gradescope.json']));
      expect(names.filter((n) => n.endsWith('.ipynb'))).toEqual([`kit/assignments/${a.name}.ipynb`]);
      expect(names.some((n) => n.includes('node_modules') || n.includes('native/build'))).toBe(false);
      expect(listing).toMatch(/-rwxr-xr-x .* run_autograder/);
      expect(listing).toMatch(/-rwxr-xr-x .* setup.sh/);
      expect(listing).toMatch(new RegExp(`-rw------- .* kit/assignments/${a.name}.ipynb`));
      expect(listing).toMatch(/drwx------ .* kit\/assignments\//);
      const config = JSON.parse(execFileSync('unzip', ['-p', zip, 'kit/gradescope.json'], { encoding: 'utf8' }));
      expect(config).toEqual({ assignment: a.name, hidden: 'after_published' });
    }
    expect(fs.readdirSync(zips).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary zip left
  });

  it("rejects an unknown assignment or visibility with a clear error", () => {
    expect(() => cli(['gradescope', 'ch09-nothing', '--out', zips])).toThrow(/no such assignment: ch09-nothing/);
    expect(() => cli(['gradescope', 'ch04-bradley-terry', '--hidden', 'later', '--out', zips])).toThrow(/--hidden must be after_published or hidden/);
  });
});

describe('run_autograder in a simulated Gradescope layout', () => {
  it('gives full marks to a correct submission and writes Gradescope results with per-test visibility', () => {
    const { results, stdout } = byCase.get('correct')!;
    expect(results.score).toBe(8);
    expect(results.stdout_visibility).toBe('hidden');
    expect(results.tests.map((t) => [t.name, t.score, t.max_score, t.visibility])).toEqual([
      ['logsigmoid-values', 2, 2, 'visible'],
      ['logsigmoid-stable', 1, 1, 'after_published'],
      ['bt-loss', 2, 2, 'visible'],
      ['bt-loss-more', 2, 2, 'after_published'],
      ['bt-bad-input', 1, 1, 'after_published'],
    ]);
    expect(results.extra_data.sandbox).toBe(EXPECTED_SANDBOX);
    expect(stdout).toContain('ch04-bradley-terry: 8/8');
  });

  it('gives partial marks with visible messages, and hides hidden tests\' messages from the student', () => {
    const { results, stdout } = byCase.get('partial')!;
    expect(points('partial')).toEqual({ 'logsigmoid-values': 2, 'logsigmoid-stable': 1, 'bt-loss': 0, 'bt-loss-more': 0, 'bt-bad-input': 0 });
    expect(results.tests[2].output).toContain('btLoss([1, 0], [0, 0]): expected 0.5032044340390841');
    expect(results.tests[3].output).toBe('hidden test: details are not shown');
    expect(JSON.stringify(results)).not.toContain('1.0444456263737136');
    expect(stdout).toContain('1.0444456263737136'); // the TA's log (instructors only) has it
  });

  it('gives a stub and a broken notebook no points, with the reason', () => {
    expect(byCase.get('stub')!.results.score).toBe(0);
    expect(byCase.get('stub')!.results.tests[0].output).toContain('not implemented: logSigmoid');
    for (const a of assignments) {
      const r = brokenByAssignment.get(a.name)!;
      expect(r.score).toBe(0);
      expect(r.output).toContain('not valid notebook JSON');
      expect(r.tests.map((t) => t.name)).toEqual(a.tests.map((t) => t.name));
      expect(r.tests.map((t) => t.visibility)).toEqual(a.tests.map((t) => (t.visible ? 'visible' : 'after_published')));
    }
    expect(brokenByAssignment.get('hidden')!.tests.map((t) => t.visibility)).toEqual(['visible', 'hidden', 'visible', 'hidden', 'hidden']);
  });

  it('grades the only notebook of a misnamed upload, and keeps the official notebook unreadable even in mode "uid"', () => {
    const { results } = byCase.get('misnamed-escape')!;
    expect(results.output).toContain('graded "ch04-bradley-terry (1).ipynb" as ch04-bradley-terry.ipynb');
    expect(results.output).toContain('weaker sandbox mode "uid"');
    expect(results.extra_data.sandbox).toBe('uid');
    expect(points('misnamed-escape')).toEqual({ 'logsigmoid-values': 0, 'logsigmoid-stable': 0, 'bt-loss': 0, 'bt-loss-more': 0, 'bt-bad-input': 1 });
    expect(results.extra_data.flags).toContain('imports fs/vm/child_process');
  });

  it('finds the notebook in a submission folder, or says why not', () => {
    const dir = path.join(tmp, 'find');
    fs.mkdirSync(path.join(dir, 'sub', '.ipynb_checkpoints'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sub', '.ipynb_checkpoints', 'ch04-bradley-terry-checkpoint.ipynb'), '{}');
    expect(findSubmission(dir, bt)).toEqual({ note: 'no notebook handed in (expected ch04-bradley-terry.ipynb)' });
    fs.writeFileSync(path.join(dir, 'a.ipynb'), '{}');
    fs.writeFileSync(path.join(dir, 'b.ipynb'), '{}');
    expect(findSubmission(dir, bt).note).toMatch(/not graded: 2 notebooks handed in \(a.ipynb, b.ipynb\)/);
    fs.writeFileSync(path.join(dir, 'sub', 'ch04-bradley-terry.ipynb'), '{}');
    expect(findSubmission(dir, bt)).toEqual({ file: path.join(dir, 'sub', 'ch04-bradley-terry.ipynb'), note: undefined });
  });
});
