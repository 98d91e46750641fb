/**
 * The symmetric Skellam distribution Sk(μ) of variance μ — the difference of two independent
 * Poisson(μ/2) variables, the noise of the distributed mechanism (./distributed.ts) — tabulated in
 * log space for the exact accountants (./skellam-exact.ts, ./skellam-gdp.ts, ./pld-mechanisms.ts).
 *
 * p(k) = e^{−μ}·I_{|k|}(μ), with I the modified Bessel function. The table is built from the ratios
 * ρ(ν) = I_{ν+1}(μ)/I_ν(μ) by Miller's backward recurrence: the three-term recurrence
 * I_{ν−1} = (2ν/μ)·I_ν + I_{ν+1} gives ρ(ν−1) = 1/(2ν/μ + ρ(ν)), which is stable downwards because
 * I_ν is the recurrence's minimal solution (each step multiplies an error in ρ by ρ(ν−1)² < 1). It
 * starts far enough above the table (12·√μ + 30 indices) that the starting guess — the midpoint of
 * Amos's bounds (below) — is forgotten to far below double precision, and it carries 1 − ρ beside ρ
 * so that log ρ keeps its precision where ρ is close to 1 (ν ≪ μ). Then
 * log p(k) = log p(0) + Σ_{j<k} log ρ(j), and p(0) comes from the normalisation Σ_k p(k) = 1.
 *
 * Bounds used for the tails beyond a table (Amos, "Computation of modified Bessel functions and their
 * ratios", Math. Comp. 1974; Segura, J. Math. Anal. Appl. 2011, Thm 1), for ν ≥ 0:
 *
 *   μ/(ν + 1 + √((ν+1)² + μ²)) ≤ ρ(ν) ≤ μ/(ν + ½ + √((ν+½)² + μ²)),
 *
 * and Chernoff's bound P(X ≥ x) ≤ e^{−I(x)} with the Skellam rate function
 * I(x) = x·asinh(x/μ) − μ(√(1 + (x/μ)²) − 1), from E[e^{tX}] = e^{μ(cosh t − 1)}.
 * @module
 */
import { logAdd } from './logmath.ts';

/** Amos's lower bound on ρ(ν) = I_{ν+1}(μ)/I_ν(μ), ν ≥ 0. */
export function besselRatioLower(nu: number, mu: number): number {
  return mu / (nu + 1 + Math.hypot(nu + 1, mu));
}

/** Amos's upper bound on ρ(ν) = I_{ν+1}(μ)/I_ν(μ), ν ≥ 0. */
export function besselRatioUpper(nu: number, mu: number): number {
  return mu / (nu + 0.5 + Math.hypot(nu + 0.5, mu));
}

/**
 * Chernoff's bound on log P(X ≥ x) for X ~ Sk(μ) and x ≥ 0: −I(x) (see the module comment), written
 * so that nothing cancels badly when x ≪ μ (there I(x) ≈ x²/(2μ)).
 */
export function skellamLogTailBound(x: number, mu: number): number {
  if (x <= 0) return 0;
  const r = x / mu;
  const root = Math.sqrt(1 + r * r);
  return -(x * Math.asinh(r) - (mu * r * r) / (root + 1));
}

/** A tabulated Sk(μ): index k is the value k ≥ 0 (the distribution is symmetric). */
export interface SkellamTable {
  /** μ, the variance. */
  readonly variance: number;
  /** log p(k) for k = 0 … length − 1. */
  readonly logPmf: Float64Array;
  /**
   * log P(X > k) for k = 0 … length − 1, up to rounding; each sum includes, for the mass beyond the
   * recurrence's range, the geometric series of Amos's upper ratio (an upper bound, below 10⁻⁶⁰ of
   * the total).
   */
  readonly logTail: Float64Array;
}

const tables = new Map<string, SkellamTable>();

/**
 * The log-PMF and log-tail of Sk(μ) for values 0 … at least `minLength` − 1. Cached per (μ, length):
 * the accountants ask for the same table many times.
 * @param variance μ > 0, finite
 * @param minLength how many values are needed, ≥ 1
 * @throws RangeError on a bad argument
 */
export function skellamTable(variance: number, minLength: number): SkellamTable {
  if (!(variance > 0) || !Number.isFinite(variance))
    throw new RangeError(`variance must be a finite number > 0, got ${variance}`);
  if (!Number.isSafeInteger(minLength) || minLength < 1)
    throw new RangeError(`minLength must be an integer >= 1, got ${minLength}`);
  // Round the length up (to 1/16 of its magnitude) so that nearby requests share a table.
  const grain = 2 ** Math.max(4, Math.floor(Math.log2(minLength)) - 4);
  const length = Math.ceil(minLength / grain) * grain;
  const key = `${variance}/${length}`;
  const cached = tables.get(key);
  if (cached) return cached;
  const table = buildTable(variance, length);
  if (tables.size > 64) tables.clear();
  tables.set(key, table);
  return table;
}

function buildTable(mu: number, length: number): SkellamTable {
  // Work to `top`, far enough above the table that the recurrence's start is forgotten and the mass
  // beyond it is negligible against double precision.
  const top = length + Math.ceil(12 * Math.sqrt(mu)) + 30;
  const logRatio = new Float64Array(top); // log ρ(ν), ν = 0 … top − 1
  let rho = (besselRatioLower(top, mu) + besselRatioUpper(top, mu)) / 2;
  let tau = 1 - rho;
  const rhoTop = rho;
  for (let nu = top; nu >= 1; nu--) {
    // ρ(ν−1) = 1/(a + ρ(ν)), 1 − ρ(ν−1) = (a − (1 − ρ(ν)))/(a + ρ(ν)) with a = 2ν/μ.
    const a = (2 * nu) / mu;
    const denominator = a + rho;
    rho = 1 / denominator;
    tau = (a - tau) / denominator;
    logRatio[nu - 1] = rho < 0.5 ? Math.log(rho) : Math.log1p(-tau);
  }
  // Unnormalised log weights w(k) = log(p(k)/p(0)) for k = 0 … top.
  const logWeight = new Float64Array(top + 1);
  for (let k = 1; k <= top; k++) logWeight[k] = logWeight[k - 1]! + logRatio[k - 1]!;
  // Beyond `top`, ρ ≤ ρ(top) ≤ its upper bound, so the rest is at most a geometric series.
  const rhoUp = Math.max(rhoTop, besselRatioUpper(top, mu));
  const logBeyond = logWeight[top]! + Math.log(rhoUp) - Math.log1p(-rhoUp);
  // log Σ_{k ≥ 1} w(k), summed from the top (small terms first).
  let logRest = logBeyond;
  const logTailWeight = new Float64Array(top + 1); // log Σ_{j > k} w(j)
  logTailWeight[top] = logBeyond;
  for (let k = top; k >= 1; k--) {
    logRest = logAdd(logRest, logWeight[k]!);
    logTailWeight[k - 1] = logRest;
  }
  // Σ_k p(k) = p(0)·(1 + 2·Σ_{k≥1} w(k)) = 1.
  const logP0 = -Math.log1p(2 * Math.exp(logTailWeight[0]!));
  const logPmf = new Float64Array(length);
  const logTail = new Float64Array(length);
  for (let k = 0; k < length; k++) {
    logPmf[k] = logP0 + logWeight[k]!;
    logTail[k] = logP0 + logTailWeight[k]!;
  }
  return Object.freeze({ variance: mu, logPmf, logTail });
}
