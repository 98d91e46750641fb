// The control API's RoundOutcome (control-codec.ts): who was lost where, as the JSON line says it —
// the dropped clients and the survivors lost after their masked input, each sorted by client.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoundStatus, Stage } from '../../src/gen/privagg/v1/control.ts';
import { outcomeMessage } from '../../src/server/control-codec.ts';
import type { RoundOutcome } from '../../src/server/coordinator.ts';

const base: RoundOutcome = {
  round: 3,
  status: 'ok',
  survivors: ['ann', 'bob', 'cai', 'dee'],
  dropped: { fay: 'share', eve: 'masked' },
  sums: [Uint32Array.of(1, 2)],
  vectors: [{ name: 'model', length: 2, bits: 8 }],
  timing: { totalMs: 12, stageMs: {}, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } },
};

describe('outcomeMessage', () => {
  it('lists the dropped clients and the survivors lost after their masked input, sorted, with their stages', () => {
    const message = outcomeMessage(
      { ...base, lostAfterMasked: { dee: 'consistency', bob: 'unmask' } },
      false,
    );
    assert.equal(message.status, RoundStatus.ROUND_STATUS_OK);
    assert.deepEqual(message.dropped, [
      { client: 'eve', stage: Stage.STAGE_MASKED },
      { client: 'fay', stage: Stage.STAGE_SHARE },
    ]);
    assert.deepEqual(message.lostAfterMasked, [
      { client: 'bob', stage: Stage.STAGE_UNMASK },
      { client: 'dee', stage: Stage.STAGE_CONSISTENCY },
    ]);
    assert.deepEqual(message.survivors, base.survivors);
  });

  it('sends an empty list when every survivor finished', () => {
    assert.deepEqual(outcomeMessage(base, false).lostAfterMasked, []);
  });
});
