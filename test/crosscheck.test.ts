import { describe, it, expect } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { landing, crossCheck, crossCheckBlock, writeCrossCheckBlock, STORED, StoredCrossCheck } from '../scripts/crosscheck';
import { loadReference } from '../lib/course/results';
import { README_KEYS } from '../scripts/reference';
import type { RecordedFile, RecordedValue, ReferenceEntry, ReferenceFile, Unit } from '../lib/course/results';

const entry = (unit: Unit, digits: number, values: (number | boolean)[], seeds: (number | 'shared')[] = values.map((_, i) => i)): ReferenceEntry => {
  const xs = values.map(Number);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { unit, digits, mean, sd: 0, min: Math.min(...xs), max: Math.max(...xs), values, seeds };
};
const rec = (value: number | boolean, unit: Unit = 'score', digits = 2): RecordedValue => ({ value, unit, digits, seed: 0, at: '2026-12-07T02:00:00.000Z' });

describe('landing: a run against a quoted range', () => {
  it('a number over seeds is inside between the lowest and highest seed, and at a rounded bound', () => {
    const e = entry('score', 2, [0.91, 1.0, 0.95]);
    expect(landing(rec(0.93), e).landing).toBe('inside');
    expect(landing(rec(0.9049), e).landing).toBe('outside'); // prints 0.90 < 0.91
    expect(landing(rec(0.9051), e).landing).toBe('inside');  // prints 0.91: a reader sees the bound
    expect(landing(rec(1.05), e)).toEqual({ landing: 'outside', note: '0.05 above the highest of 3 seeds' });
  });

  it('a fraction says its gap in percentage points', () => {
    const e = entry('fraction', 1, [0.802, 0.81]);
    expect(landing(rec(0.779, 'fraction', 1), e)).toEqual({ landing: 'outside', note: '2.3 points below the lowest of 2 seeds' });
  });

  it('a number measured once is inside only when it prints the same, else says by how much it differs', () => {
    const e = entry('score', 3, [1.5293], ['shared']);
    expect(landing(rec(1.5291, 'score', 4), e).landing).toBe('inside'); // 1.529 both
    expect(landing(rec(1.5346, 'score', 4), e)).toEqual({ landing: 'outside', note: 'one reference run (1.529); this run is 0.005 higher' });
  });

  it('a verdict is inside when some seed gave the same answer', () => {
    const mixed = entry('bool', 0, [true, false, true]);
    expect(landing(rec(false, 'bool'), mixed).landing).toBe('inside');
    const none = entry('bool', 0, [false, false]);
    expect(landing(rec(false, 'bool'), none).landing).toBe('inside');
    expect(landing(rec(true, 'bool'), none)).toEqual({ landing: 'outside', note: 'yes, which no reference seed gave' });
  });

  it('a key the run did not record is missing, not inside', () => {
    expect(landing(undefined, entry('score', 2, [1, 2])).landing).toBe('missing');
  });
});

describe('crossCheck: the README rows and the count over all keys', () => {
  const keys: Record<string, ReferenceEntry> = Object.fromEntries(README_KEYS.map(([k]) => [k, entry('score', 2, [1, 2])]));
  keys['extra.a'] = entry('score', 2, [1, 2]);
  keys['time.05-ppo'] = entry('seconds', 0, [100, 120]);
  const ref = { format: 2, mode: 'course', seeds: [0, 1], keys } as unknown as ReferenceFile;
  const values: Record<string, RecordedValue> = Object.fromEntries(README_KEYS.map(([k]) => [k, rec(1.5)]));
  values[README_KEYS[0][0]] = rec(3);      // one README row outside
  delete values[README_KEYS[1][0]];         // one not recorded
  values['extra.a'] = rec(0.5);             // outside, not a README row
  values['time.05-ppo'] = rec(500, 'seconds', 0); // a time: left out
  const run: RecordedFile = { format: 1, mode: 'course', values };

  it('counts rows and keys, leaving times out', () => {
    const c = crossCheck(ref, run);
    expect(c.rows.map((r) => r.landing).filter((l) => l === 'inside')).toHaveLength(README_KEYS.length - 2);
    expect(c.rows[0]).toMatchObject({ landing: 'outside', run: '3.00', reference: '1.00 to 2.00 over 2 seeds' });
    expect(c.rows[1]).toMatchObject({ landing: 'missing', run: 'not recorded' });
    expect(c.compared).toBe(README_KEYS.length - 1 + 1);
    expect(c.outside.sort()).toEqual(['extra.a', README_KEYS[0][0]].sort());
  });

  it('refuses a run of the other mode', () => {
    expect(() => crossCheck(ref, { ...run, mode: 'fast' })).toThrow(/fast mode.*default mode/);
  });

  it('writes its block after the reference block, and replaces it the next time', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crosscheck-'));
    const file = path.join(dir, 'README.md');
    fs.writeFileSync(file, '# Kit\n\n<!-- reference:begin x -->\nrows\n<!-- reference:end -->\n\n## Next\n');
    const block = crossCheckBlock(ref, run, 'OpenBLAS SandyBridge kernels', '2026-12-07');
    expect(block).toContain(`${README_KEYS.length - 2} of ${README_KEYS.length} rows land inside the quoted spread`);
    expect(block).toContain(`2 of ${README_KEYS.length} fall outside`);
    writeCrossCheckBlock(file, block);
    writeCrossCheckBlock(file, block);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('crosscheck:begin')).toHaveLength(2);
    expect(text.indexOf('reference:end')).toBeLessThan(text.indexOf('crosscheck:begin'));
    expect(text.endsWith('## Next\n')).toBe(true);
  });
});

describe("README's cross-check block", () => {
  it('is what the kept run (data/crosscheck.json) and the committed reference give', () => {
    const stored: StoredCrossCheck = JSON.parse(fs.readFileSync(STORED, 'utf8'));
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const block = /<!-- crosscheck:begin[\s\S]*?<!-- crosscheck:end -->/.exec(readme)?.[0];
    expect(block, 'README.md has no cross-check block').toBeDefined();
    // after a new reference: npm run crosscheck -- --stored
    expect(block).toBe(crossCheckBlock(loadReference()!, stored.run, stored.label, stored.date));
  });
});
