/**
 * Fuzzing the frame decoders: whatever bytes arrive, parseClientFrame / parseServerFrame either
 * return a frame or throw a WireFormatError; nothing else escapes, nothing hangs or crashes.
 * Random bytes rarely get past the outer tag, so most runs mutate valid encodings of every frame kind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import {
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  MaskedInputAssembler,
  parseClientFrame,
  parseServerFrame,
  roundAnnouncementToFrame,
  serverMessageToFrame,
} from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';
import * as fx from './fixtures.ts';
import { mutate, mutation } from './mutations.ts';

const CONTEXT = { self: fx.SELF, vectors: fx.VECTORS, maxChunkBytes: 16 };

const CLIENT_SAMPLES: readonly Uint8Array[] = [
  checkInToFrame('device-1'),
  clientAbortToFrame({ type: 'abort', code: 'client-refused', refusal: 'bad-share', reason: 'share from 2' }),
  ...(
    [
      fx.ADVERTISE_SEMI_HONEST,
      fx.ADVERTISE_MALICIOUS,
      fx.SHARES,
      fx.CONSISTENCY,
      fx.UNMASK,
    ] as ClientMessage[]
  ).flatMap((m) => [...clientMessageToFrames(m, CONTEXT)]),
  ...clientMessageToFrames({ type: 'masked', vectors: fx.maskedVectors() }, CONTEXT),
].map((frame) => pb.ClientFrame.encode(frame).finish());

const SERVER_SAMPLES: readonly Uint8Array[] = [
  roundAnnouncementToFrame(fx.PARAMETERS, fx.SELF),
  ...(
    [
      fx.PEER_KEYS,
      fx.PEER_KEYS_UNSIGNED,
      fx.DELIVERY,
      fx.CONSISTENCY_REQUEST,
      fx.UNMASK_REQUEST_SEMI_HONEST,
      fx.UNMASK_REQUEST_MALICIOUS,
      { type: 'abort', reason: 'shutdown' },
    ] as ServerMessage[]
  ).map((m) => serverMessageToFrame(m, fx.SELF)),
].map((frame) => pb.ServerFrame.encode(frame).finish());

/** Parses `bytes`; the only acceptable failure is a WireFormatError about received data. */
function parsesOrRejects(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof WireFormatError, `unexpected ${String(error)}`);
    assert.equal(error.direction, 'decode');
  }
}

describe('decoder fuzzing', () => {
  it('every sample frame parses as it is', () => {
    for (const bytes of CLIENT_SAMPLES) parseClientFrame(bytes, fx.SELF);
    for (const bytes of SERVER_SAMPLES) parseServerFrame(bytes, fx.SELF);
  });

  it('random bytes → ClientFrame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, withSender) => {
        parsesOrRejects(() => parseClientFrame(bytes, withSender ? fx.SELF : undefined));
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes → ServerFrame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, withSelf) => {
        parsesOrRejects(() => parseServerFrame(bytes, withSelf ? fx.SELF : undefined));
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid ClientFrames', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CLIENT_SAMPLES),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (sample, edits) => {
          parsesOrRejects(() => {
            const frame = parseClientFrame(mutate(sample, edits), fx.SELF);
            if (frame.type === 'masked-chunk') new MaskedInputAssembler(fx.VECTORS).accept(frame);
          });
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('mutated valid ServerFrames', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SERVER_SAMPLES),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (sample, edits) => {
          parsesOrRejects(() => parseServerFrame(mutate(sample, edits), fx.SELF));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('hostile shapes: deep nesting, huge length prefixes, 64-bit offsets, unknown fields', () => {
    // 200 nested length-delimited field-1 values (the schema is not recursive, so the decoder reads
    // the outer two levels and treats the rest as string bytes).
    let nested = new Uint8Array(0);
    for (let i = 0; i < 200; i++) nested = Uint8Array.from([0x0a, ...varint(nested.length), ...nested]);
    const hostile = [
      nested,
      Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), // check_in claiming a 4 GiB body
      Uint8Array.of(0x22, 0x0b, 0x10, ...varint(2 ** 63), 0x1a, 0x00), // chunk offset 2^63
      Uint8Array.of(0xfa, 0x3f, 0x00), // unknown field 1023, empty
      Uint8Array.of(0x0b), // start-group tag
      Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), // overlong varint
    ];
    for (const bytes of hostile) {
      parsesOrRejects(() => parseClientFrame(bytes, fx.SELF));
      parsesOrRejects(() => parseServerFrame(bytes, fx.SELF));
    }
  });
});

/** Protobuf varint of a non-negative integer (may exceed 2^53 as a float; encoded via BigInt). */
function varint(value: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}
