/**
 * Shannon's n-gram approximations (Shannon 1948, section 3): predict the next symbol from the
 * previous n-1 by counting. Order 0 = uniform over the alphabet, order 1 = symbol frequencies,
 * order 2 = digram, 3 = trigram, ... for characters or words.
 *
 * Counting alone gives probability 0 to every n-gram the training text lacks, so a held-out text
 * would cost infinitely many bits. Two smoothings:
 *  - 'kneser-ney' (default): interpolated Kneser-Ney (Chen & Goodman 1998). Each order subtracts a
 *    discount D from every seen count and gives the freed mass to the next lower order; lower
 *    orders count in how many different contexts a symbol continues (not how often), and the
 *    bottom interpolates with the uniform distribution, so every symbol gets p > 0.
 *    D = n1 / (n1 + 2 n2) per order (n1, n2: how many n-grams were seen once, twice).
 *  - 'add-k': (count + k) / (context count + k V) at the top order only (Laplace for k = 1).
 *    Simple, but mass for unseen n-grams is spread uniformly, so high orders get worse held-out.
 *
 * Counts live in Maps keyed by numbers: an n-gram of ids (a_1..a_n) has key sum a_i V^(n-i),
 * exact while V^order <= 2^53 (characters, V = 65: order <= 8; words: order <= 3).
 */
import { CountMap } from './countmap';
import { Rng } from '../core/rng';
import { CharTokenizer, SymbolTokenizer, WordTokenizer } from './tokenizer';

export type Smoothing = 'kneser-ney' | 'add-k';
export type SymbolKind = 'char' | 'word';

export interface NGramConfig {
  /** Context length + 1; 0 = uniform. Integer >= 0. */
  order: number;
  /** Default 'kneser-ney'. */
  smoothing?: Smoothing;
  /** The k of add-k smoothing; default 0.01 (better held-out bits than Laplace's 1 for characters). */
  addK?: number;
}

/** Counts of one kind of n-gram table: n-gram counts, and per context its total and its distinct followers. */
export interface NGramTable {
  gram: CountMap;
  ctxTotal: CountMap;
  ctxTypes: CountMap;
  discount: number;
}

function checkOrder(order: number, where: string): void {
  if (!Number.isInteger(order) || order < 0) {
    throw new Error(`${where}: order must be an integer >= 0, got ${order}`);
  }
}

function makeTable(gram: CountMap, V: number): NGramTable {
  const ctxTotal = new CountMap(gram.size / 8);
  const ctxTypes = new CountMap(gram.size / 8);
  let n1 = 0;
  let n2 = 0;
  gram.forEach((key, c) => {
    const ctx = Math.floor(key / V);
    ctxTotal.add(ctx, c);
    ctxTypes.add(ctx, 1);
    if (c === 1) n1++;
    else if (c === 2) n2++;
  });
  const discount = n1 + n2 > 0 ? Math.min(0.95, Math.max(0.05, n1 / (n1 + 2 * n2))) : 0.75;
  return { gram, ctxTotal, ctxTypes, discount };
}

/**
 * All n-gram counts of a training text up to `maxOrder`, shared by the models of every lower
 * order (so a whole Shannon series counts the corpus once).
 */
export class NGramCounts {
  readonly V: number;
  /** raw[k]: counts of k-grams (k = 1..maxOrder); index 0 unused. */
  private readonly raw: NGramTable[] = [];
  /** cont[k]: Kneser-Ney continuation counts of k-grams, k = 1..maxOrder-1 (distinct left neighbours). */
  private readonly cont: NGramTable[] = [];
  readonly trainLength: number;

  constructor(readonly tokenizer: SymbolTokenizer, trainIds: ArrayLike<number>, readonly maxOrder: number) {
    checkOrder(maxOrder, 'NGramCounts');
    const V = (this.V = tokenizer.symbols.length);
    if (V ** maxOrder > Number.MAX_SAFE_INTEGER) {
      const limit = Math.floor(Math.log(Number.MAX_SAFE_INTEGER) / Math.log(V));
      throw new Error(`NGramCounts: order ${maxOrder} is too high for ${V} symbols (numeric keys overflow); use order <= ${limit}`);
    }
    if (trainIds.length === 0) throw new Error('NGramCounts: the training text is empty');
    for (let i = 0; i < trainIds.length; i++) {
      const id = trainIds[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`NGramCounts: id ${id} at position ${i} is outside 0..${V - 1}`);
    }
    this.trainLength = trainIds.length;
    for (let k = 1; k <= maxOrder; k++) {
      const gram = new CountMap();
      const mod = V ** (k - 1);
      let key = 0;
      for (let i = 0; i < trainIds.length; i++) {
        key = (key % mod) * V + trainIds[i]; // the k-gram ending at i
        if (i >= k - 1) gram.add(key);
      }
      this.raw[k] = makeTable(gram, V);
    }
    for (let k = 1; k < maxOrder; k++) {
      const gram = new CountMap(this.raw[k + 1].gram.size / 2);
      const mod = V ** k;
      this.raw[k + 1].gram.forEach((key) => gram.add(key % mod)); // drop the first symbol: one more distinct left neighbour
      this.cont[k] = makeTable(gram, V);
    }
  }

  /** Counts of a character or word training text, with the given vocabulary (default: the text's own). */
  static fromText(text: string, kind: SymbolKind, maxOrder: number, tokenizer?: SymbolTokenizer): NGramCounts {
    if (text.length === 0) throw new Error('NGramCounts.fromText: the training text is empty');
    const tok = tokenizer ?? (kind === 'char' ? CharTokenizer.fromText(text) : WordTokenizer.fromText(text));
    if (tok.kind !== kind) throw new Error(`NGramCounts.fromText: kind "${kind}" but a ${tok.kind} tokenizer`);
    return new NGramCounts(tok, tok.encode(text), maxOrder);
  }

  /** Count of an n-gram given as ids (n = 1..maxOrder). */
  count(ids: readonly number[]): number {
    if (ids.length < 1 || ids.length > this.maxOrder) throw new Error(`NGramCounts.count: n-gram length ${ids.length} outside 1..${this.maxOrder}`);
    return this.raw[ids.length].gram.get(ids.reduce((key, id) => key * this.V + id, 0));
  }

  /** Number of distinct k-grams seen (k = 1..maxOrder). */
  distinct(k: number): number {
    return this.raw[k].gram.size;
  }

  /** Level k's raw counts, or (`raw` false) its Kneser-Ney continuation counts. */
  table(k: number, raw: boolean): NGramTable {
    return raw ? this.raw[k] : this.cont[k];
  }

  model(config: NGramConfig): NGramModel {
    return new NGramModel(this, config);
  }
}

export class NGramModel {
  readonly order: number;
  readonly smoothing: Smoothing;
  readonly addK: number;
  readonly V: number;

  constructor(readonly counts: NGramCounts, config: NGramConfig) {
    checkOrder(config.order, 'NGramModel');
    if (config.order > counts.maxOrder) throw new Error(`NGramModel: order ${config.order} exceeds the counts' maxOrder ${counts.maxOrder}`);
    this.order = config.order;
    this.smoothing = config.smoothing ?? 'kneser-ney';
    if (this.smoothing !== 'kneser-ney' && this.smoothing !== 'add-k') throw new Error(`NGramModel: unknown smoothing "${this.smoothing}"`);
    this.addK = config.addK ?? 0.01;
    if (!(this.addK > 0)) throw new Error(`NGramModel: addK must be > 0, got ${this.addK}`);
    this.V = counts.V;
  }

  /** Count the n-grams of `trainText` and return the model (vocabulary: the text's own unless given). */
  static fit(trainText: string, kind: SymbolKind, config: NGramConfig, tokenizer?: SymbolTokenizer): NGramModel {
    checkOrder(config.order, 'NGramModel.fit');
    return NGramCounts.fromText(trainText, kind, Math.max(1, config.order), tokenizer).model(config);
  }

  get tokenizer(): SymbolTokenizer {
    return this.counts.tokenizer;
  }

  /**
   * p(next = w | history) for every w, given the ids before position `end` of `ids`.
   * Uses the last order-1 symbols (fewer at the start of a text).
   */
  private probs(ids: ArrayLike<number>, end: number, only: number | null, out: Float64Array): void {
    const V = this.V;
    out.fill(1 / V, 0, only === null ? V : 1);
    const top = Math.min(this.order, end + 1);
    let ctx = 0;
    let mult = 1;
    for (let k = 1; k <= top; k++) {
      if (k > 1) {
        ctx += ids[end - k + 1] * mult; // add the symbol k-1 positions back to the context key
        mult *= V;
      }
      if (this.smoothing === 'add-k' && k < top) continue;
      const t = this.counts.table(k, k === top || this.smoothing === 'add-k'); // KN: continuation counts below the top
      const total = t.ctxTotal.get(ctx);
      const n = only === null ? V : 1;
      for (let j = 0; j < n; j++) {
        const c = t.gram.get(ctx * V + (only === null ? j : only));
        if (this.smoothing === 'add-k') out[j] = (c + this.addK) / (total + this.addK * V);
        else if (total > 0) {
          const D = t.discount;
          out[j] = (Math.max(c - D, 0) + D * t.ctxTypes.get(ctx) * out[j]) / total;
        }
      }
    }
  }

  private encodeContext(context: string | readonly number[]): number[] {
    return typeof context === 'string' ? this.tokenizer.encode(context) : [...context];
  }

  /** Next-symbol distribution after `context` (text or ids): a Float64Array of V probabilities. */
  distribution(context: string | readonly number[] = []): Float64Array {
    const ids = this.encodeContext(context);
    const out = new Float64Array(this.V);
    this.probs(ids, ids.length, null, out);
    return out;
  }

  /** p(symbol | context); the symbol is one character (char models) or one word token. */
  prob(context: string | readonly number[], symbol: string): number {
    const ids = this.encodeContext(context);
    const [w, ...rest] = this.tokenizer.encode(symbol);
    if (w === undefined || rest.length > 0) throw new Error(`NGramModel.prob: ${JSON.stringify(symbol)} is not one symbol`);
    const out = new Float64Array(1);
    this.probs([...ids, w], ids.length, w, out);
    return out[0];
  }

  /**
   * Total bits -sum log2 p(y_t | y_<t) over ids, and `contextSeen`: among positions with a full
   * (order-1)-symbol context, the fraction whose context occurs in the training text.
   */
  scoreIds(ids: ArrayLike<number>): { bits: number; n: number; contextSeen: number } {
    const out = new Float64Array(1);
    const full = this.order > 1 ? this.counts.table(this.order - 1, true) : null; // (order-1)-grams seen in training
    const V = this.V;
    let bits = 0;
    let seen = 0;
    let ctx = 0;
    const mod = V ** Math.max(0, this.order - 2);
    for (let t = 0; t < ids.length; t++) {
      const w = ids[t];
      if (!Number.isInteger(w) || w < 0 || w >= V) throw new Error(`NGramModel: id ${w} at position ${t} is outside 0..${V - 1}`);
      this.probs(ids, t, w, out);
      bits -= Math.log2(out[0]);
      if (full === null || full.gram.has(ctx)) seen += t >= this.order - 1 ? 1 : 0;
      if (this.order > 1) ctx = (ctx % mod) * V + w; // rolling key of the last order-1 ids
    }
    const withContext = ids.length - Math.max(0, this.order - 1);
    return { bits, n: ids.length, contextSeen: withContext > 0 ? seen / withContext : 0 };
  }

  /**
   * Cross-entropy of a text in bits per symbol (per character or per word): the average of
   * -log2 p(y_t | y_<t). A symbol outside the vocabulary throws (naming it and its position).
   */
  crossEntropyBits(text: string): number {
    if (text.length === 0) throw new Error('NGramModel.crossEntropyBits: the text is empty');
    const { bits, n } = this.scoreIds(this.tokenizer.encode(text));
    if (n === 0) throw new Error('NGramModel.crossEntropyBits: the text has no symbols');
    return bits / n;
  }

  /** Generate `n` symbols after an optional prompt, drawing each from the model with `rng`; returns prompt + sample as text. */
  sample(n: number, rng: Rng, prompt: string = ''): string {
    if (!Number.isInteger(n) || n < 0) throw new Error(`NGramModel.sample: n must be an integer >= 0, got ${n}`);
    const ids = this.encodeContext(prompt);
    const p = new Float64Array(this.V);
    for (let i = 0; i < n; i++) {
      this.probs(ids, ids.length, null, p);
      ids.push(rng.categorical(p));
    }
    return this.tokenizer.decode(ids);
  }
}

/**
 * Text in Shannon's 27-symbol alphabet (26 letters + space), to compare with his numbers:
 * letters upper-cased, every run of other characters (punctuation, digits, newlines) one space.
 */
export function shannonAlphabet(text: string): string {
  return text.toUpperCase().replace(/[^A-Z]+/g, ' ');
}

/** One row of Shannon's table: a model of one order and kind, its bits on train and held-out text, and a sample. */
export interface ShannonRow {
  kind: SymbolKind;
  order: number;
  unit: 'bits/char' | 'bits/word';
  /** Cross-entropy on (the first `trainEvalSymbols` symbols of) the training text. */
  trainBits: number;
  heldOutBits: number;
  /** Fraction of held-out positions whose full (order-1)-symbol context occurs in training. */
  heldOutContextSeen: number;
  /** Distinct n-grams of this order in the training text (V for order 0). */
  distinctNGrams: number;
  sample: string;
}

export interface ShannonOptions {
  train: string;
  heldOut: string;
  /** Default [0, 1, 2, 3] (Shannon's character series). */
  charOrders?: number[];
  /** Default [1, 2] (Shannon's first- and second-order word approximations). */
  wordOrders?: number[];
  smoothing?: Smoothing;
  addK?: number;
  /** Sample lengths: default 200 characters, 40 words. */
  sampleChars?: number;
  sampleWords?: number;
  /** Seed of the samples; default 1948. Row i draws from Rng(seed + i). */
  seed?: number;
  /** Score at most this many training symbols for trainBits (default: all). */
  trainEvalSymbols?: number;
}

/**
 * Shannon's series on one corpus: for each requested order, a character (then word) model
 * counted on `train`, its bits per symbol on train and held-out text, and a sample. The
 * vocabulary is that of train + held-out, so held-out symbols are never out of vocabulary;
 * their counts come from the training text only.
 */
export function shannonSeries(opts: ShannonOptions): ShannonRow[] {
  const { train, heldOut } = opts;
  if (!train || !heldOut) throw new Error(`shannonSeries: train and held-out text must be non-empty (got ${train?.length ?? 0} and ${heldOut?.length ?? 0} characters)`);
  const seed = opts.seed ?? 1948;
  const rows: ShannonRow[] = [];
  const kinds: [SymbolKind, number[], number][] = [
    ['char', opts.charOrders ?? [0, 1, 2, 3], opts.sampleChars ?? 200],
    ['word', opts.wordOrders ?? [1, 2], opts.sampleWords ?? 40],
  ];
  for (const [kind, orders, sampleLen] of kinds) {
    if (orders.length === 0) continue;
    orders.forEach((o) => checkOrder(o, 'shannonSeries'));
    // a space keeps a word cut by the split from merging with its other half
    const tok = kind === 'char' ? CharTokenizer.fromText(train + heldOut) : WordTokenizer.fromText(train + ' ' + heldOut);
    const trainIds = tok.encode(train);
    const heldIds = tok.encode(heldOut);
    const counts = new NGramCounts(tok, trainIds, Math.max(1, ...orders));
    const trainEval = opts.trainEvalSymbols ? trainIds.slice(0, opts.trainEvalSymbols) : trainIds;
    for (const order of orders) {
      const model = counts.model({ order, smoothing: opts.smoothing, addK: opts.addK });
      const tr = model.scoreIds(trainEval);
      const ho = model.scoreIds(heldIds);
      rows.push({
        kind,
        order,
        unit: kind === 'char' ? 'bits/char' : 'bits/word',
        trainBits: tr.bits / tr.n,
        heldOutBits: ho.bits / ho.n,
        heldOutContextSeen: ho.contextSeen,
        distinctNGrams: order === 0 ? counts.V : counts.distinct(order),
        sample: model.sample(sampleLen, new Rng(seed + rows.length)),
      });
    }
  }
  return rows;
}
