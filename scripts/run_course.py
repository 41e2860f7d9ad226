#!/usr/bin/python3
"""Execute the course notebooks headless, cell by cell, through a real Jupyter client and the tslab
kernel, as a student would, and render each to HTML with its plots working offline.

    /usr/bin/python3 scripts/run_course.py [notebooks/NN-x.ipynb ...] [--out build/course]

Stops at the first failing cell and names the notebook, the cell and its error. Writes, under
--out: executed notebooks (signed as trusted, like `jupyter trust`, so their plots draw when opened
in Jupyter; each records its run in its metadata `rlhf_run`), timings.json (seconds per notebook and
mode, and per code cell: `cells`), and the reader's site built from every executed chapter notebook there
(scripts/build_site.py: index.html, one page per chapter, _static/ with MathJax and plotly.js: offline, no CDN).
RLHF_FAST=1 selects fast mode (every notebook shrinks its work); the default is the students' mode.
"""
import argparse
import glob
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

import build_site

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = os.environ.get('RLHF_FAST', '').lower() in ('1', 'true', 'yes')

# The chapters, their parts and titles come from the chapter registry (lib/course/chapters.ts), through
# scripts/reference.ts --texts (one tsx call that also fills the reference placeholders); CHAPTERS is
# set by reference_texts().
CHAPTERS = []


def site_parts():
    """(number, part, title) of every registered chapter, for the site's sidebar (scripts/build_site.py)."""
    return [(c['number'], c['part'], c['title']) for c in CHAPTERS]


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
        self.cell_seconds = []

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
            seconds = time.time() - t0
            self.cell_seconds.append({'cell': cell_index, 'id': cell.get('id'), 'seconds': round(seconds, 1), 'source': first})
            log(f'  {self.name} cell {cell_index} ({self.k}/{self.n_code}) {seconds:6.1f}s  {first}')


def execute(path, out_dir, cell_timeout, ref_texts=None):
    name = os.path.basename(path)
    nb = nbformat.read(path, as_version=4)
    # iopub_timeout: how long to wait for a cell's remaining output after its reply. nbclient's 4 s
    # default cut off the output of a cell printing thousands of lines on a busy machine (the
    # messages were all sent; this process had not read them yet); the kernel always ends a cell
    # with an idle status (patches/tslab+1.0.22.patch), so waiting longer costs nothing.
    # startup_timeout: a kernel took over nbclient's 60 s default to start on a machine with a load
    # average of 76 (2026-12-06); a kernel that never starts still fails, after 5 minutes.
    client = Runner(nb, name, kernel_name='tslab', timeout=cell_timeout, allow_errors=False, iopub_timeout=120, startup_timeout=300,
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
    # what a reader of the page should know about this run (the site says so on the page)
    nb.metadata['rlhf_run'] = {'mode': 'fast' if FAST else 'default', 'ok': error is None}
    os.makedirs(out_dir, exist_ok=True)
    write_atomic(os.path.join(out_dir, name), nbformat.writes(nb))
    return seconds, error, client.cell_seconds


REF_PLACEHOLDER = re.compile(r'\{\{ref ([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)\}\}')
# A result filled into the source notebooks by scripts/fill_notebooks.ts: the key in an HTML comment, the text, a closing comment.
REF_MARKER = re.compile(r'<!--ref ([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)-->[^<]*<!--/ref-->')


def reference_texts(paths):
    """Texts of the {{ref key}} placeholders of these notebooks, the chapter registry and the stale chapters,
    from one call of scripts/reference.ts (which formats them the way lib/course/results.ts does: one
    formatter, in the library). Returns {key: text}, sets CHAPTERS and logs which chapters of the
    reference were made with another recipe (their code or the library code they run changed)."""
    keys = set()
    for p in paths:
        for cell in nbformat.read(p, as_version=4).cells:
            if cell.cell_type == 'markdown':
                keys.update(REF_PLACEHOLDER.findall(cell.source))
                keys.update(REF_MARKER.findall(cell.source))
    tsx = os.path.join(ROOT, 'node_modules', '.bin', 'tsx')
    try:
        out = subprocess.run([tsx, os.path.join(ROOT, 'scripts', 'reference.ts'), '--texts', *sorted(keys)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300, check=True).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        log(f'could not read the reference results ({e}); placeholders stay as written')
        return {}
    CHAPTERS[:] = info['chapters']
    ref = info['reference']
    if ref is None:
        log('no reference results yet (data/reference-results.json): the text shows pointers; run npm run reference')
    elif info['stale']:
        names = ', '.join(s['chapter'] for s in info['stale'])
        whys = sorted(set(s['why'] for s in info['stale']))
        legacy = f" (one recipe {ref['legacyRecipeHash']} for the whole chain)" if ref.get('legacyRecipeHash') else ''
        log(f"WARNING: the reference results of {ref['date'][:10]}{legacy} are stale for chapter(s) {names}: {'; '.join(whys)}. "
            'The ranges those chapters quote may not describe this run; npm run reference -- --plan lists what it would re-run')
    return info['texts']


def fill_placeholders(nb, texts):
    """Replace {{ref key}} placeholders and the text between <!--ref key--> and <!--/ref--> markers in the
    markdown cells of an executed notebook (never the source file) with the reference's text."""
    text = lambda key: texts.get(key, f'(reference pending: {key})')
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            cell.source = REF_PLACEHOLDER.sub(lambda m: text(m.group(1)), cell.source)
            cell.source = REF_MARKER.sub(lambda m: f'<!--ref {m.group(1)}-->{text(m.group(1))}<!--/ref-->', cell.source)


def write_atomic(path, text):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.tmp-')
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


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


SLOWEST = 3  # cells listed per chapter in the end-of-run report


def time_report(results):
    """The end-of-run table: each chapter's time, its slowest cells, and the total (where the time goes)."""
    lines = [f'\ncourse: time per chapter ({"fast" if FAST else "default"} mode, load average '
             f'{" ".join(f"{x:.1f}" for x in os.getloadavg())} at the end)',
             f'{"notebook":<34} {"min":>6}  slowest cells (s, cell index, first line)']
    for r in results:
        slowest = sorted(r['cells'], key=lambda c: -c['seconds'])[:SLOWEST]
        cells = '; '.join(f"{c['seconds']:.0f}s #{c['cell']} {c['source'][:40]}" for c in slowest)
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
    ref_texts = reference_texts(paths)
    results = []
    failed = None
    for p in paths:
        log(f'running {os.path.relpath(p, ROOT)}')
        seconds, error, cells = execute(p, args.out, args.cell_timeout, ref_texts)
        results.append({'notebook': os.path.relpath(p, ROOT), 'seconds': round(seconds, 1), 'ok': error is None,
                        'mode': 'fast' if FAST else 'default', 'cells': cells})
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
    trust([os.path.join(args.out, os.path.basename(r['notebook'])) for r in results])
    pages = build_site.build(args.out, args.out, site_parts())
    if pages:
        log(f'site: {len(pages)} chapter page(s) and index.html in {os.path.relpath(args.out, ROOT)}/')
    print(time_report(results), flush=True)
    if failed:
        print('\n' + '=' * 70 + f'\ncourse: FAILED\n{failed}\n' + '=' * 70, file=sys.stderr, flush=True)
        return 1
    log(f'all {len(results)} notebook(s) executed; open {os.path.relpath(args.out, ROOT)}/index.html')
    return 0


if __name__ == '__main__':
    sys.exit(main())
