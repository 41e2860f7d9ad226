// Native kernels (lib/engine/native) against tfjs's stock cpu kernels on random shapes,
// including broadcasting and transposes; fused ops against their tfjs formulas;
// the buffer pool's aliasing rules; a tiny GPT forward/backward end to end.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT } from '../lib/model/model';
import { padBatch } from '../lib/model/sample';
import { completionLogProbs } from '../lib/model/logprobs';
import { ADDON_PATH, loadAddon } from '../lib/engine/native/addon';
import { execFileSync } from 'child_process';
import { adamwUpdate, BLOCK_PARAMS, BlockParams, fusedAttention, fusedGelu, fusedLayerNorm, headLogProbs, loadNativeKernels, softmaxCrossEntropy, transformerBlock, useNativeKernels } from '../lib/engine/native';
import { Rng } from '../lib/core/rng';

const native = (() => {
  (tf.findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
  return loadNativeKernels();
})();
const available = !('error' in native);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let seed = 1;
const rand = (shape: number[], scale = 1) => tf.randomUniform(shape, -scale, scale, 'float32', seed++);
const randPos = (shape: number[]) => tf.randomUniform(shape, 0.5, 2, 'float32', seed++);

/** Runs f with stock kernels then native ones; every output must agree to tol (relative to magnitude). */
function agree(f: () => tf.Tensor | tf.Tensor[], tol = 1e-5): void {
  const run = (on: boolean) => {
    useNativeKernels(on);
    try {
      return ([] as tf.Tensor[]).concat(f());
    } finally {
      useNativeKernels(true);
    }
  };
  const stock = run(false), fast = run(true);
  expect(fast.length).toBe(stock.length);
  stock.forEach((s, i) => {
    expect(fast[i].shape).toEqual(s.shape);
    expect(fast[i].dtype).toBe(s.dtype);
    const a = s.dataSync(), b = fast[i].dataSync();
    for (let j = 0; j < a.length; j++) {
      if (Math.abs(a[j] - b[j]) > tol * (1 + Math.abs(a[j]))) {
        throw new Error(`output ${i} [${s.shape}] element ${j}: stock ${a[j]} vs native ${b[j]}`);
      }
    }
  });
  tf.dispose([...stock, ...fast]);
}

describe('native addon', () => {
  it('loads (or reports in one line why not; RLHF_REQUIRE_NATIVE=1 makes its absence a failure)', () => {
    if (process.env.RLHF_REQUIRE_NATIVE === '1') expect('error' in native ? native.error : 'loaded').toBe('loaded');
    if (!available) {
      expect((native as { error: string }).error).toMatch(/not built|failed to load/);
      expect(loadAddon().error).toBeDefined();
      return;
    }
    expect(native.kernels).toEqual(expect.arrayContaining(['BatchMatMul', 'Add', 'Sum', 'Softmax', 'GatherV2', 'UnsortedSegmentSum']));
    expect(native.threads).toBeGreaterThanOrEqual(1);
  });
});

describe.runIf(available)('native kernels equal the stock cpu kernels', () => {
  it('BatchMatMul: 2-D, batched, broadcast batch dims, every transpose combination', () => {
    const cases: [number[], number[]][] = [
      [[5, 7], [7, 3]], [[4, 5, 7], [4, 7, 3]], [[2, 3, 5, 7], [3, 7, 4]], [[6, 5, 7], [7, 3]],
      [[5, 7], [2, 7, 3]], [[1, 5, 7], [3, 7, 2]], [[3, 64, 32], [3, 32, 64]],
    ];
    const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
    for (const [sa, sb] of cases) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = rand(swap(sa, ta)), b = rand(swap(sb, tb));
        agree(() => tf.matMul(a, b, ta, tb), 1e-5);
      }
    }
  });

  it('BatchMatMul broadcasts batch dims that are 1 on different sides (stock tfjs gets this wrong)', () => {
    // a [2,1,...] with b [1,4,...]: the stock kernel pairs batches by flat index modulo,
    // so the reference is the stock kernel on explicitly tiled operands.
    for (const [ta, tb] of [[false, false], [true, true]]) {
      const a = rand(ta ? [2, 1, 17, 33] : [2, 1, 33, 17]), b = rand(tb ? [1, 4, 40, 17] : [1, 4, 17, 40]);
      useNativeKernels(false);
      const ref = tf.matMul(tf.tile(a, [1, 4, 1, 1]), tf.tile(b, [2, 1, 1, 1]), ta, tb);
      useNativeKernels(true);
      const got = tf.matMul(a, b, ta, tb);
      expect(got.shape).toEqual([2, 4, 33, 40]);
      const r = ref.dataSync(), g = got.dataSync();
      for (let i = 0; i < r.length; i++) expect(Math.abs(r[i] - g[i])).toBeLessThan(1e-5 * (1 + Math.abs(r[i])));
    }
  });

  it('Add/Sub/Mul/Div/Maximum/Minimum/SquaredDifference with broadcasting', () => {
    const pairs: [number[], number[]][] = [
      [[2, 3, 4, 5], [2, 3, 4, 5]], [[2, 3, 4, 5], [5]], [[2, 3, 4, 5], [3, 1, 5]], [[2, 1, 4, 1], [3, 1, 6]],
      [[7], []], [[], [4, 3]], [[4, 1], [1, 9]], [[1, 1, 8], [8, 1]], [[32, 4, 16, 16], [1, 1, 16, 16]],
    ];
    for (const [sa, sb] of pairs) {
      const a = rand(sa, 3), b = rand(sb, 3), pos = randPos(sb);
      agree(() => [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.sub(b, a), tf.div(a, pos),
        tf.maximum(a, b), tf.minimum(a, b), tf.squaredDifference(a, b)]);
    }
  });

  it('unary ops', () => {
    const x = rand([3, 50, 7], 4), p = randPos([3, 50, 7]);
    agree(() => [tf.exp(x), tf.tanh(x), tf.neg(x), tf.square(x), tf.relu(x), tf.sigmoid(x), tf.abs(x),
      tf.log(p), tf.sqrt(p), tf.rsqrt(p), tf.reciprocal(p)], 2e-6);
    agree(() => [tf.exp(tf.tensor1d([-100, -87, 0, 80, 88, 100])), tf.tanh(tf.tensor1d([-20, -1e-3, 0, 1e-3, 20]))], 2e-6);
  });

  it('Sum/Mean/Max/Min over adjacent and non-adjacent axes, with and without keepDims', () => {
    const x = rand([3, 4, 5, 6], 2);
    for (const axis of [undefined, 0, 1, 3, -1, [0, 1], [1, 2], [2, 3], [0, 2], [1, 3], [0, 1, 2, 3]]) {
      for (const keep of [false, true]) {
        agree(() => [tf.sum(x, axis, keep), tf.mean(x, axis, keep), tf.max(x, axis, keep), tf.min(x, axis, keep)], 1e-5);
      }
    }
    const y = rand([4, 1, 3]);
    agree(() => tf.sum(y, [0, 1]));
  });

  it('Softmax, Transpose, Slice, Concat, SplitV, AddN', () => {
    const x = rand([2, 3, 4, 5], 5);
    const logits = rand([7, 65], 30);
    agree(() => [tf.softmax(x), tf.softmax(logits)], 1e-5);
    for (const perm of [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 3, 2], [2, 0, 3, 1]]) agree(() => tf.transpose(x, perm));
    const m69 = rand([6, 9]);
    agree(() => tf.transpose(m69));
    const [v9, c1, c2, r23, r13, x2, x3] = [rand([9]), rand([2, 3, 1, 5]), rand([2, 3, 2, 5]), rand([2, 3]), rand([1, 3]), rand([2, 3, 4, 5]), rand([2, 3, 4, 5])];
    agree(() => [tf.slice(x, [0, 1, 0, 2], [2, 2, 3, 2]), tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]), tf.slice(v9, 3, 4)]);
    agree(() => [tf.concat([x, c1, c2], 2), tf.concat([r23, r13], 0), tf.concat([x, x], -1)]);
    agree(() => [...tf.split(x, [1, 3, 1], 3), ...tf.split(x, 3, 1), ...tf.split(x, 2, 0)]);
    agree(() => tf.addN([x, x2, x3]));
  });

  it('PadV2 (constant pad) and Slice\'s gradient, which runs on it', () => {
    const x = rand([2, 3, 4]), w = rand([2, 2, 4]), v = rand([5]);
    agree(() => [tf.pad(x, [[0, 1], [2, 0], [1, 1]]), tf.pad(x, [[1, 0], [0, 0], [0, 3]], 2.5), tf.pad(v, [[3, 2]])]);
    agree(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.slice(t, [0, 1, 0], [2, 2, 4]), w)))(x));
  });

  it('GatherV2 and its gradient UnsortedSegmentSum', () => {
    const table = rand([11, 6]), x = rand([3, 4, 5]);
    const ids = tf.tensor2d([[1, 10, 1], [0, 3, 3]], [2, 3], 'int32');
    agree(() => [tf.gather(table, ids), tf.gather(x, tf.tensor1d([3, 0, 3], 'int32'), 1), tf.gather(x, tf.tensor1d([4, 1], 'int32'), 2)]);
    const w = rand([2, 3, 6]), seg = rand([6, 4]);
    agree(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table));
    agree(() => tf.unsortedSegmentSum(seg, tf.tensor1d([0, 2, 2, 4, 0, 1], 'int32'), 5));
    expect(() => tf.gather(table, tf.tensor1d([11], 'int32'))).toThrow(/index 11/);
  });

  it('shapes big enough to be split over threads', () => {
    const a = rand([512, 256]), b = rand([256, 384]), wide = rand([1024, 600], 4), row = rand([600]);
    agree(() => [tf.matMul(a, b), tf.matMul(a, a, true, false), tf.matMul(b, b, false, true)], 1e-4);
    agree(() => [tf.add(wide, row), tf.exp(wide), tf.sum(wide, 0), tf.sum(wide, 1), tf.softmax(wide), tf.transpose(wide)], 1e-4);
    const [q, k] = [rand([64, 128, 32]), rand([64, 32, 128])];
    agree(() => tf.matMul(q, k), 1e-4);
  });

  it('gradients through matmul, broadcasting and softmax', () => {
    const a = rand([3, 5, 4]), b = rand([3, 6, 4]), bias = rand([6]);
    const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(tf.softmax(tf.add(tf.matMul(p, q, false, true), r)), tf.range(0, 6)));
    agree(() => tf.grads(f)([a, b, bias]), 1e-5);
  });
});

describe.runIf(available)('fused ops: native kernel = tfjs formula, forward and backward', () => {
  const both = (f: () => tf.Tensor[], tol: number) => {
    useNativeKernels(false);
    const ref = f();
    useNativeKernels(true);
    const got = f();
    ref.forEach((r, i) => {
      const a = r.dataSync(), b = got[i].dataSync();
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThan(tol * (1 + Math.abs(a[j])));
    });
  };

  it('fusedLayerNorm', () => {
    const x = rand([3, 5, 16], 3), g = rand([16]), b = rand([16]), w = rand([3, 5, 16]);
    both(() => [fusedLayerNorm(x, g, b), ...tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(fusedLayerNorm(p, q, r), w)))([x, g, b])], 2e-5);
    expect(() => fusedLayerNorm(x, rand([15]), b)).toThrow(/gamma/);
  });

  it('fusedGelu', () => {
    const x = rand([4, 33], 6), w = rand([4, 33]);
    both(() => [fusedGelu(x), tf.grad((p: tf.Tensor) => tf.sum(tf.mul(fusedGelu(p), w)))(x)], 2e-6);
  });

  it('softmaxCrossEntropy', () => {
    const logits = rand([9, 13], 8) as tf.Tensor2D, labels = tf.tensor1d([0, 12, 3, 3, 7, 1, 2, 5, 12], 'int32');
    const w = rand([9]);
    both(() => [softmaxCrossEntropy(logits, labels), tf.grad((l: tf.Tensor) => tf.sum(tf.mul(softmaxCrossEntropy(l as tf.Tensor2D, labels), w)))(logits)], 2e-6);
    expect(() => softmaxCrossEntropy(logits, tf.tensor1d([13, 0, 0, 0, 0, 0, 0, 0, 0], 'int32'))).toThrow(/label 13/);
  });

  it('headLogProbs: the output layer and log-softmax at labels, both weight layouts, with temperature', () => {
    // one partial block of rows (37 < 128) and one partial vocabulary tile (V = 29)
    const [N, C, V] = [37, 8, 29];
    const h = rand([N, C], 2) as tf.Tensor2D, wt = rand([V, C], 2) as tf.Tensor2D, weights = rand([N]);
    const labels = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7) % V), 'int32');
    for (const [w, transposed] of [[wt, true], [tf.transpose(wt) as tf.Tensor2D, false]] as const) {
      for (const temperature of [1, 0.7]) {
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, labels, transposed, temperature), weights));
        both(() => [headLogProbs(h, w, labels, transposed, temperature), ...tf.grads(f)([h, w])], 2e-5);
      }
    }
    // row 0 by hand: log softmax(h0 W^T)[label 0]
    const z = tf.matMul(h.slice([0, 0], [1, C]), wt, false, true).dataSync();
    const lse = Math.log(Array.from(z).reduce((a, x) => a + Math.exp(x), 0));
    expect(headLogProbs(h, wt, labels, true).dataSync()[0]).toBeCloseTo(z[0] - lse, 5);
    expect(() => headLogProbs(h, wt, tf.fill([N], V, 'int32') as tf.Tensor1D, true)).toThrow(/label 29/);
    expect(() => headLogProbs(h, wt, labels, false)).toThrow(/expected h/);
  });

  it('headLogProbs split over threads (course vocabulary)', () => {
    const [N, C, V] = [260, 16, 4067]; // blocks of 128, 128 and 4 rows; 7 full vocabulary tiles and a partial one
    const h = rand([N, C], 2) as tf.Tensor2D, w = rand([V, C], 0.5) as tf.Tensor2D, weights = rand([N]);
    const labels = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 131) % V), 'int32');
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, labels, true), weights));
    both(() => [headLogProbs(h, w, labels, true), ...tf.grads(f)([h, w])], 5e-5);
  });

  it('fusedAttention with a causal bias shared by the batch and with a per-row padding bias', () => {
    const [B, H, T, Tk, D] = [2, 3, 5, 7, 4];
    const q = rand([B, H, T, D], 2) as tf.Tensor4D, k = rand([B, H, Tk, D], 2) as tf.Tensor4D, v = rand([B, H, Tk, D]) as tf.Tensor4D;
    const w = rand([B, H, T, D]);
    const causal = tf.tensor4d(Array.from({ length: T * Tk }, (_, i) => (i % Tk > Math.floor(i / Tk) + 2 ? -1e9 : 0)), [1, 1, T, Tk]);
    const padded = tf.add(causal, tf.tensor4d([0, 0, 0, 0, 0, 0, -1e9, -1e9, 0, 0, 0, 0, 0, 0], [B, 1, 1, Tk])) as tf.Tensor4D;
    for (const bias of [causal, padded]) {
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fusedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, 0.5), w));
      both(() => [fusedAttention(q, k, v, bias, 0.5), ...tf.grads(f)([q, k, v])], 2e-5);
    }
    expect(() => fusedAttention(q, k, v, rand([1, 1, T, T]) as tf.Tensor4D, 0.5)).toThrow(/bias must be/);
  });

  it('fusedAttention split over threads (many heads, long context)', () => {
    const [B, H, T, D] = [4, 4, 128, 16];
    const q = rand([B, H, T, D]) as tf.Tensor4D, k = rand([B, H, T, D]) as tf.Tensor4D, v = rand([B, H, T, D]) as tf.Tensor4D;
    const bias = tf.tensor4d(Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [1, 1, T, T]);
    const w = rand([B, H, T, D]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fusedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, 0.25), w));
    both(() => [fusedAttention(q, k, v, bias, 0.25), ...tf.grads(f)([q, k, v])], 5e-5);
  });

  it('adamwUpdate', () => {
    const run = (on: boolean) => {
      useNativeKernels(on);
      const p = tf.variable(rand([5, 7])), m = tf.variable(tf.zeros([5, 7])), v = tf.variable(tf.zeros([5, 7]));
      seed -= 1;
      for (let step = 1; step <= 3; step++) {
        const g = rand([5, 7]);
        adamwUpdate(p, g, m, v, { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step, gradScale: 0.5 });
      }
      seed -= 3;
      useNativeKernels(true);
      return [p, m, v].map((t) => t.dataSync());
    };
    const ref = run(false), got = run(true);
    ref.forEach((r, i) => r.forEach((x, j) => expect(got[i][j]).toBeCloseTo(x, 6)));
  });
});

describe.runIf(available)('buffer pool never recycles an array something else still sees', () => {
  it('arrays read by dataSync() stay intact after their tensor is disposed', () => {
    const a = rand([64, 64]), b = rand([64, 64]);
    const t = tf.add(a, b);
    const seen = t.dataSync();
    const copy = seen.slice();
    t.dispose();
    const others = Array.from({ length: 5 }, () => tf.mul(a, b));
    expect(Array.from(seen)).toEqual(Array.from(copy));
    tf.dispose(others);
  });

  it('views made by stock kernels (unstack) keep their values after the source is disposed', () => {
    const x = tf.add(rand([4, 32]), 1);
    const rows = tf.unstack(x);
    const before = rows.map((r) => Array.from(r.dataSync()));
    x.dispose();
    const others = Array.from({ length: 5 }, () => tf.add(rand([4, 32]), 2));
    rows.forEach((r, i) => expect(Array.from(r.dataSync())).toEqual(before[i]));
    tf.dispose([...rows, ...others]);
  });

  it('disposed outputs are reused', () => {
    const pool = (native as { pool: { reused: number } }).pool;
    const a = rand([128, 16]);
    const reused0 = pool.reused;
    for (let i = 0; i < 10; i++) tf.tidy(() => { tf.exp(tf.add(a, 1)); });
    expect(pool.reused - reused0).toBeGreaterThanOrEqual(15);
  });
});

describe.runIf(available)('transformerBlock: one native kernel = the GPT\'s block in tfjs kernels', () => {
  // GPT.forward's loop (forward({ unfused: true })) is the reference: the same block as separate
  // kernels. Every parameter is shifted from its initial value so that biases and LN gains matter.
  let model: GPT, idx: tf.Tensor2D, vars: tf.Variable[];
  beforeAll(() => {
    model = new GPT({ vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, dropout: 0, tieWeights: true, seed: 3 });
    for (const p of model.parameters()) p.variable.assign(tf.add(p.variable, tf.randomNormal(p.variable.shape, 0, 0.2, 'float32', 7)));
    idx = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 1, 2], [3, 3, 3, 3, 3, 3]], [3, 6], 'int32');
    vars = model.trainableVariables();
  });
  const run = (unfused: boolean, attentionMask?: tf.Tensor2D) => {
    const w = rand([3, 6, 8]);
    seed--; // the same weights for both runs
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(idx, { unfused, attentionMask }).hidden, w)) as tf.Scalar, vars);
    return [model.forward(idx, { unfused, attentionMask }).hidden, value, ...vars.map((v) => grads[v.name])];
  };
  const same = (a: tf.Tensor[], b: tf.Tensor[]) => a.forEach((t, i) => {
    const x = t.dataSync(), y = b[i].dataSync();
    expect(y.length).toBe(x.length);
    for (let j = 0; j < x.length; j++) expect(Math.abs(x[j] - y[j])).toBeLessThan(2e-5 * (1 + Math.abs(x[j])));
  });

  it('hidden states and every gradient, with the causal bias shared by the batch', () => {
    same(run(true), run(false));
  });

  it('... and with a per-row padding bias', () => {
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], [3, 6], 'int32');
    same(run(true, mask), run(false, mask));
  });

  it('names what is wrong with its inputs', () => {
    const w = Object.fromEntries(BLOCK_PARAMS.map((n) => [n, model.parameters().find((p) => p.name === `h0.${n}`)!.variable])) as unknown as BlockParams;
    const x = rand([2, 4, 8]) as tf.Tensor3D;
    expect(() => transformerBlock(x, rand([1, 1, 4, 3]) as tf.Tensor4D, w, 2)).toThrow(/bias must be \[1 or 2, 1, 4, 4\]/);
    expect(() => transformerBlock(x, rand([1, 1, 4, 4]) as tf.Tensor4D, w, 3)).toThrow(/width 8 is not a multiple of 3 heads/);
    expect(() => transformerBlock(x, rand([1, 1, 4, 4]) as tf.Tensor4D, { ...w, 'mlp.w1': rand([8, 16]) }, 2)).toThrow(/mlp.w1 must be float32 \[8,32\]/);
  });
});

describe.runIf(available)('tiny GPT: forward and backward agree between stock and native kernels', () => {
  it('loss and every gradient', () => {
    const model = new GPT({ vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0, tieWeights: true, seed: 5 });
    const rng = new Rng(9);
    const ids = () => tf.tensor2d(Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => rng.int(13))), [3, 8], 'int32');
    const x = ids(), y = ids();
    const vars = model.trainableVariables();
    agree(() => {
      const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars);
      return [value, ...vars.map((v) => grads[v.name])];
    }, 2e-5);
    model.dispose();
  });

  it('the log-prob pass (completionLogProbs on GPT.logProbsAt) and its gradients, padded rows, temperature 0.8', () => {
    const model = new GPT({ vocabSize: 37, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0, tieWeights: true, seed: 5 });
    const { tokens, mask } = padBatch([[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11], [36, 0, 5, 5, 5]], 0);
    const w = rand([3, 8]);
    const vars = model.trainableVariables();
    agree(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(completionLogProbs(model, tokens, mask, { temperature: 0.8 }).logProbs, w)) as tf.Scalar, vars);
      return [completionLogProbs(model, tokens, mask, { temperature: 0.8 }).logProbs, value, ...vars.map((v) => grads[v.name])];
    }, 2e-5);
    model.dispose();
  });
});

describe.runIf(available)('one matrix product gives the same bits on one thread as on several', () => {
  // par_for keeps a product on the JS thread or splits it over the cores depending on timing;
  // the product is cut into the same tiles either way, so its bits (and the tokens sampled from
  // them) do not depend on the split. A child process with RLHF_THREADS=1 never splits.
  it('row-split and column-split products, bit for bit against RLHF_THREADS=1', () => {
    const script = `
      const addon = require(${JSON.stringify(ADDON_PATH)});
      let s = 12345;
      const fill = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
      const out = [];
      for (const [m, n, k] of [[1000, 96, 128], [32, 4067, 128]]) {
        const a = fill(m * k), b = fill(k * n), y = new Float32Array(m * n);
        for (let rep = 0; rep < 3; rep++) addon.bmm(a, b, y, m, n, k, 0, 0, [], [], []);
        out.push(require('crypto').createHash('sha256').update(Buffer.from(y.buffer)).digest('hex'));
      }
      process.stdout.write(JSON.stringify(out));`;
    const run = (threads?: string) => JSON.parse(execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, ...(threads ? { RLHF_THREADS: threads } : {}) }, encoding: 'utf8',
    })) as string[];
    const one = run('1');
    const several = run();
    expect(several.length).toBe(2);
    expect(several[0]).toBe(one[0]); // 1000 x 96: split by rows
    expect(several[1]).toBe(one[1]); // 32 x 4067 (logits of a sampling step): split by columns
  });

  it('a transformer block forward and backward (products, column sums, attention), bit for bit against RLHF_THREADS=1', () => {
    // B = 8 sequences of T = 64 tokens, width 64, 4 heads: every part big enough to be split.
    const script = `
      const addon = require(${JSON.stringify(ADDON_PATH)});
      let s = 777;
      const fill = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
      const [B, T, C, H] = [8, 64, 64, 4], N = B * T;
      const causal = new Float32Array(T * T);
      for (let t = 0; t < T; t++) for (let j = t + 1; j < T; j++) causal[t * T + j] = -1e9;
      const params = [C, C, C * 3 * C, 3 * C, C * C, C, C, C, C * 4 * C, 4 * C, 4 * C * C, C].map(fill);
      const saved = [N * C, N, N, N * 3 * C, B * H * T * T, N * C, N * C, N * C, N, N, N * 4 * C, N * 4 * C].map((n) => new Float32Array(n));
      const x = fill(N * C), y = new Float32Array(N * C), tensors = [x, causal, ...params, y, ...saved];
      addon.blockFwd(tensors, B, T, C, H, 1, 1e-5);
      const grads = [fill(N * C), new Float32Array(N * C), ...params.map((p) => new Float32Array(p.length)), new Float32Array(addon.blockScratch(N, C))];
      addon.blockBwd(tensors, grads, B, T, C, H);
      const hash = (a) => require('crypto').createHash('sha256').update(Buffer.from(a.buffer)).digest('hex');
      process.stdout.write(JSON.stringify([y, ...grads.slice(1, -1)].map(hash)));`;
    const run = (threads?: string) => JSON.parse(execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, ...(threads ? { RLHF_THREADS: threads } : { RLHF_THREADS: '2' }) }, encoding: 'utf8',
    })) as string[];
    const one = run('1'), two = run();
    expect(two.length).toBe(14); // y, dx and the 12 parameter gradients
    expect(two).toEqual(one);
  });
});
