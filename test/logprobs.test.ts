import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GPT } from '../lib/model/model';
import { completionLogProbs } from '../lib/model/logprobs';

/**
 * A GPT whose next-token logits are the same known vector l at every position: every block's
 * weights are 0 (its branches add nothing), the final LayerNorm's gain is 0 and its bias is e0,
 * so the hidden state is e0 and the untied head's first row l is the logits.
 * l = [0, ln 2, ln 5]: p = [1/8, 2/8, 5/8] at temperature 1.
 */
function constantLogitsModel(): GPT {
  const cfg = { vocabSize: 3, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 2, dropout: 0, tieWeights: false, seed: 1 };
  const shapes = new GPT(cfg);
  const init = new Map<string, tf.Tensor>();
  for (const { name, variable } of shapes.parameters()) init.set(name, tf.zeros(variable.shape));
  init.set('lnf.b', tf.tensor1d([1, 0]));
  init.set('lmHead', tf.tensor2d([[0, Math.log(2), Math.log(5)], [0, 0, 0]]));
  shapes.dispose();
  const m = new GPT(cfg, init);
  init.forEach((t) => t.dispose());
  return m;
}

describe('completionLogProbs on a hand-computed case', () => {
  const m = constantLogitsModel();
  // Row 0: prompt [0], completion [2, 1]; row 1: prompt [1, 1], completion [0], then a pad (id 0).
  const tokens = tf.tensor2d([[0, 2, 1, 0], [1, 1, 0, 0]], [2, 4], 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 0]]);
  const actionMask = tf.tensor2d([[0, 1, 1, 0], [0, 0, 1, 0]]);
  const L = [Math.log(1 / 8), Math.log(2 / 8), Math.log(5 / 8)];

  it('gives log p(token_t) at real positions, 0 at t = 0 and at pads, and sums over the mask', () => {
    const r = completionLogProbs(m, tokens, mask);
    const lp = r.logProbs.arraySync();
    const want = [[0, L[2], L[1], 0], [0, L[1], L[0], 0]];
    want.forEach((row, b) => row.forEach((x, t) => expect(lp[b][t]).toBeCloseTo(x, 5)));
    const sums = r.sums.arraySync();
    expect(sums[0]).toBeCloseTo(L[2] + L[1], 5);
    expect(sums[1]).toBeCloseTo(L[1] + L[0], 5);
  });

  it('with an actionMask counts only the completion; temperature divides the logits; entropy and hidden on request', () => {
    const r = completionLogProbs(m, tokens, mask, { actionMask, temperature: 2, entropy: true, hidden: true });
    // at temperature 2: p proportional to [1, sqrt 2, sqrt 5]
    const z = 1 + Math.SQRT2 + Math.sqrt(5);
    const p = [1 / z, Math.SQRT2 / z, Math.sqrt(5) / z];
    const lp = r.logProbs.arraySync().map((row) => row.map((x) => x + 0)); // -0 (a masked negative) reads as 0
    expect(lp[0]).toEqual([0, expect.closeTo(Math.log(p[2]), 5), expect.closeTo(Math.log(p[1]), 5), 0]);
    expect(lp[1]).toEqual([0, 0, expect.closeTo(Math.log(p[0]), 5), 0]);
    const sums = r.sums.arraySync();
    expect(sums[0]).toBeCloseTo(Math.log(p[2]) + Math.log(p[1]), 5);
    expect(sums[1]).toBeCloseTo(Math.log(p[0]), 5);
    const h = -p.reduce((a, q) => a + q * Math.log(q), 0);
    expect(r.entropy!.arraySync().map((row) => row.map((x) => x + 0))).toEqual([[0, expect.closeTo(h, 5), expect.closeTo(h, 5), 0], [0, expect.closeTo(h, 5), expect.closeTo(h, 5), 0]]);
    expect(r.hidden!.shape).toEqual([2, 4, 2]);
    expect(() => completionLogProbs(m, tokens, mask, { actionMask: tf.ones([2, 3]) as tf.Tensor2D })).toThrow('actionMask [2,3] must be [2,4]');
  });

  it('is differentiable: d sum / d lmHead row 0 = sum over counted tokens of (onehot - p)', () => {
    const head = m.params.get('lmHead')!;
    const { grads } = tf.variableGrads(() => tf.sum(completionLogProbs(m, tokens, mask, { actionMask }).sums) as tf.Scalar, [head]);
    const dl = (grads[head.name].arraySync() as number[][])[0];
    // counted tokens: 2, 1 (row 0) and 0 (row 1); each gives onehot(token) - p with p = [1/8, 2/8, 5/8]
    const p = [1 / 8, 2 / 8, 5 / 8];
    const want = [0, 1, 2].map((v) => [2, 1, 0].reduce((a, tok) => a + (v === tok ? 1 : 0) - p[v], 0));
    dl.forEach((x, v) => expect(x).toBeCloseTo(want[v], 5));
  });
});
