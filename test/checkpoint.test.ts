import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { libraryVersion, loadCheckpoint, saveCheckpoint } from '../lib/train/checkpoint';
import { GPT, GPTConfig } from '../lib/model/model';
import { ScalarHead } from '../lib/model/heads';
import { Rng } from '../lib/core/rng';
import { CharTokenizer } from '../lib/text/tokenizer';
import { AdamW, TRAIN_DEFAULTS, trainLoop, TrainLoopOptions } from '../lib/train/train';

const CFG: GPTConfig = { vocabSize: 7, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, tieWeights: false, seed: 2 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function roughModel(seed: number): GPT {
  const m = new GPT(CFG);
  const rng = new Rng(seed);
  for (const { variable } of m.parameters()) {
    variable.assign(tf.tensor(Float32Array.from({ length: variable.size }, () => 0.3 * rng.normal()), variable.shape));
  }
  return m;
}

const idx = tf.tensor2d([[0, 1, 2, 3, 4], [4, 4, 0, 1, 5]], [2, 5], 'int32');
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
const tokenizer = new CharTokenizer(['a', 'b', 'c', 'd', 'e']); // + <end>, <pad> = 7

describe('checkpoint round trip', () => {
  it('reproduces logits, tokenizer, heads, optimizer state, step and meta', () => {
    const model = roughModel(1);
    const head = new ScalarHead(CFG.nEmbd, 'normal', 3);
    const opt = new AdamW(model.parameters(), TRAIN_DEFAULTS);
    opt.step(model.parameters().map((p) => tf.onesLike(p.variable)), 1e-3);
    const dir = path.join(root, 'a', 'ckpt');
    saveCheckpoint(dir, { model, tokenizer, heads: { value: head }, optimizer: opt, meta: { valLoss: 1.5 } });
    const r = loadCheckpoint(dir, { config: { nEmbd: 8 } });
    expect(maxDiff(r.model.forward(idx).logits, model.forward(idx).logits)).toBe(0);
    expect(r.config).toEqual(CFG);
    expect(r.tokenizer!.toJSON()).toEqual(tokenizer.toJSON());
    expect(Array.from(r.heads.value.w.dataSync())).toEqual(Array.from(head.w.dataSync()));
    expect(r.optimizer!.t).toBe(1);
    expect(Array.from(r.optimizer!.v['h0.mlp.w1'])).toEqual(Array.from(opt.state().v['h0.mlp.w1']));
    expect(r.step).toBe(1);
    expect(r.meta).toEqual({ valLoss: 1.5 });
    expect(r.libraryVersion).toBe(libraryVersion());
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['ckpt']); // no temp or old folders left
    expect(loadCheckpoint(dir, { trainable: false }).model.trainableVariables()).toHaveLength(0);
  });

  it('replaces an older checkpoint in place', () => {
    const dir = path.join(root, 'b');
    saveCheckpoint(dir, { model: roughModel(1) });
    const newer = roughModel(2);
    saveCheckpoint(dir, { model: newer, step: 7 });
    const r = loadCheckpoint(dir);
    expect(maxDiff(r.model.forward(idx).logits, newer.forward(idx).logits)).toBe(0);
    expect(r.step).toBe(7);
    expect(r.optimizer).toBeUndefined();
    expect(fs.readdirSync(root).filter((f) => f.startsWith('.b.'))).toEqual([]);
  });

  it('a save that fails midway leaves the previous checkpoint intact and no temp folder', () => {
    const dir = path.join(root, 'c');
    const first = roughModel(3);
    saveCheckpoint(dir, { model: first });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic; // JSON.stringify throws after weights.bin was written
    expect(() => saveCheckpoint(dir, { model: roughModel(4), meta: cyclic })).toThrow(/circular/i);
    expect(maxDiff(loadCheckpoint(dir).model.forward(idx).logits, first.forward(idx).logits)).toBe(0);
    expect(fs.readdirSync(root).filter((f) => f.startsWith('.c.'))).toEqual([]);
  });

  it('resuming training from a checkpoint equals training straight through', async () => {
    const config = { ...TRAIN_DEFAULTS, steps: 6, evalEvery: 20, logEvery: 5, warmupSteps: 2, lr: 1e-2, livePlot: false };
    const x = tf.tensor2d([[0, 1, 2, 3]], [1, 4], 'int32');
    const y = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const run = (m: GPT, opts: Partial<TrainLoopOptions>) =>
      trainLoop({ params: m.parameters(), lossFn: () => ({ loss: m.loss(x, y) }), config, display: false, ...opts });
    const straight = roughModel(5);
    await run(straight, {});
    const part = roughModel(5);
    const r = await run(part, { maxSteps: 3 });
    const dir = path.join(root, 'resume');
    saveCheckpoint(dir, { model: part, optimizer: r.optimizer });
    const loaded = loadCheckpoint(dir);
    const opt = new AdamW(loaded.model.parameters(), config);
    opt.loadState(loaded.optimizer!);
    await run(loaded.model, { optimizer: opt });
    expect(maxDiff(loaded.model.forward(idx).logits, straight.forward(idx).logits)).toBe(0);
  });
});

describe('bad checkpoint folders give clear errors', () => {
  const good = path.join(root, 'good');
  saveCheckpoint(good, { model: roughModel(6), tokenizer });
  const copyOf = (name: string) => {
    const dir = path.join(root, name);
    fs.cpSync(good, dir, { recursive: true });
    return dir;
  };
  const editManifest = (dir: string, edit: (m: Record<string, unknown>) => void) => {
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(m);
    fs.writeFileSync(file, JSON.stringify(m));
  };

  it('missing folder, with a hint when an interrupted save left the old one', () => {
    expect(() => loadCheckpoint(path.join(root, 'nope'))).toThrow(/checkpoint folder not found: .*nope$/);
    fs.cpSync(good, path.join(root, '.gone.old-1-2'), { recursive: true });
    expect(() => loadCheckpoint(path.join(root, 'gone'))).toThrow(/previous checkpoint survives in .*\.gone\.old-1-2/);
  });

  it('not a checkpoint, corrupt manifest, truncated or altered weights', () => {
    fs.mkdirSync(path.join(root, 'empty'));
    expect(() => loadCheckpoint(path.join(root, 'empty'))).toThrow(/is not a checkpoint \(no manifest.json\)/);
    const bad = copyOf('badjson');
    fs.writeFileSync(path.join(bad, 'manifest.json'), '{"format": "rlhf-chec');
    expect(() => loadCheckpoint(bad)).toThrow(/corrupt .*manifest.json/);
    const cut = copyOf('truncated');
    const w = fs.readFileSync(path.join(cut, 'weights.bin'));
    fs.writeFileSync(path.join(cut, 'weights.bin'), w.subarray(0, w.length - 8));
    expect(() => loadCheckpoint(cut)).toThrow(new RegExp(`has ${w.length - 8} bytes, the manifest says ${w.length} \\(truncated or corrupt\\)`));
    const flip = copyOf('flipped');
    w[100] ^= 0x40;
    fs.writeFileSync(path.join(flip, 'weights.bin'), w);
    expect(() => loadCheckpoint(flip)).toThrow(/fails its checksum/);
  });

  it('config mismatch names the field and both values', () => {
    expect(() => loadCheckpoint(good, { config: { nLayer: 4 } })).toThrow(/config mismatch .*: nLayer is 1 in the checkpoint, expected 4/);
  });

  it('library or format version mismatch', () => {
    const v = copyOf('version');
    editManifest(v, (m) => { m.libraryVersion = '9.0.0'; });
    expect(() => loadCheckpoint(v)).toThrow(new RegExp(`saved by library version 9.0.0, incompatible with this version ${libraryVersion()}`));
    const f = copyOf('format');
    editManifest(f, (m) => { m.formatVersion = 2; });
    expect(() => loadCheckpoint(f)).toThrow(/checkpoint format version 2; this library reads version 1/);
  });

  it('refuses to overwrite a folder that is not a checkpoint', () => {
    const dir = path.join(root, 'notes');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'todo.txt'), 'keep me');
    expect(() => saveCheckpoint(dir, { model: roughModel(1) })).toThrow(/non-empty folder that is not a checkpoint/);
    expect(fs.readFileSync(path.join(dir, 'todo.txt'), 'utf8')).toBe('keep me');
  });
});
