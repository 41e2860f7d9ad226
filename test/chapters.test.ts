import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import {
  CHAPTERS, chapterOf, evaluatedMethods, methodNotebook, policyKey, registeredTrainers, upstreamOf, Artifact, chapterSpan,
} from '../lib/course/chapters';
import { courseRecipe } from '../lib/course/recipe';
import { STAGES } from '../lib/course/stages';
import { loadReference } from '../lib/course/results';
import { loadAssignments } from '../grader/format';
import { readmeBlock, keyChapter } from '../scripts/reference';

/**
 * The chapter registry (lib/course/chapters.ts) and the chapter contract (CONTRIBUTING.md), checked
 * over every notebook under notebooks/.
 */
const ROOT = path.join(__dirname, '..');
const LIB = path.join(ROOT, 'lib');
const notebookFiles = fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
type Cell = { cell_type: string; id?: string; source: string | string[] };
const cellsOf = (name: string): Cell[] => JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', `${name}.ipynb`), 'utf8')).cells;
const src = (c: Cell) => [c.source].flat().join('');
const codeOf = (name: string) => cellsOf(name).filter((c) => c.cell_type === 'code').map(src).join('\n');
const markdownOf = (name: string) => cellsOf(name).filter((c) => c.cell_type === 'markdown').map(src).join('\n');
/** rl.<name>( calls of a notebook, generic arguments allowed (rl.loadHistory<T>(...)). */
const calls = (code: string) => new Set([...code.matchAll(/\brl\.(\w+)\s*(?:<[^()]*>)?\s*\(/g)].map((m) => m[1]));

/** Every lib .ts file's exported names (`extra`: planted files, path relative to lib -> source). */
function libExports(extra: Record<string, string> = {}): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'build' && e.name !== 'node_modules') walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/^export\s+(?:async\s+)?(?:function|const|interface|type|class)\s+(\w+)/gm)) out.push({ file: path.relative(LIB, p), name: m[1] });
      }
    }
  };
  walk(LIB);
  for (const [file, text] of Object.entries(extra)) {
    for (const m of text.matchAll(/^export\s+(?:async\s+)?(?:function|const|interface|type|class)\s+(\w+)/gm)) out.push({ file, name: m[1] });
  }
  return out;
}

describe('the chapter registry', () => {
  it('lists exactly the notebooks under notebooks/, in order, numbers matching; the evaluation chapter last; 08-10 may be missing', () => {
    expect(CHAPTERS.map((c) => `${c.notebook}.ipynb`)).toEqual(notebookFiles);
    for (const c of CHAPTERS) expect(c.notebook.slice(0, 2)).toBe(c.number);
    expect(CHAPTERS.map((c) => Number(c.number))).toEqual([...CHAPTERS.map((c) => Number(c.number))].sort((a, b) => a - b));
    expect(CHAPTERS.filter((c) => c.evaluation).map((c) => c.notebook)).toEqual([CHAPTERS[CHAPTERS.length - 1].notebook]);
    expect(chapterOf('08-evaluation').notebook).toBe('12-evaluation');
    expect(() => chapterOf('09-nothing')).toThrow(/no chapter has the notebook "09-nothing"/);
    expect(chapterSpan(['01', '02', '03', '05', '07', '08', '12'])).toBe('01-03, 05, 07-08, 12');
  });

  it('registers every trainer the library exports (xTrain, pretrain) and every X_PRESETS, with a config type that exists', () => {
    const exported = libExports();
    const trainers = exported.filter((e) => /^[a-z]\w*Train$|^pretrain$/.test(e.name)).map((e) => e.name).sort();
    expect(registeredTrainers().map((t) => t.trainer).sort()).toEqual(trainers);
    const presets = exported.filter((e) => /^[A-Z_]+_PRESETS$/.test(e.name) && e.name !== 'GPT_PRESETS');
    expect(registeredTrainers().map((t) => `${t.presets.module}.ts:${t.presets.name}`).sort()).toEqual(presets.map((e) => `${e.file}:${e.name}`).sort());
    for (const t of registeredTrainers()) expect(exported.some((e) => e.name === t.config && e.file === `${t.presets.module}.ts`), `${t.config} in ${t.presets.module}.ts`).toBe(true);
    // courseRecipe holds every registered trainer's presets under its key
    const recipe = courseRecipe();
    for (const t of registeredTrainers()) expect(Object.keys(recipe[t.recipeKey] as object).sort()).toEqual(['course', 'tiny']);
  });

  it('fails when a trainer is left out (a planted lib file exporting grpoTrain and GRPO_PRESETS)', () => {
    // planted beside lib's own files as the scan sees them, not written into lib/ (a running kernel watches it)
    const exported = libExports({ 'methods/zzPlantedGrpo.ts': 'export const GRPO_PRESETS = { tiny: {}, course: {} };\nexport function grpoTrain(): void {}\n' });
    const trainers = exported.filter((e) => /^[a-z]\w*Train$|^pretrain$/.test(e.name)).map((e) => e.name);
    expect(trainers).toContain('grpoTrain');
    expect(registeredTrainers().map((t) => t.trainer)).not.toContain('grpoTrain');
  });

  it('gives every registered method a key, the notebook that saves it, and a place in the evaluation', () => {
    expect(policyKey('PPO beta=0.05')).toBe('ppo.beta0.05');
    expect(policyKey('DPO beta=0.0333')).toBe('dpo.beta0.0333');
    expect(policyKey('IPO beta=0.1')).toBe('ipo.beta0.1');
    expect(policyKey('best-of-16')).toBe('bon.n16');
    expect(policyKey('rejection sampling N=8')).toBe('rs.n8');
    expect(policyKey('SFT')).toBe('sftPolicy');
    expect(policyKey('GRPO beta=0.04')).toBe('grpo.beta0.04');
    expect(policyKey('Dr. GRPO beta=0.04')).toBe('drgrpo.beta0.04');
    expect(policyKey('RLOO beta=0.05')).toBe('rloo.beta0.05');
    expect(() => policyKey('KTO beta=0.1')).toThrow(/no registered method writes the label "KTO beta=0.1"/);
    expect(evaluatedMethods()).toEqual(['SFT', 'PPO', 'best-of-N', 'rejection sampling', 'DPO', 'IPO', 'REINFORCE', 'RLOO', 'GRPO', 'Dr. GRPO', 'PPO-ptx', 'RS on pooled labels']);
    expect(methodNotebook('Dr. GRPO')).toBe('08-critic-free');
    expect(policyKey('PPO-ptx beta=0.05')).toBe('ppoPtx.beta0.05');
    expect(policyKey('RS pooled populations N=8')).toBe('assume.rsPooled.n8');
    expect(methodNotebook('rejection sampling')).toBe('06-best-of-n');
    for (const c of CHAPTERS) for (const m of c.methods) expect(c.keys.some((p) => `${policyKey(m.label.replace('{beta}', '0.1').replace('{n}', '4'))}.`.startsWith(p)), `${m.method} key under ${c.keys}`).toBe(true);
  });

  it('hands on only artifacts stages.ts knows, and every loaded artifact is handed on by an earlier chapter', () => {
    const known = new Set<string>([...Object.keys(STAGES), 'policies']);
    for (const c of CHAPTERS) {
      for (const a of [...c.hands, ...c.loads]) expect(known.has(a), `${c.notebook}: ${a}`).toBe(true);
      for (const a of c.loads) expect(upstreamOf(c).some((u) => u.hands.includes(a) && Number(u.number) < Number(c.number)), `${c.notebook} loads ${a}`).toBe(true);
    }
  });
});

/** The stages functions that save or load each artifact (what the notebook's code calls). */
const SAVES: Record<string, Artifact> = { savePretrained: 'pretrained', saveSFT: 'sft', saveComparisons: 'comparisons', saveRewardModel: 'rewardModel', saveResult: 'results', saveHistory: 'histories', savePolicy: 'policies' };
const LOADS: Record<string, Artifact> = {
  loadPretrained: 'pretrained', ensurePretrained: 'pretrained', loadSFT: 'sft', loadComparisons: 'comparisons', loadRewardModel: 'rewardModel',
  requireResults: 'results', loadResults: 'results', loadHistory: 'histories', loadPolicy: 'policies', hasPolicy: 'policies',
};

/**
 * What a chapter does not meet yet, each with the issue item that fixes it. An entry that no
 * longer holds fails too (the list cannot go stale).
 */
const KNOWN_GAPS: Record<string, string[]> = {
  // none since the reference run of 2026-12-06; a new chapter has ['time'] here until its first reference run
};
const gap = (nb: string, what: string) => (KNOWN_GAPS[nb] ?? []).includes(what);

/**
 * Key prefixes a chapter records since the last reference run (data/reference-results.json): the
 * next `npm run reference` fills them, and then an entry here fails (it cannot go stale).
 */
const AWAITING_REFERENCE: Record<string, string[]> = {
  // none since the reference run of 2026-12-06; e.g. '02-transformer': ['ladder.'] for a prefix added since the last run
};
const awaiting = (nb: string, prefix: string) => (AWAITING_REFERENCE[nb] ?? []).includes(prefix);
const ref = loadReference();

describe('the chapter contract (CONTRIBUTING.md), for every notebook', () => {
  const assignments = loadAssignments(path.join(ROOT, 'assignments'));
  const evaluation = CHAPTERS.find((c) => c.evaluation)!;

  for (const file of notebookFiles) {
    const name = file.replace(/\.ipynb$/, '');
    describe(name, () => {
      const c = chapterOf(name);
      const code = codeOf(name);
      const md = markdownOf(name);
      const used = calls(code);

      it('is in the registry and the reference', () => {
        expect(c.notebook).toBe(name);
        expect(c.reference).not.toBe('none');
        expect(Object.keys(ref?.chapters ?? {}).includes(name) || gap(name, 'time')).toBe(true);
      });

      it('records what its text discusses: each {{ref key}} of its markdown is a key of the reference, under some chapter\'s prefixes', () => {
        const quoted = [...md.matchAll(/\{\{ref ([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9=_-]+)+)\}\}/g)].map((m) => m[1]); // the runner's pattern
        for (const k of quoted) {
          expect(k.startsWith('time.') || keyChapter(k) !== undefined, `${k}: no chapter's key prefixes hold it`).toBe(true);
          expect(k.startsWith('time.') || ref?.keys[k] !== undefined, `${k}: not in data/reference-results.json`).toBe(true);
        }
        const records = used.has('record') || used.has('recordAll') || used.has('recordPolicy');
        expect(records, 'calls rl.record').toBe(!gap(name, 'records'));
        // a chapter not in the reference yet (a 'time' gap) has no keys there either; a chapter in it may await keys under new prefixes
        if (!gap(name, 'time')) for (const p of c.keys) expect(Object.keys(ref?.keys ?? {}).some((k) => k.startsWith(p)), `a reference key under ${p}`).toBe(!awaiting(name, p));
        else for (const p of c.keys) expect(Object.keys(ref?.keys ?? {}).some((k) => k.startsWith(p)), `${name} has reference keys under ${p}: remove its 'time' gap`).toBe(false);
      });

      it('prints the run\'s values beside the reference: rl.referenceTable over exactly its key prefixes', () => {
        const tables = [...code.matchAll(/rl\.referenceTable\(\s*\[([^\]]*)\]/g)].flatMap((m) => [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]));
        if (gap(name, 'prints')) expect(tables).toEqual([]);
        else expect(tables.sort()).toEqual([...c.keys].sort());
      });

      it('has an assignment that npm run grade:check grades (tests and solutions), titled with the chapter number', () => {
        const a = assignments.find((x) => x.name === c.assignment);
        expect(a, `assignments/${c.assignment}.ipynb`).toBeDefined();
        expect(c.assignment.startsWith(`ch${c.number}-`)).toBe(true);
        expect(a!.tests.length).toBeGreaterThan(0);
        expect(a!.kinds.some((k) => k.kind === 'answer')).toBe(true);
        expect(src(a!.notebook.cells[0] as Cell)).toMatch(new RegExp(`^# Assignment ${Number(c.number)}:`));
        expect(src(cellsOf(name)[0])).toMatch(new RegExp(`^# Chapter ${Number(c.number)} —`));
      });

      it('loads and hands on what the registry says (the stages functions its code calls)', () => {
        const loads = new Set([...used].filter((f) => f in LOADS).map((f) => LOADS[f]).filter((a) => !c.hands.includes(a))); // 02 reloads its own checkpoint
        expect([...loads].sort()).toEqual([...c.loads].sort());
        for (const f of used) if (f in SAVES) expect(c.hands, `${name} calls rl.${f}`).toContain(SAVES[f]);
        for (const t of registeredTrainers()) if (used.has(t.trainer)) expect(Number(t.chapter.number) <= Number(c.number), `${t.trainer} registered by ${t.chapter.notebook}`).toBe(true);
      });

      it('states its default-mode time in the README block (the block is what the reference file gives)', () => {
        const t = ref?.times[name];
        expect(t !== undefined, 'a reference time').toBe(!gap(name, 'time'));
        const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
        if (t) expect(readme).toContain(readmeBlock(ref!));
      });

      it('tells the student before any cell that runs over a minute, quoting its reference time', () => {
        const cellTimes = ref?.times[name]?.cells;
        // Per-cell reference times exist once npm run reference has run with the runner's per-cell
        // timings; until then (a format-1 reference) there is nothing to check against.
        if (!cellTimes) {
          expect(ref?.legacyRecipeHash, 'only a format-1 reference lacks per-cell times').toBeDefined();
          return;
        }
        const cells = cellsOf(name);
        for (const [id, seconds] of Object.entries(cellTimes)) {
          if (seconds < 60) continue;
          const i = cells.findIndex((x) => x.id === id);
          const before = cells.slice(0, i).filter((x) => x.cell_type === 'markdown').map(src).join('\n');
          // an author's placeholder, or the marker fill-notebooks makes of it
          const key = `time.${name}.${id}`;
          expect(before.includes(`{{ref ${key}}}`) || before.includes(`<!--ref ${key}-->`), `${name}: cell ${id} (${seconds.toFixed(0)} s) needs {{ref ${key}}} in the markdown before it`).toBe(true);
        }
      });

      if (c.methods.length) {
        it('saves its policies\' results for the evaluation chapter, which requires every registered method', () => {
          expect(used.has('saveResult')).toBe(true);
          for (const m of [...code.matchAll(/method:\s*"([^"]+)"/g)].map((x) => x[1])) expect(c.methods.map((x) => x.method)).toContain(m);
          expect(codeOf(evaluation.notebook)).toMatch(/rl\.requireResults\(rl\.evaluatedMethods\(\)\)/);
          expect(Number(evaluation.number)).toBeGreaterThan(Number(c.number));
        });
      }
    });
  }

  it('the known gaps still hold (remove an entry when its chapter meets the contract)', () => {
    for (const [nb, whats] of Object.entries(KNOWN_GAPS)) {
      for (const w of whats) expect(['records', 'prints', 'time']).toContain(w);
      if (whats.includes('time')) expect(ref?.times[nb], `${nb} has a reference time: remove its 'time' gap`).toBeUndefined();
    }
    for (const [nb, prefixes] of Object.entries(AWAITING_REFERENCE)) for (const p of prefixes) {
      expect(chapterOf(nb).keys, `${nb} registers ${p}`).toContain(p);
      expect(Object.keys(ref?.keys ?? {}).some((k) => k.startsWith(p)), `the reference has keys under ${p}: remove it`).toBe(false);
    }
  });
});
