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
import { simulateRound } from '../../src/sim/round.ts';
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
  /**
   * bench:scale's row with Flower's parameters only: the threshold and survivor floor applied after
   * `roundParams`, as its coordinator does (bench/lib/scale-server.ts).
   */
  readonly unchecked?: { readonly threshold: number; readonly minSurvivors: number };
}

type MeasuredRequest =
  | { readonly kind: 'warm'; readonly length: number; readonly bits: number }
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

  /**
   * Warms the worker's JIT with three small rounds (n = 40, a Harary graph, dropouts at every stage)
   * through the same code the measured clients run, so that they are timed at steady state, as the
   * clients of a long-running process would be (bench:scale; bench:core warms up with a whole round).
   */
  async warm(length: number, bits: number): Promise<void> {
    await this.#rpc.call({ kind: 'warm', length, bits });
  }

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
    case 'warm': {
      const n = 40;
      for (let r = 1; r <= 3; r++) {
        const params = roundParams({
          round: r,
          serverModel: 'semi-honest',
          threshold: 5,
          maxCorruptClients: 0,
          clients: Array.from({ length: n }, (_, i) => i + 1),
          vectors: [{ name: 'warm-up', length: request.length, bits: request.bits }],
          graph: { kind: 'harary', degree: 8, minSurvivors: n - 7, securityBits: 40 },
        });
        const spec = params.vectors[0]!;
        simulateRound({
          params,
          inputs: new Map(params.clients.map((id) => [id, [benchInput(spec, r, id)]])),
          rngFor: (id) => new DeterministicRng(`bench/warm-up/${r}/${id}`),
          dropouts: new Map([
            [3 as ClientId, 'share'],
            [11 as ClientId, 'masked'],
            [23 as ClientId, 'unmask'],
          ]),
        });
      }
      return { body: { timings: [] } };
    }
    case 'init': {
      clients.clear();
      const { setup } = request;
      let params = roundParams(setup.paramsInput);
      if (setup.unchecked && params.graph.kind === 'harary') {
        const { threshold, minSurvivors } = setup.unchecked;
        params = Object.freeze({
          ...params,
          threshold,
          minSurvivors,
          graph: { ...params.graph, minSurvivors },
        });
      }
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
