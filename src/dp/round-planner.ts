/**
 * The coordinator's differential-privacy settings turned into each round's announcement
 * (./announced.ts): the noise calibrated to a budget, a fresh rotation seed per round, and the clip
 * norm following a quantile when clipping is adaptive.
 * @module
 */
import { readRandom } from '../secagg/encoding.ts';
import { maxScale } from '../secagg/quantize.ts';
import { systemRng } from '../secagg/rng.ts';
import type { Rng } from '../secagg/types.ts';
import { calibrateSigma } from './accountant.ts';
import { splitNoiseMultiplier, updateClipNorm } from './adaptive.ts';
import {
  type AnnouncedPrivacy,
  planMechanism,
  privacyPlan,
  type Release,
  ROTATION_SEED_BYTES,
} from './announced.ts';
import { roundCost } from './budget.ts';
import { assertIntegerIn, assertObject, assertPositive } from './checks.ts';
import { DEFAULT_MAX_WRAP_PROBABILITY, minNoisyClients, skellamParams } from './distributed.ts';
import { DEFAULT_RDP_ORDERS } from './orders.ts';
import { DEFAULT_PLD_INTERVAL } from './pld.ts';
import { DEFAULT_BETA } from './rounding.ts';
import { type AccountantChoice, type TightEpsilon, tightEpsilon } from './tightest.ts';

/** Adaptive clipping settings (Andrew et al. 2021; ./adaptive.ts). */
export interface AdaptiveClipSettings {
  /** γ: the target quantile of update norms, in (0, 1). */
  readonly targetQuantile: number;
  /** η_C: the geometric learning rate, > 0. */
  readonly learningRate: number;
  /** σ_b: the noise on the count of unclipped clients, > 0 (Andrew et al. suggest clients/20). */
  readonly bitNoiseStddev: number;
  /** Bit width of the `clip_count` vector; default 16. */
  readonly bits?: number;
}

/** What the operator configures. */
export interface PrivacySettings {
  readonly mechanism: AnnouncedPrivacy['mechanism'];
  /** d: elements in a client's update. */
  readonly dimension: number;
  /** C: the clip norm (the first round's, with adaptive clipping). */
  readonly clip: number;
  /**
   * z: the round's effective noise multiplier. With adaptive clipping it is split between the
   * update and the clip count (./adaptive.ts `splitNoiseMultiplier`), so the round as a whole
   * spends exactly a Gaussian mechanism of multiplier z.
   */
  readonly noiseMultiplier: number;
  /** Ring bit width of the `update` vector; default 20. */
  readonly bits?: number;
  readonly adaptive?: AdaptiveClipSettings;
  /** Wrap-around bound of the distributed mechanism; default 2^−30. */
  readonly maxWrapProbability?: number;
}

/** Default ring width of a private update: 20 bits leaves room for noise and many clients. */
export const DEFAULT_PRIVATE_BITS = 20;

/** Produces each round's announced privacy from the settings. */
export class PrivacyRounds {
  readonly settings: PrivacySettings;
  #clip: number;
  readonly #rng: Rng;

  /**
   * @param rng - randomness for the rotation seeds; the OS CSPRNG unless a test injects one
   * @throws TypeError / RangeError on bad settings
   */
  constructor(settings: PrivacySettings, rng: Rng = systemRng) {
    assertObject('settings', settings);
    if (settings.mechanism !== 'distributed-skellam' && settings.mechanism !== 'central-gaussian') {
      throw new RangeError(`unknown mechanism '${String(settings.mechanism)}'`);
    }
    assertIntegerIn('dimension', settings.dimension, 1, 2 ** 30);
    assertPositive('clip', settings.clip);
    assertPositive('noiseMultiplier', settings.noiseMultiplier);
    if (settings.bits !== undefined) assertIntegerIn('bits', settings.bits, 2, 32);
    if (settings.adaptive) {
      assertPositive('adaptive.bitNoiseStddev', settings.adaptive.bitNoiseStddev);
      // Checks now that the count does not take the whole budget.
      splitNoiseMultiplier(settings.noiseMultiplier, settings.adaptive.bitNoiseStddev);
    }
    this.settings = settings;
    this.#clip = settings.clip;
    this.#rng = rng;
  }

  /** The clip norm the next round will announce. */
  get clip(): number {
    return this.#clip;
  }

  /**
   * The next round's announcement for a cohort of `clients` with threshold t and n_C.
   * @throws PrivacyParameterError if no admissible parameters exist (e.g. the ring is too narrow)
   */
  announce(shape: {
    readonly clients: number;
    readonly threshold: number;
    readonly maxCorruptClients: number;
  }): AnnouncedPrivacy {
    const s = this.settings;
    const bits = s.bits ?? DEFAULT_PRIVATE_BITS;
    const clipCount = s.adaptive && {
      bits: s.adaptive.bits ?? 16,
      bitNoiseStddev: s.adaptive.bitNoiseStddev,
    };
    const noiseMultiplier = clipCount
      ? splitNoiseMultiplier(s.noiseMultiplier, clipCount.bitNoiseStddev)
      : s.noiseMultiplier;
    let announced: AnnouncedPrivacy;
    if (s.mechanism === 'distributed-skellam') {
      const maxWrapProbability = s.maxWrapProbability ?? DEFAULT_MAX_WRAP_PROBABILITY;
      const h = minNoisyClients(shape.threshold, shape.maxCorruptClients);
      // Let the mechanism choose the largest admissible scale, then announce it explicitly.
      const scale = largestScale({
        dimension: s.dimension,
        clip: this.#clip,
        noiseMultiplier,
        bits,
        clients: shape.clients,
        minNoisyClients: h,
        maxWrapProbability,
      });
      announced = {
        mechanism: 'distributed-skellam',
        dimension: s.dimension,
        clip: this.#clip,
        noiseMultiplier,
        bits,
        scale,
        beta: DEFAULT_BETA,
        maxWrapProbability,
        minNoisyClients: h,
        rotationSeed: readRandom(this.#rng, ROTATION_SEED_BYTES),
        ...(clipCount && { clipCount }),
      };
    } else {
      announced = {
        mechanism: 'central-gaussian',
        dimension: s.dimension,
        clip: this.#clip,
        noiseMultiplier,
        bits,
        scale: maxScale(bits, this.#clip, shape.clients),
        ...(clipCount && { clipCount }),
      };
    }
    privacyPlan(announced, shape.clients); // fails closed here, not at the clients
    return announced;
  }

  /** Takes a round's release into account: with adaptive clipping, moves the clip norm. */
  observe(release: Release): void {
    const adaptive = this.settings.adaptive;
    if (!adaptive || release.unclippedFraction === undefined) return;
    this.#clip = updateClipNorm(this.#clip, release.unclippedFraction, adaptive);
  }
}

function largestScale(input: {
  dimension: number;
  clip: number;
  noiseMultiplier: number;
  bits: number;
  clients: number;
  minNoisyClients: number;
  maxWrapProbability: number;
}): number {
  return skellamParams({
    dimension: input.dimension,
    clip: input.clip,
    noiseMultiplier: input.noiseMultiplier,
    bits: input.bits,
    maxClients: input.clients,
    minNoisyClients: input.minNoisyClients,
    maxWrapProbability: input.maxWrapProbability,
  }).scale;
}

/** What {@link calibrateNoiseMultiplier} needs: the round as the coordinator will announce it. */
export interface NoiseCalibration {
  readonly mechanism: AnnouncedPrivacy['mechanism'];
  readonly targetEpsilon: number;
  readonly delta: number;
  /** Rounds the budget must cover. */
  readonly rounds: number;
  /** Client sampling rate claimed per round (1: none). */
  readonly q: number;
  /** The round's shape and update, to evaluate the mechanism the ledger will be charged for. */
  readonly dimension: number;
  readonly clients: number;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  readonly clip: number;
  readonly bits?: number;
  /** Adaptive clipping: its clip-count query is part of every round's charge. */
  readonly adaptive?: AdaptiveClipSettings;
  readonly maxWrapProbability?: number;
  /** Which bound the ledger decides with; default 'tightest' (the ledger's default). */
  readonly accountant?: AccountantChoice;
  /** The ledger's Rényi orders; default {@link DEFAULT_RDP_ORDERS}. */
  readonly orders?: readonly number[];
}

/**
 * The calibration aims this much below the target: the ring scale is chosen per round from the clip
 * norm, and with adaptive clipping a different clip norm can move the rounded sensitivity Δ₂² by one
 * integer unit, a relative 10⁻⁹ or so of the cost; the margin keeps every later round inside.
 */
const CALIBRATION_MARGIN = 1e-6;

/** Relative tolerance on z: the answer is at most this much above the least admissible one. */
const CALIBRATION_TOLERANCE = 1e-4;

/** The rotation seed does not change a round's cost; calibration announces with a fixed one. */
const CALIBRATION_RNG: Rng = { randomBytes: (n: number) => new Uint8Array(n) };

/**
 * The ε the ledger will have charged after `rounds` rounds at effective noise multiplier z: each round
 * announced exactly as {@link PrivacyRounds} will announce it (scale, h, rounding, the clip count
 * with adaptive clipping), turned into the ledger's mechanism by `planMechanism`, composed `rounds`
 * times, and converted by the ledger's accountant.
 * @throws RangeError if no round can be announced at z (e.g. the ring is too narrow, or with adaptive
 *   clipping 2σ_b ≤ z)
 */
export function plannedEpsilon(
  c: NoiseCalibration,
  z: number,
  options: { readonly estimate?: boolean; readonly interval?: number } = {},
): number {
  return plannedAccounting(c, z, options).epsilon;
}

/**
 * {@link plannedEpsilon} with the details: which accountant's bound it is, RDP's ε and order, PLD's ε.
 * @throws RangeError as {@link plannedEpsilon}
 */
export function plannedAccounting(
  c: NoiseCalibration,
  z: number,
  options: { readonly estimate?: boolean; readonly interval?: number } = {},
): TightEpsilon {
  const orders = c.orders ?? DEFAULT_RDP_ORDERS;
  const planner = new PrivacyRounds(
    {
      mechanism: c.mechanism,
      dimension: c.dimension,
      clip: c.clip,
      noiseMultiplier: z,
      ...(c.bits !== undefined && { bits: c.bits }),
      ...(c.adaptive && { adaptive: c.adaptive }),
      ...(c.maxWrapProbability !== undefined && { maxWrapProbability: c.maxWrapProbability }),
    },
    CALIBRATION_RNG,
  );
  const announced = planner.announce({
    clients: c.clients,
    threshold: c.threshold,
    maxCorruptClients: c.maxCorruptClients,
  });
  const cost = roundCost(
    planMechanism(privacyPlan(announced, c.clients), c.q, orders, { estimate: options.estimate ?? false }),
    orders,
  );
  const pld = cost.pld && [{ event: cost.pld.event, count: cost.pld.count * c.rounds }];
  return tightEpsilon({ orders, rdp: cost.rdp.map((r) => r * c.rounds), pld }, c.delta, {
    accountant: c.accountant === 'pld' && pld === undefined ? 'rdp' : (c.accountant ?? 'tightest'),
    ...(options.interval !== undefined && { interval: options.interval }),
  });
}

/**
 * The smallest effective noise multiplier z (to a relative 10⁻⁴) for which `rounds` rounds of the
 * round the coordinator will announce stay within (ε, δ) as the ledger charges them
 * ({@link plannedEpsilon}): the update and, with adaptive clipping, the clip count, by the ledger's
 * accountant. It brackets z from the sampled Gaussian's RDP answer, then runs a safeguarded secant
 * (Illinois) search on log ε against log z — with the distributed mechanism's dominating Gaussian
 * estimated rather than computed for very noisy rounds (`planMechanism`'s `estimate`), which saves a
 * second per step — and finally computes the exact charge at the answer, raising z by 10⁻⁵ steps
 * until it is within the target. It returns a z whose exact charge was computed and found within.
 * @throws RangeError when no z meets the target (naming why: e.g. the clip count alone spends the
 *   budget, or the ring cannot hold the noise)
 */
export function calibrateNoiseMultiplier(c: NoiseCalibration): number {
  // The search may use a 10× coarser PLD grid when the rounds are few: connect-the-dots is then
  // exact to about six digits, and the answer is checked on the ledger's own grid at the end.
  const searchInterval = c.rounds <= 100 ? 10 * DEFAULT_PLD_INTERVAL : DEFAULT_PLD_INTERVAL;
  const start = calibrateSigma({
    targetEpsilon: c.targetEpsilon,
    delta: c.delta,
    q: c.q,
    steps: c.rounds,
  }).sigma;
  return searchNoiseMultiplier(
    (z, exact) =>
      exact ? plannedEpsilon(c, z) : plannedEpsilon(c, z, { estimate: true, interval: searchInterval }),
    c.targetEpsilon,
    start,
    `within ${c.rounds} rounds`,
  );
}

/**
 * The search of {@link calibrateNoiseMultiplier}, for any charge function: the smallest z (to a
 * relative 10⁻⁴) with charge(z) ≤ target·(1 − 10⁻⁶), found on `charge(z, false)` (which may be an
 * estimate), then confirmed on `charge(z, true)` (what will really be charged), raising z by 10⁻⁵
 * steps until it holds. The charge must decrease with z.
 * @param start - a first guess (e.g. the sampled Gaussian's σ from its RDP)
 * @param context - for error messages ("within 40 rounds")
 * @throws RangeError when no z meets the target, naming why (a charge that throws a RangeError at
 *   some z is reported with that z)
 */
export function searchNoiseMultiplier(
  charge: (z: number, exact: boolean) => number,
  targetEpsilon: number,
  start: number,
  context: string,
): number {
  const target = targetEpsilon * (1 - CALIBRATION_MARGIN);
  const at = (z: number, exact = false): number => {
    try {
      return charge(z, exact);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new RangeError(
        `no noise multiplier meets ε = ${targetEpsilon} ${context}: at z = ${z.toPrecision(4)} ${error.message}`,
      );
    }
  };
  let hi = start;
  let fHi = at(hi);
  for (let i = 0; !(fHi <= target); i++) {
    if (i === 40)
      throw new RangeError(`no noise multiplier up to ${hi.toPrecision(4)} meets ε = ${targetEpsilon}`);
    hi *= 1.25;
    fHi = at(hi);
  }
  let lo = hi / 1.25;
  let fLo = at(lo);
  for (let i = 0; fLo <= target; i++) {
    if (i === 40) throw new RangeError(`ε = ${targetEpsilon} holds at any noise down to ${lo}`);
    hi = lo;
    fHi = fLo;
    lo /= 1.25;
    fLo = at(lo);
  }
  // Secant on g(x) = log ε − log target, x = log z; g(lo) > 0 ≥ g(hi). Illinois: halve the value
  // kept at an endpoint that survives twice, so the bracket shrinks from both sides.
  const g = (e: number) => Math.log(e) - Math.log(target);
  let gLo = g(fLo);
  let gHi = g(fHi);
  let side = 0;
  while (hi / lo - 1 > CALIBRATION_TOLERANCE) {
    const xLo = Math.log(lo);
    const xHi = Math.log(hi);
    let x = Number.isFinite(gLo) ? (xLo * gHi - xHi * gLo) / (gHi - gLo) : (xLo + xHi) / 2;
    // Keep clear of the ends, so the bracket always shrinks by a useful fraction.
    const width = xHi - xLo;
    x = Math.min(xHi - 0.05 * width, Math.max(xLo + 0.05 * width, x));
    const z = Math.exp(x);
    const e = at(z);
    if (e <= target) {
      hi = z;
      gHi = g(e);
      if (side === 1) gLo /= 2;
      side = 1;
    } else {
      lo = z;
      gLo = g(e);
      if (side === -1) gHi /= 2;
      side = -1;
    }
  }
  for (let i = 0; !(at(hi, true) <= target); i++) {
    if (i === 100) throw new RangeError(`the exact charge at z = ${hi} stays above ε = ${targetEpsilon}`);
    hi *= 1 + 1e-5;
  }
  return hi;
}
