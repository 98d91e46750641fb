/**
 * SecAgg+ rounds on a random Harary graph (PROTOCOL.md §2.2) through the real state machines: masks
 * cancel exactly under dropouts at every stage (fixed cases and fast-check properties), each client
 * masks with its k neighbours only, the survivor floor aborts rounds that lost too many, and the
 * large-cohort simulator agrees with the small one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { maxPrivateDropouts, minimumHararyThreshold } from '../../src/secagg/graph-params.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { graphSeed, type HararyGraph, neighbourGraph } from '../../src/secagg/harary.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { type RoundParams, splitViewMinimum } from '../../src/secagg/params.ts';
import { sessionIdFor } from '../../src/secagg/transcript.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { localServer, simulateLargeRound } from '../../src/sim/large.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum, rngFor } from './harness.ts';

/**
 * A semi-honest round on H(n, k) with n_C corrupt clients, the fcp threshold (at least k/2 + 1, which
 * rules out a split view) and the widest floor.
 */
function hararyParams(n: number, degree: number, corrupt = 0, round = 1): RoundParams {
  const lost = maxPrivateDropouts(n, degree, corrupt, 40);
  const threshold = Math.max(minimumHararyThreshold(n, degree, corrupt, 40), splitViewMinimum(degree + 1));
  return makeParams({
    n,
    round,
    threshold,
    maxCorruptClients: corrupt,
    graph: { kind: 'harary', degree, minSurvivors: Math.max(threshold, n - lost), securityBits: 40 },
  });
}

function assertOk(report: ReturnType<typeof simulateRound>) {
  const { result } = report;
  if (result.status !== 'ok') assert.fail(`round aborted: ${result.error.message}`);
  return result;
}

describe('masks cancel on a Harary graph', () => {
  it('with no dropouts: every client masks with exactly its k neighbours', () => {
    const params = hararyParams(30, 6, 1);
    const inputs = makeInputs(params);
    const sharesTo = new Map<ClientId, number>();
    let sessionId: Uint8Array | undefined;
    const report = simulateRound({
      params,
      inputs,
      rngFor: rngFor('harary-none'),
      observe: (from, message) => {
        if (message.type !== 'shares') return;
        sharesTo.set(from, message.ciphertexts.length);
        if (sessionId) {
          const nb = neighbourGraph(params.graph, params.clients, sessionId).neighbours(from);
          assert.deepEqual(
            message.ciphertexts.map((c) => c.to),
            nb,
          );
        }
      },
      tamper: (_to, message) => {
        if (message.type === 'peer-keys') sessionId = sessionIdFor(params.configHash, message.peers);
        return message;
      },
    });
    const result = assertOk(report);
    assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
    assert.equal(sharesTo.size, 30);
    for (const count of sharesTo.values()) assert.equal(count, 6, 'one share per neighbour, k = 6');
    // The graph the clients used is the one the session id fixes (§2.2): their shares went to N(u).
    const graph = neighbourGraph(params.graph, params.clients, sessionId!) as HararyGraph;
    assert.deepEqual(graph.seed, graphSeed(sessionId!));
    assert.equal(report.clientErrors.size, 0);
  });

  const stages: Stage[] = ['advertise', 'share', 'masked', 'unmask'];
  for (const stage of stages) {
    it(`a client lost at '${stage}': the sum is exactly the survivors' sum`, () => {
      const params = hararyParams(24, 8, 1);
      const inputs = makeInputs(params);
      const lost = params.clients[5]!;
      const result = assertOk(
        simulateRound({
          params,
          inputs,
          rngFor: rngFor(`harary-drop-${stage}`),
          dropouts: new Map([[lost, stage]]),
        }),
      );
      const expected = stage === 'unmask' ? params.clients : params.clients.filter((c) => c !== lost);
      assert.deepEqual(result.survivors, expected);
      assert.deepEqual(result.sums, plainSum(params, inputs, expected));
    });
  }

  it('dropouts at every stage at once, as many as the survivor floor allows', () => {
    const params = hararyParams(60, 12, 2);
    const budget = params.clients.length - params.minSurvivors;
    assert.ok(budget >= 4, `the floor leaves room for 4 losses, got ${budget}`);
    const inputs = makeInputs(params);
    const at: Stage[] = ['advertise', 'share', 'masked', 'unmask'];
    const dropouts = new Map<ClientId, Stage>(at.map((stage, i) => [params.clients[7 * i + 3]!, stage]));
    const result = assertOk(simulateRound({ params, inputs, rngFor: rngFor('harary-all'), dropouts }));
    const inSum = params.clients.filter((c) => {
      const stage = dropouts.get(c);
      return stage === undefined || stage === 'unmask';
    });
    assert.deepEqual(result.survivors, inSum);
    assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
  });

  it('aborts, releasing nothing, when fewer survive than the floor', () => {
    const params = hararyParams(30, 6, 1);
    const lostCount = params.clients.length - params.minSurvivors + 1;
    const dropouts = new Map<ClientId, Stage>(
      params.clients.slice(0, lostCount).map((id) => [id, 'masked'] as const),
    );
    const { result } = simulateRound({
      params,
      inputs: makeInputs(params),
      rngFor: rngFor('harary-floor'),
      dropouts,
    });
    assert.equal(result.status, 'aborted');
    if (result.status === 'aborted') {
      assert.equal(result.error.code, 'too-few-clients');
      assert.match(result.error.message, new RegExp(`needs ${params.minSurvivors} survivors`));
    }
  });
});

describe('fast-check: masks cancel on random Harary graphs under random dropouts', () => {
  const mostlySurvives = fc.oneof(
    { arbitrary: fc.constant<Stage | undefined>(undefined), weight: 3 },
    { arbitrary: fc.constantFrom<Stage | undefined>('advertise', 'share', 'masked', 'unmask'), weight: 1 },
  );

  it('with at most two clients lost, t ≤ k − 2: the round succeeds with the survivors’ exact sum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 40 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom<Stage>('advertise', 'share', 'masked', 'unmask')), {
          maxLength: 2,
        }),
        fc.nat(),
        (n, half, corrupt, losses, label) => {
          const k = Math.min(2 * half, n - 2 - ((n - 2) % 2));
          if (k < 4) return;
          const params = hararyParams(n, k, corrupt, 1 + (label % 1000));
          if (params.threshold > k - 2 || n - params.minSurvivors < 2) return;
          const dropouts = new Map<ClientId, Stage>(losses.map(([i, s]) => [params.clients[i % n]!, s]));
          const inputs = makeInputs(params, `fc-inputs-${label}`);
          const report = simulateRound({ params, inputs, rngFor: rngFor(`fc-${label}`), dropouts });
          const result = assertOk(report);
          const inSum = params.clients.filter((c) => {
            const s = dropouts.get(c);
            return s === undefined || s === 'unmask';
          });
          assert.deepEqual(result.survivors, inSum);
          assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
        },
      ),
      // A fixed seed, as the other property tests here: CI runs the same cases every time.
      { numRuns: 25, seed: 20261207 },
    );
  });

  it('with any dropouts: either the survivors’ exact sum, or an abort that releases nothing', () => {
    let completed = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 36 }),
        fc.integer({ min: 2, max: 4 }),
        // A quarter of the clients lost on average: with t = k/2 + 1 (no split view can reach t twice)
        // on these small degrees, heavier losses would leave almost every round short of shares.
        fc.array(mostlySurvives, { minLength: 36, maxLength: 36 }),
        fc.nat(),
        (n, half, fates, label) => {
          const k = Math.min(2 * half, n - 2 - ((n - 2) % 2));
          const params = hararyParams(n, k, 0, 1 + (label % 1000));
          const dropouts = new Map<ClientId, Stage>();
          params.clients.forEach((id, i) => {
            const stage = fates[i];
            if (stage) dropouts.set(id, stage);
          });
          const inputs = makeInputs(params, `fc-any-${label}`);
          const report = simulateRound({ params, inputs, rngFor: rngFor(`fc-any-${label}`), dropouts });
          const { result } = report;
          if (result.status === 'aborted') {
            assert.ok(['too-few-clients', 'reconstruction-failed'].includes(result.error.code));
            assert.ok(!('sums' in result));
            return;
          }
          completed++;
          assert.ok(result.survivors.length >= params.minSurvivors, 'never below the floor');
          assert.deepEqual(result.sums, plainSum(params, inputs, result.survivors));
          for (const id of result.survivors) {
            const stage = dropouts.get(id);
            assert.ok(stage === undefined || stage === 'unmask', `${id} lost at ${stage} is not in the sum`);
          }
        },
      ),
      // A fixed seed: with a random one, all 30 draws of fates sometimes aborted (CI stop 18's
      // clean-clone run), which the assertion below rightly calls a test that checked no sum.
      { numRuns: 30, seed: 20261208 },
    );
    assert.ok(completed > 0, 'some rounds complete');
  });
});

describe('the large-cohort simulator', () => {
  it('gives the small simulator’s outcome for the same round, randomness and dropouts', async () => {
    const params = hararyParams(40, 8, 1);
    const inputs = makeInputs(params);
    const dropouts = new Map<ClientId, Stage>([
      [params.clients[1]!, 'share'],
      [params.clients[9]!, 'masked'],
      [params.clients[20]!, 'unmask'],
    ]);
    const small = assertOk(simulateRound({ params, inputs, rngFor: rngFor('agree'), dropouts }));
    const large = await simulateLargeRound({
      params,
      input: (id) => inputs.get(id)!.map((v) => v.slice()),
      rngFor: rngFor('agree'),
      dropouts,
      maxBatchBytes: 1, // flush after every masked input
    });
    assert.equal(large.outcome.status, 'ok');
    if (large.outcome.status !== 'ok') return;
    assert.deepEqual(large.outcome.sums, small.sums);
    assert.deepEqual(large.outcome.survivors, small.survivors);
    assert.deepEqual([...large.outcome.dropped], [...small.dropped]);
    assert.equal(large.clientStates['done'], 37, 'every client not lost finished');
  });

  it('runs a planned 1,000-client round at 10% random dropout, asking for each input only when it masks', async () => {
    const n = 1000;
    const plan = planGraph({ n, dropoutRate: 0.1, adversarialRate: 0.05 });
    assert.equal(plan.graph.kind, 'harary');
    const params = makeParams({
      n,
      threshold: plan.threshold,
      maxCorruptClients: plan.maxCorruptClients,
      graph: plan.graph,
      vectors: [{ name: 'v', length: 8, bits: 20 }],
    });
    const stages: Stage[] = ['advertise', 'share', 'masked', 'unmask'];
    const dropouts = new Map<ClientId, Stage>();
    params.clients.forEach((id, i) => {
      // Deterministic "random": a fixed hash of the index picks ~10% of clients and a stage.
      const h = (Math.imul(i + 1, 2654435761) >>> 0) % 1000;
      if (h < 100) dropouts.set(id, stages[h % 4]!);
    });
    let asked = 0;
    let alive = 0;
    let peak = 0;
    const input = (id: ClientId) => {
      asked++;
      alive++;
      peak = Math.max(peak, alive);
      return [Uint32Array.from({ length: 8 }, (_, j) => (id * 31 + j) % 2 ** 20)];
    };
    const server = localServer(params);
    const report = await simulateLargeRound({
      params,
      input,
      rngFor: rngFor('large-1000'),
      dropouts,
      server: {
        start: () => server.start(),
        closeStage: () => server.closeStage(),
        exchange: (events) => {
          alive -= events.filter((e) => e.kind === 'message' && e.message.type === 'masked').length;
          return server.exchange(events);
        },
      },
      maxBatchBytes: 1,
    });
    assert.equal(
      report.outcome.status,
      'ok',
      report.outcome.status === 'aborted' ? report.outcome.reason : '',
    );
    if (report.outcome.status !== 'ok') return;
    const inSum = report.outcome.survivors;
    const expected = new Uint32Array(8);
    for (const id of inSum) for (let j = 0; j < 8; j++) expected[j] = (expected[j]! + id * 31 + j) % 2 ** 20;
    assert.deepEqual(report.outcome.sums[0], expected);
    const lostBeforeMasking = [...dropouts.values()].filter((s) => s !== 'unmask').length;
    assert.equal(inSum.length, n - lostBeforeMasking);
    assert.equal(asked, n - lostBeforeMasking, 'only clients that mask are asked for their input');
    assert.equal(peak, 1, 'at most one plaintext input exists at a time');
    assert.equal(report.clientErrors.size, 0);
  });
});
