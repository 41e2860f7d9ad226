/**
 * pass@k: the chance that at least one of k samples of a prompt passes a verifier, estimated from
 * n >= k samples of which c passed, with the unbiased estimator of Chen et al. 2021 (arXiv
 * 2107.03374, "Evaluating Large Language Models Trained on Code", eq. 1):
 *
 *   pass@k = 1 - C(n - c, k) / C(n, k)        (the chance that k of the n drawn without replacement all fail)
 *
 * averaged over prompts. Sampling k and checking "any passed" would be unbiased too but noisier;
 * 1 - (1 - c/n)^k is biased low (Chen et al. show it). The ratio of binomials is computed as a
 * product, prod_{i = n-c+1}^{n} (1 - k / i), as in their numerically stable code.
 *
 * Across prompts the estimate's standard error is the sample sd of the per-prompt values over
 * sqrt(prompts): the noise of which prompts were asked; the sampling noise within a prompt adds to it.
 */
import { meanStderr } from '../core/stats';

/** pass@k of one prompt from n samples, c of them passing (unbiased; Chen et al. 2021). */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`passAtK: n (samples) must be an integer >= 1, got ${n}`);
  if (!Number.isInteger(c) || c < 0 || c > n) throw new Error(`passAtK: c (passing samples) must be an integer in 0..${n}, got ${c}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`passAtK: k must be an integer in 1..n = ${n}, got ${k}`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** pass@k over prompts: the mean of the per-prompt estimates, its standard error, and the values. */
export function passAtKMean(passes: (boolean | number)[][], k: number): { mean: number; stderr: number; perPrompt: number[] } {
  if (passes.length === 0) throw new Error('passAtKMean: no prompts');
  const perPrompt = passes.map((row, p) => {
    if (row.length < k) throw new Error(`passAtKMean: prompt ${p} has ${row.length} samples, fewer than k = ${k}`);
    const c = row.reduce<number>((a, x) => a + (x ? 1 : 0), 0);
    return passAtK(row.length, c, k);
  });
  const { mean, stderr } = meanStderr(perPrompt);
  return { mean, stderr, perPrompt };
}

/** pass@k for every k in `ks` (each <= the samples per prompt): one curve of a policy. */
export function passAtKCurve(passes: (boolean | number)[][], ks: number[]): { k: number; mean: number; stderr: number }[] {
  return ks.map((k) => {
    const { mean, stderr } = passAtKMean(passes, k);
    return { k, mean, stderr };
  });
}
