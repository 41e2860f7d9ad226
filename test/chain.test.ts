import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

// The artifacts chapters hand each other, walked in fast mode with a tiny model, through the
// functions the notebooks call (lib/course/stages.ts): each one written, read back unchanged, found
// under its (unchanged) folder name, and a missing one naming the notebook to run.
// RLHF_FAST is read when lib/core/mode.ts loads, so it is set before the dynamic imports below.
const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-chain-'));
process.env.RLHF_FAST = '1';
process.env.RLHF_RUNS = runs;

describe('the chain of artifacts (fast mode)', () => {
  it('writes, reads and names every artifact, and says what to re-run when one is missing', async () => {
    const st = await import('../lib/course/stages');
    const { ensurePretrained } = await import('../lib/course/basemodel');
    const { GPT, GPT_PRESETS } = await import('../lib/model/model');
    const { CharTokenizer } = await import('../lib/text/tokenizer');
    const { RewardModel } = await import('../lib/methods/reward');
    const { makeComparison } = await import('../lib/feedback/preferences');
    const { defaultLabelPaths } = await import('../lib/course/stages');
    const { FAST } = await import('../lib/core/mode');
    expect(FAST).toBe(true);
    const fast = path.join(runs, 'fast');
    // the folder names of earlier versions, so runs/ saved by them still load
    expect(Object.fromEntries(Object.entries(st.STAGES).map(([k, v]) => [k, v.path]))).toEqual({
      pretrained: 'pretrained', pretrainedChat: 'pretrained-chat', sft: 'sft', comparisons: 'comparisons.jsonl',
      labelPairs: 'label-pairs.jsonl', labels: 'labels.jsonl', rewardModel: 'reward-model', results: 'results', histories: 'histories',
    });
    expect(() => st.loadSFT()).toThrow(`${path.join(fast, 'sft')} does not exist: run notebooks/03-sft.ipynb first, in the same mode (fast: RLHF_FAST=1)`);
    expect(() => st.loadPretrained()).toThrow(/run notebooks\/02-transformer\.ipynb first/);
    expect(() => st.loadComparisons()).toThrow(/comparisons\.jsonl does not exist: run notebooks\/04-reward-model\.ipynb/);
    expect(() => st.loadRewardModel()).toThrow(/reward-model does not exist: run notebooks\/04-reward-model\.ipynb/);

    // 02 -> 03: the pretrained model, and ensurePretrained taking it as it is (context long enough)
    const tok = new CharTokenizer(['a', 'b', ' ']);
    const model = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 16, nEmbd: 16, seed: 5 });
    const ids = tf.tensor2d([[0, 1, 2, 0]], [1, 4], 'int32');
    const logits = (m: InstanceType<typeof GPT>) => Array.from(m.forward(ids).logits.dataSync());
    expect(st.savePretrained({ model, tokenizer: tok, meta: { fast: true } })).toBe(path.join(fast, 'pretrained'));
    const pre = st.loadPretrained({ config: { nLayer: 2 } });
    expect(logits(pre.model)).toEqual(logits(model));
    const base = await ensurePretrained({ minBlockSize: 16, display: false });
    expect(base.source).toBe(path.join(fast, 'pretrained'));
    expect(fs.existsSync(path.join(fast, 'pretrained-chat'))).toBe(false);

    // 03 -> 04..08: the SFT policy
    expect(st.saveSFT({ model: base.model, tokenizer: base.tokenizer, meta: { kind: 'sft' } })).toBe(path.join(fast, 'sft'));
    const sft = st.loadSFT();
    expect(sft.dir).toBe(path.join(fast, 'sft'));
    expect(logits(sft.policy)).toEqual(logits(model));
    expect(sft.policy.parameters().every((p) => !p.variable.trainable)).toBe(true); // frozen unless asked
    expect(sft.tokenizer.vocabSize).toBe(tok.vocabSize);

    // 04 -> 07, 08: comparisons, tagged with their split, train first
    const c1 = makeComparison('p1', 'a b<end>', 'b<end>', 'A>B', 'sim', { metadata: { goldA: 1, goldB: 0 } });
    const c2 = makeComparison('p2', 'a<end>', 'b b<end>', 'B>>A', 'sim', { metadata: { goldA: 0, goldB: 2 } });
    const c3 = makeComparison('p3', 'b<end>', 'a<end>', 'A>=B', 'sim');
    expect(st.saveComparisons({ train: [c1, c2], heldOut: [c3] })).toBe(path.join(fast, 'comparisons.jsonl'));
    expect(st.loadComparisons('train')).toEqual([{ ...c1, metadata: { ...c1.metadata, split: 'train' } }, { ...c2, metadata: { ...c2.metadata, split: 'train' } }]);
    expect(st.loadComparisons('heldOut').map((c) => c.prompt)).toEqual(['p3']);
    expect(st.loadComparisons().length).toBe(3);

    // 04 -> 05..08: the reward model with its normalisation
    const rm = RewardModel.fromPolicy(sft.policy, 3);
    const rows = [[0, 1, 2], [1, 1, 0, 2], [2, 0]];
    rm.normalize(rows, tok.padId);
    expect(st.saveRewardModel(rm, tok, { heldOutGoldAcc: 0.5 })).toBe(path.join(fast, 'reward-model'));
    const rm2 = st.loadRewardModel();
    expect([rm2.offset, rm2.scale]).toEqual([rm.offset, rm.scale]);
    rm2.scoreRows(rows, tok.padId).forEach((r, i) => expect(r).toBeCloseTo(rm.scoreRows(rows, tok.padId)[i], 6));

    // 05, 07 -> 08: policies behind results (the folder names chapters 05 and 07 always used)
    const result = (method: string, label: string, beta: number) => ({
      method, label, params: { beta }, proxy: 0, proxyStderr: 0, gold: beta, goldStderr: 0, klK1: beta, klK3: beta,
      endRate: 1, length: 2, prompts: ['p'], completions: ['c'], proxyScores: [0], goldScores: [beta], klPerSample: [beta],
    });
    const ppo = result('PPO', 'PPO beta=0.05', 0.05);
    const dpo = result('DPO', 'DPO beta=0.1', 0.1);
    expect(st.hasPolicy(ppo)).toBe(false);
    expect(() => st.loadPolicy(dpo)).toThrow(`${path.join(fast, 'dpo-beta0.1')} does not exist: the policy of "DPO beta=0.1" was not saved; run notebooks/07-dpo.ipynb`);
    expect(st.savePolicy(ppo, { model: sft.policy, tokenizer: tok, meta: { beta: 0.05 } })).toBe(path.join(fast, 'ppo-beta0.05'));
    expect(st.savePolicy(dpo, { model: sft.policy, tokenizer: tok, meta: { beta: 0.1 } })).toBe(path.join(fast, 'dpo-beta0.1'));
    expect(st.hasPolicy(ppo)).toBe(true);
    const loaded = st.loadPolicy(dpo);
    expect(loaded.meta.beta).toBe(0.1);
    expect(logits(loaded.model)).toEqual(logits(model));

    // 05..07 -> 08: results and histories
    expect(() => st.requireResults(['SFT'])).toThrow(`no SFT results in ${path.join(fast, 'results')}: run notebooks/05-ppo.ipynb first`);
    st.saveResult(dpo);
    st.saveResult(ppo);
    expect(() => st.requireResults(['PPO', 'best-of-N'])).toThrow(/no best-of-N results .*: run notebooks\/06-best-of-n\.ipynb first/);
    expect(st.requireResults(['PPO', 'DPO']).map((r) => r.label)).toEqual(['DPO beta=0.1', 'PPO beta=0.05']);
    expect(st.saveHistory('PPO beta=0.05', [{ iteration: 1, kl: 0 }])).toBe(path.join(fast, 'histories', 'PPO_beta=0.05.json'));
    expect(st.loadHistory('PPO beta=0.05')).toEqual([{ iteration: 1, kl: 0 }]);

    // the labeling page's files
    expect(defaultLabelPaths()).toEqual({ pairs: path.join(fast, 'label-pairs.jsonl'), labels: path.join(fast, 'labels.jsonl') });
    [model, pre.model, base.model, sft.policy, loaded.model].forEach((m) => m.dispose());
    rm.dispose();
    rm2.dispose();
  });
});
