/**
 * Assertions for assignment test cells, as students run them in Jupyter (notebooks import them
 * from "./check"). The grader does not run these: it cuts each call out of the test cell, lets the
 * kernel send only the actual value, and compares in its own process with the same rules and
 * messages (grader/checks.ts). They use only operators and `typeof`, never globals code in
 * the notebook could replace (Math.abs, Array.isArray, Number.isNaN...).
 */

function show(x: unknown): string {
  return typeof x === 'number' ? `${x}` : typeof x;
}

function isNumberList(x: unknown): x is ArrayLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as ArrayLike<unknown>).length === 'number';
}

/** Flattens nested arrays of numbers (e.g. from `await tensor.array()`) into one list. */
function flat(x: unknown, what: string, out: number[] = []): number[] {
  if (typeof x === 'number') {
    out.push(x);
    return out;
  }
  if (!isNumberList(x)) throw new Error(`${what}: expected numbers, got ${show(x)}`);
  for (let i = 0; i < x.length; i++) flat(x[i], what, out);
  return out;
}

/** |actual - expected| <= tol (absolute), and actual is a finite number. */
export function close(actual: unknown, expected: number, tol = 1e-6, what = 'value'): void {
  if (typeof actual !== 'number') throw new Error(`${what}: expected a number, got ${show(actual)}`);
  const d = actual - expected;
  if (!(d <= tol && d >= -tol)) throw new Error(`${what}: expected ${expected} (within ${tol}), got ${actual}`);
}

/** Element-wise close for (nested) arrays of the same flattened length. */
export function allClose(actual: unknown, expected: unknown, tol = 1e-6, what = 'values'): void {
  const a = flat(actual, what);
  const e = flat(expected, `${what} (expected)`);
  if (a.length !== e.length) throw new Error(`${what}: expected ${e.length} numbers, got ${a.length}`);
  for (let i = 0; i < e.length; i++) close(a[i], e[i], tol, `${what}[${i}]`);
}

/** Strict equality of two primitives. */
export function equal(actual: unknown, expected: string | number | boolean, what = 'value'): void {
  if (actual !== expected) throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

/** `fn()` must throw (e.g. on bad input); the "not implemented" error of a stub does not count. */
export function throws(fn: () => unknown, what = 'call'): void {
  let message: unknown = null;
  try {
    fn();
  } catch (e) {
    message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : e;
  }
  if (message === null) throw new Error(`${what}: expected an error, but it returned normally`);
  if (typeof message === 'string' && message.indexOf('not implemented') === 0) {
    throw new Error(`${what}: ${message}`);
  }
}
