/**
 * The timed side of a benchmark round, in a worker thread of its own: the measured clients and every
 * lower-bound repetition. A real client runs in its own process, with a heap holding only its own
 * state; timing it inside the main thread, next to the server's n² shares and ciphertexts, would
 * charge it for garbage collections of the server's heap (addMask churns through 64 KiB keystream
 * Buffers, and V8 answers that external-memory pressure with full collections whose cost grows with
 * the live heap). So the measured clients live here, and so do the lower bounds, which thereby run in
 * a near-empty heap: the bare cost of the masks. Each timed section is preceded by {@link settle}.
 * @module
 */
import { SecAggClient } from '../../src/secagg/client.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import { type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import { maskBound } from './bound.ts';
import { benchInput } from './inputs.ts';
import { RpcWorker, serveRpc } from './rpc.ts';
import { settle } from './settle.ts';
import { type Timing, timed } from './timing.ts';

/** What the measured clients of one round need (structured-clonable). */
export interface MeasuredSetup {
  readonly paramsInput: RoundParamsInput;
  readonly ids: readonly number[];
  /** Prefix of each client's DeterministicRng label. */
  readonly rngLabel: string;
  readonly inputSeed: number;
}

type MeasuredRequest =
  | { readonly kind: 'init'; readonly setup: MeasuredSetup }
  | { readonly kind: 'start'; readonly id: ClientId }
  | { readonly kind: 'handle'; readonly id: ClientId; readonly message: ServerMessage }
  | { readonly kind: 'bound'; readonly count: number; readonly spec: VectorSpec };

interface MeasuredResponse {
  readonly timings: readonly Timing[];
  readonly reply?: ClientMessage;
}

const ROLE = 'measured';

/** Main-thread handle on the timing worker. */
export class MeasuredWorker {
  readonly #rpc = new RpcWorker<MeasuredRequest, MeasuredResponse>(import.meta.url, ROLE);

  /** Builds the measured clients; returns each constructor's time, in `setup.ids` order. */
  async init(setup: MeasuredSetup): Promise<readonly Timing[]> {
    return (await this.#rpc.call({ kind: 'init', setup })).timings;
  }

  async start(id: ClientId): Promise<{ reply: ClientMessage; timing: Timing }> {
    const r = await this.#rpc.call({ kind: 'start', id });
    return { reply: r.reply!, timing: r.timings[0]! };
  }

  async handle(id: ClientId, message: ServerMessage): Promise<{ reply?: ClientMessage; timing: Timing }> {
    const r = await this.#rpc.call({ kind: 'handle', id, message });
    return r.reply ? { reply: r.reply, timing: r.timings[0]! } : { timing: r.timings[0]! };
  }

  /** One repetition of {@link maskBound}. */
  async bound(count: number, spec: VectorSpec): Promise<Timing> {
    return (await this.#rpc.call({ kind: 'bound', count, spec })).timings[0]!;
  }

  close(): Promise<void> {
    return this.#rpc.close();
  }
}

// ---- worker side -------------------------------------------------------------------------------

const clients = new Map<ClientId, SecAggClient>();

serveRpc<MeasuredRequest, MeasuredResponse>(ROLE, async (request) => {
  switch (request.kind) {
    case 'init': {
      clients.clear();
      const { setup } = request;
      const params = roundParams(setup.paramsInput);
      const timings: Timing[] = [];
      for (const raw of setup.ids) {
        const id = raw as ClientId;
        const input = params.vectors.map((spec) => benchInput(spec, setup.inputSeed, id));
        const rng = new DeterministicRng(`${setup.rngLabel}/${id}`);
        await settle();
        const [client, t] = timed(() => new SecAggClient({ id, params, input, rng }));
        clients.set(id, client);
        timings.push(t);
      }
      return { body: { timings } };
    }
    case 'start': {
      await settle();
      const [reply, t] = timed(() => clients.get(request.id)!.start());
      return { body: { timings: [t], reply } };
    }
    case 'handle': {
      await settle();
      const [reply, t] = timed(() => clients.get(request.id)!.handle(request.message));
      // The masked vector is moved, not copied (the client no longer holds it).
      const transfer = reply?.type === 'masked' ? reply.vectors.map((v) => v.buffer as ArrayBuffer) : [];
      return { body: reply ? { timings: [t], reply } : { timings: [t] }, transfer };
    }
    case 'bound': {
      await settle();
      return { body: { timings: [maskBound(request.count, request.spec)] } };
    }
  }
});
