// Kernel microbenchmark at the course shape (config C): CPU ms per call (all threads) of the
// output layer's pieces, for developing kernels on a busy machine. Usage: tsx bench/micro.ts
import { initBackend, tf } from '../lib/engine/backend';
import { softmaxCrossEntropy } from '../lib/engine/native';

function cpuMs(label: string, fn: () => tf.Tensor | tf.Tensor[], reps = 10): void {
  for (let i = 0; i < 2; i++) tf.dispose(fn());
  const c0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < reps; i++) tf.dispose(fn());
  const c = process.cpuUsage(c0);
  console.log(`${label.padEnd(40)} cpu ${((c.user + c.system) / 1000 / reps).toFixed(2).padStart(8)} ms  wall ${((performance.now() - t0) / reps).toFixed(2).padStart(8)} ms`);
}

async function main() {
  await initBackend({ log: () => {} });
  const N = 1024, C = 128, V = 4067;
  const h = tf.randomNormal([N, C]), w = tf.randomNormal([V, C], 0, 0.02);
  const labels = tf.randomUniform([N], 0, V, 'int32') as tf.Tensor1D;
  const logits = tf.matMul(h, w, false, true) as tf.Tensor2D;
  const dl = tf.randomNormal([N, V]);
  cpuMs('head fwd h @ W^T [1024x128]x[128x4067]', () => tf.matMul(h, w, false, true));
  cpuMs('head bwd dh = dlogits @ W', () => tf.matMul(dl, w));
  cpuMs('head bwd dW = dlogits^T @ h', () => tf.matMul(dl, h, true, false));
  cpuMs('xent fwd [1024, 4067]', () => softmaxCrossEntropy(logits, labels));
  cpuMs('xent fwd+bwd', () => tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z as tf.Tensor2D, labels).sum())(logits));
  cpuMs('head+xent fwd+bwd (stock path)', () => {
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => softmaxCrossEntropy(tf.matMul(a, b, false, true) as tf.Tensor2D, labels).mean());
    return g([h, w]);
  });
  cpuMs('sum over rows [1024, 512]', () => tf.sum(dl.slice([0, 0], [N, 512]), 0));
}
main();
