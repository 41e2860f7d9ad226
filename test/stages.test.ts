import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sampleGroups } from '../lib/rl/rollout';

describe('stages: result files and missing checkpoints', () => {
  it('round-trips results, keeps histories apart and names the notebook to run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-stages-'));
    process.env.RLHF_RUNS = dir;
    const s = await import('../lib/course/stages');
    const base = { proxyStderr: 0, goldStderr: 0, klK3: 0, endRate: 1, length: 3, params: {}, prompts: ['p'], completions: ['c'], proxyScores: [1], goldScores: [2], klPerSample: [0] };
    s.saveResult({ ...base, method: 'PPO', label: 'PPO beta=0.05', proxy: 1, gold: 2, klK1: 3 });
    s.saveResult({ ...base, method: 'DPO', label: 'DPO beta=0.1', proxy: 0.5, gold: 1, klK1: 1 });
    s.saveResult({ ...base, method: 'PPO', label: 'PPO beta=0.005', proxy: 2, gold: 0, klK1: 9 });
    s.saveHistory('PPO beta=0.05', [{ iteration: 1 }]);
    expect(s.loadResults().map((r) => r.label)).toEqual(['DPO beta=0.1', 'PPO beta=0.05', 'PPO beta=0.005']);
    expect(s.loadResults('PPO').map((r) => r.klK1)).toEqual([3, 9]);
    expect(s.loadHistory('PPO beta=0.05')).toEqual([{ iteration: 1 }]);
    expect(s.loadHistory('nothing')).toBeNull();
    expect(() => s.requireStage('rewardModel')).toThrow(/reward-model does not exist: run notebooks\/04-reward-model\.ipynb first/);
    delete process.env.RLHF_RUNS;
  });
});

describe('stages: sampling settings', () => {
  it('samples comparison pairs cooler than evaluation, with the same reply length and the given seed', async () => {
    const s = await import('../lib/course/stages');
    const ev = s.evalGen(5);
    const cmp = s.comparisonGen(5);
    expect(ev.temperature).toBe(1);
    expect(cmp).toEqual({ ...ev, temperature: s.COMPARISON_TEMPERATURE });
    expect(s.COMPARISON_TEMPERATURE).toBeGreaterThan(0);
    expect(s.COMPARISON_TEMPERATURE).toBeLessThan(1);
    expect(s.comparisonGen().seed).toBe(5);
  });
});

describe('stages: best-of-N as a result, and table rows', () => {
  it('keeps the proxy-best of the first n samples of each prompt and measures it like any policy', async () => {
    const s = await import('../lib/course/stages');
    const samples = {
      prompts: ['p', 'p', 'q', 'q'], promptIds: [[9], [9], [8], [8]], completionIds: [[1], [1, 2], [3], [4, 5, 6]],
      completions: ['a', 'b', 'c', 'd'], finished: [true, false, true, true],
    };
    const pool = { samples, groups: sampleGroups(['p', 'q'], 2), scores: [[1, 3], [2, 0]], chosen: [1, 0], best: samples };
    const gold = [10, 20, 30, 40];
    const one = s.bestOfNResult(pool, 1, { prompts: ['p', 'q'], goldScores: gold });
    expect([one.completions, one.proxyScores, one.goldScores, one.klK1, one.endRate, one.length]).toEqual([['a', 'c'], [1, 2], [10, 30], 0, 1, 1]);
    const two = s.bestOfNResult(pool, 2, { prompts: ['p', 'q'], goldScores: gold, params: { klSample: 0.1 } });
    expect(two).toMatchObject({ method: 'best-of-N', label: 'best-of-2', params: { n: 2, klSample: 0.1 }, completions: ['b', 'c'], proxy: 2.5, gold: 25, endRate: 0.5, length: 1.5 });
    expect(two.klK1).toBeCloseTo(Math.log(2) - 0.5, 15);
    expect(two.proxyStderr).toBeCloseTo(0.5, 15); // sd of [3, 2] is sqrt(0.5), over sqrt(2) samples
    expect(() => s.bestOfNResult(pool, 3, { prompts: ['p', 'q'], goldScores: gold })).toThrow('n must be an integer in 1..2 (samples per prompt), got 3');
    expect(() => s.bestOfNResult(pool, 1, { prompts: ['p', 'q'], goldScores: [1] })).toThrow('1 gold scores for 4 samples');
    expect(s.resultRow(two)).toEqual({ policy: 'best-of-2', proxy: 2.5, gold: 25, 'KL (nats)': two.klK1, ended: 0.5, length: 1.5 });
  });
});
