/**
 * How likely the securely summed, noised vector is to wrap around the ring Z/2^bits — the event that
 * a coordinate of the true integer sum falls outside [−2^(bits−1), 2^(bits−1)) and is decoded as a
 * value 2^bits away. Wrap-around does not weaken privacy (it is post-processing of a private sum);
 * it destroys utility for that coordinate. The distributed mechanism (./distributed.ts) refuses a
 * configuration whose bound exceeds the configured maximum, with the numbers.
 *
 * The bound. Let m clients each send ỹ_i = round(s·H·D·x_i/√n) + Z_i, with ‖x_i‖ ≤ C, Z_i symmetric
 * Skellam of variance v, and n the padded length. Coordinate j of the integer sum is
 *   T_j = A_j + R_j + N_j,  A_j = (H·D·Σ_i s·x_i)_j/√n,  R_j = rounding errors,  N_j = Σ_i Z_ij.
 * - A_j is a Rademacher sum (the signs D are independent of the data) with coefficient vector of norm
 *   ‖Σ s·x_i‖/√n ≤ m·s·C/√n, so P(|A_j| ≥ a) ≤ 2·exp(−a²·n/(2(m·s·C)²)) (Hoeffding).
 * - |R_j| < m: each client's rounding moves the coordinate by less than 1 (deterministic).
 * - N_j is Skellam with variance W = m·v (sums of Skellams are Skellam), with Chernoff bound
 *   P(|N_j| ≥ k) ≤ 2·exp(−W·h(k/W)), h(u) = u·asinh(u) − √(1 + u²) + 1, from its moment generating
 *   function E[e^{θN}] = exp(W(cosh θ − 1)) at the optimal θ = asinh(k/W).
 * If |A_j| < a and |N_j| ≤ L − m − a with L = 2^(bits−1), then |T_j| < L and coordinate j decodes
 * correctly. A union bound over the n coordinates gives
 *   P(any wrap) ≤ n·[P(|A_j| ≥ a) + P(|N_j| ≥ L − m − a)]
 * for any split a; the split used is where the two terms are equal (found by bisection), which is
 * within a factor 2 of the best split. m is the most clients that can be summed: more summands mean
 * more signal, rounding error and noise, so the bound at the maximum covers every survivor count.
 * The bound is for honest clients: a malicious one can send any ring vector and so make the sum wrap
 * at will — which spoils the round's utility, never another client's privacy.
 * @module
 */

/** log(e^a + e^b), exact for −∞. */
function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === -Infinity) return -Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * log of the two-sided Chernoff bound on P(|N| ≥ k) for a symmetric Skellam N of variance W:
 * ln 2 − W·h(k/W), capped at 0 (probability 1).
 * @param k - threshold, any number (≤ 0 gives 0, i.e. probability 1)
 * @param variance - W > 0
 */
export function logSkellamTail(k: number, variance: number): number {
  if (k <= 0) return 0;
  const u = k / variance;
  // h(u) = u·asinh(u) − (√(1 + u²) − 1); the second term as u²/(√(1 + u²) + 1) avoids cancellation.
  const h = u * Math.asinh(u) - (u * u) / (Math.sqrt(1 + u * u) + 1);
  return Math.min(0, Math.LN2 - variance * h);
}

/**
 * log of the Hoeffding bound on P(|y_j| ≥ a) for one coordinate of H·D·x/√n with ‖x‖ ≤ norm:
 * ln 2 − a²·n/(2·norm²), capped at 0.
 */
export function logRotatedTail(a: number, norm: number, n: number): number {
  if (a <= 0) return 0;
  if (norm === 0) return -Infinity;
  return Math.min(0, Math.LN2 - (a * a * n) / (2 * norm * norm));
}

/** What {@link wrapProbability} needs to know about a round. */
export interface WrapQuery {
  /** Ring bit width, 2..32. */
  readonly bits: number;
  /** Coordinates per vector (the padded length n). */
  readonly length: number;
  /** The most clients whose vectors can be in one sum, m ≥ 1. */
  readonly clients: number;
  /** Each client's L2 norm bound before rounding, in integer units (s·C); ≥ 0. */
  readonly scaledNorm: number;
  /** Noise variance per coordinate of the sum of all `clients` vectors (m·v), > 0. */
  readonly noiseVariance: number;
  /**
   * Whether coordinates are spread by the random rotation (default true). Without it (a vector that
   * is not rotated, e.g. the one-element clip count), the signal bound is the deterministic
   * |A_j| ≤ m·s·C.
   */
  readonly rotated?: boolean;
}

/**
 * An upper bound on the probability that any coordinate of the summed vector wraps around (see the
 * module comment for the derivation), in [0, 1].
 * @example
 * ```ts
 * wrapProbability({ bits: 32, length: 2 ** 20, clients: 100, scaledNorm: 1e7, noiseVariance: 2e14 });
 * ```
 */
export function wrapProbability(query: WrapQuery): number {
  return Math.exp(logWrapProbability(query));
}

/** The natural log of {@link wrapProbability} (useful when it underflows). */
export function logWrapProbability(query: WrapQuery): number {
  const { bits, length: n, clients: m, scaledNorm, noiseVariance } = query;
  const L = 2 ** (bits - 1);
  // Slack for floating-point rounding of the clipped, scaled, rotated vector (relative 2^−20).
  const signal = m * scaledNorm * (1 + 2 ** -20);
  const room = L - m; // what is left after the deterministic rounding error
  if (room <= 0) return 0;
  const logN = Math.log(n);
  if (query.rotated === false) {
    // |A_j| ≤ m·s·C deterministically: only the noise is random.
    const k = room - signal;
    return Math.min(0, logN + logSkellamTail(k, noiseVariance));
  }
  const tailA = (a: number) => logRotatedTail(a, signal, n);
  const tailN = (a: number) => logSkellamTail(room - a, noiseVariance);
  // tailA decreases and tailN increases in a: bisect for the crossing.
  let lo = 0;
  let hi = room;
  for (let iteration = 0; iteration < 200 && hi - lo > 1e-9 * room; iteration++) {
    const mid = (lo + hi) / 2;
    if (tailA(mid) > tailN(mid)) lo = mid;
    else hi = mid;
  }
  const best = Math.min(logAdd(tailA(lo), tailN(lo)), logAdd(tailA(hi), tailN(hi)));
  return Math.min(0, logN + best);
}
