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
  it('aborts when a share it uses is not a field element', () => {
    // The t = 4 lowest-id holders (1…4) are the ones used.
    const { report } = roundWithBadShare(2 as ClientId);
    assert.equal(report.result.status, 'aborted');
    if (report.result.status !== 'aborted') return;
    assert.equal(report.result.error.code, 'reconstruction-failed');
    assert.match(report.result.error.message, /client 2 sent a share that is not a field element/);
  });

  it('ignores a share beyond the t lowest holders: it cannot affect the result', () => {
    const { params, inputs, report } = roundWithBadShare(5 as ClientId);
    assert.equal(report.result.status, 'ok');
    if (report.result.status !== 'ok') return;
    assert.deepEqual(report.result.sums, plainSum(params, inputs, params.clients));
  });
});
