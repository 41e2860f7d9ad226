/**
 * Tokenizers: text to integer ids and back.
 *
 * `CharTokenizer`: one id per distinct character of the corpus (sorted by code point, ids 0..n-1), then two special tokens appended:
 *   - `<end>` (id n): end of a turn / end of a sequence; the model learns to emit it to stop.
 *   - `<pad>` (id n+1): filler on the right of a batch row; it never enters a loss (see mask).
 * They are distinct on purpose: with pad = end, masking the pad also masks the real end token and
 * a fine-tuned model never learns to stop (trl#1623).
 *
 * `BpeTokenizer` (bpe.ts) is the subword tokenizer of the course's model from chapter 02 on; both
 * implement `Tokenizer`, which is what the model-facing code (sft, reward, ppo, dpo...) takes.
 *
 * `WordTokenizer` is for the word-level n-grams of chapter 1 only (no special tokens).
 */
import type { BpeTokenizerJSON } from './bpe';

/** What the n-gram models need from a tokenizer: `symbols[id]` is the text of id. */
export interface SymbolTokenizer {
  readonly kind: 'char' | 'word' | 'bpe';
  /** The ordinary (non-special) symbols; ids 0..symbols.length-1. */
  readonly symbols: readonly string[];
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

/** What a language model's tokenizer offers (CharTokenizer and BpeTokenizer). */
export interface Tokenizer extends SymbolTokenizer {
  readonly kind: 'char' | 'bpe';
  readonly endId: number;
  readonly padId: number;
  /** Ordinary symbols + 2 special tokens: the size of a model's embedding and output layers. */
  readonly vocabSize: number;
  encode(text: string, opts?: EncodeOptions): number[];
  encodeWithEnd(text: string): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  isSpecial(id: number): boolean;
  toJSON(): CharTokenizerJSON | BpeTokenizerJSON;
}

export const END_TOKEN = '<end>';
export const PAD_TOKEN = '<pad>';

/** JSON form stored in checkpoints. */
export interface CharTokenizerJSON {
  type: 'char';
  chars: string[];
  specials: string[];
}

export interface EncodeOptions {
  /** Parse the literal strings "<end>" and "<pad>" as their special ids (default false: plain text). */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop `<end>` instead of rendering it as "<end>" (default false). `<pad>` is always dropped. */
  skipSpecial?: boolean;
}

/**
 * Ids to text for a tokenizer whose ordinary ids 0..n-1 are `symbols` and whose `<end>`/`<pad>`
 * follow (CharTokenizer, BpeTokenizer): `<pad>` dropped, `<end>` as "<end>" unless skipSpecial.
 */
export function decodeSymbols(
  tok: Pick<Tokenizer, 'symbols' | 'endId' | 'padId' | 'vocabSize'>, who: string, ids: ArrayLike<number>, opts: DecodeOptions = {},
): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === tok.padId) continue;
    if (id === tok.endId) {
      if (!opts.skipSpecial) s += END_TOKEN;
      continue;
    }
    if (!Number.isInteger(id) || id < 0 || id >= tok.symbols.length) {
      throw new Error(`${who}.decode: id ${id} at position ${i} is outside 0..${tok.vocabSize - 1}`);
    }
    s += tok.symbols[id];
  }
  return s;
}

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  readonly symbols: readonly string[];
  readonly endId: number;
  readonly padId: number;
  /** Characters + 2 special tokens: the size of a model's embedding and output layers. */
  readonly vocabSize: number;
  private readonly index = new Map<string, number>();

  /** `chars`: distinct single characters (code points), in id order. */
  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new Error('CharTokenizer: the character list is empty');
    chars.forEach((ch, i) => {
      if (typeof ch !== 'string' || Array.from(ch).length !== 1) {
        throw new Error(`CharTokenizer: entry ${i} must be a single character, got ${JSON.stringify(ch)}`);
      }
      if (this.index.has(ch)) throw new Error(`CharTokenizer: character ${describeChar(ch)} appears twice`);
      this.index.set(ch, i);
    });
    this.symbols = [...chars];
    this.endId = chars.length;
    this.padId = chars.length + 1;
    this.vocabSize = chars.length + 2;
  }

  /** Vocabulary = the sorted distinct characters of `text` (tiny-shakespeare: 65). */
  static fromText(text: string): CharTokenizer {
    if (text.length === 0) throw new Error('CharTokenizer.fromText: text is empty');
    const chars = Array.from(new Set(Array.from(text)));
    chars.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars);
  }

  static fromJSON(json: CharTokenizerJSON): CharTokenizer {
    if (!json || json.type !== 'char' || !Array.isArray(json.chars)) {
      throw new Error(`CharTokenizer.fromJSON: expected {type: "char", chars: [...]}, got ${JSON.stringify(json)?.slice(0, 80)}`);
    }
    const specials = json.specials ?? [END_TOKEN, PAD_TOKEN];
    if (specials.length !== 2 || specials[0] !== END_TOKEN || specials[1] !== PAD_TOKEN) {
      throw new Error(`CharTokenizer.fromJSON: specials must be ["${END_TOKEN}", "${PAD_TOKEN}"], got ${JSON.stringify(specials)}`);
    }
    return new CharTokenizer(json.chars);
  }

  toJSON(): CharTokenizerJSON {
    return { type: 'char', chars: [...this.symbols], specials: [END_TOKEN, PAD_TOKEN] };
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /**
   * Text to ids. A character outside the vocabulary throws, naming it, its code point and its
   * position (in code points). With `allowSpecial`, "<end>"/"<pad>" in the text become special ids.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const chars = Array.from(text);
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (opts.allowSpecial && ch === '<') {
        const five = chars.slice(i, i + 5).join('');
        if (five === END_TOKEN || five === PAD_TOKEN) {
          out.push(five === END_TOKEN ? this.endId : this.padId);
          i += 4;
          continue;
        }
      }
      const id = this.index.get(ch);
      if (id === undefined) {
        throw new Error(
          `CharTokenizer.encode: character ${describeChar(ch)} at position ${i} is not in the vocabulary ` +
            `(${this.symbols.length} characters)`,
        );
      }
      out.push(id);
    }
    return out;
  }

  /** Text followed by the end-of-turn token: how a completion the model should stop after is encoded. */
  encodeWithEnd(text: string): number[] {
    const ids = this.encode(text);
    ids.push(this.endId);
    return ids;
  }

  /** Ids to text. `<pad>` is dropped; `<end>` is rendered as "<end>" unless `skipSpecial`. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return decodeSymbols(this, 'CharTokenizer', ids, opts);
  }

  isSpecial(id: number): boolean {
    return id === this.endId || id === this.padId;
  }
}

/**
 * Word tokenizer for word n-grams. Rule: a token is a run of letters with internal apostrophes
 * ("know't", "o'er") or any single other non-space character (punctuation, digits); whitespace
 * separates tokens and is dropped. Case is kept. `decode` joins tokens with spaces, except none
 * before , . ; : ! ? (so samples read like text).
 */
export class WordTokenizer implements SymbolTokenizer {
  readonly kind = 'word' as const;
  readonly symbols: readonly string[];
  private readonly index = new Map<string, number>();
  static readonly PATTERN = /[A-Za-z]+(?:'[A-Za-z]+)*|[^\sA-Za-z]/g;

  constructor(words: readonly string[]) {
    if (words.length === 0) throw new Error('WordTokenizer: the word list is empty');
    words.forEach((w, i) => {
      if (this.index.has(w)) throw new Error(`WordTokenizer: word ${JSON.stringify(w)} appears twice`);
      this.index.set(w, i);
    });
    this.symbols = [...words];
  }

  /** Split text into word and punctuation tokens (the rule above). */
  static split(text: string): string[] {
    return text.match(WordTokenizer.PATTERN) ?? [];
  }

  /** Vocabulary = distinct tokens of `text`, sorted (code unit order). */
  static fromText(text: string): WordTokenizer {
    const words = Array.from(new Set(WordTokenizer.split(text))).sort();
    if (words.length === 0) throw new Error('WordTokenizer.fromText: text has no words');
    return new WordTokenizer(words);
  }

  encode(text: string): number[] {
    return WordTokenizer.split(text).map((w, i) => {
      const id = this.index.get(w);
      if (id === undefined) {
        throw new Error(`WordTokenizer.encode: word ${JSON.stringify(w)} at token ${i} is not in the vocabulary (${this.symbols.length} words)`);
      }
      return id;
    });
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.symbols.length) {
        throw new Error(`WordTokenizer.decode: id ${id} at position ${i} is outside 0..${this.symbols.length - 1}`);
      }
      const w = this.symbols[id];
      s += i === 0 || /^[,.;:!?]$/.test(w) ? w : ' ' + w;
    }
    return s;
  }
}
