/**
 * The non-measured clients of a benchmark round ("peers"): real {@link SecAggClient} state machines,
 * hosted in the main thread or spread over worker threads so that a 500-client round can be set up
 * in reasonable time. Peers are never timed; the main thread only routes their messages while it is
 * idle, and times the measured clients and the server while every worker is idle.
 *
 * Two modes:
 * - `full`: peers run with the round's real parameters and real inputs. Every masked vector is the
 *   real one, so the server's sum can be checked (used for the correctness runs).
 * - `shim`: peers run with the round's parameters except that every vector is 1 word long (same
 *   configuration hash, clients, threshold and graph, hence the same session id, keys, Shamir shares,
 *   share ciphertexts and pair seeds). They do every stage for real, but their masked-input stage
 *   expands 1-word masks instead of d-word ones, and the driver hands the server a stand-in vector of
 *   the right length in place of their 1-word masked input. The server's unmask cost does not depend
 *   on the values it sums, so its timing is exact; its sum is not meaningful and is not checked.
 * @module
 */
import { SecAggClient } from '../../src/secagg/client.ts';
import { ProtocolViolation, Refusal } from '../../src/secagg/errors.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import { type RoundParams, type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { benchInput } from './inputs.ts';
import { RpcWorker, serveRpc } from './rpc.ts';
import { collectGarbage } from './settle.ts';

export type PeerMode = 'shim' | 'full';

/** Everything a peer host needs to build its clients for one round (structured-clonable). */
export interface PeerSetup {
  readonly paramsInput: RoundParamsInput;
  readonly mode: PeerMode;
  readonly ids: readonly number[];
  /** Prefix of each client's DeterministicRng label. */
  readonly rngLabel: string;
  readonly inputSeed: number;
}

/** A server message for one peer. */
export interface Delivery {
  readonly to: ClientId;
  readonly message: ServerMessage;
}

/** A peer's answer: its reply (if any), or the error it raised. */
export interface Reply {
  readonly from: ClientId;
  readonly reply?: ClientMessage;
  readonly error?: string;
}

/** The round's parameters as shim peers see them: every vector cut to one word (see module doc). */
export function shimParams(params: RoundParams): RoundParams {
  return Object.freeze({
    ...params,
    vectors: Object.freeze(params.vectors.map((v) => Object.freeze({ ...v, length: 1 }))),
  });
}

/** One host's peers for one round. */
export class PeerGroup {
  readonly #clients = new Map<ClientId, SecAggClient>();

  constructor(setup: PeerSetup) {
    const real = roundParams(setup.paramsInput);
    const params = setup.mode === 'shim' ? shimParams(real) : real;
    for (const raw of setup.ids) {
      const id = raw as ClientId;
      const input = params.vectors.map((spec) =>
        setup.mode === 'shim' ? new Uint32Array(1) : benchInput(spec, setup.inputSeed, id),
      );
      const rng = new DeterministicRng(`${setup.rngLabel}/${id}`);
      this.#clients.set(id, new SecAggClient({ id, params, input, rng }));
    }
  }

  start(): Reply[] {
    return [...this.#clients].map(([from, client]) => ({ from, reply: client.start() }));
  }

  deliver(batch: readonly Delivery[]): Reply[] {
    return batch.map(({ to, message }) => {
      const client = this.#clients.get(to);
      if (!client) return { from: to, error: `no peer ${to} here` };
      try {
        const reply = client.handle(message);
        return reply ? { from: to, reply } : { from: to };
      } catch (error) {
        if (!(error instanceof Refusal || error instanceof ProtocolViolation)) throw error;
        return { from: to, error: `${error.name}: ${error.message}` };
      }
    });
  }
}

/** Where peers live: the main thread or a pool of workers. All methods resolve in the main thread. */
export interface PeerHost {
  /** Number of worker threads (0 = in-process). */
  readonly threads: number;
  init(setup: PeerSetup): Promise<void>;
  start(): Promise<Reply[]>;
  deliver(batch: readonly Delivery[]): Promise<Reply[]>;
  close(): Promise<void>;
}

/** Peers in the main thread (for `--workers 0`). */
export class InProcessPeers implements PeerHost {
  readonly threads = 0;
  #group: PeerGroup | undefined;

  async init(setup: PeerSetup): Promise<void> {
    this.#group = new PeerGroup(setup);
  }

  async start(): Promise<Reply[]> {
    return this.#group!.start();
  }

  async deliver(batch: readonly Delivery[]): Promise<Reply[]> {
    return this.#group!.deliver(batch);
  }

  async close(): Promise<void> {
    this.#group = undefined;
  }
}

type PeerRequest =
  | { readonly kind: 'init'; readonly setup: PeerSetup }
  | { readonly kind: 'start' }
  | { readonly kind: 'deliver'; readonly batch: readonly Delivery[] };

const ROLE = 'peers';

/** Peers spread round-robin over worker threads. */
export class WorkerPeers implements PeerHost {
  readonly threads: number;
  readonly #workers: RpcWorker<PeerRequest, Reply[]>[];
  #owner = new Map<number, number>();

  constructor(threads: number) {
    this.threads = threads;
    this.#workers = Array.from(
      { length: threads },
      () => new RpcWorker<PeerRequest, Reply[]>(import.meta.url, ROLE),
    );
  }

  async init(setup: PeerSetup): Promise<void> {
    const parts = this.#workers.map(() => [] as number[]);
    this.#owner = new Map();
    setup.ids.forEach((id, i) => {
      parts[i % this.threads]!.push(id);
      this.#owner.set(id, i % this.threads);
    });
    await Promise.all(
      parts.map((ids, w) => this.#workers[w]!.call({ kind: 'init', setup: { ...setup, ids } })),
    );
  }

  async start(): Promise<Reply[]> {
    const all = await Promise.all(this.#workers.map((w) => w.call({ kind: 'start' })));
    return all.flat();
  }

  async deliver(batch: readonly Delivery[]): Promise<Reply[]> {
    const parts = this.#workers.map(() => [] as Delivery[]);
    for (const item of batch) parts[this.#owner.get(item.to)!]!.push(item);
    const all = await Promise.all(
      parts.map((part, w) =>
        part.length === 0 ? Promise.resolve([]) : this.#workers[w]!.call({ kind: 'deliver', batch: part }),
      ),
    );
    return all.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.close()));
  }
}

// ---- worker side -------------------------------------------------------------------------------

let group: PeerGroup | undefined;
serveRpc<PeerRequest, Reply[]>(ROLE, async (request) => {
  let replies: Reply[] = [];
  if (request.kind === 'init') group = new PeerGroup(request.setup);
  else if (request.kind === 'start') replies = group!.start();
  else replies = group!.deliver(request.batch);
  // Collect now, so this worker is idle (not collecting) while the main thread times its work.
  collectGarbage();
  // Masked vectors are moved, not copied.
  const transfer: ArrayBuffer[] = [];
  for (const r of replies) {
    if (r.reply?.type === 'masked') for (const v of r.reply.vectors) transfer.push(v.buffer as ArrayBuffer);
  }
  return { body: replies, transfer };
});
