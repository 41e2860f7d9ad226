import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

describe('stages: result files and missing checkpoints', () => {
  it('round-trips results, keeps histories apart and names the notebook to run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-stages-'));
    process.env.RLHF_RUNS = dir;
    const s = await import('../lib/stages');
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
    const s = await import('../lib/stages');
    const ev = s.evalGen(5);
    const cmp = s.comparisonGen(5);
    expect(ev.temperature).toBe(1);
    expect(cmp).toEqual({ ...ev, temperature: s.COMPARISON_TEMPERATURE });
    expect(s.COMPARISON_TEMPERATURE).toBeGreaterThan(0);
    expect(s.COMPARISON_TEMPERATURE).toBeLessThan(1);
    expect(s.comparisonGen().seed).toBe(5);
  });
});
