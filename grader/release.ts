/**
 * The student version of the assignments: solutions replaced by throwing stubs, hidden tests
 * left out, outputs cleared, test and helper cells locked against editing in Jupyter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Assignment, Cell, HELPERS_FILE, HELPERS_PATH, Notebook, cellSource, stripSolutions, writeAtomic } from './format';

export function studentNotebook(a: Assignment): Notebook {
  const cells: Cell[] = [];
  a.notebook.cells.forEach((cell, i) => {
    const kind = a.kinds[i];
    if (kind.kind === 'test' && !kind.test.visible) return;
    let source = cellSource(cell);
    if (kind.kind === 'answer') source = stripSolutions(source, `${a.file}, cell ${i + 1}`);
    const locked = kind.kind === 'test' || kind.kind === 'helpers';
    // The id is repeated in metadata because tools that save nbformat 4.4 drop cell ids.
    const out: Cell = {
      cell_type: cell.cell_type,
      id: cell.id,
      metadata: { grader_id: cell.id, ...(locked ? { editable: false, deletable: false } : {}) },
      source,
    };
    if (cell.cell_type === 'code') Object.assign(out, { execution_count: null, outputs: [] });
    cells.push(out);
  });
  const metadata = { ...a.notebook.metadata };
  delete metadata.grader;
  return { nbformat: 4, nbformat_minor: 5, metadata, cells };
}

/** Text that must never appear in a student release: solution lines and hidden test code. */
export function secretLines(a: Assignment): string[] {
  const secrets: string[] = [];
  a.notebook.cells.forEach((cell, i) => {
    const kind = a.kinds[i];
    const lines = cellSource(cell).split('\n');
    if (kind.kind === 'test' && !kind.test.visible) secrets.push(...lines);
    if (kind.kind === 'answer') {
      let inside = false;
      for (const line of lines) {
        if (/\/\/\s*END SOLUTION/.test(line)) inside = false;
        if (inside) secrets.push(line);
        if (/\/\/\s*BEGIN SOLUTION/.test(line)) inside = true;
      }
    }
  });
  // Short lines ("}", "return x;") also occur in handed-out code; only distinctive ones count.
  return [...new Set(secrets.map((l) => l.trim()).filter((l) => l.length >= 12 && !l.startsWith('//')))];
}

/** Writes release/<name>.ipynb for each assignment plus the helpers, then checks for leaks. */
export function release(assignments: Assignment[], outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const a of assignments) {
    const file = path.join(outDir, `${a.name}.ipynb`);
    writeAtomic(file, JSON.stringify(studentNotebook(a), null, 1) + '\n');
    written.push(file);
  }
  const helpers = path.join(outDir, HELPERS_FILE);
  writeAtomic(helpers, fs.readFileSync(HELPERS_PATH, 'utf8'));
  written.push(helpers);
  const leaks = findLeaks(assignments, outDir);
  if (leaks.length > 0) throw new Error(`release leaks secret text:\n${leaks.join('\n')}`);
  return written;
}

/** Every (file, secret line) pair where a released file contains solution or hidden-test text. */
export function findLeaks(assignments: Assignment[], outDir: string): string[] {
  const secrets = assignments.flatMap(secretLines);
  const leaks: string[] = [];
  for (const f of fs.readdirSync(outDir, { recursive: true }) as string[]) {
    const file = path.join(outDir, f);
    if (!fs.statSync(file).isFile()) continue;
    const text = fs.readFileSync(file, 'utf8');
    for (const s of secrets) {
      if (text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1))) leaks.push(`${file}: ${s}`);
    }
  }
  return leaks;
}
