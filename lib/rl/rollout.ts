/**
 * Rollouts: sample completions of chat prompts from a policy, lay them out as right-padded batches,
 * and measure them (proxy reward, gold score, KL to a reference). Shared by PPO, best-of-N, DPO's
 * evaluation and chapter 12, so every method is measured the same way. `samplePairs` draws the
 * comparison pairs of chapter 04 (feedback/preferences.ts's `Pair`) through the same rollout.
 *
 * A row is prompt ids followed by completion ids (the <end> id included when the policy stopped).
 * Per-token arrays follow sample.ts: position t holds log p(token_t | tokens_<t); the `actionMask`
 * is 1 on completion positions only (prompt and pad positions are not the policy's actions).
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../model/model';
import { generate, padBatch } from '../model/sample';
import { completionLogProbs } from '../model/logprobs';
import { Tokenizer } from '../text/tokenizer';
import { klK1, klK3 } from './kl';
import { mean, meanStderr } from '../core/stats';
import { seedFor } from '../core/seed';
import { Interrupted, interruptible, stopRequested, yieldToKernel } from '../core/interrupt';
import { Pair } from '../feedback/preferences';

/** Sampling settings; PPO must use the same ones for rollout and scoring (no top-k/top-p). */
export interface GenSettings {
  /** Longest completion, in tokens (the <end> token included). */
  maxNewTokens: number;
  /** Sampling temperature (> 0); log-probs are computed with logits / temperature. Default 1. */
  temperature: number;
  /** Sampler seed. */
  seed: number;
  /** Rows per generate() call (memory). Default 32. */
  batchSize?: number;
}

export interface Rollout {
  prompts: string[];
  promptIds: number[][];
  completionIds: number[][];
  /** Decoded completions, "<end>" included when the row stopped (the gold score's input). */
  completions: string[];
  finished: boolean[];
}

/**
 * Sample one completion per prompt (repeat prompts in the list to get several). Between generate()
 * calls of `batchSize` rows it yields to the event loop, and stops there on Kernel > Interrupt
 * (throws `Interrupted`; sampling trains nothing, so no model changes).
 */
export async function rollout(policy: GPT, tokenizer: Tokenizer, prompts: string[], s: GenSettings): Promise<Rollout> {
  if (prompts.length === 0) throw new Error('rollout: no prompts');
  if (!(s.temperature > 0)) throw new Error(`rollout: temperature must be > 0 (sampling), got ${s.temperature}`);
  const promptIds = prompts.map((p) => tokenizer.encode(p));
  const longest = Math.max(...promptIds.map((p) => p.length));
  if (longest + s.maxNewTokens > policy.config.blockSize) {
    throw new Error(`rollout: longest prompt (${longest} tokens) + maxNewTokens (${s.maxNewTokens}) exceeds the policy's blockSize ${policy.config.blockSize}`);
  }
  const bs = s.batchSize ?? 32;
  const out: Rollout = { prompts, promptIds, completionIds: [], completions: [], finished: [] };
  return interruptible(async () => {
    for (let i = 0; i < prompts.length; i += bs) {
      if (i > 0) await yieldToKernel();
      if (stopRequested()) {
        throw new Interrupted(`sampling stopped by Kernel > Interrupt after ${i} of ${prompts.length} replies; sampling trains nothing, so every model is as it was. Running the cell again samples from the start.`);
      }
      const gens = generate(policy, promptIds.slice(i, i + bs), {
        maxNewTokens: s.maxNewTokens, temperature: s.temperature, seed: seedFor(s.seed) + i,
        endId: tokenizer.endId, padId: tokenizer.padId,
      });
      for (const g of gens) {
        out.completionIds.push(g.completion);
        out.completions.push(tokenizer.decode(g.completion));
        out.finished.push(g.finished);
      }
    }
    return out;
  });
}

/**
 * K samples of each prompt and where they sit in a rollout: rows[p][j] is the rollout row of sample
 * j of prompts[p]. Best-of-N, RLOO/GRPO groups (rl/experience.ts) and chapter 04's K-wise pairs all
 * read K samples per prompt through it. Two layouts of the rows, kept because each fixes which
 * draws a seed gives: `byPrompt` (best-of-N, the experience collector) puts a prompt's samples next
 * to each other, rows p*K .. p*K+K-1; `byCopy` (samplePairs) goes K times over the prompt list,
 * sample j of prompt p at row j*n + p, so K = 2 draws the same as one pair per prompt.
 */
export interface SampleGroups {
  prompts: string[];
  /** Samples per prompt. */
  k: number;
  /** rows[p][j]: the rollout row of sample j of prompts[p]. */
  rows: number[][];
}

export function sampleGroups(prompts: string[], k: number, layout: 'byPrompt' | 'byCopy' = 'byPrompt'): SampleGroups {
  if (!Number.isInteger(k) || k < 1) throw new Error(`sampleGroups: k must be an integer >= 1, got ${k}`);
  const n = prompts.length;
  const rows = prompts.map((_, p) => Array.from({ length: k }, (_, j) => (layout === 'byPrompt' ? p * k + j : j * n + p)));
  return { prompts: [...prompts], k, rows };
}

/** Per-row values laid out by group: out[p][j] = values[rows[p][j]]. */
export function groupValues<T>(g: SampleGroups, values: T[]): T[][] {
  const n = g.prompts.length * g.k;
  if (values.length !== n) throw new Error(`groupValues: ${values.length} values for ${g.prompts.length} prompts x ${g.k} samples`);
  return g.rows.map((r) => r.map((i) => values[i]));
}

/** K samples of each prompt from one rollout (sampling as `rollout`), with their groups. */
export async function rolloutGroups(
  policy: GPT, tokenizer: Tokenizer, prompts: string[], k: number, s: GenSettings, layout: 'byPrompt' | 'byCopy' = 'byPrompt',
): Promise<{ rollout: Rollout; groups: SampleGroups }> {
  const groups = sampleGroups(prompts, k, layout);
  const list = new Array<string>(prompts.length * k);
  groups.rows.forEach((r, p) => r.forEach((i) => { list[i] = prompts[p]; }));
  return { rollout: await rollout(policy, tokenizer, list, s), groups };
}

/** Full rows (prompt + completion ids) of the selected samples (default all). */
export function rolloutRows(r: Rollout, idx?: number[]): number[][] {
  const ids = idx ?? r.prompts.map((_, i) => i);
  return ids.map((i) => [...r.promptIds[i], ...r.completionIds[i]]);
}

/**
 * Right-padded batch of the selected samples: tokens, mask (real tokens) and actionMask
 * (completion positions), all [B, T].
 */
export function rolloutTensors(r: Rollout, idx: number[], padId: number): { tokens: tf.Tensor2D; mask: tf.Tensor2D; actionMask: tf.Tensor2D } {
  const rs = rolloutRows(r, idx);
  const { tokens, mask } = padBatch(rs, padId);
  const T = tokens.shape[1];
  const am = new Float32Array(idx.length * T);
  idx.forEach((i, b) => am.fill(1, b * T + r.promptIds[i].length, b * T + rs[b].length));
  return { tokens, mask, actionMask: tf.tensor2d(am, [idx.length, T]) };
}

/** Per-token log-probs of each completion under `model` (one array per sample, completion only). */
export function rolloutLogProbs(model: GPT, r: Rollout, padId: number, temperature = 1, batchSize = 32): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r.prompts.length; i += batchSize) {
    const idx = r.prompts.slice(i, i + batchSize).map((_, k) => i + k);
    const lp = tf.tidy(() => {
      const { tokens, mask } = rolloutTensors(r, idx, padId);
      return completionLogProbs(model, tokens, mask, { temperature }).logProbs.arraySync();
    });
    idx.forEach((j, b) => {
      const p = r.promptIds[j].length;
      out.push(lp[b].slice(p, p + r.completionIds[j].length));
    });
  }
  return out;
}

/** A reward model as PPO, best-of-N and evaluation see it: full rows of ids -> one score each. */
export type ProxyScorer = (rowIds: number[][]) => number[];

/** A gold scorer: completion text ("<end>" included if stopped) -> score. */
export type GoldScorerFn = (completion: string) => number;

export interface PolicyStats {
  /** Mean proxy (reward model) score and its standard error. */
  proxy: number;
  proxyStderr: number;
  /** Mean gold score and its standard error. */
  gold: number;
  goldStderr: number;
  /** Sequence KL(policy || ref) estimates in nats per completion (k1 unbiased, k3 non-negative terms). */
  klK1: number;
  klK3: number;
  /** Fraction of completions that ended with <end>. */
  endRate: number;
  /** Mean completion length in tokens. */
  length: number;
}

/** Per-sample scores of a rollout: proxy, gold and summed per-token k1/k3 against `refPolicy`. */
export interface ScoredRollout {
  rollout: Rollout;
  proxy: number[];
  gold: number[];
  /** Summed over the completion: log pi(y|x) - log pi_ref(y|x). */
  klK1: number[];
  klK3: number[];
}

/** Score a rollout. KL uses log-probs at temperature 1 (the policy's own distribution). */
export function scoreRollout(
  r: Rollout, opts: { policy: GPT; refPolicy: GPT; proxy: ProxyScorer; gold: GoldScorerFn; padId: number; batchSize?: number },
): ScoredRollout {
  const lp = rolloutLogProbs(opts.policy, r, opts.padId, 1, opts.batchSize);
  const ref = rolloutLogProbs(opts.refPolicy, r, opts.padId, 1, opts.batchSize);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    rollout: r,
    proxy: opts.proxy(rolloutRows(r)),
    gold: r.completions.map(opts.gold),
    klK1: lp.map((row, i) => sum(klK1(row, ref[i]))),
    klK3: lp.map((row, i) => sum(klK3(row, ref[i]))),
  };
}

/** Means of a scored rollout. */
export function summarize(s: ScoredRollout): PolicyStats {
  const p = meanStderr(s.proxy);
  const g = meanStderr(s.gold);
  return {
    proxy: p.mean, proxyStderr: p.stderr, gold: g.mean, goldStderr: g.stderr,
    klK1: mean(s.klK1), klK3: mean(s.klK3),
    endRate: mean(s.rollout.finished.map(Number)),
    length: mean(s.rollout.completionIds.map((c) => c.length)),
  };
}

/**
 * `perPrompt` independent samples of `policy` per prompt (default 2, one pair), and every pair of
 * them: K samples give K(K-1)/2 pairs, grouped by prompt in prompt order. InstructGPT showed its
 * labelers K = 4..9 replies at once for the same reason: K samples buy K(K-1)/2 comparisons.
 * Completions render "<end>" when the model stopped; all samples use the same settings, so neither
 * side of a pair is systematically better. With perPrompt = 2 the draws are those of one pair per
 * prompt (sample i of every prompt comes from the i-th copy of the prompt list).
 */
export async function samplePairs(policy: GPT, tok: Tokenizer, prompts: string[], s: GenSettings, opts: { perPrompt?: number } = {}): Promise<Pair[]> {
  const k = opts.perPrompt ?? 2;
  if (!Number.isInteger(k) || k < 2) throw new Error(`samplePairs: perPrompt must be an integer >= 2, got ${k}`);
  const { rollout: r, groups } = await rolloutGroups(policy, tok, prompts, k, s, 'byCopy');
  const pairs: Pair[] = [];
  prompts.forEach((prompt, i) => {
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        const metadata: Record<string, unknown> = { sampleSeed: s.seed, temperature: s.temperature };
        if (k > 2) Object.assign(metadata, { promptIndex: i, samples: [a, b] });
        pairs.push({ prompt, completionA: r.completions[groups.rows[i][a]], completionB: r.completions[groups.rows[i][b]], metadata });
      }
    }
  });
  return pairs;
}
