import { describe, expect, it } from 'vitest';
import {
  agreementOf, ceilingBounds, comparisonGraph, components, countThreeCycles, EXACT_ITEM_LIMIT, findCycle, graphOf,
  Judgement, PreferenceGraph, replyKey, scalarCeiling,
} from '../lib/feedback/preferenceGraph';
import { makeComparison } from '../lib/feedback/preferences';
import { Rng } from '../lib/core/rng';

const j = (winner: string, loser: string, weight?: number): Judgement => ({ winner, loser, weight });
const cycle3 = graphOf([j('a', 'b'), j('b', 'c'), j('c', 'a')]);
const chain3 = graphOf([j('a', 'b'), j('b', 'c'), j('a', 'c')]);

/** Best agreement over all n! orderings: the definition, for n <= 7. */
function bruteCeiling(g: PreferenceGraph): number {
  const n = g.items.length;
  let total = 0;
  g.wins.forEach((r) => r.forEach((w) => (total += w)));
  let best = -1;
  const perm = (prefix: number[], rest: number[]) => {
    if (rest.length === 0) {
      let a = 0;
      for (let x = 0; x < n; x++) for (let y = x + 1; y < n; y++) a += g.wins[prefix[x]][prefix[y]];
      best = Math.max(best, a);
      return;
    }
    rest.forEach((v, k) => perm([...prefix, v], [...rest.slice(0, k), ...rest.slice(k + 1)]));
  };
  perm([], [...Array(n).keys()]);
  return best / total;
}

function randomGraph(n: number, rng: Rng, density = 0.7): PreferenceGraph {
  const js: Judgement[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (rng.next() > density) continue;
      js.push(j(`i${a}`, `i${b}`, 1 + rng.int(3)));
      if (rng.next() < 0.5) js.push(j(`i${b}`, `i${a}`, 1 + rng.int(3)));
    }
  }
  return graphOf(js);
}

describe('the preference graph', () => {
  it('sums weights per ordered pair and refuses bad judgements', () => {
    const g = graphOf([j('x', 'y', 2), j('x', 'y'), j('y', 'x', 0.5)]);
    expect(g.items).toEqual(['x', 'y']);
    expect(g.wins).toEqual([[0, 3], [0.5, 0]]);
    expect(() => graphOf([j('x', 'x')])).toThrow(/itself/);
    expect(() => graphOf([j('x', 'y', -1)])).toThrow(/weight -1/);
  });

  it('from comparisons: the chosen reply wins, replies of different prompts stay apart', () => {
    const r1 = makeComparison('P1', 'good<end>', 'bad<end>', 'A>B', 'l');
    const r2 = makeComparison('P2', 'good<end>', 'bad<end>', 'B>>A', 'l');
    const g = comparisonGraph([r1, r2]);
    // items in order of first appearance, winner first
    expect(g.items).toEqual([replyKey('P1', 'good<end>'), replyKey('P1', 'bad<end>'), replyKey('P2', 'bad<end>'), replyKey('P2', 'good<end>')]);
    expect(g.wins[0][1]).toBe(1);
    expect(g.wins[2][3]).toBe(1);
    expect(g.wins[3][2]).toBe(0);
    expect(components(g)).toEqual([[0, 1], [2, 3]]);
  });
});

describe('intransitivity', () => {
  it('a 3-cycle: one cyclic triple and a witness; a transitive set: none', () => {
    expect(countThreeCycles(cycle3)).toBe(1);
    const w = findCycle(cycle3)!;
    expect(w).toHaveLength(3);
    const s = w.join('');
    expect(['abc', 'bca', 'cab']).toContain(s);
    expect(countThreeCycles(chain3)).toBe(0);
    expect(findCycle(chain3)).toBeNull();
  });

  it('majorities decide: a > b twice and b > a once is a > b; a tie is no edge', () => {
    const g = graphOf([j('a', 'b', 2), j('b', 'a'), j('b', 'c'), j('c', 'a')]);
    expect(countThreeCycles(g)).toBe(1);
    const tie = graphOf([j('a', 'b'), j('b', 'a'), j('b', 'c'), j('c', 'a')]);
    expect(countThreeCycles(tie)).toBe(0);
    expect(findCycle(tie)).toBeNull();
  });

  it('finds a longer cycle and returns a real one', () => {
    const g = graphOf([j('a', 'b'), j('b', 'c'), j('c', 'd'), j('d', 'a'), j('a', 'c'), j('b', 'd')]);
    // triples: abc and bcd transitive; abd (a>b>d>a) and acd (a>c>d>a) cyclic
    expect(countThreeCycles(g)).toBe(2);
    const w = findCycle(g)!;
    const idx = w.map((x) => g.items.indexOf(x));
    idx.forEach((a, k) => expect(g.wins[a][idx[(k + 1) % idx.length]]).toBe(1));
  });

  it('counts cycles within each component: two prompts with a cycle each and a transitive third give 2', () => {
    const g = graphOf([
      j('p:a', 'p:b'), j('p:b', 'p:c'), j('p:c', 'p:a'), // cyclic
      j('q:a', 'q:b'), j('q:b', 'q:c'), j('q:c', 'q:a'), j('q:a', 'q:d'), // cyclic, d below a: abd, acd, bcd transitive
      j('r:a', 'r:b'), j('r:b', 'r:c'), j('r:a', 'r:c'), // transitive
    ]);
    expect(components(g).length).toBe(3);
    expect(countThreeCycles(g)).toBe(2);
  });

  it('count of cyclic triples of a complete tournament = C(n,3) - sum C(out_i, 2) (Kendall and Babington Smith 1940)', () => {
    const rng = new Rng(3);
    for (let t = 0; t < 5; t++) {
      const n = 9;
      const js: Judgement[] = [];
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) js.push(rng.next() < 0.5 ? j(`${a}`, `${b}`) : j(`${b}`, `${a}`));
      const g = graphOf(js);
      const out = g.wins.map((r) => r.filter((w) => w > 0).length);
      const expected = (n * (n - 1) * (n - 2)) / 6 - out.reduce((s, k) => s + (k * (k - 1)) / 2, 0);
      expect(countThreeCycles(g)).toBe(expected);
      const w = findCycle(g);
      if (expected > 0) {
        expect(w).not.toBeNull();
        const idx = w!.map((x) => g.items.indexOf(x));
        idx.forEach((a, k) => expect(g.wins[a][idx[(k + 1) % idx.length]]).toBeGreaterThan(0));
      } else expect(w).toBeNull();
    }
  });
});

describe('the best accuracy of a scalar reward', () => {
  it('a 3-cycle: 2/3; a transitive set: 1, with its order', () => {
    expect(scalarCeiling(cycle3).accuracy).toBeCloseTo(2 / 3, 12);
    expect(scalarCeiling(cycle3).violated).toBe(1);
    const c = scalarCeiling(chain3);
    expect(c.accuracy).toBe(1);
    expect(c.order).toEqual(['a', 'b', 'c']);
  });

  it('weighted pairs: a>b 3, b>c 2, c>a 1 -> 5/6 (violate the lightest); a>b 2, b>a 1 -> 2/3', () => {
    const g = graphOf([j('a', 'b', 3), j('b', 'c', 2), j('c', 'a', 1)]);
    const c = scalarCeiling(g);
    expect(c.accuracy).toBeCloseTo(5 / 6, 12);
    expect(c.order).toEqual(['a', 'b', 'c']);
    expect(scalarCeiling(graphOf([j('a', 'b', 2), j('b', 'a', 1)])).accuracy).toBeCloseTo(2 / 3, 12);
  });

  it('sums over components: a 3-cycle and a separate d > e give 3/4', () => {
    const g = graphOf([j('a', 'b'), j('b', 'c'), j('c', 'a'), j('d', 'e')]);
    expect(scalarCeiling(g).accuracy).toBeCloseTo(3 / 4, 12);
  });

  it('equals the brute force over all orderings on random weighted graphs', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 30; t++) {
      const g = randomGraph(2 + rng.int(6), rng);
      if (g.items.length < 2) continue;
      const c = scalarCeiling(g);
      expect(c.accuracy).toBeCloseTo(bruteCeiling(g), 12);
      // the returned order reaches it
      const score = g.items.map((x) => -c.order.indexOf(x));
      expect(agreementOf(g, score)).toBeCloseTo(c.accuracy, 12);
      const b = ceilingBounds(g);
      expect(b.exact).toBe(true);
      expect(b.lower).toBeCloseTo(c.accuracy, 12);
      expect(b.upper).toBeGreaterThanOrEqual(c.accuracy - 1e-12);
    }
  });

  it('exact beyond 10 items (the DP reads two lookup tables): a 15-cycle gives 14/15, a chain with one pair judged both ways loses one', () => {
    const cyc: Judgement[] = [];
    for (let a = 0; a < 15; a++) cyc.push(j(`i${a}`, `i${(a + 1) % 15}`));
    const c = scalarCeiling(graphOf(cyc));
    expect(c.accuracy).toBeCloseTo(14 / 15, 12);
    expect(c.violated).toBe(1);
    const chain: Judgement[] = [];
    for (let a = 0; a < 18; a++) for (let b = a + 1; b < 18; b++) chain.push(j(`i${a}`, `i${b}`));
    chain.push(j('i17', 'i3', 2)); // i17 over i3, weight 2, against the chain's i3 over i17
    const g = graphOf(chain);
    const best = scalarCeiling(g);
    // moving i17 above i3 breaks i3..i16 > i17 (14 judgements) to keep the 2; leaving it last breaks only the 2
    expect(best.violated).toBe(2);
    expect(best.accuracy).toBeCloseTo(1 - 2 / (153 + 2), 12);
    const rng = new Rng(8);
    for (let t = 0; t < 5; t++) {
      const r = randomGraph(12 + rng.int(5), rng);
      // the claimed value is reached by the returned order (an over-estimate would fail here)
      const ex = scalarCeiling(r);
      expect(agreementOf(r, r.items.map((x) => -ex.order.indexOf(x)))).toBeCloseTo(ex.accuracy, 12);
    }
  });

  it(`refuses a component of more than ${EXACT_ITEM_LIMIT} items, naming the limit; the bounds handle it`, () => {
    const n = EXACT_ITEM_LIMIT + 5;
    const js: Judgement[] = [];
    for (let a = 0; a + 1 < n; a++) js.push(j(`i${a}`, `i${a + 1}`));
    js.push(j(`i${n - 1}`, 'i0')); // one long cycle: the best order breaks one judgement
    const g = graphOf(js);
    expect(() => scalarCeiling(g)).toThrow(/25 items.*limited to 20.*ceilingBounds/);
    const b = ceilingBounds(g);
    expect(b.exact).toBe(false);
    expect(b.lower).toBeCloseTo((n - 1) / n, 12); // the heuristic finds the optimum here
    expect(b.upper).toBe(1); // no pair is judged both ways: the pairwise bound cannot see the cycle
  });

  it('the heuristic stays between the exact value and the pairwise bound', () => {
    const rng = new Rng(5);
    const g = randomGraph(24, rng, 0.5);
    const b = ceilingBounds(g);
    expect(b.lower).toBeLessThanOrEqual(b.upper);
    expect(b.lower).toBeGreaterThan(0.5);
  });

  it('agreementOf counts a tie as wrong', () => {
    expect(agreementOf(cycle3, [3, 2, 1])).toBeCloseTo(2 / 3, 12);
    expect(agreementOf(cycle3, [1, 1, 1])).toBe(0);
    expect(() => agreementOf(cycle3, [1])).toThrow(/3 items but 1 scores/);
  });
});
