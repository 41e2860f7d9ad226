/**
 * The experience collector of every online method (PPO, REINFORCE, RLOO, GRPO): the first half of
 * an iteration, everything before the update.
 *
 *   prompts -> K samples of each from the policy            (rollout.ts: rolloutGroups, byPrompt)
 *           -> per-token log-probs of policy and reference  (model/logprobs.ts, logits / temperature)
 *           -> action masks (the completions' tokens)
 *           -> scores: proxy (the reward model) and gold (monitoring only)
 *
 * Nothing here learns: the log-probs are the "old" ones of the update (PPO's ratio, GRPO's clipped
 * ratio), the reference's feed the KL penalty, and the sequence rewards are laid out in groups of K
 * for group baselines (rl/advantages.ts). What a method makes of the scores (normalising them, a
 * penalty for no <end>, KL in the reward or as a loss) stays in the method.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../model/model';
import { completionLogProbs } from '../model/logprobs';
import { Tokenizer } from '../text/tokenizer';
import { Rng } from '../core/rng';
import { seedFor } from '../core/seed';
import { GenSettings, GoldScorerFn, ProxyScorer, Rollout, rolloutGroups, rolloutRows, rolloutTensors, SampleGroups } from './rollout';

type Rows = number[][];

/** The models and scorers an online method samples and scores with. */
export interface ExperienceInputs {
  /** Samples the completions; its log-probs are the update's old log-probs. */
  policy: GPT;
  /** The frozen reference of the KL term (the SFT policy). */
  refPolicy: GPT;
  tokenizer: Tokenizer;
  /** The reward model as a scorer of full rows (prompt + completion ids). */
  proxy: ProxyScorer;
  /** The gold score of a completion text, for monitoring only. */
  gold: GoldScorerFn;
}

export interface ExperienceOptions {
  /** Sampling settings; log-probs of policy and reference use the same temperature (Huang et al.). */
  gen: GenSettings;
  /** Samples per prompt, K (default 1: PPO; 2 or more for RLOO and GRPO's groups). */
  samplesPerPrompt?: number;
  /** Also the policy's next-token entropies at every position (default false). */
  entropy?: boolean;
  /**
   * Per-token values [B, T] read from the policy's final hidden states [B, T, C] in the same
   * forward pass (PPO's value head), masked by the action mask [B, T] as the caller sees fit.
   */
  values?: (hidden: tf.Tensor3D, actionMask: tf.Tensor2D) => tf.Tensor2D;
}

/**
 * One batch of experience, B = prompts x K rows (groups.rows[p][j] is sample j of prompt p).
 * Per-token arrays are [B, T] over right-padded rows of prompt + completion; position t holds
 * log p(token_t | tokens_<t) (0 at t = 0 and at pads).
 */
export interface Experience {
  rollout: Rollout;
  groups: SampleGroups;
  /** The batch as tensors, for the update: tokens (int32), mask, actionMask, all [B, T]. The caller disposes them (`disposeExperience`). */
  tensors: { tokens: tf.Tensor2D; mask: tf.Tensor2D; actionMask: tf.Tensor2D };
  /** 1 on the completion's tokens (the policy's actions, <end> included), 0 on prompt and pads. */
  actionMask: Rows;
  logProbs: Rows;
  refLogProbs: Rows;
  /** When asked (options.entropy), masked by `mask` (prompt positions included). */
  entropy?: Rows;
  /** When asked (options.values). */
  values?: Rows;
  /** Reward-model score of each row, as the proxy scorer returns it. */
  proxy: number[];
  gold: number[];
  /** Sequence KL estimate k1 of each row: sum over its actions of logProbs - refLogProbs (nats). */
  seqKL: number[];
}

/**
 * Sample K completions of each prompt with the policy and measure them (see the module comment).
 * Sampling yields to the kernel between batches and stops on Kernel > Interrupt (`Interrupted`).
 */
export async function collectExperience(inp: ExperienceInputs, prompts: string[], opts: ExperienceOptions): Promise<Experience> {
  const { policy, refPolicy, tokenizer } = inp;
  const k = opts.samplesPerPrompt ?? 1;
  const { rollout: r, groups } = await rolloutGroups(policy, tokenizer, prompts, k, opts.gen);
  const all = r.prompts.map((_, i) => i);
  const tensors = rolloutTensors(r, all, tokenizer.padId);
  const temperature = opts.gen.temperature;
  const t = tf.tidy(() => {
    const pol = completionLogProbs(policy, tensors.tokens, tensors.mask, { temperature, entropy: opts.entropy, hidden: opts.values !== undefined });
    const out: Record<string, tf.Tensor2D> = { logProbs: pol.logProbs, ref: completionLogProbs(refPolicy, tensors.tokens, tensors.mask, { temperature }).logProbs };
    if (pol.entropy) out.entropy = pol.entropy;
    if (opts.values) out.values = opts.values(pol.hidden!, tensors.actionMask);
    return out;
  });
  const rows = (x: tf.Tensor2D) => x.arraySync() as Rows;
  const logProbs = rows(t.logProbs), refLogProbs = rows(t.ref), actionMask = rows(tensors.actionMask);
  const entropy = t.entropy && rows(t.entropy), values = t.values && rows(t.values);
  tf.dispose(Object.values(t));
  const exp: Experience = {
    rollout: r, groups, tensors, actionMask, logProbs, refLogProbs,
    proxy: inp.proxy(rolloutRows(r)),
    gold: r.completions.map(inp.gold),
    seqKL: logProbs.map((row, i) => row.reduce((a, lp, t) => a + actionMask[i][t] * (lp - refLogProbs[i][t]), 0)),
  };
  if (entropy) exp.entropy = entropy;
  if (values) exp.values = values;
  return exp;
}

/** Free an experience's tensors (its arrays stay usable). */
export function disposeExperience(e: Experience): void {
  tf.dispose([e.tensors.tokens, e.tensors.mask, e.tensors.actionMask]);
}

/**
 * What an online method samples at each iteration (PPO, the critic-free trainer): the prompts in a
 * seeded shuffle, taken in order and cycled, and generation settings with a seed per iteration, so
 * a run with the same config draws the same prompts and replies. `rng` is the shuffle's generator,
 * which the method goes on drawing from (its minibatch orders).
 */
export function onlineSchedule(prompts: string[], c: { seed: number; maxNewTokens: number; temperature: number }): {
  nextPrompts: (n: number) => string[];
  gen: (iter: number) => GenSettings;
  rng: Rng;
} {
  const rng = new Rng(seedFor(c.seed));
  const order = rng.shuffle(prompts.map((_, i) => i));
  let cursor = 0;
  return {
    nextPrompts: (n) => Array.from({ length: n }, () => prompts[order[cursor++ % order.length]]),
    gen: (iter) => ({ maxNewTokens: c.maxNewTokens, temperature: c.temperature, seed: c.seed * 1_000_003 + iter * 7919 }),
    rng,
  };
}
