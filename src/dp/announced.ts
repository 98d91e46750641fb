/**
 * The differential-privacy part of a round, as the coordinator announces it and both sides use it.
 *
 * The coordinator chooses the mechanism and its parameters ({@link AnnouncedPrivacy}); they travel in
 * the round announcement and are bound into the configuration hash (docs/PROTOCOL.md §2.1), so every
 * client of a round computes with the same numbers or the round cannot complete. From them both sides
 * derive the same {@link PrivacyPlan}: the secure-aggregation vectors (`clip_count` when clipping is
 * adaptive, then `update`) and the validated mechanism parameters.
 *
 * - Clients: {@link checkAnnouncedPrivacy} refuses a plan that is inconsistent with the round's
 *   threshold and cohort, or below the client's own floor; {@link encodeClientUpdate} clips, encodes
 *   and (for distributed DP) noises the update.
 * - Coordinator: {@link decodeRelease} turns the unmasked sums into the released noisy sum (adding the
 *   noise itself for central DP) and the noisy unclipped fraction; {@link planMechanism} gives the
 *   ledger the round's RDP curve.
 *
 * FedAvg weighting. Every client's clipped update enters the sum with weight 1 and the coordinator
 * divides by the number of survivors, a public count: one client then moves the sum by at most C in
 * L2, which is the sensitivity the noise is calibrated to. Weighting by example counts would need
 * bounded weights (./clip.ts `boundedWeight`) applied before clipping, so that a client claiming many
 * examples still moves the sum by at most C.
 * @module
 */
import { maxScale, quantize } from '../secagg/quantize.ts';
import { systemRng } from '../secagg/rng.ts';
import type { Rng, VectorSpec } from '../secagg/types.ts';
import {
  CLIP_COUNT_VECTOR,
  type ClipCountParams,
  clipCountParams,
  clipCountQuery,
  combinedNoiseMultiplier,
  decodeClipFraction,
  encodeClipCount,
  encodeClipIndicator,
  noisyClipFraction,
} from './adaptive.ts';
import type { RoundMechanism } from './budget.ts';
import { addCentralNoise, quantizedSensitivity } from './central.ts';
import { assertIntegerIn, assertObject, assertPositive, kind } from './checks.ts';
import { clipCopy } from './clip.ts';
import { decodeSum, encodeUpdate, type SkellamParams, skellamParams, skellamQuery } from './distributed.ts';
import { type RandomSource, withStream } from './sampling.ts';
import { skellamGaussianDominance } from './skellam-gdp.ts';
import { SkellamRound } from './skellam-rdp.ts';
import { flatten, type NamedTensors } from './tensors.ts';

/** The name of the secure-aggregation vector that carries a client's update. */
export const UPDATE_VECTOR = 'update';

/** Length of the rotation seed of the distributed mechanism, in bytes. */
export const ROTATION_SEED_BYTES = 32;

/** Adaptive clipping (./adaptive.ts): the `clip_count` vector and the noise on the count. */
export interface AnnouncedClipCount {
  /** Bit width of the `clip_count` vector, 2..32. */
  readonly bits: number;
  /** σ_b: the noise standard deviation on the count of unclipped clients, > 0. */
  readonly bitNoiseStddev: number;
}

/**
 * Distributed DP: every client adds Skellam noise after rotating and rounding its clipped update
 * (./distributed.ts), so the coordinator never sees an un-noised sum.
 */
export interface AnnouncedDistributed {
  readonly mechanism: 'distributed-skellam';
  /** d: elements in a client's update, all tensors together. */
  readonly dimension: number;
  /** C: the round's L2 clip norm. */
  readonly clip: number;
  /** z: the update's noise multiplier in the sum of any h clients. */
  readonly noiseMultiplier: number;
  /** Ring bit width of the `update` vector. */
  readonly bits: number;
  /** s: ring units per model unit. */
  readonly scale: number;
  /** β of conditional rounding. */
  readonly beta: number;
  /** The wrap-around probability bound the scale was chosen for. */
  readonly maxWrapProbability: number;
  /**
   * h: the fewest honest clients whose noise is in any sum the coordinator can unmask; at most
   * `minSurvivors − n_C` (t − n_C on the complete graph; see {@link checkAnnouncedPrivacy}).
   */
  readonly minNoisyClients: number;
  /** The random rotation's seed, {@link ROTATION_SEED_BYTES} bytes, fresh each round. */
  readonly rotationSeed: Uint8Array;
  /** Adaptive clipping, if the clip norm follows a quantile. */
  readonly clipCount?: AnnouncedClipCount;
}

/**
 * Central DP: clients clip and quantize; the coordinator adds Gaussian noise to the unmasked sum. The
 * coordinator sees the un-noised sum of the survivors (never an individual update).
 */
export interface AnnouncedCentral {
  readonly mechanism: 'central-gaussian';
  readonly dimension: number;
  readonly clip: number;
  /** z: the coordinator's noise standard deviation divided by the sensitivity C + √d/s. */
  readonly noiseMultiplier: number;
  readonly bits: number;
  readonly scale: number;
  readonly clipCount?: AnnouncedClipCount;
}

/** A round's differential-privacy mechanism and parameters, as announced. */
export type AnnouncedPrivacy = AnnouncedDistributed | AnnouncedCentral;

/** What both sides derive from an announcement for a cohort of n clients. Build with {@link privacyPlan}. */
export interface PrivacyPlan {
  readonly announced: AnnouncedPrivacy;
  /** n: the most clients whose vectors can be in the sum. */
  readonly clients: number;
  /** The secure-aggregation vectors, sorted by name (`clip_count` first when present). */
  readonly vectors: readonly VectorSpec[];
  /** The distributed mechanism's validated parameters. */
  readonly skellam?: SkellamParams;
  /** The distributed clip-count query's parameters. */
  readonly clipCount?: ClipCountParams;
  /**
   * The round's effective noise multiplier: z, or with adaptive clipping the single Gaussian
   * mechanism the update and the count together amount to (./adaptive.ts).
   */
  readonly effectiveNoiseMultiplier: number;
}

/** The announced parameters cannot work for this round; the message names the parameter. */
export class PrivacyParameterError extends RangeError {
  override name = 'PrivacyParameterError';
}

function checkClipCount(value: AnnouncedClipCount | undefined): AnnouncedClipCount | undefined {
  if (value === undefined) return undefined;
  assertObject('clipCount', value);
  return Object.freeze({
    bits: assertIntegerIn('clipCount.bits', value.bits, 2, 32),
    bitNoiseStddev: assertPositive('clipCount.bitNoiseStddev', value.bitNoiseStddev),
  });
}

/**
 * Validates an announcement against a cohort of `clients` and derives the vectors and mechanism
 * parameters. Deterministic: the coordinator and every client get the same plan.
 * @throws PrivacyParameterError naming what is wrong (an inadmissible scale, a ring too narrow, …)
 */
export function privacyPlan(announced: AnnouncedPrivacy, clients: number): PrivacyPlan {
  try {
    return buildPlan(announced, clients);
  } catch (error) {
    if (error instanceof PrivacyParameterError) throw error;
    if (error instanceof RangeError || error instanceof TypeError) {
      throw new PrivacyParameterError(`differential privacy: ${error.message}`);
    }
    throw error;
  }
}

function buildPlan(announced: AnnouncedPrivacy, clients: number): PrivacyPlan {
  assertObject('privacy', announced);
  const n = assertIntegerIn('clients', clients, 1, 2 ** 31);
  const clipCount = checkClipCount(announced.clipCount);
  const vectors: VectorSpec[] = [];
  if (announced.mechanism === 'distributed-skellam') {
    const seed = announced.rotationSeed;
    if (!(seed instanceof Uint8Array) || seed.length !== ROTATION_SEED_BYTES) {
      throw new RangeError(`rotationSeed must be ${ROTATION_SEED_BYTES} bytes, got ${kind(seed)}`);
    }
    const skellam = skellamParams({
      dimension: announced.dimension,
      clip: announced.clip,
      noiseMultiplier: announced.noiseMultiplier,
      bits: announced.bits,
      maxClients: n,
      minNoisyClients: announced.minNoisyClients,
      scale: announced.scale,
      beta: announced.beta,
      maxWrapProbability: announced.maxWrapProbability,
    });
    const count =
      clipCount &&
      clipCountParams({
        bitNoiseStddev: clipCount.bitNoiseStddev,
        bits: clipCount.bits,
        maxClients: n,
        minNoisyClients: announced.minNoisyClients,
        maxWrapProbability: announced.maxWrapProbability,
      });
    if (count) vectors.push({ name: CLIP_COUNT_VECTOR, length: 1, bits: count.bits });
    vectors.push({ name: UPDATE_VECTOR, length: skellam.paddedDimension, bits: skellam.bits });
    return Object.freeze({
      announced,
      clients: n,
      vectors: Object.freeze(vectors),
      skellam,
      ...(count && { clipCount: count }),
      effectiveNoiseMultiplier: effective(announced.noiseMultiplier, clipCount),
    });
  }
  if (announced.mechanism === 'central-gaussian') {
    const dimension = assertIntegerIn('dimension', announced.dimension, 1, 2 ** 30);
    assertPositive('clip', announced.clip);
    assertPositive('noiseMultiplier', announced.noiseMultiplier);
    const bits = assertIntegerIn('bits', announced.bits, 2, 32);
    assertPositive('scale', announced.scale);
    // The sum of n quantized, clipped vectors must not wrap: n·⌈C·s⌉ ≤ 2^(bits−1) − 1, in exact
    // arithmetic — the test quantize() applies. Evaluated in floating point, C·s can round down onto
    // an integer (C = 0.1, s = 1270: 127 in binary64, just above in fact), and a plan accepted here
    // would make every client fail to encode.
    const limit = maxScale(bits, announced.clip, n); // throws for n > 2^(bits−1) − 1
    if (announced.scale > limit) {
      throw new RangeError(
        `scale ${announced.scale} with clip ${announced.clip} lets the sum of ${n} clients wrap a ${bits}-bit ring ` +
          `(the largest scale that cannot is ${limit})`,
      );
    }
    if (clipCount && n > 2 ** (clipCount.bits - 1) - 1) {
      throw new RangeError(`clipCount.bits = ${clipCount.bits} cannot hold the count of ${n} clients`);
    }
    if (clipCount) vectors.push({ name: CLIP_COUNT_VECTOR, length: 1, bits: clipCount.bits });
    vectors.push({ name: UPDATE_VECTOR, length: dimension, bits });
    return Object.freeze({
      announced,
      clients: n,
      vectors: Object.freeze(vectors),
      effectiveNoiseMultiplier: effective(announced.noiseMultiplier, clipCount),
    });
  }
  throw new RangeError(`unknown mechanism '${String((announced as { mechanism: unknown }).mechanism)}'`);
}

function effective(z: number, clipCount: AnnouncedClipCount | undefined): number {
  return clipCount ? combinedNoiseMultiplier(z, clipCount.bitNoiseStddev) : z;
}

// ---- client side -------------------------------------------------------------------------------

/** What a client insists on before it sends anything derived from its data. */
export interface ClientPrivacyPolicy {
  /** The least effective noise multiplier it accepts (distributed: in the sum of any h clients). */
  readonly minNoiseMultiplier: number;
  /** Mechanisms it accepts; default only `distributed-skellam` (the coordinator never sees a clean sum). */
  readonly mechanisms?: readonly AnnouncedPrivacy['mechanism'][];
}

/** The round as far as the privacy checks need it (a `RoundParams` fits). */
export interface RoundShape {
  readonly threshold: number;
  readonly maxCorruptClients: number;
  /**
   * The fewest survivors any unmasked sum has: clients refuse to unmask for fewer (secagg/params.ts).
   * t on the complete graph; a Harary graph's announced survivor floor. Absent: t.
   */
  readonly minSurvivors?: number;
  readonly clients: readonly number[];
  readonly vectors: readonly VectorSpec[];
}

/**
 * The largest h a round supports: the fewest honest clients in any sum the coordinator can unmask.
 *
 * Complete graph: the coordinator needs t unmask responses, so every unmasked sum holds at least t
 * survivors, of whom at most n_C are corrupt: h = t − n_C (Bonawitz et al. 2017 §6).
 *
 * Harary graph (SecAgg+, semi-honest; docs/PROTOCOL.md §2.2): on a sparse graph the coordinator could
 * in principle learn partial sums, not only the survivors' total, in two ways: (1) if the graph of
 * honest survivors falls apart once corrupt and lost clients are removed, the masks between its
 * components are all known or reconstructed and each component's sum is exposed; (2) if a client's
 * corrupt neighbours hold t shares of its secrets, its own input is exposed (Bell et al. 2020, §4).
 * The round's parameters are checked (`graph-params.ts` `checkHararyParameters`) so that, with at
 * most n_C corrupt and at most n − minSurvivors lost clients, neither happens except with
 * probability below 2^−σ; and clients refuse to unmask for fewer than minSurvivors survivors. Outside
 * that event the coordinator learns nothing but the survivors' total, which holds at least
 * minSurvivors survivors, at most n_C of them corrupt: h = minSurvivors − n_C. (The 2^−σ, σ ≥ 40,
 * adds to the mechanism's δ.) The threshold t is far smaller here (e.g. t = 17 for n_C = 25 at
 * n = 500), so t − n_C is no bound at all; minSurvivors ≥ t makes this one never smaller.
 */
export function maxMinNoisyClients(
  round: Pick<RoundShape, 'threshold' | 'maxCorruptClients' | 'minSurvivors'>,
): number {
  return Math.max(round.minSurvivors ?? round.threshold, round.threshold) - round.maxCorruptClients;
}

/**
 * A client's checks of the announced privacy against the round and its own policy. Returns the
 * reason to refuse, or undefined when the client may take part.
 *
 * - The distributed mechanism's h must be at most {@link maxMinNoisyClients} (t − n_C on the complete
 *   graph, minSurvivors − n_C on a Harary graph): each client adds variance z²Δ²/h, so a coordinator
 *   claiming a larger h would make every client add too little noise.
 * - The round's vectors must be exactly the plan's (names, lengths, widths).
 * - With a policy: a round without privacy, an unaccepted mechanism, or an effective noise multiplier
 *   below the floor is refused.
 */
export function checkAnnouncedPrivacy(
  announced: AnnouncedPrivacy | undefined,
  round: RoundShape,
  policy?: ClientPrivacyPolicy,
): string | undefined {
  if (announced === undefined) {
    return policy ? 'the round has no differential privacy and this client requires it' : undefined;
  }
  let plan: PrivacyPlan;
  try {
    plan = privacyPlan(announced, round.clients.length);
  } catch (error) {
    if (error instanceof PrivacyParameterError) return error.message;
    throw error;
  }
  if (announced.mechanism === 'distributed-skellam') {
    const h = maxMinNoisyClients(round);
    if (announced.minNoisyClients > h) {
      const rule =
        (round.minSurvivors ?? round.threshold) > round.threshold ? 'minSurvivors - n_C' : 't - n_C';
      return (
        `min noisy clients ${announced.minNoisyClients} exceeds ${rule} = ${h}: each client would add ` +
        'too little noise'
      );
    }
  }
  const vectorsMatch =
    plan.vectors.length === round.vectors.length &&
    plan.vectors.every((v, i) => {
      const w = round.vectors[i]!;
      return v.name === w.name && v.length === w.length && v.bits === w.bits;
    });
  if (!vectorsMatch) return 'the round vectors do not match the announced privacy mechanism';
  if (policy) {
    const accepted = policy.mechanisms ?? ['distributed-skellam'];
    if (!accepted.includes(announced.mechanism)) {
      return `mechanism '${announced.mechanism}' is not accepted by this client (accepts ${accepted.join(', ')})`;
    }
    if (!(plan.effectiveNoiseMultiplier >= policy.minNoiseMultiplier)) {
      return (
        `effective noise multiplier ${plan.effectiveNoiseMultiplier.toPrecision(4)} is below this client's ` +
        `floor ${policy.minNoiseMultiplier}`
      );
    }
  }
  return undefined;
}

/** What {@link encodeClientUpdate} produced. */
export interface EncodedClientUpdate {
  /** One vector per plan vector, in plan order. */
  readonly vectors: readonly Uint32Array[];
  /** ‖update‖₂ before clipping. */
  readonly norm: number;
  readonly clipped: boolean;
}

/**
 * A client's vectors for the round: clipped to C, encoded for the ring, and for distributed DP noised.
 * @param update - the client's update, `dimension` elements in all, finite; not modified
 * @param rng - randomness for rounding and noise; the OS CSPRNG in production
 * @throws TypeError / RangeError on a wrong-sized or non-finite update (nothing is returned then)
 */
export function encodeClientUpdate(
  plan: PrivacyPlan,
  update: NamedTensors,
  rng: Rng = systemRng,
): EncodedClientUpdate {
  const a = plan.announced;
  if (a.mechanism === 'distributed-skellam') {
    // One stream: the update's rounding and noise, then the clip count's noise (PROTOCOL.md §11.7).
    return withStream(rng, (stream) => {
      const encoded = encodeUpdate(update, plan.skellam!, a.rotationSeed, stream);
      const vectors = plan.clipCount
        ? [encodeClipCount(encoded.norm, a.clip, plan.clipCount, stream), encoded.vector]
        : [encoded.vector];
      return Object.freeze({ vectors, norm: encoded.norm, clipped: encoded.clipped });
    });
  }
  const { tensors, norm, clipped } = clipCopy(update, { clip: a.clip });
  const flat = flatten(tensors);
  if (flat.length !== a.dimension) {
    throw new RangeError(`the update has ${flat.length} elements, the round's dimension is ${a.dimension}`);
  }
  // Every coordinate of an L2-clipped vector is within [−C, C], so quantize's coordinate clip is a no-op.
  const vector = quantize(flat, { bits: a.bits, clip: a.clip, scale: a.scale, clients: plan.clients }, rng);
  flat.fill(0);
  for (const t of tensors.values()) t.fill(0);
  const vectors = a.clipCount ? [encodeClipIndicator(norm, a.clip, a.clipCount.bits), vector] : [vector];
  return Object.freeze({ vectors, norm, clipped });
}

// ---- coordinator side --------------------------------------------------------------------------

/** What the coordinator releases for a round. */
export interface Release {
  /** The noisy sum of the survivors' clipped updates, flat, `dimension` elements, model units. */
  readonly sum: Float64Array;
  /** The noisy fraction of survivors whose update was not clipped (adaptive clipping only). */
  readonly unclippedFraction?: number;
}

/**
 * Decodes the unmasked sums into what is released. For central DP this is where the noise is drawn.
 * @param sums - one unmasked sum per plan vector, in plan order
 * @param survivors - how many clients' vectors are in the sums, ≥ 1
 * @param rng - randomness for central noise; the OS CSPRNG in production; a stream is continued
 */
export function decodeRelease(
  plan: PrivacyPlan,
  sums: readonly Uint32Array[],
  survivors: number,
  rng: RandomSource = systemRng,
): Release {
  if (sums.length !== plan.vectors.length) {
    throw new RangeError(`expected ${plan.vectors.length} sums, got ${sums.length}`);
  }
  const m = assertIntegerIn('survivors', survivors, 1, plan.clients);
  const a = plan.announced;
  const updateSum = sums[sums.length - 1]!;
  const countSum = plan.vectors.length === 2 ? sums[0]! : undefined;
  if (a.mechanism === 'distributed-skellam') {
    const sum = decodeSum(updateSum, plan.skellam!, a.rotationSeed);
    if (!plan.clipCount || !countSum) return Object.freeze({ sum });
    return Object.freeze({ sum, unclippedFraction: decodeClipFraction(countSum, plan.clipCount, m) });
  }
  const shift = 32 - a.bits;
  const sum = new Float64Array(a.dimension);
  for (let i = 0; i < a.dimension; i++) sum[i] = ((updateSum[i]! << shift) >> shift) / a.scale;
  // One stream: the update's noise, then the count's (PROTOCOL.md §11.8).
  return withStream(rng, (stream) => {
    addCentralNoise(
      sum,
      {
        noiseMultiplier: a.noiseMultiplier,
        clip: a.clip,
        quantization: { dimension: a.dimension, scale: a.scale },
      },
      stream,
    );
    if (!a.clipCount || !countSum) return Object.freeze({ sum });
    const countShift = 32 - a.clipCount.bits;
    const centred = (countSum[0]! << countShift) >> countShift;
    return Object.freeze({
      sum,
      unclippedFraction: noisyClipFraction(centred, m, a.clipCount.bitNoiseStddev, stream),
    });
  });
}

/**
 * The round's mechanism for the ledger: its RDP curve and its privacy loss distribution.
 *
 * Distributed: the exact RDP of the (subsampled) Skellam round, update and clip count together
 * (./skellam-rdp.ts), and as PLD the Gaussian mechanism that dominates the round (./skellam-gdp.ts;
 * omitted when the noise variance is beyond what that is computed for). Neighbouring relation: one
 * client's update zeroed while its noise share stays (zero-out; see ./distributed.ts for why the
 * relation that also removes the share is not one client noise can cover); recorded in the params.
 * Central: the Gaussian mechanism of the round's effective noise multiplier (update and count
 * together, ./adaptive.ts), add/remove.
 * @param q - the client sampling rate the round may claim for amplification (1 claims none)
 * @param orders - the ledger's RDP orders (for the distributed mechanism's precomputed curve)
 * @param options.estimate - calibration searches only: estimate the dominating Gaussian of a very
 *   noisy round instead of computing it (./skellam-gdp.ts). Never for what a ledger is charged.
 */
export function planMechanism(
  plan: PrivacyPlan,
  q: number,
  orders: readonly number[],
  options: { readonly estimate?: boolean } = {},
): RoundMechanism {
  const a = plan.announced;
  if (a.mechanism === 'distributed-skellam') {
    const queries = [skellamQuery(plan.skellam!)];
    if (plan.clipCount) queries.push(clipCountQuery(plan.clipCount));
    const dominance = skellamGaussianDominance(queries, options);
    return {
      kind: 'precomputed',
      name: 'distributed-skellam',
      params: {
        q,
        dimension: a.dimension,
        clip: a.clip,
        noiseMultiplier: a.noiseMultiplier,
        bits: a.bits,
        scale: a.scale,
        minNoisyClients: a.minNoisyClients,
        ...(a.clipCount && { bitNoiseStddev: a.clipCount.bitNoiseStddev }),
        relation: 'zero-out',
      },
      orders,
      rdp: new SkellamRound(queries, q).rdp(orders),
      ...(dominance && {
        pld: {
          event: {
            kind: 'gaussian',
            sigma: dominance.sigma,
            q,
            ...(dominance.slack > 0 && { slack: dominance.slack }),
          },
          count: 1,
        },
      }),
    };
  }
  const sensitivity = quantizedSensitivity(a.clip, { dimension: a.dimension, scale: a.scale });
  return q === 1
    ? { kind: 'gaussian-central', sigma: plan.effectiveNoiseMultiplier, sensitivity }
    : { kind: 'subsampled-gaussian', q, sigma: plan.effectiveNoiseMultiplier, sensitivity };
}
