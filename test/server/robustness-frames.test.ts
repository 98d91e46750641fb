/**
 * The coordinator against misbehaving clients, over loopback gRPC: malformed, out-of-order,
 * oversized and impersonating frames. Each misbehaving client gets an error status naming what was
 * wrong and is dropped at the stage where it misbehaved; the round goes on, and its sum is exactly
 * the survivors' plain sum.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type * as pb from '../../src/gen/privagg/v1/secagg.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { checkInToFrame } from '../../src/wire/convert.ts';
import {
  type ClientStep,
  codeName,
  content,
  encode,
  frameOf,
  inputsFor,
  MAX_RECEIVE_BYTES,
  type PlayedRound,
  plainSums,
  playRound,
  RawStream,
  ScriptedParticipant,
  startCoordinator,
  type Tamper,
  type TestCoordinator,
  testConfig,
} from './robustness-harness.ts';

const HONEST = ['honest-0', 'honest-1', 'honest-2', 'honest-3'];

const running: TestCoordinator[] = [];
after(() => {
  for (const tc of running) tc.stop();
});

/** A misbehaving client: what it does, the status it must get, and where it must be lost. */
interface Misbehaviour {
  readonly name: string;
  readonly tamper: Partial<Record<ClientStep, Tamper>>;
  readonly code: Status;
  readonly details: RegExp;
  /** The stage it is dropped at, or `survivor` when its masked input is already in the sum. */
  readonly lost: Stage | 'survivor';
}

/** A stream that never checked in: its frames, the status it must get. */
interface Stray {
  readonly frames: readonly Uint8Array[];
  readonly code: Status;
  readonly details: RegExp;
}

async function stray(tc: TestCoordinator, { frames, code, details }: Stray): Promise<void> {
  const stream = new RawStream(tc.address);
  for (const frame of frames) await stream.send(frame);
  const status = await stream.status;
  assert.equal(codeName(status), Status[code], status.details);
  assert.match(status.details, details);
}

/** Runs one round with the honest clients and the misbehaving ones, and checks every result. */
async function roundWith(
  cases: readonly Misbehaviour[],
  strays: readonly Stray[] = [],
  configure: Parameters<typeof testConfig>[0] = {},
): Promise<PlayedRound> {
  // A round needs t > n/2 (no split view can reach t twice), so the honest clients must outnumber
  // the misbehaving ones for the round to go on without them: pad them to one more.
  const padding = Array.from(
    { length: Math.max(0, cases.length + 1 - HONEST.length) },
    (_, i) => `honest-pad-${String(i).padStart(2, '0')}`,
  );
  const honest = [...HONEST, ...padding];
  const n = honest.length + cases.length;
  const tc = await startCoordinator(
    testConfig({ cohortSize: n, minClients: n, threshold: Math.floor(n / 2) + 1, ...configure }),
  );
  running.push(tc);
  // Streams that never join a round go first, so none of them is counted into the cohort.
  for (const s of strays) await stray(tc, s);
  const scripted = cases.map(
    (c) => new ScriptedParticipant(tc.address, { name: c.name, input: inputsFor(c.name), tamper: c.tamper }),
  );
  const played = await playRound(tc, honest, scripted);
  const { outcome } = played;
  assert.equal(outcome.status, 'ok', outcome.reason);
  for (const c of cases) {
    const { status } = played.scripted.get(c.name)!;
    assert.equal(codeName(status), Status[c.code], `${c.name}: ${status.details}`);
    assert.match(status.details, c.details, c.name);
  }
  const survivors = [...honest, ...cases.filter((c) => c.lost === 'survivor').map((c) => c.name)].sort();
  assert.deepEqual([...outcome.survivors].sort(), survivors);
  const dropped = Object.fromEntries(cases.filter((c) => c.lost !== 'survivor').map((c) => [c.name, c.lost]));
  assert.deepEqual(outcome.dropped, dropped);
  assertSums(played, survivors);
  for (const [name, result] of played.honest) assert.equal(result.status, 'fulfilled', name);
  return played;
}

function assertSums(played: PlayedRound, survivors: readonly string[]): void {
  assert.deepEqual(played.outcome.sums, plainSums(survivors, played.outcome.vectors));
}

/** A step's frames replaced by a function of its honest first frame. */
const first =
  (edit: (frame: pb.ClientFrame) => (pb.ClientFrame | Uint8Array)[]): Tamper =>
  (frames) =>
    edit(frames[0]!);

describe('malformed frames', () => {
  it('get INVALID_ARGUMENT naming the field, and the round goes on with an exact sum', async () => {
    const cases: Misbehaviour[] = [
      {
        name: 'bad-advertise-key-length',
        tamper: {
          advertise: first((f) => {
            const v = content(f, 'advertiseKeys');
            return [frameOf('advertiseKeys', { ...v, cPk: v.cPk.subarray(0, 31) })];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /advertise_keys\.c_pk must be 32 bytes, got 31/,
        lost: 'advertise',
      },
      {
        name: 'bad-advertise-signature-length',
        tamper: {
          advertise: first((f) => [
            frameOf('advertiseKeys', { ...content(f, 'advertiseKeys'), signature: new Uint8Array(10) }),
          ]),
        },
        code: Status.INVALID_ARGUMENT,
        details: /advertise_keys\.signature must be 64 bytes, got 10/,
        lost: 'advertise',
      },
      {
        name: 'bad-empty-frame',
        tamper: { advertise: () => [new Uint8Array(0)] },
        code: Status.INVALID_ARGUMENT,
        details: /malformed frame: frame is missing/,
        lost: 'advertise',
      },
      {
        name: 'bad-random-bytes',
        // Field 1 (check_in), length 5, but only one byte follows.
        tamper: { shares: () => [Uint8Array.of(0x0a, 0x05, 0x01)] },
        code: Status.INVALID_ARGUMENT,
        details: /ClientFrame is not a valid protobuf encoding/,
        lost: 'share',
      },
      {
        name: 'bad-share-ciphertext-length',
        tamper: {
          shares: first((f) => {
            const v = content(f, 'encryptedShares');
            const [c0, ...rest] = v.ciphertexts;
            return [
              frameOf('encryptedShares', {
                ...v,
                ciphertexts: [{ ...c0!, ciphertext: c0!.ciphertext.subarray(0, 87) }, ...rest],
              }),
            ];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /encrypted_shares\.ciphertexts\[0\]\.ciphertext must be 88 bytes, got 87/,
        lost: 'share',
      },
      {
        name: 'bad-share-commitment-length',
        tamper: {
          shares: first((f) => [
            frameOf('encryptedShares', { ...content(f, 'encryptedShares'), bCommit: new Uint8Array(33) }),
          ]),
        },
        code: Status.INVALID_ARGUMENT,
        details: /encrypted_shares\.b_commit must be 32 bytes, got 33/,
        lost: 'share',
      },
      {
        name: 'bad-share-recipient-zero',
        tamper: {
          shares: first((f) => {
            const v = content(f, 'encryptedShares');
            const [c0, ...rest] = v.ciphertexts;
            return [frameOf('encryptedShares', { ...v, ciphertexts: [{ ...c0!, recipient: 0 }, ...rest] })];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /encrypted_shares\.ciphertexts\[0\]\.recipient must not be 0/,
        lost: 'share',
      },
      {
        name: 'bad-chunk-offset',
        tamper: {
          masked: first((f) => [
            frameOf('maskedInputChunk', { ...content(f, 'maskedInputChunk'), offset: 1 }),
          ]),
        },
        code: Status.INVALID_ARGUMENT,
        details: /masked_input_chunk\.offset 1 for vector 0 \('v'\), expected 0/,
        lost: 'masked',
      },
      {
        name: 'bad-chunk-vector-index',
        tamper: {
          masked: first((f) => [
            frameOf('maskedInputChunk', { ...content(f, 'maskedInputChunk'), vectorIndex: 5 }),
          ]),
        },
        code: Status.INVALID_ARGUMENT,
        details: /masked_input_chunk\.vector_index 5 names no vector/,
        lost: 'masked',
      },
      {
        name: 'bad-unmask-share-length',
        tamper: {
          unmask: first((f) => {
            const v = content(f, 'unmaskResponse');
            const [s0, ...rest] = v.selfMaskShares;
            return [
              frameOf('unmaskResponse', {
                ...v,
                selfMaskShares: [{ ...s0!, share: s0!.share.subarray(0, 31) }, ...rest],
              }),
            ];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /unmask_response\.self_mask_shares\[0\]\.share must be 32 bytes, got 31/,
        lost: 'survivor',
      },
      {
        name: 'bad-unmask-unsorted',
        tamper: {
          unmask: first((f) => {
            const v = content(f, 'unmaskResponse');
            return [frameOf('unmaskResponse', { ...v, selfMaskShares: [...v.selfMaskShares].reverse() })];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /unmask_response\.self_mask_shares\[1\]\.owner is below the previous id/,
        lost: 'survivor',
      },
    ];
    const strays: Stray[] = [
      {
        frames: [Uint8Array.of(0xff, 0xff)],
        code: Status.INVALID_ARGUMENT,
        details: /ClientFrame is not a valid protobuf encoding/,
      },
      {
        // A check-in cut short: its length prefixes claim more bytes than follow.
        frames: [encode(checkInToFrame('abcde')).subarray(0, 5)],
        code: Status.INVALID_ARGUMENT,
        details: /ClientFrame is not a valid protobuf encoding/,
      },
      {
        frames: [encode(frameOf('checkIn', { clientName: 'x'.repeat(256) }))],
        code: Status.INVALID_ARGUMENT,
        details: /check_in\.client_name must be 1\.\.255 UTF-8 bytes, got 256/,
      },
      {
        frames: [encode(frameOf('checkIn', { clientName: '' }))],
        code: Status.INVALID_ARGUMENT,
        details: /check_in\.client_name must be 1\.\.255 UTF-8 bytes, got 0/,
      },
    ];
    await roundWith(cases, strays);
  });
});

describe('out-of-order frames', () => {
  it('get an error status, and the round goes on with an exact sum', async () => {
    const chunk = frameOf('maskedInputChunk', {
      vectorIndex: 0,
      offset: 0,
      data: new Uint8Array(4),
      last: false,
    });
    const sharesOf = new Map<string, pb.ClientFrame>();
    const cases: Misbehaviour[] = [
      {
        name: 'ooo-chunk-during-advertise',
        tamper: { advertise: () => [chunk] },
        code: Status.INVALID_ARGUMENT,
        details: /masked input chunk during stage 'advertise'/,
        lost: 'advertise',
      },
      {
        name: 'ooo-second-check-in',
        tamper: { advertise: () => [checkInToFrame('ooo-second-check-in')] },
        code: Status.FAILED_PRECONDITION,
        details: /checked in twice on one stream/,
        lost: 'advertise',
      },
      {
        name: 'ooo-advertise-twice',
        tamper: { advertise: (frames) => [...frames, ...frames] },
        code: Status.INVALID_ARGUMENT,
        // Which, depends on whether its first copy was the last advertisement of the round (the
        // stage then moved on before the second arrived).
        details: /already answered stage 'advertise'|sent 'advertise' during stage 'share'/,
        // Its keys are in U1; it is lost at the next stage.
        lost: 'share',
      },
      {
        name: 'ooo-unmask-during-share',
        tamper: {
          shares: (_frames, { id }) => [
            frameOf('unmaskResponse', {
              selfMaskShares: [{ owner: id!, share: new Uint8Array(32) }],
              keyShares: [],
              pairSeeds: [],
            }),
          ],
        },
        code: Status.INVALID_ARGUMENT,
        details: /sent 'unmask' during stage 'share'/,
        lost: 'share',
      },
      {
        name: 'ooo-shares-during-masked',
        tamper: {
          // Its shares again, instead of its masked input.
          masked: () => [sharesOf.get('ooo-shares-during-masked')!],
          shares: (frames) => {
            sharesOf.set('ooo-shares-during-masked', frames[0]!);
            return frames;
          },
        },
        code: Status.INVALID_ARGUMENT,
        details: /sent 'shares' during stage 'masked'/,
        lost: 'masked',
      },
    ];
    const strays: Stray[] = [
      {
        frames: [encode(frameOf('advertiseKeys', { cPk: new Uint8Array(32), sPk: new Uint8Array(32) }))],
        code: Status.FAILED_PRECONDITION,
        details: /'advertise' before the client was selected for a round/,
      },
      {
        frames: [encode(frameOf('encryptedShares', { bCommit: new Uint8Array(32), ciphertexts: [] }))],
        code: Status.INVALID_ARGUMENT,
        details: /encrypted_shares arrived before the client was given an id/,
      },
      {
        frames: [encode(checkInToFrame('stray-early')), encode(chunk)],
        code: Status.FAILED_PRECONDITION,
        details: /'masked-chunk' before the client was selected for a round/,
      },
      {
        frames: [encode(checkInToFrame('stray-twice')), encode(checkInToFrame('stray-twice'))],
        code: Status.FAILED_PRECONDITION,
        details: /checked in twice on one stream/,
      },
    ];
    await roundWith(cases, strays);
  });
});

describe('oversized frames', () => {
  it(`over the ${MAX_RECEIVE_BYTES}-byte receive limit get RESOURCE_EXHAUSTED, and the round goes on`, async () => {
    const big = (n: number) =>
      frameOf('maskedInputChunk', { vectorIndex: 0, offset: 0, data: new Uint8Array(n), last: false });
    const cases: Misbehaviour[] = [
      {
        name: 'huge-chunk',
        tamper: { masked: () => [big(MAX_RECEIVE_BYTES + 1)] },
        code: Status.RESOURCE_EXHAUSTED,
        details: /larger than max/,
        lost: 'masked',
      },
      {
        name: 'huge-advertise',
        tamper: {
          advertise: first((f) => [
            frameOf('advertiseKeys', { ...content(f, 'advertiseKeys'), signature: new Uint8Array(3 << 20) }),
          ]),
        },
        code: Status.RESOURCE_EXHAUSTED,
        details: /larger than max/,
        lost: 'advertise',
      },
    ];
    const strays: Stray[] = [
      { frames: [encode(big(4 << 20))], code: Status.RESOURCE_EXHAUSTED, details: /larger than max/ },
    ];
    await roundWith(cases, strays);
  });
});

describe('frames for another client', () => {
  it('are rejected: a session speaks only for the id it was given', async () => {
    const cases: Misbehaviour[] = [
      {
        // EncryptedShares has no sender field: the coordinator takes the sender from the session, so
        // the closest a client gets to "sending as someone else" is addressing a share to itself.
        name: 'spoof-share-to-self',
        tamper: {
          shares: (frames, { id }) => {
            const v = content(frames[0], 'encryptedShares');
            const [c0, ...rest] = v.ciphertexts;
            const ciphertexts = [{ ...c0!, recipient: id! }, ...rest].sort(
              (a, b) => a.recipient - b.recipient,
            );
            return [frameOf('encryptedShares', { ...v, ciphertexts })];
          },
        },
        code: Status.INVALID_ARGUMENT,
        details: /encrypted_shares\.ciphertexts\[\d+\]\.recipient is the sender itself/,
        lost: 'share',
      },
      {
        name: 'spoof-share-to-stranger',
        tamper: {
          shares: first((f) => {
            const v = content(f, 'encryptedShares');
            return [
              frameOf('encryptedShares', {
                ...v,
                ciphertexts: [...v.ciphertexts, { recipient: 4000, ciphertext: new Uint8Array(88) }],
              }),
            ];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /did not send one share to each neighbour/,
        lost: 'share',
      },
      {
        name: 'spoof-unmask-owner',
        tamper: {
          // Claims to hold shares for a client it holds none of.
          unmask: first((f) => {
            const v = content(f, 'unmaskResponse');
            return [
              frameOf('unmaskResponse', {
                ...v,
                selfMaskShares: [...v.selfMaskShares, { owner: 4000, share: new Uint8Array(32) }],
              }),
            ];
          }),
        },
        code: Status.INVALID_ARGUMENT,
        details: /unmask response does not match the request/,
        lost: 'survivor',
      },
    ];
    await roundWith(cases);
  });

  it('a check-in under a name that is taken, or not the authenticated one, is refused', async () => {
    const tc = await startCoordinator(testConfig({ cohortSize: 4, minClients: 4 }), {
      authenticate: (call) => {
        const name = call.metadata.get('x-test-client')[0];
        return { ok: true, name: typeof name === 'string' ? name : undefined };
      },
    });
    running.push(tc);
    const impostor = async (name: string, metadata: Record<string, string> = {}) => {
      const stream = new RawStream(tc.address, metadata);
      await stream.sendFrame(checkInToFrame(name));
      return stream.status;
    };
    const mallory = await impostor('honest-0', { 'x-test-client': 'mallory' });
    assert.equal(codeName(mallory), 'PERMISSION_DENIED');
    assert.match(mallory.details, /authenticated as 'mallory', not 'honest-0'/);
    // While honest-0's round runs, its name cannot be taken over.
    const waiting = new ScriptedParticipant(tc.address, { name: 'honest-3', input: inputsFor('honest-3') });
    const played = playRound(tc, HONEST.slice(0, 3), [waiting]);
    await waiting.announced;
    const twin = await impostor('honest-0');
    assert.equal(codeName(twin), 'ALREADY_EXISTS');
    assert.match(twin.details, /client 'honest-0' already has a session/);
    const { outcome } = await played;
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.deepEqual(outcome.survivors, HONEST);
  });
});
