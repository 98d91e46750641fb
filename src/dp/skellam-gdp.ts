/**
 * The distributed Skellam mechanism is dominated by a Gaussian mechanism — up to a total variation
 * distance far below any δ — which lets the PLD accountant (./pld-accountant.ts) account its rounds,
 * whatever the dimension and whichever integer vector a client's rounded update is.
 *
 * Lemma (one coordinate). Let X be symmetric integer noise with CDF F, g(m) = Φ⁻¹(F(m)) its
 * "Gaussianised" CDF, and γ ≥ sup_m [g(m) − g(m−1)]. Then for every integer shift k the pair
 * (X + k, X) is |k|γ-GDP (Dong, Roth, Su, "Gaussian Differential Privacy", 2022): a log-concave X has
 * a monotone likelihood ratio, so the optimal tests are thresholds, at which the trade-off function
 * takes the values (α, β) = (1 − F(j−1), F(j−1−k)); G_μ(α) = Φ(Φ⁻¹(1−α) − μ) ≤ β there exactly when
 * g(j−1) − g(j−1−k) ≤ μ, which k steps of at most γ guarantee; between thresholds the trade-off
 * function is the chord, above the convex G_μ. The reverse pair is the same by symmetry. (Skellam
 * noise is log-concave: a convolution of the log-concave Poisson and negated Poisson PMFs.)
 *
 * A whole round. Over independent coordinates with shifts v_i the pair is the product of
 * |v_i|γ-GDP pairs, which is γ‖v‖₂-GDP (GDP composes in ℓ2); ‖v‖₂² ≤ S = Δ₂² bounds it by γ√S.
 * Several queries of one round (the update, the clip count) combine the same way:
 * μ_G = √(Σ_j γ_j²·S_j). A μ_G-GDP pair is dominated by the Gaussian pair (N(μ_G, 1), N(0, 1)), so
 * with Poisson sampling the round is dominated by the sampled Gaussian mechanism of noise multiplier
 * σ = 1/μ_G (a garbling of the Gaussian pair is also one of its mixture with the common part), both
 * neighbouring orders included.
 *
 * Computing γ. g is evaluated at every m of a window [−W, W] (from the log-tail of ./skellam-pmf.ts
 * and ./normal.ts `normalTailQuantile`), and γ is the largest increment there, times 1 + 10⁻⁶ to
 * cover floating point (the increments are ≈ 1/√μ and computed to ~10⁻⁹ relative). For Skellam the
 * largest increment is the central one, 2g(0) ≈ (1 + 1/(6μ))/√μ: the mechanism is essentially the
 * Gaussian of the same variance. Beyond the window no increment is computed; instead the noise is
 * replaced there by X̂, whose Gaussianised CDF follows g inside the window and continues with slope
 * exactly γ outside. X̂ is symmetric, its increments are all ≤ γ, so the lemma applies to it exactly,
 * and it agrees with X on [−W, W]: their total variation distance is at most 2·P(X > W). Only the
 * coordinates the shift touches (at most S of them) need the replacement, so a round of the real
 * mechanism is within total variation τ = Σ_j 2·S_j·P(X_j > W_j) of one the Gaussian dominates, and
 * H_{e^ε} of T composed rounds is at most the dominating PLD's plus (1 + e^ε)·T·τ. W is chosen with
 * Chernoff's bound so that P(X > W) ≤ e^{−120}: τ is negligible at any δ, and is added anyway.
 * @module
 */
import { logNormalDensity, logNormalTail, normalTailQuantile } from './normal.ts';
import { skellamLogTailBound, skellamTable } from './skellam-pmf.ts';

/** log of the tail mass beyond the window: P(X > W) ≤ e^{−120}. */
const LOG_WINDOW_TAIL = -120;

/** Safety factor on the computed largest increment. */
const MARGIN = 1 + 1e-6;

/**
 * The largest noise variance γ is computed for: the window grows as √μ (about 2·10⁶ points, a second
 * or two, at this bound). Rounds with more noise than this are accounted by RDP alone.
 */
export const MAX_DOMINANCE_VARIANCE = 2 ** 34;

/** The bound γ on the Gaussianised CDF's increments of Sk(μ), and the window and tail it holds on. */
export interface SkellamIncrementBound {
  /** γ (times the safety margin). */
  readonly gamma: number;
  /** γ·√μ: 1 for the Gaussian, a little more for Skellam noise. */
  readonly relativeToGaussian: number;
  /** W. */
  readonly window: number;
  /** An upper bound on P(X > W). */
  readonly tailMass: number;
}

const bounds = new Map<number, SkellamIncrementBound>();

/**
 * γ for Sk(μ) (see the module comment). Cached per μ; about 0.2 s at μ = 10⁹ (a window of 10⁶).
 * @throws RangeError if μ is not a finite number > 0
 */
export function skellamIncrementBound(variance: number): SkellamIncrementBound {
  if (!(variance > 0) || !Number.isFinite(variance))
    throw new RangeError(`variance must be a finite number > 0, got ${variance}`);
  const cached = bounds.get(variance);
  if (cached) return cached;
  let window = Math.ceil(Math.sqrt(-2 * LOG_WINDOW_TAIL * variance)) + 2;
  while (skellamLogTailBound(window + 1, variance) > LOG_WINDOW_TAIL) window = Math.ceil(window * 1.25) + 1;
  const table = skellamTable(variance, window + 1);
  const logTail = table.logTail;
  // g(m) = Φ̄⁻¹(P(X > m)) for m ≥ 0; the increment at 0 is g(0) − g(−1) = 2·g(0) by symmetry. g is
  // smooth, so one Newton step from the linear extrapolation of the last two values is already
  // exact to rounding; every 1024 points a full solve checks that, and a disagreement beyond 10⁻¹³
  // switches to full solves.
  let previous = normalTailQuantile(logTail[0]!);
  let largest = 2 * previous;
  let step = 0;
  let careful = false;
  for (let m = 1; m <= window; m++) {
    const target = logTail[m]!;
    let g: number;
    if (careful || m < 4) {
      g = normalTailQuantile(target, previous + step);
    } else {
      const y = previous + step;
      const value = logNormalTail(y);
      g = y + (value - target) * Math.exp(value - logNormalDensity(y));
      if ((m & 1023) === 0 && Math.abs(normalTailQuantile(target, g) - g) > 1e-13 * Math.max(1, g)) {
        careful = true;
        g = normalTailQuantile(target, g);
      }
    }
    step = g - previous;
    if (step > largest) largest = step;
    previous = g;
  }
  const gamma = largest * MARGIN;
  const result = Object.freeze({
    gamma,
    relativeToGaussian: gamma * Math.sqrt(variance),
    window,
    tailMass: Math.exp(table.logTail[window]!),
  });
  if (bounds.size > 256) bounds.clear();
  bounds.set(variance, result);
  return result;
}

/** A Skellam query as the accountants see it: S = Δ₂² and the noise variance μ of the sum. */
export interface SkellamDominanceQuery {
  readonly squaredL2Sensitivity: number;
  readonly variance: number;
}

/** The Gaussian mechanism that dominates a round, and the total variation slack per round. */
export interface GaussianDominance {
  /** σ = 1/μ_G: the noise multiplier of the dominating Gaussian mechanism (sensitivity 1). */
  readonly sigma: number;
  /** τ: the total variation distance between a round and one the Gaussian dominates exactly. */
  readonly slack: number;
}

/** Above this variance `estimate` skips the computation (γ·√μ is then within 1.2·10⁻⁶ of 1). */
const ESTIMATE_FROM = 1e6;

/**
 * The Gaussian mechanism dominating one round of the given Skellam queries (independent noise, one
 * client's contribution to each), and the slack (see the module comment); undefined when a query's
 * variance is above {@link MAX_DOMINANCE_VARIANCE}.
 * @param options.estimate - for searches only (calibration tries many variances, each costing up to a
 *   second): above a variance of 10⁶ use γ·√μ = 1 + 2·10⁻⁶ instead of computing it. Not a bound;
 *   whatever is charged or reported must come from the computed value.
 * @throws RangeError on a bad query
 */
export function skellamGaussianDominance(
  queries: readonly SkellamDominanceQuery[],
  options: { readonly estimate?: boolean } = {},
): GaussianDominance | undefined {
  if (!Array.isArray(queries) || queries.length === 0)
    throw new RangeError('queries must be a non-empty array');
  let mu2 = 0;
  let slack = 0;
  for (const [i, query] of queries.entries()) {
    const s = query.squaredL2Sensitivity;
    if (!(s >= 0) || !Number.isFinite(s))
      throw new RangeError(`queries[${i}].squaredL2Sensitivity must be finite >= 0, got ${s}`);
    if (s === 0) continue;
    if (query.variance > MAX_DOMINANCE_VARIANCE) return undefined;
    const bound =
      options.estimate && query.variance > ESTIMATE_FROM
        ? { gamma: (1 + 2e-6) / Math.sqrt(query.variance), tailMass: Math.exp(LOG_WINDOW_TAIL) }
        : skellamIncrementBound(query.variance);
    mu2 += bound.gamma * bound.gamma * s;
    slack += 2 * Math.floor(s + 1e-9) * bound.tailMass;
  }
  return Object.freeze({ sigma: mu2 === 0 ? Infinity : 1 / Math.sqrt(mu2), slack });
}
