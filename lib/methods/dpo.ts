/**
 * DPO (and IPO) training on preference pairs: the policy is pushed to raise the log-ratio
 * log pi / pi_ref of the chosen completion over the rejected one (losses and the derivation in
 * dpoLoss.ts). No reward model, no sampling: one forward pass of the policy per pair, plus the
 * frozen reference's log-probs, which never change and are computed once before training.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../model/model';
import { padBatch } from '../model/sample';
import { completionLogProbs } from '../model/logprobs';
import { Tokenizer } from '../text/tokenizer';
import { Comparison, strengthLevel } from '../feedback/preferences';
import { dpoLoss, ipoLoss } from './dpoLoss';
import { Presets, preset } from '../core/mode';
import { Rng } from '../core/rng';
import { TRAIN_DEFAULTS, TrainConfig, TrainerOptions, TrainResult, trainLoop } from '../train/train';
import { seedFor } from '../core/seed';

/** One preference pair; completions end with the text "<end>" when the writer stopped. */
export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** Pairs from comparison records (the chapter-04 JSONL); "about the same" (A>=B, B>=A) kept unless `minLevel` > 0. */
export function pairsFromComparisons(records: Comparison[], minLevel = 0): PreferencePair[] {
  return records
    .filter((r) => strengthLevel(r.strength) >= minLevel && r.completionA !== r.completionB)
    .map((r) => ({
      prompt: r.prompt,
      chosen: r.choice === 'A' ? r.completionA : r.completionB,
      rejected: r.choice === 'A' ? r.completionB : r.completionA,
    }));
}

/** Token ids of each pair: prompt ids and the two completions' ids ("<end>" parsed as the end token). */
export interface EncodedPreferencePair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

export function encodePreferencePairs(pairs: PreferencePair[], tokenizer: Tokenizer, blockSize: number): EncodedPreferencePair[] {
  return pairs.map((p, i) => {
    const e = {
      prompt: tokenizer.encode(p.prompt),
      chosen: tokenizer.encode(p.chosen, { allowSpecial: true }),
      rejected: tokenizer.encode(p.rejected, { allowSpecial: true }),
    };
    const longest = e.prompt.length + Math.max(e.chosen.length, e.rejected.length);
    if (longest > blockSize) throw new Error(`encodePreferencePairs: pair ${i} needs ${longest} tokens, more than blockSize ${blockSize} (prompt ${JSON.stringify(p.prompt)})`);
    if (e.chosen.length === 0 || e.rejected.length === 0) throw new Error(`encodePreferencePairs: pair ${i} has an empty completion`);
    return e;
  });
}

/**
 * Summed completion log-probs log pi(y|x) for the chosen and the rejected completion of each
 * pair, [B] each, differentiable: one forward pass over 2B right-padded rows.
 */
export function pairLogProbs(model: GPT, pairs: EncodedPreferencePair[], padId: number): { chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
  return tf.tidy(() => {
    const B = pairs.length;
    const rs = [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])];
    const { tokens, mask } = padBatch(rs, padId);
    const T = tokens.shape[1];
    const action = new Float32Array(2 * B * T);
    rs.forEach((r, b) => action.fill(1, b * T + pairs[b % B].prompt.length, b * T + r.length));
    const { sums } = completionLogProbs(model, tokens, mask, { actionMask: tf.tensor2d(action, [2 * B, T]) });
    const [chosen, rejected] = tf.split(sums, 2) as tf.Tensor1D[];
    return { chosen, rejected };
  });
}

/** Reference log-probs of every pair, computed once (the reference is frozen). */
export function referenceLogProbs(refPolicy: GPT, pairs: EncodedPreferencePair[], padId: number, batchSize = 32): { chosen: number[]; rejected: number[] } {
  const chosen: number[] = [];
  const rejected: number[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) {
    const r = pairLogProbs(refPolicy, pairs.slice(i, i + batchSize), padId);
    chosen.push(...r.chosen.dataSync());
    rejected.push(...r.rejected.dataSync());
    r.chosen.dispose();
    r.rejected.dispose();
  }
  return { chosen, rejected };
}

export interface DPOConfig extends TrainConfig {
  /** Strength of the implicit KL regularisation (DPO temperature). Default 0.1 (TRL; Rafailov et al. 2023 use 0.1-0.5). */
  beta: number;
  /** 'dpo' (log-sigmoid) or 'ipo' (squared loss toward 1/(2 beta), Azar et al. 2023). Default 'dpo'. */
  loss: 'dpo' | 'ipo';
  /** Pairs per step (default 32; tiny 8). */
  batchSize: number;
  /** Seed of the pair order (default 0). */
  seed: number;
}

/**
 * `steps` counts optimizer steps (pairs seen = steps * batchSize). The lr is far below SFT's: DPO
 * moves a policy a long way in KL per step (TRL uses 5e-7 for 7B models; a tiny GPT tolerates more).
 * No weight decay: it would pull the policy away from the reference for no reason.
 */
export const DPO_PRESETS: Presets<DPOConfig> = {
  tiny: { ...TRAIN_DEFAULTS, steps: 20, lr: 1e-4, minLr: 1e-5, warmupSteps: 2, weightDecay: 0, evalEvery: 0, logEvery: 5, beta: 0.1, loss: 'dpo', batchSize: 8, seed: 0 },
  course: { ...TRAIN_DEFAULTS, steps: 60, lr: 1e-4, minLr: 1e-5, warmupSteps: 5, weightDecay: 0, evalEvery: 0, logEvery: 10, beta: 0.1, loss: 'dpo', batchSize: 32, seed: 0 },
};

/** DPO_PRESETS.tiny in fast mode, .course otherwise, patched by `override`. */
export function dpoConfig(override: Partial<DPOConfig> = {}): DPOConfig {
  return preset(DPO_PRESETS, override);
}

/** The loss of a batch of pairs given policy log-probs and cached reference log-probs. */
function preferenceLoss(
  cfg: Pick<DPOConfig, 'beta' | 'loss'>,
  policyChosen: tf.Tensor1D, policyRejected: tf.Tensor1D, refChosen: tf.Tensor1D, refRejected: tf.Tensor1D,
): tf.Scalar {
  if (cfg.loss === 'dpo') return dpoLoss(policyChosen, policyRejected, refChosen, refRejected, cfg.beta);
  if (cfg.loss === 'ipo') return ipoLoss(policyChosen, policyRejected, refChosen, refRejected, cfg.beta);
  throw new Error(`DPOConfig.loss must be 'dpo' or 'ipo', got ${JSON.stringify(cfg.loss)}`);
}

/** Per-step DPO curves: mean summed log-probs of chosen and rejected under the policy, and more. */
export interface DPOStep {
  step: number;
  loss: number;
  /** Mean log pi(y_w|x) and log pi(y_l|x) over the batch (nats per completion). */
  chosenLogp: number;
  rejectedLogp: number;
  /** Mean implicit rewards beta (log pi - log pi_ref) and the fraction of pairs ordered right. */
  chosenReward: number;
  rejectedReward: number;
  accuracy: number;
}

export interface DPOResult extends TrainResult {
  curves: DPOStep[];
  /** Summed reference log-probs of the training pairs (pass them to a later run on the same pairs). */
  refLogProbs: { chosen: number[]; rejected: number[] };
}

/** What DPO trains on. */
export interface DPOInputs {
  /** The model to train, in place. */
  policy: GPT;
  /** The frozen reference (the SFT policy). */
  refPolicy: GPT;
  tokenizer: Tokenizer;
  /** Training pairs (at least config.batchSize). */
  pairs: PreferencePair[];
  /** Summed log-probs of these same pairs under this refPolicy (`refLogProbs` of an earlier DPOResult): skips recomputing them. */
  refLogProbs?: { chosen: number[]; rejected: number[] };
}

export interface DPOOptions extends TrainerOptions {
  /** Called after every step with its curves (e.g. views.ts dpoLiveView's onStep). */
  onStep?: (s: DPOStep) => void;
}

/**
 * Train `policy` in place on preference pairs with the DPO (or IPO) loss through the shared
 * trainLoop. The reference log-probs are computed once up front. The curves hold, per step,
 * the chosen and rejected log-probs: both often fall, the rejected faster (trl#800): the loss only
 * asks for a growing gap, and probability mass can move to completions that are in neither set.
 */
export async function dpoTrain(inputs: DPOInputs, config: DPOConfig, opts: DPOOptions = {}): Promise<DPOResult> {
  const { policy, refPolicy, tokenizer, pairs } = inputs;
  if (pairs.length < config.batchSize) throw new Error(`dpoTrain: ${pairs.length} pairs, fewer than batchSize ${config.batchSize}`);
  const given = inputs.refLogProbs;
  if (given && (given.chosen.length !== pairs.length || given.rejected.length !== pairs.length)) {
    throw new Error(`dpoTrain: refLogProbs has ${given.chosen.length} chosen and ${given.rejected.length} rejected log-probs for ${pairs.length} pairs`);
  }
  const enc = encodePreferencePairs(pairs, tokenizer, policy.config.blockSize);
  const ref = given ?? referenceLogProbs(refPolicy, enc, tokenizer.padId);
  const rng = new Rng(seedFor(config.seed));
  const nextIdx = rng.batches(enc.length, config.batchSize);
  const curves: DPOStep[] = [];
  const res = await trainLoop({
    params: policy.parameters(), config, title: opts.title ?? config.loss.toUpperCase(), display: opts.display, signal: opts.signal,
    lossFn: () => {
      const idx = nextIdx();
      const pol = pairLogProbs(policy, idx.map((i) => enc[i]), tokenizer.padId);
      const rc = tf.tensor1d(idx.map((i) => ref.chosen[i]));
      const rr = tf.tensor1d(idx.map((i) => ref.rejected[i]));
      const loss = preferenceLoss(config, pol.chosen, pol.rejected, rc, rr);
      const wc = tf.mul(config.beta, tf.sub(pol.chosen, rc));
      const wr = tf.mul(config.beta, tf.sub(pol.rejected, rr));
      return {
        loss,
        metrics: {
          chosenLogp: tf.mean(pol.chosen) as tf.Scalar, rejectedLogp: tf.mean(pol.rejected) as tf.Scalar,
          chosenReward: tf.mean(wc) as tf.Scalar, rejectedReward: tf.mean(wr) as tf.Scalar,
          accuracy: tf.mean(tf.greater(wc, wr).toFloat()) as tf.Scalar,
        },
      };
    },
    onStep: (rec) => {
      const m = rec.metrics;
      const step: DPOStep = { step: rec.step, loss: rec.loss, chosenLogp: m.chosenLogp, rejectedLogp: m.rejectedLogp, chosenReward: m.chosenReward, rejectedReward: m.rejectedReward, accuracy: m.accuracy };
      curves.push(step);
      opts.onStep?.(step);
    },
  });
  return { ...res, curves, refLogProbs: ref };
}
