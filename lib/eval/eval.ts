/**
 * Evaluating aligned policies: win rates (with ties), a judge with position bias, Elo and
 * Bradley-Terry rankings, the reward-KL frontier, Gao et al.'s over-optimization fits and a
 * reward-model agreement benchmark. Plain numbers in, plain numbers out (no tensors).
 */
import { Rng } from '../core/rng';
import { seedFor } from '../core/seed';
import { mean as meanOf } from '../core/stats';

// ---------------------------------------------------------------- win rates

export interface WinRate {
  wins: number;
  ties: number;
  losses: number;
  n: number;
  /** (wins + ties / 2) / n: ties count half, so two identical policies score 0.5. */
  rate: number;
  /** Standard error of `rate` (per-comparison outcomes 1, 0.5, 0). */
  stderr: number;
}

/** Win rate of A over B from paired scores (higher wins; |a - b| <= tieTol is a tie). */
export function winRate(scoresA: ArrayLike<number>, scoresB: ArrayLike<number>, tieTol = 0): WinRate {
  if (scoresA.length !== scoresB.length) throw new Error(`winRate: ${scoresA.length} scores for A but ${scoresB.length} for B`);
  const outcomes = Array.from(scoresA, (a, i) => (Math.abs(a - scoresB[i]) <= tieTol ? 0.5 : a > scoresB[i] ? 1 : 0));
  return winRateFromOutcomes(outcomes);
}

/** Win rate from outcomes 1 (A wins), 0.5 (tie), 0 (B wins). */
function winRateFromOutcomes(outcomes: ArrayLike<number>): WinRate {
  const n = outcomes.length;
  if (n === 0) throw new Error('winRate: no comparisons');
  let wins = 0, ties = 0, losses = 0;
  for (let i = 0; i < n; i++) {
    const o = outcomes[i];
    if (o === 1) wins++;
    else if (o === 0.5) ties++;
    else if (o === 0) losses++;
    else throw new Error(`winRate: outcome ${i} is ${o}; use 1, 0.5 or 0`);
  }
  const rate = (wins + ties / 2) / n;
  const second = (wins + ties / 4) / n;
  const stderr = n > 1 ? Math.sqrt(Math.max(0, second - rate * rate) / (n - 1)) : NaN;
  return { wins, ties, losses, n, rate, stderr };
}

// ---------------------------------------------------------------- judge with position bias

/** A pairwise judge: 1 if it prefers the text shown first, 0 if the second, 0.5 for a tie. */
export type Judge = (prompt: string, first: string, second: string) => number;

export interface BiasedJudgeOptions {
  /** Added to the logit of "first wins": > 0 favours whatever is shown first (LLM judges do). */
  positionBias?: number;
  /** Score difference that moves the logit by 1 (smaller = more decisive). */
  temperature?: number;
  seed?: number;
}

/**
 * A simulated judge that scores texts with `score` (e.g. the gold score, or a reward model) and
 * answers P(first wins) = sigmoid((s1 - s2) / temperature + positionBias). Defaults 1 and 1.
 */
export function biasedJudge(score: (prompt: string, text: string) => number, opts: BiasedJudgeOptions = {}): Judge {
  const { positionBias = 1, temperature = 1, seed = 7 } = opts;
  if (!(temperature > 0)) throw new Error(`biasedJudge: temperature must be > 0, got ${temperature}`);
  const rng = new Rng(seedFor(seed));
  return (prompt, first, second) => {
    const z = (score(prompt, first) - score(prompt, second)) / temperature + positionBias;
    return rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  };
}

export interface JudgedWinRate {
  /** A shown first. */
  aFirst: WinRate;
  /** B shown first (outcomes re-expressed as "A wins"). */
  bFirst: WinRate;
  /** Both orders pooled: position bias cancels on average. */
  pooled: WinRate;
  /** Fraction of prompts where the verdict flipped with the order: a direct bias measure. */
  inconsistency: number;
}

/** Win rate of completions A over B judged in both orders (swap to expose position bias). */
export function judgeWinRate(judge: Judge, prompts: string[], a: string[], b: string[]): JudgedWinRate {
  if (a.length !== prompts.length || b.length !== prompts.length) {
    throw new Error(`judgeWinRate: ${prompts.length} prompts, ${a.length} A and ${b.length} B completions`);
  }
  const o1 = prompts.map((p, i) => judge(p, a[i], b[i]));
  const o2 = prompts.map((p, i) => 1 - judge(p, b[i], a[i]));
  const flips = o1.filter((o, i) => o !== o2[i]).length;
  return {
    aFirst: winRateFromOutcomes(o1),
    bFirst: winRateFromOutcomes(o2),
    pooled: winRateFromOutcomes([...o1, ...o2]),
    inconsistency: flips / prompts.length,
  };
}

// ---------------------------------------------------------------- Elo and Bradley-Terry

/** One game: `a` against `b`, score 1 (a won), 0.5 (tie), 0 (b won). */
export interface Match {
  a: string;
  b: string;
  score: number;
}

/** Expected score of a player rated `ra` against `rb` (logistic, 400 points = 10x odds). */
export function eloExpected(ra: number, rb: number): number {
  return 1 / (1 + Math.pow(10, (rb - ra) / 400));
}

/** One Elo update: returns the new [ra, rb]. The sum of ratings is conserved. */
export function eloUpdate(ra: number, rb: number, score: number, k = 32): [number, number] {
  if (!(score >= 0 && score <= 1)) throw new Error(`eloUpdate: score must be in [0, 1], got ${score}`);
  const delta = k * (score - eloExpected(ra, rb));
  return [ra + delta, rb - delta];
}

/** Sequential Elo over the matches in order (order matters; shuffle or use bradleyTerry). */
export function elo(matches: Match[], opts: { k?: number; initial?: number } = {}): Map<string, number> {
  const { k = 32, initial = 1000 } = opts;
  const r = new Map<string, number>();
  for (const m of matches) {
    const [ra, rb] = eloUpdate(r.get(m.a) ?? initial, r.get(m.b) ?? initial, m.score, k);
    r.set(m.a, ra);
    r.set(m.b, rb);
  }
  return r;
}

/**
 * Bradley-Terry strengths by maximum likelihood (Hunter's 2004 MM iterations:
 * p_i <- W_i / sum_j n_ij / (p_i + p_j), ties as half a win each), reported on the Elo scale
 * (400 log10 p, mean 1000) so they read like Elo but do not depend on match order.
 * A small prior (`prior` virtual ties against every other player) keeps unbeaten players finite.
 */
export function bradleyTerry(
  matches: Match[],
  opts: { iters?: number; tol?: number; prior?: number } = {},
): Map<string, number> {
  const { iters = 1000, tol = 1e-10, prior = 0.1 } = opts;
  const names = Array.from(new Set(matches.flatMap((m) => [m.a, m.b])));
  const idx = new Map(names.map((n, i) => [n, i]));
  const P = names.length;
  const wins = new Array(P).fill(0);
  const games = names.map(() => new Array(P).fill(0));
  for (const m of matches) {
    if (!(m.score >= 0 && m.score <= 1)) throw new Error(`bradleyTerry: score must be in [0, 1], got ${m.score} (${m.a} vs ${m.b})`);
    const i = idx.get(m.a)!, j = idx.get(m.b)!;
    wins[i] += m.score;
    wins[j] += 1 - m.score;
    games[i][j]++;
    games[j][i]++;
  }
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) if (i !== j) { games[i][j] += prior; wins[i] += prior / 2; }
  let p = new Array(P).fill(1);
  for (let it = 0; it < iters; it++) {
    const next = p.map((pi, i) => {
      let d = 0;
      for (let j = 0; j < P; j++) if (j !== i) d += games[i][j] / (pi + p[j]);
      return wins[i] / d;
    });
    const g = Math.exp(next.reduce((s, x) => s + Math.log(x), 0) / P);
    const change = Math.max(...next.map((x, i) => Math.abs(Math.log(x / g) - Math.log(p[i]))));
    p = next.map((x) => x / g);
    if (change < tol) break;
  }
  return new Map(names.map((n, i) => [n, 1000 + (400 * Math.log(p[i])) / Math.LN10]));
}

// ---------------------------------------------------------------- over-optimization fits

export interface GaoFit {
  form: 'bon' | 'rl';
  alpha: number;
  beta: number;
  /** Fraction of variance explained. */
  r2: number;
  /** Predicted gold gain at d = sqrt(KL). */
  predict(d: number): number;
}

/**
 * Least-squares fit of Gao, Schulman & Hilton (2022) over-optimization curves, gold gain over the
 * initial policy against d = sqrt(KL in nats):
 *   best-of-N: gold(d) = d (alpha - beta d)
 *   RL:        gold(d) = d (alpha - beta log d)
 * Both are linear in (alpha, beta), so two features and the 2x2 normal equations suffice.
 */
export function fitGao(form: 'bon' | 'rl', d: ArrayLike<number>, gold: ArrayLike<number>): GaoFit {
  if (form !== 'bon' && form !== 'rl') throw new Error(`fitGao: form must be 'bon' or 'rl', got ${JSON.stringify(form)}`);
  if (d.length !== gold.length) throw new Error(`fitGao: ${d.length} d values but ${gold.length} gold values`);
  const feat = (x: number): [number, number] => (form === 'bon' ? [x, -x * x] : [x, x > 0 ? -x * Math.log(x) : 0]);
  let s11 = 0, s12 = 0, s22 = 0, t1 = 0, t2 = 0, n = 0;
  for (let i = 0; i < d.length; i++) {
    if (!(d[i] >= 0)) throw new Error(`fitGao: d[${i}] = ${d[i]}; d = sqrt(KL) must be >= 0`);
    const [f1, f2] = feat(d[i]);
    s11 += f1 * f1; s12 += f1 * f2; s22 += f2 * f2;
    t1 += f1 * gold[i]; t2 += f2 * gold[i];
    n++;
  }
  const det = s11 * s22 - s12 * s12;
  if (!(Math.abs(det) > 1e-12 * Math.max(1, s11 * s22))) {
    throw new Error(`fitGao: need at least two distinct positive d values, got ${Array.from(d).join(', ')}`);
  }
  const alpha = (t1 * s22 - t2 * s12) / det;
  const beta = (s11 * t2 - s12 * t1) / det;
  const predict = (x: number) => { const [f1, f2] = feat(x); return alpha * f1 + beta * f2; };
  const mean = meanOf(gold);
  let ssRes = 0, ssTot = 0;
  for (let i = 0; i < n; i++) { ssRes += (gold[i] - predict(d[i])) ** 2; ssTot += (gold[i] - mean) ** 2; }
  return { form, alpha, beta, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1, predict };
}

// ---------------------------------------------------------------- reward-KL frontier

/** One point of a reward-KL plot: a policy's KL to the reference and its mean rewards. */
export interface FrontierPoint {
  method: string;
  label: string;
  kl: number;
  proxy: number;
  gold: number;
}

/** Points not dominated by another with less (or equal) KL and more (or equal) reward; sorted by KL. */
export function paretoFrontier<T extends { kl: number }>(points: T[], reward: (p: T) => number): T[] {
  const sorted = [...points].sort((a, b) => a.kl - b.kl || reward(b) - reward(a));
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) if (reward(p) > best) { out.push(p); best = reward(p); }
  return out;
}

/** Group frontier points into one plotly-ready series per method (x = KL, y = chosen reward). */
export function frontierSeries(points: FrontierPoint[], y: 'proxy' | 'gold'): { name: string; x: number[]; y: number[]; text: string[] }[] {
  const methods = Array.from(new Set(points.map((p) => p.method)));
  return methods.map((m) => {
    const ps = points.filter((p) => p.method === m).sort((a, b) => a.kl - b.kl);
    return { name: m, x: ps.map((p) => p.kl), y: ps.map((p) => p[y]), text: ps.map((p) => p.label) };
  });
}

// ---------------------------------------------------------------- reward-model agreement

export interface AgreementReport {
  /** Per model: fraction of pairs where it scores the preferred text higher. */
  accuracy: Record<string, number>;
  /** Fraction of pairs every model gets right. */
  allAgree: number;
  /** Fraction of pairs no model gets right (label noise or a shared blind spot). */
  noneAgree: number;
}

/**
 * Reward-model agreement on a benchmark of pairs whose first text is clearly better.
 * `scores[model]` holds that model's scores for the preferred (`chosen`) and the other text.
 */
export function agreement(scores: Record<string, { chosen: number[]; rejected: number[] }>): AgreementReport {
  const models = Object.keys(scores);
  if (models.length === 0) throw new Error('agreement: no models');
  const n = scores[models[0]].chosen.length;
  for (const m of models) {
    if (scores[m].chosen.length !== n || scores[m].rejected.length !== n) {
      throw new Error(`agreement: model ${m} has ${scores[m].chosen.length}/${scores[m].rejected.length} scores, expected ${n}`);
    }
  }
  if (n === 0) throw new Error('agreement: no pairs');
  const right = models.map((m) => scores[m].chosen.map((c, i) => c > scores[m].rejected[i]));
  const accuracy: Record<string, number> = {};
  models.forEach((m, k) => { accuracy[m] = right[k].filter(Boolean).length / n; });
  let all = 0, none = 0;
  for (let i = 0; i < n; i++) {
    const c = right.filter((r) => r[i]).length;
    if (c === models.length) all++;
    if (c === 0) none++;
  }
  return { accuracy, allAgree: all / n, noneAgree: none / n };
}
