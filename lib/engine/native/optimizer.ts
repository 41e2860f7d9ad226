// One AdamW update (decoupled weight decay, Loshchilov & Hutter 2019) of one
// variable: a single native kernel on cpu+blas instead of ~15 tfjs kernels,
// plain tfjs ops on every other backend. Same maths either way (lib/train.ts's AdamW).
import * as tf from '@tensorflow/tfjs';
import { NativeContext, nativeActive } from './kernels';

const ADAMW = 'RlhfAdamW';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay per unit lr (0 for params that do not decay). */
  weightDecay: number;
  /** 1-based number of this update (bias correction 1 - beta^step). */
  step: number;
  /** Multiplies the gradient first (global-norm clipping); default 1. */
  gradScale?: number;
}

type Attrs = { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; bc1: number; bc2: number; gradScale: number };

/**
 * m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2 with g' = gradScale g;
 * p = p (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps). Assigns p, m and v.
 */
export function adamwUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamWHyper): void {
  if (!tf.util.arraysEqual(g.shape, p.shape) || !tf.util.arraysEqual(m.shape, p.shape) || !tf.util.arraysEqual(v.shape, p.shape)) {
    throw new Error(`adamwUpdate: shapes differ: param ${p.name} [${p.shape}], grad [${g.shape}], m [${m.shape}], v [${v.shape}]`);
  }
  if (!(h.step >= 1)) throw new Error(`adamwUpdate: step must be >= 1, got ${h.step}`);
  const attrs: Attrs = {
    lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay,
    bc1: 1 - h.beta1 ** h.step, bc2: 1 - h.beta2 ** h.step, gradScale: h.gradScale ?? 1,
  };
  const [p2, m2, v2] = nativeActive() && g.dtype === 'float32'
    ? (tf.engine().runKernel(ADAMW, { p, g, m, v }, attrs) as tf.Tensor[])
    : adamwOps(p, g, m, v, attrs);
  p.assign(p2);
  m.assign(m2);
  v.assign(v2);
  tf.dispose([p2, m2, v2]);
}

function adamwOps(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: Attrs): tf.Tensor[] {
  return tf.tidy(() => {
    const gs = a.gradScale === 1 ? g : tf.mul(g, a.gradScale);
    const m2 = tf.add(tf.mul(m, a.beta1), tf.mul(gs, 1 - a.beta1));
    const v2 = tf.add(tf.mul(v, a.beta2), tf.mul(tf.mul(gs, gs), 1 - a.beta2));
    const update = tf.div(tf.div(m2, a.bc1), tf.add(tf.sqrt(tf.div(v2, a.bc2)), a.eps));
    const decayed = a.weightDecay > 0 ? tf.mul(p, 1 - a.lr * a.weightDecay) : p;
    return [tf.sub(decayed, tf.mul(update, a.lr)), m2, v2];
  });
}

/** The native kernel behind adamwUpdate (never differentiated, so no gradient). */
export function registerAdamWKernel(c: NativeContext): string {
  const kernelFunc = ({ inputs, attrs }: { inputs: Record<string, tf.TensorInfo>; attrs?: tf.NamedAttrMap }) => {
    const { p, g, m, v } = inputs;
    const a = attrs as unknown as Attrs;
    const pOut = c.alloc(p.shape), mOut = c.alloc(p.shape), vOut = c.alloc(p.shape);
    c.addon.adamw(c.f32(p), c.f32(g), c.f32(m), c.f32(v), pOut, mOut, vOut, pOut.length, a.lr,
      a.beta1, a.beta2, a.eps, a.weightDecay, a.bc1, a.bc2, a.gradScale);
    return [c.output(p.shape, pOut), c.output(p.shape, mOut), c.output(p.shape, vOut)];
  };
  if (tf.getKernel(ADAMW, 'cpu')) tf.unregisterKernel(ADAMW, 'cpu');
  tf.registerKernel({ kernelName: ADAMW, backendName: 'cpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return ADAMW;
}
