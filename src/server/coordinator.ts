/**
 * The coordinator: binds the sans-I/O {@link SecAggServer} to gRPC. It admits authenticated client
 * sessions, selects a cohort per round, relays each stage's messages, turns disconnects and missed
 * deadlines into dropouts, and hands the model owner each round's unmasked sum.
 *
 * Memory: masked inputs are summed as they complete; at most `maxConcurrentUploads` inputs are being
 * assembled at once. A client that starts uploading without a free slot gets no buffer: its stream is
 * paused and only what was already received waits (read-ahead is cut off: the chunk that arrived, a
 * message grpc-js had decoded, and at most the HTTP/2 stream window of 64 KiB per waiting client;
 * the rest stays with the client under flow control). Memory is O(slots × vector length + waiting
 * clients × read-ahead), not O(clients × vector length).
 *
 * The event loop: outgoing frames are written a time slice at a time (frame-writer.ts), a freed
 * upload slot is handed on in a later macrotask, and the unmasking runs on worker threads, so no
 * step holds the loop for long whatever the cohort size; each round reports the loop's delay.
 *
 * Unmasking: once a round's unmask responses are in, the core hands back its unmask plan (the mask
 * expansions, secagg/unmask-plan.ts) and the coordinator runs it on a pool of worker threads
 * (unmask-pool.ts; `unmaskWorkers`), so the event loop keeps serving other sessions meanwhile; each
 * thread holds one vector-length accumulator. A worker failure aborts the round: nothing is released.
 *
 * Refusals: a selected client that refuses a request sends an Abort (CLIENT_REFUSED and its reason)
 * and leaves the round like any dropout; the coordinator logs it and counts it by reason in the
 * round's outcome (`refusals`), so a refusal is never mistaken for a lost connection.
 *
 * Monitoring: an optional observer (observer.ts) hears of each round's start, stages and end and of
 * refused sessions; bytes in and out are counted in place and clients by state are counted when
 * asked, so metrics (metrics.ts) and the dashboard cost a frame one addition. No HTTP here.
 * @module
 */
import { availableParallelism } from 'node:os';
import { type ServerDuplexStream, status as Status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  type AnnouncedPrivacy,
  decodeRelease,
  type PrivacyPlan,
  privacyPlan,
  type Release,
} from '../dp/announced.ts';
import { BudgetExceededError, type RoundMechanism } from '../dp/budget.ts';
import type { PrivacyLedger } from '../dp/ledger.ts';
import { type ServerFrame, ServerFrame as ServerFrameCodec } from '../gen/privagg/v1/secagg.ts';
import type { CohortMember } from '../secagg/cohort.ts';
import { sha256 } from '../secagg/crypto/hash.ts';
import { ProtocolViolation, type RefusalCode } from '../secagg/errors.ts';
import type { GraphSpec } from '../secagg/graph.ts';
import { type GraphPlan, planGraph } from '../secagg/graph-plan.ts';
import type { ClientMessage, Stage } from '../secagg/messages.ts';
import { type RoundParams, roundParams } from '../secagg/params.ts';
import { type RoundResult, SecAggServer, type StageTimeouts } from '../secagg/server.ts';
import type { ClientId, ServerModel, VectorSpec } from '../secagg/types.ts';
import { runUnmaskPlan, summarizeUnmaskPlan, type UnmaskPlan } from '../secagg/unmask-plan.ts';
import { echo } from '../text/echo.ts';
import { roundContext } from '../wire/context.ts';
import {
  type InboundClientFrame,
  type MaskedChunkFrame,
  MaskedInputAssembler,
  parseClientFrame,
  roundAnnouncementFrames,
  serverMessageToFrame,
  type WireAbort,
} from '../wire/convert.ts';
import { WireFormatError } from '../wire/errors.ts';
import { defaultMaxWaitingClients } from './config.ts';
import { type EventLoopDelay, EventLoopMonitor } from './event-loop.ts';
import { FrameWriter, SLICE_MS } from './frame-writer.ts';
import type { ClientStates, CoordinatorGauges, CoordinatorObserver } from './observer.ts';
import { SESSION_ENDS, type SessionEndCause } from './session-end.ts';
import { UnmaskPool } from './unmask-pool.ts';
import { collectPerBytes, DEAD_INPUT_BYTES_PER_COLLECTION } from './young-gc.ts';

/**
 * How each round's neighbour graph, threshold and n_C are chosen.
 * - `complete` (the default): the complete graph with the configured `threshold` and
 *   `maxCorruptClients`.
 * - `auto` / `harary`: from a threat model, per round, for the number of clients actually selected
 *   (`secagg/graph-plan.ts`): `harary` always uses the SecAgg+ Harary graph (and refuses cohort sizes
 *   where none fits), `auto` uses it for large cohorts and the complete graph for small ones. The
 *   configured `threshold` and `maxCorruptClients` are then not used: each round's plan sets them.
 */
export type CoordinatorGraph =
  | { readonly mode: 'complete' }
  | {
      readonly mode: 'auto' | 'harary';
      /** δ: the expected fraction of selected clients lost during a round, in [0, 1). */
      readonly expectedDropout: number;
      /** γ: the fraction of selected clients that may collude with the coordinator, in [0, 1). */
      readonly adversarialFraction: number;
    };

/** How the coordinator runs its rounds. */
export interface CoordinatorConfig {
  /** N: how many clients a round selects. */
  readonly cohortSize: number;
  /** M: a round starts with fewer than N only once the check-in window has passed, and never below M. */
  readonly minClients: number;
  /**
   * Shamir threshold t (validated per round against the number actually selected); with a
   * threat-model `graph`, each round's plan sets it instead.
   */
  readonly threshold: number;
  readonly serverModel: ServerModel;
  /** n_C; with a threat-model `graph`, each round's plan sets it instead (⌊γn⌋). */
  readonly maxCorruptClients: number;
  /** The graph choice (default `{ mode: 'complete' }`). */
  readonly graph?: CoordinatorGraph;
  /**
   * The named vectors summed each round, for rounds without differential privacy (with it, the
   * announced mechanism determines the vectors: dp/announced.ts).
   */
  readonly vectors: readonly VectorSpec[];
  /** How many rounds to run; `Infinity` runs until closed. */
  readonly rounds: number;
  /** Check-in window in ms: how long to wait for N clients before starting with at least M. */
  readonly checkInMs: number;
  /** Per-stage deadlines in ms. */
  readonly timeouts: StageTimeouts;
  /** How many masked inputs may be assembled at once. */
  readonly maxConcurrentUploads: number;
  /**
   * The roster: each enrolled client name's long-term Ed25519 public key. With one, a check-in under
   * a name it does not enroll is refused (PERMISSION_DENIED). In the malicious setting it is required:
   * each round announces its cohort's names and keys (PROTOCOL.md §2.3), and an advertisement whose
   * signature does not verify under the key of the name it checked in under — an impostor that took
   * the name without the key — drops its sender at the advertise stage, never the round.
   */
  readonly identities?: ReadonlyMap<string, Uint8Array>;
  /** Most frames a client may send in one stage before it is cut off (flooding). */
  readonly maxFramesPerStage: number;
  /**
   * Most checked-in clients waiting for a round at once (default 2N + 64, at least N); a check-in beyond it is
   * turned away with UNAVAILABLE (retry later), so idle sessions cannot take unbounded memory.
   */
  readonly maxWaitingClients?: number;
  /**
   * Worker threads that remove the masks once a round's unmask responses are in (the bulk of the
   * coordinator's work at large vector lengths), leaving the event loop free to serve other sessions:
   * at most `os.availableParallelism()`, which is the default. 0 computes inline on the event loop.
   */
  readonly unmaskWorkers?: number;
  /**
   * How many of the latest outcomes {@link Coordinator.outcomes} keeps for a reader that starts late
   * (default: all). A coordinator that runs rounds indefinitely (`rounds: Infinity`, an operator's
   * aggregation) sets it, or every round's sums would stay in memory.
   */
  readonly keepOutcomes?: number;
}

/** One round's outcome for the model owner, with clients named as they checked in. */
export interface RoundOutcome {
  readonly round: number;
  readonly status: 'ok' | 'aborted';
  /** Exactly the clients whose inputs are in the sum. */
  readonly survivors: readonly string[];
  /** Every other selected client, with the stage at which it was lost. */
  readonly dropped: Readonly<Record<string, Stage>>;
  /**
   * Survivors lost after their masked input was taken, with the stage (`consistency` — e.g. a
   * signature that did not verify — or `unmask`): in `survivors` and in the sum, yet they did not
   * finish the round. Absent when there were none (and when aborted: then everyone is in `dropped`).
   */
  readonly lostAfterMasked?: Readonly<Record<string, Stage>>;
  /**
   * One sum per vector (in `vectors` order) when `status` is ok and the round has no differential
   * privacy. A private round's raw sums are never published (with central DP they carry no noise):
   * see `release`.
   */
  readonly sums: readonly Uint32Array[];
  /** A private round's released result: the noisy sum of the survivors' clipped updates. */
  readonly release?: Release;
  readonly vectors: readonly VectorSpec[];
  /** Why the round aborted; absent when ok. */
  readonly reason?: string;
  /**
   * Unmask shares found wrong (PROTOCOL.md §4.6), by the client that sent them: whose secrets they
   * were shares of. Absent when there were none (secagg/server.ts ShareReport).
   */
  readonly badShares?: Readonly<Record<string, readonly string[]>>;
  /**
   * Share messages (§4.2) their recipients could not read, by sender: the recipients that said so.
   * Absent when there were none.
   */
  readonly unreadableShares?: Readonly<Record<string, readonly string[]>>;
  /**
   * Requests the selected clients refused (their Abort frame: CLIENT_REFUSED with a refusal reason),
   * counted by reason, keys sorted. Each refusing client is also in `dropped`, at the stage it
   * refused in. Absent when nobody refused. Honest clients refuse only what could expose their input
   * (PROTOCOL.md §2–§4), so any count here means parameters or requests worth looking into.
   */
  readonly refusals?: Readonly<Partial<Record<RefusalCode, number>>>;
  /** Cumulative ε after this round (with {@link RoundPrivacy}); the round counts even if aborted. */
  readonly epsilon?: number;
  /**
   * Milliseconds from announcement to result, and per stage; and how late the coordinator's event
   * loop ran meanwhile (every frame, deadline and keepalive ping of every session waits behind it).
   */
  readonly timing: {
    readonly totalMs: number;
    readonly stageMs: Readonly<Partial<Record<Stage, number>>>;
    readonly eventLoopDelayMs: EventLoopDelay;
  };
}

/** A round's shape, once its cohort is chosen: what a {@link RoundPlanner} plans for. */
export interface RoundShape {
  readonly round: number;
  /** n: how many clients were selected. */
  readonly clients: number;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  /** The round's graph (complete unless a threat-model `graph` chose a Harary graph). */
  readonly graph: GraphSpec;
  /**
   * The fewest survivors a sum is unmasked for: t for the complete graph, the survivor floor of a
   * Harary graph. Distributed DP may assume `minSurvivors − maxCorruptClients` honest clients' noise
   * in every sum (dp/announced.ts); `threshold − maxCorruptClients` is always a safe, smaller bound.
   */
  readonly minSurvivors: number;
}

/** What the model owner decides for one round. */
export interface RoundTask {
  /** The round's differential privacy; it determines the round's vectors. */
  readonly privacy?: AnnouncedPrivacy;
  /** The round's training task (e.g. the global model), sent to every selected client. */
  readonly task?: Uint8Array;
}

/**
 * The model owner's side of the rounds: plans each round and takes its outcome before the next.
 * Call order per round: {@link RoundPlanner.ready} (if given), then the cohort is selected,
 * {@link RoundPlanner.plan}, the round runs, {@link RoundPlanner.complete}.
 */
export interface RoundPlanner {
  /**
   * Called before round `round`'s cohort is selected; the round waits until it resolves (the check-in
   * window starts after). `false` ends the run, as {@link Coordinator.close} does. Without it every
   * round starts as soon as the previous one has ended: a planner that decides when rounds start (an
   * operator's control calls, server/control.ts) resolves it when the operator starts one.
   */
  ready?(round: number): boolean | Promise<boolean>;
  /** Called once the cohort is chosen, before the round is reserved in the ledger and announced. */
  plan(shape: RoundShape): RoundTask | Promise<RoundTask>;
  /** Called with each outcome (after the ledger has recorded it), awaited before the next round. */
  complete?(outcome: RoundOutcome): void | Promise<void>;
}

/** Decides who a call is: the authenticated client name, or a reason to refuse it. */
export type Authenticate = (
  call: ServerDuplexStream<Uint8Array, ServerFrame>,
) =>
  | { readonly ok: true; readonly name: string | undefined }
  | { readonly ok: false; readonly reason: string };

/** Injected effects, so tests can drive time. */
export interface CoordinatorEnvironment {
  readonly logger: Logger;
  readonly authenticate: Authenticate;
  readonly now?: () => number;
  /** Differential privacy: the ledger and mechanism every round is accounted under. */
  readonly privacy?: RoundPrivacy;
  /** Plans each round (its task and privacy); without one every round sums `config.vectors`. */
  readonly planner?: RoundPlanner;
  /**
   * Runs each round's unmask plan instead of the coordinator's own worker pool (which it creates from
   * `config.unmaskWorkers` and closes with itself); an executor given here is the caller's to close.
   */
  readonly unmaskExecutor?: { run(plan: UnmaskPlan): Promise<readonly Uint32Array[]> };
  /** Told of each round's start, stages and end, and of refused sessions (metrics, dashboard). */
  readonly observer?: CoordinatorObserver;
}

/**
 * How rounds are accounted for. Each round is reserved in the durable ledger (which refuses it if it
 * would exceed the budget) after its cohort is chosen and before any client is told of it, and is
 * released in the ledger before its result is published: ε is never under-counted, even across a
 * crash.
 */
export interface RoundPrivacy {
  readonly ledger: PrivacyLedger;
  /**
   * The mechanism, with its parameters, that the round runs under; `plan` is the round's announced
   * privacy when its {@link RoundPlanner} set one (dp/announced.ts `planMechanism` accounts for it).
   */
  readonly mechanism: (round: number, plan: PrivacyPlan | undefined) => RoundMechanism;
  /** Turns the unmasked sums into what is released (e.g. adds central noise). */
  readonly postprocess?: (sums: readonly Uint32Array[], survivors: number) => readonly Uint32Array[];
}

/**
 * A Participate call as the coordinator sees it: raw client frames in; server frames out, as objects
 * or already encoded (wire/service.ts serializes either).
 */
type Call = ServerDuplexStream<Uint8Array, ServerFrame | Uint8Array>;

const COMPLETE_GRAPH: GraphSpec = Object.freeze({ kind: 'complete' });

/** One Participate call. */
class Session {
  name: string | undefined;
  /** The name as it may appear in a log or an error (escaped and bounded: text/echo.ts). */
  shownName: string | undefined;
  id: ClientId | undefined;
  round: ActiveRound | undefined;
  assembler: MaskedInputAssembler | undefined;
  framesThisStage = 0;
  /** Its masked input was assembled and handed to the core: no chunk may follow. */
  uploaded = false;
  /** Chunks received while waiting for an upload slot (at most a few: the stream is paused). */
  pendingChunks: MaskedChunkFrame[] = [];
  stageSeen: Stage | 'idle' | 'ended' = 'idle';
  /** The coordinator has decided to end the session (its end may still be queued behind frames). */
  ending = false;
  /** The call is over: nothing more is written to it. */
  closed = false;
  constructor(
    readonly call: Call,
    readonly authenticatedName: string | undefined,
  ) {}
}

/** A round whose cohort, parameters and task are fixed, ready to announce. */
interface PreparedRound {
  readonly params: RoundParams;
  readonly cohort: readonly Session[];
  readonly privacy?: AnnouncedPrivacy;
  readonly plan?: PrivacyPlan;
  readonly task?: Uint8Array;
  readonly taskDigest?: Uint8Array;
}

/** A round in progress. */
interface ActiveRound {
  readonly params: RoundParams;
  readonly server: SecAggServer;
  readonly sessions: ReadonlyMap<ClientId, Session>;
  readonly byName: ReadonlyMap<string, Session>;
  readonly startedAt: number;
  readonly stageStarted: Map<Stage, number>;
  timer: NodeJS.Timeout | undefined;
  readonly uploading: Set<Session>;
  readonly uploadQueue: Session[];
  readonly done: (result: RoundResult) => void;
  /** The clients' refusals so far, by reason (RoundOutcome.refusals). */
  readonly refusals: Map<RefusalCode, number>;
  /** Set once the unmask plan has been handed to the executor. */
  unmasking?: true;
}

/** The coordinator service. Register {@link handleParticipate} with a grpc-js server. */
export class Coordinator implements CoordinatorGauges {
  readonly config: CoordinatorConfig;
  readonly #env: CoordinatorEnvironment;
  readonly #now: () => number;
  /** Checked-in sessions waiting for a round, by client name, in check-in order. */
  readonly #waiting = new Map<string, Session>();
  readonly #outcomes: RoundOutcome[] = [];
  /** Outcomes dropped from the front of #outcomes (config.keepOutcomes): #outcomes[0]'s position. */
  #outcomesDropped = 0;
  #outcomeWaiters: ((value: IteratorResult<RoundOutcome>) => void)[] = [];
  #waitingChanged: (() => void) | undefined;
  #closed = false;
  #round: ActiveRound | undefined;
  /** Created on the first unmask that needs it; closed with the coordinator (after its last round). */
  #unmaskPool: UnmaskPool | undefined;
  readonly #droppedInput = collectPerBytes(DEAD_INPUT_BYTES_PER_COLLECTION);
  readonly #eventLoop = new EventLoopMonitor();
  readonly #writer = new FrameWriter();
  /** Counted in place per frame (read by observers on demand: server/observer.ts). */
  #bytesReceived = 0;
  #bytesSent = 0;

  constructor(config: CoordinatorConfig, env: CoordinatorEnvironment) {
    if (config.minClients > config.cohortSize) {
      throw new RangeError(`min clients ${config.minClients} exceeds the cohort size ${config.cohortSize}`);
    }
    const graph = config.graph ?? { mode: 'complete' };
    if (graph.mode !== 'complete' && graph.mode !== 'auto' && graph.mode !== 'harary') {
      throw new RangeError(`graph mode must be 'complete', 'auto' or 'harary', got ${String(graph.mode)}`);
    }
    if (graph.mode === 'complete' && config.threshold > config.minClients) {
      throw new RangeError(
        `threshold ${config.threshold} exceeds min clients ${config.minClients}: a round with M clients could never complete`,
      );
    }
    if (config.serverModel === 'malicious' && !config.identities) {
      throw new RangeError(
        'the malicious setting needs the roster of client identity keys (each round announces its cohort from it)',
      );
    }
    const workers = config.unmaskWorkers;
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) {
      throw new RangeError(`unmask workers must be a non-negative integer, got ${workers}`);
    }
    this.config = config;
    // Validate the parameters once up front, for the smallest and the largest round the coordinator
    // may run (one fixed threshold must suit both: t ≤ M, t > n_C, and in the semi-honest setting
    // 2t > N, lest a split view reach t twice); a planner's rounds get their vectors from the
    // announced privacy.
    for (const n of new Set([config.minClients, config.cohortSize])) {
      roundParams({
        ...this.#paramsInput(1, n),
        vectors: config.vectors.length > 0 ? config.vectors : [{ name: 'update', length: 1, bits: 32 }],
      });
    }
    this.#env = env;
    this.#now = env.now ?? (() => performance.now());
    this.#maxWaiting = config.maxWaitingClients ?? defaultMaxWaitingClients(config.cohortSize);
    if (this.#maxWaiting < config.cohortSize) {
      throw new RangeError(
        `max waiting clients ${this.#maxWaiting} is below the cohort size ${config.cohortSize}: no round could start`,
      );
    }
  }

  readonly #maxWaiting: number;

  /** The gRPC handler for `Participate`. */
  readonly handleParticipate = (call: Call): void => {
    const auth = this.#env.authenticate(call);
    if (!auth.ok) {
      this.#env.logger.warn({ peer: call.getPeer(), reason: auth.reason }, 'refused unauthenticated call');
      call.emit('error', { code: SESSION_ENDS.unauthenticated.status, details: auth.reason });
      this.#env.observer?.refused?.('unauthenticated');
      return;
    }
    limitReadAhead(call);
    const session = new Session(call, auth.name);
    call.on('data', (bytes: Uint8Array) => this.#onFrame(session, bytes));
    call.on('end', () => {
      // A client that sent its own Abort half-closes right after it (PROTOCOL.md §12.2): its end is
      // decided and queued already (#end), and that queued end closes the call with its status.
      if (session.ending && !session.closed) return;
      const open = !session.closed;
      this.#onGone(session, 'stream ended');
      // A half-close before the session is over: nothing more will come, so end the call rather than
      // leave it open until the client cancels it.
      if (open) {
        call.emit('error', {
          code: SESSION_ENDS['half-closed'].status,
          details: 'the client ended its stream before its session was over',
        });
      }
    });
    call.on('error', () => this.#onGone(session, 'stream error'));
    call.on('cancelled', () => this.#onGone(session, 'cancelled'));
    call.on('close', () => this.#onGone(session, 'closed'));
  };

  /** Bytes of client frames received so far (protobuf-encoded). */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Bytes of server frames written so far (protobuf-encoded). */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** How many checked-in clients are waiting for a round. */
  get waitingClients(): number {
    return this.#waiting.size;
  }

  /** Clients in each state now (O(cohort): for a scrape or a dashboard tick, not per frame). */
  clientStates(): ClientStates {
    const round = this.#round;
    let inRound = 0;
    if (round)
      for (const session of round.sessions.values()) if (!session.closed && !session.ending) inRound++;
    return {
      waiting: this.#waiting.size,
      inRound,
      uploading: round?.uploading.size ?? 0,
      queuedForUpload: round?.uploadQueue.length ?? 0,
    };
  }

  /** The results of each round as it ends, in order. Ends when the coordinator has run all rounds. */
  async *outcomes(): AsyncGenerator<RoundOutcome> {
    let index = 0;
    while (true) {
      // A reader that fell behind the kept outcomes goes on from the oldest kept.
      index = Math.max(index, this.#outcomesDropped);
      if (index - this.#outcomesDropped < this.#outcomes.length) {
        yield this.#outcomes[index++ - this.#outcomesDropped]!;
        continue;
      }
      if (this.#closed) return;
      const next = await new Promise<IteratorResult<RoundOutcome>>((resolve) =>
        this.#outcomeWaiters.push(resolve),
      );
      if (next.done) return;
    }
  }

  /** Runs the configured number of rounds, then closes. */
  async run(): Promise<void> {
    const privacy = this.#env.privacy;
    const first = privacy ? privacy.ledger.nextRound() : 1;
    if (!this.#env.unmaskExecutor && this.#unmaskWorkers() > 0) await this.#ownUnmaskPool().prepare();
    for (let round = first; round < first + this.config.rounds && !this.#closed; round++) {
      if (!(await this.#ready(round))) break;
      const cohort = await this.#selectCohort();
      if (!cohort) break;
      const prepared = await this.#prepare(round, cohort);
      if (privacy && !this.#reserve(privacy, round, prepared)) break;
      const raw = await this.#runRound(prepared);
      const outcome = this.#released(prepared, raw);
      const accounted = privacy ? this.#account(privacy, outcome) : outcome;
      this.#env.observer?.roundEnded?.(accounted);
      await this.#env.planner?.complete?.(accounted);
      this.#publish(accounted);
    }
    this.close();
  }

  /** Whether round `round` may start: the planner's word, or false once the coordinator is closed. */
  async #ready(round: number): Promise<boolean> {
    const ready = this.#env.planner?.ready;
    if (!ready) return true;
    let wake!: () => void;
    const closed = new Promise<false>((resolve) => {
      wake = () => resolve(false);
    });
    this.#onClose.push(wake);
    try {
      const answer = await Promise.race([ready.call(this.#env.planner, round), closed]);
      return answer && !this.#closed;
    } finally {
      this.#onClose = this.#onClose.filter((w) => w !== wake);
    }
  }

  /** Run once by {@link close}: wakes whatever waits for the coordinator (a planner's `ready`). */
  #onClose: (() => void)[] = [];

  /** Orders the cohort, asks the planner for the round's task and computes its parameters. */
  async #prepare(round: number, cohort: Session[]): Promise<PreparedRound> {
    // Ids follow the order of names, so a round's id assignment is reproducible from its cohort.
    cohort.sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
    const base = this.#paramsInput(round, cohort.length);
    const graphPlan = this.#graphPlan(cohort.length);
    if (graphPlan) this.#env.logger.info({ round, graph: graphPlan.summary }, 'round graph');
    const planned = this.#env.planner
      ? await this.#env.planner.plan({
          round,
          clients: cohort.length,
          threshold: base.threshold,
          maxCorruptClients: base.maxCorruptClients,
          graph: base.graph,
          minSurvivors: graphPlan?.minSurvivors ?? base.threshold,
        })
      : {};
    const { privacy, task } = planned;
    const plan = privacy && privacyPlan(privacy, cohort.length);
    const taskDigest = task && sha256(task);
    const params = roundParams({
      ...base,
      vectors: plan ? plan.vectors : this.config.vectors,
      context: roundContext(privacy, taskDigest),
      ...(base.serverModel === 'malicious' && { cohort: this.#cohort(cohort, base.clients) }),
    });
    return { params, cohort, privacy, plan, task, taskDigest };
  }

  /**
   * The malicious setting's cohort (PROTOCOL.md §2.3): the i-th session by name gets the i-th id, as
   * #runRound assigns them, announced with the name it checked in under and the roster's key for it
   * (check-in admits only enrolled names, so every one has a key).
   */
  #cohort(sessions: readonly Session[], ids: readonly number[]): CohortMember[] {
    const roster = this.config.identities!;
    return sessions.map((session, i) => ({
      id: ids[i] as ClientId,
      name: session.name!,
      identityKey: roster.get(session.name!)!,
    }));
  }

  /** A private round's outcome carries the decoded release instead of its raw sums. */
  #released(prepared: PreparedRound, outcome: RoundOutcome): RoundOutcome {
    if (!prepared.plan) return outcome;
    if (outcome.status !== 'ok') return outcome;
    const release = decodeRelease(prepared.plan, outcome.sums, outcome.survivors.length);
    return { ...outcome, sums: [], release };
  }

  /** Reserves the round in the ledger; on a budget refusal tells the cohort why and stops. */
  #reserve(privacy: RoundPrivacy, round: number, prepared: PreparedRound): boolean {
    const { cohort } = prepared;
    try {
      privacy.ledger.reserve(round, privacy.mechanism(round, prepared.plan));
      return true;
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
      this.#env.logger.error({ round, reason: error.message }, 'privacy budget exhausted: no more rounds');
      this.budgetStop = error.message;
      for (const session of cohort) this.#end(session, 'budget-exhausted', error.message);
      return false;
    }
  }

  /** Why the coordinator stopped early, if the privacy budget stopped it. */
  budgetStop: string | undefined;

  /** Records the outcome in the ledger before it is published (release), or refunds an abort. */
  #account(privacy: RoundPrivacy, outcome: RoundOutcome): RoundOutcome {
    const { ledger } = privacy;
    if (outcome.status === 'ok') {
      const sums = privacy.postprocess
        ? privacy.postprocess(outcome.sums, outcome.survivors.length)
        : outcome.sums;
      ledger.release(outcome.round);
      return { ...outcome, sums, epsilon: ledger.spent().epsilon };
    }
    // The round aborted before the coordinator could unmask a sum, so nothing noised was released.
    ledger.abort(outcome.round, { reason: outcome.reason ?? 'aborted', nothingReleased: true });
    return { ...outcome, epsilon: ledger.spent().epsilon };
  }

  /** Stops: ends every session and the outcome stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A copy: ending a session runs its 'error' listener, which removes it from #waiting.
    for (const session of [...this.#waiting.values()]) {
      this.#end(session, 'shutting-down', 'coordinator shutting down');
    }
    this.#waiting.clear();
    this.#waitingChanged?.();
    for (const resolve of this.#outcomeWaiters) resolve({ done: true, value: undefined });
    this.#outcomeWaiters = [];
    for (const wake of this.#onClose) wake();
    this.#onClose = [];
    // A round still running may finish (shutdown grace): its unmask needs the pool until then.
    if (!this.#round) {
      this.#closeUnmaskPool();
      this.#eventLoop.close();
    }
  }

  #closeUnmaskPool(): void {
    const pool = this.#unmaskPool;
    this.#unmaskPool = undefined;
    void pool?.close();
  }

  // ---- sessions ------------------------------------------------------------------------------

  #onFrame(session: Session, bytes: Uint8Array): void {
    // A session the coordinator is ending may still send (a late answer to a stage it was dropped
    // from): it is told why once its queued frames are out, so what it sends meanwhile is ignored.
    this.#bytesReceived += bytes.byteLength;
    if (session.closed || session.ending) return;
    let frame: InboundClientFrame;
    try {
      frame = parseClientFrame(bytes, session.id);
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      this.#end(session, 'malformed-frame', error.message);
      return;
    }
    if (frame.type === 'check-in') return this.#onCheckIn(session, frame.clientName);
    const round = session.round;
    if (!round || session.id === undefined) {
      this.#end(session, 'out-of-order', `'${frame.type}' before the client was selected for a round`);
      return;
    }
    if (!this.#withinRateLimit(session, round)) return;
    if (frame.type === 'abort') return this.#onClientAbort(session, round, frame);
    if (frame.type === 'masked-chunk') return this.#onMaskedChunk(session, round, frame);
    this.#deliver(session, round, frame);
  }

  /**
   * A client's own Abort: it leaves the round at the current stage (dropped there, as PROTOCOL.md
   * §12.2 says). A refusal is counted by its reason for the round's outcome and logged as one line;
   * the client's text is echoed bounded (it is the client's own words, and never needed in full).
   */
  #onClientAbort(session: Session, round: ActiveRound, frame: WireAbort): void {
    const stage = round.server.stage;
    const detail = echo(frame.reason, ABORT_DETAIL_CHARS);
    if (frame.code === 'client-refused' && frame.refusal !== undefined) {
      round.refusals.set(frame.refusal, (round.refusals.get(frame.refusal) ?? 0) + 1);
      this.#env.logger.warn(
        { round: round.params.round, client: session.shownName, stage, refusal: frame.refusal, detail },
        'client refused',
      );
    } else {
      this.#env.logger.info(
        { round: round.params.round, client: session.shownName, stage, code: frame.code, detail },
        'client aborted',
      );
    }
    this.#end(session, 'client-aborted', 'the client aborted');
  }

  #onCheckIn(session: Session, name: string): void {
    if (this.#closed) {
      this.#end(session, 'shutting-down', 'the coordinator is shutting down');
      return;
    }
    if (session.name !== undefined) {
      this.#end(session, 'out-of-order', 'checked in twice on one stream');
      return;
    }
    // The name is the client's own text: escaped and bounded wherever it is repeated (text/echo.ts).
    const shown = echo(name);
    if (session.authenticatedName !== undefined && session.authenticatedName !== name) {
      this.#end(
        session,
        'name-not-caller',
        `authenticated as '${echo(session.authenticatedName)}', not '${shown}'`,
      );
      return;
    }
    if (this.#waiting.size >= this.#maxWaiting) {
      this.#end(
        session,
        'waiting-full',
        `${this.#waiting.size} clients are already waiting for a round; try again later`,
      );
      return;
    }
    const taken = this.#waiting.has(name) || this.#roundHasName(name);
    if (taken) {
      this.#end(session, 'name-taken', `client '${shown}' already has a session`);
      return;
    }
    const roster = this.config.identities;
    if ((roster || this.config.serverModel === 'malicious') && !roster?.has(name)) {
      this.#end(session, 'name-not-caller', `client '${shown}' is not in the roster`);
      return;
    }
    session.name = name;
    session.shownName = shown;
    this.#waiting.set(name, session);
    this.#env.logger.debug({ client: shown, waiting: this.#waiting.size }, 'client checked in');
    this.#waitingChanged?.();
  }

  #roundHasName(name: string): boolean {
    const session = this.#round?.byName.get(name);
    return session !== undefined && !session.closed;
  }

  /** Takes a session off the waiting list, if it is on it. */
  #leaveWaiting(session: Session): void {
    if (session.name === undefined || this.#waiting.get(session.name) !== session) return;
    this.#waiting.delete(session.name);
    this.#waitingChanged?.();
  }

  #withinRateLimit(session: Session, round: ActiveRound): boolean {
    const stage = round.server.stage;
    if (session.stageSeen !== stage) {
      session.stageSeen = stage;
      session.framesThisStage = 0;
    }
    session.framesThisStage++;
    if (session.framesThisStage <= this.config.maxFramesPerStage) return true;
    this.#env.logger.warn({ client: session.shownName, stage }, 'client exceeded the frame rate limit');
    this.#end(
      session,
      'too-many-frames',
      `more than ${this.config.maxFramesPerStage} frames in stage '${stage}'`,
    );
    return false;
  }

  #onMaskedChunk(
    session: Session,
    round: ActiveRound,
    frame: InboundClientFrame & { type: 'masked-chunk' },
  ): void {
    if (round.server.stage !== 'masked') {
      this.#violation(session, round, `masked input chunk during stage '${round.server.stage}'`);
      return;
    }
    if (session.uploaded) {
      // Checked here, not left to the core: a new assembler would take an upload slot and hold it.
      this.#violation(session, round, 'masked_input_chunk arrived after the masked input was complete');
      return;
    }
    if (!session.assembler) {
      if (round.uploading.size >= this.config.maxConcurrentUploads) {
        // No slot: hold this stream, and allocate nothing for it, until one frees. The chunks that
        // already arrived wait as they are; the rest stay with the client (flow control).
        if (session.pendingChunks.length === 0) {
          session.call.pause();
          round.uploadQueue.push(session);
        }
        session.pendingChunks.push(frame);
        return;
      }
      round.uploading.add(session);
      session.assembler = new MaskedInputAssembler(round.params.vectors);
    }
    this.#feedChunk(session, round, frame);
  }

  /** Adds one chunk to a session that holds an upload slot; delivers the input once complete. */
  #feedChunk(session: Session, round: ActiveRound, frame: MaskedChunkFrame): void {
    const assembler = session.assembler!;
    try {
      assembler.accept(frame);
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      this.#releaseUpload(session, round);
      this.#violation(session, round, error.message);
      return;
    }
    if (!assembler.complete) return;
    let message: ClientMessage;
    try {
      message = assembler.message();
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      this.#releaseUpload(session, round);
      this.#violation(session, round, error.message);
      return;
    }
    this.#releaseUpload(session, round);
    session.uploaded = true;
    this.#deliver(session, round, message);
    // The assembled input (and the frames it came in) are dead once summed.
    if (message.type === 'masked') this.#droppedInput(message.vectors.reduce((n, v) => n + v.byteLength, 0));
  }

  #releaseUpload(session: Session, round: ActiveRound): void {
    session.assembler = undefined;
    session.pendingChunks = [];
    if (!round.uploading.delete(session)) {
      const queued = round.uploadQueue.indexOf(session);
      if (queued >= 0) round.uploadQueue.splice(queued, 1);
      return;
    }
    let next = round.uploadQueue.shift();
    while (next && (next.closed || next.ending)) next = round.uploadQueue.shift();
    if (!next) return;
    const admitted = next;
    round.uploading.add(admitted);
    admitted.assembler = new MaskedInputAssembler(round.params.vectors);
    // Feed the chunks it sent while waiting in a later macrotask, not here: completing its input
    // would free the slot again and admit the next one, and so on through the whole queue in one
    // synchronous cascade (a 12.6 s stall at n = 300, d = 100k).
    setImmediate(() => {
      const pending = admitted.pendingChunks;
      admitted.pendingChunks = [];
      for (const chunk of pending) {
        if (admitted.closed || admitted.ending || !admitted.assembler) return;
        this.#feedChunk(admitted, round, chunk);
      }
      if (!admitted.closed && !admitted.ending) admitted.call.resume();
    });
  }

  /** Feeds a core message to the round's server. */
  #deliver(session: Session, round: ActiveRound, message: ClientMessage): void {
    try {
      round.server.handle(session.id!, message, this.#now());
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      this.#env.logger.warn(
        { client: session.shownName, stage: round.server.stage, error: error.message },
        'protocol violation',
      );
      this.#pump(round);
      this.#end(session, 'protocol-violation', error.message);
      return;
    }
    this.#pump(round);
  }

  #violation(session: Session, round: ActiveRound, message: string): void {
    this.#env.logger.warn(
      { client: session.shownName, stage: round.server.stage, error: message },
      'protocol violation',
    );
    this.#end(session, 'protocol-violation', message);
  }

  #onGone(session: Session, why: string): void {
    if (session.closed) return;
    session.closed = true;
    this.#leaveWaiting(session);
    const round = session.round;
    if (round) {
      this.#env.logger.info(
        { client: session.shownName, stage: round.server.stage, why },
        'client disconnected',
      );
      this.#disconnect(session, round);
    }
  }

  #disconnect(session: Session, round: ActiveRound): void {
    if (session.assembler || session.pendingChunks.length > 0) this.#releaseUpload(session, round);
    if (session.id === undefined || round.server.stage === 'ended') return;
    round.server.handleDisconnect(session.id, this.#now());
    this.#pump(round);
  }

  /**
   * Ends a session as {@link SESSION_ENDS} says for `cause`. Once the client is selected, an Abort
   * frame names why, queued behind the frames already on their way to it; the status follows. Frees
   * the upload slot the session holds or waits for, and tells the core the client is gone (a no-op
   * when the core has dropped it already or the round is over).
   * @param roundAbort - the round's own abort, for `round-aborted`
   */
  #end(session: Session, cause: SessionEndCause, details: string, roundAbort?: WireAbort): void {
    if (session.closed || session.ending) return;
    session.ending = true;
    // Before selection an end is a refusal (SESSION_ENDS: a status alone, or shutting down).
    if (session.id === undefined) this.#env.observer?.refused?.(cause);
    this.#leaveWaiting(session);
    const round = session.round;
    if (round) this.#disconnect(session, round);
    const signal = SESSION_ENDS[cause];
    const abort: WireAbort | undefined =
      session.id === undefined || signal.abort === undefined
        ? undefined
        : signal.abort === 'round'
          ? roundAbort
          : { type: 'abort', code: signal.abort, reason: details };
    const finish = () => {
      if (session.closed) return;
      session.closed = true;
      if (abort) this.#write(session, serverMessageToFrame(abort, session.id!));
      if (signal.status === Status.OK) session.call.end();
      else session.call.emit('error', { code: signal.status, details });
    };
    if (round && signal.status === Status.OK) {
      this.#writer.enqueue({ skip: () => session.closed, write: finish });
    } else {
      finish();
    }
  }

  // ---- rounds --------------------------------------------------------------------------------

  /** Waits for N checked-in clients, or for M once the check-in window has passed. */
  async #selectCohort(): Promise<Session[] | undefined> {
    const { cohortSize, minClients, checkInMs } = this.config;
    const windowEnds = this.#now() + checkInMs;
    while (!this.#closed) {
      // Closed sessions leave the list at once (#onGone, #reject): every one here is live.
      const waiting = this.#waiting.size;
      const windowOver = this.#now() >= windowEnds;
      if (waiting >= cohortSize || (windowOver && waiting >= minClients)) {
        const cohort: Session[] = [];
        for (const [name, session] of this.#waiting) {
          if (cohort.length === cohortSize) break;
          cohort.push(session);
          this.#waiting.delete(name);
        }
        return cohort;
      }
      const wait = windowOver ? undefined : Math.max(1, windowEnds - this.#now());
      await new Promise<void>((resolve) => {
        const timer = wait === undefined ? undefined : setTimeout(resolve, wait);
        this.#waitingChanged = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
      this.#waitingChanged = undefined;
    }
    return undefined;
  }

  #paramsInput(round: number, n: number) {
    const plan = this.#graphPlan(n);
    return {
      round,
      serverModel: this.config.serverModel,
      threshold: plan?.threshold ?? this.config.threshold,
      maxCorruptClients: plan?.maxCorruptClients ?? this.config.maxCorruptClients,
      clients: Array.from({ length: n }, (_, i) => i + 1),
      vectors: this.config.vectors,
      graph: plan?.graph ?? COMPLETE_GRAPH,
    };
  }

  readonly #graphPlans = new Map<number, GraphPlan>();

  /** The threat-model plan for a round of `n` clients (cached per n), or undefined for `complete`. */
  #graphPlan(n: number): GraphPlan | undefined {
    const graph = this.config.graph;
    if (!graph || graph.mode === 'complete') return undefined;
    let plan = this.#graphPlans.get(n);
    if (!plan) {
      plan = planGraph({
        n,
        dropoutRate: graph.expectedDropout,
        adversarialRate: graph.adversarialFraction,
        mode: graph.mode,
        serverModel: this.config.serverModel,
      });
      this.#graphPlans.set(n, plan);
    }
    return plan;
  }

  async #runRound(prepared: PreparedRound): Promise<RoundOutcome> {
    const { params, cohort } = prepared;
    const roundNumber = params.round;
    const announced = { ...params, privacy: prepared.privacy, taskDigest: prepared.taskDigest };
    const sessions = new Map<ClientId, Session>();
    cohort.forEach((session, i) => {
      session.id = params.clients[i]!;
      sessions.set(session.id, session);
    });
    // In the malicious setting the identity keys are the announced cohort's (params.cohort).
    const server = new SecAggServer({
      params,
      timeouts: this.config.timeouts,
      ...(this.#env.unmaskExecutor || this.#unmaskWorkers() > 0
        ? { unmask: 'external', planInSteps: true }
        : { unmask: 'inline' }),
    });
    // At least minSurvivors (≥ t) self masks will be removed: if that alone is over the inline limit,
    // start the threads now, so they are ready when the unmask responses are in.
    const words = params.minSurvivors * params.vectors.reduce((n, v) => n + v.length, 0);
    if (!this.#env.unmaskExecutor && this.#unmaskWorkers() > 0 && words >= UNMASK_INLINE_WORDS) {
      this.#ownUnmaskPool().warm();
    }
    const startedAt = this.#now();
    this.#eventLoop.takeWindow();
    const refusals = new Map<RefusalCode, number>();
    const result = await new Promise<RoundResult>((done) => {
      const round: ActiveRound = {
        params,
        server,
        sessions,
        byName: new Map(cohort.map((session) => [session.name!, session])),
        startedAt,
        stageStarted: new Map(),
        timer: undefined,
        uploading: new Set(),
        uploadQueue: [],
        done,
        refusals,
      };
      this.#round = round;
      for (const session of cohort) session.round = round;
      this.#env.logger.info(
        {
          round: roundNumber,
          clients: cohort.length,
          threshold: params.threshold,
          ...(params.graph.kind === 'harary' && {
            degree: params.graph.degree,
            minSurvivors: params.graph.minSurvivors,
          }),
        },
        'round started',
      );
      server.start(this.#now());
      this.#env.observer?.roundStarted?.(roundNumber, cohort.length);
      const announcement = roundAnnouncementFrames(announced, prepared.task);
      for (const [id, session] of sessions) {
        if (session.closed) server.handleDisconnect(id, this.#now());
        else this.#send(session, () => announcement(id));
      }
      this.#pump(round);
    });
    this.#round = undefined;
    const eventLoopDelayMs = this.#eventLoop.takeWindow();
    if (this.#closed) {
      this.#closeUnmaskPool();
      this.#eventLoop.close();
    }
    const totalMs = this.#now() - startedAt;
    const stageMs: Partial<Record<Stage, number>> = {};
    const marks = [...(this.#stageMarks.get(server) ?? [])];
    marks.forEach(([stage, at], i) => {
      stageMs[stage] = (marks[i + 1]?.[1] ?? startedAt + totalMs) - at;
    });
    this.#stageMarks.delete(server);
    // Every frame of the round (aborts included) goes out before the calls end.
    await this.#writer.idle();
    for (const session of sessions.values()) this.#end(session, 'round-completed', 'the round is over');
    await this.#writer.idle();
    return this.#outcome(roundNumber, params, sessions, result, refusals, {
      totalMs,
      stageMs,
      eventLoopDelayMs,
    });
  }

  readonly #stageMarks = new Map<SecAggServer, [Stage, number][]>();

  /** Sends what the server queued, tracks stage changes and deadlines, and notices the end. */
  #pump(round: ActiveRound): void {
    const { server } = round;
    for (let out = server.pollTransmit(); out; out = server.pollTransmit()) {
      const session = round.sessions.get(out.to);
      if (!session) continue;
      const { message, to } = out;
      if (message.type === 'abort') {
        this.#end(session, 'round-aborted', message.reason, this.#abortFrame(message.reason));
      } else if (message.type === 'peer-keys') {
        // Every recipient gets the same list (every advertised key: O(n) bytes): encode it once.
        const { peers } = message;
        this.#send(session, () => {
          let bytes = this.#encodedPeerKeys.get(peers);
          if (!bytes) {
            bytes = ServerFrameCodec.encode(serverMessageToFrame(message, to)).finish();
            this.#encodedPeerKeys.set(peers, bytes);
          }
          return bytes;
        });
      } else {
        this.#send(session, () => serverMessageToFrame(message, to));
      }
    }
    const stage = server.stage;
    if (stage !== 'idle' && stage !== 'ended') {
      const marks = this.#stageMarks.get(server) ?? [];
      if (marks.at(-1)?.[0] !== stage) {
        marks.push([stage, this.#now()]);
        this.#stageMarks.set(server, marks);
        this.#env.logger.debug({ round: round.params.round, stage }, 'stage opened');
        this.#env.observer?.stage?.(round.params.round, stage);
      }
    }
    if (round.timer) clearTimeout(round.timer);
    round.timer = undefined;
    if ((server.planningUnmask || server.pendingUnmask) && !round.unmasking) {
      round.unmasking = true;
      void this.#unmask(round);
      return;
    }
    if (server.result) {
      round.done(server.result);
      return;
    }
    const deadline = server.pollTimeout();
    if (deadline !== undefined) {
      round.timer = setTimeout(
        () => {
          round.timer = undefined;
          const stage = server.stage;
          server.handleTimeout(this.#now());
          this.#tellDropped(round, stage);
          this.#pump(round);
        },
        Math.max(0, deadline - this.#now()),
      );
    }
  }

  /** Each PeerKeys list, encoded once per round (a WeakMap: it goes with the round). */
  readonly #encodedPeerKeys = new WeakMap<object, Uint8Array>();

  /**
   * Queues a frame for a session (converted when its turn comes, or already encoded), behind those
   * already queued.
   */
  #send(session: Session, frame: () => ServerFrame | Uint8Array): void {
    if (session.closed || session.ending) return;
    this.#writer.enqueue({ skip: () => session.closed, write: () => this.#write(session, frame()) });
  }

  /**
   * Writes one frame, encoded here (the service passes bytes through) so that its length is known and
   * counted in {@link bytesSent} without encoding it twice.
   */
  #write(session: Session, frame: ServerFrame | Uint8Array): void {
    const bytes = frame instanceof Uint8Array ? frame : ServerFrameCodec.encode(frame).finish();
    this.#bytesSent += bytes.byteLength;
    session.call.write(bytes);
  }

  /** Tells the clients a deadline just dropped at `stage` that they were dropped. */
  #tellDropped(round: ActiveRound, stage: Stage | 'idle' | 'ended' | 'unmasking'): void {
    if (stage === 'idle' || stage === 'ended' || stage === 'unmasking') return;
    for (const [id, session] of round.sessions) {
      if (session.closed || session.ending || round.server.droppedAt(id) !== stage) continue;
      this.#end(session, 'missed-deadline', `missed the deadline of stage '${stage}'`);
    }
  }

  #ownUnmaskPool(): UnmaskPool {
    this.#unmaskPool ??= new UnmaskPool({ size: this.#unmaskWorkers() });
    return this.#unmaskPool;
  }

  #unmaskWorkers(): number {
    return Math.min(this.config.unmaskWorkers ?? availableParallelism(), availableParallelism());
  }

  /**
   * Reconstructs the secrets in time slices (the core's planUnmask), then removes the masks off the
   * event loop (the executor's worker threads), then ends the round. If a secret cannot be recovered
   * the core has aborted the round; if the executor fails the round aborts: nothing is released.
   */
  async #unmask(round: ActiveRound): Promise<void> {
    const { server } = round;
    const started = this.#now();
    while (server.planningUnmask) {
      const until = performance.now() + SLICE_MS;
      do server.planUnmask(PLAN_STEPS_PER_CALL);
      while (server.planningUnmask && performance.now() < until);
      if (server.planningUnmask) await new Promise((resolve) => setImmediate(resolve));
    }
    const plan = server.pendingUnmask;
    if (!plan) {
      this.#pump(round);
      return;
    }
    this.#env.logger.debug({ round: round.params.round, ...summarizeUnmaskPlan(plan) }, 'unmasking');
    try {
      let executor = this.#env.unmaskExecutor;
      if (!executor && unmaskWords(plan) < UNMASK_INLINE_WORDS) {
        server.completeUnmask(runUnmaskPlan(plan));
      } else {
        executor ??= this.#ownUnmaskPool();
        const correction = await executor.run(plan);
        server.completeUnmask(correction);
        for (const c of correction) c.fill(0);
      }
      this.#env.logger.debug({ round: round.params.round, ms: this.#now() - started }, 'unmasked');
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unknown error';
      this.#env.logger.error({ round: round.params.round, reason }, 'unmasking failed: aborting the round');
      if (server.pendingUnmask) server.failUnmask(`unmasking failed: ${reason}`);
    }
    this.#pump(round);
  }

  #abortFrame(reason: string): WireAbort {
    const match = /^(too-few-clients|reconstruction-failed|server-aborted|client-refused) at /.exec(reason);
    const code = (match?.[1] ?? 'server-aborted') as WireAbort['code'];
    return { type: 'abort', code, reason };
  }

  #outcome(
    round: number,
    params: RoundParams,
    sessions: ReadonlyMap<ClientId, Session>,
    result: RoundResult,
    refusals: ReadonlyMap<RefusalCode, number>,
    timing: RoundOutcome['timing'],
  ): RoundOutcome {
    const nameOf = (id: ClientId) => sessions.get(id)!.name!;
    // fromEntries defines own properties, so even a client named '__proto__' is listed.
    const dropped: Record<string, Stage> = Object.fromEntries(
      [...result.dropped].map(([id, stage]) => [nameOf(id), stage]),
    );
    const byName = (map: ReadonlyMap<ClientId, readonly ClientId[]>) =>
      map.size === 0
        ? undefined
        : Object.fromEntries([...map].map(([id, ids]) => [nameOf(id), ids.map(nameOf)]));
    const reports = {
      ...(result.badShares.size > 0 && { badShares: byName(result.badShares) }),
      ...(result.unreadableShares.size > 0 && { unreadableShares: byName(result.unreadableShares) }),
      ...(refusals.size > 0 && {
        refusals: Object.fromEntries([...refusals].sort(([a], [b]) => (a < b ? -1 : 1))),
      }),
    };
    if (result.status === 'ok') {
      return {
        round,
        status: 'ok',
        survivors: result.survivors.map(nameOf),
        dropped,
        ...(result.lostAfterMasked.size > 0 && {
          lostAfterMasked: Object.fromEntries(
            [...result.lostAfterMasked].map(([id, stage]) => [nameOf(id), stage]),
          ),
        }),
        sums: result.sums,
        vectors: params.vectors,
        timing,
        ...reports,
      };
    }
    return {
      round,
      status: 'aborted',
      survivors: [],
      dropped,
      sums: [],
      vectors: params.vectors,
      reason: result.error.message,
      timing,
      ...reports,
    };
  }

  #publish(outcome: RoundOutcome): void {
    this.#env.logger.info(
      {
        round: outcome.round,
        status: outcome.status,
        survivors: outcome.survivors.length,
        dropped: Object.keys(outcome.dropped).length,
        lostAfterMasked: outcome.lostAfterMasked && Object.keys(outcome.lostAfterMasked).length,
        reason: outcome.reason,
        ms: Math.round(outcome.timing.totalMs),
        stageMs: roundedMs(outcome.timing.stageMs),
        eventLoopDelayMs: outcome.timing.eventLoopDelayMs,
        badShares: outcome.badShares,
        unreadableShares: outcome.unreadableShares,
        refusals: outcome.refusals,
      },
      'round ended',
    );
    this.#outcomes.push(outcome);
    if (this.#outcomes.length > (this.config.keepOutcomes ?? Number.POSITIVE_INFINITY)) {
      this.#outcomes.shift();
      this.#outcomesDropped++;
    }
    const waiters = this.#outcomeWaiters;
    this.#outcomeWaiters = [];
    for (const resolve of waiters) resolve({ done: false, value: outcome });
  }
}

/**
 * Stops grpc-js reading ahead on a call the coordinator has paused. A paused call otherwise keeps
 * reading until 16 messages wait in its object-mode buffer (the default high-water mark), and an
 * upload that waits for a slot would hold up to 16 chunks in the coordinator instead of leaving them
 * with the client under HTTP/2 flow control. With a mark of 0 a flowing call still delivers every
 * message as it comes (Node reads whenever a flowing stream's buffer is empty), and a paused one
 * reads nothing more. Node offers no public setter for the mark of a stream it did not create, so
 * this sets the `_readableState` field; test/server/event-loop.test.ts fails if a Node or grpc-js
 * upgrade makes it ineffective.
 */
function limitReadAhead(call: Call): void {
  const state = (call as unknown as { _readableState?: { highWaterMark?: number } })._readableState;
  if (state && typeof state.highWaterMark === 'number') state.highWaterMark = 0;
}

/** The most characters of a client's own abort message repeated in the log. */
const ABORT_DETAIL_CHARS = 200;

/**
 * Below this many mask words in all (~1.5 ms of expansion) the coordinator unmasks on the event loop:
 * handing the work to a thread and back would cost more than it saves.
 */
const UNMASK_INLINE_WORDS = 1 << 20;

function roundedMs(stageMs: Readonly<Partial<Record<Stage, number>>>): Partial<Record<Stage, number>> {
  return Object.fromEntries(Object.entries(stageMs).map(([stage, ms]) => [stage, Math.round(ms)]));
}

/**
 * A plan's work in mask words: jobs × the total length of the vectors, plus for each seed still to
 * derive (a dropped client's pair: an X25519 agreement and an HKDF, ~30–50 µs) the words that take as
 * long to expand.
 */
function unmaskWords(plan: UnmaskPlan): number {
  const words = plan.vectors.reduce((n, v) => n + v.length, 0);
  let total = 0;
  for (const job of plan.jobs) total += words + (job.kind === 'dropped-pair' ? AGREEMENT_WORDS : 0);
  return total;
}

/** Mask words expanded in about the time one pairwise seed takes to derive. */
const AGREEMENT_WORDS = 1 << 15;

/**
 * Steps of the unmask plan (a response gathered or a secret reconstructed: ~0.1 ms at n = 1,000, up to
 * ~0.5 ms for a complete graph's t = 667) per call into the core between looks at the clock, which
 * keeps a slice within a few ms of {@link SLICE_MS}.
 */
const PLAN_STEPS_PER_CALL = 8;
