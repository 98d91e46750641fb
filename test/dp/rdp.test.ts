// RDP of the Poisson-subsampled Gaussian mechanism (src/dp/rdp.ts; Mironov, Talwar, Zhang 2019),
// checked against values derived independently of the implementation:
// - arbitrary-precision values (test/dp/gen-rdp-vectors.py, mpmath at 40 digits: the exact finite
//   sum for integer orders, adaptive quadrature of A_α = ∫ μ₀ ((1 − q) + q·μ₁/μ₀)^α for fractional
//   ones);
// - the same integral by the trapezoid rule here in the test (exponentially accurate for this smooth,
//   fast-decaying integrand), over random parameters;
// - the closed forms at q = 1 (Gaussian mechanism, α/(2σ²)) and the trivial cases;
// - the integer-order expansion against the fractional-order series at integer orders.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { logAdd } from '../../src/dp/logmath.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { computeRdp, logAFractionalOrder, logAIntegerOrder } from '../../src/dp/rdp.ts';

function close(got: number, expected: number, rel: number, abs = 0): boolean {
  return Math.abs(got - expected) <= rel * Math.abs(expected) + abs;
}

/** RDP at one order by trapezoid-rule integration of A_α in log space (independent of src/dp/rdp.ts). */
function integratedRdp(q: number, sigma: number, alpha: number): number {
  const h = sigma / 100;
  const lo = -14 * sigma;
  const hi = alpha + 14 * sigma; // the q·μ₁-dominated part peaks near z = α
  const n = Math.ceil((hi - lo) / h);
  const logs: number[] = [];
  for (let k = 0; k <= n; k++) {
    const z = lo + k * h;
    const logMu0 = (-z * z) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
    const logMix = logAdd(Math.log1p(-q), Math.log(q) + (2 * z - 1) / (2 * sigma * sigma));
    logs.push(logMu0 + alpha * logMix);
  }
  const max = Math.max(...logs);
  let sum = 0;
  logs.forEach((l, k) => {
    sum += (k === 0 || k === n ? 0.5 : 1) * Math.exp(l - max);
  });
  return (max + Math.log(sum * h)) / (alpha - 1);
}

// [q, sigma, alpha, RDP of one step], from test/dp/gen-rdp-vectors.py (see the header).
const VECTORS: readonly (readonly [number, number, number, number])[] = [
  [256 / 60000, 1.1, 8.1, 9.965972761931117e-5],
  [256 / 60000, 1.1, 1.5, 1.7479784462924327e-5],
  [0.01, 4.0, 1.3, 4.1902148653555134e-6],
  [0.01, 4.0, 10.9, 3.535487555609159e-5],
  [0.1, 1.0, 2.5, 0.023503727261003082],
  [0.3, 2.0, 5.5, 0.08819873360260684],
  [1e-5, 0.8, 3.7, 6.976865810779467e-10],
  [0.5, 1.0, 6.2, 2.2802861273322534],
  [256 / 60000, 1.1, 17, 1.2272635944671608],
  [0.01, 4.0, 256, 3.3767822301989794],
  [0.1, 1.0, 63, 29.160276437764114],
  [0.5, 2.0, 1024, 127.3061752562137],
  [0.001, 0.5, 12, 16.464266968383125],
];

describe('computeRdp', () => {
  it('reproduces arbitrary-precision values at integer and fractional orders', () => {
    for (const [q, sigma, alpha, expected] of VECTORS) {
      const [got] = computeRdp({ q, sigma, steps: 1, orders: [alpha] });
      // The fractional series stops once its terms are below e^{−30} ≈ 1e-13 of A_α (or 1e-9 of
      // log A_α), so log A_α may be high by that much.
      const slack = 1e-13 / (alpha - 1);
      assert.ok(
        got !== undefined && close(got, expected, 1e-9, slack),
        `q=${q} σ=${sigma} α=${alpha}: ${got} vs ${expected}`,
      );
      // The fractional series never undershoots (it stops on a Leibniz upper bound).
      if (!Number.isInteger(alpha)) assert.ok(got >= expected * (1 - 1e-12), `undershoot at α=${alpha}`);
    }
  });

  it('agrees with trapezoid integration of the mixture at fractional orders', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 0.3, noNaN: true }),
        fc.double({ min: 0.7, max: 6, noNaN: true }),
        fc.integer({ min: 1, max: 99 }).filter((x) => x % 10 !== 0),
        (q, sigma, x) => {
          const alpha = 1 + x / 10;
          const [got] = computeRdp({ q, sigma, steps: 1, orders: [alpha] });
          const expected = integratedRdp(q, sigma, alpha);
          return got !== undefined && close(got, expected, 1e-6, 1e-12);
        },
      ),
      { numRuns: 60, seed: 20190828 },
    );
  });

  it('is the Gaussian mechanism’s α/(2σ²)·T at q = 1', () => {
    const rdp = computeRdp({ q: 1, sigma: 1.3, steps: 7, orders: DEFAULT_RDP_ORDERS });
    DEFAULT_RDP_ORDERS.forEach((alpha, k) => {
      assert.ok(close(rdp[k]!, (7 * alpha) / (2 * 1.3 * 1.3), 1e-15));
    });
  });

  it('approaches the Gaussian mechanism as q → 1 from below', () => {
    for (const alpha of [1.5, 2, 4.5, 8]) {
      const [got] = computeRdp({ q: 1 - 1e-9, sigma: 2, steps: 1, orders: [alpha] });
      assert.ok(got !== undefined && close(got, alpha / 8, 1e-6), `α=${alpha}: ${got}`);
    }
  });

  it('handles q = 0, σ = 0 and steps = 0', () => {
    assert.deepEqual(computeRdp({ q: 0, sigma: 0, steps: 5, orders: [2, 3.5] }), [0, 0]);
    assert.deepEqual(computeRdp({ q: 0.1, sigma: 0, steps: 5, orders: [2, 3.5] }), [Infinity, Infinity]);
    assert.deepEqual(computeRdp({ q: 0.1, sigma: 0, steps: 0, orders: [2, 3.5] }), [0, 0]);
  });

  it('composes over steps by multiplication', () => {
    const one = computeRdp({ q: 0.02, sigma: 1.2, steps: 1 });
    const many = computeRdp({ q: 0.02, sigma: 1.2, steps: 1234 });
    one.forEach((r, k) => {
      assert.equal(many[k], 1234 * r);
    });
  });

  it('integer-order expansion equals the fractional-order series at integer orders', () => {
    for (const q of [1e-4, 0.01, 0.2, 0.7]) {
      for (const sigma of [0.6, 1, 3]) {
        for (const alpha of [2, 3, 5, 8, 13, 32]) {
          const a = logAIntegerOrder(q, sigma, alpha);
          const b = logAFractionalOrder(q, sigma, alpha);
          assert.ok(close(b, a, 1e-10, 1e-14), `q=${q} σ=${sigma} α=${alpha}: ${a} vs ${b}`);
        }
      }
    }
  });

  it('is continuous across integer orders (fractional orders just off an integer)', () => {
    for (const alpha of [2, 5, 11]) {
      const [below, at, above] = computeRdp({
        q: 0.05,
        sigma: 1.5,
        steps: 1,
        orders: [alpha - 1e-7, alpha, alpha + 1e-7],
      });
      assert.ok(
        below! <= at! * (1 + 1e-5) && at! <= above! * (1 + 1e-5),
        `α=${alpha}: ${below} ${at} ${above}`,
      );
    }
  });

  it('is non-decreasing in the order (Rényi divergences are)', () => {
    const rdp = computeRdp({ q: 0.01, sigma: 1.1, steps: 1 });
    for (let k = 1; k < rdp.length; k++)
      assert.ok(rdp[k]! >= rdp[k - 1]! * (1 - 1e-9), `at order ${DEFAULT_RDP_ORDERS[k]}`);
  });

  it('rejects bad arguments, naming them', () => {
    assert.throws(() => computeRdp({ q: 1.5, sigma: 1, steps: 1 }), {
      name: 'RangeError',
      message: /^q must be/,
    });
    assert.throws(() => computeRdp({ q: Number.NaN, sigma: 1, steps: 1 }), {
      name: 'RangeError',
      message: /^q /,
    });
    assert.throws(() => computeRdp({ q: '0.5' as unknown as number, sigma: 1, steps: 1 }), {
      name: 'TypeError',
      message: /^q must be a number, got '0.5'/,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: -1, steps: 1 }), {
      name: 'RangeError',
      message: /^sigma /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: Infinity, steps: 1 }), {
      name: 'RangeError',
      message: /^sigma /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: 1, steps: 1.5 }), {
      name: 'RangeError',
      message: /^steps /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: 1, steps: -1 }), {
      name: 'RangeError',
      message: /^steps /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: 1, steps: 1, orders: [] }), {
      name: 'RangeError',
      message: /^orders /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: 1, steps: 1, orders: [2, 1] }), {
      name: 'RangeError',
      message: /^orders\[1\] /,
    });
    assert.throws(() => computeRdp({ q: 0.1, sigma: 1, steps: 1, orders: [Infinity] }), {
      name: 'RangeError',
      message: /^orders\[0\] /,
    });
  });
});

describe('DEFAULT_RDP_ORDERS', () => {
  it('is dp_accounting’s list: 1.1 … 10.9 by 0.1, 11 … 63, 128, 256, 512, 1024', () => {
    assert.equal(DEFAULT_RDP_ORDERS.length, 99 + 53 + 4);
    assert.equal(DEFAULT_RDP_ORDERS[0], 1.1);
    assert.equal(DEFAULT_RDP_ORDERS[98], 10.9);
    assert.equal(DEFAULT_RDP_ORDERS[99], 11);
    assert.equal(DEFAULT_RDP_ORDERS[151], 63);
    assert.deepEqual(DEFAULT_RDP_ORDERS.slice(152), [128, 256, 512, 1024]);
    assert.ok(Object.isFrozen(DEFAULT_RDP_ORDERS));
  });
});
