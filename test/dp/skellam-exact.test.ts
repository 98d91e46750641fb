// The exact RDP of the (Poisson-subsampled) Skellam mechanism (src/dp/skellam-pmf.ts,
// skellam-exact.ts, subsampled-rdp.ts, skellam-rdp.ts), checked against computations written here
// independently of the implementation:
// - the Skellam PMF from its defining series p(k) = e^{−μ}·Σ_j (μ/2)^{2j+k}/(j!(j+k)!);
// - Rényi divergences by brute-force summation over a wide window of that PMF, for one coordinate
//   and for a whole subsampled round (both neighbouring orders: add and remove);
// - never above Agarwal et al.'s Thm 3.5 nor Zhu–Wang's general subsampling bound;
// - the Gaussian limit as the noise variance grows, and the subsampled Gaussian's exact RDP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RdpAccountant } from '../../src/dp/accountant.ts';
import { logAdd } from '../../src/dp/logmath.ts';
import { computeRdp } from '../../src/dp/rdp.ts';
import { skellamCorollaryRdp, skellamQueryRdpTable, skellamShiftRdp } from '../../src/dp/skellam-exact.ts';
import {
  besselRatioLower,
  besselRatioUpper,
  skellamLogTailBound,
  skellamTable,
} from '../../src/dp/skellam-pmf.ts';
import { SkellamRound } from '../../src/dp/skellam-rdp.ts';
import { subsampledSymmetricCurve, subsampledSymmetricRdp } from '../../src/dp/subsampled-rdp.ts';

/** log p(k) of Sk(μ) from the series, in log space (independent of the recurrence). */
function seriesLogPmf(k: number, mu: number): number {
  const a = Math.abs(k);
  let total = -Infinity;
  let logFactJ = 0;
  let logFactJA = 0;
  for (let i = 1; i <= a; i++) logFactJA += Math.log(i);
  for (let j = 0; j < 2000; j++) {
    if (j > 0) {
      logFactJ += Math.log(j);
      logFactJA += Math.log(j + a);
    }
    const term = (2 * j + a) * Math.log(mu / 2) - logFactJ - logFactJA;
    total = logAdd(total, term);
    if (j > mu && term < total - 50) break;
  }
  return total - mu;
}

/** log Σ_x P(x)^α Q(x)^{1−α} over the window, for log-PMFs given as functions. */
function bruteLogMoment(
  logP: (x: number) => number,
  logQ: (x: number) => number,
  alpha: number,
  w: number,
): number {
  let total = -Infinity;
  for (let x = -w; x <= w; x++) total = logAdd(total, alpha * logP(x) + (1 - alpha) * logQ(x));
  return total;
}

describe('Skellam PMF table', () => {
  it('matches the defining series, sums to 1, and its tails are the sums of the PMF', () => {
    for (const mu of [0.3, 4, 37.5, 400]) {
      const t = skellamTable(mu, 60);
      for (const k of [0, 1, 2, 7, 20, 59]) {
        const expected = seriesLogPmf(k, mu);
        assert.ok(
          Math.abs(t.logPmf[k]! - expected) < 1e-12 * Math.max(1, Math.abs(expected)),
          `μ ${mu} k ${k}`,
        );
      }
      let tail = -Infinity;
      for (let k = 200; k > 5; k--) tail = logAdd(tail, seriesLogPmf(k, mu));
      assert.ok(Math.abs(t.logTail[5]! - tail) < 1e-11 * Math.max(1, Math.abs(tail)), `tail μ ${mu}`);
      // P(X > 0) = (1 − p(0))/2.
      assert.ok(Math.abs(Math.exp(t.logTail[0]!) - (1 - Math.exp(t.logPmf[0]!)) / 2) < 1e-14);
    }
  });

  it('keeps full precision next to the mode for a large variance (the Gaussian limit)', () => {
    const mu = 1e9;
    const t = skellamTable(mu, 10);
    // p(0) = 1/√(2πμ)·(1 + 1/(8μ) + …), p(k)/p(0) = e^{−k²/(2μ)}(1 + O(k²/μ²)).
    assert.ok(Math.abs(t.logPmf[0]! + 0.5 * Math.log(2 * Math.PI * mu)) < 1e-9);
    assert.ok(Math.abs(t.logPmf[3]! - t.logPmf[0]! + 9 / (2 * mu)) < 1e-13);
  });

  it('the ratio and tail bounds hold', () => {
    for (const mu of [0.5, 10, 1000]) {
      const t = skellamTable(mu, 200);
      for (const nu of [0, 1, 5, 30, 150]) {
        const rho = Math.exp(t.logPmf[nu + 1]! - t.logPmf[nu]!);
        assert.ok(
          rho >= besselRatioLower(nu, mu) * (1 - 1e-12) && rho <= besselRatioUpper(nu, mu) * (1 + 1e-12),
        );
      }
      for (const x of [1, 10, 60]) assert.ok(t.logTail[x - 1]! <= skellamLogTailBound(x, mu) + 1e-12);
    }
  });
});

describe('exact RDP of one Skellam coordinate', () => {
  it('equals brute-force summation for small μ, and is never above Thm 3.5', () => {
    for (const [mu, k] of [
      [0.5, 1],
      [4, 1],
      [4, 3],
      [30, 2],
    ] as const) {
      const logP = (x: number) => seriesLogPmf(x - k, mu);
      const logQ = (x: number) => seriesLogPmf(x, mu);
      for (const alpha of [2, 3, 6, 17, 40]) {
        const brute = bruteLogMoment(logP, logQ, alpha, 400) / (alpha - 1);
        const got = skellamShiftRdp(mu, k, alpha);
        assert.ok(got >= brute * (1 - 1e-12), `μ ${mu} k ${k} α ${alpha}: ${got} < ${brute}`);
        assert.ok(got <= brute * (1 + 1e-10), `μ ${mu} k ${k} α ${alpha}: ${got} ≫ ${brute}`);
        assert.ok(got <= skellamCorollaryRdp(k * k, k, mu, alpha) * (1 + 1e-12));
      }
    }
  });

  it('the worst vector: S·sup_k f(k)/k², never above Cor. 3.6, and Gaussian-like for large μ', () => {
    const table = skellamQueryRdpTable({ squaredL2Sensitivity: 9, l1Sensitivity: 9, variance: 4 }, 16);
    for (let a = 2; a <= 16; a++) {
      // Every vector with ‖v‖² ≤ 9: e.g. (3), (2, 2, 1), (1 × 9) — each below the table.
      for (const v of [[3], [2, 2, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 1, 1, 1, 1, 1]]) {
        const sum = v.reduce((acc, k) => acc + skellamShiftRdp(4, k, a), 0);
        assert.ok(table[a]! >= sum * (1 - 1e-12), `α ${a} v ${v}`);
      }
      assert.ok(table[a]! <= skellamCorollaryRdp(9, 9, 4, a));
    }
    for (const mu of [1e4, 1e8]) {
      const s = mu / 2.5 ** 2;
      const big = skellamQueryRdpTable({ squaredL2Sensitivity: s, l1Sensitivity: s, variance: mu }, 64);
      for (const a of [2, 8, 64]) {
        const gauss = (a * s) / (2 * mu);
        assert.ok(big[a]! >= gauss * (1 - 1e-3) && big[a]! <= gauss * (1 + 10 / mu), `μ ${mu} α ${a}`);
      }
    }
  });
});

describe('exact RDP of the Poisson-subsampled symmetric mechanism', () => {
  it('add ≤ remove for randomized response (the lemma the exactness rests on)', () => {
    for (const s of [1.01, 1.5, 3, 20, 1e4]) {
      for (const q of [1e-4, 0.01, 0.1, 0.5, 0.9, 0.999]) {
        for (const alpha of [1.05, 1.5, 2, 3.7, 10, 100]) {
          const pi = 1 / (1 + s);
          const x = 1 + q * (s - 1);
          const y = 1 - (q * (s - 1)) / s;
          const remove = logAdd(Math.log(pi) + alpha * Math.log(x), Math.log1p(-pi) + alpha * Math.log(y));
          const add = logAdd(
            Math.log(pi) + (1 - alpha) * Math.log(x),
            Math.log1p(-pi) + (1 - alpha) * Math.log(y),
          );
          assert.ok(add <= remove + 1e-14, `s ${s} q ${q} α ${alpha}`);
        }
      }
    }
  });

  it('given the Gaussian’s unsampled RDP, is the sampled Gaussian’s exact RDP at integer orders', () => {
    const sigma = 1.3;
    const table = Float64Array.from({ length: 65 }, (_, a) => (a < 2 ? 0 : a / (2 * sigma * sigma)));
    for (const q of [0.001, 0.1, 0.6]) {
      const orders = [2, 3, 10, 33, 64];
      const exact = computeRdp({ q, sigma, steps: 1, orders });
      orders.forEach((a, i) => {
        const got = subsampledSymmetricRdp(table, q, a);
        assert.ok(Math.abs(got - exact[i]!) <= 1e-9 * exact[i]!, `q ${q} α ${a}: ${got} vs ${exact[i]}`);
      });
      // Fractional orders: the interpolation is an upper bound, and above 2 not a loose one (below 2
      // it is D_2).
      const fractional = [1.5, 2.5, 7.3, 20.9];
      const curve = subsampledSymmetricCurve(table, q, fractional);
      computeRdp({ q, sigma, steps: 1, orders: fractional }).forEach((e, i) => {
        assert.ok(curve[i]! >= e * (1 - 1e-9), `q ${q} α ${fractional[i]}`);
        if (fractional[i]! > 2)
          assert.ok(curve[i]! <= e * 1.15, `q ${q} α ${fractional[i]}: ${curve[i]} vs ${e}`);
      });
    }
  });

  it('a subsampled Skellam round: brute force (both directions) never exceeds it; Zhu–Wang never below', () => {
    const mu = 3;
    const q = 0.2;
    const round = new SkellamRound([{ squaredL2Sensitivity: 1, l1Sensitivity: 1, variance: mu }], q);
    const orders = [1.5, 2, 3, 4.5, 8, 16];
    const got = round.rdp(orders);
    const zw = round.zhuWangRdp(orders);
    const logQ = (x: number) => seriesLogPmf(x, mu);
    const logM = (x: number) =>
      logAdd(Math.log1p(-q) + seriesLogPmf(x, mu), Math.log(q) + seriesLogPmf(x - 1, mu));
    orders.forEach((a, i) => {
      const remove = bruteLogMoment(logM, logQ, a, 300) / (a - 1);
      const add = bruteLogMoment(logQ, logM, a, 300) / (a - 1);
      assert.ok(add <= remove, `α ${a}`);
      assert.ok(got[i]! >= remove * (1 - 1e-10), `α ${a}: ${got[i]} < brute ${remove}`);
      if (Number.isInteger(a)) assert.ok(got[i]! <= remove * (1 + 1e-9), `α ${a}: not exact`);
      assert.ok(got[i]! <= zw[i]! * (1 + 1e-12), `α ${a}: above Zhu–Wang`);
    });
  });

  it('the privacy benchmark’s point: the subsampled Gaussian’s ε, a third of the Zhu–Wang bound', () => {
    // d = 7,850 padded to 8,192 at 20 bits: Δ₂² and μ as the distributed mechanism sets them for
    // z = 7.415 (q = 0.1, 40 rounds, δ = 1e-5).
    const z = 7.415;
    const s = 1.5e7;
    const round = new SkellamRound(
      [{ squaredL2Sensitivity: s, l1Sensitivity: Math.sqrt(8192 * s), variance: z * z * s }],
      0.1,
    );
    const exact = new RdpAccountant().composeRdp(round, 40).epsilon(1e-5).epsilon;
    const zw = new RdpAccountant().composeRdp({ rdp: (o) => round.zhuWangRdp(o) }, 40).epsilon(1e-5).epsilon;
    const gauss = new RdpAccountant().compose({ q: 0.1, sigma: z }, 40).epsilon(1e-5).epsilon;
    assert.ok(exact >= gauss && exact <= gauss * 1.0005, `${exact} vs Gaussian ${gauss}`);
    assert.ok(zw > 2.9 * exact, `Zhu–Wang ${zw}, exact ${exact}`);
  });
});
