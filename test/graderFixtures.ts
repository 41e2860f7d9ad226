// Shared by the autograder tests: the tiny fixture assignment, its right answers, and a helper
// that writes a student's submission as the released notebook with some cells edited.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cell, Notebook, REPO, loadAssignment } from '../grader/format';

export const FIXTURE_DIR = path.join(REPO, 'test', 'fixtures', 'grader');
export const tiny = loadAssignment(path.join(FIXTURE_DIR, 'tiny.ipynb'));

export const MEAN = 'function mean(xs: number[]): number {\n  let t = 0;\n  for (const x of xs) t += x;\n  if (xs.length === 0) throw new Error("empty");\n  return t / xs.length;\n}';
export const SQUARE = 'function square(x: number): number {\n  return x * x;\n}';

export function codeCell(id: string, source: string): Cell {
  return { cell_type: 'code', id, source, metadata: {}, outputs: [], execution_count: null };
}

/**
 * Writes <submissions>/<student>/tiny.ipynb: the released notebook with cells replaced (by id),
 * removed (null), and an extra cell inserted before another.
 */
export function submitter(releaseDir: string, submissions: string) {
  return (student: string, edits: Record<string, string | null>, extra?: { before: string; cell: Cell }): string => {
    const nb = JSON.parse(fs.readFileSync(path.join(releaseDir, 'tiny.ipynb'), 'utf8')) as Notebook;
    nb.cells = nb.cells.filter((c) => edits[c.id!] !== null);
    for (const c of nb.cells) if (typeof edits[c.id!] === 'string') c.source = edits[c.id!] as string;
    if (extra) nb.cells.splice(nb.cells.findIndex((c) => c.id === extra.before), 0, extra.cell);
    fs.mkdirSync(path.join(submissions, student), { recursive: true });
    const file = path.join(submissions, student, 'tiny.ipynb');
    fs.writeFileSync(file, JSON.stringify(nb));
    return file;
  };
}
