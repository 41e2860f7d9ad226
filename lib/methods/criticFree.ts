/**
 * RL without a critic (chapter 08): REINFORCE, RLOO, GRPO and Dr. GRPO, one trainer over the
 * experience collector every online method shares and the one training loop.
 *
 *   for iteration in 1..N:
 *     P prompts -> K samples of each, log-probs of policy and reference, scores   (rl/experience.ts)
 *     score: the reward model, normalised on the initial policy (as PPO); -noEndPenalty without <end>
 *     one advantage per completion, from the other samples instead of a value head:
 *       REINFORCE  r_i - b, b a moving average of past batches' rewards         (KL folded into r_i)
 *       RLOO       r_i - mean of the other K - 1 samples of the same prompt      (KL folded into r_i)
 *       GRPO       (r_i - mean) / std over the K samples; the KL is a separate k3 loss term
 *       Dr. GRPO   GRPO without the std and with a constant length normaliser
 *     updateEpochs x minibatches AdamW steps on the loss of criticFreeMath.ts (the shared trainLoop,
 *     resumed with the same optimizer every iteration)
 *
 * What it saves against PPO: no value head (no second set of activations to train, no value loss to
 * tune) and no GAE; what it costs: K samples of each prompt for the baseline. The arithmetic is
 * criticFreeMath.ts and rl/advantages.ts, tested by hand and by finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import { completionLogProbs } from '../model/logprobs';
import { AdamW, StepRecord, TRAIN_DEFAULTS, TrainConfig, TrainerOptions, trainLoop, TrainResult } from '../train/train';
import { Presets, preset } from '../core/mode';
import { mean as avg, meanStderr, sampleSd } from '../core/stats';
import { Interrupted, interruptible } from '../core/interrupt';
import { Rollout, rollout, rolloutRows, groupValues } from '../rl/rollout';
import { collectExperience, onlineSchedule, ExperienceInputs } from '../rl/experience';
import { groupAdvantages, leaveOneOutAdvantages, MovingAverageBaseline } from '../rl/advantages';
import { GRPO_DEFAULTS, GRPONormalize, grpoLoss, klFoldedRewards, reinforceLoss } from './criticFreeMath';

/** The estimator of the advantage (and with it, the loss). Dr. GRPO is 'grpo' with `scaleByStd: false, normalize: 'constant'`. */
export type CriticFreeMethod = 'reinforce' | 'rloo' | 'grpo';

/**
 * One config for the four methods (`criticFreeConfig(name)` fills in each one's defaults). The
 * optimizer fields come from TrainConfig; the number of optimizer steps is iterations x
 * updateEpochs x minibatches, so TrainConfig's steps, evalEvery, logEvery and livePlot do not apply.
 */
export interface CriticFreeConfig extends Omit<TrainConfig, 'steps' | 'evalEvery' | 'logEvery' | 'livePlot'> {
  method: CriticFreeMethod;
  /** Rollout-then-update cycles. */
  iterations: number;
  /** Prompts per rollout; the batch is promptsPerIteration x samplesPerPrompt completions. */
  promptsPerIteration: number;
  /** K, samples of each prompt: RLOO's k (Ahmadian et al. 2024 found k = 4 better than 2; TRL's
   * default is 2), GRPO's group size G (64 in DeepSeekMath, Shao et al. 2024; TRL 8). REINFORCE
   * needs no group (1 is the vanilla estimator; K > 1 only gives it more samples). */
  samplesPerPrompt: number;
  /** Passes over each batch: 1 (DeepSeekMath's GRPO takes a single update per exploration stage,
   * so the ratio is 1 and the clip does not bind on the first minibatch; RLOO's vanilla gradient is
   * only unbiased on-policy). */
  updateEpochs: number;
  /** Minibatches per pass; the batch (prompts x K) must be divisible by it. After the first one
   * the policy has moved, so GRPO's ratio and clip start to matter. */
  minibatches: number;
  /** KL coefficient. REINFORCE / RLOO: in the reward, r - beta * sum_t k1 (Ahmadian et al. 2024,
   * after Ziegler et al. 2019; 0.05 as TRL's RLOOConfig and PPO's chapter 05). GRPO: weight of
   * the separate k3 loss (0.04, DeepSeekMath). */
  beta: number;
  /** GRPO's clip epsilon on the per-token ratio (0.2, DeepSeekMath as PPO). */
  clip: number;
  /** GRPO: divide by the group's std (true); false is Dr. GRPO (Liu et al. 2025). */
  scaleByStd: boolean;
  /** GRPO: 'sequence' averages a completion's tokens (1/|o_i|); 'constant' divides by maxNewTokens (Dr. GRPO). */
  normalize: GRPONormalize;
  /** REINFORCE: the moving-average baseline's decay (0.9: about the last 10 batches). */
  baselineDecay: number;
  /** Normalise reward-model scores to mean 0, std 1 on the initial policy (as PPO, Huang et al.), so beta means the same as in chapter 05. */
  normalizeReward: boolean;
  /** Subtracted from the (normalised) score of a completion without <end> (as PPO; TRL's missing_eos_penalty). */
  noEndPenalty: number;
  /** Sampling temperature (also divides the logits of the log-probs). */
  temperature: number;
  /** Longest completion in tokens; Dr. GRPO's constant normaliser. */
  maxNewTokens: number;
  /** Seed of the prompt order, the minibatch order and the sampler. */
  seed: number;
}

/** The four methods' names as criticFreeConfig takes them. */
export type CriticFreeName = 'reinforce' | 'rloo' | 'grpo' | 'drgrpo';

/** What each method changes on the shared base (each value's source is in CriticFreeConfig's docs). */
export const CRITIC_FREE_METHODS: Record<CriticFreeName, Partial<CriticFreeConfig>> = {
  reinforce: { method: 'reinforce', beta: 0.05 },
  rloo: { method: 'rloo', beta: 0.05 },
  grpo: { method: 'grpo', beta: GRPO_DEFAULTS.beta, clip: GRPO_DEFAULTS.clip, scaleByStd: true, normalize: 'sequence' },
  // Liu et al. also drop the KL term for verifiable rewards; against a learned reward model the
  // course keeps GRPO's beta, so GRPO vs Dr. GRPO isolates the two normalisations.
  drgrpo: { method: 'grpo', beta: GRPO_DEFAULTS.beta, clip: GRPO_DEFAULTS.clip, scaleByStd: false, normalize: 'constant' },
};

/** A constant lr (as PPO's config), no weight decay, clip 1; K = 4, one pass per batch. */
const BASE: CriticFreeConfig = {
  ...TRAIN_DEFAULTS, lr: 1e-4, minLr: 1e-4, warmupSteps: 0, weightDecay: 0, gradClip: 1,
  method: 'grpo', iterations: 24, promptsPerIteration: 8, samplesPerPrompt: 4, updateEpochs: 1, minibatches: 2,
  beta: 0.04, clip: 0.2, scaleByStd: true, normalize: 'sequence', baselineDecay: 0.9,
  normalizeReward: true, noEndPenalty: 1, temperature: 1, maxNewTokens: 24, seed: 0,
};

/**
 * `course`: 24 iterations of 8 prompts x K = 4 (32 completions per rollout, PPO's rolloutBatch)
 * and 2 minibatch steps each (PPO takes 4): about 35 s per run on 2 cores, with the lr of chapter 05's
 * PPO (1e-4, for a ~1M-parameter model; the papers' 1e-6 is for billions). PPO runs 30 iterations;
 * 24 keep chapter 08, which trains six policies with it, under 8 minutes on its slowest reference
 * seed (30 took 492 s there). `tiny`: tests and fast mode.
 */
export const CRITIC_FREE_PRESETS: Presets<CriticFreeConfig> = {
  tiny: { ...BASE, iterations: 3, promptsPerIteration: 4, samplesPerPrompt: 2, maxNewTokens: 12 },
  course: BASE,
};

/** The preset of the mode (tiny in fast mode) with `method`'s defaults, patched by `override`; minLr follows lr. */
export function criticFreeConfig(method: CriticFreeName, override: Partial<CriticFreeConfig> = {}): CriticFreeConfig {
  const c = preset(CRITIC_FREE_PRESETS, { ...CRITIC_FREE_METHODS[method], ...override });
  return override.minLr === undefined ? { ...c, minLr: c.lr } : c;
}

/** "REINFORCE", "RLOO", "GRPO" or "Dr. GRPO" (GRPO with neither std scaling nor length normalisation). */
export function criticFreeMethodName(c: Pick<CriticFreeConfig, 'method' | 'scaleByStd' | 'normalize'>): string {
  if (c.method === 'reinforce') return 'REINFORCE';
  if (c.method === 'rloo') return 'RLOO';
  return !c.scaleByStd && c.normalize === 'constant' ? 'Dr. GRPO' : 'GRPO';
}

/**
 * One advantage per completion from its sequence rewards grouped [prompts][K] (the estimator of
 * each method, rl/advantages.ts), flattened back to rollout rows by `rows` (groups.rows).
 * REINFORCE needs its running `baseline`; an all-equal group gives 0 under RLOO and GRPO.
 */
export function criticFreeAdvantages(
  c: Pick<CriticFreeConfig, 'method' | 'scaleByStd'>, rewards: number[][], rows: number[][], baseline?: MovingAverageBaseline,
): number[] {
  const n = rows.reduce((a, r) => a + r.length, 0);
  const out = new Array<number>(n).fill(0);
  let grouped: number[][];
  if (c.method === 'reinforce') {
    if (!baseline) throw new Error('criticFreeAdvantages: REINFORCE needs its MovingAverageBaseline');
    const flat = baseline.advantages(rewards.flat());
    let k = 0;
    grouped = rewards.map((g) => g.map(() => flat[k++]));
  } else if (c.method === 'rloo') grouped = leaveOneOutAdvantages(rewards);
  else grouped = groupAdvantages(rewards, { scaleByStd: c.scaleByStd });
  rows.forEach((r, p) => r.forEach((i, j) => { out[i] = grouped[p][j]; }));
  return out;
}

/** What one iteration measured (means over the rollout; KL in nats per completion). */
export interface CriticFreeIterationStats {
  iteration: number;
  /** Mean proxy score as the scorer returns it (before normalisation and the no-<end> penalty). */
  proxy: number;
  gold: number;
  /** Mean over completions of the summed per-token k1 = log pi - log pi_ref. */
  kl: number;
  /** Mean per-token k3 over the update's tokens (GRPO's KL loss term, REINFORCE/RLOO report it too). */
  k3: number;
  entropy: number;
  policyLoss: number;
  clipFrac: number;
  gradNorm: number;
  /** Fraction of prompts whose K samples all got the same reward: no contrast, no signal (RLOO, GRPO). */
  flatGroups: number;
  /** Mean square of the advantages (the factor they put on the gradient's variance). */
  advantageSq: number;
  endRate: number;
  length: number;
  seconds: number;
}

/** What the trainer trains (policy, in place) and scores with: the collector's inputs and the prompts (PPO's, without a value head). */
export interface CriticFreeInputs extends ExperienceInputs {
  prompts: string[];
}

export interface CriticFreeOptions extends Pick<TrainerOptions, 'signal'> {
  /** Called after every iteration (course/views.ts criticFreeLiveView's onIteration draws it). */
  onIteration?: (stats: CriticFreeIterationStats, r: Rollout, scores: { proxy: number[]; gold: number[] }) => void | Promise<void>;
}

export interface CriticFreeResult extends TrainResult {
  stats: CriticFreeIterationStats[];
  rewardMean: number;
  rewardStd: number;
}

function checkConfig(c: CriticFreeConfig): void {
  for (const k of ['iterations', 'promptsPerIteration', 'samplesPerPrompt', 'updateEpochs', 'minibatches', 'maxNewTokens'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`CriticFreeConfig.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.method !== 'reinforce' && c.method !== 'rloo' && c.method !== 'grpo') throw new Error(`CriticFreeConfig.method must be 'reinforce', 'rloo' or 'grpo', got ${JSON.stringify(c.method)}`);
  if (c.method !== 'reinforce' && c.samplesPerPrompt < 2) throw new Error(`CriticFreeConfig: ${c.method} takes its baseline from the other samples of a prompt: samplesPerPrompt must be >= 2, got ${c.samplesPerPrompt}`);
  const B = c.promptsPerIteration * c.samplesPerPrompt;
  if (B % c.minibatches !== 0) throw new Error(`CriticFreeConfig: the batch of ${B} completions (${c.promptsPerIteration} prompts x ${c.samplesPerPrompt}) is not divisible by minibatches ${c.minibatches}`);
  if (!(c.temperature > 0)) throw new Error(`CriticFreeConfig.temperature must be > 0, got ${c.temperature}`);
  if (!(c.beta >= 0)) throw new Error(`CriticFreeConfig.beta must be >= 0, got ${c.beta}`);
}

/** Train the policy in place with REINFORCE, RLOO, GRPO or Dr. GRPO (config.method). Kernel > Interrupt stops it at a step boundary (throws `Interrupted`). */
export function criticFreeTrain(inp: CriticFreeInputs, config: CriticFreeConfig, opts: CriticFreeOptions = {}): Promise<CriticFreeResult> {
  return interruptible(() => run(inp, config, opts));
}

async function run(inp: CriticFreeInputs, c: CriticFreeConfig, opts: CriticFreeOptions): Promise<CriticFreeResult> {
  checkConfig(c);
  const name = criticFreeMethodName(c);
  const { policy, tokenizer } = inp;
  if (inp.prompts.length === 0) throw new Error(`criticFreeTrain (${name}): no prompts`);
  const { nextPrompts, gen, rng } = onlineSchedule(inp.prompts, c);
  const stoppedIn = (iter: number) => (e: unknown): never => {
    throw e instanceof Interrupted ? new Interrupted(`${name} stopped by Kernel > Interrupt in iteration ${iter + 1} of ${c.iterations}: the policy keeps the weights of its last update. Running the cell again starts over.`) : e;
  };

  let rewardMean = 0, rewardStd = 1;
  if (c.normalizeReward) {
    const r0 = await rollout(policy, tokenizer, nextPrompts(Math.max(16, c.promptsPerIteration * c.samplesPerPrompt)), gen(-1)).catch(stoppedIn(0));
    const s = inp.proxy(rolloutRows(r0));
    rewardMean = meanStderr(s).mean;
    rewardStd = sampleSd(s, rewardMean) || 1;
  }

  const params = policy.parameters();
  const B = c.promptsPerIteration * c.samplesPerPrompt;
  const mbSize = B / c.minibatches;
  const stepsPerIter = c.updateEpochs * c.minibatches;
  const trainConfig: TrainConfig = { ...c, steps: c.iterations * stepsPerIter, evalEvery: 0, logEvery: stepsPerIter, livePlot: false };
  const optimizer = new AdamW(params, trainConfig);
  const baseline = new MovingAverageBaseline(c.baselineDecay);
  const steps: StepRecord[] = [];
  const history: CriticFreeIterationStats[] = [];
  let stopped = false;
  const t0 = Date.now();

  for (let iter = 0; iter < c.iterations; iter++) {
    if (opts.signal?.aborted) { stopped = true; break; }
    const e = await collectExperience(inp, nextPrompts(c.promptsPerIteration), { gen: gen(iter), samplesPerPrompt: c.samplesPerPrompt, entropy: true }).catch(stoppedIn(iter));
    const { rollout: r, proxy, gold, logProbs, refLogProbs, actionMask, seqKL, groups } = e;
    const scores = proxy.map((s, i) => (s - rewardMean) / rewardStd - (r.finished[i] ? 0 : c.noEndPenalty));
    // REINFORCE and RLOO fold the KL into the sequence reward; GRPO keeps it out (a loss term).
    const rewards = c.method === 'grpo' ? scores : klFoldedRewards(scores, logProbs, refLogProbs, actionMask, c.beta).rewards;
    const grouped = groupValues(groups, rewards);
    const advantages = criticFreeAdvantages(c, grouped, groups.rows, baseline);
    const flat = grouped.filter((g) => g.every((x) => x === g[0])).length / grouped.length;

    const exp = { ...e.tensors, oldLogProbs: tf.tensor2d(logProbs), refLogProbs: tf.tensor2d(refLogProbs), advantages: tf.tensor1d(advantages) };
    const perms = Array.from({ length: c.updateEpochs }, () => rng.shuffle(r.prompts.map((_, i) => i)));
    const start = optimizer.t;
    const res = await trainLoop({
      params, config: trainConfig, optimizer, maxSteps: stepsPerIter, display: false, signal: opts.signal,
      lossFn: (step) => {
        const k = step - start;
        const part = k % c.minibatches;
        const idx = tf.tensor1d(perms[Math.floor(k / c.minibatches)].slice(part * mbSize, (part + 1) * mbSize), 'int32');
        const g = <T extends tf.Tensor>(x: T) => tf.gather(x, idx) as T;
        const tokens = g(exp.tokens), mask = g(exp.mask), am = g(exp.actionMask);
        const { logProbs: lp } = completionLogProbs(policy, tokens, mask, { temperature: c.temperature });
        const out = c.method === 'grpo'
          ? grpoLoss(lp, g(exp.oldLogProbs), g(exp.refLogProbs), g(exp.advantages), am, { clip: c.clip, beta: c.beta, normalize: c.normalize, maxLength: c.maxNewTokens })
          : reinforceLoss(lp, g(exp.oldLogProbs), g(exp.refLogProbs), g(exp.advantages), am);
        return { loss: out.loss, metrics: { clipFrac: out.clipFrac, k3: out.k3Mean } };
      },
    }).catch((err) => { tf.dispose(Object.values(exp)); return stoppedIn(iter)(err); });
    tf.dispose(Object.values(exp));
    steps.push(...res.history);
    const m = (f: (h: StepRecord) => number) => avg(res.history.map(f));
    const nTok = actionMask.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
    const stats: CriticFreeIterationStats = {
      iteration: iter + 1, proxy: avg(proxy), gold: avg(gold), kl: avg(seqKL),
      k3: m((h) => h.metrics.k3),
      entropy: e.entropy!.reduce((a, row, i) => a + row.reduce((x, h, t) => x + h * actionMask[i][t], 0), 0) / Math.max(1, nTok),
      policyLoss: m((h) => h.loss), clipFrac: m((h) => h.metrics.clipFrac), gradNorm: m((h) => h.gradNorm),
      flatGroups: flat, advantageSq: avg(advantages.map((a) => a * a)),
      endRate: avg(r.finished.map(Number)), length: avg(r.completionIds.map((x) => x.length)),
      seconds: (Date.now() - t0) / 1000,
    };
    history.push(stats);
    await opts.onIteration?.(stats, r, { proxy, gold });
    if (res.stopped) { stopped = true; break; }
  }
  return { history: steps, evals: [], optimizer, stopped, seconds: (Date.now() - t0) / 1000, stats: history, rewardMean, rewardStd };
}
