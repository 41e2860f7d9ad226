/**
 * Plain stochastic gradient descent, the baseline AdamW is measured against (chapter 02):
 * p -= lr (gradScale g) with decoupled weight decay p -= lr weightDecay p on decaying params, and
 * optional heavy-ball momentum m = momentum m + g. It has AdamW's interface (train.ts `Optimizer`),
 * so trainLoop runs it unchanged: `trainLoop({ ..., optimizer: new SGD(params) })`.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedParam } from '../model/model';
import { normaliseParams, Optimizer, ParamSpec } from './train';

export class SGD implements Optimizer {
  readonly params: NamedParam[];
  t = 0;
  private m: tf.Variable[] | null;

  constructor(params: ParamSpec[], readonly hp: { momentum?: number; weightDecay?: number } = {}) {
    const momentum = hp.momentum ?? 0;
    if (!(momentum >= 0 && momentum < 1)) throw new Error(`SGD: momentum must be in [0, 1), got ${momentum}`);
    this.params = normaliseParams(params);
    this.m = momentum > 0 ? this.params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false))) : null;
  }

  step(grads: (tf.Tensor | undefined)[], lr: number, gradScale = 1): void {
    const momentum = this.hp.momentum ?? 0;
    const wd = this.hp.weightDecay ?? 0;
    this.t += 1;
    this.params.forEach(({ variable: p, decay }, i) => {
      const g = grads[i];
      if (!g) return;
      tf.tidy(() => {
        let d: tf.Tensor = tf.mul(g, gradScale);
        if (this.m) {
          this.m[i].assign(tf.add(tf.mul(this.m[i], momentum), d));
          d = this.m[i];
        }
        const decayed = decay && wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(d, lr)));
      });
    });
  }

  dispose(): void {
    this.m?.forEach((x) => x.dispose());
  }
}
