/**
 * Rényi differential privacy of the Poisson-subsampled Gaussian mechanism (SGM): each record joins
 * a step's batch independently with probability q, and Gaussian noise of standard deviation σ·C is
 * added to the sum of the batch's contributions, each clipped to L2 norm C. Neighbouring datasets
 * differ by adding or removing one record.
 *
 * Mironov, Talwar, Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism" (2019),
 * reduce this to one dimension: with μ₀ = N(0, σ²), μ₁ = N(1, σ²) and the mixture
 * μ = (1 − q)μ₀ + qμ₁, the SGM is (α, ε)-RDP for ε = log(A_α)/(α − 1), where
 * A_α = E_{z∼μ₀}[(μ(z)/μ₀(z))^α] (§3 shows that the reverse divergence D_α(μ₀‖μ) is never the
 * larger one, so only A_α is needed).
 * §3.3 gives the two numerically stable ways of computing A_α used here, each summed in log space:
 * - integer α: the finite binomial expansion (see {@link logAIntegerOrder});
 * - fractional α: two convergent series, one per side of the point z₀ where the two mixture
 *   components weigh the same (see {@link logAFractionalOrder}).
 * These are the computations of TF Privacy's `compute_rdp`, Opacus' `compute_rdp` and Google's
 * dp_accounting `_compute_rdp_poisson_subsampled_gaussian`.
 * @module
 */

import { logAdd, logErfc, logSub } from './logmath.ts';
import { DEFAULT_RDP_ORDERS } from './orders.ts';
import { assertCount, assertInRange, assertNonNegative, assertOrders } from './validate.ts';

/** One Poisson-subsampled Gaussian step: sampling probability `q`, noise multiplier `sigma`. */
export interface SampledGaussian {
  /** Probability that a record is in a step's sample, in [0, 1]. */
  readonly q: number;
  /** Noise standard deviation divided by the L2 sensitivity (clipping norm), ≥ 0. */
  readonly sigma: number;
}

/** Arguments of {@link computeRdp}. */
export interface RdpQuery extends SampledGaussian {
  /** How many times the step is repeated (composed), a non-negative integer. */
  readonly steps: number;
  /** Rényi orders, each finite and > 1; default {@link DEFAULT_RDP_ORDERS}. */
  readonly orders?: readonly number[];
}

/**
 * The fractional-order series stop after this many terms without converging, and the order is
 * then given RDP = ∞ (a bound that is always true, so the order just drops out of the minimum in
 * the (ε, δ) conversion). The same cap and fallback as dp_accounting's `_MAX_STEPS_LOG_A_FRAC`.
 * It is reached only at large q (≳ 0.1) and small orders (≲ 2), where the tail terms shrink only
 * polynomially in i; the optimal order there is usually larger anyway.
 */
export const MAX_SERIES_TERMS = 1000;

/**
 * log of the relative precision at which the fractional-order series may stop early: once the
 * Leibniz bound on the overshoot is below 1e-9 of log A_α itself, more terms change the RDP value by
 * less than one part in 10⁹ (and only downwards). Without this the alternating tails at large q,
 * whose terms shrink only polynomially, often run into {@link MAX_SERIES_TERMS}.
 */
const LOG_SERIES_PRECISION = Math.log(1e-9);

/**
 * log A_α for an integer order α ≥ 2 and 0 < q < 1, from the binomial expansion of
 * ((1 − q) + q·μ₁/μ₀)^α and E_{μ₀}[(μ₁/μ₀)^i] = exp((i² − i)/(2σ²)) (Mironov et al. 2019, §3.3):
 *
 *   A_α = Σ_{i=0}^{α} C(α, i) · (1 − q)^{α−i} · q^i · exp((i² − i)/(2σ²)).
 *
 * Every term is positive, so the log-space sum loses nothing to cancellation. The log binomials come
 * from the product recurrence C(α, i+1) = C(α, i)·(α − i)/(i + 1), one rounding per step.
 * Exported for cross-checks in tests; use {@link computeRdp}.
 */
export function logAIntegerOrder(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  let logA = -Infinity;
  let logBinom = 0; // log C(α, 0)
  for (let i = 0; i <= alpha; i++) {
    const term = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoSigma2;
    logA = logAdd(logA, term);
    logBinom += Math.log(alpha - i) - Math.log(i + 1);
  }
  return logA;
}

/**
 * log A_α for any order α > 1 (meant for fractional α) and 0 < q < 1, from the two series of
 * Mironov et al. 2019, §3.3. Split the integral at z₀ = σ²·log(1/q − 1) + 1/2, where
 * q·μ₁(z) = (1 − q)·μ₀(z). On z ≤ z₀ expand (1 − q + q·r)^α, r = μ₁/μ₀, in powers of q·r; on
 * z > z₀ in powers of (1 − q); both generalised binomial series converge there. Integrating term by
 * term, with Gaussian tails written through erfc:
 *
 *   A₀ = Σ_{i≥0} C(α, i) · q^i (1 − q)^{α−i} · exp((i² − i)/(2σ²)) · ½erfc((i − z₀)/(√2σ))
 *   A₁ = Σ_{i≥0} C(α, i) · q^{α−i} (1 − q)^i · exp((j² − j)/(2σ²)) · ½erfc((z₀ − j)/(√2σ)), j = α − i
 *
 * and A_α = A₀ + A₁. Positive and negative terms are summed separately in log space and subtracted
 * once at the end (as TF Privacy and Opacus do). dp_accounting adds |C(α, i)| instead: still an
 * upper bound, but a loose one at large q, where the alternating tail is long (at q = 0.3, σ = 50,
 * α = 1.1 it is about 900 times the exact value).
 *
 * Where to stop. From i = ⌈α⌉ on, C(α, i) alternates in sign and |C(α, i)| does not increase
 * (|C(α, i+1)/C(α, i)| = (i − α)/(i + 1) < 1). The rest of the i-th term of A₀ is
 * (1 − q)^α·E_{μ₀}[w^i; z ≤ z₀] with w = q·r/(1 − q) ≤ 1 there, and that of A₁ is
 * q^α·E_{μ₀}[r^α·(1/w)^i; z > z₀] with 1/w < 1 there: both non-increasing in i. So from ⌈α⌉ on the
 * combined terms form an alternating series with non-increasing magnitudes, and a partial sum that
 * ends on a positive term is at least the full sum and exceeds it by at most that term (Leibniz).
 * The loop stops at the first such positive term that is below e^{−30} of the running total
 * (dp_accounting's threshold) or small enough to move log A_α by less than 1e-9 of itself (see
 * LOG_SERIES_PRECISION): the result is an upper bound on A_α, never an underestimate, high by at
 * most ~1e-13 of A_α or 1e-9 of log A_α.
 * Returns +∞ (a valid, useless bound) if that does not happen within {@link MAX_SERIES_TERMS} terms.
 * At integer α the terms vanish past i = α and the result equals {@link logAIntegerOrder}.
 * Exported for cross-checks in tests; use {@link computeRdp}.
 */
export function logAFractionalOrder(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * (log1mQ - logQ) + 0.5;
  const alternatingFrom = Math.ceil(alpha);
  let pos = -Infinity; // log of the sum of the positive terms of A₀ and A₁
  let neg = -Infinity; // log of the sum of the magnitudes of the negative terms
  let logBinom = 0; // log |C(α, i)|
  let positive = true; // sign of C(α, i)
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    const j = alpha - i;
    const s0 =
      logBinom + i * logQ + j * log1mQ + (i * i - i) / twoSigma2 + logErfc((i - z0) / sqrt2Sigma) - Math.LN2;
    const s1 =
      logBinom + j * logQ + i * log1mQ + (j * j - j) / twoSigma2 + logErfc((z0 - j) / sqrt2Sigma) - Math.LN2;
    const term = logAdd(s0, s1);
    if (Number.isNaN(term)) return Infinity;
    if (positive) {
      pos = logAdd(pos, term);
      if (i >= alternatingFrom) {
        const logA = logSub(pos, neg);
        // The partial sum overshoots A_α by at most e^term, so log A_α by at most ≈ e^{term − log A}.
        const settled =
          Math.max(s0, s1) < pos - 30 || (logA > 0 && term - logA < LOG_SERIES_PRECISION + Math.log(logA));
        if (settled) return Number.isNaN(logA) ? Infinity : logA;
      }
    } else {
      neg = logAdd(neg, term);
    }
    // C(α, i+1) = C(α, i)·(α − i)/(i + 1): the sign flips whenever α − i < 0.
    logBinom += Math.log(Math.abs(j)) - Math.log(i + 1);
    if (j < 0) positive = !positive;
  }
  return Infinity;
}

/**
 * RDP of one SGM step at one order, with the special cases of dp_accounting: q = 0 touches no
 * record (0); σ = 0 adds no noise (∞); q = 1 is the plain Gaussian mechanism, α/(2σ²)
 * (Mironov, "Rényi Differential Privacy", 2017, Prop. 7).
 */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha)
    ? logAIntegerOrder(q, sigma, alpha)
    : logAFractionalOrder(q, sigma, alpha);
  // A Rényi divergence is ≥ 0; a slightly negative value is rounding in a sum that is ≈ 1.
  return Math.max(0, logA / (alpha - 1));
}

/**
 * RDP of `steps` repetitions of the Poisson-subsampled Gaussian mechanism, at each order: by RDP
 * composition (Mironov 2017, Prop. 1) the per-step value times `steps`.
 *
 * @param query.q sampling probability in [0, 1]
 * @param query.sigma noise multiplier σ ≥ 0 (noise standard deviation / clipping norm)
 * @param query.steps number of steps, a non-negative integer
 * @param query.orders Rényi orders, each finite and > 1; default {@link DEFAULT_RDP_ORDERS}
 * @returns a new array, RDP ε(α) ≥ 0 per order in the order given; +∞ where no finite bound holds
 *   (σ = 0) or where the fractional series failed to converge.
 * @throws TypeError if an argument is not a number (orders: not an array of numbers);
 *   RangeError if it is out of range.
 * @example
 * ```ts
 * const rdp = computeRdp({ q: 0.01, sigma: 1.1, steps: 1000, orders: [2, 8, 32] });
 * ```
 */
export function computeRdp(query: RdpQuery): number[] {
  const q = assertInRange('q', query.q, 0, 1);
  const sigma = assertNonNegative('sigma', query.sigma);
  const steps = assertCount('steps', query.steps);
  const orders = assertOrders('orders', query.orders ?? DEFAULT_RDP_ORDERS);
  // steps = 0 is the empty composition; spelled out because 0·∞ would be NaN.
  if (steps === 0) return orders.map(() => 0);
  return orders.map((alpha) => steps * rdpOneStep(q, sigma, alpha));
}
