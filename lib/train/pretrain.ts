/**
 * Pretraining: next-token prediction on random windows of the corpus, through the one trainLoop.
 * Notebook 02 pretrains the course model with `pretrain()`, course/basemodel.ts's
 * `ensurePretrained()` calls it when chapter 02's model is missing or reads too short a context,
 * and the benchmark (bench/) times the same step.
 *
 *   each step: batchSize windows of blockSize + 1 consecutive ids (corpus.ts getBatch), inputs x =
 *   the first blockSize, targets y = the last blockSize; loss = mean cross-entropy, nats per token.
 */
import * as tf from '@tensorflow/tfjs';
import { getBatch } from '../text/corpus';
import { LanguageModel } from '../model/model';
import { streamLoss } from '../model/streamLoss';
import { Presets, preset } from '../core/mode';
import { Rng } from '../core/rng';
import { AdamW, Optimizer, StepRecord, TRAIN_DEFAULTS, TrainConfig, trainLoop, TrainResult, TrainerOptions } from './train';

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
 * 16 x 64 tokens, 2,000 steps (about seven passes over the training text), peak lr 2e-3 with 100
 * warm-up steps and cosine decay to 2e-4, weight decay 0.1, clip 1: nanoGPT's shakespeare-char recipe
 * (lr 1e-3, 5,000 steps, batch 64 x 256) scaled to a smaller model and batch, with a higher lr as
 * small models tolerate. 2,000 rather than TRAIN_DEFAULTS' 3,000 steps keeps chapter 02 under 8
 * minutes on 2 cores (issue 24: at 2,400 steps the chapter took 8.6 min on an idle 2-core machine);
 * the model has started to memorise the text by then (chapter 02).
 * `tiny` (fast mode): GPT_PRESETS.tiny, 800 steps at lr 3e-3.
 */
export const PRETRAIN_PRESETS: Presets<PretrainConfig> = {
  tiny: { ...TRAIN_DEFAULTS, steps: 800, lr: 3e-3, minLr: 3e-4, warmupSteps: 20, evalEvery: 200, logEvery: 10, batchSize: 16, evalTokens: 4_096, seed: 1337 },
  course: { ...TRAIN_DEFAULTS, steps: 2_000, batchSize: 16, evalTokens: 16_384, seed: 1337 },
};

/** PRETRAIN_PRESETS.tiny in fast mode, .course otherwise, patched by `override`. */
export function pretrainConfig(override: Partial<PretrainConfig> = {}): PretrainConfig {
  return preset(PRETRAIN_PRESETS, override);
}

export interface PretrainInputs {
  /** The GPT, or any LanguageModel (chapter 02's ladder rungs). */
  model: LanguageModel;
  /** Training token ids (windows are drawn from them), unless `batch` is given. */
  trainIds?: Int32Array;
  /** Held-out ids: with them, each evaluation reports { train, "held-out" } loss on evalTokens tokens each. */
  heldOutIds?: Int32Array;
  /** Batches from elsewhere (the benchmark's fixed random batches) instead of windows of trainIds. */
  batch?: (step: number) => { x: tf.Tensor2D; y: tf.Tensor2D };
}

export interface PretrainOptions<O extends Optimizer = AdamW> extends TrainerOptions {
  /** Continue with this optimizer (e.g. rebuilt from a checkpoint, or kept across an interrupted run), or another kind (SGD). */
  optimizer?: O;
  /**
   * The sampler of training windows (default: a fresh Rng(config.seed)). Pass the same one with the
   * same optimizer to continue an interrupted run on the windows an uninterrupted run would have drawn.
   */
  rng?: Rng;
  onStep?: (rec: StepRecord) => void | boolean | Promise<void | boolean>;
}

/** Pretrain `model` in place (see the module comment); returns the loop's history and evals. */
export async function pretrain<O extends Optimizer = AdamW>(inputs: PretrainInputs, config: PretrainConfig, opts: PretrainOptions<O> = {}): Promise<TrainResult<O>> {
  const { model, trainIds, heldOutIds } = inputs;
  const blockSize = model.config.blockSize;
  if (!inputs.batch && !trainIds) throw new Error('pretrain: give trainIds (or a batch function)');
  if (trainIds && trainIds.length <= blockSize) throw new Error(`pretrain: ${trainIds.length} training ids, need more than blockSize ${blockSize}`);
  const rng = opts.rng ?? new Rng(config.seed);
  const nextBatch = inputs.batch ?? (() => getBatch(trainIds!, config.batchSize, blockSize, rng));
  return trainLoop<O>({
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
