/**
 * Privacy amplification by Poisson subsampling for a mechanism known only through its RDP curve:
 * the general upper bound of Zhu & Wang, "Poisson Subsampled Rényi Differential Privacy" (ICML 2019,
 * Theorem 6). If M is (l, ε(l))-RDP at every integer l ≥ 2, then M applied to a Poisson sample with
 * rate q is, at integer order α ≥ 2, (α, ε'(α))-RDP for
 *
 *   ε'(α) = 1/(α−1) · log[ (1−q)^{α−1}·(1 + (α−1)q) + C(α,2)·q²·(1−q)^{α−2}·e^{ε(2)}
 *                          + 3·Σ_{l=3}^{α} C(α,l)·(1−q)^{α−l}·q^l·e^{(l−1)·ε(l)} ].
 *
 * At α = 2 this is exact for the Gaussian; at larger α it is looser than the Gaussian-specific
 * analysis of ./rdp.ts (Mironov, Talwar, Zhang 2019), which is why the sampled Gaussian keeps its
 * own code. The same bound, min'd with the unsampled ε(α) (also valid: a mixture is never further
 * from a distribution than its farthest component, by the quasi-convexity of Rényi divergence), is
 * what Kairouz et al.'s and Agarwal et al.'s accounting code use for the distributed discrete
 * Gaussian and Skellam mechanisms.
 *
 * Neighbouring relation: add/remove one client, or zero-out (replace one client's contribution by
 * zero, keeping its noise): Zhu & Wang's argument compares the mixture (1−q)·M(D) + q·M(D ∪ {x})
 * with M(D), and under zero-out M(D ∪ {⊥}) plays the role of M(D) with the same ε(l) bounds.
 * @module
 */

/**
 * ε'(α) of the Zhu–Wang bound, at an integer order α ≥ 2 and 0 < q < 1, summed in log space.
 * @param epsilon - the unsampled mechanism's RDP at integer orders: `epsilon[l]` for l = 2..α (may be
 *   +∞); a function of the order is also accepted
 * @param q - the Poisson sampling rate, in (0, 1)
 * @param alpha - an integer ≥ 2
 * @returns the amplified RDP at α (≥ 0, possibly +∞); not min'd with ε(α)
 * @throws RangeError if α is not an integer ≥ 2, q is not in (0, 1) or the table is too short
 */
export function poissonSubsampledRdp(
  epsilon: ArrayLike<number> | ((order: number) => number),
  q: number,
  alpha: number,
): number {
  if (!Number.isInteger(alpha) || alpha < 2)
    throw new RangeError(`alpha must be an integer >= 2, got ${alpha}`);
  if (!(q > 0 && q < 1)) throw new RangeError(`q must be in (0, 1), got ${q}`);
  let table: ArrayLike<number>;
  if (typeof epsilon === 'function') {
    const values = new Float64Array(alpha + 1);
    for (let l = 2; l <= alpha; l++) values[l] = epsilon(l);
    table = values;
  } else {
    if (epsilon.length <= alpha) throw new RangeError(`epsilon must have values up to order ${alpha}`);
    table = epsilon;
  }
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const logInt = logIntegers(alpha);
  const terms = new Float64Array(alpha + 1);
  terms[0] = (alpha - 1) * log1mQ + Math.log1p((alpha - 1) * q);
  let max = terms[0]!;
  // log C(α, l) by the recurrence C(α, l) = C(α, l−1)·(α − l + 1)/l, from C(α, 1) = α; terms[1] is
  // unused (the l = 0 and l = 1 terms of the binomial expansion are folded into terms[0]).
  let logBinom = logInt[alpha]!;
  for (let l = 2; l <= alpha; l++) {
    logBinom += logInt[alpha - l + 1]! - logInt[l]!;
    const term = (l > 2 ? LOG_3 : 0) + logBinom + l * logQ + (alpha - l) * log1mQ + (l - 1) * table[l]!;
    terms[l] = term;
    if (term > max) max = term;
  }
  if (max === Infinity) return Infinity;
  let sum = Math.exp(terms[0]! - max);
  for (let l = 2; l <= alpha; l++) sum += Math.exp(terms[l]! - max);
  return Math.max(0, (max + Math.log(sum)) / (alpha - 1));
}

const LOG_3 = Math.log(3);
let logIntTable = new Float64Array(0);

/** ln k for k = 0..n (entry 0 unused), cached and grown as needed. */
function logIntegers(n: number): Float64Array {
  if (logIntTable.length <= n) {
    const table = new Float64Array(Math.max(n + 1, 2 * logIntTable.length));
    for (let k = 1; k < table.length; k++) table[k] = Math.log(k);
    logIntTable = table;
  }
  return logIntTable;
}
