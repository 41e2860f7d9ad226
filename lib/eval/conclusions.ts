/**
 * The conclusions the course text draws from results, computed from a run's own numbers.
 *
 * A sentence typed once from one development run can be false in the student's run (another CPU,
 * another seed: who holds the frontier flipped between two machines). So every conclusion of
 * chapters 04-08 is a function here: it takes the run's numbers, returns the structured answer
 * (what a test or the reference command checks) and a sentence a notebook cell prints.
 * A verdict is read against its noise, measured from the run (a paired standard error over the
 * same pairs or prompts, a binomial one, or the scatter of a training curve), never against a fixed
 * tolerance, and has three answers: yes, no, or within noise (`z` standard errors, default 2). The
 * tests feed numbers that land in each answer.
 */
import { FrontierPoint, paretoFrontier, WinRate } from './eval';
import { mean, meanStderr, trailingMean } from '../core/stats';

export interface Conclusion<A> {
  answer: A;
  sentence: string;
}

/** A saved MethodResult (or anything with label, method, klK1, proxy, gold) as a reward-KL point. */
export function asPoint(r: { method: string; label: string; klK1: number; proxy: number; gold: number }): FrontierPoint {
  return { method: r.method, label: r.label, kl: Math.max(0, r.klK1), proxy: r.proxy, gold: r.gold };
}

const f2 = (x: number) => (Object.is(Math.round(x * 100), -0) ? 0 : x).toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * Who holds the gold Pareto frontier (no policy has more gold at less KL), and which policy ends
 * it (the most gold of all). Chapter 08.
 */
export function goldFrontier(points: FrontierPoint[]): Conclusion<{ frontier: string[]; methods: Record<string, number>; ends: string; endsMethod: string; endsGold: number; endsKL: number }> {
  if (points.length === 0) throw new Error('goldFrontier: no policies');
  const front = paretoFrontier(points, (p) => p.gold);
  const methods: Record<string, number> = {};
  for (const p of front) methods[p.method] = (methods[p.method] ?? 0) + 1;
  const end = front[front.length - 1];
  const counts = Object.entries(methods).filter(([m]) => m !== 'SFT').sort((a, b) => b[1] - a[1])
    .map(([m, k]) => `${m} ${k} of ${front.length}`).join(', ');
  return {
    answer: { frontier: front.map((p) => p.label), methods, ends: end.label, endsMethod: end.method, endsGold: end.gold, endsKL: end.kl },
    sentence: `On gold, the Pareto frontier of this run is ${front.map((p) => p.label).join(' -> ')} (points per method: ${counts || 'none besides SFT'}); `
      + `${end.label} ends it with the most gold of all, ${f2(end.gold)} at ${f2(end.kl)} nats.`,
  };
}

/** The three answers of a verdict read against its noise. */
export type Verdict = 'yes' | 'no' | 'within noise';
/** A change read against its noise. */
export type Shift = 'rose' | 'fell' | 'within noise';

/**
 * A paired change: the same items (pairs, prompts) measured before and after. Mean of the per-item
 * differences and its standard error, sample sd of the differences / sqrt(n); "rose" or "fell" when
 * the mean lies more than `z` standard errors from 0, else "within noise".
 */
export function pairedChange(before: ArrayLike<number>, after: ArrayLike<number>, z = 2): { change: number; stderr: number; n: number; shift: Shift } {
  if (before.length !== after.length) throw new Error(`pairedChange: ${before.length} values before and ${after.length} after; a paired change needs the same items on both sides`);
  if (before.length < 2) throw new Error(`pairedChange: needs at least two items, got ${before.length}`);
  const d = Array.from(after, (a, i) => a - before[i]);
  const { mean: change, stderr } = meanStderr(d);
  const shift: Shift = change > z * stderr ? 'rose' : change < -z * stderr ? 'fell' : 'within noise';
  return { change, stderr, n: d.length, shift };
}

const sgn = (x: number) => (x >= 0 ? '+' : '-');
const pm = (x: number, se: number) => `${sgn(x)}${f2(Math.abs(x))} ± ${f2(se)}`;

/**
 * Did gold peak and fall, and how much of its gain did it give back? On the trailing mean
 * (`smooth` iterations) of a run's per-iteration gold: start (first point), peak (highest point),
 * final (last point); drop = peak - final, gain = peak - start, gaveBack = drop / gain.
 *
 * Noise: each iteration's gold is a mean over one rollout; its noise sd is estimated from the series
 * itself by the mean squared successive difference (sigma^2 = sum (g[i+1] - g[i])^2 / (2 (n - 1)):
 * a slow trend barely moves it), and each smoothed point is a linear combination of iterations, so
 * the standard errors of drop and gain are exact sums of squared weights times sigma^2; gaveBack's by
 * the delta method. The peak is the largest of many noisy points, so it is biased upward: read the
 * answer as an upper estimate of the fall. `fell` is "yes" when the drop exceeds `z` standard errors,
 * "no" when the smoothed gold ends at its peak (nothing given back), else "within noise". Chapter 05.
 */
export function peakAndFall(gold: number[], opts: { smooth?: number; z?: number; proxy?: number[] } = {}): Conclusion<{
  start: number; peak: number; peakIteration: number; final: number; drop: number; dropSe: number; gain: number; gainSe: number;
  gaveBack: number; gaveBackSe: number; fell: Verdict; noiseSd: number; proxyStart?: number; proxyEnd?: number;
}> {
  const n = gold.length;
  if (n < 3) throw new Error('peakAndFall: needs at least three iterations');
  const { smooth = 5, z = 2 } = opts;
  const g = trailingMean(gold, smooth);
  const start = g[0], final = g[n - 1];
  const peakIdx = g.indexOf(Math.max(...g));
  const peak = g[peakIdx];
  let ss = 0;
  for (let i = 1; i < n; i++) ss += (gold[i] - gold[i - 1]) ** 2;
  const sigma = Math.sqrt(ss / (2 * (n - 1)));
  // weights of smoothed point i over the iterations: 1/len on its window
  const weights = (i: number) => {
    const w = new Array<number>(n).fill(0);
    const lo = Math.max(0, i - smooth + 1);
    for (let j = lo; j <= i; j++) w[j] = 1 / (i - lo + 1);
    return w;
  };
  const wStart = weights(0), wPeak = weights(peakIdx), wFinal = weights(n - 1);
  const seOf = (c: number[]) => sigma * Math.sqrt(c.reduce((a, x) => a + x * x, 0));
  const cDrop = wPeak.map((x, j) => x - wFinal[j]), cGain = wPeak.map((x, j) => x - wStart[j]);
  const drop = peak - final, gain = peak - start;
  const dropSe = seOf(cDrop), gainSe = seOf(cGain);
  const gaveBack = gain > 0 ? drop / gain : NaN;
  const gaveBackSe = gain > 0 ? seOf(cDrop.map((x, j) => x - gaveBack * cGain[j])) / gain : NaN;
  const fell: Verdict = peakIdx === n - 1 ? 'no' : drop > z * dropSe ? 'yes' : 'within noise';
  const p = opts.proxy ? trailingMean(opts.proxy, smooth) : undefined;
  const proxyPart = p ? `the proxy went from ${f2(p[0])} to ${f2(p[p.length - 1])} while ` : '';
  const share = gain > z * gainSe
    ? `it gave back ${pct(gaveBack)} ± ${(100 * gaveBackSe).toFixed(1)} points of its gain of ${f2(gain)}`
    : `its gain over the start (${f2(gain)} ± ${f2(gainSe)}) is itself within noise`;
  const read = fell === 'no' ? 'gold was still at its peak at the end: no fall'
    : fell === 'yes' ? `a fall beyond noise (the drop is ${(drop / Math.max(dropSe, 1e-12)).toFixed(1)} standard errors: over-optimization)`
      : `the drop is within ${z} standard errors: no fall that this run can tell from noise`;
  const sentence = `In this run ${proxyPart}gold (smoothed over ${smooth} iterations; noise ${f2(sigma)} per iteration) went from ${f2(start)} `
    + `to a peak of ${f2(peak)} at iteration ${peakIdx + 1} and ended at ${f2(final)} (iteration ${n}): a drop of ${f2(drop)} ± ${f2(dropSe)}; ${share}; ${read}.`;
  return {
    answer: { start, peak, peakIteration: peakIdx + 1, final, drop, dropSe, gain, gainSe, gaveBack, gaveBackSe, fell, noiseSd: sigma, proxyStart: p?.[0], proxyEnd: p?.[p.length - 1] },
    sentence,
  };
}

/**
 * Did DPO raise the chosen replies' log-probability or lower the rejected ones'? Measured on the
 * same held-out pairs before training (the reference policy, which DPO starts from) and after it:
 * per pair, the change of the summed log-probability (nats), averaged with its paired standard
 * error; each side "rose", "fell" or is "within noise" (`z` standard errors, default 2). The
 * implicit-reward margin beta * (change of chosen - change of rejected) starts at 0 exactly; it
 * "grew" ("yes") beyond noise, shrank ("no") or is within noise. Chapter 07.
 */
export function dpoLogProbShift(o: { chosenBefore: number[]; chosenAfter: number[]; rejectedBefore: number[]; rejectedAfter: number[]; beta: number }, z = 2): Conclusion<{
  chosen: Shift; rejected: Shift; chosenChange: number; chosenSe: number; rejectedChange: number; rejectedSe: number; margin: number; marginSe: number; marginGrew: Verdict; pairs: number;
}> {
  const c = pairedChange(o.chosenBefore, o.chosenAfter, z);
  const r = pairedChange(o.rejectedBefore, o.rejectedAfter, z);
  if (c.n !== r.n) throw new Error(`dpoLogProbShift: ${c.n} chosen and ${r.n} rejected replies; they must be the same pairs`);
  const m = pairedChange(Array.from(o.chosenBefore, (x, i) => o.beta * (x - o.rejectedBefore[i])), Array.from(o.chosenAfter, (x, i) => o.beta * (x - o.rejectedAfter[i])), z);
  const marginGrew: Verdict = m.shift === 'rose' ? 'yes' : m.shift === 'fell' ? 'no' : 'within noise';
  const how: Record<string, string> = {
    'rose/fell': 'it raised the chosen replies and lowered the rejected ones',
    'rose/within noise': 'it raised the chosen replies; the rejected ones moved within noise',
    'within noise/fell': 'it lowered the rejected replies while the chosen ones moved within noise',
    'within noise/within noise': 'neither side moved beyond noise',
    'fell/within noise': 'the chosen replies fell while the rejected ones moved within noise: against the labels',
    'within noise/rose': 'the rejected replies rose while the chosen ones moved within noise: against the labels',
    'fell/rose': 'the chosen replies fell and the rejected ones rose: against the labels',
  };
  const both = c.shift === r.shift && c.shift !== 'within noise';
  const what = both
    ? `both ${c.shift}, the ${c.change > r.change ? 'chosen' : 'rejected'} ones ${c.shift === 'rose' ? 'more' : 'less'}${c.change > r.change ? '' : ': against the labels'}`
    : how[`${c.shift}/${r.shift}`];
  return {
    answer: { chosen: c.shift, rejected: r.shift, chosenChange: c.change, chosenSe: c.stderr, rejectedChange: r.change, rejectedSe: r.stderr, margin: m.change, marginSe: m.stderr, marginGrew, pairs: c.n },
    sentence: `On the ${c.n} held-out pairs, from the SFT policy to the trained one, log p(chosen) changed by ${pm(c.change, c.stderr)} nats per pair and log p(rejected) by ${pm(r.change, r.stderr)} `
      + `(mean ± standard error): ${what}. The implicit-reward margin went from 0 to ${pm(m.change, m.stderr)}: ${marginGrew === 'yes' ? 'it grew beyond noise' : marginGrew === 'no' ? 'it shrank beyond noise' : 'within noise'}.`,
  };
}

/**
 * Is rejection-sampling fine-tuning cheaper in KL than the best-of-N it was trained on, and how
 * much of best-of-N's gold gain over SFT did it keep? Like with like: per prompt of the same
 * held-out prompts, the fine-tuned policy's sample KL (k1 of its one reply) against best-of-N's
 * sample estimate (bonKLEstimate; it errs low, so "cheaper" is a conservative answer); the mean
 * difference and its paired standard error. `cheaper`: "yes" when the policy's KL is below
 * best-of-N's by more than `z` standard errors, "no" when above, else "within noise". Chapter 06.
 */
export function rejectionVsBestOfN(o: { n: number; rsKL: number[]; bonKL: number[]; rsGold: number; bonGold: number; sftGold: number }, z = 2): Conclusion<{ cheaper: Verdict; klDiff: number; klDiffSe: number; rsKL: number; bonKL: number; keptGain: number }> {
  if (o.rsKL.length !== o.bonKL.length) throw new Error(`rejectionVsBestOfN: ${o.rsKL.length} KL values of the fine-tuned policy and ${o.bonKL.length} of best-of-${o.n}: measure both on the same prompts`);
  const d = pairedChange(o.bonKL, o.rsKL, z); // rs - bon per prompt
  const cheaper: Verdict = d.shift === 'fell' ? 'yes' : d.shift === 'rose' ? 'no' : 'within noise';
  const bonGain = o.bonGold - o.sftGold;
  const keptGain = bonGain !== 0 ? (o.rsGold - o.sftGold) / bonGain : NaN;
  const kept = Number.isFinite(keptGain) ? `it kept ${pct(keptGain)} of best-of-${o.n}'s gold gain over SFT (${f2(o.rsGold)} against ${f2(o.bonGold)}, SFT ${f2(o.sftGold)}) with one sample per reply` : 'best-of-N gained nothing over SFT in gold here';
  const rs = mean(o.rsKL), bon = mean(o.bonKL);
  const read = cheaper === 'yes' ? 'less KL, beyond noise' : cheaper === 'no' ? 'more KL, beyond noise' : `no difference beyond ${z} standard errors`;
  return {
    answer: { cheaper, klDiff: d.change, klDiffSe: d.stderr, rsKL: rs, bonKL: bon, keptGain },
    sentence: `Fine-tuned on best-of-${o.n} replies, the policy spent ${f2(rs)} nats of KL per reply (sample estimate) against ${f2(bon)} for best-of-${o.n} itself (sample estimate, same ${d.n} prompts): `
      + `a difference of ${pm(d.change, d.stderr)} nats, ${read}; ${kept}.`,
  };
}

/** A policy measured on the evaluation prompts: a frontier point with its per-prompt gold scores. */
export type ScoredPoint = FrontierPoint & { goldScores: number[] };

/**
 * Does PPO reach more gold than the best best-of-N point, and at how much KL? The gold difference
 * per held-out prompt (both policies answer the same prompts) with its paired standard error:
 * `ppoAhead` is "yes" beyond `z` standard errors, "no" when behind beyond them, else "within noise".
 * Chapter 08.
 */
export function ppoVsBestOfN(ppo: ScoredPoint, bon: ScoredPoint[], z = 2): Conclusion<{ ppoAhead: Verdict; goldDiff: number; goldDiffSe: number; bestBoN: string; bestBoNGold: number; bestBoNKL: number }> {
  if (bon.length === 0) throw new Error('ppoVsBestOfN: no best-of-N points');
  const best = bon.reduce((a, b) => (b.gold > a.gold ? b : a));
  const d = pairedChange(best.goldScores, ppo.goldScores, z);
  const ppoAhead: Verdict = d.shift === 'rose' ? 'yes' : d.shift === 'fell' ? 'no' : 'within noise';
  const read = ppoAhead === 'yes' ? 'more gold, beyond noise' : ppoAhead === 'no' ? 'less gold, beyond noise' : `within ${z} standard errors of it: no clear difference`;
  return {
    answer: { ppoAhead, goldDiff: d.change, goldDiffSe: d.stderr, bestBoN: best.label, bestBoNGold: best.gold, bestBoNKL: best.kl },
    sentence: `${ppo.label} reached gold ${f2(ppo.gold)} at ${f2(ppo.kl)} nats; the best best-of-N point, ${best.label}, ${f2(best.gold)} at ${f2(best.kl)} nats. `
      + `Per prompt PPO's gold differs by ${pm(d.change, d.stderr)} (mean ± standard error over ${d.n} prompts): ${read}`
      + (ppo.kl > best.kl ? `, at ${f2(ppo.kl / Math.max(best.kl, 1e-9))} times its KL.` : ', at no more KL.'),
  };
}

/**
 * A win rate read against a coin flip: "better" or "worse" when it lies more than `z` standard
 * errors (default 2) from 50%, else "unclear". Chapters 05, 07.
 */
export function winVerdict(label: string, w: WinRate, against = 'SFT', z = 2): Conclusion<{ verdict: 'better' | 'worse' | 'unclear'; standardErrors: number }> {
  const se = w.stderr > 0 ? (w.rate - 0.5) / w.stderr : (w.rate === 0.5 ? 0 : Math.sign(w.rate - 0.5) * Infinity);
  const verdict = se > z ? 'better' : se < -z ? 'worse' : 'unclear';
  const read = verdict === 'better' ? 'a clear gain' : verdict === 'worse' ? 'a clear loss' : `within ${z} standard errors of a coin flip: no clear difference`;
  return {
    answer: { verdict, standardErrors: se },
    sentence: `${label} won ${pct(w.rate)} ± ${(100 * w.stderr).toFixed(1)} of the gold comparisons against ${against} (${w.wins} wins, ${w.ties} ties, ${w.losses} losses), ${Math.abs(se).toFixed(1)} standard errors ${se >= 0 ? 'above' : 'below'} 50%: ${read}.`,
  };
}

/**
 * Does gold rise from each N to the next (and the proxy)? Each step compares best-of-n with the next
 * best-of-n on the same prompts (paired standard error): `goldRises` is "yes" when every step rises
 * beyond `z` standard errors, "no" when some step falls beyond them, else "within noise" (some step
 * is not told apart from no change). Where gold was highest is reported as measured. Chapter 06.
 */
export function bestOfNTrend(rows: { n: number; proxy: number; gold: number; proxyScores: number[]; goldScores: number[] }[], z = 2): Conclusion<{ goldRises: Verdict; proxyRises: Verdict; bestN: number; steps: { from: number; to: number; gold: Shift; proxy: Shift }[] }> {
  if (rows.length < 2) throw new Error('bestOfNTrend: needs at least two values of N');
  const r = [...rows].sort((a, b) => a.n - b.n);
  const steps = r.slice(1).map((x, i) => ({
    from: r[i].n, to: x.n,
    gold: pairedChange(r[i].goldScores, x.goldScores, z).shift, proxy: pairedChange(r[i].proxyScores, x.proxyScores, z).shift,
  }));
  const rises = (k: 'gold' | 'proxy'): Verdict => (steps.every((s) => s[k] === 'rose') ? 'yes' : steps.some((s) => s[k] === 'fell') ? 'no' : 'within noise');
  const best = r.reduce((a, b) => (b.gold > a.gold ? b : a));
  const goldRises = rises('gold'), proxyRises = rises('proxy');
  const flat = steps.filter((s) => s.gold !== 'rose').map((s) => `${s.from} -> ${s.to} (${s.gold})`).join(', ');
  return {
    answer: { goldRises, proxyRises, bestN: best.n, steps },
    sentence: goldRises === 'yes'
      ? `In this run gold rose beyond noise at every step of N, from ${f2(r[0].gold)} (N = ${r[0].n}) to ${f2(r[r.length - 1].gold)} (N = ${r[r.length - 1].n}): selecting by this reward model kept paying in gold up to N = ${r[r.length - 1].n}.`
      : `In this run gold did not rise beyond noise at every step of N (${flat}; paired over prompts, ${z} standard errors); it was highest at N = ${best.n} (${f2(best.gold)}) and ${f2(r[r.length - 1].gold)} at N = ${r[r.length - 1].n}, while the proxy ${proxyRises === 'yes' ? 'rose beyond noise at every step' : 'did not rise beyond noise at every step either'}.`,
  };
}

/**
 * Over-optimization at the level of policies: does the policy pushed harder have a higher proxy
 * score and less gold than the other? Both answered the same prompts: per prompt differences with
 * their paired standard errors; `higherProxy` and `lowerGold` are "yes", "no" (the opposite beyond
 * noise) or "within noise". Chapters 05 and 08.
 */
export function proxyGoldDivergence(harder: { label: string; proxy: number; gold: number; kl: number; proxyScores: number[]; goldScores: number[] }, softer: { label: string; proxy: number; gold: number; kl: number; proxyScores: number[]; goldScores: number[] }, sftGold: number, z = 2): Conclusion<{ higherProxy: Verdict; lowerGold: Verdict; goldDiff: number; goldDiffSe: number; goldGainOverSFT: number }> {
  const p = pairedChange(softer.proxyScores, harder.proxyScores, z);
  const g = pairedChange(softer.goldScores, harder.goldScores, z);
  const higherProxy: Verdict = p.shift === 'rose' ? 'yes' : p.shift === 'fell' ? 'no' : 'within noise';
  const lowerGold: Verdict = g.shift === 'fell' ? 'yes' : g.shift === 'rose' ? 'no' : 'within noise';
  const verdict = higherProxy === 'yes' && lowerGold === 'yes' ? 'the reward model\'s "better" stopped meaning better'
    : higherProxy === 'yes' && lowerGold === 'no' ? 'here more proxy still meant more gold'
      : higherProxy === 'yes' ? 'more proxy, and gold not told apart from noise'
        : 'it did not reach a higher proxy beyond noise';
  return {
    answer: { higherProxy, lowerGold, goldDiff: g.change, goldDiffSe: g.stderr, goldGainOverSFT: harder.gold - sftGold },
    sentence: `${harder.label} (${f2(harder.kl)} nats) scored proxy ${f2(harder.proxy)} and gold ${f2(harder.gold)}; ${softer.label} (${f2(softer.kl)} nats) proxy ${f2(softer.proxy)} and gold ${f2(softer.gold)}; SFT gold ${f2(sftGold)}. `
      + `Per prompt the harder-pushed policy's proxy differs by ${pm(p.change, p.stderr)} and its gold by ${pm(g.change, g.stderr)}: ${verdict}.`,
  };
}

/** Which part of the gold score did the reward model learn least and best (parts with >= minPairs pairs)? Chapter 04. */
export function weakestPart(rows: { part: string; pairs: number; rewardModelAgreement: number }[], minPairs = 20): Conclusion<{ weakest: string; weakestAcc: number; strongest: string; strongestAcc: number }> {
  const ok = rows.filter((r) => r.pairs >= minPairs && Number.isFinite(r.rewardModelAgreement));
  if (ok.length === 0) throw new Error(`weakestPart: no part has ${minPairs} or more pairs`);
  const lo = ok.reduce((a, b) => (b.rewardModelAgreement < a.rewardModelAgreement ? b : a));
  const hi = ok.reduce((a, b) => (b.rewardModelAgreement > a.rewardModelAgreement ? b : a));
  const se = (r: { pairs: number; rewardModelAgreement: number }) => (100 * Math.sqrt(Math.max(r.rewardModelAgreement * (1 - r.rewardModelAgreement), 1e-12) / r.pairs)).toFixed(1);
  return {
    answer: { weakest: lo.part, weakestAcc: lo.rewardModelAgreement, strongest: hi.part, strongestAcc: hi.rewardModelAgreement },
    sentence: `In this run the reward model learned ${lo.part} least (it preferred the better reply in ${pct(lo.rewardModelAgreement)} ± ${se(lo)} of ${lo.pairs} pairs) and ${hi.part} best (${pct(hi.rewardModelAgreement)} ± ${se(hi)} of ${hi.pairs}; ± one binomial standard error: parts closer than about two of them are not told apart).`,
  };
}

/**
 * Did an accuracy change by more than `z` standard errors? Binomial standard errors: on the same
 * pairs (`pairsBefore` omitted) sqrt(p(1-p)/n) at the first accuracy; on two different sets of
 * pairs the standard error of the difference, sqrt(p1(1-p1)/n1 + p2(1-p2)/n2). Chapter 04: the
 * second epoch (same pairs), and the reward model on temperature-1 samples (other pairs).
 */
export function accuracyChange(what: string, before: number, after: number, pairs: number, z = 2, pairsBefore?: number): Conclusion<{ change: number; stderr: number; verdict: 'rose' | 'fell' | 'within noise' }> {
  const v = (p: number, n: number) => Math.max(p * (1 - p), 1e-12) / n;
  const stderr = Math.sqrt(pairsBefore === undefined ? v(before, pairs) : v(before, pairsBefore) + v(after, pairs));
  const change = after - before;
  const verdict = change > z * stderr ? 'rose' : change < -z * stderr ? 'fell' : 'within noise';
  const on = pairsBefore === undefined ? `on ${pairs} pairs` : `of the difference (${pairsBefore} and ${pairs} pairs)`;
  return {
    answer: { change, stderr, verdict },
    sentence: `${what}: ${pct(before)} -> ${pct(after)} (${change >= 0 ? '+' : ''}${(100 * change).toFixed(1)} points; one standard error ${on} is ${(100 * stderr).toFixed(1)}): ${verdict === 'within noise' ? `within ${z} standard errors, no clear change` : `it ${verdict}`}.`,
  };
}

/**
 * Is `other`'s loss lower than `base`'s, beyond noise? Paired items: the same held-out chunks
 * (streamLossChunks) of two trained models, or the same seeds of two recipes (`over` says which).
 * pairedChange of other - base; "lower" / "higher" beyond `z` standard errors, else "within noise".
 * Chapter 02: the ladder's rungs and the training machinery.
 */
export function lossComparison(base: { label: string; losses: number[] }, other: { label: string; losses: number[] }, over: string, unit = 'nats/char', z = 2): Conclusion<{ change: number; stderr: number; verdict: 'lower' | 'higher' | 'within noise' }> {
  const { change, stderr, shift } = pairedChange(base.losses, other.losses, z);
  const verdict = shift === 'fell' ? 'lower' : shift === 'rose' ? 'higher' : 'within noise';
  const diff = `${change >= 0 ? '+' : '-'}${Math.abs(change).toFixed(3)} ± ${stderr.toFixed(3)} ${unit} over ${other.losses.length} ${over}`;
  return {
    answer: { change, stderr, verdict },
    sentence: `${other.label} vs ${base.label}: held-out loss ${diff}: ${verdict === 'within noise' ? `within ${z} standard errors, no clear difference` : verdict}.`,
  };
}

/**
 * Does a Gao et al. fit bend (a peak, beta > 0), and is the peak inside the measured KL range?
 * `peakKL` is the KL of the fitted peak (Infinity when the fit does not bend). Chapter 08.
 */
export function gaoShape(kind: 'best-of-N' | 'RL', fit: { beta: number; r2: number }, peakKL: number, maxMeasuredKL: number): Conclusion<{ bends: boolean; insideRange: boolean }> {
  const bends = fit.beta > 0 && Number.isFinite(peakKL);
  const insideRange = bends && peakKL <= maxMeasuredKL;
  const sentence = !bends
    ? `The ${kind} fit does not bend (beta ${f2(fit.beta)} <= 0, R² ${f2(fit.r2)}): up to ${f2(maxMeasuredKL)} nats gold was still rising, no over-optimization in this range.`
    : insideRange
      ? `The ${kind} fit peaks at ${f2(peakKL)} nats (R² ${f2(fit.r2)}), inside the measured range (up to ${f2(maxMeasuredKL)}): gold turned down within these runs.`
      : `The ${kind} fit bends but peaks at ${f2(peakKL)} nats (R² ${f2(fit.r2)}), beyond the measured ${f2(maxMeasuredKL)}: an extrapolation, not an observed fall.`;
  return { answer: { bends, insideRange }, sentence };
}

/** First, second and last of a rating table (Elo or Bradley-Terry). Chapter 08. */
export function ranking(ratings: Map<string, number> | Record<string, number>, system = 'Bradley-Terry'): Conclusion<{ order: string[]; first: string; last: string }> {
  const entries = ratings instanceof Map ? [...ratings.entries()] : Object.entries(ratings);
  if (entries.length < 2) throw new Error('ranking: needs at least two players');
  const order = entries.sort((a, b) => b[1] - a[1]);
  const [first, second] = order;
  const last = order[order.length - 1];
  return {
    answer: { order: order.map((e) => e[0]), first: first[0], last: last[0] },
    sentence: `${system} ranks ${first[0]} first (${first[1].toFixed(0)}), ${second[0]} second (${second[1].toFixed(0)}) and ${last[0]} last (${last[1].toFixed(0)}).`,
  };
}
