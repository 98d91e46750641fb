/**
 * The converters reject every malformed frame with a WireFormatError naming the field: wrong byte
 * lengths, unsorted or repeated id lists, id 0, missing oneof cases and enums, bad round parameters;
 * and refuse to encode core messages that would make such frames.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import {
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  parseClientFrame,
  parseServerFrame,
  roundAnnouncementToFrame,
  serverMessageToFrame,
  type WireAbort,
} from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';
import * as fx from './fixtures.ts';

const CONTEXT = { self: fx.SELF, vectors: fx.VECTORS };

/** Asserts that `fn` throws a WireFormatError about `field` in `direction`, mentioning `problem`. */
function rejects(fn: () => unknown, direction: 'decode' | 'encode', field: string, problem?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof WireFormatError, `expected a WireFormatError, got ${String(error)}`);
    assert.equal(error.direction, direction);
    assert.equal(error.field, field);
    if (problem !== undefined) assert.match(error.problem, problem);
    return true;
  });
}

const parseC = (frame: pb.ClientFrame, sender = fx.SELF) =>
  parseClientFrame(pb.ClientFrame.encode(frame).finish(), sender);
const parseS = (frame: pb.ServerFrame, self = fx.SELF) =>
  parseServerFrame(pb.ServerFrame.encode(frame).finish(), self);

const advertise = (value: Partial<pb.AdvertiseKeys>): pb.ClientFrame => ({
  frame: { $case: 'advertiseKeys', value: { cPk: fx.bytes(32, 1), sPk: fx.bytes(32, 2), ...value } },
});
const shares = (value: Partial<pb.EncryptedShares>): pb.ClientFrame => ({
  frame: {
    $case: 'encryptedShares',
    value: {
      bCommit: fx.bytes(32, 1),
      ciphertexts: [{ recipient: 1, ciphertext: fx.bytes(88, 1) }],
      ...value,
    },
  },
});
const unmask = (value: Partial<pb.UnmaskResponse>): pb.ClientFrame => ({
  frame: { $case: 'unmaskResponse', value: { selfMaskShares: [], keyShares: [], pairSeeds: [], ...value } },
});
const share = (owner: number, length = 32): pb.OwnedShare => ({ owner, share: fx.bytes(length, owner) });
const peer = (clientId: number, extra: Partial<pb.PeerKey> = {}): pb.PeerKey => ({
  clientId,
  cPk: fx.bytes(32, clientId),
  sPk: fx.bytes(32, clientId + 1),
  ...extra,
});
const peers = (list: pb.PeerKey[]): pb.ServerFrame => ({
  frame: { $case: 'peerKeys', value: { peers: list } },
});
const delivery = (list: pb.IncomingShare[]): pb.ServerFrame => ({
  frame: { $case: 'shareDelivery', value: { ciphertexts: list } },
});
const unmaskRequest = (value: Partial<pb.UnmaskRequest>): pb.ServerFrame => ({
  frame: { $case: 'unmaskRequest', value: { survivors: [1, 2, 3], dropped: [], ...value } },
});
const abort = (value: Partial<pb.Abort>): pb.ServerFrame => ({
  frame: {
    $case: 'abort',
    value: { reason: pb.AbortReason.ABORT_REASON_SERVER_ABORTED, refusal: 0, message: '', ...value },
  },
});

/** A valid announcement frame with its parameters changed. */
function announce(change: Partial<pb.RoundParameters>, clientId = 3): pb.ServerFrame {
  const valid = roundAnnouncementToFrame(fx.PARAMETERS, fx.SELF).frame?.value as pb.RoundAnnouncement;
  return {
    frame: {
      $case: 'roundAnnouncement',
      value: { clientId, parameters: { ...valid.parameters!, ...change }, task: new Uint8Array(0) },
    },
  };
}
const P = 'round_announcement.parameters';

describe('received client frames', () => {
  it('a frame with no case set', () => {
    rejects(() => parseC({}), 'decode', 'frame', /missing/);
  });

  it('bytes that are not a ClientFrame', () => {
    rejects(() => parseClientFrame(Uint8Array.of(0x0a, 0x05, 0x01)), 'decode', 'ClientFrame', /protobuf/);
  });

  it('check-in names: empty, over 255 bytes', () => {
    rejects(
      () => parseC({ frame: { $case: 'checkIn', value: { clientName: '' } } }),
      'decode',
      'check_in.client_name',
    );
    const long = 'x'.repeat(256);
    rejects(
      () => parseC({ frame: { $case: 'checkIn', value: { clientName: long } } }),
      'decode',
      'check_in.client_name',
    );
  });

  it('advertised keys of the wrong length', () => {
    rejects(
      () => parseC(advertise({ cPk: fx.bytes(31, 1) })),
      'decode',
      'advertise_keys.c_pk',
      /32 bytes, got 31/,
    );
    rejects(
      () => parseC(advertise({ sPk: fx.bytes(33, 1) })),
      'decode',
      'advertise_keys.s_pk',
      /32 bytes, got 33/,
    );
    rejects(() => parseC(advertise({ cPk: new Uint8Array(0) })), 'decode', 'advertise_keys.c_pk', /got 0/);
    rejects(
      () => parseC(advertise({ signature: fx.bytes(63, 1) })),
      'decode',
      'advertise_keys.signature',
      /64/,
    );
  });

  it('a present but empty signature is not an absent one', () => {
    rejects(
      () => parseC(advertise({ signature: new Uint8Array(0) })),
      'decode',
      'advertise_keys.signature',
      /got 0/,
    );
  });

  it('encrypted shares: commitment and ciphertext lengths', () => {
    rejects(() => parseC(shares({ bCommit: fx.bytes(31, 1) })), 'decode', 'encrypted_shares.b_commit', /32/);
    rejects(
      () => parseC(shares({ ciphertexts: [{ recipient: 1, ciphertext: fx.bytes(87, 1) }] })),
      'decode',
      'encrypted_shares.ciphertexts[0].ciphertext',
      /88 bytes, got 87/,
    );
  });

  it('encrypted shares: recipients unsorted, repeated, 0, or the sender itself', () => {
    const c = (recipient: number) => ({ recipient, ciphertext: fx.bytes(88, recipient) });
    rejects(
      () => parseC(shares({ ciphertexts: [c(2), c(1)] })),
      'decode',
      'encrypted_shares.ciphertexts[1].recipient',
    );
    rejects(
      () => parseC(shares({ ciphertexts: [c(1), c(2), c(2)] })),
      'decode',
      'encrypted_shares.ciphertexts[2].recipient',
      /repeats/,
    );
    rejects(
      () => parseC(shares({ ciphertexts: [c(0)] })),
      'decode',
      'encrypted_shares.ciphertexts[0].recipient',
      /0/,
    );
    rejects(
      () => parseC(shares({ ciphertexts: [c(3)] })),
      'decode',
      'encrypted_shares.ciphertexts[0].recipient',
      /sender/,
    );
  });

  it('encrypted shares before the client has an id', () => {
    rejects(
      () => parseClientFrame(pb.ClientFrame.encode(shares({})).finish()),
      'decode',
      'encrypted_shares',
      /before/,
    );
  });

  it('an empty masked-input chunk', () => {
    const frame: pb.ClientFrame = {
      frame: {
        $case: 'maskedInputChunk',
        value: { vectorIndex: 0, offset: 0, data: new Uint8Array(0), last: true },
      },
    };
    rejects(() => parseC(frame), 'decode', 'masked_input_chunk.data', /empty/);
  });

  it('a chunk offset beyond 2^53 (decoded as a number)', () => {
    const chunk = new BinaryWriter()
      .uint32(16)
      .uint64(2n ** 60n)
      .uint32(26)
      .bytes(Uint8Array.of(1))
      .finish();
    const frame = new BinaryWriter().uint32(34).bytes(chunk).finish();
    rejects(() => parseClientFrame(frame), 'decode', 'ClientFrame', /MAX_SAFE_INTEGER/);
  });

  it('a consistency signature of the wrong length', () => {
    rejects(
      () => parseC({ frame: { $case: 'consistencySignature', value: { signature: fx.bytes(65, 1) } } }),
      'decode',
      'consistency_signature.signature',
      /64 bytes, got 65/,
    );
  });

  it('unmask response: share and pair-seed lengths, unsorted, repeated and zero owners', () => {
    rejects(
      () => parseC(unmask({ selfMaskShares: [share(1, 31)] })),
      'decode',
      'unmask_response.self_mask_shares[0].share',
      /32 bytes, got 31/,
    );
    rejects(
      () => parseC(unmask({ selfMaskShares: [share(2), share(1)] })),
      'decode',
      'unmask_response.self_mask_shares[1].owner',
      /below/,
    );
    rejects(
      () => parseC(unmask({ keyShares: [share(4), share(4)] })),
      'decode',
      'unmask_response.key_shares[1].owner',
      /repeats/,
    );
    rejects(
      () => parseC(unmask({ keyShares: [share(0)] })),
      'decode',
      'unmask_response.key_shares[0].owner',
      /0/,
    );
    rejects(
      () => parseC(unmask({ pairSeeds: [{ peer: 3, seed: fx.bytes(33, 3) }] })),
      'decode',
      'unmask_response.pair_seeds[0].seed',
      /32 bytes, got 33/,
    );
    rejects(
      () =>
        parseC(
          unmask({
            pairSeeds: [
              { peer: 5, seed: fx.bytes(32, 5) },
              { peer: 3, seed: fx.bytes(32, 3) },
            ],
          }),
        ),
      'decode',
      'unmask_response.pair_seeds[1].peer',
      /below/,
    );
  });

  it('client aborts: unset reason, unknown reason, refusal missing or misplaced', () => {
    const a = (value: Partial<pb.Abort>): pb.ClientFrame => ({
      frame: abort(value).frame as pb.ClientFrame['frame'],
    });
    rejects(() => parseC(a({ reason: 0 })), 'decode', 'abort.reason', /not set/);
    rejects(() => parseC(a({ reason: 99 as pb.AbortReason })), 'decode', 'abort.reason', /unknown value 99/);
    rejects(
      () => parseC(a({ reason: pb.AbortReason.ABORT_REASON_CLIENT_REFUSED })),
      'decode',
      'abort.refusal',
    );
    rejects(
      () => parseC(a({ refusal: pb.RefusalReason.REFUSAL_REASON_BAD_SHARE })),
      'decode',
      'abort.refusal',
      /must not be set/,
    );
    rejects(() => parseC(a({ message: 'x'.repeat(1025) })), 'decode', 'abort.message', /1024/);
  });
});

describe('received server frames', () => {
  it('a frame with no case set, and bytes that are not a ServerFrame', () => {
    rejects(() => parseS({}), 'decode', 'frame', /missing/);
    rejects(() => parseServerFrame(Uint8Array.of(0xff)), 'decode', 'ServerFrame');
  });

  it('round announcement without parameters, graph or graph kind', () => {
    rejects(
      () =>
        parseS({ frame: { $case: 'roundAnnouncement', value: { clientId: 3, task: new Uint8Array(0) } } }),
      'decode',
      P,
      /missing/,
    );
    rejects(() => parseS(announce({ graph: undefined })), 'decode', `${P}.graph`, /missing/);
    rejects(() => parseS(announce({ graph: {} })), 'decode', `${P}.graph.kind`, /missing/);
  });

  it('round announcement: round 0, server model unset or unknown', () => {
    rejects(() => parseS(announce({ round: 0 })), 'decode', `${P}.round`);
    rejects(() => parseS(announce({ serverModel: 0 })), 'decode', `${P}.server_model`, /not set/);
    rejects(
      () => parseS(announce({ serverModel: 3 as pb.ServerModel })),
      'decode',
      `${P}.server_model`,
      /unknown/,
    );
  });

  it('round announcement: clients empty, unsorted, repeated, or 0; own id 0 or not a client', () => {
    rejects(() => parseS(announce({ clients: [] })), 'decode', `${P}.clients`, /empty/);
    rejects(() => parseS(announce({ clients: [1, 3, 2] })), 'decode', `${P}.clients[2]`, /below/);
    rejects(() => parseS(announce({ clients: [1, 3, 3] })), 'decode', `${P}.clients[2]`, /repeats/);
    rejects(() => parseS(announce({ clients: [0, 3] })), 'decode', `${P}.clients[0]`, /0/);
    rejects(() => parseS(announce({}, 0)), 'decode', 'round_announcement.client_id', /0/);
    rejects(() => parseS(announce({}, 4)), 'decode', 'round_announcement.client_id', /not one of/);
  });

  it('round announcement: the cohort — required and one per client in the malicious setting, absent in the semi-honest one', () => {
    const valid = (announce({}).frame?.value as pb.RoundAnnouncement).parameters!.cohort;
    const member = (i: number, change: Partial<pb.CohortMember>) =>
      valid.map((m, j) => (j === i ? { ...m, ...change } : m));
    rejects(
      () => parseS(announce({ cohort: [] })),
      'decode',
      `${P}.cohort`,
      /one entry per client \(5\), got 0/,
    );
    rejects(() => parseS(announce({ cohort: valid.slice(1) })), 'decode', `${P}.cohort`, /got 4/);
    rejects(
      () => parseS(announce({ cohort: member(2, { clientId: 4 }) })),
      'decode',
      `${P}.cohort[2].client_id`,
      /not clients\[2\] = 3/,
    );
    rejects(
      () => parseS(announce({ cohort: member(0, { clientId: 0 }) })),
      'decode',
      `${P}.cohort[0].client_id`,
      /0/,
    );
    rejects(
      () => parseS(announce({ cohort: member(1, { name: '' }) })),
      'decode',
      `${P}.cohort[1].name`,
      /1\.\.255/,
    );
    rejects(
      () => parseS(announce({ cohort: member(1, { name: 'x'.repeat(256) }) })),
      'decode',
      `${P}.cohort[1].name`,
      /1\.\.255/,
    );
    for (const length of [0, 31, 33]) {
      rejects(
        () => parseS(announce({ cohort: member(4, { identityKey: new Uint8Array(length) }) })),
        'decode',
        `${P}.cohort[4].identity_key`,
        new RegExp(`32 bytes, got ${length}`),
      );
    }
    rejects(
      () => parseS(announce({ serverModel: pb.ServerModel.SERVER_MODEL_SEMI_HONEST, maxCorruptClients: 0 })),
      'decode',
      `${P}.cohort`,
      /empty in the semi-honest setting/,
    );
    // Encoding checks the same: a coordinator cannot announce a malicious round without a cohort.
    rejects(
      () => roundAnnouncementToFrame({ ...fx.PARAMETERS, cohort: undefined }, fx.SELF),
      'encode',
      `${P}.cohort`,
      /one entry per client/,
    );
  });

  it('round announcement: vector specs', () => {
    const v = (name: string, length = 1, bits = 8): pb.VectorSpec => ({ name, length, bits });
    rejects(() => parseS(announce({ vectors: [] })), 'decode', `${P}.vectors`, /empty/);
    rejects(
      () => parseS(announce({ vectors: [v('b'), v('a')] })),
      'decode',
      `${P}.vectors[1].name`,
      /sorted/,
    );
    rejects(
      () => parseS(announce({ vectors: [v('a'), v('a')] })),
      'decode',
      `${P}.vectors[1].name`,
      /repeats/,
    );
    rejects(() => parseS(announce({ vectors: [v('')] })), 'decode', `${P}.vectors[0].name`, /1\.\.255/);
    rejects(
      () => parseS(announce({ vectors: [v('é'.repeat(128))] })),
      'decode',
      `${P}.vectors[0].name`,
      /256/,
    );
    rejects(() => parseS(announce({ vectors: [v('a', 0)] })), 'decode', `${P}.vectors[0].length`);
    // Above the core's maximum (2^28): the client would size buffers from it.
    rejects(
      () => parseS(announce({ vectors: [v('a', 2 ** 28 + 1)] })),
      'decode',
      `${P}.vectors[0].length`,
      /268435456/,
    );
    rejects(() => parseS(announce({ vectors: [v('a', 1, 0)] })), 'decode', `${P}.vectors[0].bits`);
    rejects(() => parseS(announce({ vectors: [v('a', 1, 33)] })), 'decode', `${P}.vectors[0].bits`);
  });

  it('vector names are ordered by UTF-8 bytes, not UTF-16 code units', () => {
    // JavaScript's string order (UTF-16 code units) puts U+1F600 (surrogate 0xD83D) before U+FF5E;
    // UTF-8 byte order (F0 > EF) puts it after, and PROTOCOL.md §2 sorts by UTF-8 bytes.
    const names = ['\u{FF5E}', '\u{1F600}'];
    const frame = announce({ vectors: names.map((name) => ({ name, length: 1, bits: 8 })) });
    assert.equal(parseS(frame).type, 'round');
    rejects(
      () => parseS(announce({ vectors: [...names].reverse().map((name) => ({ name, length: 1, bits: 8 })) })),
      'decode',
      `${P}.vectors[1].name`,
    );
  });

  it('peer keys: lengths, id order, id 0, signatures on some peers only', () => {
    rejects(
      () => parseS(peers([peer(1, { cPk: fx.bytes(31, 1) })])),
      'decode',
      'peer_keys.peers[0].c_pk',
      /31/,
    );
    rejects(
      () => parseS(peers([peer(1, { sPk: fx.bytes(0, 1) })])),
      'decode',
      'peer_keys.peers[0].s_pk',
      /got 0/,
    );
    rejects(
      () => parseS(peers([peer(1, { signature: fx.bytes(65, 1) })])),
      'decode',
      'peer_keys.peers[0].signature',
      /64/,
    );
    rejects(() => parseS(peers([peer(2), peer(1)])), 'decode', 'peer_keys.peers[1].client_id', /below/);
    rejects(() => parseS(peers([peer(2), peer(2)])), 'decode', 'peer_keys.peers[1].client_id', /repeats/);
    rejects(() => parseS(peers([peer(0)])), 'decode', 'peer_keys.peers[0].client_id', /0/);
    rejects(
      () => parseS(peers([peer(1, { signature: fx.bytes(64, 1) }), peer(2)])),
      'decode',
      'peer_keys.peers[1].signature',
      /every peer or on none/,
    );
  });

  it('share delivery: lengths, sender order, sender 0 or the recipient itself, no id yet', () => {
    const c = (sender: number, length = 88) => ({ sender, ciphertext: fx.bytes(length, sender) });
    rejects(() => parseS(delivery([c(1, 89)])), 'decode', 'share_delivery.ciphertexts[0].ciphertext', /88/);
    rejects(() => parseS(delivery([c(2), c(1)])), 'decode', 'share_delivery.ciphertexts[1].sender', /below/);
    rejects(
      () => parseS(delivery([c(1), c(1)])),
      'decode',
      'share_delivery.ciphertexts[1].sender',
      /repeats/,
    );
    rejects(() => parseS(delivery([c(0)])), 'decode', 'share_delivery.ciphertexts[0].sender', /0/);
    rejects(() => parseS(delivery([c(3)])), 'decode', 'share_delivery.ciphertexts[0].sender', /recipient/);
    rejects(
      () => parseServerFrame(pb.ServerFrame.encode(delivery([c(1)])).finish()),
      'decode',
      'share_delivery',
      /before/,
    );
  });

  it('consistency request: unsorted, repeated, zero survivors', () => {
    const req = (survivors: number[]): pb.ServerFrame => ({
      frame: { $case: 'consistencyRequest', value: { survivors } },
    });
    rejects(() => parseS(req([3, 1])), 'decode', 'consistency_request.survivors[1]', /below/);
    rejects(() => parseS(req([1, 1])), 'decode', 'consistency_request.survivors[1]', /repeats/);
    rejects(() => parseS(req([0])), 'decode', 'consistency_request.survivors[0]', /0/);
  });

  it('unmask request: survivors, dropped, signature lists', () => {
    rejects(() => parseS(unmaskRequest({ survivors: [2, 1] })), 'decode', 'unmask_request.survivors[1]');
    rejects(
      () => parseS(unmaskRequest({ dropped: [4, 4] })),
      'decode',
      'unmask_request.dropped[1]',
      /repeats/,
    );
    rejects(() => parseS(unmaskRequest({ dropped: [0] })), 'decode', 'unmask_request.dropped[0]', /0/);
    const sig = (clientId: number, length = 64) => ({ clientId, signature: fx.bytes(length, clientId) });
    const field = 'unmask_request.consistency_signatures.signatures';
    rejects(
      () => parseS(unmaskRequest({ consistencySignatures: { signatures: [sig(1, 63)] } })),
      'decode',
      `${field}[0].signature`,
      /64 bytes, got 63/,
    );
    rejects(
      () => parseS(unmaskRequest({ consistencySignatures: { signatures: [sig(2), sig(2)] } })),
      'decode',
      `${field}[1].client_id`,
      /repeats/,
    );
    rejects(
      () => parseS(unmaskRequest({ consistencySignatures: { signatures: [sig(0)] } })),
      'decode',
      `${field}[0].client_id`,
    );
  });

  it('unmask request: overlapping lists pass the wire layer (the core refuses them, PROTOCOL.md §4.5)', () => {
    const back = parseS(unmaskRequest({ survivors: [1, 2, 3], dropped: [2] }));
    assert.equal(back.type, 'unmask-request');
  });
});

describe('outgoing messages that cannot be encoded', () => {
  const frames = (message: ClientMessage) => [...clientMessageToFrames(message, CONTEXT)];

  it('client messages with wrong lengths, unsorted lists or foreign senders', () => {
    rejects(
      () => frames({ ...fx.ADVERTISE_SEMI_HONEST, cPk: fx.bytes(31, 1) }),
      'encode',
      'advertise_keys.c_pk',
      /31/,
    );
    rejects(
      () => frames({ ...fx.SHARES, ciphertexts: [...fx.SHARES.ciphertexts].reverse() }),
      'encode',
      'encrypted_shares.ciphertexts[1].recipient',
    );
    rejects(
      () =>
        frames({
          ...fx.SHARES,
          ciphertexts: [{ from: fx.id(9), to: fx.id(1), ciphertext: fx.bytes(88, 1) }],
        }),
      'encode',
      'encrypted_shares.ciphertexts[0]',
      /not from this client/,
    );
    rejects(
      () => frames({ ...fx.UNMASK, keyShares: [{ of: fx.id(1), share: 'x' as unknown as Uint8Array }] }),
      'encode',
      'unmask_response.key_shares[0].share',
      /bytes/,
    );
  });

  it('masked input that does not match the round', () => {
    const vectors = fx.maskedVectors();
    rejects(
      () => frames({ type: 'masked', vectors: vectors.slice(1) }),
      'encode',
      'masked_input.vectors',
      /2 vectors/,
    );
    rejects(
      () => frames({ type: 'masked', vectors: [vectors[0]!.subarray(1), vectors[1]!, vectors[2]!] }),
      'encode',
      'masked_input.vectors[0]',
      /4 elements/,
    );
    rejects(
      () => frames({ type: 'masked', vectors: [vectors[0]!, vectors[1]!, Uint32Array.of(8)] }),
      'encode',
      'masked_input.vectors[2]',
      /does not fit in 3 bits/,
    );
  });

  it('server messages with bad lists or a share delivery for someone else', () => {
    rejects(
      () =>
        serverMessageToFrame(
          { ...fx.DELIVERY, ciphertexts: [{ ...fx.DELIVERY.ciphertexts[0]!, to: fx.id(9) }] },
          fx.SELF,
        ),
      'encode',
      'share_delivery.ciphertexts[0]',
      /not to the recipient/,
    );
    rejects(
      () => serverMessageToFrame({ ...fx.CONSISTENCY_REQUEST, survivors: [fx.id(2), fx.id(1)] }, fx.SELF),
      'encode',
      'consistency_request.survivors[1]',
    );
    rejects(
      () =>
        serverMessageToFrame(
          { type: 'peer-keys', peers: [{ ...fx.PEER_KEYS.peers[0]!, id: fx.id(0) }] },
          fx.SELF,
        ),
      'encode',
      'peer_keys.peers[0].client_id',
    );
    rejects(
      () => serverMessageToFrame({ type: 'bogus' } as unknown as ServerMessage, fx.SELF),
      'encode',
      'message.type',
      /bogus/,
    );
  });

  it('aborts with unknown codes or a refusal code on a non-refusal', () => {
    rejects(
      () => clientAbortToFrame({ type: 'abort', code: 'oops', reason: '' } as unknown as WireAbort),
      'encode',
      'abort.reason',
    );
    rejects(
      () => clientAbortToFrame({ type: 'abort', code: 'server-aborted', refusal: 'bad-share', reason: '' }),
      'encode',
      'abort.refusal',
    );
    rejects(
      () => clientAbortToFrame({ type: 'abort', code: 'client-refused', reason: '' }),
      'encode',
      'abort.refusal',
    );
  });

  it('bad check-in names and round parameters', () => {
    rejects(() => checkInToFrame(''), 'encode', 'check_in.client_name');
    rejects(
      () => roundAnnouncementToFrame(fx.PARAMETERS, fx.id(4)),
      'encode',
      'round_announcement.client_id',
    );
    rejects(
      () => roundAnnouncementToFrame({ ...fx.PARAMETERS, vectors: [...fx.VECTORS].reverse() }, fx.SELF),
      'encode',
      `${P}.vectors[1].name`,
    );
    rejects(
      () => roundAnnouncementToFrame({ ...fx.PARAMETERS, round: 2 ** 32 }, fx.SELF),
      'encode',
      `${P}.round`,
    );
    rejects(
      () => roundAnnouncementToFrame({ ...fx.PARAMETERS, serverModel: 'honest' as 'malicious' }, fx.SELF),
      'encode',
      `${P}.server_model`,
    );
  });
});
