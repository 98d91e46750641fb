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
import { calibrateSigma, RdpAccountant } from './accountant.ts';
import { splitNoiseMultiplier, updateClipNorm } from './adaptive.ts';
import { type AnnouncedPrivacy, privacyPlan, type Release, ROTATION_SEED_BYTES } from './announced.ts';
import { assertIntegerIn, assertObject, assertPositive } from './checks.ts';
import { DEFAULT_MAX_WRAP_PROBABILITY, minNoisyClients, skellamParams, skellamQuery } from './distributed.ts';
import { DEFAULT_RDP_ORDERS } from './orders.ts';
import { DEFAULT_BETA } from './rounding.ts';
import { SkellamRound } from './skellam-rdp.ts';

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

/** What {@link calibrateNoiseMultiplier} needs. */
export interface NoiseCalibration {
  readonly mechanism: AnnouncedPrivacy['mechanism'];
  readonly targetEpsilon: number;
  readonly delta: number;
  /** Rounds the budget must cover. */
  readonly rounds: number;
  /** Client sampling rate claimed per round (1: none). */
  readonly q: number;
  /** For the distributed mechanism: the round's shape and update, to evaluate its exact RDP. */
  readonly dimension: number;
  readonly clients: number;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  readonly clip: number;
  readonly bits?: number;
}

/**
 * The smallest effective noise multiplier z (to within 1%) for which `rounds` rounds stay within
 * (ε, δ). Central rounds are subsampled Gaussian steps ({@link calibrateSigma}); distributed rounds
 * start from the Gaussian answer and step z up until the Skellam mechanism's own RDP
 * (./skellam-rdp.ts), with the real rounding and scale, is within the target.
 * @throws RangeError when no z in range meets the target
 */
export function calibrateNoiseMultiplier(c: NoiseCalibration): number {
  const gaussian = calibrateSigma({
    targetEpsilon: c.targetEpsilon,
    delta: c.delta,
    q: c.q,
    steps: c.rounds,
  }).sigma;
  if (c.mechanism === 'central-gaussian') return gaussian;
  const bits = c.bits ?? DEFAULT_PRIVATE_BITS;
  const h = minNoisyClients(c.threshold, c.maxCorruptClients);
  for (let z = gaussian, i = 0; i < 200; i++, z *= 1.01) {
    const params = skellamParams({
      dimension: c.dimension,
      clip: c.clip,
      noiseMultiplier: z,
      bits,
      maxClients: c.clients,
      minNoisyClients: h,
    });
    const accountant = new RdpAccountant(DEFAULT_RDP_ORDERS);
    accountant.composeRdp(new SkellamRound([skellamQuery(params)], c.q), c.rounds);
    if (accountant.epsilon(c.delta).epsilon <= c.targetEpsilon) return z;
  }
  throw new RangeError(`no noise multiplier up to 7x the Gaussian one meets ε = ${c.targetEpsilon}`);
}
