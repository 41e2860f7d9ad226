// One benchmark run in its own process (so peak memory is per engine): trains a
// config with this library on one backend and prints `RESULT {json}`.
// Usage: node --import tsx bench/engine.ts '{"config":"A","backend":"blas","steps":20,"sample":true}'
import { initBackend, tf } from '../lib/engine/backend';
import { GPT } from '../lib/model/model';
import { generate } from '../lib/model/sample';
import { PRETRAIN_PRESETS, pretrain } from '../lib/train/pretrain';
import { BENCH_CONFIGS, benchGPTConfig, randomBatch, tokensPerStep } from './common';

export interface EngineJob {
  config: 'A' | 'B';
  backend: 'gpu' | 'tensorflow' | 'blas' | 'wasm' | 'cpu';
  steps: number;
  /** Also time sampling: 32 sequences x 256 new tokens, cached and uncached. */
  sample?: boolean;
}

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
