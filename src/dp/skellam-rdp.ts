/**
 * Rényi DP of the (distributed) Skellam mechanism, per round, as an {@link RdpStep} the
 * {@link RdpAccountant} composes.
 *
 * Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private Federated Learning"
 * (NeurIPS 2021), Theorem 3.5 / Corollary 3.6: adding symmetric Skellam noise of variance μ to each
 * coordinate of an integer-valued query with L2 sensitivity Δ₂ and L1 sensitivity Δ₁ is, at integer
 * order α > 1, (α, ε(α))-RDP with
 *
 *   ε(α) = α·Δ₂²/(2μ) + min{ ((2α − 1)·Δ₂² + 6·Δ₁)/(4μ²),  3·Δ₁/(2μ) }.
 *
 * The first term is the Gaussian mechanism's α·Δ₂²/(2σ²); the min is the price of discreteness and
 * vanishes as μ grows. (Written here with μ the variance, as in Google's distributed_dp accounting
 * code; the paper's Sk(μ, μ) has variance 2μ.) The sum of independent Skellams is Skellam with the
 * summed variance, so μ is simply the total variance of the noise the server cannot subtract: that of
 * the fewest honest survivors a round can end with (./distributed.ts). Several Skellam queries in one
 * round with independent noise (the update and the adaptive-clipping bit count, ./adaptive.ts) add
 * their ε(α) (Rényi divergence of product distributions is additive).
 *
 * Orders. The bound holds at integer α; at a fractional order the value at ⌈α⌉ is used, which is an
 * upper bound because Rényi divergence is non-decreasing in its order (van Erven & Harremoës 2014,
 * Thm 3). So every tracked order of the accountant gets a finite, valid value.
 *
 * A round ({@link SkellamRound}). What the ledger charges is tighter than that formula in two ways:
 * - per query, the exact RDP of the worst integer vector (./skellam-exact.ts): numerically exact
 *   where Thm 3.5 is loose (small μ, e.g. the adaptive-clipping count), Thm 3.5 elsewhere;
 * - with client sampling at rate q < 1, the exact RDP of the Poisson-subsampled mechanism
 *   (./subsampled-rdp.ts): the neighbouring pairs of a Skellam round are symmetric, so the "add"
 *   direction is never the larger one and the binomial expansion in the per-order values is exact;
 *   fractional orders by the log-convexity of (α−1)·D_α. At the privacy benchmark's scale this is the
 *   subsampled Gaussian's RDP to four digits, where Zhu & Wang's general bound (./subsampling.ts,
 *   kept as {@link SkellamRound.zhuWangRdp} for comparison) is about three times larger.
 * Neighbouring relation: one client's update replaced by zero while its noise share stays in the sum
 * (zero-out), for the reasons given in ./distributed.ts.
 * @module
 */
import type { RdpStep } from './accountant.ts';
import { assertObject, kind } from './checks.ts';
import { skellamQueryRdpTable } from './skellam-exact.ts';
import { subsampledSymmetricCurve } from './subsampled-rdp.ts';
import { poissonSubsampledRdp } from './subsampling.ts';
import { assertInRange, assertNonNegative } from './validate.ts';

/** One Skellam query: sensitivities of the integer vector and the variance of the noise on its sum. */
export interface SkellamQuery {
  /** Δ₂², the squared L2 sensitivity in integer units, ≥ 0. */
  readonly squaredL2Sensitivity: number;
  /** Δ₁, the L1 sensitivity in integer units, ≥ 0. */
  readonly l1Sensitivity: number;
  /** μ, the per-coordinate variance of the Skellam noise in the sum, > 0. */
  readonly variance: number;
}

function checkQuery(query: SkellamQuery, name: string): SkellamQuery {
  assertObject(name, query);
  assertNonNegative(`${name}.squaredL2Sensitivity`, query.squaredL2Sensitivity);
  assertNonNegative(`${name}.l1Sensitivity`, query.l1Sensitivity);
  assertNonNegative(`${name}.variance`, query.variance, true);
  return query;
}

/**
 * ε(α) of one Skellam query (Agarwal et al. 2021, Cor. 3.6) at order α > 1, using ⌈α⌉.
 * @param query - sensitivities and noise variance
 * @param alpha - a finite order > 1
 * @returns ε(⌈α⌉) ≥ 0
 * @throws TypeError / RangeError on a bad argument
 * @example
 * ```ts
 * skellamRdp({ squaredL2Sensitivity: 1e6, l1Sensitivity: 1e6, variance: 1e6 }, 8); // ≈ 4 + 1.5e-5
 * ```
 */
export function skellamRdp(query: SkellamQuery, alpha: number): number {
  const { squaredL2Sensitivity: d2, l1Sensitivity: d1, variance: mu } = checkQuery(query, 'query');
  if (typeof alpha !== 'number') throw new TypeError(`alpha must be a number, got ${kind(alpha)}`);
  if (!Number.isFinite(alpha) || alpha <= 1)
    throw new RangeError(`alpha must be a finite number > 1, got ${alpha}`);
  return rdpAt(d2, d1, mu, Math.ceil(alpha));
}

function rdpAt(d2: number, d1: number, mu: number, a: number): number {
  return (a * d2) / (2 * mu) + Math.min(((2 * a - 1) * d2 + 6 * d1) / (4 * mu * mu), (3 * d1) / (2 * mu));
}

/**
 * One round of one or more Skellam queries over a Poisson sample of clients at rate q, as an
 * {@link RdpStep}: `accountant.composeRdp(new SkellamRound([update, clipBits], q), rounds)`.
 */
export class SkellamRound implements RdpStep {
  readonly queries: readonly SkellamQuery[];
  readonly q: number;

  /**
   * @param queries - the round's Skellam queries (their RDP adds up before subsampling)
   * @param q - the client sampling rate in [0, 1]; 1 for full participation
   * @throws TypeError / RangeError on a bad argument
   */
  constructor(queries: readonly SkellamQuery[], q: number) {
    if (!Array.isArray(queries) || queries.length === 0) {
      throw new TypeError(`queries must be a non-empty array of SkellamQuery, got ${kind(queries)}`);
    }
    this.queries = Object.freeze(
      queries.map((query, i) => {
        const { squaredL2Sensitivity, l1Sensitivity, variance } = checkQuery(query, `queries[${i}]`);
        return Object.freeze({ squaredL2Sensitivity, l1Sensitivity, variance });
      }),
    );
    this.q = assertInRange('q', q, 0, 1);
  }

  /**
   * The round's RDP at each order: the exact subsampled curve of the module comment, an upper bound
   * at every order.
   * @param orders - finite orders > 1
   * @returns one value ≥ 0 per order
   * @throws RangeError if an order is not finite and > 1
   */
  rdp(orders: readonly number[]): number[] {
    const maxOrder = checkOrders(orders);
    if (this.q === 0) return orders.map(() => 0);
    // The unsampled round's bound at every integer order up to the largest (+1 for interpolation).
    const table = new Float64Array(maxOrder + 1);
    for (const query of this.queries) {
      const curve = skellamQueryRdpTable(query, maxOrder);
      for (let a = 2; a <= maxOrder; a++) table[a] = table[a]! + curve[a]!;
    }
    return subsampledSymmetricCurve(table, this.q, orders);
  }

  /**
   * The curve privagg charged before the exact analysis: Thm 3.5 at ⌈α⌉, amplified by Zhu & Wang's
   * general bound (min'd with the unsampled value). A valid but looser upper bound, kept for
   * comparisons (tests, `npm run bench:dp`).
   */
  zhuWangRdp(orders: readonly number[]): number[] {
    let maxOrder = 2;
    for (const alpha of orders) {
      if (!(alpha > 1) || !Number.isFinite(alpha))
        throw new RangeError(`orders must be finite and > 1, got ${alpha}`);
      maxOrder = Math.max(maxOrder, Math.ceil(alpha));
    }
    if (this.q === 0) return orders.map(() => 0);
    const base = new Float64Array(maxOrder + 1);
    for (let l = 2; l <= maxOrder; l++) {
      let sum = 0;
      for (const { squaredL2Sensitivity, l1Sensitivity, variance } of this.queries) {
        sum += rdpAt(squaredL2Sensitivity, l1Sensitivity, variance, l);
      }
      base[l] = sum;
    }
    if (this.q === 1) return orders.map((alpha) => base[Math.ceil(alpha)]!);
    return orders.map((alpha) => {
      const order = Math.ceil(alpha);
      return Math.min(base[order]!, poissonSubsampledRdp(base, this.q, order));
    });
  }
}

/** Checks the orders; returns the integer order the tables must reach (⌊α⌋ + 1 for fractional α). */
function checkOrders(orders: readonly number[]): number {
  let maxOrder = 2;
  for (const alpha of orders) {
    if (!(alpha > 1) || !Number.isFinite(alpha))
      throw new RangeError(`orders must be finite and > 1, got ${alpha}`);
    maxOrder = Math.max(maxOrder, Number.isInteger(alpha) ? alpha : Math.floor(alpha) + 1);
  }
  return maxOrder;
}
