/**
 * A coordinator that cheats, for tests: a gRPC server speaking the real wire protocol (the generated
 * stubs' service, the strict converters of src/wire) to real `Participant`s. It runs the honest
 * protocol core (`SecAggServer`) and passes every message the core sends through an {@link Attack}
 * (attacks.ts) on its way to each client, or announces parameters other than the ones it runs. With
 * no attack it is an honest coordinator, so the same server shows that the honest path completes
 * with an exact sum.
 *
 * It records what each client sent (every core message, masked inputs assembled, and its Abort
 * frame), so a test can check what a cheating coordinator could have learnt: an input is exposed
 * when the coordinator holds t shares of both of its owner's secrets (attacks.ts `exposedInputs`).
 *
 * Session ends: a client's Abort is answered by closing its call (status OK), as the real coordinator
 * does. When an honest round ends its open calls are closed; when the attacked one ends, only with
 * `closeAtRoundEnd`: in a refusal test every client is expected to abort, and its abort may come after
 * the core's round is over (a refused repeated request). `stop()` closes whatever is left.
 *
 * Call order: `start()` (resolves with the address); every time all of `cohort` have checked in, a
 * round runs; read each with `round(i)`, then `stop()`.
 * @module
 */
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ServerFrame } from '../../src/gen/privagg/v1/secagg.ts';
import type { Roster } from '../../src/identity/roster.ts';
import { ProtocolViolation } from '../../src/secagg/errors.ts';
import type {
  AdvertisedKeys,
  ClientMessage,
  ConsistencySignature,
  ServerMessage,
} from '../../src/secagg/messages.ts';
import { type RoundParams, type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { type RoundResult, SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import {
  MaskedInputAssembler,
  parseClientFrame,
  roundAnnouncementToFrame,
  serverMessageToFrame,
  type WireAbort,
} from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';
import { participateService } from '../../src/wire/service.ts';
import type { Attack, EarlierRound } from './attacks.ts';

/** What the coordinator does of an {@link Attack} (the refusal it expects is the test's business). */
export type Cheating = Pick<Attack, 'announce' | 'cheat' | 'roundsBefore'>;

/** How the cheating coordinator runs. */
export interface CheatingCoordinatorConfig {
  /** The names of the clients of every round; a round starts once all have checked in. */
  readonly cohort: readonly string[];
  /** The honest parameters of round `round`, without `clients` (ids 1..n by sorted name) or `cohort`. */
  readonly params: (round: number) => Omit<RoundParamsInput, 'clients' | 'round' | 'cohort'>;
  /**
   * The federation's roster, for rounds in the malicious setting: each round announces its cohort
   * (ids, names, identity keys) from it, as the real coordinator does.
   */
  readonly roster?: Roster;
  /** The attack, made in round `attack.roundsBefore + 1`; none: an honest coordinator. */
  readonly attack?: Cheating;
  /**
   * Close the calls still open when the core's round ends even in the attacked round (honest rounds
   * always close them). Default false.
   */
  readonly closeAtRoundEnd?: boolean;
  /** Every stage's deadline in ms (default 10 s). */
  readonly stageTimeoutMs?: number;
}

/** What one client did in a round. */
export interface SessionLog {
  readonly name: string;
  readonly id: ClientId;
  /** Every message it sent, in order (its masked input once assembled). */
  readonly sent: ClientMessage[];
  /** Its Abort frame, if it sent one. */
  abort?: WireAbort;
  /** Frames of its that broke the wire format or that the core refused. */
  readonly violations: string[];
}

/** One round as the cheating coordinator saw it. */
export interface CheatingRound {
  readonly params: RoundParams;
  /** Whether the attack was made in this round. */
  readonly attacked: boolean;
  /** Each client's log, by name. */
  readonly sessions: ReadonlyMap<string, SessionLog>;
  /** The core's result (undefined when the announcement was the attack: no core round ran). */
  readonly result: RoundResult | undefined;
}

interface Connection {
  readonly call: ServerDuplexStream<Uint8Array, ServerFrame>;
  name?: string;
  log?: SessionLog;
  round?: LiveRound;
  assembler?: MaskedInputAssembler;
  closed: boolean;
}

interface LiveRound {
  readonly number: number;
  readonly params: RoundParams;
  readonly attack: Cheating | undefined;
  readonly server: SecAggServer | undefined;
  readonly byId: Map<ClientId, Connection>;
  readonly sessions: Map<string, SessionLog>;
  readonly keys: Map<ClientId, AdvertisedKeys>;
  signatures?: readonly ConsistencySignature[];
  timer?: NodeJS.Timeout;
  finished: boolean;
}

/** The cheating coordinator (see the module comment). */
export class CheatingCoordinator {
  readonly config: CheatingCoordinatorConfig;
  readonly #server = new Server();
  #waiting: Connection[] = [];
  readonly #connections: Connection[] = [];
  readonly #rounds: CheatingRound[] = [];
  readonly #earlier: EarlierRound[] = [];
  readonly #waiters: (() => void)[] = [];
  #next = 1;

  constructor(config: CheatingCoordinatorConfig) {
    this.config = config;
    this.#server.addService(participateService, {
      participate: (call: ServerDuplexStream<Uint8Array, ServerFrame>) => this.#onCall(call),
    });
  }

  /** Binds 127.0.0.1 on a free port; resolves with `host:port`. */
  async start(): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    return `127.0.0.1:${port}`;
  }

  /** The `index`-th round (0-based) once the core's round is over, or at once for an attacked announcement. */
  async round(index: number): Promise<CheatingRound> {
    while (this.#rounds.length <= index) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#rounds[index]!;
  }

  /** Closes every call and the server. */
  stop(): void {
    for (const connection of this.#connections) this.#close(connection);
    this.#server.forceShutdown();
  }

  #onCall(call: ServerDuplexStream<Uint8Array, ServerFrame>): void {
    const connection: Connection = { call, closed: false };
    this.#connections.push(connection);
    call.on('data', (bytes: Uint8Array) => this.#onFrame(connection, bytes));
    const gone = () => this.#gone(connection);
    call.on('end', gone);
    call.on('error', gone);
    call.on('cancelled', gone);
  }

  #onFrame(connection: Connection, bytes: Uint8Array): void {
    if (connection.closed) return;
    const round = connection.round;
    const log = connection.log;
    let frame: ReturnType<typeof parseClientFrame>;
    try {
      frame = parseClientFrame(bytes, log?.id);
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      log?.violations.push(error.message);
      this.#close(connection);
      return;
    }
    if (frame.type === 'check-in') {
      connection.name = frame.clientName;
      this.#waiting.push(connection);
      if (this.#waiting.length === this.config.cohort.length) this.#startRound();
      return;
    }
    if (!round || !log) return;
    if (frame.type === 'abort') {
      log.abort = frame;
      this.#close(connection);
      return;
    }
    let message: ClientMessage;
    if (frame.type === 'masked-chunk') {
      try {
        connection.assembler ??= new MaskedInputAssembler(round.params.vectors);
        connection.assembler.accept(frame);
        if (!connection.assembler.complete) return;
        message = connection.assembler.message();
      } catch (error) {
        if (!(error instanceof WireFormatError)) throw error;
        log.violations.push(error.message);
        this.#close(connection);
        return;
      }
      connection.assembler = undefined;
    } else {
      message = frame;
    }
    log.sent.push(message);
    if (message.type === 'advertise') round.keys.set(log.id, { id: log.id, ...withoutType(message) });
    if (!round.server || round.server.result) return;
    try {
      round.server.handle(log.id, message, Date.now());
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      // What a cheat made the clients answer does not match the honest core's requests; recorded, not
      // acted on: the coordinator keeps what it was sent either way.
      log.violations.push(error.message);
    }
    this.#pump(round);
  }

  #gone(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    const { round, log } = connection;
    if (round?.server && log && !round.server.result) {
      round.server.handleDisconnect(log.id, Date.now());
      this.#pump(round);
    }
  }

  #close(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.call.end();
    const { round, log } = connection;
    if (round?.server && log && !round.server.result) {
      round.server.handleDisconnect(log.id, Date.now());
      this.#pump(round);
    }
  }

  #startRound(): void {
    const number = this.#next++;
    const cohort = this.#waiting.splice(0).sort((a, b) => (a.name! < b.name! ? -1 : 1));
    const ids = cohort.map((_, i) => (i + 1) as ClientId);
    const honest = this.config.params(number);
    const roster = this.config.roster;
    const cohortMembers =
      honest.serverModel === 'malicious' && roster
        ? cohort.map((c, i) => ({ id: ids[i]!, name: c.name!, identityKey: roster.keyOf(c.name!)! }))
        : undefined;
    const params = roundParams({
      ...honest,
      round: number,
      clients: ids,
      ...(cohortMembers && { cohort: cohortMembers }),
    });
    const attack = this.config.attack;
    const attacked = attack !== undefined && number === (attack.roundsBefore ?? 0) + 1;
    const server =
      attacked && attack.announce ? undefined : new SecAggServer({ params, timeouts: this.#timeouts() });
    const round: LiveRound = {
      number,
      params,
      attack: attacked ? attack : undefined,
      server,
      byId: new Map(),
      sessions: new Map(),
      keys: new Map(),
      finished: false,
    };
    cohort.forEach((connection, i) => {
      const log: SessionLog = { name: connection.name!, id: ids[i]!, sent: [], violations: [] };
      connection.log = log;
      connection.round = round;
      round.byId.set(log.id, connection);
      round.sessions.set(log.name, log);
    });
    const announced = round.attack?.announce ? round.attack.announce(params) : params;
    server?.start(Date.now());
    for (const [id, connection] of round.byId) {
      if (!connection.closed) connection.call.write(roundAnnouncementToFrame(announced, id));
    }
    if (!server) {
      // The announcement was the attack: the clients answer it (or not) and that is the round.
      this.#finish(round, undefined);
      return;
    }
    this.#pump(round);
  }

  /** Sends what the core queued, through the attack; notices deadlines and the round's end. */
  #pump(round: LiveRound): void {
    const server = round.server!;
    const context = { params: round.params, earlier: this.#earlier };
    for (let out = server.pollTransmit(); out; out = server.pollTransmit()) {
      const connection = round.byId.get(out.to);
      if (!connection || connection.closed) continue;
      if (out.message.type === 'unmask-request' && out.message.signatures) {
        round.signatures = out.message.signatures;
      }
      const cheat = round.attack?.cheat;
      const rewritten =
        out.message.type !== 'abort' && cheat ? cheat(out.to, out.message, context) : out.message;
      const messages: readonly ServerMessage[] = Array.isArray(rewritten)
        ? rewritten
        : [rewritten as ServerMessage];
      for (const message of messages) {
        const abort = message.type === 'abort';
        connection.call.write(
          serverMessageToFrame(abort ? { ...message, code: abortCode(message.reason) } : message, out.to),
        );
        if (abort) this.#close(connection);
      }
    }
    if (round.timer) clearTimeout(round.timer);
    round.timer = undefined;
    if (server.result) {
      this.#finish(round, server.result);
      return;
    }
    const deadline = server.pollTimeout();
    if (deadline !== undefined) {
      round.timer = setTimeout(
        () => {
          round.timer = undefined;
          server.handleTimeout(Date.now());
          this.#pump(round);
        },
        Math.max(0, deadline - Date.now()),
      );
    }
  }

  #finish(round: LiveRound, result: RoundResult | undefined): void {
    if (round.finished) return;
    round.finished = true;
    if (round.attack === undefined || this.config.closeAtRoundEnd === true) {
      for (const connection of round.byId.values()) this.#close(connection);
    }
    this.#earlier.push({ keys: round.keys, ...(round.signatures && { signatures: round.signatures }) });
    this.#rounds.push({
      params: round.params,
      attacked: round.attack !== undefined,
      sessions: round.sessions,
      result,
    });
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #timeouts() {
    const ms = this.config.stageTimeoutMs ?? 10_000;
    return { advertise: ms, share: ms, masked: ms, consistency: ms, unmask: ms };
  }
}

/** The abort code a core abort reason starts with (`too-few-clients at share: …`). */
function abortCode(reason: string): WireAbort['code'] {
  const match = /^(too-few-clients|reconstruction-failed|server-aborted) at /.exec(reason);
  return (match?.[1] ?? 'server-aborted') as WireAbort['code'];
}

function withoutType<T extends { type: string }>(message: T): Omit<T, 'type'> {
  const { type: _, ...rest } = message;
  return rest;
}
