/**
 * How a test cell is graded without its expected values ever reaching the student's kernel.
 *
 * A test cell calls the assertions of assignments/check.ts: `close(actual, expected, tol?, what?)`,
 * `allClose(...)`, `equal(actual, expected, what?)`, `throws(fn, what?)`. At load time each call
 * is split in two: the kernel gets a probe, `rlhfGraderProbe.check(k, actual, what)` (or
 * `.throws(k, fn, what)`), which sends the student's value to the grader; the expected value and
 * tolerance stay here (they must be written out in the call: numbers, strings, arrays, Math
 * constants) and `judge` compares in the grader's own process. Student code can therefore neither
 * read expected values (they are not in the kernel) nor bend the comparison (it does not run
 * there). Labels that are plain strings are taken from the source, not from the kernel.
 */
import * as ts from 'typescript';

export type CheckKind = 'close' | 'allClose' | 'equal' | 'throws';

export interface CheckSpec {
  kind: CheckKind;
  expected?: unknown;
  tol: number;
  /** The label when it is a constant; else the kernel sends it. */
  what?: string;
  defaultWhat: string;
}

/** A test cell split into the code the kernel runs and what the grader keeps. */
export interface TestProbe {
  /** The test body with every assertion replaced by a probe (no expected values in it). */
  code: string;
  checks: CheckSpec[];
  /** The source of each assertion's first argument (what a message must not quote of a hidden test). */
  probed: string[];
}

/** What the kernel sent for one test cell (see grader/kernel_preload.cjs). */
export interface ProbeRecord {
  nonce: string;
  done: boolean;
  error?: string;
  checks: { k: number; value?: unknown; threw?: boolean; message?: string; what?: string | null }[];
  noticed: string;
  changed: string;
}

export const PROBE = 'rlhfGraderProbe';
const ARITY: Record<CheckKind, { what: number; max: number; defaultWhat: string }> = {
  close: { what: 3, max: 4, defaultWhat: 'value' },
  allClose: { what: 3, max: 4, defaultWhat: 'values' },
  equal: { what: 2, max: 3, defaultWhat: 'value' },
  throws: { what: 1, max: 2, defaultWhat: 'call' },
};
const DEFAULT_TOL = 1e-6;
const MATH_FUNCTIONS = new Set(['sqrt', 'exp', 'log', 'log1p', 'log2', 'log10', 'pow', 'abs', 'tanh', 'expm1']);

/** The value of a constant expression (literals, arithmetic, arrays, Math), or throws. */
function constant(node: ts.Expression, fail: (node: ts.Node) => never): unknown {
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node)) return constant(node.expression, fail);
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (node.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isIdentifier(node) && (node.text === 'Infinity' || node.text === 'NaN')) return Number(node.text);
  if (ts.isArrayLiteralExpression(node)) return node.elements.map((e) => (ts.isSpreadElement(e) ? fail(e) : constant(e, fail)));
  if (ts.isPrefixUnaryExpression(node)) {
    const v = constant(node.operand, fail);
    if (node.operator === ts.SyntaxKind.MinusToken && typeof v === 'number') return -v;
    if (node.operator === ts.SyntaxKind.PlusToken && typeof v === 'number') return v;
    if (node.operator === ts.SyntaxKind.ExclamationToken) return !v;
    return fail(node);
  }
  if (ts.isBinaryExpression(node)) {
    const a = constant(node.left, fail);
    const b = constant(node.right, fail);
    if (typeof a !== 'number' || typeof b !== 'number') return fail(node);
    switch (node.operatorToken.kind) {
      case ts.SyntaxKind.PlusToken: return a + b;
      case ts.SyntaxKind.MinusToken: return a - b;
      case ts.SyntaxKind.AsteriskToken: return a * b;
      case ts.SyntaxKind.SlashToken: return a / b;
      case ts.SyntaxKind.PercentToken: return a % b;
      case ts.SyntaxKind.AsteriskAsteriskToken: return a ** b;
      default: return fail(node);
    }
  }
  const mathName = (e: ts.Expression) =>
    ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'Math' ? e.name.text : undefined;
  const constName = mathName(node);
  if (constName !== undefined && typeof (Math as unknown as Record<string, unknown>)[constName] === 'number') {
    return (Math as unknown as Record<string, number>)[constName];
  }
  if (ts.isCallExpression(node)) {
    const fn = mathName(node.expression);
    if (fn !== undefined && MATH_FUNCTIONS.has(fn)) {
      const args = node.arguments.map((a) => constant(a, fail));
      if (args.every((x) => typeof x === 'number')) return (Math as unknown as Record<string, (...x: number[]) => number>)[fn](...(args as number[]));
    }
  }
  return fail(node);
}

/**
 * Splits a test cell's body (without its header line) into the kernel's probe code and the
 * grader's checks; throws an error naming `where` for a call it cannot split.
 */
export function compileTest(body: string, where: string): TestProbe {
  const file = ts.createSourceFile('test.ts', body, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const checks: CheckSpec[] = [];
  const probed: string[] = [];
  const edits: { start: number; end: number; text: string }[] = [];
  const visit = (node: ts.Node, inCheck: boolean): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text in ARITY) {
      const kind = node.expression.text as CheckKind;
      const call = `${kind}(...) in ${where}`;
      if (inCheck) throw new Error(`${call}: an assertion inside another assertion's arguments`);
      const arity = ARITY[kind];
      const args = node.arguments;
      const need = kind === 'throws' ? 1 : 2;
      if (args.length < need || args.length > arity.max) throw new Error(`${call}: expected ${need} to ${arity.max} arguments, got ${args.length}`);
      const fail = (bad: ts.Node): never => {
        throw new Error(`${call}: expected values and tolerances must be written out in the call (numbers, strings, arrays, Math constants), not "${bad.getText(file)}"`);
      };
      const spec: CheckSpec = { kind, tol: DEFAULT_TOL, defaultWhat: arity.defaultWhat };
      if (kind !== 'throws') spec.expected = constant(args[1], fail);
      if ((kind === 'close' || kind === 'allClose') && args.length > 2) {
        const tol = constant(args[2], fail);
        if (typeof tol !== 'number' || !(tol >= 0)) fail(args[2]);
        spec.tol = tol as number;
      }
      const whatArg = args[arity.what];
      let whatCode = 'undefined';
      if (whatArg !== undefined) {
        if (ts.isStringLiteral(whatArg) || ts.isNoSubstitutionTemplateLiteral(whatArg)) spec.what = whatArg.text;
        else whatCode = whatArg.getText(file);
      }
      const k = checks.push(spec) - 1;
      probed.push(args[0].getText(file));
      const method = kind === 'throws' ? 'throws' : 'check';
      edits.push({ start: node.getStart(file), end: node.getEnd(), text: `${PROBE}.${method}(${k}, ${args[0].getText(file)}, ${whatCode})` });
      node.arguments.forEach((a) => visit(a, true));
      return;
    }
    if (ts.isIdentifier(node) && node.text in ARITY && !(ts.isCallExpression(node.parent) && node.parent.expression === node)) {
      throw new Error(`${where}: "${node.text}" is used other than as a direct call`);
    }
    ts.forEachChild(node, (child) => visit(child, inCheck));
  };
  visit(file, false);
  let code = body;
  for (const e of edits.sort((a, b) => b.start - a.start)) code = code.slice(0, e.start) + e.text + code.slice(e.end);
  return { code, checks, probed };
}

/**
 * The test cell as sent to the kernel: strict mode (a student function cannot reach its caller),
 * the probe code in a try block, and a nonce made for this run on both ends.
 */
export function probeCell(probe: TestProbe, nonce: string): string {
  const n = JSON.stringify(nonce);
  return `"use strict";\ndeclare const ${PROBE}: any;\n${PROBE}.begin(${n});\ntry {\n${probe.code}\n${PROBE}.end(${n});\n} catch (e) {\n${PROBE}.fail(${n}, e);\n}\n`;
}

function show(x: unknown): string {
  if (typeof x === 'number') return `${x}`;
  if (typeof x === 'object' && x !== null && 'number' in x) return String((x as { number: unknown }).number);
  if (typeof x === 'object' && x !== null && 'type' in x) return String((x as { type: unknown }).type);
  return Array.isArray(x) ? 'an array' : typeof x;
}

/** A number sent by the kernel (non-finite numbers arrive as {"number": "NaN"}). */
function numberOf(x: unknown): number | undefined {
  if (typeof x === 'number') return x;
  if (typeof x === 'object' && x !== null && typeof (x as { number?: unknown }).number === 'string') return Number((x as { number: string }).number);
  return undefined;
}

function flatten(x: unknown, what: string, out: number[]): number[] {
  const n = numberOf(x);
  if (n !== undefined) out.push(n);
  else if (Array.isArray(x)) for (const item of x) flatten(item, what, out);
  else throw new Error(`${what}: expected numbers, got ${show(x)}`);
  return out;
}

function closeTo(actual: unknown, expected: number, tol: number, what: string): void {
  const a = numberOf(actual);
  if (a === undefined) throw new Error(`${what}: expected a number, got ${show(actual)}`);
  const d = a - expected;
  if (!(d <= tol && d >= -tol)) throw new Error(`${what}: expected ${expected} (within ${tol}), got ${a}`);
}

/** One check's verdict: undefined if it holds, else the message. */
function judgeOne(spec: CheckSpec, got: ProbeRecord['checks'][number]): string | undefined {
  const what = spec.what ?? (typeof got.what === 'string' ? got.what.slice(0, 300) : spec.defaultWhat);
  try {
    if (spec.kind === 'throws') {
      if (got.threw !== true) throw new Error(`${what}: expected an error, but it returned normally`);
      const m = typeof got.message === 'string' ? got.message : '';
      if (m.startsWith('not implemented')) throw new Error(`${what}: ${m}`);
    } else if (spec.kind === 'close') {
      closeTo(got.value, spec.expected as number, spec.tol, what);
    } else if (spec.kind === 'allClose') {
      const a = flatten(got.value, what, []);
      const e = flatten(spec.expected, `${what} (expected)`, []);
      if (a.length !== e.length) throw new Error(`${what}: expected ${e.length} numbers, got ${a.length}`);
      e.forEach((x, i) => closeTo(a[i], x, spec.tol, `${what}[${i}]`));
    } else {
      const a = numberOf(got.value) ?? got.value;
      if (a !== spec.expected) throw new Error(`${what}: expected ${String(spec.expected)}, got ${typeof a === 'object' ? show(a) : String(a)}`);
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The verdict on one test cell's record: passed only if the cell finished (not an error), each
 * assertion of the cell ran at least once, and every value the kernel sent holds.
 */
export function judge(probe: TestProbe, record: ProbeRecord): { passed: boolean; message: string } {
  for (const got of record.checks) {
    const spec = typeof got.k === 'number' ? probe.checks[got.k] : undefined;
    if (spec === undefined) return { passed: false, message: 'the test cell sent a result for an assertion it does not have' };
    const problem = judgeOne(spec, got);
    if (problem !== undefined) return { passed: false, message: problem };
  }
  if (!record.done) return { passed: false, message: record.error || 'the test cell failed' };
  const ran = new Set(record.checks.map((c) => c.k));
  const skipped = probe.checks.findIndex((_, k) => !ran.has(k));
  if (skipped >= 0) return { passed: false, message: `assertion ${skipped + 1} of the test (${probe.checks[skipped].kind}) never ran` };
  return { passed: true, message: '' };
}

/**
 * The values written in a test cell's code as a student's code could print them: each array of
 * constants as JSON and as JavaScript joins it (`[1.5,-2]`, `1.5,-2` for three or more items),
 * and numbers of five or more characters, all without whitespace. grade.ts withholds a visible
 * message that contains one of a hidden test's (inputs a submission saved and threw later).
 */
export function literalForms(body: string): string[] {
  const file = ts.createSourceFile('test.ts', body, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const forms = new Set<string>();
  const fail = (): never => {
    throw new Error('not a constant');
  };
  const visit = (node: ts.Node): void => {
    if (ts.isArrayLiteralExpression(node) && node.elements.length >= 2) {
      try {
        const v = constant(node, fail) as unknown[];
        forms.add(JSON.stringify(v));
        if (v.length >= 3) forms.add(String(v));
      } catch {
        // computed items: not a literal
      }
    } else if (ts.isNumericLiteral(node)) {
      const negative = ts.isPrefixUnaryExpression(node.parent) && node.parent.operator === ts.SyntaxKind.MinusToken;
      const text = `${negative ? '-' : ''}${Number(node.text)}`;
      if (text.length >= 5) forms.add(text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...forms].map((f) => f.replace(/\s+/g, ''));
}
