/**
 * Conditional randomized rounding of a scaled, rotated update to integers, with a hard bound on the
 * L2 norm of the result (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for
 * Federated Learning with Secure Aggregation", ICML 2021, §4.1 and Thm 21; the same bound is used by
 * Agarwal, Kairouz, Liu 2021, §4, for the Skellam mechanism).
 *
 * Randomized (stochastic) rounding sends y_i to ⌊y_i⌋ + 1 with probability y_i − ⌊y_i⌋, else to
 * ⌊y_i⌋: unbiased, but it can grow the norm — each coordinate moves by less than 1, so
 * ‖ỹ‖₂ < ‖y‖₂ + √n. The privacy analysis needs the norm of what is actually sent, so the rounding is
 * *conditional*: it is redrawn until ‖ỹ‖₂² ≤ Δ₂², where for ‖y‖₂ ≤ c (Kairouz et al. 2021, Thm 21)
 *
 *   Δ₂² = min{ c² + n/4 + √(2·ln(1/β))·(c + √n/2),  (c + √n)² }
 *
 * is a bound that a single unconditional rounding meets with probability at least 1 − β. The check
 * is exact (sums of squares of integers below 2^53), so the bound on what leaves the client holds
 * with certainty, whatever the concentration argument says; β only trades how often a redraw happens
 * against how tight Δ₂ is. Kairouz et al. use β = e^{−1/2} (√(2 ln(1/β)) = 1); but when c ≫ √n,
 * ‖ỹ‖² − ‖y‖² = Σ(2y_i·e_i + e_i²) has standard deviation ≈ 2c·√(1/6) ≈ 0.82c for typical fractional
 * parts, so a slack of 1·c is exceeded about one time in nine. The default here is β = e^{−2}
 * (slack 2c, ≈ 2.4 standard deviations: well under 1% redraws), which makes Δ₂ larger by about
 * 1/(2c) relative — 10^−5 at c = 5·10^4. A rounding that keeps failing stops the client with an
 * error — it is never sent unbounded.
 * @module
 */
import { kind } from './checks.ts';
import { exp, log } from './fdlibm.ts';
import type { RandomStream } from './sampling.ts';

/** Conditional rounding redraws at most this many times before giving up with an error. */
export const MAX_ROUNDING_ATTEMPTS = 64;

/** The largest Δ₂² accepted: keeps every partial sum of squares an exact integer in a double. */
export const MAX_SQUARED_BOUND = 2 ** 52;

/** The default β = e^{−2}, for which √(2 ln(1/β)) = 2 (see the module comment). */
export const DEFAULT_BETA = exp(-2);

/**
 * The conditional rounding bound Δ₂², rounded down to an integer (‖ỹ‖₂² is an integer, so this
 * loses nothing).
 * @param c - the L2 bound on the vector before rounding, in units of the integer grid, ≥ 0
 * @param n - its length
 * @param beta - in [0, 1); 0 selects the deterministic bound (c + √n)²
 * @returns ⌊Δ₂²⌋
 */
export function roundedSquaredBound(c: number, n: number, beta: number): number {
  // Every operation as PROTOCOL.md §11.2 writes it, ln from fdlibm (./fdlibm.ts): a client and the
  // coordinator in any language must arrive at the same integer, which sets the client's noise.
  const root = c + Math.sqrt(n);
  const deterministic = root * root;
  if (beta === 0) return Math.floor(deterministic);
  const concentrated = c * c + n / 4 + Math.sqrt(2 * log(1 / beta)) * (c + Math.sqrt(n) / 2);
  return Math.floor(Math.min(deterministic, concentrated));
}

/**
 * Rounds `y` to integers into `out`, stochastically, redrawing until Σ out_i² ≤ `squaredBound`.
 * Coordinate i rounds up iff u_i < frac(y_i)·2^32 for a fresh uniform 32-bit u_i (so the rounding
 * probability is exact to 2^−32).
 * @param y - the values; every |y_i| + 1 must be below 2^26, and y finite
 * @param squaredBound - an integer in [0, 2^52]
 * @param stream - randomness
 * @param out - receives the rounded values, same length as `y`
 * @returns the number of draws it took (1 unless the first rounding exceeded the bound)
 * @throws RangeError if `MAX_ROUNDING_ATTEMPTS` draws all exceed the bound, or on a bad argument
 */
export function conditionalRound(
  y: Float64Array,
  squaredBound: number,
  stream: RandomStream,
  out: Int32Array,
): number {
  if (!(y instanceof Float64Array)) throw new TypeError(`y must be a Float64Array, got ${kind(y)}`);
  if (!(out instanceof Int32Array) || out.length !== y.length) {
    throw new TypeError(`out must be an Int32Array of length ${y.length}, got ${kind(out)}`);
  }
  if (!Number.isSafeInteger(squaredBound) || squaredBound < 0 || squaredBound > MAX_SQUARED_BOUND) {
    throw new RangeError(`squaredBound must be an integer in [0, 2^52], got ${squaredBound}`);
  }
  const n = y.length;
  for (let attempt = 1; attempt <= MAX_ROUNDING_ATTEMPTS; attempt++) {
    let sumSquares = 0;
    let i = 0;
    for (; i < n; i++) {
      const v = y[i]!;
      const floor = Math.floor(v);
      // Round up iff u < f·2^32: d = u − f·2^32 has the sign of the exact difference, and
      // ⌊d·2^−32⌋ is −1 exactly when rounding up (branch-free, as in src/secagg/quantize.ts).
      const d = stream.uint32() - (v - floor) * 4294967296;
      const q = floor - Math.floor(d * 2.3283064365386963e-10);
      out[i] = q;
      sumSquares += q * q;
      if (sumSquares > squaredBound) break;
    }
    if (i === n) return attempt;
  }
  throw new RangeError(
    `conditional rounding exceeded its L2 bound ${MAX_ROUNDING_ATTEMPTS} times in a row ` +
      `(squared bound ${squaredBound}); the update is not sent`,
  );
}
