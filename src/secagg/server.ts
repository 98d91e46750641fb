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
 * (cheap), which yields an {@link UnmaskPlan}: the mask expansions still to do, nearly all of the
 * server's work at large vector lengths. With `unmask: 'inline'` (the default) the server runs the
 * plan at once on the calling thread and `result` is set in the same call, as if there were no split.
 * With `unmask: 'external'` it stops with the plan in `pendingUnmask` (the stage still reads `unmask`);
 * the caller runs it wherever it likes (e.g. worker threads) and then calls `completeUnmask(correction)`
 * — or `failUnmask(reason)` to abort the round, releasing nothing. While unmasking, client messages are
 * violations, disconnects and timeouts change nothing (every survivor has answered), and
 * `pollTimeout()` is undefined.
 *
 * A stage closes when every client still expected in it has answered, or at its deadline. A client
 * that disconnects, misses a deadline or sends an invalid message is dropped at that stage and the
 * round goes on; with fewer than `params.minSurvivors` clients left (the threshold t for the complete
 * graph, the announced survivor floor for a Harary graph) the round aborts and nothing is
 * reconstructed. The masked inputs are summed as they arrive, so memory is O(vector length).
 *
 * The neighbour graph is fixed when the advertise stage closes, from the session id (PROTOCOL.md
 * §2.2), exactly as every client derives it.
 * @module
 */
import { ed25519Verify } from './crypto/ed25519.ts';
import {
  fieldElementFromBytes,
  fieldElementToBytes,
  LagrangeCache,
  shamirReconstruct,
} from './crypto/shamir.ts';
import { X25519PrivateKey } from './crypto/x25519.ts';
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
  /** Malicious setting: every client's long-term Ed25519 public key. */
  readonly identities?: ReadonlyMap<ClientId, Uint8Array>;
  readonly timeouts?: StageTimeouts;
  /** Default `'inline'`. */
  readonly unmask?: UnmaskMode;
}

/** Internal state: `unmasking` while the caller runs the unmask plan (shown as stage `unmask`). */
type ServerState = Stage | 'idle' | 'unmasking' | 'ended';

/** A message to send to one client. */
export interface Outgoing {
  readonly to: ClientId;
  readonly message: ServerMessage;
}

/** How a round ended. `survivors` are exactly the clients whose inputs are in the sum. */
export type RoundResult =
  | {
      readonly status: 'ok';
      /** One sum per vector spec, in `params.vectors` order, elements mod 2^bits. */
      readonly sums: readonly Uint32Array[];
      readonly survivors: readonly ClientId[];
      /** Every other selected client, with the stage at which it was lost. */
      readonly dropped: ReadonlyMap<ClientId, Stage>;
    }
  | {
      readonly status: 'aborted';
      readonly error: RoundAborted;
      readonly dropped: ReadonlyMap<ClientId, Stage>;
    };

/** What the server keeps per client; each field is set when that stage's message is accepted. */
interface ClientRecord {
  keys?: AdvertisedKeys;
  shares?: EncryptedSharesMessage;
  masked?: true;
  consistency?: Uint8Array;
  unmask?: UnmaskResponseMessage;
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
  #stage: ServerState = 'idle';
  #deadline: number | undefined;
  #sessionId: Uint8Array | undefined;
  /** The round's graph, once the advertise stage has closed (it depends on the session id). */
  #graph: NeighbourGraph | undefined;
  /** U1's keys, by id, once the advertise stage has closed. */
  #keys = new Map<ClientId, AdvertisedKeys>();
  /** Running sum of masked inputs, one per vector (ring-sum.ts: the range check fused in). */
  #adders: RingSum[] = [];
  /** U3, once the masked stage has closed. */
  #survivors: readonly ClientId[] = [];
  /** U3 as a set, built once for the per-response checks of the unmask stage. */
  #survivorSet: ReadonlySet<ClientId> = new Set();
  #result: RoundResult | undefined;
  /** Set exactly while the state is `unmasking`. */
  #pendingUnmask: UnmaskPlan | undefined;

  constructor(options: SecAggServerOptions) {
    const { params } = options;
    if (params.serverModel === 'malicious') {
      const identities = options.identities;
      if (!identities) throw new UsageError('the malicious setting needs every client identity key');
      const missing = params.clients.find((c) => !identities.has(c));
      if (missing !== undefined) throw new UsageError(`no identity key for client ${missing}`);
    }
    this.params = params;
    this.#identities = options.identities;
    this.#timeouts = options.timeouts ?? {};
    const unmask = options.unmask ?? 'inline';
    if (unmask !== 'inline' && unmask !== 'external') {
      throw new UsageError(`unmask must be 'inline' or 'external', got '${String(unmask)}'`);
    }
    this.#unmaskMode = unmask;
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
    // The shares must be exactly those requested: self-mask shares of the survivors and key shares
    // of the dropped clients among `from` and the neighbours whose shares it received.
    const held = this.#shareSenders(from);
    const survivors = this.#survivorSet;
    const expectSelf = [...held, from].filter((u) => survivors.has(u)).sort((a, b) => a - b);
    const expectKey = held.filter((u) => !survivors.has(u));
    const matches = (shares: readonly SecretShare[], ids: readonly ClientId[]) =>
      shares.length === ids.length && shares.every((s, i) => s.of === ids[i] && s.share.length === 32);
    if (!matches(message.selfMaskShares, expectSelf) || !matches(message.keyShares, expectKey)) {
      throw new ProtocolViolation(`client ${from}'s unmask response does not match the request`, from);
    }
    record.unmask = message;
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
    const signatures: ConsistencySignature[] = u4.map((id) => ({
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
    for (const to of recipients) {
      this.#send(to, { type: 'unmask-request', survivors: this.#survivors, dropped, signatures });
    }
    this.#open('unmask', now);
  }

  #afterUnmask(u5: readonly ClientId[]): void {
    let plan: UnmaskPlan;
    try {
      plan = this.#unmaskPlan(u5);
    } catch (error) {
      if (!(error instanceof RoundAborted)) throw error;
      this.#abort(error.code, error.stage, error.message);
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
    this.#finish({ status: 'ok', sums, survivors: this.#survivors, dropped: this.#droppedMap() });
  }

  /**
   * Reconstructs and checks the secrets (§4.6) and lists the masks still to remove: the self masks of
   * U3 and the pairwise masks of dropped clients with their surviving neighbours.
   */
  #unmaskPlan(responders: readonly ClientId[]): UnmaskPlan {
    // Reconstruction uses the shares of the t lowest-id holders (PROTOCOL.md §5), so only those are
    // collected, walking the holders in ascending order, and only those are decoded (#reconstruct):
    // a share that is never used cannot affect the result. Every share's length was checked in
    // #acceptUnmask.
    const { threshold } = this.params;
    const selfMaskShares = new Map<ClientId, RawShare[]>();
    const keyShares = new Map<ClientId, RawShare[]>();
    const collect = (into: Map<ClientId, RawShare[]>, holder: ClientId, share: SecretShare) => {
      let list = into.get(share.of);
      if (list === undefined) {
        list = [];
        into.set(share.of, list);
      }
      if (list.length < threshold) list.push({ id: holder, bytes: share.share });
    };
    for (const holder of [...responders].sort((a, b) => a - b)) {
      const response = this.#records.get(holder)!.unmask!;
      for (const share of response.selfMaskShares) collect(selfMaskShares, holder, share);
      for (const share of response.keyShares) collect(keyShares, holder, share);
    }

    const jobs: MaskJob[] = [];
    try {
      this.#collectMaskJobs(jobs, selfMaskShares, keyShares);
    } catch (error) {
      // A later secret failed its check: zero the seeds already reconstructed.
      for (const job of jobs) job.seed.fill(0);
      throw error;
    }
    return unmaskPlan(this.#sessionId!.slice(), this.params.vectors, jobs);
  }

  /** Reconstructs each secret, checks it, and appends its mask jobs to `jobs` (§4.6). */
  #collectMaskJobs(
    jobs: MaskJob[],
    selfMaskShares: ReadonlyMap<ClientId, RawShare[]>,
    keyShares: ReadonlyMap<ClientId, RawShare[]>,
  ): void {
    const sessionId = this.#sessionId!;
    const survivors = this.#survivorSet;
    for (const u of this.#survivors) {
      const seed = fieldElementToBytes(this.#reconstruct(u, selfMaskShares.get(u), 'self-mask seed'));
      if (!equalBytes(selfMaskCommitment(sessionId, u, seed), this.#records.get(u)!.shares!.bCommit)) {
        seed.fill(0);
        throw new RoundAborted(
          'reconstruction-failed',
          'unmask',
          `client ${u}'s self-mask seed does not match its commitment`,
        );
      }
      jobs.push({ kind: 'self', client: u, seed, sign: -1 });
    }
    for (const [u, shares] of keyShares) {
      const bytes = fieldElementToBytes(this.#reconstruct(u, shares, 'mask key'));
      try {
        let key: X25519PrivateKey;
        try {
          key = X25519PrivateKey.fromBytes(bytes);
        } catch {
          throw new RoundAborted(
            'reconstruction-failed',
            'unmask',
            `client ${u}'s reconstructed mask key is malformed`,
          );
        }
        if (!equalBytes(key.publicKey, this.#keys.get(u)!.sPk)) {
          throw new RoundAborted(
            'reconstruction-failed',
            'unmask',
            `client ${u}'s reconstructed mask key does not match its public key`,
          );
        }
        // The survivor v added sign(v, u)·PRG(s_vu); adding it with the dropped client's sign removes
        // it. Deriving each seed (an X25519 and an HKDF) is left to the plan's executor: at scale it
        // is most of the work after the expansions themselves.
        const maskKey = bytes.slice();
        for (const v of this.#graph!.neighbours(u)) {
          if (survivors.has(v)) {
            jobs.push({
              kind: 'dropped-pair',
              dropped: u,
              peer: v,
              seed: maskKey,
              peerPublicKey: this.#keys.get(v)!.sPk,
              sign: pairSign(u, v),
            });
          }
        }
      } finally {
        bytes.fill(0);
      }
    }
  }

  /**
   * Reconstructs one secret from the shares of the t lowest-id holders (the subset
   * shamirReconstruct would pick), decoding only those: a used share that is not a field element
   * aborts the round, as before.
   */
  #reconstruct(of: ClientId, shares: RawShare[] | undefined, what: string): bigint {
    const { threshold } = this.params;
    const count = shares?.length ?? 0;
    if (count < threshold) {
      throw new RoundAborted(
        'too-few-clients',
        'unmask',
        `only ${count} shares of client ${of}'s ${what} arrived, threshold is ${threshold}`,
      );
    }
    // #unmask collected at most t shares per secret, from distinct holders in ascending order.
    const values = shares!.map(({ id, bytes }) => {
      try {
        return { id, value: fieldElementFromBytes(bytes) };
      } catch {
        throw new RoundAborted(
          'reconstruction-failed',
          'unmask',
          `client ${id} sent a share that is not a field element`,
        );
      }
    });
    return shamirReconstruct(values, threshold, this.#lagrange);
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
  #droppedMap(): Map<ClientId, Stage> {
    const survivors = new Set(this.#survivors);
    const dropped = new Map<ClientId, Stage>();
    for (const [id, record] of this.#records) {
      if (record.droppedAt && !survivors.has(id)) dropped.set(id, record.droppedAt);
    }
    return dropped;
  }

  #abort(code: RoundAborted['code'], stage: Stage, reason: string): void {
    const error = new RoundAborted(code, stage, reason);
    for (const to of this.#active()) this.#send(to, { type: 'abort', reason: error.message });
    this.#adders = [];
    // After an abort nobody's input is in a sum, so every selected client counts as dropped.
    const dropped = new Map<ClientId, Stage>();
    for (const [id, record] of this.#records) dropped.set(id, record.droppedAt ?? stage);
    this.#finish({ status: 'aborted', error, dropped });
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
