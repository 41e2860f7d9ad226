/**
 * PPO with a KL penalty (Ziegler et al. 2019, InstructGPT), the loop of the lecture:
 *
 *   for iteration in 1..N:
 *     prompts -> policy samples completions, log-probs of policy and reference, masks, scores
 *                                                   (rl/experience.ts, the collector every online method shares)
 *     score: reward model at the last real token, normalised; per-token reward -beta * KL to ref
 *     values from the value head; advantages and returns by GAE; whiten advantages
 *     for epoch in 1..ppoEpochs, for each minibatch:
 *       loss = PPO-clip policy loss + vfCoef * clipped value loss (+ ptxCoef * LM loss)
 *       one AdamW step (the shared trainLoop, resumed with the same optimizer every iteration)
 *
 * Implementation details from Huang et al. "The N implementation details of RLHF with PPO" and
 * TRL: log-probs use logits / temperature (the sampling temperature) in rollout and update alike;
 * sampling has no top-k/top-p (a mismatch makes the KL estimate negative); the value head is a
 * ScalarHead initialised to zero on the policy's own trunk; pads never enter a loss.
 * The arithmetic (GAE, losses, rewards) lives in ppoMath.ts with hand-checked tests.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../model/model';
import { ScalarHead } from '../model/heads';
import { completionLogProbs } from '../model/logprobs';
import { Tokenizer } from '../text/tokenizer';
import { AdamW, StepRecord, TRAIN_DEFAULTS, TrainConfig, TrainerOptions, trainLoop, TrainResult } from '../train/train';
import { Presets, preset } from '../core/mode';
import { Rng } from '../core/rng';
import { KLEstimator } from '../rl/kl';
import { mean as avg, meanStderr, sampleSd } from '../core/stats';
import { GoldScorerFn, ProxyScorer, Rollout, rollout, rolloutRows } from '../rl/rollout';
import { collectExperience, onlineSchedule } from '../rl/experience';
import { Interrupted, interruptible } from '../core/interrupt';
import { AdaptiveKLController, ppoPolicyLoss, ppoValueLoss, tokenRewards } from './ppoMath';
import { gae, whiten } from '../rl/advantages';
import { getBatch } from '../text/corpus';

/**
 * PPO's settings. The optimizer fields come from TrainConfig (lr, minLr, warmupSteps, decaySteps,
 * weightDecay, beta1, beta2, eps, gradClip); the number of optimizer steps is iterations x
 * ppoEpochs x minibatches, and a run is shown by its own live view (views.ts ppoLiveView), so
 * TrainConfig's steps, evalEvery, logEvery and livePlot do not apply.
 */
export interface PPOConfig extends Omit<TrainConfig, 'steps' | 'evalEvery' | 'logEvery' | 'livePlot'> {
  /** Rollout-then-update cycles. */
  iterations: number;
  /** Prompts (one completion each) per rollout. */
  rolloutBatch: number;
  /** Passes over each rollout (4 in TRL and Huang et al.). */
  ppoEpochs: number;
  /** Minibatches per pass; rolloutBatch must be divisible by it. */
  minibatches: number;
  /** Discount (1: a completion is one episode, rewards are not discounted; TRL). */
  gamma: number;
  /** GAE lambda (0.95, TRL). */
  lambda: number;
  /** PPO ratio clip epsilon (0.2, Schulman et al. 2017, TRL). */
  clip: number;
  /** Value clip around the rollout's values (0.2, TRL). */
  valueClip: number;
  /** Weight of the value loss (0.1, TRL). */
  vfCoef: number;
  /** KL penalty coefficient (fixed; TRL's default 0.05). Ignored when adaptiveKL is set. */
  beta: number;
  /** Ziegler et al.'s adaptive controller instead of a fixed beta (init 0.15, target 6, horizon 10000). */
  adaptiveKL: { init: number; target: number; horizon: number } | null;
  /** KL estimator inside the per-token reward ('k1' as in InstructGPT; 'k3' is never negative). */
  klEstimator: KLEstimator;
  /** Whiten advantages per rollout (mean 0, std 1). */
  whitenAdvantages: boolean;
  /** Normalise reward-model scores to mean 0, std 1 on samples of the initial policy (Huang et al.). */
  normalizeReward: boolean;
  /** Subtracted from the (normalised) score of a completion that never emitted <end> (TRL's missing_eos_penalty). */
  noEndPenalty: number;
  /** Sampling temperature (also divides the logits when computing log-probs). */
  temperature: number;
  /** Longest completion in tokens (default 24 BPE tokens, ~75 characters; SFT replies are <= 60). */
  maxNewTokens: number;
  /**
   * PPO-ptx (InstructGPT, Ouyang et al. 2022, eq. 2): weight gamma of a language-modelling loss on
   * pretraining batches (inputs.ptxBatch) added to every minibatch loss, so the policy keeps
   * predicting its pretraining text while it chases the reward ("the alignment tax"). 0 = off (PPO).
   */
  ptxCoef: number;
  /** Seed of the prompt order, the minibatch order and the sampler. */
  seed: number;
}

/** A constant lr (minLr = lr, no warm-up), no weight decay, clip 1; the rest as documented above. */
const BASE: PPOConfig = {
  ...TRAIN_DEFAULTS, lr: 3e-5, minLr: 3e-5, warmupSteps: 0, weightDecay: 0, gradClip: 1,
  iterations: 30, rolloutBatch: 32, ppoEpochs: 4, minibatches: 4,
  gamma: 1, lambda: 0.95, clip: 0.2, valueClip: 0.2, vfCoef: 0.1,
  beta: 0.05, adaptiveKL: null, klEstimator: 'k1',
  whitenAdvantages: true, normalizeReward: true, noEndPenalty: 1,
  temperature: 1, maxNewTokens: 24, ptxCoef: 0, seed: 0,
};

/**
 * `course` keeps TRL's PPO constants but does less work per rollout than TRL's 4 x 4 minibatch
 * steps (2 epochs x 2 minibatches of 16) with a larger lr (1e-4, for a ~1M-parameter model), so a
 * run fits in minutes on 2 CPU cores. `tiny` is for tests and fast mode.
 */
export const PPO_PRESETS: Presets<PPOConfig> = {
  tiny: { ...BASE, iterations: 3, rolloutBatch: 8, ppoEpochs: 2, minibatches: 2, maxNewTokens: 12 },
  course: { ...BASE, ppoEpochs: 2, minibatches: 2, lr: 1e-4, minLr: 1e-4 },
};

/**
 * PPO_PRESETS.tiny in fast mode, .course otherwise, patched by `override`. The lr stays constant:
 * minLr follows an overridden lr unless minLr is given too.
 */
export function ppoConfig(override: Partial<PPOConfig> = {}): PPOConfig {
  const c = preset(PPO_PRESETS, override);
  return override.minLr === undefined ? { ...c, minLr: c.lr } : c;
}

/** What one iteration measured (rewards are means over the rollout; KL in nats per completion). */
export interface PPOStats {
  iteration: number;
  /** Mean proxy score as the `proxy` scorer returns it (the reward model's own normalisation),
   *  before PPO's reward normalisation and the no-<end> penalty. */
  proxy: number;
  gold: number;
  /** Mean over completions of the summed per-token k1 = log pi - log pi_ref. */
  kl: number;
  /** Mean next-token entropy (nats) at generated positions. */
  entropy: number;
  klCoef: number;
  policyLoss: number;
  valueLoss: number;
  clipFrac: number;
  approxKL: number;
  endRate: number;
  length: number;
  seconds: number;
  /** PPO-ptx only: mean language-modelling loss (nats/token) on the iteration's ptx batches, before the coefficient. */
  ptxLoss?: number;
}

/** A batch of language-modelling windows: inputs x and targets y [B, T] (int32), optional mask [B, T]. */
export interface PtxBatch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  mask?: tf.Tensor2D;
}

/**
 * PPO-ptx's term: ptxCoef * (mean next-token cross-entropy of the policy on the batch), what it
 * adds to a minibatch loss (so its gradient is ptxCoef times the language-modelling gradient), and
 * the language-modelling loss itself (nats/token) for logging.
 */
export function ptxTerm(policy: GPT, batch: PtxBatch, ptxCoef: number): { loss: tf.Scalar; lmLoss: tf.Scalar } {
  if (!(ptxCoef >= 0)) throw new Error(`ptxTerm: ptxCoef must be >= 0, got ${ptxCoef}`);
  return tf.tidy(() => {
    const lmLoss = policy.loss(batch.x, batch.y, { mask: batch.mask, training: true });
    return { loss: tf.mul(ptxCoef, lmLoss) as tf.Scalar, lmLoss };
  });
}

/**
 * PPO-ptx batches as InstructGPT mixes them: random windows of the pretraining text (here the
 * training split of tiny-shakespeare in the policy's tokens, what chapter 02 pretrained on), one
 * batch of `batchSize` windows of blockSize + 1 ids per call, seeded and independent of the step.
 */
export function pretrainingBatches(trainIds: Int32Array, batchSize: number, blockSize: number, seed = 0): (step: number) => PtxBatch {
  const rng = new Rng(seed);
  return () => getBatch(trainIds, batchSize, blockSize, rng);
}

/** What PPO trains and scores with. */
export interface PPOInputs {
  /** The model to train, in place. */
  policy: GPT;
  /** The frozen reference of the KL penalty (the SFT policy). */
  refPolicy: GPT;
  /** The reward model as a scorer of full rows (prompt + completion ids), e.g. rewardModel.scorer(padId). */
  proxy: ProxyScorer;
  /** The gold score of a completion text, for monitoring only (never used in the update). */
  gold: GoldScorerFn;
  tokenizer: Tokenizer;
  prompts: string[];
  /** Value head on the policy trunk; default a new zero-initialised ScalarHead. */
  valueHead?: ScalarHead;
  /** PPO-ptx batches (x, y, mask) when ptxCoef > 0, one per optimizer step (e.g. `pretrainingBatches`), called inside the loss: the training loop frees it after the backward pass. */
  ptxBatch?: (step: number) => PtxBatch;
}

/** TrainerOptions' signal; PPO shows its progress through its live view (course/views.ts ppoLiveView), so title and display do not apply. */
export interface PPOOptions extends Pick<TrainerOptions, 'signal'> {
  /** Called after every iteration with its stats and rollout (views.ts ppoLiveView's onIteration). */
  onIteration?: (stats: PPOStats, r: Rollout, scores: { proxy: number[]; gold: number[] }) => void | Promise<void>;
}

/** trainLoop's result over all iterations (history: every optimizer step), plus PPO's own. */
export interface PPOResult extends TrainResult {
  /** One record per iteration. */
  stats: PPOStats[];
  valueHead: ScalarHead;
  /** Mean and std of the proxy on the initial policy (the normalisation). */
  rewardMean: number;
  rewardStd: number;
}

/** Values V(state before token t) [B, T]: the value head read at position t - 1 (0 at t = 0). */
function shiftedValues(valueHead: ScalarHead, hidden: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const v = valueHead.apply(hidden);
    const [B, T] = v.shape;
    return tf.concat([tf.zeros([B, 1]), v.slice([0, 0], [B, T - 1])], 1) as tf.Tensor2D;
  });
}

/** What collectExperience's `values` option takes for PPO: the value head's V per token [B, T], masked to the completion's tokens. */
export function ppoValues(valueHead: ScalarHead): (hidden: tf.Tensor3D, actionMask: tf.Tensor2D) => tf.Tensor2D {
  return (hidden, am) => tf.mul(shiftedValues(valueHead, hidden), am) as tf.Tensor2D;
}

function checkConfig(c: PPOConfig): void {
  for (const k of ['iterations', 'rolloutBatch', 'ppoEpochs', 'minibatches', 'maxNewTokens'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`PPOConfig.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.rolloutBatch % c.minibatches !== 0) throw new Error(`PPOConfig: rolloutBatch ${c.rolloutBatch} is not divisible by minibatches ${c.minibatches}`);
  if (!(c.temperature > 0)) throw new Error(`PPOConfig.temperature must be > 0, got ${c.temperature}`);
  if (!(c.beta >= 0)) throw new Error(`PPOConfig.beta must be >= 0, got ${c.beta}`);
  if (!(c.ptxCoef >= 0)) throw new Error(`PPOConfig.ptxCoef must be >= 0, got ${c.ptxCoef}`);
}

/** Run PPO; the policy (and value head) are trained in place. Kernel > Interrupt stops it at a step boundary (throws `Interrupted`). */
export function ppoTrain(inp: PPOInputs, config: PPOConfig, opts: PPOOptions = {}): Promise<PPOResult> {
  return interruptible(() => runPPO(inp, config, opts));
}

async function runPPO(inp: PPOInputs, config: PPOConfig, opts: PPOOptions): Promise<PPOResult> {
  const c = config;
  checkConfig(c);
  const { policy, refPolicy, tokenizer } = inp;
  if (inp.prompts.length === 0) throw new Error('ppoTrain: no prompts');
  if (c.ptxCoef > 0 && !inp.ptxBatch) throw new Error(`ppoTrain: ptxCoef is ${c.ptxCoef} but no ptxBatch was given`);
  const valueHead = inp.valueHead ?? new ScalarHead(policy.config.nEmbd, 'zero');
  const { nextPrompts, gen, rng } = onlineSchedule(inp.prompts, c);
  // Kernel > Interrupt in a rollout or an update: one line in PPO's terms instead of the inner loop's.
  const stoppedIn = (iter: number) => (e: unknown): never => {
    throw e instanceof Interrupted ? new Interrupted(`PPO stopped by Kernel > Interrupt in iteration ${iter + 1} of ${c.iterations}: the policy keeps the weights of its last update. Running the cell again starts PPO over.`) : e;
  };

  // Reward normalisation on the initial policy's samples (Huang et al.: mean 0, std 1).
  let rewardMean = 0, rewardStd = 1;
  if (c.normalizeReward) {
    const r0 = await rollout(policy, tokenizer, nextPrompts(Math.max(2 * c.rolloutBatch, 16)), gen(-1)).catch(stoppedIn(0));
    const s = inp.proxy(rolloutRows(r0));
    const { mean } = meanStderr(s);
    rewardMean = mean;
    rewardStd = sampleSd(s, mean) || 1;
  }

  const params = [...policy.parameters(), ...valueHead.parameters('valueHead')];
  const stepsPerIter = c.ppoEpochs * c.minibatches;
  const trainConfig: TrainConfig = { ...c, steps: c.iterations * stepsPerIter, evalEvery: 0, logEvery: stepsPerIter, livePlot: false };
  const optimizer = new AdamW(params, trainConfig);
  const steps: StepRecord[] = [];
  let stopped = false;
  const controller = c.adaptiveKL ? new AdaptiveKLController(c.adaptiveKL.init, c.adaptiveKL.target, c.adaptiveKL.horizon) : null;
  const history: PPOStats[] = [];
  const t0 = Date.now();
  const B = c.rolloutBatch;
  const mbSize = B / c.minibatches;

  for (let iter = 0; iter < c.iterations; iter++) {
    if (opts.signal?.aborted) { stopped = true; break; }
    const klCoef = controller ? controller.klCoef : c.beta;
    // ---- rollout and scoring (no gradients)
    const e = await collectExperience(inp, nextPrompts(B), {
      gen: gen(iter), entropy: true, values: ppoValues(valueHead),
    }).catch(stoppedIn(iter));
    const { rollout: r, proxy, gold, logProbs: lpA, refLogProbs: refA, actionMask: amA, seqKL } = e;
    const entA = e.entropy!, valA = e.values!;
    const all = r.prompts.map((_, i) => i);
    const scores = proxy.map((s, i) => (s - rewardMean) / rewardStd - (r.finished[i] ? 0 : c.noEndPenalty));
    const { rewards } = tokenRewards(scores, lpA, refA, amA, klCoef, c.klEstimator);
    const { advantages, returns } = gae(rewards, valA, amA, c.gamma, c.lambda);
    const adv = c.whitenAdvantages ? whiten(advantages, amA) : advantages;

    // ---- several epochs of minibatch updates, through the shared training loop
    const exp = {
      ...e.tensors,
      oldLogProbs: tf.tensor2d(lpA), oldValues: tf.tensor2d(valA), advantages: tf.tensor2d(adv), returns: tf.tensor2d(returns),
    };
    const perms = Array.from({ length: c.ppoEpochs }, () => rng.shuffle(all.slice()));
    const start = optimizer.t;
    const res = await trainLoop({
      params, config: trainConfig, optimizer, maxSteps: stepsPerIter, display: false, signal: opts.signal,
      lossFn: (step) => {
        const k = step - start;
        const idx = tf.tensor1d(perms[Math.floor(k / c.minibatches)].slice((k % c.minibatches) * mbSize, (k % c.minibatches + 1) * mbSize), 'int32');
        const g = <T extends tf.Tensor>(x: T) => tf.gather(x, idx) as T;
        const tokens = g(exp.tokens), mask = g(exp.mask), am = g(exp.actionMask);
        const { logProbs, hidden } = completionLogProbs(policy, tokens, mask, { temperature: c.temperature, hidden: true });
        const pg = ppoPolicyLoss(logProbs, g(exp.oldLogProbs), g(exp.advantages), am, c.clip);
        const vf = ppoValueLoss(shiftedValues(valueHead, hidden!), g(exp.oldValues), g(exp.returns), am, c.valueClip);
        let loss = tf.add(pg.loss, tf.mul(c.vfCoef, vf.loss)) as tf.Scalar;
        const metrics: Record<string, tf.Scalar> = { policyLoss: pg.loss, valueLoss: vf.loss, clipFrac: pg.clipFrac, approxKL: pg.approxKL };
        if (c.ptxCoef > 0) {
          const pb = inp.ptxBatch!(step);
          const ptx = ptxTerm(policy, pb, c.ptxCoef);
          loss = tf.add(loss, ptx.loss) as tf.Scalar;
          metrics.ptxLoss = ptx.lmLoss;
        }
        return { loss, metrics };
      },
    }).catch((e) => { tf.dispose([...Object.values(exp)]); return stoppedIn(iter)(e); });
    steps.push(...res.history);
    tf.dispose([...Object.values(exp)]);
    const mean = (f: (m: Record<string, number>) => number) => res.history.reduce((a, h) => a + f(h.metrics), 0) / Math.max(1, res.history.length);
    const nTok = amA.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
    const stats: PPOStats = {
      iteration: iter + 1,
      proxy: avg(proxy), gold: avg(gold), kl: avg(seqKL),
      entropy: entA.reduce((a, row, i) => a + row.reduce((x, h, t) => x + h * amA[i][t], 0), 0) / nTok,
      klCoef,
      policyLoss: mean((m) => m.policyLoss), valueLoss: mean((m) => m.valueLoss),
      clipFrac: mean((m) => m.clipFrac), approxKL: mean((m) => m.approxKL),
      endRate: avg(r.finished.map(Number)), length: avg(r.completionIds.map((x) => x.length)),
      seconds: (Date.now() - t0) / 1000,
    };
    if (c.ptxCoef > 0) stats.ptxLoss = mean((m) => m.ptxLoss);
    controller?.update(stats.kl, B);
    history.push(stats);
    await opts.onIteration?.(stats, r, { proxy, gold });
    if (res.stopped) { stopped = true; break; }
  }
  return { history: steps, evals: [], optimizer, stopped, seconds: (Date.now() - t0) / 1000, stats: history, valueHead, rewardMean, rewardStd };
}

