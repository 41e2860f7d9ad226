// Kernel microbenchmark at the course shape (config C), in CPU ms per call (all threads): what the
// log-prob pass and the training step spend, piece by piece, on a machine too busy for wall times.
// Usage: RLHF_THREADS=1 tsx bench/micro.ts
import { initBackend, tf } from '../lib/engine/backend';
import { headLogProbs, softmaxCrossEntropy } from '../lib/engine/native';
import { GPT } from '../lib/model/model';
import { padBatch } from '../lib/model/sample';
import { completionLogProbs } from '../lib/model/logprobs';
import { BENCH_CONFIGS, benchGPTConfig, logProbRows, randomBatch } from './common';

function cpuMs(label: string, fn: () => unknown, reps = 10): void {
  for (let i = 0; i < 2; i++) tf.tidy(() => { fn(); });
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) tf.tidy(() => { fn(); });
  const c = process.cpuUsage(c0);
  console.log(`${label.padEnd(48)} ${((c.user + c.system) / 1000 / reps).toFixed(2).padStart(8)} ms CPU`);
}

async function main() {
  await initBackend({ log: () => {} });
  const cfg = BENCH_CONFIGS.C;
  const model = new GPT(benchGPTConfig(cfg));
  const N = logProbRows(cfg) * cfg.context, C = cfg.width, V = cfg.vocab;
  const h = tf.randomNormal([N, C]) as tf.Tensor2D, w = model.params.get('wte')! as unknown as tf.Tensor2D;
  const labels = tf.randomUniform([N], 0, V, 'int32') as tf.Tensor1D;
  const rows = Array.from({ length: logProbRows(cfg) }, (_, b) => Array.from(randomBatch({ ...cfg, batch: 1 }, b).x.dataSync()));
  const { tokens, mask } = padBatch(rows, 0);
  const vars = model.trainableVariables();
  console.log(`N = ${N} rows, C = ${C}, V = ${V}`);
  cpuMs('output layer h @ W^T', () => tf.matMul(h, w, false, true).dataSync());
  cpuMs('  + softmaxCrossEntropy (the logits path)', () => softmaxCrossEntropy(tf.matMul(h, w, false, true) as tf.Tensor2D, labels).dataSync());
  cpuMs('headLogProbs forward', () => headLogProbs(h, w, labels, true).dataSync());
  cpuMs('headLogProbs forward + backward', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, labels, true).sum())([h, w]).map((g) => g.dataSync()));
  cpuMs('forwardHidden (trunk)', () => model.forwardHidden(tokens, { attentionMask: mask }).dataSync());
  cpuMs('completionLogProbs', () => completionLogProbs(model, tokens, mask).logProbs.dataSync());
  cpuMs('completionLogProbs + backward', () => {
    const { grads } = tf.variableGrads(() => completionLogProbs(model, tokens, mask).logProbs.sum() as tf.Scalar, vars);
    Object.values(grads).forEach((g) => g.dataSync());
  }, 5);
  const { x, y } = randomBatch(cfg, 0);
  cpuMs('training loss + backward (batch 16)', () => {
    const { grads } = tf.variableGrads(() => model.loss(x, y), vars);
    Object.values(grads).forEach((g) => g.dataSync());
  }, 5);
}
main();
