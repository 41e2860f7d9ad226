import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GPT, GPTConfig } from '../lib/model/model';
import { Rng } from '../lib/core/rng';
import { AdamW, ProgressInfo, TRAIN_DEFAULTS, TrainConfig, globalNorm, lrAt, trainLoop } from '../lib/train/train';

const HP = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 };

describe('lrAt', () => {
  const c = { lr: 1, minLr: 0.1, warmupSteps: 10, decaySteps: 0, steps: 110 };
  it('warms up linearly, decays by a cosine to minLr, then stays there', () => {
    expect(lrAt(0, c)).toBeCloseTo(0.1, 12);
    expect(lrAt(9, c)).toBeCloseTo(1, 12);
    expect(lrAt(10, c)).toBeCloseTo(1, 12);
    expect(lrAt(60, c)).toBeCloseTo(0.1 + 0.5 * 0.9, 12); // half-way: cos(pi/2) = 0
    expect(lrAt(35, c)).toBeCloseTo(0.1 + 0.5 * (1 + Math.cos(Math.PI / 4)) * 0.9, 12);
    expect(lrAt(110, c)).toBe(0.1);
    expect(lrAt(500, { ...c, decaySteps: 60 })).toBe(0.1);
  });
});

describe('AdamW', () => {
  it('matches a hand-computed two-step update, with and without decoupled decay', () => {
    const run = (decay: boolean) => {
      const p = tf.variable(tf.tensor1d([1]));
      const opt = new AdamW([{ name: 'p', variable: p, decay }], { ...HP, weightDecay: 0.1 });
      opt.step([tf.tensor1d([0.5])], 0.1);
      opt.step([tf.tensor1d([-1])], 0.1);
      return p.dataSync()[0];
    };
    // step 1: m^ = g, v^ = g^2 -> update 1.  step 2: m = 0.9*0.05 - 0.1 = -0.055, v = 0.99*0.0025 + 0.01 = 0.012475
    const u2 = -0.055 / (1 - 0.81) / Math.sqrt(0.012475 / (1 - 0.9801));
    expect(run(false)).toBeCloseTo(1 - 0.1 - 0.1 * u2, 5);
    expect(run(true)).toBeCloseTo((1 * 0.99 - 0.1) * 0.99 - 0.1 * u2, 5);
  });

  it("equals tf.train.adam when weight decay is off", () => {
    const rng = new Rng(3);
    const init = Float32Array.from({ length: 6 }, () => rng.normal());
    const a = tf.variable(tf.tensor2d(init, [2, 3]));
    const b = tf.variable(tf.tensor2d(init, [2, 3]));
    const mine = new AdamW([a], HP);
    const ref = tf.train.adam(0.01, 0.9, 0.99, 1e-8);
    for (let s = 0; s < 5; s++) {
      const g = tf.tensor2d(Float32Array.from({ length: 6 }, () => rng.normal()), [2, 3]);
      mine.step([g], 0.01);
      ref.applyGradients([{ name: b.name, tensor: g }]);
    }
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
  });

  it('clips by global norm: the first moment stores the scaled gradient', () => {
    const p = tf.variable(tf.tensor1d([0, 0]));
    const g = tf.tensor1d([3, 4]);
    expect(globalNorm([g, tf.tensor1d([12])]).dataSync()[0]).toBeCloseTo(13, 5);
    const opt = new AdamW([p], HP);
    opt.step([g], 0.1, 1 / 5); // clip norm 5 -> 1
    const m = opt.state().m.param0;
    expect(m[0]).toBeCloseTo(0.1 * 0.6, 6);
    expect(m[1]).toBeCloseTo(0.1 * 0.8, 6);
  });

  it('loadState rejects moments that do not fit, naming the parameter', () => {
    const opt = new AdamW([{ name: 'w', variable: tf.variable(tf.zeros([2, 2])), decay: true }], HP);
    expect(() => opt.loadState({ t: 3, m: { w: new Float32Array(3) }, v: { w: new Float32Array(4) } })).toThrow(/m moment of w has 3 values, parameter has 4/);
    expect(() => opt.loadState({ t: 3, m: {}, v: {} })).toThrow(/no m moment for parameter w/);
  });
});

// A line y = 2x - 1 through noise-free points: least squares has the exact answer (2, -1).
function lineProblem() {
  const w = tf.variable(tf.scalar(0));
  const b = tf.variable(tf.scalar(0));
  const xs = tf.tensor1d([-1, 0, 1, 2]);
  const ys = tf.tensor1d([-3, -1, 1, 3]);
  const lossFn = () => ({ loss: tf.mean(tf.square(tf.sub(tf.add(tf.mul(xs, w), b), ys))) as tf.Scalar, metrics: { w: w.dataSync()[0] } });
  return { w, b, lossFn };
}

const quick = (over: Partial<TrainConfig>): TrainConfig => ({
  ...TRAIN_DEFAULTS, steps: 60, logEvery: 5, lr: 0.1, minLr: 0.01, warmupSteps: 2, weightDecay: 0, gradClip: 0, evalEvery: 0, livePlot: false, ...over,
});

describe('trainLoop', () => {
  it('fits a line, logs the scheduled lr, evaluates on schedule', async () => {
    const { w, b, lossFn } = lineProblem();
    const config = quick({ steps: 300, evalEvery: 100 });
    const evalSteps: number[] = [];
    const r = await trainLoop({
      params: [w, b], lossFn, config, display: false,
      evalFn: (step) => { evalSteps.push(step); return { val: 0 }; },
    });
    expect(r.history).toHaveLength(300);
    expect(r.history[150].lr).toBe(lrAt(150, config));
    expect(r.history[0].loss).toBeCloseTo((9 + 1 + 1 + 9) / 4, 5);
    expect(r.history[299].loss).toBeLessThan(1e-3);
    expect(w.dataSync()[0]).toBeCloseTo(2, 1);
    expect(b.dataSync()[0]).toBeCloseTo(-1, 1);
    expect(evalSteps).toEqual([100, 200, 300]);
    expect(r.optimizer.t).toBe(300);
    expect(r.history[0].metrics.w).toBe(0);
  });

  it('stop then resume from the saved optimizer state equals one uninterrupted run', async () => {
    const config = quick({ steps: 20, gradClip: 1 });
    const straight = lineProblem();
    await trainLoop({ params: [straight.w, straight.b], lossFn: straight.lossFn, config, display: false });

    const first = lineProblem();
    const part = await trainLoop({ params: [first.w, first.b], lossFn: first.lossFn, config, display: false, onStep: (s) => s.step < 8 });
    expect(part.stopped).toBe(true);
    expect(part.optimizer.t).toBe(9);
    // "Reload": fresh variables and a fresh optimizer from the saved values.
    const saved = part.optimizer.state();
    const again = lineProblem();
    again.w.assign(first.w);
    again.b.assign(first.b);
    const opt = new AdamW([again.w, again.b], config);
    opt.loadState(saved);
    const rest = await trainLoop({ params: [again.w, again.b], lossFn: again.lossFn, config, display: false, optimizer: opt });
    expect(rest.history[0].step).toBe(9);
    expect(again.w.dataSync()[0]).toBe(straight.w.dataSync()[0]);
    expect(again.b.dataSync()[0]).toBe(straight.b.dataSync()[0]);
  });

  it('stops between steps when the signal aborts', async () => {
    const { w, b, lossFn } = lineProblem();
    const ctrl = new AbortController();
    const r = await trainLoop({
      params: [w, b], lossFn, config: quick({ steps: 50 }), display: false, signal: ctrl.signal,
      onStep: (s) => { if (s.step === 4) ctrl.abort(); },
    });
    expect(r.stopped).toBe(true);
    expect(r.history).toHaveLength(5);
  });

  it('leaves a parameter the loss does not use untouched', async () => {
    const { w, b } = lineProblem();
    const r = await trainLoop({ params: [w, b], lossFn: () => ({ loss: tf.square(tf.sub(w, 3)) as tf.Scalar }), config: quick({ steps: 5 }), display: false });
    expect(b.dataSync()[0]).toBe(0);
    expect(Array.from(r.optimizer.state().m.param1)).toEqual([0]);
    expect(w.dataSync()[0]).toBeGreaterThan(0);
  });

  it('rejects a non-finite loss and frozen params with clear errors', async () => {
    const { w, b } = lineProblem();
    await expect(trainLoop({ params: [w, b], lossFn: () => ({ loss: tf.mul(tf.sum(w), NaN) as tf.Scalar }), config: quick({}), display: false }))
      .rejects.toThrow(/loss is NaN at step 0/);
    const frozen = tf.variable(tf.scalar(1), false);
    await expect(trainLoop({ params: [frozen], lossFn: () => ({ loss: tf.sum(frozen) as tf.Scalar }), config: quick({}), display: false }))
      .rejects.toThrow(/parameter param0 is frozen/);
  });

  it('trains a tiny GPT on a periodic text with no tensor leaks across steps', async () => {
    const cfg: GPTConfig = { vocabSize: 5, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0, tieWeights: true, seed: 1 };
    const model = new GPT(cfg);
    const seq = Array.from({ length: 40 }, (_, i) => [0, 1, 2, 3][i % 4]);
    const rng = new Rng(2);
    const batch = () => {
      const starts = [rng.int(30), rng.int(30)];
      return {
        x: tf.tensor2d(starts.map((s) => seq.slice(s, s + 8)), [2, 8], 'int32'),
        y: tf.tensor2d(starts.map((s) => seq.slice(s + 1, s + 9)), [2, 8], 'int32'),
      };
    };
    const counts: number[] = [];
    const r = await trainLoop({
      params: model.parameters(),
      lossFn: () => { const { x, y } = batch(); const loss = model.loss(x, y); tf.dispose([x, y]); return { loss }; },
      config: quick({ steps: 40, lr: 1e-2, minLr: 1e-3, gradClip: 1, weightDecay: 0.1 }),
      display: false,
      onStep: () => { counts.push(tf.memory().numTensors); },
    });
    expect(r.history[0].loss).toBeGreaterThan(1.2);
    expect(r.history[39].loss).toBeLessThan(0.3); // the next token is determined by the current one
    expect(new Set(counts.slice(1)).size).toBe(1);
  });
});

describe('trainLoop display', () => {
  it('reports every logEvery steps with cumulative tokens, held-out values, and closes', async () => {
    const { w, b, lossFn } = lineProblem();
    const seen: ProgressInfo[] = [];
    const evals: number[] = [];
    let closed: boolean | undefined;
    await trainLoop({
      params: [w, b], lossFn, config: quick({ steps: 12, logEvery: 5, evalEvery: 10 }), tokensPerStep: 100,
      evalFn: () => ({ val: 1 }),
      display: { step: (p) => seen.push(p), eval: (s) => evals.push(s), close: (stopped) => { closed = stopped; } },
    });
    expect(seen.map((p) => [p.step, p.tokens])).toEqual([[5, 500], [10, 1000], [12, 1200]]);
    expect(seen[0].lr).toBe(lrAt(4, quick({ steps: 12 })));
    expect(evals).toEqual([10, 12]);
    expect(closed).toBe(false);
  });
});
