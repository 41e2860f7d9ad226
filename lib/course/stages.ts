/**
 * Everything one chapter hands to a later one, in one place: the folder or file of each artifact
 * under runsDir() (runs/fast or runs/course), typed functions that write and read it, and the
 * notebook to run when it is missing. Notebooks call these and never build a runs path. Also
 * what chapters 04-07 and 12 share: the held-out evaluation prompts, the sampling settings (evaluation,
 * comparison pairs), measuring a policy, and the result files every method writes so chapter 12
 * can put PPO, best-of-N and DPO on one reward-KL plot.
 *
 * Layout under runsDir():
 *   pretrained/                    chapter 02's model (checkpoint.ts format)
 *   pretrained-chat/               the base model ensurePretrained made when 02's was missing or short
 *   sft/                           chapter 03's SFT policy
 *   comparisons.jsonl              chapter 04's labeled pairs (metadata.split: train / heldOut)
 *   label-pairs.jsonl, labels.jsonl  pairs for you to label and your answers (npm run label)
 *   reward-model/                  chapter 04's reward model (normalised)
 *   ppo-beta<beta>/, dpo-beta<beta>/  policies of chapters 05 and 07 (savePolicy)
 *   results/<label>.json           one MethodResult per evaluated policy
 *   histories/<label>.json         per-iteration records of a run (e.g. PPO's stats)
 */
import * as fs from 'fs';
import * as path from 'path';
import { FAST, runsDir } from '../core/mode';
import { CheckpointContents, LoadedCheckpoint, loadCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { GPT, GPTConfig } from '../model/model';
import { Tokenizer } from '../text/tokenizer';
import { RewardModel } from '../methods/reward';
import { Comparison, readComparisons } from '../feedback/preferences';
import { writeAtomic } from '../core/files';
import { loadCorpus } from '../text/corpus';
import { makePrompts, goldScore } from '../feedback/task';
import { GenSettings, rollout, scoreRollout, summarize, PolicyStats } from '../rl/rollout';
import { BestOfNResult, bestOfNSweep, bonKL } from '../methods/bestOfN';
import { mean, meanStderr } from '../core/stats';
import { Artifact, artifactChapter, evaluatedMethods, methodNotebook } from './chapters';

/** Every artifact passed between chapters and its path under runsDir(); the notebook that writes it is the registry's (course/chapters.ts). */
export const STAGES = {
  pretrained: 'pretrained',
  pretrainedChat: 'pretrained-chat',
  sft: 'sft',
  comparisons: 'comparisons.jsonl',
  labelPairs: 'label-pairs.jsonl',
  labels: 'labels.jsonl',
  rewardModel: 'reward-model',
  results: 'results',
  histories: 'histories',
} as const satisfies Partial<Record<Artifact, string>>;

export type Stage = keyof typeof STAGES;

const modeHint = () => (FAST ? 'fast: RLHF_FAST=1' : 'course: RLHF_FAST unset');

/** Where a stage's artifact lives (it may not exist yet). */
export function stagePath(stage: Stage): string {
  return path.join(runsDir(), STAGES[stage]);
}

/** Path of a stage's artifact; throws a message naming the notebook to run if it is missing. */
export function requireStage(stage: Stage): string {
  const full = stagePath(stage);
  if (!fs.existsSync(full)) {
    throw new Error(`${full} does not exist: run notebooks/${artifactChapter(stage).notebook}.ipynb first, in the same mode (${modeHint()})`);
  }
  return full;
}

/** Where notebook 04 puts pairs for you to label, and where your answers go (under runsDir()). */
export function defaultLabelPaths(): { pairs: string; labels: string } {
  return { pairs: stagePath('labelPairs'), labels: stagePath('labels') };
}

/** Save chapter 02's pretrained model (and its optimizer, to continue); returns the folder. */
export function savePretrained(contents: CheckpointContents): string {
  const dir = stagePath('pretrained');
  saveCheckpoint(dir, contents);
  return dir;
}

/** Chapter 02's pretrained model; `config` checks fields of the saved config (see loadCheckpoint). */
export function loadPretrained(opts: { config?: Partial<GPTConfig>; trainable?: boolean } = {}): LoadedCheckpoint {
  return loadCheckpoint(requireStage('pretrained'), opts);
}

/** Save chapter 03's SFT policy with its tokenizer; returns the folder. */
export function saveSFT(contents: CheckpointContents & { tokenizer: Tokenizer }): string {
  const dir = stagePath('sft');
  saveCheckpoint(dir, contents);
  return dir;
}

/** The SFT policy (frozen unless `trainable`), its tokenizer and the folder it came from. */
export function loadSFT(opts: { trainable?: boolean } = {}): { policy: GPT; tokenizer: Tokenizer; dir: string } {
  const dir = requireStage('sft');
  const ck = loadCheckpoint(dir, { trainable: opts.trainable ?? false });
  if (!ck.tokenizer) throw new Error(`loadSFT: ${dir} has no tokenizer: re-run notebooks/${artifactChapter('sft').notebook}.ipynb`);
  return { policy: ck.model, tokenizer: ck.tokenizer, dir };
}

/**
 * Save chapter 04's labeled comparisons, train then held out, each record tagged with
 * metadata.split (atomically, replacing an older file); returns the file.
 */
export function saveComparisons(split: { train: Comparison[]; heldOut: Comparison[] }): string {
  const file = stagePath('comparisons');
  const tagged = [...split.train.map((r) => [r, 'train'] as const), ...split.heldOut.map((r) => [r, 'heldOut'] as const)];
  writeAtomic(file, tagged.map(([r, s]) => JSON.stringify({ ...r, metadata: { ...r.metadata, split: s } }) + '\n').join(''));
  return file;
}

/** Chapter 04's comparisons (metadata.split 'train' or 'heldOut'); all of them without `split`. */
export function loadComparisons(split?: 'train' | 'heldOut'): Comparison[] {
  const all = readComparisons(requireStage('comparisons'));
  return split ? all.filter((r) => r.metadata.split === split) : all;
}

/** Save chapter 04's reward model (with its normalisation) and tokenizer; returns the folder. */
export function saveRewardModel(rewardModel: RewardModel, tokenizer: Tokenizer, meta: Record<string, unknown> = {}): string {
  const dir = stagePath('rewardModel');
  rewardModel.save(dir, tokenizer, meta);
  return dir;
}

/** The chapter-04 reward model (frozen, normalised on SFT samples). */
export function loadRewardModel(): RewardModel {
  return RewardModel.load(requireStage('rewardModel')).rewardModel;
}

/** Folder of the policy behind a result: <method>-beta<beta> (ppo-beta0.05, dpo-beta0.1, ...). */
function policyDir(r: Pick<MethodResult, 'method' | 'label' | 'params'>): string {
  const beta = r.params.beta;
  const name = beta === undefined ? r.label : `${r.method}-beta${beta}`;
  return path.join(runsDir(), name.toLowerCase().replace(/[^a-z0-9.=-]+/g, '_'));
}

/** Save the policy a result measured (chapters 05 and 07), so later chapters can use it; returns the folder. */
export function savePolicy(r: Pick<MethodResult, 'method' | 'label' | 'params'>, contents: CheckpointContents): string {
  const dir = policyDir(r);
  saveCheckpoint(dir, contents);
  return dir;
}

/** True if the policy behind this result was saved. */
export function hasPolicy(r: Pick<MethodResult, 'method' | 'label' | 'params'>): boolean {
  return fs.existsSync(path.join(policyDir(r), 'manifest.json'));
}

/** The policy behind a result (frozen unless `trainable`); throws naming the chapter if it was not saved. */
export function loadPolicy(r: Pick<MethodResult, 'method' | 'label' | 'params'>, opts: { trainable?: boolean } = {}): LoadedCheckpoint {
  const dir = policyDir(r);
  if (!fs.existsSync(dir)) {
    const nb = methodNotebook(r.method) ?? 'the notebook that trained it';
    throw new Error(`${dir} does not exist: the policy of "${r.label}" was not saved; run notebooks/${nb}.ipynb (same mode: ${modeHint()})`);
  }
  return loadCheckpoint(dir, { trainable: opts.trainable ?? false });
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
 * Sampling temperature of chapter 04's comparison pairs: 0.8, cooler than the policy's own 1. At
 * temperature 1 the small SFT policy invents words in many replies, invented words then decide
 * most pairs, and a small reward model learns them only in part; cooler pairs let it learn the
 * rest of the gold score, and it still ranks temperature-1 samples about as well as a model
 * trained on them (measurements: lib/README.md). Llama 2 likewise varied the temperature of its
 * comparison samples. The RL chapters still sample at 1 (evalGen).
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

/** The SFT policy measured like every other (the baseline of chapters 05-07 and 12; KL 0 to itself). */
export function evaluateSFT(sft: GPT, o: { rewardModel: RewardModel; tokenizer: Tokenizer }): Promise<MethodResult> {
  return evaluatePolicy(sft, { refPolicy: sft, rewardModel: o.rewardModel, tokenizer: o.tokenizer, method: 'SFT', label: 'SFT' });
}

/**
 * Best-of-n as a MethodResult, from a bestOfN pool of at least n samples per prompt: the first n
 * of each prompt, the proxy-best kept (bestOfNSweep). KL is the analytic bound log n - (n-1)/n
 * (klK1 and klK3); `goldScores` are the gold scores of all the pool's samples; `params` records n
 * and anything passed in `params` (e.g. the sample-based KL estimate).
 */
export function bestOfNResult(
  pool: BestOfNResult, n: number, o: { prompts: string[]; goldScores: number[]; params?: Record<string, number | string> },
): MethodResult {
  const per = pool.scores[0]?.length ?? 0;
  if (!Number.isInteger(n) || n < 1 || n > per) throw new Error(`bestOfNResult: n must be an integer in 1..${per} (samples per prompt), got ${n}`);
  if (o.goldScores.length !== pool.samples.completions.length) {
    throw new Error(`bestOfNResult: ${o.goldScores.length} gold scores for ${pool.samples.completions.length} samples`);
  }
  const best = bestOfNSweep(pool.scores, [n]).get(n)!;
  const pick = best.map((k, p) => pool.groups.rows[p][k]);
  const proxyScores = best.map((k, p) => pool.scores[p][k]);
  const goldScores = pick.map((i) => o.goldScores[i]);
  const proxy = meanStderr(proxyScores);
  const gold = meanStderr(goldScores);
  const kl = bonKL(n);
  return {
    method: 'best-of-N', label: `best-of-${n}`, params: { n, ...o.params },
    proxy: proxy.mean, proxyStderr: proxy.stderr, gold: gold.mean, goldStderr: gold.stderr, klK1: kl, klK3: kl,
    endRate: mean(pick.map((i) => (pool.samples.finished[i] ? 1 : 0))), length: mean(pick.map((i) => pool.samples.completionIds[i].length)),
    prompts: o.prompts, completions: pick.map((i) => pool.samples.completions[i]), proxyScores, goldScores, klPerSample: [],
  };
}

/** One table row of a result: policy, proxy, gold, KL, end rate, length. */
export function resultRow(r: MethodResult): { policy: string; proxy: number; gold: number; 'KL (nats)': number; ended: number; length: number } {
  return { policy: r.label, proxy: r.proxy, gold: r.gold, 'KL (nats)': r.klK1, ended: r.endRate, length: r.length };
}

function safeName(label: string): string {
  return label.replace(/[^A-Za-z0-9.=-]+/g, '_');
}

/** Save a result as results/<label>.json (atomically; replaces an older one of the same label). */
export function saveResult(r: MethodResult): string {
  const file = path.join(stagePath('results'), `${safeName(r.label)}.json`);
  writeAtomic(file, JSON.stringify(r));
  return file;
}

/** Every saved result (optionally of one method), sorted by method then KL. */
export function loadResults(method?: string): MethodResult[] {
  const dir = stagePath('results');
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

/**
 * Every saved result, after checking that each of `methods` (default: every method of the chapter
 * registry) has one (else: which notebook to run).
 */
export function requireResults(methods: string[] = evaluatedMethods()): MethodResult[] {
  const results = loadResults();
  for (const m of methods) {
    if (!results.some((r) => r.method === m)) {
      throw new Error(`no ${m} results in ${stagePath('results')}: run notebooks/${methodNotebook(m) ?? artifactChapter('results').notebook}.ipynb first (same RLHF_FAST setting)`);
    }
  }
  return results;
}

/** Save any JSON-able record of a run (e.g. PPO's per-iteration stats) as histories/<name>.json. */
export function saveHistory(name: string, data: unknown): string {
  const file = path.join(stagePath('histories'), `${safeName(name)}.json`);
  writeAtomic(file, JSON.stringify(data));
  return file;
}

/** A record saved by saveHistory, or null if that run has not been saved. */
export function loadHistory<T = unknown>(name: string): T | null {
  const file = path.join(stagePath('histories'), `${safeName(name)}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : null;
}
