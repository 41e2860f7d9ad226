/**
 * Supervised fine-tuning (SFT): teach a pretrained language model the chat format by next-token
 * prediction on prompt -> completion exchanges (task.ts), with the loss on the completion only.
 *
 * One row of a batch, for the exchange  prompt p_1..p_P, completion r_1..r_R, then <end>:
 *
 *   sequence s = p_1 .. p_P r_1 .. r_R <end>                         (L = P + R + 1 tokens)
 *   input  x_t = s_t,  target y_t = s_{t+1},  t = 0..L-2                (then <pad> to width T)
 *   lossMask_t = 1  iff  y_t is a completion token or <end>  (t >= P - 1), and y_t is not <pad>
 *
 * The prompt is masked by its known length P, never by searching the token ids for "Assistant:"
 * (that search breaks when tokenisation depends on context, trl#598). `<end>` stays in the loss so
 * the model learns to stop; `<pad>` (a different id, trl#1623) never enters it. Rows are
 * right-padded and causal, so real tokens never attend to the pads after them.
 * Loss = mean over loss-mask tokens of -log p(y_t | x_<=t), nats per completion token.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../model/model';
import { crossEntropy } from '../model/layers';
import { Presets, preset } from '../core/mode';
import { Rng } from '../core/rng';
import { Tokenizer } from '../text/tokenizer';
import { TRAIN_DEFAULTS, TrainConfig, trainLoop, TrainResult, TrainerOptions } from '../train/train';

/** What SFT needs from an example (task.ts's ChatExample has more). */
export interface PromptCompletion {
  prompt: string;
  completion: string;
}

export interface SFTConfig extends TrainConfig {
  /** Exchanges per step (default 16). */
  batchSize: number;
  /** Held-out exchanges scored at each evaluation (default 64). */
  evalExamples: number;
  /** Seed of the example order (default 0). */
  seed: number;
}

/**
 * Fine-tuning defaults: a peak lr well below pretraining's (3e-4 vs the course preset's 2e-3,
 * pretrain.ts) and a short warm-up so the pretrained weights are adjusted, not overwritten; no
 * weight decay toward zero of pretrained weights (0, as TRL's SFTTrainer default); batches of 16
 * exchanges, the seed of their order 0. `course`: ~1.3 epochs of the ~2,300 training exchanges.
 */
export const SFT_PRESETS: Presets<SFTConfig> = {
  tiny: { ...TRAIN_DEFAULTS, steps: 80, lr: 2e-3, minLr: 2e-4, warmupSteps: 8, weightDecay: 0, evalEvery: 20, logEvery: 10, batchSize: 16, evalExamples: 32, seed: 0 },
  course: { ...TRAIN_DEFAULTS, steps: 200, lr: 3e-4, minLr: 3e-5, warmupSteps: 20, weightDecay: 0, evalEvery: 50, logEvery: 10, batchSize: 16, evalExamples: 64, seed: 0 },
};

/** SFT_PRESETS.tiny in fast mode, .course otherwise, patched by `override`. */
export function sftConfig(override: Partial<SFTConfig> = {}): SFTConfig {
  return preset(SFT_PRESETS, override);
}

/** Inputs, targets and loss mask of a batch, [B, T] each (T = longest row - 1). */
export interface ChatBatch {
  /** int32, right-padded with padId. */
  inputs: tf.Tensor2D;
  /** int32, inputs shifted left by one, right-padded with padId. */
  targets: tf.Tensor2D;
  /** float32, 1 where the target is a completion token or <end>. */
  lossMask: tf.Tensor2D;
  /** Prompt length in tokens of each row. */
  promptLengths: number[];
}

/** Token ids of prompt + completion + <end>, and the prompt's length. */
function encodeExchange(tok: Tokenizer, ex: PromptCompletion): { ids: number[]; promptLength: number } {
  const p = tok.encode(ex.prompt);
  return { ids: [...p, ...tok.encodeWithEnd(ex.completion)], promptLength: p.length };
}

/** The examples whose prompt + completion + <end> fit a model's context (blockSize + 1 ids: inputs and targets). */
export function fitsContext<T extends PromptCompletion>(tok: Tokenizer, examples: T[], blockSize: number): T[] {
  return examples.filter((ex) => encodeExchange(tok, ex).ids.length <= blockSize + 1);
}

/** Build a ChatBatch (see the module comment). A row longer than blockSize + 1 tokens throws. */
export function chatBatch(tok: Tokenizer, examples: PromptCompletion[], blockSize: number): ChatBatch {
  if (examples.length === 0) throw new Error('chatBatch: no examples');
  const rows = examples.map((ex, i) => {
    const r = encodeExchange(tok, ex);
    if (r.promptLength === 0) throw new Error(`chatBatch: example ${i} has an empty prompt`);
    if (r.ids.length - 1 > blockSize) {
      throw new Error(`chatBatch: example ${i} has ${r.ids.length} tokens; at most blockSize + 1 = ${blockSize + 1} fit (filter with fitsContext)`);
    }
    return r;
  });
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length - 1));
  const x = new Int32Array(B * T).fill(tok.padId);
  const y = new Int32Array(B * T).fill(tok.padId);
  const m = new Float32Array(B * T);
  rows.forEach(({ ids, promptLength }, b) => {
    for (let t = 0; t < ids.length - 1; t++) {
      x[b * T + t] = ids[t];
      y[b * T + t] = ids[t + 1];
      if (t >= promptLength - 1) m[b * T + t] = 1;
    }
  });
  return {
    inputs: tf.tensor2d(x, [B, T], 'int32'),
    targets: tf.tensor2d(y, [B, T], 'int32'),
    lossMask: tf.tensor2d(m, [B, T], 'float32'),
    promptLengths: rows.map((r) => r.promptLength),
  };
}

export function disposeBatch(b: ChatBatch): void {
  tf.dispose([b.inputs, b.targets, b.lossMask]);
}

/** Mean negative log-likelihood (nats) of the completion tokens and <end>: logits [B, T, V]. */
export function sftLossFromLogits(logits: tf.Tensor3D, batch: ChatBatch): tf.Scalar {
  return crossEntropy(logits, batch.targets, batch.lossMask);
}

/** The SFT loss of `policy` on a batch (differentiable): sftLossFromLogits without the [B, T, V] logits. */
export function sftLoss(policy: GPT, batch: ChatBatch, training = false): tf.Scalar {
  return policy.loss(batch.inputs, batch.targets, { mask: batch.lossMask, training });
}

/** Held-out SFT loss over `examples`, in batches of `batchSize` (token-weighted mean). */
export function sftEval(policy: GPT, tok: Tokenizer, examples: PromptCompletion[], batchSize = 16): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const batch = chatBatch(tok, examples.slice(i, i + batchSize), policy.config.blockSize);
    let n = 0;
    for (const m of batch.lossMask.dataSync()) n += m;
    const loss = sftLoss(policy, batch);
    total += loss.dataSync()[0] * n;
    count += n;
    loss.dispose();
    disposeBatch(batch);
  }
  return total / count;
}

/** What SFT trains on. */
export interface SFTInputs {
  /** The model to fine-tune, in place. */
  policy: GPT;
  tokenizer: Tokenizer;
  /** Training exchanges (at least config.batchSize). */
  examples: PromptCompletion[];
  /** Held-out exchanges for the evaluation loss (the first config.evalExamples are used). */
  heldOut?: PromptCompletion[];
}

export type SFTOptions = TrainerOptions;

/**
 * Fine-tune `policy` in place on `examples` with trainLoop: each step takes the next batchSize
 * examples of a seeded shuffle (reshuffled every epoch). Returns the loop's history and evals
 * ({ heldOut: loss } if held-out examples are given).
 */
export async function sftTrain(inputs: SFTInputs, config: SFTConfig, opts: SFTOptions = {}): Promise<TrainResult> {
  const { policy, tokenizer: tok, examples: data } = inputs;
  if (data.length < config.batchSize) throw new Error(`sftTrain: ${data.length} examples, fewer than batchSize ${config.batchSize}`);
  if (tok.vocabSize !== policy.config.vocabSize) {
    throw new Error(`sftTrain: tokenizer has ${tok.vocabSize} ids, the model ${policy.config.vocabSize}`);
  }
  const rng = new Rng(config.seed);
  const nextIdx = rng.batches(data.length, config.batchSize);
  const nextBatch = (): PromptCompletion[] => nextIdx().map((i) => data[i]);
  const heldOut = inputs.heldOut?.slice(0, config.evalExamples);
  return trainLoop({
    params: policy.parameters(),
    config,
    title: opts.title ?? 'SFT',
    display: opts.display,
    signal: opts.signal,
    // The batch is built inside lossFn: trainLoop's gradient scope frees it after the backward pass.
    lossFn: () => ({ loss: sftLoss(policy, chatBatch(tok, nextBatch(), policy.config.blockSize), true) }),
    evalFn: heldOut && heldOut.length > 0 ? () => ({ heldOut: sftEval(policy, tok, heldOut, config.batchSize) }) : undefined,
  });
}
