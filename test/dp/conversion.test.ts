// RDP → (ε, δ) conversion (src/dp/conversion.ts): the improved bound of Balle et al. 2020 (Thm 21)
// and the classical one of Mironov 2017 (Prop. 3), checked by hand-computed values and properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deltaFromRdp, epsilonFromRdp } from '../../src/dp/conversion.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { computeRdp } from '../../src/dp/rdp.ts';

describe('epsilonFromRdp', () => {
  it('computes the improved bound r + log(1 − 1/α) − (log δ + log α)/(α − 1)', () => {
    // α = 2, r = 1, δ = 1e-5: 1 + log(1/2) − (log 1e-5 + log 2) = 1 − 2·ln 2 + 5·ln 10.
    const { epsilon, order } = epsilonFromRdp([2], [1], 1e-5);
    assert.ok(Math.abs(epsilon - (1 - 2 * Math.LN2 + 5 * Math.LN10)) < 1e-12);
    assert.equal(order, 2);
  });

  it('computes the classical bound r + log(1/δ)/(α − 1) on request', () => {
    const { epsilon } = epsilonFromRdp([3], [0.5], 1e-6, 'classic');
    assert.ok(Math.abs(epsilon - (0.5 + (6 * Math.LN10) / 2)) < 1e-12);
  });

  it('takes the minimum over orders and reports its order', () => {
    const orders = [2, 4, 8, 16];
    const rdp = orders.map((a) => a * 0.05); // a Gaussian-like curve
    const { epsilon, order } = epsilonFromRdp(orders, rdp, 1e-5);
    const each = orders.map((a, k) => epsilonFromRdp([a], [rdp[k]!], 1e-5).epsilon);
    assert.equal(epsilon, Math.min(...each));
    assert.equal(order, orders[each.indexOf(Math.min(...each))]);
  });

  it('is never above the classical bound', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 0.2, noNaN: true }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 100000 }),
        fc.double({ min: 1e-12, max: 1e-2, noNaN: true }),
        (q, sigma, steps, delta) => {
          const rdp = computeRdp({ q, sigma, steps });
          const improved = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta).epsilon;
          const classic = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta, 'classic').epsilon;
          return improved <= classic;
        },
      ),
      { numRuns: 30, seed: 2004 },
    );
  });

  it('skips infinite RDP values and orders at or below 1.01', () => {
    assert.deepEqual(epsilonFromRdp([1.005, 2, 3], [0.1, Infinity, 2], 1e-5).order, 3);
    assert.deepEqual(epsilonFromRdp([2, 3], [Infinity, Infinity], 1e-5), {
      epsilon: Infinity,
      order: Number.NaN,
    });
  });

  it('gives ε = 0 when δ exceeds the total-variation bound √(1 − e^{−r})', () => {
    // r = 1e-4: √(1 − e^{−r}) ≈ 0.01, so δ = 0.02 is met with ε = 0.
    assert.equal(epsilonFromRdp([2, 8], [1e-4, 4e-4], 0.02).epsilon, 0);
    assert.ok(epsilonFromRdp([2, 8], [1e-4, 4e-4], 0.005).epsilon > 0);
  });

  it('handles δ = 0: ε = 0 only without any privacy loss', () => {
    assert.equal(epsilonFromRdp([2, 8], [0, 0], 0).epsilon, 0);
    assert.equal(epsilonFromRdp([2, 8], [0, 1e-9], 0).epsilon, Infinity);
  });

  it('rejects malformed input, naming the argument', () => {
    assert.throws(() => epsilonFromRdp([2, 3], [1], 1e-5), {
      name: 'RangeError',
      message: /^rdp must have one value per order/,
    });
    assert.throws(() => epsilonFromRdp([2], [-1], 1e-5), { name: 'RangeError', message: /^rdp\[0\]/ });
    assert.throws(() => epsilonFromRdp([2], [Number.NaN], 1e-5), {
      name: 'RangeError',
      message: /^rdp\[0\]/,
    });
    assert.throws(() => epsilonFromRdp([2], [1], 1.5), { name: 'RangeError', message: /^delta must be/ });
    assert.throws(() => epsilonFromRdp([2], [1], -1e-5), { name: 'RangeError', message: /^delta must be/ });
    assert.throws(() => epsilonFromRdp([0.5], [1], 1e-5), { name: 'RangeError', message: /^orders\[0\]/ });
    assert.throws(() => epsilonFromRdp([2], [1], 1e-5, 'loose' as 'classic'), {
      name: 'RangeError',
      message: /^conversion/,
    });
  });
});

describe('deltaFromRdp', () => {
  it('inverts epsilonFromRdp: δ(ε(δ)) ≤ δ and ε(δ(ε)) ≤ ε', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 0.1, noNaN: true }),
        fc.double({ min: 0.6, max: 4, noNaN: true }),
        fc.integer({ min: 10, max: 50000 }),
        fc.double({ min: 1e-10, max: 1e-3, noNaN: true }),
        (q, sigma, steps, delta) => {
          const rdp = computeRdp({ q, sigma, steps });
          const { epsilon } = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta);
          fc.pre(epsilon > 0);
          const back = deltaFromRdp(DEFAULT_RDP_ORDERS, rdp, epsilon).delta;
          const again = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, back).epsilon;
          return back <= delta * (1 + 1e-9) && again <= epsilon * (1 + 1e-9);
        },
      ),
      { numRuns: 30, seed: 1905 },
    );
  });

  it('is 1 with no information and 0 without privacy loss', () => {
    assert.equal(deltaFromRdp([2], [Infinity], 1).delta, 1);
    assert.equal(deltaFromRdp([2], [0], 0).delta, 0);
  });

  it('rejects a negative ε', () => {
    assert.throws(() => deltaFromRdp([2], [1], -0.1), { name: 'RangeError', message: /^epsilon must be/ });
  });
});
