/**
 * The base model SFT starts from (chapter 03): chapter 02's checkpoint, or one made from it or
 * from scratch when it is missing or reads too short a context. It lives in course/ because it
 * knows the course's artifacts (the pretrained and pretrainedChat stages); the pretraining itself
 * is train/pretrain.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { FAST } from '../core/mode';
import { BpeTokenizer, COURSE_BPE_MERGES } from '../text/bpe';
import { loadCorpus, splitText } from '../text/corpus';
import { Tokenizer } from '../text/tokenizer';
import { GPT, GPT_PRESETS, GPTConfig } from '../model/model';
import { checkpointChecksum, loadCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { PRETRAIN_PRESETS, pretrain } from '../train/pretrain';
import { TrainDisplay } from '../train/train';
import { stagePath } from './stages';

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
 *   2. else a model an earlier call saved in `fallbackDir` (default the pretrainedChat stage), if it
 *      was made from the checkpoint now in `dir` (chapter 02 re-run since: it is made again);
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
  // the weights the fallback must have been made from: chapter 02's, or none when it is missing
  const sourceChecksum = has(dir) ? checkpointChecksum(dir) : undefined;
  for (const d of [dir, fallbackDir]) {
    if (!has(d)) continue;
    const ck = loadCheckpoint(d);
    const current = d === dir || ck.meta.fromChecksum === sourceChecksum;
    if (current && ck.config.blockSize >= minBlockSize && ck.tokenizer) return { model: ck.model, tokenizer: ck.tokenizer, source: d };
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
  saveCheckpoint(fallbackDir, { model, tokenizer, step: steps, meta: { kind: 'pretrained', by: 'ensurePretrained', from: how, fromChecksum: sourceChecksum } });
  return { model, tokenizer, source: `${how}, trained ${steps} steps and saved to ${fallbackDir}` };
}
