/**
 * Protocol behaviour of Bonawitz et al. 2017 through the real state machines: masks cancel exactly,
 * dropouts at every stage, below-threshold aborts, and both settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Stage } from '../../src/secagg/messages.ts';
import { minimumThreshold } from '../../src/secagg/params.ts';
import type { ClientId, ServerModel } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum, rngFor } from './harness.ts';

function assertOk(report: ReturnType<typeof simulateRound>) {
  const { result } = report;
  if (result.status !== 'ok') assert.fail(`round aborted: ${result.error.message}`);
  return result;
}

describe('masks cancel', () => {
  for (const serverModel of ['semi-honest', 'malicious'] as const) {
    it(`with no dropouts (${serverModel})`, () => {
      const params = makeParams({ n: 6, serverModel, threshold: 5 });
      const inputs = makeInputs(params);
      const report = simulateRound({ params, inputs, rngFor: rngFor('no-dropouts') });
      const result = assertOk(report);
      assert.deepEqual(result.survivors, params.clients);
      assert.equal(result.dropped.size, 0);
      assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
      for (const client of report.clients.values()) assert.equal(client.state, 'done');
    });
  }
});

describe('dropouts', () => {
  const stages: Stage[] = ['advertise', 'share', 'masked', 'unmask'];
  for (const serverModel of ['semi-honest', 'malicious'] as const) {
    const modelStages: Stage[] = serverModel === 'malicious' ? [...stages, 'consistency'] : stages;
    for (const stage of modelStages) {
      it(`a client lost at '${stage}' (${serverModel}): the sum is exactly the survivors' sum`, () => {
        const params = makeParams({ n: 7, serverModel, threshold: 5 });
        const inputs = makeInputs(params);
        const lost = params.clients[2]!;
        const report = simulateRound({
          params,
          inputs,
          rngFor: rngFor(`drop-${stage}`),
          dropouts: new Map([[lost, stage]]),
        });
        const result = assertOk(report);
        // A client lost after sending its masked input is still in the sum.
        const inSum = stage === 'unmask' || stage === 'consistency';
        const expected = inSum ? params.clients : params.clients.filter((c) => c !== lost);
        assert.deepEqual(result.survivors, expected);
        assert.deepEqual([...result.dropped], inSum ? [] : [[lost, stage]]);
        assert.deepEqual(result.sums, plainSum(params, inputs, expected));
      });
    }
  }

  it('dropouts at two stages at once, one of them after sharing keys', () => {
    const params = makeParams({ n: 9, threshold: 6 });
    const inputs = makeInputs(params);
    const dropouts = new Map<ClientId, Stage>([
      [params.clients[0]!, 'share'],
      [params.clients[4]!, 'masked'],
      [params.clients[8]!, 'unmask'],
    ]);
    const result = assertOk(simulateRound({ params, inputs, rngFor: rngFor('two-stages'), dropouts }));
    const expected = params.clients.filter((c) => c !== params.clients[0] && c !== params.clients[4]);
    assert.deepEqual(result.survivors, expected);
    assert.equal(result.dropped.get(params.clients[0]!), 'share');
    assert.equal(result.dropped.get(params.clients[4]!), 'masked');
    assert.deepEqual(result.sums, plainSum(params, inputs, expected));
  });
});

describe('below threshold', () => {
  const stages: Stage[] = ['advertise', 'share', 'masked', 'unmask'];
  for (const stage of stages) {
    it(`aborts at '${stage}' when survivors fall below t, and reveals nothing`, () => {
      const params = makeParams({ n: 5, threshold: 4 });
      const inputs = makeInputs(params);
      const dropouts = new Map<ClientId, Stage>([
        [params.clients[0]!, stage],
        [params.clients[1]!, stage],
      ]);
      const unmaskRequests: ClientId[] = [];
      const report = simulateRound({
        params,
        inputs,
        rngFor: rngFor(`abort-${stage}`),
        dropouts,
        tamper: (to, message) => {
          if (message.type === 'unmask-request') unmaskRequests.push(to);
          return message;
        },
      });
      const { result } = report;
      assert.equal(result.status, 'aborted');
      if (result.status !== 'aborted') return;
      assert.equal(result.error.code, 'too-few-clients');
      assert.equal(result.error.stage, stage);
      assert.match(result.error.message, /threshold is 4/);
      // Below threshold before unmasking: no client was ever asked for shares.
      if (stage !== 'unmask') assert.deepEqual(unmaskRequests, []);
      assert.equal(result.dropped.size, params.clients.length);
      // Every client still connected is told why, and ends aborted.
      for (const [id, client] of report.clients) {
        if (dropouts.has(id)) continue;
        assert.equal(client.state, 'aborted');
        assert.match(client.abortReason!, /too-few-clients/);
      }
    });
  }
});

describe('property: the unmasked sum equals the survivors plain sum', () => {
  it('for random n (3..60), lengths, bit widths, thresholds and dropout patterns', () => {
    const dropStages: (Stage | undefined)[] = [undefined, 'advertise', 'share', 'masked', 'unmask'];
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 60 }),
        fc.constantFrom<ServerModel>('semi-honest', 'malicious'),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 32 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (n, serverModel, length, bits, tFraction, dropRate, seed) => {
          const minT = minimumThreshold(n, serverModel, 0);
          const threshold = Math.min(n, minT + Math.floor(tFraction * (n - minT + 1)));
          const params = makeParams({
            n,
            serverModel,
            threshold,
            vectors: [{ name: 'v', length, bits }],
          });
          const inputs = makeInputs(params, `prop/${seed}`);
          const pick = fc.sample(fc.integer({ min: 0, max: 1000 }), { numRuns: n, seed });
          const dropouts = new Map<ClientId, Stage>();
          params.clients.forEach((id, i) => {
            if (pick[i]! / 1000 < dropRate) {
              const stage = dropStages[1 + (pick[i]! % 4)]!;
              dropouts.set(id, stage);
            }
          });
          const report = simulateRound({ params, inputs, rngFor: rngFor(`prop/${seed}`), dropouts });
          const inSum = params.clients.filter((id) => {
            const stage = dropouts.get(id);
            return stage === undefined || stage === 'unmask';
          });
          const unmaskers = params.clients.filter((id) => !dropouts.has(id));
          const stillAtEachStage = [0, 1, 2].map(
            (k) =>
              params.clients.filter((id) => {
                const d = dropouts.get(id);
                return d === undefined || ['advertise', 'share', 'masked', 'unmask'].indexOf(d) > k;
              }).length,
          );
          const feasible = Math.min(...stillAtEachStage, unmaskers.length) >= threshold;
          if (!feasible) {
            assert.equal(report.result.status, 'aborted');
            return;
          }
          const result = assertOk(report);
          assert.deepEqual(result.survivors, inSum);
          assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
        },
      ),
      { numRuns: 40, seed: 20261127 },
    );
  });
});
