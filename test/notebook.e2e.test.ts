// The student's path in a real browser: `npm run notebook` (scripts/notebook.sh, as whoever runs
// the tests, root included) on a free loopback port, headless Chromium (Debian's, driven by
// playwright-core) opens notebook 01 in fast mode and runs all cells from the menu, then starts
// notebook 02's pretraining, interrupts it from the Kernel menu, runs the cell again to resume,
// reloads the page and draws a new plot. The notebooks run from copies in a temporary folder
// inside the checkout (so Jupyter's autosave never touches notebooks/), with RLHF_RUNS temporary.
// Needs /usr/bin/chromium (npm run setup installs it): without it the test fails saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..');
const KERNEL = path.join(ROOT, 'build/jupyter/share/jupyter/kernels/tslab/kernel.json');
const TOKEN = 'e2e-' + process.pid;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** In the page: the code cells' prompts ('*' while queued or running, a number when done). */
const prompts = (page: Page): Promise<string[]> => page.evaluate(() => (window as any).Jupyter.notebook.get_cells()
  .filter((c: any) => c.cell_type === 'code').map((c: any) => String(c.input_prompt_number ?? '')));

async function openNotebook(page: Page, base: string, rel: string): Promise<void> {
  await page.goto(`${base}/notebooks/${rel}?token=${TOKEN}`);
  await page.waitForFunction(() => {
    const nb = (window as any).Jupyter?.notebook;
    return nb?.kernel?.is_connected() && nb.kernel.info_reply?.implementation !== undefined;
  }, undefined, { timeout: 60_000 });
}

/** Click a menu item of the classic Notebook menu bar, e.g. ('Cell', '#run_all_cells'). */
async function menu(page: Page, top: string, item: string): Promise<void> {
  await page.click(`#menus a.dropdown-toggle:text-is("${top}")`);
  await page.click(item);
}

async function waitIdle(page: Page, timeout: number): Promise<void> {
  await page.waitForFunction(() => {
    const cells = (window as any).Jupyter.notebook.get_cells().filter((c: any) => c.cell_type === 'code');
    return cells.every((c: any) => c.input_prompt_number !== '*') && document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null;
  }, undefined, { timeout, polling: 250 });
}

/** Text of the stderr and error outputs of the page (tslab reports errors on stderr). */
const errorOutputs = (page: Page) => page.$$eval('.output_stderr, .output_error', (els) => els.map((e) => e.textContent ?? ''));

/** The progress line of the code cell with index `i` among all cells. */
const progressText = (page: Page, i: number) => page.evaluate((k) => {
  const el = (window as any).Jupyter.notebook.get_cell(k).output_area.element[0].querySelector('.rlhf-progress');
  return el ? el.textContent as string : '';
}, i);

describe('the student notebook in a real browser', () => {
  let server: ChildProcess | undefined;
  let serverLog = '';
  let browser: Browser | undefined;
  let page: Page;
  let base = '';
  let work = '';
  let runs = '';
  const rel = (name: string) => `${path.relative(ROOT, work).split(path.sep).join('/')}/${name}`;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`notebook.e2e: ${CHROMIUM} is missing, so the notebooks cannot be tested in a browser: install it (apt-get install -y chromium; npm run setup does)`);
    }
    if (!fs.existsSync(KERNEL)) throw new Error(`notebook.e2e: no tslab kernel spec at ${KERNEL}: run npm run setup first`);
    work = fs.mkdtempSync(path.join(ROOT, 'build', 'e2e-notebooks-'));
    for (const nb of ['01-shannon-ngrams.ipynb', '02-transformer.ipynb']) fs.copyFileSync(path.join(ROOT, 'notebooks', nb), path.join(work, nb));
    runs = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-runs-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn('bash', [path.join(ROOT, 'scripts/notebook.sh'), '--no-browser', `--port=${port}`, '--port-retries=0', '--ip=127.0.0.1',
      `--NotebookApp.token=${TOKEN}`], { env: { ...process.env, RLHF_FAST: '1', RLHF_RUNS: runs }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => { serverLog += d; });
    server.stderr!.on('data', (d) => { serverLog += d; });
    const t0 = Date.now();
    while (!serverLog.includes('is running at')) {
      if (server.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`npm run notebook did not start:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    page.on('dialog', (d) => void d.accept()); // "leave page?" on reload
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      // Shut the kernels down through the API, then the server (its whole process group: bash, jupyter, the log filter).
      try {
        const sessions = await (await fetch(`${base}/api/sessions?token=${TOKEN}`)).json() as { id: string }[];
        for (const s of sessions) await fetch(`${base}/api/sessions/${s.id}?token=${TOKEN}`, { method: 'DELETE' });
      } catch { /* the server is gone already */ }
      process.kill(-server.pid!, 'SIGTERM');
      const exited = new Promise((r) => server!.once('exit', r));
      const killed = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!killed) process.kill(-server.pid!, 'SIGKILL');
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
    if (runs) fs.rmSync(runs, { recursive: true, force: true });
  }, 60_000);

  it('starts as this user (root too), runs notebook 01 from the Cell menu: tables, a drawn plot, no errors', async () => {
    expect(serverLog).toContain('notebook: starting Jupyter at');
    await openNotebook(page, base, rel('01-shannon-ngrams.ipynb'));
    await menu(page, 'Cell', '#run_all_cells');
    await waitIdle(page, 180_000);
    expect((await prompts(page)).every((p) => /^\d+$/.test(p))).toBe(true);
    expect(await errorOutputs(page)).toEqual([]);
    expect(await page.locator('.output_area table.rlhf-table').count()).toBeGreaterThan(2);
    await page.waitForSelector('.rlhf-plot svg.main-svg', { timeout: 30_000 });
    // plotly.js came from the Jupyter server, not from the outputs
    const html = await page.evaluate(() => JSON.stringify((window as any).Jupyter.notebook.toJSON()));
    expect(html.length).toBeLessThan(500_000);
  }, 300_000);

  it("interrupts notebook 02's pretraining from the Kernel menu: it stops, says where, resumes, and a plot draws after a reload", async () => {
    await openNotebook(page, base, rel('02-transformer.ipynb'));
    const cells: string[] = await page.evaluate(() => (window as any).Jupyter.notebook.get_cells().map((c: any) => c.get_text() as string));
    const train = cells.findIndex((s) => s.includes('const run = await rl.pretrain('));
    const heatmapCell = cells.findIndex((s) => s.includes('rl.heatmap('));
    expect(train).toBeGreaterThan(0);
    await page.evaluate((k) => (window as any).Jupyter.notebook.select(k), train);
    await menu(page, 'Cell', '#run_all_cells_above');
    await waitIdle(page, 240_000);
    expect(await errorOutputs(page)).toEqual([]);

    await page.evaluate((k) => (window as any).Jupyter.notebook.select(k), train);
    await menu(page, 'Cell', '#run_cell');
    const stepOf = (s: string) => Number(/pretraining (\d+)\/800/.exec(s)?.[1] ?? -1);
    await page.waitForFunction((k) => {
      const el = (window as any).Jupyter.notebook.get_cell(k).output_area.element[0].querySelector('.rlhf-progress');
      const m = el && /pretraining (\d+)\/800/.exec(el.textContent);
      return m && Number(m[1]) >= 30;
    }, train, { timeout: 120_000, polling: 100 });
    await menu(page, 'Kernel', '#int_kernel');
    // The cell ends within a few seconds with the loop's line; the progress stops advancing.
    await waitIdle(page, 10_000);
    const stopped = (await errorOutputs(page)).join('\n');
    const m = /pretraining stopped by Kernel > Interrupt after step (\d+) of 800: the model keeps the weights of step \1\. Running the loop again with the same optimizer continues from step \1\./.exec(stopped);
    expect(m, `cell output: ${stopped}`).not.toBeNull();
    const at = Number(m![1]);
    const line = await progressText(page, train);
    expect(line).toContain('stopped');
    await page.waitForTimeout(3000);
    expect(await progressText(page, train)).toBe(line);
    expect(stepOf(line)).toBeLessThanOrEqual(at);

    // Running the cell again, as the text says, continues from that step to the end.
    await page.evaluate((k) => (window as any).Jupyter.notebook.select(k), train);
    await menu(page, 'Cell', '#run_cell');
    await waitIdle(page, 180_000);
    const out = await page.evaluate((k) => (window as any).Jupyter.notebook.get_cell(k).output_area.element[0].textContent as string, train);
    expect(out).toContain(`${800 - at} steps in`);
    expect(await page.locator('.output_stderr').allTextContents()).toEqual([]); // the text, if any, is in the failure

    // A page reload keeps the kernel; a new plot still draws (plotly.js is fetched again from the server).
    await page.reload();
    await page.waitForFunction(() => (window as any).Jupyter?.notebook?.kernel?.is_connected(), undefined, { timeout: 60_000 });
    await page.evaluate((k) => (window as any).Jupyter.notebook.select(k), heatmapCell);
    await menu(page, 'Cell', '#run_cell');
    await waitIdle(page, 60_000);
    const drawn = await page.waitForFunction((k) => (window as any).Jupyter.notebook.get_cell(k).output_area.element[0]
      .querySelectorAll('.rlhf-plot svg.main-svg').length > 0, heatmapCell, { timeout: 30_000 }).then(() => true, () => false);
    const plotText = await page.evaluate((k) => Array.from((window as any).Jupyter.notebook.get_cell(k).output_area.element[0]
      .querySelectorAll('.rlhf-plot'), (e: any) => e.textContent).join(' | '), heatmapCell);
    expect(drawn, `plots after the reload: ${plotText}`).toBe(true);
    expect(await errorOutputs(page)).toEqual([]);
    expect(serverLog).not.toContain('unknown msg_type'); // tslab's comm_open noise is filtered out
  }, 600_000);
});
