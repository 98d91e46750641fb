/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning with
 * Adaptive Clipping", NeurIPS 2021): the clip norm C follows a target quantile γ of the clients'
 * update norms, estimated privately each round.
 *
 * Each client reports whether its update was within the round's clip norm, b_i = 1[‖Δ_i‖ ≤ C], as
 * one extra securely summed vector, `clip_count`, of length 1 — never in clear. It sends the centred
 * value e_i = 2b_i − 1 ∈ {−1, +1} (Andrew et al. §3 centre the bits at 1/2, which halves the
 * sensitivity: zeroing or removing one client moves Σ e_i by 1, i.e. Σ b_i by 1/2). The server gets
 * E = Σ e_i + noise over the m contributing clients and estimates the unclipped fraction
 * b̄ = (E + m)/(2m), noise σ_b on the count Σ b_i; then the geometric update (their Alg. 1)
 *
 *   C ← C · exp(−η_C · (b̄ − γ)).
 *
 * Privacy. The bit query is a Gaussian (or Skellam) query of sensitivity 1/2 and noise σ_b on the
 * count, i.e. noise multiplier 2σ_b. Composed with the update's noise multiplier z_Δ it is equivalent
 * to one Gaussian mechanism with z^−2 = z_Δ^−2 + (2σ_b)^−2 (Andrew et al., Thm 1: the two releases
 * together are one Gaussian release of a vector of norm ≤ 1 after rescaling); so to spend the budget
 * of multiplier z in total, the update gets z_Δ = (z^−2 − (2σ_b)^−2)^−1/2 ({@link splitNoiseMultiplier}).
 * The authors suggest σ_b = m/20 for m expected clients per round.
 * - Central DP: clients send e_i without noise inside secure aggregation ({@link encodeClipIndicator}),
 *   the coordinator adds N(0, (2σ_b)²) to E ({@link noisyClipFraction}); the round is accounted as
 *   one sampled Gaussian step with multiplier z.
 * - Distributed DP: every client adds Skellam noise of variance (2σ_b)²/h to its e_i
 *   ({@link encodeClipCount}), so any released E carries variance ≥ (2σ_b)²; the round's RDP is the sum
 *   of the update's and this query's Skellam curves ({@link clipCountQuery}, ./skellam-rdp.ts).
 * @module
 */
import { systemRng } from '../secagg/rng.ts';
import type { VectorSpec } from '../secagg/types.ts';
import { assertIntegerIn, assertObject, assertPositive, kind } from './checks.ts';
import { DEFAULT_MAX_WRAP_PROBABILITY } from './distributed.ts';
import { addSkellamMod, fillGaussian, MAX_SKELLAM_VARIANCE, type RandomSource } from './sampling.ts';
import type { SkellamQuery } from './skellam-rdp.ts';
import { logWrapProbability } from './wrap.ts';

/** The name of the one-element secure-aggregation vector that carries the clip indicators. */
export const CLIP_COUNT_VECTOR = 'clip_count';

function assertNorm(norm: unknown): number {
  if (typeof norm !== 'number') throw new TypeError(`norm must be a number, got ${kind(norm)}`);
  if (!(norm >= 0) || !Number.isFinite(norm))
    throw new RangeError(`norm must be a finite number >= 0, got ${norm}`);
  return norm;
}

/**
 * b = 1[‖Δ‖ ≤ C] as the centred ring value 2b − 1: +1 if the update was within the clip norm, −1 if
 * it was clipped.
 * @param norm - ‖Δ‖₂ before clipping (./clip.ts reports it), finite ≥ 0
 * @param clip - the round's clip norm C > 0
 * @throws TypeError / RangeError on a bad argument
 */
export function centredIndicator(norm: number, clip: number): 1 | -1 {
  return assertNorm(norm) <= assertPositive('clip', clip) ? 1 : -1;
}

/** Options of {@link updateClipNorm}. */
export interface ClipUpdateOptions {
  /** γ: the target quantile of update norms, in (0, 1) (Andrew et al. use 0.5). */
  readonly targetQuantile: number;
  /** η_C: the geometric learning rate, a finite number > 0 (Andrew et al. use 0.2). */
  readonly learningRate: number;
}

/**
 * The geometric clip-norm update of Andrew et al. 2021 (Alg. 1): C·exp(−η_C·(b̄ − γ)). More updates
 * unclipped than the target (b̄ > γ) shrinks C; fewer grows it. Post-processing of the noised b̄.
 * @param clip - the current clip norm C > 0
 * @param fraction - the noised unclipped fraction b̄ (may fall outside [0, 1] because of the noise)
 * @param options - γ and η_C
 * @returns the next round's clip norm, > 0
 * @throws TypeError / RangeError on a bad argument, or if the result is not a finite positive number
 * @example
 * ```ts
 * updateClipNorm(1, 0.8, { targetQuantile: 0.5, learningRate: 0.2 }); // e^{−0.06} ≈ 0.942
 * ```
 */
export function updateClipNorm(clip: number, fraction: number, options: ClipUpdateOptions): number {
  assertPositive('clip', clip);
  if (typeof fraction !== 'number') throw new TypeError(`fraction must be a number, got ${kind(fraction)}`);
  if (!Number.isFinite(fraction)) throw new RangeError(`fraction must be finite, got ${fraction}`);
  assertObject('options', options);
  const gamma = options.targetQuantile;
  if (typeof gamma !== 'number')
    throw new TypeError(`options.targetQuantile must be a number, got ${kind(gamma)}`);
  if (!(gamma > 0 && gamma < 1))
    throw new RangeError(`options.targetQuantile must be in (0, 1), got ${gamma}`);
  const eta = assertPositive('options.learningRate', options.learningRate);
  const next = clip * Math.exp(-eta * (fraction - gamma));
  if (!(next > 0) || !Number.isFinite(next)) {
    throw new RangeError(`the clip norm update gave ${next} (clip ${clip}, fraction ${fraction}, η ${eta})`);
  }
  return next;
}

/**
 * The update's noise multiplier when the clip-count query gets noise σ_b on the count and the round
 * as a whole may spend a noise multiplier z (Andrew et al. 2021, §3): z_Δ = (z^−2 − (2σ_b)^−2)^−1/2.
 * @param noiseMultiplier - z, the round's total, > 0
 * @param bitNoiseStddev - σ_b, the noise standard deviation on the count Σ b_i, > 0
 * @returns z_Δ > z
 * @throws TypeError / RangeError on a bad argument, or if 2σ_b ≤ z (the bit query alone would spend
 *   the whole budget or more)
 * @example
 * ```ts
 * splitNoiseMultiplier(1, 5); // (1 − 1/100)^−1/2 ≈ 1.00504
 * ```
 */
export function splitNoiseMultiplier(noiseMultiplier: number, bitNoiseStddev: number): number {
  const z = assertPositive('noiseMultiplier', noiseMultiplier);
  const sb = assertPositive('bitNoiseStddev', bitNoiseStddev);
  const rest = z ** -2 - (2 * sb) ** -2;
  if (!(rest > 0)) {
    throw new RangeError(
      `bitNoiseStddev ${sb} is too small for noiseMultiplier ${z}: the clip-count query alone (multiplier ` +
        `2·σ_b = ${2 * sb}) spends at least the whole budget; 2·σ_b must exceed z`,
    );
  }
  return rest ** -0.5;
}

/**
 * The inverse of {@link splitNoiseMultiplier}: the total multiplier z with z^−2 = z_Δ^−2 + (2σ_b)^−2,
 * the single Gaussian mechanism the round is equivalent to (for the accountant's `compose`).
 * @throws TypeError / RangeError on a bad argument
 */
export function combinedNoiseMultiplier(updateNoiseMultiplier: number, bitNoiseStddev: number): number {
  const zd = assertPositive('updateNoiseMultiplier', updateNoiseMultiplier);
  const sb = assertPositive('bitNoiseStddev', bitNoiseStddev);
  return (zd ** -2 + (2 * sb) ** -2) ** -0.5;
}

// ---- central DP ------------------------------------------------------------------------------------

/**
 * The client's clip-count vector for central DP: the centred indicator mod 2^bits, no noise (the
 * coordinator adds it to the sum, {@link noisyClipFraction}).
 * @param bits - the `clip_count` vector's bit width, 2..32; the sum of m clients needs m < 2^(bits−1)
 * @returns a one-element Uint32Array
 */
export function encodeClipIndicator(norm: number, clip: number, bits: number): Uint32Array {
  assertIntegerIn('bits', bits, 2, 32);
  const e = centredIndicator(norm, clip);
  return Uint32Array.of(e & (0xffff_ffff >>> (32 - bits)));
}

/**
 * Central DP: adds N(0, (2σ_b)²) to the unmasked centred count E = Σ e_i (noise σ_b on Σ b_i) and
 * returns the noised unclipped fraction b̄ = (E + noise + m)/(2m).
 * @param centredSum - E, the signed reading of the unmasked `clip_count` sum, an integer with |E| ≤ m
 * @param contributors - m, the number of clients whose indicators are in the sum (the survivors), ≥ 1
 * @param bitNoiseStddev - σ_b > 0
 * @param rng - randomness; `systemRng` unless a test injects a seeded one; a stream is continued
 * @throws TypeError / RangeError on a bad argument
 */
export function noisyClipFraction(
  centredSum: number,
  contributors: number,
  bitNoiseStddev: number,
  rng: RandomSource = systemRng,
): number {
  const m = assertIntegerIn('contributors', contributors, 1, 2 ** 31);
  assertIntegerIn('centredSum', centredSum, -m, m);
  const sb = assertPositive('bitNoiseStddev', bitNoiseStddev);
  const noise = fillGaussian(new Float64Array(1), 2 * sb, rng)[0]!;
  return (centredSum + noise + m) / (2 * m);
}

// ---- distributed DP --------------------------------------------------------------------------------

/** What the coordinator chooses for the distributed clip-count query. */
export interface ClipCountInput {
  /** σ_b: the least noise standard deviation on the count Σ b_i of a released sum, > 0. */
  readonly bitNoiseStddev: number;
  /** Bit width of the `clip_count` vector, 2..32. */
  readonly bits: number;
  /** The most clients whose indicators can be in one sum, ≥ 1. */
  readonly maxClients: number;
  /** h = t − n_C, as for the update (./distributed.ts `minNoisyClients`), in [1, maxClients]. */
  readonly minNoisyClients: number;
  /** Largest acceptable wrap-around probability; default 2^−30. */
  readonly maxWrapProbability?: number;
}

/** A validated, frozen clip-count configuration. Build with {@link clipCountParams}. */
export interface ClipCountParams {
  readonly bitNoiseStddev: number;
  readonly bits: number;
  readonly maxClients: number;
  readonly minNoisyClients: number;
  /** Skellam variance each client adds to its e_i: (2σ_b)²/h. */
  readonly clientVariance: number;
  /** (2σ_b)²: the least noise variance on E of a released sum. */
  readonly totalVariance: number;
  /** Bound on the probability that E wraps around the ring. */
  readonly wrapProbability: number;
}

/**
 * Validates the distributed clip-count configuration and computes the per-client noise.
 * @throws TypeError / RangeError (with the numbers) on a bad argument, or if the ring is too narrow
 *   for m indicators plus noise at `maxWrapProbability`
 * @example
 * ```ts
 * clipCountParams({ bitNoiseStddev: 5, bits: 16, maxClients: 100, minNoisyClients: 67 });
 * ```
 */
export function clipCountParams(input: ClipCountInput): ClipCountParams {
  assertObject('input', input);
  const sb = assertPositive('bitNoiseStddev', input.bitNoiseStddev);
  const bits = assertIntegerIn('bits', input.bits, 2, 32);
  const maxClients = assertIntegerIn('maxClients', input.maxClients, 1, 2 ** 31);
  const h = assertIntegerIn('minNoisyClients', input.minNoisyClients, 1, maxClients);
  const maxWrap = input.maxWrapProbability ?? DEFAULT_MAX_WRAP_PROBABILITY;
  if (typeof maxWrap !== 'number')
    throw new TypeError(`maxWrapProbability must be a number, got ${kind(maxWrap)}`);
  if (!(maxWrap > 0 && maxWrap < 1))
    throw new RangeError(`maxWrapProbability must be in (0, 1), got ${maxWrap}`);
  // (2σ_b)·(2σ_b), not ** 2: one rounded product, as PROTOCOL.md §11.7 writes it.
  const totalVariance = 2 * sb * (2 * sb);
  const clientVariance = totalVariance / h;
  if (clientVariance > MAX_SKELLAM_VARIANCE) {
    throw new RangeError(`bitNoiseStddev ${sb} gives a client variance ${clientVariance} above 2^51`);
  }
  const logWrap = logWrapProbability({
    bits,
    length: 1,
    clients: maxClients,
    scaledNorm: 1,
    noiseVariance: maxClients * clientVariance,
    rotated: false,
  });
  if (logWrap > Math.log(maxWrap)) {
    throw new RangeError(
      `bits = ${bits} is too small for the clip count: ${maxClients} indicators plus noise of variance ` +
        `${(maxClients * clientVariance).toPrecision(4)} wrap with probability up to ${Math.exp(logWrap).toPrecision(3)} ` +
        `> maxWrapProbability ${maxWrap}`,
    );
  }
  return Object.freeze({
    bitNoiseStddev: sb,
    bits,
    maxClients,
    minNoisyClients: h,
    clientVariance,
    totalVariance,
    wrapProbability: Math.exp(logWrap),
  });
}

function assertClipCountParams(params: ClipCountParams): void {
  assertObject('params', params);
  if (!Object.isFrozen(params) || typeof params.clientVariance !== 'number') {
    throw new TypeError('params must come from clipCountParams()');
  }
}

/** The secure-aggregation vector `clip_count`: one element of `bits` bits. */
export function clipCountVectorSpec(params: ClipCountParams): VectorSpec {
  assertClipCountParams(params);
  return Object.freeze({ name: CLIP_COUNT_VECTOR, length: 1, bits: params.bits });
}

/**
 * Distributed DP, client side: the centred indicator plus Skellam noise of variance (2σ_b)²/h, mod
 * 2^bits.
 * @param norm - ‖Δ‖₂ before clipping, finite ≥ 0
 * @param clip - the round's clip norm C > 0
 * @param params - from {@link clipCountParams}
 * @param rng - randomness; `systemRng` in production; a stream is continued (a client's update noise
 *   comes first in it, PROTOCOL.md §11.7)
 * @returns the one-element vector to mask and send
 */
export function encodeClipCount(
  norm: number,
  clip: number,
  params: ClipCountParams,
  rng: RandomSource = systemRng,
): Uint32Array {
  assertClipCountParams(params);
  const out = encodeClipIndicator(norm, clip, params.bits);
  addSkellamMod(out, params.clientVariance, params.bits, rng);
  return out;
}

/**
 * Distributed DP, server side: reads the unmasked `clip_count` sum as a signed integer E and returns
 * the noised unclipped fraction b̄ = (E + m)/(2m).
 * @param sum - the unmasked one-element sum
 * @param params - the round's clip-count configuration
 * @param contributors - m, the number of clients in the sum (the survivors), in [1, maxClients]
 * @throws TypeError / RangeError on a bad argument
 */
export function decodeClipFraction(sum: Uint32Array, params: ClipCountParams, contributors: number): number {
  assertClipCountParams(params);
  if (!(sum instanceof Uint32Array) || sum.length !== 1) {
    throw new TypeError(`sum must be a one-element Uint32Array, got ${kind(sum)}`);
  }
  const m = assertIntegerIn('contributors', contributors, 1, params.maxClients);
  const z = sum[0]!;
  if (z > 2 ** params.bits - 1) throw new RangeError(`sum[0] = ${z} is not below 2^${params.bits}`);
  const shift = 32 - params.bits;
  const e = (z << shift) >> shift;
  return (e + m) / (2 * m);
}

/**
 * The clip-count query for the accountant: Δ₂² = Δ₁ = 1 (one client moves E by 1) and noise variance
 * (2σ_b)². Compose with the update's query in one {@link SkellamRound}.
 */
export function clipCountQuery(params: ClipCountParams): SkellamQuery {
  assertClipCountParams(params);
  return Object.freeze({ squaredL2Sensitivity: 1, l1Sensitivity: 1, variance: params.totalVariance });
}
