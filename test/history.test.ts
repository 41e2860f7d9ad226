import { describe, expect, it } from 'vitest';
import { HISTORY, historySpec, PRESUMPTIONS, Presumption } from '../lib/feedback/history';

describe('the history of quantifying preferences', () => {
  it('runs from the Port-Royal Logic (1662) to InstructGPT (2022), in order, with the lecture\'s line', () => {
    expect(HISTORY[0]).toMatchObject({ year: 1662, who: 'Arnauld and Nicole' });
    expect(HISTORY[HISTORY.length - 1].year).toBe(2022);
    for (let i = 1; i < HISTORY.length; i++) expect(HISTORY[i].year).toBeGreaterThanOrEqual(HISTORY[i - 1].year);
    const who = HISTORY.map((e) => `${e.year} ${e.who}`).join('; ');
    for (const s of ['1789 Jeremy Bentham', '1931 Frank Ramsey', '1938 B. F. Skinner', '1957 Richard Bellman', '1960 Ronald Howard', '1947 von Neumann and Morgenstern', '1952 Bradley and Terry', '1951 Kenneth Arrow', '1785 Condorcet']) {
      expect(who).toContain(s);
    }
  });

  it('every presumption has an event that founds it', () => {
    for (const p of Object.keys(PRESUMPTIONS) as Presumption[]) {
      expect(HISTORY.some((e) => e.presumption === p && e.stance === 'founds'), p).toBe(true);
    }
  });

  it('the timeline: one row per presumption, years placed as 2030 - year on a log axis running right to left, hover text with the idea', () => {
    const { traces, layout } = historySpec();
    expect(traces).toHaveLength(Object.keys(PRESUMPTIONS).length);
    const bt = traces.find((t) => t.name === 'Bradley-Terry')!;
    expect(bt.x).toEqual([2030 - 1929, 2030 - 1952, 2030 - 1959, 2030 - 1969, 2030 - 2017]);
    expect((bt.hovertext as string[])[1]).toBe('1952, Bradley and Terry (founds it): Rank analysis of incomplete block designs: P(i beats j) = p_i / (p_i + p_j)');
    expect((bt.marker as { symbol: string[] }).symbol[3]).toBe('circle-open'); // Tversky 1969 challenges it
    expect(layout.xaxis).toMatchObject({ type: 'log', range: [Math.log10(480), Math.log10(3)] }); // 1550 on the left, 2027 on the right
    expect(bt.text).toEqual(['Zermelo', 'Bradley-Terry', 'Luce', 'Tversky', 'Christiano et al.']);
    expect(bt.textposition).toEqual(['top center', 'bottom center', 'top center', 'bottom center', 'top center']);
    const only = historySpec(HISTORY.filter((e) => e.presumption === 'aggregation'));
    expect(only.traces.map((t) => t.name)).toEqual(['aggregation']);
  });
});
