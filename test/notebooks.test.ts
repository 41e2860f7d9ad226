import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';

// The chapter sources: nbformat 4 notebooks for the tslab kernel, committed without outputs
// (readers get outputs from `npm run course`, which writes build/course/), each importing the
// library by its package name (tslab's rootDir is notebooks/, so relative imports of lib fail).
const dir = path.join(__dirname, '..', 'notebooks');
const chapters = fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();

describe('chapter notebooks', () => {
  it('exist in the lecture order, starting with Shannon', () => {
    expect(chapters[0]).toMatch(/^01-/);
    const numbers = chapters.map((f) => Number(f.slice(0, 2)));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  for (const file of chapters) {
    describe(file, () => {
      const nb = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      const code = nb.cells.filter((c: any) => c.cell_type === 'code');
      const src = (c: any) => (Array.isArray(c.source) ? c.source.join('') : c.source) as string;

      it('is an nbformat 4 notebook for the tslab kernel', () => {
        expect(nb.nbformat).toBe(4);
        expect(nb.metadata.kernelspec.name).toBe('tslab');
      });

      it('opens with a markdown title', () => {
        expect(nb.cells[0].cell_type).toBe('markdown');
        expect(src(nb.cells[0])).toMatch(/^#\s+\S/);
      });

      it('is committed without outputs', () => {
        const withOutputs = code.filter((c: any) => (c.outputs ?? []).length > 0 || c.execution_count != null);
        expect(withOutputs.map((c: any) => src(c).split('\n')[0])).toEqual([]);
      });

      it('leaves every path under runs/ to lib/course/stages.ts (no folder names, no paths built on runsDir)', () => {
        const all = code.map(src).join('\n');
        expect(all).not.toMatch(/runsDir\(\)\s*(\}\/|,)|path\.join\(\s*(rl\.runsDir|runs\b)/);
        expect(all).not.toMatch(/\/(pretrained|pretrained-chat|sft|reward-model|comparisons\.jsonl|results|histories|ppo-beta|dpo-beta)\b/);
        expect(all).not.toMatch(/from\s+["']path["']/);
      });

      it('points to its assignment, an existing assignments/chNN-*.ipynb, and says how to open its student version', () => {
        const text = nb.cells.filter((c: any) => c.cell_type === 'markdown').map(src).join('\n');
        const named = /`assignments\/(ch\d\d-[\w-]+)\.ipynb`/.exec(text);
        expect(named, 'no `assignments/chNN-....ipynb` in the markdown').not.toBeNull();
        expect(fs.existsSync(path.join(dir, '..', 'assignments', `${named![1]}.ipynb`))).toBe(true);
        expect(text).toContain(`release/${named![1]}.ipynb`);
      });

      it('imports the library by package name, never by a relative path', () => {
        const all = code.map(src).join('\n');
        expect(all).toMatch(/from\s+["']rlhf["']/);
        expect(all).not.toMatch(/from\s+["']\.\.?\/(lib|\.\.\/lib)/);
      });
    });
  }
});
