/**
 * What chapters 04-08 share: loading the SFT policy and reward model the earlier chapters saved,
 * the fixed held-out evaluation prompts, the sampling settings (evaluation, comparison pairs),
 * measuring a policy, and the result files every method writes so chapter 08 can put PPO,
 * best-of-N and DPO on one reward-KL plot.
 *
 * Layout under runsDir() (runs/fast or runs/course):
 *   sft/, reward-model/            checkpoints from chapters 03 and 04
 *   comparisons.jsonl              chapter 04's labeled pairs (metadata.split: train / heldOut)
 *   results/<label>.json           one MethodResult per evaluated policy (this file)
 */
import * as fs from 'fs';
import * as path from 'path';
import { FAST, runsDir } from './mode';
import { loadCheckpoint } from './checkpoint';
import { GPT } from './model';
import { Tokenizer } from './tokenizer';
import { RewardModel } from './reward';
import { Comparison, readComparisons, writeAtomic } from './preferences';
import { loadCorpus } from './corpus';
import { makePrompts, goldScore } from './task';
import { GenSettings, rollout, scoreRollout, summarize, PolicyStats } from './rollout';

/** Checkpoint folders of the earlier chapters, and the notebook that writes each. */
export const STAGES = {
  sft: { dir: 'sft', notebook: '03-sft' },
  rewardModel: { dir: 'reward-model', notebook: '04-reward-model' },
  comparisons: { dir: 'comparisons.jsonl', notebook: '04-reward-model' },
} as const;

/** Folder of a stage; throws a message naming the notebook to run if it is missing. */
export function requireStage(stage: keyof typeof STAGES): string {
  const { dir, notebook } = STAGES[stage];
  const full = path.join(runsDir(), dir);
  if (!fs.existsSync(full)) {
    throw new Error(`${full} does not exist: run notebooks/${notebook}.ipynb first, in the same mode (${FAST ? 'fast: RLHF_FAST=1' : 'course: RLHF_FAST unset'})`);
  }
  return full;
}

/** The SFT policy (frozen unless `trainable`) and its tokenizer. */
export function loadSFT(opts: { trainable?: boolean } = {}): { policy: GPT; tokenizer: Tokenizer } {
  const dir = requireStage('sft');
  const ck = loadCheckpoint(dir, { trainable: opts.trainable ?? false });
  if (!ck.tokenizer) throw new Error(`loadSFT: ${dir} has no tokenizer`);
  return { policy: ck.model, tokenizer: ck.tokenizer };
}

/** The chapter-04 reward model (frozen, normalised on SFT samples). */
export function loadRewardModel(): RewardModel {
  return RewardModel.load(requireStage('rewardModel')).rewardModel;
}

/** Chapter 04's comparisons (metadata.split 'train' or 'heldOut'); all of them without `split`. */
export function loadComparisons(split?: 'train' | 'heldOut'): Comparison[] {
  const all = readComparisons(requireStage('comparisons'));
  return split ? all.filter((r) => r.metadata.split === split) : all;
}

/** The held-out prompts every policy is measured on (fixed seed; 16 in fast mode, 128 otherwise). */
export function evalPrompts(n: number = FAST ? 16 : 128): string[] {
  return makePrompts(loadCorpus(), { split: 'heldOut', n, seed: 1 });
}

/** Sampling settings of every evaluation: temperature 1 (the policy's own distribution), 24 tokens. */
export function evalGen(seed = 2024): GenSettings {
  return { maxNewTokens: FAST ? 16 : 24, temperature: 1, seed };
}

/**
 * Sampling temperature of chapter 04's comparison pairs: 0.8, cooler than the policy's own 1.
 * At temperature 1 the SFT policy invents a word in 38% of its replies, invented words decide
 * most pairs, and the 1.3M-parameter reward model learned them from 3,888 comparisons only in
 * part: 74.1% held-out accuracy against gold (70-78% over twenty variants of the recipe). At 0.8,
 * 18% of replies have one and the same recipe reached 82.1%, 85.2% and 82.7% (three seeds; 81.3%
 * in notebook 04's default run), and 74-76% on temperature-1 pairs, as good there as a model
 * trained on them. Llama 2 likewise varied the temperature of its comparison samples. The RL
 * chapters still sample at 1 (evalGen).
 */
export const COMPARISON_TEMPERATURE = 0.8;

/** Sampling settings of chapter 04's comparison pairs: evalGen's length, COMPARISON_TEMPERATURE. */
export function comparisonGen(seed = 5): GenSettings {
  return { ...evalGen(seed), temperature: COMPARISON_TEMPERATURE };
}

/** One evaluated policy: its reward-KL point and its completions of the evaluation prompts. */
export interface MethodResult extends PolicyStats {
  /** 'SFT', 'PPO', 'best-of-N', 'DPO', 'IPO', ... */
  method: string;
  /** Unique name, e.g. "PPO beta=0.05", "best-of-16". */
  label: string;
  /** The method's knob (beta or N) and anything else worth keeping. */
  params: Record<string, number | string>;
  prompts: string[];
  completions: string[];
  proxyScores: number[];
  goldScores: number[];
  klPerSample: number[];
}

/** Sample the evaluation prompts from `policy` and measure proxy, gold and KL to `refPolicy`. */
export async function evaluatePolicy(
  policy: GPT, o: { refPolicy: GPT; rewardModel: RewardModel; tokenizer: Tokenizer; method: string; label: string; params?: Record<string, number | string>; prompts?: string[]; gen?: GenSettings },
): Promise<MethodResult> {
  const prompts = o.prompts ?? evalPrompts();
  const r = await rollout(policy, o.tokenizer, prompts, o.gen ?? evalGen());
  const s = scoreRollout(r, { policy, refPolicy: o.refPolicy, proxy: o.rewardModel.scorer(o.tokenizer.padId), gold: goldScore, padId: o.tokenizer.padId });
  return {
    ...summarize(s), method: o.method, label: o.label, params: o.params ?? {},
    prompts, completions: r.completions, proxyScores: s.proxy, goldScores: s.gold, klPerSample: s.klK1,
  };
}

function resultsDir(): string {
  return path.join(runsDir(), 'results');
}

/** Save a result as results/<label>.json (atomically; replaces an older one of the same label). */
export function saveResult(r: MethodResult): string {
  const file = path.join(resultsDir(), `${r.label.replace(/[^A-Za-z0-9.=-]+/g, '_')}.json`);
  writeAtomic(file, JSON.stringify(r));
  return file;
}

/** Every saved result (optionally of one method), sorted by method then KL. */
export function loadResults(method?: string): MethodResult[] {
  const dir = resultsDir();
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as MethodResult;
      } catch (e) {
        throw new Error(`loadResults: ${path.join(dir, f)} is not valid JSON (${(e as Error).message})`);
      }
    })
    .filter((r) => !method || r.method === method)
    .sort((a, b) => a.method.localeCompare(b.method) || a.klK1 - b.klK1);
}

/** Save any JSON-able record of a run (e.g. a PPO history) as histories/<name>.json. */
export function saveHistory(name: string, data: unknown): string {
  const file = path.join(runsDir(), 'histories', `${name.replace(/[^A-Za-z0-9.=-]+/g, '_')}.json`);
  writeAtomic(file, JSON.stringify(data));
  return file;
}

/** A record saved by saveHistory, or null if that run has not been saved. */
export function loadHistory<T = unknown>(name: string): T | null {
  const file = path.join(runsDir(), 'histories', `${name.replace(/[^A-Za-z0-9.=-]+/g, '_')}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : null;
}
