import { describe, expect, it } from 'vitest';
import {
  buildVerifiableData, instructionText, parseConstraint, verifiablePrompt, verifiablePrompts, verifiableReward, verifierScorer, verify,
} from '../lib/feedback/verifiable';
import { loadCorpus } from '../lib/text/corpus';
import { BpeTokenizer } from '../lib/text/bpe';
import { chatBatch, disposeBatch, fitsContext } from '../lib/methods/sft';

const inc = verifiablePrompt('Speak, speak.', { kind: 'include', word: 'crown' });
const three = verifiablePrompt('What, art thou waking?', { kind: 'maxWords', n: 3 });

describe('verifiable instructions', () => {
  it('writes the instruction in the corpus characters and reads it back', () => {
    expect(inc).toBe('Human: Speak, speak. Use the word crown.\nAssistant: ');
    expect(three).toBe('Human: What, art thou waking? Answer in three words or fewer.\nAssistant: ');
    expect(instructionText({ kind: 'maxWords', n: 1 })).toBe('Answer in one word or fewer.');
    expect(parseConstraint(inc)).toEqual({ kind: 'include', word: 'crown' });
    expect(parseConstraint(three)).toEqual({ kind: 'maxWords', n: 3 });
    expect(parseConstraint(verifiablePrompt('Ay.', { kind: 'maxWords', n: 12 }))).toEqual({ kind: 'maxWords', n: 12 });
  });

  it('names bad input', () => {
    expect(() => parseConstraint('Human: Speak.\nAssistant: ')).toThrow(/no instruction .* in "Human: Speak/);
    expect(() => parseConstraint('Human: x Answer in many words or fewer.\nAssistant: ')).toThrow(/"many" is not a count from one to twelve/);
    expect(() => instructionText({ kind: 'maxWords', n: 13 })).toThrow(/n must be an integer in 1\.\.12, got 13/);
    expect(() => instructionText({ kind: 'include', word: 'Crown' })).toThrow(/lower-case letters, got "Crown"/);
    expect(() => instructionText({ kind: 'rhyme' } as never)).toThrow(/unknown constraint kind "rhyme"/);
    expect(() => verify(inc, undefined as never)).toThrow(/completion must be a string/);
    expect(() => verify(inc, 'x<end>', 'loose' as never)).toThrow(/mode must be 'strict' or 'lenient', got "loose"/);
  });
});

describe('the strict verifier', () => {
  it('passes a finished reply that follows the instruction, and nothing else', () => {
    expect(verify(inc, 'The crown is mine.<end>')).toMatchObject({ pass: true, words: 4, ended: true, reply: 'The crown is mine.' });
    expect(verify(inc, 'The Crown!<end>').pass).toBe(true); // case does not matter
    expect(verify(inc, 'The crowned king.<end>').pass).toBe(false); // a whole word, not a part of one
    expect(verify(inc, 'The crown is mine').pass).toBe(false); // the turn did not end
    expect(verify(three, 'I am here.<end>').pass).toBe(true); // 3 words
    expect(verify(three, 'I am not here.<end>').pass).toBe(false); // 4 words
    expect(verify(three, "Know't, good sir.<end>")).toMatchObject({ pass: true, words: 3 });
  });

  it('fails the empty reply that the lenient verifier passes (the loophole)', () => {
    for (const p of [inc, three]) {
      expect(verify(p, '<end>', 'strict').pass).toBe(false);
      expect(verify(p, '<end>', 'lenient').pass).toBe(true);
      expect(verify(p, ' , <end>', 'strict').pass).toBe(false);
    }
    expect(verify(three, ' , <end>', 'lenient').pass).toBe(true); // punctuation only: no words, 0 <= 3
    expect(verify(inc, ' , <end>', 'lenient').pass).toBe(true); // no words: "" is in "crown"
    expect(verify(inc, 'O!<end>', 'lenient').pass).toBe(true); // "o" is in "crown"
    expect(verify(inc, 'O!<end>', 'strict').pass).toBe(false);
    expect(verify(inc, 'Crowned, my lord.<end>', 'lenient').pass).toBe(true); // "crown" is in "crowned my lord"
    expect(verify(inc, 'Ay!<end>', 'lenient').pass).toBe(false); // "ay" is no part of "crown"
    // the lenient include is a substring match both ways: a fragment of the word passes
    expect(verify(inc, 'row<end>', 'lenient').pass).toBe(true);
    expect(verify(inc, 'row<end>', 'strict').pass).toBe(false);
    // and it does not ask for the end of the turn
    expect(verify(three, 'I am', 'lenient').pass).toBe(true);
    expect(verify(three, 'I am', 'strict').pass).toBe(false);
    expect(verifiableReward(three, 'I am not here at all.<end>', 'lenient')).toBe(0);
  });
});

describe('verifiable data', () => {
  const text = loadCorpus();
  const data = buildVerifiableData(text);

  it('gives every SFT exchange an instruction its real reply passes, on task.ts split', () => {
    expect(data.train.length).toBeGreaterThan(1000);
    expect(data.heldOut.length).toBeGreaterThan(100);
    const kinds = { include: 0, maxWords: 0 };
    for (const e of [...data.train, ...data.heldOut]) {
      expect(verify(e.prompt, e.completion + '<end>').pass).toBe(true);
      expect(parseConstraint(e.prompt)).toEqual(e.constraint);
      kinds[e.constraint.kind]++;
    }
    expect(kinds.include / data.train.length).toBeGreaterThan(0.4);
    expect(kinds.maxWords / data.train.length).toBeGreaterThan(0.3);
    const heldLines = new Set(data.heldOut.map((e) => e.line));
    expect(data.train.some((e) => heldLines.has(e.line))).toBe(false);
    expect(buildVerifiableData(text)).toEqual(data); // deterministic
  });

  it('feeds the SFT trainer: the completion (and <end>) is in the loss, the instruction is prompt', () => {
    const tok = BpeTokenizer.train(text.slice(0, 50_000), 100);
    const fit = fitsContext(tok, data.train.slice(0, 40), 64);
    expect(fit.length).toBeGreaterThan(20);
    const b = chatBatch(tok, fit.slice(0, 2), 64);
    const inLoss = (b.lossMask.arraySync() as number[][])[0].reduce((a, x) => a + x, 0);
    expect(inLoss).toBe(tok.encodeWithEnd(fit[0].completion).length); // completion tokens + <end>
    expect(b.promptLengths[0]).toBe(tok.encode(fit[0].prompt).length);
    disposeBatch(b);
  });

  it('makes RL prompts whose counts come from the asked range', () => {
    const ps = verifiablePrompts(text, { split: 'heldOut', n: 60, maxWordsRange: [2, 3] });
    expect(new Set(ps).size).toBe(60);
    const counts = ps.map(parseConstraint).filter((c) => c.kind === 'maxWords').map((c) => (c as { n: number }).n);
    expect(counts.length).toBeGreaterThan(10);
    expect(counts.every((n) => n === 2 || n === 3)).toBe(true);
    expect(() => verifiablePrompts(text, { maxWordsRange: [3, 2] })).toThrow(/maxWordsRange must be integers/);
    expect(() => verifiablePrompts(text, { split: 'heldOut', n: 10_000 })).toThrow(/n must be an integer in 1\.\./);
  });

  it('scores rows of ids the way verify scores their text', () => {
    const tok = BpeTokenizer.train(text.slice(0, 20_000), 50);
    const rows = [
      [...tok.encode(inc), ...tok.encodeWithEnd('Long live the crown.')],
      [...tok.encode(inc), ...tok.encodeWithEnd('')],
      [...tok.encode(three), ...tok.encodeWithEnd('I am not here.'), tok.padId],
    ];
    expect(verifierScorer(tok, 'strict')(rows)).toEqual([1, 0, 0]);
    expect(verifierScorer(tok, 'lenient')(rows)).toEqual([1, 1, 0]);
    expect(() => verifierScorer(tok)([tok.encode('Human: hello')])).toThrow(/row 0 has no "Assistant: " turn/);
  });
});
