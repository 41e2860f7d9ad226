// Reuse of output arrays for the native kernels. A training step makes ~2,000
// kernel outputs; a fresh Float32Array each time made V8 run hundreds of
// "external memory pressure" collections a step. Arrays of disposed tensors go
// back to a free list per length instead.
//
// Safety rules (an array in the pool may be overwritten at any time):
// - only arrays this pool allocated are ever recycled;
// - an array that escapes to user code (readSync/read: dataSync(), data(), array())
//   or that another tensor aliases (stock Slice returns a subarray view; stock
//   Cast can hand the same array to a second tensor) is never recycled.

import * as os from 'os';

/** The parts of tfjs's MathBackendCPU this module touches. */
export interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown; refCount: number } | undefined; has(dataId: object): boolean };
  write(values: unknown, shape: number[], dtype: string): object;
  readSync(dataId: object): unknown;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Free arrays are capped so a change of shapes cannot grow the pool without bound; past
 * the cap, the lengths asked for least recently are dropped first (a training step asks for
 * the same lengths every step, a growing KV cache for a new length every token). */
const MAX_FREE_BYTES = Math.min(1024 * 1024 * 1024, os.totalmem() / 8);
/** A length nobody asked for in this many allocations (a few training steps) is dropped. */
const STALE_AFTER = 20000;

export class BufferPool {
  /** Free arrays by length, least recently asked-for length first. */
  private free = new Map<number, Float32Array[]>();
  /** Allocation count when each length was last asked for. */
  private lastAsked = new Map<number, number>();
  private clock = 0;
  private freeBytes = 0;
  /** Buffers this pool allocated and that are still safe to recycle. */
  private owned = new WeakSet<ArrayBuffer>();
  /** Set while our own kernels write their outputs into the backend. */
  private writingOwn = false;
  allocated = 0;
  reused = 0;

  /** A Float32Array of length n with unspecified contents. */
  alloc(n: number): Float32Array {
    this.lastAsked.set(n, ++this.clock);
    const list = this.free.get(n);
    if (list) {
      // Map order is recency order: move this length to the back.
      this.free.delete(n);
      this.free.set(n, list);
    }
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= reused.byteLength;
      this.owned.add(reused.buffer as ArrayBuffer);
      this.reused++;
      return reused;
    }
    const arr = new Float32Array(n);
    this.owned.add(arr.buffer);
    this.allocated++;
    return arr;
  }

  /** Run `write` (which stores pooled arrays in the backend) without marking them escaped. */
  asOwn<T>(write: () => T): T {
    this.writingOwn = true;
    try {
      return write();
    } finally {
      this.writingOwn = false;
    }
  }

  private escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owned.delete(values.buffer as ArrayBuffer);
  }

  private recycle(values: unknown): void {
    if (!(values instanceof Float32Array) || !this.owned.has(values.buffer as ArrayBuffer)) return;
    if (values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) return;
    for (const [n, old] of this.free) {
      const stale = this.clock - (this.lastAsked.get(n) ?? 0) > STALE_AFTER;
      if (!stale && this.freeBytes + values.byteLength <= MAX_FREE_BYTES) break;
      this.freeBytes -= old.reduce((sum, a) => sum + a.byteLength, 0);
      this.free.delete(n);
      this.lastAsked.delete(n);
    }
    if (this.freeBytes + values.byteLength > MAX_FREE_BYTES) return;
    this.owned.delete(values.buffer as ArrayBuffer); // re-added when handed out again
    let list = this.free.get(values.length);
    if (!list) this.free.set(values.length, (list = []));
    list.push(values);
    this.freeBytes += values.byteLength;
  }

  /** Patch one CPU backend instance so disposals feed the pool and escapes are tracked. */
  install(backend: CpuBackendLike): void {
    const pool = this;
    const { write, readSync, disposeData } = backend;
    backend.write = function (values, shape, dtype) {
      if (!pool.writingOwn) pool.escape(values);
      return write.call(this, values, shape, dtype);
    };
    backend.readSync = function (dataId) {
      pool.escape(this.data.get(dataId)?.values);
      return readSync.call(this, dataId);
    };
    backend.disposeData = function (dataId, force = false) {
      const entry = this.data.get(dataId);
      const values = entry?.values;
      const last = entry !== undefined && (force || entry.refCount <= 1);
      const released = disposeData.call(this, dataId, force);
      if (last && !this.data.has(dataId)) pool.recycle(values);
      return released;
    };
  }
}
