import { describe, expect, it } from 'vitest';
import { dpoToyGradient, softmax, trainToyPolicy } from '../lib/eval/toyPolicy';
import { klRegularisedOptimum, regularisedObjective, optimalObjective } from '../lib/eval/exactOracle';
import { categoricalKL } from '../lib/rl/kl';

const ref = [0.4, 0.3, 0.2, 0.1];
const rewards = [0, 0.5, 1, 2];
const beta = 0.5;

describe('the toy policy of the exact oracle', () => {
  it('DPO\'s expected gradient equals central differences of its expected loss, and vanishes at pi*', () => {
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const objective = (theta: number[]) => {
      const pi = softmax(theta);
      const h = pi.map((p, i) => Math.log(p / ref[i]));
      let s = 0;
      for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) if (a !== b) s += ref[a] * ref[b] * sig(rewards[a] - rewards[b]) * Math.log(sig(beta * (h[a] - h[b])));
      return s;
    };
    const theta = [0.3, -0.2, 0.1, 0.5];
    const g = dpoToyGradient(theta, ref, rewards, beta);
    const eps = 1e-6;
    theta.forEach((_, j) => {
      const up = theta.slice(), dn = theta.slice();
      up[j] += eps; dn[j] -= eps;
      expect(g[j]).toBeCloseTo((objective(up) - objective(dn)) / (2 * eps), 6);
    });
    const star = klRegularisedOptimum(ref, rewards, beta).map(Math.log);
    dpoToyGradient(star, ref, rewards, beta).forEach((x) => expect(Math.abs(x)).toBeLessThan(1e-12));
  });

  it('RLOO (KL folded into the reward) lands on pi*, within sampling noise; DPO on it exactly', () => {
    const star = klRegularisedOptimum(ref, rewards, beta);
    const rloo = trainToyPolicy('rloo', ref, rewards, { beta, steps: 4000, lr: 0.05, seed: 1 }).policy;
    expect(categoricalKL(rloo, star)).toBeLessThan(0.01);
    expect(regularisedObjective(rloo, ref, rewards, beta)).toBeGreaterThan(optimalObjective(ref, rewards, beta) - 0.01);
    const dpo = trainToyPolicy('dpo', ref, rewards, { beta, steps: 4000, lr: 1 }).policy;
    dpo.forEach((p, i) => expect(p).toBeCloseTo(star[i], 3));
  });

  it('GRPO with its k3 loss aims elsewhere: further from pi* than RLOO, lower objective', () => {
    const star = klRegularisedOptimum(ref, rewards, beta);
    const rloo = trainToyPolicy('rloo', ref, rewards, { beta, steps: 4000, lr: 0.05, seed: 1 }).policy;
    const grpo = trainToyPolicy('grpo', ref, rewards, { beta, steps: 4000, lr: 0.05, seed: 1 }).policy;
    expect(categoricalKL(grpo, star)).toBeGreaterThan(5 * categoricalKL(rloo, star));
    expect(regularisedObjective(grpo, ref, rewards, beta)).toBeLessThan(regularisedObjective(rloo, ref, rewards, beta));
  });

  it('is seeded, and rejects what it cannot train', () => {
    const a = trainToyPolicy('grpo', ref, rewards, { beta, steps: 50, seed: 3 }).policy;
    expect(trainToyPolicy('grpo', ref, rewards, { beta, steps: 50, seed: 3 }).policy).toEqual(a);
    expect(() => trainToyPolicy('rloo', ref, rewards, { beta: 0 })).toThrow(/beta must be > 0/);
    expect(() => trainToyPolicy('rloo', ref, rewards, { beta, k: 1 })).toThrow(/k must be an integer >= 2/);
    expect(() => trainToyPolicy('rloo', [0.5, 0.5, 0], [0, 1, 2], { beta })).toThrow(/ref > 0/);
  });
});
