/**
 * Central DP: the coordinator adds Gaussian noise to the unmasked sum of the clients' clipped updates
 * (DP-FedAvg, McMahan, Ramage, Talwar, Zhang, ICLR 2018, Alg. 1; the Gaussian mechanism, Dwork & Roth
 * 2014, Thm A.1), drawn from the OS CSPRNG. Noise standard deviation σ·Δ per coordinate for noise
 * multiplier σ and L2 sensitivity Δ; per round the RDP is that of the (Poisson-subsampled) Gaussian
 * mechanism, which the existing accountant composes: `accountant.compose({ q, sigma })`.
 *
 * Sensitivity after secure aggregation. The sum the coordinator unmasks is of *quantized* vectors
 * (src/secagg/quantize.ts: scale s, stochastic rounding), and each coordinate of a client's
 * contribution moves by less than 1/s in rounding. So the L2 sensitivity of the decoded sum is not C
 * but less than C + √d/s ({@link quantizedSensitivity}); calibrating to C alone would add less noise
 * than promised. Pass `quantization` to include it (or choose s so large that √d/s is negligible —
 * the function tells you how much it is).
 *
 * Floating point. Textbook floating-point Gaussian noise added to a float leaks through the set of
 * doubles the output can take (Mironov, CCS 2012). When the sum comes from the ring, it lies on the
 * grid (1/s)·Z; with `quantization` given, the noise is snapped to that grid — output (S + round(s·G))/s
 * for the integer sum S — which is post-processing of the Gaussian mechanism on S (stddev s·σ·Δ in
 * ring units, same multiplier σ), and the output's possible values no longer depend on S.
 * @module
 */
import { systemRng } from '../secagg/rng.ts';
import { assertIntegerIn, assertObject, assertPositive, assertRng, kind } from './checks.ts';
import { fillGaussian, type RandomSource, RandomStream } from './sampling.ts';

/** How the clients quantized their updates for secure aggregation. */
export interface Quantization {
  /** d: elements per client vector, an integer ≥ 1. */
  readonly dimension: number;
  /** s: the quantization scale (ring units per model unit), a finite number > 0. */
  readonly scale: number;
}

/** Options of {@link addCentralNoise}. */
export interface CentralNoiseOptions {
  /** σ: noise standard deviation / sensitivity, a finite number > 0. */
  readonly noiseMultiplier: number;
  /** C: the round's L2 clip norm (times the largest FedAvg weight, if weighted), > 0. */
  readonly clip: number;
  /** The quantization of secure aggregation, if the sum came from the ring; see the module comment. */
  readonly quantization?: Quantization;
}

/**
 * The L2 sensitivity of a decoded secure-aggregation sum to one client: C + √d/s (each of the d
 * coordinates of its quantized vector is within 1/s of the clipped value). C alone without
 * quantization.
 * @throws TypeError / RangeError on a bad argument
 * @example
 * ```ts
 * quantizedSensitivity(1, { dimension: 1_000_000, scale: 2 ** 20 }); // 1 + 1000/2^20 ≈ 1.00095
 * ```
 */
export function quantizedSensitivity(clip: number, quantization?: Quantization): number {
  assertPositive('clip', clip);
  if (quantization === undefined) return clip;
  assertObject('quantization', quantization);
  const d = assertIntegerIn('quantization.dimension', quantization.dimension, 1, 2 ** 32 - 1);
  const s = assertPositive('quantization.scale', quantization.scale);
  return clip + Math.sqrt(d) / s;
}

/**
 * The standard deviation of the central noise per coordinate: σ·Δ, with Δ from
 * {@link quantizedSensitivity}.
 * @throws TypeError / RangeError on a bad argument (σ ≤ 0 included: there is no "no noise" setting)
 */
export function centralNoiseStddev(options: CentralNoiseOptions): number {
  assertObject('options', options);
  const sigma = assertPositive('options.noiseMultiplier', options.noiseMultiplier);
  return sigma * quantizedSensitivity(assertPositive('options.clip', options.clip), options.quantization);
}

/**
 * Adds N(0, (σ·Δ)²) to every coordinate of the unmasked sum, in place. With `quantization`, the noise
 * is snapped to the ring's grid 1/s (see the module comment) and the sum must already lie on it.
 * @param sum - the decoded sum (model units), modified in place; every element finite
 * @param options - σ, C and the quantization if any
 * @param rng - randomness; `systemRng` (the OS CSPRNG) unless a test injects a seeded one; a stream is
 *   continued
 * @returns the noise standard deviation used
 * @throws TypeError / RangeError on a bad argument, a non-finite element, or (with `quantization`)
 *   an element off the grid; nothing is changed then
 * @example
 * ```ts
 * addCentralNoise(sum, { noiseMultiplier: 1.1, clip: 0.5, quantization: { dimension: d, scale } });
 * ```
 */
export function addCentralNoise(
  sum: Float64Array,
  options: CentralNoiseOptions,
  rng: RandomSource = systemRng,
): number {
  if (!(sum instanceof Float64Array)) throw new TypeError(`sum must be a Float64Array, got ${kind(sum)}`);
  const stddev = centralNoiseStddev(options);
  if (!(rng instanceof RandomStream)) assertRng(rng);
  const q = options.quantization;
  for (let i = 0; i < sum.length; i++) {
    const x = sum[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`sum[${i}] is ${x}; the sum must be finite`);
    // Snapping is only post-processing if the sum is already on the grid (a decoded ring sum k/s).
    if (q !== undefined && Math.abs(x * q.scale - Math.round(x * q.scale)) > 1e-6) {
      throw new RangeError(`sum[${i}] = ${x} is not on the quantization grid 1/${q.scale}`);
    }
  }
  const noise = fillGaussian(new Float64Array(sum.length), stddev, rng);
  if (q === undefined) {
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + noise[i]!;
  } else {
    const s = q.scale;
    for (let i = 0; i < sum.length; i++) {
      // S = round(sum·s) recovers the ring integer exactly (the sum is k/s up to one rounding).
      sum[i] = (Math.round(sum[i]! * s) + Math.round(noise[i]! * s)) / s;
    }
  }
  noise.fill(0);
  return stddev;
}
