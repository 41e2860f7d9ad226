/**
 * Display helpers for notebooks: tables, plotly charts, heatmaps, a progress line and a live
 * loss chart that update in place. In a tslab (Jupyter) kernel they emit HTML through tslab's
 * display API; anywhere else (tests, scripts, CI) they print plain text to stdout. Nothing goes
 * to stderr.
 *
 * Plots work offline and outputs stay small: no output carries plotly.js (11 MB). A plot is a div
 * and a script that draws it with `window.Plotly` if the page has it (the course's HTML pages load
 * the copy beside them), else loads the library's own node_modules/plotly.js-dist/plotly.js from
 * the Jupyter server (`<base>/files/<path>`: `npm run notebook` serves the repository), once per
 * page, so plots also draw after a page reload. Each plot output also carries plotly's JSON MIME
 * type (`application/vnd.plotly.v1+json`) for front ends that draw it themselves (VS Code).
 *
 * `xxxHtml()` functions are pure renderers (tested); `table()`, `plot()`, ... display.
 */
import * as path from 'path';
import { tslabKernel, tslabPublic } from '../core/tslab';

interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
}

/** tslab's display API when running inside a tslab kernel, else null (core/tslab.ts finds it). */
const tslab = () => tslabPublic<{ display: TslabDisplay; newDisplay(): TslabDisplay }>();

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

function escapeHtml(s: string): string {
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

let plotCount = 0;

/** Where Jupyter finds plotly.js: relative to the notebook's folder (the kernel's working directory). */
function plotlyFromNotebook(): string {
  const file = path.join(path.dirname(require.resolve('plotly.js-dist/package.json')), 'plotly.js');
  return path.relative(process.cwd(), file).split(path.sep).join('/');
}

/**
 * Browser code (a function of `rel`) that resolves to plotly.js, loading it once per page from the
 * Jupyter server: first next to this notebook (`rel` from its folder), then at the server root's
 * node_modules (an executed copy opened elsewhere in the repository). Through require.js when the
 * page has it (classic Notebook: a plain <script> would register plotly as an AMD module and
 * leave window.Plotly unset), else with a <script> tag.
 */
const PLOTLY_LOADER = String.raw`function (rel) {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    var body = document.body, base = (body && body.getAttribute('data-base-url')) || '/';
    var nb = (window.Jupyter && Jupyter.notebook && Jupyter.notebook.notebook_path) || (body && body.getAttribute('data-notebook-path')) || '';
    var parts = nb.split('/').slice(0, -1);
    rel.split('/').forEach(function (p) { if (p === '..') parts.pop(); else if (p !== '.') parts.push(p); });
    var urls = [parts.join('/'), 'node_modules/plotly.js-dist/plotly.js'].filter(function (u, i, a) { return a.indexOf(u) === i; })
      .map(function (u) { return base.replace(/\/?$/, '/') + 'files/' + u; });
    return new Promise(function (resolve, reject) {
      (function next(i) {
        if (i === urls.length) { reject(new Error('plotly.js could not be loaded from the Jupyter server (' + urls.join(', ') + '): start Jupyter with npm run notebook, or see the README for VS Code')); return; }
        if (window.requirejs) {
          var name = 'rlhf-plotly-' + i;
          var paths = {}; paths[name] = urls[i].replace(/\.js$/, '');
          window.requirejs.config({ paths: paths });
          window.requirejs([name], function (P) { window.Plotly = window.Plotly || P; resolve(window.Plotly); }, function () { next(i + 1); });
        } else {
          var s = document.createElement('script');
          s.src = urls[i];
          s.onload = function () { window.Plotly ? resolve(window.Plotly) : next(i + 1); };
          s.onerror = function () { next(i + 1); };
          document.head.appendChild(s);
        }
      })(0);
    });
  }`;

const toArray = (xs: ArrayLike<unknown> | undefined) => (xs === undefined ? undefined : Array.from(xs));
/** JSON safe inside a <script>: no "</script>" can close the tag early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/** The traces and layout as plotly.js takes them (typed arrays as plain arrays, titles as {text}). */
function plotSpec(traces: Trace[], layout: Layout, opts: { height?: number }): { data: Record<string, unknown>[]; layout: Layout } {
  const data = traces.map((t) => ({ ...t, x: toArray(t.x), y: toArray(t.y) }));
  const lay: Layout = { height: opts.height ?? 380, margin: { t: 40, r: 20, b: 50, l: 60 }, ...layout };
  // plotly.js 3 ignores plain-string titles: wrap them as {text}
  const wrap = (t: unknown) => (typeof t === 'string' ? { text: t } : t);
  if (lay.title !== undefined) lay.title = wrap(lay.title);
  for (const ax of ['xaxis', 'yaxis']) {
    const a = lay[ax] as Record<string, unknown> | undefined;
    if (a && a.title !== undefined) lay[ax] = { ...a, title: wrap(a.title) };
  }
  return { data, layout: lay };
}

/** HTML for one chart: a div and a script that draws it with plotly.js (loaded once per page, see above). */
export function plotHtml(traces: Trace[], layout: Layout = {}, opts: { height?: number } = {}): string {
  const id = `rlhf-plot-${process.pid}-${++plotCount}-${Date.now().toString(36)}`;
  const spec = plotSpec(traces, layout, opts);
  return (
    `<div id="${id}" class="rlhf-plot" style="width:100%;min-height:${spec.layout.height as number}px"></div>\n` +
    `<script type="text/javascript">(function () {\n` +
    `  var data = ${scriptJson(spec.data)}, layout = ${scriptJson(spec.layout)};\n` +
    `  var el = document.getElementById(${scriptJson(id)});\n` +
    `  window.rlhfPlotly = window.rlhfPlotly || (${PLOTLY_LOADER})(${scriptJson(plotlyFromNotebook())});\n` +
    `  window.rlhfPlotly.then(function (Plotly) { Plotly.newPlot(el, data, layout, {responsive: true, displaylogo: false}); },\n` +
    `    function (e) { window.rlhfPlotly = null; el.textContent = e.message; });\n` +
    `})();</script>`
  );
}

/** One output with the chart as HTML and as plotly's JSON MIME type. */
function plotOutput(traces: Trace[], layout: Layout, opts: { height?: number }): Record<string, unknown> {
  return { 'text/html': plotHtml(traces, layout, opts), 'application/vnd.plotly.v1+json': plotSpec(traces, layout, opts) };
}

/**
 * A display output with several MIME types (tslab's display API sends one per output), written
 * with the running cell's writer; with an `id`, later sends replace it in place.
 */
class Output {
  private sent = false;
  constructor(private readonly id?: string) {}
  send(data: Record<string, unknown>): void {
    tslabKernel()?.lastWriteDisplayData({ data, metadata: {}, transient: { display_id: this.id } }, this.sent && this.id !== undefined);
    this.sent = true;
  }
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

/** Display a plotly chart (offline). Outside Jupyter prints a one-line summary. */
export function plot(traces: Trace[], layout: Layout = {}, opts: { height?: number } = {}): void {
  if (inJupyter()) new Output().send(plotOutput(traces, layout, opts));
  else say(plotText(traces, layout));
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
  private readonly handle: Output | null;
  private readonly now: () => number;
  private lastDraw = -Infinity;

  constructor(private readonly opts: LivePlotOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.handle = inJupyter() ? new Output(`rlhf-live-${process.pid}-${++plotCount}-${Date.now().toString(36)}`) : null;
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
    this.handle!.send(plotOutput(this.traces(), this.layout(), { height: this.opts.height }));
  }
}

export function livePlot(opts: LivePlotOptions = {}): LivePlot {
  return new LivePlot(opts);
}
