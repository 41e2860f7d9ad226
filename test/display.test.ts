import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRequire } from 'module';
import * as path from 'path';
import * as dfd from 'danfojs-node';
import { heatmap, inJupyter, livePlot, plot, plotHtml, progress, table, tableHtml, tableText } from '../lib/view/display';

const rows = [
  { order: 0, kind: 'char', bits: 6.0223678130284544, sample: 'a<b>\nc' },
  { order: 1, kind: 'char', bits: 4.8, sample: 'xy' },
];

/** Capture stdout and stderr writes during fn. */
function capture(fn: () => void): { out: string; err: string } {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    fn();
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { out, err };
}

describe('tables', () => {
  it('renders rows as escaped HTML with formatted numbers and a caption', () => {
    const html = tableHtml(rows, { caption: 'Shannon <series>' });
    expect(html).toContain('<caption');
    expect(html).toContain('Shannon &lt;series&gt;');
    expect(html).toContain('<th style="text-align:left">bits</th>');
    expect(html).toContain('>6.022</td>');
    expect(html).toContain('>4.800</td>');
    expect(html).toContain('a&lt;b&gt;\nc');
    expect(tableHtml(rows, { digits: 1 })).toContain('>6.0</td>');
  });

  it('renders a danfojs DataFrame', () => {
    const df = new dfd.DataFrame(rows.map((r) => ({ order: r.order, bits: r.bits })));
    const html = tableHtml(df as never);
    expect(html).toContain('<th style="text-align:left">order</th><th style="text-align:left">bits</th>');
    expect(html).toContain('<td style="text-align:right;vertical-align:top">1</td><td style="text-align:right;vertical-align:top">4.800</td>');
  });

  it('renders aligned plain text and prints it to stdout only outside Jupyter', () => {
    expect(tableText([{ a: 1, bb: 'x\ny' }, { a: 22.5, bb: '' }], { digits: 1 })).toBe(
      ['a    | bb', '-----|----', '1    | x\u21b5y', '22.5 |'].join('\n'),
    );
    expect(inJupyter()).toBe(false);
    const { out, err } = capture(() => table(rows, { caption: 'T' }));
    expect(out.startsWith('T\norder | kind | bits')).toBe(true);
    expect(err).toBe('');
    expect(() => tableHtml(42 as never)).toThrow(/expected an array of row objects or a DataFrame, got number/);
  });
});

describe('plots outside Jupyter', () => {
  it('plotHtml embeds the data and draws with window.Plotly or the copy it loads', () => {
    const html = plotHtml([{ x: new Float32Array([1, 2]), y: [3.5, 4], name: 'held-out</script>' }], { title: 'bits' });
    expect(html).toContain('"x":[1,2]');
    expect(html).toContain('"y":[3.5,4]');
    expect(html).toContain('"title":{"text":"bits"}'); // plotly.js 3 needs {text}
    expect(html).toContain('if (window.Plotly) return Promise.resolve(window.Plotly)');
    expect(html).toContain('window.rlhfPlotly = window.rlhfPlotly ||'); // loaded once per page
    expect(html).not.toContain('held-out</script>'); // '<' is escaped inside the script
    const ids = [...html.matchAll(/id="(rlhf-plot-[^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBe(1);
    expect(plotHtml([])).not.toContain(ids[0]);
  });

  it('plot, heatmap and livePlot print one-line summaries on stdout, nothing on stderr', () => {
    const { out, err } = capture(() => {
      plot([{ x: [0, 1, 2], y: [6, 4.8, 3.5], name: 'train' }], { title: 'bits/char' });
      heatmap([[1, 0], [0.5, 0.5]], { x: ['a', 'b'], y: ['a', 'b'] }, { title: 'attention' });
      const lp = livePlot({ title: 'loss' });
      lp.add(0, { train: 4.2 });
      lp.add(1, { train: 3.1, heldOut: 3.3 });
      lp.done();
    });
    expect(out).toBe('[bits/char: train (3 points last y=3.5000)]\n[attention: heatmap (2x2 points)]\n[loss: train (2 points last y=3.1000); heldOut (1 points last y=3.3000)]\n');
    expect(err).toBe('');
    expect(() => heatmap([[1, 2], [3]])).toThrow(/row 1 has 1 values, row 0 has 2/);
  });
});

describe('progress', () => {
  it('reports rate, tokens/s, elapsed, ETA and metrics from the clock', () => {
    let t = 1000;
    const p = progress(100, { label: 'train', now: () => t });
    t += 5000;
    const { out } = capture(() => p.update(10, { tokens: 10 * 512, loss: 2.1234567 }));
    expect(out).toBe('train 10/100 (10%) | 2.00 steps/s | 1,024 tokens/s | elapsed 0:05 | ETA 0:45 | loss 2.1235\n');
    expect(p.html()).toContain('<progress value="0.1000" max="1"');
  });

  it('prints occasional lines (first, every textEveryMs, last) and a final done line', () => {
    let t = 0;
    const p = progress(50, { label: 'x', now: () => t, textEveryMs: 10_000 });
    const { out, err } = capture(() => {
      for (let s = 1; s <= 50; s++) {
        t += 1000;
        p.update(s);
      }
      p.done({ loss: 1 });
    });
    const lines = out.trim().split('\n');
    // steps 1, 11, 21, 31, 41 (10 s apart), 50 (last), then done
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['1/50', '11/50', '21/50', '31/50', '41/50', '50/50', '50/50']);
    expect(lines[6]).toBe('x 50/50 (100%) | 1.00 steps/s | elapsed 0:50 | done | loss 1');
    expect(err).toBe('');
    expect(() => progress(0)).toThrow(/positive integer, got 0/);
  });
});

describe('inside a (simulated) tslab kernel', () => {
  const req = createRequire(__filename);
  const root = '/fake/node_modules/tslab/dist/';
  let shown: { id: number | string; html: string; update?: boolean; plotly?: { data: unknown[]; layout: Record<string, unknown> } }[];
  let nextId: number;

  beforeEach(() => {
    shown = [];
    nextId = 0;
    const mk = (id: number) => ({ html: (s: string) => shown.push({ id, html: s }), text: () => undefined });
    // tslab's per-cell output writer: plots send several MIME types through it
    type Out = { data: Record<string, unknown>; transient: { display_id?: string } };
    const write = (o: Out, update: boolean) => shown.push({
      id: o.transient.display_id ?? -1, html: o.data['text/html'] as string, update,
      plotly: o.data['application/vnd.plotly.v1+json'] as { data: unknown[]; layout: Record<string, unknown> },
    });
    req.cache[root + 'jupyter.js'] = { exports: { lastWriteDisplayData: write } } as never;
    req.cache[root + 'public.js'] = { exports: { display: mk(-1), newDisplay: () => mk(++nextId) } } as never;
  });
  afterEach(() => {
    delete req.cache[root + 'jupyter.js'];
    delete req.cache[root + 'public.js'];
  });

  it('sends each plot as one small output (no plotly.js inside) that loads plotly.js from the Jupyter server', () => {
    expect(inJupyter()).toBe(true);
    const { out, err } = capture(() => {
      plot([{ y: [1, 2] }], { title: 'a' });
      plot([{ y: [3, 4] }]);
    });
    expect(out + err).toBe('');
    expect(shown.length).toBe(2);
    expect(shown[0].html).toContain('"y":[1,2]');
    expect(shown[1].html).toContain('"y":[3,4]');
    for (const s of shown) expect(s.html.length).toBeLessThan(5000);
    // the path to the library's plotly.js from the notebook's folder (the kernel's working directory)
    const rel = path.relative(process.cwd(), require.resolve('plotly.js-dist/plotly.js')).split(path.sep).join('/');
    expect(shown[0].html).toContain(`${JSON.stringify(rel)})`);
    expect(shown[0].html).toContain("'files/'");
    // the same chart as plotly's JSON MIME type, for front ends that draw it themselves
    expect(shown[0].plotly).toEqual({ data: [{ y: [1, 2] }], layout: { height: 380, margin: { t: 40, r: 20, b: 50, l: 60 }, title: { text: 'a' } } });
  });

  it('progress and livePlot redraw one display in place, throttled', () => {
    let t = 0;
    const p = progress(10, { now: () => t, minIntervalMs: 250 });
    const lp = livePlot({ now: () => t, throttleMs: 1500 });
    for (let s = 1; s <= 10; s++) {
      t += 100;
      p.update(s, { loss: 1 / s });
      lp.add(s, { train: 1 / s });
    }
    p.done();
    lp.done();
    const pIds = new Set(shown.filter((d) => d.html.includes('rlhf-progress')).map((d) => d.id));
    const plots = shown.filter((d) => d.html.includes('rlhf-plot'));
    expect(pIds.size).toBe(1);
    expect(new Set(plots.map((d) => d.id)).size).toBe(1);
    expect(plots.map((d) => d.update)).toEqual([false, true]); // the second draw replaces the first
    // progress: t = 100 (first), 400, 700, 1000 (last step), done -> 5 draws
    expect(shown.filter((d) => d.html.includes('rlhf-progress')).length).toBe(5);
    // live plot: first point, then nothing within 1.5 s, then done -> 2 draws
    expect(shown.filter((d) => d.html.includes('rlhf-plot')).length).toBe(2);
    expect(shown[shown.length - 1].html).toContain('"y":[1,0.5,');
  });
});
