// The tiny chat task the RL trainers' tests share: a character tokenizer over one exchange, four
// prompts, and a proxy that rises when the policy writes more 'a's. Small enough that a tiny GPT
// trains on it in a test, with a reward the trainer can push.
import { CharTokenizer } from '../lib/text/tokenizer';

export const tinyChatTokenizer = (): CharTokenizer => CharTokenizer.fromText('Human: hi\nAssistant: abcdez.');

/** Four prompts; tests that need fewer take the first ones. */
export const TINY_PROMPTS = ['Human: hi\nAssistant: ', 'Human: ha\nAssistant: ', 'Human: he\nAssistant: ', 'Human: hid\nAssistant: '];

/** Proxy: the fraction of 'a' in each row's completion (0 for an empty one; no penalty for a missing <end>). */
export function fractionOfA(tok: CharTokenizer): (rows: number[][]) => number[] {
  return (rows) => rows.map((r) => {
    const c = tok.decode(r).split('Assistant: ')[1] ?? '';
    return c.length ? (c.split('a').length - 1) / c.length : 0;
  });
}
