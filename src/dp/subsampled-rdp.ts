/**
 * Exact Rényi DP of a Poisson-subsampled mechanism whose neighbouring pairs are *symmetric*, given
 * an upper bound on the unsampled mechanism's RDP at every integer order. Used for the distributed
 * Skellam mechanism (./skellam-rdp.ts) in place of Zhu & Wang's general bound (./subsampling.ts),
 * whose factor 3 on every term of order ≥ 3 makes it about three times the exact value at the
 * privacy benchmark's operating points.
 *
 * Setting. A record joins a round's sample with probability q. For a pair of neighbouring inputs
 * the round's output is P (record in) or Q (record out) under the unsampled mechanism; with sampling
 * it is M = (1−q)·Q + q·P against Q. Add/remove adjacency needs both D_α(M‖Q) ("remove") and
 * D_α(Q‖M) ("add").
 *
 * Remove, integer α (exact). With t = P/Q, E_Q[t^i] = e^{(i−1)·D_i(P‖Q)}, so the binomial expansion
 *
 *   e^{(α−1)·D_α(M‖Q)} = E_Q[(1 − q + q·t)^α] = Σ_{i=0}^{α} C(α,i)·(1−q)^{α−i}·q^i·e^{(i−1)·D_i(P‖Q)}
 *
 * is exact for every mechanism (Mironov, Talwar, Zhang 2019, §3.3; Zhu & Wang 2019, Thm 5's lower
 * bound), and increasing in each D_i: an upper bound ε(i) ≥ D_i(P‖Q) for every pair in the class
 * gives an upper bound for every pair in the class.
 *
 * Add ≤ remove, for symmetric pairs. Call (P, Q) symmetric if the privacy loss L = log(P/Q) has the
 * same law under P as −L under Q — true for any noise distribution symmetric about 0 whose support
 * is closed under the shift (x ↦ v − x swaps P and Q), hence for Skellam and Gaussian noise and their
 * products. Then D_α(Q‖M) ≤ D_α(M‖Q) for every α > 1 and q ∈ [0, 1]. Proof. Symmetry gives
 * E_Q[g(t)] = E_Q[t·g(1/t)] for every g, so any E_Q[g(t)] equals E_Q[(g(t) + t·g(1/t))/2]: every
 * such expectation is an average, over the law of t, of the same expression for the two-point pair
 * with likelihood ratios s = t and 1/s — randomized response. It is therefore enough to prove the
 * claim for randomized response with ratio s ≥ 1 (s and 1/s give the same pair). There Q puts
 * π = 1/(1+s) on the outcome with ratio s, Z = M/Q takes the values x = 1 + q(s−1) (w.p. π under Q)
 * and y = 1 − q(s−1)/s (w.p. 1−π), and we need E_Q[Z^α] ≥ E_Q[Z^{1−α}], i.e.
 * π(x^α − x^{1−α}) ≥ (1−π)(y^{1−α} − y^α). With β = α − ½, A = log x ≥ 0, B = −log y ≥ 0 and
 * π(x − 1) = (1−π)(1 − y) (E_Q[Z] = 1), this reads sinh(βA)/sinh(A/2) ≥ sinh(βB)/sinh(B/2). The map
 * w ↦ sinh(βw)/sinh(w/2) is non-decreasing on w ≥ 0 for β ≥ ½ (its derivative has the sign of
 * tanh(w/2)/(1/2) − tanh(βw)/β ≥ 0, as tanh(cw)/c decreases in c), and A ≥ B because
 * x·y = 1 + q(1−q)(s−1)²/s ≥ 1. ∎ (Checked numerically in test/dp/subsampled-rdp.test.ts.) So for
 * symmetric pairs the remove direction is the RDP, and the binomial sum above is exact.
 *
 * Fractional orders. For each pair, α ↦ (α−1)·D_α = log E_Q[(M/Q)^α] is convex (a log-moment
 * generating function), and 0 at α = 1. So between integers a < α < a + 1, with λ = α − a,
 * (α−1)·D_α ≤ (1−λ)·(a−1)·D_a + λ·a·D_{a+1}, and on (1, 2), D_α ≤ D_2. Interpolating the integer
 * upper bounds this way bounds every pair of the class at once.
 * @module
 */

/**
 * log of the binomial sum above at an integer order α ≥ 2, for 0 < q < 1, from `epsilon[i]` ≥ the
 * unsampled RDP at order i (i = 2 … α; entries 0 and 1 are ignored; +∞ allowed). Summed in log space.
 */
function logBinomialSum(epsilon: ArrayLike<number>, q: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const terms = new Float64Array(alpha + 1);
  let logBinom = 0; // log C(α, 0)
  let max = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    const cost = i >= 2 ? (i - 1) * epsilon[i]! : 0;
    const term = logBinom + i * logQ + (alpha - i) * log1mQ + cost;
    terms[i] = term;
    if (term > max) max = term;
    logBinom += Math.log(alpha - i) - Math.log(i + 1);
  }
  if (max === Infinity) return Infinity;
  let sum = 0;
  for (let i = 0; i <= alpha; i++) sum += Math.exp(terms[i]! - max);
  return max + Math.log(sum);
}

/**
 * RDP of the Poisson-subsampled mechanism at an integer order α ≥ 2, for a class of symmetric
 * neighbouring pairs whose unsampled RDP is at most `epsilon[i]` at each integer order i ≤ α (see the
 * module comment: exact when the bounds are attained by one pair). Min'd with the unsampled
 * `epsilon[α]`, also valid (a mixture is never further from Q than its farthest component, by the
 * joint quasi-convexity of Rényi divergence).
 * @param q sampling probability in [0, 1]
 * @throws RangeError if α is not an integer ≥ 2, q is out of range or the table is too short
 */
export function subsampledSymmetricRdp(epsilon: ArrayLike<number>, q: number, alpha: number): number {
  if (!Number.isInteger(alpha) || alpha < 2)
    throw new RangeError(`alpha must be an integer >= 2, got ${alpha}`);
  if (!(q >= 0 && q <= 1)) throw new RangeError(`q must be in [0, 1], got ${q}`);
  if (epsilon.length <= alpha) throw new RangeError(`epsilon must have values up to order ${alpha}`);
  if (q === 0) return 0;
  const plain = epsilon[alpha]!;
  if (q === 1) return plain;
  const value = Math.max(0, logBinomialSum(epsilon, q, alpha) / (alpha - 1));
  return Math.min(plain, value);
}

/**
 * The subsampled RDP at any list of orders (each finite and > 1) from integer-order bounds, by
 * {@link subsampledSymmetricRdp} at integer orders and the log-convex interpolation of the module
 * comment in between.
 * @param epsilon unsampled RDP bounds at integer orders 0 … ⌈largest order⌉
 * @throws RangeError if an order is not finite and > 1, or the table is too short
 */
export function subsampledSymmetricCurve(
  epsilon: ArrayLike<number>,
  q: number,
  orders: readonly number[],
): number[] {
  const cache = new Map<number, number>();
  const at = (a: number): number => {
    let value = cache.get(a);
    if (value === undefined) {
      value = subsampledSymmetricRdp(epsilon, q, a);
      cache.set(a, value);
    }
    return value;
  };
  return orders.map((alpha) => {
    if (!(alpha > 1) || !Number.isFinite(alpha))
      throw new RangeError(`orders must be finite and > 1, got ${alpha}`);
    if (Number.isInteger(alpha)) return at(alpha);
    if (alpha < 2) return at(2);
    const a = Math.floor(alpha);
    const lambda = alpha - a;
    const lo = at(a);
    const hi = at(a + 1);
    if (lo === Infinity || hi === Infinity) return Infinity;
    return ((1 - lambda) * (a - 1) * lo + lambda * a * hi) / (alpha - 1);
  });
}
