import { describe, expect, it } from 'vitest';
import {
  goldFrontier, peakAndFall, dpoLogProbShift, rejectionVsBestOfN, ppoVsBestOfN, winVerdict, bestOfNTrend,
  proxyGoldDivergence, weakestPart, accuracyChange, gaoShape, ranking,
} from '../lib/eval/conclusions';
import { winRate } from '../lib/eval/eval';
import { trailingMean } from '../lib/core/stats';

const pt = (method: string, label: string, kl: number, gold: number, proxy = 0) => ({ method, label, kl, gold, proxy });
const sft = pt('SFT', 'SFT', 0, -0.08);
const bon = [pt('best-of-N', 'best-of-2', 0.19, 0.13), pt('best-of-N', 'best-of-4', 0.64, 0.35), pt('best-of-N', 'best-of-8', 1.2, 0.68), pt('best-of-N', 'best-of-16', 1.83, 0.92)];

describe('conclusions: who holds the gold frontier', () => {
  it('PPO ends the frontier when it has the most gold (the development run)', () => {
    const c = goldFrontier([sft, ...bon, pt('PPO', 'PPO beta=0.05', 7.5, 1.05), pt('PPO', 'PPO beta=0.005', 51, -0.02), pt('DPO', 'DPO beta=0.1', 0.74, 0.28)]);
    expect(c.answer.frontier).toEqual(['SFT', 'best-of-2', 'best-of-4', 'best-of-8', 'best-of-16', 'PPO beta=0.05']);
    expect(c.answer.ends).toBe('PPO beta=0.05');
    expect(c.answer.methods).toEqual({ SFT: 1, 'best-of-N': 4, PPO: 1 });
    expect(c.sentence).toMatch(/PPO beta=0.05 ends it with the most gold of all, 1.05 at 7.50 nats/);
  });
  it('best-of-N ends it when PPO has less gold (the fresh run of issue 16)', () => {
    const c = goldFrontier([sft, ...bon.slice(0, 3), pt('best-of-N', 'best-of-16', 1.84, 1.02), pt('PPO', 'PPO beta=0.05', 9.99, 0.88)]);
    expect(c.answer.frontier).toEqual(['SFT', 'best-of-2', 'best-of-4', 'best-of-8', 'best-of-16']);
    expect(c.answer.endsMethod).toBe('best-of-N');
    expect(c.answer.methods.PPO).toBeUndefined();
    expect(c.sentence).toMatch(/best-of-N 4 of 5/);
  });
});

describe('conclusions: did gold peak and fall', () => {
  it('a rise then a fall that gives back more than half the gain is a fall; smoothing is the trailing mean', () => {
    expect(trailingMean([1, 2, 3, 4], 2)).toEqual([1, 1.5, 2.5, 3.5]);
    const gold = [0, 0.2, 0.5, 0.9, 1.0, 0.8, 0.3, 0.1, 0];
    const c = peakAndFall(gold, { smooth: 1, proxy: gold.map((_, i) => i) });
    expect(c.answer).toMatchObject({ start: 0, peak: 1, peakIteration: 5, final: 0, fell: true, proxyStart: 0, proxyEnd: 8 });
    expect(c.sentence).toMatch(/peak of 1.00 at iteration 5 and then fell to 0.00 by iteration 9: it gave back 100.0% of its gain/);
  });
  it('a rise that keeps most of its gain is no fall (the 0.25 of the fresh run)', () => {
    const gold = [0, 0.3, 0.6, 0.9, 0.8, 0.7];
    const c = peakAndFall(gold, { smooth: 1 });
    expect(c.answer.fell).toBe(false); // gave back 0.2 of 0.9
    expect(peakAndFall(gold, { smooth: 1, giveBack: 0.2 }).answer.fell).toBe(true);
    expect(peakAndFall([0, 1, 2, 3], { smooth: 1 }).answer).toMatchObject({ fell: false, peakIteration: 4 });
    expect(c.sentence).toMatch(/no fall within these iterations/);
  });
});

describe('conclusions: DPO log-probabilities', () => {
  const m = { marginBefore: 0, marginAfter: 0.3 };
  it('chosen held while rejected fell (the development run)', () => {
    const c = dpoLogProbShift({ chosenBefore: -26.8, chosenAfter: -26.6, rejectedBefore: -28.9, rejectedAfter: -31.7, ...m });
    expect(c.answer).toEqual({ chosen: 'held', rejected: 'fell', marginGrew: true });
    expect(c.sentence).toMatch(/it lowered the rejected replies while the chosen ones held\. The implicit-reward margin grew \(0.00 -> 0.30\)/);
  });
  it('chosen rose (the fresh run of issue 16); both fell; both rose; the margin shrank', () => {
    expect(dpoLogProbShift({ chosenBefore: -30.05, chosenAfter: -27.99, rejectedBefore: -31, rejectedAfter: -31.1, ...m }).answer).toMatchObject({ chosen: 'rose', rejected: 'held' });
    const fell = dpoLogProbShift({ chosenBefore: -30, chosenAfter: -31, rejectedBefore: -30, rejectedAfter: -33, ...m });
    expect(fell.answer).toMatchObject({ chosen: 'fell', rejected: 'fell' });
    expect(fell.sentence).toMatch(/both fell, the chosen ones less\./);
    const rose = dpoLogProbShift({ chosenBefore: -32.5, chosenAfter: -31.3, rejectedBefore: -38, rejectedAfter: -30.5, marginBefore: 0, marginAfter: -0.1 });
    expect(rose.answer).toEqual({ chosen: 'rose', rejected: 'rose', marginGrew: false });
    expect(rose.sentence).toMatch(/both rose, the rejected ones more: against the labels\. The implicit-reward margin did not grow/);
    expect(dpoLogProbShift({ chosenBefore: -30, chosenAfter: -30.1, rejectedBefore: -30, rejectedAfter: -30.2, ...m }, 0.05).answer.chosen).toBe('fell');
    expect(dpoLogProbShift({ chosenBefore: -30, chosenAfter: -30.4, rejectedBefore: -30, rejectedAfter: -30.2, ...m }).answer.chosen).toBe('held');
  });
});

describe('conclusions: rejection sampling vs best-of-N, PPO vs best-of-N', () => {
  it('cheaper in KL (0.95 < 1.2) or not (1.46 > 1.2), and the share of the gain kept', () => {
    const a = rejectionVsBestOfN({ n: 8, rs: { kl: 0.95, gold: 0.18 }, bon: { kl: 1.2, gold: 0.68 }, sftGold: -0.08 });
    expect(a.answer.cheaperInKL).toBe(true);
    expect(a.answer.keptGain).toBeCloseTo(0.26 / 0.76, 10);
    expect(a.sentence).toMatch(/spent 0.95 nats of KL, less than best-of-8 itself \(1.20\); it kept 34.2%/);
    expect(rejectionVsBestOfN({ n: 8, rs: { kl: 1.46, gold: 0.2 }, bon: { kl: 1.2, gold: 0.68 }, sftGold: -0.08 }).answer.cheaperInKL).toBe(false);
  });
  it('PPO ahead of the best best-of-N point or behind it', () => {
    const ahead = ppoVsBestOfN(pt('PPO', 'PPO beta=0.05', 7.5, 1.05), bon);
    expect(ahead.answer).toMatchObject({ ppoAhead: true, bestBoN: 'best-of-16', bestBoNGold: 0.92 });
    expect(ahead.sentence).toMatch(/paying 4.10 times its KL/);
    const behind = ppoVsBestOfN(pt('PPO', 'PPO beta=0.05', 9.99, 0.88), bon);
    expect(behind.answer.ppoAhead).toBe(false);
    expect(behind.sentence).toMatch(/less than the best best-of-N point \(best-of-16: 0.92 at 1.83 nats\), although it spent more KL/);
  });
});

describe('conclusions: win rates, trends, divergence', () => {
  it('a win rate more than 2 standard errors from 50% is a verdict, else unclear', () => {
    const clear = winRate([...Array(90).fill(1), ...Array(38).fill(0)], Array(128).fill(0.5));
    expect(winVerdict('PPO', clear).answer.verdict).toBe('better');
    const close = winRate([...Array(68).fill(1), ...Array(60).fill(0)], Array(128).fill(0.5));
    expect(close.rate).toBeCloseTo(68 / 128, 10);
    const v = winVerdict('DPO beta=0.3', close);
    expect(v.answer.verdict).toBe('unclear');
    expect(v.answer.standardErrors).toBeCloseTo((68 / 128 - 0.5) / close.stderr, 10);
    expect(winVerdict('X', winRate(Array(40).fill(0), Array(40).fill(1))).answer.verdict).toBe('worse');
  });
  it('best-of-N gold rising at every N, or not', () => {
    expect(bestOfNTrend([{ n: 1, proxy: 0, gold: -0.09 }, { n: 2, proxy: 0.5, gold: 0.13 }, { n: 4, proxy: 1, gold: 0.35 }]).answer).toEqual({ goldRisesEveryStep: true, proxyRisesEveryStep: true, bestN: 4 });
    const bent = bestOfNTrend([{ n: 4, proxy: 1, gold: 0.2 }, { n: 1, proxy: 0, gold: 0 }, { n: 16, proxy: 2, gold: 0.1 }]);
    expect(bent.answer).toEqual({ goldRisesEveryStep: false, proxyRisesEveryStep: true, bestN: 4 });
    expect(bent.sentence).toMatch(/highest at N = 4 \(0.20\)/);
  });
  it('the harder-pushed policy has more proxy and less gold, or not', () => {
    const over = proxyGoldDivergence({ label: 'small', proxy: 3.09, gold: -0.02, kl: 51 }, { label: 'moderate', proxy: 2.43, gold: 1.05, kl: 7.5 }, -0.08);
    expect(over.answer).toMatchObject({ higherProxy: true, lowerGold: true });
    expect(over.answer.goldGainOverSFT).toBeCloseTo(0.06, 10);
    expect(proxyGoldDivergence({ label: 'a', proxy: 3, gold: 1.2, kl: 20 }, { label: 'b', proxy: 2, gold: 1, kl: 7 }, 0).answer.lowerGold).toBe(false);
  });
});

describe('conclusions: reward model, fits, rankings', () => {
  it('weakest and strongest part among parts with enough pairs', () => {
    const rows = [{ part: 'sentiment', pairs: 263, rewardModelAgreement: 0.88 }, { part: 'repetition', pairs: 128, rewardModelAgreement: 0.54 }, { part: 'noEnd', pairs: 10, rewardModelAgreement: 0.1 }];
    expect(weakestPart(rows).answer).toEqual({ weakest: 'repetition', weakestAcc: 0.54, strongest: 'sentiment', strongestAcc: 0.88 });
    expect(weakestPart(rows, 5).answer.weakest).toBe('noEnd');
    expect(() => weakestPart(rows, 1000)).toThrow(/no part has 1000 or more pairs/);
  });
  it('an accuracy change beyond 2 binomial standard errors, or within noise', () => {
    // p = 0.8 on 400 pairs: sqrt(0.16 / 400) = 0.02
    const up = accuracyChange('second epoch', 0.8, 0.85, 400);
    expect(up.answer.stderr).toBeCloseTo(0.02, 12);
    expect(up.answer.verdict).toBe('rose');
    expect(accuracyChange('second epoch', 0.8, 0.83, 400).answer.verdict).toBe('within noise');
    expect(accuracyChange('temperature 1', 0.8, 0.75, 400).answer.verdict).toBe('fell');
  });
  it('a Gao fit that bends inside, beyond, or not at all', () => {
    expect(gaoShape('RL', { beta: 0.3, r2: 0.76 }, 8.7, 51).answer).toEqual({ bends: true, insideRange: true });
    expect(gaoShape('RL', { beta: 0.3, r2: 0.76 }, 80, 51).answer).toEqual({ bends: true, insideRange: false });
    const flat = gaoShape('best-of-N', { beta: -0.05, r2: 1 }, Infinity, 1.83);
    expect(flat.answer).toEqual({ bends: false, insideRange: false });
    expect(flat.sentence).toMatch(/does not bend/);
  });
  it('ranking order from ratings', () => {
    const r = ranking(new Map([['SFT', 883], ['PPO beta=0.05', 1232], ['best-of-16', 1190]]));
    expect(r.answer).toEqual({ order: ['PPO beta=0.05', 'best-of-16', 'SFT'], first: 'PPO beta=0.05', last: 'SFT' });
    expect(ranking({ a: 1171, b: 1220 }).answer.first).toBe('b');
  });
});
