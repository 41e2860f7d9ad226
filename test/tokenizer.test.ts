import { describe, expect, it } from 'vitest';
import { CharTokenizer, WordTokenizer } from '../lib/text/tokenizer';
import { loadCorpus } from '../lib/text/corpus';

describe('CharTokenizer', () => {
  it('sorts distinct characters into ids and appends <end> and <pad>', () => {
    const tok = CharTokenizer.fromText('hello world');
    expect(tok.symbols).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(tok.endId).toBe(8);
    expect(tok.padId).toBe(9);
    expect(tok.vocabSize).toBe(10);
    expect(tok.encode('hello')).toEqual([3, 2, 4, 4, 5]);
  });

  it('has 65 characters on tiny-shakespeare and round-trips it', () => {
    const text = loadCorpus();
    const tok = CharTokenizer.fromText(text);
    expect(tok.symbols.length).toBe(65);
    expect(tok.symbols[0]).toBe('\n');
    expect(tok.endId).toBe(65);
    expect(tok.padId).toBe(66);
    const part = text.slice(0, 5000);
    expect(tok.decode(tok.encode(part))).toBe(part);
  });

  it('decodes <end> as text unless skipped and always drops <pad>', () => {
    const tok = CharTokenizer.fromText('ab');
    const ids = [0, 1, tok.endId, tok.padId, tok.padId];
    expect(tok.decode(ids)).toBe('ab<end>');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('ab');
    expect(tok.encodeWithEnd('ba')).toEqual([1, 0, tok.endId]);
  });

  it('parses special tokens only when asked', () => {
    const tok = CharTokenizer.fromText('ab<end>p');
    // '<', 'e', 'n', 'd', '>' are ordinary characters of this vocabulary too
    expect(tok.encode('a<end>', { allowSpecial: true })).toEqual([tok.encode('a')[0], tok.endId]);
    expect(tok.encode('a<end>').length).toBe(6);
    expect(tok.encode('<pad>b', { allowSpecial: true })[0]).toBe(tok.padId);
  });

  it('throws naming the character, code point and position for unknown characters', () => {
    const tok = CharTokenizer.fromText('abc');
    expect(() => tok.encode('abz')).toThrow(/"z" \(U\+007A\) at position 2/);
    expect(() => tok.encode('a€')).toThrow(/U\+20AC/);
    expect(() => tok.decode([0, 7])).toThrow(/id 7 at position 1/);
    expect(() => CharTokenizer.fromText('')).toThrow(/empty/);
  });

  it('survives a JSON round trip and rejects malformed JSON', () => {
    const tok = CharTokenizer.fromText('the cat sat');
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(back.symbols).toEqual(tok.symbols);
    expect(back.endId).toBe(tok.endId);
    expect(back.encode('cat')).toEqual(tok.encode('cat'));
    expect(() => CharTokenizer.fromJSON({ type: 'word' } as never)).toThrow(/expected/);
    expect(() => new CharTokenizer(['a', 'a'])).toThrow(/twice/);
    expect(() => new CharTokenizer(['ab'])).toThrow(/single character/);
  });
});

describe('WordTokenizer', () => {
  it('splits words (with internal apostrophes) and punctuation, dropping whitespace', () => {
    expect(WordTokenizer.split("We know't, we know't.\nAll: 'tis o'er!")).toEqual([
      'We', "know't", ',', 'we', "know't", '.', 'All', ':', "'", 'tis', "o'er", '!',
    ]);
  });

  it('encodes, decodes with spacing rules, and rejects unknown words', () => {
    const tok = WordTokenizer.fromText('to be, or not to be.');
    expect(tok.symbols).toEqual([',', '.', 'be', 'not', 'or', 'to']);
    const ids = tok.encode('to be, or not to be.');
    expect(ids).toEqual([5, 2, 0, 4, 3, 5, 2, 1]);
    expect(tok.decode(ids)).toBe('to be, or not to be.');
    expect(() => tok.encode('to sleep')).toThrow(/"sleep" at token 1/);
  });
});
