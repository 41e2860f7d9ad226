/**
 * Seeded random numbers (mulberry32 for uniforms, Box-Muller for normals). Every sample,
 * shuffle and initialisation in the course draws from an Rng, so a result is reproducible
 * from its seed. Not cryptographic.
 */
export class Rng {
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: number = 1337) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Index drawn from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(w >= 0)) throw new Error(`Rng.categorical: weight ${i} is ${w}; weights must be >= 0`);
      total += w;
    }
    if (!(total > 0)) throw new Error('Rng.categorical: weights sum to 0');
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /**
   * Minibatches of indices into `n` items for training by epochs: each call returns the next
   * `batchSize` indices of a shuffle of 0..n-1, reshuffled (from this Rng) when one runs out, so
   * every item is seen once per epoch and the order is reproducible from the seed.
   */
  batches(n: number, batchSize: number): () => number[] {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.batches: n must be a positive integer, got ${n}`);
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`Rng.batches: batchSize must be a positive integer, got ${batchSize}`);
    let order: number[] = [];
    return () => {
      const idx: number[] = [];
      while (idx.length < batchSize) {
        if (order.length === 0) order = this.shuffle(Array.from({ length: n }, (_, i) => i));
        idx.push(order.pop()!);
      }
      return idx;
    };
  }

  /** A fresh integer seed for a tfjs op that takes one (tf.randomNormal etc.). */
  seed(): number {
    return this.int(2 ** 31 - 1);
  }
}
