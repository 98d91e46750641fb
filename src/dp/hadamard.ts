/**
 * The randomized Hadamard transform y = H·D·x / √n used to flatten an update before it is quantized
 * (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with
 * Secure Aggregation", ICML 2021, §4 "flattening"; Agarwal, Kairouz, Liu 2021, §4; Suresh et al.,
 * "Distributed Mean Estimation with Limited Communication", ICML 2017). H is the n×n Walsh–Hadamard
 * matrix (entries ±1, n a power of two) and D a diagonal of random signs.
 *
 * Why: H·D/√n is orthogonal, so it keeps the L2 norm (and the privacy analysis, which needs only the
 * L2 and L1 sensitivities), but it spreads any vector over all coordinates: each coordinate of the
 * rotated vector is Σ_i ±x_i/√n, a Rademacher sum with Hoeffding tail P(|y_j| ≥ t) ≤
 * 2·exp(−t²n/(2‖x‖²)). A spiky update — all its norm in one coordinate — would otherwise need a ring
 * wide enough for that spike; after rotation every coordinate is O(‖x‖·√(log n / n)), which is what
 * makes the modular wrap-around bound of ./wrap.ts small at a given bit width.
 *
 * D is public and shared by every client of a round (the server must invert the rotation of the
 * sum): it is expanded from a 32-byte seed the coordinator announces per round (docs/PROTOCOL.md
 * §11.4). It must be fresh and
 * independent of the clients' data, but it need not be secret — privacy comes from the noise.
 * @module
 */
import { createCipheriv } from 'node:crypto';
import { sha256 } from '../secagg/crypto/hash.ts';
import { ascii } from '../secagg/encoding.ts';
import { assertIntegerIn, kind } from './checks.ts';

const ROTATION_LABEL = ascii('privagg/v1/dp-rotation');

/**
 * The smallest power of two ≥ n: the length the update is zero-padded to before the transform.
 * @param n - an integer in [1, 2^30]
 * @throws TypeError / RangeError otherwise
 * @example
 * ```ts
 * paddedLength(100_000); // 131072
 * ```
 */
export function paddedLength(n: number): number {
  assertIntegerIn('n', n, 1, 2 ** 30);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The unnormalized fast Walsh–Hadamard transform, in place: x ← H·x, n·log₂ n additions. Applying it
 * twice multiplies by n.
 * @param x - length a power of two
 * @throws TypeError / RangeError if `x` is not a Float64Array of power-of-two length
 */
export function fwht(x: Float64Array): void {
  if (!(x instanceof Float64Array)) throw new TypeError(`x must be a Float64Array, got ${kind(x)}`);
  const n = x.length;
  if (n === 0 || (n & (n - 1)) !== 0) throw new RangeError(`x must have a power-of-two length, got ${n}`);
  // Radix-4 passes (two butterfly levels per sweep over memory), then one radix-2 pass if log₂ n is odd.
  let h = 1;
  for (; 4 * h <= n; h *= 4) {
    const h2 = 2 * h;
    const h3 = 3 * h;
    for (let i = 0; i < n; i += 4 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j]!;
        const b = x[j + h]!;
        const c = x[j + h2]!;
        const d = x[j + h3]!;
        const ab = a + b;
        const amb = a - b;
        const cd = c + d;
        const cmd = c - d;
        x[j] = ab + cd;
        x[j + h] = amb + cmd;
        x[j + h2] = ab - cd;
        x[j + h3] = amb - cmd;
      }
    }
  }
  if (h < n) {
    for (let j = 0; j < h; j++) {
      const a = x[j]!;
      const b = x[j + h]!;
      x[j] = a + b;
      x[j + h] = a - b;
    }
  }
}

function assertSeed(seed: unknown): asserts seed is Uint8Array {
  if (!(seed instanceof Uint8Array)) throw new TypeError(`seed must be a Uint8Array, got ${kind(seed)}`);
  if (seed.length !== 32) throw new RangeError(`seed must be 32 bytes, got ${seed.length}`);
}

/**
 * The sign diagonal D of a round, as n/8 bytes (bit i set ⇔ D_ii = −1): AES-128-CTR keyed by
 * SHA-256("privagg/v1/dp-rotation" ‖ seed)[0..16], counter from zero.
 * @param seed - the round's 32-byte rotation seed
 * @param n - the padded length, in [1, 2^30]
 * @returns ⌈n/8⌉ new bytes
 * @throws TypeError / RangeError on a bad argument
 */
export function rotationSigns(seed: Uint8Array, n: number): Uint8Array {
  assertSeed(seed);
  assertIntegerIn('n', n, 1, 2 ** 30);
  const digest = sha256(ROTATION_LABEL, seed);
  const cipher = createCipheriv('aes-128-ctr', digest.subarray(0, 16), new Uint8Array(16));
  digest.fill(0);
  return new Uint8Array(cipher.update(new Uint8Array(Math.ceil(n / 8))));
}

function applySigns(x: Float64Array, signs: Uint8Array): void {
  for (let i = 0; i < x.length; i++) {
    if ((signs[i >>> 3]! >>> (i & 7)) & 1) x[i] = -x[i]!;
  }
}

function assertPowerOfTwo(x: unknown): asserts x is Float64Array {
  if (!(x instanceof Float64Array)) throw new TypeError(`x must be a Float64Array, got ${kind(x)}`);
  const n = x.length;
  if (n === 0 || (n & (n - 1)) !== 0) throw new RangeError(`x must have a power-of-two length, got ${n}`);
}

/**
 * The forward rotation, in place: x ← H·D·x / √n.
 * @param x - length n, a power of two (zero-pad with {@link paddedLength})
 * @param seed - the round's 32-byte rotation seed
 * @throws TypeError / RangeError on a bad argument
 */
export function rotate(x: Float64Array, seed: Uint8Array): void {
  assertPowerOfTwo(x);
  applySigns(x, rotationSigns(seed, x.length));
  fwht(x);
  const norm = 1 / Math.sqrt(x.length);
  for (let i = 0; i < x.length; i++) x[i]! *= norm;
}

/**
 * The inverse rotation, in place: y ← D·H·y / √n (H/√n is symmetric and its own inverse, D too).
 * @param y - length n, a power of two
 * @param seed - the same seed as the forward rotation
 * @throws TypeError / RangeError on a bad argument
 */
export function unrotate(y: Float64Array, seed: Uint8Array): void {
  assertPowerOfTwo(y);
  const signs = rotationSigns(seed, y.length);
  fwht(y);
  const norm = 1 / Math.sqrt(y.length);
  for (let i = 0; i < y.length; i++) y[i]! *= norm;
  applySigns(y, signs);
}
