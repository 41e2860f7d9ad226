import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { completionLogProbs } from '../lib/model/logprobs';
import { collectExperience, disposeExperience } from '../lib/rl/experience';
import { groupValues, rollout, rolloutGroups, rolloutLogProbs, sampleGroups } from '../lib/rl/rollout';
import { groupAdvantages } from '../lib/rl/advantages';

describe('sample groups (K samples per prompt)', () => {
  it('lays rows out by prompt or by copy of the prompt list', () => {
    expect(sampleGroups(['a', 'b', 'c'], 2).rows).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(sampleGroups(['a', 'b', 'c'], 2, 'byCopy').rows).toEqual([[0, 3], [1, 4], [2, 5]]);
    const g = sampleGroups(['a', 'b'], 3, 'byCopy');
    expect(groupValues(g, [0, 1, 2, 3, 4, 5])).toEqual([[0, 2, 4], [1, 3, 5]]);
    expect(() => groupValues(g, [1, 2])).toThrow('2 values for 2 prompts x 3 samples');
    expect(() => sampleGroups(['a'], 0)).toThrow('k must be an integer >= 1, got 0');
  });
});

describe('collectExperience', () => {
  const tok = CharTokenizer.fromText('Human: hi\nAssistant: abcdez.');
  const prompts = ['Human: hi\nAssistant: ', 'Human: hid\nAssistant: '];
  const countA = (rows: number[][]) => rows.map((r) => tok.decode(r).split('Assistant: ')[1].split('a').length - 1);

  it('samples K per prompt and measures each row as rollout, rolloutLogProbs and the proxy do', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 4 });
    const refPolicy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 5 }, undefined, false);
    const gen = { maxNewTokens: 5, temperature: 0.8, seed: 2 };
    const before = tf.memory().numTensors;
    const e = await collectExperience({ policy, refPolicy, tokenizer: tok, proxy: countA, gold: (c) => c.length }, prompts, {
      gen, samplesPerPrompt: 3, entropy: true, values: (h, am) => tf.mul(tf.sum(h, -1), am) as tf.Tensor2D,
    });
    // the same draws as rolloutGroups (byPrompt) and as rollout over the repeated prompt list
    const { rollout: r, groups } = await rolloutGroups(policy, tok, prompts, 3, gen);
    expect(e.rollout).toEqual(r);
    expect(e.groups).toEqual(groups);
    expect(e.rollout).toEqual(await rollout(policy, tok, prompts.flatMap((p) => [p, p, p]), gen));
    // log-probs on the completions' positions, at the sampling temperature
    const lp = rolloutLogProbs(policy, r, tok.padId, 0.8);
    const ref = rolloutLogProbs(refPolicy, r, tok.padId, 0.8);
    r.completionIds.forEach((c, i) => {
      const P = r.promptIds[i].length;
      expect(e.actionMask[i].slice(P, P + c.length)).toEqual(c.map(() => 1));
      expect(e.actionMask[i].reduce((a, b) => a + b, 0)).toBe(c.length);
      c.forEach((_, t) => {
        expect(e.logProbs[i][P + t]).toBeCloseTo(lp[i][t], 5);
        expect(e.refLogProbs[i][P + t]).toBeCloseTo(ref[i][t], 5);
      });
      expect(e.seqKL[i]).toBeCloseTo(lp[i].reduce((a, x, t) => a + x - ref[i][t], 0), 4);
    });
    expect(e.proxy).toEqual(countA(r.promptIds.map((p, i) => [...p, ...r.completionIds[i]])));
    expect(e.gold).toEqual(r.completions.map((c) => c.length));
    expect(e.entropy!.length).toBe(6);
    // values: the hook sees the policy's hidden states of the same pass, masked to actions
    const hsum = tf.tidy(() => tf.sum(completionLogProbs(policy, e.tensors.tokens, e.tensors.mask, { hidden: true }).hidden!, -1));
    const hs = hsum.arraySync() as number[][];
    e.values!.forEach((row, i) => row.forEach((v, t) => expect(v).toBeCloseTo(hs[i][t] * e.actionMask[i][t], 4)));
    // grouped sequence rewards for GRPO/RLOO: [prompt][sample]
    const adv = groupAdvantages(groupValues(e.groups, e.proxy));
    expect(adv.length).toBe(2);
    expect(adv.every((g) => g.length === 3 && Math.abs(g.reduce((a, b) => a + b, 0)) < 1e-9)).toBe(true);
    hsum.dispose();
    disposeExperience(e);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
    refPolicy.dispose();
  });
});
