/**
 * The client SDK: takes part in secure aggregation rounds over gRPC. A training loop calls
 * {@link Participant.participate} with a function that gives its input vectors for the announced
 * round; the SDK runs every stage through the sans-I/O {@link SecAggClient}, streams the masked input
 * in chunks with flow control, and turns the coordinator's aborts into typed errors.
 * @module
 */
import { once } from 'node:events';
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  type ClientOptions,
  Metadata,
  status as Status,
} from '@grpc/grpc-js';
import {
  type ClientPrivacyPolicy,
  checkAnnouncedPrivacy,
  encodeClientUpdate,
  type PrivacyPlan,
  privacyPlan,
} from '../dp/announced.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import type { ClientFrame } from '../gen/privagg/v1/secagg.ts';
import type { Roster } from '../identity/roster.ts';
import { SecAggClient } from '../secagg/client.ts';
import { type Ed25519Signer, VerifiedSignatures, verifyEachOnTheSpot } from '../secagg/crypto/ed25519.ts';
import { equalBytes } from '../secagg/encoding.ts';
import { ProtocolViolation, Refusal } from '../secagg/errors.ts';
import { STAGE_ENTERED, type Stage } from '../secagg/messages.ts';
import { ParameterError, type RoundParams, roundParams } from '../secagg/params.ts';
import { systemRng } from '../secagg/rng.ts';
import type { ClientId, Rng } from '../secagg/types.ts';
import { echo } from '../text/echo.ts';
import { roundContext } from '../wire/context.ts';
import {
  abortFromError,
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  type InboundServerFrame,
  parseServerFrame,
  type RoundAnnouncementFrame,
  type WireAbortCode,
} from '../wire/convert.ts';
import { WireFormatError } from '../wire/errors.ts';
import {
  type ParticipateClientInstance,
  participateClientClass,
  type TrafficMeter,
} from '../wire/service.ts';
import { sharedSignaturePool } from './signature-pool.ts';
import { takeTurn } from './turns.ts';

/** The coordinator aborted the round (or dropped or did not select this client). */
export class CoordinatorAbortError extends Error {
  override name = 'CoordinatorAbortError';
  constructor(
    readonly code: WireAbortCode,
    readonly reason: string,
  ) {
    super(`coordinator aborted the round (${code}): ${reason}`);
  }
}

/** This client refused a coordinator request that could have exposed its input. */
export class ClientRefusedError extends Error {
  override name = 'ClientRefusedError';
  constructor(readonly refusal: Refusal) {
    super(`refused the coordinator's request: ${refusal.message}`);
  }
}

/** The connection failed or the coordinator ended the call with an error status. */
export class TransportError extends Error {
  override name = 'TransportError';
  /**
   * @param stage - the stage this client had entered when the call failed, or undefined when the
   *   round had not been announced to it yet (nothing of this round was sent: a retry loses nothing)
   */
  constructor(
    readonly code: Status,
    readonly details: string,
    readonly stage?: Stage,
  ) {
    super(`${Status[code] ?? code}: ${details}`);
  }

  /** Worth retrying after a backoff (the coordinator is unreachable or restarting). */
  get retryable(): boolean {
    return this.code === Status.UNAVAILABLE || this.code === Status.DEADLINE_EXCEEDED;
  }
}

/** A round this client was selected for, as its input callback sees it. */
export interface AssignedRound {
  /** The validated round parameters (threshold rules checked, configHash computed). */
  readonly params: RoundParams;
  readonly clientId: ClientId;
  /** The round's training task (e.g. the global model), checked against its digest; absent if none. */
  readonly task?: Uint8Array;
  /** The round's differential privacy, checked against the round and this client's policy. */
  readonly privacy?: PrivacyPlan;
}

/**
 * Gives this client's input vectors for a round, in `params.vectors` order. It may take time (local
 * training): the coordinator's advertise deadline must allow for it.
 */
export type InputFor = (round: AssignedRound) => readonly Uint32Array[] | Promise<readonly Uint32Array[]>;

/**
 * An {@link InputFor} for differentially private rounds: `updateFor` gives the client's model update
 * for the round (after local training), which is clipped, encoded and (for distributed DP) noised as
 * announced. A round without differential privacy is refused.
 * @param updateFor - the update, in the round's dimension; not modified
 * @param rng - randomness for rounding and noise; the OS CSPRNG unless a test injects one
 */
export function privateUpdateInput(
  updateFor: (round: AssignedRound) => NamedTensors | Promise<NamedTensors>,
  rng: Rng = systemRng,
): InputFor {
  return async (round) => {
    if (!round.privacy) {
      throw new Refusal('insufficient-privacy', 'the round has no differential privacy for a model update');
    }
    const update = await updateFor(round);
    return encodeClientUpdate(round.privacy, update, rng).vectors;
  };
}

/**
 * This client's long-term identity and the federation's roster (the malicious setting, PROTOCOL.md
 * §2.3). With one, the client takes part only in malicious-setting rounds whose announced cohort
 * agrees with the roster, and signs its key advertisement and the survivor list with `signer`.
 */
export interface ClientIdentity {
  /** This client's identity key (src/identity/keyfile.ts reads one). */
  readonly signer: Ed25519Signer;
  /** The enrolled clients; it must list this client's name with `signer`'s public key. */
  readonly roster: Roster;
}

/** Options for {@link Participant}. */
export interface ParticipantOptions {
  /** `host:port` of the coordinator. */
  readonly address: string;
  readonly credentials: ChannelCredentials;
  /** This client's name at the coordinator. */
  readonly name: string;
  /** Per-client bearer token, sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Randomness for keys and masks; the OS CSPRNG unless a test injects one. */
  readonly rng?: Rng;
  /**
   * The malicious setting: this client's identity key and the roster. Without one the client takes
   * part in semi-honest rounds only (it has nothing to sign with, and no way to check the cohort).
   */
  readonly identity?: ClientIdentity;
  /**
   * What this client insists on before sending anything derived from its data: with a policy, a round
   * without differential privacy, or with less noise than the floor, is refused. Without one, only the
   * consistency of announced privacy parameters with the round is checked.
   */
  readonly privacyPolicy?: ClientPrivacyPolicy;
  /** Called on entering each stage (before this client's work for it). */
  readonly onStage?: (stage: Stage) => void;
  /** Largest masked-input chunk in bytes (default {@link DEFAULT_UPLOAD_CHUNK_BYTES}). */
  readonly maxChunkBytes?: number;
  /**
   * How often, in ms, the client pings the coordinator while a session is open, and how long it
   * waits for the answer before it gives the connection up (default
   * {@link DEFAULT_CLIENT_KEEPALIVE_MS}; 0: no pings). While it waits for a round, nothing else
   * crosses the connection: the pings keep NATs and proxies from forgetting it and tell the client
   * soon when the coordinator is gone.
   */
  readonly keepaliveMs?: number;
  /**
   * Extra grpc-js channel options (for example reconnect backoff, or `grpc.ssl_target_name_override`),
   * applied over the SDK's own (`grpc.max_receive_message_length` = 16 MiB, keepalive).
   */
  readonly channelOptions?: Partial<ClientOptions>;
}

/**
 * The SDK's default keepalive: a ping every 30 s, answered within 30 s. grpc-js checks the answer's
 * deadline with a timer, so a client whose event loop is blocked for longer than this (by its own
 * training, say) would give up a healthy connection; 30 s leaves room for long synchronous steps.
 */
export const DEFAULT_CLIENT_KEEPALIVE_MS = 30_000;

/** How {@link Participant.participateRounds} retries. */
export interface RetryPolicy {
  /** First backoff delay in ms; it doubles per attempt (with jitter: 50–100% of the value). */
  readonly initialMs: number;
  /** Largest backoff delay in ms. */
  readonly maxMs: number;
  /** Most attempts per round (the first included) before the retryable error is thrown. */
  readonly maxAttempts: number;
  /**
   * What a {@link TransportError} after the round was announced to this client means (its `stage` is
   * set: the coordinator died or ended the call mid-round). `retry` (the default) handles it like any
   * other: a retryable one is retried, joining the next round in this one's place, and any other is
   * thrown. `report` passes it to `onOutcome` as that round's outcome and moves on to the next round.
   */
  readonly midRound?: 'retry' | 'report';
}

/** A completed participation. The client never learns the sum; it learns that its part is done. */
export interface Participation {
  readonly round: number;
  readonly clientId: ClientId;
}

/**
 * Masked-input chunk size: the smallest PROTOCOL.md §12.1 allows for all chunks but the last. A
 * coordinator that makes an uploader wait for a slot stops reading its stream and holds the chunk
 * that arrived plus at most the HTTP/2 window (64 KiB); the rest stays with the client under flow
 * control. When a thousand clients upload at once that is what the coordinator's memory grows by:
 * ~80 MB with 16 KiB chunks, ~130 MB with 64 KiB ones (`npm run bench:load`, n = 1,000, d = 100k).
 */
export const DEFAULT_UPLOAD_CHUNK_BYTES = 16 << 10;

/**
 * How long a client that sent its Abort (a refusal) waits for the coordinator to close the call
 * before cancelling it. The coordinator closes it as soon as the Abort arrives, so this bounds only
 * the wait on one that does not.
 */
export const ABORT_GRACE_MS = 1_000;

/** One client's connection to a coordinator. */
export class Participant {
  readonly #options: ParticipantOptions;
  readonly #grpc: ParticipateClientInstance;
  readonly #traffic: TrafficMeter = { sentBytes: 0, receivedBytes: 0 };

  constructor(options: ParticipantOptions) {
    const keepaliveMs = options.keepaliveMs ?? DEFAULT_CLIENT_KEEPALIVE_MS;
    if (!Number.isSafeInteger(keepaliveMs) || keepaliveMs < 0 || keepaliveMs > 2_147_483_647) {
      throw new RangeError(`keepaliveMs must be an integer in [0, 2147483647], got ${keepaliveMs}`);
    }
    const identity = options.identity;
    if (identity) {
      const enrolled = identity.roster.keyOf(options.name);
      if (enrolled === undefined) throw new RangeError(`the roster does not enroll '${echo(options.name)}'`);
      if (!equalBytes(enrolled, identity.signer.publicKey)) {
        throw new RangeError(
          `the roster enrolls '${echo(options.name)}' with another key than this identity's`,
        );
      }
    }
    this.#options = options;
    const ParticipateClient = participateClientClass(this.#traffic);
    this.#grpc = new ParticipateClient(options.address, options.credentials, {
      'grpc.max_receive_message_length': 16 << 20,
      ...(keepaliveMs > 0 && {
        'grpc.keepalive_time_ms': keepaliveMs,
        'grpc.keepalive_timeout_ms': keepaliveMs,
      }),
      ...options.channelOptions,
    });
  }

  /**
   * Bytes of gRPC messages this client has sent and received over all its sessions so far (frames as
   * serialized, without HTTP/2 and TLS framing).
   */
  get traffic(): Readonly<TrafficMeter> {
    return { ...this.#traffic };
  }

  /** Closes the channel. */
  close(): void {
    this.#grpc.close();
  }

  /**
   * Checks in and takes part in the next round.
   * @throws {CoordinatorAbortError} the round was aborted, or this client dropped or not selected
   * @throws {ClientRefusedError} this client refused a request (it told the coordinator why)
   * @throws {TransportError} the connection failed
   */
  async participate(inputFor: InputFor, deadlineMs?: number): Promise<Participation> {
    const metadata = new Metadata();
    if (this.#options.token !== undefined) metadata.set('authorization', `Bearer ${this.#options.token}`);
    const call = this.#grpc.participate(
      metadata,
      deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) },
    );
    const session = new ParticipantSession(call, this.#options, inputFor);
    return session.run();
  }

  /**
   * Takes part in `rounds` rounds, reconnecting with exponential backoff (with jitter) when the
   * coordinator is unreachable. Aborted rounds are reported through `onOutcome` and do not stop it;
   * neither do rounds lost mid-round when `backoff.midRound` is `report`.
   */
  async participateRounds(
    rounds: number,
    inputFor: InputFor,
    onOutcome: (outcome: Participation | Error) => void,
    backoff: RetryPolicy = {
      initialMs: 100,
      maxMs: 5_000,
      maxAttempts: 8,
    },
  ): Promise<void> {
    for (let done = 0; done < rounds; done++) {
      for (let attempt = 0; ; attempt++) {
        try {
          onOutcome(await this.participate(inputFor));
          break;
        } catch (error) {
          if (backoff.midRound === 'report' && error instanceof TransportError && error.stage !== undefined) {
            onOutcome(error);
            break;
          }
          const retry =
            error instanceof TransportError && error.retryable && attempt + 1 < backoff.maxAttempts;
          if (!retry) {
            if (error instanceof CoordinatorAbortError || error instanceof ClientRefusedError) {
              onOutcome(error);
              break;
            }
            throw error;
          }
          const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt) * (0.5 + Math.random() / 2);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    }
  }
}

/** One Participate call, processed strictly in order. */
class ParticipantSession {
  #core: SecAggClient | undefined;
  #announced = false;
  /** The stage this client last entered; undefined until the round is announced. */
  #stage: Stage | undefined;
  #round = 0;
  #chain: Promise<void> = Promise.resolve();
  #settled = false;
  /** The call has its final status (the coordinator ended it, or it failed). */
  #hasStatus = false;
  #resolve!: (value: Participation) => void;
  #reject!: (error: Error) => void;

  constructor(
    readonly call: ClientDuplexStream<ClientFrame, Uint8Array>,
    readonly options: ParticipantOptions,
    readonly inputFor: InputFor,
  ) {}

  run(): Promise<Participation> {
    const result = new Promise<Participation>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const { call } = this;
    call.on('data', (bytes: Uint8Array) => {
      this.#chain = this.#chain.then(() => this.#onFrame(bytes)).catch((error) => this.#fail(error));
    });
    call.on('error', (error: { code?: number; details?: string; message?: string }) => {
      this.#fail(
        new TransportError(
          error.code ?? Status.UNKNOWN,
          error.details ?? error.message ?? 'call failed',
          this.#stage,
        ),
      );
    });
    call.on('end', () => {
      this.#chain = this.#chain.then(() => this.#onEnd());
    });
    call.on('status', () => {
      this.#hasStatus = true;
    });
    call.write(checkInToFrame(this.options.name));
    return result;
  }

  async #onFrame(bytes: Uint8Array): Promise<void> {
    if (this.#settled) return;
    let frame: InboundServerFrame;
    try {
      frame = parseServerFrame(bytes, this.#core?.id);
    } catch (error) {
      if (error instanceof WireFormatError) throw new ProtocolViolation(error.message);
      throw error;
    }
    if (frame.type === 'round') return this.#onAnnouncement(frame);
    if (frame.type === 'abort') {
      this.#core?.handle({ type: 'abort', reason: frame.reason });
      this.#settle(new CoordinatorAbortError(frame.code, frame.reason));
      return;
    }
    const core = this.#core;
    if (!core) throw new ProtocolViolation(`'${frame.type}' before the round announcement`);
    this.#stage = STAGE_ENTERED[frame.type];
    this.options.onStage?.(this.#stage);
    // The malicious setting's signature checks (n − 1 or t of them) run ahead on worker threads, in
    // parallel and beside the event loop; the step then finds them done (and checks anything else).
    const checks = core.signatureChecks(frame);
    const verifyBatch = sharedSignaturePool()?.verify ?? verifyEachOnTheSpot;
    const verified = checks.length > 0 ? await VerifiedSignatures.verifyAll(checks, verifyBatch) : undefined;
    if (this.#settled) return;
    const reply = await takeTurn(() => core.handle(frame, verified));
    if (this.#settled) return;
    if (reply) await this.#send(reply);
  }

  async #onAnnouncement(frame: RoundAnnouncementFrame): Promise<void> {
    if (this.#core || this.#announced) throw new ProtocolViolation('a second round announcement on one call');
    this.#announced = true;
    const { clientId, parameters, task } = frame;
    const { privacy, taskDigest } = parameters;
    let params: RoundParams;
    try {
      params = roundParams({ ...parameters, context: roundContext(privacy, taskDigest) });
    } catch (error) {
      if (error instanceof ParameterError) {
        throw new Refusal(
          error.problem === 'threshold-too-low' ? 'threshold-too-low' : 'bad-parameters',
          error.message,
        );
      }
      throw error;
    }
    this.#checkCohort(clientId, params);
    // Its signature checks come one stage later: start the threads that will run them now.
    if (params.serverModel === 'malicious') sharedSignaturePool()?.warm();
    const refusal = checkAnnouncedPrivacy(privacy, params, this.options.privacyPolicy);
    if (refusal !== undefined) throw new Refusal('insufficient-privacy', refusal);
    this.#round = params.round;
    const input = await this.inputFor({
      params,
      clientId,
      ...(task && { task }),
      ...(privacy && { privacy: privacyPlan(privacy, params.clients.length) }),
    });
    if (this.#settled) return;
    this.#core = new SecAggClient({
      id: clientId,
      params,
      input,
      rng: this.options.rng ?? systemRng,
      ...(this.options.identity && { identity: this.options.identity.signer }),
    });
    this.#stage = 'advertise';
    this.options.onStage?.('advertise');
    await this.#send(this.#core.start());
  }

  /**
   * The setting and the cohort (PROTOCOL.md §2.3), before anything derived from the input exists. A
   * client with an identity takes part in the malicious setting only: a semi-honest round would drop
   * the signatures its protection rests on (a downgrade). It then checks every announced member
   * against its roster — an unenrolled name, or a key other than the roster's, is refused naming the
   * member — and that its own id is announced under its own name.
   * @throws {Refusal} `bad-parameters` naming what is wrong
   */
  #checkCohort(clientId: ClientId, params: RoundParams): void {
    const identity = this.options.identity;
    if (params.serverModel !== 'malicious') {
      if (identity) {
        throw new Refusal(
          'bad-parameters',
          'the coordinator announced a semi-honest round; this client has an identity and takes part in the malicious setting only',
        );
      }
      return;
    }
    if (!identity) {
      throw new Refusal(
        'bad-parameters',
        'the malicious setting needs an identity key and the roster (privagg client --identity --roster)',
      );
    }
    // The wire requires a cohort in the malicious setting (wire/convert.ts); this is belt and braces.
    const cohort = params.cohort;
    if (!cohort) throw new Refusal('bad-parameters', 'the malicious round announces no cohort');
    const problem = identity.roster.cohortProblem(cohort);
    if (problem !== undefined) throw new Refusal('bad-parameters', problem);
    const own = cohort.find((m) => m.id === clientId)!;
    if (own.name !== this.options.name) {
      throw new Refusal(
        'bad-parameters',
        `the announcement gives this client's id ${clientId} to another member of the cohort`,
      );
    }
  }

  async #send(message: Parameters<typeof clientMessageToFrames>[0]): Promise<void> {
    const core = this.#core!;
    const frames = clientMessageToFrames(message, {
      self: core.id,
      vectors: core.params.vectors,
      maxChunkBytes: this.options.maxChunkBytes ?? DEFAULT_UPLOAD_CHUNK_BYTES,
    });
    for (const frame of frames) {
      if (this.#settled) return;
      if (!this.call.write(frame)) await once(this.call, 'drain');
    }
  }

  #onEnd(): void {
    if (this.#settled) return;
    const core = this.#core;
    if (core?.state === 'done') {
      this.#settle({ round: this.#round, clientId: core.id });
    } else {
      this.#settle(
        new TransportError(
          Status.UNAVAILABLE,
          'the coordinator ended the session before the round completed',
          this.#stage,
        ),
      );
    }
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    if (error instanceof Refusal || error instanceof ProtocolViolation) {
      // Tell the coordinator why (an Abort frame: CLIENT_REFUSED with the refusal reason, or
      // PROTOCOL_VIOLATION), then stop: nothing more is revealed.
      this.call.write(clientAbortToFrame(abortFromError(error)));
      this.call.end();
      this.#settle(error instanceof Refusal ? new ClientRefusedError(error) : error, 'after-abort');
      return;
    }
    this.#settle(error instanceof Error ? error : new Error(String(error)));
  }

  /**
   * Ends the session with its outcome. A failure cancels the call, except after this client's own
   * Abort (`after-abort`): a cancel resets the stream at once, and the Abort frame written just
   * before it would be lost with it, leaving the coordinator unable to tell a refusal from a
   * dropout. So the call is left to the coordinator to close (it does so as soon as the Abort
   * arrives, PROTOCOL.md §12.2), and cancelled only if it has not within {@link ABORT_GRACE_MS}.
   */
  #settle(outcome: Participation | Error, ending: 'cancel' | 'after-abort' = 'cancel'): void {
    if (this.#settled) return;
    this.#settled = true;
    if (!(outcome instanceof Error)) {
      this.call.end();
      this.#resolve(outcome);
    } else if (ending === 'after-abort') {
      void this.#closed(ABORT_GRACE_MS).then(() => {
        this.call.cancel();
        this.#reject(outcome);
      });
    } else {
      this.call.cancel();
      this.#reject(outcome);
    }
  }

  /** Resolves once the call has its final status, or after `limitMs`. */
  #closed(limitMs: number): Promise<void> {
    if (this.#hasStatus) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, limitMs);
      this.call.once('status', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
