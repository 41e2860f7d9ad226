/**
 * The conclusions of chapter 11 (what RLHF assumes), computed from a run's own numbers and read
 * against their noise, as lib/eval/conclusions.ts does for chapters 04-08: three answers, yes, no,
 * or within noise (`z` standard errors, default 2).
 *
 * - ceilingGap: is a reward model below the best accuracy any scalar reward reaches on the labels?
 * - whoseTaste: on the pairs where two populations disagree, whose side does a reward model take?
 * - populationGold: each population's gold before and after an optimisation, paired over prompts.
 * - sameItems: two models (or policies) on the same items, paired (drift vs gold labels; max-min vs pooled).
 * - sizeTrend: does a bigger reward model do better on the same benchmark pairs (log-size axis)?
 */
import { Conclusion, pairedChange, Shift, Verdict } from './conclusions';
import { mean, meanStderr } from '../core/stats';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => (100 * x).toFixed(1);
const f2 = (x: number) => (Object.is(Math.round(x * 100), -0) ? 0 : x).toFixed(2);
const signed = (x: number, d: (v: number) => string) => `${x >= 0 ? '+' : '-'}${d(Math.abs(x))}`;

/** Binomial standard error of a fraction p of n (p(1-p) floored so a perfect score still has noise). */
export function binomialSe(p: number, n: number): number {
  if (!(n > 0)) throw new Error(`binomialSe: n must be > 0, got ${n}`);
  return Math.sqrt(Math.max(p * (1 - p), 1 / (4 * n * n)) / n);
}

/**
 * Is `accuracy` (a reward model's, on `pairs` labelled pairs) below `ceiling` (the best any scalar
 * reaches on the same labels, preferenceGraph.ts) by more than z binomial standard errors of the
 * accuracy? "no" when it is above by as much (possible when the ceiling is only a lower bound).
 */
export function ceilingGap(o: { what: string; ceiling: number; accuracy: number; pairs: number }, z = 2): Conclusion<{ below: Verdict; gap: number; stderr: number }> {
  const stderr = binomialSe(o.accuracy, o.pairs);
  const gap = o.ceiling - o.accuracy;
  const below: Verdict = gap > z * stderr ? 'yes' : gap < -z * stderr ? 'no' : 'within noise';
  const tail = below === 'yes' ? 'below the ceiling beyond noise: it has not learned all a scalar could'
    : below === 'no' ? 'above this lower bound of the ceiling beyond noise' : `at the ceiling within noise (${z} standard errors): no scalar does better`;
  return {
    answer: { below, gap, stderr },
    sentence: `${o.what}: ${pct(o.accuracy)} ± ${pts(stderr)} points of ${o.pairs} pairs against a scalar ceiling of ${pct(o.ceiling)}, ${tail}.`,
  };
}

/**
 * On pairs where populations `a` and `b` prefer opposite replies, `sidesWithA[i]` is 1 when the
 * reward model prefers population a's choice, 0 when b's. Its mean is read against 1/2 with a
 * binomial standard error: a's side, b's side, or within noise.
 */
export function whoseTaste(a: string, b: string, sidesWithA: number[], z = 2): Conclusion<{ side: string; share: number; stderr: number; pairs: number }> {
  if (sidesWithA.length === 0) throw new Error('whoseTaste: no pairs where the populations disagree');
  const share = mean(sidesWithA);
  const stderr = binomialSe(share, sidesWithA.length);
  const side = share - 0.5 > z * stderr ? a : 0.5 - share > z * stderr ? b : 'within noise';
  return {
    answer: { side, share, stderr, pairs: sidesWithA.length },
    sentence: `On the ${sidesWithA.length} pairs where ${a} and ${b} disagree, the reward model takes ${a}'s side in ${pct(share)} ± ${pts(stderr)} points: `
      + (side === 'within noise' ? `neither, within noise (${z} standard errors of 50%).` : `${side}'s, beyond noise.`),
  };
}

/**
 * Each population's gold before and after an optimisation (`how`, e.g. "best-of-8 by the pooled
 * reward"), paired over the same prompts (conclusions.ts pairedChange). `someoneLost` is "yes" when
 * some population's gold fell beyond noise, "no" when every one rose beyond noise.
 */
export function populationGold(how: string, rows: { population: string; before: number[]; after: number[] }[], z = 2): Conclusion<{ someoneLost: Verdict; shifts: Record<string, Shift>; changes: Record<string, number>; stderrs: Record<string, number> }> {
  if (rows.length === 0) throw new Error('populationGold: no populations');
  const shifts: Record<string, Shift> = {};
  const changes: Record<string, number> = {};
  const stderrs: Record<string, number> = {};
  const parts = rows.map((r) => {
    const c = pairedChange(r.before, r.after, z);
    [shifts[r.population], changes[r.population], stderrs[r.population]] = [c.shift, c.change, c.stderr];
    return `${r.population} ${signed(c.change, f2)} ± ${f2(c.stderr)} (${c.shift})`;
  });
  const all = Object.values(shifts);
  const someoneLost: Verdict = all.includes('fell') ? 'yes' : all.every((s) => s === 'rose') ? 'no' : 'within noise';
  const verdict = someoneLost === 'yes' ? 'someone lost: optimising this reward made a population worse off by its own gold'
    : someoneLost === 'no' ? 'every population gained beyond noise' : 'no population lost beyond noise, but not every one gained beyond it';
  return { answer: { someoneLost, shifts, changes, stderrs }, sentence: `${how}, gold change per population over ${rows[0].before.length} prompts: ${parts.join('; ')}. ${verdict[0].toUpperCase()}${verdict.slice(1)}.` };
}

/**
 * Two models on the same items: per-item values `a` and `b` (0/1 correctness, or gold), the paired
 * mean difference b - a with its standard error. "yes" when b is higher beyond noise.
 */
export function sameItems(what: string, aLabel: string, a: number[], bLabel: string, b: number[], z = 2): Conclusion<{ higher: Verdict; diff: number; stderr: number }> {
  const c = pairedChange(a, b, z);
  const higher: Verdict = c.shift === 'rose' ? 'yes' : c.shift === 'fell' ? 'no' : 'within noise';
  const [ma, mb] = [meanStderr(a).mean, meanStderr(b).mean];
  return {
    answer: { higher, diff: c.change, stderr: c.stderr },
    sentence: `${what}: ${aLabel} ${f2(ma)}, ${bLabel} ${f2(mb)} (difference ${signed(c.change, f2)} ± ${f2(c.stderr)} over ${c.n} paired items): `
      + (higher === 'within noise' ? `within noise (${z} standard errors).` : `${higher === 'yes' ? bLabel : aLabel} is higher beyond noise.`),
  };
}

/**
 * Does accuracy grow with reward-model size? rows: a label, a parameter count and per-pair
 * correctness (0/1) on the same pairs. The verdict pairs the largest against the smallest; the
 * slope is the least-squares change of accuracy per doubling of parameters (log2 axis; the course's
 * sizes span about one or two doublings, so a slope per tenfold would extrapolate), shown but not
 * judged (three points).
 */
export function sizeTrend(rows: { label: string; params: number; correct: number[] }[], z = 2): Conclusion<{ biggerBetter: Verdict; diff: number; stderr: number; slopePerDoubling: number }> {
  if (rows.length < 2) throw new Error(`sizeTrend: needs at least two sizes, got ${rows.length}`);
  const s = [...rows].sort((x, y) => x.params - y.params);
  const [small, big] = [s[0], s[s.length - 1]];
  if (!(small.params < big.params)) throw new Error('sizeTrend: the sizes must differ');
  const c = pairedChange(small.correct, big.correct, z);
  const xs = s.map((r) => Math.log2(r.params));
  const ys = s.map((r) => mean(r.correct));
  const [mx, my] = [mean(xs), mean(ys)];
  const slopePerDoubling = xs.reduce((t, x, i) => t + (x - mx) * (ys[i] - my), 0) / xs.reduce((t, x) => t + (x - mx) ** 2, 0);
  const biggerBetter: Verdict = c.shift === 'rose' ? 'yes' : c.shift === 'fell' ? 'no' : 'within noise';
  const words = biggerBetter === 'yes' ? 'the largest is better beyond noise' : biggerBetter === 'no' ? 'the largest is worse beyond noise' : `the largest and the smallest are within noise of each other (${z} standard errors)`;
  return {
    answer: { biggerBetter, diff: c.change, stderr: c.stderr, slopePerDoubling },
    sentence: `From ${small.label} (${small.params.toLocaleString('en-US')} parameters) to ${big.label} (${big.params.toLocaleString('en-US')}), accuracy on the same ${c.n} pairs `
      + `changes by ${signed(c.change, pts)} ± ${pts(c.stderr)} points: ${words}; the fitted slope is ${signed(slopePerDoubling, pts)} points per doubling of parameters.`,
  };
}
