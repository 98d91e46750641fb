/**
 * An in-memory round simulator: one {@link SecAggServer} and many {@link SecAggClient}s joined by a
 * perfect in-process network, with dropouts injected at chosen stages. It runs the real state
 * machines, so tests, benchmarks and the `npm start` demo exercise exactly the code the gRPC service
 * runs.
 * @module
 */
import { SecAggClient } from '../secagg/client.ts';
import { Ed25519Signer } from '../secagg/crypto/ed25519.ts';
import { ProtocolViolation, Refusal } from '../secagg/errors.ts';
import { type ClientMessage, type ServerMessage, STAGE_ENTERED, type Stage } from '../secagg/messages.ts';
import type { RoundParams } from '../secagg/params.ts';
import { type RoundResult, SecAggServer } from '../secagg/server.ts';
import type { ClientId, Rng } from '../secagg/types.ts';

/** Options for {@link simulateRound}. */
export interface SimulationOptions {
  readonly params: RoundParams;
  /** Each client's input vectors, in `params.vectors` order. */
  readonly inputs: ReadonlyMap<ClientId, readonly Uint32Array[]>;
  /**
   * Randomness for each client, called once per client: the one stream yields the client's identity
   * key (malicious setting) and then everything the client draws.
   */
  readonly rngFor: (id: ClientId) => Rng;
  /** Clients that vanish on entering a stage: they never send that stage's message. */
  readonly dropouts?: ReadonlyMap<ClientId, Stage>;
  /** Reads a monotonic clock in ms, to time client and server work; omit for no timing. */
  readonly clock?: () => number;
  /** Lets a test rewrite (or swallow, by returning undefined) any server → client message. */
  readonly tamper?: (to: ClientId, message: ServerMessage) => ServerMessage | undefined;
  /** Sees every client → server message (for tests and test vectors). */
  readonly observe?: (from: ClientId, message: ClientMessage) => void;
  /**
   * Lets a test play a hostile client: rewrite (or swallow, by returning undefined) any client →
   * server message after the client produced it and before the server sees it. A swallowed message
   * leaves its client silent for that stage, as one that stalls.
   */
  readonly forge?: (from: ClientId, message: ClientMessage) => ClientMessage | undefined;
}

/** What happened in a simulated round. */
export interface SimulationReport {
  readonly result: RoundResult;
  readonly clients: ReadonlyMap<ClientId, SecAggClient>;
  /** Errors each client raised (refusals, violations), by client. */
  readonly clientErrors: ReadonlyMap<ClientId, Error>;
  /** Server-side protocol violations, in order. */
  readonly violations: readonly ProtocolViolation[];
  /** Milliseconds each client spent computing (with `clock`). */
  readonly clientMs: ReadonlyMap<ClientId, number>;
  /** Milliseconds the server spent computing (with `clock`). */
  readonly serverMs: number;
  /** Bytes-free count of messages each way, for sanity checks. */
  readonly messages: { readonly toServer: number; readonly toClients: number };
}

/** Runs one round to completion and reports the outcome. */
export function simulateRound(options: SimulationOptions): SimulationReport {
  const { params, dropouts = new Map(), clock } = options;
  const time = <T>(f: () => T): [T, number] => {
    if (!clock) return [f(), 0];
    const start = clock();
    const value = f();
    return [value, clock() - start];
  };

  // One stream per client: calling rngFor twice could hand out the same bytes twice (key reuse).
  const rngs = new Map(params.clients.map((id) => [id, options.rngFor(id)]));
  let identities: Map<ClientId, Ed25519Signer> | undefined;
  if (params.serverModel === 'malicious') {
    identities = new Map(params.clients.map((id) => [id, Ed25519Signer.generate(rngs.get(id)!)]));
  }
  const publicIdentities = identities && new Map([...identities].map(([id, s]) => [id, s.publicKey]));
  const server = new SecAggServer({ params, identities: publicIdentities });
  const clients = new Map<ClientId, SecAggClient>();
  const clientErrors = new Map<ClientId, Error>();
  const clientMs = new Map<ClientId, number>();
  const violations: ProtocolViolation[] = [];
  const gone = new Set<ClientId>();
  let serverMs = 0;
  let toServer = 0;
  let toClients = 0;
  const now = 0;

  const serverDo = (f: () => void) => {
    try {
      serverMs += time(f)[1];
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      violations.push(error);
    }
  };
  const deliverToServer = (from: ClientId, produced: ClientMessage) => {
    const message = options.forge ? options.forge(from, produced) : produced;
    if (!message) return;
    toServer++;
    options.observe?.(from, message);
    serverDo(() => server.handle(from, message, now));
  };
  const disconnect = (id: ClientId) => {
    gone.add(id);
    serverDo(() => server.handleDisconnect(id, now));
  };

  serverDo(() => server.start(now));
  for (const id of params.clients) {
    const [client, ms] = time(
      () =>
        new SecAggClient({
          id,
          params,
          input: options.inputs.get(id) ?? [],
          rng: rngs.get(id)!,
          identity: identities?.get(id),
          peerIdentities: publicIdentities,
        }),
    );
    clients.set(id, client);
    clientMs.set(id, ms);
    if (dropouts.get(id) === 'advertise') {
      disconnect(id);
      continue;
    }
    const [advert, ms2] = time(() => client.start());
    clientMs.set(id, ms + ms2);
    deliverToServer(id, advert);
  }

  while (!server.result) {
    const outgoing = server.pollTransmit();
    if (!outgoing) {
      // Nothing in flight: the stage's deadline passes.
      serverDo(() => server.closeStage(now));
      continue;
    }
    toClients++;
    const { to } = outgoing;
    if (gone.has(to)) continue;
    const message = options.tamper ? options.tamper(to, outgoing.message) : outgoing.message;
    if (!message) continue;
    if (message.type !== 'abort' && dropouts.get(to) === STAGE_ENTERED[message.type]) {
      disconnect(to);
      continue;
    }
    const client = clients.get(to)!;
    let reply: ClientMessage | undefined;
    try {
      const [value, ms] = time(() => client.handle(message));
      reply = value;
      clientMs.set(to, clientMs.get(to)! + ms);
    } catch (error) {
      if (!(error instanceof Refusal || error instanceof ProtocolViolation)) throw error;
      clientErrors.set(to, error);
      disconnect(to);
      continue;
    }
    if (reply) deliverToServer(to, reply);
  }
  // Let clients see the abort (or nothing) that is still queued.
  for (let outgoing = server.pollTransmit(); outgoing; outgoing = server.pollTransmit()) {
    if (!gone.has(outgoing.to) && outgoing.message.type === 'abort')
      clients.get(outgoing.to)!.handle(outgoing.message);
  }
  return {
    result: server.result,
    clients,
    clientErrors,
    violations,
    clientMs,
    serverMs,
    messages: { toServer, toClients },
  };
}
