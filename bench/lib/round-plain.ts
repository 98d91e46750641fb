/**
 * The plaintext baseline of `npm run bench:round` (benchmark harness only, not a product mode): the
 * same clients stream the same vector, bit-packed at the same width and cut into the same
 * MaskedInputChunk frames (1 MiB), to a server that just sums them. The server runs the
 * coordinator's transport path: strict frame parsing, the round announcement, the same upload slots
 * (`maxConcurrentUploads`, queued streams paused), the same MaskedInputAssembler, unpacking and ring
 * addition. What it leaves out is exactly the secure aggregation: keys, shares, masks, unmasking.
 * @module
 */
import { once } from 'node:events';
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  Metadata,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import type { ClientFrame, ServerFrame } from '../../src/gen/privagg/v1/secagg.ts';
import type { RoundParams } from '../../src/secagg/params.ts';
import { addInto, reduceInto } from '../../src/secagg/ring.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import {
  checkInToFrame,
  clientMessageToFrames,
  MaskedInputAssembler,
  parseClientFrame,
  parseServerFrame,
  roundAnnouncementToFrame,
} from '../../src/wire/convert.ts';
import { ParticipateClient } from '../../src/wire/service.ts';

type Call = ServerDuplexStream<Uint8Array, ServerFrame>;

interface PlainSession {
  readonly call: Call;
  name: string | undefined;
  id: ClientId | undefined;
  assembler: MaskedInputAssembler | undefined;
}

/** What a plaintext round gives back: the sums and the time from announcement to result. */
export interface PlainResult {
  readonly sums: readonly Uint32Array[];
  readonly totalMs: number;
}

/** A server that waits for `params.clients.length` check-ins, announces, and sums the inputs. */
export class PlainAggregator {
  readonly result: Promise<PlainResult>;
  readonly #params: RoundParams;
  readonly #maxConcurrentUploads: number;
  readonly #sessions: PlainSession[] = [];
  readonly #uploading = new Set<PlainSession>();
  readonly #queue: PlainSession[] = [];
  readonly #sums: Uint32Array[];
  #received = 0;
  #startedAt = 0;
  #resolve!: (result: PlainResult) => void;
  #reject!: (error: Error) => void;

  constructor(params: RoundParams, maxConcurrentUploads: number) {
    this.#params = params;
    this.#maxConcurrentUploads = maxConcurrentUploads;
    this.#sums = params.vectors.map((spec) => new Uint32Array(spec.length));
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The gRPC handler for Participate. */
  readonly handleParticipate = (call: Call): void => {
    const session: PlainSession = { call, name: undefined, id: undefined, assembler: undefined };
    call.on('data', (bytes: Uint8Array) => {
      try {
        this.#onFrame(session, bytes);
      } catch (error) {
        this.#reject(error as Error);
      }
    });
    call.on('error', () => {});
  };

  #onFrame(session: PlainSession, bytes: Uint8Array): void {
    const frame = parseClientFrame(bytes, session.id);
    if (frame.type === 'check-in') {
      session.name = frame.clientName;
      this.#sessions.push(session);
      if (this.#sessions.length === this.#params.clients.length) this.#announce();
      return;
    }
    if (frame.type !== 'masked-chunk') throw new Error(`plaintext round: unexpected '${frame.type}'`);
    if (!session.assembler) {
      session.assembler = new MaskedInputAssembler(this.#params.vectors);
      if (this.#uploading.size >= this.#maxConcurrentUploads) {
        session.call.pause();
        this.#queue.push(session);
      } else {
        this.#uploading.add(session);
      }
    }
    session.assembler.accept(frame);
    if (!session.assembler.complete) return;
    const { vectors } = session.assembler.message();
    vectors.forEach((v, i) => {
      addInto(this.#sums[i]!, v);
    });
    session.assembler = undefined;
    this.#uploading.delete(session);
    const next = this.#queue.shift();
    if (next) {
      this.#uploading.add(next);
      next.call.resume();
    }
    if (++this.#received === this.#sessions.length) this.#finish();
  }

  #announce(): void {
    this.#sessions.sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
    this.#startedAt = performance.now();
    this.#sessions.forEach((session, i) => {
      session.id = this.#params.clients[i]!;
      session.call.write(roundAnnouncementToFrame(this.#params, session.id));
    });
  }

  #finish(): void {
    this.#params.vectors.forEach((spec, i) => {
      reduceInto(this.#sums[i]!, spec.bits);
    });
    const totalMs = performance.now() - this.#startedAt;
    for (const session of this.#sessions) session.call.end();
    this.#resolve({ sums: this.#sums, totalMs });
  }
}

/**
 * A plaintext client: checks in, and on the announcement streams its input bit-packed in chunks of
 * `maxChunkBytes` with flow control (as the SDK streams its masked input); done when the server ends
 * the call.
 */
export async function plainParticipant(
  address: string,
  credentials: ChannelCredentials,
  name: string,
  input: (params: { vectors: RoundParams['vectors'] }) => readonly Uint32Array[],
  maxChunkBytes = 1 << 20,
): Promise<void> {
  const client = new ParticipateClient(address, credentials, {
    'grpc.max_receive_message_length': 16 << 20,
  });
  const call: ClientDuplexStream<ClientFrame, Uint8Array> = client.participate(new Metadata());
  try {
    await new Promise<void>((resolve, reject) => {
      call.on('error', reject);
      call.on('end', () => {
        call.end();
        resolve();
      });
      call.on('data', (bytes: Uint8Array) => {
        const frame = parseServerFrame(bytes);
        if (frame.type !== 'round') return reject(new Error(`plaintext client: unexpected '${frame.type}'`));
        const { vectors } = frame.parameters;
        void (async () => {
          const frames = clientMessageToFrames(
            { type: 'masked', vectors: [...input({ vectors })] },
            { self: frame.clientId, vectors, maxChunkBytes },
          );
          for (const out of frames) if (!call.write(out)) await once(call, 'drain');
        })().catch(reject);
      });
      call.write(checkInToFrame(name));
    });
  } finally {
    client.close();
  }
}
