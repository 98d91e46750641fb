/**
 * Client-side L2 clipping of a model update across all its named tensors, and bounded FedAvg
 * weights: the two things that bound one client's influence on the securely summed update, which is
 * what every privacy guarantee of ./central.ts and ./distributed.ts is calibrated to.
 *
 * Clipping (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, eq. in §3.1; McMahan,
 * Ramage, Talwar, Zhang, "Learning Differentially Private Recurrent Language Models", ICLR 2018,
 * Alg. 1 `ClipFn`): the update x, all tensors concatenated, is scaled by min(1, C/‖x‖₂), with the clip
 * norm C announced by the coordinator for the round. A client whose update is already within C is
 * left unchanged, bit for bit.
 *
 * FedAvg weighting and sensitivity. Plain FedAvg weights client k by its example count n_k and
 * divides by Σ n_k. Both are data-dependent and unbounded: one client claiming 10^9 examples would
 * own the average, and dividing by the cohort's own Σ n_k makes the denominator another statistic
 * of the data. The sound choices, following McMahan et al. 2018 §3:
 * - Uniform weighting, w_k = 1: each client contributes clip(Δ_k) with ‖·‖ ≤ C, the securely summed
 *   numerator has L2 sensitivity C (add/remove or zero-out one client), and the server divides by a
 *   fixed public denominator — the expected cohort size q·N, or the announced cohort size — never by
 *   a count it learns from the data. This is DP-FedAvg's fixed-denominator estimator f̃_f and the
 *   default here (`weight` omitted).
 * - Bounded weights, w_k = min(n_k / ŵ, 1) ∈ [0, 1] for a public cap ŵ ({@link boundedWeight}): the
 *   client sends w_k·clip(Δ_k), whose norm is at most w_k·C ≤ C, so the numerator's sensitivity is
 *   still C (C·w_max in general, {@link contributionBound}); the server divides by the fixed
 *   q·W, W = Σ_k w_k over the population (or an estimate fixed in advance), not by the cohort's Σ w_k.
 *   The weight itself must not be sent in clear. If a deployment wants the cohort's Σ w_k (the
 *   "clipped denominator" estimator of McMahan et al.), that sum is a second query, of sensitivity
 *   w_max, that must be securely summed *and noised* and its privacy cost composed — it is not free.
 * Noise is calibrated to the numerator's sensitivity: stddev σ·C·w_max, for noise multiplier σ.
 * @module
 */
import { assertObject, assertPositive, kind } from './checks.ts';
import { assertTensors, type FloatTensor, type NamedTensors } from './tensors.ts';

/** What {@link clipInPlace} and {@link clipCopy} did. */
export interface ClipReport {
  /** ‖x‖₂ across all tensors before clipping. */
  readonly norm: number;
  /** The factor every element was multiplied by: min(1, C/‖x‖₂)·weight (slightly less, see below). */
  readonly factor: number;
  /** Whether ‖x‖₂ > C, so that the update was scaled down to norm C. */
  readonly clipped: boolean;
}

/** Options of {@link clipInPlace} and {@link clipCopy}. */
export interface ClipOptions {
  /** The clip norm C announced for the round, a finite number > 0. */
  readonly clip: number;
  /**
   * A bounded FedAvg weight w in [0, 1] ({@link boundedWeight}) to multiply the clipped update by;
   * default 1 (uniform weighting).
   */
  readonly weight?: number;
}

const TWO_POW_400 = 2 ** 400;
const TWO_POW_600 = 2 ** 600;

/**
 * The L2 norm of an update across all its tensors, √(Σ_tensors Σ_i x_i²), computed without overflow
 * or underflow (values beyond 2^±400 are rescaled by an exact power of two first).
 * @param tensors - the update; not modified
 * @returns the norm, a finite number ≥ 0
 * @throws TypeError if `tensors` is not a Map of Float32Array/Float64Array; RangeError naming the
 *   tensor and index of the first NaN or ±Infinity
 * @example
 * ```ts
 * l2Norm(new Map([['w', Float32Array.of(3)], ['b', Float64Array.of(4)]])); // 5
 * ```
 */
export function l2Norm(tensors: NamedTensors): number {
  assertTensors(tensors);
  let max = 0;
  for (const [name, t] of tensors) {
    for (let i = 0; i < t.length; i++) {
      const a = Math.abs(t[i]!);
      // `a > max` is false for NaN, so test finiteness separately (only where it can fail).
      if (a > max || Number.isNaN(a)) {
        if (!Number.isFinite(a))
          throw new RangeError(`tensor '${name}'[${i}] is ${t[i]}; updates must be finite`);
        max = a;
      }
    }
  }
  if (max === 0) return 0;
  if (max <= TWO_POW_400 && max >= 1 / TWO_POW_400) return Math.sqrt(sumSquares(tensors, 1));
  const scale = max > 1 ? 1 / TWO_POW_600 : TWO_POW_600; // exact: a power of two
  return Math.sqrt(sumSquares(tensors, scale)) / scale;
}

/** Σ (scale·x_i)² over all tensors, four accumulators per tensor (faster, and a shorter error chain). */
function sumSquares(tensors: NamedTensors, scale: number): number {
  let total = 0;
  for (const t of tensors.values()) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n = t.length;
    let i = 0;
    for (const end = n & ~3; i < end; i += 4) {
      const a = t[i]! * scale;
      const b = t[i + 1]! * scale;
      const c = t[i + 2]! * scale;
      const d = t[i + 3]! * scale;
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    for (; i < n; i++) {
      const a = t[i]! * scale;
      s0 += a * a;
    }
    total += s0 + s1 + s2 + s3;
  }
  return total;
}

function readOptions(options: ClipOptions): { clip: number; weight: number } {
  assertObject('options', options);
  const clip = assertPositive('options.clip', options.clip);
  const weight = options.weight ?? 1;
  if (typeof weight !== 'number') throw new TypeError(`options.weight must be a number, got ${kind(weight)}`);
  if (!(weight >= 0 && weight <= 1)) {
    throw new RangeError(
      `options.weight must be a number in [0, 1] (a bounded FedAvg weight), got ${weight}`,
    );
  }
  return { clip, weight };
}

function scaleInto(
  source: NamedTensors,
  target: Map<string, FloatTensor> | NamedTensors,
  factor: number,
): void {
  for (const [name, t] of source) {
    const out = target.get(name)!;
    for (let i = 0; i < t.length; i++) out[i] = t[i]! * factor;
  }
}

/**
 * Multiplies `tensors` by `factor` into `target` and then, if rounding (one rounding per element;
 * Float32 elements round coarsely) left the computed norm above `bound`, by a little less: the
 * result's computed norm is ≤ bound. Returns the overall factor.
 */
function scaleWithin(
  tensors: NamedTensors,
  target: Map<string, FloatTensor> | NamedTensors,
  factor: number,
  bound: number,
): number {
  scaleInto(tensors, target, factor);
  if (factor === 0) return 0;
  // Each product rounds by at most 2^−24 (Float32) or 2^−53 (Float64) relative, and the computed norm
  // is off by a few more ulps: a shrink by the overshoot and this margin settles it in one step.
  let margin = 2 ** -32;
  for (const t of target.values()) if (t instanceof Float32Array) margin = 2 ** -22;
  let overall = factor;
  for (let attempt = 0; attempt < 4; attempt++) {
    const norm = l2Norm(target);
    if (norm <= bound) return overall;
    const shrink = (bound / norm) * (1 - margin);
    for (const t of target.values()) for (let i = 0; i < t.length; i++) t[i]! *= shrink;
    overall *= shrink;
  }
  throw new RangeError(`could not scale the update to norm ${bound}: rounding keeps it above`);
}

/**
 * Clips an update in place to L2 norm `clip` across all its tensors (factor min(1, C/‖x‖₂)), then
 * multiplies it by the bounded weight if one is given.
 *
 * Exactness: an update with ‖x‖₂ ≤ C and weight 1 is not touched. A clipped update ends with computed
 * norm ≤ C·weight: if rounding the products (Float32 tensors round each one to 24 bits) leaves it a
 * few ulps above, it is scaled down once more by that overshoot plus a margin of 2^−22 (Float32) or
 * 2^−32 (Float64 only), and the reported factor is the product of both — within 3e-7 of C/‖x‖₂.
 * Nothing is modified if an element is NaN or infinite.
 * @param tensors - the update, modified in place
 * @param options - the clip norm C > 0 and optional weight in [0, 1]
 * @returns the norm before clipping, the factor applied and whether the update was clipped
 * @throws TypeError / RangeError on a bad argument, or naming the tensor and index of a NaN/±Infinity
 * @example
 * ```ts
 * const update = new Map([['w', Float32Array.of(3, 4)]]);
 * clipInPlace(update, { clip: 1 }); // { norm: 5, factor: 0.2, clipped: true }; update w = [0.6, 0.8]
 * ```
 */
export function clipInPlace(tensors: NamedTensors, options: ClipOptions): ClipReport {
  const { clip, weight } = readOptions(options);
  const norm = l2Norm(tensors);
  const clipped = norm > clip;
  const base = clipped ? clip / norm : 1;
  if (!clipped && weight === 1) return Object.freeze({ norm, factor: 1, clipped });
  const factor = scaleWithin(tensors, tensors, base * weight, clip * weight);
  return Object.freeze({ norm, factor, clipped });
}

/**
 * Like {@link clipInPlace} but leaves `tensors` alone and returns a clipped copy (same element types,
 * same order).
 * @returns the report and the new tensors
 * @throws as {@link clipInPlace}
 * @example
 * ```ts
 * const { tensors: clipped, norm } = clipCopy(update, { clip: 1, weight: boundedWeight(120, 500) });
 * ```
 */
export function clipCopy(
  tensors: NamedTensors,
  options: ClipOptions,
): ClipReport & { readonly tensors: Map<string, FloatTensor> } {
  const { clip, weight } = readOptions(options);
  const norm = l2Norm(tensors);
  const clipped = norm > clip;
  const copy = new Map<string, FloatTensor>();
  for (const [name, t] of tensors) copy.set(name, t.slice());
  if (!clipped && weight === 1) return Object.freeze({ norm, factor: 1, clipped, tensors: copy });
  const factor = scaleWithin(tensors, copy, (clipped ? clip / norm : 1) * weight, clip * weight);
  return Object.freeze({ norm, factor, clipped, tensors: copy });
}

/**
 * A bounded FedAvg weight: w = min(count, cap)/cap ∈ [0, 1] (McMahan et al. 2018, §3: w_k =
 * min(n_k/ŵ, 1)). A client's weighted, clipped update then has norm ≤ C, whatever it claims.
 * @param count - the client's example count, a finite number ≥ 0
 * @param cap - the public cap ŵ, a finite number > 0
 * @returns the weight in [0, 1]
 * @throws TypeError / RangeError on a bad argument
 * @example
 * ```ts
 * boundedWeight(50, 200); // 0.25
 * boundedWeight(10_000, 200); // 1
 * ```
 */
export function boundedWeight(count: number, cap: number): number {
  if (typeof count !== 'number') throw new TypeError(`count must be a number, got ${kind(count)}`);
  if (!Number.isFinite(count) || count < 0)
    throw new RangeError(`count must be a finite number >= 0, got ${count}`);
  assertPositive('cap', cap);
  return Math.min(count, cap) / cap;
}

/**
 * The L2 sensitivity of the securely summed numerator Σ_k w_k·clip(Δ_k) to adding, removing or
 * zeroing one client: C·w_max. Noise is calibrated to this.
 * @param clip - the clip norm C > 0
 * @param maxWeight - the largest weight a client may apply, in (0, 1] (1 with {@link boundedWeight})
 * @throws TypeError / RangeError on a bad argument
 */
export function contributionBound(clip: number, maxWeight = 1): number {
  assertPositive('clip', clip);
  assertPositive('maxWeight', maxWeight);
  if (maxWeight > 1) throw new RangeError(`maxWeight must be at most 1, got ${maxWeight}`);
  return clip * maxWeight;
}

/**
 * The fixed-denominator FedAvg estimate (McMahan et al. 2018, f̃_f): the noised sum divided by a
 * public constant — the expected total weight q·W of a cohort (q·N with uniform weights) — never by
 * a statistic of the round's data. Post-processing: costs no privacy.
 * @param sum - the noised, decoded sum; not modified
 * @param denominator - the public constant, a finite number > 0
 * @returns a new Float64Array
 * @throws TypeError / RangeError on a bad argument
 */
export function fixedDenominatorMean(sum: Float64Array, denominator: number): Float64Array {
  if (!(sum instanceof Float64Array)) throw new TypeError(`sum must be a Float64Array, got ${kind(sum)}`);
  assertPositive('denominator', denominator);
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i]! / denominator;
  return out;
}
