/**
 * A decoder-only transformer (GPT) written on TensorFlow.js variables and ops, so it reads like
 * the picture in "Attention is all you need" / GPT-2:
 *
 *   idx [B,T] -> token embedding + position embedding -> nLayer x Block -> LayerNorm -> LM head
 *   Block(x) = x + Attn(LN1(x));  x + MLP(LN2(x))          (pre-LayerNorm, residual stream)
 *   Attn     = causal multi-head self-attention, softmax(Q K^T / sqrt(D) + mask) V
 *   MLP      = Linear(C, 4C) -> GELU -> Linear(4C, C)
 *
 * Shapes: B batch, T time (positions in this call), Tk keys (cached + new), C = nEmbd,
 * H = nHead, D = C / H, V = vocabSize. Logits are unnormalised natural-log scores.
 * Also here: `KVCache`. The building blocks (LayerNorm, GELU, masks, losses) are in layers.ts, the
 * scalar heads on the same trunk in heads.ts, the stream loss in streamLoss.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { BLOCK_PARAMS, BlockParamName, blockParamShapes, BlockParams, blockFusable, fusedAttention, headLogProbs, transformerBlock } from '../engine/native';
import { Rng } from '../core/rng';
import { attentionBias, embed, gelu, layerNorm, LN_EPS, maskedMean } from './layers';

export interface GPTConfig {
  /** Number of token ids, including the tokenizer's <end> and <pad>. Default 67 (tiny-shakespeare chars + 2). */
  vocabSize: number;
  /** Longest context the model sees (number of position embeddings). */
  blockSize: number;
  /** Number of transformer blocks. */
  nLayer: number;
  /** Attention heads per block; must divide nEmbd. */
  nHead: number;
  /** Width C of the residual stream. */
  nEmbd: number;
  /** Dropout rate on embeddings, attention weights and residual branches (training only). Default 0. */
  dropout: number;
  /** Share the token-embedding matrix with the LM head (GPT-2 does). Default true. */
  tieWeights: boolean;
  /** Seed of the initialisation (and of dropout masks). Default 1337. */
  seed: number;
}

const BASE: GPTConfig = {
  vocabSize: 67, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0, tieWeights: true, seed: 1337,
};

/**
 * Named sizes. `tiny`: tests and fast mode. `course`: what notebook 02 pretrains on tiny-shakespeare.
 * (The benchmark's sizes are in bench/common.ts.) Override `vocabSize` with the tokenizer's:
 * `{ ...GPT_PRESETS.course, vocabSize: tok.vocabSize }`.
 */
export const GPT_PRESETS = {
  tiny: { ...BASE, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 32 },
  // context 64 BPE tokens (~200 characters): the chat exchanges of chapters 3-7 fit without
  // extending the position table
  course: { ...BASE, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 },
} satisfies Record<string, GPTConfig>;

/**
 * What pretraining and the stream loss need of a model: lib's GPT, or chapter 02's ladder rungs
 * (ladder.ts). `loss` is the mean next-token cross-entropy in nats per token.
 */
export interface LanguageModel {
  readonly config: { blockSize: number; vocabSize: number };
  parameters(): NamedParam[];
  loss(x: tf.Tensor2D, y: tf.Tensor2D, opts?: { training?: boolean }): tf.Scalar;
}

/** A trainable tensor with its name (stable across copies and checkpoints) and AdamW decay flag. */
export interface NamedParam {
  name: string;
  variable: tf.Variable;
  /** Weight decay applies (matmul weights) or not (biases, LayerNorm gains, embeddings), as in minGPT. */
  decay: boolean;
}

/** Keys and values of earlier positions, per layer, so each new token costs one position. */
export class KVCache {
  /** Per layer: keys and values [B, H, length, D]; null before the first forward. */
  keys: (tf.Tensor4D | null)[];
  values: (tf.Tensor4D | null)[];
  /** Number of positions stored. */
  length = 0;

  constructor(nLayer: number) {
    this.keys = new Array(nLayer).fill(null);
    this.values = new Array(nLayer).fill(null);
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.length = 0;
  }
}

export interface ForwardOptions {
  /** [B, Tk] 1 = real token, 0 = pad, over all keys (cached + new). Pads are never attended to. */
  attentionMask?: tf.Tensor2D;
  /** [B, T] int32 position of each new token. Default: cache.length + 0..T-1 for every row. */
  positions?: tf.Tensor2D;
  /** Append this call's keys/values to the cache and attend to the cached ones. */
  cache?: KVCache;
  /** Apply dropout (only if config.dropout > 0). Default false. */
  training?: boolean;
  /** Also return the attention weights of every layer, [B, H, T, Tk] each. */
  returnAttention?: boolean;
  /** Run every block as separate tfjs kernels even where one native block kernel could (tests compare the two). */
  unfused?: boolean;
}

export interface ForwardResult {
  /** [B, T, V] next-token scores. */
  logits: tf.Tensor3D;
  /** [B, T, C] residual stream after the final LayerNorm (input of the LM head and scalar heads). */
  hidden: tf.Tensor3D;
  attention?: tf.Tensor4D[];
}

/**
 * How each block parameter starts: LayerNorm gains 1, biases 0, weights N(0, 0.02); 'residual'
 * (the projections back into the residual stream) N(0, 0.02 / sqrt(2 nLayer)), as in GPT-2.
 */
const BLOCK_INIT: Record<BlockParamName, 'ones' | 'zeros' | 'normal' | 'residual'> = {
  'ln1.g': 'ones', 'ln1.b': 'zeros', 'attn.wqkv': 'normal', 'attn.bqkv': 'zeros', 'attn.wo': 'residual', 'attn.bo': 'zeros',
  'ln2.g': 'ones', 'ln2.b': 'zeros', 'mlp.w1': 'normal', 'mlp.b1': 'zeros', 'mlp.w2': 'residual', 'mlp.b2': 'zeros',
};

function checkConfig(c: GPTConfig): void {
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`GPTConfig.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPTConfig.nHead (${c.nHead}) must divide nEmbd (${c.nEmbd})`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`GPTConfig.dropout must be in [0, 1), got ${c.dropout}`);
}

/** Full config from a partial one (defaults: the course preset). */
export function gptConfig(partial: Partial<GPTConfig> = {}): GPTConfig {
  const c = { ...GPT_PRESETS.course, ...partial };
  checkConfig(c);
  return c;
}

export class GPT {
  readonly config: GPTConfig;
  /** name -> variable, in a fixed order (the order of `parameters()` and of checkpoints). */
  readonly params = new Map<string, tf.Variable>();
  private dropoutRng: Rng;

  /** A freshly initialised model (GPT-2 init: N(0, 0.02), residual projections / sqrt(2 nLayer)). */
  constructor(config: Partial<GPTConfig> = {}, init?: Map<string, tf.Tensor>, trainable = true) {
    this.config = gptConfig(config);
    const { vocabSize: V, blockSize, nLayer, nEmbd: C } = this.config;
    const rng = new Rng(this.config.seed);
    this.dropoutRng = new Rng(this.config.seed + 1);
    const std = 0.02;
    const residStd = std / Math.sqrt(2 * nLayer);
    const add = (name: string, shape: number[], kind: 'normal' | 'zeros' | 'ones', s = std) => {
      const given = init?.get(name);
      let value: tf.Tensor;
      if (given) {
        if (given.shape.join() !== shape.join()) {
          throw new Error(`GPT: weight ${name} has shape [${given.shape}], config needs [${shape}]`);
        }
        value = given.clone();
      } else {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        if (kind === 'ones') data.fill(1);
        if (kind === 'normal') for (let i = 0; i < n; i++) data[i] = s * rng.normal();
        value = tf.tensor(data, shape, 'float32');
      }
      this.params.set(name, tf.variable(value, trainable));
      value.dispose();
    };
    add('wte', [V, C], 'normal');
    add('wpe', [blockSize, C], 'normal');
    const shapes = blockParamShapes(C);
    for (let l = 0; l < nLayer; l++) {
      for (const n of BLOCK_PARAMS) {
        const init = BLOCK_INIT[n];
        add(`h${l}.${n}`, shapes[n], init === 'residual' ? 'normal' : init, init === 'residual' ? residStd : std);
      }
    }
    add('lnf.g', [C], 'ones');
    add('lnf.b', [C], 'zeros');
    if (!this.config.tieWeights) add('lmHead', [C, V], 'normal');
    if (init) {
      for (const name of init.keys()) {
        if (!this.params.has(name)) throw new Error(`GPT: unknown weight ${name} for this config`);
      }
    }
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`GPT: no parameter ${name}`);
    return v;
  }

  /** Every parameter with its name and weight-decay flag (decay only on matmul weights). */
  parameters(): NamedParam[] {
    return [...this.params].map(([name, variable]) => ({
      name, variable, decay: variable.rank === 2 && name !== 'wte' && name !== 'wpe',
    }));
  }

  /** The variables gradients flow into (none for a frozen copy). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** An independent copy with the same weights; `trainable: false` gives a frozen refPolicy. */
  copy(opts: { trainable?: boolean } = {}): GPT {
    return new GPT(this.config, this.params as Map<string, tf.Tensor>, opts.trainable ?? true);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }

  /** idx [B,T] int32 -> logits [B,T,V], hidden [B,T,C] (and attention weights if asked). */
  forward(idx: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    return tf.tidy(() => {
      const { hidden, attention } = this.trunk(idx, opts);
      const [B, T, C] = hidden.shape;
      const logits = this.headLogits(hidden.reshape([B * T, C]) as tf.Tensor2D).reshape([B, T, this.config.vocabSize]) as tf.Tensor3D;
      return opts.returnAttention ? { logits, hidden, attention } : { logits, hidden };
    });
  }

  /** idx [B,T] -> hidden [B,T,C] only: for scalar heads and `logProbsAt`, which need no [B,T,V] logits. */
  forwardHidden(idx: tf.Tensor2D, opts: Omit<ForwardOptions, 'returnAttention'> = {}): tf.Tensor3D {
    return tf.tidy(() => this.trunk(idx, opts).hidden);
  }

  /** The LM head on hidden states h [N,C] -> logits [N,V] (tied: h wte^T). */
  headLogits(h: tf.Tensor2D): tf.Tensor2D {
    return this.config.tieWeights
      ? tf.matMul(h, this.p('wte') as tf.Tensor2D, false, true)
      : tf.matMul(h, this.p('lmHead') as tf.Tensor2D);
  }

  /**
   * log softmax(head(hidden[b,t]) / temperature)[targets[b,t]] for hidden [B,T,C] and int32 targets
   * [B,T] -> [B,T], differentiable: the log-prob pass (KL, PPO ratios, DPO, reward scoring of
   * policies) without the [B,T,V] logits. On cpu+blas one fused kernel (headLogProbs) computes the
   * output layer and the log-softmax in cache-sized blocks of rows.
   */
  logProbsAt(hidden: tf.Tensor3D, targets: tf.Tensor2D, temperature = 1): tf.Tensor2D {
    const [B, T, C] = hidden.shape;
    if (targets.shape.join() !== [B, T].join()) throw new Error(`GPT.logProbsAt: targets [${targets.shape}] must be [${B}, ${T}] like hidden`);
    return tf.tidy(() => {
      const tied = this.config.tieWeights;
      const w = (tied ? this.p('wte') : this.p('lmHead')) as tf.Tensor2D;
      const ids = (targets.dtype === 'int32' ? targets : targets.cast('int32')).reshape([B * T]) as tf.Tensor1D;
      return headLogProbs(hidden.reshape([B * T, C]) as tf.Tensor2D, w, ids, tied, temperature).reshape([B, T]) as tf.Tensor2D;
    });
  }

  /** The transformer without its LM head: hidden [B,T,C] after the final LayerNorm. */
  private trunk(idx: tf.Tensor2D, opts: ForwardOptions): { hidden: tf.Tensor3D; attention: tf.Tensor4D[] } {
    if (idx.rank !== 2) throw new Error(`GPT.forward: idx must be [B, T], got shape [${idx.shape}]`);
    if (idx.dtype !== 'int32') throw new Error(`GPT.forward: idx must be int32, got ${idx.dtype}`);
    const [B, T] = idx.shape;
    const { nLayer, nHead: H, blockSize, dropout } = this.config;
    const cache = opts.cache;
    const past = cache ? cache.length : 0;
    const Tk = past + T;
    if (!opts.positions && Tk > blockSize) {
      throw new Error(`GPT.forward: ${Tk} positions (cached ${past} + new ${T}) exceed blockSize ${blockSize}`);
    }
    if (opts.attentionMask && opts.attentionMask.shape.join() !== [B, Tk].join()) {
      throw new Error(`GPT.forward: attentionMask must be [${B}, ${Tk}] (all keys), got [${opts.attentionMask.shape}]`);
    }
    const drop = opts.training && dropout > 0
      ? (x: tf.Tensor) => tf.dropout(x, dropout, undefined, this.dropoutRng.seed())
      : (x: tf.Tensor) => x;

    return tf.tidy(() => {
      let pos: tf.Tensor;
      if (opts.positions) {
        if (opts.positions.shape.join() !== [B, T].join()) {
          throw new Error(`GPT.forward: positions must be [${B}, ${T}], got [${opts.positions.shape}]`);
        }
        const maxPos = opts.positions.max().dataSync()[0];
        if (maxPos >= blockSize) throw new Error(`GPT.forward: position ${maxPos} >= blockSize ${blockSize}`);
        pos = embed(this.p('wpe') as tf.Tensor2D, opts.positions.cast('int32')); // [B,T,C]
      } else {
        pos = embed(this.p('wpe') as tf.Tensor2D, tf.range(past, Tk, 1, 'int32')); // [T,C], broadcast over B
      }
      let x = drop(tf.add(embed(this.p('wte') as tf.Tensor2D, idx), pos)) as tf.Tensor3D; // [B,T,C]

      const bias = attentionBias(T, past, opts.attentionMask); // [B or 1, 1, T, Tk]
      const attention: tf.Tensor4D[] = [];
      // Without a cache, attention maps or dropout, each block is one native kernel where there is one
      // (the same maths as unfusedBlock, which the tests compare it with).
      const fused = !cache && !opts.returnAttention && !(opts.training && dropout > 0) && !opts.unfused && blockFusable(x);
      for (let l = 0; l < nLayer; l++) {
        const w = Object.fromEntries(BLOCK_PARAMS.map((n) => [n, this.p(`h${l}.${n}`)])) as unknown as BlockParams;
        x = fused ? transformerBlock(x, bias, w, H, LN_EPS) : this.unfusedBlock(x, bias, w, l, opts, drop, attention);
      }
      if (cache) cache.length = Tk;

      const hidden = layerNorm(x, this.p('lnf.g'), this.p('lnf.b')) as tf.Tensor3D;
      return { hidden, attention };
    });
  }

  /**
   * One block as separate tfjs kernels, x [B,T,C] -> [B,T,C]: the path with a KV cache (sampling),
   * attention maps or dropout. Appends layer l's keys and values to opts.cache and, if asked, its
   * attention weights [B,H,T,Tk] to `attention`.
   */
  private unfusedBlock(
    x: tf.Tensor3D, bias: tf.Tensor4D, w: BlockParams, l: number, opts: ForwardOptions,
    drop: (t: tf.Tensor) => tf.Tensor, attention: tf.Tensor4D[],
  ): tf.Tensor3D {
    const [B, T, C] = x.shape;
    const H = this.config.nHead;
    const D = C / H;
    const cache = opts.cache;
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D;
    // --- attention branch ---
    const a = layerNorm(x, w['ln1.g'], w['ln1.b']).reshape([B * T, C]);
    const qkv = tf.add(tf.matMul(a as tf.Tensor2D, w['attn.wqkv'] as tf.Tensor2D), w['attn.bqkv']);
    const [qRaw, kNew, vNew] = tf.split(qkv, 3, 1).map(heads); // [B,H,T,D] each
    const q = tf.mul(qRaw, 1 / Math.sqrt(D)); // scale q ([B,H,T,D]) rather than the scores ([B,H,T,Tk])
    let k = kNew;
    let v = vNew;
    if (cache) {
      const pk = cache.keys[l];
      const pv = cache.values[l];
      if (pk && pv) {
        k = tf.concat([pk, kNew], 2);
        v = tf.concat([pv, vNew], 2);
        pk.dispose();
        pv.dispose();
      }
      cache.keys[l] = tf.keep(k);
      cache.values[l] = tf.keep(v);
    }
    let y: tf.Tensor4D; // [B,H,T,D]
    if (!opts.returnAttention && !(opts.training && this.config.dropout > 0)) {
      y = fusedAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, bias, 1); // one native kernel on cpu+blas
    } else {
      const scores = tf.add(tf.matMul(q, k, false, true), bias); // [B,H,T,Tk]
      const p = tf.softmax(scores) as tf.Tensor4D;
      if (opts.returnAttention) attention.push(p);
      y = tf.matMul(drop(p) as tf.Tensor4D, v);
    }
    const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
    const out = tf.add(tf.matMul(merged, w['attn.wo'] as tf.Tensor2D), w['attn.bo']);
    const x1 = tf.add(x, drop(out.reshape([B, T, C]))) as tf.Tensor3D;
    // --- MLP branch ---
    const m = layerNorm(x1, w['ln2.g'], w['ln2.b']).reshape([B * T, C]) as tf.Tensor2D;
    const h1 = gelu(tf.add(tf.matMul(m, w['mlp.w1'] as tf.Tensor2D), w['mlp.b1'])) as tf.Tensor2D;
    const h2 = tf.add(tf.matMul(h1, w['mlp.w2'] as tf.Tensor2D), w['mlp.b2']);
    return tf.add(x1, drop(h2.reshape([B, T, C]))) as tf.Tensor3D;
  }

  /**
   * Mean next-token cross-entropy (nats/token) of x [B,T] predicting y [B,T] (mask [B,T] optional):
   * crossEntropy of the logits, computed as -logProbsAt so that the [B,T,V] logits are never
   * materialised (on cpu+blas a third faster at the course's 4,067-id vocabulary).
   */
  loss(x: tf.Tensor2D, y: tf.Tensor2D, opts: { mask?: tf.Tensor2D; training?: boolean } = {}): tf.Scalar {
    return tf.tidy(() => maskedMean(tf.neg(this.logProbsAt(this.trunk(x, { training: opts.training }).hidden, y)) as tf.Tensor2D, opts.mask));
  }
}
