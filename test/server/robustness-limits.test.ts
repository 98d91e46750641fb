/**
 * The coordinator's limits over loopback gRPC: the per-stage frame limit, and the masked-input upload
 * slots (`maxConcurrentUploads`) when an uploader disconnects, misbehaves or stalls mid-upload. With
 * one slot, every other uploader waits paused in the queue, so a slot that is not released stalls the
 * whole stage until its deadline; these tests set that deadline beyond their own time limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkInToFrame } from '../../src/wire/convert.ts';
import {
  callOf,
  codeName,
  content,
  coordinatorsForThisFile,
  frameOf,
  inputsFor,
  latch,
  plainSums,
  playRound,
  RawStream,
  ScriptedParticipant,
  until,
} from './robustness-harness.ts';

const start = coordinatorsForThisFile();

describe('the per-stage frame limit', () => {
  it(
    'cuts off a client that floods a stage with RESOURCE_EXHAUSTED; the round goes on',
    { timeout: 15_000 },
    async () => {
      // 1000 elements of 20 bits pack into 2500 bytes: 5 chunks of 512 bytes, or 157 of 16.
      const tc = await start({ cohortSize: 5, minClients: 5, maxFramesPerStage: 8 });
      const honest = ['honest-0', 'honest-1', 'honest-2', 'honest-3'];
      const flooder = new ScriptedParticipant(tc.address, {
        name: 'flooder',
        input: inputsFor('flooder'),
        maxChunkBytes: 16,
      });
      const played = await playRound(tc, honest, [flooder], { maxChunkBytes: 512 });
      const { status } = played.scripted.get('flooder')!;
      assert.equal(codeName(status), 'RESOURCE_EXHAUSTED', status.details);
      assert.match(status.details, /more than 8 frames in stage 'masked'/);
      assert.equal(played.outcome.status, 'ok', played.outcome.reason);
      assert.deepEqual(played.outcome.survivors, honest);
      assert.deepEqual(played.outcome.dropped, { flooder: 'masked' });
      assert.deepEqual(played.outcome.sums, plainSums(honest, played.outcome.vectors));
    },
  );
});

describe('upload slots', () => {
  /**
   * Four scripted clients and one upload slot: `a-first` takes the slot with the first chunks of its
   * input and then does `misbehave`; the other three upload only once the server holds those chunks,
   * so they queue behind it. Returns the round once it has ended.
   */
  async function slotRound(misbehave: (stream: RawStream) => Promise<void> | void, chunksBefore = 3) {
    const tc = await start({
      cohortSize: 4,
      minClients: 4,
      maxConcurrentUploads: 1,
      // Longer than the test's own limit: a leaked slot fails the test instead of timing out a stage.
      timeouts: { advertise: 60_000, share: 60_000, masked: 60_000, unmask: 60_000 },
    });
    const others = ['b-queued', 'c-queued', 'd-queued'];
    const firstIn = latch();
    const first = new ScriptedParticipant(tc.address, {
      name: 'a-first',
      input: inputsFor('a-first'),
      maxChunkBytes: 64,
      tamper: {
        masked: async (frames, { stream }) => {
          for (const frame of frames.slice(0, chunksBefore)) await stream.sendFrame(frame);
          // The server has taken these chunks, so a-first holds the only slot.
          await until(() => (callOf(tc, 'a-first')?.frames ?? 0) >= 3 + chunksBefore, 'the first chunks');
          firstIn.open();
          // Every other uploader is queued (paused) behind it.
          await until(() => others.every((n) => (callOf(tc, n)?.pauses ?? 0) > 0), 'the queue to fill');
          await misbehave(stream);
          return [];
        },
      },
    });
    const queued = others.map(
      (name) =>
        new ScriptedParticipant(tc.address, {
          name,
          input: inputsFor(name),
          maxChunkBytes: 512,
          gate: { masked: firstIn.wait },
        }),
    );
    const played = await playRound(tc, [], [first, ...queued]);
    for (const name of others) {
      assert.equal(codeName(played.scripted.get(name)!.status), 'OK', name);
      assert.ok(callOf(tc, name)!.resumes > 0, `${name} was resumed`);
    }
    return { played, others };
  }

  it(
    'are released when an uploader disconnects mid-upload; the queue proceeds and the sum is exact',
    { timeout: 15_000 },
    async () => {
      const { played, others } = await slotRound((stream) => stream.cancel());
      const { outcome } = played;
      assert.equal(codeName(played.scripted.get('a-first')!.status), 'CANCELLED');
      assert.equal(outcome.status, 'ok', outcome.reason);
      assert.deepEqual(outcome.survivors, others);
      assert.deepEqual(outcome.dropped, { 'a-first': 'masked' });
      assert.deepEqual(outcome.sums, plainSums(others, outcome.vectors));
    },
  );

  it('are released when an uploader sends a malformed frame mid-upload', { timeout: 15_000 }, async () => {
    const { played, others } = await slotRound((stream) => stream.send(Uint8Array.of(0xff, 0xff)));
    const { outcome } = played;
    const { status } = played.scripted.get('a-first')!;
    assert.equal(codeName(status), 'INVALID_ARGUMENT', status.details);
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.deepEqual(outcome.survivors, others);
    assert.deepEqual(outcome.dropped, { 'a-first': 'masked' });
    assert.deepEqual(outcome.sums, plainSums(others, outcome.vectors));
  });

  it('are released when an uploader checks in again mid-upload', { timeout: 15_000 }, async () => {
    const { played, others } = await slotRound((stream) => stream.sendFrame(checkInToFrame('a-first')));
    const { status } = played.scripted.get('a-first')!;
    assert.equal(codeName(status), 'FAILED_PRECONDITION', status.details);
    assert.deepEqual(played.outcome.survivors, others);
    assert.deepEqual(played.outcome.sums, plainSums(others, played.outcome.vectors));
  });

  it('are not taken again by a chunk sent after a complete masked input', { timeout: 15_000 }, async () => {
    const tc = await start({
      cohortSize: 4,
      minClients: 4,
      maxConcurrentUploads: 1,
      timeouts: { advertise: 60_000, share: 60_000, masked: 60_000, unmask: 60_000 },
    });
    const others = ['b-queued', 'c-queued', 'd-queued'];
    const firstDone = latch();
    const extra = new ScriptedParticipant(tc.address, {
      name: 'a-extra',
      input: inputsFor('a-extra'),
      tamper: {
        // Its whole input (one chunk), then the first chunk once more.
        masked: async (frames, { stream }) => {
          const chunk = content(frames[0], 'maskedInputChunk');
          await stream.sendFrame(frames[0]!);
          await stream.sendFrame(
            frameOf('maskedInputChunk', { ...chunk, data: chunk.data.subarray(0, 8), last: false }),
          );
          await until(() => (callOf(tc, 'a-extra')?.frames ?? 0) >= 5, 'the extra chunk');
          firstDone.open();
          return [];
        },
      },
    });
    const queued = others.map(
      (name) =>
        new ScriptedParticipant(tc.address, {
          name,
          input: inputsFor(name),
          maxChunkBytes: 512,
          gate: { masked: firstDone.wait },
        }),
    );
    const played = await playRound(tc, [], [extra, ...queued]);
    const { status } = played.scripted.get('a-extra')!;
    assert.equal(codeName(status), 'INVALID_ARGUMENT', status.details);
    assert.match(status.details, /masked_input_chunk arrived after the masked input was complete/);
    const { outcome } = played;
    assert.equal(outcome.status, 'ok', outcome.reason);
    // Its masked input was accepted before the extra chunk, so it stays in the sum.
    const survivors = ['a-extra', ...others];
    assert.deepEqual(outcome.survivors, survivors);
    assert.deepEqual(outcome.sums, plainSums(survivors, outcome.vectors));
  });
});

describe('a stream the client half-closes early', () => {
  it(
    'is ended by the coordinator with an error status, before and during a round',
    { timeout: 15_000 },
    async () => {
      const tc = await start({ cohortSize: 4, minClients: 4 });
      const waiting = new RawStream(tc.address);
      await waiting.sendFrame(checkInToFrame('quitter'));
      await until(() => callOf(tc, 'quitter') !== undefined, 'the check-in');
      waiting.end();
      const before = await waiting.status;
      assert.equal(codeName(before), 'CANCELLED', before.details);

      const honest = ['honest-0', 'honest-1', 'honest-2'];
      const inRound = new ScriptedParticipant(tc.address, {
        name: 'quitter',
        input: inputsFor('quitter'),
        tamper: {
          shares: (_frames, { stream }) => {
            stream.end();
            return [];
          },
        },
      });
      const played = await playRound(tc, honest, [inRound]);
      assert.equal(codeName(played.scripted.get('quitter')!.status), 'CANCELLED');
      assert.equal(played.outcome.status, 'ok', played.outcome.reason);
      assert.deepEqual(played.outcome.dropped, { quitter: 'share' });
      assert.deepEqual(played.outcome.sums, plainSums(honest, played.outcome.vectors));
    },
  );
});
