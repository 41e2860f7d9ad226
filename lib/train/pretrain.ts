/**
 * Pretraining: next-token prediction on random windows of the corpus, through the one trainLoop.
 * Notebook 02 pretrains the course model with `pretrain()`, `ensurePretrained()` makes a base model
 * for SFT when chapter 02's is missing or reads too short a context, and the benchmark (bench/)
 * times the same step.
 *
 *   each step: batchSize windows of blockSize + 1 consecutive ids (corpus.ts getBatch), inputs x =
 *   the first blockSize, targets y = the last blockSize; loss = mean cross-entropy, nats per token.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import { getBatch, loadCorpus, splitText } from '../text/corpus';
import { GPT, GPT_PRESETS, GPTConfig, streamLoss } from '../model/model';
import { FAST, Presets, preset } from '../core/mode';
import { Rng } from '../core/rng';
import { BpeTokenizer, COURSE_BPE_MERGES } from '../text/bpe';
import { Tokenizer } from '../text/tokenizer';
import { stagePath } from '../course/stages';
import { AdamW, StepRecord, TRAIN_DEFAULTS, TrainConfig, TrainDisplay, trainLoop, TrainResult } from './train';

export interface PretrainConfig extends TrainConfig {
  /** Windows per step (default 16; tokens per step = batchSize x the model's blockSize). */
  batchSize: number;
  /** Tokens of the quick train / held-out estimates at each evaluation (the end of a run should use all). */
  evalTokens: number;
  /** Seed of the window positions (default 1337, nanoGPT's). */
  seed: number;
}

/**
 * `course`: GPT_PRESETS.course (64-token context) on tiny-shakespeare in BPE tokens, batches of
 * 16 x 64 tokens, 3,000 steps, peak lr 2e-3 with 100 warm-up steps and cosine decay to 2e-4,
 * weight decay 0.1, clip 1: nanoGPT's shakespeare-char recipe (lr 1e-3, 5,000 steps, batch 64 x 256)
 * scaled to a smaller model and batch, with a higher lr as small models tolerate. `tiny` (fast
 * mode): GPT_PRESETS.tiny, 800 steps at lr 3e-3.
 */
export const PRETRAIN_PRESETS: Presets<PretrainConfig> = {
  tiny: { ...TRAIN_DEFAULTS, steps: 800, lr: 3e-3, minLr: 3e-4, warmupSteps: 20, evalEvery: 200, logEvery: 10, batchSize: 16, evalTokens: 4_096, seed: 1337 },
  course: { ...TRAIN_DEFAULTS, batchSize: 16, evalTokens: 16_384, seed: 1337 },
};

/** PRETRAIN_PRESETS.tiny in fast mode, .course otherwise, patched by `override`. */
export function pretrainConfig(override: Partial<PretrainConfig> = {}): PretrainConfig {
  return preset(PRETRAIN_PRESETS, override);
}

export interface PretrainInputs {
  model: GPT;
  /** Training token ids (windows are drawn from them), unless `batch` is given. */
  trainIds?: Int32Array;
  /** Held-out ids: with them, each evaluation reports { train, "held-out" } loss on evalTokens tokens each. */
  heldOutIds?: Int32Array;
  /** Batches from elsewhere (the benchmark's fixed random batches) instead of windows of trainIds. */
  batch?: (step: number) => { x: tf.Tensor2D; y: tf.Tensor2D };
}

export interface PretrainOptions {
  title?: string;
  display?: boolean | TrainDisplay;
  signal?: AbortSignal;
  /** Continue with this optimizer (e.g. rebuilt from a checkpoint, or kept across an interrupted run). */
  optimizer?: AdamW;
  /**
   * The sampler of training windows (default: a fresh Rng(config.seed)). Pass the same one with the
   * same optimizer to continue an interrupted run on the windows an uninterrupted run would have drawn.
   */
  rng?: Rng;
  onStep?: (rec: StepRecord) => void | boolean | Promise<void | boolean>;
}

/** Pretrain `model` in place (see the module comment); returns the loop's history and evals. */
export async function pretrain(inputs: PretrainInputs, config: PretrainConfig, opts: PretrainOptions = {}): Promise<TrainResult> {
  const { model, trainIds, heldOutIds } = inputs;
  const blockSize = model.config.blockSize;
  if (!inputs.batch && !trainIds) throw new Error('pretrain: give trainIds (or a batch function)');
  if (trainIds && trainIds.length <= blockSize) throw new Error(`pretrain: ${trainIds.length} training ids, need more than blockSize ${blockSize}`);
  const rng = opts.rng ?? new Rng(config.seed);
  const nextBatch = inputs.batch ?? (() => getBatch(trainIds!, config.batchSize, blockSize, rng));
  return trainLoop({
    params: model.parameters(),
    lossFn: (step) => {
      const { x, y } = nextBatch(step);
      return { loss: model.loss(x, y, { training: true }) };
    },
    config,
    evalFn: heldOutIds && trainIds
      ? () => ({ // nats per token, like the batch loss
          train: streamLoss(model, trainIds, { maxTokens: config.evalTokens }),
          'held-out': streamLoss(model, heldOutIds, { maxTokens: config.evalTokens }),
        })
      : undefined,
    tokensPerStep: config.batchSize * blockSize,
    title: opts.title ?? 'pretraining',
    display: opts.display,
    signal: opts.signal,
    optimizer: opts.optimizer,
    onStep: opts.onStep,
  });
}

/**
 * The two recipes ensurePretrained uses when it must train: continuing chapter 02's model on a
 * longer context (a lower lr: the weights are adjusted, not relearned), and a model from scratch
 * for a student who skipped chapter 02 (half the course preset's lr for 12-row batches and far
 * fewer steps). Both: 12 windows per step, warm-up over the first tenth of the steps.
 */
const EXTEND_CONTEXT = { lr: 3e-4, minLr: 3e-5, steps: FAST ? 100 : 400 };
const FROM_SCRATCH = { lr: 1e-3, minLr: 1e-4, steps: FAST ? 200 : 1500 };

/**
 * The base model SFT starts from. Chat exchanges need `minBlockSize` tokens of context (default
 * 64: task.ts's 128-character exchanges are ~40 BPE tokens), so:
 *   1. chapter 02's checkpoint (`dir`, default the pretrained stage), if it reads at least minBlockSize tokens;
 *   2. else a model an earlier call saved in `fallbackDir` (default the pretrainedChat stage);
 *   3. else, if chapter 02's checkpoint reads fewer tokens, its context is extended: positions
 *      beyond its blockSize start as copies of the first ones (wpe tiled) and pretraining continues
 *      on minBlockSize-token windows (EXTEND_CONTEXT: 400 steps; fast mode 100);
 *   4. else (a student who skipped chapter 02) a model of GPT_PRESETS.course's shape (fast mode:
 *      2 layers x 64 wide) and its BPE tokenizer (COURSE_BPE_MERGES merges; fast mode 500) are
 *      learned from scratch (FROM_SCRATCH: 1,500 steps; fast mode 200).
 * Cases 3 and 4 pretrain() on the course preset with those changes and save to `fallbackDir`.
 */
export async function ensurePretrained(
  opts: { dir?: string; fallbackDir?: string; minBlockSize?: number; steps?: number; display?: boolean | TrainDisplay } = {},
): Promise<{ model: GPT; tokenizer: Tokenizer; source: string }> {
  const dir = opts.dir ?? stagePath('pretrained');
  const fallbackDir = opts.fallbackDir ?? stagePath('pretrainedChat');
  const minBlockSize = opts.minBlockSize ?? 64;
  const has = (d: string) => fs.existsSync(path.join(d, 'manifest.json'));
  for (const d of [dir, fallbackDir]) {
    if (!has(d)) continue;
    const ck = loadCheckpoint(d);
    if (ck.config.blockSize >= minBlockSize && ck.tokenizer) return { model: ck.model, tokenizer: ck.tokenizer, source: d };
    ck.model.dispose();
  }
  const text = loadCorpus();
  let model: GPT;
  let tokenizer: Tokenizer;
  let how: string;
  const extending = has(dir);
  if (extending) {
    const ck = loadCheckpoint(dir);
    if (!ck.tokenizer) throw new Error(`ensurePretrained: checkpoint ${dir} has no tokenizer: re-run notebooks/02-transformer.ipynb`);
    tokenizer = ck.tokenizer;
    const init = new Map<string, tf.Tensor>(ck.model.params);
    const wpe = ck.model.params.get('wpe')!;
    const reps = Math.ceil(minBlockSize / ck.config.blockSize);
    init.set('wpe', tf.tidy(() => tf.tile(wpe, [reps, 1]).slice(0, minBlockSize)));
    model = new GPT({ ...ck.config, blockSize: minBlockSize }, init);
    init.get('wpe')!.dispose();
    ck.model.dispose();
    how = `${dir} with its context extended from ${ck.config.blockSize} to ${minBlockSize}`;
  } else {
    tokenizer = BpeTokenizer.train(splitText(text).train, FAST ? 500 : COURSE_BPE_MERGES, { alphabet: text });
    const size: Partial<GPTConfig> = FAST ? { nLayer: 2, nHead: 2, nEmbd: 64 } : {};
    model = new GPT({ ...GPT_PRESETS.course, ...size, vocabSize: tokenizer.vocabSize, blockSize: minBlockSize });
    how = 'a new model (no chapter 02 checkpoint)';
  }
  const recipe = extending ? EXTEND_CONTEXT : FROM_SCRATCH;
  const steps = opts.steps ?? recipe.steps;
  const result = await pretrain(
    { model, trainIds: Int32Array.from(tokenizer.encode(splitText(text).train)) },
    { ...PRETRAIN_PRESETS.course, steps, lr: recipe.lr, minLr: recipe.minLr, warmupSteps: Math.ceil(steps / 10), evalEvery: 0, batchSize: 12, seed: 0 },
    { title: extending ? 'extending the context' : 'pretraining (chapter 02 checkpoint missing)', display: opts.display },
  );
  result.optimizer.dispose();
  saveCheckpoint(fallbackDir, { model, tokenizer, step: steps, meta: { kind: 'pretrained', by: 'ensurePretrained', from: how } });
  return { model, tokenizer, source: `${how}, trained ${steps} steps and saved to ${fallbackDir}` };
}
