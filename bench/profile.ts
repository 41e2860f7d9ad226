// Kernel-time histogram of one GPT training step (forward, backward, AdamW) on the
// current backend: which tfjs kernels dominate. Usage: tsx bench/profile.ts [A|B|C]
import { initBackend, tf } from '../lib/engine/backend';
import { GPT } from '../lib/model/model';
import { AdamW } from '../lib/train/train';
import { BENCH_CONFIGS, BenchName, benchGPTConfig, printKernelTimes, randomBatch } from './common';

async function main() {
  await initBackend();
  const cfg = BENCH_CONFIGS[(process.argv[2] ?? 'A') as BenchName];
  const model = new GPT(benchGPTConfig(cfg));
  const params = model.parameters();
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
  const vars = params.map((p) => p.variable);
  const step = () => {
    const { x, y } = randomBatch(cfg, 0);
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars);
    opt.step(vars.map((v) => grads[v.name]), 1e-3);
    tf.dispose([x, y, value, ...Object.values(grads)]);
  };
  for (let i = 0; i < 3; i++) step();
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - t0;
  printKernelTimes(info, `step under profiler: ${wall.toFixed(0)} ms wall`);
}
main();
