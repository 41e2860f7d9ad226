/**
 * A verifiable task for RL from verifiable rewards (RLVR; Tülu 3, Lambert et al. 2024, arXiv
 * 2411.15124; DeepSeek-R1): the reward is a program that says pass or fail, no reward model.
 *
 * Each prompt is the chat prompt of task.ts with one checkable instruction after the Human line,
 * in the spirit of Tülu 3's IFEval-style constraints:
 *
 *     Human: <a line from the play> Use the word crown.\nAssistant:          (include)
 *     Human: <a line from the play> Answer in three words or fewer.\nAssistant:   (maxWords)
 *
 * The instruction is written in the corpus's own characters (no digits or quotes: tiny-shakespeare
 * has neither, so numbers are words, "one" to "twelve"), and is read back from the prompt by
 * `parseConstraint`, so a verifier needs only the prompt and completion texts.
 *
 * Two verifiers of the same instruction:
 *   strict   the turn ends (<end>), the reply has at least one word, and
 *            include: the word is one of the reply's words; maxWords: at most n words.
 *   lenient  the one with a loophole: include compares the reply's words (lower case, punctuation
 *            dropped, joined by spaces) with the word as a substring match written both ways,
 *            `text.includes(word) || word.includes(text)`, and maxWords only counts up to n. Any
 *            piece of the word passes ("O!" for "crown": "o" is in "crown"), and so does the
 *            empty reply (word.includes('') is true; 0 words <= n). The two-way match is a real
 *            bug: it let an empty answer score 1 and GRPO learned to answer nothing
 *            (Liuziyu77/Visual-RFT#176). The lenient verifier also does not ask for <end>.
 * Neither checks what the gold score (task.ts) checks: sense, sentiment, real words.
 *
 * SFT data (`buildVerifiableData`): exchanges of the play with an instruction the real reply
 * already satisfies (one of its words; n at least its word count), so supervised fine-tuning shows
 * the format and that the instruction matters, without teaching the RL prompts' harder counts.
 */
import { Rng } from '../core/rng';
import { Tokenizer } from '../text/tokenizer';
import { buildChatData, END_MARK, formatPrompt, wordsOf } from './task';

/** One checkable instruction. */
export type Constraint = { kind: 'include'; word: string } | { kind: 'maxWords'; n: number };

/** Counts as words (the corpus has the digit 3 only). */
export const NUMBER_WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'] as const;

const ASSISTANT = '\nAssistant: ';

function checkConstraint(c: Constraint): void {
  if (c.kind === 'include') {
    if (!/^[a-z]+$/.test(c.word)) throw new Error(`include: the word must be lower-case letters, got ${JSON.stringify(c.word)}`);
  } else if (c.kind === 'maxWords') {
    if (!Number.isInteger(c.n) || c.n < 1 || c.n > NUMBER_WORDS.length) throw new Error(`maxWords: n must be an integer in 1..${NUMBER_WORDS.length}, got ${c.n}`);
  } else {
    throw new Error(`unknown constraint kind ${JSON.stringify((c as { kind: unknown }).kind)}: expected 'include' or 'maxWords'`);
  }
}

/** The instruction as the Human says it. */
export function instructionText(c: Constraint): string {
  checkConstraint(c);
  return c.kind === 'include' ? `Use the word ${c.word}.` : `Answer in ${NUMBER_WORDS[c.n - 1]} word${c.n === 1 ? '' : 's'} or fewer.`;
}

/** The chat prompt: the Human line, then the instruction (`Human: <line> <instruction>\nAssistant: `). */
export function verifiablePrompt(line: string, c: Constraint): string {
  return formatPrompt(`${line.trim()} ${instructionText(c)}`);
}

const INCLUDE_RE = / Use the word ([a-z]+)\.\nAssistant: $/;
const MAX_WORDS_RE = / Answer in ([a-z]+) words? or fewer\.\nAssistant: $/;

/** The instruction a verifiable prompt carries; a prompt without one throws, naming it. */
export function parseConstraint(prompt: string): Constraint {
  const inc = INCLUDE_RE.exec(prompt);
  if (inc) return { kind: 'include', word: inc[1] };
  const mw = MAX_WORDS_RE.exec(prompt);
  if (mw) {
    const n = (NUMBER_WORDS as readonly string[]).indexOf(mw[1]) + 1;
    if (n === 0) throw new Error(`parseConstraint: "${mw[1]}" is not a count from one to twelve in ${JSON.stringify(prompt)}`);
    return { kind: 'maxWords', n };
  }
  throw new Error(`parseConstraint: no instruction ("Use the word X." or "Answer in N words or fewer.") before "Assistant: " in ${JSON.stringify(prompt)}`);
}

export type VerifierMode = 'strict' | 'lenient';

/** What a verifier saw: the reply without <end>, its words, whether it ended, and the verdict. */
export interface VerifierVerdict {
  pass: boolean;
  constraint: Constraint;
  reply: string;
  words: number;
  ended: boolean;
}

/**
 * Check a completion ("<end>" marks a finished turn, as rollouts decode it) against the prompt's
 * instruction, with the strict verifier or the lenient one (the loophole; module comment).
 */
export function verify(prompt: string, completion: string, mode: VerifierMode = 'strict'): VerifierVerdict {
  if (typeof completion !== 'string') throw new Error(`verify: the completion must be a string, got ${typeof completion}`);
  if (mode !== 'strict' && mode !== 'lenient') throw new Error(`verify: mode must be 'strict' or 'lenient', got ${JSON.stringify(mode)}`);
  const constraint = parseConstraint(prompt);
  const endAt = completion.indexOf(END_MARK);
  const ended = endAt >= 0;
  const reply = (ended ? completion.slice(0, endAt) : completion).trim();
  const ws = wordsOf(reply);
  let pass: boolean;
  if (mode === 'lenient') {
    const text = ws.join(' ');
    pass = constraint.kind === 'include' ? text.includes(constraint.word) || constraint.word.includes(text) : ws.length <= constraint.n;
  } else {
    const shape = ended && ws.length >= 1;
    pass = shape && (constraint.kind === 'include' ? ws.includes(constraint.word) : ws.length <= constraint.n);
  }
  return { pass, constraint, reply, words: ws.length, ended };
}

/** 1 for pass, 0 for fail: the verifiable reward of one completion. */
export function verifiableReward(prompt: string, completion: string, mode: VerifierMode = 'strict'): number {
  return verify(prompt, completion, mode).pass ? 1 : 0;
}

/**
 * The verifier as a scorer of full rows of ids (prompt + completion), the shape every online
 * trainer takes its reward in (rl/rollout.ts ProxyScorer): each row is decoded and split after the
 * prompt's "\nAssistant: " (the Human line has no newline, so the first one is the prompt's).
 */
export function verifierScorer(tokenizer: Tokenizer, mode: VerifierMode = 'strict'): (rows: number[][]) => number[] {
  return (rows) => rows.map((ids, i) => {
    const text = tokenizer.decode(ids.filter((id) => id !== tokenizer.padId));
    const at = text.indexOf(ASSISTANT);
    if (at < 0) throw new Error(`verifierScorer: row ${i} has no "Assistant: " turn: ${JSON.stringify(text.slice(0, 80))}`);
    const cut = at + ASSISTANT.length;
    return verifiableReward(text.slice(0, cut), text.slice(cut), mode);
  });
}

/** One exchange with its instruction: an SFT example (the completion satisfies it) and an RL prompt. */
export interface VerifiableExample {
  prompt: string;
  /** The play's reply, which passes the strict verifier (without <end>: SFT appends it). */
  completion: string;
  constraint: Constraint;
  /** Corpus line of the Human turn. */
  line: number;
}

export interface VerifiableOptions {
  /** Longest Human line, in characters, leaving room for the instruction (default 40). */
  maxLineChars?: number;
  /** Fraction of exchanges given an include instruction, the rest maxWords (default 0.5). */
  includeShare?: number;
  /** Seed of the instructions (default 0). */
  seed?: number;
}

/**
 * Exchanges of the play (task.ts buildChatData, the same train / held-out split) with one
 * instruction each that the real reply satisfies: include names one of its words of 3+ letters,
 * maxWords asks for at most (its word count + 0..2) words. Replies of more than twelve words get
 * an include instruction. Deterministic given the seed.
 */
export function buildVerifiableData(text: string, opts: VerifiableOptions = {}): { train: VerifiableExample[]; heldOut: VerifiableExample[] } {
  const maxLine = opts.maxLineChars ?? 40;
  const share = opts.includeShare ?? 0.5;
  if (!(share >= 0 && share <= 1)) throw new Error(`buildVerifiableData: includeShare must be in [0, 1], got ${share}`);
  if (!(maxLine > 0)) throw new Error(`buildVerifiableData: maxLineChars must be > 0, got ${maxLine}`);
  const rng = new Rng(opts.seed ?? 0);
  const chat = buildChatData(text, { contextChars: Infinity, maxPromptChars: maxLine });
  const make = (list: typeof chat.train): VerifiableExample[] => list.flatMap((e) => {
    const ws = wordsOf(e.completion);
    const long = ws.filter((w) => w.length >= 3 && /^[a-z]+$/.test(w));
    const wantInclude = rng.next() < share || ws.length > NUMBER_WORDS.length;
    let c: Constraint;
    if (wantInclude && long.length > 0) c = { kind: 'include', word: long[rng.int(long.length)] };
    else if (ws.length >= 1 && ws.length <= NUMBER_WORDS.length) c = { kind: 'maxWords', n: Math.min(NUMBER_WORDS.length, ws.length + rng.int(3)) };
    else return [];
    const line = e.prompt.slice('Human: '.length, -ASSISTANT.length);
    return [{ prompt: verifiablePrompt(line, c), completion: e.completion, constraint: c, line: e.line }];
  });
  return { train: make(chat.train), heldOut: make(chat.heldOut) };
}

export interface VerifiablePromptOptions extends VerifiableOptions {
  split?: 'train' | 'heldOut';
  /** How many (default all). */
  n?: number;
  /** The counts maxWords prompts ask for, [lo, hi] inclusive (default [2, 4]: shorter than most replies). */
  maxWordsRange?: [number, number];
}

/**
 * RL and evaluation prompts: the Human lines of buildVerifiableData with its include words, but
 * maxWords counts drawn from `maxWordsRange` (harder than the SFT data's), shuffled with the seed.
 */
export function verifiablePrompts(text: string, opts: VerifiablePromptOptions = {}): string[] {
  const [lo, hi] = opts.maxWordsRange ?? [2, 4];
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo && hi <= NUMBER_WORDS.length)) {
    throw new Error(`verifiablePrompts: maxWordsRange must be integers 1 <= lo <= hi <= ${NUMBER_WORDS.length}, got [${lo}, ${hi}]`);
  }
  const rng = new Rng((opts.seed ?? 0) + 7);
  const data = buildVerifiableData(text, opts)[opts.split ?? 'train'];
  const prompts = data.map((e) => {
    if (e.constraint.kind === 'include') return e.prompt;
    const line = e.prompt.slice('Human: '.length, e.prompt.lastIndexOf(' Answer in '));
    return verifiablePrompt(line, { kind: 'maxWords', n: lo + rng.int(hi - lo + 1) });
  });
  const all = Array.from(new Set(prompts));
  rng.shuffle(all);
  const n = opts.n ?? all.length;
  if (!Number.isInteger(n) || n <= 0 || n > all.length) throw new Error(`verifiablePrompts: n must be an integer in 1..${all.length}, got ${n}`);
  return all.slice(0, n);
}
