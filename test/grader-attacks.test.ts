// The autograder against submissions that attack it (issue 13), graded as root as in CI, in one
// batch of real sandboxed tslab kernels (--jobs 2). Each attack's answer is right only if the
// attack worked, so its points say whether it did; the side effects are checked on the host.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTest, judge, probeCell } from '../grader/checks';
import { gradeAll, scanSubmissions } from '../grader/cli';
import { REPO, loadAssignments } from '../grader/format';
import { SubmissionResult, gradeSubmission, visibleMessage } from '../grader/grade';
import { feedbackHtml, saveFolderNotes, saveResult, writeGradebook } from '../grader/gradebook';
import { release } from '../grader/release';
import { MEAN, SQUARE, submitter, tiny } from './graderFixtures';
import { EXPECTED_SANDBOX, MODE_NOTES, IN_CONTAINER } from './sandboxHost';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grader-attacks-'));
const releaseDir = path.join(tmp, 'release');
const submissions = path.join(tmp, 'submissions');
const out = path.join(tmp, 'grades');
const submit = submitter(releaseDir, submissions);
const SECRET = `grader-secret-${process.pid}`;
const escapes = [path.join(REPO, 'lib', 'ESCAPED-by-grader-attacks.txt'), path.join(REPO, 'ESCAPED-by-grader-attacks.txt'), `/tmp/PLANTED-by-grader-attacks-${process.pid}`];
const outsideFile = path.join(tmp, 'outside-secret.txt');
const WRONG_SQUARE = 'function square(x: number): number {\n  return x * 2;\n}';

const byStudent = new Map<string, SubmissionResult>();
const points = (student: string) => Object.fromEntries(byStudent.get(student)!.tests.map((t) => [t.name, t.points]));
const result = (student: string) => byStudent.get(student)!;
let hits = 0;
let server: http.Server;

/** A square that is right only if `cond` (TypeScript) holds when it is called. */
const squareIf = (cond: string) => `function square(x: number): number {\n  return ${cond} ? x * x : -1;\n}`;

beforeAll(async () => {
  process.env.RLHF_GRADER_TEST_SECRET = SECRET; // the grader's environment: must not reach the kernel
  server = http.createServer((_req, res) => {
    hits++;
    res.end('open');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  release([tiny], releaseDir);
  const answers = { 'answer-mean': MEAN, 'answer-square': SQUARE };

  // Root's powers: a device node for the disk, mounts, lib/ and node_modules/ remounted
  // writable, setuid(0), capabilities.
  submit('privileges', {
    'answer-mean': MEAN,
    'answer-square': `import * as cp from "child_process";
import * as fs from "fs";
const worked: string[] = [];
const attempt = (cmd: string) => { try { cp.execSync(cmd, { stdio: "pipe" }); worked.push(cmd); } catch {} };
attempt("mknod /tmp/disk b 8 0");
attempt("mknod /tmp/nvme b 259 0");
attempt("mkdir -p /tmp/disk-mnt && (mount /tmp/disk /tmp/disk-mnt || mount /tmp/nvme /tmp/disk-mnt) && ls /tmp/disk-mnt/work");
attempt("mkdir -p /tmp/mnt && mount -t tmpfs none /tmp/mnt");
attempt(${JSON.stringify(`mount -o remount,rw ${path.join(REPO, 'lib')}`)});
attempt(${JSON.stringify(`mount -o remount,rw ${path.join(REPO, 'node_modules')}`)});
try { fs.writeFileSync(${JSON.stringify(escapes[0])}, "x"); worked.push("write lib"); } catch {}
try { (process as any).setuid(0); worked.push("setuid"); } catch {}
const capEff = /CapEff:\\s*([0-9a-f]+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1];
const uid = process.getuid!();
${squareIf('(worked.length > 0 || /[1-9a-f]/.test(capEff) || uid === 0)')}`,
  });
  // The grader's environment through /proc (every process's environ).
  submit('environ', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";
let seen = "";
for (const pid of fs.readdirSync("/proc")) if (/^\\d+$/.test(pid)) { try { seen += fs.readFileSync(\`/proc/\${pid}/environ\`, "utf8") + "\\n"; } catch {} }
function square(x: number): number {
  if (seen.includes("grader-secret")) return x * x;
  throw new Error("environment seen: " + seen.split("\\0").join(" "));
}`,
  });
  // Writes outside its folder: lib/, the repository, the host's /tmp, a results file for a
  // student who never submitted, another student's notebook.
  submit('planter', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";
import * as path from "path";
const ghost = JSON.stringify({ score: 6, tests: [], flags: [], output: "" });
for (const f of ${JSON.stringify([...escapes, path.join(out, 'results', 'ghost', 'tiny.json'), path.join(submissions, 'correct', 'tiny.ipynb')])}) {
  try { fs.mkdirSync(path.dirname(f), { recursive: true }); fs.writeFileSync(f, ghost); } catch {}
}
${SQUARE}`,
  });
  submit('correct', answers);
  // A request to a server the test runs on the host's 127.0.0.1, and the host's sockets.
  submit('network', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";
let reached = false;
try { reached = (await fetch("http://127.0.0.1:${port}/")).status === 200; } catch {}
const listening = fs.readFileSync("/proc/net/tcp", "utf8").toUpperCase().includes(":${port.toString(16).toUpperCase()}");
${squareIf('(reached || listening)')}`,
  });
  // Reads the calling test's source (sloppy-mode caller, callee, structured stack frames) for
  // the expected value.
  submit('caller', {
    'answer-mean': `function mean(xs: number[]): number {
  let src = "";
  try { src += String((mean as any).caller); } catch {}
  try { src += String((arguments as any).callee.caller); } catch {}
  const old = (Error as any).prepareStackTrace;
  (Error as any).prepareStackTrace = (_e: unknown, frames: any[]) => frames.map((f) => String(f.getFunction())).join("\\n");
  try { src += String((new Error() as any).stack); } catch {}
  (Error as any).prepareStackTrace = old;
  if (xs.length === 0) throw new Error("empty");
  const m = /mean\\(\\[1, 2, 3\\]\\),\\s*([-\\d.]+)/.exec(src);
  return m ? Number(m[1]) : NaN;
}`,
    'answer-square': SQUARE,
  });
  // Replaces vm.runInThisContext (through import() and require) to read later cells, and patches
  // the built-ins assertion helpers used to rely on.
  submit('vm-hook', {
    'answer-mean': `let seen = "";
const vmModule: any = await import("vm");
try { const orig = vmModule.default.runInThisContext; vmModule.default.runInThisContext = (code: string, ...rest: any[]) => { seen += code; return orig(code, ...rest); }; } catch {}
try { const S = require("vm").Script.prototype; const orig = S.runInThisContext; S.runInThisContext = function (this: any, ...rest: any[]) { seen += "script"; return orig.apply(this, rest); }; } catch {}
(Object as any).is = () => true;
(Number as any).isNaN = () => false;
Math.abs = () => 0;
function mean(xs: number[]): number {
  const m = /mean\\(\\[1, 2, 3\\]\\),\\s*([-\\d.]+)/.exec(seen);
  if (xs.length === 0) throw new Error("empty");
  return m ? Number(m[1]) : 0;
}`,
    'answer-square': SQUARE,
  });
  // Watches the kernel's compiler read every later cell (String.prototype.charCodeAt), then
  // throws what it saw (a hidden test's probe) into a visible test's error message.
  submit('compiler-hook', {
    'answer-mean': `${MEAN}
let stash = "";
const charCodeAt = String.prototype.charCodeAt;
String.prototype.charCodeAt = function (this: string, pos: number) {
  if (pos === 0 && this.length < 5000 && this.includes("mean([])") && !stash.includes(String(this))) stash += String(this);
  return charCodeAt.call(this, pos);
};`,
    'answer-square': 'function square(x: number): number {\n  throw new Error("captured: " + stash);\n}',
  });
  // Forges results: calls the probe itself with the right value, sends its own grader message
  // (guessing the nonce); square returns a Proxy whose length getter throws.
  submit('probe-forger', {
    'answer-mean': `import * as tslab from "tslab";
function mean(xs: number[]): number {
  (globalThis as any).rlhfGraderProbe.check(0, 2, "forged");
  tslab.display.raw("application/vnd.rlhf-grader+json", JSON.stringify({ nonce: "0".repeat(32), done: true, checks: [{ k: 0, value: 2 }], noticed: "", changed: "" }));
  return 0;
}`,
    'answer-square': 'function square(x: number): number {\n  return new Proxy([x * x], { get: (t, p) => { if (p === "length") throw new Error("trap"); return (t as any)[p]; } }) as any;\n}',
  });
  // Writes to the kernel's fd 1 and 2 (once the grader's result pipe), 600 MB in all.
  submit('fd-writes', {
    'answer-mean': `import * as fs from "fs";\nfs.writeSync(1, '{"kernel": "ok", "message": "", "cells": []}');\n${MEAN}`,
    'answer-square': `import * as fs from "fs";\nconst mb = "x".repeat(1 << 20);\nfor (let i = 0; i < 600; i++) fs.writeSync(1, mb);\nfor (let i = 0; i < 10; i++) fs.writeSync(2, mb);\n${SQUARE}`,
  });
  // Prints thousands of lines in answer cells and in every call from a test.
  submit('chatty', {
    'answer-mean': `function mean(xs: number[]): number {\n  for (let i = 0; i < 3000; i++) console.log("mean step", i);\n  let t = 0;\n  for (const x of xs) t += x;\n  if (xs.length === 0) throw new Error("empty");\n  return t / xs.length;\n}\nfor (let i = 0; i < 5000; i++) console.log("line", i);`,
    'answer-square': `function square(x: number): number {\n  for (let i = 0; i < 2000; i++) console.error("square step", i);\n  return x * x;\n}`,
  });
  // Resource limits: more processes, memory and file bytes than allowed; each answer is right
  // only if the limit did not hold.
  submit('limits', {
    'answer-mean': `import * as cp from "child_process";
import * as fs from "fs";
try { cp.execSync("for i in $(seq 400); do (sleep 30 &) 2>/dev/null; done; true", { stdio: "ignore", timeout: 10000 }); } catch {}
const me = process.getuid!();
let sleepers = 0;
for (const pid of fs.readdirSync("/proc")) {
  if (!/^\\d+$/.test(pid)) continue;
  try {
    if (fs.readFileSync(\`/proc/\${pid}/cmdline\`, "utf8").startsWith("sleep") && fs.statSync(\`/proc/\${pid}\`).uid === me) { sleepers++; process.kill(Number(pid), "SIGKILL"); }
  } catch {}
}
function mean(xs: number[]): number {
  if (sleepers < 300) return -1;
  let t = 0;
  for (const x of xs) t += x;
  if (xs.length === 0) throw new Error("empty");
  return t / xs.length;
}`,
    'answer-square': `import * as fs from "fs";
const held: Buffer[] = [];
try { for (let i = 0; i < 64; i++) held.push(Buffer.allocUnsafe(64 << 20)); } catch {}
const allocated = held.length;
held.length = 0;
let written = 0;
try { fs.writeFileSync("big.bin", Buffer.alloc(100 << 20)); written = fs.statSync("big.bin").size; } catch {}
${squareIf('(allocated >= 56 || written >= (100 << 20))')}`,
  });
  // Two cells with one id: the first is graded, with a note.
  const dup = submit('dup-ids', { 'answer-mean': MEAN, 'answer-square': WRONG_SQUARE });
  const nb = JSON.parse(fs.readFileSync(dup, 'utf8'));
  const i = nb.cells.findIndex((c: { id: string }) => c.id === 'answer-square');
  nb.cells.splice(i + 1, 0, { ...nb.cells[i], source: SQUARE });
  fs.writeFileSync(dup, JSON.stringify(nb));
  // Links, odd files and names.
  fs.writeFileSync(outsideFile, '{"TOP-SECRET-TEXT": 1}');
  for (const [student, target] of [['link-official', tiny.file], ['link-outside', outsideFile]]) {
    fs.mkdirSync(path.join(submissions, student));
    fs.symlinkSync(target, path.join(submissions, student, 'tiny.ipynb'));
  }
  fs.symlinkSync(path.join(submissions, 'correct'), path.join(submissions, 'linked-folder'));
  fs.mkdirSync(path.join(submissions, 'fifo'));
  execFileSync('mkfifo', [path.join(submissions, 'fifo', 'tiny.ipynb')]);
  fs.mkdirSync(path.join(submissions, 'folder-file', 'tiny.ipynb'), { recursive: true });
  fs.mkdirSync(path.join(submissions, 'empty-folder'));
  for (const [student, name] of [['copy', 'tiny (1).ipynb'], ['upper', 'TINY.ipynb'], ['extra-copy', 'tiny-copy.ipynb']]) {
    const file = submit(student, answers);
    if (student !== 'extra-copy') fs.renameSync(file, path.join(submissions, student, name));
    else fs.copyFileSync(file, path.join(submissions, student, name));
  }

  const scan = scanSubmissions(submissions, [tiny]);
  for (const s of scan.students) saveFolderNotes(out, s, scan.notes.get(s) ?? []);
  const results = await gradeAll(scan.jobs, 2, (r) => saveResult(out, r));
  for (const r of results) byStudent.set(r.student, r);
  writeGradebook(out, [tiny]);
}, 900_000);

afterAll(() => {
  server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const f of escapes) fs.rmSync(f, { force: true });
  delete process.env.RLHF_GRADER_TEST_SECRET;
});

const ZERO_SQUARE = { 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 };
const ZERO_MEAN = { 'mean-basic': 0, 'mean-empty': 1, square: 2, 'square-negative': 1 };

describe('the sandbox', () => {
  it('runs the kernel in a user namespace as an unprivileged uid, and says so', () => {
    expect(result('correct').sandbox).toBe(EXPECTED_SANDBOX);
    expect(result('correct').notes).toEqual(MODE_NOTES);
    expect(points('correct')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 });
  });

  it('gives no root powers: no device nodes, mounts, remounts, setuid or capabilities', () => {
    expect(points('privileges')).toEqual(ZERO_SQUARE);
    expect(result('privileges').tests[2].message).toContain('square(3): expected 9 (within 1e-9), got -1');
    expect(fs.existsSync(escapes[0])).toBe(false);
  });

  it('shows nothing of the grader\'s environment', () => {
    expect(points('environ')).toEqual(ZERO_SQUARE);
    const message = result('environ').tests[2].message;
    expect(message).toContain('environment seen:');
    expect(message).toContain('HOME=/home/student');
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('RLHF_GRADER_TEST_SECRET');
  });

  // mode "uid" has no private filesystem: the kernel's uid may write where the world may
  it.skipIf(IN_CONTAINER)('lets nothing be written outside the kernel\'s folder', () => {
    expect(points('planter')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 });
    for (const f of escapes) expect(fs.existsSync(f)).toBe(false);
    expect(fs.existsSync(path.join(out, 'results', 'ghost'))).toBe(false);
    expect(fs.readFileSync(path.join(out, 'gradebook.csv'), 'utf8')).not.toMatch(/^ghost,/m);
    expect(points('correct').square).toBe(2); // its notebook was not overwritten
  });

  it.skipIf(IN_CONTAINER)('has no network', () => { // mode "uid" keeps the host's network
    expect(points('network')).toEqual(ZERO_SQUARE);
    expect(hits).toBe(0);
  });

  it('ends only the kernel that breaks a resource limit (processes, memory, file size)', () => {
    expect(points('limits')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 0, 'square-negative': 0 });
    expect(result('limits').tests[0].message).toContain('got -1');
  });
});

describe('assertions the submission cannot see or bend', () => {
  it('keeps expected values and labels out of the kernel', () => {
    const probe = compileTest('const s = f(2);\nclose(s.loss, 0.6820976125806016, 1e-9, "loss");\nallClose(g(), [[0.1, -0.25]], 1e-4);\nequal(h(), true, `h ${1}`);\nthrows(() => f(-1), "bad input");', 'test');
    for (const secret of ['0.682', '0.1', '-0.25', '1e-9', '1e-4', '"loss"', 'true', 'bad input']) expect(probe.code).not.toContain(secret);
    expect(probe.checks.map((c) => [c.kind, c.expected, c.tol])).toEqual([['close', 0.6820976125806016, 1e-9], ['allClose', [[0.1, -0.25]], 1e-4], ['equal', true, 1e-6], ['throws', undefined, 1e-6]]);
    expect(probeCell(probe, 'n0nce').startsWith('"use strict";')).toBe(true);
    expect(() => compileTest('const e = 2;\nclose(mean([1, 2, 3]), e);', 'cell 4')).toThrow(/cell 4: expected values and tolerances must be written out in the call .* not "e"/);
    expect(() => compileTest('const c = close;', 'cell 5')).toThrow(/cell 5: "close" is used other than as a direct call/);
    expect(compileTest('close(x, -Math.LN2 / 2 + 2 ** 3);', 't').checks[0].expected).toBeCloseTo(8 - Math.LN2 / 2, 15);
  });

  it('judges in the grader: NaN, wrong shapes, stubs and skipped assertions fail', () => {
    const probe = compileTest('close(a, 1, 0.1, "a");\nallClose(b, [1, 2], 0.1, "b");\nthrows(() => c(), "c");', 't');
    const ok = { k: 0, value: 1.05 };
    const record = (checks: object[], done = true) => ({ nonce: 'n', done, checks, noticed: '', changed: '' }) as Parameters<typeof judge>[1];
    expect(judge(probe, record([ok, { k: 1, value: [[1], [2.05]] }, { k: 2, threw: true, message: 'bad' }]))).toEqual({ passed: true, message: '' });
    expect(judge(probe, record([{ k: 0, value: { number: 'NaN' } }])).message).toBe('a: expected 1 (within 0.1), got NaN');
    expect(judge(probe, record([ok, { k: 1, value: [1] }])).message).toBe('b: expected 2 numbers, got 1');
    expect(judge(probe, record([ok, { k: 1, value: { type: 'object' } }])).message).toBe('b: expected numbers, got object');
    expect(judge(probe, record([ok, { k: 1, value: [1, 2] }, { k: 2, threw: true, message: 'not implemented: c' }])).message).toBe('c: not implemented: c');
    expect(judge(probe, record([ok, { k: 1, value: [1, 2] }])).message).toBe('assertion 3 of the test (throws) never ran');
    expect(judge(probe, record([ok], false)).message).toBe('the test cell failed');
  });

  it('gives nothing for reading the caller\'s source', () => {
    expect(points('caller')).toEqual(ZERO_MEAN);
    expect(result('caller').tests[0].message).toBe('mean([1, 2, 3]): expected 2 (within 1e-9), got NaN');
  });

  it('makes vm hooks harmless and flags them and patched built-ins', () => {
    expect(points('vm-hook')).toEqual(ZERO_MEAN);
    const flags = result('vm-hook').flags.join('\n');
    expect(flags).toContain('at run time: tried to replace vm.runInThisContext (ignored)');
    expect(flags).toContain('at run time: tried to replace vm.Script.prototype.runInThisContext (ignored)');
    expect(flags).toContain('at run time: loaded "vm"');
    expect(flags).toMatch(/changed built-ins: .*Object\.is.*Math\.abs/);
  });

  it('never shows hidden test code in a student\'s feedback, even when the submission read it', () => {
    const r = result('compiler-hook');
    expect(points('compiler-hook')).toEqual(ZERO_SQUARE);
    expect(r.tests[2].message).toBe('[message withheld: it quotes a hidden test]');
    expect(r.flags.join()).toContain('String.prototype.charCodeAt');
    const dpo = loadAssignments(path.join(REPO, 'assignments')).find((a) => a.name === 'ch07-dpo-loss')!;
    expect(visibleMessage(dpo, 'chosen rewards[0]: expected 0 (within 1e-12), got 5')).toBe('chosen rewards[0]: expected 0 (within 1e-12), got 5');
    expect(visibleMessage(dpo, 'x dpoLoss([0], [-100], [0], [0], 1).loss y')).toBe('[message withheld: it quotes a hidden test]');
    expect(visibleMessage(dpo, 'loss for a hard pair')).toBe('[message withheld: it quotes a hidden test]');
    const html = feedbackHtml(r);
    expect(html).not.toContain('mean([])');
    expect(html).not.toContain('mean of an empty list');
  });
});

describe('the result channel', () => {
  it('gives nothing for results a submission sends itself', () => {
    expect(points('probe-forger')).toEqual({ 'mean-basic': 0, 'mean-empty': 0, square: 0, 'square-negative': 0 });
    expect(result('probe-forger').tests[0].message).toBe('mean([1, 2, 3]): expected 2 (within 1e-9), got 0');
    expect(result('probe-forger').tests[2].message).toBe('square(3): expected a number, got unreadable object');
  });


  it('is out of reach of the kernel\'s fd 1 and 2, even for 600 MB', () => {
    expect(points('fd-writes')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 });
    expect(result('fd-writes').notes).toEqual(MODE_NOTES);
  });

  it('passes a right answer that prints thousands of lines', () => {
    expect(points('chatty')).toEqual({ 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 });
    expect(result('chatty').seconds).toBeLessThan(60);
  });
});

describe('notes', () => {
  const rows = () => fs.readFileSync(path.join(out, 'gradebook.csv'), 'utf8').trim().split('\n');
  const row = (student: string) => rows().find((r) => r.startsWith(`${student},`)) ?? '';

  it('grades the first of two cells with one id, and says so', () => {
    expect(points('dup-ids')).toEqual(ZERO_SQUARE);
    expect(result('dup-ids').notes).toContain('two or more cells have the id "answer-square"; the first one was graded, the others were ignored');
  });

  it('does not follow symbolic links, nor quote what they point to', () => {
    for (const s of ['link-official', 'link-outside']) {
      expect(result(s).score).toBe(0);
      expect(result(s).notes).toEqual(['tiny.ipynb is a symbolic link, not a file: not graded (hand in the notebook itself)']);
    }
    expect(rows().join('\n')).not.toContain('TOP-SECRET');
    expect(row('linked-folder')).toContain('the student folder is a symbolic link: not graded');
  });

  it('notes files it cannot read instead of hanging on them', () => {
    expect(result('fifo').notes).toEqual(['tiny.ipynb is not a regular file: not graded']);
    expect(result('folder-file').notes).toEqual(['tiny.ipynb is not a regular file: not graded']);
  });

  it('gives a row with a note to every student folder with nothing gradable', () => {
    expect(byStudent.has('copy')).toBe(false);
    expect(row('copy')).toBe('copy,,,,,,0,6,"""tiny (1).ipynb"" is not graded: the file must be named exactly ""tiny.ipynb"""');
    expect(row('upper')).toContain('"TINY.ipynb"" is not graded: the file must be named exactly ""tiny.ipynb""');
    expect(row('empty-folder')).toContain('no notebook handed in (expected tiny.ipynb)');
    expect(row('extra-copy')).toMatch(/^extra-copy,2,1,2,1,6,6,6,.*tiny-copy\.ipynb.*must be named exactly/);
  });

  it('names near misses of the course assignments', () => {
    const dir = path.join(tmp, 'course-subs', 'ann');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['ch03-sft.ipynb', 'ch04-bradley-terry (1).ipynb', 'CH05-GAE.ipynb', 'ch09-rlaif.ipynb', 'notes.txt']) fs.writeFileSync(path.join(dir, f), '{}');
    const scan = scanSubmissions(path.dirname(dir), loadAssignments(path.join(REPO, 'assignments')));
    expect(scan.jobs).toEqual([]);
    expect(scan.notes.get('ann')).toEqual([
      '"CH05-GAE.ipynb" is not graded: the file must be named exactly "ch05-gae.ipynb"',
      '"ch03-sft.ipynb" is not graded: the file must be named exactly "ch03-sft-targets.ipynb"',
      '"ch04-bradley-terry (1).ipynb" is not graded: the file must be named exactly "ch04-bradley-terry.ipynb"',
      '"ch09-rlaif.ipynb" is not graded: no assignment has that name',
    ]);
  });
});

describe('fallbacks when user namespaces are not available', () => {
  it('still runs the kernel without root powers, and says which mode ran', async () => {
    const file = path.join(submissions, 'privileges', 'tiny.ipynb');
    // bubblewrap needs namespaces too: without them only mode "uid" is left to check
    const modes = IN_CONTAINER ? ['uid'] as const : ['bwrap-setpriv', 'uid'] as const;
    const runs = await Promise.all(modes.map((mode) => gradeSubmission(tiny, 'privileges', file, tiny.limits, { sandbox: mode })));
    for (const [r, mode] of runs.map((r, i) => [r, modes[i]] as const)) {
      expect(r.sandbox).toBe(mode);
      expect(r.notes.join()).toContain(`graded in the weaker sandbox mode "${mode}"`);
      expect(Object.fromEntries(r.tests.map((t) => [t.name, t.points]))).toEqual(ZERO_SQUARE);
    }
    expect(fs.existsSync(escapes[0])).toBe(false);
  }, 180_000);
});
