// A class graded at once (issue 30), as root as in CI: a submission must not cost a classmate
// points, nor the grading machine its memory, disk or grader. Each hostile answer is right only
// if its attack worked, so its points say whether it did; side effects are checked on the host.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throws as checkThrows } from '../assignments/check';
import { gradeAll, scanSubmissions } from '../grader/cli';
import { REPO, loadAssignments } from '../grader/format';
import { SubmissionResult, gradeSubmission, visibleMessage } from '../grader/grade';
import { release } from '../grader/release';
import { MEAN, SQUARE, submitter, tiny } from './graderFixtures';
import { IN_CONTAINER } from './sandboxHost';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grader-class-'));
const releaseDir = path.join(tmp, 'release');
const submissions = path.join(tmp, 'submissions');
const submit = submitter(releaseDir, submissions);
const file = (student: string) => path.join(submissions, student, 'tiny.ipynb');
const MARK = `leftover-${process.pid}`;
const LEFTOVERS = [`/tmp/${MARK}.bin`, `/tmp/${MARK}-dir`, `/var/tmp/${MARK}`, `/dev/shm/${MARK}`];
const KERNEL_MEMORY = 768 << 20; // the memory hog's kernel limit in this test
const byStudent = new Map<string, SubmissionResult>();
const points = (student: string) => Object.fromEntries(byStudent.get(student)!.tests.map((t) => [t.name, t.points]));
const FULL = { 'mean-basic': 2, 'mean-empty': 1, square: 2, 'square-negative': 1 };
const NO_SQUARE = { 'mean-basic': 2, 'mean-empty': 1, square: 0, 'square-negative': 0 };
let hogProcessesAtEnd = 0;
let runnerPeakMb = 0;

/** A square that is right only if `cond` (TypeScript) holds when it is called. */
const squareIf = (cond: string) => `function square(x: number): number {\n  return ${cond} ? x * x : -1;\n}`;

/** The hog's busy loops (`sh -c while ...` run by a grading uid), counted or killed from the host. */
function busyLoops(kill = false): number {
  let n = 0;
  for (const pid of fs.readdirSync('/proc')) {
    try {
      if (!/^\d+$/.test(pid) || fs.statSync(`/proc/${pid}`).uid < 600000) continue;
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sh\0-c\0while')) continue;
      n++;
      if (kill) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
  return n;
}

/** Samples the peak memory (VmHWM) of this process's kernel runners (run_notebook.py and its reader) until `done`. */
async function runnerPeak<T>(work: Promise<T>): Promise<[T, number]> {
  let peak = 0;
  let finished = false;
  const sample = () => {
    const runners = new Set<string>();
    for (const pid of fs.readdirSync('/proc')) {
      try {
        if (!/^\d+$/.test(pid) || !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('run_notebook.py')) continue;
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const ppid = /PPid:\s*(\d+)/.exec(status)![1];
        if (ppid === String(process.pid) || runners.has(ppid)) runners.add(pid);
        else continue;
        peak = Math.max(peak, Number(/VmHWM:\s*(\d+)/.exec(status)?.[1] ?? 0) / 1024);
      } catch {
        // gone
      }
    }
  };
  const loop = (async () => {
    while (!finished) {
      sample();
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const value = await work;
  finished = true;
  await loop;
  return [value, peak];
}

beforeAll(async () => {
  release([tiny], releaseDir);
  // A right answer whose cell needs a quarter of a second of CPU (20 s allowed): a starved kernel loses it.
  const work = '(() => {\n  let acc = 0;\n  for (let i = 0; i < 5e7; i++) acc = (acc + i) % 1000003;\n  return acc;\n})();';
  submit('correct', { 'answer-mean': `${work}\n${MEAN}`, 'answer-square': SQUARE });
  // 200 busy shell loops, each in its own session (past the scheduler's per-session groups), until
  // the test ends them from the host once the right answer is graded (at most 150 s).
  submit('hog', {
    'answer-mean': MEAN,
    'answer-square': `import * as cp from "child_process";
import * as fs from "fs";
cp.execSync('for i in $(seq 200); do setsid sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & done');
const loops = () => fs.readdirSync("/proc").filter((p) => { try { return fs.readFileSync(\`/proc/\${p}/cmdline\`, "utf8").startsWith("sh\\0-c\\0while"); } catch { return false; } }).length;
for (let t = 0; t < 150 && loops() > 0; t++) await new Promise((r) => setTimeout(r, 1000));
${SQUARE}`,
  });
  // Four processes of 300 MB each at once (each within the per-process limits).
  submit('memory-hog', {
    'answer-mean': MEAN,
    'answer-square': `import * as cp from "child_process";
const hold = "const b = Buffer.alloc(300 << 20, 1); console.log('held'); setTimeout(() => {}, 6000);";
const kids = [0, 1, 2, 3].map(() => cp.spawn(process.execPath, ["-e", hold], { stdio: ["ignore", "pipe", "ignore"] }));
const held = await Promise.all(kids.map((k) => new Promise<boolean>((resolve) => {
  k.stdout!.on("data", (d) => { if (String(d).includes("held")) resolve(true); });
  k.on("exit", () => resolve(false));
  setTimeout(() => resolve(false), 15000);
})));
for (const k of kids) k.kill("SIGKILL");
${squareIf('held.every((h) => h)')}`,
  });
  // Fills /dev/shm, /dev and the kernel's runtime folder (its connection file's folder).
  submit('filler', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";
import * as path from "path";
const fill = (dir: string) => {
  let n = 0;
  const chunk = Buffer.alloc(60 << 20, 1);
  for (let i = 0; i < 7; i++) { try { fs.writeFileSync(path.join(dir, \`fill-\${i}\`), chunk); n += fs.statSync(path.join(dir, \`fill-\${i}\`)).size; } catch { break; } }
  return n;
};
const runtime = path.dirname(process.argv[process.argv.indexOf("--config-path") + 1]);
const shm = fill("/dev/shm"), rt = fill(runtime), dev = fill("/dev");
console.log("filled", shm >> 20, rt >> 20, dev >> 20);
${squareIf('(shm >= (300 << 20) || rt >= (300 << 20) || dev > 0)')}`,
  });
  // One display message of 4M empty arrays (12 MB of JSON) and one of 2.5M (7.5 MB).
  submit('huge-message', {
    'answer-mean': `const jupyter = require("tslab/dist/jupyter.js");
for (const n of [4_000_000, 2_500_000]) jupyter.lastWriteDisplayData({ data: { "application/json": new Array(n).fill([]) }, metadata: {}, transient: {} }, false);
await new Promise((r) => setTimeout(r, 1000));
${MEAN}`,
    'answer-square': SQUARE,
  });
  // Files outside its folder in every place any uid may write (graded in mode uid).
  submit('leftovers', {
    'answer-mean': `import * as fs from "fs";
const paths = ${JSON.stringify(LEFTOVERS)};
for (const p of [paths[0], paths[2], paths[3]]) { try { fs.writeFileSync(p, "x".repeat(1 << 20)); fs.chmodSync(p, 0); } catch {} }
try { fs.mkdirSync(paths[1] + "/sub", { recursive: true }); fs.writeFileSync(paths[1] + "/sub/f", "x"); fs.chmodSync(paths[1], 0); } catch {}
${MEAN}`,
    'answer-square': SQUARE,
  });
  // Rewrites tslab's display function to strip the run-time flags, then changes built-ins
  // outside the old watch list (an iterator, Number.prototype).
  submit('flag-stripper', {
    'answer-mean': `const jupyter = require("tslab/dist/jupyter.js");
const display = jupyter.lastWriteDisplayData;
jupyter.lastWriteDisplayData = (d: any, u: any) => {
  const m = d.data["application/vnd.rlhf-grader+json"];
  if (m) { const r = JSON.parse(m); r.noticed = ""; r.changed = ""; d.data["application/vnd.rlhf-grader+json"] = JSON.stringify(r); }
  return display(d, u);
};
const iterator = Object.getPrototypeOf([][Symbol.iterator]());
const next = iterator.next;
iterator.next = function (this: any) { return next.call(this); };
const toFixed = Number.prototype.toFixed;
Number.prototype.toFixed = function (this: number, d?: number) { return toFixed.call(this, d); };
${MEAN}`,
    'answer-square': SQUARE,
  });
  // Bad input "throws", but not as check.ts counts it: a thrown null; a message getter that throws.
  submit('throw-null', { 'answer-mean': MEAN.replace('throw new Error("empty")', 'throw null'), 'answer-square': SQUARE });
  submit('throw-getter', {
    'answer-mean': MEAN.replace('throw new Error("empty")', 'throw Object.defineProperty(new Error(), "message", { get() { throw new Error("no message"); } })'),
    'answer-square': SQUARE,
  });

  // The hog first; the right answer once its loops run, with the assignment's own limits.
  const hog = gradeSubmission(tiny, 'hog', file('hog'), { cellTimeout: 180, notebookTimeout: 300 });
  for (let i = 0; i < 1200 && busyLoops() < 150; i++) await new Promise((r) => setTimeout(r, 100));
  byStudent.set('correct', await gradeSubmission(tiny, 'correct', file('correct')));
  hogProcessesAtEnd = busyLoops(true);
  byStudent.set('hog', await hog);

  // Time is not what this one measures: generous limits for a busy machine.
  const [huge, peak] = await runnerPeak(gradeSubmission(tiny, 'huge-message', file('huge-message'), { cellTimeout: 60, notebookTimeout: 180 }));
  byStudent.set('huge-message', huge);
  runnerPeakMb = peak;

  byStudent.set('leftovers', await gradeSubmission(tiny, 'leftovers', file('leftovers'), tiny.limits, { sandbox: 'uid' }));
  byStudent.set('memory-hog', await gradeSubmission(tiny, 'memory-hog', file('memory-hog'), tiny.limits, { kernelMemory: KERNEL_MEMORY }));
  const rest = scanSubmissions(submissions, [tiny]).jobs.filter((j) => ['filler', 'flag-stripper', 'throw-null', 'throw-getter'].includes(j.student));
  for (const r of await gradeAll(rest, 2, () => {})) byStudent.set(r.student, r);
  for (const r of byStudent.values()) console.error(`${r.student}: ${r.score}/${r.maxScore} in ${r.seconds.toFixed(1)} s; ${[...r.notes, ...r.tests.map((t) => t.message)].join(' | ')}`);
}, 900_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const f of LEFTOVERS) fs.rmSync(f, { recursive: true, force: true });
});

describe('a class graded at once', () => {
  // in a container: no cgroup, so no CPU weight per kernel and the hog's processes are not counted
  it.skipIf(IN_CONTAINER)('gives a right answer graded beside a CPU hog its full marks', () => {
    expect(hogProcessesAtEnd).toBeGreaterThanOrEqual(150); // the hog ran until the right answer was graded
    expect(points('correct')).toEqual(FULL);
    expect(byStudent.get('correct')!.notes).toEqual([]);
    expect(busyLoops()).toBe(0); // and the hog's loops ended with its kernel
  });

  // in a container: no cgroup, so only per-process memory limits
  it.skipIf(IN_CONTAINER)('limits the memory of all of a kernel\'s processes together', () => {
    expect(points('memory-hog')).toEqual(NO_SQUARE);
    expect(byStudent.get('memory-hog')!.notes.join()).toContain(`the kernel's memory limit of ${KERNEL_MEMORY >> 20} MB was reached`);
  });

  // in a container: no namespaces, so no private /dev/shm, /dev or runtime tmpfs
  it.skipIf(IN_CONTAINER)('bounds /dev/shm, /dev and the runtime folder', () => {
    expect(points('filler')).toEqual(NO_SQUARE);
    expect(byStudent.get('filler')!.tests[2].message).toContain('got -1');
  });

  it('keeps the runner small whatever the kernel sends, and grades the rest', () => {
    expect(runnerPeakMb).toBeGreaterThan(10); // the sampling saw the runner
    expect(runnerPeakMb).toBeLessThan(200);
    expect(points('huge-message')).toEqual(FULL);
    console.log(`runner peak under a 12 MB message: ${runnerPeakMb.toFixed(0)} MB`);
  });

  it('leaves no file behind in mode uid', () => {
    expect(byStudent.get('leftovers')!.sandbox).toBe('uid');
    expect(points('leftovers')).toEqual(FULL);
    for (const f of LEFTOVERS) expect(fs.existsSync(f)).toBe(false);
  });
});

describe('flags and assertions', () => {
  it('keeps the run-time flags when the submission rewrites tslab\'s display function', () => {
    const flags = byStudent.get('flag-stripper')!.flags.join('\n');
    expect(points('flag-stripper')).toEqual(FULL);
    expect(flags).toContain("at run time: tried to replace tslab's display function (ignored)");
    expect(flags).toMatch(/changed built-ins: .*Number\.prototype\.toFixed/);
    expect(flags).toMatch(/changed built-ins: .*ArrayIterator\.next/);
  });

  it('counts a thrown error exactly as check.ts does', () => {
    expect(points('throw-null')).toEqual({ ...FULL, 'mean-empty': 0 });
    expect(byStudent.get('throw-null')!.tests[1].message).toBe('mean of an empty list: expected an error, but it returned normally');
    expect(points('throw-getter')).toEqual({ ...FULL, 'mean-empty': 0 });
    expect(byStudent.get('throw-getter')!.tests[1].message).toBe('no message');
    // check.ts on the same values: the same verdicts.
    expect(() => checkThrows(() => { throw null; })).toThrow('call: expected an error, but it returned normally');
    expect(() => checkThrows(() => { throw Object.defineProperty(new Error(), 'message', { get() { throw new Error('no message'); } }); })).toThrow('no message');
    expect(() => checkThrows(() => { throw undefined; })).not.toThrow();
  });

  it('withholds a visible message that carries a hidden test\'s inputs in any spacing', () => {
    const gae = loadAssignments(path.join(REPO, 'assignments')).find((a) => a.name === 'ch05-gae')!;
    expect(visibleMessage(gae, 'Error: saved [0,0,1] and [0.1,0.2,0.3,0]')).toBe('[message withheld: it quotes a hidden test]');
    expect(visibleMessage(gae, 'Error: saved 0.1,0.2,0.3,0')).toBe('[message withheld: it quotes a hidden test]');
    expect(visibleMessage(gae, 'advantages[0]: expected 1 (within 1e-9), got 2')).toBe('advantages[0]: expected 1 (within 1e-9), got 2');
  });
});
