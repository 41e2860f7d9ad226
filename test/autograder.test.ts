// The autograder end to end on a tiny assignment (mean and square, 6 points: 4 visible, 2
// hidden): release, then a batch of correct, partial and adversarial submissions graded in
// real sandboxed tslab kernels, gradebook and feedback, and a re-run for one student.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findJobs, gradeAll } from '../grader/cli';
import { Notebook, REPO, cellSource, loadAssignment, loadAssignments } from '../grader/format';
import { SubmissionResult, gradeSubmission } from '../grader/grade';
import { saveResult, writeGradebook } from '../grader/gradebook';
import { findLeaks, release } from '../grader/release';
import { MEAN, SQUARE, codeCell, submitter, tiny } from './graderFixtures';
import { MODE_NOTES, IN_CONTAINER } from './sandboxHost';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autograder-test-'));
const releaseDir = path.join(tmp, 'release');
const submissions = path.join(tmp, 'submissions');
const out = path.join(tmp, 'grades');
const escaped = path.join(REPO, 'ESCAPED-by-autograder-test.txt');
const submit = submitter(releaseDir, submissions);

function releasedNotebook(): Notebook {
  return JSON.parse(fs.readFileSync(path.join(releaseDir, 'tiny.ipynb'), 'utf8'));
}

const byStudent = new Map<string, SubmissionResult>();
const points = (student: string) => Object.fromEntries(byStudent.get(student)!.tests.map((t) => [t.name, t.points]));

beforeAll(async () => {
  release([tiny], releaseDir);
  const answers = { 'answer-mean': MEAN, 'answer-square': SQUARE };
  submit('correct', answers);
  submit('partial', { ...answers, 'answer-square': 'function square(x: number): number {\n  return x * 2;\n}' });
  submit('untouched', {});
  fs.mkdirSync(path.join(submissions, 'invalid-json'));
  fs.writeFileSync(path.join(submissions, 'invalid-json', 'tiny.ipynb'), '{"cells": [');
  // Deleted the mean answer and both visible tests; the tests come back, mean gets the stub.
  submit('missing-cells', { 'answer-mean': null, 'test-mean': null, 'test-square': null, 'answer-square': SQUARE });
  // Made the visible mean test trivially pass and answered mean wrong.
  submit('edited-tests', { 'answer-mean': 'function mean(xs: number[]): number {\n  return 0;\n}', 'test-mean': 'console.log("all good")', 'answer-square': SQUARE });
  // mean never returns: each mean test hits the cell limit, is interrupted, grading goes on.
  submit('infinite-loop', { 'answer-mean': 'function mean(xs: number[]): number {\n  while (true) {}\n}', 'answer-square': SQUARE });
  // A loop in a timer cannot be interrupted: the kernel is stopped, later tests fail.
  submit('stuck-kernel', { ...answers, 'answer-square': `${SQUARE}\nsetTimeout(() => { while (true) {} }, 0);` });
  // Exits with status 0 in the second answer cell: the mean tests ran before and count.
  submit('exit', { ...answers, 'answer-square': `${SQUARE}\nprocess.exit(0);` });
  submit('crash', { 'answer-mean': 'function mean(xs: number[]): number {\n  process.kill(process.pid, "SIGKILL");\n  return 0;\n}', 'answer-square': SQUARE });
  submit('huge-output', { ...answers, 'answer-square': `${SQUARE}\nconsole.log("x".repeat(30_000_000));` });
  // Reads the official notebook (with hidden tests and solutions) and writes outside its folder;
  // square is right only if the read worked.
  const official = JSON.stringify(tiny.file);
  submit('escape', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";\nlet official = "";\ntry { official = fs.readFileSync(${official}, "utf8"); } catch {}\ntry { fs.writeFileSync(${JSON.stringify(escaped)}, "x"); } catch {}\nfunction square(x: number): number {\n  return official.includes("square(-1.5)") ? x * x : 0;\n}`,
  });
  // Redefines the assertions, forges pass markers on every console.log, breaks Math.
  submit('tamper', {
    'answer-mean': 'function close(..._a: unknown[]): void {}\nfunction throws(..._a: unknown[]): void {}\nconst realLog = console.log;\nconsole.log = (...a: unknown[]) => realLog("@@grader-pass 0123456789abcdef0123456789abcdef@@", ...a);\nMath.abs = () => 0;\nfunction mean(xs: number[]): number {\n  return 0;\n}',
    'answer-square': SQUARE,
  });
  // Student scratch cells are kept and run in place; this one defines a helper square uses.
  submit('extra-cells', { ...answers, 'answer-square': 'function square(x: number): number {\n  return times(x, x);\n}' }, {
    before: 'answer-square',
    cell: codeCell('scratch-1', 'function times(a: number, b: number): number {\n  return a * b;\n}'),
  });
  // Saved by a tool that drops nbformat 4.5 cell ids: cells are matched by the release's metadata.
  submit('no-ids', answers);
  const noIds = path.join(submissions, 'no-ids', 'tiny.ipynb');
  const stripped = JSON.parse(fs.readFileSync(noIds, 'utf8')) as Notebook;
  for (const c of stripped.cells) delete c.id;
  fs.writeFileSync(noIds, JSON.stringify({ ...stripped, nbformat_minor: 4 }));
  const results = await gradeAll(findJobs(submissions, [tiny]), 2, (r) => saveResult(out, r));
  for (const r of results) byStudent.set(r.student, r);
  writeGradebook(out, [tiny]);
}, 600_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(escaped, { force: true });
});

describe('student release', () => {
  it('has stubs, visible tests, and no solution or hidden test text in any file', () => {
    const files = fs.readdirSync(releaseDir).sort();
    expect(files).toEqual(['check.ts', 'tiny.ipynb']);
    const text = fs.readFileSync(path.join(releaseDir, 'tiny.ipynb'), 'utf8');
    expect(text).toContain('not implemented: mean');
    expect(text).toContain('not implemented: square');
    expect(text).toContain('close(mean([1, 2, 3]), 2');
    for (const secret of ['total / xs.length', 'x * x', 'mean-empty', 'square(-1.5)', 'square-negative', 'BEGIN SOLUTION']) {
      expect(text).not.toContain(secret);
    }
    const nb = releasedNotebook();
    expect(nb.cells.every((c) => c.cell_type !== 'code' || (c.outputs?.length === 0 && c.execution_count === null))).toBe(true);
    expect(nb.metadata.grader).toBeUndefined();
    expect(findLeaks([tiny], releaseDir)).toEqual([]);
  });

  it('releases the course assignments without leaks', () => {
    const dir = path.join(tmp, 'course-release');
    const assignments = loadAssignments(path.join(REPO, 'assignments'));
    release(assignments, dir);
    for (const a of assignments) {
      const text = fs.readFileSync(path.join(dir, `${a.name}.ipynb`), 'utf8');
      expect(text).toContain('not implemented');
      for (const t of a.tests.filter((x) => !x.visible)) expect(text).not.toContain(t.name);
    }
    expect(findLeaks(assignments, dir)).toEqual([]);
  });
});

describe('grading a batch', () => {
  it('gives full marks to a correct submission and partial marks to a partial one', () => {
    expect(points('correct')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 });
    expect(points('partial')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 });
    expect(byStudent.get('partial')!.tests[2].message).toContain('square(3): expected 9');
    expect(byStudent.get('untouched')!.score).toBe(0);
    expect(byStudent.get('untouched')!.tests[0].message).toContain('not implemented: mean');
  });

  it('scores bad notebooks and deleted or edited cells without crediting them', () => {
    expect(byStudent.get('invalid-json')!.score).toBe(0);
    expect(byStudent.get('invalid-json')!.notes[0]).toContain('not valid notebook JSON');
    expect(points('missing-cells')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 2, 'square-negative': 1 });
    expect(byStudent.get('missing-cells')!.notes.join()).toContain('answer cell "answer-mean" is missing');
    expect(points('edited-tests')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 2, 'square-negative': 1 });
    expect(byStudent.get('extra-cells')!.score).toBe(6);
    expect(byStudent.get('no-ids')!.score).toBe(6);
  });

  it('interrupts infinite loops, and marks tests after a stopped or dead kernel as failed', () => {
    expect(points('infinite-loop')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 2, 'square-negative': 1 });
    expect(byStudent.get('infinite-loop')!.tests[0].message).toContain('time limit');
    expect(points('stuck-kernel')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 });
    expect(byStudent.get('stuck-kernel')!.notes.join()).toContain('kernel was stopped');
    expect(points('exit')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 });
    expect(byStudent.get('exit')!.notes.join()).toContain('kernel died');
    expect(byStudent.get('crash')!.score).toBe(0);
    expect(byStudent.get('crash')!.tests[3].message).toContain('not run');
  });

  it('stops a notebook at the notebook time limit and fails the tests it did not reach', async () => {
    const file = path.join(submissions, 'infinite-loop', 'tiny.ipynb');
    const r = await gradeSubmission(tiny, 'infinite-loop', file, { cellTimeout: 60, notebookTimeout: 15 });
    expect(r.score).toBe(0);
    expect(r.notes.join()).toContain('notebook time limit (15 s)');
    expect(r.tests.filter((t) => t.message.startsWith('not run')).length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('stays within the time limits for every submission', () => {
    expect(byStudent.size).toBe(15);
    for (const r of byStudent.values()) expect(r.seconds).toBeLessThan(tiny.limits.notebookTimeout + 30);
  });

  it('survives huge output, keeps the sandbox closed and resists forged results', () => {
    expect(byStudent.get('huge-output')!.score).toBe(6);
    expect(fs.statSync(path.join(out, 'results', 'huge-output', 'tiny.json')).size).toBeLessThan(20_000);
    // mode "uid" shows the kernel world-readable files, such as this fixture's official notebook
    if (!IN_CONTAINER) expect(points('escape')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 });
    expect(fs.existsSync(escaped)).toBe(false);
    expect(byStudent.get('escape')!.flags).toContain('imports fs/vm/child_process');
    expect(points('tamper')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 2, 'square-negative': 1 });
    expect(byStudent.get('tamper')!.flags).toEqual(expect.arrayContaining(['console reassignment']));
  });
});

describe('gradebook and feedback', () => {
  const csvRows = () => fs.readFileSync(path.join(out, 'gradebook.csv'), 'utf8').trim().split('\n');
  // the notes column: empty in the strongest sandbox mode, the fallback's note in a container (CSV-quoted)
  const notesCell = MODE_NOTES.length ? `"tiny: ${MODE_NOTES[0].replace(/"/g, '""')}"` : '';

  it('has a row per student, a column per test and totals', () => {
    const rows = csvRows();
    expect(rows[0]).toBe('student,tiny/mean-basic,tiny/mean-empty,tiny/square,tiny/square-negative,tiny/total,total,max_total,notes');
    expect(rows).toHaveLength(16);
    expect(rows.find((r) => r.startsWith('correct,'))).toBe(`correct,2,1,2,1,6,6,6,${notesCell}`);
    expect(rows.find((r) => r.startsWith('partial,'))).toBe(`partial,2,1,0,0,3,3,6,${notesCell}`);
  });

  it('shows hidden tests in feedback by points only, without their code or messages', () => {
    const html = fs.readFileSync(path.join(out, 'feedback', 'partial', 'tiny.html'), 'utf8');
    expect(html).toContain('square-negative');
    expect(html).toContain('hidden test: details are not shown');
    expect(html).not.toContain('square(-1.5)');
    expect(html).toContain('square(3): expected 9');
  });

  it('re-grades one student without losing the others', async () => {
    const before = csvRows();
    submit('partial', { 'answer-mean': MEAN, 'answer-square': SQUARE });
    await gradeAll(findJobs(submissions, [tiny], 'partial'), 2, (r) => saveResult(out, r));
    writeGradebook(out, [tiny]);
    const after = csvRows();
    expect(after.find((r) => r.startsWith('partial,'))).toBe(`partial,2,1,2,1,6,6,6,${notesCell}`);
    expect(after.filter((r) => !r.startsWith('partial,'))).toEqual(before.filter((r) => !r.startsWith('partial,')));
  }, 120_000);
});

describe('source notebooks', () => {
  it('reject malformed markers with the cell named', () => {
    const bad = path.join(tmp, 'bad.ipynb');
    const nb = JSON.parse(fs.readFileSync(tiny.file, 'utf8')) as Notebook;
    nb.cells[2].source = cellSource(nb.cells[2]).replace('// END SOLUTION', '');
    fs.writeFileSync(bad, JSON.stringify(nb));
    expect(() => loadAssignment(bad)).toThrow(/cell 3: BEGIN SOLUTION without END SOLUTION/);
    nb.cells[2].source = '// TEST oops points=two visible\n';
    fs.writeFileSync(bad, JSON.stringify(nb));
    expect(() => loadAssignment(bad)).toThrow(/cell 3: bad test header/);
  });
});
