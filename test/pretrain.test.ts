import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { streamLoss } from '../lib/model/streamLoss';
import { PRETRAIN_PRESETS, pretrain, pretrainConfig } from '../lib/train/pretrain';
import { Rng } from '../lib/core/rng';
import { getBatch } from '../lib/text/corpus';
import { trainLoop } from '../lib/train/train';

const V = 6;
const rng = new Rng(4);
const ids = Int32Array.from({ length: 400 }, () => Math.floor(rng.next() * V));
const held = Int32Array.from({ length: 120 }, (_, i) => i % V);
const tinyModel = () => new GPT({ ...GPT_PRESETS.tiny, vocabSize: V, blockSize: 8, nEmbd: 16, seed: 9 });
const cfg = { ...PRETRAIN_PRESETS.tiny, steps: 4, warmupSteps: 1, evalEvery: 2, batchSize: 3, evalTokens: 40, livePlot: false };

describe('pretrain', () => {
  it('is trainLoop on seeded corpus windows, with train and held-out estimates at each evaluation', async () => {
    const m1 = tinyModel();
    const res = await pretrain({ model: m1, trainIds: ids, heldOutIds: held }, cfg, { display: false });
    expect(res.history.length).toBe(4);
    expect(res.evals.map((e) => e.step)).toEqual([2, 4]);
    expect(res.evals[1].values.train).toBeCloseTo(streamLoss(m1, ids, { maxTokens: 40 }), 6);
    expect(res.evals[1].values['held-out']).toBeCloseTo(streamLoss(m1, held, { maxTokens: 40 }), 6);
    // the same steps written out by hand: windows from Rng(config.seed), the model's loss
    const m2 = tinyModel();
    const r = new Rng(cfg.seed);
    const byHand = await trainLoop({
      params: m2.parameters(), config: cfg, display: false,
      lossFn: () => {
        const { x, y } = getBatch(ids, cfg.batchSize, 8, r);
        return { loss: m2.loss(x, y, { training: true }) };
      },
    });
    expect(res.history.map((h) => h.loss)).toEqual(byHand.history.map((h) => h.loss));
    await expect(pretrain({ model: m2 }, cfg, { display: false })).rejects.toThrow('pretrain: give trainIds (or a batch function)');
    await expect(pretrain({ model: m2, trainIds: ids.slice(0, 8) }, cfg, { display: false })).rejects.toThrow('8 training ids, need more than blockSize 8');
    [m1, m2].forEach((m) => m.dispose());
  });

  it('takes batches from elsewhere (the benchmark) and has a course preset by default', async () => {
    const m = tinyModel();
    const seen: number[] = [];
    const res = await pretrain({
      model: m,
      batch: (step) => {
        seen.push(step);
        return { x: tf.tensor2d([[0, 1, 2, 3, 4, 5, 0, 1]], [1, 8], 'int32'), y: tf.tensor2d([[1, 2, 3, 4, 5, 0, 1, 2]], [1, 8], 'int32') };
      },
    }, { ...cfg, evalEvery: 0 }, { display: false });
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(res.evals).toEqual([]);
    expect(res.history[3].loss).toBeLessThan(res.history[0].loss);
    expect(pretrainConfig()).toEqual(PRETRAIN_PRESETS.course); // RLHF_FAST is unset in tests
    expect(PRETRAIN_PRESETS.course.lr).toBe(2e-3);
    m.dispose();
  });
});
