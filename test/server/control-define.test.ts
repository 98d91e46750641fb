/**
 * The control service's Define request checked at the edge: defaults as `privagg serve` has them, and
 * every bad field refused with INVALID_ARGUMENT and a message that starts with the field's path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  type Aggregation,
  type PrivacyDefinition,
  PrivacyMechanism,
} from '../../src/gen/privagg/v1/control.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { ControlRequestError, checkDefinition } from '../../src/server/control-define.ts';

const base: Aggregation = {
  name: 'fedavg.v1',
  vectors: [
    { name: 'w', length: 10, bits: 32 },
    { name: 'b', length: 2, bits: 20 },
  ],
  cohort: { clients: 10, minClients: 0, checkInWindowMs: 0 },
  stageTimeoutMs: 0,
};

const privacy: PrivacyDefinition = {
  mechanism: PrivacyMechanism.PRIVACY_MECHANISM_DISTRIBUTED_SKELLAM,
  dimension: 100,
  clip: 1,
  noise: { $case: 'calibrateForRounds', value: 10 },
  targetEpsilon: 8,
  delta: 0,
  ledger: 'run-1.ledger',
  adaptiveClipQuantile: 0,
};

function refused(aggregation: Aggregation | undefined): string {
  try {
    checkDefinition(aggregation);
  } catch (error) {
    assert.ok(error instanceof ControlRequestError);
    assert.equal(error.code, status.INVALID_ARGUMENT);
    return error.message;
  }
  throw new Error('accepted');
}

describe('checkDefinition', () => {
  it('fills in the defaults of privagg serve and sorts the vectors by name', () => {
    const d = checkDefinition(base);
    assert.deepEqual(
      { ...d },
      {
        name: 'fedavg.v1',
        clients: 10,
        minClients: 10,
        threshold: 7, // ⌊2·10/3⌋ + 1
        maxCorruptClients: 0,
        graph: { mode: 'complete' },
        vectors: [
          { name: 'b', length: 2, bits: 20 },
          { name: 'w', length: 10, bits: 32 },
        ],
        checkInWindowMs: 30_000,
        stageTimeoutMs: 30_000,
      },
    );
    const capped = checkDefinition({ ...base, cohort: { clients: 10, minClients: 6, checkInWindowMs: 100 } });
    assert.equal(capped.threshold, 6, 'the default threshold is capped at M');
  });

  it('plans a threat-model graph for N and M as serve --graph does', () => {
    const d = checkDefinition({
      ...base,
      cohort: { clients: 500, minClients: 400, checkInWindowMs: 0 },
      graph: { choice: { $case: 'harary', value: { expectedDropout: 0.1, adversarialFraction: 0.05 } } },
    });
    const plan = planGraph({ n: 500, dropoutRate: 0.1, adversarialRate: 0.05, mode: 'harary' });
    assert.equal(d.threshold, plan.threshold);
    assert.equal(d.maxCorruptClients, plan.maxCorruptClients);
    assert.deepEqual(
      d.graphPlans?.map((p) => p.n),
      [500, 400],
    );
  });

  it('takes privacy instead of vectors, with δ defaulting to 1e-5', () => {
    const d = checkDefinition({ ...base, vectors: [], privacy });
    assert.deepEqual(d.privacy, {
      mechanism: 'distributed-skellam',
      dimension: 100,
      clip: 1,
      noise: { kind: 'calibrated', rounds: 10 },
      targetEpsilon: 8,
      delta: 1e-5,
      ledger: 'run-1.ledger',
    });
    assert.deepEqual(d.vectors, []);
  });

  it('names the field of every bad setting', () => {
    const cases: [Aggregation | undefined, string][] = [
      [undefined, 'aggregation: is required'],
      [{ ...base, name: '' }, 'aggregation.name: must be 1..64 characters'],
      [{ ...base, name: '../etc' }, 'aggregation.name: must be 1..64 characters'],
      [{ ...base, cohort: undefined }, 'aggregation.cohort: is required'],
      [
        { ...base, cohort: { clients: 1, minClients: 0, checkInWindowMs: 0 } },
        'aggregation.cohort.clients: must be at least 2',
      ],
      [
        { ...base, cohort: { clients: 70_000, minClients: 0, checkInWindowMs: 0 } },
        'aggregation.cohort.clients: must be at most 65536',
      ],
      [
        { ...base, cohort: { clients: 3000, minClients: 0, checkInWindowMs: 0 } },
        'aggregation.cohort.clients (on the complete graph): must be at most 2048',
      ],
      [
        { ...base, cohort: { clients: 10, minClients: 11, checkInWindowMs: 0 } },
        'aggregation.cohort.min_clients: must be in [2, cohort.clients = 10]',
      ],
      [{ ...base, vectors: [] }, 'aggregation.vectors: must name at least one vector'],
      [
        { ...base, vectors: [{ name: 'w', length: 0, bits: 32 }] },
        'aggregation.vectors[0].length: must be at least 1',
      ],
      [
        { ...base, vectors: [{ name: 'w', length: 1, bits: 0 }] },
        'aggregation.vectors[0].bits: must be in [1, 32], got 0',
      ],
      [
        {
          ...base,
          vectors: [
            { name: 'w', length: 1, bits: 8 },
            { name: 'w', length: 1, bits: 8 },
          ],
        },
        "aggregation.vectors[1].name: 'w' repeats",
      ],
      [
        { ...base, vectors: [{ name: '', length: 1, bits: 8 }] },
        'aggregation.vectors[0].name: must be 1..255 bytes',
      ],
      [{ ...base, graph: {} }, 'aggregation.graph: set one of complete, auto, harary'],
      [
        { ...base, graph: { choice: { $case: 'complete', value: { threshold: 1, maxCorruptClients: 0 } } } },
        'aggregation.graph.complete.threshold: threshold 1 is below the semi-honest minimum 6',
      ],
      [
        { ...base, graph: { choice: { $case: 'complete', value: { threshold: 11, maxCorruptClients: 0 } } } },
        'aggregation.graph.complete.threshold: must be at most the smallest cohort (10)',
      ],
      [
        { ...base, graph: { choice: { $case: 'complete', value: { threshold: 7, maxCorruptClients: 7 } } } },
        'aggregation.graph.complete.threshold: threshold 7 is below the semi-honest minimum 8',
      ],
      [
        // The default threshold capped at M = 5 cannot exceed N/2 = 5: a split view could reach it twice.
        { ...base, cohort: { clients: 10, minClients: 5, checkInWindowMs: 100 } },
        'aggregation.graph.complete.threshold: threshold 5 is below the semi-honest minimum 6',
      ],
      [
        {
          ...base,
          graph: { choice: { $case: 'auto', value: { expectedDropout: 0.1, adversarialFraction: -1 } } },
        },
        'aggregation.graph.auto.adversarial_fraction: must be a number in [0, 1), got -1',
      ],
      [{ ...base, privacy }, 'aggregation.vectors: must be empty with privacy'],
      [
        { ...base, vectors: [], privacy: { ...privacy, mechanism: 0 } },
        'aggregation.privacy.mechanism: must be',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, dimension: 0 } },
        'aggregation.privacy.dimension: must be at least 1',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, clip: Number.NaN } },
        'aggregation.privacy.clip: must be a finite number > 0',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, noise: undefined } },
        'aggregation.privacy.noise: set noise_multiplier',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, noise: { $case: 'noiseMultiplier', value: 0 } } },
        'aggregation.privacy.noise_multiplier: must be a finite number > 0',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, targetEpsilon: 0 } },
        'aggregation.privacy.target_epsilon: must be',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, delta: 1 } },
        'aggregation.privacy.delta: must be a number in (0, 1)',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, ledger: 'a/b' } },
        'aggregation.privacy.ledger: must be 1..64',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, ledger: '.hidden' } },
        'aggregation.privacy.ledger: must be 1..64',
      ],
      [
        { ...base, vectors: [], privacy: { ...privacy, adaptiveClipQuantile: 1.5 } },
        'aggregation.privacy.adaptive_clip_quantile: must be a number in (0, 1)',
      ],
      [
        {
          ...base,
          vectors: [],
          privacy,
          cohort: { clients: 500, minClients: 0, checkInWindowMs: 0 },
          graph: { choice: { $case: 'harary', value: { expectedDropout: 0.1, adversarialFraction: 0.05 } } },
        },
        'aggregation.privacy.mechanism: distributed noise cannot run on a Harary graph yet',
      ],
    ];
    for (const [aggregation, prefix] of cases) {
      const message = refused(aggregation);
      assert.ok(message.startsWith(prefix), `expected '${prefix}…', got '${message}'`);
    }
  });
});
