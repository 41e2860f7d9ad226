#!/usr/bin/python3
"""Build the reader's site from the executed course notebooks: one page per chapter, a sidebar with
every chapter, previous/next links, the page's contents, search across chapters; math (MathJax) and
plots (plotly.js) from copies of the kit's npm packages, so the folder works offline, from any web
server or from disk, with no file:// or machine-specific path.

    /usr/bin/python3 scripts/build_site.py [--course build/course] [--out DIR]     (npm run site)

Reads every executed notebook NN-*.ipynb in --course (written by scripts/run_course.py, which calls
this at the end of a course run, with the {{ref}} placeholders already filled) and writes, in --out
(default: the same folder): NN-*.html, index.html, .nojekyll and _static/ (site.css, site.js,
search-index.js, mathjax.js, plotly.js). The chapters are the notebooks present, in file order; their
part names come from the chapter registry (lib/course/chapters.ts, through the runner's site_parts(), by number), their titles from each notebook's own first
heading, so a chapter renumbered or added is listed under its own name even before PARTS knows it.
"""
import argparse
import copy
import glob
import html
import json
import os
import re
import shutil
import string
import sys

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, 'scripts', 'site')
# The copies the site ships: MathJax 3's single-file TeX-to-SVG build (every TeX extension inside,
# fonts drawn as SVG paths, so it loads nothing else) and plotly's bundle.
ASSETS = {
    'mathjax.js': os.path.join(ROOT, 'node_modules', 'mathjax', 'es5', 'tex-svg-full.js'),
    'plotly.js': os.path.join(ROOT, 'node_modules', 'plotly.js-dist', 'plotly.js'),
    'site.js': os.path.join(HERE, 'site.js'),
}
# Plot outputs (lib/view/display.ts) draw with `window.rlhfPlotly`, a promise of plotly.js, when the page
# defines it: here it loads the copy beside the pages without holding up the text (11 MB).
PLOTLY_LOADER = '''<script>window.rlhfPlotly = new Promise(function (resolve, reject) {
  var s = document.createElement('script');
  s.src = '_static/plotly.js';
  s.onload = function () { resolve(window.Plotly); };
  s.onerror = function () { reject(new Error('plotly.js could not be loaded from _static/plotly.js')); };
  document.head.appendChild(s);
});</script>'''
CHAPTER_FILE = re.compile(r'^(\d\d)-[\w-]+\.ipynb$')
PLOT_MIME = 'application/vnd.plotly.v1+json'


def chapters(course_dir, parts):
    """The executed notebooks present, in file order, with number, part, title and page name."""
    part_of = {key: part for key, part, _ in parts}
    out = []
    for path in sorted(glob.glob(os.path.join(course_dir, '[0-9][0-9]-*.ipynb'))):
        name = os.path.basename(path)
        m = CHAPTER_FILE.match(name)
        if not m:
            continue
        nb = nbformat.read(path, as_version=4)
        heading = next((re.sub(r'^#\s+', '', c.source.strip().splitlines()[0]) for c in nb.cells
                        if c.cell_type == 'markdown' and c.source.strip().startswith('# ')), name[:-6])
        # "Chapter 4 — Preferences and reward models" -> "Preferences and reward models"
        page_title = re.sub(r'^Chapter\s+\d+\s*[—:-]\s*', '', heading)
        out.append({'key': m.group(1), 'number': int(m.group(1)), 'notebook': name, 'page': name[:-6] + '.html',
                    'title': page_title, 'part': part_of.get(m.group(1), ''), 'nb': nb,
                    'run': nb.metadata.get('rlhf_run', {})})
    return out


def without_kit_path(nb):
    """A copy of the notebook whose outputs name files relative to the kit (`runs/fast/sft`), not by
    the absolute path of the machine that ran it."""
    nb = copy.deepcopy(nb)
    prefix = ROOT + os.sep
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            if isinstance(out.get('text'), str):
                out['text'] = out['text'].replace(prefix, '')
            for mime, value in out.get('data', {}).items():
                if isinstance(value, str):
                    out['data'][mime] = value.replace(prefix, '')
    return nb


def render(nb):
    """The notebook's cells as HTML (nbconvert's classic cell markup, no page around it, no prompts)."""
    from nbconvert import HTMLExporter
    nb = without_kit_path(nb)
    exporter = HTMLExporter(template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def pygments_css():
    from pygments.formatters import HtmlFormatter
    return HtmlFormatter(style='default').get_style_defs('.highlight')


def outline(body, page, chapter_label):
    """Headings of the markdown cells -> (table of contents for h2/h3, search sections).
    A section is a heading and the text (markdown and code) up to the next heading."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(body, 'html.parser')
    toc, sections = [], []
    current = {'p': page, 'c': chapter_label, 'h': chapter_label, 'a': '', 't': []}
    for cell in soup.select('div.cell'):
        md = cell.select_one('.text_cell_render')
        if md is None:
            code = cell.select_one('.input_area')
            if code is not None:
                current['t'].append(code.get_text(''))  # '' keeps the code's own spacing
            continue
        for el in md.children:
            if getattr(el, 'name', None) in ('h1', 'h2', 'h3', 'h4'):
                for a in el.select('a.anchor-link'):
                    a.extract()
                text = el.get_text('').strip()
                if el.name in ('h2', 'h3'):
                    toc.append((el.name, el.get('id', ''), text))
                sections.append(current)
                current = {'p': page, 'c': chapter_label, 'h': chapter_label if el.name == 'h1' else text,
                           'a': el.get('id', ''), 't': []}
            elif getattr(el, 'get_text', None):
                current['t'].append(el.get_text(''))
    sections.append(current)
    for s in sections:
        s['t'] = re.sub(r'\s+', ' ', ' '.join(s['t'])).strip()
    return toc, [s for s in sections if s['t'] or s['a']]


def href(page, anchor=''):
    """A link to a heading: nbconvert's ids are already URL-escaped (`PPO-with-a-moderate-%CE%B2`)."""
    return html.escape(page + ('#' + anchor if anchor else ''))


def sidebar(chs, current):
    items, part = [], None
    for ch in chs:
        if ch['part'] != part:
            part = ch['part']
            items.append(f'<li class="part">{html.escape(part or "Chapters")}</li>')
        here = ' aria-current="page"' if ch is current else ''
        items.append(f'<li><a href="{ch["page"]}"{here}><span class="num">{ch["number"]}</span> {html.escape(ch["title"])}</a></li>')
    return '<ul>\n' + '\n'.join(items) + '\n</ul>'


def run_note(run):
    """What the reader should know about the run that produced the outputs."""
    notes = []
    if run.get('mode') == 'fast':
        notes.append('These outputs come from a fast-mode run (<code>RLHF_FAST=1</code>): small models and few '
                     'steps, so their numbers and plots are not the course\'s; the text quotes the reference results.')
    if run.get('ok') is False:
        notes.append('This notebook stopped at a failing cell in the run that built this page.')
    return ''.join(f'<p class="run-note">{n}</p>' for n in notes)


def page_link(ch, rel):
    return (f'<a class="{rel}" href="{ch["page"]}" rel="{rel}"><small>{"Previous" if rel == "prev" else "Next"}</small>'
            f'Chapter {ch["number"]}: {html.escape(ch["title"])}</a>')


def write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def copy_asset(src, dest):
    if not os.path.isfile(src):
        raise SystemExit(f'site: {os.path.relpath(src, ROOT)} is missing: run npm install (npm run setup)')
    if not os.path.isfile(dest) or os.path.getsize(dest) != os.path.getsize(src) or os.path.getmtime(dest) < os.path.getmtime(src):
        shutil.copy2(src, dest)


def build(course_dir, out_dir, parts):
    """Write the site; returns the chapter pages written (empty if no executed notebook is there)."""
    chs = chapters(course_dir, parts)
    if not chs:
        return []
    with open(os.path.join(HERE, 'page.html'), encoding='utf-8') as f:
        layout = string.Template(f.read())
    static = os.path.join(out_dir, '_static')
    os.makedirs(static, exist_ok=True)
    for name, src in ASSETS.items():
        copy_asset(src, os.path.join(static, name))
    write(os.path.join(out_dir, '.nojekyll'), '')  # GitHub Pages: serve _static/ as it is (Jekyll skips _folders)
    if os.path.isfile(os.path.join(out_dir, 'plotly.js')):  # the copy older course runs left beside the pages
        os.remove(os.path.join(out_dir, 'plotly.js'))
    with open(os.path.join(HERE, 'site.css'), encoding='utf-8') as f:
        write(os.path.join(static, 'site.css'), f.read() + '\n/* code colours: pygments, as nbconvert highlights the cells */\n' + pygments_css())
    index = []
    for i, ch in enumerate(chs):
        body = render(ch['nb'])
        toc, sections = outline(body, ch['page'], f'Chapter {ch["number"]}: {ch["title"]}')
        index.extend(sections)
        has_plots = any(PLOT_MIME in o.get('data', {}) or 'class="rlhf-plot"' in o.get('data', {}).get('text/html', '')
                        for c in ch['nb'].cells for o in c.get('outputs', []))
        toc_html = ''.join(f'<li class="{lvl}"><a href="{href("", a)}">{html.escape(t)}</a></li>' for lvl, a, t in toc)
        pager = ''.join([page_link(chs[i - 1], 'prev') if i > 0 else '', page_link(chs[i + 1], 'next') if i + 1 < len(chs) else ''])
        if os.path.abspath(out_dir) != os.path.abspath(course_dir):
            shutil.copyfile(os.path.join(course_dir, ch['notebook']), os.path.join(out_dir, ch['notebook']))
        write(os.path.join(out_dir, ch['page']), layout.substitute(
            title=html.escape(ch['title']), sidebar=sidebar(chs, ch), body=body, pager=pager, note=run_note(ch['run']),
            toc=f'<details class="toc" open><summary>On this page</summary><ul>{toc_html}</ul></details>' if toc else '',
            plotly=PLOTLY_LOADER if has_plots else '',
            notebook=f'<a class="download" href="{ch["notebook"]}" download>Download the executed notebook</a>'))
    write(os.path.join(static, 'search-index.js'), 'window.RLHF_SEARCH = ' + json.dumps(index, ensure_ascii=False) + ';\n')
    write(os.path.join(out_dir, 'index.html'), layout.substitute(
        title='RLHF from scratch in TypeScript', sidebar=sidebar(chs, None), body=index_body(chs), toc='', note='',
        plotly='', pager=page_link(chs[0], 'next'), notebook=''))
    return [ch['page'] for ch in chs]


def index_body(chs):
    rows, part = [], None
    for ch in chs:
        if ch['part'] != part:
            part = ch['part']
            rows.append(f'<h2>{html.escape(part or "Chapters")}</h2>')
        run = ch['run']
        status = ' <span class="failed">(stopped at a failing cell)</span>' if run.get('ok') is False else ''
        rows.append(f'<p class="chapter"><a href="{ch["page"]}">Chapter {ch["number"]}: {html.escape(ch["title"])}</a>{status}</p>')
    modes = sorted({ch['run'].get('mode') for ch in chs if ch['run'].get('mode')})
    built = f' The outputs come from a {" and ".join(modes)}-mode run.' if modes else ''
    return f'''<div class="text_cell_render"><h1 id="top">RLHF from scratch in TypeScript</h1>
<p>A course that teaches reinforcement learning from human feedback by building it, on a laptop CPU: from Shannon's
n-gram approximations of English to a transformer language model, supervised fine-tuning, reward models from
pairwise preferences, PPO with a KL penalty, best-of-N, DPO and evaluation. Each chapter is a TypeScript notebook,
shown here as executed, with its outputs and plots; numbers in the text are reference results over several seeds.{built}</p>
{"".join(rows)}</div>'''


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run_course
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--course', default=os.path.join(ROOT, 'build', 'course'), help='folder of executed notebooks')
    ap.add_argument('--out', help='where to write the site (default: the --course folder)')
    args = ap.parse_args()
    out = args.out or args.course
    os.makedirs(out, exist_ok=True)
    run_course.jupyter_env()
    run_course.reference_texts([])  # the chapter registry (lib/course/chapters.ts), for the sidebar's parts
    pages = build(args.course, out, run_course.site_parts())
    if not pages:
        print(f'site: no executed notebook (NN-*.ipynb) in {args.course}: run npm run course first', file=sys.stderr)
        return 1
    print(f'site: {len(pages)} chapter page(s) and index.html in {out}/ (open index.html, or serve the folder)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
