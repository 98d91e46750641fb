/**
 * A round simulator for large cohorts (10,000 clients and more): the real {@link SecAggClient} and
 * {@link SecAggServer} state machines, in process, without gRPC, with memory that stays O(vector
 * length + n·k) however many clients take part.
 *
 * It differs from `round.ts` (which tests use for small rounds) in three ways:
 * - a client's input is produced only when that client is about to mask it (`input(id)` is called
 *   just before the client handles its share delivery, outside the client's timed work), so at most
 *   one plaintext and a batch of masked vectors exist at a time: 10,000 clients × 100k words would
 *   otherwise be 4 GB before the round starts;
 * - the coordinator is behind an asynchronous {@link SimServer}: in process ({@link localServer},
 *   optionally unmasking on an executor such as the coordinator's worker pool) or anywhere else — the
 *   scale benchmark runs it in a child process to measure its CPU time and peak memory on their own;
 * - it times every client call and reports per-client totals (`clientMs`), next to the server's.
 *
 * The network is perfect and the clock does not move: a stage closes when every client still in it
 * has answered, or — when nothing is in flight — at once (its deadline has passed). Clients listed in
 * `dropouts` vanish on entering that stage; a client that refuses a request is dropped, as over gRPC.
 * @module
 */
import { SecAggClient } from '../secagg/client.ts';
import { ProtocolViolation, Refusal } from '../secagg/errors.ts';
import { type ClientMessage, type ServerMessage, STAGE_ENTERED, type Stage } from '../secagg/messages.ts';
import type { RoundParams } from '../secagg/params.ts';
import { type Outgoing, type RoundResult, SecAggServer } from '../secagg/server.ts';
import type { ClientId, Rng } from '../secagg/types.ts';
import type { UnmaskExecutor } from '../secagg/unmask-plan.ts';
import { collectPerBytes, DEAD_INPUT_BYTES_PER_COLLECTION } from '../server/young-gc.ts';

/** Something that happened at a client, for the server: a message, or a lost connection. */
export type SimEvent =
  | { readonly kind: 'message'; readonly from: ClientId; readonly message: ClientMessage }
  | { readonly kind: 'disconnect'; readonly from: ClientId };

/** How a simulated round ended, as plain data (it may cross a process boundary). */
export type SimOutcome =
  | {
      readonly status: 'ok';
      readonly sums: readonly Uint32Array[];
      readonly survivors: readonly ClientId[];
      readonly dropped: ReadonlyMap<ClientId, Stage>;
    }
  | {
      readonly status: 'aborted';
      readonly reason: string;
      readonly dropped: ReadonlyMap<ClientId, Stage>;
    };

/** What the server queued after a batch of events, and the outcome once the round has ended. */
export interface SimReply {
  readonly outgoing: readonly Outgoing[];
  readonly outcome?: SimOutcome;
  /** Protocol violations the server saw in this batch (their messages; the clients were dropped). */
  readonly violations: readonly string[];
}

/** The coordinator of a simulated round. Calls are sequential: the driver awaits each. */
export interface SimServer {
  /** Opens the advertise stage. */
  start(): Promise<SimReply>;
  /** Feeds events in order; resolves with what the server queued meanwhile (and the outcome). */
  exchange(events: readonly SimEvent[]): Promise<SimReply>;
  /** Nothing is in flight: the open stage's deadline passes. */
  closeStage(): Promise<SimReply>;
}

/** Process CPU time (user + system, every thread) in ms: a `cpuClock`. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Converts the core's result to a {@link SimOutcome}. */
export function simOutcome(result: RoundResult): SimOutcome {
  return result.status === 'ok'
    ? { status: 'ok', sums: result.sums, survivors: result.survivors, dropped: result.dropped }
    : { status: 'aborted', reason: result.error.message, dropped: result.dropped };
}

/** Options for {@link localServer}. */
export interface LocalServerOptions {
  /** Runs the unmask plan (e.g. a worker pool); default inline on this thread. */
  readonly unmask?: UnmaskExecutor;
  /** A monotonic clock in ms: the server's compute time is summed into `stats.serverMs`. */
  readonly clock?: () => number;
  /**
   * A CPU-time clock in ms (e.g. process CPU time): summed into `stats.serverCpuMs`. Unlike wall
   * time it barely moves when other processes compete for the cores.
   */
  readonly cpuClock?: () => number;
}

/** A {@link SimServer} in this process, with the time it spent. */
export interface LocalServer extends SimServer {
  readonly server: SecAggServer;
  /**
   * Milliseconds spent in the state machine and the unmask executor: wall (with `clock`) and CPU
   * (with `cpuClock`), and of each the unmask executor's part.
   */
  readonly stats: { serverMs: number; unmaskMs: number; serverCpuMs: number; unmaskCpuMs: number };
}

/**
 * The coordinator's state machine in this process.
 * @param params - the round
 * @param options - unmask executor and clock
 */
export function localServer(params: RoundParams, options: LocalServerOptions = {}): LocalServer {
  const server = new SecAggServer({ params, unmask: options.unmask ? 'external' : 'inline' });
  const { clock, cpuClock } = options;
  const stats = { serverMs: 0, unmaskMs: 0, serverCpuMs: 0, unmaskCpuMs: 0 };
  const violations: string[] = [];
  // As the gRPC coordinator does: a young-generation collection after every few inputs summed, so
  // dead inputs do not pile up (young-gc.ts).
  const droppedInput = collectPerBytes(DEAD_INPUT_BYTES_PER_COLLECTION);
  const timed = (f: () => void) => {
    const start = clock?.() ?? 0;
    const cpuStart = cpuClock?.() ?? 0;
    try {
      f();
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      violations.push(error.message);
    } finally {
      if (clock) stats.serverMs += clock() - start;
      if (cpuClock) stats.serverCpuMs += cpuClock() - cpuStart;
    }
  };
  const reply = async (): Promise<SimReply> => {
    const plan = server.pendingUnmask;
    if (plan && options.unmask) {
      const start = clock?.() ?? 0;
      const cpuStart = cpuClock?.() ?? 0;
      let correction: readonly Uint32Array[] | undefined;
      try {
        correction = await options.unmask(plan);
      } catch (error) {
        server.failUnmask(`unmask executor failed: ${(error as Error).message}`);
      }
      if (correction) server.completeUnmask(correction);
      if (clock) {
        const ms = clock() - start;
        stats.unmaskMs += ms;
        stats.serverMs += ms;
      }
      if (cpuClock) {
        const ms = cpuClock() - cpuStart;
        stats.unmaskCpuMs += ms;
        stats.serverCpuMs += ms;
      }
    }
    const outgoing: Outgoing[] = [];
    for (let out = server.pollTransmit(); out; out = server.pollTransmit()) outgoing.push(out);
    const result = server.result;
    return {
      outgoing,
      violations: violations.splice(0),
      ...(result && { outcome: simOutcome(result) }),
    };
  };
  return {
    server,
    stats,
    start: async () => {
      timed(() => server.start(0));
      return reply();
    },
    exchange: async (events) => {
      for (const event of events) {
        timed(() => {
          if (event.kind === 'message') {
            server.handle(event.from, event.message, 0);
            if (event.message.type === 'masked') {
              droppedInput(event.message.vectors.reduce((n, v) => n + v.byteLength, 0));
            }
          } else server.handleDisconnect(event.from, 0);
        });
      }
      return reply();
    },
    closeStage: async () => {
      timed(() => server.closeStage(0));
      return reply();
    },
  };
}

/**
 * Clients that run elsewhere — e.g. a few clients timed in a worker thread of their own, whose heap
 * holds only their state (in this process they would pay for garbage collections of every other
 * simulated client's). The driver sends them their messages and forwards their replies; their
 * inputs and randomness are their own business. A rejected call counts as a refusal: the client is
 * dropped.
 */
export interface ExternalClients {
  readonly ids: ReadonlySet<ClientId>;
  start(id: ClientId): Promise<ClientMessage>;
  handle(id: ClientId, message: ServerMessage): Promise<ClientMessage | undefined>;
}

/** Options for {@link simulateLargeRound}. */
export interface LargeRoundOptions {
  readonly params: RoundParams;
  /**
   * Client `id`'s input vectors (in `params.vectors` order), called at most once, just before the
   * client handles its share delivery (the message it masks its input on); not timed. The client
   * takes the vectors over (they become its masked input).
   */
  readonly input: (id: ClientId) => readonly Uint32Array[];
  /** Randomness for each client, called once per client. Semi-honest rounds only. */
  readonly rngFor: (id: ClientId) => Rng;
  /** Clients that vanish on entering a stage. */
  readonly dropouts?: ReadonlyMap<ClientId, Stage>;
  /** The coordinator; default {@link localServer} with inline unmasking. */
  readonly server?: SimServer;
  /** A monotonic clock in ms, to time each client's calls (`clientMs`). */
  readonly clock?: () => number;
  /** A CPU-time clock in ms, to time each client's calls on it too (`clientCpuMs`). */
  readonly cpuClock?: () => number;
  /**
   * Events for the server are sent in batches of at most this many bytes of masked input (default
   * 64 MiB), so the driver never holds more than that many masked vectors at once.
   */
  readonly maxBatchBytes?: number;
  /** Clients run elsewhere (not constructed here, not in `clientMs`). */
  readonly external?: ExternalClients;
}

/** What happened in a large simulated round. */
export interface LargeRoundReport {
  readonly outcome: SimOutcome;
  /** Milliseconds each client spent in its own calls (construction, start, handle), by client. */
  readonly clientMs: ReadonlyMap<ClientId, number>;
  /** The same on `cpuClock` (empty without one). */
  readonly clientCpuMs: ReadonlyMap<ClientId, number>;
  /** Refusals and violations each client raised, by client. */
  readonly clientErrors: ReadonlyMap<ClientId, Error>;
  /** Protocol violations the server reported. */
  readonly violations: readonly string[];
  /** Client states at the end (`done`, `aborted`, `failed`, …), counted. */
  readonly clientStates: Readonly<Record<string, number>>;
}

/**
 * Runs one round to completion through the real state machines and reports what happened.
 * @throws whatever the state machines throw that is not a {@link Refusal} or
 *   {@link ProtocolViolation} (a bug), and errors of the `server`
 */
export async function simulateLargeRound(options: LargeRoundOptions): Promise<LargeRoundReport> {
  const { params, clock, cpuClock } = options;
  if (params.serverModel !== 'semi-honest') {
    throw new RangeError('simulateLargeRound runs semi-honest rounds (use sim/round.ts for malicious ones)');
  }
  const dropouts = options.dropouts ?? new Map<ClientId, Stage>();
  const server = options.server ?? localServer(params);
  const maxBatchBytes = options.maxBatchBytes ?? 64 << 20;
  const clientMs = new Map<ClientId, number>();
  const clientCpuMs = new Map<ClientId, number>();
  const clientErrors = new Map<ClientId, Error>();
  const violations: string[] = [];
  const clients = new Map<ClientId, SecAggClient>();
  const gone = new Set<ClientId>();
  /** Inputs produced for clients about to mask, taken by the client's input source. */
  const prepared = new Map<ClientId, readonly Uint32Array[]>();
  const inputOf = (id: ClientId) => () => {
    const input = prepared.get(id);
    prepared.delete(id);
    if (!input) throw new Error(`no input was prepared for client ${id}`);
    return input;
  };
  const timed = <T>(id: ClientId, f: () => T): T => {
    const start = clock?.() ?? 0;
    const cpuStart = cpuClock?.() ?? 0;
    try {
      return f();
    } finally {
      if (clock) clientMs.set(id, (clientMs.get(id) ?? 0) + clock() - start);
      if (cpuClock) clientCpuMs.set(id, (clientCpuMs.get(id) ?? 0) + cpuClock() - cpuStart);
    }
  };

  let outcome: SimOutcome | undefined;
  let inbox: Outgoing[] = [];
  const take = (reply: SimReply) => {
    violations.push(...reply.violations);
    inbox.push(...reply.outgoing);
    if (reply.outcome) outcome = reply.outcome;
  };

  // Events go out in batches; a batch is flushed once it holds maxBatchBytes of masked input.
  let batch: SimEvent[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    batchBytes = 0;
    take(await server.exchange(events));
  };
  const send = async (event: SimEvent) => {
    batch.push(event);
    if (event.kind === 'message' && event.message.type === 'masked') {
      for (const v of event.message.vectors) batchBytes += v.byteLength;
      if (batchBytes >= maxBatchBytes) await flush();
    }
  };
  const drop = async (id: ClientId) => {
    gone.add(id);
    await send({ kind: 'disconnect', from: id });
  };

  const external = options.external;
  take(await server.start());
  for (const id of params.clients) {
    if (external?.ids.has(id)) {
      if (dropouts.get(id) === 'advertise') await drop(id);
      else await send({ kind: 'message', from: id, message: await external.start(id) });
      continue;
    }
    const client = timed(
      id,
      () => new SecAggClient({ id, params, input: inputOf(id), rng: options.rngFor(id) }),
    );
    clients.set(id, client);
    if (dropouts.get(id) === 'advertise') {
      await drop(id);
      continue;
    }
    await send({ kind: 'message', from: id, message: timed(id, () => client.start()) });
  }
  await flush();

  while (!outcome) {
    if (inbox.length === 0) {
      take(await server.closeStage());
      continue;
    }
    const delivering = inbox;
    inbox = [];
    for (const { to, message } of delivering) {
      if (gone.has(to)) continue;
      if (external?.ids.has(to)) {
        if (message.type !== 'abort' && dropouts.get(to) === STAGE_ENTERED[message.type]) {
          await drop(to);
          continue;
        }
        let reply: ClientMessage | undefined;
        try {
          reply = await external.handle(to, message);
        } catch (error) {
          if (message.type === 'abort') continue;
          clientErrors.set(to, error as Error);
          await drop(to);
          continue;
        }
        if (reply) await send({ kind: 'message', from: to, message: reply });
        continue;
      }
      const client = clients.get(to)!;
      if (message.type === 'abort') {
        client.handle(message);
        continue;
      }
      if (dropouts.get(to) === STAGE_ENTERED[message.type]) {
        await drop(to);
        continue;
      }
      if (message.type === 'share-delivery') prepared.set(to, options.input(to));
      let reply: ClientMessage | undefined;
      try {
        reply = timed(to, () => client.handle(message));
      } catch (error) {
        prepared.delete(to);
        if (!(error instanceof Refusal || error instanceof ProtocolViolation)) throw error;
        clientErrors.set(to, error);
        await drop(to);
        continue;
      }
      if (reply) await send({ kind: 'message', from: to, message: reply });
    }
    await flush();
  }
  // Aborts queued with the outcome.
  for (const { to, message } of inbox) {
    if (gone.has(to) || message.type !== 'abort') continue;
    if (external?.ids.has(to)) await external.handle(to, message).catch(() => undefined);
    else clients.get(to)!.handle(message);
  }
  const clientStates: Record<string, number> = {};
  for (const client of clients.values()) clientStates[client.state] = (clientStates[client.state] ?? 0) + 1;
  return { outcome, clientMs, clientCpuMs, clientErrors, violations, clientStates };
}
