/**
 * Statistical helpers for the noise tests: the normal CDF, the Kolmogorov–Smirnov test, Pearson's
 * chi-square test against an exact pmf, and sample moments. Tests draw from a seeded
 * DeterministicRng, so every statistic (and pass/fail) is reproducible.
 * @module
 */
import assert from 'node:assert/strict';
import { logErfc } from '../../src/dp/logmath.ts';

/** Φ(x), the standard normal CDF, from erfc: Φ(x) = erfc(−x/√2)/2. */
export function normalCdf(x: number): number {
  return 0.5 * Math.exp(logErfc(-x / Math.SQRT2));
}

/** Sample mean and (unbiased) variance. */
export function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i]!;
  mean /= values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i]! - mean) ** 2;
  return { mean, variance: ss / (values.length - 1) };
}

/**
 * Asserts that the sample mean and variance of `values` match a distribution with the given mean,
 * variance and excess kurtosis to within `z` standard errors (SE of the mean √(v/n), of the variance
 * v·√((2 + κ)/n) to first order).
 */
export function assertMoments(
  values: ArrayLike<number>,
  expected: { mean: number; variance: number; excessKurtosis?: number },
  z = 5,
): void {
  const n = values.length;
  const { mean, variance } = moments(values);
  const seMean = Math.sqrt(expected.variance / n);
  const seVar = expected.variance * Math.sqrt((2 + (expected.excessKurtosis ?? 0)) / n);
  assert.ok(
    Math.abs(mean - expected.mean) <= z * seMean,
    `mean ${mean} vs ${expected.mean} (±${z}·${seMean.toPrecision(3)})`,
  );
  assert.ok(
    Math.abs(variance - expected.variance) <= z * seVar,
    `variance ${variance} vs ${expected.variance} (±${z}·${seVar.toPrecision(3)})`,
  );
}

/**
 * The Kolmogorov–Smirnov statistic D = sup |F_n − F| of a sample against a continuous CDF, and its
 * asymptotic p-value Q_KS((√n + 0.12 + 0.11/√n)·D) (Stephens 1970; Numerical Recipes §14.3).
 */
export function ksTest(values: ArrayLike<number>, cdf: (x: number) => number): { d: number; p: number } {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]!);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  const lambda = (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * d;
  let p = 0;
  for (let k = 1; k <= 100; k++) p += 2 * (-1) ** (k - 1) * Math.exp(-2 * k * k * lambda * lambda);
  return { d, p: Math.min(1, Math.max(0, p)) };
}

/** log Γ(x), Lanczos (g = 7, n = 9), for the chi-square p-value. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0]!;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x)/Γ(a), the regularized upper incomplete gamma (Numerical Recipes §6.2). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let ap = a + 1; Math.abs(del) > Math.abs(sum) * 1e-15; ap++) {
      del *= x / ap;
      sum += del;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/**
 * Pearson's chi-square test of integer samples against an exact pmf. Cells are the integers from the
 * centre outwards; the tails (and any cell) with expected count below 5 are pooled into their
 * neighbours, so every cell expects at least 5.
 * @returns the statistic, degrees of freedom (cells − 1) and p-value
 */
export function chiSquareTest(
  values: ArrayLike<number>,
  pmf: (k: number) => number,
  centre: number,
): { statistic: number; dof: number; p: number } {
  const n = values.length;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
  // Walk outwards from the centre until the remaining mass on each side expects < 5.
  let lo = centre;
  let hi = centre;
  while (n * pmf(lo - 1) >= 5) lo--;
  while (n * pmf(hi + 1) >= 5) hi++;
  // Cells: (−∞, lo], lo+1, …, hi−1, [hi, ∞): the end cells absorb the tails.
  let mass = 0;
  const cells: { expected: number; observed: number }[] = [];
  for (let k = lo; k <= hi; k++) {
    const p = pmf(k);
    mass += p;
    cells.push({ expected: n * p, observed: counts.get(k) ?? 0 });
  }
  let below = 0;
  let above = 0;
  for (const [k, c] of counts) {
    if (k < lo) below += c;
    if (k > hi) above += c;
  }
  // The tail mass not covered by [lo, hi], split by symmetry-free estimate: attribute exactly.
  let lowTail = 0;
  for (let k = lo - 1; ; k--) {
    const p = pmf(k);
    lowTail += p;
    if (p < 1e-16 * Math.max(lowTail, 1e-300) || lo - k > 1e6) break;
  }
  const highTail = Math.max(0, 1 - mass - lowTail);
  cells[0]!.expected += n * lowTail;
  cells[0]!.observed += below;
  cells[cells.length - 1]!.expected += n * highTail;
  cells[cells.length - 1]!.observed += above;
  let statistic = 0;
  for (const { expected, observed } of cells) statistic += (observed - expected) ** 2 / expected;
  const dof = cells.length - 1;
  return { statistic, dof, p: gammaQ(dof / 2, statistic / 2) };
}
