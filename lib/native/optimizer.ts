// AdamW (decoupled weight decay, Loshchilov & Hutter 2019) as one native kernel
// per variable on cpu+blas, instead of ~15 tfjs kernels per variable; plain tfjs
// ops on every other backend. Same maths either way.
import * as tf from '@tensorflow/tfjs';
import { NativeContext, nativeActive } from './kernels';

const ADAMW = 'RlhfAdamW';

export interface FusedAdamWConfig {
  learningRate: number;
  beta1?: number; // default 0.9
  beta2?: number; // default 0.95
  epsilon?: number; // default 1e-8
  weightDecay?: number; // default 0.01
  /** Which variables decay; default: matrices (rank >= 2), not biases, gains or 1-D params. */
  decays?: (v: tf.Variable) => boolean;
}

export class FusedAdamW {
  readonly cfg: Required<FusedAdamWConfig>;
  /** Number of updates applied so far (bias correction uses it). */
  step = 0;
  private m = new Map<tf.Variable, tf.Tensor>();
  private v = new Map<tf.Variable, tf.Tensor>();

  constructor(cfg: FusedAdamWConfig) {
    if (!(cfg.learningRate > 0)) throw new Error(`FusedAdamW: learningRate must be > 0, got ${cfg.learningRate}`);
    this.cfg = {
      beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.01,
      decays: (v) => v.rank >= 2, ...cfg,
    };
  }

  /** One update of each variable from its gradient (grads[v.name]); `lr` overrides the rate (schedules). */
  applyGradients(vars: tf.Variable[], grads: tf.NamedTensorMap, lr = this.cfg.learningRate): void {
    this.step++;
    const { beta1, beta2, epsilon } = this.cfg;
    const attrs = (v: tf.Variable) => ({
      lr, beta1, beta2, epsilon, weightDecay: this.cfg.decays(v) ? this.cfg.weightDecay : 0,
      bc1: 1 - beta1 ** this.step, bc2: 1 - beta2 ** this.step,
    });
    const native = nativeActive();
    for (const variable of vars) {
      const g = grads[variable.name];
      if (!g) continue;
      if (!tf.util.arraysEqual(g.shape, variable.shape)) {
        throw new Error(`FusedAdamW: gradient of ${variable.name} has shape ${g.shape}, variable has ${variable.shape}`);
      }
      const m = this.m.get(variable) ?? tf.keep(tf.zerosLike(variable));
      const v = this.v.get(variable) ?? tf.keep(tf.zerosLike(variable));
      const [p2, m2, v2] = native
        ? (tf.engine().runKernel(ADAMW, { p: variable, g, m, v }, attrs(variable)) as tf.Tensor[])
        : adamwOps(variable, g, m, v, attrs(variable));
      variable.assign(p2);
      p2.dispose();
      m.dispose();
      v.dispose();
      this.m.set(variable, tf.keep(m2));
      this.v.set(variable, tf.keep(v2));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

type Attrs = { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; bc1: number; bc2: number };

function adamwOps(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: Attrs): tf.Tensor[] {
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(a.beta1, m), tf.mul(1 - a.beta1, g));
    const v2 = tf.add(tf.mul(a.beta2, v), tf.mul(1 - a.beta2, tf.square(g)));
    const update = tf.div(tf.div(m2, a.bc1), tf.add(tf.sqrt(tf.div(v2, a.bc2)), a.epsilon));
    const p2 = tf.sub(p, tf.mul(a.lr, tf.add(update, tf.mul(a.weightDecay, p))));
    return [p2, m2, v2];
  });
}

/** The native kernel behind FusedAdamW (no gradient: it is never differentiated). */
export function registerAdamWKernel(c: NativeContext): void {
  const kernelFunc = ({ inputs, attrs }: { inputs: Record<string, tf.TensorInfo>; attrs?: tf.NamedAttrMap }) => {
    const { p, g, m, v } = inputs;
    const a = attrs as unknown as Attrs;
    const pOut = c.alloc(p.shape), mOut = c.alloc(p.shape), vOut = c.alloc(p.shape);
    c.addon.adamw(c.f32(p), c.f32(g), c.f32(m), c.f32(v), pOut, mOut, vOut, pOut.length, a.lr,
      a.beta1, a.beta2, a.epsilon, a.weightDecay, a.bc1, a.bc2);
    return [c.output(p.shape, pOut), c.output(p.shape, mOut), c.output(p.shape, vOut)];
  };
  if (tf.getKernel(ADAMW, 'cpu')) tf.unregisterKernel(ADAMW, 'cpu');
  tf.registerKernel({ kernelName: ADAMW, backendName: 'cpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
