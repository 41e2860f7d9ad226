import { describe, expect, it } from 'vitest';
import { AnchoringLabeler, AttributeLabeler, DriftingLabeler } from '../lib/feedback/assumptions';
import { byPopulation, lengthTaste, MixtureLabeler, replyWords } from '../lib/feedback/populations';
import { comparisonGraph, countThreeCycles, findCycle, replyKey, scalarCeiling } from '../lib/feedback/preferenceGraph';
import { Comparison } from '../lib/feedback/preferences';
import { SimulatedLabeler } from '../lib/feedback/labeler';
import { Rng } from '../lib/core/rng';

const P = 'Human: Speak.\nAssistant: ';
/** Three replies and their attributes (x, y, z): the Condorcet profile, each beats the next on two of three. */
const table: Record<string, number[]> = { A: [3, 1, 2], B: [2, 3, 1], C: [1, 2, 3] };
const attr = (k: number, threshold?: number) => ({ name: 'xyz'[k], score: (c: string) => table[c][k], threshold });
const roundRobin = (l: { label: (p: string, a: string, b: string) => Comparison }) => [l.label(P, 'A', 'B'), l.label(P, 'B', 'C'), l.label(P, 'C', 'A')];

describe('AttributeLabeler', () => {
  it('majority across attributes cycles: A > B > C > A, each 2-1 (strength ">")', () => {
    const rs = roundRobin(new AttributeLabeler([attr(0), attr(1), attr(2)], { rule: 'majority', id: 'maj' }));
    expect(rs.map((r) => r.choice)).toEqual(['A', 'A', 'A']); // A over B, B over C, C over A
    expect(rs.map((r) => r.strength)).toEqual(['A>B', 'A>B', 'A>B']);
    expect(rs[0].metadata).toMatchObject({ attributes: { x: 1, y: -2, z: 1 }, decidedBy: 'majority' });
    expect(rs[0].labeler).toBe('maj');
    const g = comparisonGraph(rs);
    expect(countThreeCycles(g)).toBe(1);
    expect(findCycle(g)).toHaveLength(3);
    expect(scalarCeiling(g).accuracy).toBeCloseTo(2 / 3, 12);
  });

  it('a unanimous majority is ">>>"', () => {
    const l = new AttributeLabeler([attr(0), attr(0), attr(0)], { rule: 'majority' });
    expect(l.label(P, 'C', 'A').strength).toBe('B>>>A');
  });

  it('lexicographic semiorder (Tversky 1969): x decides only beyond its threshold 1, so C > B > A > C', () => {
    const t: Record<string, number[]> = { A: [1.2, 0], B: [0.6, 1], C: [0, 2] };
    const l = new AttributeLabeler([
      { name: 'x', score: (c) => t[c][0], threshold: 1 },
      { name: 'y', score: (c) => t[c][1] },
    ], { rule: 'lexicographic' });
    const ab = l.label(P, 'A', 'B'); // |1.2 - 0.6| < 1: y decides, B
    const bc = l.label(P, 'B', 'C'); // y decides, C
    const ac = l.label(P, 'A', 'C'); // |1.2 - 0| > 1: x decides, A
    expect([ab.choice, bc.choice, ac.choice]).toEqual(['B', 'B', 'A']);
    expect([ab.metadata.decidedBy, bc.metadata.decidedBy, ac.metadata.decidedBy]).toEqual(['y', 'y', 'x']);
    expect(countThreeCycles(comparisonGraph([ab, bc, ac]))).toBe(1);
  });

  it('nothing noticed: a seeded coin with strength ">=", gold recorded when given', () => {
    const l = new AttributeLabeler([attr(0, 5)], { seed: 3, gold: (c) => table[c][0] });
    const r = l.label(P, 'A', 'B');
    expect(r.metadata.decidedBy).toBe('coin');
    expect(r.strength[1]).toBe('>'); // "A>=B" or "B>=A"
    expect(r.strength).toMatch(/>=/);
    expect(r.metadata).toMatchObject({ goldA: 3, goldB: 2 });
    const again = new AttributeLabeler([attr(0, 5)], { seed: 3 }).label(P, 'A', 'B');
    expect(again.choice).toBe(r.choice);
    expect(() => new AttributeLabeler([])).toThrow(/no attributes/);
    expect(() => new AttributeLabeler([attr(0)], { rule: 'borda' as 'majority' })).toThrow(/rule/);
  });
});

describe('populations', () => {
  const gold = (c: string) => (c.includes('good') ? 1 : 0);
  const short = lengthTaste(gold, -1);
  const long = lengthTaste(gold, +1);

  it('lengthTaste adds perWord per word before <end>', () => {
    expect(replyWords('a good day<end> extra')).toBe(3);
    expect(short('a good day<end>')).toBe(1 - 3);
    expect(long('a bad day<end>')).toBe(3);
  });

  it('draws populations with their seeded shares and records which one labeled', () => {
    const mk = () => new MixtureLabeler([
      { name: 'short', share: 7, labeler: new SimulatedLabeler(short, { id: 'short', temperature: 0 }) },
      { name: 'long', share: 3, labeler: new SimulatedLabeler(long, { id: 'long', temperature: 0 }) },
    ], { seed: 9 });
    const m = mk();
    expect(m.shares()).toEqual({ short: 0.7, long: 0.3 });
    const n = 4000;
    // "Yes." vs "Yes, and a long reply.": the short population picks A, the long one B
    const rs = Array.from({ length: n }, () => m.label(P, 'Yes.<end>', 'Yes, and a long reply.<end>'));
    // the same draws as the seeded categorical the class uses
    const rng = new Rng(9);
    const expected = Array.from({ length: n }, () => (rng.categorical([7, 3]) === 0 ? 'short' : 'long'));
    expect(rs.map((r) => r.metadata.population)).toEqual(expected);
    const fracShort = m.draws.short / n;
    expect(Math.abs(fracShort - 0.7)).toBeLessThan(3 * Math.sqrt(0.21 / n)); // within 3 standard errors
    expect(m.draws.short + m.draws.long).toBe(n);
    for (const r of rs) expect(r.choice).toBe(r.metadata.population === 'short' ? 'A' : 'B');
    const groups = byPopulation(rs);
    expect(groups.get('short')!.length).toBe(m.draws.short);
    expect(groups.get('long')!.every((r) => r.labeler === 'long')).toBe(true);
    expect(mk().label(P, 'a<end>', 'b<end>').metadata.population).toBe(expected[0]);
  });

  it('refuses bad populations', () => {
    const l = new SimulatedLabeler(gold);
    expect(() => new MixtureLabeler([])).toThrow(/no populations/);
    expect(() => new MixtureLabeler([{ name: 'a', share: 0, labeler: l }])).toThrow(/share 0/);
    expect(() => new MixtureLabeler([{ name: 'a', share: 1, labeler: l }, { name: 'a', share: 1, labeler: l }])).toThrow(/two populations/);
  });

  it('a Condorcet cycle among three labelers: each transitive, their majority cycles', () => {
    const rankings = [['A', 'B', 'C'], ['B', 'C', 'A'], ['C', 'A', 'B']];
    const voters = rankings.map((r, k) => new SimulatedLabeler((c) => -r.indexOf(c), { id: `v${k}`, temperature: 0 }));
    const records = voters.flatMap((v) => roundRobin(v));
    for (const v of [0, 1, 2]) expect(countThreeCycles(comparisonGraph(records.slice(3 * v, 3 * v + 3)))).toBe(0);
    const g = comparisonGraph(records);
    expect(countThreeCycles(g)).toBe(1);
    // each pair is won 2-1; any order keeps two of the three pairs' majorities (2 labels each) and one minority (1 label): 5/9
    expect(scalarCeiling(g).accuracy).toBeCloseTo(5 / 9, 12);
    expect(g.wins[g.items.indexOf(replyKey(P, 'A'))][g.items.indexOf(replyKey(P, 'B'))]).toBe(2);
  });
});

describe('labelers in time', () => {
  it('drift: a fixed pair flips at the drift midpoint (from prefers A by 1, to prefers B by 1, 10 labels)', () => {
    const l = new DriftingLabeler((c) => (c === 'A' ? 1 : 0), (c) => (c === 'B' ? 1 : 0), { driftLabels: 10, seed: 1 });
    const rs = Array.from({ length: 11 }, () => l.label(P, 'A', 'B'));
    // margin at label t = 1 - 2 t / 10: positive for t < 5, 0 at t = 5 (a coin), negative after
    expect(rs.slice(0, 5).map((r) => r.choice)).toEqual(['A', 'A', 'A', 'A', 'A']);
    expect(rs.slice(6).map((r) => r.choice)).toEqual(['B', 'B', 'B', 'B', 'B']);
    expect(rs[5].strength).toMatch(/>=/);
    expect(rs.map((r) => r.metadata.drift)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(rs[2].metadata).toMatchObject({ step: 2, goldA: 0.8, goldB: 0.2 });
    expect(rs[0].strength).toBe('A>>B'); // margin 1: >= 0.75, < 1.5
    expect(l.labels).toBe(11);
  });

  it('drift with noise: P(A) = sigmoid(margin / temperature) at the first label', () => {
    const n = 4000;
    let a = 0;
    for (let s = 0; s < n; s++) {
      const l = new DriftingLabeler((c) => (c === 'A' ? 1 : 0), (c) => (c === 'B' ? 1 : 0), { temperature: 0.5, seed: s });
      if (l.label(P, 'A', 'B').choice === 'A') a++;
    }
    const p = 1 / (1 + Math.exp(-2)); // 0.881
    expect(Math.abs(a / n - p)).toBeLessThan(3 * Math.sqrt((p * (1 - p)) / n));
  });

  it('anchoring: a pair gold prefers by 0.3 goes the way of the previous verdict when anchor = 0.5', () => {
    const gold = (c: string) => ({ A: 0.3, B: 0, X: 0, Y: 2 })[c as 'A'] ?? NaN;
    const l = new AnchoringLabeler(gold, { anchor: 0.5 });
    const first = l.label(P, 'A', 'B'); // no previous: margin 0.3 -> "A>B"
    expect([first.choice, first.strength, first.metadata.previous]).toEqual(['A', 'A>B', null]);
    const other = l.label(P, 'X', 'Y'); // margin -2 + 0.5 = -1.5 -> "B>>>A"
    expect(other.strength).toBe('B>>>A');
    const upset = l.label(P, 'A', 'B'); // after B: 0.3 - 0.5 = -0.2 -> "B>=A" (against gold)
    expect([upset.choice, upset.strength, upset.metadata.previous]).toEqual(['B', 'B>=A', 'B']);
    l.label(P, 'Y', 'X'); // chooses A
    const pushed = l.label(P, 'A', 'B'); // after A: 0.3 + 0.5 = 0.8 -> "A>>B"
    expect(pushed.strength).toBe('A>>B');
    expect(pushed.metadata).toMatchObject({ goldA: 0.3, goldB: 0, previous: 'A' });
    expect(() => new AnchoringLabeler(gold, { anchor: NaN })).toThrow(/anchor/);
    expect(() => new AnchoringLabeler(gold, { temperature: -1 })).toThrow(/temperature/);
  });
});
