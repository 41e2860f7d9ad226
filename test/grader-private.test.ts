// Issue 25: the grader run from a checkout under a private folder (mode 0700, like /root), as
// root. The kit's parts the grader needs are copied under a fresh 0700 folder (node_modules as
// hard links), and its own CLI grades a correct and an attacking submission there: both must be
// graded in mode "userns" with no mode note, and the attack must find none of the private files.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../grader/format';
import { release } from '../grader/release';
import { MEAN, SQUARE, submitter, tiny } from './graderFixtures';
import { runOk } from './run';
import { IN_CONTAINER } from './sandboxHost';

const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'grader-private-'));
const kit = path.join(parent, 'kit');
const source = path.join(kit, 'source');
const out = path.join(parent, 'grades');
const outUid = path.join(parent, 'grades-uid');
const MARKER = `private-marker-${process.pid}`;
const submissions = path.join(parent, 'submissions');

interface Results {
  score: number;
  sandbox: string;
  output: string;
  tests: { name: string; score: number; output: string }[];
}
const results = (student: string, dir = out): Results => JSON.parse(fs.readFileSync(path.join(dir, 'results', student, 'tiny.json'), 'utf8'));

beforeAll(async () => {
  if (IN_CONTAINER) return; // the describe below is skipped there: nothing to grade
  fs.chmodSync(parent, 0o700);
  fs.mkdirSync(path.join(kit, 'assignments'), { recursive: true });
  for (const dir of ['grader', 'lib']) fs.cpSync(path.join(REPO, dir), path.join(kit, dir), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'assignments', 'check.ts'), path.join(kit, 'assignments', 'check.ts'));
  fs.mkdirSync(source);
  // The official notebook and the other submissions carry a marker found nowhere else on the machine.
  const official = JSON.parse(fs.readFileSync(tiny.file, 'utf8'));
  official.cells[0].source += `\n${MARKER}`;
  fs.writeFileSync(path.join(source, 'tiny.ipynb'), JSON.stringify(official));
  // Hard links: the same files as this checkout's node_modules, reached only through `parent`.
  execFileSync('cp', ['-al', path.join(REPO, 'node_modules'), path.join(kit, 'node_modules')]);
  const releaseDir = path.join(parent, 'release');
  release([tiny], releaseDir);
  const submit = submitter(releaseDir, submissions);
  submit('correct', { 'answer-mean': `// ${MARKER}\n${MEAN}`, 'answer-square': SQUARE });
  // Looks for the official notebook, the grades and the other submissions everywhere it can:
  // the checkout's paths, the folders above lib/ and node_modules/, and every open descriptor.
  const targets = [path.join(source, 'tiny.ipynb'), path.join(out, 'results', 'correct', 'tiny.json'), path.join(submissions, 'correct', 'tiny.ipynb')];
  submit('prowler', {
    'answer-mean': MEAN,
    'answer-square': `import * as fs from "fs";
import * as path from "path";
const marker = ["private", "marker", ${JSON.stringify(String(process.pid))}].join("-"); // not written out in this cell
let found = "";
const look = (f: string) => { try { if (fs.statSync(f).isFile() && fs.readFileSync(f, "utf8").includes(marker)) found += f + " "; } catch {} };
for (const f of ${JSON.stringify(targets)}) look(f);
for (const start of [${JSON.stringify(path.join(kit, 'lib'))}, fs.realpathSync("node_modules"), fs.realpathSync("node_modules/rlhf")]) {
  for (let d = start; d !== "/"; d = path.dirname(d)) {
    try { for (const e of fs.readdirSync(d)) { look(path.join(d, e)); look(path.join(d, e, "tiny.ipynb")); } } catch {}
  }
}
for (const fd of fs.readdirSync("/proc/self/fd")) {
  for (const rel of ["", "..", "../..", "../source/tiny.ipynb", "../../source/tiny.ipynb"]) look(path.join("/proc/self/fd", fd, rel));
}
function square(x: number): number {
  return found ? x * x : -1;
}`,
  });
  const grade = (dir: string, mode: string, ...args: string[]) =>
    runOk(path.join(kit, 'node_modules', '.bin', 'tsx'), [path.join(kit, 'grader', 'cli.ts'), 'grade', submissions, '--source', source, '--out', dir, ...args], {
      env: { ...process.env, RLHF_GRADER_SANDBOX: mode },
      timeout: 600_000,
    });
  await grade(out, '', '--jobs', '2');
  await grade(outUid, 'uid', '--student', 'prowler');
}, 900_000);

afterAll(() => {
  fs.rmSync(parent, { recursive: true, force: true });
});

// in a container: no mount namespace to stage lib/ and node_modules/ from a 0700 folder (grader/sandbox.py)
describe.skipIf(IN_CONTAINER)('a checkout under a private (0700) folder, graded as root', () => {
  it('grades in the strongest mode, "userns", with no mode note', () => {
    for (const student of ['correct', 'prowler']) {
      expect(results(student).sandbox).toBe('userns');
      expect(results(student).output).toBe('');
    }
    expect(results('correct').score).toBe(6);
  });

  it('shows the kernel nothing of the private folder but lib/ and node_modules/', () => {
    expect(results('prowler').tests.map((t) => t.score)).toEqual([2, 1, 0, 0]);
    expect(results('prowler').tests[2].output).toContain('got -1');
  });

  it('runs the fallback mode "uid" from there too, showing it only lib/ and node_modules/', () => {
    expect(results('prowler', outUid).sandbox).toBe('uid');
    expect(results('prowler', outUid).output).toContain('graded in the weaker sandbox mode "uid" (chosen by the TA)');
    expect(results('prowler', outUid).tests.map((t) => t.score)).toEqual([2, 1, 0, 0]);
  });

  it('leaves the private folder private', () => {
    expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
  });
});
