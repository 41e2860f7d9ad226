// The labeling page end to end: a real headless Chromium (Debian's, driven by playwright-core)
// clicks, types and submits; the answer must be in the JSONL file. Needs /usr/bin/chromium
// (setup installs it); without it the suite fails with a message saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { LabelPair, startLabelServer } from '../lib/feedback/labelServer';
import { appendComparison, makeComparison, readComparisons } from '../lib/feedback/preferences';

const CHROMIUM = '/usr/bin/chromium';

const pairs: LabelPair[] = [
  { prompt: 'Human: Good morrow.\nAssistant: ', completionA: 'Good morrow, sweet friend.<end>', completionB: 'Hence, villain', metadata: { goldA: 1, goldB: -1 } },
  { prompt: 'Human: What news?\nAssistant: ', completionA: 'None, my lord.<end>', completionB: 'The king is dead.<end>' },
];

describe('labeling page in headless Chromium', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`labeling.e2e: ${CHROMIUM} is missing, so the labeling page cannot be tested in a browser: install it (apt-get install -y chromium; npm run setup does)`);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'label-e2e-'));
    // playwright gives the browser a fresh temporary profile (its own --user-data-dir) and headless mode.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('#prompt:not(:empty)');
    return page;
  }

  it('clicks a choice, types a comment, submits: the record is in the JSONL file', async () => {
    const file = path.join(dir, 'labels.jsonl');
    const server = await startLabelServer({ file, pairs, port: 0, labeler: 'tester' });
    try {
      const page = await open(server.url);
      expect(await page.textContent('#prompt')).toBe('Human: Good morrow.\nAssistant:');
      expect(await page.textContent('#completionB')).toContain('cut off');
      expect(await page.isDisabled('#submit')).toBe(true);
      await page.click('button[data-strength="A>>B"]');
      await page.fill('#comment', 'A ends its turn; B never does.');
      await page.click('#submit');
      await page.waitForFunction(() => document.querySelector('#prompt')?.textContent?.startsWith('Human: What news?'));
      const records = readComparisons(file);
      expect(records.length).toBe(1);
      expect(records[0]).toMatchObject({
        prompt: pairs[0].prompt, completionA: pairs[0].completionA, completionB: pairs[0].completionB,
        choice: 'A', strength: 'A>>B', labeler: 'tester', comment: 'A ends its turn; B never does.',
        metadata: { goldA: 1, goldB: -1, source: 'label-page', pairIndex: 0 },
      });

      // Keyboard: 7 = B>>A, Enter submits; then the page says it is done.
      await page.keyboard.press('7');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('all done'));
      expect(readComparisons(file).map((r) => r.strength)).toEqual(['A>>B', 'B>>A']);
      expect(server.labeled()).toBe(2);
      await page.close();
    } finally {
      await server.close();
    }
  });

  it('a malformed existing file: the server refuses to start, naming file and line', async () => {
    const file = path.join(dir, 'broken.jsonl');
    fs.writeFileSync(file, JSON.stringify(makeComparison('p', 'a', 'b', 'A>B', 'x')) + '\n{"version": 1,\n');
    await expect(startLabelServer({ file, pairs, port: 0 })).rejects.toThrow(`${file}:2: not valid JSON`);
  });

  it('a file broken while the page is open: the page shows the error and nothing is lost', async () => {
    const file = path.join(dir, 'later.jsonl');
    appendComparison(file, makeComparison('p', 'a', 'b', 'A>B', 'x'));
    const server = await startLabelServer({ file, pairs, port: 0 });
    try {
      const page = await open(server.url);
      fs.appendFileSync(file, 'not json\n');
      const before = fs.readFileSync(file, 'utf8');
      await page.keyboard.press('2');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelector('#error')?.textContent?.includes('Not saved'));
      expect(await page.textContent('#error')).toContain(`${file}:2: not valid JSON`);
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
      await page.close();
    } finally {
      await server.close();
    }
  });
});
