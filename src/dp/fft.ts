/**
 * Complex fast Fourier transform (iterative radix-2 Cooley–Tukey, in place on separate real and
 * imaginary arrays), for composing privacy loss distributions by convolution (./pld.ts).
 *
 * Error bound. Higham, "Accuracy and Stability of Numerical Algorithms" (2nd ed., Thm 24.2): the
 * computed transform ŷ of x satisfies ‖ŷ − y‖₂ ≤ (log₂N·η/(1 − log₂N·η))·‖y‖₂ with
 * η = μ + γ₄(√2 + μ), μ the error of the twiddle factors and γ₄ = 4u/(1 − 4u), u = 2⁻⁵³. The twiddles
 * here come from Math.cos/Math.sin of 2πk/N (μ ≤ 2u), so η < 8u; {@link fftRelativeError} returns the
 * resulting bound, which ./pld.ts turns into probability mass it adds to the pessimistic side.
 * @module
 */

const U = 2 ** -53;

/** Higham's relative ℓ2 error bound of one transform of length n (a power of 2). */
export function fftRelativeError(n: number): number {
  const eta = 8 * U;
  const l = Math.log2(n);
  return (l * eta) / (1 - l * eta);
}

const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddlesFor(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddles.get(n);
  if (!t) {
    const half = n >> 1;
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const angle = (2 * Math.PI * k) / n;
      cos[k] = Math.cos(angle);
      sin[k] = Math.sin(angle);
    }
    t = { cos, sin };
    if (twiddles.size > 8) twiddles.clear();
    twiddles.set(n, t);
  }
  return t;
}

/**
 * In-place FFT of (re, im): X_k = Σ_j x_j·e^{∓2πijk/N} (− forward, + inverse). The inverse is not
 * scaled by 1/N. Both arrays must have the same power-of-2 length.
 * @throws RangeError if the length is not a power of 2 or the arrays differ in length
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError('re and im must have the same length');
  if (n < 1 || (n & (n - 1)) !== 0) throw new RangeError(`the length must be a power of 2, got ${n}`);
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  const { cos, sin } = twiddlesFor(n);
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    if (half < 64) {
      // Short butterflies: one twiddle per k, the blocks in the inner loop.
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!;
        const wi = sign * sin[k * step]!;
        for (let a = k; a < n; a += size) {
          const b = a + half;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - xr;
          im[b] = im[a]! - xi;
          re[a] = re[a]! + xr;
          im[a] = im[a]! + xi;
        }
      }
      continue;
    }
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!;
        const wi = sign * sin[k * step]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}
