// Shapes shared by the benchmark scripts (issue 3's configs A and B, issue 24's course shape C) and a
// reproducible random batch (the benchmark measures speed, not learning).
import { tf } from '../lib/engine/backend';
import { GPTConfig, gptConfig } from '../lib/model/model';

export interface BenchConfig {
  name: BenchName;
  vocab: number;
  context: number;
  width: number;
  layers: number;
  heads: number;
  batch: number;
}

export type BenchName = 'A' | 'B' | 'C';

export const BENCH_CONFIGS: Record<BenchName, BenchConfig> = {
  A: { name: 'A', vocab: 65, context: 64, width: 128, layers: 4, heads: 4, batch: 32 },
  B: { name: 'B', vocab: 65, context: 128, width: 256, layers: 6, heads: 8, batch: 16 },
  // The course model as notebooks 02+ train it: GPT_PRESETS.course with the 4,000-merge BPE
  // vocabulary (4,067 ids) and PRETRAIN_PRESETS.course's batch of 16: the output layer is 4,067 wide.
  C: { name: 'C', vocab: 4067, context: 64, width: 128, layers: 4, heads: 4, batch: 16 },
};

/** The GPT of a config (the course model's defaults otherwise: no dropout, tied embeddings, seed 1337). */
export function benchGPTConfig(c: BenchConfig): GPTConfig {
  return gptConfig({ vocabSize: c.vocab, blockSize: c.context, nLayer: c.layers, nHead: c.heads, nEmbd: c.width });
}

/** Tokens per training step. */
export const tokensPerStep = (c: BenchConfig) => c.batch * c.context;

/** Rows of the log-prob pass: DPO's batch of `batch` pairs (chosen and rejected) = 2 x batch sequences. */
export const logProbRows = (c: BenchConfig) => 2 * c.batch;

/** x, y int32 [batch, context]: y is x shifted by one, as in next-token training. */
export function randomBatch(c: BenchConfig, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const ids = new Int32Array(c.batch * (c.context + 1));
  for (let i = 0; i < ids.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    ids[i] = s % c.vocab;
  }
  const x = new Int32Array(c.batch * c.context), y = new Int32Array(c.batch * c.context);
  for (let b = 0; b < c.batch; b++) {
    x.set(ids.subarray(b * (c.context + 1), b * (c.context + 1) + c.context), b * c.context);
    y.set(ids.subarray(b * (c.context + 1) + 1, (b + 1) * (c.context + 1)), b * c.context);
  }
  return { x: tf.tensor2d(x, [c.batch, c.context], 'int32'), y: tf.tensor2d(y, [c.batch, c.context], 'int32') };
}

/** Kernel time by kernel name of a tf.profile result, largest first: prints the total and the top `top` lines. */
export function printKernelTimes(info: { kernels: { name: string; kernelTimeMs: number | { error: string } | Promise<number | { error: string }> }[] }, label: string, top = 25): void {
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    byName.set(k.name, e);
  }
  const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`${label}: ${total.toFixed(0)} ms in ${info.kernels.length} kernel calls`);
  for (const [name, e] of rows.slice(0, top)) console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(6)} calls`);
}
