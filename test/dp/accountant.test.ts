// The RDP accountant and σ calibration (src/dp/accountant.ts): published ε values, composition,
// monotonicity properties, and the calibration round trip.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { calibrateSigma, RdpAccountant } from '../../src/dp/accountant.ts';
import { computeRdp } from '../../src/dp/rdp.ts';

/** ε of `steps` SGM steps under the default orders. */
function eps(q: number, sigma: number, steps: number, delta: number): number {
  return new RdpAccountant().compose({ q, sigma }, steps).epsilon(delta).epsilon;
}

describe('published values', () => {
  it('TF Privacy’s MNIST DP-SGD tutorial: q = 256/60000, σ = 1.1, 60 epochs, δ = 1e-5', () => {
    const accountant = new RdpAccountant().compose({ q: 256 / 60000, sigma: 1.1 }, 14063);
    // The published ε ≈ 3.01 was computed with the classical conversion (Mironov 2017, Prop. 3).
    const classic = accountant.epsilon(1e-5, 'classic');
    assert.ok(Math.abs(classic.epsilon - 3.01) <= 0.02, `classic ε = ${classic.epsilon}`);
    // The improved conversion (Balle et al. 2020) gives ≈ 2.597 at order 8.1. The same algorithm
    // re-typed in Python with scipy (dp_accounting's, which sums |C(α, i)| in the fractional series)
    // gives 2.5966555295, at the same order.
    const improved = accountant.epsilon(1e-5);
    assert.ok(Math.abs(improved.epsilon - 2.5966555295) < 1e-6, `improved ε = ${improved.epsilon}`);
    assert.equal(improved.order, 8.1);
  });

  it('q = 0.01, σ = 4.0, 10 000 steps, δ = 1e-5: ε ≈ 1.04 with the improved conversion', () => {
    const { epsilon, order } = new RdpAccountant().compose({ q: 0.01, sigma: 4.0 }, 10000).epsilon(1e-5);
    assert.ok(Math.abs(epsilon - 1.04) <= 0.02, `ε = ${epsilon}`);
    assert.ok(Math.abs(epsilon - 1.035490066) < 1e-8, `ε = ${epsilon}`); // scipy re-implementation
    assert.equal(order, 17);
  });
});

describe('RdpAccountant', () => {
  it('composes heterogeneous steps by adding RDP per order, in any order', () => {
    const a = { q: 0.01, sigma: 1.0 };
    const b = { q: 0.05, sigma: 2.5 };
    const ab = new RdpAccountant().compose(a, 300).compose(b, 40);
    const ba = new RdpAccountant().compose(b, 40).compose(a, 300);
    const ra = computeRdp({ ...a, steps: 300 });
    const rb = computeRdp({ ...b, steps: 40 });
    ab.rdp.forEach((r, k) => {
      assert.equal(r, ra[k]! + rb[k]!);
      assert.equal(ba.rdp[k], r);
    });
    assert.deepEqual(ab.epsilon(1e-6), ba.epsilon(1e-6));
  });

  it('one compose of T steps equals T composes of one step', () => {
    const once = new RdpAccountant([2, 3.5, 16]).compose({ q: 0.02, sigma: 1.3 }, 50);
    const many = new RdpAccountant([2, 3.5, 16]);
    for (let t = 0; t < 50; t++) many.compose({ q: 0.02, sigma: 1.3 });
    once.rdp.forEach((r, k) => {
      assert.ok(Math.abs(r - many.rdp[k]!) <= 1e-12 * r);
    });
  });

  it('starts at ε = 0 and is unchanged by a compose that throws', () => {
    const accountant = new RdpAccountant();
    assert.equal(accountant.epsilon(1e-5).epsilon, 0);
    accountant.compose({ q: 0.01, sigma: 1 }, 100);
    const before = accountant.rdp;
    assert.throws(() => accountant.compose({ q: 2, sigma: 1 }, 10), { name: 'RangeError', message: /^q / });
    assert.throws(() => accountant.compose({ q: 0.1, sigma: 1 }, -3), {
      name: 'RangeError',
      message: /^steps /,
    });
    assert.deepEqual(accountant.rdp, before);
  });

  it('hands out copies of its state', () => {
    const orders = [2, 4];
    const accountant = new RdpAccountant(orders);
    orders[0] = 1.5;
    assert.deepEqual(accountant.orders, [2, 4]);
    accountant.rdp[0] = 99;
    assert.deepEqual(accountant.rdp, [0, 0]);
  });

  it('reports δ for a given ε consistently with ε for a given δ', () => {
    const accountant = new RdpAccountant().compose({ q: 0.01, sigma: 1.1 }, 5000);
    const { epsilon } = accountant.epsilon(1e-6);
    assert.ok(accountant.delta(epsilon).delta <= 1e-6 * (1 + 1e-9));
  });

  it('rejects bad orders', () => {
    assert.throws(() => new RdpAccountant([]), { name: 'RangeError', message: /^orders must not be empty/ });
    assert.throws(() => new RdpAccountant([1]), { name: 'RangeError', message: /^orders\[0\]/ });
  });
});

describe('ε monotonicity', () => {
  // Parameter ranges where every default order converges, so the minimum is over the same orders.
  const q = fc.double({ min: 1e-4, max: 0.05, noNaN: true });
  const sigma = fc.double({ min: 0.6, max: 8, noNaN: true });
  const steps = fc.integer({ min: 1, max: 100000 });
  const delta = fc.double({ min: 1e-10, max: 1e-2, noNaN: true });
  const slack = (x: number): number => x * (1 + 1e-9) + 1e-12; // rounding
  const runs = { numRuns: 25, seed: 42 };

  it('increases with the number of steps', () => {
    fc.assert(
      fc.property(
        q,
        sigma,
        steps,
        steps,
        delta,
        (q, s, t1, t2, d) => eps(q, s, Math.min(t1, t2), d) <= slack(eps(q, s, Math.max(t1, t2), d)),
      ),
      runs,
    );
  });

  it('increases with the sampling probability', () => {
    fc.assert(
      fc.property(
        q,
        q,
        sigma,
        steps,
        delta,
        (q1, q2, s, t, d) => eps(Math.min(q1, q2), s, t, d) <= slack(eps(Math.max(q1, q2), s, t, d)),
      ),
      runs,
    );
  });

  it('decreases with σ', () => {
    fc.assert(
      fc.property(
        q,
        sigma,
        sigma,
        steps,
        delta,
        (q, s1, s2, t, d) => eps(q, Math.max(s1, s2), t, d) <= slack(eps(q, Math.min(s1, s2), t, d)),
      ),
      runs,
    );
  });

  it('decreases with δ', () => {
    fc.assert(
      fc.property(q, sigma, steps, delta, delta, (q, s, t, d1, d2) => {
        const accountant = new RdpAccountant().compose({ q, sigma: s }, t);
        return accountant.epsilon(Math.max(d1, d2)).epsilon <= accountant.epsilon(Math.min(d1, d2)).epsilon;
      }),
      runs,
    );
  });
});

describe('calibrateSigma', () => {
  function roundTrip(targetEpsilon: number, delta: number, q: number, steps: number): void {
    const result = calibrateSigma({ targetEpsilon, delta, q, steps });
    const at = eps(q, result.sigma, steps, delta);
    assert.equal(at, result.epsilon);
    assert.ok(at <= targetEpsilon, `ε(σ*) = ${at} > ${targetEpsilon}`);
    assert.ok(
      eps(q, result.sigma * 0.99, steps, delta) > targetEpsilon,
      `σ* = ${result.sigma} is not minimal`,
    );
  }

  it('finds the smallest σ for the published settings', () => {
    roundTrip(3, 1e-5, 256 / 60000, 14063);
    roundTrip(1, 1e-5, 0.01, 10000);
    roundTrip(8, 1e-5, 0.1, 100); // a federated setting: 100 rounds, 10 % of clients per round
    roundTrip(0.5, 1e-6, 0.001, 1000);
  });

  it('round-trips over random settings', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.2, max: 10, noNaN: true }),
        fc.double({ min: 1e-9, max: 1e-3, noNaN: true }),
        fc.double({ min: 1e-3, max: 0.05, noNaN: true }),
        fc.integer({ min: 1, max: 20000 }),
        (target, delta, q, steps) => {
          roundTrip(target, delta, q, steps);
        },
      ),
      { numRuns: 8, seed: 7 },
    );
  });

  it('meets the requested tolerance', () => {
    const coarse = calibrateSigma({ targetEpsilon: 2, delta: 1e-5, q: 0.02, steps: 1000, tolerance: 1e-2 });
    const fine = calibrateSigma({ targetEpsilon: 2, delta: 1e-5, q: 0.02, steps: 1000, tolerance: 1e-9 });
    assert.ok(fine.sigma <= coarse.sigma && coarse.sigma <= fine.sigma / (1 - 1e-2));
    assert.ok(eps(0.02, fine.sigma * (1 - 1e-8), 1000, 1e-5) > 2);
  });

  it('rejects what cannot be calibrated, naming the argument', () => {
    const base = { targetEpsilon: 1, delta: 1e-5, q: 0.01, steps: 100 };
    assert.throws(() => calibrateSigma({ ...base, targetEpsilon: 0 }), {
      name: 'RangeError',
      message: /^targetEpsilon /,
    });
    assert.throws(() => calibrateSigma({ ...base, delta: 0 }), { name: 'RangeError', message: /^delta / });
    assert.throws(() => calibrateSigma({ ...base, delta: 1 }), { name: 'RangeError', message: /^delta / });
    assert.throws(() => calibrateSigma({ ...base, q: 0 }), { name: 'RangeError', message: /^q / });
    assert.throws(() => calibrateSigma({ ...base, steps: 0 }), { name: 'RangeError', message: /^steps / });
    assert.throws(() => calibrateSigma({ ...base, tolerance: 0 }), {
      name: 'RangeError',
      message: /^tolerance /,
    });
  });
});
