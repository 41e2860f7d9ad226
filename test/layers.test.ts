// lib/ reads bottom up: each folder is a layer and imports only from its own folder and the
// layers below it (lib/README.md, "Layers"). This test parses every import of every lib file
// (static, type-only, dynamic and require) and fails on one that points up, or out of lib/.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

/** The layers, lowest first. The one list of the order (lib/README.md shows it with each folder's modules). */
const LAYERS = ['core', 'view', 'engine', 'text', 'model', 'train', 'feedback', 'rl', 'methods', 'eval', 'course'] as const;

const LIB = path.join(__dirname, '..', 'lib');
/** Files at lib/'s top: the package entry, above every layer. */
const ENTRY = new Set(['index.ts', 'load.js']);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'build' || e.name === 'node_modules' ? [] : sourceFiles(p);
    return /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

/** Layer index of a file under `lib` (ENTRY files: above all; a folder not in LAYERS: -1). */
function layerOf(lib: string, file: string): number {
  const rel = path.relative(lib, file).split(path.sep);
  if (rel.length === 1) return ENTRY.has(rel[0]) ? LAYERS.length : -1;
  return (LAYERS as readonly string[]).indexOf(rel[0]);
}

/** Every import in `lib` that breaks the layer order, as "from -> to (why)". */
function layerViolations(lib: string): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(lib)) {
    const from = path.relative(lib, file);
    const mine = layerOf(lib, file);
    if (mine < 0) { out.push(`${from}: in no layer (put it in one of ${LAYERS.join(', ')})`); continue; }
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue; // a package (tfjs, fs, ...)
      const target = path.resolve(path.dirname(file), fileName);
      const to = path.relative(lib, target);
      if (to.startsWith('..')) { out.push(`${from} -> ${fileName} (outside lib/)`); continue; }
      const theirs = layerOf(lib, target);
      if (theirs > mine || theirs < 0) out.push(`${from} -> ${to} (${LAYERS[mine] ?? 'entry'} imports from ${LAYERS[theirs] ?? 'the entry'}, a layer above)`);
    }
  }
  return out;
}

describe('lib layers', () => {
  it('every folder of lib/ is a layer, and no file imports from a layer above its own', () => {
    const folders = fs.readdirSync(LIB, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(folders).toEqual([...LAYERS].sort());
    expect(layerViolations(LIB)).toEqual([]);
  });

  it('lib/README.md states the same order', () => {
    const line = fs.readFileSync(path.join(LIB, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith('`core` <'));
    expect(line?.split(' < ').map((x) => x.replace(/`/g, ''))).toEqual([...LAYERS]);
  });

  it('the check finds a planted upward import, an import out of lib/ and a file outside any layer', () => {
    const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
    const write = (rel: string, text: string) => { fs.mkdirSync(path.dirname(path.join(lib, rel)), { recursive: true }); fs.writeFileSync(path.join(lib, rel), text); };
    write('core/a.ts', "import { b } from '../course/b';\nexport const a = b;\n");
    write('course/b.ts', "import type { A } from '../core/a';\nimport { c } from './c';\nexport const b = 1;\n");
    write('course/c.ts', 'export const c = 2;\n');
    write('model/m.ts', "const s = require('../../scripts/x');\nexport async function f() { return import('../rl/r'); }\n");
    write('rl/r.ts', "import { m } from '../model/m';\n");
    write('stray.ts', 'export {};\n');
    try {
      expect(layerViolations(lib).sort()).toEqual([
        'core/a.ts -> course/b (core imports from course, a layer above)',
        'model/m.ts -> ../../scripts/x (outside lib/)',
        'model/m.ts -> rl/r (model imports from rl, a layer above)',
        'stray.ts: in no layer (put it in one of core, view, engine, text, model, train, feedback, rl, methods, eval, course)',
      ]);
    } finally {
      fs.rmSync(lib, { recursive: true, force: true });
    }
  });
});
