/**
 * Seeded randomness for *simulation* only: splitting data sets, partitioning examples across
 * simulated clients, initialising model weights, shuffling batches, sampling cohorts. Runs must be
 * reproducible from one integer seed, so this is a small deterministic PRNG (xoshiro128**, Blackman &
 * Vigna 2018, seeded through splitmix32), not a CSPRNG.
 *
 * It must never feed anything secret or privacy-relevant: masks, keys and shares come from
 * `src/secagg/rng.ts`, and differential-privacy noise from `src/dp/sampling.ts` driven by the OS
 * CSPRNG. Someone who knows the seed knows every draw made here, which is the point.
 * @module
 */
import { assertIntegerIn, assertPositive, kind } from '../dp/checks.ts';

/** 2^-53, the spacing of the uniform doubles returned by {@link SimRandom.uniform}. */
const TWO_POW_MINUS_53 = 2 ** -53;

/** splitmix32's mixing step: spreads a 32-bit state into a well-mixed 32-bit output. */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a label: turns a stream name into 32 bits. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A deterministic random stream for simulations (xoshiro128**). Two streams made from the same seed
 * and label draw the same values; different labels give unrelated streams, so each use (the split,
 * the partition, client 7's batch order, …) gets its own stream and adding a draw in one place does
 * not shift every other.
 * @example
 * ```ts
 * const rng = new SimRandom(42, 'partition');
 * rng.int(10); // the same value on every run
 * ```
 */
export class SimRandom {
  readonly #s = new Uint32Array(4);

  /**
   * @param seed - an integer in [0, 2^32)
   * @param label - names the stream; streams with different labels are independent in practice
   * @throws TypeError / RangeError for a bad seed
   */
  constructor(seed: number, label = '') {
    assertIntegerIn('seed', seed, 0, 2 ** 32 - 1);
    if (typeof label !== 'string') throw new TypeError(`label must be a string, got ${kind(label)}`);
    // splitmix32 over (seed, label) fills the state: never all zero, well spread for nearby seeds.
    let x = (seed ^ Math.imul(hashLabel(label), 0x9e3779b9)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.#s[i] = mix32(x);
    }
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
  }

  /** An independent stream derived from this one's next draw and a label (for per-client streams). */
  fork(label: string): SimRandom {
    return new SimRandom(this.next(), label);
  }

  /** The next 32-bit word. */
  next(): number {
    const s = this.#s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    return result;
  }

  /** A uniform double in [0, 1) on the 2^-53 grid. */
  uniform(): number {
    const hi = this.next() >>> 5; // 27 bits
    const lo = this.next() >>> 6; // 26 bits
    return (hi * 67108864 + lo) * TWO_POW_MINUS_53;
  }

  /**
   * A uniform integer in [0, n), without modulo bias: words at or above the largest multiple of n
   * below 2^32 are rejected (fewer than half of the draws, however large n is).
   * @throws RangeError unless n is an integer in [1, 2^32]
   */
  int(n: number): number {
    assertIntegerIn('n', n, 1, 2 ** 32);
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.next();
      if (x < limit) return x % n;
    }
  }

  /** A standard normal draw (Marsaglia's polar method). */
  normal(): number {
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
    }
  }

  /**
   * The logarithm of a Gamma(shape, 1) draw. Marsaglia & Tsang (2000) for shape ≥ 1; for shape < 1
   * the boost Gamma(a) = Gamma(a + 1)·U^(1/a), kept in log space because for a small shape (a
   * Dirichlet with α = 0.01) the draw itself underflows to 0 and every proportion would be 0/0.
   * @throws RangeError unless shape is a finite number > 0
   */
  logGamma(shape: number): number {
    assertPositive('shape', shape);
    if (shape < 1) {
      let u = this.uniform();
      while (u === 0) u = this.uniform();
      return this.logGamma(shape + 1) + Math.log(u) / shape;
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x ** 4) return Math.log(d * v);
      if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return Math.log(d * v);
    }
  }

  /**
   * A draw from the Dirichlet distribution with the given concentrations: normalised Gamma draws,
   * computed from their logarithms (a softmax) so tiny concentrations do not underflow.
   * @returns a Float64Array of proportions summing to 1
   */
  dirichlet(concentrations: readonly number[]): Float64Array {
    if (!Array.isArray(concentrations) || concentrations.length === 0) {
      throw new RangeError('concentrations must be a non-empty array');
    }
    const logs = concentrations.map((a) => this.logGamma(a));
    const max = Math.max(...logs);
    const out = new Float64Array(logs.length);
    let sum = 0;
    logs.forEach((l, i) => {
      out[i] = Math.exp(l - max);
      sum += out[i]!;
    });
    for (let i = 0; i < out.length; i++) out[i]! /= sum;
    return out;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /**
   * `k` distinct integers drawn uniformly from [0, n), in increasing order.
   * @throws RangeError unless 0 ≤ k ≤ n
   */
  sample(n: number, k: number): Uint32Array {
    assertIntegerIn('n', n, 0, 2 ** 32 - 1);
    assertIntegerIn('k', k, 0, n);
    const all = new Uint32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    // A partial Fisher–Yates: the first k slots end up a uniform k-subset.
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const tmp = all[i]!;
      all[i] = all[j]!;
      all[j] = tmp;
    }
    return all.slice(0, k).sort();
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
