/**
 * The one training loop every method reuses (pretraining, SFT, reward model, PPO, DPO): the
 * method supplies a loss, this file supplies the rest.
 *
 *   for each step: loss = lossFn(step); grads = d loss / d params; clip global norm;
 *                  lr = warm-up then cosine decay; AdamW update; every evalEvery steps: evalFn
 *
 * AdamW is Loshchilov & Hutter's decoupled weight decay with PyTorch's formula (below); the
 * update itself is native/optimizer.ts `adamwUpdate` (one fused kernel on cpu+blas, the same
 * formula on tf ops elsewhere). Weight decay only touches params flagged `decay`.
 */
import * as tf from '@tensorflow/tfjs';
import { NamedParam } from '../model/model';
import { Presets } from '../core/mode';
import { livePlot, progress } from '../view/display';
import { adamwUpdate } from '../engine/native';
import { Interrupted, interruptible, stopRequested, yieldToKernel } from '../core/interrupt';

export interface TrainConfig {
  /** Stop when the optimizer has taken this many steps in total (a resumed run continues to it). */
  steps: number;
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  /** Floor of the cosine decay (nanoGPT: lr / 10). */
  minLr: number;
  /** Steps of linear warm-up from lr / warmupSteps to lr. */
  warmupSteps: number;
  /** The cosine reaches minLr at this step and stays there; default (0) = steps. */
  decaySteps: number;
  /** Decoupled weight decay per unit lr, on params flagged `decay` only. */
  weightDecay: number;
  /** AdamW's first-moment decay (default 0.9). */
  beta1: number;
  /** AdamW's second-moment decay (default 0.99, nanoGPT's for small models; PyTorch's default is 0.999). */
  beta2: number;
  /** Added to the root of the second moment (default 1e-8). */
  eps: number;
  /** Clip the global gradient norm to this value; 0 = no clipping. */
  gradClip: number;
  /** Run evalFn every this many steps (and after the last); 0 = only after the last. */
  evalEvery: number;
  /** Refresh the progress display every this many steps. */
  logEvery: number;
  /** Draw a live plotly loss curve under the progress line (notebooks). */
  livePlot: boolean;
}

/**
 * The defaults every method's config starts from (pretrain.ts, sft.ts, reward.ts, ppo.ts, dpo.ts
 * override what differs): AdamW with betas (0.9, 0.99) and weight decay 0.1, clip 1, as nanoGPT's
 * shakespeare-char recipe; cosine decay to minLr = lr / 10 after a linear warm-up (nanoGPT,
 * Chinchilla). lr, warmupSteps and evalEvery are the course pretraining run's (pretrain.ts, which
 * sets its own steps).
 */
export const TRAIN_DEFAULTS: TrainConfig = {
  steps: 3000, lr: 2e-3, minLr: 2e-4, warmupSteps: 100, decaySteps: 0, weightDecay: 0.1,
  beta1: 0.9, beta2: 0.99, eps: 1e-8, gradClip: 1, evalEvery: 500, logEvery: 10, livePlot: true,
};

/** A parameter to optimise: a bare variable (decays iff rank >= 2, named param<i>) or a NamedParam. */
export type ParamSpec = tf.Variable | NamedParam;

/** Named params from bare variables or NamedParams; rejects duplicates, frozen params and an empty list. */
export function normaliseParams(params: ParamSpec[]): NamedParam[] {
  const named = params.map((p, i) => (p instanceof tf.Variable ? { name: `param${i}`, variable: p, decay: p.rank >= 2 } : p));
  const seen = new Set<string>();
  for (const p of named) {
    if (seen.has(p.name)) throw new Error(`trainLoop: parameter name ${p.name} appears twice`);
    if (!p.variable.trainable) throw new Error(`trainLoop: parameter ${p.name} is frozen (trainable = false)`);
    seen.add(p.name);
  }
  if (named.length === 0) throw new Error('trainLoop: no parameters to train');
  return named;
}

/** Learning rate at step (0-based): linear warm-up, cosine decay to minLr, then minLr. */
export function lrAt(step: number, c: Pick<TrainConfig, 'lr' | 'minLr' | 'warmupSteps' | 'decaySteps' | 'steps'>): number {
  const decaySteps = c.decaySteps > 0 ? c.decaySteps : c.steps;
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  if (step >= decaySteps) return c.minLr;
  const ratio = (step - c.warmupSteps) / Math.max(1, decaySteps - c.warmupSteps);
  return c.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (c.lr - c.minLr);
}

/** Optimizer moments and step count, as plain arrays keyed by parameter name (what checkpoints store). */
export interface OptimizerState {
  t: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** What trainLoop needs of an optimizer: AdamW (the default) or sgd.ts's SGD. */
export interface Optimizer {
  readonly params: NamedParam[];
  /** Updates taken so far. */
  t: number;
  /** One update with grads aligned to `params` (undefined: unused by the loss), scaled by `gradScale`. */
  step(grads: (tf.Tensor | undefined)[], lr: number, gradScale?: number): void;
  dispose(): void;
}

/**
 * AdamW: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps);
 * and before that, for decaying params, p -= lr * weightDecay * p.
 */
export class AdamW implements Optimizer {
  readonly params: NamedParam[];
  /** Updates taken so far (the next update is number t + 1 in the bias correction). */
  t = 0;
  private m: tf.Variable[];
  private v: tf.Variable[];

  constructor(params: ParamSpec[], readonly hp: Pick<TrainConfig, 'beta1' | 'beta2' | 'eps' | 'weightDecay'>) {
    this.params = normaliseParams(params);
    // tidy frees the zerosLike tensors; the variables keep their own reference to the data.
    this.m = this.params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    this.v = this.params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
  }

  /** One update with grads aligned to `params`, scaled by `gradScale` (clipping). A param whose
   *  grad is missing (not used by this loss) is left untouched, moments included, as in PyTorch. */
  step(grads: (tf.Tensor | undefined)[], lr: number, gradScale = 1): void {
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.hp;
    this.t += 1;
    this.params.forEach(({ variable: p, decay }, i) => {
      const g = grads[i];
      if (!g) return;
      adamwUpdate(p, g, this.m[i], this.v[i], {
        lr, beta1: b1, beta2: b2, eps, weightDecay: decay ? weightDecay : 0, step: this.t, gradScale,
      });
    });
  }

  state(): OptimizerState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    this.params.forEach((p, i) => {
      m[p.name] = this.m[i].dataSync().slice() as Float32Array;
      v[p.name] = this.v[i].dataSync().slice() as Float32Array;
    });
    return { t: this.t, m, v };
  }

  loadState(s: OptimizerState): void {
    if (!Number.isInteger(s.t) || s.t < 0) throw new Error(`AdamW.loadState: step count must be an integer >= 0, got ${s.t}`);
    this.params.forEach((p, i) => {
      for (const [kind, store, mine] of [['m', s.m, this.m[i]], ['v', s.v, this.v[i]]] as const) {
        const data = store[p.name];
        if (!data) throw new Error(`AdamW.loadState: no ${kind} moment for parameter ${p.name}`);
        if (data.length !== p.variable.size) {
          throw new Error(`AdamW.loadState: ${kind} moment of ${p.name} has ${data.length} values, parameter has ${p.variable.size}`);
        }
        mine.assign(tf.tensor(data, p.variable.shape, 'float32'));
      }
    });
    this.t = s.t;
  }

  dispose(): void {
    [...this.m, ...this.v].forEach((x) => x.dispose());
  }
}

/** Global L2 norm of a list of gradients (a scalar tensor). */
export function globalNorm(grads: (tf.Tensor | undefined)[]): tf.Scalar {
  const present = grads.filter((g): g is tf.Tensor => g !== undefined);
  if (present.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(tf.addN(present.map((g) => tf.sum(tf.mul(g, g))))) as tf.Scalar);
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Extra numbers the lossFn reported (accuracy, KL, ...). */
  metrics: Record<string, number>;
}

export interface EvalRecord {
  step: number;
  values: Record<string, number>;
}

export interface TrainResult<O extends Optimizer = AdamW> {
  history: StepRecord[];
  evals: EvalRecord[];
  /** The optimizer, to continue (pass it back) or to checkpoint (AdamW's `optimizer.state()`). */
  optimizer: O;
  /** True if stopped early (signal, onStep returned false). Kernel > Interrupt throws `Interrupted` instead. */
  stopped: boolean;
  seconds: number;
}

/**
 * What every trainer's `opts` starts from (`xTrain(inputs, config, opts)`): how a run shows and
 * stops. Methods add their callbacks (DPO's onStep, PPO's onIteration).
 */
export interface TrainerOptions {
  /** Title of the progress display (default: the method's name). */
  title?: string;
  /** false for silence (tests); default true; or a TrainDisplay to draw into. */
  display?: boolean | TrainDisplay;
  /** Stop between steps when aborted (result.stopped; Kernel > Interrupt needs no signal: core/interrupt.ts). */
  signal?: AbortSignal;
}

export interface TrainLoopOptions<O extends Optimizer = AdamW> extends TrainerOptions {
  params: ParamSpec[];
  /** The method's loss at this step (build the batch inside); optional extra metrics. */
  lossFn: (step: number) => { loss: tf.Scalar; metrics?: Record<string, tf.Scalar | number> };
  config: TrainConfig;
  /** Held-out estimates, e.g. { train: 2.1, val: 2.2 }; called every evalEvery steps and at the end. */
  evalFn?: (step: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Called after every step; return false to stop. */
  onStep?: (rec: StepRecord) => void | boolean | Promise<void | boolean>;
  /**
   * Continue with this optimizer (its t is the step to resume from), e.g. one rebuilt from a
   * checkpoint; or another kind (an SGD). Default: a fresh AdamW with the config's betas and decay.
   */
  optimizer?: O;
  /** Run at most this many steps in this call (default: until config.steps). */
  maxSteps?: number;
  /** Tokens per step, for the tokens/s readout. */
  tokensPerStep?: number;
}

/** What the loop shows while it runs (progress line, live curve); replaceable for custom views. */
export interface TrainDisplay {
  step(info: ProgressInfo): void;
  eval(step: number, values: Record<string, number>): void;
  close(stopped: boolean): void;
}

export interface ProgressInfo {
  /** Optimizer steps taken in total. */
  step: number;
  loss: number;
  lr: number;
  metrics: Record<string, number>;
  /** Tokens processed in this call so far (0 when tokensPerStep is not given). */
  tokens: number;
}

/**
 * Default display (lib/display.ts): a progress line updating in place (step, loss, held-out
 * estimates, lr, tokens/s, elapsed, ETA) and, if asked, a live plotly loss chart.
 * `startStep`..`endStep`: the steps this call will run (progress counts those).
 */
function trainDisplay(opts: { title: string; startStep: number; endStep: number; livePlot: boolean }): TrainDisplay {
  const bar = progress(Math.max(1, opts.endStep - opts.startStep), { label: opts.title });
  const chart = opts.livePlot ? livePlot({ title: opts.title, yTitle: 'loss (nats/token)' }) : null;
  let lastEval: Record<string, number> = {};
  return {
    step: (p) => {
      const tokens = p.tokens > 0 ? { tokens: p.tokens } : {};
      bar.update(p.step - opts.startStep, { ...tokens, loss: p.loss, ...lastEval, ...p.metrics, lr: p.lr });
      chart?.add(p.step, { 'batch loss': p.loss });
    },
    eval: (step, values) => {
      lastEval = values;
      chart?.add(step, values);
    },
    close: (stopped) => {
      bar.done({}, stopped ? 'stopped' : 'done');
      chart?.done();
    },
  };
}

/**
 * Run the loop; await it. Yields to the event loop between steps so displays redraw, and stops at a
 * step boundary on Kernel > Interrupt: it throws `Interrupted` saying where it stopped (the params
 * and the optimizer hold that step; pass the same `optimizer` again to continue from it).
 */
export function trainLoop<O extends Optimizer = AdamW>(opts: TrainLoopOptions<O>): Promise<TrainResult<O>> {
  return interruptible(() => runTrainLoop(opts));
}

/** The line an interrupted loop ends its cell with: where it stopped, how to go on. */
function interruptedLine(title: string, step: number, end: number, ownOptimizer: boolean): string {
  return `${title} stopped by Kernel > Interrupt after step ${step} of ${end}: the model keeps the weights of step ${step}. ` +
    (ownOptimizer ? `Running the loop again with the same optimizer continues from step ${step}.`
      : 'Running the cell again trains again from step 0 with a fresh optimizer.');
}

async function runTrainLoop<O extends Optimizer>(opts: TrainLoopOptions<O>): Promise<TrainResult<O>> {
  const c = opts.config;
  if (!Number.isInteger(c.steps) || c.steps <= 0) throw new Error(`trainLoop: config.steps must be a positive integer, got ${c.steps}`);
  if (!(c.lr > 0) || !(c.minLr >= 0)) throw new Error(`trainLoop: lr must be > 0 and minLr >= 0, got lr ${c.lr}, minLr ${c.minLr}`);
  const optimizer = opts.optimizer ?? (new AdamW(opts.params, c) as unknown as O);
  if (opts.optimizer && opts.optimizer.params.length !== opts.params.length) {
    throw new Error(`trainLoop: optimizer has ${opts.optimizer.params.length} parameters, params has ${opts.params.length}`);
  }
  const vars = optimizer.params.map((p) => p.variable);
  const end = Math.min(c.steps, optimizer.t + (opts.maxSteps ?? Infinity));
  const startStep = optimizer.t;
  const display: TrainDisplay | null = opts.display === false ? null
    : typeof opts.display === 'object' ? opts.display
    : trainDisplay({ title: opts.title ?? 'training', startStep, endStep: end, livePlot: c.livePlot });
  const history: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const t0 = Date.now();
  let stopped = false;
  let shownStep = startStep;
  const showStep = (rec: StepRecord) => {
    shownStep = rec.step + 1;
    display?.step({ step: shownStep, loss: rec.loss, lr: rec.lr, metrics: rec.metrics, tokens: (opts.tokensPerStep ?? 0) * (shownStep - startStep) });
  };
  // The display's last line shows the step the loop ended at (it logs only every logEvery steps).
  const closeDisplay = (early: boolean) => {
    if (history.length > 0 && shownStep !== optimizer.t) showStep(history[history.length - 1]);
    display?.close(early);
  };

  const evaluate = async (step: number) => {
    if (!opts.evalFn) return;
    const values = await opts.evalFn(step);
    evals.push({ step, values });
    display?.eval(step, values);
  };

  while (optimizer.t < end) {
    if (opts.signal?.aborted) { stopped = true; break; }
    if (stopRequested()) {
      closeDisplay(true);
      throw new Interrupted(interruptedLine(opts.title ?? 'training', optimizer.t, end, opts.optimizer !== undefined));
    }
    const step = optimizer.t;
    let metricTensors: Record<string, tf.Scalar | number> = {};
    const { value, grads } = tf.variableGrads(() => {
      const r = opts.lossFn(step);
      for (const [k, x] of Object.entries(r.metrics ?? {})) metricTensors[k] = typeof x === 'number' ? x : tf.keep(x);
      return r.loss;
    }, vars);
    const gradList = vars.map((v) => grads[v.name] ?? undefined); // undefined: param unused by this loss
    const normT = globalNorm(gradList);
    const [loss, gradNorm] = [(await value.data())[0], (await normT.data())[0]];
    if (!Number.isFinite(loss)) {
      tf.dispose([value, normT, ...Object.values(grads)]);
      throw new Error(`trainLoop: loss is ${loss} at step ${step} (lower lr or check the lossFn)`);
    }
    const lr = lrAt(step, c);
    optimizer.step(gradList, lr, c.gradClip > 0 && gradNorm > c.gradClip ? c.gradClip / gradNorm : 1);
    const metrics: Record<string, number> = {};
    for (const [k, x] of Object.entries(metricTensors)) metrics[k] = typeof x === 'number' ? x : (await x.data())[0];
    tf.dispose([value, normT, ...Object.values(grads), ...Object.values(metricTensors).filter((x): x is tf.Scalar => typeof x !== 'number')]);
    metricTensors = {};
    const rec: StepRecord = { step, loss, lr, gradNorm, metrics };
    history.push(rec);

    const done = optimizer.t;
    const last = done === end;
    if (c.evalEvery > 0 && done % c.evalEvery === 0 && !last) await evaluate(done);
    if (done % c.logEvery === 0 || last) showStep(rec);
    if ((await opts.onStep?.(rec)) === false) { stopped = true; break; }
    await yieldToKernel(); // let Jupyter interrupt and redraw
  }
  if (history.length > 0) await evaluate(optimizer.t);
  closeDisplay(stopped);
  return { history, evals, optimizer, stopped, seconds: (Date.now() - t0) / 1000 };
}
