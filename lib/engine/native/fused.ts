// Fused ops for the GPT: one native kernel (with a native gradient) where the
// cpu+blas backend is active, the same maths in plain tfjs ops everywhere else.
// Call these from model code; results agree across backends to float tolerance.
import * as tf from '@tensorflow/tfjs';
import { Operand } from './addon';
import { NativeContext, nativeActive } from './kernels';

const LN = 'RlhfLayerNorm', LN_GRAD = 'RlhfLayerNormGrad';
const GELU = 'RlhfGelu', GELU_GRAD = 'RlhfGeluGrad';
const XENT = 'RlhfSoftmaxXent', XENT_GRAD = 'RlhfSoftmaxXentGrad';
const ATTN = 'RlhfAttention', ATTN_GRAD = 'RlhfAttentionGrad';
const HEAD = 'RlhfHeadLogProb', HEAD_GRAD = 'RlhfHeadLogProbGrad';
const BLOCK = 'RlhfBlock', BLOCK_GRAD = 'RlhfBlockGrad', BLOCK_ACTS = 'RlhfBlockActivations';

type Info = tf.TensorInfo;
type Args = { inputs: Record<string, Info>; attrs?: tf.NamedAttrMap };

const lastDim = (t: { shape: number[] }) => t.shape[t.shape.length - 1];
const rowsOf = (t: { shape: number[] }) => t.shape.reduce((a, b) => a * b, 1) / Math.max(1, lastDim(t));


/** Layer norm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const c = lastDim(x);
  if (gamma.size !== c || beta.size !== c) {
    throw new Error(`fusedLayerNorm: gamma (${gamma.shape}) and beta (${beta.shape}) must have the last dim of x (${x.shape})`);
  }
  if (nativeActive() && x.dtype === 'float32') {
    const [y] = tf.engine().runKernel(LN, { x, gamma, beta }, { eps }) as tf.Tensor[];
    return y;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function fusedGelu(x: tf.Tensor): tf.Tensor {
  if (nativeActive() && x.dtype === 'float32') return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** Per-row cross-entropy in nats: logits [N, V], labels int32 [N] -> [N]. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`softmaxCrossEntropy: expected logits [N, V] and labels [N], got ${logits.shape} and ${labels.shape}`);
  }
  if (labels.dtype !== 'int32') throw new Error(`softmaxCrossEntropy: labels must be int32, got ${labels.dtype}`);
  if (nativeActive() && logits.dtype === 'float32') {
    const [loss] = tf.engine().runKernel(XENT, { logits, labels }) as tf.Tensor[];
    return loss as tf.Tensor1D;
  }
  return tf.tidy(() => {
    // oneHot(...).cast: tf.oneHot with a float32 dtype is wrong on the wasm backend.
    const picked = tf.sum(tf.mul(logits, tf.oneHot(labels, logits.shape[1]).cast('float32')), -1);
    return tf.sub(tf.logSumExp(logits, -1), picked) as tf.Tensor1D;
  });
}

/**
 * Log-probabilities at given ids through the output layer, without the [N, V] logits:
 * logp[r] = log softmax(h[r] op(w) / temperature)[labels[r]] for h [N, C], labels int32 [N], and
 * w [V, C] (`transposed`, the tied token embedding: logits = h w^T) or [C, V] (an untied head).
 * Differentiable in h and w. Natively the product and the log-softmax run in cache-sized blocks
 * of rows (src/logprob.c): the log-prob pass of a 4,067-id vocabulary never writes its 16 MB of
 * logits per 1,024 tokens; elsewhere the same maths in tfjs ops.
 */
export function headLogProbs(h: tf.Tensor2D, w: tf.Tensor2D, labels: tf.Tensor1D, transposed: boolean, temperature = 1): tf.Tensor1D {
  const [n, c] = h.shape;
  const [wc, v] = transposed ? [w.shape[1], w.shape[0]] : w.shape;
  if (h.rank !== 2 || w.rank !== 2 || wc !== c || labels.rank !== 1 || labels.shape[0] !== n) {
    throw new Error(`headLogProbs: expected h [N, C], w [${transposed ? 'V, C' : 'C, V'}] and labels [N], got [${h.shape}], [${w.shape}], [${labels.shape}]`);
  }
  if (labels.dtype !== 'int32') throw new Error(`headLogProbs: labels must be int32, got ${labels.dtype}`);
  if (!(temperature > 0)) throw new Error(`headLogProbs: temperature must be > 0, got ${temperature}`);
  if (nativeActive() && h.dtype === 'float32' && w.dtype === 'float32') {
    const [logp] = tf.engine().runKernel(HEAD, { h, w, labels }, { transposed, scale: 1 / temperature }) as tf.Tensor[];
    return logp as tf.Tensor1D;
  }
  return tf.tidy(() => {
    const z = tf.div(tf.matMul(h, w, false, transposed), temperature) as tf.Tensor2D;
    return tf.neg(softmaxCrossEntropy(z, labels)) as tf.Tensor1D;
  });
}

/**
 * Scaled dot-product attention: softmax(scale q k^T + bias) v for q [B,H,T,D], k and v
 * [B,H,Tk,D] and an additive bias (masks) [B or 1, 1, T, Tk] -> [B,H,T,D]. Natively one
 * kernel forward and one backward (the unfused path runs ~15 kernels and keeps more memory).
 */
export function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D {
  const [B, H, T, D] = q.shape, Tk = k.shape[2];
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(k.shape, [B, H, Tk, D]) || !same(v.shape, [B, H, Tk, D])) {
    throw new Error(`fusedAttention: q [${q.shape}], k [${k.shape}] and v [${v.shape}] must be [B,H,T,D], [B,H,Tk,D], [B,H,Tk,D]`);
  }
  if (bias.rank !== 4 || (bias.shape[0] !== 1 && bias.shape[0] !== B) || bias.shape[1] !== 1 || bias.shape[2] !== T || bias.shape[3] !== Tk) {
    throw new Error(`fusedAttention: bias must be [1 or ${B}, 1, ${T}, ${Tk}], got [${bias.shape}]`);
  }
  if (nativeActive() && [q, k, v, bias].every((t) => t.dtype === 'float32')) {
    const [y] = tf.engine().runKernel(ATTN, { q, k, v, bias }, { scale }) as tf.Tensor[];
    return y as tf.Tensor4D;
  }
  return tf.tidy(() => tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias)), v));
}

/** A block's parameters by their names in the GPT (h{l}.ln1.g, ...), in the kernel's order. */
export const BLOCK_PARAMS = ['ln1.g', 'ln1.b', 'attn.wqkv', 'attn.bqkv', 'attn.wo', 'attn.bo', 'ln2.g', 'ln2.b', 'mlp.w1', 'mlp.b1', 'mlp.w2', 'mlp.b2'] as const;
export type BlockParamName = (typeof BLOCK_PARAMS)[number];
export type BlockParams = Record<BlockParamName, tf.Tensor>;

/** The shape of each of a block's parameters at width C (GPT builds its blocks from this table). */
export function blockParamShapes(C: number): Record<BlockParamName, number[]> {
  return {
    'ln1.g': [C], 'ln1.b': [C], 'attn.wqkv': [C, 3 * C], 'attn.bqkv': [3 * C], 'attn.wo': [C, C], 'attn.bo': [C],
    'ln2.g': [C], 'ln2.b': [C], 'mlp.w1': [C, 4 * C], 'mlp.b1': [4 * C], 'mlp.w2': [4 * C, C], 'mlp.b2': [C],
  };
}
/** The kernel's input names for BLOCK_PARAMS (the order of BlockTensors in src/kernels.h). */
const BLOCK_INPUTS = ['g1', 'b1', 'wqkv', 'bqkv', 'wo', 'bo', 'g2', 'b2', 'w1', 'bm1', 'w2', 'bm2'] as const;
/** The activations the forward keeps for the backward, in one flat buffer in this order. */
const BLOCK_SAVED = ['a', 'mean1', 'rstd1', 'qkv', 'p', 'att', 'x1', 'm', 'mean2', 'rstd2', 'hpre', 'h'] as const;

/** Sizes (floats) of BLOCK_SAVED for B sequences of T tokens, width C, H heads. */
function blockSavedSizes(B: number, T: number, C: number, H: number): number[] {
  const N = B * T;
  const sizes: Record<(typeof BLOCK_SAVED)[number], number> = {
    a: N * C, mean1: N, rstd1: N, qkv: N * 3 * C, p: B * H * T * T, att: N * C, x1: N * C, m: N * C,
    mean2: N, rstd2: N, hpre: N * 4 * C, h: N * 4 * C,
  };
  return BLOCK_SAVED.map((k) => sizes[k]);
}

/** Views of BLOCK_SAVED inside the flat buffer. */
function blockSavedViews(acts: Float32Array, sizes: number[]): Float32Array[] {
  let at = 0;
  return sizes.map((n) => acts.subarray(at, (at += n)));
}

/** True where transformerBlock runs as one native kernel (cpu+blas, float32). */
export function blockFusable(x: tf.Tensor): boolean {
  return nativeActive() && x.dtype === 'float32';
}

/**
 * One pre-norm transformer block as GPT.forward computes it without a KV cache:
 *   x1 = x + attention(LN1(x) Wqkv + bqkv; bias) Wo + bo,  y = x1 + gelu(LN2(x1) W1 + b1) W2 + b2,
 * for x [B,T,C], `heads` heads and an additive bias [B or 1, 1, T, T] (masks). One native kernel
 * forward and one backward (src/block.c) instead of ~25 and ~45 tfjs kernels; only where
 * blockFusable(x). The tfjs composition stays in GPT.forward (the KV-cache path) and is what
 * the tests compare this with.
 */
export function transformerBlock(x: tf.Tensor3D, bias: tf.Tensor4D, w: BlockParams, heads: number, eps = 1e-5): tf.Tensor3D {
  const [B, T, C] = x.shape;
  if (!blockFusable(x)) throw new Error('transformerBlock: needs the cpu+blas backend and float32 x (check blockFusable first)');
  if (C % heads !== 0) throw new Error(`transformerBlock: width ${C} is not a multiple of ${heads} heads`);
  if (bias.rank !== 4 || (bias.shape[0] !== 1 && bias.shape[0] !== B) || bias.shape[1] !== 1 || bias.shape[2] !== T || bias.shape[3] !== T) {
    throw new Error(`transformerBlock: bias must be [1 or ${B}, 1, ${T}, ${T}], got [${bias.shape}]`);
  }
  const want = blockParamShapes(C);
  const inputs: tf.NamedTensorMap = { x, bias };
  BLOCK_PARAMS.forEach((name, i) => {
    const t = w[name];
    if (t.shape.join() !== want[name].join() || t.dtype !== 'float32') {
      throw new Error(`transformerBlock: ${name} must be float32 [${want[name]}], got ${t.dtype} [${t.shape}]`);
    }
    inputs[BLOCK_INPUTS[i]] = t;
  });
  // The activations go into a buffer passed in as an input, not out as outputs: for every
  // output without a gradient the tape makes a tensor of zeros in the backward (71 MB a step at
  // config A, and a garbage collection every 100 ms). The kernel writes this buffer, which nothing
  // else sees; the tape keeps it for the backward only while gradients are recorded.
  const acts = tf.engine().runKernel(BLOCK_ACTS, {}, { batch: B, tokens: T, width: C, heads }) as tf.Tensor;
  const [y] = tf.engine().runKernel(BLOCK, { ...inputs, acts }, { heads, eps }) as tf.Tensor[];
  acts.dispose();
  return y as tf.Tensor3D;
}

/** Strided view for the attention kernel of a [B,H,T,D] tensor. */
const headsOf = (data: Float32Array, [, H, T, D]: number[]): Operand => [data, 0, [H * T * D, T * D, D]];

/** Registers the fused kernels and their gradients for the 'cpu' backend. */
export function registerFusedKernels(c: NativeContext): string[] {
  const kernels: Record<string, (args: Args) => Info | Info[]> = {
    [LN]: ({ inputs, attrs }) => {
      const { x, gamma, beta } = inputs;
      const rows = rowsOf(x), cols = lastDim(x);
      const y = c.alloc(x.shape), mean = c.pool.alloc(rows), rstd = c.pool.alloc(rows);
      c.addon.layerNormFwd(c.f32(x), c.f32(gamma), c.f32(beta), y, mean, rstd, rows, cols, attrs!.eps as number);
      return [c.output(x.shape, y), c.output([rows], mean), c.output([rows], rstd)];
    },
    [LN_GRAD]: ({ inputs }) => {
      const { dy, x, gamma, mean, rstd } = inputs;
      const rows = rowsOf(x), cols = lastDim(x);
      const dx = c.alloc(x.shape), dg = c.pool.alloc(cols), db = c.pool.alloc(cols);
      c.addon.layerNormBwd(c.f32(dy), c.f32(x), c.f32(gamma), c.f32(mean), c.f32(rstd), dx, dg, db, rows, cols);
      return [c.output(x.shape, dx), c.output(gamma.shape, dg), c.output(gamma.shape, db)];
    },
    [GELU]: ({ inputs }) => {
      const y = c.alloc(inputs.x.shape);
      c.addon.geluFwd(c.f32(inputs.x), y, y.length);
      return c.output(inputs.x.shape, y);
    },
    [GELU_GRAD]: ({ inputs }) => {
      const dx = c.alloc(inputs.x.shape);
      c.addon.geluBwd(c.f32(inputs.x), c.f32(inputs.dy), dx, dx.length);
      return c.output(inputs.x.shape, dx);
    },
    [XENT]: ({ inputs }) => {
      const { logits, labels } = inputs;
      const [rows, v] = logits.shape;
      const loss = c.pool.alloc(rows), lse = c.pool.alloc(rows);
      const lab = c.i32(labels);
      const bad = c.addon.xentFwd(c.f32(logits), lab, loss, lse, rows, v);
      if (bad) throw new Error(`softmaxCrossEntropy: label ${lab[bad - 1]} in row ${bad - 1} is not in [0, ${v - 1}]`);
      return [c.output([rows], loss), c.output([rows], lse)];
    },
    [XENT_GRAD]: ({ inputs }) => {
      const { logits, labels, lse, dloss } = inputs;
      const [rows, v] = logits.shape;
      const d = c.alloc(logits.shape);
      c.addon.xentBwd(c.f32(logits), c.i32(labels), c.f32(lse), c.f32(dloss), d, rows, v);
      return c.output(logits.shape, d);
    },
    [HEAD]: ({ inputs, attrs }) => {
      const { h, w, labels } = inputs;
      const [n, cols] = h.shape, v = attrs!.transposed ? w.shape[0] : w.shape[1];
      const logp = c.pool.alloc(n), lse = c.pool.alloc(n);
      const lab = c.i32(labels);
      const bad = c.addon.headLogpFwd(c.f32(h), c.f32(w), lab, logp, lse, n, cols, v, attrs!.transposed ? 1 : 0, attrs!.scale as number);
      if (bad) throw new Error(`headLogProbs: label ${lab[bad - 1]} in row ${bad - 1} is not in [0, ${v - 1}]`);
      return [c.output([n], logp), c.output([n], lse)];
    },
    [HEAD_GRAD]: ({ inputs, attrs }) => {
      const { h, w, labels, lse, dlogp } = inputs;
      const [n, cols] = h.shape, v = attrs!.transposed ? w.shape[0] : w.shape[1];
      const dz = c.alloc([n, v]), dh = c.alloc(h.shape), dw = c.alloc(w.shape);
      c.addon.headLogpBwd(c.f32(h), c.f32(w), c.i32(labels), c.f32(lse), c.f32(dlogp), dz, dh, dw, n, cols, v,
        attrs!.transposed ? 1 : 0, attrs!.scale as number);
      // dz [n, v] is scratch: returned only so that it is disposed into the pool
      return [c.output(h.shape, dh), c.output(w.shape, dw), c.output([n, v], dz)];
    },
    [BLOCK_ACTS]: ({ attrs }) => {
      const { batch, tokens, width, heads } = attrs as Record<string, number>;
      const n = blockSavedSizes(batch, tokens, width, heads).reduce((a, b) => a + b, 0);
      return c.output([n], c.pool.alloc(n));
    },
    [BLOCK]: ({ inputs, attrs }) => {
      const { x, bias, acts } = inputs;
      const [B, T, C] = x.shape, H = attrs!.heads as number;
      const y = c.alloc(x.shape);
      const saved = blockSavedViews(c.f32(acts), blockSavedSizes(B, T, C, H));
      c.addon.blockFwd([c.f32(x), c.f32(bias), ...BLOCK_INPUTS.map((k) => c.f32(inputs[k])), y, ...saved], B, T, C, H, bias.shape[0], attrs!.eps as number);
      return [c.output(x.shape, y)];
    },
    [BLOCK_GRAD]: ({ inputs, attrs }) => {
      const { x, dy, acts } = inputs;
      const [B, T, C] = x.shape, H = attrs!.heads as number;
      const none = new Float32Array(0); // inputs the backward does not read (y, the mask, the biases)
      const saved = blockSavedViews(c.f32(acts), blockSavedSizes(B, T, C, H));
      const tensors = [c.f32(x), none, ...BLOCK_INPUTS.map((k) => (k.startsWith('b') ? none : c.f32(inputs[k]))), none, ...saved];
      const dx = c.alloc(x.shape);
      const dparams = BLOCK_INPUTS.map((k) => c.alloc(inputs[k].shape));
      const scratch = c.pool.alloc(c.addon.blockScratch(B * T, C));
      c.addon.blockBwd(tensors, [c.f32(dy), dx, ...dparams, scratch], B, T, C, H);
      // scratch is returned only so that it is disposed into the pool
      return [c.output(x.shape, dx), ...BLOCK_INPUTS.map((k, i) => c.output(inputs[k].shape, dparams[i])), c.output([scratch.length], scratch)];
    },
    [ATTN]: ({ inputs, attrs }) => {
      const { q, k, v, bias } = inputs;
      const [B, H, T, D] = q.shape, Tk = k.shape[2];
      const y = c.alloc(q.shape), p = c.alloc([B, H, T, Tk]);
      c.addon.attentionFwd(...headsOf(c.f32(q), q.shape), ...headsOf(c.f32(k), k.shape), ...headsOf(c.f32(v), v.shape),
        ...headsOf(y, q.shape), c.f32(bias), p, B, H, T, Tk, D, bias.shape[0], attrs!.scale as number);
      return [c.output(q.shape, y), c.output([B, H, T, Tk], p)];
    },
    [ATTN_GRAD]: ({ inputs, attrs }) => {
      const { q, k, v, p, dy } = inputs;
      const [B, H, T, D] = q.shape, Tk = k.shape[2];
      const dq = c.alloc(q.shape), dk = c.alloc(k.shape), dv = c.alloc(v.shape);
      c.addon.attentionBwd(...headsOf(c.f32(q), q.shape), ...headsOf(c.f32(k), k.shape), ...headsOf(c.f32(v), v.shape),
        c.f32(p), ...headsOf(c.f32(dy), q.shape), ...headsOf(dq, q.shape), ...headsOf(dk, k.shape), ...headsOf(dv, v.shape),
        B, H, T, Tk, D, attrs!.scale as number);
      return [c.output(q.shape, dq), c.output(k.shape, dk), c.output(v.shape, dv)];
    },
  };
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(kernelName, 'cpu')) tf.unregisterKernel(kernelName, 'cpu');
    tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc: kernelFunc as tf.KernelFunc });
  }
  registerGradients();
  return Object.keys(kernels).filter((k) => !k.endsWith('Grad'));
}

let gradientsRegistered = false;

function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs) as tf.Tensor[];
  tf.registerGradient({
    kernelName: LN,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved) => {
      const [x, gamma, mean, rstd] = saved;
      const dy = (dys as tf.Tensor[])[0];
      // Computed eagerly: gradFunc runs inside the engine's backward tidy, which
      // disposes whichever of the three nobody asks for.
      const [dx, dg, db] = run(LN_GRAD, { dy, x, gamma, mean, rstd });
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  });
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { x: saved[0], dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  tf.registerGradient({
    kernelName: ATTN,
    inputsToSave: ['q', 'k', 'v', 'bias'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const [q, k, v, bias, p] = saved;
      const dy = (dys as tf.Tensor[])[0];
      const [dq, dk, dv] = tf.engine().runKernel(ATTN_GRAD, { q, k, v, p, dy }, attrs) as tf.Tensor[];
      return { q: () => dq, k: () => dk, v: () => dv, bias: () => tf.zerosLike(bias) };
    },
  });
  tf.registerGradient({
    kernelName: BLOCK,
    inputsToSave: ['x', 'bias', 'acts', ...BLOCK_INPUTS],
    gradFunc: (dys, saved, attrs) => {
      const named: tf.NamedTensorMap = { dy: dys as tf.Tensor, x: saved[0], acts: saved[2] }; // one output: dy is a tensor
      BLOCK_INPUTS.forEach((k, i) => { named[k] = saved[3 + i]; });
      const out = tf.engine().runKernel(BLOCK_GRAD, named, attrs) as tf.Tensor[];
      out[out.length - 1].dispose();
      const grads: Record<string, () => tf.Tensor> = { x: () => out[0], bias: () => tf.zerosLike(saved[1]), acts: () => tf.zerosLike(saved[2]) };
      BLOCK_INPUTS.forEach((k, i) => { grads[k] = () => out[1 + i]; });
      return grads;
    },
  });
  tf.registerGradient({
    kernelName: HEAD,
    inputsToSave: ['h', 'w', 'labels'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const [h, w, labels, lse] = saved;
      const dlogp = (dys as tf.Tensor[])[0];
      const [dh, dw, dz] = tf.engine().runKernel(HEAD_GRAD, { h, w, labels, lse, dlogp }, attrs) as tf.Tensor[];
      dz.dispose();
      return { h: () => dh, w: () => dw };
    },
  });
  tf.registerGradient({
    kernelName: XENT,
    inputsToSave: ['logits', 'labels'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const [logits, labels, lse] = saved;
      const dloss = (dys as tf.Tensor[])[0];
      return { logits: () => tf.engine().runKernel(XENT_GRAD, { logits, labels, lse, dloss }) as tf.Tensor };
    },
  });
}
