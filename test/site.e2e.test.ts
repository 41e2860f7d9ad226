// The reader's site (scripts/build_site.py, `npm run site`) in headless Chromium (Debian's, driven by
// playwright-core) with the network off: the site is built into one temporary folder, copied to
// another (the build folder is then deleted) and served from the copy over http on 127.0.0.1; every
// request the browser makes is recorded and anything not for that server is refused.
// Suite 1 builds from a small fixture of executed notebooks made here (chapters 01, 02 and 12, so the
// chapter list must come from the files): math, plots, navigation, search, a phone's screen.
// Suite 2 builds from the course's own executed notebooks when `npm start`/`npm run course` has left
// them in build/course/ (CI runs npm start before npm test): every chapter renders its math and plots.
// Screenshots go to build/site-test/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import { plotHtml, tableHtml } from '../lib';
import { run } from './run';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..');
const COURSE = path.join(ROOT, 'build', 'course');
const SHOTS = path.join(ROOT, 'build', 'site-test');
// Nothing here measures time: the limits are generous so a busy machine (2 cores shared with other
// work) only makes the test slower. Pages are reached at DOMContentLoaded; rendered() then waits for
// MathJax and plotly (11 MB) themselves.
const SLOW = 120_000;
const POLL = { timeout: 30_000, interval: 100 };
const DOM = { waitUntil: 'domcontentloaded' as const };
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.ipynb': 'application/json' };

/** Builds the site from `notebooks` into a temporary folder, copies it to another and deletes the first. */
async function buildCopy(notebooks: string): Promise<{ dir: string; log: string }> {
  const built = fs.mkdtempSync(path.join(os.tmpdir(), 'site-built-'));
  const r = await run('/usr/bin/python3', [path.join(ROOT, 'scripts/build_site.py'), '--course', notebooks, '--out', built]);
  if (r.status !== 0) throw new Error(`build_site.py failed:\n${r.stdout}\n${r.stderr}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-served-'));
  fs.cpSync(built, dir, { recursive: true });
  fs.rmSync(built, { recursive: true, force: true });
  return { dir, log: r.stdout };
}

/** A static file server for `dir` on 127.0.0.1 (a free port). */
async function serve(dir: string): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    // the assets may be cached, as a web server lets them be: plotly.js is 11 MB on every chapter page
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'max-age=600' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { base, close: () => new Promise((r) => server.close(() => r())) };
}

/** Chromium that cannot reach any host but 127.0.0.1 (host names resolve to nothing, and everything
 * else goes to a proxy that is not there), with contexts that record every request the pages make. */
async function offlineBrowser(base: string): Promise<{ browser: Browser; requests: string[]; problems: string[]; context: (o?: object) => Promise<BrowserContext> }> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`site.e2e: ${CHROMIUM} is missing: install it (apt-get install -y chromium; npm run setup does)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
    proxy: { server: 'http://127.0.0.1:9', bypass: '127.0.0.1' },
  });
  const requests: string[] = [];
  const problems: string[] = [];
  const context = async (opts: object = {}) => {
    // (recorded with events, not page.route(): routing would switch the browser's cache off)
    const ctx = await browser.newContext(opts);
    ctx.setDefaultTimeout(SLOW);
    ctx.on('request', (r) => { requests.push(r.url()); });
    ctx.on('page', (page) => {
      page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`${page.url()}: console: ${m.text()}`); });
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.url()}: HTTP ${r.status()}`); });
    });
    return ctx;
  };
  return { browser, requests, problems, context };
}

/** Waits for MathJax's first typesetting and for every plot to be drawn; returns what the page shows. */
async function rendered(page: Page): Promise<{ math: number; mathErrors: number; plots: number; drawn: number }> {
  await page.waitForFunction(() => (window as any).MathJax?.startup?.promise !== undefined, undefined, { timeout: SLOW });
  await page.evaluate(() => (window as any).MathJax.startup.promise);
  const plots = await page.locator('.rlhf-plot').count();
  if (plots > 0) {
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.rlhf-plot')).every((p) => p.querySelector('svg.main-svg')),
      undefined, { timeout: SLOW });
  }
  return page.evaluate(() => ({
    math: document.querySelectorAll('mjx-container svg').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    plots: document.querySelectorAll('.rlhf-plot').length,
    drawn: Array.from(document.querySelectorAll('.rlhf-plot')).filter((p) => p.querySelector('svg.main-svg')).length,
  }));
}

/** Requests for anything but the test's server (data: and blob: URLs never leave the page). */
const leftLocalhost = (requests: string[], base: string) => requests.filter((u) => !u.startsWith(base + '/') && !/^(data|blob):/.test(u));

const htmlFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.html'));

// ---------------------------------------------------------------- the fixture

const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const code = (source: string, outputs: object[]) => ({ cell_type: 'code', metadata: {}, source, execution_count: 1, outputs });
const stream = (text: string) => ({ output_type: 'stream', name: 'stdout', text });
const html = (h: string) => ({ output_type: 'display_data', metadata: {}, data: { 'text/html': h, 'text/plain': 'shown as html' } });
const notebook = (cells: object[], run: object) => ({
  cells, nbformat: 4, nbformat_minor: 5,
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' }, rlhf_run: run },
});

function writeFixture(dir: string): void {
  const ok = { mode: 'fast', ok: true, seconds: 1, date: '2026-12-06' };
  const line = plotHtml([{ x: [1, 2, 3], y: [3, 1, 2], name: 'loss', mode: 'lines' }], { title: 'A loss' });
  const heat = plotHtml([{ z: [[1, 2], [3, 4]], type: 'heatmap' }], { title: 'Weights' });
  fs.writeFileSync(path.join(dir, '01-alpha.ipynb'), JSON.stringify(notebook([
    md('# Chapter 1 — Alpha counts\n\nA language model is $p(y_t \\mid y_{<t})$, and\n\n$$\\mathrm{KL}(\\pi\\,\\|\\,\\pi_{\\text{ref}}) = \\sum_y \\pi(y) \\log\\frac{\\pi(y)}{\\pi_{\\text{ref}}(y)}$$'),
    md('## Smoothing the zebrafish\n\nAdd-k smoothing spreads mass over unseen pairs.'),
    code('console.log(rl.save(model));', [stream(`saved to ${ROOT}/runs/fast/sft\n`)]),
    md('## A plot of β\n\nThe loss below.'),
    code('rl.plot(traces);', [html(line)]),
  ], ok)));
  fs.writeFileSync(path.join(dir, '02-beta.ipynb'), JSON.stringify(notebook([
    md('# Chapter 2 — Beta attention\n\nSoftmax: $\\mathrm{softmax}(QK^\\top/\\sqrt{d})V$.'),
    md('## Heads\n\nOnly this chapter mentions the quokka. A reply stops at `<end>` & waits.'),
    code('rl.table(rows);', [html(tableHtml([{ item: 'a price', value: '$5 and $6' }]))]),
    code('rl.heatmap(w);', [html(heat)]),
  ], { ...ok, ok: false })));
  fs.writeFileSync(path.join(dir, '12-gamma.ipynb'), JSON.stringify(notebook([
    md('# Chapter 12 — Gamma evaluation\n\n## Win rates\n\nBest-of-$N$ wins at most $\\frac{N}{N+1}$ of the time.'),
    code('rl.plot(more);', [html(line)]),
  ], ok)));
}

describe('the reader\'s site, built from a fixture, offline in headless Chromium', () => {
  let fixture = '';
  let site = { dir: '', log: '' };
  let server: Awaited<ReturnType<typeof serve>>;
  let b: Awaited<ReturnType<typeof offlineBrowser>>;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'site-fixture-'));
    writeFixture(fixture);
    site = await buildCopy(fixture);
    fs.rmSync(fixture, { recursive: true, force: true });
    server = await serve(site.dir);
    b = await offlineBrowser(server.base);
    ctx = await b.context({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
  }, 300_000);

  afterAll(async () => {
    await b?.browser.close();
    await server?.close();
    if (site.dir) fs.rmSync(site.dir, { recursive: true, force: true });
  });

  it('writes one page per executed notebook present, an index and the assets; no file:// or machine path in any page', () => {
    expect(site.log).toContain('3 chapter page(s)');
    expect(htmlFiles(site.dir).sort()).toEqual(['01-alpha.html', '02-beta.html', '12-gamma.html', 'index.html']);
    expect(fs.readdirSync(path.join(site.dir, '_static')).sort()).toEqual(['mathjax.js', 'plotly.js', 'search-index.js', 'site.css', 'site.js']);
    for (const f of htmlFiles(site.dir)) {
      const text = fs.readFileSync(path.join(site.dir, f), 'utf8');
      expect(text, f).not.toContain('file://');
      expect(text, f).not.toContain(ROOT);
      expect(text, f).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from another host
    }
    expect(fs.readFileSync(path.join(site.dir, '01-alpha.html'), 'utf8')).toContain('saved to runs/fast/sft');
  });

  it('renders the math and draws every plot on each chapter page; a dollar sign in an output stays text', async () => {
    for (const [name, plots] of [['01-alpha', 1], ['02-beta', 1], ['12-gamma', 1]] as const) {
      await page.goto(`${server.base}/${name}.html`, DOM);
      const r = await rendered(page);
      expect(r.math, name).toBeGreaterThan(0);
      expect(r.mathErrors, name).toBe(0);
      expect([r.plots, r.drawn], name).toEqual([plots, plots]);
      if (name === '02-beta') {
        expect(await page.locator('.output_area mjx-container').count()).toBe(0);
        expect(await page.locator('.output_area table').textContent()).toContain('$5 and $6');
        expect((await page.locator('.run-note').allTextContents()).join(' ')).toContain('stopped at a failing cell');
      }
    }
    await page.goto(`${server.base}/01-alpha.html`, DOM);
    await rendered(page);
    expect(await page.locator('.text_cell_render mjx-container[display="true"]').count()).toBe(1);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'fixture-chapter.png'), fullPage: true });
  }, 300_000);

  it('navigates: sidebar with every chapter in file order, previous and next, the page\'s contents, the index', async () => {
    await page.goto(`${server.base}/index.html`, DOM);
    const chapters = await page.locator('#sidebar a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent?.replace(/\s+/g, ' ').trim()]));
    expect(chapters).toEqual([['01-alpha.html', '1 Alpha counts'], ['02-beta.html', '2 Beta attention'], ['12-gamma.html', '12 Gamma evaluation']]);
    expect(await page.locator('article a[href="12-gamma.html"]').count()).toBe(1);
    await page.click('.pager a.next');
    await page.waitForURL(/01-alpha\.html$/);
    expect(await page.locator('.pager a.prev').count()).toBe(0);
    expect(await page.locator('#sidebar a[aria-current="page"]').getAttribute('href')).toBe('01-alpha.html');
    await page.click('.pager a.next');
    await page.waitForURL(/02-beta\.html$/);
    await page.click('.pager a.next');
    await page.waitForURL(/12-gamma\.html$/);
    expect(await page.locator('.pager a.next').count()).toBe(0);
    await page.click('.pager a.prev');
    await page.waitForURL(/02-beta\.html$/);
    await page.click('#sidebar a[href="01-alpha.html"]');
    await page.waitForURL(/01-alpha\.html$/);
    const toc = await page.locator('.toc a').evaluateAll((as) => as.map((a) => a.textContent));
    expect(toc).toEqual(['Smoothing the zebrafish', 'A plot of β']);
    await page.click('.toc a:text-is("A plot of β")');
    await page.waitForURL(/#A-plot-of-/);
    expect(await page.evaluate(() => [document.querySelector(':target')?.textContent, window.scrollY > 0])).toEqual(['A plot of β¶', true]);
  }, 300_000);

  it('searches across chapters: every word must match, a result opens the section in its chapter', async () => {
    await page.goto(`${server.base}/01-alpha.html`, DOM);
    await page.fill('#search', 'quokka');
    const results = page.locator('#search-results a');
    await expect.poll(() => results.count(), POLL).toBe(1);
    expect(await results.first().textContent()).toContain('Chapter 2: Beta attention › Heads');
    await results.first().click();
    await page.waitForURL(/02-beta\.html#Heads$/);

    await page.fill('#search', 'zebrafish smoothing');
    await expect.poll(() => results.count(), POLL).toBe(1);
    expect(await page.locator('#search-results mark').allTextContents()).toEqual(expect.arrayContaining(['smoothing']));
    await page.press('#search', 'Enter');
    await page.waitForURL(/01-alpha\.html#Smoothing-the-zebrafish$/);

    await page.fill('#search', '<end>'); // marked in the raw text, then escaped
    await expect.poll(() => page.locator('#search-results mark').allTextContents(), POLL).toEqual(['<end>']);
    expect(await page.locator('#search-results span').first().textContent()).toContain('stops at <end> & waits');

    await page.fill('#search', 'quokka zebrafish');
    await expect.poll(() => page.locator('#search-results .none').count(), POLL).toBe(1);
    await page.fill('#search', 'win rates');
    await expect.poll(() => results.count(), POLL).toBeGreaterThan(0);
    expect(await results.first().getAttribute('href')).toBe('12-gamma.html#Win-rates');
  }, 300_000);

  it('reads on a phone: no sideways scrolling, the chapters behind the menu button', async () => {
    const phone = await b.context({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = await phone.newPage();
    await p.goto(`${server.base}/02-beta.html`, DOM);
    await rendered(p);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect((await p.locator('#sidebar').boundingBox())!.x + 200).toBeLessThan(0); // off screen
    expect(await p.locator('details.toc').getAttribute('open')).toBeNull();
    await p.click('#nav-toggle');
    await expect.poll(async () => (await p.locator('#sidebar').boundingBox())!.x, POLL).toBe(0);
    await p.screenshot({ path: path.join(SHOTS, 'fixture-phone-menu.png') });
    await p.click('#sidebar a[href="12-gamma.html"]');
    await p.waitForURL(/12-gamma\.html$/);
    await phone.close();
  }, 300_000);

  it('also works opened from disk (file://): math, plots and search', async () => {
    const disk = await b.browser.newContext(); // not recorded: its requests are file:// ones
    disk.setDefaultTimeout(SLOW);
    const p = await disk.newPage();
    await p.goto(`file://${site.dir}/01-alpha.html`, DOM);
    const r = await rendered(p);
    expect([r.math > 0, r.mathErrors, r.plots, r.drawn]).toEqual([true, 0, 1, 1]);
    await p.fill('#search', 'quokka');
    await expect.poll(() => p.locator('#search-results a').count(), POLL).toBe(1);
    await disk.close();
  }, 300_000);

  it('made no request that left 127.0.0.1, and every request succeeded', () => {
    expect(b.requests.length).toBeGreaterThan(10);
    expect(leftLocalhost(b.requests, server.base)).toEqual([]);
    expect(b.requests.some((u) => u.endsWith('/_static/mathjax.js'))).toBe(true);
    expect(b.requests.some((u) => u.endsWith('/_static/plotly.js'))).toBe(true);
    expect(b.problems).toEqual([]);
  });

  it('really is offline: a fetch of another host, by name or by address, fails', async () => {
    await page.goto(`${server.base}/index.html`, DOM);
    const outcome = await page.evaluate(async () => Promise.all(['https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js', 'http://1.1.1.1/']
      .map((u) => fetch(u, { mode: 'no-cors' }).then(() => 'reached', () => 'failed'))));
    expect(outcome).toEqual(['failed', 'failed']);
  });
});

// ---------------------------------------------------------------- the course's own pages

const courseNotebooks = fs.existsSync(COURSE) ? fs.readdirSync(COURSE).filter((f) => /^\d\d-[\w-]+\.ipynb$/.test(f)).sort() : [];

describe.skipIf(courseNotebooks.length === 0)(`the reader's site of build/course (${courseNotebooks.length} executed chapters), offline`, () => {
  let site = { dir: '', log: '' };
  let server: Awaited<ReturnType<typeof serve>>;
  let b: Awaited<ReturnType<typeof offlineBrowser>>;

  beforeAll(async () => {
    site = await buildCopy(COURSE);
    server = await serve(site.dir);
    b = await offlineBrowser(server.base);
  }, 300_000);

  afterAll(async () => {
    await b?.browser.close();
    await server?.close();
    if (site.dir) fs.rmSync(site.dir, { recursive: true, force: true });
  });

  it('every chapter page renders its math and draws all its plots; no file:// or machine path; nothing leaves 127.0.0.1', async () => {
    const ctx = await b.context({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    for (const nbFile of courseNotebooks) {
      const nb = JSON.parse(fs.readFileSync(path.join(COURSE, nbFile), 'utf8'));
      const markdown = nb.cells.filter((c: any) => c.cell_type === 'markdown').map((c: any) => [c.source].flat().join('')).join('\n');
      const plots = nb.cells.flatMap((c: any) => c.outputs ?? []).filter((o: any) => o.data?.['application/vnd.plotly.v1+json']).length;
      const name = nbFile.replace(/\.ipynb$/, '.html');
      const text = fs.readFileSync(path.join(site.dir, name), 'utf8');
      expect(text, name).not.toContain('file://');
      expect(text, name).not.toContain(ROOT + '/');
      expect(text, name).not.toMatch(/\{\{ref [a-z][A-Za-z0-9]*\./); // placeholders filled by the runner
      await page.goto(`${server.base}/${name}`, DOM);
      const r = await rendered(page);
      if (/\$[^$]+\$/.test(markdown)) expect(r.math, `${name}: math`).toBeGreaterThan(0);
      expect(r.mathErrors, `${name}: TeX errors`).toBe(0);
      expect([r.plots, r.drawn], `${name}: plots`).toEqual([plots, plots]);
      expect(await page.locator('#sidebar a').count()).toBe(courseNotebooks.length);
    }
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.goto(`${server.base}/${courseNotebooks[Math.min(4, courseNotebooks.length - 1)].replace(/\.ipynb$/, '.html')}`, DOM);
    await rendered(page);
    await page.screenshot({ path: path.join(SHOTS, 'course-chapter.png') });
    expect(leftLocalhost(b.requests, server.base)).toEqual([]);
    expect(b.problems).toEqual([]);
    await ctx.close();
  }, 900_000);
});
