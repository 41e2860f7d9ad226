import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer, bpeChunks } from '../lib/text/bpe';
import { tokenizerFromJSON } from '../lib/train/checkpoint';
import { loadCorpus, splitText } from '../lib/text/corpus';
import { CharTokenizer } from '../lib/text/tokenizer';

describe('BpeTokenizer', () => {
  it('learns the merges worked out by hand on "aaabdaaabac"', () => {
    // Pairs: aa 4 (overlapping, counted per position), ab 2, bd/da/ba/ac 1 -> merge (a, a), rewriting
    // left to right: aa a b d aa a b a c. Now (aa, a) 2 and (a, b) 2 tie; "a\0b" sorts before
    // "aa\0a" -> merge (a, b): aa ab d aa ab a c. Then (aa, ab) 2 -> "aaab". Every pair left
    // occurs once, so training stops after 3 merges although 10 were asked for.
    const tok = BpeTokenizer.train('aaabdaaabac', 10);
    expect(tok.merges).toEqual([['a', 'a'], ['a', 'b'], ['aa', 'ab']]);
    expect(tok.symbols).toEqual(['a', 'b', 'c', 'd', 'aa', 'ab', 'aaab']);
    expect([tok.endId, tok.padId, tok.vocabSize]).toEqual([7, 8, 9]);
    expect(tok.encode('aaabdaaabac')).toEqual([6, 3, 6, 0, 2]);
    // A new string replays the merges in rank order: "aab" -> (a,a) first -> aa b, not a ab.
    expect(tok.encode('aab').map((i) => tok.symbols[i])).toEqual(['aa', 'b']);
  });

  it('never merges across a chunk boundary (a space starts a chunk)', () => {
    expect(bpeChunks("ab ab, o'er\n\nthe")).toEqual(['ab', ' ab', ',', " o'er", '\n\n', 'the']);
    // (a,b) 3 -> ab; then (" ", ab) 2 -> " ab". "b " never forms: the space belongs to the next chunk.
    const tok = BpeTokenizer.train('ab ab ab', 5);
    expect(tok.merges).toEqual([['a', 'b'], [' ', 'ab']]);
    expect(tok.encode('ab ab').map((i) => tok.symbols[i])).toEqual(['ab', ' ab']);
  });

  it('round-trips the play, shortens it ~3x with 4,000 merges and puts <end>, <pad> after the symbols', () => {
    const { train, heldOut } = splitText(loadCorpus());
    const tok = BpeTokenizer.train(train, 4000);
    expect(tok.symbols.length).toBe(65 + 4000);
    expect(tok.vocabSize).toBe(4067);
    const held = heldOut.slice(0, 20_000);
    const ids = tok.encode(held);
    expect(tok.decode(ids)).toBe(held);
    expect(held.length / ids.length).toBeGreaterThan(2.8);
    expect(ids.every((i) => i >= 0 && i < tok.endId)).toBe(true);
    expect(tok.encode(' love').length).toBe(1);
  });

  it('handles <end> and <pad> like CharTokenizer', () => {
    const tok = BpeTokenizer.train('to be or not to be', 3);
    const ids = tok.encode('to be<end>', { allowSpecial: true });
    expect(ids[ids.length - 1]).toBe(tok.endId);
    expect(tok.decode([...ids, tok.padId])).toBe('to be<end>');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('to be');
    expect(tok.encodeWithEnd('to be')).toEqual(ids);
    expect(tok.isSpecial(tok.endId) && tok.isSpecial(tok.padId) && !tok.isSpecial(0)).toBe(true);
    // without allowSpecial "<end>" is plain text: here its characters are unknown
    expect(() => tok.encode('be<end>')).toThrow(/character "<" \(U\+003C\) at position 2 is not in the vocabulary/);
    // 7 characters + 3 merges = 10 symbols, <end> 10, <pad> 11
    expect(() => tok.decode([tok.vocabSize])).toThrow(/id 12 at position 0 is outside 0\.\.11/);
  });

  it('stores as JSON and comes back with the same ids; bad JSON is refused by name', () => {
    const tok = BpeTokenizer.train(loadCorpus().slice(0, 20_000), 200);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bpe-')), 'tok.json');
    fs.writeFileSync(file, JSON.stringify(tok.toJSON()));
    const back = tokenizerFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
    expect(back).toBeInstanceOf(BpeTokenizer);
    const s = 'First Citizen:\nWe are accounted poor citizens.';
    expect(back.encode(s)).toEqual(tok.encode(s));
    expect(tokenizerFromJSON(CharTokenizer.fromText('ab').toJSON())).toBeInstanceOf(CharTokenizer);
    expect(() => tokenizerFromJSON({ type: 'wordpiece' } as never)).toThrow(/unknown tokenizer type "wordpiece"/);
    expect(() => new BpeTokenizer(['a', 'b'], [['a', 'c']])).toThrow(/merge 0 \["a","c"\] must join two symbols defined before it/);
    expect(() => BpeTokenizer.train('', 3)).toThrow(/text is empty/);
    // merges come from the text only; the alphabet only adds characters
    const withAlphabet = BpeTokenizer.train('aaabdaaabac', 10, { alphabet: 'xa' });
    expect(withAlphabet.chars).toEqual(['a', 'b', 'c', 'd', 'x']);
    expect(withAlphabet.merges).toEqual([['a', 'a'], ['a', 'b'], ['aa', 'ab']]);
    expect(withAlphabet.decode(withAlphabet.encode('xaab'))).toBe('xaab');
  });
});
