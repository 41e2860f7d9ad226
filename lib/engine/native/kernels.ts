// Native replacements for the tfjs 'cpu' backend's hot kernels (GPT training).
// Each kernel handles float32 inputs of the common layouts and hands anything
// else (int32 math, exotic attrs, rank > 8) to the stock kernel it replaced.
import * as tf from '@tensorflow/tfjs';
import { BIN_OP, NativeAddon, RED_OP, UN_OP } from './addon';
import { BufferPool, CpuBackendLike } from './pool';

type Info = tf.TensorInfo;
type Args = { inputs: tf.NamedTensorInfoMap | Info[]; backend: unknown; attrs?: tf.NamedAttrMap };
type Kernel = (args: Args) => Info | Info[];

const MAX_RANK = 8;

/** Whether the native kernels currently serve the 'cpu' backend (see useNativeKernels). */
export const nativeState = { enabled: false };

/** True when fused native kernels should serve ops on the current backend. */
export const nativeActive = () => nativeState.enabled && tf.getBackend() === 'cpu';

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Context shared by the kernels: the addon, the pool and the backend. */
export class NativeContext {
  constructor(readonly addon: NativeAddon, readonly pool: BufferPool, readonly backend: CpuBackendLike) {}

  /** The float32 values of a tensor, zero-copy when they already are a Float32Array
   * (the stock int32->float32 Cast leaves an Int32Array inside a float32 tensor). */
  f32(t: Info): Float32Array {
    const v = this.backend.data.get(t.dataId)!.values;
    return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  }

  i32(t: Info): Int32Array {
    const v = this.backend.data.get(t.dataId)!.values;
    return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
  }

  /** A float32 output tensor whose values come from the pool. */
  output(shape: number[], values: Float32Array): Info {
    const b = this.backend as unknown as { makeTensorInfo(s: number[], d: string, v: Float32Array): Info };
    return this.pool.asOwn(() => b.makeTensorInfo(shape, 'float32', values));
  }

  alloc(shape: number[]): Float32Array {
    return this.pool.alloc(size(shape));
  }
}

const allFloat = (ts: Info[]) => ts.every((t) => t.dtype === 'float32');

/** Kernel factories: each gets the context and the stock kernel to fall back on. */
type Factory = (c: NativeContext, stock: Kernel) => Kernel;

function binaryKernel(op: number): Factory {
  return (c, stock) => (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (!allFloat([a, b])) return stock(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length > MAX_RANK) return stock(args);
    const pad = (s: number[]) => [...new Array(outShape.length - s.length).fill(1), ...s];
    const out = c.alloc(outShape);
    c.addon.binary(op, c.f32(a), c.f32(b), out, pad(a.shape), pad(b.shape), outShape);
    return c.output(outShape, out);
  };
}

function unaryKernel(op: number): Factory {
  return (c, stock) => (args) => {
    const { x } = args.inputs as { x: Info };
    if (x.dtype !== 'float32') return stock(args);
    const out = c.alloc(x.shape);
    c.addon.unary(op, c.f32(x), out, out.length);
    return c.output(x.shape, out);
  };
}

/** Sum/Mean/Max/Min over axes that are adjacent once size-1 dims are ignored. */
function reduceKernel(op: number, axisAttr: string): Factory {
  return (c, stock) => (args) => {
    const { x } = args.inputs as { x: Info };
    const attrs = args.attrs as Record<string, unknown>;
    if (x.dtype !== 'float32') return stock(args);
    const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape).sort((p, q) => p - q);
    const reduced = new Set(axes);
    const lo = axes.length ? axes[0] : 0, hi = axes.length ? axes[axes.length - 1] : -1;
    for (let d = lo; d <= hi; d++) if (!reduced.has(d) && x.shape[d] !== 1) return stock(args);
    const outer = size(x.shape.slice(0, lo)), inner = size(x.shape.slice(hi + 1));
    const r = size(x.shape) / Math.max(1, outer * inner);
    const outShape = attrs.keepDims
      ? x.shape.map((s, d) => (reduced.has(d) ? 1 : s))
      : x.shape.filter((_, d) => !reduced.has(d));
    const out = c.alloc(outShape);
    c.addon.reduce(op, c.f32(x), out, outer, axes.length ? r : 1, inner);
    return c.output(outShape, out);
  };
}

const batchMatMul: Factory = (c, stock) => (args) => {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (!allFloat([a, b]) || a.shape.length < 2 || b.shape.length < 2) return stock(args);
  const ra = a.shape.length, rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) throw new Error(`BatchMatMul: inner dimensions differ (${a.shape} and ${b.shape}, transposeA=${transposeA}, transposeB=${transposeB})`);
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (outBatch.length > MAX_RANK) return stock(args);
  const pad = (s: number[]) => [...new Array(outBatch.length - s.length).fill(1), ...s];
  const outShape = [...outBatch, m, n];
  const out = c.alloc(outShape);
  c.addon.bmm(c.f32(a), c.f32(b), out, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0,
    pad(a.shape.slice(0, -2)), pad(b.shape.slice(0, -2)), outBatch);
  return c.output(outShape, out);
};

const softmax: Factory = (c, stock) => (args) => {
  const { logits } = args.inputs as { logits: Info };
  const { dim } = args.attrs as { dim: number };
  const rank = logits.shape.length;
  if (logits.dtype !== 'float32' || (dim !== -1 && dim !== rank - 1)) return stock(args);
  const cols = logits.shape[rank - 1];
  const out = c.alloc(logits.shape);
  c.addon.softmax(c.f32(logits), out, out.length / Math.max(1, cols), cols);
  return c.output(logits.shape, out);
};

const transpose: Factory = (c, stock) => (args) => {
  const { x } = args.inputs as { x: Info };
  const { perm } = args.attrs as { perm: number[] };
  if (x.dtype !== 'float32' || x.shape.length > MAX_RANK) return stock(args);
  const outShape = perm.map((p) => x.shape[p]);
  const out = c.alloc(outShape);
  c.addon.transpose(c.f32(x), out, x.shape, perm);
  return c.output(outShape, out);
};

const gatherV2: Factory = (c, stock) => (args) => {
  const { x, indices } = args.inputs as { x: Info; indices: Info };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  if (x.dtype !== 'float32' || batchDims) return stock(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const idx = c.i32(indices);
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = c.alloc(outShape);
  const bad = c.addon.gather(c.f32(x), idx, out, size(x.shape.slice(0, ax)), x.shape[ax],
    size(x.shape.slice(ax + 1)), idx.length);
  if (bad) {
    throw new Error(`GatherV2: index ${idx[bad - 1]} at position ${bad - 1} is not in [0, ${x.shape[ax] - 1}]`);
  }
  return c.output(outShape, out);
};

const unsortedSegmentSum: Factory = (c, stock) => (args) => {
  const { x, segmentIds } = args.inputs as { x: Info; segmentIds: Info };
  const { numSegments } = args.attrs as { numSegments: number };
  if (x.dtype !== 'float32') return stock(args);
  const ids = c.i32(segmentIds);
  const inner = size(x.shape) / Math.max(1, ids.length);
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = c.alloc(outShape);
  c.addon.segmentSum(c.f32(x), ids, out, ids.length, inner, numSegments);
  return c.output(outShape, out);
};

/** Copying slice: the stock one returns a subarray view, which must never alias a pooled array. */
const slice: Factory = (c, stock) => (args) => {
  const { x } = args.inputs as { x: Info };
  const { begin, size: sz } = args.attrs as { begin: number | number[]; size: number | number[] };
  if (x.dtype !== 'float32' || x.shape.length > MAX_RANK) return stock(args);
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
  tf.slice_util.assertParamsValid(x as tf.Tensor, b, s);
  const out = c.alloc(s);
  c.addon.slice(c.f32(x), out, x.shape, b, s);
  return c.output(s, out);
};

/** Constant pad (Slice's gradient): the stock kernel computes an index per element (40 ms for the
 * [32, 63, 128] hidden states of a DPO batch; this copy takes well under 1 ms). */
const padV2: Factory = (c, stock) => (args) => {
  const { x } = args.inputs as { x: Info };
  const { paddings, constantValue } = args.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
  if (x.dtype !== 'float32' || x.shape.length === 0 || x.shape.length > MAX_RANK || paddings.length !== x.shape.length) return stock(args);
  if (paddings.some(([b, a]) => b < 0 || a < 0)) return stock(args);
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = c.alloc(outShape);
  c.addon.pad(c.f32(x), out, x.shape, outShape, paddings.map((p) => p[0]), constantValue);
  return c.output(outShape, out);
};

/** Concat along `axis`: each input is a block of columns of the [outer, total] output. */
const concat: Factory = (c, stock) => (args) => {
  const inputs = (args.inputs as Info[]).filter((t) => size(t.shape) > 0);
  const { axis } = args.attrs as { axis: number };
  if (inputs.length === 0 || !allFloat(inputs)) return stock(args);
  const ax = tf.util.parseAxisParam(axis, inputs[0].shape)[0];
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), ax);
  const outer = size(outShape.slice(0, ax)), total = size(outShape.slice(ax));
  const out = c.alloc(outShape);
  let offset = 0;
  for (const t of inputs) {
    const w = size(t.shape.slice(ax));
    c.addon.copyCols(c.f32(t), 0, w, out, offset, total, outer, w);
    offset += w;
  }
  return c.output(outShape, out);
};

const splitV: Factory = (c, stock) => (args) => {
  const { x } = args.inputs as { x: Info };
  const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
  if (x.dtype !== 'float32') return stock(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const outer = size(x.shape.slice(0, ax)), total = size(x.shape.slice(ax));
  const inner = size(x.shape.slice(ax + 1));
  const xv = c.f32(x);
  let offset = 0;
  return sizes.map((s) => {
    const shape = x.shape.slice();
    shape[ax] = s;
    const out = c.alloc(shape);
    c.addon.copyCols(xv, offset, total, out, 0, s * inner, outer, s * inner);
    offset += s * inner;
    return c.output(shape, out);
  });
};

const addN: Factory = (c, stock) => (args) => {
  const inputs = args.inputs as Info[];
  if (!allFloat(inputs) || inputs.length < 2) return stock(args);
  const shape = inputs[0].shape;
  const out = c.alloc(shape);
  c.addon.binary(BIN_OP.add, c.f32(inputs[0]), c.f32(inputs[1]), out, shape, shape, shape);
  for (const t of inputs.slice(2)) c.addon.binary(BIN_OP.add, out, c.f32(t), out, shape, shape, shape);
  return c.output(shape, out);
};

/** tfjs kernel name -> native factory. */
export const NATIVE_KERNELS: Record<string, Factory> = {
  BatchMatMul: batchMatMul,
  Add: binaryKernel(BIN_OP.add),
  Sub: binaryKernel(BIN_OP.sub),
  Multiply: binaryKernel(BIN_OP.mul),
  RealDiv: binaryKernel(BIN_OP.div),
  Maximum: binaryKernel(BIN_OP.max),
  Minimum: binaryKernel(BIN_OP.min),
  SquaredDifference: binaryKernel(BIN_OP.sqdiff),
  Exp: unaryKernel(UN_OP.exp),
  Log: unaryKernel(UN_OP.log),
  Tanh: unaryKernel(UN_OP.tanh),
  Sqrt: unaryKernel(UN_OP.sqrt),
  Rsqrt: unaryKernel(UN_OP.rsqrt),
  Neg: unaryKernel(UN_OP.neg),
  Square: unaryKernel(UN_OP.square),
  Reciprocal: unaryKernel(UN_OP.reciprocal),
  Relu: unaryKernel(UN_OP.relu),
  Sigmoid: unaryKernel(UN_OP.sigmoid),
  Abs: unaryKernel(UN_OP.abs),
  Sum: reduceKernel(RED_OP.sum, 'axis'),
  Mean: reduceKernel(RED_OP.mean, 'axis'),
  Max: reduceKernel(RED_OP.max, 'reductionIndices'),
  Min: reduceKernel(RED_OP.min, 'axis'),
  Softmax: softmax,
  Transpose: transpose,
  GatherV2: gatherV2,
  UnsortedSegmentSum: unsortedSegmentSum,
  Slice: slice,
  PadV2: padV2,
  Concat: concat,
  SplitV: splitV,
  AddN: addN,
};
