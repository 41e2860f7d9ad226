#!/usr/bin/python3
"""Execute the course notebooks headless, cell by cell, through a real Jupyter client and the tslab
kernel, as a student would, and render each to HTML with its plots working offline.

    /usr/bin/python3 scripts/run_course.py [notebooks/NN-x.ipynb ...] [--out build/course]

Stops at the first failing cell and names the notebook, the cell and its error. Writes, under
--out: executed notebooks (signed as trusted, like `jupyter trust`, so their plots draw when opened
in Jupyter), one HTML page each (plots load plotly.js copied beside the pages: offline, no CDN),
index.html linking the chapters in the lecture's order, and timings.json (seconds per notebook and mode).
RLHF_FAST=1 selects fast mode (every notebook shrinks its work); the default is the students' mode.
"""
import argparse
import datetime
import glob
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOTLY = os.path.join(ROOT, 'node_modules', 'plotly.js-dist', 'plotly.js')
FAST = os.environ.get('RLHF_FAST', '').lower() in ('1', 'true', 'yes')

# The lecture's order: history, the transformer, the three phases of RLHF, then alternatives and evaluation.
PARTS = [
    ('01', 'Part I — Language models', 'History: Shannon\'s n-gram approximations of English'),
    ('02', 'Part I — Language models', 'The transformer language model'),
    ('03', 'Part II — RLHF, phase 1', 'Instruction tuning (supervised fine-tuning)'),
    ('04', 'Part II — RLHF, phase 2', 'Preference collection and reward modeling'),
    ('05', 'Part II — RLHF, phase 3', 'RL optimization with PPO and a KL penalty'),
    ('06', 'Part III — Beyond PPO', 'Best-of-N and rejection sampling'),
    ('07', 'Part III — Beyond PPO', 'Direct preference optimization (DPO)'),
    ('08', 'Part IV — Evaluation', 'Reward-KL frontier, over-optimization, win rates'),
]


def log(msg):
    print(f'course: {msg}', flush=True)


def jupyter_env():
    """Point Jupyter at the kernel spec that scripts/setup.sh wrote inside the checkout."""
    kernels = os.path.join(ROOT, 'build', 'jupyter', 'share', 'jupyter')
    if os.path.isfile(os.path.join(kernels, 'kernels', 'tslab', 'kernel.json')):
        os.environ['JUPYTER_PATH'] = kernels + os.pathsep + os.environ.get('JUPYTER_PATH', '')
    os.environ['PATH'] = os.path.join(ROOT, 'node_modules', '.bin') + os.pathsep + os.environ['PATH']


def cell_error_text(cell):
    """tslab reports errors on stderr with an empty ename, so gather every error-ish output."""
    parts = []
    for out in cell.get('outputs', []):
        if out.get('output_type') == 'stream' and out.get('name') == 'stderr':
            parts.append(out.get('text', ''))
        elif out.get('output_type') == 'error':
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}\n" + '\n'.join(out.get('traceback', [])))
    return ''.join(parts).strip() or '(the kernel reported an error with no message)'


class Runner(NotebookClient):
    """NotebookClient that prints one line per cell so a long run shows where it is."""

    def __init__(self, nb, name, **kw):
        super().__init__(nb, **kw)
        self.name = name
        self.n_code = sum(1 for c in nb.cells if c.cell_type == 'code')
        self.k = 0
        self.failed_index = None
        self.cell_times = []  # (seconds, cell index, first line of source)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != 'code' or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self.k += 1
        t0 = time.time()
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except BaseException:
            self.failed_index = cell_index
            raise
        finally:
            first = cell.source.strip().splitlines()[0][:70]
            self.cell_times.append((time.time() - t0, cell_index, first))
            log(f'  {self.name} cell {cell_index} ({self.k}/{self.n_code}) {time.time() - t0:6.1f}s  {first}')


def execute(path, out_dir, cell_timeout, ref_texts=None):
    name = os.path.basename(path)
    nb = nbformat.read(path, as_version=4)
    # iopub_timeout: how long to wait for a cell's remaining output after its reply. nbclient's 4 s
    # default cut off the output of a cell printing thousands of lines on a busy machine (the
    # messages were all sent; this process had not read them yet); the kernel always ends a cell
    # with an idle status (patches/tslab+1.0.22.patch), so waiting longer costs nothing.
    client = Runner(nb, name, kernel_name='tslab', timeout=cell_timeout, allow_errors=False, iopub_timeout=120,
                    resources={'metadata': {'path': os.path.dirname(os.path.abspath(path))}})
    t0 = time.time()
    error = None
    try:
        client.execute()
    except CellExecutionError:
        cell = nb.cells[client.failed_index]
        error = (f'{name}: cell {client.failed_index} failed\n--- cell source ---\n{cell.source}\n'
                 f'--- error ---\n{cell_error_text(cell)}')
    except CellTimeoutError as e:
        error = f'{name}: a cell ran past the {cell_timeout}s limit: {e}'
    except DeadKernelError as e:
        error = f'{name}: the kernel died: {e}'
    seconds = time.time() - t0
    fill_placeholders(nb, ref_texts or {})
    os.makedirs(out_dir, exist_ok=True)
    write_atomic(os.path.join(out_dir, name), nbformat.writes(nb))
    write_atomic(os.path.join(out_dir, name.replace('.ipynb', '.html')), to_html(nb))
    return seconds, error, client.cell_times


REF_PLACEHOLDER = re.compile(r'\{\{ref ([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)\}\}')


def reference_texts(paths):
    """Texts of the {{ref key}} placeholders of these notebooks and the recipe-hash check, from one call of
    scripts/reference.ts (which formats them the way lib/course/results.ts does: one formatter, in the library).
    Returns {key: text}; logs a warning when the recipe (the library's presets or the notebooks' code)
    changed since the reference was made."""
    keys = set()
    for p in paths:
        for cell in nbformat.read(p, as_version=4).cells:
            if cell.cell_type == 'markdown':
                keys.update(REF_PLACEHOLDER.findall(cell.source))
    tsx = os.path.join(ROOT, 'node_modules', '.bin', 'tsx')
    try:
        out = subprocess.run([tsx, os.path.join(ROOT, 'scripts', 'reference.ts'), '--texts', *sorted(keys)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300, check=True).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        log(f'could not read the reference results ({e}); placeholders stay as written')
        return {}
    if info['reference'] is None:
        log('no reference results yet (data/reference-results.json): the text shows pointers; run npm run reference')
    elif info['reference']['recipeHash'] != info['recipeHash']:
        log(f"WARNING: the recipe (library presets or the notebooks' code cells) changed since the reference results were made (recipe {info['recipeHash']}, "
            f"reference {info['reference']['recipeHash']} of {info['reference']['date'][:10]}): the ranges the text quotes "
            'may not describe this run; re-run npm run reference')
    return info['texts']


def fill_placeholders(nb, texts):
    """Replace {{ref key}} in the markdown cells of an executed notebook (never the source file)."""
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            cell.source = REF_PLACEHOLDER.sub(lambda m: texts.get(m.group(1), f'(reference pending: {m.group(1)})'), cell.source)


def write_atomic(path, text):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.tmp-')
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def plotly_head():
    """The plotly bundle is copied once next to the pages (plotly.js, ~11 MB) and loaded from there:
    offline, no CDN. require.js (loaded by the page template) would capture the UMD bundle as an
    AMD module and leave window.Plotly undefined, so `define` is hidden while it loads."""
    return ('<script>window.__rlhfDefine = window.define; window.define = undefined;</script>\n'
            '<script src="plotly.js"></script>\n'
            '<script>window.define = window.__rlhfDefine;</script>\n')


def copy_plotly(out_dir):
    import shutil
    dest = os.path.join(out_dir, 'plotly.js')
    if not os.path.isfile(dest) or os.path.getsize(dest) != os.path.getsize(PLOTLY):
        shutil.copyfile(PLOTLY, dest)


def to_html(nb):
    """The page; plots find window.Plotly from <head> (outputs carry no plotly.js, lib/view/display.ts)."""
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name='classic').from_notebook_node(nb)
    return body.replace('<head>', '<head>\n' + plotly_head(), 1)


def trust(paths):
    """Sign the executed notebooks (what `jupyter trust` does; Debian's Jupyter has no such command),
    so Jupyter runs their plot scripts when they are opened; outputs of an untrusted notebook show
    as text until re-run. The signature goes to this user's Jupyter database (nbsignatures.db)."""
    from nbformat.sign import NotebookNotary
    notary = NotebookNotary()
    for p in paths:
        try:
            notary.sign(nbformat.read(p, as_version=4))
        except Exception as e:  # a course run must not fail over trust
            log(f'could not mark {os.path.basename(p)} trusted ({e}): its plots draw after re-running it')


def index_page(results):
    rows = []
    for key, part, title in PARTS:
        r = next((x for x in results if os.path.basename(x['notebook']).startswith(key)), None)
        if r is None:
            rows.append(f'<tr><td>{key}</td><td>{html.escape(part)}</td><td>{html.escape(title)}</td>'
                        '<td colspan="2"><i>not executed in this build</i></td></tr>')
            continue
        page = os.path.basename(r['notebook']).replace('.ipynb', '.html')
        status = 'ok' if r['ok'] else 'FAILED'
        rows.append(f'<tr><td>{key}</td><td>{html.escape(part)}</td><td><a href="{page}">{html.escape(title)}</a>'
                    f'</td><td>{status}</td><td>{r["seconds"]:.0f} s</td></tr>')
    mode = 'fast mode (RLHF_FAST=1)' if FAST else 'default mode'
    when = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    return f'''<!doctype html><html><head><meta charset="utf-8"><title>RLHF from scratch in TypeScript</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}</style>
</head><body><h1>RLHF from scratch in TypeScript</h1>
<p>From Shannon's n-grams to a transformer, then the three phases of RLHF (instruction tuning, preference
collection and reward modeling, RL optimization), best-of-N, DPO and evaluation. Built {when} in {mode}.</p>
<table><tr><th>#</th><th>part</th><th>chapter</th><th>status</th><th>run time</th></tr>
{''.join(rows)}</table></body></html>'''


SLOWEST = 3  # cells listed per chapter in the end-of-run report


def time_report(results):
    """The end-of-run table: each chapter's time, its slowest cells, and the total (where the time goes)."""
    lines = [f'\ncourse: time per chapter ({"fast" if FAST else "default"} mode, load average '
             f'{" ".join(f"{x:.1f}" for x in os.getloadavg())} at the end)',
             f'{"notebook":<34} {"min":>6}  slowest cells (s, cell index, first line)']
    for r in results:
        cells = '; '.join(f"{c['seconds']:.0f}s #{c['cell']} {c['source'][:40]}" for c in r['slowest'])
        lines.append(f"{os.path.basename(r['notebook']):<34} {r['seconds'] / 60:6.1f}  {cells}"
                     f"{'' if r['ok'] else '  (FAILED)'}")
    total = sum(r['seconds'] for r in results)
    lines.append(f'{"total":<34} {total / 60:6.1f}')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', help='notebooks to run (default: notebooks/NN-*.ipynb in order)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'build', 'course'))
    ap.add_argument('--cell-timeout', type=int, default=int(os.environ.get('RLHF_CELL_TIMEOUT', '1800')))
    args = ap.parse_args()
    jupyter_env()
    paths = args.notebooks or sorted(glob.glob(os.path.join(ROOT, 'notebooks', '[0-9][0-9]-*.ipynb')))
    if not paths:
        log('no notebooks found under notebooks/')
        return 1
    for p in paths:
        if not os.path.isfile(p):
            log(f'no such notebook: {p}')
            return 1
    log(f'{len(paths)} notebook(s), {"fast" if FAST else "default"} mode, output in {os.path.relpath(args.out, ROOT)}/')
    timings_path = os.path.join(args.out, 'timings.json')
    os.makedirs(args.out, exist_ok=True)
    copy_plotly(args.out)
    ref_texts = reference_texts(paths)
    results = []
    failed = None
    for p in paths:
        log(f'running {os.path.relpath(p, ROOT)}')
        seconds, error, cell_times = execute(p, args.out, args.cell_timeout, ref_texts)
        results.append({'notebook': os.path.relpath(p, ROOT), 'seconds': round(seconds, 1), 'ok': error is None,
                        'mode': 'fast' if FAST else 'default',
                        'slowest': [{'cell': i, 'seconds': round(s, 1), 'source': src}
                                    for s, i, src in sorted(cell_times, reverse=True)[:SLOWEST]]})
        log(f'{"done" if error is None else "FAILED"} {os.path.basename(p)} in {seconds:.1f}s')
        if error:
            failed = error
            break
    previous = {}
    if os.path.isfile(timings_path):
        with open(timings_path, encoding='utf-8') as f:
            previous = {r['notebook'] + r['mode']: r for r in json.load(f)}
    for r in results:
        previous[r['notebook'] + r['mode']] = r
    write_atomic(timings_path, json.dumps(sorted(previous.values(), key=lambda r: (r['mode'], r['notebook'])), indent=1))
    write_atomic(os.path.join(args.out, 'index.html'), index_page(results))
    trust([os.path.join(args.out, os.path.basename(r['notebook'])) for r in results])
    print(time_report(results), flush=True)
    if failed:
        print('\n' + '=' * 70 + f'\ncourse: FAILED\n{failed}\n' + '=' * 70, file=sys.stderr, flush=True)
        return 1
    log(f'all {len(results)} notebook(s) executed; open {os.path.relpath(args.out, ROOT)}/index.html')
    return 0


if __name__ == '__main__':
    sys.exit(main())
