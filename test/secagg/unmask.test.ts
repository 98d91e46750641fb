/** The server's reconstruction: which shares it decodes, and what a bad one does. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UnmaskResponseMessage } from '../../src/secagg/messages.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum, rngFor } from './harness.ts';

/** Runs a 5-client round (t = 4) in which `holder` sends 0xff…ff (≥ p) as its share of client 1's seed. */
function roundWithBadShare(holder: ClientId) {
  const params = makeParams();
  const inputs = makeInputs(params);
  const report = simulateRound({
    params,
    inputs,
    rngFor: rngFor('unmask'),
    observe: (from, message) => {
      if (message.type !== 'unmask' || from !== holder) return;
      const share = (message as UnmaskResponseMessage).selfMaskShares.find((s) => s.of === 1)!;
      share.share.fill(0xff);
    },
  });
  return { params, inputs, report };
}

describe('server reconstruction', () => {
  it('sets aside a used share that is not a field element, blames its holder, and still unmasks', () => {
    // The t = 4 lowest-id holders (1…4) are the ones tried first; holder 5's share takes 2's place.
    const { params, inputs, report } = roundWithBadShare(2 as ClientId);
    assert.equal(report.result.status, 'ok');
    if (report.result.status !== 'ok') return;
    assert.deepEqual(report.result.sums, plainSum(params, inputs, params.clients));
    assert.deepEqual([...report.result.badShares], [[2, [1]]]);
  });

  it('ignores a share beyond the t lowest holders: it cannot affect the result', () => {
    const { params, inputs, report } = roundWithBadShare(5 as ClientId);
    assert.equal(report.result.status, 'ok');
    if (report.result.status !== 'ok') return;
    assert.deepEqual(report.result.sums, plainSum(params, inputs, params.clients));
    // Never decoded, so never found out.
    assert.deepEqual([...report.result.badShares], []);
  });
});
