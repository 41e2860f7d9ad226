/**
 * Grade storage and reports. Each graded submission is stored as
 * <out>/results/<student>/<assignment>.json (Gradescope's results.json shape plus our fields);
 * the CSV gradebook is rebuilt from all stored results after every run, so re-grading one
 * student rewrites only that student's results and never loses anyone else's grades.
 * Per-student feedback goes to <out>/feedback/<student>/<assignment>.html.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Assignment, writeAtomic } from './format';
import { SubmissionResult } from './grade';

/** Gradescope-style results.json (score, max_score, tests[] with visibility) plus details. */
export function resultsJson(r: SubmissionResult): object {
  return {
    score: r.score,
    max_score: r.maxScore,
    execution_time: r.seconds,
    output: r.notes.join('\n'),
    tests: r.tests.map((t) => ({
      name: t.name,
      score: t.points,
      max_score: t.maxPoints,
      status: t.passed ? 'passed' : 'failed',
      visibility: t.visible ? 'visible' : 'after_published',
      output: t.message,
    })),
    student: r.student,
    assignment: r.assignment,
    flags: r.flags,
    sandbox: r.sandbox,
  };
}

export function saveResult(outDir: string, r: SubmissionResult): void {
  writeAtomic(path.join(outDir, 'results', r.student, `${r.assignment}.json`), JSON.stringify(resultsJson(r), null, 1) + '\n');
  writeAtomic(path.join(outDir, 'feedback', r.student, `${r.assignment}.html`), feedbackHtml(r));
}

/** results/<student>/<FOLDER_NOTES>: notes on the student's folder as a whole. */
const FOLDER_NOTES = 'folder.notes.json';

/**
 * Stores (or, given none, removes) the notes on a student's folder, e.g. a misnamed notebook, so
 * the gradebook has a row for that student even when nothing could be graded.
 */
export function saveFolderNotes(outDir: string, student: string, notes: string[]): void {
  const file = path.join(outDir, 'results', student, FOLDER_NOTES);
  if (notes.length > 0) writeAtomic(file, JSON.stringify({ notes }, null, 1) + '\n');
  else fs.rmSync(file, { force: true });
}

interface StoredResult {
  score: number;
  tests: { name: string; score: number }[];
  flags: string[];
  output: string;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Rebuilds <out>/gradebook.csv: one row per student with results on disk, a column per test
 * ("<assignment>/<test>"), a total per assignment, the overall total, and notes for the TA.
 * An assignment a student did not submit is left blank.
 */
export function writeGradebook(outDir: string, assignments: Assignment[]): string {
  const resultsDir = path.join(outDir, 'results');
  const students = fs.existsSync(resultsDir)
    ? fs
        .readdirSync(resultsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.readdirSync(path.join(resultsDir, d.name)).length > 0)
        .map((d) => d.name)
        .sort()
    : [];
  const header = ['student'];
  for (const a of assignments) header.push(...a.tests.map((t) => `${a.name}/${t.name}`), `${a.name}/total`);
  header.push('total', 'max_total', 'notes');
  const maxTotal = assignments.reduce((s, a) => s + a.tests.reduce((x, t) => x + t.points, 0), 0);
  const rows = [header.map(csvField).join(',')];
  for (const student of students) {
    const row: (string | number)[] = [student];
    const notes: string[] = [];
    const folderNotes = path.join(resultsDir, student, FOLDER_NOTES);
    if (fs.existsSync(folderNotes)) notes.push(...(JSON.parse(fs.readFileSync(folderNotes, 'utf8')) as { notes: string[] }).notes);
    let total = 0;
    for (const a of assignments) {
      const file = path.join(resultsDir, student, `${a.name}.json`);
      if (!fs.existsSync(file)) {
        row.push(...a.tests.map(() => ''), '');
        continue;
      }
      let r: StoredResult;
      try {
        r = JSON.parse(fs.readFileSync(file, 'utf8')) as StoredResult;
      } catch (e) {
        row.push(...a.tests.map(() => ''), '');
        notes.push(`${a.name}: stored result ${file} is unreadable (${(e as Error).message.slice(0, 80)}); grade this student again`);
        continue;
      }
      const byName = new Map(r.tests.map((t) => [t.name, t.score]));
      row.push(...a.tests.map((t) => byName.get(t.name) ?? 0), r.score);
      total += r.score;
      if (r.output) notes.push(`${a.name}: ${r.output}`);
      if (r.flags.length) notes.push(`${a.name}: review (${r.flags.join(', ')})`);
    }
    row.push(total, maxTotal, notes.join(' | ').replace(/\s+/g, ' ').trim());
    rows.push(row.map(csvField).join(','));
  }
  const file = path.join(outDir, 'gradebook.csv');
  writeAtomic(file, rows.join('\n') + '\n');
  return file;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Feedback for the student. Hidden tests show name, points and pass/fail only: their messages
 * can quote expected values, so those stay in results/ for the TA.
 */
export function feedbackHtml(r: SubmissionResult): string {
  const rows = r.tests
    .map((t) => {
      const message = t.passed ? '' : t.visible ? t.message : 'hidden test: details are not shown';
      return `<tr class="${t.passed ? 'pass' : 'fail'}"><td>${esc(t.name)}</td><td>${t.visible ? 'visible' : 'hidden'}</td>` +
        `<td>${t.points} / ${t.maxPoints}</td><td>${t.passed ? 'passed' : 'failed'}</td><td><pre>${esc(message)}</pre></td></tr>`;
    })
    .join('\n');
  const notes = r.notes.map((n) => `<li>${esc(n)}</li>`).join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(r.assignment)}: ${esc(r.student)}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
.pass td:nth-child(4){color:#070}.fail td:nth-child(4){color:#b00}pre{white-space:pre-wrap;margin:0}</style></head>
<body><h1>${esc(r.assignment)}: ${r.score} / ${r.maxScore}</h1><p>Student: ${esc(r.student)}</p>
${notes ? `<ul>${notes}</ul>` : ''}
<table><tr><th>test</th><th>kind</th><th>points</th><th>result</th><th>message</th></tr>
${rows}
</table></body></html>
`;
}
