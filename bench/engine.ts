// One benchmark run in its own process (so peak memory is per engine): trains a
// config with this library on one backend and prints `RESULT {json}`.
// Usage: node --import tsx bench/engine.ts '{"config":"A","backend":"blas","steps":20,"sample":true}'
import { initBackend, tf } from '../lib/engine/backend';
import { GPT } from '../lib/model/model';
import { generate, padBatch } from '../lib/model/sample';
import { completionLogProbs } from '../lib/model/logprobs';
import { PRETRAIN_PRESETS, pretrain } from '../lib/train/pretrain';
import { BENCH_CONFIGS, BenchConfig, BenchName, benchGPTConfig, logProbRows, randomBatch, tokensPerStep } from './common';

export interface EngineJob {
  config: BenchName;
  backend: 'gpu' | 'tensorflow' | 'blas' | 'wasm' | 'cpu';
  steps: number;
  /** Also time sampling: 32 sequences x 256 new tokens, cached and uncached. */
  sample?: boolean;
  /** Also time the log-prob pass (completionLogProbs on 2 x batch padded rows), without and with its backward. */
  logprob?: boolean;
}

/** One timed operation: median wall ms, CPU ms (all threads) per call, tokens/s from the median. */
export interface Timing { ms: number; cpuMs: number; tokensPerSecond: number }

export interface EngineResult {
  engine: string;
  stepMs: number;
  minStepMs: number;
  /** CPU time (all threads) per timed step: less sensitive to other load than wall time. */
  cpuMsPerStep: number;
  tokensPerSecond: number;
  peakRssMB: number;
  matmulGflops: number;
  loss: number;
  sampling?: { cachedS: number; uncachedS: number; tokens: number };
  logprob?: { forward: Timing; backward: Timing };
}

const WARMUP_STEPS = 2;

/** Matmul throughput of the backend: n^3 multiply-adds, best of a few. */
function matmulGflops(n: number): number {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1), b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

function timeSampling(model: GPT, useCache: boolean): number {
  const t0 = performance.now();
  generate(model, Array.from({ length: 32 }, (_, i) => [i % model.config.vocabSize]), {
    maxNewTokens: 256, padId: 0, useCache, temperature: 1, seed: 1,
  });
  return (performance.now() - t0) / 1000;
}

/** Median and CPU time of `reps` calls of f (after two warm-up calls) on `tokens` tokens each. */
function timeIt(f: () => void, reps: number, tokens: number): Timing {
  f(); f();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 / reps, tokensPerSecond: tokens / (ms / 1000) };
}

/**
 * The log-prob pass of KL penalties, PPO and DPO: completionLogProbs on 2 x batch rows of the full
 * context, each row with a few pads at its end (the mask is real): forward alone (a reference
 * model's pass) and forward + backward of a weighted sum (the policy's pass in DPO).
 */
function timeLogProbs(model: GPT, cfg: BenchConfig, reps: number): { forward: Timing; backward: Timing } {
  const rows = Array.from({ length: logProbRows(cfg) }, (_, b) => {
    const { x } = randomBatch({ ...cfg, batch: 1 }, 1000 + b);
    const ids = Array.from(x.dataSync()).slice(0, cfg.context - (b % 8));
    x.dispose();
    return ids;
  });
  const { tokens, mask } = padBatch(rows, 0, cfg.context);
  const weights = tf.randomNormal(tokens.shape, 0, 1, 'float32', 3);
  const vars = model.trainableVariables();
  const n = tokens.size;
  const forward = timeIt(() => tf.tidy(() => { completionLogProbs(model, tokens, mask).logProbs.dataSync(); }), reps, n);
  const backward = timeIt(() => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(completionLogProbs(model, tokens, mask).logProbs, weights)) as tf.Scalar, vars);
    value.dataSync();
    tf.dispose(Object.values(grads));
  }), reps, n);
  tf.dispose([tokens, mask, weights]);
  return { forward, backward };
}

async function main(job: EngineJob): Promise<EngineResult> {
  const info = await initBackend({ force: job.backend, log: () => {} });
  const cfg = BENCH_CONFIGS[job.config];
  const model = new GPT(benchGPTConfig(cfg));
  const times: number[] = [];
  let last = performance.now(), loss = NaN;
  let cpuStart = process.cpuUsage(), cpuEnd = cpuStart;
  // the course's pretraining step (pretrain.ts) on fixed random batches (the same in torch_gpt.py)
  await pretrain({ model, batch: (step) => randomBatch(cfg, step) }, {
    ...PRETRAIN_PRESETS.course, steps: WARMUP_STEPS + job.steps, warmupSteps: 1, evalEvery: 0, livePlot: false, batchSize: cfg.batch,
  }, {
    display: false,
    onStep: (rec) => {
      const now = performance.now();
      if (rec.step === WARMUP_STEPS - 1) cpuStart = process.cpuUsage();
      if (rec.step >= WARMUP_STEPS) times.push(now - last);
      cpuEnd = process.cpuUsage(cpuStart);
      last = now;
      loss = rec.loss;
    },
  });
  const sorted = [...times].sort((a, b) => a - b);
  const stepMs = sorted[Math.floor(sorted.length / 2)];
  const result: EngineResult = {
    engine: `tfjs ${info.name}`,
    stepMs,
    minStepMs: sorted[0],
    cpuMsPerStep: (cpuEnd.user + cpuEnd.system) / 1000 / times.length,
    tokensPerSecond: tokensPerStep(cfg) / (stepMs / 1000),
    peakRssMB: 0,
    matmulGflops: matmulGflops(job.backend === 'cpu' ? 256 : 1024),
    loss,
  };
  if (job.logprob) result.logprob = timeLogProbs(model, cfg, job.steps);
  if (job.sample) {
    result.sampling = { cachedS: timeSampling(model, true), uncachedS: timeSampling(model, false), tokens: 32 * 256 };
  }
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  model.dispose();
  return result;
}

main(JSON.parse(process.argv[2]) as EngineJob).then(
  (r) => console.log(`RESULT ${JSON.stringify(r)}`),
  (e) => { console.error(`bench engine failed: ${(e as Error).message}`); process.exit(1); },
);
