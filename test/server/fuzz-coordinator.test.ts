/**
 * Fuzzing one in-process coordinator over real Participate streams (fast-check):
 * 1. fresh streams send random bytes and mutated valid frames of every kind, then half-close: each
 *    gets an error status (never OK, never UNKNOWN or INTERNAL, which would mean a handler threw);
 * 2. in rounds with three honest SDK clients, a fourth client plays honestly except for one frame,
 *    which it mutates, replaces with random bytes, or sends twice: a frame the wire format rejects
 *    gets INVALID_ARGUMENT and the others' round completes with an exact sum;
 * 3. afterwards a clean round completes with an exact sum.
 * Throughout, an 'uncaughtException' / 'unhandledRejection' guard records anything that escapes, and
 * every step asserts that nothing did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import fc from 'fast-check';
import type * as pb from '../../src/gen/privagg/v1/secagg.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import {
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  parseClientFrame,
} from '../../src/wire/convert.ts';
import { mutate, mutation } from '../wire/mutations.ts';
import {
  type ClientStep,
  codeName,
  encode,
  inputsFor,
  plainSums,
  playRound,
  RawStream,
  ScriptedParticipant,
  startCoordinator,
  type TestCoordinator,
  testConfig,
} from './robustness-harness.ts';

const VECTORS: readonly VectorSpec[] = [
  { name: 'v', length: 64, bits: 20 },
  { name: 'w', length: 3, bits: 32 },
];
const HONEST = ['h-0', 'h-1', 'h-2'];

const escaped: unknown[] = [];
const guard = (error: unknown) => {
  escaped.push(error);
};

let tc: TestCoordinator;
let rounds = 0;

before(async () => {
  process.on('uncaughtException', guard);
  process.on('unhandledRejection', guard);
  tc = await startCoordinator(
    testConfig({
      cohortSize: 4,
      minClients: 4,
      threshold: 3,
      vectors: VECTORS,
      rounds: Number.POSITIVE_INFINITY,
      // Short enough that a client stalled by its own mutation (say, a masked input whose last chunk
      // lost its `last` flag) costs little, long enough that honest clients never miss one.
      timeouts: { advertise: 5000, share: 5000, masked: 5000, unmask: 5000 },
      maxConcurrentUploads: 2,
      maxFramesPerStage: 16,
    }),
  );
});

after(() => {
  tc?.stop();
  process.off('uncaughtException', guard);
  process.off('unhandledRejection', guard);
});

function assertNothingEscaped(): void {
  assert.deepEqual(escaped, [], `escaped the coordinator: ${escaped.map(String).join('; ')}`);
}

/** Rejects if `promise` has not settled within `ms`: a hang is a failure, not a slow pass. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** A status that comes from the coordinator's own handling (a handler that threw gives UNKNOWN). */
function assertHandled(status: StatusObject, what: string): void {
  assert.ok(
    status.code !== Status.UNKNOWN && status.code !== Status.INTERNAL,
    `${what}: ${codeName(status)} ${status.details}`,
  );
}

// ---- mutations -----------------------------------------------------------------------------------

/** Valid frames of every kind, for a client with id 1 in a round of ids 1..4. */
function sampleFrames(): Uint8Array[] {
  const bytes = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);
  const self = 1 as ClientId;
  const context = { self, vectors: VECTORS, maxChunkBytes: 40 };
  const frames: pb.ClientFrame[] = [
    checkInToFrame('fuzz-sample'),
    clientAbortToFrame({
      type: 'abort',
      code: 'client-refused',
      refusal: 'bad-share',
      reason: 'share from 2',
    }),
    clientAbortToFrame({ type: 'abort', code: 'server-aborted', reason: '' }),
    ...clientMessageToFrames({ type: 'advertise', cPk: bytes(32, 1), sPk: bytes(32, 2) }, context),
    ...clientMessageToFrames(
      {
        type: 'shares',
        bCommit: bytes(32, 3),
        ciphertexts: [2, 3, 4].map((to) => ({ from: self, to: to as ClientId, ciphertext: bytes(88, to) })),
      },
      context,
    ),
    ...clientMessageToFrames(
      { type: 'masked', vectors: VECTORS.map((s) => inputsFor('x')({ vectors: [s] })[0]!) },
      context,
    ),
    ...clientMessageToFrames({ type: 'consistency', signature: bytes(64, 5) }, context),
    ...clientMessageToFrames(
      {
        type: 'unmask',
        selfMaskShares: [1, 2].map((of) => ({ of: of as ClientId, share: bytes(32, of) })),
        keyShares: [{ of: 3 as ClientId, share: bytes(32, 9) }],
        pairSeeds: [{ of: 4 as ClientId, seed: bytes(32, 11) }],
      },
      context,
    ),
  ];
  return frames.map(encode);
}

const SAMPLES = sampleFrames();

/** One frame of a fuzzing stream: random bytes, a valid sample, or a mutated sample. */
const fuzzFrame = fc.oneof(
  fc.uint8Array({ maxLength: 160 }),
  fc.constantFrom(...SAMPLES),
  fc
    .tuple(fc.constantFrom(...SAMPLES), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([f, e]) => mutate(f, e)),
);

// ---- the properties ------------------------------------------------------------------------------

describe('the coordinator under fuzzing', () => {
  it('answers every stream of random or mutated frames with an error status', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzFrame, { minLength: 1, maxLength: 4 }), async (frames) => {
        const stream = new RawStream(tc.address);
        for (const frame of frames) await stream.send(frame);
        stream.end();
        const status = await within(stream.status, 5000, 'the stream');
        assert.notEqual(status.code, Status.OK, 'a fuzzing stream ended with OK');
        assertHandled(status, 'fuzzing stream');
        if (status.code === Status.INVALID_ARGUMENT) assert.match(status.details, /^malformed frame: /);
        assertNothingEscaped();
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the round going for honest clients when one client corrupts one frame', async () => {
    const steps: ClientStep[] = ['advertise', 'shares', 'masked', 'unmask'];
    const corruption = fc.oneof(
      fc.record({
        kind: fc.constant('mutate' as const),
        edits: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 96 }) }),
      fc.record({ kind: fc.constant('twice' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...steps), fc.nat(), corruption, async (step, pick, how) => {
        let sent: Uint8Array | undefined;
        let fuzzerId: ClientId | undefined;
        const fuzzer = new ScriptedParticipant(tc.address, {
          name: 'fuzzer',
          input: inputsFor('fuzzer'),
          maxChunkBytes: 48,
          tamper: {
            [step]: (frames: pb.ClientFrame[], { id }: { id: ClientId | undefined }) => {
              fuzzerId = id;
              const out: Uint8Array[] = frames.map(encode);
              const i = pick % out.length;
              if (how.kind === 'twice') out.splice(i, 0, out[i]!);
              else out[i] = how.kind === 'random' ? how.bytes : mutate(out[i]!, how.edits);
              sent = out[i];
              return out;
            },
          },
        });
        const played = await within(
          playRound(tc, HONEST, [fuzzer], { round: rounds++ }),
          20_000,
          'the round',
        );
        assertNothingEscaped();
        const { outcome } = played;
        const { status } = played.scripted.get('fuzzer')!;
        assertHandled(status, 'fuzzer');
        let unparseable = false;
        try {
          if (sent) parseClientFrame(sent, fuzzerId);
        } catch {
          unparseable = true;
        }
        if (unparseable) assert.equal(codeName(status), 'INVALID_ARGUMENT', status.details);
        if (status.code !== Status.OK) {
          // The coordinator cut the fuzzer off: nothing it sent reached the others.
          assert.equal(outcome.status, 'ok', outcome.reason);
          for (const name of HONEST) assert.ok(outcome.survivors.includes(name), name);
        }
        // A client that stays in the sum can make it anything (its input is its own); otherwise the
        // sum of a completed round is exact.
        if (outcome.status === 'ok' && !(status.code === Status.OK && outcome.survivors.includes('fuzzer'))) {
          assert.deepEqual(outcome.sums, plainSums(outcome.survivors, VECTORS));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('then runs a clean round with an exact sum', async () => {
    const clean = [...HONEST, 'h-3'];
    const played = await within(playRound(tc, clean, [], { round: rounds++ }), 20_000, 'the clean round');
    assertNothingEscaped();
    assert.equal(played.outcome.status, 'ok', played.outcome.reason);
    assert.deepEqual(played.outcome.survivors, clean);
    assert.deepEqual(played.outcome.sums, plainSums(clean, VECTORS));
  });
});
