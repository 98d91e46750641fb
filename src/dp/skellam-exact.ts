/**
 * Rényi DP of the Skellam mechanism without sampling, computed exactly where Agarwal, Kairouz, Liu
 * (NeurIPS 2021, Thm 3.5) is loose — small noise variance μ, where the discreteness of the noise
 * matters — and taken from Thm 3.5 where it is already within a relative 1/μ of the Gaussian value.
 * The result is an upper bound on the RDP at every integer order, for the worst integer vector the
 * client's rounded update can be.
 *
 * One coordinate. For noise X ~ Sk(μ) (./skellam-pmf.ts) and an integer shift k ≥ 1,
 *
 *   f_α(k) = D_α(X + k ‖ X) = 1/(α−1)·log Σ_x p(x−k)^α·p(x)^{1−α},
 *
 * summed in log space over a window [−X_L, X_R] and bounded beyond it (so the value returned is never
 * below the true one, up to rounding of a few units in the last place):
 * - right of X_R the terms t(x) have ratio t(x+1)/t(x) = ρ(x−k)^α/ρ(x)^{α−1} (ρ the Bessel ratio),
 *   at most R(x) = ρ⁺(x−k)·[u(x+1)/u(x−k+½)]^{α−1} with u(y) = y + √(y² + μ²) (Amos's bounds ρ⁺, and
 *   1/ρ⁻(y) = u(y+1)/μ); R is non-increasing in x (ρ⁺ decreases, and log u is concave so the ratio of
 *   u over a fixed gap decreases), so the tail is at most the geometric series t(X_R)·R/(1 − R);
 * - left of −X_L, p(x−k) ≤ p(x) (x − k is further from 0), so t(x) ≤ p(x−k): the tail is at most
 *   P(X > X_L + k − 1), read from the table.
 * The window reaches 14·√μ + 20 beyond the peak of the terms (near x = αk), where they are e^{−98}
 * of it.
 *
 * A whole update. The client's rounded update is an integer vector v with ‖v‖₂² ≤ S (= Δ₂², the
 * rounding bound) and the noise is independent per coordinate, so D_α(X + v ‖ X) = Σ_i f_α(v_i)
 * (Rényi divergence is additive over product distributions). With R_α = sup_{k ≥ 1} f_α(k)/k²,
 * Σ_i f_α(v_i) ≤ R_α·Σ_i v_i² ≤ R_α·S, attained when one coordinate carries the whole shift and
 * f_α(k)/k² is largest there. R_α: the exact f_α(k)/k² for k ≤ k₀ = min(⌊√S⌋, 8), and for larger k
 * Thm 3.5's per-coordinate bound divided by k², α/(2μ) + min(((2α−1) + 6/k)/(4μ²), 3/(2μk)), which
 * decreases in k, so its value at k₀ + 1 covers every k > k₀. The result is also min'd with
 * Cor. 3.6 (Thm 3.5 summed over coordinates, in terms of S and the L1 bound Δ₁): both are valid.
 *
 * Where it is computed. Exactly only for μ ≤ {@link EXACT_MAX_VARIANCE} and α ≤ {@link EXACT_MAX_ORDER}
 * (a few thousand terms per order); beyond that Thm 3.5 exceeds the Gaussian α·S/(2μ) by a relative
 * O(1/μ), which no accountant would notice. The symmetric noise makes D_α(X ‖ X + v) = D_α(X − v ‖ X)
 * the same bound, so both orders of a neighbouring pair are covered.
 * @module
 */
import { logAdd } from './logmath.ts';
import { besselRatioUpper, skellamTable } from './skellam-pmf.ts';

/** Noise variances up to this are computed exactly; above, Thm 3.5 is within 1e-5 of the Gaussian. */
export const EXACT_MAX_VARIANCE = 1e5;

/** Orders up to this are computed exactly (higher orders matter only for tiny δ and few rounds). */
export const EXACT_MAX_ORDER = 64;

/** The largest single-coordinate shift computed exactly; beyond, Thm 3.5's bound per k² is used. */
const EXACT_MAX_SHIFT = 8;

/** The window's reach beyond the terms' peak, in standard deviations of the noise. */
const WINDOW_SIGMAS = 14;

/** u(y) = y + √(y² + μ²). */
function u(y: number, mu: number): number {
  return y + Math.hypot(y, mu);
}

/**
 * D_α(X + k ‖ X) for X ~ Sk(μ), an integer k ≥ 1 and a real α > 1, as an upper bound (see the module
 * comment for the window and the tail bounds). +∞ if the tail bound cannot be closed.
 * @throws RangeError on a bad argument
 */
export function skellamShiftRdp(mu: number, k: number, alpha: number): number {
  if (!(mu > 0) || !Number.isFinite(mu)) throw new RangeError(`mu must be a finite number > 0, got ${mu}`);
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
  if (!(alpha > 1) || !Number.isFinite(alpha))
    throw new RangeError(`alpha must be a finite number > 1, got ${alpha}`);
  const reach = Math.ceil(WINDOW_SIGMAS * Math.sqrt(mu)) + 20;
  const left = reach;
  let right = Math.ceil(alpha * k) + reach;
  // Make sure the ratio bound is below 1 at the right end (past the peak); widen if not.
  let ratio = tailRatio(mu, k, alpha, right);
  for (let i = 0; ratio >= 1 && i < 20; i++) {
    right *= 2;
    ratio = tailRatio(mu, k, alpha, right);
  }
  if (ratio >= 1) return Infinity;
  const table = skellamTable(mu, right + k + 1);
  const lp = (x: number) => table.logPmf[Math.abs(x)]!;
  // log Σ over the window, by the max-shift method.
  const count = left + right + 1;
  const terms = new Float64Array(count);
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = i - left;
    const term = alpha * lp(x - k) + (1 - alpha) * lp(x);
    terms[i] = term;
    if (term > max) max = term;
  }
  let sum = 0;
  for (let i = 0; i < count; i++) sum += Math.exp(terms[i]! - max);
  let logSum = max + Math.log(sum);
  // Right tail: geometric series from the last term.
  logSum = logAdd(logSum, terms[count - 1]! + Math.log(ratio) - Math.log1p(-ratio));
  // Left tail: at most P(X > left + k − 1).
  logSum = logAdd(logSum, table.logTail[left + k - 1]!);
  return Math.max(0, logSum / (alpha - 1));
}

/** R(x) of the module comment, the bound on t(x+1)/t(x) for every x' ≥ x. */
function tailRatio(mu: number, k: number, alpha: number, x: number): number {
  const up = besselRatioUpper(x - k, mu);
  return up * (u(x + 1, mu) / u(x - k + 0.5, mu)) ** (alpha - 1);
}

/** Thm 3.5's per-coordinate bound at integer order α for shift k, divided by k². */
function theoremPerSquare(mu: number, k: number, alpha: number): number {
  return alpha / (2 * mu) + Math.min((2 * alpha - 1 + 6 / k) / (4 * mu * mu), 3 / (2 * mu * k));
}

/** Cor. 3.6: Thm 3.5 summed over coordinates, for Δ₂² = S and L1 bound Δ₁. */
export function skellamCorollaryRdp(s: number, l1: number, mu: number, alpha: number): number {
  return (
    (alpha * s) / (2 * mu) + Math.min(((2 * alpha - 1) * s + 6 * l1) / (4 * mu * mu), (3 * l1) / (2 * mu))
  );
}

/** A Skellam query: the integer vector's squared L2 bound S, its L1 bound, the noise variance. */
export interface SkellamBoundQuery {
  readonly squaredL2Sensitivity: number;
  readonly l1Sensitivity: number;
  readonly variance: number;
}

const curves = new Map<string, Float64Array>();

/**
 * The RDP at every integer order 0 … `maxOrder` (entries 0 and 1 are 0) of one Skellam query, as an
 * upper bound over every integer vector with ‖v‖₂² ≤ S and ‖v‖₁ ≤ Δ₁ (see the module comment).
 * Cached per query and order range. The returned array must not be modified.
 * @throws RangeError on a bad argument
 */
export function skellamQueryRdpTable(query: SkellamBoundQuery, maxOrder: number): Float64Array {
  const { squaredL2Sensitivity: s, l1Sensitivity: l1, variance: mu } = query;
  if (!(s >= 0) || !Number.isFinite(s))
    throw new RangeError(`squaredL2Sensitivity must be finite >= 0, got ${s}`);
  if (!(l1 >= 0) || !Number.isFinite(l1))
    throw new RangeError(`l1Sensitivity must be finite >= 0, got ${l1}`);
  if (!(mu > 0) || !Number.isFinite(mu)) throw new RangeError(`variance must be finite > 0, got ${mu}`);
  if (!Number.isSafeInteger(maxOrder) || maxOrder < 2)
    throw new RangeError(`maxOrder must be an integer >= 2, got ${maxOrder}`);
  const key = `${s}/${l1}/${mu}/${maxOrder}`;
  const cached = curves.get(key);
  if (cached) return cached;
  const out = new Float64Array(maxOrder + 1);
  // The largest shift one coordinate can carry.
  const kMax = Math.floor(Math.sqrt(s) + 1e-9);
  if (kMax >= 1) {
    const exactShifts = Math.min(kMax, EXACT_MAX_SHIFT);
    const exact = mu <= EXACT_MAX_VARIANCE;
    for (let alpha = 2; alpha <= maxOrder; alpha++) {
      let perSquare: number;
      if (exact && alpha <= EXACT_MAX_ORDER) {
        perSquare = kMax > exactShifts ? theoremPerSquare(mu, exactShifts + 1, alpha) : 0;
        for (let k = 1; k <= exactShifts; k++) {
          perSquare = Math.max(
            perSquare,
            Math.min(skellamShiftRdp(mu, k, alpha), theoremPerSquare(mu, k, alpha) * k * k) / (k * k),
          );
        }
      } else {
        perSquare = theoremPerSquare(mu, 1, alpha);
      }
      out[alpha] = Math.min(s * perSquare, skellamCorollaryRdp(s, l1, mu, alpha));
    }
  }
  if (curves.size > 256) curves.clear();
  curves.set(key, out);
  return out;
}
