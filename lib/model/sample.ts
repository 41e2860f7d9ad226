/**
 * Sampling from a GPT.
 *
 * `generate`: batched prompts of different lengths, temperature / top-k / top-p, a seed, stop at
 * `<end>`, and incremental decoding with a KV cache (each new token costs one position).
 * `padBatch`: the right-padded [B, T] layout every method uses. Scoring given text (per-token
 * log-probs) is model/logprobs.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { GPT, KVCache } from './model';
import { Rng } from '../core/rng';

export interface GenerateOptions {
  /** Tokens to add to every prompt (fewer if a row emits endId). */
  maxNewTokens: number;
  /** Logits are divided by it before sampling; 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (default: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (nucleus; default 1). */
  topP?: number;
  /** Seed of the sampler. Default 1337. */
  seed?: number;
  /** A row stops after emitting it (it is kept as the completion's last token). */
  endId?: number;
  /** Filler id for left-padding the batch internally and after a row has stopped. */
  padId: number;
  /** Incremental decoding with a KV cache (default true); false recomputes the whole context. */
  useCache?: boolean;
}

export interface Generation {
  /** Prompt followed by the completion (no pads). */
  tokens: number[];
  /** The new tokens, including endId if the row stopped. */
  completion: number[];
  /** True if the row emitted endId. */
  finished: boolean;
  /** Natural-log probability of each completion token under the temperature-scaled model
   *  (before top-k/top-p filtering; temperature 1 when greedy): what `completionLogProbs` gives. */
  logProbs: number[];
}

/** Probabilities of one row of logits after temperature, top-k and top-p (float64, sums to 1). */
export function samplingProbs(logits: ArrayLike<number>, temperature: number, topK?: number, topP?: number): Float64Array {
  const V = logits.length;
  const p = new Float64Array(V);
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    p[best] = 1;
    return p;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]);
  let z = 0;
  for (let i = 0; i < V; i++) z += (p[i] = Math.exp((logits[i] - max) / temperature));
  for (let i = 0; i < V; i++) p[i] /= z;
  const k = Math.min(topK ?? V, V);
  const nucleus = topP ?? 1;
  if (k < V || nucleus < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a]);
    let cum = 0;
    let keep = 0;
    while (keep < k && (keep === 0 || cum < nucleus)) cum += p[order[keep++]];
    for (let r = keep; r < V; r++) p[order[r]] = 0;
    for (let i = 0; i < V; i++) p[i] /= cum;
  }
  return p;
}

function checkOptions(model: GPT, prompts: number[][], o: GenerateOptions): void {
  const V = model.config.vocabSize;
  if (!Array.isArray(prompts) || prompts.length === 0) throw new Error('generate: prompts must be a non-empty array of id arrays');
  prompts.forEach((pr, b) => {
    if (!Array.isArray(pr) || pr.length === 0) throw new Error(`generate: prompt ${b} is empty (start it with at least one token)`);
    for (const id of pr) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`generate: prompt ${b} has id ${id} outside [0, ${V})`);
    }
  });
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be an integer >= 0, got ${o.maxNewTokens}`);
  const t = o.temperature ?? 1;
  if (!(t >= 0)) throw new Error(`generate: temperature must be >= 0, got ${t}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new Error(`generate: topK must be an integer >= 1, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.padId) || o.padId < 0 || o.padId >= V) throw new Error(`generate: padId ${o.padId} outside [0, ${V})`);
}

/**
 * Continue each prompt. Rows are left-padded to a common length inside (attention mask hides the
 * pads, positions count only real tokens), so a prompt's continuation does not depend on the other
 * rows. Context window: when it would exceed blockSize, the last blockSize/2 columns are kept and
 * decoding continues from them (the same rule with and without the cache, so both give the same
 * tokens at any length).
 */
export function generate(model: GPT, prompts: number[][], opts: GenerateOptions): Generation[] {
  checkOptions(model, prompts, opts);
  const { maxNewTokens, padId, endId } = opts;
  const temperature = opts.temperature ?? 1;
  const useCache = opts.useCache ?? true;
  const rng = new Rng(opts.seed ?? 1337);
  const { blockSize, vocabSize: V, nLayer } = model.config;
  const B = prompts.length;
  const P = Math.max(...prompts.map((p) => p.length));
  // Growing [B, L] left-padded token and mask columns (plain arrays; tensors are made per step).
  const cols: number[][] = prompts.map((p) => [...new Array(P - p.length).fill(padId), ...p]);
  const mask: number[][] = prompts.map((p) => [...new Array(P - p.length).fill(0), ...new Array(p.length).fill(1)]);
  const out: Generation[] = prompts.map((p) => ({ tokens: [...p], completion: [], finished: false, logProbs: [] }));
  const keep = Math.max(1, Math.floor(blockSize / 2));
  let start = Math.max(0, P - blockSize); // first column of the context window
  const cache = useCache ? new KVCache(nLayer) : null;

  // Logits [B, V] for the next token given columns [start, L): full window, or only the last column.
  // The tensor leaves tidy and is read after: tidy walks a returned typed array element by element.
  const nextLogits = (): Float32Array => {
    const t = logitsTensor();
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  };
  const logitsTensor = (): tf.Tensor2D => tf.tidy(() => {
    const L = cols[0].length;
    const full = !cache || cache.length === 0;
    const from = full ? start : L - 1;
    const win = cols.map((r) => r.slice(from, L));
    const winMask = mask.map((r) => r.slice(start, L));
    const positions = mask.map((r) => {
      let n = 0;
      const pos = r.slice(start, L).map((m) => Math.max(0, (n += m) - 1));
      return pos.slice(from - start);
    });
    const hidden = model.forwardHidden(tf.tensor2d(win, undefined, 'int32'), {
      attentionMask: tf.tensor2d(winMask, undefined, 'float32'),
      positions: tf.tensor2d(positions, undefined, 'int32'),
      cache: cache ?? undefined,
    });
    const [, T, C] = hidden.shape;
    // the LM head on the last position only (the prompt's other positions need no [V] scores)
    return model.headLogits(hidden.slice([0, T - 1, 0], [B, 1, C]).reshape([B, C]) as tf.Tensor2D);
  });

  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const L = cols[0].length;
      if (L - start > blockSize) {
        start = L - keep;
        cache?.dispose();
      }
      const logits = nextLogits();
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        let id = padId;
        const active = !out[b].finished;
        if (active) {
          const probs = samplingProbs(row, temperature, opts.topK, opts.topP);
          id = rng.categorical(probs);
          // without top-k/top-p the sampling distribution is the temperature-scaled one: no second pass
          const scaled = temperature > 0 && opts.topK === undefined && opts.topP === undefined ? probs : samplingProbs(row, temperature === 0 ? 1 : temperature);
          out[b].logProbs.push(Math.log(scaled[id]));
          out[b].completion.push(id);
          out[b].tokens.push(id);
          if (id === endId) out[b].finished = true;
        }
        cols[b].push(id);
        mask[b].push(active ? 1 : 0);
      }
      if (out.every((g) => g.finished)) break;
    }
  } finally {
    cache?.dispose();
  }
  return out;
}

/**
 * Right-pad id arrays into tokens [B,T] int32 and mask [B,T] (1 real, 0 pad): the batch layout
 * every method uses. T = longest row (or `length`).
 */
export function padBatch(rows: number[][], padId: number, length?: number): { tokens: tf.Tensor2D; mask: tf.Tensor2D } {
  const T = length ?? Math.max(...rows.map((r) => r.length));
  const tok = new Int32Array(rows.length * T).fill(padId);
  const m = new Float32Array(rows.length * T);
  rows.forEach((r, b) => {
    if (r.length > T) throw new Error(`padBatch: row ${b} has ${r.length} tokens, more than length ${T}`);
    tok.set(r, b * T);
    m.fill(1, b * T, b * T + r.length);
  });
  return { tokens: tf.tensor2d(tok, [rows.length, T], 'int32'), mask: tf.tensor2d(m, [rows.length, T], 'float32') };
}
