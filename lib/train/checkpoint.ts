/**
 * Checkpoints: a folder holding everything needed to use or continue a model.
 *
 *   <dir>/manifest.json  format and library version, GPT config, tokenizer, step, meta, tensor index, checksum
 *   <dir>/weights.bin    float32 values (little-endian, as every machine the course runs on), back to back:
 *                        model.<name>, heads.<key>.w/b, opt.m.<name>, opt.v.<name>
 *
 * Saving is atomic: everything is written into a temporary folder next to <dir> and fsynced, then
 * the old <dir> is renamed aside, the new one renamed into place, and only then the old one
 * removed. A crash leaves either the old or the new checkpoint complete (after a crash between the
 * two renames the old one survives as .<name>.old-*, and loading <dir> says so).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { GPT, GPTConfig } from '../model/model';
import { ScalarHead } from '../model/heads';
import { BpeTokenizer, BpeTokenizerJSON } from '../text/bpe';
import { CharTokenizer, CharTokenizerJSON, Tokenizer } from '../text/tokenizer';
import { AdamW, OptimizerState } from './train';
import { fsyncDir, writeFileSynced } from '../core/files';

const CHECKPOINT_FORMAT_VERSION = 1;

/** The library version (lib/package.json) recorded in every checkpoint. */
export function libraryVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version;
}

export interface CheckpointContents {
  model: GPT;
  tokenizer?: Tokenizer;
  /** Scalar heads on the trunk, e.g. { value: valueHead } or { reward: head }. */
  heads?: Record<string, ScalarHead>;
  /** Optimizer moments, to resume training exactly. */
  optimizer?: AdamW | OptimizerState;
  /** Training step reached (default: the optimizer's step count, else 0). */
  step?: number;
  /** Small JSON-able facts worth keeping (losses reached, data used, seconds). */
  meta?: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  model: GPT;
  config: GPTConfig;
  tokenizer?: Tokenizer;
  heads: Record<string, ScalarHead>;
  optimizer?: OptimizerState;
  step: number;
  meta: Record<string, unknown>;
  libraryVersion: string;
}

interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 values from the start of weights.bin. */
  offset: number;
}

interface Manifest {
  format: 'rlhf-checkpoint';
  formatVersion: number;
  libraryVersion: string;
  savedAt: string;
  config: GPTConfig;
  tokenizer: CharTokenizerJSON | BpeTokenizerJSON | null;
  heads: string[];
  step: number;
  optimizerStep: number | null;
  meta: Record<string, unknown>;
  tensors: TensorEntry[];
  weightsBytes: number;
  checksum: string;
}

/** FNV-1a over 32-bit words: cheap, catches truncation and bit rot (not an integrity seal). */
function checksum(bytes: Uint8Array): string {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Save atomically to `dir` (created, or replaced if it holds a checkpoint). */
export function saveCheckpoint(dir: string, contents: CheckpointContents): void {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new Error(`saveCheckpoint: ${target} exists and is not a folder`);
    const entries = fs.readdirSync(target);
    if (entries.length > 0 && !entries.includes('manifest.json')) {
      throw new Error(`saveCheckpoint: ${target} is a non-empty folder that is not a checkpoint; refusing to replace it`);
    }
  }
  fs.mkdirSync(parent, { recursive: true });

  const tensors: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], values: Float32Array) => {
    tensors.push({ name, shape, offset });
    chunks.push(values);
    offset += values.length;
  };
  for (const { name, variable } of contents.model.parameters()) add(`model.${name}`, variable.shape, variable.dataSync() as Float32Array);
  const heads = contents.heads ?? {};
  for (const [key, head] of Object.entries(heads)) {
    add(`heads.${key}.w`, head.w.shape, head.w.dataSync() as Float32Array);
    add(`heads.${key}.b`, [], head.b.dataSync() as Float32Array);
  }
  const opt = contents.optimizer instanceof AdamW ? contents.optimizer.state() : contents.optimizer;
  if (opt) {
    for (const [name, m] of Object.entries(opt.m)) add(`opt.m.${name}`, [m.length], m);
    for (const [name, v] of Object.entries(opt.v)) add(`opt.v.${name}`, [v.length], v);
  }
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const bytes = new Uint8Array(all.buffer);

  const manifest: Manifest = {
    format: 'rlhf-checkpoint',
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    libraryVersion: libraryVersion(),
    savedAt: new Date().toISOString(),
    config: contents.model.config,
    tokenizer: contents.tokenizer ? contents.tokenizer.toJSON() : null,
    heads: Object.keys(heads),
    step: contents.step ?? opt?.t ?? 0,
    optimizerStep: opt ? opt.t : null,
    meta: contents.meta ?? {},
    tensors,
    weightsBytes: bytes.byteLength,
    checksum: checksum(bytes),
  };

  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = path.join(parent, `.${base}.tmp-${stamp}`);
  fs.mkdirSync(tmp);
  try {
    writeFileSynced(path.join(tmp, 'weights.bin'), bytes);
    writeFileSynced(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
    fsyncDir(tmp);
    const old = path.join(parent, `.${base}.old-${stamp}`);
    const hadOld = fs.existsSync(target);
    if (hadOld) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    fsyncDir(parent);
    if (hadOld) fs.rmSync(old, { recursive: true, force: true });
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The checksum of a checkpoint's weights, from its manifest: which weights a model was made from. */
export function checkpointChecksum(dir: string): string {
  return readManifest(path.resolve(dir)).checksum;
}

function readManifest(dir: string): Manifest {
  if (!fs.existsSync(dir)) {
    const parent = path.dirname(dir);
    const prefix = `.${path.basename(dir)}.old-`;
    const left = fs.existsSync(parent) ? fs.readdirSync(parent).filter((f) => f.startsWith(prefix)) : [];
    const hint = left.length ? ` (a save was interrupted; the previous checkpoint survives in ${path.join(parent, left[0])}: rename it to ${dir})` : '';
    throw new Error(`loadCheckpoint: checkpoint folder not found: ${dir}${hint}`);
  }
  if (!fs.statSync(dir).isDirectory()) throw new Error(`loadCheckpoint: ${dir} is not a folder`);
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) throw new Error(`loadCheckpoint: ${dir} is not a checkpoint (no manifest.json)`);
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`loadCheckpoint: corrupt ${file}: ${(err as Error).message}`);
  }
  if (m?.format !== 'rlhf-checkpoint' || !Array.isArray(m.tensors) || !m.config) {
    throw new Error(`loadCheckpoint: ${file} is not an rlhf checkpoint manifest (format ${JSON.stringify(m?.format)})`);
  }
  if (m.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new Error(`loadCheckpoint: ${dir} has checkpoint format version ${m.formatVersion}; this library reads version ${CHECKPOINT_FORMAT_VERSION}`);
  }
  const mine = libraryVersion();
  const majorMinor = (v: string) => String(v).split('.').slice(0, 2).join('.');
  if (majorMinor(m.libraryVersion) !== majorMinor(mine)) {
    throw new Error(`loadCheckpoint: ${dir} was saved by library version ${m.libraryVersion}, incompatible with this version ${mine}`);
  }
  return m;
}

/**
 * Load a checkpoint. `config` (optional): fields the caller expects; any difference throws.
 * `trainable: false` loads a frozen model (a refPolicy). Heads keep their keys.
 */
export function loadCheckpoint(dir: string, opts: { config?: Partial<GPTConfig>; trainable?: boolean } = {}): LoadedCheckpoint {
  const target = path.resolve(dir);
  const m = readManifest(target);
  for (const [key, want] of Object.entries(opts.config ?? {})) {
    const have = (m.config as unknown as Record<string, unknown>)[key];
    if (have !== want) throw new Error(`loadCheckpoint: config mismatch in ${target}: ${key} is ${have} in the checkpoint, expected ${want}`);
  }
  const file = path.join(target, 'weights.bin');
  if (!fs.existsSync(file)) throw new Error(`loadCheckpoint: ${target} has no weights.bin`);
  const buf = fs.readFileSync(file);
  if (buf.byteLength !== m.weightsBytes) {
    throw new Error(`loadCheckpoint: ${file} has ${buf.byteLength} bytes, the manifest says ${m.weightsBytes} (truncated or corrupt)`);
  }
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  if (checksum(bytes) !== m.checksum) throw new Error(`loadCheckpoint: ${file} fails its checksum (corrupt)`);
  const all = new Float32Array(bytes.buffer);

  const byName = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const t of m.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + size > all.length) throw new Error(`loadCheckpoint: tensor ${t.name} runs past the end of ${file}`);
    byName.set(t.name, all.subarray(t.offset, t.offset + size));
    shapes.set(t.name, t.shape);
  }
  const init = new Map<string, tf.Tensor>();
  for (const [name, values] of byName) {
    if (name.startsWith('model.')) init.set(name.slice(6), tf.tensor(values, shapes.get(name), 'float32'));
  }
  let model: GPT;
  try {
    model = new GPT(m.config, init, opts.trainable ?? true);
  } finally {
    init.forEach((t) => t.dispose());
  }
  const heads: Record<string, ScalarHead> = {};
  for (const key of m.heads ?? []) {
    const w = byName.get(`heads.${key}.w`);
    const b = byName.get(`heads.${key}.b`);
    if (!w || !b) throw new Error(`loadCheckpoint: head ${key} is listed but its weights are missing in ${file}`);
    const head = new ScalarHead(w.length, 'zero', 0, opts.trainable ?? true);
    head.w.assign(tf.tensor1d(w));
    head.b.assign(tf.scalar(b[0]));
    heads[key] = head;
  }
  let optimizer: OptimizerState | undefined;
  if (m.optimizerStep !== null) {
    optimizer = { t: m.optimizerStep, m: {}, v: {} };
    for (const [name, values] of byName) {
      if (name.startsWith('opt.m.')) optimizer.m[name.slice(6)] = values.slice();
      if (name.startsWith('opt.v.')) optimizer.v[name.slice(6)] = values.slice();
    }
  }
  return {
    model,
    config: m.config,
    tokenizer: m.tokenizer ? tokenizerFromJSON(m.tokenizer) : undefined,
    heads,
    optimizer,
    step: m.step,
    meta: m.meta ?? {},
    libraryVersion: m.libraryVersion,
  };
}

/** A tokenizer from its stored JSON form ({type: "char"} or {type: "bpe"}). */
export function tokenizerFromJSON(json: CharTokenizerJSON | BpeTokenizerJSON): Tokenizer {
  if (json?.type === 'bpe') return BpeTokenizer.fromJSON(json);
  if (json?.type === 'char') return CharTokenizer.fromJSON(json);
  throw new Error(`tokenizerFromJSON: unknown tokenizer type ${JSON.stringify((json as { type?: unknown })?.type)} (expected "char" or "bpe")`);
}
