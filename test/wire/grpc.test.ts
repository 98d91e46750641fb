/**
 * The generated grpc-js service over a real loopback connection, with grpc-js's default 4 MiB
 * message limit: check-in, round announcement, and a 10M-element masked vector streamed in chunks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import type { VectorSpec } from '../../src/secagg/types.ts';
import {
  checkInToFrame,
  clientFrameFromWire,
  clientMessageToFrames,
  type InboundServerFrame,
  MaskedInputAssembler,
  roundAnnouncementToFrame,
  serverFrameFromWire,
  serverMessageToFrame,
} from '../../src/wire/convert.ts';
import * as fx from './fixtures.ts';

const LENGTH = 10_000_000;
const SPEC: VectorSpec = { name: 'model', length: LENGTH, bits: 32 };
const PARAMETERS = { ...fx.PARAMETERS, vectors: [SPEC] };

describe('SecureAggregation over grpc-js (loopback)', () => {
  let server: grpc.Server;
  let client: pb.SecureAggregationClient;

  before(async () => {
    server = new grpc.Server();
    const participate: grpc.handleBidiStreamingCall<pb.ClientFrame, pb.ServerFrame> = (call) => {
      const assembler = new MaskedInputAssembler(PARAMETERS.vectors);
      call.on('data', (frame: pb.ClientFrame) => {
        const inbound = clientFrameFromWire(frame, fx.SELF);
        if (inbound.type === 'check-in') {
          call.write(roundAnnouncementToFrame(PARAMETERS, fx.SELF));
        } else if (inbound.type === 'masked-chunk') {
          assembler.accept(inbound);
          if (assembler.complete) {
            // Echo a checksum of the sum back as an abort message, the only free-text server frame.
            const vector = assembler.message().vectors[0]!;
            let sum = 0;
            for (let i = 0; i < vector.length; i += 9973) sum = (sum + vector[i]!) % 1_000_003;
            call.write(
              serverMessageToFrame({ type: 'abort', code: 'server-aborted', reason: `sum ${sum}` }, fx.SELF),
            );
            call.end();
          }
        }
      });
    };
    server.addService(pb.SecureAggregationService, { participate });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    client = new pb.SecureAggregationClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  it('announces the round after check-in and receives a 10M-element vector in chunks', async () => {
    const values = new Uint32Array(LENGTH);
    for (let i = 0; i < LENGTH; i++) values[i] = Math.imul(i + 1, 2_654_435_761) >>> 0;
    let expected = 0;
    for (let i = 0; i < LENGTH; i += 9973) expected = (expected + values[i]!) % 1_000_003;

    const received: InboundServerFrame[] = [];
    const call = client.participate(new grpc.Metadata());
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (frame: pb.ServerFrame) => {
        const inbound = serverFrameFromWire(frame, fx.SELF);
        received.push(inbound);
        if (inbound.type === 'round') {
          const context = { self: inbound.clientId, vectors: inbound.parameters.vectors };
          for (const out of clientMessageToFrames({ type: 'masked', vectors: [values] }, context))
            call.write(out);
          call.end();
        }
      });
      call.on('error', reject);
      call.on('end', resolve);
    });
    call.write(checkInToFrame('device-1'));
    await done;

    assert.deepEqual(received[0], { type: 'round', clientId: fx.SELF, parameters: PARAMETERS });
    assert.deepEqual(received[1], { type: 'abort', code: 'server-aborted', reason: `sum ${expected}` });
  });
});
