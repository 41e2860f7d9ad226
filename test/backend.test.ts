// initBackend: fallback order (with injected module loaders), forcing, clear errors,
// the wasm workarounds, and equal numerics on cpu, cpu+blas and wasm.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendLoaders, initBackend, tf } from '../lib/engine/backend';
import { GPT } from '../lib/model/model';
import { loadNativeKernels } from '../lib/engine/native';
import { Rng } from '../lib/core/rng';

const notFound = (name: string) => {
  const e = new Error(`Cannot find module '${name}'`) as NodeJS.ErrnoException;
  e.code = 'MODULE_NOT_FOUND';
  return e;
};

/** Loaders where only the listed packages load (really), tfjs-node resolves to the npm alias. */
function loaders(opts: { load: string[]; native?: boolean; onRequire?: (name: string) => void }): Partial<BackendLoaders> {
  return {
    requireModule: (name) => {
      opts.onRequire?.(name);
      if (name === '@tensorflow/tfjs-node') return {}; // the alias: loads, registers nothing
      if (!opts.load.includes(name)) throw notFound(name);
      return require(name);
    },
    loadNative: () => (opts.native ? loadNativeKernels() : { error: 'addon not built (test)' }),
  };
}

/** A stand-in for what tfjs-node does on require: register a 'tensorflow' backend. */
function registerFakeTensorflow(): void {
  const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend & { firstUse: boolean };
  tf.registerBackend('tensorflow', () => Object.assign(new Cpu(), { firstUse: false }));
}

const nativeBuilt = !('error' in loadNativeKernels());

afterEach(async () => {
  delete process.env.RLHF_BACKEND;
  if (tf.engine().registryFactory.tensorflow) tf.removeBackend('tensorflow');
  await tf.setBackend('cpu');
});

describe('initBackend fallback order', () => {
  it('skips tfjs-node-gpu (absent), the tfjs-node alias and missing native kernels, lands on wasm, and says why', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l), loaders: loaders({ load: ['@tensorflow/tfjs-backend-wasm'] }) });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.reason).toMatch(/tfjs-node-gpu not installed; tfjs-node resolves without a native 'tensorflow' backend .*; no native kernels: addon not built \(test\)/);
    expect(lines).toEqual([
      'rlhf: training on the CPU with WebAssembly kernels, one thread (slower than the native kernels; why they are not used is on the next line)',
      `      (backend wasm: ${info.reason})`,
    ]);
  });

  it('tells a package that is installed but broken from one that is absent', async () => {
    const info = await initBackend({
      log: () => {},
      loaders: {
        ...loaders({ load: [] }),
        requireModule: (name) => { throw name.endsWith('-gpu') ? notFound('/x/lib/napi-v8/tfjs_binding.node') : notFound(name); },
      },
    });
    expect(info.reason).toMatch(/tfjs-node-gpu failed to load \(Cannot find module '\/x\/lib\/napi-v8\/tfjs_binding.node'\); tfjs-node not installed/);
  });

  it('falls back to plain cpu when nothing faster loads', async () => {
    const info = await initBackend({ log: () => {}, loaders: loaders({ load: [] }) });
    expect(info.name).toBe('cpu');
    expect(info.reason).toMatch(/tfjs-backend-wasm not installed/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('prefers tfjs-node-gpu, then tfjs-node, when they really register a tensorflow backend', async () => {
    const gpu = await initBackend({
      log: () => {},
      loaders: { ...loaders({ load: [] }), requireModule: (name) => { if (name.endsWith('-gpu')) return registerFakeTensorflow(); throw notFound(name); } },
    });
    expect(gpu.name).toBe('tensorflow-gpu');
    expect(tf.getBackend()).toBe('tensorflow');
    tf.removeBackend('tensorflow');
    const order: string[] = [];
    const node = await initBackend({
      log: () => {},
      loaders: {
        ...loaders({ load: [] }),
        requireModule: (name) => { order.push(name); if (name === '@tensorflow/tfjs-node') return registerFakeTensorflow(); throw notFound(name); },
      },
    });
    expect(node.name).toBe('tensorflow');
    expect(node.reason).toMatch(/tfjs-node loaded; tfjs-node-gpu not installed/);
    expect(order).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  });

  it('with the real modules picks cpu+blas when the addon is built, else wasm', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l), loaders: {} });
    expect(lines).toHaveLength(2);
    if (nativeBuilt) {
      expect(info.name).toBe('cpu+blas');
      expect(info.kernels).toEqual(expect.arrayContaining(['BatchMatMul', 'UnsortedSegmentSum', 'RlhfLayerNorm']));
      expect(lines[0]).toMatch(/^rlhf: training on the CPU with fast native kernels \(OpenBLAS, \d+ threads?\)$/);
      expect(lines[1]).toMatch(/^ {6}\(backend cpu\+blas: native OpenBLAS kernels for \d+ ops/);
    } else {
      expect(info.name).toBe('wasm');
    }
  });

  it('silences the "install tfjs-node" banner of the cpu backend', () => {
    expect((tf.findBackend('cpu') as unknown as { firstUse: boolean }).firstUse).toBe(false);
    const warn = vi.spyOn(console, 'warn');
    tf.tidy(() => tf.add(tf.tensor1d([1]), 1));
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe('forcing a backend', () => {
  it('RLHF_BACKEND picks the backend and the line says so', async () => {
    process.env.RLHF_BACKEND = 'wasm';
    const info = await initBackend({ log: () => {}, loaders: {} });
    expect(info.name).toBe('wasm');
    expect(info.reason).toMatch(/forced by RLHF_BACKEND=wasm/);
    process.env.RLHF_BACKEND = 'cpu';
    expect((await initBackend({ log: () => {}, loaders: {} })).name).toBe('cpu');
  });

  it('a forced backend that cannot load is an error naming why', async () => {
    await expect(initBackend({ force: 'gpu', log: () => {}, loaders: {} })).rejects.toThrow(/tfjs-node-gpu/);
    await expect(initBackend({ force: 'tensorflow', log: () => {}, loaders: {} })).rejects.toThrow(/tfjs-node resolves without a native 'tensorflow' backend/);
    await expect(initBackend({ force: 'blas', log: () => {}, loaders: loaders({ load: [] }) })).rejects.toThrow(/addon not built \(test\)/);
    process.env.RLHF_BACKEND = 'tpu';
    await expect(initBackend({ log: () => {}, loaders: {} })).rejects.toThrow(/RLHF_BACKEND=tpu is not a backend; use one of gpu, tensorflow, blas, wasm, cpu/);
  });
});

describe('the same numbers on every backend', () => {
  /** Loss and gradients of a tiny GPT (weights from a seed, so identical on each backend). */
  async function lossAndGrads(force: 'cpu' | 'blas' | 'wasm'): Promise<Float32Array[]> {
    await initBackend({ force, log: () => {}, loaders: {} });
    const model = new GPT({ vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0, tieWeights: true, seed: 4 });
    const rng = new Rng(2);
    const ids = () => tf.tensor2d(Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => rng.int(13))), [3, 8], 'int32');
    const x = ids(), y = ids();
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars);
    const out = [value, ...vars.map((v) => grads[v.name])].map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose([x, y, value, ...Object.values(grads)]);
    model.dispose();
    return out;
  }

  it('tiny GPT loss and gradients: cpu, cpu+blas and wasm agree to 1e-4', async () => {
    const ref = await lossAndGrads('cpu');
    const others = nativeBuilt ? ['blas', 'wasm'] as const : ['wasm'] as const;
    for (const force of others) {
      const got = await lossAndGrads(force);
      ref.forEach((r, i) => r.forEach((x, j) => {
        if (Math.abs(got[i][j] - x) > 1e-4) throw new Error(`${force}: output ${i} element ${j}: ${got[i][j]} vs cpu ${x}`);
      }));
    }
  });

  it('wasm workarounds: float32 oneHot and UnsortedSegmentSum (gather gradient) are right', async () => {
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const onCpu = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))))(tf.ones([3, 2])).arraySync();
    await initBackend({ force: 'wasm', log: () => {}, loaders: {} });
    expect(tf.oneHot(tf.tensor1d([1, 0], 'int32'), 3, 1, 0, 'float32').arraySync()).toEqual([[0, 1, 0], [1, 0, 0]]);
    const onWasm = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))))(tf.ones([3, 2])).arraySync();
    expect(onWasm).toEqual([[3, 4], [0, 0], [6, 8]]);
    expect(onWasm).toEqual(onCpu);
  });
});
