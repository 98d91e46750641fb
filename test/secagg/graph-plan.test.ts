/**
 * Choosing a round's graph from the threat model (src/secagg/graph-plan.ts) and the checks clients
 * run on what is announced (src/secagg/graph-params.ts `checkHararyParameters` and its bounds):
 * the plans for the benchmark's cohorts, that every plan passes the clients' check, the survivor
 * floor, the complete-graph fallback, and the bounds against exact arithmetic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkHararyParameters,
  logBinomialUpperTail,
  logDisconnectionBound,
  logExposureBound,
  maxPrivateDropouts,
  minimumHararyThreshold,
} from '../../src/secagg/graph-params.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { HararyGraph } from '../../src/secagg/harary.ts';
import { roundParams } from '../../src/secagg/params.ts';
import type { ClientId } from '../../src/secagg/types.ts';

function describePlan(n: number, dropoutRate: number): string {
  const p = planGraph({ n, dropoutRate, adversarialRate: 0.05 });
  return p.graph.kind === 'harary'
    ? `${p.graph.degree}/${p.threshold}/${p.minSurvivors}`
    : `complete/${p.threshold}`;
}

describe('planGraph', () => {
  it('γ = 5%: k/t/minSurvivors for the benchmark cohorts at 0, 10 and 30% dropout', () => {
    // fcp's degrees (14/32/58 at n = 500) are raised where independent dropouts at rate δ would
    // break rounds more often than 2^-20: e.g. 34 at n = 500, δ = 10%. And t ≥ k/2 + 1 (no split
    // view can reach t twice), which at δ = 30% takes k past 200: a survivor needs k/2 of its k
    // neighbours to answer. At n = 500 that is past a quarter of the peers, so auto keeps the
    // complete graph.
    assert.deepEqual(
      [0, 0.1, 0.3].map((d) => describePlan(500, d)),
      ['14/13/491', '34/18/360', 'complete/300'],
    );
    assert.deepEqual(
      [0, 0.1, 0.3].map((d) => describePlan(1000, d)),
      ['14/13/993', '36/19/723', '206/104/213'],
    );
    assert.deepEqual(
      [0, 0.1, 0.3].map((d) => describePlan(10_000, d)),
      ['16/15/9934', '42/22/7154', '232/117/2282'],
    );
    for (const n of [500, 1000, 10_000]) {
      for (const d of [0, 0.1, 0.3]) {
        const p = planGraph({ n, dropoutRate: d, adversarialRate: 0.05 });
        if (p.graph.kind === 'harary') assert.ok(2 * p.threshold > p.graph.degree + 1, p.summary);
      }
    }
  });

  it('auto keeps the complete graph for small cohorts, with a threshold that completes rounds', () => {
    assert.equal(describePlan(100, 0.1), 'complete/67');
    const p10 = planGraph({ n: 100, dropoutRate: 0.1, adversarialRate: 0.05 });
    assert.ok(p10.log2FailureBound < -20, p10.summary);
    // At δ = 30% the threshold would have to go below n/2 + 1 for rounds to fail less than 2^-20
    // of the time; it stops there (a split view must not reach t twice), and the plan says so.
    assert.equal(describePlan(100, 0.3), 'complete/51');
    const p = planGraph({ n: 100, dropoutRate: 0.3, adversarialRate: 0.05 });
    assert.ok(p.log2FailureBound > -20 && p.log2FailureBound < -15, p.summary);
    assert.match(p.summary, /above the 2\^-20 target/);
    assert.match(p.summary, /no degree below n - 1 completes rounds reliably enough/);
    assert.match(
      planGraph({ n: 500, dropoutRate: 0.3, adversarialRate: 0.05 }).summary,
      /the Harary degree \d+ would exceed a quarter of the other 499 clients/,
    );
    assert.equal(planGraph({ n: 150, dropoutRate: 0.1, adversarialRate: 0.05 }).graph.kind, 'harary');
  });

  it('harary mode forces the sparse graph, or refuses', () => {
    assert.equal(
      planGraph({ n: 100, dropoutRate: 0.1, adversarialRate: 0.05, mode: 'harary' }).graph.kind,
      'harary',
    );
    assert.throws(
      () => planGraph({ n: 3, dropoutRate: 0, adversarialRate: 0, mode: 'harary' }),
      /no Harary graph/,
    );
    assert.throws(
      () =>
        planGraph({
          n: 500,
          dropoutRate: 0.1,
          adversarialRate: 0.05,
          mode: 'harary',
          serverModel: 'malicious',
        }),
      /semi-honest setting only/,
    );
    const malicious = planGraph({
      n: 500,
      dropoutRate: 0.1,
      adversarialRate: 0.05,
      serverModel: 'malicious',
    });
    assert.equal(malicious.graph.kind, 'complete');
    assert.ok(2 * malicious.threshold > 500 + malicious.maxCorruptClients);
  });

  it('every plan passes the clients’ own check and promises < 2^-40 and < 2^-20', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 3000 }),
        fc.double({ min: 0, max: 0.35, noNaN: true }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        (n, dropoutRate, adversarialRate) => {
          let plan: ReturnType<typeof planGraph>;
          try {
            plan = planGraph({ n, dropoutRate, adversarialRate });
          } catch (error) {
            assert.match(String(error), /no secure parameters|at most 0\.9/);
            return;
          }
          const params = roundParams({
            round: 1,
            serverModel: 'semi-honest',
            threshold: plan.threshold,
            maxCorruptClients: plan.maxCorruptClients,
            clients: Array.from({ length: n }, (_, i) => i + 1),
            vectors: [{ name: 'v', length: 1, bits: 8 }],
            graph: plan.graph,
          });
          assert.equal(params.minSurvivors, plan.minSurvivors);
          assert.equal(plan.maxCorruptClients, Math.floor(adversarialRate * n + 1e-9));
          if (plan.graph.kind === 'harary') {
            assert.ok(plan.log2BreachBound < -40, plan.summary);
            assert.ok(plan.log2FailureBound < -20, plan.summary);
            assert.ok(plan.graph.degree <= (n - 1) / 4, 'auto: at most a quarter of the peers');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('its promised failure rate holds on real graphs: no client short of shares in 3,000 sampled rounds', () => {
    // Without cryptography: sample the ring and independent 10% dropouts, and check the conditions
    // under which the unmask stage can rebuild every secret (graph-plan.ts module comment).
    const n = 500;
    const plan = planGraph({ n, dropoutRate: 0.1, adversarialRate: 0.05 });
    assert.equal(plan.graph.kind, 'harary');
    if (plan.graph.kind !== 'harary') return;
    const clients = Array.from({ length: n }, (_, i) => (i + 1) as ClientId);
    let state = 0x9e3779b9;
    const random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    let failures = 0;
    for (let r = 0; r < 3000; r++) {
      const seed = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
      const graph = new HararyGraph(clients, plan.graph.degree, seed);
      const lost = new Set(clients.filter(() => random() < 0.1));
      if (n - lost.size < plan.minSurvivors) {
        failures++;
        continue;
      }
      for (const u of clients) {
        const surviving = graph.neighbours(u).filter((v) => !lost.has(v)).length;
        if (surviving < (lost.has(u) ? plan.threshold : plan.threshold - 1)) {
          failures++;
          break;
        }
      }
    }
    assert.equal(failures, 0);
  });
});

describe('the bounds clients check', () => {
  /** ln C(a, b) exactly enough, from BigInt factorial ratios (small a only). */
  function exactProbability(numerator: bigint, denominator: bigint): number {
    return Number((numerator * 10n ** 30n) / denominator) / 1e30;
  }
  const choose = (a: number, b: number): bigint => {
    if (b < 0 || b > a) return 0n;
    let r = 1n;
    for (let i = 1; i <= b; i++) r = (r * BigInt(a - b + i)) / BigInt(i);
    return r;
  };

  it('logExposureBound is n · P[X ≥ t] for the hypergeometric X, exactly', () => {
    for (const [n, k, a, t] of [
      [40, 8, 6, 3],
      [60, 12, 10, 5],
      [100, 16, 5, 4],
    ] as const) {
      let num = 0n;
      for (let x = t; x <= Math.min(k, a); x++) num += choose(a, x) * choose(n - a, k - x);
      const p = exactProbability(num, choose(n, k));
      const bound = Math.exp(logExposureBound(n, k, a, t));
      assert.ok(Math.abs(bound - n * p) <= 1e-9 * n * p, `n=${n} k=${k} A=${a} t=${t}: ${bound} vs ${n * p}`);
    }
  });

  it('logDisconnectionBound is n(n − k − 1)/2 · C(B, k)/C(n, k), and −∞ when k > B', () => {
    for (const [n, k, b] of [
      [40, 6, 12],
      [100, 10, 30],
    ] as const) {
      const exact = ((n * (n - k - 1)) / 2) * exactProbability(choose(b, k), choose(n, k));
      const bound = Math.exp(logDisconnectionBound(n, k, b));
      assert.ok(Math.abs(bound - exact) <= 1e-9 * exact, `n=${n} k=${k} B=${b}`);
    }
    assert.equal(logDisconnectionBound(40, 8, 7), -Infinity);
    assert.equal(logDisconnectionBound(40, 39, 39), -Infinity);
  });

  it('maxPrivateDropouts is the last D that passes, and checkHararyParameters agrees', () => {
    for (const [n, k, a] of [
      [500, 34, 25],
      [1000, 36, 50],
      [60, 12, 2],
    ] as const) {
      const d = maxPrivateDropouts(n, k, a, 40);
      const t = minimumHararyThreshold(n, k, a, 40);
      const at = (minSurvivors: number) =>
        checkHararyParameters({
          n,
          degree: k,
          threshold: t,
          corruptClients: a,
          minSurvivors,
          securityBits: 40,
        });
      assert.equal(at(n - d).ok, true);
      const below = at(n - d - 1);
      assert.equal(below.ok, false);
      assert.equal(!below.ok && below.problem, 'disconnection');
    }
    assert.equal(maxPrivateDropouts(500, 6, 25, 40), -1, 'k = 6 cannot hide 25 corrupt clients');
  });

  it('logBinomialUpperTail matches a direct sum', () => {
    for (const [n, p, s] of [
      [50, 0.1, 10],
      [500, 0.1, 70],
      [34, 0.1, 16],
    ] as const) {
      let direct = 0;
      for (let x = s + 1; x <= n; x++) direct += Number(choose(n, x)) * p ** x * (1 - p) ** (n - x);
      const got = Math.exp(logBinomialUpperTail(n, p, s));
      assert.ok(Math.abs(got - direct) <= 1e-9 * direct, `n=${n} p=${p} s=${s}: ${got} vs ${direct}`);
    }
    assert.equal(logBinomialUpperTail(10, 0.5, -1), 0);
    assert.equal(logBinomialUpperTail(10, 0.5, 10), -Infinity);
    assert.equal(logBinomialUpperTail(10, 0, 3), -Infinity);
  });
});
