/**
 * TA commands (see "For TAs" in README.md):
 *   release [--source assignments] [--out release]
 *   grade <submissions> [--source assignments] [--out grades] [--student S] [--assignment A]
 *         [--jobs N] [--cell-timeout S] [--notebook-timeout S]
 *   check [--source assignments]        solutions must get full marks and the student version none
 *   gradescope [<assignment> ...] [--hidden after_published|hidden] [--out build/gradescope]
 *         [--cell-timeout S] [--notebook-timeout S]   Gradescope autograder zips (all assignments if none named)
 *   gradescope-run [--root /autograder]   inside Gradescope's container (run_autograder calls it)
 *   gradescope-selftest                   setup.sh's check: the official notebook gets full marks
 * Submissions are laid out <submissions>/<student>/<assignment>.ipynb.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Assignment, Limits, loadAssignments } from './format';
import { SubmissionResult, checkSandbox, gradeSubmission, ungradedResult } from './grade';
import { saveFolderNotes, saveResult, writeGradebook } from './gradebook';
import { HiddenVisibility, buildAutograderZip, runAutograder, selfTest } from './gradescope';
import { release, studentNotebook } from './release';

const STUDENT_ID = /^[A-Za-z0-9@._-]+$/;

interface Job {
  assignment: Assignment;
  student: string;
  file: string;
}

function parseArgs(argv: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) positional.push(argv[i]);
    else if (i + 1 >= argv.length) throw new Error(`option ${argv[i]} needs a value`);
    else flags.set(argv[i].slice(2), argv[++i]);
  }
  return { positional, flags };
}

function positiveNumber(flags: Map<string, string>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got "${v}"`);
  return n;
}

/** Where a submissions folder's contents went: jobs to grade, and notes per student folder. */
export interface Scan {
  jobs: Job[];
  /** Every student folder looked at. */
  students: string[];
  /** Problems with a student's folder as a whole (misnamed or missing notebooks...). */
  notes: Map<string, string[]>;
}

/** Lower case, without ".ipynb", copy marks (" (1)", "-copy", " copy 2") and spaces. */
function normalizedName(file: string): string {
  return file
    .toLowerCase()
    .replace(/\.ipynb$/, '')
    .replace(/\s*\(\d+\)\s*$/, '')
    .replace(/[\s_-]*copy(\s*\d+)?$/, '')
    .replace(/[\s_]+/g, '-');
}

/** The assignment a misnamed notebook was probably meant for (same name or same chapter). */
function meantFor(file: string, assignments: Assignment[]): Assignment | undefined {
  const n = normalizedName(file);
  return (
    assignments.find((a) => a.name.toLowerCase() === n) ??
    assignments.find((a) => {
      const chapter = /^ch\d+-/.exec(a.name.toLowerCase());
      return chapter !== null && n.startsWith(chapter[0]);
    })
  );
}

/**
 * One job per (student folder, assignment notebook found in it), filtered by the options, plus a
 * note for every student folder with something the grader will not grade (so that student still
 * gets a gradebook row saying why): near-miss file names, no notebook at all, a linked folder.
 */
export function scanSubmissions(dir: string, assignments: Assignment[], student?: string, only?: string): Scan {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such submissions folder`);
  if (only && !assignments.some((a) => a.name === only)) throw new Error(`--assignment ${only}: no such assignment`);
  if (student && !fs.existsSync(path.join(dir, student))) throw new Error(`--student ${student}: no folder ${path.join(dir, student)}`);
  const wanted = assignments.filter((a) => !only || a.name === only);
  const jobs: Job[] = [];
  const notes = new Map<string, string[]>();
  const students: string[] = [];
  for (const s of fs.readdirSync(dir).sort()) {
    if (student && s !== student) continue;
    const folder = path.join(dir, s);
    const st = fs.lstatSync(folder);
    if (!st.isDirectory() && !st.isSymbolicLink()) continue;
    if (!STUDENT_ID.test(s)) {
      console.error(`skipping folder "${s}": a student id may use only letters, digits, @ . _ -`);
      continue;
    }
    const mine: string[] = [];
    students.push(s);
    if (st.isSymbolicLink()) {
      notes.set(s, ['the student folder is a symbolic link: not graded (copy the files in)']);
      continue;
    }
    let entries: string[];
    try {
      entries = fs.readdirSync(folder).sort();
    } catch (e) {
      notes.set(s, [`the student folder could not be read (${(e as NodeJS.ErrnoException).code ?? 'error'}): not graded`]);
      continue;
    }
    let found = 0;
    for (const a of wanted) {
      if (entries.includes(`${a.name}.ipynb`)) {
        jobs.push({ assignment: a, student: s, file: path.join(folder, `${a.name}.ipynb`) });
        found++;
      }
    }
    for (const f of entries) {
      if (!f.toLowerCase().endsWith('.ipynb') || assignments.some((a) => f === `${a.name}.ipynb`)) continue;
      const target = meantFor(f, assignments);
      if (only && target && target.name !== only) continue;
      mine.push(target ? `"${f}" is not graded: the file must be named exactly "${target.name}.ipynb"` : `"${f}" is not graded: no assignment has that name`);
    }
    if (found === 0 && mine.length === 0 && !only) mine.push(`no notebook handed in (expected ${wanted.map((a) => `${a.name}.ipynb`).join(', ')})`);
    if (mine.length > 0) notes.set(s, mine);
  }
  return { jobs, students, notes };
}

/** One job per (student folder, assignment notebook found in it), filtered by the options. */
export function findJobs(dir: string, assignments: Assignment[], student?: string, only?: string): Job[] {
  return scanSubmissions(dir, assignments, student, only).jobs;
}

/** Runs jobs with at most `parallel` at a time, printing one progress line per finished job. */
export async function gradeAll(
  jobs: Job[],
  parallel: number,
  onResult: (r: SubmissionResult) => void,
  limits?: Partial<Limits>,
): Promise<SubmissionResult[]> {
  const results: SubmissionResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const lim = { ...job.assignment.limits, ...limits };
      // Whatever goes wrong with one submission is that submission's note; the batch goes on.
      let r: SubmissionResult;
      try {
        r = await gradeSubmission(job.assignment, job.student, job.file, lim);
      } catch (e) {
        r = ungradedResult(job.assignment, job.student, `grading failed: ${(e as Error)?.message ?? String(e)}`);
      }
      results.push(r);
      try {
        onResult(r);
      } catch (e) {
        console.error(`could not store the result of ${r.student} ${r.assignment}: ${(e as Error).message}`);
      }
      const note = r.notes.length ? `  (${r.notes[0].replace(/\s+/g, ' ')})` : '';
      console.error(`[${results.length}/${jobs.length}] ${r.student} ${r.assignment}: ${r.score}/${r.maxScore} in ${r.seconds.toFixed(1)} s${note}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  return results;
}

/**
 * Grades every assignment twice: its solutions must pass every test, and its student version
 * (stubs) must pass none; a test a stub passes gives points for nothing.
 */
export async function checkAssignments(assignments: Assignment[], parallel: number, limits?: Partial<Limits>): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grader-check-'));
  try {
    const jobs: Job[] = [];
    for (const a of assignments) {
      const stub = path.join(dir, `${a.name}.ipynb`);
      fs.writeFileSync(stub, JSON.stringify(studentNotebook(a)));
      jobs.push({ assignment: a, student: 'solution', file: a.file }, { assignment: a, student: 'stub', file: stub });
    }
    const results = await gradeAll(jobs, parallel, () => {}, limits);
    return results.flatMap((r) =>
      r.tests
        .filter((t) => t.passed === (r.student === 'stub'))
        .map((t) => (r.student === 'stub' ? `${r.assignment}/${t.name}: passes on the stub` : `${r.assignment}/${t.name}: fails on the solution: ${t.message}`)),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { positional, flags } = parseArgs(rest);
  const source = flags.get('source') ?? 'assignments';
  if (command === 'release') {
    const out = flags.get('out') ?? 'release';
    const files = release(loadAssignments(source), out);
    console.log(`wrote ${files.length} files to ${out}/ (no solutions, no hidden tests)`);
    return 0;
  }
  if (command === 'grade' || command === 'check') {
    checkSandbox();
    const assignments = loadAssignments(source);
    const parallel = positiveNumber(flags, 'jobs') ?? os.cpus().length;
    const limits = { cellTimeout: positiveNumber(flags, 'cell-timeout'), notebookTimeout: positiveNumber(flags, 'notebook-timeout') };
    for (const k of Object.keys(limits) as (keyof typeof limits)[]) if (limits[k] === undefined) delete limits[k];
    if (command === 'check') {
      const problems = await checkAssignments(assignments, parallel, limits);
      for (const p of problems) console.error(p);
      console.log(problems.length === 0 ? 'solutions get full marks, stubs get none' : `${problems.length} problem(s)`);
      return problems.length === 0 ? 0 : 1;
    }
    if (positional.length !== 1) throw new Error('usage: grade <submissions folder> [options]');
    const out = flags.get('out') ?? 'grades';
    const only = flags.get('assignment');
    const { jobs, students, notes } = scanSubmissions(positional[0], assignments, flags.get('student'), only);
    if (jobs.length === 0 && notes.size === 0) throw new Error(`${positional[0]}: no submissions found (expected <student>/<assignment>.ipynb)`);
    for (const student of students) {
      const list = notes.get(student) ?? [];
      // Grading one assignment only adds notes; a full run also clears notes that no longer hold.
      if (!only || list.length > 0) saveFolderNotes(out, student, list);
      if (list.length > 0) console.error(`${student}: ${list.join('; ')}`);
    }
    console.error(`grading ${jobs.length} submission(s), ${parallel} at a time`);
    // The gradebook is rebuilt after every submission, so an interrupted run still leaves one.
    const csv = path.join(out, 'gradebook.csv');
    writeGradebook(out, assignments);
    await gradeAll(jobs, parallel, (r) => (saveResult(out, r), writeGradebook(out, assignments)), limits);
    console.log(`gradebook: ${csv}; feedback: ${path.join(out, 'feedback')}/`);
    return 0;
  }
  if (command === 'gradescope') {
    const all = loadAssignments(source);
    const unknown = positional.filter((n) => !all.some((a) => a.name === n));
    if (unknown.length) throw new Error(`no such assignment: ${unknown.join(', ')} (have ${all.map((a) => a.name).join(', ')})`);
    const out = flags.get('out') ?? path.join('build', 'gradescope');
    const limits = { cellTimeout: positiveNumber(flags, 'cell-timeout'), notebookTimeout: positiveNumber(flags, 'notebook-timeout') };
    for (const a of all.filter((x) => positional.length === 0 || positional.includes(x.name))) {
      console.log(`wrote ${buildAutograderZip(a, out, (flags.get('hidden') ?? 'after_published') as HiddenVisibility, limits)}`);
    }
    return 0;
  }
  if (command === 'gradescope-run') {
    checkSandbox();
    await runAutograder(flags.get('root') ?? '/autograder');
    return 0;
  }
  if (command === 'gradescope-selftest') {
    checkSandbox();
    return (await selfTest()) ? 0 : 1;
  }
  throw new Error(`unknown command "${command ?? ''}"; use release, grade, check or gradescope`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`error: ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
