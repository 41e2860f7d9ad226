// Loads the compiled addon (built by scripts/build-native.sh) and types its functions.
// Argument order mirrors src/kernels.h; shapes are plain number arrays.
import * as fs from 'fs';
import * as path from 'path';
const { cpuId } = require('./cpu-id.js') as { cpuId(): string };

type F32 = Float32Array;
type I32 = Int32Array;
/** Head h of batch b starts at data[offset + b*strides[0] + h*strides[1]]; rows are strides[2] apart. */
export type Operand = [data: F32, offset: number, strides: [batch: number, head: number, row: number]];

export const BIN_OP = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6 } as const;
export const UN_OP = {
  exp: 0, log: 1, tanh: 2, sqrt: 3, rsqrt: 4, neg: 5, square: 6, reciprocal: 7, relu: 8,
  sigmoid: 9, abs: 10,
} as const;
export const RED_OP = { sum: 0, mean: 1, max: 2, min: 3 } as const;

export interface NativeAddon {
  bmm(a: F32, b: F32, out: F32, m: number, n: number, k: number, transA: number, transB: number,
      aBatch: number[], bBatch: number[], outBatch: number[]): void;
  binary(op: number, a: F32, b: F32, out: F32, aShape: number[], bShape: number[], outShape: number[]): void;
  unary(op: number, x: F32, out: F32, n: number): void;
  reduce(op: number, x: F32, out: F32, outer: number, r: number, inner: number): void;
  softmax(x: F32, out: F32, rows: number, cols: number): void;
  transpose(x: F32, out: F32, shape: number[], perm: number[]): void;
  /** Returns 0, or 1 + the position of the first index outside [0, axis). */
  gather(x: F32, idx: I32, out: F32, outer: number, axis: number, inner: number, nIdx: number): number;
  segmentSum(x: F32, ids: I32, out: F32, n: number, inner: number, numSegments: number): void;
  slice(x: F32, out: F32, shape: number[], begin: number[], size: number[]): void;
  /** out [outShape] = value, with x [shape] copied in at offset `before` (per dim). */
  pad(x: F32, out: F32, shape: number[], outShape: number[], before: number[], value: number): void;
  copyCols(x: F32, xOffset: number, xStride: number, out: F32, outOffset: number, outStride: number,
           outer: number, width: number): void;
  layerNormFwd(x: F32, g: F32, b: F32, y: F32, mean: F32, rstd: F32, rows: number, c: number, eps: number): void;
  layerNormBwd(dy: F32, x: F32, g: F32, mean: F32, rstd: F32, dx: F32, dg: F32, db: F32, rows: number, c: number): void;
  geluFwd(x: F32, y: F32, n: number): void;
  geluBwd(x: F32, dy: F32, dx: F32, n: number): void;
  /** Returns 0, or 1 + the first row whose label is outside [0, v). */
  xentFwd(logits: F32, labels: I32, loss: F32, lse: F32, rows: number, v: number): number;
  xentBwd(logits: F32, labels: I32, lse: F32, dloss: F32, dlogits: F32, rows: number, v: number): void;
  /** Output layer + log-softmax at labels in row blocks (src/logprob.c); returns 0, or 1 + the first bad row. */
  headLogpFwd(h: F32, w: F32, labels: I32, logp: F32, lse: F32, n: number, c: number, v: number, wIsVC: number, s: number): number;
  headLogpBwd(h: F32, w: F32, labels: I32, lse: F32, dlogp: F32, dz: F32, dh: F32, dw: F32, n: number, c: number,
              v: number, wIsVC: number, s: number): void;
  adamw(p: F32, g: F32, m: F32, v: F32, pOut: F32, mOut: F32, vOut: F32, n: number, lr: number,
        beta1: number, beta2: number, eps: number, weightDecay: number, biasCorr1: number,
        biasCorr2: number, gradScale: number): void;
  /** Attention through strided operands (see src/kernels.h): y = softmax(scale q k^T + bias) v,
   * bias [biasBatch, 1, T, Tk], p [B,H,T,Tk] saved for the backward. */
  attentionFwd(...args: [...q: Operand, ...k: Operand, ...v: Operand, ...y: Operand, bias: F32, p: F32, B: number,
    H: number, T: number, Tk: number, D: number, biasBatch: number, scale: number]): void;
  attentionBwd(...args: [...q: Operand, ...k: Operand, ...v: Operand, p: F32, ...dy: Operand, ...dq: Operand,
    ...dk: Operand, ...dv: Operand, B: number, H: number, T: number, Tk: number, D: number, scale: number]): void;
  /** One transformer block (src/block.c): tensors [x, bias, g1, b1, wqkv, bqkv, wo, bo, g2, b2, w1, bm1,
   *  w2, bm2, y, a, mean1, rstd1, qkv, p, att, x1, m, mean2, rstd2, hpre, h]; the forward writes y and the rest. */
  blockFwd(tensors: F32[], B: number, T: number, C: number, H: number, biasBatch: number, eps: number): void;
  /** grads [dy, dx, dg1, db1, dwqkv, dbqkv, dwo, dbo, dg2, db2, dw1, dbm1, dw2, dbm2, scratch]. */
  blockBwd(tensors: F32[], grads: F32[], B: number, T: number, C: number, H: number): void;
  /** Floats of scratch blockBwd needs for N rows of width C. */
  blockScratch(N: number, C: number): number;
  threads(): number;
}

export const ADDON_PATH = path.join(__dirname, 'build', 'Release', 'rlhf_native.node');

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** The addon, or the reason it cannot load (never throws). */
export function loadAddon(): { addon?: NativeAddon; error?: string } {
  if (cached) return cached;
  const builtFor = path.join(path.dirname(ADDON_PATH), 'cpu-id.txt');
  if (fs.existsSync(builtFor) && fs.readFileSync(builtFor, 'utf8') !== cpuId()) {
    cached = { error: 'addon was built on another CPU (run scripts/build-native.sh here)' };
    return cached;
  }
  try {
    cached = { addon: require(ADDON_PATH) as NativeAddon };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    cached = {
      error: msg.includes('Cannot find module')
        ? 'addon not built (run scripts/build-native.sh; needs a C compiler and libopenblas-dev)'
        : `addon failed to load: ${msg}`,
    };
  }
  return cached;
}
