// Native BLAS kernels for the tfjs 'cpu' backend: load the addon, patch the
// backend for buffer reuse, replace the hot kernels, register the fused ones.
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { registerFusedKernels } from './fused';
import { NativeContext, NATIVE_KERNELS, nativeState } from './kernels';
import { registerAdamWKernel } from './optimizer';
import { BufferPool, CpuBackendLike } from './pool';

export { nativeState } from './kernels';
export { BLOCK_PARAMS, blockFusable, blockParamShapes, fusedAttention, fusedGelu, fusedLayerNorm, headLogProbs, softmaxCrossEntropy, transformerBlock } from './fused';
export type { BlockParamName, BlockParams } from './fused';
export { adamwUpdate, AdamWHyper } from './optimizer';

export interface NativeKernels {
  /** Names of the tfjs kernels now served natively (stock ones replaced plus fused ones). */
  kernels: string[];
  threads: number;
  pool: BufferPool;
}

let loaded: NativeKernels | undefined;
/** Stock and native versions of each replaced kernel. */
const replaced = new Map<string, { stock: tf.KernelFunc; native: tf.KernelFunc }>();


/**
 * Registers the native kernels for the 'cpu' backend (idempotent). Returns them,
 * or `{ error }` with a one-line reason when the addon is not built or cannot load;
 * tfjs then keeps its stock kernels.
 */
export function loadNativeKernels(): NativeKernels | { error: string } {
  if (loaded) return loaded;
  const { addon, error } = loadAddon();
  if (!addon) return { error: error ?? 'addon unavailable' };
  const backend = tf.findBackend('cpu') as unknown as CpuBackendLike | null;
  if (!backend) return { error: "tfjs 'cpu' backend is not registered" };
  const pool = new BufferPool();
  pool.install(backend);
  const ctx = new NativeContext(addon, pool, backend);
  const kernels: string[] = [];
  for (const [kernelName, factory] of Object.entries(NATIVE_KERNELS)) {
    const stock = tf.getKernel(kernelName, 'cpu');
    if (!stock) continue;
    replaced.set(kernelName, { stock: stock.kernelFunc, native: factory(ctx, stock.kernelFunc as never) as unknown as tf.KernelFunc });
    kernels.push(kernelName);
  }
  useNativeKernels(true);
  kernels.push(...registerFusedKernels(ctx));
  kernels.push(registerAdamWKernel(ctx));
  loaded = { kernels, threads: addon.threads(), pool };
  return loaded;
}

/**
 * Switches the 'cpu' backend between native kernels (cpu+blas) and tfjs's stock
 * ones (plain cpu; fused ops then use their tfjs formulation). Lets one process
 * compare cpu and cpu+blas numerics.
 */
export function useNativeKernels(enabled: boolean): void {
  nativeState.enabled = enabled && replaced.size > 0;
  for (const [kernelName, k] of replaced) {
    tf.unregisterKernel(kernelName, 'cpu');
    tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc: enabled ? k.native : k.stock });
  }
}
