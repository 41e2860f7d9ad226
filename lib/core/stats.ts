/**
 * The few statistics every layer needs, written once: mean, sample standard deviation, mean with
 * its standard error, and the trailing moving average the notebooks plot and judge curves on.
 * Sums run left to right, so a result is the same float wherever it is computed.
 */

/** Mean of a list of numbers; throws on an empty list. */
export function mean(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n === 0) throw new Error('mean: empty list');
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i];
  return s / n;
}

/** Sample standard deviation (n - 1 in the denominator) around `m` (default: the mean); 0 for one value. */
export function sampleSd(xs: ArrayLike<number>, m: number = mean(xs)): number {
  const n = xs.length;
  if (n < 2) return 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/** Mean and standard error of the mean of a list of numbers (stderr NaN for one value). */
export function meanStderr(xs: ArrayLike<number>): { mean: number; stderr: number } {
  const n = xs.length;
  if (n === 0) throw new Error('meanStderr: empty list');
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i];
  const mean = s / n;
  if (n === 1) return { mean, stderr: NaN };
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i] - mean) ** 2;
  return { mean, stderr: Math.sqrt(v / (n - 1) / n) };
}

/**
 * Trailing moving average: out[i] = mean of xs[max(0, i - k + 1) .. i] (the first k - 1 points
 * average what there is). Smooths per-iteration curves (PPO's reward and KL) before plotting or fitting.
 */
export function smooth(xs: number[], k = 5): number[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`smooth: k must be an integer >= 1, got ${k}`);
  return xs.map((_, i) => {
    const w = xs.slice(Math.max(0, i - k + 1), i + 1);
    return w.reduce((a, b) => a + b, 0) / w.length;
  });
}

/** `smooth` under the name chapter 05's conclusions use: the mean of the last `k` values at each point. */
export function trailingMean(xs: number[], k = 5): number[] {
  return smooth(xs, k);
}
