import { describe, expect, it } from 'vitest';
import {
  goldFrontier, peakAndFall, dpoLogProbShift, rejectionVsBestOfN, ppoVsBestOfN, pairedChange, winVerdict, bestOfNTrend,
  proxyGoldDivergence, weakestPart, accuracyChange, gaoShape, ranking, lossComparison,
} from '../lib/eval/conclusions';
import { winRate } from '../lib/eval/eval';

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

describe('conclusions: paired changes', () => {
  it('mean of the per-item differences and its standard error; three answers', () => {
    // d = [1, 0.5, 1, 0.5]: mean 0.75, sd sqrt(4 * 0.25^2 / 3) = 0.288675, se 0.144338
    const c = pairedChange([-10, -12, -14, -16], [-9, -11.5, -13, -15.5]);
    expect(c.change).toBeCloseTo(0.75, 12);
    expect(c.stderr).toBeCloseTo(Math.sqrt(0.25 / 3) / 2, 12);
    expect(c.shift).toBe('rose');
    expect(pairedChange([0, 0, 0, 0], [-0.5, 0.5, -0.2, 0.2]).shift).toBe('within noise');
    expect(pairedChange([0, 0, 0, 0], [-1, -1.2, -0.8, -1]).shift).toBe('fell');
    expect(pairedChange([0, 0, 0, 0], [1, 0.5, 1, 0.5], 6).shift).toBe('within noise'); // 0.75 < 6 * 0.144
    expect(() => pairedChange([1, 2], [1])).toThrow(/same items/);
  });
});

describe('conclusions: did gold peak and fall, and how much did it give back', () => {
  it('a fall beyond noise: drop 4 with standard error 1 (sigma^2 = 8 / 16 from the successive differences)', () => {
    const gold = [0, 1, 2, 3, 4, 3, 2, 1, 0];
    const c = peakAndFall(gold, { smooth: 1, proxy: gold.map((_, i) => i) });
    expect(c.answer.noiseSd).toBeCloseTo(Math.sqrt(0.5), 12);
    expect(c.answer).toMatchObject({ start: 0, peak: 4, peakIteration: 5, final: 0, drop: 4, gain: 4, gaveBack: 1, fell: 'yes', proxyStart: 0, proxyEnd: 8 });
    expect(c.answer.dropSe).toBeCloseTo(1, 12); // sigma * sqrt(1 + 1)
    expect(c.answer.gaveBackSe).toBeCloseTo(0.25, 12); // sigma * |e0 - e8| / gain = 1 / 4
    expect(c.sentence).toMatch(/a drop of 4.00 ± 1.00; it gave back 100.0% ± 25.0 points of its gain of 4.00; a fall beyond noise/);
  });
  it('a drop within noise (the 49% of reference seed 2 is no longer a "no fall")', () => {
    // diffs 1,1,1,1,1,0.5: sigma^2 = 5.25 / 12; drop 0.5 with se sigma * sqrt(2) = 0.935
    const c = peakAndFall([0, 1, 0, 1, 0, 1, 0.5], { smooth: 1 });
    const sigma = Math.sqrt(5.25 / 12);
    expect(c.answer).toMatchObject({ peak: 1, peakIteration: 2, final: 0.5, drop: 0.5, gaveBack: 0.5, fell: 'within noise' });
    expect(c.answer.dropSe).toBeCloseTo(sigma * Math.SQRT2, 12);
    expect(c.answer.gaveBackSe).toBeCloseTo(sigma * Math.sqrt(1.5), 12); // c = 0.5 e0 + 0.5 e1 - e6
    expect(c.sentence).toMatch(/its gain over the start \(1.00 ± 0.94\) is itself within noise; the drop is within 2 standard errors/);
  });
  it('no fall when gold ends at its peak; smoothing weights enter the standard errors', () => {
    expect(peakAndFall([0, 1, 2, 3], { smooth: 1 }).answer).toMatchObject({ fell: 'no', drop: 0, peakIteration: 4 });
    // smooth 2: g = [0, 1, 3, 3, 1]; sigma^2 = 16 / 8 = 2; drop weights 0.5(e1 + e2 - e3 - e4): se sqrt(2 * 1)
    const c = peakAndFall([0, 2, 4, 2, 0], { smooth: 2 });
    expect(c.answer).toMatchObject({ start: 0, peak: 3, peakIteration: 3, final: 1, drop: 2, gain: 3, fell: 'within noise' });
    expect(c.answer.dropSe).toBeCloseTo(Math.SQRT2, 12);
    expect(c.answer.gainSe).toBeCloseTo(Math.sqrt(3), 12); // -e0 + 0.5 e1 + 0.5 e2: 1.5 * 2
    expect(peakAndFall([0, 2, 4, 2, 0], { smooth: 2, z: 1 }).answer.fell).toBe('yes'); // 2 > 1.41
  });
});

describe('conclusions: DPO log-probabilities on the same held-out pairs', () => {
  const chosenBefore = [-10, -12, -14, -16], rejectedBefore = [-10, -10, -10, -10];
  it('chosen rose, rejected within noise, the margin grew (hand-computed standard errors)', () => {
    const c = dpoLogProbShift({ chosenBefore, chosenAfter: [-9, -11.5, -13, -15.5], rejectedBefore, rejectedAfter: [-10.5, -9.5, -10.2, -9.8], beta: 0.1 });
    expect(c.answer).toMatchObject({ chosen: 'rose', rejected: 'within noise', marginGrew: 'yes', pairs: 4 });
    expect(c.answer.chosenSe).toBeCloseTo(Math.sqrt(0.25 / 3) / 2, 12);
    // per-pair margin 0.1 * [1.5, 0, 1.2, 0.3]: mean 0.075, sd 0.1 * sqrt(1.53 / 3), se half of it
    expect(c.answer.margin).toBeCloseTo(0.075, 12);
    expect(c.answer.marginSe).toBeCloseTo(0.1 * Math.sqrt(1.53 / 3) / 2, 12);
    expect(c.sentence).toMatch(/On the 4 held-out pairs.*log p\(chosen\) changed by \+0.75 ± 0.14 nats per pair.*it raised the chosen replies; the rejected ones moved within noise\. The implicit-reward margin went from 0 to \+0.08 ± 0.04: it grew beyond noise/);
  });
  it('both fell, the chosen less; against the labels; the margin shrank or held within noise', () => {
    const fell = dpoLogProbShift({ chosenBefore, chosenAfter: chosenBefore.map((x, i) => x - [0.4, 0.6, 0.5, 0.5][i]), rejectedBefore, rejectedAfter: rejectedBefore.map((x, i) => x - [1, 1.2, 0.8, 1][i]), beta: 0.1 });
    expect(fell.answer).toMatchObject({ chosen: 'fell', rejected: 'fell', marginGrew: 'yes' });
    expect(fell.sentence).toMatch(/both fell, the chosen ones less\./);
    const wrong = dpoLogProbShift({ chosenBefore, chosenAfter: chosenBefore.map((x, i) => x - [1, 1.2, 0.8, 1][i]), rejectedBefore, rejectedAfter: rejectedBefore.map((x, i) => x + [1, 0.5, 1, 0.5][i]), beta: 0.1 });
    expect(wrong.answer).toMatchObject({ chosen: 'fell', rejected: 'rose', marginGrew: 'no' });
    expect(wrong.sentence).toMatch(/against the labels.*it shrank beyond noise/);
    const still = dpoLogProbShift({ chosenBefore, chosenAfter: chosenBefore.map((x, i) => x + [0.5, -0.5, 0.2, -0.2][i]), rejectedBefore, rejectedAfter: [-10.5, -9.5, -10.2, -9.8], beta: 0.1 });
    expect(still.answer).toMatchObject({ chosen: 'within noise', rejected: 'within noise', marginGrew: 'within noise' });
    expect(still.sentence).toMatch(/neither side moved beyond noise/);
  });
});

describe('conclusions: rejection sampling vs best-of-N (sample KL on both sides), PPO vs best-of-N', () => {
  const bonKL = [1.0, 1.1, 1.2, 0.9];
  const o = { n: 8, bonKL, rsGold: 0.18, bonGold: 0.68, sftGold: -0.08 };
  it('cheaper beyond noise: difference -0.40 with standard error sqrt(0.14 / 3) / 2', () => {
    const a = rejectionVsBestOfN({ ...o, rsKL: [0.5, 0.7, 0.6, 0.8] });
    expect(a.answer.cheaper).toBe('yes');
    expect(a.answer.klDiff).toBeCloseTo(-0.4, 12);
    expect(a.answer.klDiffSe).toBeCloseTo(Math.sqrt(0.14 / 3) / 2, 12);
    expect(a.answer.keptGain).toBeCloseTo(0.26 / 0.76, 10);
    expect(a.sentence).toMatch(/spent 0.65 nats of KL per reply \(sample estimate\) against 1.05 for best-of-8 itself \(sample estimate, same 4 prompts\): a difference of -0.40 ± 0.11 nats, less KL, beyond noise; it kept 34.2%/);
  });
  it('within noise (a 0.005-nat difference, as in reference seed 2) and dearer beyond noise', () => {
    const close = rejectionVsBestOfN({ ...o, rsKL: bonKL.map((x, i) => x + [0.3, -0.3, 0.2, -0.18][i]) });
    expect(close.answer.cheaper).toBe('within noise');
    expect(close.answer.klDiff).toBeCloseTo(0.005, 12);
    expect(close.sentence).toMatch(/no difference beyond 2 standard errors/);
    expect(rejectionVsBestOfN({ ...o, rsKL: bonKL.map((x, i) => x + [0.5, 0.6, 0.4, 0.5][i]) }).answer.cheaper).toBe('no');
    expect(() => rejectionVsBestOfN({ ...o, rsKL: [1, 2] })).toThrow(/same prompts/);
  });
  const sp = (label: string, method: string, kl: number, goldScores: number[]) => ({ method, label, kl, proxy: 0, gold: goldScores.reduce((a, b) => a + b, 0) / goldScores.length, goldScores });
  const bonPts = [sp('best-of-4', 'best-of-N', 0.64, [0, 0.2, 0.4, 0.2]), sp('best-of-16', 'best-of-N', 1.83, [0.5, 0.7, 0.9, 0.7])];
  it('PPO ahead beyond noise, behind beyond noise, or within noise of the best best-of-N point', () => {
    // differences [0.5, 0.6, 0.4, 0.5]: mean 0.5, sd sqrt(0.02 / 3), se half of it
    const ahead = ppoVsBestOfN(sp('PPO beta=0.05', 'PPO', 7.5, [1.0, 1.3, 1.3, 1.2]), bonPts);
    expect(ahead.answer).toMatchObject({ ppoAhead: 'yes', bestBoN: 'best-of-16', bestBoNGold: 0.7 });
    expect(ahead.answer.goldDiffSe).toBeCloseTo(Math.sqrt(0.02 / 3) / 2, 12);
    expect(ahead.sentence).toMatch(/differs by \+0.50 ± 0.04 \(mean ± standard error over 4 prompts\): more gold, beyond noise, at 4.10 times its KL/);
    expect(ppoVsBestOfN(sp('PPO beta=0.05', 'PPO', 7.5, [0.0, 0.1, 0.5, 0.2]), bonPts).answer.ppoAhead).toBe('no');
    const close = ppoVsBestOfN(sp('PPO beta=0.05', 'PPO', 7.5, [1.0, 0.2, 1.4, 0.4]), bonPts);
    expect(close.answer.ppoAhead).toBe('within noise');
    expect(close.sentence).toMatch(/within 2 standard errors of it: no clear difference/);
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
  const row = (n: number, gold: number[], proxy: number[]) => ({ n, gold: gold.reduce((a, b) => a + b, 0) / gold.length, proxy: proxy.reduce((a, b) => a + b, 0) / proxy.length, goldScores: gold, proxyScores: proxy });
  it('best-of-N gold rising beyond noise at every step of N, falling at one, or not told apart', () => {
    const p1 = [0, 0, 0, 0], p2 = [1, 1.2, 0.8, 1], p4 = [2, 2.2, 1.8, 2];
    // steps of +1 with sd 0.163 (se 0.082): both rise
    const up = bestOfNTrend([row(4, p4, p4), row(1, p1, p1), row(2, p2, p2)]);
    expect(up.answer).toMatchObject({ goldRises: 'yes', proxyRises: 'yes', bestN: 4 });
    const fall = bestOfNTrend([row(1, p1, p1), row(2, p2, p2), row(4, p1, p4)]);
    expect(fall.answer.goldRises).toBe('no');
    expect(fall.answer.steps[1]).toEqual({ from: 2, to: 4, gold: 'fell', proxy: 'rose' });
    const flat = bestOfNTrend([row(1, p1, p1), row(2, p2, p2), row(4, [1.5, 0.7, 1.3, 0.5], p4)]); // 2 -> 4: mean 0, within noise
    expect(flat.answer).toMatchObject({ goldRises: 'within noise', proxyRises: 'yes' });
    expect(flat.sentence).toMatch(/did not rise beyond noise at every step of N \(2 -> 4 \(within noise\); paired over prompts, 2 standard errors\)/);
  });
  it('the harder-pushed policy has more proxy and less gold beyond noise, or not, or within noise', () => {
    const pol = (label: string, proxy: number[], gold: number[], kl: number) => ({ label, kl, proxy: proxy.reduce((a, b) => a + b, 0) / 4, gold: gold.reduce((a, b) => a + b, 0) / 4, proxyScores: proxy, goldScores: gold });
    const softer = pol('moderate', [2, 2, 2, 2], [1, 1, 1, 1], 7.5);
    const over = proxyGoldDivergence(pol('small', [3, 3.2, 2.8, 3], [0, 0.2, -0.2, 0], 51), softer, -0.08);
    expect(over.answer).toMatchObject({ higherProxy: 'yes', lowerGold: 'yes', goldDiff: -1 });
    expect(over.answer.goldDiffSe).toBeCloseTo(Math.sqrt(0.08 / 3) / 2, 12);
    expect(over.answer.goldGainOverSFT).toBeCloseTo(0.08, 10);
    expect(proxyGoldDivergence(pol('a', [3, 3.2, 2.8, 3], [2, 2.2, 1.8, 2], 20), softer, 0).answer.lowerGold).toBe('no');
    const noisy = proxyGoldDivergence(pol('b', [3, 3.2, 2.8, 3], [1.5, 0.5, 1.4, 0.6], 20), softer, 0);
    expect(noisy.answer.lowerGold).toBe('within noise');
    expect(noisy.sentence).toMatch(/more proxy, and gold not told apart from noise/);
  });
});

describe('conclusions: reward model, fits, rankings', () => {
  it('weakest and strongest part among parts with enough pairs', () => {
    const rows = [{ part: 'sentiment', pairs: 263, rewardModelAgreement: 0.88 }, { part: 'repetition', pairs: 128, rewardModelAgreement: 0.54 }, { part: 'noEnd', pairs: 10, rewardModelAgreement: 0.1 }];
    expect(weakestPart(rows).answer).toEqual({ weakest: 'repetition', weakestAcc: 0.54, strongest: 'sentiment', strongestAcc: 0.88 });
    expect(weakestPart(rows, 5).answer.weakest).toBe('noEnd');
    // sqrt(0.54 * 0.46 / 128) = 4.4 points, sqrt(0.88 * 0.12 / 263) = 2.0
    expect(weakestPart(rows).sentence).toMatch(/repetition least \(it preferred the better reply in 54.0% ± 4.4 of 128 pairs\) and sentiment best \(88.0% ± 2.0 of 263/);
    expect(() => weakestPart(rows, 1000)).toThrow(/no part has 1000 or more pairs/);
  });
  it('an accuracy change beyond 2 binomial standard errors, or within noise', () => {
    // p = 0.8 on 400 pairs: sqrt(0.16 / 400) = 0.02
    const up = accuracyChange('second epoch', 0.8, 0.85, 400);
    expect(up.answer.stderr).toBeCloseTo(0.02, 12);
    expect(up.answer.verdict).toBe('rose');
    expect(accuracyChange('second epoch', 0.8, 0.83, 400).answer.verdict).toBe('within noise');
    expect(accuracyChange('temperature 1', 0.8, 0.75, 400).answer.verdict).toBe('fell');
    // two sets of pairs: sqrt(0.16 / 400 + 0.1875 / 300) = 0.03202; -0.05 is within 2 of them
    const other = accuracyChange('temperature 1', 0.8, 0.75, 300, 2, 400);
    expect(other.answer.stderr).toBeCloseTo(Math.sqrt(0.16 / 400 + 0.1875 / 300), 12);
    expect(other.answer.verdict).toBe('within noise');
  });
  it('a loss comparison over paired items: lower, higher, within noise', () => {
    // differences -0.1, -0.2, -0.3: mean -0.2, sd 0.1, se 0.1 / sqrt(3) = 0.0577; -0.2 < -2 se
    const lower = lossComparison({ label: 'AdamW', losses: [2.5, 2.6, 2.7] }, { label: 'ReLU', losses: [2.4, 2.4, 2.4] }, 'seeds');
    expect(lower.answer.change).toBeCloseTo(-0.2, 12);
    expect(lower.answer.stderr).toBeCloseTo(0.1 / Math.sqrt(3), 12);
    expect(lower.answer.verdict).toBe('lower');
    expect(lower.sentence).toBe('ReLU vs AdamW: held-out loss -0.200 ± 0.058 nats/char over 3 seeds: lower.');
    expect(lossComparison({ label: 'a', losses: [1, 1] }, { label: 'b', losses: [1.5, 1.7] }, 'chunks').answer.verdict).toBe('higher');
    // differences +0.1 and -0.05: mean 0.025, se 0.075
    const noise = lossComparison({ label: 'a', losses: [1, 1] }, { label: 'b', losses: [1.1, 0.95] }, 'seeds');
    expect(noise.answer.verdict).toBe('within noise');
    expect(noise.sentence).toMatch(/within 2 standard errors, no clear difference\.$/);
    expect(() => lossComparison({ label: 'a', losses: [1] }, { label: 'b', losses: [1] }, 'seeds')).toThrow(/at least two items/);
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
