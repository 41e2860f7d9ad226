/**
 * The text corpus: loading with clear errors, a contiguous train/held-out split, and random
 * [B, T] training windows for language modelling (nanoGPT's get_batch).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { findRepoRoot } from '../core/mode';
import { Rng } from '../core/rng';

/** data/tinyshakespeare.txt under the repo root (found from the working directory). */
function defaultCorpusPath(): string {
  return path.join(findRepoRoot(), 'data', 'tinyshakespeare.txt');
}

/** Read a UTF-8 text corpus; a missing, unreadable or empty file throws an Error naming the path. */
export function loadCorpus(file: string = defaultCorpusPath()): string {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new Error(`loadCorpus: corpus file not found: ${full}`);
  if (!fs.statSync(full).isFile()) throw new Error(`loadCorpus: corpus path is not a file: ${full}`);
  const text = fs.readFileSync(full, 'utf8');
  if (text.length === 0) throw new Error(`loadCorpus: corpus file is empty: ${full}`);
  if (text.includes('\uFFFD')) throw new Error(`loadCorpus: corpus file is not valid UTF-8 text: ${full}`);
  return text;
}

export interface TextSplit {
  train: string;
  heldOut: string;
}

/**
 * Contiguous split like nanoGPT: the first `trainFrac` of the characters train, the rest is held
 * out. Contiguous (not shuffled lines) so held-out text is unseen passages, not interleaved ones.
 */
export function splitText(text: string, trainFrac: number = 0.9): TextSplit {
  if (!(trainFrac > 0 && trainFrac < 1)) throw new Error(`splitText: trainFrac must be in (0, 1), got ${trainFrac}`);
  const cut = Math.floor(text.length * trainFrac);
  if (cut === 0 || cut === text.length) {
    throw new Error(`splitText: text of ${text.length} characters is too short to split at ${trainFrac}`);
  }
  return { train: text.slice(0, cut), heldOut: text.slice(cut) };
}

export interface Batch {
  /** Inputs, int32 [B, T]. */
  x: tf.Tensor2D;
  /** Targets = inputs shifted left by one, int32 [B, T]: y[b, t] = ids[start_b + t + 1]. */
  y: tf.Tensor2D;
}

/**
 * `batchSize` random windows of `blockSize + 1` tokens from `ids` (starts drawn from `rng`),
 * returned as next-token prediction pairs. The caller disposes x and y.
 */
export function getBatch(ids: Int32Array, batchSize: number, blockSize: number, rng: Rng): Batch {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`getBatch: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new Error(`getBatch: blockSize must be a positive integer, got ${blockSize}`);
  if (ids.length < blockSize + 1) {
    throw new Error(`getBatch: need at least blockSize + 1 = ${blockSize + 1} tokens, got ${ids.length}`);
  }
  const x = new Int32Array(batchSize * blockSize);
  const y = new Int32Array(batchSize * blockSize);
  const starts = ids.length - blockSize; // valid starts: 0..ids.length - blockSize - 1
  for (let b = 0; b < batchSize; b++) {
    const s = rng.int(starts);
    x.set(ids.subarray(s, s + blockSize), b * blockSize);
    y.set(ids.subarray(s + 1, s + blockSize + 1), b * blockSize);
  }
  return { x: tf.tensor2d(x, [batchSize, blockSize], 'int32'), y: tf.tensor2d(y, [batchSize, blockSize], 'int32') };
}
