import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { loadReference, refText } from '../lib/course/results';
import { courseRecipe } from '../lib/course/recipe';
import { README_KEYS } from '../scripts/reference';

/**
 * The course text must not quote a measured number typed by hand: a number measured by one run is
 * false in the next (another CPU, another seed). Scanned: the markdown of every chapter (01-08), the
 * READMEs (README.md outside its reference block and its dated measurement sections, lib/README.md).
 * A number may appear only
 *   - as a reference result: `{{ref key}}`, or the text `npm run fill-notebooks` wrote between
 *     `<!--ref key-->` and `<!--/ref-->` (only when that text is exactly the reference's for the key,
 *     so nothing can hide inside a marker or a malformed placeholder);
 *   - as a setting: its value is a numeric literal of a code cell of the same notebook (comments
 *     excluded) or a value of the library's recipe (lib/course/recipe.ts courseRecipe: the presets);
 *   - in a formula: math or inline code that applies an operation (arithmetic, \frac, \sqrt, \log, a
 *     power, a call). Math or code that only states a value (`$1.05$`, `$x = 1.05$`, `` `0.848` ``)
 *     is read like prose;
 *   - as a published result or a definition: the allow-list below, each entry with its source (an
 *     entry no text uses fails, so the list cannot go stale).
 * Measured-looking: a decimal (also `.85`) or a percentage; an integer with a unit (25 nats, 850 ms,
 * 6 minutes, 3 points, Elo 1190); a count out of a total (29 of 32) or a ratio (29/32); a number word
 * in a measured phrase (two of three seeds, twice as much, ten times smaller, one to two points).
 * Integers alone (prompt counts, N = 16) are not measured-looking.
 *
 * DEVELOPMENT-NOTES.md is a dated log of development runs, not course text: it may hold
 * measured numbers, but every section must carry the date it was logged, and the course text may
 * link it only as development runs (checked below).
 */

const ROOT = path.join(__dirname, '..');
const NB = path.join(ROOT, 'notebooks');
const reference = loadReference(path.join(ROOT, 'data', 'reference-results.json'));

const ALLOWED: { file: string; text: string; source: string }[] = [
  { file: '01-shannon-ngrams', text: '$F_0 = 4.75$, $F_1 = 4.03$, $F_2 = 3.32$, $F_3 = 3.1$', source: 'Shannon 1951, "Prediction and entropy of printed English", table of F_N for 27-letter English' },
  { file: '01-shannon-ngrams', text: 'a loss of 1.47 nats/char', source: 'nanoGPT README (Karpathy 2022): shakespeare-char, val loss 1.4697' },
  { file: '01-shannon-ngrams', text: 'reaches 1.47 nats = 2.12', source: 'nanoGPT README (Karpathy 2022): shakespeare-char, val loss 1.4697 (= 2.12 bits)' },
  { file: '01-shannon-ngrams', text: '10.7M-parameter', source: 'nanoGPT README (Karpathy 2022): shakespeare-char config, 10.65M parameters' },
  { file: '02-transformer', text: 'reaches 1.47 nats', source: 'nanoGPT README (Karpathy 2022): shakespeare-char, val loss 1.4697' },
  { file: '02-transformer', text: '10.7M-parameter', source: 'nanoGPT README (Karpathy 2022): shakespeare-char config, 10.65M parameters' },
  { file: '04-reward-model', text: '72.6% ± 1.5', source: 'Ouyang et al. 2022 (InstructGPT), sec. 5.1: agreement between training labelers' },
  { file: '04-reward-model', text: '69.6% ± 0.9', source: 'Ouyang et al. 2022 (InstructGPT), appendix D: 6B reward model on held-out labelers' },
  { file: '04-reward-model', text: 'right $70\\%$ of the time when it says $70\\%$', source: 'definition of calibration (an illustration, no measurement)' },
  { file: 'README.md', text: 'after step 312 of 3000', source: 'an example of the Interrupt message\'s form, not a result' },
  { file: 'README.md', text: 'cell that takes 30 s or more', source: 'the reference\'s threshold for a cell\'s time key (QUOTABLE_CELL_SECONDS in scripts/reference.ts, a setting)' },
  { file: 'README.md', text: 'else 30 s and 300 s', source: 'the grader\'s default cell and notebook time limits (settings of grader/)' },
];

/**
 * README passages that are dated measurements of a machine or of the kit's tooling (not course results),
 * each with its reason: a heading's section up to the next heading of its level, or a sentence's
 * paragraph. Each must carry its date (YYYY-MM-DD).
 */
const DATED_SECTIONS: { file: string; heading: string; reason: string }[] = [
  { file: 'README.md', heading: '### Throughput', reason: 'the grader\'s throughput, measured once on a named machine and date' },
  { file: 'README.md', heading: '## Benchmark', reason: 'npm run bench, latest run on a named machine and date' },
  { file: 'README.md', heading: 'Run by hand once (', reason: 'the Gradescope set-up script, run by hand once on a named date' },
  { file: 'README.md', heading: 'Measured on 2026-12-06 on this kit', reason: 'the grader\'s sandbox limits, measured by its fixtures on a named machine and date' },
  { file: 'README.md', heading: 'Run here 2026-12-06 (the machine shared with other jobs', reason: 'the class hub\'s test with five students, run once on a named date' },
  { file: 'README.md', heading: '#### How many students one server holds (measured 2026-12-06)', reason: 'a class server\'s capacity, measured through the hub on a named machine and date' },
  { file: 'README.md', heading: '### What was tested here, and how', reason: 'the container image\'s build and test, run by hand on a named date' },
  { file: 'README.md', heading: '**The runner.**', reason: 'the grader\'s runner memory under a huge message, measured on a named date' },
];

const NUMBER_WORD = '(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|half|a third|a quarter)';
const UNIT = '(?:nats?|bits?|ms|s|sec|seconds?|min|minutes?|hours?|points?|percent|pp|tokens/s)';
const PATTERNS: RegExp[] = [
  /(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?\s*(?:%|\\%)/g,                         // percentages
  /(?<![\w.,])(?:\d+(?:,\d{3})*)?\.\d+(?![\d.]*\s*(?:M\b|million))/g,        // decimals, also .85 (not "1.3 million")
  new RegExp(`(?<![\\w.])(?:[2-9]|\\d\\d+)(?:,\\d{3})*\\s*${UNIT}(?![\\w-])`, 'g'), // integers with a unit (0 and 1: definitions of a unit)
  /\bElo\s+\d+|\bR\^?2\s*(?:=|of)\s*\d+/g,                                 // units written before the number
  /(?<![\w.])\d+(?:,\d{3})*\s+(?:out\s+)?of\s+(?:the\s+)?\d+(?:,\d{3})*(?![\w.])/g, // counts out of a total
  /(?<![\w./])\d+\s*\/\s*\d+(?![\w./])/g,                                  // ratios 29/32
  new RegExp(`\\b${NUMBER_WORD}\\s+(?:out\\s+)?of\\s+(?:the\\s+)?(?:\\w+\\s+)?(?:\\d+|${NUMBER_WORD})\\b`, 'gi'), // two of three seeds
  new RegExp(`\\b(?:${NUMBER_WORD}\\s+times|twice|thrice)\\s+(?:as|more|less|fewer|larger|smaller|faster|slower|the|its)\\b`, 'gi'), // twice as, ten times smaller
  new RegExp(`\\b${NUMBER_WORD}(?:\\s+to\\s+${NUMBER_WORD})?\\s+${UNIT}\\b`, 'gi'), // one to two points
];
/** Math or code that applies an operation is a formula; one that only states a value is not. */
const OPERATION = /[+*/^(]|(?<![=<>\s])-|\\(?:frac|sqrt|log|ln|exp|times|cdot|sum|prod|min|max|sigma|tanh)(?![a-zA-Z])|\be\^|[a-zA-Z_]\w*\s*[:({]/;

/** Numbers of a code text (numeric literals, also inside strings), comments removed. */
export function codeNumbers(code: string): number[] {
  const text = code.replace(/\/\/[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  return [...text.matchAll(/(?<![\w.])\d+(?:_\d{3})*(?:\.\d+)?(?:e-?\d+)?/g)].map((m) => Number(m[0].replace(/_/g, '')));
}

function recipeNumbers(x: unknown, out: number[] = []): number[] {
  if (typeof x === 'number') out.push(x);
  else if (Array.isArray(x)) x.forEach((v) => recipeNumbers(v, out));
  else if (x && typeof x === 'object') Object.values(x).forEach((v) => recipeNumbers(v, out));
  return out;
}
const RECIPE = recipeNumbers(courseRecipe());

const valueOf = (s: string): number => Number(s.replace(/[,\s]|\\?%$/g, '').replace(/^\./, '0.'));
const isSetting = (found: string, settings: number[]): boolean => {
  const m = found.match(/^(?:\d+(?:,\d{3})*)?\.?\d+/);
  if (!m || !/^[\d.,\s%\\]+$/.test(found.replace(/\s*$/, ''))) return false; // units, ratios, words: never settings
  const v = valueOf(m[0]);
  const candidates = /%$/.test(found) ? [v, v / 100] : [v];
  return candidates.some((c) => settings.some((s) => Math.abs(s - c) < 1e-9 * Math.max(1, Math.abs(c))));
};

/**
 * Measured-looking numbers of a markdown text. `settings`: the values that count as settings;
 * `allowed`: published phrases; markers and placeholders are dropped only when they are what the
 * reference gives (a marker's text must equal refText of its key; a placeholder must name a key).
 */
export function measuredNumbers(markdown: string, o: { settings?: number[]; allowed?: string[] } = {}): string[] {
  const settings = [...(o.settings ?? []), ...RECIPE];
  let t = markdown;
  for (const p of o.allowed ?? []) t = t.split(p).join(' ');
  t = t.replace(/<!--ref ([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)-->([^<]*)<!--\/ref-->/g, (all, key: string, text: string) => (text === refText(key, reference) ? ' REF ' : ` ${text} `))
    .replace(/\{\{ref [a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+\}\}/g, ' REF ')
    .replace(/\b(?:versions?|Ubuntu|Debian|nbformat|Node(?:\.js)?|Python|PyTorch|OpenBLAS|bubblewrap|v)\s*\(?\d+(?:\.\d+)+\)?(?:\s+and\s+\d+(?:\.\d+)+)?/g, ' ') // versions
    .replace(/\(\w+(?:#\d+)\)|\w+#\d+/g, ' ')   // issue numbers like trl#1623
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\b\d+\.\d+\.\d+\.\d+\b/g, ' ')          // IP addresses
    .replace(/\b(?:19|20)\d\d(?:-\d\d(?:-\d\d)?)?\b/g, ' '); // years and dates
  // formulas: math and code that apply an operation are removed; the rest is read like prose
  const formula = (inner: string) => OPERATION.test(inner);
  t = t.replace(/```[\s\S]*?```/g, (b) => (formula(b) ? ' ' : b))
    .replace(/\$\$([\s\S]*?)\$\$/g, (all, inner: string) => (formula(inner) ? ' ' : ` ${inner} `))
    .replace(/\$([^$\n]*)\$/g, (all, inner: string) => (formula(inner) ? ' ' : ` ${inner} `))
    .replace(/`([^`\n]*)`/g, (all, inner: string) => (formula(inner) ? ' ' : ` ${inner} `));
  const found: string[] = [];
  const covered: [number, number][] = [];
  for (const re of PATTERNS) {
    for (const m of t.matchAll(re)) {
      const start = m.index!, end = start + m[0].length;
      if (covered.some(([a, b]) => start < b && end > a)) continue; // one report per number
      covered.push([start, end]);
      if (isSetting(m[0].trim(), settings)) continue;
      found.push(`${m[0].trim()} (…${t.slice(Math.max(0, start - 40), end + 20).replace(/\s+/g, ' ')}…)`);
    }
  }
  return found;
}

const CHAPTERS = fs.readdirSync(NB).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).map((f) => f.replace(/\.ipynb$/, '')).sort();
type Cell = { cell_type: string; source: string | string[] };
const cellsOf = (name: string): Cell[] => JSON.parse(fs.readFileSync(path.join(NB, `${name}.ipynb`), 'utf8')).cells;
const srcOf = (c: Cell) => [c.source].flat().join('');
const markdownOf = (name: string) => cellsOf(name).filter((c) => c.cell_type === 'markdown').map(srcOf);
const codeOf = (name: string) => cellsOf(name).filter((c) => c.cell_type === 'code').map(srcOf);
const settingsOf = (name: string) => codeOf(name).flatMap(codeNumbers);
const scanChapter = (name: string, cells = markdownOf(name)) => {
  const allowed = ALLOWED.filter((a) => a.file === name).map((a) => a.text);
  return cells.flatMap((c) => measuredNumbers(c, { settings: settingsOf(name), allowed }));
};

/** README.md without its reference block and its dated sections. */
function readmeText(file: string): string {
  let text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  text = text.replace(/<!-- reference:begin[\s\S]*?<!-- reference:end -->/, ' ');
  text = text.replace(/<!-- crosscheck:begin[\s\S]*?<!-- crosscheck:end -->/, ' '); // generated; test/crosscheck.test.ts checks it
  for (const d of DATED_SECTIONS.filter((x) => x.file === file)) {
    const isHeading = /^#+ /.test(d.heading);
    const i = isHeading ? text.indexOf(`\n${d.heading}\n`) : text.indexOf(d.heading);
    if (i < 0) throw new Error(`${file}: dated section "${d.heading}" not found`);
    const level = isHeading ? d.heading.match(/^#+/)![0].length : 0;
    const next = text.slice(i + 1).search(isHeading ? new RegExp(`\\n#{1,${level}} `) : /\n\s*\n/);
    const section = next < 0 ? text.slice(i) : text.slice(i, i + 1 + next);
    if (!/\b20\d\d-\d\d-\d\d\b/.test(section)) throw new Error(`${file}: dated section "${d.heading}" carries no date (YYYY-MM-DD)`);
    text = text.replace(section, '\n');
  }
  return text;
}
const ALL_CODE = CHAPTERS.flatMap((n) => codeOf(n)).flatMap(codeNumbers);

describe('course text: no measured number typed by hand', () => {
  it('the allow-list and the dated sections are short and every entry says why', () => {
    expect(ALLOWED.length).toBeLessThanOrEqual(20);
    for (const a of [...ALLOWED.map((x) => x.source), ...DATED_SECTIONS.map((x) => x.reason)]) expect(a.length).toBeGreaterThan(10);
  });

  for (const name of CHAPTERS) {
    it(`${name}: markdown quotes numbers only as reference results, settings, formulas or cited results`, () => {
      expect(scanChapter(name)).toEqual([]);
      for (const a of ALLOWED.filter((x) => x.file === name)) expect(markdownOf(name).some((c) => c.includes(a.text)), `allow-list entry "${a.text}" is not used in ${name}`).toBe(true);
    });
  }

  for (const file of ['README.md', 'lib/README.md']) {
    it(`${file}: no measured number outside the reference block and the dated measurement sections`, () => {
      const allowed = ALLOWED.filter((a) => a.file === file).map((a) => a.text);
      expect(measuredNumbers(readmeText(file), { settings: ALL_CODE, allowed })).toEqual([]);
      for (const a of allowed) expect(readmeText(file).includes(a), `allow-list entry "${a}" is not used in ${file}`).toBe(true);
    });
  }

  it('every loophole of issue 23, planted alone in chapter 05, fails', () => {
    const base = scanChapter('05-ppo');
    expect(base).toEqual([]);
    const plants = [
      'In our run PPO reached gold $1.05$.', 'The reward model reached `0.848` held out.', 'It spent 25 nats of KL.', 'PPO is rated Elo 1190.',
      'Gold rose in two of three seeds.', 'PPO spent twice as much KL as best-of-N.', 'Accuracy moved by one to two points.', '29/32 replies ended.',
      'It ranked .85 of the pairs right.', 'A step takes 850 ms.', 'DPO reached a margin of 0.62.', 'It reached {{ref 0.85}} held out.',
      'It reached <!--ref rm.accVsGold-->85%<!--/ref--> held out.', 'Shannon would say $x = 2.5$ here.', 'The KL was $\\approx 7.9$ nats.',
      'It took 6 minutes.', 'Its R2 = 0.76 fit.', 'It reached 81.3% in the default run.', 'The fit had R^2 of 0.76.',
    ];
    for (const plant of plants) {
      const cells = [...markdownOf('05-ppo'), plant];
      expect(scanChapter('05-ppo', cells).length, plant).toBeGreaterThan(0);
    }
  });

  it('lets the allowed forms through: reference results, settings, formulas, dates', () => {
    const ref = refText('rm.accVsGold', reference);
    expect(measuredNumbers(`one epoch reached {{ref rm.accVsGold}}, or <!--ref rm.accVsGold-->${ref}<!--/ref--> written out`)).toEqual([]);
    expect(measuredNumbers('with $\\beta = 0.1$ the loss is $\\log(1 + e^{-0.3}) = 0.554$', { settings: [0.1] })).toEqual([]);
    expect(measuredNumbers('PPO with β = 0.05, sampled at temperature 0.8', { settings: [0.05] })).toEqual([]); // 0.8: the recipe's comparison temperature
    expect(measuredNumbers('`adaptiveKL: { init: 0.15 }` and trl#1623, 1.3 million tokens, 4,000 merges, 128 prompts, N = 16, on 2026-11-30')).toEqual([]);
    expect(measuredNumbers('the bound $\\log 16 - \\frac{15}{16} \\approx 1.83$ and $16/17$')).toEqual([]);
    expect(measuredNumbers('β = 0.037', { settings: [] })).toHaveLength(1); // a setting only when the code or the recipe has it
    expect(measuredNumbers('β = 0.037', { settings: [0.037] })).toEqual([]);
    expect(codeNumbers('const BETA = 0.05; // measured 0.848\nrl.ppoConfig({ lr: 3e-4, n: 1_200 })')).toEqual([0.05, 3e-4, 1200]);
  });
});

/** Keys a notebook's code records: exact keys and patterns for keys built in a template. */
function recordedKeyPatterns(): RegExp[] {
  const out: RegExp[] = [/^[a-z][A-Za-z0-9.=_-]*\.(?:gold|proxy|kl|endRate|length)$/]; // rl.recordPolicy(...)
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const code of CHAPTERS.flatMap(codeOf)) {
    for (const m of code.matchAll(/rl\.record\(\s*"([^"]+)"/g)) out.push(new RegExp(`^${esc(m[1])}$`));
    for (const m of code.matchAll(/rl\.record\(\s*`/g)) {
      // the template literal up to its closing backtick, skipping ${...} (which may hold nested templates)
      let i = m.index! + m[0].length, depth = 0, tpl = '';
      for (; i < code.length; i++) {
        const ch = code[i];
        if (depth === 0 && ch === '`') break;
        if (depth === 0 && ch === '$' && code[i + 1] === '{') { depth = 1; tpl += '\u0000'; i++; continue; }
        if (depth > 0) { if (ch === '{') depth++; else if (ch === '}') depth--; continue; }
        tpl += ch;
      }
      out.push(new RegExp(`^${tpl.split('\u0000').map(esc).join('[A-Za-z0-9.=_-]+')}$`));
    }
  }
  return out;
}

/** Keys quoted by the text that the committed reference does not have yet: added since it was made. */
const PENDING_KEYS: { keys: string[]; why: string }[] = [
  // none since the reference run of 2026-12-06
];

describe('quoted keys exist and are recorded', () => {
  const quoted = new Set<string>([
    ...CHAPTERS.flatMap((n) => markdownOf(n).flatMap((c) => [...c.matchAll(/(?:\{\{ref |<!--ref )([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)(?:\}\}|-->)/g)].map((m) => m[1]))),
    ...README_KEYS.map(([k]) => k),
  ]);
  const pending = new Set(PENDING_KEYS.flatMap((p) => p.keys));

  it('every key the text quotes is in the reference results, or listed as pending until the next reference run', () => {
    expect(quoted.size).toBeGreaterThan(80);
    expect([...quoted].filter((k) => !reference?.keys[k] && !pending.has(k))).toEqual([]);
  });

  it('a pending key is quoted and not in the reference yet (the list empties with the next reference run)', () => {
    expect([...pending].filter((k) => !quoted.has(k))).toEqual([]);
    expect([...pending].filter((k) => reference?.keys[k])).toEqual([]);
  });

  it('every quoted key is recorded by some notebook (rl.record or rl.recordPolicy)', () => {
    const patterns = recordedKeyPatterns();
    // time.<notebook>[.<cell>] keys are written by the reference runner (scripts/reference.ts), not by rl.record
    expect([...quoted].filter((k) => !k.startsWith('time.') && !patterns.some((p) => p.test(k)))).toEqual([]);
    expect(patterns.some((p) => p.test('rm.acVsGold'))).toBe(false); // a typo is no key
  });
});

describe('DEVELOPMENT-NOTES.md: a dated log of development runs, not course text', () => {
  const notes = fs.readFileSync(path.join(ROOT, 'DEVELOPMENT-NOTES.md'), 'utf8');
  it('says it is not course text, and every section carries the date it was logged', () => {
    expect(notes.slice(0, 400)).toMatch(/Not part of the course/);
    const sections = notes.split(/\n(?=## )/).slice(1);
    expect(sections.length).toBeGreaterThan(3);
    for (const s of sections) expect(s.split('\n')[0], s.split('\n')[0]).toMatch(/\b20\d\d-\d\d-\d\d\b/);
  });
  it('course text links it only as development runs', () => {
    const texts = [...CHAPTERS.flatMap((n) => markdownOf(n).map((c) => [n, c])), ['README.md', readmeText('README.md')], ['lib/README.md', readmeText('lib/README.md')]];
    let links = 0;
    for (const [where, text] of texts) {
      for (const m of text.matchAll(/DEVELOPMENT-NOTES\.md/g)) {
        links++;
        const around = text.slice(Math.max(0, m.index! - 200), m.index! + 120);
        expect(around, `${where}: link to DEVELOPMENT-NOTES.md`).toMatch(/development (?:runs?|notes|log)|not course text/i);
      }
    }
    expect(links).toBeGreaterThan(2);
  });
});
