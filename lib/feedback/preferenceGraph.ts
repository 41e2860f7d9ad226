/**
 * Preferences as a weighted directed graph, and what it says about Bradley-Terry's presumption that
 * one scalar explains every choice (chapter 11).
 *
 * Items are replies (a prompt and a completion; or any names); `wins[i][j]` is the total weight of
 * judgements "i preferred over j" (weight 1 per comparison unless a weight function says otherwise).
 * A scalar reward r orders the items; a judgement i > j agrees with r when r(i) > r(j). The best
 * accuracy any scalar reward can reach on the judgements is
 *
 *   ceiling = max over orderings of (agreeing weight) / (total weight) = 1 - minFAS / total,
 *
 * where minFAS is the minimum weight of a feedback arc set (judgements an ordering must violate).
 * Ties in r never help: a tie counted as half right is the average of the two strict orders, so a
 * strict ordering reaches the maximum. Items are compared only within a prompt, so the graph
 * splits into connected components and the ceiling is summed over them.
 *
 * Exact: dynamic programming over subsets of a component's items, O(2^n * n) time and 2^n floats,
 * for components of at most EXACT_ITEM_LIMIT = 20 items. Beyond that, `ceilingBounds` gives a
 * lower bound (the agreement of an ordering found by a heuristic, so reachable) and an upper bound
 * (every pair judged both ways loses at least its minority weight).
 */
import { Comparison } from './preferences';

/** Items and the weight of judgements between them: wins[i][j] = weight of "items[i] over items[j]". */
export interface PreferenceGraph {
  items: string[];
  wins: number[][];
}

/** A judgement between named items. */
export interface Judgement {
  winner: string;
  loser: string;
  /** Default 1. */
  weight?: number;
}

/** The graph of a list of judgements; items in order of first appearance. */
export function graphOf(judgements: Judgement[]): PreferenceGraph {
  const index = new Map<string, number>();
  const idOf = (s: string) => {
    if (!index.has(s)) index.set(s, index.size);
    return index.get(s)!;
  };
  const edges = judgements.map((j, k) => {
    const w = j.weight ?? 1;
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`graphOf: judgement ${k} has weight ${w}; weights must be finite and >= 0`);
    if (j.winner === j.loser) throw new Error(`graphOf: judgement ${k} compares ${JSON.stringify(j.winner)} with itself`);
    return [idOf(j.winner), idOf(j.loser), w] as const;
  });
  const n = index.size;
  const wins = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const [a, b, w] of edges) wins[a][b] += w;
  return { items: [...index.keys()], wins };
}

/** An item's name in a comparison graph: prompt and completion, so equal replies to other prompts stay apart. */
export function replyKey(prompt: string, completion: string): string {
  return JSON.stringify([prompt, completion]);
}

/** The graph of labeled comparisons (the chosen reply wins); `weight` defaults to 1 per record. */
export function comparisonGraph(records: Comparison[], weight: (r: Comparison) => number = () => 1): PreferenceGraph {
  return graphOf(records.map((r) => {
    const a = replyKey(r.prompt, r.completionA);
    const b = replyKey(r.prompt, r.completionB);
    return r.choice === 'A' ? { winner: a, loser: b, weight: weight(r) } : { winner: b, loser: a, weight: weight(r) };
  }));
}

/** Strict majority: i beats j when more weight prefers i over j than j over i. */
function beats(g: PreferenceGraph, i: number, j: number): boolean {
  return g.wins[i][j] > g.wins[j][i];
}

/**
 * Number of cyclic triples: sets {i, j, k} whose strict majorities run round (i > j > k > i).
 * A cyclic triple is judged pairwise, so its three items share a connected component: counted
 * within each component, O(sum of c^3) (replies of one prompt form a component: a few items each,
 * however many prompts). A transitive set has none.
 */
export function countThreeCycles(g: PreferenceGraph): number {
  let count = 0;
  for (const comp of components(g)) {
    const m = comp.length;
    for (let a = 0; a < m; a++) {
      for (let b = a + 1; b < m; b++) {
        for (let c = b + 1; c < m; c++) {
          const [i, j, k] = [comp[a], comp[b], comp[c]];
          if ((beats(g, i, j) && beats(g, j, k) && beats(g, k, i)) || (beats(g, j, i) && beats(g, k, j) && beats(g, i, k))) count++;
        }
      }
    }
  }
  return count;
}

/**
 * A cycle of strict majorities as a witness, [a, b, ..., z] with a > b > ... > z > a (item names,
 * the first not repeated at the end), or null if the majority relation is acyclic. Depth-first
 * search, O(n^2).
 */
export function findCycle(g: PreferenceGraph): string[] | null {
  const n = g.items.length;
  const state = new Array<0 | 1 | 2>(n).fill(0); // 0 unseen, 1 on the current path, 2 done
  const path: number[] = [];
  const visit = (i: number): number[] | null => {
    state[i] = 1;
    path.push(i);
    for (let j = 0; j < n; j++) {
      if (!beats(g, i, j)) continue;
      if (state[j] === 1) return path.slice(path.indexOf(j));
      if (state[j] === 0) {
        const c = visit(j);
        if (c) return c;
      }
    }
    path.pop();
    state[i] = 2;
    return null;
  };
  for (let i = 0; i < n; i++) {
    if (state[i] !== 0) continue;
    const c = visit(i);
    if (c) return c.map((k) => g.items[k]);
  }
  return null;
}

/** Connected components (items linked by any judgement), each a sorted list of item indices. */
export function components(g: PreferenceGraph): number[][] {
  const n = g.items.length;
  const seen = new Array<boolean>(n).fill(false);
  const out: number[][] = [];
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    const comp: number[] = [];
    const stack = [s];
    seen[s] = true;
    while (stack.length) {
      const i = stack.pop()!;
      comp.push(i);
      for (let j = 0; j < n; j++) {
        if (!seen[j] && (g.wins[i][j] > 0 || g.wins[j][i] > 0)) {
          seen[j] = true;
          stack.push(j);
        }
      }
    }
    out.push(comp.sort((a, b) => a - b));
  }
  return out;
}

/** Largest component the exact ceiling handles: 2^20 subsets (8 MB of floats, well under a second). */
export const EXACT_ITEM_LIMIT = 20;

function totalWeight(g: PreferenceGraph): number {
  let t = 0;
  for (const row of g.wins) for (const w of row) t += w;
  return t;
}

/** Agreeing weight of the best ordering of one component (indices into g), by DP over subsets. */
function bestOrderExact(g: PreferenceGraph, comp: number[]): { agree: number; order: number[] } {
  const n = comp.length;
  // DP state S = the items placed at the top so far; placing v next (below S, above the rest)
  // makes v agree with every judgement "v over u" for u not yet placed.
  // out(v, S) = sum over u outside S of w[v][u] = rowTotal[v] - (w[v] summed over S), read from two
  // 10-bit lookup tables so each step costs O(1).
  const w = comp.map((a) => comp.map((b) => g.wins[a][b]));
  const rowTotal = w.map((r) => r.reduce((s, x) => s + x, 0));
  const lo = w.map((r) => subsetSums(r.slice(0, 10)));
  const hi = w.map((r) => subsetSums(r.slice(10)));
  const size = 1 << n;
  const dp = new Float64Array(size).fill(-1);
  const from = new Int8Array(size).fill(-1);
  dp[0] = 0;
  for (let S = 0; S < size; S++) {
    if (dp[S] < 0) continue;
    for (let v = 0; v < n; v++) {
      if (S & (1 << v)) continue;
      const T = S | (1 << v);
      const gain = rowTotal[v] - lo[v][S & 1023] - hi[v][S >>> 10] - w[v][v];
      if (dp[S] + gain > dp[T]) {
        dp[T] = dp[S] + gain;
        from[T] = v;
      }
    }
  }
  const order: number[] = [];
  for (let S = size - 1; S > 0; S &= ~(1 << from[S])) order.unshift(comp[from[S]]);
  return { agree: dp[size - 1], order };
}

/** sums[mask] = sum of xs[b] over the bits b of mask (xs has at most 10 entries). */
function subsetSums(xs: number[]): Float64Array {
  const sums = new Float64Array(1 << 10);
  for (let m = 1; m < sums.length; m++) {
    const b = 31 - Math.clz32(m & -m);
    sums[m] = sums[m & (m - 1)] + (b < xs.length ? xs[b] : 0);
  }
  return sums;
}

export interface Ceiling {
  /** Best fraction of the judgement weight a scalar reward can agree with (exact). */
  accuracy: number;
  /** Judgement weight an optimal ordering violates (the minimum feedback arc set) and the total. */
  violated: number;
  total: number;
  /** An optimal ordering, best first (item names). */
  order: string[];
}

/**
 * The exact best accuracy of any scalar reward on the judgements (see the module comment). Throws
 * when a connected component has more than EXACT_ITEM_LIMIT items (use ceilingBounds there).
 */
export function scalarCeiling(g: PreferenceGraph): Ceiling {
  const total = totalWeight(g);
  if (!(total > 0)) throw new Error('scalarCeiling: no judgements (total weight 0)');
  let agree = 0;
  const order: string[] = [];
  for (const comp of components(g)) {
    if (comp.length > EXACT_ITEM_LIMIT) {
      throw new Error(`scalarCeiling: a connected component has ${comp.length} items; the exact search is limited to ${EXACT_ITEM_LIMIT} (it costs 2^n); use ceilingBounds for larger sets`);
    }
    const best = bestOrderExact(g, comp);
    agree += best.agree;
    order.push(...best.order.map((i) => g.items[i]));
  }
  return { accuracy: agree / total, violated: total - agree, total, order };
}

/** Fraction of the judgement weight that scores (one per item, higher = better) agree with; ties count as wrong. */
export function agreementOf(g: PreferenceGraph, scores: number[]): number {
  if (scores.length !== g.items.length) throw new Error(`agreementOf: ${g.items.length} items but ${scores.length} scores`);
  const total = totalWeight(g);
  if (!(total > 0)) throw new Error('agreementOf: no judgements (total weight 0)');
  let agree = 0;
  g.wins.forEach((row, i) => row.forEach((w, j) => { if (scores[i] > scores[j]) agree += w; }));
  return agree / total;
}

export interface CeilingBounds {
  /** Reached by a heuristic ordering (net wins, then moves of single items while they help): a lower bound. */
  lower: number;
  /** 1 - (sum over pairs of the smaller of the two directions) / total: no ordering does better. */
  upper: number;
  /** True when every component was small enough to solve exactly: then `lower` is the ceiling itself. */
  exact: boolean;
}

/**
 * Bounds on the scalar ceiling for preference sets of any size: exact (lower = exact value) on
 * components up to EXACT_ITEM_LIMIT items, a heuristic ordering on larger ones. `upper` is the
 * pairwise bound (it ignores cycles longer than two, so it can be loose).
 */
export function ceilingBounds(g: PreferenceGraph): CeilingBounds {
  const total = totalWeight(g);
  if (!(total > 0)) throw new Error('ceilingBounds: no judgements (total weight 0)');
  let agree = 0;
  let exact = true;
  for (const comp of components(g)) {
    if (comp.length <= EXACT_ITEM_LIMIT) agree += bestOrderExact(g, comp).agree;
    else {
      exact = false;
      agree += heuristicAgree(g, comp);
    }
  }
  let minority = 0;
  const n = g.items.length;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) minority += Math.min(g.wins[i][j], g.wins[j][i]);
  return { lower: agree / total, upper: 1 - minority / total, exact };
}

/**
 * Agreeing weight of a heuristic order: sort by net wins (Borda-like), then move single items up or
 * down while a move helps. Moving v from position f to t changes the agreement by the sum, over the
 * items it jumps, of (w[v][u] - w[u][v]) upwards or its negative downwards: O(n) per item, O(n^2) a pass.
 */
function heuristicAgree(g: PreferenceGraph, comp: number[]): number {
  const w = g.wins;
  const net = (i: number) => comp.reduce((s, j) => s + w[i][j] - w[j][i], 0);
  const order = [...comp].sort((a, b) => net(b) - net(a) || a - b);
  for (let pass = 0; pass < 100; pass++) {
    let moved = false;
    for (let f = 0; f < order.length; f++) {
      const v = order[f];
      let best = 1e-12;
      let bestT = f;
      let delta = 0;
      for (let t = f - 1; t >= 0; t--) {
        delta += w[v][order[t]] - w[order[t]][v];
        if (delta > best) [best, bestT] = [delta, t];
      }
      delta = 0;
      for (let t = f + 1; t < order.length; t++) {
        delta += w[order[t]][v] - w[v][order[t]];
        if (delta > best) [best, bestT] = [delta, t];
      }
      if (bestT !== f) {
        order.splice(bestT, 0, order.splice(f, 1)[0]);
        moved = true;
      }
    }
    if (!moved) break;
  }
  let agree = 0;
  for (let x = 0; x < order.length; x++) for (let y = x + 1; y < order.length; y++) agree += w[order[x]][order[y]];
  return agree;
}
