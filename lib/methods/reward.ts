/**
 * Bradley-Terry reward models: a GPT trunk (initialised from the SFT policy) and a scalar head read
 * at the last real token of prompt + completion, trained on comparisons so that
 *
 *   P(chosen preferred over rejected) = sigmoid(r(chosen) - r(rejected))            (Bradley-Terry)
 *   loss = -log sigmoid(r_c - r_r - margin) = log(1 + exp(r_r - r_c + margin))     (per pair, mean)
 *
 * margin = marginScale * Likert level (0 for "about the same" .. 3 for "much better"; marginScale
 * 0 = off, as Llama 2's margin loss when on). A centering term centerCoef * mean((r_c + r_r)^2)
 * keeps rewards near zero (TRL's center_rewards_coefficient). One epoch by default: reward models
 * overfit after one pass (InstructGPT, Huang et al.).
 *
 * "Last real token": rows may be right-padded (our convention) or left-padded (as some generators
 * produce); the read position is the last index with mask = 1, positions count real tokens only,
 * and the attention mask hides pads, so a sequence gets the same reward either way (trl#2778).
 *
 * Normalisation: after training, rewards are shifted and scaled to mean 0, std 1 on reference
 * samples (completions of the SFT policy), so the RL chapters see rewards on a known scale. The
 * offset and scale are saved with the model. Raw (unnormalised) differences are what the
 * Bradley-Terry probabilities are made of; use them for calibration.
 */
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { GPT, NamedParam } from '../model/model';
import { ScalarHead } from '../model/heads';
import { truncateLayers } from '../model/truncate';
import { Presets, preset } from '../core/mode';
import { Comparison, strengthLevel } from '../feedback/preferences';
import { Rng } from '../core/rng';
import { padBatch } from '../model/sample';
import { Tokenizer } from '../text/tokenizer';
import { TRAIN_DEFAULTS, TrainConfig, trainLoop, TrainResult, TrainerOptions } from '../train/train';
import { seedFor } from '../core/seed';
import { mean as meanOf, sampleSd } from '../core/stats';

/** -log sigmoid(rChosen - rRejected - margin), mean over pairs. [N] each; margin optional [N]. */
export function btLoss(rChosen: tf.Tensor1D, rRejected: tf.Tensor1D, margin?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    let d = tf.sub(rChosen, rRejected);
    if (margin) d = tf.sub(d, margin);
    return tf.mean(tf.softplus(tf.neg(d))) as tf.Scalar; // softplus(-d) = -log sigmoid(d), stable
  });
}

/** Index of the last real token of each row of mask [B, T] (right or left padding) -> [B] int32. */
export function lastRealIndex(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const T = mask.shape[1];
    // mask * (1..T) peaks at the last real position; argMax returns its index.
    return tf.argMax(tf.mul(mask.cast('float32'), tf.range(1, T + 1, 1, 'float32')), 1) as tf.Tensor1D;
  });
}

export class RewardModel {
  /** Subtracted from raw rewards, then divided by scale (set by normalize()). */
  offset = 0;
  scale = 1;

  constructor(readonly trunk: GPT, readonly head: ScalarHead) {}

  /**
   * A fresh reward model: a trainable copy of `policy`'s trunk and a new head (std 1/sqrt(C+1)).
   * With `nLayer`, only the trunk's first nLayer blocks (model/truncate.ts): a smaller reward model
   * on the same features (chapter 11's size axis).
   */
  static fromPolicy(policy: GPT, seed = 7, nLayer?: number): RewardModel {
    const trunk = nLayer === undefined ? policy.copy() : truncateLayers(policy, nLayer);
    return new RewardModel(trunk, new ScalarHead(policy.config.nEmbd, 'normal', seedFor(seed)));
  }

  parameters(): NamedParam[] {
    return [...this.trunk.parameters(), ...this.head.parameters('reward')];
  }

  /** Raw rewards [B] of tokens [B, T] with mask [B, T] (1 real, 0 pad; either side). Differentiable. */
  raw(tokens: tf.Tensor2D, mask: tf.Tensor2D, training = false): tf.Tensor1D {
    return tf.tidy(() => {
      const m = mask.cast('float32') as tf.Tensor2D;
      const positions = tf.relu(tf.sub(tf.cumsum(m, 1), 1)).cast('int32') as tf.Tensor2D; // real tokens: 0, 1, 2...
      const hidden = this.trunk.forwardHidden(tokens, { attentionMask: m, positions, training }); // no LM head: [B,T,V] logits unused
      const perToken = this.head.apply(hidden); // [B, T]
      const pick = tf.oneHot(lastRealIndex(m), tokens.shape[1]).cast('float32'); // [B, T]
      return tf.sum(tf.mul(perToken, pick), 1) as tf.Tensor1D;
    });
  }

  /** Raw rewards of id rows (prompt + completion), batched, right-padded; longest rows keep their last blockSize ids. */
  rawRows(rows: number[][], padId: number, batchSize = 32): number[] {
    const T = this.trunk.config.blockSize;
    const out: number[] = [];
    for (let i = 0; i < rows.length; i += batchSize) {
      const part = rows.slice(i, i + batchSize).map((r) => (r.length > T ? r.slice(r.length - T) : r));
      const r = tf.tidy(() => {
        const { tokens, mask } = padBatch(part, padId);
        return this.raw(tokens, mask);
      });
      out.push(...r.dataSync());
      r.dispose();
    }
    return out;
  }

  /** Normalised rewards of id rows: (raw - offset) / scale. */
  scoreRows(rows: number[][], padId: number, batchSize = 32): number[] {
    return this.rawRows(rows, padId, batchSize).map((r) => (r - this.offset) / this.scale);
  }

  /** Normalised rewards of prompt + completion texts ("<end>" in a completion is the end token). */
  scoreTexts(tok: Tokenizer, prompts: string[], completions: string[]): number[] {
    return this.scoreRows(encodePairs(tok, prompts, completions), tok.padId);
  }

  /** Set offset and scale so rewards of these reference rows have mean 0 and std 1. Returns both. */
  normalize(referenceRows: number[][], padId: number): { offset: number; scale: number } {
    if (referenceRows.length < 2) throw new Error(`RewardModel.normalize: need at least 2 reference rows, got ${referenceRows.length}`);
    const r = this.rawRows(referenceRows, padId);
    const mean = meanOf(r);
    const std = sampleSd(r, mean);
    if (!(std > 0)) throw new Error('RewardModel.normalize: reference rewards are all equal (std 0)');
    this.offset = mean;
    this.scale = std;
    return { offset: mean, scale: std };
  }

  /** What PPO, best-of-N and evaluation call: rows -> normalised rewards. */
  scorer(padId: number): (rows: number[][]) => number[] {
    return (rows) => this.scoreRows(rows, padId);
  }

  save(dir: string, tokenizer: Tokenizer, meta: Record<string, unknown> = {}): void {
    saveCheckpoint(dir, {
      model: this.trunk, tokenizer, heads: { reward: this.head },
      meta: { ...meta, kind: 'reward-model', offset: this.offset, scale: this.scale },
    });
  }

  static load(dir: string, opts: { trainable?: boolean } = {}): { rewardModel: RewardModel; tokenizer?: Tokenizer; meta: Record<string, unknown> } {
    const ck = loadCheckpoint(dir, { trainable: opts.trainable ?? false });
    const head = ck.heads.reward;
    if (!head || ck.meta.kind !== 'reward-model') throw new Error(`RewardModel.load: ${dir} is not a reward-model checkpoint (no "reward" head or meta.kind)`);
    const rm = new RewardModel(ck.model, head);
    rm.offset = Number(ck.meta.offset ?? 0);
    rm.scale = Number(ck.meta.scale ?? 1);
    return { rewardModel: rm, tokenizer: ck.tokenizer, meta: ck.meta };
  }

  dispose(): void {
    this.trunk.dispose();
    this.head.dispose();
  }
}

/** The distinct rows of `rows` (first-seen order) and, for each row, the index of its copy there. */
export function dedupeRows(rows: number[][]): { unique: number[][]; index: number[] } {
  const seen = new Map<string, number>();
  const unique: number[][] = [];
  const index = rows.map((r) => {
    const key = r.join(',');
    let j = seen.get(key);
    if (j === undefined) {
      j = unique.length;
      seen.set(key, j);
      unique.push(r);
    }
    return j;
  });
  return { unique, index };
}

/** Ids of prompt + completion ("<end>" parsed as the end token). */
export function encodePairs(tok: Tokenizer, prompts: string[], completions: string[]): number[][] {
  if (prompts.length !== completions.length) throw new Error(`encodePairs: ${prompts.length} prompts but ${completions.length} completions`);
  return prompts.map((p, i) => [...tok.encode(p), ...tok.encode(completions[i], { allowSpecial: true })]);
}

export interface RewardConfig extends Omit<TrainConfig, 'steps'> {
  /** Passes over the training comparisons (default 1: reward models overfit after one). */
  epochs: number;
  /** Comparisons per step (at most, with groupByPrompt: whole prompt groups, each distinct reply forwarded once). Default 16. */
  batchSize: number;
  /** margin = marginScale * Likert level (0..3); 0 = plain Bradley-Terry (default 0). */
  marginScale: number;
  /** Weight of mean((r_c + r_r)^2), keeping rewards near 0 (default 0.01, TRL's suggestion). */
  centerCoef: number;
  /** Seed of the comparison order (default 0). */
  seed: number;
  /** Keep each prompt's comparisons in one batch, each reply forwarded once (InstructGPT; default false, see rewardTrain). */
  groupByPrompt: boolean;
}

/**
 * Defaults: peak lr 1e-3 with cosine decay to 1e-4 after a short warm-up (5 steps; tiny 2), no
 * weight decay, clip 1, batches of 16 comparisons (tiny 8), one epoch (InstructGPT: a reward model
 * overfits after one), centring weight 0.01 (TRL's suggestion), plain Bradley-Terry (no margin).
 * The lr was chosen on notebook 04's kind of data (lib/README.md has the measurements).
 */
export const REWARD_PRESETS: Presets<RewardConfig> = {
  tiny: { ...TRAIN_DEFAULTS, lr: 1e-3, minLr: 1e-4, warmupSteps: 2, weightDecay: 0, evalEvery: 0, logEvery: 5,
    epochs: 1, batchSize: 8, marginScale: 0, centerCoef: 0.01, seed: 0, groupByPrompt: false },
  course: { ...TRAIN_DEFAULTS, lr: 1e-3, minLr: 1e-4, warmupSteps: 5, weightDecay: 0, evalEvery: 0, logEvery: 5,
    epochs: 1, batchSize: 16, marginScale: 0, centerCoef: 0.01, seed: 0, groupByPrompt: false },
};

export function rewardConfig(override: Partial<RewardConfig> = {}): RewardConfig {
  return preset(REWARD_PRESETS, override);
}

/** A comparison as training sees it: ids of prompt + chosen and prompt + rejected, Likert level. */
export interface EncodedPair {
  chosen: number[];
  rejected: number[];
  level: number;
}

export function encodeComparisons(tok: Tokenizer, records: Comparison[]): EncodedPair[] {
  return records.map((r) => {
    const [c, rj] = r.choice === 'A' ? [r.completionA, r.completionB] : [r.completionB, r.completionA];
    const [chosen, rejected] = encodePairs(tok, [r.prompt, r.prompt], [c, rj]);
    return { chosen, rejected, level: strengthLevel(r.strength) };
  });
}

/**
 * Loss of a batch of pairs (chosen rows first, rejected after, in one forward pass). With
 * shareReplies, each distinct row is forwarded once and its reward reused (a batch of whole prompt
 * groups holds K replies in K(K-1)/2 pairs); the loss is the same, the work smaller.
 */
export function rewardLoss(rm: RewardModel, pairs: EncodedPair[], padId: number, cfg: Pick<RewardConfig, 'marginScale' | 'centerCoef'>, training = false, shareReplies = false) {
  return tf.tidy(() => {
    const n = pairs.length;
    const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
    let r: tf.Tensor1D;
    if (shareReplies) {
      const { unique, index } = dedupeRows(rows);
      const { tokens, mask } = padBatch(unique, padId);
      r = tf.gather(rm.raw(tokens, mask, training), tf.tensor1d(index, 'int32'));
    } else {
      const { tokens, mask } = padBatch(rows, padId);
      r = rm.raw(tokens, mask, training);
    }
    const rc = r.slice(0, n) as tf.Tensor1D;
    const rr = r.slice(n, n) as tf.Tensor1D;
    const margin = cfg.marginScale > 0 ? tf.tensor1d(pairs.map((p) => cfg.marginScale * p.level)) : undefined;
    let loss = btLoss(rc, rr, margin);
    if (cfg.centerCoef > 0) loss = tf.add(loss, tf.mul(cfg.centerCoef, tf.mean(tf.square(tf.add(rc, rr))))) as tf.Scalar;
    const accuracy = tf.mean(tf.greater(rc, rr).cast('float32')) as tf.Scalar;
    return { loss, accuracy };
  });
}

export interface RewardEval {
  /** Fraction of comparisons where the model prefers the labeled choice. */
  accuracyVsLabels: number;
  /** Fraction where it prefers the gold-better completion (pairs with gold metadata, gold ties skipped). */
  accuracyVsGold: number;
  /** Mean Bradley-Terry loss against the labels (no margin, no centering). */
  loss: number;
  count: number;
}

/** Raw rewards of completionA and completionB of each record. */
export function rewardPairs(rm: RewardModel, tok: Tokenizer, records: Comparison[]): { rA: number[]; rB: number[] } {
  const rA = rm.rawRows(encodePairs(tok, records.map((r) => r.prompt), records.map((r) => r.completionA)), tok.padId);
  const rB = rm.rawRows(encodePairs(tok, records.map((r) => r.prompt), records.map((r) => r.completionB)), tok.padId);
  return { rA, rB };
}

export function evaluateRewardModel(rm: RewardModel, tok: Tokenizer, records: Comparison[]): RewardEval {
  if (records.length === 0) throw new Error('evaluateRewardModel: no comparisons');
  const { rA, rB } = rewardPairs(rm, tok, records);
  let agree = 0;
  let goldAgree = 0;
  let goldCount = 0;
  let loss = 0;
  records.forEach((r, i) => {
    const d = r.choice === 'A' ? rA[i] - rB[i] : rB[i] - rA[i];
    if (d > 0) agree++;
    loss += Math.log1p(Math.exp(-d));
    const { goldA, goldB } = r.metadata as { goldA?: number; goldB?: number };
    if (typeof goldA === 'number' && typeof goldB === 'number' && goldA !== goldB) {
      goldCount++;
      if ((goldA > goldB) === (rA[i] > rB[i])) goldAgree++;
    }
  });
  return { accuracyVsLabels: agree / records.length, accuracyVsGold: goldCount ? goldAgree / goldCount : NaN, loss: loss / records.length, count: records.length };
}

export interface CalibrationBin {
  /** Mean predicted P(A preferred) = sigmoid(rA - rB) in the bin. */
  predicted: number;
  /** Fraction of the bin's comparisons where A was chosen. */
  observed: number;
  count: number;
}

/** Predicted P(A > B) against observed choice frequency, in `bins` equal-width bins of [0, 1] (empty bins dropped). */
export function calibration(rm: RewardModel, tok: Tokenizer, records: Comparison[], bins = 10): CalibrationBin[] {
  const { rA, rB } = rewardPairs(rm, tok, records);
  const acc = Array.from({ length: bins }, () => ({ p: 0, a: 0, n: 0 }));
  records.forEach((r, i) => {
    const p = 1 / (1 + Math.exp(-(rA[i] - rB[i])));
    const b = acc[Math.min(bins - 1, Math.floor(p * bins))];
    b.p += p;
    b.a += r.choice === 'A' ? 1 : 0;
    b.n++;
  });
  return acc.filter((b) => b.n > 0).map((b) => ({ predicted: b.p / b.n, observed: b.a / b.n, count: b.n }));
}

/** What reward-model training uses. */
export interface RewardInputs {
  /** The model to train, in place (RewardModel.fromPolicy(sft) for a fresh one). */
  rewardModel: RewardModel;
  tokenizer: Tokenizer;
  /** Training comparisons (at least config.batchSize). */
  comparisons: Comparison[];
  /** Held-out comparisons: accuracy and loss every config.evalEvery steps and at the end. */
  heldOut?: Comparison[];
}

export type RewardTrainOptions = TrainerOptions;

/** Indices of `records` grouped by prompt, groups in order of first appearance. */
export function groupByPrompt(records: Comparison[]): number[][] {
  const groups = new Map<string, number[]>();
  records.forEach((r, i) => {
    const g = groups.get(r.prompt);
    if (g) g.push(i);
    else groups.set(r.prompt, [i]);
  });
  return [...groups.values()];
}

/**
 * Training batches for `epochs` passes: each pass shuffles the groups and their members (seeded),
 * cuts a group larger than `batchSize` into chunks of `batchSize`, and packs whole groups (chunks)
 * into batches of at most `batchSize` comparisons. A fractional last pass keeps the first batches.
 */
export function packBatches(groups: number[][], batchSize: number, epochs: number, rng: Rng): number[][] {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`packBatches: batchSize must be a positive integer, got ${batchSize}`);
  const out: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    const chunks: number[][] = [];
    // Taken from the end of the shuffle, as Rng.batches does: with groups of one the batches are Rng.batches'.
    for (const g of rng.shuffle(groups.map((g) => rng.shuffle([...g]))).reverse()) {
      for (let i = 0; i < g.length; i += batchSize) chunks.push(g.slice(i, i + batchSize));
    }
    const pass: number[][] = [];
    let cur: number[] = [];
    for (const g of chunks) {
      if (cur.length + g.length > batchSize) {
        pass.push(cur);
        cur = [];
      }
      cur = cur.concat(g);
    }
    if (cur.length > 0) pass.push(cur);
    out.push(...pass.slice(0, Math.ceil(Math.min(1, epochs - e) * pass.length)));
  }
  return out;
}

/**
 * Train the reward model in place on comparisons with trainLoop, one step per batch of
 * packBatches. With groupByPrompt, all comparisons of a prompt share a batch and each reply is
 * forwarded once per step, as InstructGPT trains on K-wise rankings: K = 4 replies give 6
 * comparisons for 4 forward passes instead of 12, and a reply is not revisited in later steps of
 * the same epoch. It is off by default because the RL chapters' numbers stand on the
 * pairwise-shuffled model (lib/README.md compares the two). Metrics: batch accuracy; evals:
 * held-out accuracy vs labels and vs gold, held-out loss.
 */
export async function rewardTrain(inputs: RewardInputs, config: RewardConfig, opts: RewardTrainOptions = {}): Promise<TrainResult> {
  const { rewardModel: rm, tokenizer: tok, comparisons: train } = inputs;
  if (train.length < config.batchSize) throw new Error(`rewardTrain: ${train.length} comparisons, fewer than batchSize ${config.batchSize}`);
  if (!(config.epochs > 0)) throw new Error(`rewardTrain: epochs must be > 0, got ${config.epochs}`);
  const pairs = encodeComparisons(tok, train);
  const groups = config.groupByPrompt ? groupByPrompt(train) : train.map((_, i) => [i]);
  const batches = packBatches(groups, config.batchSize, config.epochs, new Rng(seedFor(config.seed)));
  let next = 0;
  const nextBatch = (): EncodedPair[] => batches[next++].map((i) => pairs[i]);
  const steps = batches.length;
  const heldOut = inputs.heldOut;
  return trainLoop({
    params: rm.parameters(),
    config: { ...config, steps },
    title: opts.title ?? 'reward model',
    display: opts.display,
    signal: opts.signal,
    lossFn: () => {
      const { loss, accuracy } = rewardLoss(rm, nextBatch(), tok.padId, config, true, config.groupByPrompt);
      return { loss, metrics: { acc: accuracy } };
    },
    evalFn: heldOut && heldOut.length > 0
      ? () => {
          const e = evaluateRewardModel(rm, tok, heldOut);
          const values: Record<string, number> = { heldOutAcc: e.accuracyVsLabels, heldOutLoss: e.loss };
          if (!Number.isNaN(e.accuracyVsGold)) values.heldOutGoldAcc = e.accuracyVsGold;
          return values;
        }
      : undefined,
  });
}
