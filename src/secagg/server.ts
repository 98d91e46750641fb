/**
 * The server side of secure aggregation (Bonawitz et al. 2017, §4; docs/PROTOCOL.md §4) as a sans-I/O
 * state machine. It is fed client messages and disconnects, and queues messages to send; time is
 * passed in (`now`, in milliseconds) and deadlines are data, as in quinn-proto.
 *
 * Call order: `start(now)`; then, in any order, `handle(from, message, now)`,
 * `handleDisconnect(from, now)`, `handleTimeout(now)` when `pollTimeout()` has passed, or
 * `closeStage(now)` to end the current stage early; after each call drain `pollTransmit()`. When
 * `result` is set the round is over.
 *
 * Unmasking (§4.6) is split in two. Closing the unmask stage reconstructs the secrets and checks them
 * (cheap: the t lowest holders' shares, cached Lagrange coefficients; only if a result fails its check
 * are all the shares that arrived decoded to find the wrong ones, which `result` reports by sender),
 * which yields an {@link UnmaskPlan}: the mask expansions still to do, nearly all of the server's work
 * at large vector lengths. With `unmask: 'inline'` (the default) the server runs the
 * plan at once on the calling thread and `result` is set in the same call, as if there were no split.
 * With `unmask: 'external'` it stops with the plan in `pendingUnmask` (the stage still reads `unmask`);
 * the caller runs it wherever it likes (e.g. worker threads) and then calls `completeUnmask(correction)`
 * — or `failUnmask(reason)` to abort the round, releasing nothing. While unmasking, client messages are
 * violations, disconnects and timeouts change nothing (every survivor has answered), and
 * `pollTimeout()` is undefined.
 *
 * A stage closes when every client still expected in it has answered, or at its deadline. A client
 * that disconnects, misses a deadline or sends an invalid message is dropped at that stage and the
 * round goes on (an advertisement gets every check a client would make on it, §3.1, so nothing one
 * client sends is relayed for the others to refuse); with fewer than `params.minSurvivors` clients
 * left (the threshold t for the complete graph, the announced survivor floor for a Harary graph) the
 * round aborts and nothing is reconstructed. The masked inputs are summed as they arrive, so memory is
 * O(vector length).
 *
 * The neighbour graph is fixed when the advertise stage closes, from the session id (PROTOCOL.md
 * §2.2), exactly as every client derives it.
 * @module
 */
import { roundIdentityKeys } from './cohort.ts';
import { ed25519Verify } from './crypto/ed25519.ts';
import {
  fieldElementFromBytes,
  fieldElementToBytes,
  LagrangeCache,
  shamirReconstruct,
} from './crypto/shamir.ts';
import { correctableShares, shamirDecode } from './crypto/shamir-decode.ts';
import { isClampedX25519PrivateKey, X25519PrivateKey, x25519PublicKeyProblem } from './crypto/x25519.ts';
import { equalBytes } from './encoding.ts';
import { ProtocolViolation, RoundAborted, UsageError } from './errors.ts';
import type { NeighbourGraph } from './graph.ts';
import { neighbourGraph } from './harary.ts';
import { pairSign } from './mask.ts';
import type {
  AdvertisedKeys,
  ClientMessage,
  ConsistencySignature,
  EncryptedSharesMessage,
  MaskedInputMessage,
  SecretShare,
  ServerMessage,
  ShareCiphertext,
  Stage,
  UnmaskResponseMessage,
} from './messages.ts';
import type { RoundParams } from './params.ts';
import { addInto, reduceInto, subInto } from './ring.ts';
import { RingSum } from './ring-sum.ts';
import {
  advertiseTranscript,
  consistencyTranscript,
  derivePairSeed,
  selfMaskCommitment,
  sessionIdFor,
} from './transcript.ts';
import type { ClientId } from './types.ts';
import {
  assertCorrection,
  type MaskJob,
  runUnmaskPlan,
  type UnmaskPlan,
  unmaskPlan,
  wipeUnmaskPlan,
} from './unmask-plan.ts';

/** Per-stage deadlines in milliseconds after the stage opens; a missing entry means no deadline. */
export type StageTimeouts = Partial<Record<Stage, number>>;

/**
 * Who expands the unmask masks: `'inline'` runs the plan on the calling thread when the unmask stage
 * closes; `'external'` hands it to the caller through `pendingUnmask` / `completeUnmask`.
 */
export type UnmaskMode = 'inline' | 'external';

/** Options for {@link SecAggServer}. */
export interface SecAggServerOptions {
  readonly params: RoundParams;
  /**
   * Malicious setting: every client's long-term Ed25519 public key, when `params` has no cohort (in
   * process). With a cohort the keys are the cohort's; a map given as well must agree with it.
   */
  readonly identities?: ReadonlyMap<ClientId, Uint8Array>;
  readonly timeouts?: StageTimeouts;
  /** Default `'inline'`. */
  readonly unmask?: UnmaskMode;
  /**
   * With `unmask: 'external'`: reconstruct the secrets in steps the caller drives ({@link
   * SecAggServer.planUnmask}) rather than all at once when the unmask stage closes. Each secret is a
   * Lagrange interpolation and a check (~0.1 ms); at n = 1,000 all of them in one call held a
   * coordinator's event loop for ~120 ms, at n = 10,000 it would be a second.
   */
  readonly planInSteps?: boolean;
}

/**
 * Internal state: `unmasking` while the plan is being built in steps or the caller runs it (shown as
 * stage `unmask`).
 */
type ServerState = Stage | 'idle' | 'unmasking' | 'ended';

/** A message to send to one client. */
export interface Outgoing {
  readonly to: ClientId;
  readonly message: ServerMessage;
}

/**
 * What the unmask responses showed about shares (§4.6), for the log and the round's outcome. Both
 * maps are empty in a round where every share was right; lists are ascending.
 */
export interface ShareReport {
  /**
   * By the client whose unmask response carried them: the clients whose secret its shares (or
   * revealed pair seeds) were found wrong for. A holder is blamed for what it sent; when one secret's
   * shares are blamed on many holders, that secret's owner may have dealt them wrong (nothing lets
   * the server tell the two apart).
   */
  readonly badShares: ReadonlyMap<ClientId, readonly ClientId[]>;
  /**
   * By the client whose share message (§4.2) could not be read: the holders that said so, by
   * answering without its share. The server cannot check that claim (it cannot open the messages);
   * many holders naming one sender point at the sender.
   */
  readonly unreadableShares: ReadonlyMap<ClientId, readonly ClientId[]>;
}

/** How a round ended. `survivors` are exactly the clients whose inputs are in the sum. */
export type RoundResult =
  | (ShareReport & {
      readonly status: 'ok';
      /** One sum per vector spec, in `params.vectors` order, elements mod 2^bits. */
      readonly sums: readonly Uint32Array[];
      readonly survivors: readonly ClientId[];
      /** Every other selected client, with the stage at which it was lost. */
      readonly dropped: ReadonlyMap<ClientId, Stage>;
      /**
       * Survivors lost after their masked input was taken — at the consistency stage (e.g. a bad
       * signature) or at unmask — with that stage. Their inputs are in the sum (everyone signed or
       * was asked to unmask a survivor list with them), yet they did not finish the round.
       */
      readonly lostAfterMasked: ReadonlyMap<ClientId, Stage>;
    })
  | (ShareReport & {
      readonly status: 'aborted';
      readonly error: RoundAborted;
      readonly dropped: ReadonlyMap<ClientId, Stage>;
    });

/** What the server keeps per client; each field is set when that stage's message is accepted. */
interface ClientRecord {
  keys?: AdvertisedKeys;
  shares?: EncryptedSharesMessage;
  masked?: true;
  consistency?: Uint8Array;
  unmask?: UnmaskResponseMessage;
  /** With `unmask`: the neighbours whose share message it could not read (it sent none of their shares). */
  unread?: readonly ClientId[];
  /** Set once the client is lost; it is then ignored for the rest of the round. */
  droppedAt?: Stage;
  /**
   * Disconnected after its message for the open stage was accepted: it still belongs to that
   * stage's set (its masked input may already be in the sum) and is dropped at the next stage.
   */
  gone?: true;
}

/** The server's state machine for one round. */
export class SecAggServer {
  readonly params: RoundParams;
  readonly #identities: ReadonlyMap<ClientId, Uint8Array> | undefined;
  readonly #timeouts: StageTimeouts;
  readonly #records = new Map<ClientId, ClientRecord>();
  /** The records in client order, for the resumable scan of #closeIfComplete. */
  readonly #recordList: ClientRecord[] = [];
  /** Every record before this index is settled (answered or dropped) for the open stage. */
  #settledUpTo = 0;
  readonly #outbox: Outgoing[] = [];
  readonly #lagrange = new LagrangeCache();
  readonly #unmaskMode: UnmaskMode;
  readonly #planInSteps: boolean;
  #stage: ServerState = 'idle';
  #deadline: number | undefined;
  #sessionId: Uint8Array | undefined;
  /** The round's graph, once the advertise stage has closed (it depends on the session id). */
  #graph: NeighbourGraph | undefined;
  /** U1's keys, by id, once the advertise stage has closed. */
  #keys = new Map<ClientId, AdvertisedKeys>();
  /** Every key accepted at the advertise stage (hex), with its owner: a repeat is refused (§3.1). */
  readonly #advertisedKeys = new Map<string, ClientId>();
  /** Running sum of masked inputs, one per vector (ring-sum.ts: the range check fused in). */
  #adders: RingSum[] = [];
  /** U3, once the masked stage has closed. */
  #survivors: readonly ClientId[] = [];
  /** U3 as a set, built once for the per-response checks of the unmask stage. */
  #survivorSet: ReadonlySet<ClientId> = new Set();
  /** U2 \ U3, ascending, once the unmask request is sent: the clients whose pair masks are removed. */
  #droppedAfterSharing: readonly ClientId[] = [];
  /** U5, once the unmask stage has closed: the clients whose unmask responses are used. */
  #responders: ReadonlySet<ClientId> = new Set();
  /** Holders found sending a wrong share, with whose secrets (ShareReport.badShares). */
  readonly #badShares = new Map<ClientId, Set<ClientId>>();
  /** Senders whose share message holders could not read, with those holders (ShareReport). */
  readonly #unreadable = new Map<ClientId, ClientId[]>();
  #result: RoundResult | undefined;
  /** Set while the state is `unmasking` and the plan is built. */
  #pendingUnmask: UnmaskPlan | undefined;
  /** With planInSteps: the plan being built, while the state is `unmasking` and it is not done. */
  #planning: Generator<void, UnmaskPlan> | undefined;

  constructor(options: SecAggServerOptions) {
    const { params } = options;
    // Over the network the keys are the announced cohort's (§2.3); in process they may be handed in.
    const identities =
      params.serverModel === 'malicious' ? roundIdentityKeys(params, options.identities) : undefined;
    this.params = params;
    this.#identities = identities;
    this.#timeouts = options.timeouts ?? {};
    const unmask = options.unmask ?? 'inline';
    if (unmask !== 'inline' && unmask !== 'external') {
      throw new UsageError(`unmask must be 'inline' or 'external', got '${String(unmask)}'`);
    }
    this.#unmaskMode = unmask;
    if (options.planInSteps && unmask !== 'external') {
      throw new UsageError("planInSteps needs unmask: 'external'");
    }
    this.#planInSteps = options.planInSteps === true;
    for (const id of params.clients) {
      const record: ClientRecord = {};
      this.#records.set(id, record);
      this.#recordList.push(record);
    }
  }

  /**
   * The open stage, `idle` before `start`, `ended` once `result` is set. While an unmask plan is
   * pending (`pendingUnmask` is set) the stage still reads `unmask`, though no client is expected to
   * send anything more.
   */
  get stage(): Stage | 'idle' | 'ended' {
    return this.#stage === 'unmasking' ? 'unmask' : this.#stage;
  }

  /**
   * The mask expansions still to run: set (only with `unmask: 'external'`) from the close of the
   * unmask stage until `completeUnmask` or `failUnmask`. It holds seeds: hand it to an executor, never
   * to a log (it redacts itself in JSON and `util.inspect`). The server zeroes its seeds when it is
   * completed or failed; copies an executor made are the executor's to zero.
   */
  get pendingUnmask(): UnmaskPlan | undefined {
    return this.#pendingUnmask;
  }

  /**
   * With `planInSteps`: true from the close of the unmask stage until the plan is built (then
   * `pendingUnmask` is set) or the round has aborted on a secret that could not be recovered.
   */
  get planningUnmask(): boolean {
    return this.#planning !== undefined;
  }

  /**
   * With `planInSteps`: takes up to `steps` more steps of building the plan — a step gathers one
   * client's unmask response or reconstructs and checks one secret. After the last step the plan is in
   * `pendingUnmask`, or, if a secret could not be recovered, the round has aborted and `result` says
   * why — exactly as the same work done at once would have ended.
   * @param steps - how many steps at most (at least 1)
   * @throws {UsageError} when no plan is being built
   */
  planUnmask(steps: number): void {
    const planning = this.#planning;
    if (!planning)
      throw new UsageError(`planUnmask() called with no plan being built (stage '${this.stage}')`);
    for (let done = 0; done < Math.max(1, steps); done++) {
      let step: IteratorResult<void, UnmaskPlan>;
      try {
        step = planning.next();
      } catch (error) {
        this.#planning = undefined;
        if (!(error instanceof RoundAborted)) throw error;
        this.#abort(error.code, error.stage, error.detail);
        return;
      }
      if (step.done) {
        this.#planning = undefined;
        this.#pendingUnmask = step.value;
        return;
      }
    }
  }

  /**
   * Finishes the round with the pending plan's correction (`Σ_jobs sign · mask` mod 2^32 per vector,
   * as {@link runUnmaskPlan} computes it): it is added to the sum of the masked inputs, which is then
   * reduced, and `result` is set exactly as the inline computation sets it.
   * @param correction - one `Uint32Array` per vector of `params.vectors`, of its length (not kept)
   * @throws {UsageError} when no plan is pending (before the unmask stage closed, or a second call) or
   *   for a correction of the wrong shape; the state is then unchanged
   */
  completeUnmask(correction: readonly Uint32Array[]): void {
    const plan = this.#pendingUnmask;
    if (this.#stage !== 'unmasking' || !plan) {
      throw new UsageError(`completeUnmask() called with no unmask pending (stage '${this.stage}')`);
    }
    assertCorrection(plan, correction);
    this.#adders.forEach((adder, i) => {
      addInto(adder.words, correction[i]!);
    });
    this.#finishUnmask(plan);
  }

  /**
   * Aborts the round while its plan is pending (the executor failed): nothing is released, the
   * clients still in the round are sent an abort, and `result` says `server-aborted at unmask: …`.
   * @param reason - why, for the log and the clients; must not hold secrets
   * @throws {UsageError} when no plan is pending; the state is then unchanged
   */
  failUnmask(reason: string): void {
    const plan = this.#pendingUnmask;
    if (this.#stage !== 'unmasking' || !plan) {
      throw new UsageError(`failUnmask() called with no unmask pending (stage '${this.stage}')`);
    }
    this.#pendingUnmask = undefined;
    wipeUnmaskPlan(plan);
    this.#abort('server-aborted', 'unmask', String(reason));
  }

  /** The round's outcome, once it has ended. */
  get result(): RoundResult | undefined {
    return this.#result;
  }

  /** The session id, once the advertise stage has closed. */
  get sessionId(): Uint8Array | undefined {
    return this.#sessionId;
  }

  /** Opens the advertise stage. */
  start(now: number): void {
    if (this.#stage !== 'idle') throw new UsageError(`start() called in stage '${this.#stage}'`);
    this.#open('advertise', now);
  }

  /** The stage at which client `id` was dropped, or undefined (not dropped, or not in the round). */
  droppedAt(id: ClientId): Stage | undefined {
    return this.#records.get(id)?.droppedAt;
  }

  /** The next message to send, or undefined when there is none. */
  pollTransmit(): Outgoing | undefined {
    return this.#outbox.shift();
  }

  /** When `handleTimeout` should next be called, or undefined if no deadline is pending. */
  pollTimeout(): number | undefined {
    return this.#deadline;
  }

  /** Closes the current stage if its deadline has passed; otherwise does nothing. */
  handleTimeout(now: number): void {
    if (this.#deadline !== undefined && now >= this.#deadline) this.closeStage(now);
  }

  /** The client's connection is gone: it is dropped at the current stage. Unknown ids are ignored. */
  handleDisconnect(from: ClientId, now: number): void {
    const record = this.#records.get(from);
    const stage = this.#stage;
    if (!record || record.droppedAt || stage === 'idle' || stage === 'unmasking' || stage === 'ended') return;
    if (this.#answered(record, stage)) record.gone = true;
    else record.droppedAt = stage;
    this.#closeIfComplete(now);
  }

  /**
   * Feeds one client message.
   * @throws {ProtocolViolation} naming the client when the message is invalid or out of stage. A
   *   client whose message for the open stage was not yet accepted is dropped; the round goes on.
   */
  handle(from: ClientId, message: ClientMessage, now: number): void {
    const record = this.#records.get(from);
    if (!record) throw new ProtocolViolation(`client ${from} is not in this round`, from);
    if (record.droppedAt || record.gone) {
      throw new ProtocolViolation(`client ${from} was dropped or disconnected earlier in this round`, from);
    }
    const stage = this.#stage;
    if (stage === 'idle' || stage === 'unmasking' || stage === 'ended') {
      throw new ProtocolViolation(`client ${from} sent '${message.type}' while the round is ${stage}`, from);
    }
    if (this.#answered(record, stage)) {
      throw new ProtocolViolation(`client ${from} already answered stage '${stage}'`, from);
    }
    if (message.type !== STAGE_MESSAGE[stage]) {
      record.droppedAt = stage;
      this.#closeIfComplete(now);
      throw new ProtocolViolation(`client ${from} sent '${message.type}' during stage '${stage}'`, from);
    }
    try {
      this.#accept(from, record, message);
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      record.droppedAt = stage;
      this.#closeIfComplete(now);
      throw error;
    }
    this.#closeIfComplete(now);
  }

  /** Ends the open stage now: clients that have not answered are dropped at it. */
  closeStage(now: number): void {
    const stage = this.#stage;
    if (stage === 'idle' || stage === 'unmasking' || stage === 'ended') return;
    for (const record of this.#records.values()) {
      if (!record.droppedAt && !this.#answered(record, stage)) record.droppedAt = stage;
    }
    const moving = this.#active();
    const { threshold, minSurvivors } = this.params;
    if (moving.length < minSurvivors) {
      this.#abort(
        'too-few-clients',
        stage,
        minSurvivors === threshold
          ? `${moving.length} clients completed stage '${stage}', threshold is ${threshold}`
          : `${moving.length} clients completed stage '${stage}', the round needs ${minSurvivors} survivors`,
      );
      return;
    }
    // Clients that answered and then disconnected belong to `moving` but will not answer again.
    const next = nextStage(stage, this.params);
    for (const id of moving) {
      const record = this.#records.get(id)!;
      if (record.gone) record.droppedAt = next;
    }
    switch (stage) {
      case 'advertise':
        this.#afterAdvertise(moving, now);
        return;
      case 'share':
        this.#afterShare(moving, now);
        return;
      case 'masked':
        this.#afterMasked(moving, now);
        return;
      case 'consistency':
        this.#afterConsistency(moving, now);
        return;
      case 'unmask':
        this.#afterUnmask(moving);
        return;
    }
  }

  // ---- accepting messages --------------------------------------------------------------------

  #accept(from: ClientId, record: ClientRecord, message: ClientMessage): void {
    switch (message.type) {
      case 'advertise':
        return this.#acceptAdvertise(from, record, message);
      case 'shares':
        return this.#acceptShares(from, record, message);
      case 'masked':
        return this.#acceptMasked(from, record, message);
      case 'consistency':
        return this.#acceptConsistency(from, record, message.signature);
      case 'unmask':
        return this.#acceptUnmask(from, record, message);
    }
  }

  #acceptAdvertise(
    from: ClientId,
    record: ClientRecord,
    message: ClientMessage & { type: 'advertise' },
  ): void {
    if (message.cPk.length !== 32 || message.sPk.length !== 32) {
      throw new ProtocolViolation(`client ${from}'s public keys must be 32 bytes`, from);
    }
    // Every check a client makes on a peer's keys (§3.1), made here first, so that a key that would
    // make honest clients refuse the round is never relayed: its sender is dropped instead. A repeat
    // is charged to the later advertisement (keys are fresh per round and no client sees another's
    // before the stage closes, so only a colluding or broken client repeats one).
    for (const [name, key] of [
      ['cipher', message.cPk],
      ['mask', message.sPk],
    ] as const) {
      const problem = x25519PublicKeyProblem(key);
      if (problem) throw new ProtocolViolation(`client ${from}'s ${name} key is invalid: ${problem}`, from);
    }
    const cipherHex = keyHex(message.cPk);
    const maskHex = keyHex(message.sPk);
    if (cipherHex === maskHex) {
      throw new ProtocolViolation(`client ${from} advertises one key as both its cipher and mask key`, from);
    }
    for (const [name, hex] of [
      ['cipher', cipherHex],
      ['mask', maskHex],
    ] as const) {
      const owner = this.#advertisedKeys.get(hex);
      if (owner !== undefined) {
        throw new ProtocolViolation(
          `client ${from}'s ${name} key repeats a key client ${owner} advertised`,
          from,
        );
      }
    }
    if (this.params.serverModel === 'malicious') {
      const transcript = advertiseTranscript(this.params.configHash, from, message.cPk, message.sPk);
      if (!message.signature || !ed25519Verify(this.#identities!.get(from)!, transcript, message.signature)) {
        throw new ProtocolViolation(`client ${from}'s key advertisement signature is invalid`, from);
      }
    } else if (message.signature !== undefined) {
      throw new ProtocolViolation(`client ${from} signed its keys in the semi-honest setting`, from);
    }
    record.keys = {
      id: from,
      cPk: message.cPk.slice(),
      sPk: message.sPk.slice(),
      signature: message.signature,
    };
    this.#advertisedKeys.set(cipherHex, from);
    this.#advertisedKeys.set(maskHex, from);
  }

  #acceptShares(from: ClientId, record: ClientRecord, message: EncryptedSharesMessage): void {
    if (message.bCommit.length !== 32)
      throw new ProtocolViolation(`client ${from}'s commitment must be 32 bytes`, from);
    // The ciphertexts must go exactly to this client's neighbours in U1, once each, in order.
    const expected = this.#graph!.neighbours(from).filter((v) => this.#keys.has(v));
    const { ciphertexts } = message;
    const wrong = ciphertexts.length !== expected.length || ciphertexts.some((c, i) => c.to !== expected[i]);
    if (wrong) throw new ProtocolViolation(`client ${from} did not send one share to each neighbour`, from);
    if (ciphertexts.some((c) => c.from !== from || c.ciphertext.length !== 88)) {
      throw new ProtocolViolation(`client ${from} sent a malformed share ciphertext`, from);
    }
    record.shares = message;
  }

  #acceptMasked(from: ClientId, record: ClientRecord, message: MaskedInputMessage): void {
    const { vectors } = this.params;
    if (message.vectors.length !== vectors.length) {
      throw new ProtocolViolation(
        `client ${from} sent ${message.vectors.length} vectors, expected ${vectors.length}`,
        from,
      );
    }
    vectors.forEach((spec, i) => {
      if (message.vectors[i]!.length !== spec.length) {
        throw new ProtocolViolation(`client ${from}'s vector '${spec.name}' has the wrong length`, from);
      }
    });
    // Checked and added in one pass per vector; a vector out of range is not added, and the vectors
    // before it are taken back out, so a rejected message never changes the running sum.
    vectors.forEach((spec, i) => {
      if (this.#adders[i]!.addInRange(message.vectors[i]!, spec.bits) >= 0) {
        for (let j = 0; j < i; j++) subInto(this.#adders[j]!.words, message.vectors[j]!);
        throw new ProtocolViolation(
          `client ${from}'s vector '${spec.name}' has elements ≥ 2^${spec.bits}`,
          from,
        );
      }
    });
    record.masked = true;
  }

  #acceptConsistency(from: ClientId, record: ClientRecord, signature: Uint8Array): void {
    const transcript = consistencyTranscript(this.#sessionId!, this.#survivors);
    if (!ed25519Verify(this.#identities!.get(from)!, transcript, signature)) {
      throw new ProtocolViolation(`client ${from}'s consistency signature is invalid`, from);
    }
    record.consistency = signature.slice();
  }

  #acceptUnmask(from: ClientId, record: ClientRecord, message: UnmaskResponseMessage): void {
    // What was requested (§4.5), among `from` and E_from (the neighbours whose share messages were
    // delivered to it): a self-mask share of each survivor, and for each dropped client a key share
    // or, if its share message could not be read, the pair seed in its place. A survivor's share may
    // be missing for the same reason (§4.2) — never `from`'s own, which it always holds.
    const held = this.#shareSenders(from);
    const survivors = this.#survivorSet;
    const expectSelf = [...held, from].filter((u) => survivors.has(u)).sort((a, b) => a - b);
    const expectKey = held.filter((u) => !survivors.has(u));
    const { selfMaskShares, keyShares, pairSeeds } = message;
    const unread: ClientId[] = [];
    let e = 0;
    let ownShare = false;
    let ok = selfMaskShares.every((share) => {
      while (e < expectSelf.length && expectSelf[e]! < share.of) unread.push(expectSelf[e++]!);
      if (expectSelf[e] !== share.of || share.share.length !== 32) return false;
      ownShare ||= share.of === from;
      e++;
      return true;
    });
    unread.push(...expectSelf.slice(e));
    ok &&= ownShare;
    // Key shares and pair seeds, merged in order, are exactly the dropped neighbours.
    let k = 0;
    let p = 0;
    for (const u of expectKey) {
      if (!ok) break;
      if (keyShares[k]?.of === u) ok = keyShares[k++]!.share.length === 32;
      else if (pairSeeds[p]?.of === u) {
        ok = pairSeeds[p++]!.seed.length === 32;
        unread.push(u);
      } else ok = false;
    }
    if (!ok || k !== keyShares.length || p !== pairSeeds.length) {
      throw new ProtocolViolation(`client ${from}'s unmask response does not match the request`, from);
    }
    record.unmask = message;
    record.unread = unread.sort((a, b) => a - b);
  }

  /** E_v: the senders whose share ciphertexts were delivered to `v` (neighbours in U2). */
  #shareSenders(v: ClientId): ClientId[] {
    return this.#graph!.neighbours(v).filter((u) => this.#inU2(u));
  }

  #inU2(u: ClientId): boolean {
    const record = this.#records.get(u)!;
    return record.shares !== undefined && record.droppedAt !== 'share' && record.droppedAt !== 'advertise';
  }

  // ---- closing stages ------------------------------------------------------------------------

  #afterAdvertise(u1: readonly ClientId[], now: number): void {
    const peers = u1.map((id) => this.#records.get(id)!.keys!);
    this.#keys = new Map(peers.map((p) => [p.id, p]));
    this.#sessionId = sessionIdFor(this.params.configHash, peers);
    this.#graph = neighbourGraph(this.params.graph, this.params.clients, this.#sessionId);
    for (const to of u1) this.#send(to, { type: 'peer-keys', peers });
    this.#open('share', now);
  }

  #afterShare(u2: readonly ClientId[], now: number): void {
    const inbox = new Map<ClientId, ShareCiphertext[]>(u2.map((v) => [v, []]));
    for (const from of u2) {
      for (const ciphertext of this.#records.get(from)!.shares!.ciphertexts)
        inbox.get(ciphertext.to)?.push(ciphertext);
    }
    this.#adders = this.params.vectors.map((spec) => new RingSum(spec.length));
    for (const [to, ciphertexts] of inbox) this.#send(to, { type: 'share-delivery', ciphertexts });
    // Delivered: keep only the commitments. Holding n² ciphertexts until unmasking bloats the heap,
    // and every GC during mask removal then costs more (measured: 2× slower unmask at n = 500).
    for (const from of u2) {
      const record = this.#records.get(from)!;
      record.shares = { ...record.shares!, ciphertexts: [] };
    }
    this.#open('masked', now);
  }

  #afterMasked(u3: readonly ClientId[], now: number): void {
    this.#survivors = u3;
    this.#survivorSet = new Set(u3);
    if (this.params.serverModel === 'malicious') {
      for (const to of u3) this.#send(to, { type: 'consistency-request', survivors: u3 });
      this.#open('consistency', now);
    } else {
      this.#requestUnmask(u3, undefined, now);
    }
  }

  #afterConsistency(u4: readonly ClientId[], now: number): void {
    // t signatures are what a client needs (§4.4), each verified on receipt: forwarding all of U4
    // would only cost every client |U4| − t more Ed25519 verifications (~130 µs each) and the bytes.
    const signatures: ConsistencySignature[] = u4.slice(0, this.params.threshold).map((id) => ({
      id,
      signature: this.#records.get(id)!.consistency!,
    }));
    this.#requestUnmask(u4, signatures, now);
  }

  #requestUnmask(
    recipients: readonly ClientId[],
    signatures: ConsistencySignature[] | undefined,
    now: number,
  ): void {
    const survivors = new Set(this.#survivors);
    const dropped = this.params.clients.filter((u) => this.#inU2(u) && !survivors.has(u));
    this.#droppedAfterSharing = dropped;
    for (const to of recipients) {
      this.#send(to, { type: 'unmask-request', survivors: this.#survivors, dropped, signatures });
    }
    this.#open('unmask', now);
  }

  #afterUnmask(u5: readonly ClientId[]): void {
    if (this.#planInSteps) {
      this.#planning = this.#planSteps(u5);
      this.#stage = 'unmasking';
      this.#deadline = undefined;
      return;
    }
    let plan: UnmaskPlan;
    try {
      plan = runToEnd(this.#planSteps(u5));
    } catch (error) {
      if (!(error instanceof RoundAborted)) throw error;
      // The detail, not the message: the message already says `<code> at <stage>: `.
      this.#abort(error.code, error.stage, error.detail);
      return;
    }
    if (this.#unmaskMode === 'inline') {
      // Straight into the sums: no second vector-length buffer, and the same bytes as ever.
      runUnmaskPlan(
        plan,
        this.#adders.map((adder) => adder.words),
      );
      this.#finishUnmask(plan);
      return;
    }
    this.#pendingUnmask = plan;
    this.#stage = 'unmasking';
    this.#deadline = undefined;
  }

  /** The sums hold every mask correction: reduce them and end the round. */
  #finishUnmask(plan: UnmaskPlan): void {
    this.#pendingUnmask = undefined;
    wipeUnmaskPlan(plan);
    // Copied out of the sums' WebAssembly memories (ring-sum.ts), so that the result is ordinary
    // arrays with buffers of their own (transferable, and holding nothing else).
    const sums = this.#adders.map(({ words }, i) => {
      reduceInto(words, this.params.vectors[i]!.bits);
      return words.slice();
    });
    this.#adders = [];
    this.#finish({
      status: 'ok',
      sums,
      survivors: this.#survivors,
      ...this.#lostClients(),
      ...this.#shareReport(),
    });
  }

  /**
   * Reconstructs and checks the secrets (§4.6) and lists the masks still to remove: the self masks of
   * U3 and the pairwise masks of dropped clients with their surviving neighbours. Yields after each
   * response gathered and after each secret, so a caller can spread the work.
   */
  *#planSteps(responders: readonly ClientId[]): Generator<void, UnmaskPlan> {
    // The cheap path uses the shares of the t lowest-id holders (PROTOCOL.md §5), so only those are
    // collected here, walking the holders in ascending order, and only those are decoded (#recover);
    // every other share is looked up only if that path fails. Revealed pair seeds and unreadable
    // shares are rare, and gathered whole.
    const { threshold } = this.params;
    this.#responders = new Set(responders);
    const selfMaskShares = new Map<ClientId, RawShare[]>();
    const keyShares = new Map<ClientId, RawShare[]>();
    const pairSeeds = new Map<ClientId, Map<ClientId, Uint8Array>>();
    const collect = (into: Map<ClientId, RawShare[]>, holder: ClientId, share: SecretShare) => {
      let list = into.get(share.of);
      if (list === undefined) {
        list = [];
        into.set(share.of, list);
      }
      if (list.length < threshold) list.push({ id: holder, bytes: share.share });
    };
    for (const holder of [...responders].sort((a, b) => a - b)) {
      // A step per response: each holds a share per neighbour (n - 1 of them in a complete graph).
      yield;
      const record = this.#records.get(holder)!;
      const response = record.unmask!;
      for (const share of response.selfMaskShares) collect(selfMaskShares, holder, share);
      for (const share of response.keyShares) collect(keyShares, holder, share);
      for (const { of, seed } of response.pairSeeds) {
        let seeds = pairSeeds.get(of);
        if (seeds === undefined) {
          seeds = new Map();
          pairSeeds.set(of, seeds);
        }
        seeds.set(holder, seed);
      }
      for (const of of record.unread!) {
        const holders = this.#unreadable.get(of);
        if (holders) holders.push(holder);
        else this.#unreadable.set(of, [holder]);
      }
    }

    const jobs: MaskJob[] = [];
    let complete = false;
    try {
      yield* this.#maskJobSteps(jobs, selfMaskShares, keyShares, pairSeeds);
      complete = true;
    } finally {
      // A later secret failed its check (or the steps were abandoned): zero the seeds already
      // reconstructed.
      if (!complete) for (const job of jobs) job.seed.fill(0);
    }
    return unmaskPlan(this.#sessionId!.slice(), this.params.vectors, jobs);
  }

  /**
   * Reconstructs each secret, checks it, and appends its mask jobs to `jobs` (§4.6), yielding after
   * each secret.
   */
  *#maskJobSteps(
    jobs: MaskJob[],
    selfMaskShares: ReadonlyMap<ClientId, RawShare[]>,
    keyShares: ReadonlyMap<ClientId, RawShare[]>,
    pairSeeds: ReadonlyMap<ClientId, ReadonlyMap<ClientId, Uint8Array>>,
  ): Generator<void, void> {
    const sessionId = this.#sessionId!;
    const survivors = this.#survivorSet;
    for (const u of this.#survivors) {
      const bCommit = this.#records.get(u)!.shares!.bCommit;
      const seed = this.#recover(u, 'self', selfMaskShares.get(u), (b) =>
        equalBytes(selfMaskCommitment(sessionId, u, b), bCommit),
      );
      jobs.push({ kind: 'self', client: u, seed, sign: -1 });
      yield;
    }
    // Every dropped client with a surviving neighbour: each such neighbour v added
    // sign(v, u)·PRG(pairSeed_vu), and adding it with u's sign removes it.
    for (const u of this.#droppedAfterSharing) {
      const neighbours = this.#graph!.neighbours(u).filter((v) => survivors.has(v));
      if (neighbours.length === 0) continue;
      yield;
      const sPk = this.#keys.get(u)!.sPk;
      const revealed = pairSeeds.get(u) ?? new Map<ClientId, Uint8Array>();
      let key: X25519PrivateKey | undefined;
      let maskKey: Uint8Array | undefined;
      let failure: RoundAborted | undefined;
      try {
        // The check builds the key object (one public-key derivation); the accepted one is kept,
        // and its bytes go to the plan: deriving each pair seed from them (an X25519 and an HKDF
        // per surviving neighbour) is left to the plan's executor, as at scale it is most of the
        // work after the expansions themselves.
        const bytes = this.#recover(u, 'key', keyShares.get(u), (candidateBytes) => {
          const candidate = keyMatching(candidateBytes, sPk);
          if (candidate) key = candidate;
          return candidate !== undefined;
        });
        maskKey = bytes.slice();
        bytes.fill(0);
      } catch (error) {
        if (!(error instanceof RoundAborted)) throw error;
        failure = error;
      }
      if (key && maskKey) {
        for (const v of neighbours) {
          const claimed = revealed.get(v);
          if (claimed) {
            // A revealed seed (rare: v could not read u's shares) can be checked only here, against
            // the reconstructed key.
            const seed = derivePairSeed(key, this.#keys.get(v)!.sPk, sessionId, u, v);
            if (!equalBytes(claimed, seed)) this.#blame(v, u);
            jobs.push({ kind: 'pair', seed, sign: pairSign(u, v) });
            continue;
          }
          jobs.push({
            kind: 'dropped-pair',
            dropped: u,
            peer: v,
            seed: maskKey,
            peerPublicKey: this.#keys.get(v)!.sPk,
            sign: pairSign(u, v),
          });
        }
        continue;
      }
      // No key: the pair seeds its neighbours revealed in place of key shares (§4.5) will do, if every
      // surviving neighbour revealed one. (They cannot be checked: see ShareReport.)
      const missing = neighbours.filter((v) => !revealed.has(v)).length;
      if (missing > 0) {
        throw new RoundAborted(
          failure!.code,
          'unmask',
          `${failure!.detail}, and ${missing} of its ${neighbours.length} surviving neighbours revealed no pair seed in its place`,
        );
      }
      for (const v of neighbours)
        jobs.push({ kind: 'pair', seed: revealed.get(v)!.slice(), sign: pairSign(u, v) });
    }
  }

  /**
   * Recovers one secret (§4.6) and returns `fe(secret)`, which `check` approved. First the cheap path:
   * the shares of the t lowest-id holders not yet caught sending a wrong share, interpolated with
   * cached Lagrange coefficients, only those decoded. If that fails its check, every share of the
   * secret that arrived is gathered and decoded (shamirDecode: O(m²), no subset search), and the
   * wrong shares found are blamed on their holders, who are then passed over on later cheap paths.
   * @param first - the shares of the t lowest-id holders (fewer if fewer arrived)
   * @throws {RoundAborted} when fewer than t shares arrived, or no secret `check` approves is found
   */
  #recover(
    of: ClientId,
    kind: 'self' | 'key',
    first: readonly RawShare[] | undefined,
    check: (bytes: Uint8Array) => boolean,
  ): Uint8Array {
    const { threshold } = this.params;
    const what = kind === 'self' ? 'self-mask seed' : 'mask key';
    const count = first?.length ?? 0;
    if (count < threshold) {
      const unread = this.#unreadable.get(of)?.length ?? 0;
      throw new RoundAborted(
        'too-few-clients',
        'unmask',
        `only ${count} shares of client ${of}'s ${what} arrived, threshold is ${threshold}` +
          (unread > 0 ? ` (${unread} of its holders could not read its share message)` : ''),
      );
    }
    const accept = (secret: bigint) => {
      const bytes = fieldElementToBytes(secret);
      const ok = check(bytes);
      bytes.fill(0);
      return ok;
    };
    const cheap = (shares: readonly RawShare[]) => {
      const values = shares.map(({ id, bytes }) => ({ id, value: fieldElementFromBytes(bytes) }));
      const secret = shamirReconstruct(values, threshold, this.#lagrange);
      return accept(secret) ? fieldElementToBytes(secret) : undefined;
    };
    let tried: readonly RawShare[] | undefined;
    if (!first!.some((s) => this.#badShares.has(s.id)) && first!.every((s) => isFieldElement(s.bytes))) {
      tried = first!;
      const found = cheap(tried);
      if (found) return found;
    }
    // Every share that arrived: `of` and its neighbours are the only possible holders.
    const all: { id: ClientId; value: bigint }[] = [];
    let arrived = 0;
    for (const holder of [of, ...this.#graph!.neighbours(of)].sort((a, b) => a - b)) {
      if (!this.#responders.has(holder)) continue;
      const response = this.#records.get(holder)!.unmask!;
      const share = findShare(kind === 'self' ? response.selfMaskShares : response.keyShares, of);
      if (!share) continue;
      arrived++;
      if (isFieldElement(share.share)) all.push({ id: holder, value: fieldElementFromBytes(share.share) });
      else this.#blame(holder, of);
    }
    if (all.length < threshold) {
      throw new RoundAborted(
        'reconstruction-failed',
        'unmask',
        `only ${all.length} of the ${arrived} shares of client ${of}'s ${what} are field elements, threshold is ${threshold}`,
      );
    }
    const preferred = all.filter((s) => !this.#badShares.has(s.id)).slice(0, threshold);
    if (preferred.length === threshold && !sameHolders(preferred, tried)) {
      const secret = shamirReconstruct(preferred, threshold, this.#lagrange);
      if (accept(secret)) return fieldElementToBytes(secret);
    }
    const decoded = shamirDecode(all, threshold, accept);
    if (!decoded) {
      const spare = correctableShares(all.length, threshold);
      throw new RoundAborted(
        'reconstruction-failed',
        'unmask',
        `client ${of}'s ${what} matches no value its ${all.length} shares give (threshold ${threshold}: ` +
          (spare === 0
            ? 'with no share to spare a wrong one cannot be found)'
            : `at most ${spare} wrong shares can be found among ${all.length})`),
      );
    }
    for (const holder of decoded.bad) this.#blame(holder, of);
    return fieldElementToBytes(decoded.secret);
  }

  /** Records that `holder` sent a wrong share of (or pair seed with) `of`. */
  #blame(holder: ClientId, of: ClientId): void {
    const owners = this.#badShares.get(holder);
    if (owners) owners.add(of);
    else this.#badShares.set(holder, new Set([of]));
  }

  // ---- bookkeeping ---------------------------------------------------------------------------

  #answered(record: ClientRecord, stage: Stage): boolean {
    switch (stage) {
      case 'advertise':
        return record.keys !== undefined;
      case 'share':
        return record.shares !== undefined;
      case 'masked':
        return record.masked === true;
      case 'consistency':
        return record.consistency !== undefined;
      case 'unmask':
        return record.unmask !== undefined;
    }
  }

  /** Clients not dropped, ascending. */
  #active(): ClientId[] {
    return this.params.clients.filter((id) => !this.#records.get(id)!.droppedAt);
  }

  #closeIfComplete(now: number): void {
    const stage = this.#stage;
    if (stage === 'idle' || stage === 'unmasking' || stage === 'ended') return;
    // Called after every message. Within a stage a record only ever goes from pending to settled, so
    // the scan resumes where it last stopped: O(n) per stage in all, not O(n) per message.
    const records = this.#recordList;
    let i = this.#settledUpTo;
    while (i < records.length && (records[i]!.droppedAt || this.#answered(records[i]!, stage))) i++;
    this.#settledUpTo = i;
    if (i < records.length) return;
    this.closeStage(now);
  }

  #open(stage: Stage, now: number): void {
    this.#stage = stage;
    this.#settledUpTo = 0;
    const timeout = this.#timeouts[stage];
    this.#deadline = timeout === undefined ? undefined : now + timeout;
    // Everyone may already be gone (disconnected after answering the previous stage).
    if (stage !== 'advertise') this.#closeIfComplete(now);
  }

  #send(to: ClientId, message: ServerMessage): void {
    this.#outbox.push({ to, message });
  }

  /** Every selected client whose input is not in the sum, with the stage it was lost at. */
  /**
   * Every client lost in a completed round, with its stage, split by whether its input is in the sum:
   * `dropped` (not a survivor) and `lostAfterMasked` (a survivor that did not finish).
   */
  #lostClients(): { dropped: Map<ClientId, Stage>; lostAfterMasked: Map<ClientId, Stage> } {
    const survivors = new Set(this.#survivors);
    const dropped = new Map<ClientId, Stage>();
    const lostAfterMasked = new Map<ClientId, Stage>();
    for (const [id, record] of this.#records) {
      if (record.droppedAt) (survivors.has(id) ? lostAfterMasked : dropped).set(id, record.droppedAt);
    }
    return { dropped, lostAfterMasked };
  }

  #abort(code: RoundAborted['code'], stage: Stage, reason: string): void {
    const error = new RoundAborted(code, stage, reason);
    for (const to of this.#active()) this.#send(to, { type: 'abort', reason: error.message });
    this.#adders = [];
    // After an abort nobody's input is in a sum, so every selected client counts as dropped.
    const dropped = new Map<ClientId, Stage>();
    for (const [id, record] of this.#records) dropped.set(id, record.droppedAt ?? stage);
    this.#finish({ status: 'aborted', error, dropped, ...this.#shareReport() });
  }

  #shareReport(): ShareReport {
    const sorted = (ids: Iterable<ClientId>) => [...ids].sort((a, b) => a - b);
    return {
      badShares: new Map(sorted(this.#badShares.keys()).map((h) => [h, sorted(this.#badShares.get(h)!)])),
      unreadableShares: new Map(
        sorted(this.#unreadable.keys()).map((u) => [u, sorted(this.#unreadable.get(u)!)]),
      ),
    };
  }

  #finish(result: RoundResult): void {
    this.#result = result;
    this.#stage = 'ended';
    this.#deadline = undefined;
  }
}

/** A secret share as received in an unmask response, not yet decoded. */
interface RawShare {
  readonly id: ClientId;
  readonly bytes: Uint8Array;
}

/** A public key as a map key. */
function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/**
 * Whether 32 bytes encode a value below p (`fe`, §1), read from the top byte down without building a
 * bigint: the cheap path tests t shares per secret.
 */
function isFieldElement(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  const top = bytes[31]!;
  if (top !== 0x7f) return top < 0x7f;
  for (let i = 30; i >= 1; i--) if (bytes[i] !== 0xff) return true;
  return bytes[0]! < 0xed; // p = 0x7fff…ffed
}

/** Whether the shares are those of exactly the holders of `tried`, in order. */
function sameHolders(shares: readonly { id: ClientId }[], tried: readonly RawShare[] | undefined): boolean {
  return (
    tried !== undefined && tried.length === shares.length && tried.every((s, i) => s.id === shares[i]!.id)
  );
}

/** The private key `bytes` if it is clamped and its public key is `sPk` (§4.6), else undefined. */
function keyMatching(bytes: Uint8Array, sPk: Uint8Array): X25519PrivateKey | undefined {
  if (!isClampedX25519PrivateKey(bytes)) return undefined;
  const key = X25519PrivateKey.fromBytes(bytes);
  return equalBytes(key.publicKey, sPk) ? key : undefined;
}

/** The share of `of` in a list sorted by `of` (an unmask response's), by binary search. */
function findShare(shares: readonly SecretShare[], of: ClientId): SecretShare | undefined {
  let lo = 0;
  let hi = shares.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = shares[mid]!.of;
    if (at === of) return shares[mid];
    if (at < of) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The message type each stage expects. */
const STAGE_MESSAGE: Record<Stage, ClientMessage['type']> = {
  advertise: 'advertise',
  share: 'shares',
  masked: 'masked',
  consistency: 'consistency',
  unmask: 'unmask',
};

function nextStage(stage: Stage, params: RoundParams): Stage {
  switch (stage) {
    case 'advertise':
      return 'share';
    case 'share':
      return 'masked';
    case 'masked':
      return params.serverModel === 'malicious' ? 'consistency' : 'unmask';
    case 'consistency':
    case 'unmask':
      return 'unmask';
  }
}

/** Runs a generator of steps to its end and returns its value. */
function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
