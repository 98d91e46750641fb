/**
 * Every message of PROTOCOL.md §4 (and check-in, round announcement, abort) survives conversion to a
 * frame, protobuf encoding, decoding and conversion back, unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { sha256 } from '../../src/secagg/crypto/hash.ts';
import { Refusal, RoundAborted } from '../../src/secagg/errors.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import {
  abortFromError,
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  type MaskedChunkFrame,
  MaskedInputAssembler,
  parseClientFrame,
  parseServerFrame,
  roundAnnouncementFrames,
  roundAnnouncementToFrame,
  serverMessageToFrame,
  type WireAbort,
} from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';
import * as fx from './fixtures.ts';

const CONTEXT = { self: fx.SELF, vectors: fx.VECTORS };

function encodeClient(frame: pb.ClientFrame): Uint8Array {
  return pb.ClientFrame.encode(frame).finish();
}

function encodeServer(frame: pb.ServerFrame): Uint8Array {
  return pb.ServerFrame.encode(frame).finish();
}

/** Client message → frames → bytes → frames → message, on the coordinator's side. */
function clientRoundTrip(message: ClientMessage) {
  const frames = [...clientMessageToFrames(message, CONTEXT)];
  assert.equal(frames.length, 1);
  return parseClientFrame(encodeClient(frames[0]!), fx.SELF);
}

describe('client → coordinator round trip', () => {
  it('check-in', () => {
    assert.deepEqual(parseClientFrame(encodeClient(checkInToFrame('device-é-42'))), {
      type: 'check-in',
      clientName: 'device-é-42',
    });
  });

  for (const [name, message] of [
    ['advertise keys, semi-honest', fx.ADVERTISE_SEMI_HONEST],
    ['advertise keys, malicious', fx.ADVERTISE_MALICIOUS],
    ['encrypted shares', fx.SHARES],
    ['encrypted shares, none (a client with no neighbour in U1)', { ...fx.SHARES, ciphertexts: [] }],
    ['consistency signature', fx.CONSISTENCY],
    ['unmask response', fx.UNMASK],
    ['unmask response, empty lists', { type: 'unmask', selfMaskShares: [], keyShares: [], pairSeeds: [] }],
  ] as const) {
    it(name, () => {
      assert.deepEqual(clientRoundTrip(message as ClientMessage), message);
    });
  }

  it('the semi-honest advertisement has no signature key at all (absent, not empty)', () => {
    const back = clientRoundTrip(fx.ADVERTISE_SEMI_HONEST);
    assert.equal('signature' in back, false);
  });

  it('decoded bytes are copies, not views of the received buffer', () => {
    const wire = encodeClient([...clientMessageToFrames(fx.CONSISTENCY, CONTEXT)][0]!);
    const back = parseClientFrame(wire, fx.SELF);
    assert.equal(back.type, 'consistency');
    wire.fill(0);
    assert.deepEqual(back, fx.CONSISTENCY);
  });

  it('decoding a Buffer (as grpc-js delivers) gives plain Uint8Array copies', () => {
    const wire = Buffer.from(encodeClient([...clientMessageToFrames(fx.SHARES, CONTEXT)][0]!));
    const back = parseClientFrame(wire, fx.SELF);
    wire.fill(0);
    assert.deepEqual(back, fx.SHARES);
    assert.equal(Object.getPrototypeOf((back as typeof fx.SHARES).bCommit), Uint8Array.prototype);
  });

  it('masked input, through chunks and the assembler', () => {
    const message = { type: 'masked', vectors: fx.maskedVectors() } as const;
    const frames = [...clientMessageToFrames(message, { ...CONTEXT, maxChunkBytes: 8 })];
    // bias: 5·20 bits = 13 bytes (2 chunks); kernel: 68 bytes (9 chunks); count: 1 byte (1 chunk)
    assert.equal(frames.length, 2 + 9 + 1);
    const assembler = new MaskedInputAssembler(fx.VECTORS);
    for (const frame of frames) {
      const chunk = parseClientFrame(encodeClient(frame), fx.SELF);
      assert.equal(chunk.type, 'masked-chunk');
      assembler.accept(chunk as MaskedChunkFrame);
    }
    assert.equal(assembler.complete, true);
    assert.deepEqual(assembler.message(), message);
  });

  it("client abort with a refusal code (from the core's Refusal)", () => {
    const abort = abortFromError(new Refusal('both-shares-requested', 'peer 5 is in both lists'));
    assert.deepEqual(parseClientFrame(encodeClient(clientAbortToFrame(abort))), abort);
    assert.deepEqual(abort, {
      type: 'abort',
      code: 'client-refused',
      refusal: 'both-shares-requested',
      reason: 'both-shares-requested: peer 5 is in both lists',
    });
  });
});

describe('coordinator → client round trip', () => {
  it('round announcement', () => {
    const back = parseServerFrame(encodeServer(roundAnnouncementToFrame(fx.PARAMETERS, fx.SELF)));
    assert.deepEqual(back, { type: 'round', clientId: fx.SELF, parameters: fx.PARAMETERS });
  });

  it("the core's RoundParams announce as is, and the client recomputes the same configHash", () => {
    const params = roundParams({ ...fx.PARAMETERS, vectors: [...fx.VECTORS].reverse() });
    const back = parseServerFrame(encodeServer(roundAnnouncementToFrame(params, fx.SELF)));
    assert.equal(back.type, 'round');
    assert.deepEqual(roundParams(back.parameters).configHash, params.configHash);
  });

  it('round announcement, semi-honest', () => {
    const parameters = fx.PARAMETERS_SEMI_HONEST;
    const back = parseServerFrame(encodeServer(roundAnnouncementToFrame(parameters, fx.id(8))));
    assert.deepEqual(back, { type: 'round', clientId: fx.id(8), parameters });
  });

  it('the server model enum numbers are not the configHash bytes (0 is unspecified)', () => {
    const frame = roundAnnouncementToFrame(fx.PARAMETERS, fx.SELF);
    assert.equal(frame.frame?.$case, 'roundAnnouncement');
    const value = frame.frame?.value as pb.RoundAnnouncement;
    assert.equal(value.parameters?.serverModel, pb.ServerModel.SERVER_MODEL_MALICIOUS);
    assert.equal(pb.ServerModel.SERVER_MODEL_UNSPECIFIED, 0);
  });

  for (const [name, message] of [
    ['peer keys, malicious', fx.PEER_KEYS],
    ['peer keys, semi-honest', fx.PEER_KEYS_UNSIGNED],
    ['share delivery', fx.DELIVERY],
    ['consistency request', fx.CONSISTENCY_REQUEST],
    ['unmask request, semi-honest', fx.UNMASK_REQUEST_SEMI_HONEST],
    ['unmask request, malicious', fx.UNMASK_REQUEST_MALICIOUS],
    [
      'unmask request, malicious with an empty signature list',
      { ...fx.UNMASK_REQUEST_MALICIOUS, signatures: [] },
    ],
  ] as const) {
    it(name, () => {
      const back = parseServerFrame(
        encodeServer(serverMessageToFrame(message as ServerMessage, fx.SELF)),
        fx.SELF,
      );
      assert.deepEqual(back, message);
    });
  }

  it('an empty consistency signature list stays distinct from an absent one', () => {
    const absent = parseServerFrame(
      encodeServer(serverMessageToFrame(fx.UNMASK_REQUEST_SEMI_HONEST, fx.SELF)),
    );
    const empty = parseServerFrame(
      encodeServer(serverMessageToFrame({ ...fx.UNMASK_REQUEST_SEMI_HONEST, signatures: [] }, fx.SELF)),
    );
    assert.equal('signatures' in absent, false);
    assert.deepEqual((empty as { signatures?: unknown }).signatures, []);
  });

  for (const abort of [
    { type: 'abort', code: 'too-few-clients', reason: 'only 2 of 5 clients left at masked' },
    { type: 'abort', code: 'reconstruction-failed', reason: 'bCommit of 3 does not match' },
    { type: 'abort', code: 'server-aborted', reason: '' },
    { type: 'abort', code: 'protocol-violation', reason: 'masked_input_chunk.offset 5, expected 0' },
    { type: 'abort', code: 'not-selected', reason: 'round is full' },
  ] as const satisfies readonly WireAbort[]) {
    it(`abort: ${abort.code}`, () => {
      assert.deepEqual(parseServerFrame(encodeServer(serverMessageToFrame(abort, fx.SELF))), abort);
    });
  }

  it("the core's plain AbortMessage goes out as server-aborted", () => {
    const back = parseServerFrame(
      encodeServer(serverMessageToFrame({ type: 'abort', reason: 'shutdown' }, fx.SELF)),
    );
    assert.deepEqual(back, { type: 'abort', code: 'server-aborted', reason: 'shutdown' });
  });

  it('a too long abort message is cut to 1024 UTF-8 bytes on the way out', () => {
    const long = 'é'.repeat(2000);
    const back = parseServerFrame(
      encodeServer(serverMessageToFrame({ type: 'abort', code: 'server-aborted', reason: long }, fx.SELF)),
    ) as WireAbort;
    assert.ok(new TextEncoder().encode(back.reason).length <= 1024);
    assert.ok(back.reason.endsWith('...'));
  });
});

describe('abortFromError', () => {
  it('keeps RoundAborted codes, reports received garbage as a protocol violation, hides other errors', () => {
    assert.equal(abortFromError(new RoundAborted('too-few-clients', 'share', 'x')).code, 'too-few-clients');
    assert.equal(abortFromError(new WireFormatError('decode', 'a', 'b')).code, 'protocol-violation');
    assert.deepEqual(abortFromError(new WireFormatError('encode', 'a', 'b')), {
      type: 'abort',
      code: 'server-aborted',
      reason: 'internal error',
    });
    assert.deepEqual(abortFromError(new Error('secret-ish detail')), {
      type: 'abort',
      code: 'server-aborted',
      reason: 'internal error',
    });
  });
});

describe('roundAnnouncementFrames', () => {
  it('gives each recipient the bytes that decode to its own announcement, task included', () => {
    // Ids up to 2^32 − 1, so every varint length of client_id shows up.
    const task = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const clients = [1, 127, 128, 16384, 0xffff_ffff].map(fx.id);
    const parameters = { ...fx.PARAMETERS, clients, cohort: fx.cohortFor(clients), taskDigest: sha256(task) };
    const frames = roundAnnouncementFrames(parameters, task);
    for (const id of parameters.clients) {
      const bytes = frames(id);
      assert.deepEqual(
        pb.ServerFrame.decode(bytes),
        pb.ServerFrame.decode(encodeServer(roundAnnouncementToFrame(parameters, id, task))),
      );
      const back = parseServerFrame(bytes);
      assert.ok(back.type === 'round' && back.clientId === id);
    }
    assert.throws(() => frames(fx.id(2)), /is not one of the round's clients/);
  });
});
