/**
 * Scalar heads on the transformer's hidden states [B, T, C] -> [B, T]: PPO's value head and the
 * reward model's head.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng';
import { NamedParam } from './model';

/**
 * A scalar read-out w . hidden + b on the transformer's hidden states: the value head of PPO
 * (init 'zero', so early values do not disturb the policy) or a reward head (init 'normal',
 * std 1 / sqrt(C + 1) as in Huang et al.'s reward model).
 */
export class ScalarHead {
  readonly w: tf.Variable;
  readonly b: tf.Variable;

  constructor(nEmbd: number, init: 'zero' | 'normal' = 'zero', seed = 7, trainable = true) {
    if (!Number.isInteger(nEmbd) || nEmbd <= 0) throw new Error(`ScalarHead: nEmbd must be a positive integer, got ${nEmbd}`);
    const data = new Float32Array(nEmbd);
    if (init === 'normal') {
      const rng = new Rng(seed);
      for (let i = 0; i < nEmbd; i++) data[i] = rng.normal() / Math.sqrt(nEmbd + 1);
    } else if (init !== 'zero') {
      throw new Error(`ScalarHead: init must be 'zero' or 'normal', got ${init}`);
    }
    this.w = tf.variable(tf.tensor1d(data), trainable);
    this.b = tf.variable(tf.scalar(0), trainable);
  }

  /** hidden [B,T,C] -> [B,T]. */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T, C] = hidden.shape;
      return tf.add(tf.matMul(hidden.reshape([B * T, C]), this.w.reshape([C, 1])), this.b).reshape([B, T]) as tf.Tensor2D;
    });
  }

  parameters(prefix = 'head'): NamedParam[] {
    return [
      { name: `${prefix}.w`, variable: this.w, decay: false },
      { name: `${prefix}.b`, variable: this.b, decay: false },
    ];
  }

  trainableVariables(): tf.Variable[] {
    return [this.w, this.b].filter((v) => v.trainable);
  }

  copy(opts: { trainable?: boolean } = {}): ScalarHead {
    const h = new ScalarHead(this.w.shape[0], 'zero', 0, opts.trainable ?? true);
    h.w.assign(this.w);
    h.b.assign(this.b);
    return h;
  }

  dispose(): void {
    this.w.dispose();
    this.b.dispose();
  }
}
