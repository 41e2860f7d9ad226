import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensurePretrained } from '../lib/course/basemodel';
import { chatBatch, disposeBatch, sftConfig, sftEval, sftLossFromLogits, sftTrain, SFT_PRESETS } from '../lib/methods/sft';
import { saveCheckpoint } from '../lib/train/checkpoint';
import { loadCorpus } from '../lib/text/corpus';
import { CharTokenizer } from '../lib/text/tokenizer';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { generate } from '../lib/model/sample';

// Vocabulary a=0, b=1, <end>=2, <pad>=3.
const tok = new CharTokenizer(['a', 'b']);

describe('chat batches', () => {
  it('keep pad and end distinct, mask the prompt by its length, keep <end> in the loss', () => {
    expect([tok.endId, tok.padId]).toEqual([2, 3]);
    const b = chatBatch(tok, [{ prompt: 'ab', completion: 'a' }, { prompt: 'a', completion: '' }], 8);
    // Row 0: s = a b a <end>; x = a b a, y = b a <end>; prompt length 2 -> loss from t = 1.
    // Row 1: s = a <end>;     x = a,     y = <end>;     prompt length 1 -> loss from t = 0.
    expect(b.inputs.arraySync()).toEqual([[0, 1, 0], [0, 3, 3]]);
    expect(b.targets.arraySync()).toEqual([[1, 0, 2], [2, 3, 3]]);
    expect(b.lossMask.arraySync()).toEqual([[0, 1, 1], [1, 0, 0]]);
    expect(b.promptLengths).toEqual([2, 1]);
    disposeBatch(b);
  });

  it('masked loss equals the hand-computed mean over completion and <end> tokens', () => {
    const b = chatBatch(tok, [{ prompt: 'ab', completion: 'a' }, { prompt: 'a', completion: '' }], 8);
    const L = Math.log;
    // Logits [2, 3, 4]. Masked-out positions get logits that would cost ~100 nats if counted.
    const logits = tf.tensor3d([
      [[100, 0, 0, 0], [L(3), 0, 0, 0], [0, 0, L(5), 0]], // t=1: p(a) = 3/6; t=2: p(<end>) = 5/8
      [[0, 0, 0, 0], [100, 0, 0, 0], [100, 0, 0, 0]], //     t=0: p(<end>) = 1/4
    ]);
    const loss = sftLossFromLogits(logits, b).dataSync()[0];
    expect(loss).toBeCloseTo((L(2) + L(8 / 5) + L(4)) / 3, 5);
    disposeBatch(b);
    logits.dispose();
  });

  it('refuses rows longer than the context', () => {
    expect(() => chatBatch(tok, [{ prompt: 'ab', completion: 'ab' }], 3)).toThrow('example 0 has 5 tokens; at most blockSize + 1 = 4 fit');
    expect(() => chatBatch(tok, [{ prompt: '', completion: 'a' }], 8)).toThrow('example 0 has an empty prompt');
  });
});

describe('sftTrain', () => {
  const data = [
    { prompt: 'ab', completion: 'ba' },
    { prompt: 'ba', completion: 'ab' },
    { prompt: 'aa', completion: 'bb' },
    { prompt: 'bb', completion: 'aa' },
  ];
  const run = async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 8, nEmbd: 16, seed: 3 });
    const before = sftEval(policy, tok, data);
    const res = await sftTrain({ policy, tokenizer: tok, examples: data, heldOut: data }, { ...SFT_PRESETS.tiny, steps: 40, batchSize: 4, lr: 1e-2, evalEvery: 20 }, { display: false });
    return { policy, before, res };
  };

  it('learns the completions and to stop at <end>, reproducibly, without leaking tensors', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const { policy, before, res } = await run();
    const after = res.evals[res.evals.length - 1].values.heldOut;
    expect(before).toBeGreaterThan(1); // ~ln 4 at init
    expect(after).toBeLessThan(0.3);
    const [g] = generate(policy, [tok.encode('ab')], { maxNewTokens: 5, temperature: 0, endId: tok.endId, padId: tok.padId });
    expect(tok.decode(g.completion)).toBe('ba<end>');
    const again = await run();
    expect(again.res.history.map((h) => h.loss)).toEqual(res.history.map((h) => h.loss));
    for (const r of [{ policy, res }, again]) {
      r.policy.dispose();
      r.res.optimizer.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('picks the tiny preset in fast mode and the course preset otherwise', () => {
    expect(sftConfig({ steps: 7 }).steps).toBe(7);
    expect([SFT_PRESETS.tiny.weightDecay, SFT_PRESETS.course.weightDecay]).toEqual([0, 0]);
  });
});

describe('ensurePretrained', () => {
  it("extends a short-context checkpoint's positions by tiling, trains, saves, and reuses the result until chapter 02's checkpoint changes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pre-'));
    const ch2 = path.join(dir, 'pretrained');
    const fb = path.join(dir, 'pretrained-chat');
    const full = CharTokenizer.fromText(loadCorpus());
    const short = new GPT({ ...GPT_PRESETS.tiny, vocabSize: full.vocabSize, blockSize: 8, nEmbd: 16 });
    saveCheckpoint(ch2, { model: short, tokenizer: full });
    const wpe = short.params.get('wpe')!.arraySync() as number[][];
    const got = await ensurePretrained({ dir: ch2, fallbackDir: fb, minBlockSize: 16, steps: 1, display: false });
    expect(got.model.config.blockSize).toBe(16);
    expect(got.source).toContain('context extended from 8 to 16');
    const after = got.model.params.get('wpe')!.arraySync() as number[][];
    // One AdamW step of lr 3e-4 moves each weight by at most ~3e-4: rows 8..15 still copy rows 0..7.
    for (let t = 0; t < 16; t++) for (let c = 0; c < 16; c++) expect(Math.abs(after[t][c] - wpe[t % 8][c])).toBeLessThan(1e-3);
    const again = await ensurePretrained({ dir: ch2, fallbackDir: fb, minBlockSize: 16, display: false });
    expect(again.source).toBe(fb);
    expect(again.model.params.get('wpe')!.arraySync()).toEqual(after);
    // chapter 02 re-run: new weights in ch2, so the saved extension is stale and is made again from them
    const retrained = new GPT({ ...GPT_PRESETS.tiny, vocabSize: full.vocabSize, blockSize: 8, nEmbd: 16, seed: 99 });
    saveCheckpoint(ch2, { model: retrained, tokenizer: full });
    const wpe2 = retrained.params.get('wpe')!.arraySync() as number[][];
    const remade = await ensurePretrained({ dir: ch2, fallbackDir: fb, minBlockSize: 16, steps: 1, display: false });
    expect(remade.source).toContain('context extended from 8 to 16');
    const after2 = remade.model.params.get('wpe')!.arraySync() as number[][];
    for (let t = 0; t < 16; t++) for (let c = 0; c < 16; c++) expect(Math.abs(after2[t][c] - wpe2[t % 8][c])).toBeLessThan(1e-3);
    const reused = await ensurePretrained({ dir: ch2, fallbackDir: fb, minBlockSize: 16, display: false });
    expect(reused.source).toBe(fb);
    for (const m of [short, got.model, again.model, retrained, remade.model, reused.model]) m.dispose();
  });
});
