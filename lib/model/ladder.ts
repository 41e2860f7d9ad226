/**
 * The GPT built up one idea at a time (chapter 02's ladder). Each rung adds one piece to the rung
 * before: a bigram (embedding -> output layer), then positions and causal self-attention, then the
 * MLP, then residual connections, then LayerNorm (one GPT block), then more blocks. Each block is
 * written out with its switches in one short loop (GELU and LayerNorm are model.ts's, fused kernels
 * on cpu+blas); the weights have the names of model.ts's GPT, and with every piece on the ladder
 * computes what the GPT computes from the same weights (test/ladder.test.ts): the notebook's model
 * is lib's model.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng';
import { LanguageModel, NamedParam } from './model';
import { crossEntropy, embed, gelu, layerNorm } from './layers';

export interface LadderConfig {
  vocabSize: number;
  blockSize: number;
  /** Width C of the residual stream. */
  nEmbd: number;
  /** Attention heads per block; must divide nEmbd. */
  nHead: number;
  /** Blocks; 0 is the bigram (no block at all). */
  nLayer: number;
  /** Add a learned position embedding to the token embedding. */
  positions: boolean;
  /** Causal self-attention in each block. */
  attention: boolean;
  /** The 4C-wide two-layer MLP in each block. */
  mlp: boolean;
  /** x + f(x) around each branch; off: x = f(x). */
  residual: boolean;
  /** LayerNorm before each branch and before the output layer (GPT-2's pre-norm). */
  layerNorm: boolean;
  /** The MLP's nonlinearity: GPT-2's GELU (tanh form) or ReLU. */
  activation: 'gelu' | 'relu';
  /** Share the token embedding with the output layer (GPT-2 and the course GPT do). */
  tieWeights: boolean;
  seed: number;
}

/** Every piece on: the course GPT's architecture (model.ts). */
export const FULL_GPT: Omit<LadderConfig, 'vocabSize' | 'blockSize' | 'nEmbd' | 'nHead' | 'nLayer' | 'seed'> = {
  positions: true, attention: true, mlp: true, residual: true, layerNorm: true, activation: 'gelu', tieWeights: true,
};

/** The rungs in order, each the pieces it changes from the rung before (chapter 02's table). */
export const LADDER_RUNGS: { name: string; key: string; adds: string; pieces: Partial<LadderConfig> }[] = [
  { name: 'bigram', key: 'bigram', adds: 'token embedding and output layer: the next token from this token alone',
    pieces: { nLayer: 0, positions: false, attention: false, mlp: false, residual: false, layerNorm: false } },
  { name: '+ attention', key: 'attention', adds: 'positions and one block of causal self-attention: earlier tokens count',
    pieces: { nLayer: 1, positions: true, attention: true } },
  { name: '+ MLP', key: 'mlp', adds: 'a per-position MLP after the attention', pieces: { mlp: true } },
  { name: '+ residual', key: 'residual', adds: 'x + f(x) around each branch', pieces: { residual: true } },
  { name: '+ LayerNorm', key: 'layerNorm', adds: 'LayerNorm before each branch and the output: one GPT block', pieces: { layerNorm: true } },
  { name: 'deeper', key: 'deeper', adds: 'more blocks: the GPT', pieces: {} },
];

/**
 * The config of every rung, from a base that fixes vocabSize, blockSize, nEmbd, nHead and seed;
 * the last rung has `depth` blocks.
 */
export function ladderConfigs(base: Pick<LadderConfig, 'vocabSize' | 'blockSize' | 'nEmbd' | 'nHead' | 'seed'> & Partial<LadderConfig>, depth = 2): LadderConfig[] {
  let c: LadderConfig = { ...FULL_GPT, nLayer: 1, ...base };
  return LADDER_RUNGS.map((r, i) => (c = { ...c, ...r.pieces, ...(i === LADDER_RUNGS.length - 1 ? { nLayer: depth } : {}) }));
}

const MASKED = -1e9;

export class LadderModel implements LanguageModel {
  readonly config: LadderConfig;
  readonly params = new Map<string, tf.Variable>();

  /** GPT-2 init (N(0, 0.02), residual projections / sqrt(2 nLayer)); `init` takes weights by name (e.g. a GPT's params). */
  constructor(config: LadderConfig, init?: Map<string, tf.Tensor>) {
    const { vocabSize: V, blockSize, nLayer, nHead, nEmbd: C } = config;
    if (C % nHead !== 0) throw new Error(`LadderModel: nHead (${nHead}) must divide nEmbd (${C})`);
    if (!config.attention && !config.mlp && nLayer > 0) throw new Error('LadderModel: a block needs attention or the MLP');
    this.config = config;
    const rng = new Rng(config.seed);
    const residStd = 0.02 / Math.sqrt(2 * Math.max(1, nLayer));
    const add = (name: string, shape: number[], kind: 'normal' | 'zeros' | 'ones', std = 0.02) => {
      const given = init?.get(name);
      if (given && given.shape.join() !== shape.join()) throw new Error(`LadderModel: weight ${name} has shape [${given.shape}], config needs [${shape}]`);
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (kind === 'ones') data.fill(1);
      if (kind === 'normal') for (let i = 0; i < n; i++) data[i] = std * rng.normal();
      this.params.set(name, tf.variable(given ? given.clone() : tf.tensor(data, shape, 'float32')));
    };
    add('wte', [V, C], 'normal');
    if (config.positions) add('wpe', [blockSize, C], 'normal');
    for (let l = 0; l < nLayer; l++) {
      const p = `h${l}.`;
      if (config.attention) {
        if (config.layerNorm) { add(p + 'ln1.g', [C], 'ones'); add(p + 'ln1.b', [C], 'zeros'); }
        add(p + 'attn.wqkv', [C, 3 * C], 'normal'); add(p + 'attn.bqkv', [3 * C], 'zeros');
        add(p + 'attn.wo', [C, C], 'normal', residStd); add(p + 'attn.bo', [C], 'zeros');
      }
      if (config.mlp) {
        if (config.layerNorm) { add(p + 'ln2.g', [C], 'ones'); add(p + 'ln2.b', [C], 'zeros'); }
        add(p + 'mlp.w1', [C, 4 * C], 'normal'); add(p + 'mlp.b1', [4 * C], 'zeros');
        add(p + 'mlp.w2', [4 * C, C], 'normal', residStd); add(p + 'mlp.b2', [C], 'zeros');
      }
    }
    if (config.layerNorm) { add('lnf.g', [C], 'ones'); add('lnf.b', [C], 'zeros'); }
    if (!config.tieWeights) add('lmHead', [C, V], 'normal');
  }

  private p(name: string): tf.Tensor {
    const v = this.params.get(name);
    if (!v) throw new Error(`LadderModel: no parameter ${name}`);
    return v;
  }

  /** Named params with AdamW's decay flag on matmul weights only (as GPT.parameters). */
  parameters(): NamedParam[] {
    return [...this.params].map(([name, variable]) => ({ name, variable, decay: variable.rank === 2 && name !== 'wte' && name !== 'wpe' }));
  }

  numParams(): number {
    return [...this.params.values()].reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }

  /** idx [B,T] int32 -> logits [B,T,V]. */
  forward(idx: tf.Tensor2D): tf.Tensor3D {
    const { nLayer, nHead: H, nEmbd: C, vocabSize: V, blockSize } = this.config;
    const [B, T] = idx.shape;
    if (T > blockSize) throw new Error(`LadderModel.forward: ${T} positions exceed blockSize ${blockSize}`);
    const D = C / H;
    return tf.tidy(() => {
      let x = embed(this.p('wte') as tf.Tensor2D, idx) as tf.Tensor3D; // [B,T,C]
      if (this.config.positions) x = tf.add(x, embed(this.p('wpe') as tf.Tensor2D, tf.range(0, T, 1, 'int32')));
      const causal = new Float32Array(T * T);
      for (let t = 0; t < T; t++) for (let j = t + 1; j < T; j++) causal[t * T + j] = MASKED;
      const bias = tf.tensor4d(causal, [1, 1, T, T]);
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]);
      const norm = (t: tf.Tensor, g: string) => (this.config.layerNorm ? layerNorm(t, this.p(`${g}.g`), this.p(`${g}.b`)) : t);
      const branch = (t: tf.Tensor, f: tf.Tensor) => (this.config.residual ? tf.add(t, f) : f) as tf.Tensor3D;
      for (let l = 0; l < nLayer; l++) {
        const p = (n: string) => this.p(`h${l}.${n}`);
        if (this.config.attention) {
          const a = norm(x, `h${l}.ln1`).reshape([B * T, C]) as tf.Tensor2D;
          const qkv = tf.add(tf.matMul(a, p('attn.wqkv') as tf.Tensor2D), p('attn.bqkv'));
          const [q, k, v] = tf.split(qkv, 3, 1).map(heads); // [B,H,T,D] each
          // softmax(q k^T / sqrt(D) + causal mask) v: each position mixes the values of itself and earlier ones
          const w = tf.softmax(tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(D)), bias));
          const y = tf.reshape(tf.transpose(tf.matMul(w, v), [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
          x = branch(x, tf.add(tf.matMul(y, p('attn.wo') as tf.Tensor2D), p('attn.bo')).reshape([B, T, C]));
        }
        if (this.config.mlp) {
          const m = norm(x, `h${l}.ln2`).reshape([B * T, C]) as tf.Tensor2D;
          const pre = tf.add(tf.matMul(m, p('mlp.w1') as tf.Tensor2D), p('mlp.b1'));
          const h = this.config.activation === 'gelu' ? gelu(pre) : tf.relu(pre);
          x = branch(x, tf.add(tf.matMul(h as tf.Tensor2D, p('mlp.w2') as tf.Tensor2D), p('mlp.b2')).reshape([B, T, C]));
        }
      }
      const h = norm(x, 'lnf').reshape([B * T, C]) as tf.Tensor2D;
      const logits = this.config.tieWeights ? tf.matMul(h, this.p('wte') as tf.Tensor2D, false, true) : tf.matMul(h, this.p('lmHead') as tf.Tensor2D);
      return logits.reshape([B, T, V]) as tf.Tensor3D;
    });
  }

  /** Mean next-token cross-entropy (nats/token) of x [B,T] predicting y [B,T]. */
  loss(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => crossEntropy(this.forward(x), y));
  }
}
