/**
 * How fast this machine grades a class: `npm run grade:throughput [-- --count 120 --jobs N --keep dir]`.
 * Generates `count` submissions (default 120) spread over every assignment in assignments/, of five
 * kinds (right, partial, stub, broken, slow), grades them like `npm run grade` (same grader,
 * sandbox, results and gradebook, `--jobs` = cores by default), and prints submissions per
 * minute, the slowest submission, the load average around the run, and what the rate means for a
 * class. Not part of `npm test` (it takes minutes).
 *
 * Kinds, cycling in a fixed pattern of 20 (8 right, 5 partial, 3 stub, 2 broken, 2 slow):
 *   right    every answer cell from the official notebook (full marks expected);
 *   partial  the first answer cell solved, the others left as stubs (an assignment with one
 *            answer cell then gets full marks);
 *   stub     the release as handed out (no points);
 *   broken   invalid JSON, or an answer cell that does not compile (no points);
 *   slow     right answers after 8 s of busy work, or an answer that never returns (each test
 *            calling it waits for the cell time limit, then the kernel is interrupted).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gradeAll, scanSubmissions } from './cli';
import { Assignment, REPO, cellSource, loadAssignments } from './format';
import { SubmissionResult, checkSandbox } from './grade';
import { saveResult, writeGradebook } from './gradebook';
import { studentNotebook } from './release';

type Kind = 'right' | 'partial' | 'stub' | 'broken' | 'slow';
const PATTERN: Kind[] = ['right', 'partial', 'stub', 'right', 'broken', 'right', 'partial', 'slow', 'right', 'partial',
  'stub', 'right', 'partial', 'broken', 'right', 'stub', 'right', 'partial', 'slow', 'right'];

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The notebook text of submission number `i` of kind `kind` for assignment `a`. */
function makeSubmission(a: Assignment, kind: Kind, i: number): string {
  const nb = studentNotebook(a);
  const answers = a.notebook.cells.filter((_, k) => a.kinds[k].kind === 'answer');
  const solve = (id: string) => (nb.cells.find((c) => c.id === id)!.source = cellSource(answers.find((c) => c.id === id)!));
  if (kind === 'stub') return JSON.stringify(nb);
  if (kind === 'broken') {
    if (i % 2 === 0) return JSON.stringify(nb).slice(0, 200);
    nb.cells.find((c) => c.id === answers[0].id)!.source = 'function (: number {\n  return ;\n';
    return JSON.stringify(nb);
  }
  if (kind === 'partial') solve(answers[0].id!);
  else for (const c of answers) solve(c.id!);
  if (kind === 'slow') {
    const cell = nb.cells.find((c) => c.id === answers[0].id)!;
    cell.source = i % 2 === 0
      ? `{ const until = Date.now() + 8000; while (Date.now() < until) {} }\n${cellSource(cell)}`
      // The first solution's function body starts with a loop that never ends.
      : cellSource(cell).replace(/(\/\/\s*BEGIN SOLUTION[^\n]*\n)/, '$1  let spin = true;\n  while (spin) {}\n');
  }
  return JSON.stringify(nb);
}

async function main(argv: string[]): Promise<void> {
  const count = Number(option(argv, 'count') ?? 120);
  const jobs = Number(option(argv, 'jobs') ?? os.cpus().length);
  if (!(Number.isInteger(count) && count >= 1) || !(Number.isInteger(jobs) && jobs >= 1)) throw new Error('--count and --jobs must be positive integers');
  checkSandbox();
  const assignments = loadAssignments(path.join(REPO, 'assignments'));
  const keep = option(argv, 'keep');
  const root = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'grade-throughput-'));
  const submissions = path.join(root, 'submissions');
  const out = path.join(root, 'grades');
  const kindOf = new Map<string, Kind>();
  for (let i = 0; i < count; i++) {
    // Each round of the pattern starts one assignment later, so every assignment meets every kind.
    const kind = PATTERN[i % PATTERN.length];
    const a = assignments[(i + Math.floor(i / PATTERN.length)) % assignments.length];
    const student = `s${String(i).padStart(4, '0')}`;
    kindOf.set(student, kind);
    fs.mkdirSync(path.join(submissions, student), { recursive: true });
    fs.writeFileSync(path.join(submissions, student, `${a.name}.ipynb`), makeSubmission(a, kind, i));
  }
  const { jobs: work } = scanSubmissions(submissions, assignments);
  const load = os.loadavg();
  console.log(`grading ${work.length} submissions over ${assignments.length} assignments, ${jobs} at a time, on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'})`);
  console.log(`load average before: ${load.map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min)`);
  const started = Date.now();
  const results: SubmissionResult[] = await gradeAll(work, jobs, (r) => (saveResult(out, r), writeGradebook(out, assignments)));
  const minutes = (Date.now() - started) / 60_000;
  const after = os.loadavg();
  const rate = results.length / minutes;
  console.log(`\nload average after: ${after.map((x) => x.toFixed(2)).join(', ')}`);
  console.log(`graded ${results.length} submissions in ${(minutes * 60).toFixed(0)} s: ${rate.toFixed(1)} submissions per minute with --jobs ${jobs}`);
  const slowest = results.reduce((x, y) => (y.seconds > x.seconds ? y : x));
  console.log(`slowest: ${slowest.student} ${slowest.assignment} (${kindOf.get(slowest.student)}) ${slowest.seconds.toFixed(1)} s`);
  for (const kind of new Set(PATTERN)) {
    const rs = results.filter((r) => kindOf.get(r.student) === kind);
    if (rs.length === 0) continue;
    const secs = rs.map((r) => r.seconds).sort((x, y) => x - y);
    const frac = rs.reduce((s, r) => s + r.score / r.maxScore, 0) / rs.length;
    console.log(`  ${kind.padEnd(8)} ${String(rs.length).padStart(4)} submissions, median ${secs[Math.floor(secs.length / 2)].toFixed(1)} s, max ${secs[secs.length - 1].toFixed(1)} s, mean score ${(100 * frac).toFixed(0)}%`);
  }
  const wrong = results.filter((r) => (kindOf.get(r.student) === 'right' && r.score !== r.maxScore) || (['stub', 'broken'].includes(kindOf.get(r.student)!) && r.score !== 0));
  for (const r of wrong) console.log(`  unexpected: ${r.student} ${r.assignment} (${kindOf.get(r.student)}) ${r.score}/${r.maxScore}: ${r.notes.join('; ')}`);
  const hours = (2400 / rate / 60).toFixed(1);
  console.log(`a class of 300 students x 8 assignments (2,400 submissions) at this rate: ${hours} h on this machine`);
  console.log(keep ? `submissions and grades kept in ${root}` : '');
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
  if (wrong.length > 0) process.exitCode = 1;
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(2);
});
