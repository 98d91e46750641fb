/**
 * The six ways the privacy benchmark (./bench-privacy.ts) turns one round's client updates into the
 * mean update the server optimizer applies. Every aggregator gets the *same* updates for the same
 * seed, so runs differ only in how they aggregate:
 *
 * | kind                 | clients send                                   | the server computes                         |
 * |----------------------|------------------------------------------------|---------------------------------------------|
 * | `plain`              | float updates                                  | their mean (FedAvg, no clipping) — ε = ∞    |
 * | `secagg`             | updates quantized to the ring (no DP)          | the real protocol's sum, dequantized, / n   |
 * | `central-float`      | float updates                                  | clip, sum, + N(0, (zC)²), / m               |
 * | `central-secagg`     | `encodeClientUpdate` (clip, quantize)          | protocol sum → `decodeRelease` (adds noise) |
 * | `distributed-float`  | clipped update + N(0, z²C²/h) each             | float sum / m                               |
 * | `distributed-secagg` | `encodeClientUpdate` (clip, rotate, round, Skellam) | protocol sum → `decodeRelease`, / m    |
 *
 * The secure kinds run the announced pipeline of src/dp/announced.ts, the one clients and the
 * coordinator use over gRPC, and their vectors are summed by the real secure-aggregation state
 * machines (src/sim/round.ts) in {@link aggregateSecurely}. The float kinds are their
 * continuous analogues: the same clipping and the same noise multiplier, in floating point, so that
 * comparing a pair shows what quantization, discretisation and modular arithmetic cost.
 *
 * Denominator. The DP kinds divide the noised sum by the fixed public m = qN, the expected cohort
 * under Poisson sampling at rate q (McMahan et al., "Learning Differentially Private Recurrent
 * Language Models", ICLR 2018, the fixed-denominator estimator f̃_f): it is unbiased for the
 * population mean, and, being a constant, it is post-processing of the noised sum, so the sum's
 * sensitivity C is the whole story. Dividing by the realised cohort size n instead would make the
 * release depend on a count that one client's presence changes, which the Gaussian accounting does
 * not cover. The non-private kinds divide by n (they release nothing private; that is plain FedAvg).
 *
 * Public round parameters. A Poisson cohort's size n is random, so anything the mechanism's output
 * depends on must not follow n if it can be helped: the ring scale is fixed from a public cap
 * `maxClients` on the cohort (the largest scale admissible for every n up to the cap), so the grid
 * of released values and the sensitivities in ring units, hence the per-round RDP, are the same in
 * every round. What does follow n is the distributed mechanism's h = t − n_C (t the round's Shamir
 * threshold): each client adds variance z²Δ²/h, so any sum the coordinator can unmask holds at
 * least z²Δ² of honest noise whatever n is — the accounted amount.
 *
 * Randomness here is simulation randomness (seeded streams per run, round and client) so that runs
 * are reproducible; production draws the same noise from the OS CSPRNG.
 * @module
 */
import { calibrateSigma, RdpAccountant } from '../dp/accountant.ts';
import { noisyClipFraction, splitNoiseMultiplier, updateClipNorm } from '../dp/adaptive.ts';
import {
  type AnnouncedPrivacy,
  decodeRelease,
  encodeClientUpdate,
  type PrivacyPlan,
  planMechanism,
  privacyPlan,
  ROTATION_SEED_BYTES,
} from '../dp/announced.ts';
import { type RoundCost, type RoundMechanism, roundCost } from '../dp/budget.ts';
import { assertIntegerIn, assertPositive } from '../dp/checks.ts';
import { DEFAULT_MAX_WRAP_PROBABILITY, maxSkellamScale, skellamParams } from '../dp/distributed.ts';
import { DEFAULT_RDP_ORDERS } from '../dp/orders.ts';
import { DEFAULT_PLD_INTERVAL } from '../dp/pld.ts';
import { searchNoiseMultiplier } from '../dp/round-planner.ts';
import { DEFAULT_BETA } from '../dp/rounding.ts';
import { fillGaussian } from '../dp/sampling.ts';
import { groupPld, type PldRounds, tightEpsilon } from '../dp/tightest.ts';
import { roundParams } from '../secagg/params.ts';
import { dequantizeSum, maxScale, quantize } from '../secagg/quantize.ts';
import { type ClientId, clientId, type Rng } from '../secagg/types.ts';
import { simulateRound } from '../sim/round.ts';

/** The aggregators, see the module comment. */
export type AggregatorKind =
  | 'plain'
  | 'secagg'
  | 'central-float'
  | 'central-secagg'
  | 'distributed-float'
  | 'distributed-secagg';

/** One round as the aggregators see it. */
export interface CohortRound {
  /** 1-based round number. */
  readonly round: number;
  /** n: clients whose updates are aggregated, ≥ 2. */
  readonly clients: number;
  /** t: the round's Shamir threshold. */
  readonly threshold: number;
  /** n_C: clients assumed to collude with the coordinator. */
  readonly maxCorruptClients: number;
}

/** One run's result for a round. */
export interface Aggregate {
  /** The mean update Δ, flat, in the model's tensor order. */
  readonly mean: Float64Array;
  /** Clients whose update was clipped (L2 for DP kinds; any coordinate beyond the ring's clip for `secagg`). */
  readonly clipped: number;
  /** The noised fraction of unclipped clients, with adaptive clipping. */
  readonly unclippedFraction?: number;
}

/** Makes the seeded random stream named by a label (unique per run, round, client and use). */
export type RngFactory = (label: string) => Rng;

/** An aggregator that works on float updates in one step. */
export interface FloatAggregator {
  readonly kind: AggregatorKind;
  readonly secure: false;
  aggregate(updates: readonly Float32Array[], round: CohortRound): Aggregate;
}

/** An aggregator whose clients encode for the ring and whose sum comes from secure aggregation. */
export interface SecureAggregator {
  readonly kind: AggregatorKind;
  readonly secure: true;
  /** Plans a round: what vectors every client sends. Call encode for every client, then finish once. */
  begin(round: CohortRound): SecureRound;
}

/** A secure aggregator's round in progress. */
export interface SecureRound {
  /** The ring vectors each client sends, in order; every one has the benchmark's bit width. */
  readonly lengths: readonly number[];
  /** Client `index` (0-based within the cohort) encodes its update. */
  encode(index: number, update: Float32Array): readonly Uint32Array[];
  /** Decodes the unmasked sums (one per vector) of `survivors` clients. */
  finish(sums: readonly Uint32Array[], survivors: number): Aggregate;
}

export type Aggregator = FloatAggregator | SecureAggregator;

// ---- non-private ---------------------------------------------------------------------------------

/** Plain FedAvg: the float mean of the updates, no clipping, no noise. */
export function plainAggregator(dimension: number): FloatAggregator {
  const d = assertIntegerIn('dimension', dimension, 1, 2 ** 30);
  return {
    kind: 'plain',
    secure: false,
    aggregate(updates) {
      const mean = sumOf(updates, d);
      for (let i = 0; i < d; i++) mean[i]! /= updates.length;
      return { mean, clipped: 0 };
    },
  };
}

/** Settings of {@link secaggAggregator}. */
export interface SecaggSettings {
  readonly dimension: number;
  /** Ring bit width. */
  readonly bits: number;
  /** c: every coordinate is clipped to [−c, c] before quantizing (choose c above any coordinate). */
  readonly coordinateClip: number;
  /** The public cap on the cohort the scale is chosen for. */
  readonly maxClients: number;
  readonly rngFor: RngFactory;
}

/**
 * Secure aggregation alone: each update quantized (src/secagg/quantize.ts: coordinate clip c,
 * scale s = maxScale(bits, c, maxClients), stochastic rounding), summed by the protocol, decoded
 * and divided by n. The only difference from plain FedAvg is quantization: each client's
 * coordinate moves by less than 1/s, so the mean by less than {@link secaggErrorBound}.
 */
export function secaggAggregator(settings: SecaggSettings): SecureAggregator {
  const d = assertIntegerIn('dimension', settings.dimension, 1, 2 ** 30);
  const { bits, coordinateClip: c, maxClients } = settings;
  const scale = maxScale(bits, c, maxClients);
  return {
    kind: 'secagg',
    secure: true,
    begin(round) {
      let clipped = 0;
      return {
        lengths: [d],
        encode(index, update) {
          if (update.length !== d)
            throw new RangeError(`update has ${update.length} elements, expected ${d}`);
          for (let i = 0; i < d; i++) {
            if (Math.abs(update[i]!) > c) {
              clipped++;
              break;
            }
          }
          const rng = settings.rngFor(`r${round.round}/c${index}/quantize`);
          return [quantize(update, { bits, clip: c, scale, clients: maxClients }, rng)];
        },
        finish(sums, survivors) {
          const mean = dequantizeSum(sums[0]!, { bits, scale });
          for (let i = 0; i < d; i++) mean[i]! /= survivors;
          return { mean, clipped };
        },
      };
    },
  };
}

/** The largest error of {@link secaggAggregator}'s mean against the float mean, per coordinate: 1/s. */
export function secaggErrorBound(
  settings: Pick<SecaggSettings, 'bits' | 'coordinateClip' | 'maxClients'>,
): number {
  return 1 / maxScale(settings.bits, settings.coordinateClip, settings.maxClients);
}

// ---- differentially private ----------------------------------------------------------------------

/** Adaptive clipping (Andrew et al. 2021; src/dp/adaptive.ts). */
export interface AdaptiveClip {
  /** γ: the target quantile of update norms, in (0, 1). */
  readonly targetQuantile: number;
  /** η_C: the geometric learning rate (0.2 in Andrew et al.). */
  readonly learningRate: number;
  /** σ_b: the noise standard deviation on the count of unclipped clients. */
  readonly bitNoiseStddev: number;
}

/** Settings of a DP aggregator. */
export interface DpSettings {
  readonly mechanism: 'central' | 'distributed';
  readonly dimension: number;
  /**
   * z: the round's effective noise multiplier. With adaptive clipping the update gets
   * z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) and the clip count the rest, so the round spends exactly z.
   */
  readonly noiseMultiplier: number;
  /** C: the clip norm (the first round's, with adaptive clipping). */
  readonly clip: number;
  /** Ring bit width of every secure vector (the clip count's too). */
  readonly bits: number;
  /** The public cap on the cohort n the ring scale is chosen for. */
  readonly maxClients: number;
  /** The round's threshold t for a cohort of n (the distributed scale is searched over every n ≤ cap). */
  readonly thresholdFor: (clients: number) => number;
  readonly maxCorruptClients: number;
  /** m: the fixed public denominator, the expected cohort qN. */
  readonly denominator: number;
  /** q: the Poisson sampling rate the accounting claims. */
  readonly q: number;
  readonly adaptive?: AdaptiveClip;
  /** RDP orders of the accountant (the default list). */
  readonly orders?: readonly number[];
  readonly rngFor: RngFactory;
}

/** What a DP aggregator spent and how it is set. */
export interface DpAccount {
  readonly settings: DpSettings;
  /** The clip norm the next round will use. */
  readonly clip: number;
  /** Rounds composed into the accountant. */
  readonly rounds: number;
  /** The RDP accountant holding every composed round. */
  readonly accountant: RdpAccountant;
  /** Every composed round's PLD, grouped (undefined once a round without one was composed). */
  readonly pld: readonly PldRounds[] | undefined;
  /** The ε spent so far at δ: the smaller of RDP's and the PLD accountant's bound, as a ledger computes it. */
  epsilon(delta: number): number;
  /**
   * Accounts a round in which nothing was released (a cohort too small to aggregate): composing it
   * anyway only overstates ε.
   */
  skip(): void;
}

export type DpFloatAggregator = FloatAggregator & { readonly privacy: DpAccount };
export type DpSecureAggregator = SecureAggregator & { readonly privacy: DpAccount };

function checkDpSettings(s: DpSettings): void {
  if (s.mechanism !== 'central' && s.mechanism !== 'distributed') {
    throw new RangeError(`mechanism must be 'central' or 'distributed', got ${String(s.mechanism)}`);
  }
  assertIntegerIn('dimension', s.dimension, 1, 2 ** 30);
  assertPositive('noiseMultiplier', s.noiseMultiplier);
  assertPositive('clip', s.clip);
  assertIntegerIn('bits', s.bits, 2, 32);
  assertIntegerIn('maxClients', s.maxClients, 2, 2 ** 31);
  assertIntegerIn('maxCorruptClients', s.maxCorruptClients, 0, s.maxClients - 1);
  assertPositive('denominator', s.denominator);
  if (!(s.q > 0 && s.q <= 1)) throw new RangeError(`q must be in (0, 1], got ${s.q}`);
  if (s.adaptive) {
    const { targetQuantile: g } = s.adaptive;
    if (!(g > 0 && g < 1)) throw new RangeError(`adaptive.targetQuantile must be in (0, 1), got ${g}`);
    assertPositive('adaptive.learningRate', s.adaptive.learningRate);
    assertPositive('adaptive.bitNoiseStddev', s.adaptive.bitNoiseStddev);
  }
}

/** z_Δ: the update's share of the noise multiplier (all of it without adaptive clipping). */
export function updateNoiseMultiplier(s: Pick<DpSettings, 'noiseMultiplier' | 'adaptive'>): number {
  return s.adaptive ? splitNoiseMultiplier(s.noiseMultiplier, s.adaptive.bitNoiseStddev) : s.noiseMultiplier;
}

/** Shared state of a DP aggregator: the clip norm, the accountants. */
class Account implements DpAccount {
  readonly settings: DpSettings;
  readonly accountant: RdpAccountant;
  clip: number;
  rounds = 0;
  #pld: PldRounds[] | undefined = [];
  readonly #reference: RoundCost;

  constructor(settings: DpSettings, reference: (clip: number) => RoundCost) {
    checkDpSettings(settings);
    this.settings = settings;
    this.accountant = new RdpAccountant(settings.orders ?? DEFAULT_RDP_ORDERS);
    this.clip = settings.clip;
    this.#reference = reference(settings.clip);
  }

  get pld(): readonly PldRounds[] | undefined {
    return this.#pld;
  }

  compose(cost: RoundCost): void {
    this.accountant.composeRdp({ rdp: () => cost.rdp });
    this.#pld = cost.pld && this.#pld ? groupPld([...this.#pld, cost.pld]) : undefined;
    this.rounds++;
  }

  epsilon(delta: number): number {
    return tightEpsilon({ orders: this.accountant.orders, rdp: this.accountant.rdp, pld: this.#pld }, delta)
      .epsilon;
  }

  skip(): void {
    this.compose(this.#reference);
  }

  observe(fraction: number | undefined): void {
    const adaptive = this.settings.adaptive;
    if (adaptive && fraction !== undefined) this.clip = updateClipNorm(this.clip, fraction, adaptive);
  }
}

function costOf(mechanism: RoundMechanism, orders: readonly number[]): RoundCost {
  return roundCost(mechanism, orders);
}

/** The Gaussian round the float kinds are accounted as: subsampled at q with multiplier z. */
function gaussianRound(s: DpSettings, clip: number): RoundMechanism {
  return s.q === 1
    ? { kind: 'gaussian-central', sigma: s.noiseMultiplier, sensitivity: clip }
    : { kind: 'subsampled-gaussian', q: s.q, sigma: s.noiseMultiplier, sensitivity: clip };
}

/**
 * A DP aggregator in floating point: clip every update to C, sum, add Gaussian noise (central: once,
 * N(0, (z_Δ·C)²) per coordinate; distributed: each of the n clients N(0, z_Δ²C²/h), drawn here as
 * their sum N(0, n·z_Δ²C²/h), the same distribution), divide by m. Accounted as the Poisson-subsampled
 * Gaussian mechanism of multiplier z (the distributed kind's honest noise in any h clients is at
 * least z²C², so the same bound holds for it).
 */
export function dpFloatAggregator(settings: DpSettings): DpFloatAggregator {
  const orders = settings.orders ?? DEFAULT_RDP_ORDERS;
  const account = new Account(settings, (clip) => costOf(gaussianRound(settings, clip), orders));
  const s = settings;
  const d = s.dimension;
  const zUpdate = updateNoiseMultiplier(s);
  return {
    kind: s.mechanism === 'central' ? 'central-float' : 'distributed-float',
    secure: false,
    privacy: account,
    aggregate(updates, round) {
      const n = updates.length;
      const clip = account.clip;
      const h = round.threshold - round.maxCorruptClients;
      if (s.mechanism === 'distributed' && h < 1)
        throw new RangeError(`t − n_C = ${h} leaves no honest noise`);
      const sum = new Float64Array(d);
      let clipped = 0;
      let centred = 0;
      for (const u of updates) {
        if (u.length !== d) throw new RangeError(`update has ${u.length} elements, expected ${d}`);
        let squares = 0;
        for (let i = 0; i < d; i++) squares += u[i]! * u[i]!;
        const norm = Math.sqrt(squares);
        const factor = norm > clip ? clip / norm : 1;
        if (norm > clip) clipped++;
        centred += norm <= clip ? 1 : -1;
        for (let i = 0; i < d; i++) sum[i]! += factor * u[i]!;
      }
      const rng = s.rngFor(`r${round.round}/noise`);
      const stddev =
        s.mechanism === 'central' ? zUpdate * clip : zUpdate * clip * Math.sqrt(n / Math.max(h, 1));
      const noise = fillGaussian(new Float64Array(d), stddev, rng);
      const mean = new Float64Array(d);
      for (let i = 0; i < d; i++) mean[i] = (sum[i]! + noise[i]!) / s.denominator;
      let unclippedFraction: number | undefined;
      if (s.adaptive) {
        const sb = s.adaptive.bitNoiseStddev;
        if (s.mechanism === 'central') unclippedFraction = noisyClipFraction(centred, n, sb, rng);
        else {
          // Each client adds N(0, (2σ_b)²/h) to its centred bit: the sum carries n/h times (2σ_b)².
          const e = centred + fillGaussian(new Float64Array(1), 2 * sb * Math.sqrt(n / h), rng)[0]!;
          unclippedFraction = (e + n) / (2 * n);
        }
      }
      account.compose(costOf(gaussianRound(s, clip), orders));
      account.observe(unclippedFraction);
      return unclippedFraction === undefined ? { mean, clipped } : { mean, clipped, unclippedFraction };
    },
  };
}

/**
 * The announcement of a DP round as the coordinator would make it, with the scale fixed from the
 * public cohort cap (see the module comment).
 */
export function announceRound(
  s: DpSettings,
  clip: number,
  round: CohortRound,
  rotationSeed: Uint8Array,
): AnnouncedPrivacy {
  const zUpdate = updateNoiseMultiplier(s);
  const clipCount = s.adaptive && { bits: s.bits, bitNoiseStddev: s.adaptive.bitNoiseStddev };
  if (s.mechanism === 'central') {
    return {
      mechanism: 'central-gaussian',
      dimension: s.dimension,
      clip,
      noiseMultiplier: zUpdate,
      bits: s.bits,
      scale: maxScale(s.bits, clip, s.maxClients),
      ...(clipCount && { clipCount }),
    };
  }
  return {
    mechanism: 'distributed-skellam',
    dimension: s.dimension,
    clip,
    noiseMultiplier: zUpdate,
    bits: s.bits,
    scale: distributedScale(s, clip),
    beta: DEFAULT_BETA,
    maxWrapProbability: DEFAULT_MAX_WRAP_PROBABILITY,
    minNoisyClients: round.threshold - round.maxCorruptClients,
    rotationSeed,
    ...(clipCount && { clipCount }),
  };
}

const scaleCache = new WeakMap<DpSettings, Map<number, number>>();

/**
 * The distributed mechanism's ring scale for clip C: the largest admissible for every cohort size
 * n ∈ [2, maxClients] with its own h(n) = t(n) − n_C (admissibility is monotone in the scale, so
 * the minimum over n of the largest admissible scale is admissible for all). Cached per settings
 * and C.
 */
export function distributedScale(s: DpSettings, clip: number): number {
  let cache = scaleCache.get(s);
  if (cache === undefined) {
    cache = new Map();
    scaleCache.set(s, cache);
  }
  const cached = cache.get(clip);
  if (cached !== undefined) return cached;
  const zUpdate = updateNoiseMultiplier(s);
  const input = (n: number) => ({
    dimension: s.dimension,
    clip,
    noiseMultiplier: zUpdate,
    bits: s.bits,
    maxClients: n,
    minNoisyClients: s.thresholdFor(n) - s.maxCorruptClients,
  });
  let scale = maxSkellamScale(input(s.maxClients));
  for (let n = s.maxClients - 1; n >= 2; n--) {
    try {
      skellamParams({ ...input(n), scale });
    } catch {
      scale = maxSkellamScale(input(n));
    }
  }
  cache.set(clip, scale);
  return scale;
}

/**
 * One round's cost (RDP curve and PLD) of the secure DP pipeline at clip C (any n gives the same).
 * `estimate`: for calibration searches only (src/dp/announced.ts `planMechanism`).
 */
export function secureRoundCost(
  s: DpSettings,
  clip: number,
  options: { readonly estimate?: boolean } = {},
): RoundCost {
  const round: CohortRound = {
    round: 1,
    clients: s.maxClients,
    threshold: s.thresholdFor(s.maxClients),
    maxCorruptClients: s.maxCorruptClients,
  };
  const plan = privacyPlan(announceRound(s, clip, round, new Uint8Array(ROTATION_SEED_BYTES)), s.maxClients);
  const orders = s.orders ?? DEFAULT_RDP_ORDERS;
  return costOf(planMechanism(plan, s.q, orders, options), orders);
}

/**
 * A DP aggregator running the announced pipeline: each client `encodeClientUpdate`s its update
 * (central: clip and quantize; distributed: clip, rotate, round, add Skellam noise), the vectors are
 * summed by secure aggregation, and `decodeRelease` gives the released noisy sum (adding the
 * central noise itself), divided by m. Each round is accounted with `planMechanism`'s curve.
 */
export function dpSecureAggregator(settings: DpSettings): DpSecureAggregator {
  const orders = settings.orders ?? DEFAULT_RDP_ORDERS;
  const account = new Account(settings, (clip) => secureRoundCost(settings, clip));
  const s = settings;
  return {
    kind: s.mechanism === 'central' ? 'central-secagg' : 'distributed-secagg',
    secure: true,
    privacy: account,
    begin(round) {
      const seed = s.rngFor(`r${round.round}/rotation`).randomBytes(ROTATION_SEED_BYTES);
      const plan: PrivacyPlan = privacyPlan(announceRound(s, account.clip, round, seed), round.clients);
      for (const v of plan.vectors) {
        if (v.bits !== s.bits) throw new RangeError(`vector '${v.name}' has ${v.bits} bits, not ${s.bits}`);
      }
      let clipped = 0;
      return {
        lengths: plan.vectors.map((v) => v.length),
        encode(index, update) {
          const rng = s.rngFor(`r${round.round}/c${index}/encode`);
          const encoded = encodeClientUpdate(plan, new Map([['update', update]]), rng);
          if (encoded.clipped) clipped++;
          return encoded.vectors;
        },
        finish(sums, survivors) {
          const release = decodeRelease(plan, sums, survivors, s.rngFor(`r${round.round}/release`));
          const mean = release.sum;
          for (let i = 0; i < mean.length; i++) mean[i]! /= s.denominator;
          account.compose(costOf(planMechanism(plan, s.q, orders), orders));
          account.observe(release.unclippedFraction);
          return release.unclippedFraction === undefined
            ? { mean, clipped }
            : { mean, clipped, unclippedFraction: release.unclippedFraction };
        },
      };
    },
  };
}

/** The ε of `rounds` rounds of one round's cost at δ, by the tighter valid bound (as a ledger). */
export function composedEpsilon(
  cost: RoundCost,
  rounds: number,
  delta: number,
  orders: readonly number[] = DEFAULT_RDP_ORDERS,
  interval: number = DEFAULT_PLD_INTERVAL,
): number {
  const pld = cost.pld && [{ event: cost.pld.event, count: cost.pld.count * rounds }];
  return tightEpsilon({ orders, rdp: cost.rdp.map((r) => r * rounds), pld }, delta, { interval }).epsilon;
}

/** What {@link calibrate} needs: the settings without z, and the budget. */
export interface CalibrationTarget {
  readonly targetEpsilon: number;
  readonly delta: number;
  readonly rounds: number;
}

/**
 * The noise multiplier z for `rounds` rounds within (ε, δ), for the settings' mechanism, as the
 * secure aggregator will charge them: the round's exact RDP and PLD (src/dp/announced.ts
 * `planMechanism`, the update and the adaptive-clipping count together) composed and converted by the
 * tighter valid bound — the search of src/dp/round-planner.ts `searchNoiseMultiplier`, here on the
 * benchmark's fixed-scale plan.
 * @returns z and the ε it gives over all rounds
 * @throws RangeError if no z meets the target
 */
export function calibrate(
  settings: Omit<DpSettings, 'noiseMultiplier'>,
  target: CalibrationTarget,
): { noiseMultiplier: number; epsilon: number } {
  const orders = settings.orders ?? DEFAULT_RDP_ORDERS;
  const gaussian = calibrateSigma({
    targetEpsilon: target.targetEpsilon,
    delta: target.delta,
    q: settings.q,
    steps: target.rounds,
    orders,
  }).sigma;
  const searchInterval = target.rounds <= 100 ? 10 * DEFAULT_PLD_INTERVAL : DEFAULT_PLD_INTERVAL;
  const epsilonAt = (z: number, exact: boolean): number => {
    const s: DpSettings = { ...settings, noiseMultiplier: z };
    const cost = secureRoundCost(s, s.clip, { estimate: !exact });
    return composedEpsilon(
      cost,
      target.rounds,
      target.delta,
      orders,
      exact ? DEFAULT_PLD_INTERVAL : searchInterval,
    );
  };
  // With adaptive clipping 2σ_b must exceed z (src/dp/adaptive.ts): splitNoiseMultiplier throws if not.
  const z = searchNoiseMultiplier(
    epsilonAt,
    target.targetEpsilon,
    gaussian,
    `within ${target.rounds} rounds`,
  );
  return { noiseMultiplier: z, epsilon: epsilonAt(z, true) };
}

// ---- secure aggregation of a round ---------------------------------------------------------------

/** Options of {@link aggregateSecurely}. */
export interface SecureRoundOptions {
  /** Ring bit width shared by every vector. */
  readonly bits: number;
  /** Randomness of each simulated client's protocol state machine (keys, shares, masks). */
  readonly rngFor: (id: ClientId) => Rng;
}

/** What {@link aggregateSecurely} did. */
export interface SecureRoundReport {
  /** One aggregate per secure round given, in order. */
  readonly aggregates: readonly Aggregate[];
  /** Elements of the one vector the protocol summed (all runs' segments together). */
  readonly vectorLength: number;
  /** Milliseconds: encoding (all clients, all runs), the protocol, decoding. */
  readonly encodeMs: number;
  readonly protocolMs: number;
  readonly decodeMs: number;
}

/**
 * Runs one secure-aggregation round for several runs at once: every run's vectors become segments
 * of one `bits`-bit vector, each client sends the concatenation of its segments, the real protocol
 * (semi-honest setting, the cohort's threshold) sums them, and each run decodes its own segments.
 * Secure aggregation outputs the exact element-wise sum mod 2^bits, so each run's result is exactly
 * what a round of its own would give; sharing one protocol execution only saves the per-round key
 * agreement, secret sharing and mask expansion that would otherwise be repeated per run. No client
 * drops out.
 * @param rounds - the runs' planned rounds
 * @param updates - `updates[r][k]`: run r's update of the cohort's k-th client (flat)
 * @throws RangeError on mismatched inputs; Error if the protocol does not complete
 */
export function aggregateSecurely(
  rounds: readonly SecureRound[],
  updates: readonly (readonly Float32Array[])[],
  cohort: CohortRound,
  options: SecureRoundOptions,
): SecureRoundReport {
  if (rounds.length !== updates.length) {
    throw new RangeError(`${rounds.length} rounds but ${updates.length} update lists`);
  }
  const n = cohort.clients;
  for (const list of updates) {
    if (list.length !== n) throw new RangeError(`expected ${n} updates per run, got ${list.length}`);
  }
  const offsets: number[][] = [];
  let length = 0;
  for (const r of rounds) {
    offsets.push(
      r.lengths.map((l) => {
        const at = length;
        length += l;
        return at;
      }),
    );
  }
  let started = performance.now();
  const ids = Array.from({ length: n }, (_, k) => clientId(k + 1));
  const inputs = new Map<ClientId, Uint32Array[]>();
  for (let k = 0; k < n; k++) {
    const vector = new Uint32Array(length);
    rounds.forEach((r, i) => {
      const vectors = r.encode(k, updates[i]![k]!);
      vectors.forEach((v, j) => {
        if (v.length !== r.lengths[j]) throw new RangeError(`run ${i} vector ${j} has the wrong length`);
        vector.set(v, offsets[i]![j]!);
      });
    });
    inputs.set(ids[k]!, [vector]);
  }
  const encodeMs = performance.now() - started;
  started = performance.now();
  const params = roundParams({
    round: cohort.round,
    serverModel: 'semi-honest',
    threshold: cohort.threshold,
    maxCorruptClients: cohort.maxCorruptClients,
    clients: ids,
    vectors: [{ name: 'bench', length, bits: options.bits }],
  });
  const report = simulateRound({ params, inputs, rngFor: options.rngFor });
  const protocolMs = performance.now() - started;
  if (report.result.status !== 'ok') {
    throw new Error(`the secure aggregation round ${cohort.round} aborted: ${report.result.error.message}`);
  }
  const survivors = report.result.survivors.length;
  const sum = report.result.sums[0]!;
  started = performance.now();
  const aggregates = rounds.map((r, i) =>
    r.finish(
      r.lengths.map((l, j) => sum.slice(offsets[i]![j]!, offsets[i]![j]! + l)),
      survivors,
    ),
  );
  return { aggregates, vectorLength: length, encodeMs, protocolMs, decodeMs: performance.now() - started };
}

function sumOf(updates: readonly Float32Array[], d: number): Float64Array {
  if (updates.length === 0) throw new RangeError('updates must not be empty');
  const sum = new Float64Array(d);
  for (const u of updates) {
    if (u.length !== d) throw new RangeError(`update has ${u.length} elements, expected ${d}`);
    for (let i = 0; i < d; i++) sum[i] = sum[i]! + u[i]!;
  }
  return sum;
}
