import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GRPOOptions, grpoLoss, grpoLossRows, klFoldedRewards, reinforceLoss, reinforceLossRows } from '../lib/methods/criticFreeMath';
import { groupAdvantages, leaveOneOutAdvantages } from '../lib/rl/advantages';
import { klK3 } from '../lib/rl/kl';

const t2 = (x: number[][]) => tf.tensor2d(x);
const t1 = (x: number[]) => tf.tensor1d(x);
const v = (s: tf.Scalar) => s.dataSync()[0];

describe('GRPO clipped loss', () => {
  it('matches hand-computed values with ratios inside and outside the clip range, A > 0 and A < 0', () => {
    // row 0, A = +1: ratio 1.5 -> min(1.5, 1.2) = 1.2 (clipped), ratio 0.5 -> min(0.5, 0.8) = 0.5
    // row 1, A = -1: ratio 1.5 -> min(-1.5, -1.2) = -1.5, ratio 0.5 -> min(-0.5, -0.8) = -0.8 (clipped)
    // loss rows: -(1.2 + 0.5)/2 = -0.85 and (1.5 + 0.8)/2 = 1.15 -> mean 0.15; 2 of 4 tokens clipped
    const lp = [[Math.log(1.5), Math.log(0.5)], [Math.log(1.5), Math.log(0.5)]];
    const old = [[0, 0], [0, 0]];
    const mask = [[1, 1], [1, 1]];
    const r = grpoLoss(t2(lp), t2(old), t2(lp), t1([1, -1]), t2(mask), { beta: 0.04 });
    expect(v(r.loss)).toBeCloseTo(0.15, 5);
    expect(v(r.policyLoss)).toBeCloseTo(0.15, 5);
    expect(v(r.klLoss)).toBeCloseTo(0, 7); // ref = policy
    expect(v(r.clipFrac)).toBeCloseTo(0.5, 6);
    expect(v(r.meanRatio)).toBeCloseTo(1, 5); // (1.5 + 0.5 + 1.5 + 0.5) / 4
    const rows = grpoLossRows(lp, old, lp, [1, -1], mask, { beta: 0.04 });
    expect(rows.loss).toBeCloseTo(0.15, 12);
    expect(rows.clipFrac).toBe(0.5);
  });

  it('adds beta * mean k3 per sequence as a separate term', () => {
    // r = ref/pi = 0.5: k3 = -0.5 + ln 2; r = 2: k3 = 1 - ln 2; their sum is 0.5, mean 0.25
    const lp = [[Math.log(0.5), Math.log(0.25)]];
    const ref = [[Math.log(0.25), Math.log(0.5)]];
    const r = grpoLoss(t2(lp), t2(lp), t2(ref), t1([0]), t2([[1, 1]]), { beta: 0.04 });
    expect(v(r.k3Mean)).toBeCloseTo(0.25, 6);
    expect(v(r.klLoss)).toBeCloseTo(0.04 * 0.25, 7);
    expect(v(r.loss)).toBeCloseTo(0.01, 7);
    expect(v(r.policyLoss)).toBeCloseTo(0, 7); // A = 0
  });

  it('rejects bad options and shapes with a message', () => {
    const z = t2([[0, 0]]);
    expect(() => grpoLoss(z, z, z, t1([1]), z, { clip: 0 })).toThrow(/clip must be > 0/);
    expect(() => grpoLoss(z, z, z, t1([1]), z, { beta: -1 })).toThrow(/beta must be >= 0/);
    expect(() => grpoLoss(z, z, z, t1([1, 2]), z)).toThrow(/2 advantages for 1 rows/);
    expect(() => grpoLoss(t2([[0]]), z, z, t1([1]), z)).toThrow(/logProbs has shape/);
    expect(() => grpoLoss(z, z, z, t1([1]), z, { normalize: 'token' as never })).toThrow(/normalize must be/);
  });
});

describe('k3', () => {
  it('is known on known log-probs and never negative per token', () => {
    expect(klK3([Math.log(0.5)], [Math.log(0.25)])[0]).toBeCloseTo(-0.5 + Math.LN2, 12);
    expect(klK3([Math.log(0.25)], [Math.log(0.5)])[0]).toBeCloseTo(1 - Math.LN2, 12);
    const lp: number[] = [];
    const ref: number[] = [];
    for (let i = -20; i <= 20; i++) for (let j = -20; j <= 20; j++) { lp.push(i / 4); ref.push(j / 4); }
    const k = klK3(lp, ref);
    expect(Math.min(...k)).toBeGreaterThanOrEqual(0);
    expect(k.filter((x, i) => x === 0 && lp[i] !== ref[i])).toHaveLength(0); // 0 only where they agree
  });
});

describe('a group whose rewards are all equal', () => {
  it('gives zero advantage, zero policy loss and zero policy gradient, no NaN', () => {
    // no contrast: exactly 0 (groupAdvantages does not divide a float mean's last-bit error by eps)
    const adv = groupAdvantages([[0.7, 0.7, 0.7]])[0];
    expect(adv).toEqual([0, 0, 0]);
    const lp = [[-1, -2, -0.3], [-0.5, -4, 0], [-2, -1, -1]];
    const old = [[-1.2, -1.9, -0.3], [-0.4, -4, 0], [-2.5, -1, -1]];
    const mask = t2([[1, 1, 1], [1, 1, 0], [1, 0, 0]]);
    const r = grpoLoss(t2(lp), t2(old), t2(lp), t1(adv), mask);
    expect(Math.abs(v(r.policyLoss))).toBe(0);
    const g = tf.grad((x: tf.Tensor) => grpoLoss(x as tf.Tensor2D, t2(old), t2(lp), t1(adv), mask).policyLoss)(t2(lp));
    for (const x of g.dataSync()) { expect(Number.isNaN(x)).toBe(false); expect(Math.abs(x)).toBe(0); }
  });

  it('while a group with contrast has a policy loss of 0 on the first update but a non-zero gradient', () => {
    // ratio 1 (old = policy) and group advantages summing to 0 over equal lengths: loss 0, not a progress signal
    const adv = groupAdvantages([[1, 0, 0, 1]])[0];
    const lp = [[-1, -2], [-0.5, -1], [-2, -0.1], [-0.7, -0.7]];
    const mask = t2([[1, 1], [1, 1], [1, 1], [1, 1]]);
    const f = (x: tf.Tensor) => grpoLoss(x as tf.Tensor2D, t2(lp), t2(lp), t1(adv), mask).loss;
    expect(Math.abs(v(f(t2(lp))))).toBeLessThan(1e-6);
    const g = Array.from(tf.grad(f)(t2(lp)).dataSync());
    // d/dlogp of -A_i * rho / (|o_i| B) at rho = 1: -A_i / 8
    g.forEach((x, k) => expect(x).toBeCloseTo(-adv[Math.floor(k / 2)] / 8, 5));
    expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0.05);
  });
});

describe('RLOO reward with the KL folded in', () => {
  it('subtracts beta * summed k1 over the generated tokens, then the leave-one-out baseline', () => {
    const lp = [[-1, -2, 0], [-0.5, -0.5, -9]];
    const ref = [[-1.5, -1, 5], [-1, -1, 0]];
    const mask = [[1, 1, 0], [1, 1, 0]];
    // sequence KL: (0.5 - 1) = -0.5 and (0.5 + 0.5) = 1; pads ignored
    const { rewards, kl } = klFoldedRewards([1, 0], lp, ref, mask, 0.1);
    expect(kl[0]).toBeCloseTo(-0.5, 12);
    expect(kl[1]).toBeCloseTo(1, 12);
    expect(rewards[0]).toBeCloseTo(1.05, 12);
    expect(rewards[1]).toBeCloseTo(-0.1, 12);
    const adv = leaveOneOutAdvantages([rewards])[0];
    expect(adv[0]).toBeCloseTo(1.15, 12);
    expect(adv[1]).toBeCloseTo(-1.15, 12);
    expect(() => klFoldedRewards([1], lp, ref, mask, 0.1)).toThrow(/1 scores for 2 rows/);
    expect(() => klFoldedRewards([1, 0], lp, ref, mask, -1)).toThrow(/beta must be >= 0/);
  });
});

describe('REINFORCE / RLOO loss', () => {
  it('is -mean_i A_i * sum_t log pi with gradient -A_i / B on generated tokens', () => {
    // -(2 * (-1 - 2) + (-1) * (-0.5)) / 2 = 2.75; the pad (7) is ignored
    const lp = [[-1, -2], [-0.5, 7]];
    const mask = [[1, 1], [1, 0]];
    const r = reinforceLoss(t2(lp), t2(lp), t2(lp), t1([2, -1]), t2(mask));
    expect(v(r.loss)).toBeCloseTo(2.75, 5);
    expect(v(r.clipFrac)).toBe(0);
    expect(v(r.meanRatio)).toBeCloseTo(1, 6);
    expect(reinforceLossRows(lp, lp, lp, [2, -1], mask).loss).toBeCloseTo(2.75, 12);
    const g = tf.grad((x: tf.Tensor) => reinforceLoss(x as tf.Tensor2D, t2(lp), t2(lp), t1([2, -1]), t2(mask)).loss)(t2(lp));
    const gv = Array.from(g.dataSync());
    [-1, -1, 0.5, 0].forEach((e, k) => expect(gv[k]).toBeCloseTo(e, 6));
  });
});

describe('Dr. GRPO option', () => {
  // row 0: one token, A = +1; row 1: three tokens, A = -1; ratio 1, ref = policy
  const lp = [[-1, 0, 0, 0], [-1, -1, -1, 0]];
  const mask = [[1, 0, 0, 0], [1, 1, 1, 0]];
  const adv = [1, -1];

  it('weighs every token the same where GRPO weighs a short completion\'s tokens more', () => {
    // GRPO: (-1/1 + 3/3) / 2 = 0; Dr. GRPO with maxLength 4: (-1/4 + 3/4) / 2 = 0.25
    expect(grpoLossRows(lp, lp, lp, adv, mask).loss).toBeCloseTo(0, 12);
    expect(grpoLossRows(lp, lp, lp, adv, mask, { normalize: 'constant' }).loss).toBeCloseTo(0.25, 12);
    const grad = (o: GRPOOptions) => Array.from(tf.grad((x: tf.Tensor) => grpoLoss(x as tf.Tensor2D, t2(lp), t2(lp), t1(adv), t2(mask), o).loss)(t2(lp)).dataSync());
    const seq = grad({});
    const drg = grad({ normalize: 'constant', maxLength: 4 });
    // GRPO: the short completion's token gets -1/(1*2), each long one's 1/(3*2); Dr. GRPO: all -+1/(4*2)
    [-0.5, 0, 0, 0, 1 / 6, 1 / 6, 1 / 6, 0].forEach((e, k) => expect(seq[k]).toBeCloseTo(e, 6));
    [-0.125, 0, 0, 0, 0.125, 0.125, 0.125, 0].forEach((e, k) => expect(drg[k]).toBeCloseTo(e, 6));
    expect(v(grpoLoss(t2(lp), t2(lp), t2(lp), t1(adv), t2(mask), { normalize: 'constant', maxLength: 8 }).loss)).toBeCloseTo(0.125, 6);
  });
});

describe('gradients by finite differences', () => {
  // ratios exp(+-0.3) fall outside the clip range, exp(0.05) inside; nothing sits on a kink
  const lp = [[-1.1, -0.4, -2.3, 0], [-0.2, -1.7, 0, 0], [-0.9, -0.6, -1.3, -0.5]];
  const old = [[-0.8, -0.45, -2.6, 0], [-0.5, -1.65, 0, 0], [-1.2, -0.55, -1.0, -0.45]];
  const ref = [[-1.4, -0.3, -2.0, 0], [-0.6, -1.2, 0, 0], [-0.4, -0.9, -1.1, -0.8]];
  const mask = [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]];
  const adv = [0.8, -1.3, 0.5];

  function centralDiff(f: (x: number[][]) => number): number[] {
    const h = 1e-6;
    const out: number[] = [];
    lp.forEach((row, i) => row.forEach((_, t) => {
      const plus = lp.map((r) => [...r]);
      const minus = lp.map((r) => [...r]);
      plus[i][t] += h;
      minus[i][t] -= h;
      out.push((f(plus) - f(minus)) / (2 * h));
    }));
    return out;
  }

  function expectGradMatch(tensorLoss: (x: tf.Tensor2D) => tf.Scalar, rowsLoss: (x: number[][]) => number): void {
    const g = Array.from(tf.grad((x: tf.Tensor) => tensorLoss(x as tf.Tensor2D))(t2(lp)).dataSync());
    const fd = centralDiff(rowsLoss);
    expect(Math.max(...fd.map(Math.abs))).toBeGreaterThan(0.01);
    fd.forEach((e, k) => expect(g[k]).toBeCloseTo(e, 4));
    expect(v(tensorLoss(t2(lp)))).toBeCloseTo(rowsLoss(lp), 5);
  }

  for (const o of [{ beta: 0.04 }, { beta: 0.3, normalize: 'constant' as const, maxLength: 6 }]) {
    it(`GRPO ${JSON.stringify(o)}: tf.grad equals central differences of the plain-array loss`, () => {
      const rows = grpoLossRows(lp, old, ref, adv, mask, o);
      expect(rows.clipFrac).toBeGreaterThan(0);
      expect(rows.clipFrac).toBeLessThan(1);
      expectGradMatch(
        (x) => grpoLoss(x, t2(old), t2(ref), t1(adv), t2(mask), o).loss,
        (x) => grpoLossRows(x, old, ref, adv, mask, o).loss,
      );
    });
  }

  it('REINFORCE: tf.grad equals central differences of the plain-array loss', () => {
    expectGradMatch(
      (x) => reinforceLoss(x, t2(old), t2(ref), t1(adv), t2(mask)).loss,
      (x) => reinforceLossRows(x, old, ref, adv, mask).loss,
    );
  });

  it('the tensor and plain-array stats agree', () => {
    const a = grpoLoss(t2(lp), t2(old), t2(ref), t1(adv), t2(mask));
    const b = grpoLossRows(lp, old, ref, adv, mask);
    expect(v(a.clipFrac)).toBeCloseTo(b.clipFrac, 6);
    expect(v(a.meanRatio)).toBeCloseTo(b.meanRatio, 5);
    expect(v(a.k3Mean)).toBeCloseTo(b.k3Mean, 5);
    expect(b.k3Mean).toBeGreaterThan(0);
  });
});
