import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';

/**
 * The course text must not quote a measured number typed by hand: a number measured by one run is
 * false in the next (another CPU, another seed). Markdown cells of chapters 02-08 (the chain of
 * models; chapter 01's counts are exact and seed-free) may write numbers only
 *   - as placeholders `{{ref some.key}}`, filled from data/reference-results.json by the course build;
 *   - in formulas and worked examples: inside $...$ / $$...$$ math, `code` or fenced code;
 *   - as settings of the recipe (beta = 0.05, temperature 0.8, lr 3e-4: a config, not a measurement);
 *   - as published results with their citation: the allow-list below (at most 20 entries, each with
 *     its source; an entry no cell uses fails too, so the list cannot go stale).
 * What counts as a measured number (heuristics, see `measuredNumbers`): a decimal or a percentage,
 * a duration ("22 s", "6.1 minutes"), or a count out of a total ("29 of 32").
 */

const ALLOWED: { notebook: string; text: string; source: string }[] = [
  { notebook: '02-transformer', text: 'reaches 1.47 nats', source: 'nanoGPT README (Karpathy 2022): shakespeare-char, val loss 1.4697' },
  { notebook: '02-transformer', text: '10.7M-parameter', source: 'nanoGPT README (Karpathy 2022): shakespeare-char config, 10.65M parameters' },
  { notebook: '04-reward-model', text: '72.6% ± 1.5', source: 'Ouyang et al. 2022 (InstructGPT), sec. 5.1: agreement between training labelers' },
  { notebook: '04-reward-model', text: '69.6% ± 0.9', source: 'Ouyang et al. 2022 (InstructGPT), appendix D: 6B reward model on held-out labelers' },
];

const CONFIG_CONTEXT = /(?:β|\\beta|\bbeta|\bT\s*=|\btemperature|\blr|\blearning rate|ε|λ|γ|\bcoefficient|\bmargin|\bdropout|\bclip)\s*(?:=|of|:)?\s*$/i;

/** Measured-looking numbers in a markdown text, after removing what is allowed. */
export function measuredNumbers(markdown: string, allowedPhrases: string[] = []): string[] {
  let t = markdown;
  for (const p of allowedPhrases) t = t.split(p).join(' ');
  t = t.replace(/```[\s\S]*?```/g, ' ')        // fenced code
    .replace(/\$\$[\s\S]*?\$\$/g, ' ')          // display math
    .replace(/\$[^$\n]*\$/g, ' ')               // inline math
    .replace(/`[^`\n]*`/g, ' ')                 // inline code
    .replace(/\{\{ref [^}]*\}\}/g, ' ')         // placeholders
    .replace(/\(\w+(?:#\d+)\)|\w+#\d+/g, ' ')   // issue numbers like trl#1623
    .replace(/https?:\/\/\S+/g, ' ');
  const found: string[] = [];
  const covered: [number, number][] = [];
  const patterns: RegExp[] = [
    /\d+(?:\.\d+)?\s*%/g,                                                   // percentages
    /\d+(?:,\d{3})*\.\d+(?![\d.]*\s*(?:M\b|million))/g,                    // decimals (not "1.3 million")
    /\b\d+(?:\.\d+)?\s*(?:s|sec|seconds?|min|minutes?|hours?)\b(?!-)/g,     // durations
    /\b\d+(?:,\d{3})*\s+(?:out\s+)?of\s+(?:the\s+)?\d+(?:,\d{3})*\b/g,      // counts out of a total
  ];
  for (const re of patterns) {
    for (const m of t.matchAll(re)) {
      const start = m.index!, end = start + m[0].length;
      if (covered.some(([a, b]) => start < b && end > a)) continue; // one report per number
      covered.push([start, end]);
      const before = t.slice(Math.max(0, m.index! - 30), m.index!);
      if (/^\d+(\.\d+)?$/.test(m[0]) && CONFIG_CONTEXT.test(before)) continue; // a setting: beta = 0.05
      found.push(`${m[0].trim()} (…${t.slice(Math.max(0, start - 40), end + 20).replace(/\s+/g, ' ')}…)`);
    }
  }
  return found;
}

const dir = path.join(__dirname, '..', 'notebooks');
const CHAPTERS = ['02-transformer', '03-sft', '04-reward-model', '05-ppo', '06-best-of-n', '07-dpo', '12-evaluation'];
const markdownOf = (name: string): string[] => {
  const nb = JSON.parse(fs.readFileSync(path.join(dir, `${name}.ipynb`), 'utf8'));
  return nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'markdown')
    .map((c: { source: string | string[] }) => (Array.isArray(c.source) ? c.source.join('') : c.source) as string);
};

describe('course text: no measured number typed by hand', () => {
  it('the allow-list is short and every entry has a source', () => {
    expect(ALLOWED.length).toBeLessThanOrEqual(20);
    for (const a of ALLOWED) expect(a.source.length).toBeGreaterThan(10);
  });

  for (const name of CHAPTERS) {
    it(`${name}: markdown quotes numbers only through {{ref ...}}, formulas, settings or cited results`, () => {
      const allowed = ALLOWED.filter((a) => a.notebook === name).map((a) => a.text);
      const cells = markdownOf(name);
      const offending = cells.flatMap((c) => measuredNumbers(c, allowed));
      expect(offending).toEqual([]);
      for (const a of allowed) expect(cells.some((c) => c.includes(a)), `allow-list entry "${a}" is not used in ${name}`).toBe(true);
    });
  }

  it('catches planted numbers and lets the allowed forms through', () => {
    expect(measuredNumbers('one epoch reached **81.3%** held-out accuracy')).toEqual(['81.3% (…one epoch reached **81.3%** held-out accuracy…)']);
    expect(measuredNumbers('PPO reached gold 1.05 at 7.5 nats').map((s) => s.split(' ')[0])).toEqual(['1.05', '7.5']);
    expect(measuredNumbers('200 steps in 22 seconds').map((s) => s.split(' (')[0])).toEqual(['22 seconds']);
    expect(measuredNumbers('29 of 32 replies stopped').map((s) => s.split(' (')[0])).toEqual(['29 of 32']);
    expect(measuredNumbers('one epoch reached {{ref rm.accVsGold}} against gold')).toEqual([]);
    expect(measuredNumbers('with $\\beta = 0.1$ the loss is $\\log(1 + e^{-0.3}) = 0.554$')).toEqual([]);
    expect(measuredNumbers('PPO with β = 0.05, sampled at temperature 0.8, lr 3e-4')).toEqual([]);
    expect(measuredNumbers('`adaptiveKL: { init: 0.15 }` and trl#1623, 1.3 million tokens, 4,000 merges, 128 prompts')).toEqual([]);
    expect(measuredNumbers('it reaches 1.47 nats', ['reaches 1.47 nats'])).toEqual([]);
  });

  it('fails on a number planted in a real chapter', () => {
    const cells = markdownOf('05-ppo');
    const planted = [...cells, 'In our run PPO reached gold 1.05 at a KL of 7.5 nats.'];
    expect(planted.flatMap((c) => measuredNumbers(c)).length).toBeGreaterThan(cells.flatMap((c) => measuredNumbers(c)).length);
  });
});
