/**
 * The privacy accountant: composes Poisson-subsampled Gaussian steps in Rényi DP and reports the
 * (ε, δ) guarantee of everything composed so far; plus the inverse, the smallest noise multiplier
 * that keeps a planned run within a target ε.
 *
 * RDP composes by addition at every order (Mironov, "Rényi Differential Privacy", 2017, Prop. 1),
 * so the state is one number per order; steps with different q and σ (e.g. a cohort size that
 * changes between federated rounds) simply add their own per-order values. The (ε, δ) conversion
 * happens only when asked for, because it does not compose.
 * @module
 */
import {
  type Conversion,
  type DeltaResult,
  deltaFromRdp,
  type EpsilonResult,
  epsilonFromRdp,
} from './conversion.ts';
import { DEFAULT_RDP_ORDERS } from './orders.ts';
import { computeRdp, type SampledGaussian } from './rdp.ts';
import { assertCount, assertInRange, assertNonNegative, assertOrders } from './validate.ts';

/**
 * One step of a mechanism given by its RDP curve, for {@link RdpAccountant.composeRdp}.
 */
export interface RdpStep {
  /** The RDP ε(α) ≥ 0 (or +∞) of one step at each of `orders`, one value per order, in order. */
  rdp(orders: readonly number[]): readonly number[];
}

/**
 * Accumulates RDP over composed steps of the Poisson-subsampled Gaussian mechanism (and, through
 * {@link RdpAccountant.composeRdp}, of any mechanism with a known RDP curve).
 *
 * Call order: construct, {@link RdpAccountant.compose} any number of times, query with
 * {@link RdpAccountant.epsilon} or {@link RdpAccountant.delta} at any point. A `compose` call that
 * throws leaves the accountant unchanged.
 *
 * @example
 * ```ts
 * const accountant = new RdpAccountant();
 * accountant.compose({ q: 256 / 60000, sigma: 1.1 }, 14063);
 * const { epsilon, order } = accountant.epsilon(1e-5); // ε ≈ 2.597 at order 8.1
 * ```
 */
export class RdpAccountant {
  readonly #orders: readonly number[];
  readonly #rdp: number[];

  /**
   * @param orders Rényi orders to track, each finite and > 1; default {@link DEFAULT_RDP_ORDERS}.
   *   More orders give a tighter ε at proportionally more work per `compose`.
   * @throws TypeError / RangeError if `orders` is not a non-empty array of finite numbers > 1
   */
  constructor(orders: readonly number[] = DEFAULT_RDP_ORDERS) {
    this.#orders = assertOrders('orders', orders);
    this.#rdp = this.#orders.map(() => 0);
  }

  /** The tracked orders (a frozen copy of what the constructor was given). */
  get orders(): readonly number[] {
    return this.#orders;
  }

  /** The accumulated RDP at each order, as a new array. */
  get rdp(): number[] {
    return [...this.#rdp];
  }

  /**
   * Adds `steps` repetitions of a Poisson-subsampled Gaussian step.
   * @param step `q` in [0, 1] (sampling probability) and `sigma` ≥ 0 (noise multiplier)
   * @param steps how many times, a non-negative integer (default 1)
   * @returns this accountant, for chaining
   * @throws TypeError / RangeError on a bad argument; the accountant is then unchanged
   */
  compose(step: SampledGaussian, steps = 1): this {
    const added = computeRdp({ q: step.q, sigma: step.sigma, steps, orders: this.#orders });
    added.forEach((r, k) => {
      this.#rdp[k]! += r;
    });
    return this;
  }

  /**
   * Adds `steps` repetitions of a step of any mechanism described by its own RDP curve — the
   * extension point for mechanisms other than the sampled Gaussian, e.g. the distributed Skellam
   * mechanism (./skellam-rdp.ts). The step's values are checked before anything is added.
   * @param step its `rdp(orders)` gives one value ≥ 0 (or +∞) per tracked order
   * @param steps how many times, a non-negative integer (default 1)
   * @returns this accountant, for chaining
   * @throws TypeError / RangeError on a bad argument or a malformed curve; the accountant is then
   *   unchanged
   */
  composeRdp(step: RdpStep, steps = 1): this {
    const count = assertCount('steps', steps);
    if (typeof step !== 'object' || step === null || typeof step.rdp !== 'function') {
      throw new TypeError('step must be an object with an rdp(orders) method');
    }
    const values = step.rdp(this.#orders);
    if (!Array.isArray(values) || values.length !== this.#orders.length) {
      throw new RangeError(`step.rdp must return one value per order (${this.#orders.length})`);
    }
    const added = values.map((v: unknown, k) =>
      v === Infinity ? (count === 0 ? 0 : Infinity) : count * assertNonNegative(`step.rdp[${k}]`, v),
    );
    added.forEach((r, k) => {
      this.#rdp[k]! += r;
    });
    return this;
  }

  /**
   * The ε of everything composed so far, at the given δ, with the order that achieves it.
   * @param delta δ in [0, 1]
   * @param conversion the RDP → (ε, δ) bound (see ./conversion.ts); keep the default `'improved'`
   *   unless reproducing a value published with the `'classic'` one
   * @throws RangeError if `delta` is out of range
   */
  epsilon(delta: number, conversion: Conversion = 'improved'): EpsilonResult {
    return epsilonFromRdp(this.#orders, this.#rdp, delta, conversion);
  }

  /**
   * The δ of everything composed so far, at the given ε, with the order that achieves it.
   * @param epsilon ε ≥ 0
   * @throws RangeError if `epsilon` is negative or not finite
   */
  delta(epsilon: number): DeltaResult {
    return deltaFromRdp(this.#orders, this.#rdp, epsilon);
  }
}

/** Arguments of {@link calibrateSigma}. */
export interface CalibrationQuery {
  /** The ε not to exceed, a finite number > 0. */
  readonly targetEpsilon: number;
  /** δ, in (0, 1). */
  readonly delta: number;
  /** Sampling probability of each step, in (0, 1]. */
  readonly q: number;
  /** Number of steps, an integer ≥ 1. */
  readonly steps: number;
  /** Rényi orders; default {@link DEFAULT_RDP_ORDERS}. */
  readonly orders?: readonly number[];
  /** The RDP → (ε, δ) bound; default `'improved'`. */
  readonly conversion?: Conversion;
  /**
   * Relative tolerance on σ, in [1e-12, 0.1]; default {@link DEFAULT_SIGMA_TOLERANCE}. The result
   * is at most a factor 1/(1 − tolerance) above the smallest admissible σ.
   */
  readonly tolerance?: number;
}

/** The result of {@link calibrateSigma}. */
export interface Calibration {
  /** The noise multiplier found; always satisfies ε(σ) ≤ targetEpsilon. */
  readonly sigma: number;
  /** ε at that σ (≤ the target) and the order that achieves it. */
  readonly epsilon: number;
  readonly order: number;
}

/** Default relative tolerance of {@link calibrateSigma}: σ to about six significant digits. */
export const DEFAULT_SIGMA_TOLERANCE = 1e-6;

/** Bracketing gives up beyond σ ∈ [2^−40, 2^40]; outside that the request is not meaningful. */
const MAX_BRACKET_DOUBLINGS = 40;

/**
 * The smallest noise multiplier σ (to a relative tolerance) for which `steps` Poisson-subsampled
 * Gaussian steps at sampling probability `q` satisfy (targetEpsilon, delta)-DP under this
 * accountant.
 *
 * ε(σ) is non-increasing in σ (more noise is post-processing of less noise), so the search
 * brackets the answer by doubling or halving from σ = 1 and then bisects. It keeps σ_lo with
 * ε(σ_lo) > target and σ_hi with ε(σ_hi) ≤ target, and stops once σ_hi − σ_lo ≤ tolerance·σ_hi.
 * It returns σ_hi, a value whose ε was actually computed and found within the target, so the
 * answer never under-noises, even where rounding makes ε(σ) locally non-monotone.
 *
 * @returns σ, the ε it achieves (≤ targetEpsilon) and the optimal order
 * @throws TypeError / RangeError on a bad argument, or if no σ in [2^−40, 2^40] brackets the target
 * @example
 * ```ts
 * const { sigma } = calibrateSigma({ targetEpsilon: 3, delta: 1e-5, q: 256 / 60000, steps: 14063 });
 * ```
 */
export function calibrateSigma(query: CalibrationQuery): Calibration {
  const target = assertNonNegative('targetEpsilon', query.targetEpsilon, true);
  const delta = assertInRange('delta', query.delta, 0, 1);
  if (delta === 0 || delta === 1) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  const q = assertInRange('q', query.q, 0, 1);
  if (q === 0)
    throw new RangeError('q must be in (0, 1] to calibrate: q = 0 touches no record, any σ will do');
  const steps = assertCount('steps', query.steps);
  if (steps === 0) throw new RangeError('steps must be at least 1 to calibrate: no step, any σ will do');
  const orders = assertOrders('orders', query.orders ?? DEFAULT_RDP_ORDERS);
  const tolerance = assertInRange('tolerance', query.tolerance ?? DEFAULT_SIGMA_TOLERANCE, 1e-12, 0.1);

  const conversion = query.conversion ?? 'improved';
  const at = (sigma: number): EpsilonResult =>
    epsilonFromRdp(orders, computeRdp({ q, sigma, steps, orders }), delta, conversion);

  let hi = 1;
  let hiResult = at(hi);
  let lo = 1;
  if (hiResult.epsilon > target) {
    for (let n = 0; hiResult.epsilon > target; n++) {
      if (n === MAX_BRACKET_DOUBLINGS)
        throw new RangeError(`no sigma up to 2^40 reaches targetEpsilon ${target}`);
      lo = hi;
      hi *= 2;
      hiResult = at(hi);
    }
  } else {
    for (let n = 0; ; n++) {
      if (n === MAX_BRACKET_DOUBLINGS)
        throw new RangeError(`targetEpsilon ${target} holds even at sigma 2^-40`);
      lo = hi / 2;
      const loResult = at(lo);
      if (loResult.epsilon > target) break;
      hi = lo;
      hiResult = loResult;
    }
  }
  while (hi - lo > tolerance * hi) {
    const mid = (lo + hi) / 2;
    const midResult = at(mid);
    if (midResult.epsilon <= target) {
      hi = mid;
      hiResult = midResult;
    } else {
      lo = mid;
    }
  }
  return { sigma: hi, epsilon: hiResult.epsilon, order: hiResult.order };
}
