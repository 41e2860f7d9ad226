import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { blockParams, depthLadder, truncateLayers } from '../lib/model/truncate';
import { RewardModel } from '../lib/methods/reward';

const cfg = { ...GPT_PRESETS.tiny, vocabSize: 7, blockSize: 8, nLayer: 3, nHead: 2, nEmbd: 16, seed: 3 };

describe('truncateLayers: a smaller model on the same features (chapter 11\'s size axis)', () => {
  it('counts 12 C^2 + 13 C parameters per block', () => {
    expect(blockParams(128)).toBe(198272); // 12 * 16384 + 13 * 128
    expect(blockParams(16)).toBe(3280); // 12 * 256 + 208
    const m = new GPT(cfg);
    expect(truncateLayers(m, 1).numParams()).toBe(m.numParams() - 2 * 3280);
    expect(truncateLayers(m, 3).numParams()).toBe(m.numParams());
  });

  it('keeps the residual stream: with later blocks adding nothing, the truncated model computes the same hidden states and logits', () => {
    const m = new GPT(cfg);
    // zero the residual projections of blocks 1 and 2: they add 0 to the stream, so only block 0 and lnf act
    for (const [name, v] of m.params) if (/^h[12]\.(attn\.wo|attn\.bo|mlp\.w2|mlp\.b2)$/.test(name)) v.assign(tf.zerosLike(v));
    const t = truncateLayers(m, 1);
    const idx = tf.tensor2d([[1, 2, 3, 4], [6, 5, 0, 1]], undefined, 'int32');
    const a = m.forwardHidden(idx).arraySync() as number[][][];
    const b = t.forwardHidden(idx).arraySync() as number[][][];
    a.flat(2).forEach((x, i) => expect(b.flat(2)[i]).toBeCloseTo(x, 5));
    const la = m.forward(idx).logits.dataSync();
    const lb = t.forward(idx).logits.dataSync();
    la.forEach((x, i) => expect(lb[i]).toBeCloseTo(x, 5));
  });

  it('copies the weights (training the copy leaves the original alone) and refuses depths it cannot make', () => {
    const m = new GPT(cfg);
    const t = truncateLayers(m, 2);
    const before = m.params.get('h0.mlp.w1')!.dataSync()[0];
    t.params.get('h0.mlp.w1')!.assign(tf.zerosLike(t.params.get('h0.mlp.w1')!));
    expect(m.params.get('h0.mlp.w1')!.dataSync()[0]).toBe(before);
    expect(() => truncateLayers(m, 0)).toThrow(/from 1 to 3, got 0/);
    expect(() => truncateLayers(m, 4)).toThrow(/from 1 to 3, got 4/);
    expect(() => truncateLayers(m, 1.5)).toThrow(/integer/);
  });

  it('gives a reward model of the chosen depth, and a ladder of 1, half and all blocks', () => {
    const m = new GPT(cfg);
    const rm = RewardModel.fromPolicy(m, 7, 1);
    expect(rm.trunk.config.nLayer).toBe(1);
    expect(rm.parameters().length).toBe(RewardModel.fromPolicy(m, 7).parameters().length - 2 * 12);
    expect(depthLadder(4)).toEqual([1, 2, 4]);
    expect(depthLadder(3)).toEqual([1, 2, 3]);
    expect(depthLadder(2)).toEqual([1, 2]);
    expect(depthLadder(1)).toEqual([1]);
    expect(() => depthLadder(0)).toThrow(/positive integer/);
  });
});
