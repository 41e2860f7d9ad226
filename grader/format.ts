/**
 * The assignment format. An assignment is one tslab notebook (assignments/<name>.ipynb, nbformat
 * 4.5, every cell has an `id`) whose code cells are of four kinds:
 *
 * - answer cells: contain `// BEGIN SOLUTION <name>` ... `// END SOLUTION`; in the student
 *   version the lines between the markers become `throw new Error("not implemented: <name>")`.
 * - test cells: first line `// TEST <name> points=<N> visible|hidden`; a test passes when the
 *   cell runs without error and every assertion in it holds (see checks.ts: expected values are
 *   compared in the grader, never in the kernel). Hidden test cells are left out of the student
 *   version entirely.
 * - the helpers cell: first line `// HELPERS`; imports the assertions of assignments/check.ts.
 * - any other code cell (setup, imports): handed out and graded as written by the author.
 *
 * Notebook metadata `grader: {cell_timeout, notebook_timeout}` (seconds) sets the time limits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestProbe, compileTest } from './checks';

export interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata?: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

export interface TestSpec {
  name: string;
  points: number;
  visible: boolean;
}

export type CellKind =
  | { kind: 'markdown' }
  | { kind: 'answer'; stubs: string[] }
  | { kind: 'test'; test: TestSpec }
  | { kind: 'helpers' }
  | { kind: 'code' };

export interface Limits {
  cellTimeout: number;
  notebookTimeout: number;
}

/** Repository root; the assertions every notebook imports live in assignments/check.ts. */
export const REPO = path.resolve(__dirname, '..');
export const HELPERS_FILE = 'check.ts';
export const HELPERS_PATH = path.join(REPO, 'assignments', HELPERS_FILE);

export const DEFAULT_LIMITS: Limits = { cellTimeout: 30, notebookTimeout: 300 };

const TEST_HEADER = /^\/\/\s*TEST\s+([A-Za-z0-9_.-]+)\s+points=(\d+(?:\.\d+)?)\s+(visible|hidden)\s*$/;
const ANY_TEST_HEADER = /^\/\/\s*TEST\b/;
const BEGIN = /^(\s*)\/\/\s*BEGIN SOLUTION\b\s*([A-Za-z0-9_.$-]*)\s*$/;
const END = /^\s*\/\/\s*END SOLUTION\s*$/;

export function cellSource(cell: Cell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** Parses notebook JSON text; throws an error naming the file and the problem. */
export function parseNotebook(text: string, file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the start of the text: keep only where and what went wrong.
    const why = (e as Error).message.replace(/,?\s*"[^]*" is not valid JSON/, '').slice(0, 200);
    throw new Error(`${file}: not valid notebook JSON (${why})`);
  }
  if (typeof nb !== 'object' || nb === null || !Array.isArray(nb.cells)) {
    throw new Error(`${file}: not a Jupyter notebook (no "cells" list)`);
  }
  if (nb.nbformat !== 4) throw new Error(`${file}: nbformat ${nb.nbformat} is not supported (need 4)`);
  nb.cells.forEach((cell, i) => {
    if (typeof cell !== 'object' || cell === null || typeof cell.cell_type !== 'string') {
      throw new Error(`${file}: cell ${i + 1} is not a notebook cell`);
    }
    const src = cell.source;
    if (typeof src !== 'string' && !(Array.isArray(src) && src.every((s) => typeof s === 'string'))) {
      throw new Error(`${file}: cell ${i + 1} has no text source`);
    }
  });
  return nb;
}

export function readNotebook(file: string): Notebook {
  return parseNotebook(fs.readFileSync(file, 'utf8'), file);
}

/** Kind of one cell of an assignment source; throws on malformed markers. */
export function classify(cell: Cell, where: string): CellKind {
  if (cell.cell_type !== 'code') return { kind: 'markdown' };
  const lines = cellSource(cell).split('\n');
  const first = lines[0].trim();
  if (ANY_TEST_HEADER.test(first)) {
    const m = TEST_HEADER.exec(first);
    if (!m) throw new Error(`${where}: bad test header "${first}"; expected "// TEST <name> points=<N> visible|hidden"`);
    return { kind: 'test', test: { name: m[1], points: Number(m[2]), visible: m[3] === 'visible' } };
  }
  if (first === '// HELPERS') return { kind: 'helpers' };
  const stubs = lines.filter((l) => BEGIN.test(l)).map((l) => BEGIN.exec(l)![2] || cell.id || 'answer');
  return stubs.length > 0 ? { kind: 'answer', stubs } : { kind: 'code' };
}

/** The student's version of an answer cell: each solution block becomes a throwing stub. */
export function stripSolutions(source: string, where: string): string {
  const out: string[] = [];
  let open: { indent: string; name: string } | null = null;
  source.split('\n').forEach((line, i) => {
    const begin = BEGIN.exec(line);
    if (begin) {
      if (open) throw new Error(`${where}, line ${i + 1}: BEGIN SOLUTION inside another solution block`);
      open = { indent: begin[1], name: begin[2] || where };
      out.push(`${open.indent}throw new Error("not implemented: ${open.name}");`);
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where}, line ${i + 1}: END SOLUTION without BEGIN SOLUTION`);
      open = null;
    } else if (!open) {
      out.push(line);
    }
  });
  if (open) throw new Error(`${where}: BEGIN SOLUTION without END SOLUTION`);
  return out.join('\n');
}

/** The source of a test cell without its header line (the code that runs). */
export function testBody(cell: Cell): string {
  return cellSource(cell).split('\n').slice(1).join('\n');
}

export interface Assignment {
  name: string;
  file: string;
  notebook: Notebook;
  kinds: CellKind[];
  tests: TestSpec[];
  /** Per cell: the kernel's probe and the grader's checks of a test cell, else null. */
  probes: (TestProbe | null)[];
  limits: Limits;
}

/** Loads and validates an assignment source notebook. */
export function loadAssignment(file: string): Assignment {
  const notebook = readNotebook(file);
  const name = path.basename(file, '.ipynb');
  const ids = new Set<string>();
  const kinds = notebook.cells.map((cell, i) => {
    const where = `${file}, cell ${i + 1}`;
    if (typeof cell.id !== 'string' || cell.id === '') throw new Error(`${where}: cell has no id (need nbformat 4.5 ids)`);
    if (ids.has(cell.id)) throw new Error(`${where}: duplicate cell id "${cell.id}"`);
    ids.add(cell.id);
    const kind = classify(cell, where);
    if (kind.kind === 'answer') stripSolutions(cellSource(cell), where);
    return kind;
  });
  const tests = kinds.flatMap((k) => (k.kind === 'test' ? [k.test] : []));
  const probes = kinds.map((k, i) => (k.kind === 'test' ? compileTest(testBody(notebook.cells[i]), `${file}, cell ${i + 1} (test ${k.test.name})`) : null));
  if (tests.length === 0) throw new Error(`${file}: no test cells ("// TEST <name> points=<N> visible|hidden")`);
  const names = tests.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${file}: two tests are named "${dup}"`);
  const meta = (notebook.metadata.grader ?? {}) as { cell_timeout?: number; notebook_timeout?: number };
  const limits = {
    cellTimeout: meta.cell_timeout ?? DEFAULT_LIMITS.cellTimeout,
    notebookTimeout: meta.notebook_timeout ?? DEFAULT_LIMITS.notebookTimeout,
  };
  return { name, file, notebook, kinds, tests, probes, limits };
}

/** All assignments in a folder (every *.ipynb), sorted by name. */
export function loadAssignments(dir: string): Assignment[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();
  if (files.length === 0) throw new Error(`${dir}: no assignment notebooks (*.ipynb)`);
  return files.map((f) => loadAssignment(path.join(dir, f)));
}

/** Writes a file atomically (temp file in the same folder, fsync, rename): the library's own. */
export { writeAtomic } from '../lib/core/files';
