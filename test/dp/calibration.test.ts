// Calibration charges what the ledger will charge (src/dp/round-planner.ts `calibrateNoiseMultiplier`):
// for every mechanism (distributed Skellam, central Gaussian), with and without adaptive clipping
// (whose clip-count query is part of every round's charge — the bug where `privagg serve --dp
// distributed --adaptive-clip-quantile 0.5 --target-epsilon 8` refused its own first round at
// ε 8.113), with and without sampling, for each accountant: the calibrated z runs every planned round
// through a real ledger, with the clip norm moving as adaptive clipping moves it, without a refusal;
// and 0.2% less noise would not fit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planMechanism, privacyPlan } from '../../src/dp/announced.ts';
import { PrivacyLedger } from '../../src/dp/ledger.ts';
import {
  calibrateNoiseMultiplier,
  type NoiseCalibration,
  PrivacyRounds,
  plannedEpsilon,
} from '../../src/dp/round-planner.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'privagg-calibration-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Runs the planned rounds through a ledger; returns how many it took and the ε it ended at. */
function runLedger(c: NoiseCalibration, z: number): { taken: number; epsilon: number; refusal?: string } {
  const planner = new PrivacyRounds(
    {
      mechanism: c.mechanism,
      dimension: c.dimension,
      clip: c.clip,
      noiseMultiplier: z,
      ...(c.adaptive && { adaptive: c.adaptive }),
    },
    new DeterministicRng(`calibration/${files}`),
  );
  const ledger = PrivacyLedger.open(
    join(dir, `ledger-${++files}.db`),
    { delta: c.delta, targetEpsilon: c.targetEpsilon },
    { accountant: c.accountant ?? 'tightest' },
  );
  const shape = { clients: c.clients, threshold: c.threshold, maxCorruptClients: c.maxCorruptClients };
  let taken = 0;
  let refusal: string | undefined;
  try {
    for (let round = 1; round <= c.rounds; round++) {
      const plan = privacyPlan(planner.announce(shape), c.clients);
      try {
        ledger.reserve(round, planMechanism(plan, c.q, ledger.orders));
      } catch (error) {
        refusal = (error as Error).message;
        break;
      }
      ledger.release(round);
      taken++;
      // The clip norm moves as adaptive clipping moves it (unclipped fractions far from 1/2).
      planner.observe({ sum: new Float64Array(0), unclippedFraction: round % 2 === 0 ? 0.95 : 0.05 });
    }
    return { taken, epsilon: ledger.spent().epsilon, ...(refusal !== undefined && { refusal }) };
  } finally {
    ledger.close();
  }
}

const SMALL = { clients: 4, threshold: 3, maxCorruptClients: 0, dimension: 16 } as const;

describe('calibrateNoiseMultiplier', () => {
  const cases: [string, NoiseCalibration][] = [];
  for (const mechanism of ['distributed-skellam', 'central-gaussian'] as const) {
    for (const adaptive of [undefined, { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 1 }]) {
      cases.push([
        `${mechanism}${adaptive ? ', adaptive clipping (σ_b = 1)' : ''}`,
        {
          mechanism,
          targetEpsilon: 8,
          delta: 1e-5,
          rounds: 4,
          q: 1,
          clip: 1,
          ...SMALL,
          ...(adaptive && { adaptive }),
        },
      ]);
    }
  }
  cases.push([
    'distributed-skellam, adaptive, sampled at q = 0.2, RDP alone',
    {
      mechanism: 'distributed-skellam',
      targetEpsilon: 3,
      delta: 1e-5,
      rounds: 6,
      q: 0.2,
      clip: 0.5,
      clients: 12,
      threshold: 9,
      maxCorruptClients: 1,
      dimension: 40,
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 2 },
      accountant: 'rdp',
    },
  ]);

  for (const [name, c] of cases) {
    it(`${name}: every planned round fits the ledger, and 0.2% less noise would not`, () => {
      const z = calibrateNoiseMultiplier(c);
      const run = runLedger(c, z);
      assert.equal(run.taken, c.rounds, `z = ${z}: ${run.refusal}`);
      assert.ok(run.epsilon <= c.targetEpsilon && run.epsilon > c.targetEpsilon * 0.99, `ε ${run.epsilon}`);
      assert.ok(plannedEpsilon(c, z / 1.002) > c.targetEpsilon, 'the calibrated z is not minimal');
    });
  }

  it('the clip count is charged: adaptive clipping needs a different z than without it', () => {
    const [, plain] = cases[0]!;
    const [, adaptive] = cases[1]!;
    const zPlain = calibrateNoiseMultiplier(plain);
    const zAdaptive = calibrateNoiseMultiplier(adaptive);
    // With σ_b = 1 the count is a Skellam of variance 4 — discrete enough to cost more than the
    // Gaussian equivalence the split assumes: the effective z must be larger.
    assert.ok(zAdaptive > zPlain * 1.001, `${zAdaptive} vs ${zPlain}`);
    // The z calibrated without the count, used with it, overspends (the reported bug).
    assert.ok(plannedEpsilon(adaptive, zPlain) > 8);
  });

  it('refuses, naming why, when the clip count alone would spend the budget', () => {
    assert.throws(
      () =>
        calibrateNoiseMultiplier({
          ...cases[1]![1],
          targetEpsilon: 0.5,
          rounds: 50,
        }),
      /no noise multiplier meets ε = 0\.5 .*bitNoiseStddev/,
    );
  });
});
