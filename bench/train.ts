// `npm run bench`: trains configs A and B (issue 3) and the course shape C (issue 24) for a fixed number of steps with
// this library on each available backend and, in the same run, with PyTorch on the
// same machine (same thread count), then prints tokens/s, the ratio to PyTorch, peak
// memory, matmul GFLOP/s and sampling speed; at the course shape also the log-prob pass (KL, PPO,
// DPO: completionLogProbs without and with its backward) against the same pass in PyTorch. PyTorch
// runs before and after the tfjs engines and the two runs are averaged, so both see similar load.
//
// Options: --configs A,B,C  --backends blas,wasm,cpu  --steps N (tfjs cpu+blas and PyTorch;
// the slower backends run fewer)  --threads 2
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { BENCH_CONFIGS, BenchConfig, BenchName, logProbRows, tokensPerStep } from './common';
import type { EngineJob, EngineResult, Timing } from './engine';

const PYTHON = '/usr/bin/python3';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const threads = Number(arg('threads', '2'));
const configs = arg('configs', 'A,B,C').split(',') as BenchName[];
const backends = arg('backends', 'blas,wasm,cpu').split(',') as EngineJob['backend'][];
const baseSteps = Number(arg('steps', '20'));
const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads), RLHF_THREADS: String(threads) };
delete env.RLHF_BACKEND;

/** Steps per backend: the slow ones only long enough for a stable figure. */
function stepsFor(backend: EngineJob['backend'], c: BenchConfig): number {
  const scale = c.name === 'B' ? 0.5 : 1;
  if (backend === 'cpu') return 2;
  if (backend === 'wasm') return Math.max(3, Math.round(5 * scale));
  return Math.max(5, Math.round(baseSteps * scale));
}

interface Row {
  engine: string; stepMs?: number; cpuMsPerStep?: number; tokensPerSecond?: number; peakRssMB?: number; matmulGflops?: number; note?: string;
  logprob?: { forward: Timing; backward: Timing };
}

/** The config whose log-prob pass is timed (the course shape: its 4,067-wide output layer is the cost). */
const LOGPROB_CONFIG: BenchName = 'C';

function runTorch(c: BenchConfig, steps: number): Row {
  const script = path.join(__dirname, 'torch_gpt.py');
  const cfg = JSON.stringify({ vocab: c.vocab, context: c.context, width: c.width, layers: c.layers, heads: c.heads, batch: c.batch });
  const extra = c.name === LOGPROB_CONFIG ? ['--logprob'] : [];
  const r = spawnSync(PYTHON, [script, cfg, String(steps), String(threads), ...extra], { env, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? `${PYTHON} not found` : /No module named 'torch'/.test(r.stderr) ? 'torch not installed: apt-get update && apt-get install -y python3-torch (Debian; scripts/setup.sh does not install it)' : r.stderr.trim().split('\n').pop();
    return { engine: 'pytorch', note: `skipped: ${why}` };
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
}

function runEngine(job: EngineJob): Row & Partial<EngineResult> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'engine.ts'), JSON.stringify(job)], { env, encoding: 'utf8' });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { engine: `tfjs ${job.backend}`, note: `skipped: ${(r.stderr || 'no result').trim().split('\n').pop()}` };
  return JSON.parse(line.slice('RESULT '.length)) as EngineResult;
}

const fmt = (x: number | undefined, digits = 0) => (x === undefined ? '-' : x.toFixed(digits));

function printTable(c: BenchConfig, rows: Row[], torch: Row): void {
  console.log(`\nconfig ${c.name}: vocab ${c.vocab}, context ${c.context}, width ${c.width}, ${c.layers} layers, ${c.heads} heads, batch ${c.batch} (${tokensPerStep(c)} tokens/step)`);
  console.log(`${'engine'.padEnd(20)} ${'ms/step'.padStart(8)} ${'tokens/s'.padStart(9)} ${'x PyTorch'.padStart(9)} ${'CPU ms/step'.padStart(11)} ${'x PyTorch CPU'.padStart(13)} ${'peak MB'.padStart(8)} ${'matmul GFLOP/s'.padStart(15)}`);
  const ratio = (mine: number | undefined, ref: number | undefined, invert = false) =>
    mine && ref ? (invert ? ref / mine : mine / ref).toFixed(2) : '-';
  for (const r of rows) {
    if (r.note) { console.log(`${r.engine.padEnd(20)} ${r.note}`); continue; }
    console.log(`${r.engine.padEnd(20)} ${fmt(r.stepMs).padStart(8)} ${fmt(r.tokensPerSecond).padStart(9)} ${ratio(r.tokensPerSecond, torch.tokensPerSecond).padStart(9)} ${fmt(r.cpuMsPerStep).padStart(11)} ${ratio(r.cpuMsPerStep, torch.cpuMsPerStep, true).padStart(13)} ${fmt(r.peakRssMB).padStart(8)} ${fmt(r.matmulGflops).padStart(15)}`);
  }
  console.log('x PyTorch: tokens/s ratio in this run (the target); x PyTorch CPU: PyTorch CPU time / ours (less sensitive to other load)');
}

function printLogProbs(c: BenchConfig, rows: Row[], torch: Row): void {
  console.log(`\nlog-prob pass, config ${c.name}: completionLogProbs on ${logProbRows(c)} rows x ${c.context} tokens (a DPO batch of ${c.batch} pairs; padded rows, log-softmax at the next tokens)`);
  console.log(`${'engine'.padEnd(20)} ${'pass'.padEnd(18)} ${'ms'.padStart(8)} ${'tokens/s'.padStart(9)} ${'x PyTorch'.padStart(9)} ${'CPU ms'.padStart(8)} ${'x PyTorch CPU'.padStart(13)}`);
  for (const r of [torch, ...rows]) {
    if (!r.logprob) continue;
    for (const [pass, label] of [['forward', 'forward (no grad)'], ['backward', 'forward + backward']] as const) {
      const mine = r.logprob[pass], ref = torch.logprob?.[pass];
      const x = ref ? (mine.tokensPerSecond / ref.tokensPerSecond).toFixed(2) : '-';
      const xc = ref ? (ref.cpuMs / mine.cpuMs).toFixed(2) : '-';
      console.log(`${r.engine.padEnd(20)} ${label.padEnd(18)} ${fmt(mine.ms).padStart(8)} ${fmt(mine.tokensPerSecond).padStart(9)} ${x.padStart(9)} ${fmt(mine.cpuMs).padStart(8)} ${xc.padStart(13)}`);
    }
  }
}

/** Mean of two timings of the same pass (PyTorch before and after the tfjs engines). */
function meanTiming(a: Timing, b: Timing, tokens: number): Timing {
  const ms = (a.ms + b.ms) / 2;
  return { ms, cpuMs: (a.cpuMs + b.cpuMs) / 2, tokensPerSecond: tokens / (ms / 1000) };
}

function main(): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`rlhf bench: ${os.cpus().length} cores (${cpu}), ${threads} threads per engine, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const name of configs) {
    const c = BENCH_CONFIGS[name];
    const torchSteps = stepsFor('blas', c);
    const before = runTorch(c, torchSteps);
    const rows: (Row & Partial<EngineResult>)[] = [];
    for (const backend of backends) {
      if (backend === 'cpu' && name !== 'A') { rows.push({ engine: 'tfjs cpu', note: `skipped for config ${name} (a minute or more per step)` }); continue; }
      if (backend === 'wasm' && name === 'C') { rows.push({ engine: 'tfjs wasm', note: 'skipped for config C (A and B show its ratio)' }); continue; }
      rows.push(runEngine({ config: name, backend, steps: stepsFor(backend, c), sample: name === 'A' && backend === 'blas', logprob: name === LOGPROB_CONFIG && backend === 'blas' }));
    }
    const after = before.note ? before : runTorch(c, torchSteps);
    let torch: Row = before;
    if (!before.note && !after.note) {
      const stepMs = (before.stepMs! + after.stepMs!) / 2;
      torch = {
        ...before, engine: 'pytorch (2 runs)', stepMs, tokensPerSecond: tokensPerStep(c) / (stepMs / 1000),
        cpuMsPerStep: (before.cpuMsPerStep! + after.cpuMsPerStep!) / 2, peakRssMB: Math.max(before.peakRssMB!, after.peakRssMB!),
      };
      if (before.logprob && after.logprob) {
        const n = logProbRows(c) * c.context;
        torch.logprob = { forward: meanTiming(before.logprob.forward, after.logprob.forward, n), backward: meanTiming(before.logprob.backward, after.logprob.backward, n) };
      }
    }
    printTable(c, [torch, ...rows], torch);
    if (name === LOGPROB_CONFIG) printLogProbs(c, rows, torch);
    for (const r of rows) {
      if (!r.sampling) continue;
      const s = r.sampling;
      console.log(`sampling (${r.engine}, 32 sequences x 256 new tokens): cached ${s.cachedS.toFixed(1)} s (${(s.tokens / s.cachedS).toFixed(0)} tokens/s), uncached ${s.uncachedS.toFixed(1)} s (${(s.tokens / s.uncachedS).toFixed(0)} tokens/s), cache speed-up ${(s.uncachedS / s.cachedS).toFixed(1)}x`);
    }
  }
  console.log(`\nload after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main();
