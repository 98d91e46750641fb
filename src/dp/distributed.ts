/**
 * Distributed DP with the Skellam mechanism (Agarwal, Kairouz, Liu, "The Skellam Mechanism for
 * Differentially Private Federated Learning", NeurIPS 2021), so that the coordinator never sees an
 * un-noised sum: every client adds integer noise to its own quantized update before masking, and the
 * secure sum of the survivors' vectors carries the sum of their noise.
 *
 * Why Skellam (and not the distributed discrete Gaussian of Kairouz, Liu, Steinke, ICML 2021): a sum
 * of independent symmetric Skellams is exactly Skellam, with the variances added, so the noise in the
 * unmasked sum of *any* set of survivors is a Skellam of known variance and its accounting
 * (./skellam-rdp.ts) is exact — the sum of discrete Gaussians is not a discrete Gaussian, and DDG's
 * accounting carries an extra τ term for the gap. Skellam noise is also fast to sample exactly enough
 * (./sampling.ts: two Poissons per coordinate), where DDG's exact sampler needs big-rational
 * arithmetic; Agarwal et al. report equal or better accuracy than DDG at the same bit width.
 *
 * Client pipeline ({@link encodeUpdate}), in integer "ring units" where one unit is 1/s:
 * 1. clip the update to L2 norm C across all its tensors (./clip.ts);
 * 2. flatten, zero-pad to n = 2^⌈log₂ d⌉, multiply by the scale s;
 * 3. rotate: H·D·x/√n with the round's public rotation seed (./hadamard.ts), which spreads the norm
 *    over all coordinates so the bit width can be small (./wrap.ts);
 * 4. conditional randomized rounding to integers with ‖x̃‖₂² ≤ Δ₂² checked exactly (./rounding.ts);
 * 5. add symmetric Skellam noise of variance v per coordinate, reduce mod 2^bits (./sampling.ts).
 * Server ({@link decodeSum}): read each coordinate of the unmasked sum as a signed integer, multiply
 * by 1/s, rotate back, drop the padding. docs/PROTOCOL.md §11.2–§11.6 and §11.9 give both sides
 * operation by operation, with test vectors.
 *
 * Calibration, so that dropouts can only add privacy. The threat is a server that may collude with
 * up to n_C clients (and so can subtract their noise). Secure aggregation releases a sum only if at
 * least t clients' inputs are in it, so at least h = t − n_C of them are honest (`minNoisyClients`).
 * Each client adds variance v = z²·Δ₂²/h, so that the honest noise in any released sum has total
 * variance ≥ h·v = z²·Δ₂² — the target — and every extra survivor adds more. `noiseMultiplier` z is
 * relative to Δ₂, the L2 sensitivity *after rounding* (Δ₂ ≥ s·C), so rounding can never leave less
 * noise than promised: in model units the noise standard deviation is z·Δ₂/s ≥ z·C.
 *
 * Neighbouring relation — what the accounting covers, and what no accounting of client-side noise
 * can. The party distributed DP guards against is the coordinator (with up to n_C colluding clients).
 * It sees which clients take part — it talks to each of them — so no noise hides *whether* a client
 * participates; what is protected is the content of its update. The relation accounted is therefore
 * zero-out: one client's update replaced by zero while the client still takes part, so its noise
 * share stays in the sum. Any unmasked sum holds the shares of at least h honest survivors, the
 * client's own among them, so the pair is (Y + x, Y) with Y Skellam of variance ≥ h·v = z²Δ₂²: a shift
 * by the rounded update, at most Δ₂ in L2 and Δ₁ = min(Δ₂², √n·Δ₂) in L1 (integer coordinates:
 * |x| ≤ x²). Per round the RDP is that of ./skellam-rdp.ts and the PLD that of ./skellam-gdp.ts.
 *
 * Add/remove — the client and its noise share both absent — is not covered, and accounting it as the
 * same shift with the h − 1 remaining honest shares would under-count: the two sums then differ by one
 * share of noise as well, and over n coordinates the noise energy tells them apart. For Gaussian shares
 * the variance difference alone has D_α = n·[½·log(h_−/h) + log(h_−/σ²_α)/(2(α−1))] with h_− = h − 1,
 * σ²_α = α·h_− + (1 − α)·h (in units of one share), e.g. D₂ ≈ 0.94 at n = 8,192 and h = 67, several
 * times the shift's 1/z² (test/dp/relation.test.ts). Participation is hidden only from a party that
 * does not know who else took part and cannot count the shares, e.g. an observer of the released model
 * under Poisson sampling, and then by the cohort's randomness, which this accounting does not quantify.
 *
 * Sampling. Amplification by Poisson sampling (q < 1, as `privagg bench privacy` claims) needs the
 * coordinator not to learn who was sampled. With zero-out that is a deployment in which every client
 * takes part each round and one that was not sampled sends a zero update with its noise share — the
 * accounted pair exactly. `privagg serve` takes whoever checks in and claims no amplification (q = 1).
 *
 * Fail closed: every parameter is validated when the configuration is built, and a configuration
 * whose ring cannot hold the sum (wrap-around bound above `maxWrapProbability`), whose scale is above
 * the largest admissible one, or whose noise parameters are not positive, is refused with a
 * RangeError that gives the numbers. There is no way to configure "no noise".
 * @module
 */
import { systemRng } from '../secagg/rng.ts';
import type { VectorSpec } from '../secagg/types.ts';
import { assertIntegerIn, assertObject, assertPositive, assertRng, kind } from './checks.ts';
import { l2Norm } from './clip.ts';
import { paddedLength, rotate, unrotate } from './hadamard.ts';
import { conditionalRound, DEFAULT_BETA, MAX_SQUARED_BOUND, roundedSquaredBound } from './rounding.ts';
import {
  MAX_SKELLAM_VARIANCE,
  PoissonSampler,
  type RandomSource,
  RandomStream,
  withStream,
} from './sampling.ts';
import type { SkellamQuery } from './skellam-rdp.ts';
import { flatten, layoutLength, type NamedTensors, type TensorLayout } from './tensors.ts';
import { logWrapProbability } from './wrap.ts';

/** What the coordinator chooses for a round of the distributed Skellam mechanism. */
export interface SkellamInput {
  /** d: elements in a client's update, all tensors together; an integer in [1, 2^30]. */
  readonly dimension: number;
  /** C: the round's L2 clip norm, a finite number > 0. */
  readonly clip: number;
  /**
   * z: the noise standard deviation in the sum of `minNoisyClients` clients, per coordinate, divided
   * by the L2 sensitivity after rounding; a finite number > 0.
   */
  readonly noiseMultiplier: number;
  /** Ring bit width of the summed vector, 2..32. */
  readonly bits: number;
  /** The most clients whose vectors can be in one sum (the selected cohort), ≥ 1. */
  readonly maxClients: number;
  /**
   * h: the fewest honest clients whose noise is in any sum the server can unmask — the Shamir
   * threshold t minus the number of clients that may collude with the server (t − n_C); in
   * [1, maxClients]. See {@link minNoisyClients}.
   */
  readonly minNoisyClients: number;
  /**
   * s: ring units per model unit; default the largest scale whose wrap-around bound is within
   * `maxWrapProbability` ({@link maxSkellamScale}). A larger scale is refused.
   */
  readonly scale?: number;
  /** β of conditional rounding, in [0, 1); default e^{−2} (./rounding.ts). */
  readonly beta?: number;
  /** The largest acceptable probability that any coordinate of a round's sum wraps; default 2^−30. */
  readonly maxWrapProbability?: number;
}

/** A validated, frozen configuration of the distributed Skellam mechanism. Build with {@link skellamParams}. */
export interface SkellamParams {
  readonly dimension: number;
  /** n = 2^⌈log₂ d⌉: the length of the ring vector each client sends. */
  readonly paddedDimension: number;
  readonly clip: number;
  readonly noiseMultiplier: number;
  readonly bits: number;
  readonly maxClients: number;
  readonly minNoisyClients: number;
  readonly scale: number;
  readonly beta: number;
  readonly maxWrapProbability: number;
  /** Δ₂²: the exact bound on ‖x̃‖₂² enforced by conditional rounding, an integer (ring units). */
  readonly squaredL2Sensitivity: number;
  /** Δ₂ = √(Δ₂²). */
  readonly l2Sensitivity: number;
  /** Δ₁ = min(Δ₂², √n·Δ₂). */
  readonly l1Sensitivity: number;
  /** Δ₂/(s·C) ≥ 1: how much rounding inflates the sensitivity (and so the noise). */
  readonly roundingInflation: number;
  /** v: Skellam variance each client adds per coordinate (ring units²). */
  readonly clientVariance: number;
  /** h·v = z²·Δ₂²: the least noise variance per coordinate of any released sum (ring units²). */
  readonly totalVariance: number;
  /** √(h·v)/s: the least noise standard deviation per coordinate of the decoded sum (model units). */
  readonly noiseStddev: number;
  /** The bound of ./wrap.ts on the probability that any coordinate of a round's sum wraps. */
  readonly wrapProbability: number;
}

/** Default {@link SkellamInput.maxWrapProbability}: one round in a billion may lose a coordinate. */
export const DEFAULT_MAX_WRAP_PROBABILITY = 2 ** -30;

/** Scaled clip norms s·C are kept below this, so every rounded coordinate fits comfortably in an int32. */
const MAX_SCALED_CLIP = 2 ** 26 - 2;

/**
 * h = t − n_C: the fewest honest clients whose inputs are in any sum the server can unmask, for
 * Shamir threshold t and at most n_C clients colluding with the server.
 * @throws RangeError if t − n_C < 1 (then no honest noise is guaranteed at all)
 * @example
 * ```ts
 * minNoisyClients(params.threshold, params.maxCorruptClients);
 * ```
 */
export function minNoisyClients(threshold: number, maxCorruptClients: number): number {
  assertIntegerIn('threshold', threshold, 1, 2 ** 32 - 1);
  assertIntegerIn('maxCorruptClients', maxCorruptClients, 0, 2 ** 32 - 1);
  const h = threshold - maxCorruptClients;
  if (h < 1) {
    throw new RangeError(
      `threshold ${threshold} minus ${maxCorruptClients} colluding clients leaves no honest noise in the sum`,
    );
  }
  return h;
}

interface Checked {
  dimension: number;
  paddedDimension: number;
  clip: number;
  noiseMultiplier: number;
  bits: number;
  maxClients: number;
  minNoisyClients: number;
  beta: number;
  maxWrapProbability: number;
}

function check(input: SkellamInput): Checked {
  assertObject('input', input);
  const dimension = assertIntegerIn('dimension', input.dimension, 1, 2 ** 30);
  const clip = assertPositive('clip', input.clip);
  const noiseMultiplier = assertPositive('noiseMultiplier', input.noiseMultiplier);
  const bits = assertIntegerIn('bits', input.bits, 2, 32);
  const maxClients = assertIntegerIn('maxClients', input.maxClients, 1, 2 ** 31);
  const minNoisy = assertIntegerIn('minNoisyClients', input.minNoisyClients, 1, maxClients);
  const beta = input.beta ?? DEFAULT_BETA;
  if (typeof beta !== 'number') throw new TypeError(`beta must be a number, got ${kind(beta)}`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`beta must be in [0, 1), got ${beta}`);
  const maxWrap = input.maxWrapProbability ?? DEFAULT_MAX_WRAP_PROBABILITY;
  if (typeof maxWrap !== 'number')
    throw new TypeError(`maxWrapProbability must be a number, got ${kind(maxWrap)}`);
  if (!(maxWrap > 0 && maxWrap < 1))
    throw new RangeError(`maxWrapProbability must be in (0, 1), got ${maxWrap}`);
  return {
    dimension,
    paddedDimension: paddedLength(dimension),
    clip,
    noiseMultiplier,
    bits,
    maxClients,
    minNoisyClients: minNoisy,
    beta,
    maxWrapProbability: maxWrap,
  };
}

/** Everything that follows from a scale. */
function derive(c: Checked, scale: number) {
  const n = c.paddedDimension;
  const scaledClip = scale * c.clip;
  const squared = roundedSquaredBound(scaledClip, n, c.beta);
  const l2 = Math.sqrt(squared);
  const l1 = Math.min(squared, Math.sqrt(n) * l2);
  // z·z, not z ** 2: one rounded product, as PROTOCOL.md §11.2 writes it (pow is engine-approximated).
  const totalVariance = c.noiseMultiplier * c.noiseMultiplier * squared;
  const clientVariance = totalVariance / c.minNoisyClients;
  const logWrap = logWrapProbability({
    bits: c.bits,
    length: n,
    clients: c.maxClients,
    scaledNorm: scaledClip,
    noiseVariance: c.maxClients * clientVariance,
  });
  return { scaledClip, squared, l2, l1, totalVariance, clientVariance, logWrap };
}

/** Why a scale is not admissible, or undefined if it is. */
function problem(c: Checked, scale: number): string | undefined {
  const d = derive(c, scale);
  if (d.scaledClip > MAX_SCALED_CLIP) return `scale·clip = ${d.scaledClip} exceeds 2^26 − 2`;
  if (d.squared > MAX_SQUARED_BOUND) return `the squared L2 bound ${d.squared} after rounding exceeds 2^52`;
  if (d.clientVariance > MAX_SKELLAM_VARIANCE) return `the client variance ${d.clientVariance} exceeds 2^51`;
  if (d.clientVariance <= 0) return `the client variance ${d.clientVariance} is not positive`;
  if (d.logWrap > Math.log(c.maxWrapProbability)) {
    return (
      `the wrap-around probability bound ${Math.exp(d.logWrap).toPrecision(3)} exceeds maxWrapProbability ` +
      `${c.maxWrapProbability} (${c.maxClients} clients, noise variance ${(c.maxClients * d.clientVariance).toPrecision(4)} ` +
      `per coordinate of the sum, ${c.bits}-bit ring: |sum| must stay below 2^${c.bits - 1})`
    );
  }
  return undefined;
}

/** The smallest scale tried: s·C = 2^−20, where the signal is far below one ring unit. */
const MIN_SCALED_CLIP = 2 ** -20;

/**
 * The largest scale s (to a relative 1e-9) at which the configuration is admissible: the wrap-around
 * bound is within `maxWrapProbability` and s·C ≤ 2^26 − 2. Larger scales mean finer quantization
 * (less rounding inflation) but a wider sum.
 * @param input - the configuration without `scale` (a given `scale` is ignored)
 * @returns the scale
 * @throws TypeError / RangeError on a bad argument, or if the ring is too narrow for the noise at any
 *   scale (the error gives the wrap-around bound at the smallest scale)
 */
export function maxSkellamScale(input: SkellamInput): number {
  const c = check(input);
  return largestScale(c);
}

function largestScale(c: Checked): number {
  let lo = MIN_SCALED_CLIP / c.clip;
  const atLo = problem(c, lo);
  if (atLo !== undefined) {
    throw new RangeError(
      `bits = ${c.bits} is too small for this round: even at a negligible scale (s·C = 2^-20), ${atLo}. ` +
        `Rounding alone gives each client sensitivity √n ≈ ${Math.sqrt(c.paddedDimension).toFixed(0)} ring units ` +
        `for n = ${c.paddedDimension}; use more bits or fewer clients`,
    );
  }
  let hi = MAX_SCALED_CLIP / c.clip;
  if (problem(c, hi) === undefined) return hi;
  // Geometric bisection: lo is admissible, hi is not.
  while (hi / lo > 1 + 1e-9) {
    const mid = Math.sqrt(lo * hi);
    if (problem(c, mid) === undefined) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Validates a configuration of the distributed Skellam mechanism, chooses the scale if none is given,
 * and computes the sensitivities, per-client noise and wrap-around bound.
 * @param input - see {@link SkellamInput}
 * @returns frozen {@link SkellamParams}
 * @throws TypeError for a wrong type; RangeError, with the numbers, for any value that would make the
 *   mechanism weaker than configured or unable to decode: z ≤ 0, C ≤ 0, h ∉ [1, n], bits too small for
 *   the sum, a scale above {@link maxSkellamScale}, …
 * @example
 * ```ts
 * const params = skellamParams({ dimension: 1_000_000, clip: 1, noiseMultiplier: 1, bits: 20,
 *   maxClients: 100, minNoisyClients: 67 });
 * ```
 */
export function skellamParams(input: SkellamInput): SkellamParams {
  const c = check(input);
  let scale: number;
  if (input.scale === undefined) {
    scale = largestScale(c);
  } else {
    scale = assertPositive('scale', input.scale);
    const why = problem(c, scale);
    if (why !== undefined) {
      let bound = 'none: the ring is too narrow at any scale';
      try {
        bound = String(largestScale(c));
      } catch {}
      throw new RangeError(
        `scale = ${scale} is not admissible: ${why}; the largest admissible scale is ${bound}`,
      );
    }
  }
  const d = derive(c, scale);
  return Object.freeze({
    ...c,
    scale,
    squaredL2Sensitivity: d.squared,
    l2Sensitivity: d.l2,
    l1Sensitivity: d.l1,
    roundingInflation: d.l2 / d.scaledClip,
    clientVariance: d.clientVariance,
    totalVariance: d.totalVariance,
    noiseStddev: Math.sqrt(d.totalVariance) / scale,
    wrapProbability: Math.exp(d.logWrap),
  });
}

function assertParams(params: SkellamParams): void {
  assertObject('params', params);
  if (!Object.isFrozen(params) || typeof params.squaredL2Sensitivity !== 'number') {
    throw new TypeError('params must come from skellamParams()');
  }
}

/**
 * The secure-aggregation vector of this mechanism: `paddedDimension` elements of `bits` bits.
 * @example
 * ```ts
 * roundParams({ ..., vectors: [skellamVectorSpec('update', params)] });
 * ```
 */
export function skellamVectorSpec(name: string, params: SkellamParams): VectorSpec {
  assertParams(params);
  return Object.freeze({ name, length: params.paddedDimension, bits: params.bits });
}

/**
 * The round's Skellam query for the accountant: the sensitivities and the least noise variance of a
 * released sum. Compose with `accountant.composeRdp(new SkellamRound([skellamQuery(params)], q))`.
 */
export function skellamQuery(params: SkellamParams): SkellamQuery {
  assertParams(params);
  return Object.freeze({
    squaredL2Sensitivity: params.squaredL2Sensitivity,
    l1Sensitivity: params.l1Sensitivity,
    variance: params.minNoisyClients * params.clientVariance,
  });
}

/** What {@link encodeUpdate} produced. */
export interface EncodedUpdate {
  /** The noised ring vector to mask and send: `paddedDimension` elements below 2^bits. */
  readonly vector: Uint32Array;
  /** ‖update‖₂ before clipping (for adaptive clipping: ./adaptive.ts). */
  readonly norm: number;
  /** Whether the update was clipped. */
  readonly clipped: boolean;
  /** How many roundings conditional rounding drew (1 almost always). */
  readonly roundingAttempts: number;
}

/**
 * The client side of the mechanism: clip, flatten and pad, scale, rotate, round conditionally, add
 * Skellam noise, reduce mod 2^bits. The caller's tensors are not modified. Scratch buffers are zeroed
 * before returning (best effort).
 * @param update - the client's update; its total length must be `params.dimension`, all finite. A
 *   bounded FedAvg weight, if any, is applied beforehand (./clip.ts); the update is clipped to C here
 *   in any case.
 * @param params - from {@link skellamParams}
 * @param rotationSeed - the round's 32-byte rotation seed, announced by the coordinator
 * @param rng - randomness for rounding and noise; `systemRng` (the OS CSPRNG) in production. A
 *   {@link RandomStream} is continued (and left open), so that a caller can draw more from it
 *   afterwards (the clip-count noise, PROTOCOL.md §11.7).
 * @returns the vector and the clipping report
 * @throws TypeError / RangeError on a bad argument or a NaN/±Infinity in the update (naming it), or if
 *   conditional rounding keeps failing; nothing is returned then
 * @example
 * ```ts
 * const { vector, norm } = encodeUpdate(update, params, seed);
 * ```
 */
export function encodeUpdate(
  update: NamedTensors,
  params: SkellamParams,
  rotationSeed: Uint8Array,
  rng: RandomSource = systemRng,
): EncodedUpdate {
  assertParams(params);
  if (!(rng instanceof RandomStream)) assertRng(rng);
  const norm = l2Norm(update); // checks the tensors and their finiteness
  let total = 0;
  for (const t of update.values()) total += t.length;
  if (total !== params.dimension) {
    throw new RangeError(`the update has ${total} elements, params.dimension is ${params.dimension}`);
  }
  const n = params.paddedDimension;
  const clipped = norm > params.clip;
  const factor = (clipped ? params.clip / norm : 1) * params.scale;
  const y = flatten(update, undefined, new Float64Array(n));
  const rounded = new Int32Array(n);
  try {
    for (let i = 0; i < params.dimension; i++) y[i]! *= factor;
    rotate(y, rotationSeed);
    // One stream for the rounding words and then the noise uniforms, in that order (§11.5, §11.6).
    return withStream(rng, (stream) => {
      const roundingAttempts = conditionalRound(y, params.squaredL2Sensitivity, stream, rounded);
      const poisson = new PoissonSampler(params.clientVariance / 2);
      const mask = 0xffff_ffff >>> (32 - params.bits);
      const vector = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        vector[i] = (rounded[i]! + poisson.sample(stream) - poisson.sample(stream)) & mask;
      }
      return Object.freeze({ vector, norm, clipped, roundingAttempts });
    });
  } finally {
    y.fill(0);
    rounded.fill(0);
  }
}

/**
 * The server side: decodes the unmasked sum of the survivors' vectors into the (noised) sum of their
 * clipped updates, flat, in model units.
 * @param sum - the unmasked sum mod 2^bits, `paddedDimension` elements; not modified
 * @param params - the round's configuration
 * @param rotationSeed - the round's rotation seed
 * @returns a new Float64Array of `dimension` elements (cut it into tensors with ./tensors.ts `unflatten`)
 * @throws TypeError / RangeError on a bad argument (wrong length, an element ≥ 2^bits)
 */
export function decodeSum(sum: Uint32Array, params: SkellamParams, rotationSeed: Uint8Array): Float64Array {
  assertParams(params);
  if (!(sum instanceof Uint32Array)) throw new TypeError(`sum must be a Uint32Array, got ${kind(sum)}`);
  const n = params.paddedDimension;
  if (sum.length !== n) throw new RangeError(`sum must have ${n} elements, got ${sum.length}`);
  const max = 2 ** params.bits - 1;
  const shift = 32 - params.bits;
  const inverse = 1 / params.scale;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = sum[i]!;
    if (z > max) throw new RangeError(`sum[${i}] = ${z} is not below 2^${params.bits}`);
    // Sign extension from bit (bits − 1): the two's complement reading.
    y[i] = ((z << shift) >> shift) * inverse;
  }
  unrotate(y, rotationSeed);
  return y.slice(0, params.dimension);
}

/**
 * Checks that a layout matches the configuration (same total length), for decoding into tensors.
 * @throws RangeError otherwise
 */
export function assertLayout(layout: TensorLayout, params: SkellamParams): void {
  assertParams(params);
  const total = layoutLength(layout);
  if (total !== params.dimension) {
    throw new RangeError(`the layout has ${total} elements, params.dimension is ${params.dimension}`);
  }
}
