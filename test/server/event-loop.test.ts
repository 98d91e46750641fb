/**
 * The coordinator's event loop keeps turning while it works through a stage: queued uploads are
 * assembled one per macrotask (no synchronous cascade over the upload queue), outgoing frames are
 * written in time slices, and the coordinator reads nothing more of a paused uploader. The
 * bounds are counted in uploads, writes and messages, not in time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientMessage } from '../../src/secagg/messages.ts';
import { SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { FrameWriter } from '../../src/server/frame-writer.ts';
import {
  callOf,
  coordinatorsForThisFile,
  encode,
  inputsFor,
  latch,
  plainSums,
  playRound,
  ScriptedParticipant,
  until,
} from './robustness-harness.ts';

const start = coordinatorsForThisFile();

/** Counts masked inputs as the core receives them, for the duration of `body`. */
async function countingMaskedInputs<T>(
  onMasked: (delivered: number) => void,
  body: () => Promise<T>,
): Promise<T> {
  const original = SecAggServer.prototype.handle;
  let delivered = 0;
  SecAggServer.prototype.handle = function (
    this: SecAggServer,
    from: ClientId,
    message: ClientMessage,
    now: number,
  ) {
    if (message.type === 'masked') onMasked(++delivered);
    return original.call(this, from, message, now);
  };
  try {
    return await body();
  } finally {
    SecAggServer.prototype.handle = original;
  }
}

describe('the coordinator under a queue of uploads', () => {
  it(
    'assembles queued uploads one per macrotask: a callback queued after the first runs before the queue is through',
    { timeout: 30_000 },
    async () => {
      const queued = Array.from({ length: 8 }, (_, i) => `queued-${i}`);
      const tc = await start({ cohortSize: 9, minClients: 9, threshold: 6, maxConcurrentUploads: 1 });
      // The holder takes the only upload slot with its first chunk and keeps it until every other
      // client has sent its whole (one-chunk) input and waits, paused, in the queue.
      const release = latch();
      const holder = new ScriptedParticipant(tc.address, {
        name: 'holder',
        input: inputsFor('holder'),
        maxChunkBytes: 512,
        tamper: {
          masked: async (frames, { stream }) => {
            await stream.send(encode(frames[0]!));
            await release.wait();
            return frames.slice(1);
          },
        },
      });
      const others = queued.map(
        (name) => new ScriptedParticipant(tc.address, { name, input: inputsFor(name) }),
      );
      let ranAfter: number | undefined;
      let deliveredSoFar = 0;
      const played = await countingMaskedInputs(
        (delivered) => {
          // The holder's input is the first; a macrotask queued when the first queued one is in
          // must not wait for the rest of the queue. setImmediate, not setTimeout(0): a timer
          // fires only once a whole millisecond has passed, which a fast machine can spend
          // assembling all eight (one per turn or not), so only an immediate tells the two apart.
          // An immediate queued now runs in the next turn of the loop, and every turn passes the
          // timers phase first: if it runs before the queue is through, so does any timer due.
          if (delivered === 2) {
            setImmediate(() => {
              ranAfter = deliveredSoFar;
            });
          }
          deliveredSoFar = delivered;
        },
        async () => {
          const round = playRound(tc, [], [holder, ...others]);
          await until(() => queued.every((name) => (callOf(tc, name)?.pauses ?? 0) >= 1), 'a full queue');
          release.open();
          return round;
        },
      );
      assert.equal(played.outcome.status, 'ok');
      assert.deepEqual(played.outcome.sums, plainSums(['holder', ...queued], played.outcome.vectors));
      assert.ok(ranAfter !== undefined, 'the queued callback ran');
      assert.ok(
        ranAfter < 1 + queued.length,
        `the queued callback ran only after ${ranAfter} of ${1 + queued.length} inputs: the queue was assembled in one go`,
      );
    },
  );

  it(
    'reads nothing more of a paused uploader: the rest stays under flow control',
    { timeout: 30_000 },
    async () => {
      const tc = await start({ cohortSize: 3, minClients: 3, threshold: 2, maxConcurrentUploads: 1 });
      const release = latch();
      const holder = new ScriptedParticipant(tc.address, {
        name: 'holder',
        input: inputsFor('holder'),
        maxChunkBytes: 512,
        tamper: {
          masked: async (frames, { stream }) => {
            await stream.send(encode(frames[0]!));
            await release.wait();
            return frames.slice(1);
          },
        },
      });
      // 2500 bytes in 64-byte chunks: 40 messages, all sent while it waits for the slot.
      const waiter = new ScriptedParticipant(tc.address, {
        name: 'waiter',
        input: inputsFor('waiter'),
        maxChunkBytes: 64,
      });
      const third = new ScriptedParticipant(tc.address, {
        name: 'third',
        input: inputsFor('third'),
        gate: { masked: () => release.wait() },
      });
      const round = playRound(tc, [], [holder, waiter, third]);
      await until(() => (callOf(tc, 'waiter')?.pauses ?? 0) >= 1, 'the waiter to be paused');
      // Give the transport every chance to read ahead, then look.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const buffered = callOf(tc, 'waiter')!.buffered();
      release.open();
      const { outcome } = await round;
      assert.equal(buffered, 0, `the coordinator held ${buffered} of the waiter's messages`);
      assert.equal(outcome.status, 'ok');
      assert.deepEqual(outcome.sums, plainSums(['holder', 'third', 'waiter'], outcome.vectors));
    },
  );
});

describe('FrameWriter', () => {
  it('writes in order, skips what became moot, and yields between slices', async () => {
    // A clock that advances 1 ms per reading: about five writes fit in one 5 ms slice.
    let clock = 0;
    const writer = new FrameWriter(() => clock++);
    const written: number[] = [];
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    let interleaved: number | undefined;
    setImmediate(() =>
      setImmediate(() => {
        interleaved = written.length;
      }),
    );
    for (let i = 0; i < 100; i++) {
      writer.enqueue({ skip: () => i % 10 === 9, write: () => written.push(i) });
    }
    assert.equal(writer.pending, 100);
    assert.equal(written.length, 0, 'nothing is written in the calling turn');
    await writer.idle();
    clearInterval(ticker);
    assert.deepEqual(
      written,
      Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 10 !== 9),
    );
    assert.equal(writer.pending, 0);
    assert.ok(interleaved !== undefined && interleaved > 0 && interleaved < written.length, `${interleaved}`);
    assert.ok(turns > 0, 'a timer ran while the writes were drained');
  });

  it('idle() resolves at once when nothing waits', async () => {
    const writer = new FrameWriter();
    await writer.idle();
    assert.equal(writer.pending, 0);
  });
});
