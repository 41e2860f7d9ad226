/**
 * Byte-pair encoding (Sennrich et al. 2016; GPT-2's tokenizer without the byte layer): the
 * tokenizer of the course's language model from chapter 02 on.
 *
 * Why not characters: a character model must gather a word from 5-10 positions before it can use
 * it. The reward model of chapter 04 reads its score at the last token, and on a character trunk
 * it learned what that token shows (has the reply ended, how long is it) but barely which words
 * the reply used, where a bag of words fitted to the same comparisons ranked them well. With ~4k
 * subword symbols most words are one or two tokens, and the reward model learns the words too
 * (lib/README.md has the measurements).
 *
 * Training (`BpeTokenizer.train`): the text is first cut into chunks (pre-tokenisation, GPT-2's
 * idea): a word with at most one leading space, a run of other non-space characters with at most
 * one leading space, or a run of whitespace. Merges never cross a chunk boundary, so " love" is
 * learned as one symbol but "love." is not. Start from the distinct characters; repeatedly find the
 * adjacent pair of symbols that occurs most often (counted over chunk occurrences), make it a new
 * symbol, and rewrite every chunk. Ties go to the pair that sorts first (left symbol, then right).
 *
 * Ids: the characters (sorted by code point) are 0..c-1, the merged symbols follow in the order
 * they were learned, then `<end>` and `<pad>` (as in CharTokenizer, distinct on purpose).
 *
 * Encoding a chunk replays the merges in the order they were learned (lowest rank first), which
 * gives the same segmentation the training text got. Prompts and completions are encoded
 * separately and concatenated (encode(prompt) ++ encode(reply)), everywhere in the course.
 */
import { decodeSymbols, DecodeOptions, EncodeOptions, END_TOKEN, PAD_TOKEN, Tokenizer } from './tokenizer';

export interface BpeTokenizerJSON {
  type: 'bpe';
  /** The base characters, ids 0..chars.length-1. */
  chars: string[];
  /** Merges in the order learned: [left, right]; merge i makes symbol chars.length + i. */
  merges: [string, string][];
  specials: string[];
}

/** GPT-2-style pre-tokenisation (see the module comment). Covers every character of any text. */
const BPE_CHUNK = / ?[A-Za-z']+| ?[^A-Za-z'\s]+|\s+/g;

export function bpeChunks(text: string): string[] {
  return text.match(BPE_CHUNK) ?? [];
}

/** Merges the course's tokenizer learns (chapter 02): ~4k symbols (the choice: see the module comment). */
export const COURSE_BPE_MERGES = 4000;

const SEP = '\u0000';

export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe' as const;
  /** Text of every ordinary id: the characters, then one symbol per merge. */
  readonly symbols: readonly string[];
  readonly chars: readonly string[];
  readonly merges: readonly (readonly [string, string])[];
  readonly endId: number;
  readonly padId: number;
  readonly vocabSize: number;
  private readonly index = new Map<string, number>();
  private readonly rank = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(chars: readonly string[], merges: readonly (readonly [string, string])[]) {
    if (chars.length === 0) throw new Error('BpeTokenizer: the character list is empty');
    const symbols: string[] = [];
    chars.forEach((ch, i) => {
      if (typeof ch !== 'string' || Array.from(ch).length !== 1) {
        throw new Error(`BpeTokenizer: character ${i} must be a single character, got ${JSON.stringify(ch)}`);
      }
      if (this.index.has(ch)) throw new Error(`BpeTokenizer: character ${JSON.stringify(ch)} appears twice`);
      this.index.set(ch, symbols.length);
      symbols.push(ch);
    });
    merges.forEach((m, i) => {
      if (!Array.isArray(m) || m.length !== 2 || !this.index.has(m[0]) || !this.index.has(m[1])) {
        throw new Error(`BpeTokenizer: merge ${i} ${JSON.stringify(m)} must join two symbols defined before it`);
      }
      const joined = m[0] + m[1];
      if (this.index.has(joined)) throw new Error(`BpeTokenizer: merge ${i} makes ${JSON.stringify(joined)}, which already exists`);
      this.rank.set(m[0] + SEP + m[1], i);
      this.index.set(joined, symbols.length);
      symbols.push(joined);
    });
    this.chars = [...chars];
    this.merges = merges.map((m) => [m[0], m[1]] as const);
    this.symbols = symbols;
    this.endId = symbols.length;
    this.padId = symbols.length + 1;
    this.vocabSize = symbols.length + 2;
  }

  /**
   * Learn `merges` merges on `text` (fewer if no pair occurs twice). Pair counts are kept up to
   * date incrementally: a merge only rewrites the chunk types that contain its pair. Every
   * character of `alphabet` also gets an id (learn merges on training text only, yet encode any
   * text of the corpus).
   */
  static train(text: string, merges: number = COURSE_BPE_MERGES, opts: { alphabet?: string } = {}): BpeTokenizer {
    if (text.length === 0) throw new Error('BpeTokenizer.train: text is empty');
    if (!Number.isInteger(merges) || merges < 0) throw new Error(`BpeTokenizer.train: merges must be an integer >= 0, got ${merges}`);
    const chars = Array.from(new Set(Array.from(text + (opts.alphabet ?? '')))).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const typeCount = new Map<string, number>();
    for (const c of bpeChunks(text)) typeCount.set(c, (typeCount.get(c) ?? 0) + 1);
    const words = [...typeCount].map(([w, n]) => ({ syms: Array.from(w), n }));
    const pairCount = new Map<string, number>();
    const pairWords = new Map<string, Set<number>>();
    const addPairs = (wi: number, sign: 1 | -1) => {
      const { syms, n } = words[wi];
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] + SEP + syms[i + 1];
        pairCount.set(k, (pairCount.get(k) ?? 0) + sign * n);
        if (sign > 0) {
          let s = pairWords.get(k);
          if (!s) pairWords.set(k, (s = new Set()));
          s.add(wi);
        }
      }
    };
    words.forEach((_, wi) => addPairs(wi, 1));
    const learned: [string, string][] = [];
    while (learned.length < merges) {
      let best = '';
      let bestN = 1; // a pair seen once is not worth a symbol
      for (const [k, n] of pairCount) {
        if (n > bestN || (n === bestN && best !== '' && k < best)) {
          best = k;
          bestN = n;
        }
      }
      if (best === '') break;
      const [a, b] = best.split(SEP);
      learned.push([a, b]);
      for (const wi of pairWords.get(best)!) {
        const w = words[wi];
        addPairs(wi, -1);
        const out: string[] = [];
        for (let i = 0; i < w.syms.length; i++) {
          if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
            out.push(a + b);
            i++;
          } else out.push(w.syms[i]);
        }
        w.syms = out;
        addPairs(wi, 1);
      }
      pairCount.delete(best);
      pairWords.delete(best);
    }
    return new BpeTokenizer(chars, learned);
  }

  static fromJSON(json: BpeTokenizerJSON): BpeTokenizer {
    if (!json || json.type !== 'bpe' || !Array.isArray(json.chars) || !Array.isArray(json.merges)) {
      throw new Error(`BpeTokenizer.fromJSON: expected {type: "bpe", chars: [...], merges: [...]}, got ${JSON.stringify(json)?.slice(0, 80)}`);
    }
    const specials = json.specials ?? [END_TOKEN, PAD_TOKEN];
    if (specials.length !== 2 || specials[0] !== END_TOKEN || specials[1] !== PAD_TOKEN) {
      throw new Error(`BpeTokenizer.fromJSON: specials must be ["${END_TOKEN}", "${PAD_TOKEN}"], got ${JSON.stringify(specials)}`);
    }
    return new BpeTokenizer(json.chars, json.merges);
  }

  toJSON(): BpeTokenizerJSON {
    return { type: 'bpe', chars: [...this.chars], merges: this.merges.map((m) => [m[0], m[1]]), specials: [END_TOKEN, PAD_TOKEN] };
  }

  /** Ids of one chunk: replay the merges, lowest rank first. Cached (chunks repeat a lot). */
  private encodeChunk(chunk: string, offset: number): number[] {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let syms = Array.from(chunk);
    syms.forEach((ch, i) => {
      if (!this.index.has(ch)) {
        throw new Error(
          `BpeTokenizer.encode: character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) ` +
            `at position ${offset + i} is not in the vocabulary (${this.chars.length} characters)`,
        );
      }
    });
    for (;;) {
      let at = -1;
      let best = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.rank.get(syms[i] + SEP + syms[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      syms = [...syms.slice(0, at), syms[at] + syms[at + 1], ...syms.slice(at + 2)];
    }
    const ids = syms.map((s) => this.index.get(s)!);
    if (this.cache.size < 200_000) this.cache.set(chunk, ids);
    return ids;
  }

  /**
   * Text to ids. A character outside the vocabulary throws, naming it and its position (in code
   * points). With `allowSpecial`, the literal strings "<end>"/"<pad>" become the special ids.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const parts = opts.allowSpecial ? text.split(/(<end>|<pad>)/) : [text];
    let offset = 0;
    for (const part of parts) {
      if (opts.allowSpecial && (part === END_TOKEN || part === PAD_TOKEN)) {
        out.push(part === END_TOKEN ? this.endId : this.padId);
        offset += part.length;
        continue;
      }
      for (const chunk of bpeChunks(part)) {
        for (const id of this.encodeChunk(chunk, offset)) out.push(id);
        offset += Array.from(chunk).length;
      }
    }
    return out;
  }

  /** Text followed by the end-of-turn token. */
  encodeWithEnd(text: string): number[] {
    const ids = this.encode(text);
    ids.push(this.endId);
    return ids;
  }

  /** Ids to text. `<pad>` is dropped; `<end>` is rendered as "<end>" unless `skipSpecial`. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return decodeSymbols(this, 'BpeTokenizer', ids, opts);
  }

  isSpecial(id: number): boolean {
    return id === this.endId || id === this.padId;
  }
}
