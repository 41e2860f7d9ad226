/**
 * Display helpers for notebooks: tables, plotly charts, heatmaps, a progress line and a live
 * loss chart that update in place. In a tslab (Jupyter) kernel they emit HTML through tslab's
 * display API; anywhere else (tests, scripts, CI) they print plain text to stdout. Nothing goes
 * to stderr.
 *
 * Plots work offline: the first plot of a kernel session emits the plotly.js bundle from
 * node_modules/plotly.js-dist in its own output, and every plot's script waits for
 * `window.Plotly` (from that output or from a page that put the bundle in its <head>).
 * `RLHF_PLOTLY_INLINE=0` skips emitting the bundle (for a page that provides it itself).
 *
 * `xxxHtml()` functions are pure renderers (tested); `table()`, `plot()`, ... display.
 */
import * as fs from 'fs';
import * as path from 'path';

interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
}

function tslabJupyterKey(): string | undefined {
  const key = Object.keys(require.cache).find((k) => /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(k));
  return key && require.cache[key]?.exports?.lastWriteDisplayData != null ? key : undefined;
}

/**
 * tslab's kernel module (dist/jupyter.js) when running inside a tslab kernel, else null (never
 * loads tslab itself). Its `lastWriteDisplayData` is the output writer of the running cell: tslab
 * replaces it at every execute request.
 */
export function tslabKernel(): { lastWriteDisplayData: (data: unknown, update: boolean) => void } | null {
  const key = tslabJupyterKey();
  return key ? require.cache[key]!.exports : null;
}

/** tslab's display API when running inside a tslab kernel, else null. */
function tslab(): { display: TslabDisplay; newDisplay(): TslabDisplay } | null {
  const key = tslabJupyterKey();
  if (!key) return null;
  const pub = key.replace(/jupyter\.js$/, 'public.js');
  return require.cache[pub]?.exports ?? require(pub);
}

/** True inside a Jupyter (tslab) kernel: displays are HTML and update in place. */
export function inJupyter(): boolean {
  return tslab() !== null;
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}

/** Show HTML in Jupyter, or `text` on stdout elsewhere. */
export function show(html: string, text: string): void {
  const t = tslab();
  if (t) t.display.html(html);
  else say(text);
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ---------------------------------------------------------------- tables

type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;
/** The part of a danfojs DataFrame a table needs (duck-typed so lib does not load danfojs). */
export interface FrameLike {
  columns: string[];
  values: Cell[][] | Cell[];
}
export interface TableOptions {
  caption?: string;
  /** Decimal places for non-integer numbers (default 3). */
  digits?: number;
}

function toGrid(data: Row[] | FrameLike): { columns: string[]; rows: Cell[][] } {
  if (Array.isArray(data)) {
    const columns: string[] = [];
    for (const r of data) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
    return { columns, rows: data.map((r) => columns.map((c) => r[c])) };
  }
  if (data && Array.isArray(data.columns) && Array.isArray(data.values)) {
    const vals = data.values as unknown[];
    const rows = (vals.length && !Array.isArray(vals[0]) ? [vals] : vals) as Cell[][];
    return { columns: data.columns.map(String), rows };
  }
  throw new Error(`table: expected an array of row objects or a DataFrame, got ${typeof data}`);
}

function fmt(v: Cell, digits: number): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return v === null || v === undefined ? '' : String(v);
}

export function tableHtml(data: Row[] | FrameLike, opts: TableOptions = {}): string {
  const { columns, rows } = toGrid(data);
  const d = opts.digits ?? 3;
  const th = columns.map((c) => `<th style="text-align:left">${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => {
      const tds = r.map((v) => {
        const align = typeof v === 'number' ? 'right' : 'left';
        const style = `text-align:${align};vertical-align:top${typeof v === 'string' ? ';white-space:pre-wrap;font-family:monospace' : ''}`;
        return `<td style="${style}">${escapeHtml(fmt(v, d))}</td>`;
      });
      return `<tr>${tds.join('')}</tr>`;
    })
    .join('\n');
  const cap = opts.caption ? `<caption style="caption-side:top;text-align:left">${escapeHtml(opts.caption)}</caption>` : '';
  return `<table class="rlhf-table">${cap}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

export function tableText(data: Row[] | FrameLike, opts: TableOptions = {}): string {
  const { columns, rows } = toGrid(data);
  const d = opts.digits ?? 3;
  const cells = rows.map((r) => r.map((v) => fmt(v, d).replace(/\n/g, '\u21b5')));
  const width = columns.map((c, j) => Math.max(c.length, ...cells.map((r) => (r[j] ?? '').length)));
  const line = (xs: string[]) => xs.map((x, j) => x.padEnd(width[j])).join(' | ').trimEnd();
  const out = [line(columns), width.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)];
  return (opts.caption ? opts.caption + '\n' : '') + out.join('\n');
}

/** Display rows (objects) or a danfojs DataFrame as an HTML table (plain text outside Jupyter). */
export function table(data: Row[] | FrameLike, opts: TableOptions = {}): void {
  show(tableHtml(data, opts), tableText(data, opts));
}

// ---------------------------------------------------------------- plots

/** A plotly trace (https://plotly.com/javascript/reference/); only the fields used here are typed. */
export interface Trace {
  x?: ArrayLike<number | string>;
  y?: ArrayLike<number | string>;
  z?: number[][];
  name?: string;
  type?: string;
  mode?: string;
  [key: string]: unknown;
}
export type Layout = Record<string, unknown>;

let bundleShown = false;
let plotCount = 0;

/** The offline plotly.js bundle as a <script> (once per kernel session; '' afterwards or when disabled). */
function plotlyBundleOnce(): string {
  if (bundleShown || /^(0|false|no)$/i.test(process.env.RLHF_PLOTLY_INLINE ?? '')) return '';
  bundleShown = true;
  const file = path.join(path.dirname(require.resolve('plotly.js-dist/package.json')), 'plotly.js');
  const src = fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
  // data-rlhf-plotly-bundle lets the course's HTML export drop this copy (its pages load the bundle
  // in <head>); `define` is hidden so a page's require.js cannot capture the bundle as an AMD module.
  return `<script type="text/javascript" data-rlhf-plotly-bundle>if (!window.Plotly) (function (define) {\n${src}\n})(undefined);</script>`;
}

const toArray = (xs: ArrayLike<unknown> | undefined) => (xs === undefined ? undefined : Array.from(xs));
/** JSON safe inside a <script>: no "</script>" can close the tag early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/** HTML for one chart: a div and a script that draws it as soon as window.Plotly exists. */
export function plotHtml(traces: Trace[], layout: Layout = {}, opts: { height?: number } = {}): string {
  const id = `rlhf-plot-${process.pid}-${++plotCount}-${Date.now().toString(36)}`;
  const data = traces.map((t) => ({ ...t, x: toArray(t.x), y: toArray(t.y) }));
  const lay: Layout = { height: opts.height ?? 380, margin: { t: 40, r: 20, b: 50, l: 60 }, ...layout };
  // plotly.js 3 ignores plain-string titles: wrap them as {text}
  const wrap = (t: unknown) => (typeof t === 'string' ? { text: t } : t);
  if (lay.title !== undefined) lay.title = wrap(lay.title);
  for (const ax of ['xaxis', 'yaxis']) {
    const a = lay[ax] as Record<string, unknown> | undefined;
    if (a && a.title !== undefined) lay[ax] = { ...a, title: wrap(a.title) };
  }
  return (
    `<div id="${id}" class="rlhf-plot" style="width:100%;min-height:${lay.height as number}px"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var data = ${scriptJson(data)}, layout = ${scriptJson(lay)}, tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${scriptJson(id)});\n` +
    `    if (!el) return;\n` +
    `    if (window.Plotly) { window.Plotly.newPlot(el, data, layout, {responsive: true, displaylogo: false}); return; }\n` +
    `    if (++tries > 300) { el.textContent = 'plotly.js did not load: run the notebook from the top to embed it.'; return; }\n` +
    `    setTimeout(draw, 100);\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`
  );
}

function plotText(traces: Trace[], layout: Layout): string {
  const title = typeof layout.title === 'string' ? layout.title : ((layout.title as { text?: string })?.text ?? 'plot');
  const parts = traces.map((t) => {
    const y = toArray(t.y) ?? [];
    const last = y.length && !t.z ? ` last y=${fmt(y[y.length - 1] as Cell, 4)}` : '';
    return `${t.name ?? t.type ?? 'trace'} (${t.z ? `${t.z.length}x${t.z[0]?.length ?? 0}` : y.length} points${last})`;
  });
  return `[${title}: ${parts.join('; ')}]`;
}

/** Emit the bundle (once) as its own output, so updating displays never resend it. */
function ensurePlotly(): void {
  const t = tslab();
  if (!t) return;
  const bundle = plotlyBundleOnce();
  if (bundle) t.display.html(bundle);
}

/** Display a plotly chart (offline). Outside Jupyter prints a one-line summary. */
export function plot(traces: Trace[], layout: Layout = {}, opts: { height?: number } = {}): void {
  ensurePlotly();
  show(plotHtml(traces, layout, opts), plotText(traces, layout));
}

/** A matrix as a heatmap, rows top to bottom (e.g. attention: rows = queries, columns = keys). */
export function heatmap(
  matrix: number[][],
  labels: { x?: string[]; y?: string[] } = {},
  layout: Layout = {},
): void {
  if (!Array.isArray(matrix) || matrix.length === 0 || !Array.isArray(matrix[0])) {
    throw new Error(`heatmap: expected a non-empty 2-D array, got ${JSON.stringify(matrix)?.slice(0, 60)}`);
  }
  const n = matrix[0].length;
  matrix.forEach((r, i) => {
    if (r.length !== n) throw new Error(`heatmap: row ${i} has ${r.length} values, row 0 has ${n}`);
  });
  // duplicate labels (e.g. repeated characters) would merge cells, so make each one unique
  const uniq = (xs: string[] | undefined) => xs?.map((s, i) => `${i}:${s}`);
  const trace: Trace = { type: 'heatmap', z: matrix, x: uniq(labels.x), y: uniq(labels.y), colorscale: 'Blues' };
  plot([trace], { yaxis: { autorange: 'reversed' }, ...layout });
}

// ---------------------------------------------------------------- progress and live plots

function clock(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  return `${h ? h + ':' : ''}${mm}:${String(s % 60).padStart(2, '0')}`;
}

/** Per-step numbers shown next to the bar; `tokens` is cumulative and turns into tokens/s. */
export type Metrics = Record<string, number | undefined>;

export interface ProgressOptions {
  label?: string;
  /** Milliseconds clock (default Date.now); injectable for tests. */
  now?: () => number;
  /** Jupyter: redraw at most this often (default 250 ms). */
  minIntervalMs?: number;
  /** Outside Jupyter: print a line at most this often (default 10 s), plus the first and the last. */
  textEveryMs?: number;
}

/** Step counter with rate, elapsed time and ETA; redraws in place in Jupyter, prints occasional lines elsewhere. */
export class Progress {
  readonly label: string;
  private readonly now: () => number;
  private readonly start: number;
  private step = 0;
  private metrics: Metrics = {};
  private lastDraw = -Infinity;
  private finished: string | null = null;
  private readonly handle: TslabDisplay | null;

  constructor(readonly total: number, private readonly opts: ProgressOptions = {}) {
    if (!(Number.isInteger(total) && total > 0)) throw new Error(`progress: total must be a positive integer, got ${total}`);
    this.label = opts.label ?? 'progress';
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.handle = tslab()?.newDisplay() ?? null;
  }

  /** Record that `step` of `total` steps are done (and the latest metrics); redraw if due. */
  update(step: number, metrics: Metrics = {}): void {
    if (!Number.isFinite(step)) throw new Error(`progress.update: step must be a number, got ${step}`);
    this.step = step;
    this.metrics = { ...this.metrics, ...metrics };
    const t = this.now();
    const every = this.handle ? (this.opts.minIntervalMs ?? 250) : (this.opts.textEveryMs ?? 10_000);
    if (t - this.lastDraw >= every || step >= this.total) this.draw(t);
  }

  /** Final redraw (always shown), ending in `word` ('done', or e.g. 'stopped' for an interrupted run). */
  done(metrics: Metrics = {}, word = 'done'): void {
    this.finished = word;
    this.metrics = { ...this.metrics, ...metrics };
    this.draw(this.now());
  }

  /** The status as one plain line, e.g. "train 120/500 (24%) | 3.20 steps/s | elapsed 0:37 | ETA 1:58 | loss 2.134". */
  status(t: number = this.now()): string {
    const elapsed = t - this.start;
    const rate = elapsed > 0 ? (this.step * 1000) / elapsed : NaN;
    const pct = Math.floor((100 * this.step) / this.total);
    const parts = [`${this.label} ${this.step}/${this.total} (${pct}%)`];
    if (Number.isFinite(rate)) parts.push(`${rate.toFixed(2)} steps/s`);
    const { tokens, ...rest } = this.metrics;
    if (tokens !== undefined && elapsed > 0) parts.push(`${Math.round((tokens * 1000) / elapsed).toLocaleString('en-US')} tokens/s`);
    parts.push(`elapsed ${clock(elapsed)}`);
    if (this.finished) parts.push(this.finished);
    else if (rate > 0) parts.push(`ETA ${clock(((this.total - this.step) / rate) * 1000)}`);
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) parts.push(`${k} ${fmt(v, 4)}`);
    return parts.join(' | ');
  }

  html(t: number = this.now()): string {
    const frac = Math.min(1, Math.max(0, this.step / this.total));
    return (
      `<div class="rlhf-progress" style="font-family:monospace">` +
      `<progress value="${frac.toFixed(4)}" max="1" style="width:40%;vertical-align:middle"></progress> ` +
      `${escapeHtml(this.status(t))}</div>`
    );
  }

  private draw(t: number): void {
    this.lastDraw = t;
    if (this.handle) this.handle.html(this.html(t));
    else say(this.status(t));
  }
}

export function progress(total: number, opts: ProgressOptions = {}): Progress {
  return new Progress(total, opts);
}

export interface LivePlotOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Redraw at most this often in Jupyter (default 1500 ms); the last state is drawn by done(). */
  throttleMs?: number;
  now?: () => number;
  height?: number;
}

/** A line chart (e.g. train and held-out loss against step) that redraws in place as points arrive. */
export class LivePlot {
  private readonly series = new Map<string, { x: number[]; y: number[] }>();
  private readonly handle: TslabDisplay | null;
  private readonly now: () => number;
  private lastDraw = -Infinity;

  constructor(private readonly opts: LivePlotOptions = {}) {
    this.now = opts.now ?? Date.now;
    if (tslab()) ensurePlotly();
    this.handle = tslab()?.newDisplay() ?? null;
  }

  /** Append one point per named series at `x`, e.g. add(step, {train: 2.1, heldOut: 2.3}). */
  add(x: number, values: Record<string, number | undefined>): void {
    for (const [name, y] of Object.entries(values)) {
      if (y === undefined) continue;
      if (!this.series.has(name)) this.series.set(name, { x: [], y: [] });
      const s = this.series.get(name)!;
      s.x.push(x);
      s.y.push(y);
    }
    const t = this.now();
    if (this.handle && t - this.lastDraw >= (this.opts.throttleMs ?? 1500)) this.draw(t);
  }

  traces(): Trace[] {
    return [...this.series].map(([name, s]) => ({ name, x: s.x, y: s.y, type: 'scatter', mode: 'lines' }));
  }

  layout(): Layout {
    const o = this.opts;
    return { title: { text: o.title ?? 'loss' }, xaxis: { title: { text: o.xTitle ?? 'step' } }, yaxis: { title: { text: o.yTitle ?? 'loss' } } };
  }

  /** Final draw (in Jupyter) or a one-line summary (elsewhere). */
  done(): void {
    if (this.handle) this.draw(this.now());
    else say(plotText(this.traces(), this.layout()));
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.handle!.html(plotHtml(this.traces(), this.layout(), { height: this.opts.height }));
  }
}

export function livePlot(opts: LivePlotOptions = {}): LivePlot {
  return new LivePlot(opts);
}
