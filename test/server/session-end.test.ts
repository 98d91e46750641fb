/**
 * One way to be told you were dropped (src/server/session-end.ts, PROTOCOL.md §12.2): before
 * selection a session ends with a status alone; once selected, every end the coordinator decides is
 * an Abort frame naming why, then the status. Checked over real gRPC with raw streams, each case
 * beside honest SDK participants whose round must complete with an exact sum.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { CoordinatorAbortError } from '../../src/client/sdk.ts';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { SESSION_ENDS } from '../../src/server/session-end.ts';
import { checkInToFrame } from '../../src/wire/convert.ts';
import {
  codeName,
  coordinatorsForThisFile,
  inputsFor,
  plainSums,
  playRound,
  RawStream,
  ScriptedParticipant,
  sdkParticipant,
  startCoordinator,
  type TestCoordinator,
  testConfig,
  until,
} from './robustness-harness.ts';

const start = coordinatorsForThisFile();

/** A raw client that checks in and waits for its round announcement. */
async function selected(tc: TestCoordinator, name: string): Promise<RawStream> {
  const stream = new RawStream(tc.address);
  await stream.sendFrame(checkInToFrame(name));
  const first = await stream.nextBytes();
  assert.ok(first, `${name} got no announcement`);
  assert.equal(pb.ServerFrame.decode(first).frame?.$case, 'roundAnnouncement');
  return stream;
}

/** The frames a stream receives until its call ends, decoded, and its final status. */
async function rest(stream: RawStream): Promise<{ frames: pb.ServerFrame[]; status: Status }> {
  const frames: pb.ServerFrame[] = [];
  for (let bytes = await stream.nextBytes(); bytes; bytes = await stream.nextBytes()) {
    frames.push(pb.ServerFrame.decode(bytes));
  }
  return { frames, status: (await stream.status).code };
}

function abortOf(frames: readonly pb.ServerFrame[]): pb.Abort {
  const last = frames.at(-1)?.frame;
  assert.equal(last?.$case, 'abort', `the last frame is ${last?.$case ?? 'missing'}, not an Abort`);
  return last.value as pb.Abort;
}

const honestNames = (k: number) => Array.from({ length: k }, (_, i) => `honest-${i}`);

describe('how a session ends', () => {
  it('the table gives a selected client an Abort for every end the coordinator decides, but a completed round', () => {
    for (const [cause, signal] of Object.entries(SESSION_ENDS)) {
      const silent = cause === 'round-completed' || cause === 'client-aborted' || cause === 'half-closed';
      const beforeSelectionOnly = [
        'unauthenticated',
        'name-not-caller',
        'name-taken',
        'waiting-full',
        'budget-exhausted',
        'no-aggregation',
      ].includes(cause);
      if (silent || beforeSelectionOnly) continue;
      assert.ok(signal.abort !== undefined, `${cause} must send an Abort once selected`);
    }
    assert.equal(SESSION_ENDS['round-completed'].status, Status.OK);
    assert.equal(SESSION_ENDS['missed-deadline'].abort, 'dropped');
  });

  it(
    'a client that misses a stage deadline gets Abort DROPPED then OK; the others complete',
    { timeout: 20_000 },
    async () => {
      // Honest SDK clients answer at once; the deadline only bites the silent one.
      const tc = await start({
        cohortSize: 4,
        minClients: 4,
        threshold: 3,
        timeouts: { advertise: 1500, share: 20_000, masked: 20_000, unmask: 20_000 },
      });
      const honest = honestNames(3);
      const silent = selected(tc, 'silent');
      const runs = honest.map((name) => sdkParticipant(tc.address, name, inputsFor(name)));
      const { frames, status } = await rest(await silent);
      const abort = abortOf(frames);
      assert.equal(abort.reason, pb.AbortReason.ABORT_REASON_DROPPED);
      assert.match(abort.message, /missed the deadline of stage 'advertise'/);
      assert.equal(status, Status.OK, `status ${Status[status]}`);
      await Promise.all(runs);
      const outcome = await tc.outcome();
      assert.equal(outcome.status, 'ok');
      assert.deepEqual(outcome.dropped, { silent: 'advertise' });
      assert.deepEqual(outcome.sums, plainSums(honest, outcome.vectors));
    },
  );

  it(
    'a malformed frame after selection gets Abort PROTOCOL_VIOLATION then INVALID_ARGUMENT; before selection the status alone',
    { timeout: 20_000 },
    async () => {
      const tc = await start({ cohortSize: 4, minClients: 4, threshold: 3 });
      const early = new RawStream(tc.address);
      await early.send(Uint8Array.of(0xff, 0xff, 0xff));
      const before = await rest(early);
      assert.equal(before.frames.length, 0);
      assert.equal(before.status, Status.INVALID_ARGUMENT);

      const honest = honestNames(3);
      const broken = selected(tc, 'broken');
      const runs = honest.map((name) => sdkParticipant(tc.address, name, inputsFor(name)));
      const stream = await broken;
      await stream.send(Uint8Array.of(0xff, 0xff, 0xff));
      const after = await rest(stream);
      assert.equal(abortOf(after.frames).reason, pb.AbortReason.ABORT_REASON_PROTOCOL_VIOLATION);
      assert.equal(after.status, Status.INVALID_ARGUMENT);
      await Promise.all(runs);
      const outcome = await tc.outcome();
      assert.equal(outcome.status, 'ok');
      assert.deepEqual(outcome.dropped, { broken: 'advertise' });
      assert.deepEqual(outcome.sums, plainSums(honest, outcome.vectors));
    },
  );

  it(
    'a client over the frame limit gets Abort PROTOCOL_VIOLATION then RESOURCE_EXHAUSTED',
    { timeout: 20_000 },
    async () => {
      // One frame per stage is all an honest client of this round sends (its masked input is one
      // chunk): a second copy of its advertisement is one frame too many.
      const tc = await start({ cohortSize: 4, minClients: 4, threshold: 3, maxFramesPerStage: 1 });
      const honest = honestNames(3);
      const flooder = new ScriptedParticipant(tc.address, {
        name: 'flooder',
        input: inputsFor('flooder'),
        tamper: { advertise: (frames) => [...frames, ...frames] },
      });
      // Held back until the flooder is cut off, so the advertise stage is still open when its second
      // copy arrives (otherwise, as the last to advertise, its first copy would close the stage).
      const laggard = new ScriptedParticipant(tc.address, {
        name: 'laggard',
        input: inputsFor('laggard'),
        gate: { advertise: async () => void (await flooder.stream.status) },
      });
      const { outcome, scripted } = await playRound(tc, honest.slice(0, 2), [flooder, laggard]);
      const result = scripted.get('flooder')!;
      assert.equal(result.status.code, Status.RESOURCE_EXHAUSTED, codeName(result.status));
      assert.deepEqual(
        result.aborts.map((a) => a.code),
        ['protocol-violation'],
      );
      assert.match(result.aborts[0]!.reason, /more than 1 frames in stage 'advertise'/);
      assert.equal(outcome.status, 'ok');
      const survivors = [...honest.slice(0, 2), 'laggard'].sort();
      assert.deepEqual(outcome.survivors, survivors);
      assert.deepEqual(outcome.sums, plainSums(survivors, outcome.vectors));
    },
  );

  it(
    'every selected client of an aborted round is told: the round’s Abort, or DROPPED for those the deadline dropped',
    { timeout: 20_000 },
    async () => {
      // Two of four answer; t = 3: the advertise deadline drops two and aborts the round.
      const tc = await start({
        cohortSize: 4,
        minClients: 4,
        threshold: 3,
        timeouts: { advertise: 1000, share: 20_000, masked: 20_000, unmask: 20_000 },
      });
      const quiet = [selected(tc, 'quiet-0'), selected(tc, 'quiet-1')];
      const answering = ['talk-0', 'talk-1'].map((name) =>
        sdkParticipant(tc.address, name, inputsFor(name)).then(
          () => assert.fail(`${name}'s round cannot complete`),
          (error: unknown) => error,
        ),
      );
      const outcome = await tc.outcome();
      assert.equal(outcome.status, 'aborted');
      assert.match(outcome.reason ?? '', /^too-few-clients at advertise/);
      for (const stream of await Promise.all(quiet)) {
        const { frames, status } = await rest(stream);
        assert.equal(abortOf(frames).reason, pb.AbortReason.ABORT_REASON_DROPPED);
        assert.equal(status, Status.OK);
      }
      for (const error of await Promise.all(answering)) {
        assert.ok(error instanceof CoordinatorAbortError, String(error));
        assert.equal(error.code, 'too-few-clients');
      }
    },
  );
});

describe('the waiting-session cap', () => {
  it(
    'turns a check-in beyond it away with UNAVAILABLE, and frees the place when one leaves',
    { timeout: 20_000 },
    async () => {
      // Cohort 3, cap 3: while a round runs (its three clients hold it in the advertise stage), three
      // more may wait for the next one, and no more.
      const tc = await start({ cohortSize: 3, minClients: 3, threshold: 2, maxWaitingClients: 3 });
      const inRound = await Promise.all(['r0', 'r1', 'r2'].map((name) => selected(tc, name)));
      const waiting: RawStream[] = [];
      for (const name of ['w0', 'w1', 'w2']) {
        const s = new RawStream(tc.address);
        await s.sendFrame(checkInToFrame(name));
        waiting.push(s);
      }
      await until(() => tc.calls.filter((c) => c.name !== undefined).length === 6, 'six check-ins');
      const extra = new RawStream(tc.address);
      await extra.sendFrame(checkInToFrame('extra'));
      const refused = await rest(extra);
      assert.equal(refused.frames.length, 0);
      assert.equal(refused.status, Status.UNAVAILABLE);
      assert.match((await extra.status).details, /3 clients are already waiting/);

      assert.equal(tc.coordinator.waitingClients, 3);
      waiting[0]!.cancel();
      await until(() => tc.coordinator.waitingClients === 2, 'the cancelled client to leave');
      const admitted = new RawStream(tc.address);
      await admitted.sendFrame(checkInToFrame('again'));
      await until(() => tc.coordinator.waitingClients === 3, 'the new check-in to be admitted');
      for (const s of [...inRound, ...waiting, admitted]) s.cancel();
    },
  );

  it('a cap below the cohort size is refused when the coordinator is built', async () => {
    await assert.rejects(
      () =>
        startCoordinator(testConfig({ cohortSize: 3, minClients: 3, threshold: 2, maxWaitingClients: 2 })),
      /max waiting clients 2 is below the cohort size 3/,
    );
  });
});
