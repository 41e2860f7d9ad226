/**
 * The conclusions the course text draws from results, computed from a run's own numbers.
 *
 * A sentence typed once from one development run can be false in the student's run (another CPU,
 * another seed: who holds the frontier flipped between two machines). So every conclusion of
 * chapters 04-08 is a function here: it takes the run's numbers, returns the structured answer
 * (what a test or the reference command checks) and a sentence a notebook cell prints.
 * Thresholds are arguments with documented defaults; the tests feed numbers that make each
 * conclusion go either way.
 */
import { FrontierPoint, paretoFrontier, WinRate } from './eval';
import { trailingMean } from '../core/stats';

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

/**
 * Did gold peak and fall? On the trailing mean (`smooth` iterations) of a run's gold scores: it
 * "fell" when, after the peak, it gave back more than `giveBack` of its gain over the start.
 * Chapter 05's small-beta run.
 */
export function peakAndFall(gold: number[], opts: { smooth?: number; giveBack?: number; proxy?: number[] } = {}): Conclusion<{ start: number; peak: number; peakIteration: number; final: number; fell: boolean; proxyStart?: number; proxyEnd?: number }> {
  if (gold.length < 2) throw new Error('peakAndFall: needs at least two iterations');
  const { smooth = 5, giveBack = 0.5 } = opts;
  const g = trailingMean(gold, smooth);
  const start = g[0], final = g[g.length - 1];
  const peakIdx = g.indexOf(Math.max(...g));
  const peak = g[peakIdx];
  const fell = peakIdx < g.length - 1 && peak > start && peak - final > giveBack * (peak - start);
  const p = opts.proxy ? trailingMean(opts.proxy, smooth) : undefined;
  const proxyPart = p ? `the proxy went from ${f2(p[0])} to ${f2(p[p.length - 1])} while ` : '';
  const sentence = fell
    ? `In this run ${proxyPart}gold rose from ${f2(start)} to a peak of ${f2(peak)} at iteration ${peakIdx + 1} and then fell to ${f2(final)} by iteration ${g.length}: it gave back ${pct((peak - final) / Math.max(peak - start, 1e-9))} of its gain (over-optimization).`
    : `In this run ${proxyPart}gold went from ${f2(start)} to ${f2(final)} (highest ${f2(peak)} at iteration ${peakIdx + 1}) and did not give back more than ${pct(giveBack)} of its gain: no fall within these iterations.`;
  return { answer: { start, peak, peakIteration: peakIdx + 1, final, fell, proxyStart: p?.[0], proxyEnd: p?.[p.length - 1] }, sentence };
}

export type Shift = 'rose' | 'fell' | 'held';

/**
 * Did DPO raise the chosen replies' log-probability or lower the rejected ones'? Log-probabilities
 * are batch means at the start and the end of training; a change smaller than `tolerance` nats
 * (default 0.5: the batches differ, so small moves are noise) "held". The margin is that of the
 * implicit rewards (beta log pi/pi_ref, chosen minus rejected), which starts at 0. Chapter 07.
 */
export function dpoLogProbShift(o: { chosenBefore: number; chosenAfter: number; rejectedBefore: number; rejectedAfter: number; marginBefore: number; marginAfter: number }, tolerance = 0.5): Conclusion<{ chosen: Shift; rejected: Shift; marginGrew: boolean }> {
  const shift = (a: number, b: number): Shift => (b - a > tolerance ? 'rose' : a - b > tolerance ? 'fell' : 'held');
  const chosen = shift(o.chosenBefore, o.chosenAfter);
  const rejected = shift(o.rejectedBefore, o.rejectedAfter);
  const dc = o.chosenAfter - o.chosenBefore, dr = o.rejectedAfter - o.rejectedBefore;
  const how: Record<string, string> = {
    'rose/fell': 'it raised the chosen replies and lowered the rejected ones',
    'rose/held': 'it raised the chosen replies; the rejected ones held',
    'held/fell': 'it lowered the rejected replies while the chosen ones held',
    'held/held': 'neither moved by more than the batch-to-batch noise',
    'fell/held': 'the chosen replies fell while the rejected ones held: against the labels',
    'held/rose': 'the rejected replies rose while the chosen ones held: against the labels',
    'fell/rose': 'the chosen replies fell and the rejected ones rose: against the labels',
  };
  const both = chosen === rejected && chosen !== 'held';
  const what = both
    ? `both ${chosen}, the ${dc > dr ? 'chosen' : 'rejected'} ones ${chosen === 'rose' ? 'more' : 'less'}${dc > dr ? '' : ': against the labels'}`
    : how[`${chosen}/${rejected}`];
  return {
    answer: { chosen, rejected, marginGrew: o.marginAfter > o.marginBefore },
    sentence: `In this run log p(chosen) ${chosen} (${f2(o.chosenBefore)} -> ${f2(o.chosenAfter)} nats) and log p(rejected) ${rejected} (${f2(o.rejectedBefore)} -> ${f2(o.rejectedAfter)}): ${what}. `
      + `The implicit-reward margin ${o.marginAfter > o.marginBefore ? 'grew' : 'did not grow'} (${f2(o.marginBefore)} -> ${f2(o.marginAfter)}).`,
  };
}

/**
 * Is rejection-sampling fine-tuning cheaper in KL than the best-of-N it was trained on, and how
 * much of best-of-N's gold gain over SFT did it keep? Chapter 06.
 */
export function rejectionVsBestOfN(o: { n: number; rs: { kl: number; gold: number }; bon: { kl: number; gold: number }; sftGold: number }): Conclusion<{ cheaperInKL: boolean; keptGain: number }> {
  const cheaperInKL = o.rs.kl < o.bon.kl;
  const bonGain = o.bon.gold - o.sftGold;
  const keptGain = bonGain !== 0 ? (o.rs.gold - o.sftGold) / bonGain : NaN;
  const kept = Number.isFinite(keptGain) ? `it kept ${pct(keptGain)} of best-of-${o.n}'s gold gain over SFT (${f2(o.rs.gold)} against ${f2(o.bon.gold)}, SFT ${f2(o.sftGold)}) with one sample per reply` : 'best-of-N gained nothing over SFT in gold here';
  return {
    answer: { cheaperInKL, keptGain },
    sentence: `Fine-tuned on best-of-${o.n} replies, the policy spent ${f2(o.rs.kl)} nats of KL, ${cheaperInKL ? 'less' : 'more'} than best-of-${o.n} itself (${f2(o.bon.kl)}); ${kept}.`,
  };
}

/** Does PPO reach more gold than the best best-of-N point, and at how much KL? Chapters 06 and 08. */
export function ppoVsBestOfN(ppo: FrontierPoint, bon: FrontierPoint[]): Conclusion<{ ppoAhead: boolean; bestBoN: string; bestBoNGold: number; bestBoNKL: number }> {
  if (bon.length === 0) throw new Error('ppoVsBestOfN: no best-of-N points');
  const best = bon.reduce((a, b) => (b.gold > a.gold ? b : a));
  const ppoAhead = ppo.gold > best.gold;
  return {
    answer: { ppoAhead, bestBoN: best.label, bestBoNGold: best.gold, bestBoNKL: best.kl },
    sentence: `${ppo.label} reached gold ${f2(ppo.gold)} at ${f2(ppo.kl)} nats, ${ppoAhead ? 'more' : 'less'} than the best best-of-N point (${best.label}: ${f2(best.gold)} at ${f2(best.kl)} nats)`
      + (ppoAhead ? (ppo.kl > best.kl ? `, paying ${f2(ppo.kl / Math.max(best.kl, 1e-9))} times its KL.` : ', at no more KL.') : (ppo.kl > best.kl ? ', although it spent more KL.' : '.')),
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

/** Did gold rise at every step of N (and the proxy)? Where was gold highest? Chapter 06. */
export function bestOfNTrend(rows: { n: number; proxy: number; gold: number }[]): Conclusion<{ goldRisesEveryStep: boolean; proxyRisesEveryStep: boolean; bestN: number }> {
  if (rows.length < 2) throw new Error('bestOfNTrend: needs at least two values of N');
  const r = [...rows].sort((a, b) => a.n - b.n);
  const rises = (k: 'proxy' | 'gold') => r.every((x, i) => i === 0 || x[k] > r[i - 1][k]);
  const best = r.reduce((a, b) => (b.gold > a.gold ? b : a));
  const goldRises = rises('gold');
  return {
    answer: { goldRisesEveryStep: goldRises, proxyRisesEveryStep: rises('proxy'), bestN: best.n },
    sentence: goldRises
      ? `In this run gold rose at every N, from ${f2(r[0].gold)} (N = ${r[0].n}) to ${f2(r[r.length - 1].gold)} (N = ${r[r.length - 1].n}): selecting by this reward model kept paying in gold up to N = ${r[r.length - 1].n}.`
      : `In this run gold did not rise at every N: it was highest at N = ${best.n} (${f2(best.gold)}) and ${f2(r[r.length - 1].gold)} at N = ${r[r.length - 1].n}, while the proxy ${rises('proxy') ? 'rose at every N' : 'also wavered'}.`,
  };
}

/**
 * Over-optimization at the level of policies: does the policy with the higher proxy score (the one
 * pushed harder) have less gold than the other? Chapters 05 and 08.
 */
export function proxyGoldDivergence(harder: { label: string; proxy: number; gold: number; kl: number }, softer: { label: string; proxy: number; gold: number; kl: number }, sftGold: number): Conclusion<{ higherProxy: boolean; lowerGold: boolean; goldGainOverSFT: number }> {
  const higherProxy = harder.proxy > softer.proxy, lowerGold = harder.gold < softer.gold;
  const verdict = higherProxy && lowerGold ? 'the reward model\'s "better" stopped meaning better'
    : higherProxy ? 'here more proxy still meant more gold' : 'it did not even reach a higher proxy';
  return {
    answer: { higherProxy, lowerGold, goldGainOverSFT: harder.gold - sftGold },
    sentence: `${harder.label} (${f2(harder.kl)} nats) scored proxy ${f2(harder.proxy)} and gold ${f2(harder.gold)}; ${softer.label} (${f2(softer.kl)} nats) proxy ${f2(softer.proxy)} and gold ${f2(softer.gold)}; SFT gold ${f2(sftGold)}: ${verdict}.`,
  };
}

/** Which part of the gold score did the reward model learn least and best (parts with >= minPairs pairs)? Chapter 04. */
export function weakestPart(rows: { part: string; pairs: number; rewardModelAgreement: number }[], minPairs = 20): Conclusion<{ weakest: string; weakestAcc: number; strongest: string; strongestAcc: number }> {
  const ok = rows.filter((r) => r.pairs >= minPairs && Number.isFinite(r.rewardModelAgreement));
  if (ok.length === 0) throw new Error(`weakestPart: no part has ${minPairs} or more pairs`);
  const lo = ok.reduce((a, b) => (b.rewardModelAgreement < a.rewardModelAgreement ? b : a));
  const hi = ok.reduce((a, b) => (b.rewardModelAgreement > a.rewardModelAgreement ? b : a));
  return {
    answer: { weakest: lo.part, weakestAcc: lo.rewardModelAgreement, strongest: hi.part, strongestAcc: hi.rewardModelAgreement },
    sentence: `In this run the reward model learned ${lo.part} least (it preferred the better reply in ${pct(lo.rewardModelAgreement)} of ${lo.pairs} pairs) and ${hi.part} best (${pct(hi.rewardModelAgreement)} of ${hi.pairs}); a policy optimised against it will be least held back where it is weakest.`,
  };
}

/**
 * Did an accuracy change by more than `z` standard errors (binomial, sqrt(p(1-p)/n) at the first
 * accuracy)? Chapter 04: the second epoch, and the reward model on temperature-1 samples.
 */
export function accuracyChange(what: string, before: number, after: number, pairs: number, z = 2): Conclusion<{ change: number; stderr: number; verdict: 'rose' | 'fell' | 'within noise' }> {
  const stderr = Math.sqrt(Math.max(before * (1 - before), 1e-12) / pairs);
  const change = after - before;
  const verdict = change > z * stderr ? 'rose' : change < -z * stderr ? 'fell' : 'within noise';
  return {
    answer: { change, stderr, verdict },
    sentence: `${what}: ${pct(before)} -> ${pct(after)} (${change >= 0 ? '+' : ''}${(100 * change).toFixed(1)} points; one standard error on ${pairs} pairs is ${(100 * stderr).toFixed(1)}): ${verdict === 'within noise' ? `within ${z} standard errors, no clear change` : `it ${verdict}`}.`,
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
