/**
 * Fast mode: `RLHF_FAST=1` shrinks every notebook's work (smaller models, fewer steps) so the
 * whole course executes in CI in minutes. Default mode is what students run.
 */
export const FAST: boolean = /^(1|true|yes)$/i.test(process.env.RLHF_FAST ?? '');

/** Named presets every method config offers: `tiny` for tests and fast mode, `course` for students. */
export interface Presets<T> {
  tiny: T;
  course: T;
}

/** Pick `tiny` in fast mode and `course` otherwise; `override` patches the chosen preset. */
export function preset<T extends object>(presets: Presets<T>, override: Partial<T> = {}): T {
  return { ...(FAST ? presets.tiny : presets.course), ...override };
}

/** Folder where notebooks keep checkpoints and data they produce (separate for fast mode). */
export function runsDir(root: string = process.cwd()): string {
  const path = require('path') as typeof import('path');
  const base = process.env.RLHF_RUNS ?? path.join(findRepoRoot(root), 'runs');
  return path.join(base, FAST ? 'fast' : 'course');
}

/** The repo root: the nearest folder above `start` holding both package.json and lib/. */
export function findRepoRoot(start: string = process.cwd()): string {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'lib'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`findRepoRoot: no folder with package.json and lib/ above ${start}`);
    dir = up;
  }
}
