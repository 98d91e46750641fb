/**
 * Conversion of RDP guarantees to (ε, δ)-differential privacy.
 *
 * The bound used is the improved conversion of Balle, Barthe, Gaboardi, Hsu, Sato, "Hypothesis
 * Testing Interpretations and Rényi Differential Privacy" (AISTATS 2020, Thm 21); Canonne, Kamath,
 * Steinke, "The Discrete Gaussian for Differential Privacy" (2020, Prop. 12) state the same. A
 * mechanism that is (α, r)-RDP is (ε, δ)-DP for
 *
 *   ε = r + log((α − 1)/α) − (log δ + log α)/(α − 1),
 *
 * which is below Mironov's classical r + log(1/δ)/(α − 1) ("Rényi Differential Privacy", 2017,
 * Prop. 3) by log(α/(α − 1)) + log(α)/(α − 1) > 0 at every order. As in dp_accounting's
 * `compute_epsilon` / `compute_delta`:
 * - the bound is minimised over the tracked orders, and the minimising order is reported;
 * - orders α ≤ 1.01 are skipped (the formula is numerically unstable as α → 1 and never optimal);
 * - ε is clamped at 0, and ε = 0 is also reported when δ² > 1 − e^{−r}: r ≥ D_α ≥ KL, and by the
 *   Bretagnolle–Huber inequality the total variation distance, which is the δ of ε = 0, is at most
 *   √(1 − e^{−KL});
 * - an infinite RDP value gives an infinite bound at that order, so it drops out of the minimum.
 *
 * The classical bound, ε = min_α r − log(δ)/(α − 1) (Mironov 2017, Prop. 3), is kept as an option
 * because ε values published before 2020 (TF Privacy's tutorials, Abadi et al.-style tables) use it
 * and can only be reproduced with it. At every order above 1.01 it is larger than the improved bound.
 * @module
 */
import { log1mExp } from './logmath.ts';
import { assertInRange, assertNonNegative, assertOrders } from './validate.ts';

/** An ε bound and the Rényi order that achieves it. */
export interface EpsilonResult {
  /** The smallest ε over the orders, ≥ 0; +∞ when no order gives a finite bound. */
  readonly epsilon: number;
  /** The order α of that bound; NaN when ε = +∞ or δ = 0 (no order applies). */
  readonly order: number;
}

/** A δ bound and the Rényi order that achieves it. */
export interface DeltaResult {
  /** The smallest δ over the orders, in [0, 1]. */
  readonly delta: number;
  /** The order α of that bound; NaN when δ = 1 is all that can be said. */
  readonly order: number;
}

/**
 * Which RDP → (ε, δ) bound to use: `'improved'` (Balle et al. 2020, Thm 21; the default) or
 * `'classic'` (Mironov 2017, Prop. 3; only to reproduce older published values).
 */
export type Conversion = 'improved' | 'classic';

/** Orders at or below this are skipped by the improved conversion (dp_accounting's threshold). */
const MIN_CONVERSION_ORDER = 1.01;

function checkPairs(orders: unknown, rdp: unknown): { orders: readonly number[]; rdp: readonly number[] } {
  const o = assertOrders('orders', orders);
  if (!Array.isArray(rdp)) throw new TypeError('rdp must be an array of numbers');
  if (rdp.length !== o.length) {
    throw new RangeError(`rdp must have one value per order (${o.length}), got ${rdp.length}`);
  }
  const r = rdp.map((v: unknown, i) => {
    if (v === Infinity) return v;
    return assertNonNegative(`rdp[${i}]`, v);
  });
  return { orders: o, rdp: r };
}

/**
 * The (ε, δ) bound implied by RDP values `rdp[k]` at orders `orders[k]`, for a given δ.
 *
 * @param orders Rényi orders, each finite and > 1
 * @param rdp RDP value at each order, each ≥ 0 or +∞
 * @param delta target δ in [0, 1]; δ = 0 gives ε = +∞ unless every RDP value is 0
 * @param conversion `'improved'` (default) or `'classic'`, see {@link Conversion}
 * @returns the smallest ε over the orders and the order achieving it
 * @throws TypeError / RangeError on malformed input (lengths differ, negative RDP, δ out of range,
 *   unknown conversion)
 * @example
 * ```ts
 * const { epsilon, order } = epsilonFromRdp([2, 32], [0.1, 4.0], 1e-5);
 * ```
 */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: Conversion = 'improved',
): EpsilonResult {
  const checked = checkPairs(orders, rdp);
  const d = assertInRange('delta', delta, 0, 1);
  if (conversion !== 'improved' && conversion !== 'classic') {
    throw new RangeError(`conversion must be 'improved' or 'classic', got ${String(conversion)}`);
  }
  if (d === 0) {
    return checked.rdp.every((r) => r === 0)
      ? { epsilon: 0, order: Number.NaN }
      : { epsilon: Infinity, order: Number.NaN };
  }
  const logDelta = Math.log(d);
  let best = Infinity;
  let bestOrder = Number.NaN;
  checked.orders.forEach((a, k) => {
    const r = checked.rdp[k]!;
    let eps: number;
    if (conversion === 'classic') {
      eps = r - logDelta / (a - 1);
    } else if (d * d + Math.expm1(-r) > 0) {
      eps = 0; // δ exceeds the total-variation bound √(1 − e^{−r}): (0, δ)-DP outright.
    } else if (a > MIN_CONVERSION_ORDER) {
      eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    } else {
      eps = Infinity;
    }
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  });
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/**
 * The (ε, δ) bound implied by RDP values, for a given ε: the inverse of {@link epsilonFromRdp} at
 * each order, log δ = (α − 1)(r − ε + log(1 − 1/α)) − log α, and the total-variation bound
 * δ ≤ √(1 − e^{−r}), whichever is smaller, minimised over the orders.
 *
 * @param orders Rényi orders, each finite and > 1
 * @param rdp RDP value at each order, each ≥ 0 or +∞
 * @param epsilon target ε ≥ 0
 * @returns the smallest δ over the orders (at most 1) and the order achieving it
 * @throws TypeError / RangeError on malformed input
 * @example
 * ```ts
 * const { delta } = deltaFromRdp([2, 32], [0.1, 4.0], 2.0);
 * ```
 */
export function deltaFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  epsilon: number,
): DeltaResult {
  const checked = checkPairs(orders, rdp);
  const eps = assertNonNegative('epsilon', epsilon);
  let best = 0; // log δ; δ = 1 always holds
  let bestOrder = Number.NaN;
  checked.orders.forEach((a, k) => {
    const r = checked.rdp[k]!;
    let logDelta = r === 0 ? -Infinity : 0.5 * log1mExp(-r);
    if (a > MIN_CONVERSION_ORDER) {
      logDelta = Math.min(logDelta, (a - 1) * (r - eps + Math.log1p(-1 / a)) - Math.log(a));
    }
    if (logDelta < best) {
      best = logDelta;
      bestOrder = a;
    }
  });
  return { delta: Math.min(1, Math.exp(best)), order: bestOrder };
}
