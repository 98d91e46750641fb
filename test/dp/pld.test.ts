// The PLD accountant (src/dp/pld*.ts, skellam-gdp.ts), checked against:
// - Google dp_accounting's PLD accountant at the reference points of /work/shared/README.md (its ε
//   is itself a pessimistic estimate; ours must agree to a fraction of a percent);
// - the exact (ε, δ) of the composed Gaussian mechanism without sampling (GDP in closed form);
// - brute force: the exact privacy loss of small discrete mechanisms composed by enumeration, both
//   orders of the neighbouring pair, with and without Poisson sampling;
// - the domination of one round (δ of the discretised PLD ≥ the exact δ at every ε, negative too);
// - the Skellam → Gaussian domination lemma, on small variances by brute force.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RdpAccountant } from '../../src/dp/accountant.ts';
import { logAdd } from '../../src/dp/logmath.ts';
import { normalTail } from '../../src/dp/normal.ts';
import { deltaForEpsilon, epsilonForDelta } from '../../src/dp/pld.ts';
import { PldAccountant } from '../../src/dp/pld-accountant.ts';
import { gaussianPld, integerNoisePld, type PldDirection } from '../../src/dp/pld-mechanisms.ts';
import { skellamGaussianDominance, skellamIncrementBound } from '../../src/dp/skellam-gdp.ts';
import { skellamTable } from '../../src/dp/skellam-pmf.ts';

const Phi = (x: number) => normalTail(-x);

/** δ(ε) of μ-GDP: Φ(−ε/μ + μ/2) − e^ε·Φ(−ε/μ − μ/2). */
function gdpDelta(mu: number, epsilon: number): number {
  return Phi(-epsilon / mu + mu / 2) - Math.exp(epsilon) * Phi(-epsilon / mu - mu / 2);
}

/** The smallest ε with gdpDelta ≤ δ, by bisection. */
function gdpEpsilon(mu: number, delta: number): number {
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (gdpDelta(mu, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The exact PLD of a pair of PMFs (maps value → probability) as loss → mass under the first. */
function exactLoss(a: Map<number, number>, b: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [x, pa] of a) {
    if (!(pa > 0)) continue;
    const pb = b.get(x) ?? 0;
    const loss = pb > 0 ? Math.log(pa / pb) : Infinity;
    out.set(loss, (out.get(loss) ?? 0) + pa);
  }
  return out;
}

function composeLoss(a: Map<number, number>, b: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [la, pa] of a) {
    for (const [lb, pb] of b) {
      // Round the sum to 1e-12 so equal losses merge (exact enough for the checks below).
      const l = la + lb === Infinity ? Infinity : Math.round((la + lb) * 1e12) / 1e12;
      out.set(l, (out.get(l) ?? 0) + pa * pb);
    }
  }
  return out;
}

function exactDelta(pld: Map<number, number>, epsilon: number): number {
  let d = 0;
  for (const [l, p] of pld) if (l > epsilon) d += l === Infinity ? p : p * -Math.expm1(epsilon - l);
  return d;
}

/** Skellam PMF of variance μ on [−w, w] (from the table), and the subsampled pair for one order. */
function skellamPair(mu: number, shift: number, q: number, direction: PldDirection, w: number) {
  const t = skellamTable(mu, w + shift + 1);
  const p = (x: number) => Math.exp(t.logPmf[Math.abs(x)]!);
  const Q = new Map<number, number>();
  const M = new Map<number, number>();
  for (let x = -w; x <= w + shift; x++) {
    Q.set(x, p(x));
    M.set(x, (1 - q) * p(x) + q * p(x - shift));
  }
  return direction === 'remove' ? exactLoss(M, Q) : exactLoss(Q, M);
}

describe('PLD accountant: Gaussian', () => {
  it('matches dp_accounting at the README reference points (and beats RDP)', () => {
    const refs: [number, number, number, number][] = [
      [1, 2.49, 15, 7.36],
      [0.1, 0.82, 40, 6.99],
      [0.1, 2.9, 40, 0.905],
      [0.01, 1.1, 1000, 1.515],
      [0.01, 4, 10_000, 0.947],
    ];
    for (const [q, sigma, steps, reference] of refs) {
      const { epsilon } = new PldAccountant().compose({ kind: 'gaussian', sigma, q }, steps).epsilon(1e-5);
      assert.ok(
        epsilon >= reference * 0.998 && epsilon <= reference * 1.005,
        `${q}/${sigma}/${steps}: ${epsilon}`,
      );
      const rdp = new RdpAccountant().compose({ q, sigma }, steps).epsilon(1e-5).epsilon;
      assert.ok(epsilon < rdp * 0.95, `PLD ${epsilon} vs RDP ${rdp}`);
    }
  });

  it('without sampling: never below the exact ε of the composed mechanism, and within 0.2%', () => {
    for (const [sigma, steps] of [
      [1.5, 1],
      [2.49, 15],
      [5, 200],
    ] as const) {
      const exact = gdpEpsilon(Math.sqrt(steps) / sigma, 1e-5);
      const { epsilon } = new PldAccountant().compose({ kind: 'gaussian', sigma, q: 1 }, steps).epsilon(1e-5);
      assert.ok(epsilon >= exact, `σ ${sigma} T ${steps}: ${epsilon} < exact ${exact}`);
      assert.ok(epsilon <= exact * 1.002, `σ ${sigma} T ${steps}: ${epsilon} ≫ exact ${exact}`);
      const delta = new PldAccountant().compose({ kind: 'gaussian', sigma, q: 1 }, steps).delta(exact);
      assert.ok(delta >= 1e-5 * (1 - 1e-6));
    }
  });

  it('one round dominates the mechanism at every ε, negative ones included', () => {
    const sigma = 0.9;
    for (const direction of ['remove', 'add'] as const) {
      const pmf = gaussianPld(sigma, 1, direction, 1e-3);
      for (let e = -3; e <= 4; e += 0.137) {
        // For ε < 0, H_{e^ε}(P‖Q) of the Gaussian pair is still gdpDelta with μ = 1/σ.
        assert.ok(deltaForEpsilon(pmf, e) >= gdpDelta(1 / sigma, e) - 1e-15, `ε ${e}`);
      }
    }
  });
});

describe('PLD accountant: discrete noise, by brute force', () => {
  it('Skellam, with and without sampling, both orders, composed three times', () => {
    for (const [mu, shift, q] of [
      [2, 1, 1],
      [2, 1, 0.3],
      [5, 2, 0.5],
    ] as const) {
      for (const direction of ['remove', 'add'] as const) {
        const one = skellamPair(mu, shift, q, direction, 40);
        const three = composeLoss(composeLoss(one, one), one);
        const pmf = integerNoisePld(
          {
            lowest: -40,
            highest: 40,
            logPmf: (x) => skellamTable(mu, 64).logPmf[Math.abs(x)]!,
            outsideMass: 0,
          },
          shift,
          q,
          direction,
          1e-4,
        );
        // The same rounds through the accountant's own Skellam event.
        const accountant = new PldAccountant().compose({ kind: 'skellam', variance: mu, shift, q }, 3);
        const composed = accountant.composed(direction);
        for (const epsilon of [0, 0.3, 1, 2.5]) {
          const exact = exactDelta(three, epsilon);
          const direct = deltaForEpsilon(composed, epsilon);
          assert.ok(
            direct >= exact * (1 - 1e-9) - 1e-15,
            `μ ${mu} q ${q} ${direction} ε ${epsilon}: ${direct} < ${exact}`,
          );
          assert.ok(
            direct <= exact * 1.01 + 1e-9,
            `μ ${mu} q ${q} ${direction} ε ${epsilon}: ${direct} ≫ ${exact}`,
          );
          assert.ok(deltaForEpsilon(pmf, epsilon) >= exactDelta(one, epsilon) - 1e-15);
        }
        assert.ok(accountant.delta(1) >= exactDelta(three, 1) * (1 - 1e-9));
      }
    }
  });

  it('a PMF given explicitly (a discrete Laplace) is accounted like its exact loss', () => {
    const b = 1.5;
    const pmf: number[] = [];
    let total = 0;
    for (let x = -40; x <= 40; x++) {
      const p = Math.exp(-Math.abs(x) / b);
      pmf.push(p);
      total += p;
    }
    const normalised = pmf.map((p) => p / total);
    // Pure DP: ε = 1/b at δ → 0; a little less at δ = 1e-5 is impossible (losses are exactly ±1/b).
    const { epsilon } = new PldAccountant()
      .compose({ kind: 'discrete', pmf: normalised, offset: -40, shift: 1, q: 1 })
      .epsilon(1e-5);
    assert.ok(epsilon <= 1 / b + 1e-3 && epsilon >= 1 / b - 1e-3, `${epsilon}`);
  });

  it('rejects malformed events, naming the field, and is unchanged', () => {
    const accountant = new PldAccountant();
    const bad: [unknown, RegExp][] = [
      [{ kind: 'gaussian', sigma: 0, q: 1 }, /sigma/],
      [{ kind: 'gaussian', sigma: '1', q: 1 }, /sigma/],
      [{ kind: 'gaussian', sigma: 1, q: 1.5 }, /q/],
      [{ kind: 'gaussian', sigma: 1, q: 1, extra: 1 }, /extra/],
      [{ kind: 'skellam', variance: 1, shift: 0.5, q: 1 }, /shift/],
      [{ kind: 'discrete', pmf: [0.5, 0.4], offset: 0, shift: 1, q: 1 }, /sum to 1/],
      [{ kind: 'laplace' }, /kind/],
    ];
    for (const [event, message] of bad) {
      assert.throws(() => accountant.compose(event as never), { message });
    }
    assert.equal(accountant.events.length, 0);
    assert.deepEqual(accountant.epsilon(1e-5), { epsilon: 0, direction: 'remove' });
  });

  it('a total variation slack adds (1 + e^ε)·T·τ to δ', () => {
    const base = new PldAccountant().compose({ kind: 'gaussian', sigma: 2, q: 1 }, 10);
    const slack = new PldAccountant().compose({ kind: 'gaussian', sigma: 2, q: 1, slack: 1e-7 }, 10);
    const e = 1.5;
    assert.ok(Math.abs(slack.delta(e) - base.delta(e) - (1 + Math.exp(e)) * 1e-6) < 1e-12);
    assert.ok(slack.epsilon(1e-5).epsilon > base.epsilon(1e-5).epsilon);
    assert.equal(epsilonForDelta(slack.composed('remove'), 1e-5, 2e-5), Infinity);
  });
});

describe('Skellam is dominated by a Gaussian', () => {
  it('γ·√μ is above 1 and tends to 1 as μ grows', () => {
    let previous = Infinity;
    for (const mu of [0.5, 4, 50, 1e4]) {
      const r = skellamIncrementBound(mu).relativeToGaussian;
      assert.ok(r > 1 && r < previous, `μ ${mu}: ${r}`);
      previous = r;
    }
    assert.ok(previous < 1 + 3e-5);
  });

  it('brute force: the shift-k pair, and a product of shifted coordinates, below μ_G-GDP', () => {
    for (const mu of [1, 6]) {
      const { gamma } = skellamIncrementBound(mu);
      const w = 80;
      const t = skellamTable(mu, w + 8);
      const pmf = (x: number) => Math.exp(t.logPmf[Math.abs(x)]!);
      const pair = (k: number) => {
        const P = new Map<number, number>();
        const Q = new Map<number, number>();
        for (let x = -w; x <= w + k; x++) {
          P.set(x, pmf(x - k));
          Q.set(x, pmf(x));
        }
        return exactLoss(P, Q);
      };
      const cases: [Map<number, number>, number][] = [
        [pair(1), gamma],
        [pair(3), 3 * gamma],
        [composeLoss(pair(1), pair(2)), gamma * Math.sqrt(5)],
      ];
      for (const [pld, muG] of cases) {
        for (let e = -2; e <= 4; e += 0.05) {
          const exact = exactDelta(pld, e);
          assert.ok(
            exact <= gdpDelta(muG, e) + 1e-12,
            `μ ${mu} μ_G ${muG} ε ${e}: ${exact} > ${gdpDelta(muG, e)}`,
          );
        }
      }
    }
  });

  it('a distributed round: the dominating σ is z up to 1e-5, with a negligible slack', () => {
    const z = 2.5;
    const s = 1e6;
    const { sigma, slack } = skellamGaussianDominance([{ squaredL2Sensitivity: s, variance: z * z * s }])!;
    assert.ok(sigma < z && sigma > z * (1 - 1e-5), `${sigma}`);
    assert.ok(slack > 0 && slack < 1e-40);
    // Beyond the variance γ is computed for, no PLD (RDP alone accounts such rounds).
    assert.equal(skellamGaussianDominance([{ squaredL2Sensitivity: 1, variance: 2 ** 35 }]), undefined);
    // Two queries combine in ℓ2: z⁻² = z₁⁻² + z₂⁻² (up to the discreteness).
    const both = skellamGaussianDominance([
      { squaredL2Sensitivity: s, variance: z * z * s },
      { squaredL2Sensitivity: 1, variance: 100 },
    ])!;
    const expected = (z ** -2 + 0.1 ** 2) ** -0.5;
    assert.ok(both.sigma < expected && both.sigma > expected * 0.998, `${both.sigma} vs ${expected}`);
  });
});

// Keep logAdd referenced for readers comparing with test/dp/skellam-exact.test.ts.
void logAdd;
