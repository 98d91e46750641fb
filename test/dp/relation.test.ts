// The neighbouring relation of the distributed mechanism (src/dp/distributed.ts): what the ledger
// accounts (zero-out: one client's update replaced by zero, its noise share kept) is exactly the pair
// the released sums form; and why add/remove — the client and its share of noise both gone — cannot
// be accounted as the same shift with h − 1 shares: the missing share alone is visible in the noise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logAdd } from '../../src/dp/logmath.ts';
import { skellamShiftRdp } from '../../src/dp/skellam-exact.ts';
import { skellamTable } from '../../src/dp/skellam-pmf.ts';

/** The PMF of the sum of `count` independent Sk(v) shares on [−w, w], by direct convolution. */
function sumOfShares(v: number, count: number, w: number): Float64Array {
  const t = skellamTable(v, w + 1);
  const one = new Float64Array(2 * w + 1);
  for (let x = -w; x <= w; x++) one[x + w] = Math.exp(t.logPmf[Math.abs(x)]!);
  let acc = one;
  for (let c = 1; c < count; c++) {
    const next = new Float64Array(2 * w + 1);
    for (let i = 0; i < acc.length; i++) {
      for (let j = 0; j < one.length; j++) {
        const k = i + j - w;
        if (k >= 0 && k < next.length) next[k] = next[k]! + acc[i]! * one[j]!;
      }
    }
    acc = next;
  }
  return acc;
}

/** D_α(X + k ‖ X) by summation, X given by its PMF on [−w, w]. */
function shiftDivergence(pmf: Float64Array, k: number, alpha: number): number {
  const w = (pmf.length - 1) / 2;
  let total = -Infinity;
  for (let x = -w + k; x <= w; x++) {
    const p = pmf[x - k + w]!;
    const q = pmf[x + w]!;
    if (p > 0 && q > 0) total = logAdd(total, alpha * Math.log(p) + (1 - alpha) * Math.log(q));
  }
  return total / (alpha - 1);
}

/** D_α(N(m, s1) ‖ N(0, s0)) per coordinate (variances s1, s0), in closed form. */
function gaussianRenyi(m: number, s1: number, s0: number, alpha: number): number {
  const sa = alpha * s0 + (1 - alpha) * s1;
  if (!(sa > 0)) return Infinity;
  return 0.5 * Math.log(s0 / s1) + Math.log(s0 / sa) / (2 * (alpha - 1)) + (alpha * m * m) / (2 * sa);
}

describe('the neighbouring relation of distributed DP', () => {
  it('zero-out: h honest shares plus the update form exactly the shift pair the ledger charges', () => {
    // h = 3 clients each adding Sk(1.5): the sum is Sk(4.5) (Skellam is closed under sums), and the
    // pair (sum + k, sum) is the one skellamShiftRdp accounts, to the last digits.
    const shares = sumOfShares(1.5, 3, 90);
    const t = skellamTable(4.5, 91);
    for (let x = -40; x <= 40; x++) {
      const direct = Math.exp(t.logPmf[Math.abs(x)]!);
      assert.ok(Math.abs(shares[x + 90]! - direct) < 1e-15 + 1e-12 * direct, `x ${x}`);
    }
    for (const k of [1, 2]) {
      for (const alpha of [2, 5, 12]) {
        const brute = shiftDivergence(shares, k, alpha);
        const charged = skellamShiftRdp(4.5, k, alpha);
        assert.ok(charged >= brute * (1 - 1e-9) && charged <= brute * (1 + 1e-9), `k ${k} α ${alpha}`);
      }
    }
  });

  it('add/remove is not the shift pair with h − 1 shares: the missing share is visible', () => {
    // The privacy benchmark's scale: n = 8,192 coordinates, h = 67, z = 2.68, Δ = 1, Gaussian shares.
    const n = 8192;
    const h = 67;
    const z = 2.68;
    const share = (z * z) / h; // each client's variance, so that h shares give z²Δ²
    for (const alpha of [2, 8]) {
      // What accounting the removal as a shift with the h − 1 remaining shares would charge.
      const shiftOnly = gaussianRenyi(1, (h - 1) * share, (h - 1) * share, alpha);
      // The real pair: with the client, its update and h shares; without it, h − 1 shares. The shift
      // sits in one coordinate, the variance differs in all n.
      const real =
        gaussianRenyi(1, h * share, (h - 1) * share, alpha) +
        (n - 1) * gaussianRenyi(0, h * share, (h - 1) * share, alpha);
      assert.ok(real > 5 * shiftOnly, `α ${alpha}: ${real} vs ${shiftOnly}`);
    }
    // With few coordinates the difference would be small: it is the dimension that exposes the share.
    const small = gaussianRenyi(1, h * share, (h - 1) * share, 2);
    assert.ok(small < 1.1 * gaussianRenyi(1, (h - 1) * share, (h - 1) * share, 2));
  });
});
