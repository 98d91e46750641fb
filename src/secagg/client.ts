/**
 * The client side of secure aggregation (Bonawitz et al. 2017, §4; docs/PROTOCOL.md §4) as a sans-I/O
 * state machine: it is fed server messages and returns its replies. It reads no clock, opens no
 * socket and draws randomness only from the injected {@link Rng}.
 *
 * Call order: `start()` once (returns `AdvertiseKeys`), then `handle(message)` for every server
 * message, sending each returned reply. The client's neighbourhood is fixed when `PeerKeys` arrives:
 * the client derives it itself from the announced graph and the session id (PROTOCOL.md §2.2), and
 * refuses shares or unmask requests that name anyone outside it. The client refuses — throws {@link Refusal} and becomes
 * `failed` — whenever honouring a request could expose its input; it throws
 * {@link ProtocolViolation} for messages that break the protocol. After either, every later call
 * throws the same error, and nothing further is revealed. A share message it cannot read is neither:
 * it masks with the sender as usual and holds none of its shares (PROTOCOL.md §4.2), which one client
 * alone cannot then turn into a refusal of the round.
 * @module
 */

import { roundIdentityKeys } from './cohort.ts';
import { aesGcmOpen, aesGcmSeal } from './crypto/aead.ts';
import {
  type Ed25519Signer,
  type SignatureCheck,
  type SignatureVerifier,
  verifyOnTheSpot,
} from './crypto/ed25519.ts';
import { addMasks } from './crypto/prg.ts';
import {
  fieldElementFromBytes,
  fieldElementToBytes,
  randomFieldElement,
  shamirSplit,
} from './crypto/shamir.ts';
import { X25519PrivateKey, x25519PublicKeyProblem } from './crypto/x25519.ts';
import { concatBytes, equalBytes, isStrictlyAscending, sortedIncludes, u32 } from './encoding.ts';
import { ProtocolViolation, Refusal, UsageError } from './errors.ts';
import { neighboursOf } from './harary.ts';
import { pairMaskTerm, selfMaskTerm, wipeMaskTerms } from './mask.ts';
import type {
  AdvertisedKeys,
  AdvertiseKeysMessage,
  ClientMessage,
  ConsistencyRequestMessage,
  EncryptedSharesMessage,
  MaskedInputMessage,
  PeerKeysMessage,
  RevealedPairSeed,
  SecretShare,
  ServerMessage,
  ShareCiphertext,
  ShareDeliveryMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './messages.ts';
import type { RoundParams } from './params.ts';
import { firstOutOfRange } from './ring.ts';
import {
  advertiseTranscript,
  consistencyTranscript,
  derivePairSeed,
  deriveShareKey,
  selfMaskCommitment,
  sessionIdFor,
  shareAad,
  shareNonce,
} from './transcript.ts';
import type { ClientId, Rng } from './types.ts';

/** Where a client is in the round. */
export type ClientState =
  | 'idle'
  | 'awaiting-peer-keys'
  | 'awaiting-shares'
  | 'awaiting-consistency'
  | 'awaiting-unmask'
  | 'done'
  | 'aborted'
  | 'failed';

/** Options for {@link SecAggClient}. */
export interface SecAggClientOptions {
  readonly id: ClientId;
  readonly params: RoundParams;
  /**
   * One vector per round vector spec (in `params.vectors` order), elements < 2^bits, copied; or a
   * function that returns them, called once when the masked input is computed (stage 2) and checked
   * then (a bad input is a {@link UsageError} at that call); the vectors it returns are taken over,
   * not copied, and become the masked input. The deferred form keeps no plaintext in the client
   * before it is needed: a simulator of many clients holds one input at a time.
   */
  readonly input: readonly Uint32Array[] | (() => readonly Uint32Array[]);
  readonly rng: Rng;
  /** Malicious setting: this client's long-term signing key. */
  readonly identity?: Ed25519Signer;
  /**
   * Malicious setting: every client's long-term Ed25519 public key, when `params` has no cohort (in
   * process). With a cohort the keys are the cohort's; a map given as well must agree with it.
   */
  readonly peerIdentities?: ReadonlyMap<ClientId, Uint8Array>;
}

/** The plaintext of one share message: shares of the sender's self-mask seed and mask key. */
const SHARE_PLAINTEXT_BYTES = 4 + 4 + 32 + 32;

/** What the client knows once the session id is fixed (after `PeerKeys`). */
interface Session {
  readonly sessionId: Uint8Array;
  /**
   * N(self): this client's neighbours in the round's graph (whether or not they advertised keys),
   * derived from the announced spec and the session id (PROTOCOL.md §2.2).
   */
  readonly neighbours: ReadonlySet<ClientId>;
  /** U1 entries that are neighbours of this client, by id. */
  readonly neighbourKeys: ReadonlyMap<ClientId, AdvertisedKeys>;
  /** b: the self-mask seed as a field element, encoded. */
  readonly selfMaskSeed: Uint8Array;
  /** This client's own shares of its self-mask seed and its mask key (evaluations at its own id). */
  readonly ownShares: { readonly selfMask: bigint; readonly maskKey: bigint };
  /**
   * The AES-GCM share key with each neighbour, by neighbour id, kept from sealing until the
   * delivered shares are opened: the key is symmetric in the pair (§4.1), so opening reuses it
   * instead of repeating the X25519 agreement and HKDF. Zeroed once the delivery is handled.
   */
  readonly shareKeys: Map<ClientId, Uint8Array>;
}

/** One sender's shares: of its self-mask seed and of its mask key, evaluated at this client. */
interface HeldShares {
  readonly selfMask: bigint;
  readonly maskKey: bigint;
}

/**
 * E_v, the senders whose share messages were delivered, with the shares read from each; `undefined`
 * for a sender whose message could not be read (PROTOCOL.md §4.2): this client masks with it like any
 * other member of E_v, but holds no share of it.
 */
type ReceivedShares = ReadonlyMap<ClientId, HeldShares | undefined>;

type Phase =
  | { readonly state: 'idle' }
  | { readonly state: 'awaiting-peer-keys' }
  | { readonly state: 'awaiting-shares'; readonly session: Session }
  | { readonly state: 'awaiting-consistency'; readonly session: Session; readonly received: ReceivedShares }
  | {
      readonly state: 'awaiting-unmask';
      readonly session: Session;
      readonly received: ReceivedShares;
      /** Malicious setting: the survivor list this client signed. */
      readonly signedSurvivors?: readonly ClientId[];
    }
  | { readonly state: 'done' }
  | { readonly state: 'aborted'; readonly reason: string }
  | { readonly state: 'failed'; readonly error: Error };

/** One client's state machine for one round. */
export class SecAggClient {
  readonly id: ClientId;
  readonly params: RoundParams;
  readonly #rng: Rng;
  readonly #identity: Ed25519Signer | undefined;
  readonly #peerIdentities: ReadonlyMap<ClientId, Uint8Array> | undefined;
  #input: Uint32Array[];
  #inputSource: (() => readonly Uint32Array[]) | undefined;
  #cipherKey: X25519PrivateKey | undefined;
  #maskKey: X25519PrivateKey | undefined;
  #phase: Phase = { state: 'idle' };
  /** See {@link unreadableSenders}: ids only, kept after the round for the caller's log. */
  #unreadable: readonly ClientId[] = [];

  /**
   * @throws {UsageError} when the options are inconsistent (input shape, missing identity keys).
   */
  constructor(options: SecAggClientOptions) {
    const { id, params } = options;
    if (!sortedIncludes(params.clients, id)) {
      throw new UsageError(`client ${id} is not among the round's clients`);
    }
    if (typeof options.input === 'function') {
      this.#input = [];
      this.#inputSource = options.input;
    } else {
      this.#input = checkInput(params, options.input);
    }
    let identities: ReadonlyMap<ClientId, Uint8Array> | undefined;
    if (params.serverModel === 'malicious') {
      if (!options.identity) throw new UsageError('the malicious setting needs an identity signing key');
      identities = roundIdentityKeys(params, options.peerIdentities);
      const own = identities.get(id)!;
      if (!equalBytes(own, options.identity.publicKey)) {
        throw new UsageError(`the identity key listed for client ${id} is not this client's`);
      }
    }
    this.id = id;
    this.params = params;
    this.#rng = options.rng;
    this.#identity = options.identity;
    this.#peerIdentities = identities;
  }

  /** The current state. */
  get state(): ClientState {
    return this.#phase.state;
  }

  /** The session id, once the peer keys have been accepted. */
  get sessionId(): Uint8Array | undefined {
    return 'session' in this.#phase ? this.#phase.session.sessionId : undefined;
  }

  /**
   * Senders whose share message this client could not read (it did not authenticate, named another
   * pair, or held a value ≥ p; PROTOCOL.md §4.2), ascending. This client holds no share of theirs
   * and reveals none; empty until the shares are delivered.
   */
  get unreadableSenders(): readonly ClientId[] {
    return this.#unreadable;
  }

  /** Why the server aborted the round, when `state` is `aborted`. */
  get abortReason(): string | undefined {
    return this.#phase.state === 'aborted' ? this.#phase.reason : undefined;
  }

  /** Stage 0: generates this round's key pairs and returns the advertisement. Call once. */
  start(): AdvertiseKeysMessage {
    this.#assertUsable();
    if (this.#phase.state !== 'idle') throw new UsageError(`start() called in state '${this.#phase.state}'`);
    const cipherKey = X25519PrivateKey.generate(this.#rng);
    const maskKey = X25519PrivateKey.generate(this.#rng);
    this.#cipherKey = cipherKey;
    this.#maskKey = maskKey;
    this.#phase = { state: 'awaiting-peer-keys' };
    const message: AdvertiseKeysMessage = {
      type: 'advertise',
      cPk: cipherKey.publicKey,
      sPk: maskKey.publicKey,
    };
    if (this.params.serverModel === 'malicious') {
      const transcript = advertiseTranscript(this.params.configHash, this.id, message.cPk, message.sPk);
      return { ...message, signature: this.#identity!.sign(transcript) };
    }
    return message;
  }

  /**
   * The signature verifications `handle(message)` would make, in the state the client is in now
   * (malicious setting: the neighbours' advertisement signatures in `PeerKeys`, the consistency
   * signatures in `UnmaskRequest`; empty otherwise, and for what is too malformed to check). A caller
   * may verify them ahead, in parallel (`VerifiedSignatures.verifyAll`), and pass the result to
   * `handle`; the client decides nothing here.
   */
  signatureChecks(message: ServerMessage): SignatureCheck[] {
    const identities = this.#peerIdentities;
    const phase = this.#phase;
    if (identities === undefined) return [];
    const check = (id: ClientId, transcript: () => Uint8Array, signature: Uint8Array | undefined) => {
      const publicKey = identities.get(id);
      if (publicKey === undefined || signature?.length !== 64) return [];
      try {
        return [{ publicKey, message: transcript(), signature }];
      } catch {
        return []; // malformed: handle() refuses it without a signature check
      }
    };
    if (message.type === 'peer-keys' && phase.state === 'awaiting-peer-keys') {
      return message.peers.flatMap((peer) =>
        peer.id === this.id
          ? []
          : check(
              peer.id,
              () => advertiseTranscript(this.params.configHash, peer.id, peer.cPk, peer.sPk),
              peer.signature,
            ),
      );
    }
    if (message.type === 'unmask-request' && phase.state === 'awaiting-unmask') {
      let transcript: Uint8Array;
      try {
        transcript = consistencyTranscript(phase.session.sessionId, message.survivors);
      } catch {
        return [];
      }
      return (message.signatures ?? []).flatMap(({ id, signature }) =>
        check(id, () => transcript, signature),
      );
    }
    return [];
  }

  /**
   * Feeds one server message; returns the reply to send, if any.
   * @param verifier - what signatures are checked with: on the spot by default, or a
   *   `VerifiedSignatures` made from {@link signatureChecks} (which re-verifies anything it did not find valid)
   * @throws {Refusal} when the request could expose this client's input (the client fails).
   * @throws {ProtocolViolation} when the message is malformed or out of order (the client fails).
   * @throws {UsageError} when called after the client has ended.
   */
  handle(message: ServerMessage, verifier: SignatureVerifier = verifyOnTheSpot): ClientMessage | undefined {
    this.#assertUsable();
    if (message.type === 'abort') {
      this.#end({ state: 'aborted', reason: message.reason });
      return undefined;
    }
    try {
      return this.#dispatch(message, verifier);
    } catch (error) {
      if (error instanceof Refusal || error instanceof ProtocolViolation)
        this.#end({ state: 'failed', error });
      throw error;
    }
  }

  #dispatch(message: Exclude<ServerMessage, { type: 'abort' }>, verifier: SignatureVerifier): ClientMessage {
    const phase = this.#phase;
    switch (message.type) {
      case 'peer-keys':
        if (phase.state !== 'awaiting-peer-keys') break;
        return this.#onPeerKeys(message, verifier);
      case 'share-delivery':
        if (phase.state !== 'awaiting-shares') break;
        return this.#onShareDelivery(phase.session, message);
      case 'consistency-request':
        if (phase.state !== 'awaiting-consistency') break;
        return this.#onConsistencyRequest(phase.session, phase.received, message);
      case 'unmask-request':
        if (phase.state === 'done')
          throw new Refusal('repeated-request', 'already answered an unmask request');
        if (phase.state !== 'awaiting-unmask') break;
        return this.#onUnmaskRequest(phase.session, phase.received, phase.signedSurvivors, message, verifier);
      default:
        return assertNever(message);
    }
    throw new ProtocolViolation(`unexpected '${message.type}' message in state '${phase.state}'`);
  }

  // ---- stage 0 → 1 ---------------------------------------------------------------------------

  #onPeerKeys(message: PeerKeysMessage, verifier: SignatureVerifier): EncryptedSharesMessage {
    const { params } = this;
    const peers = message.peers;
    const own = this.#checkPeerList(peers);
    if (!equalBytes(own.cPk, this.#cipherKey!.publicKey) || !equalBytes(own.sPk, this.#maskKey!.publicKey)) {
      throw new Refusal('own-keys-altered', "the peer list carries keys that are not this client's");
    }
    // The graph is fixed by the session id (every U1 key): this client computes its own neighbourhood.
    const sessionId = sessionIdFor(params.configHash, peers);
    const neighbours: ReadonlySet<ClientId> = new Set(
      neighboursOf(params.graph, params.clients, sessionId, this.id),
    );
    this.#checkNoRepeatedKeys(peers, neighbours);
    const neighbourKeys = new Map<ClientId, AdvertisedKeys>();
    for (const peer of peers) {
      if (!neighbours.has(peer.id)) continue;
      for (const [name, key] of [
        ['cipher', peer.cPk],
        ['mask', peer.sPk],
      ] as const) {
        const problem = x25519PublicKeyProblem(key);
        if (problem) throw new Refusal('invalid-public-key', `client ${peer.id}'s ${name} key: ${problem}`);
      }
      if (params.serverModel === 'malicious') {
        const transcript = advertiseTranscript(params.configHash, peer.id, peer.cPk, peer.sPk);
        if (!verifier.verify(this.#peerIdentities!.get(peer.id)!, transcript, peer.signature!)) {
          throw new Refusal('bad-signature', `client ${peer.id}'s key advertisement signature is invalid`);
        }
      }
      neighbourKeys.set(peer.id, peer);
    }
    if (neighbourKeys.size + 1 < params.threshold) {
      throw new Refusal(
        'too-few-peers',
        `${neighbourKeys.size + 1} of this client's neighbourhood advertised keys, threshold is ${params.threshold}`,
      );
    }
    if (peers.length < params.minSurvivors) {
      throw new Refusal(
        'too-few-peers',
        `${peers.length} clients advertised keys, fewer than the ${params.minSurvivors} survivors the round needs`,
      );
    }
    return this.#shareSecrets({ sessionId, neighbours }, neighbourKeys);
  }

  /**
   * One pass over the PeerKeys list (O(|U1|) per client, so it is kept to cheap steps): ids strictly
   * ascending and all among the round's clients (a merge walk over both sorted lists), every key 32
   * bytes, signatures present exactly in the malicious setting, and this client listed.
   * @returns this client's own entry
   */
  #checkPeerList(peers: readonly AdvertisedKeys[]): AdvertisedKeys {
    const clients = this.params.clients;
    let own: AdvertisedKeys | undefined;
    let previous = 0;
    let c = 0;
    for (const peer of peers) {
      const { id } = peer;
      if (typeof id !== 'number' || !(id > previous)) {
        throw new Refusal('bad-peer-list', 'peer ids are not sorted and unique');
      }
      previous = id;
      while (c < clients.length && (clients[c] as number) < id) c++;
      if (clients[c] !== id) throw new Refusal('bad-peer-list', `client ${id} is not in this round`);
      for (const key of [peer.cPk, peer.sPk]) {
        if (!(key instanceof Uint8Array) || key.length !== 32) {
          throw new Refusal('invalid-public-key', `client ${id}'s advertised key is not 32 bytes`);
        }
      }
      this.#checkSignaturePresence(peer);
      if (id === this.id) own = peer;
    }
    if (!own) throw new Refusal('bad-peer-list', 'this client is missing from the peer list');
    return own;
  }

  #checkSignaturePresence(peer: AdvertisedKeys): void {
    const malicious = this.params.serverModel === 'malicious';
    if (malicious && peer.signature?.length !== 64) {
      throw new Refusal('bad-signature', `client ${peer.id}'s key advertisement is not signed`);
    }
    if (!malicious && peer.signature !== undefined) {
      throw new ProtocolViolation(
        `client ${peer.id}'s advertisement carries a signature in the semi-honest setting`,
      );
    }
  }

  /**
   * A coordinator that replays a key is misbehaving (§3.1): every key this client will use — its own
   * and its neighbours' — must appear exactly once among all the keys of U1. (Keys of clients it never
   * talks to cannot affect it; on the complete graph that is nobody, and every key is checked.)
   * O(|U1|) per client without allocating per key: the keys in use are indexed by a 53-bit number
   * read from their first 7 bytes, each key of U1 is looked up by its own, and bytes are compared in
   * full only on a match — exact, whatever a coordinator crafting colliding prefixes sends.
   */
  #checkNoRepeatedKeys(peers: readonly AdvertisedKeys[], neighbours: ReadonlySet<ClientId>): void {
    const prefix = (key: Uint8Array) =>
      ((key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0) * 0x20_0000 +
      ((key[4]! | (key[5]! << 8) | (key[6]! << 16)) & 0x1f_ffff);
    const used = new Map<number, { key: Uint8Array; seen: number }[]>();
    for (const peer of peers) {
      if (peer.id !== this.id && !neighbours.has(peer.id)) continue;
      for (const key of [peer.cPk, peer.sPk]) {
        const p = prefix(key);
        const list = used.get(p);
        if (list) list.push({ key, seen: 0 });
        else used.set(p, [{ key, seen: 0 }]);
      }
    }
    // O(|U1|) lookups, each allocation-free: this runs over every advertised key once per round.
    const check = (key: Uint8Array, id: ClientId) => {
      const list = used.get(prefix(key));
      if (!list) return;
      for (const entry of list) {
        if (equalBytes(entry.key, key) && ++entry.seen > 1) {
          throw new Refusal('duplicate-public-key', `client ${id} advertises a repeated key`);
        }
      }
    };
    for (const peer of peers) {
      check(peer.cPk, peer.id);
      check(peer.sPk, peer.id);
    }
  }

  #shareSecrets(
    fixed: Pick<Session, 'sessionId' | 'neighbours'>,
    neighbourKeys: ReadonlyMap<ClientId, AdvertisedKeys>,
  ): EncryptedSharesMessage {
    const { sessionId } = fixed;
    const { threshold } = this.params;
    const holders = [this.id, ...neighbourKeys.keys()].sort((a, b) => a - b) as ClientId[];
    // Draw order is part of the spec (§5): b, then b's polynomial, then the mask key's polynomial.
    const selfMaskSeed = randomFieldElement(this.#rng);
    const maskKeySecret = fieldElementFromBytes(this.#maskKey!.bytes);
    const selfMaskShares = shamirSplit(selfMaskSeed, threshold, holders, this.#rng);
    const maskKeyShares = shamirSplit(maskKeySecret, threshold, holders, this.#rng);
    const seedBytes = fieldElementToBytes(selfMaskSeed);
    const ciphertexts: ShareCiphertext[] = [];
    const shareKeys = new Map<ClientId, Uint8Array>();
    let ownShares: Session['ownShares'] | undefined;
    holders.forEach((holder, i) => {
      const shares = { selfMask: selfMaskShares[i]!, maskKey: maskKeyShares[i]! };
      if (holder === this.id) {
        ownShares = shares;
        return;
      }
      const key = deriveShareKey(
        this.#cipherKey!,
        neighbourKeys.get(holder)!.cPk,
        sessionId,
        this.id,
        holder,
      );
      const plaintext = concatBytes(
        u32(this.id),
        u32(holder),
        fieldElementToBytes(shares.selfMask),
        fieldElementToBytes(shares.maskKey),
      );
      const ciphertext = aesGcmSeal(
        key,
        shareNonce(this.id, holder),
        shareAad(sessionId, this.id, holder),
        plaintext,
      );
      plaintext.fill(0);
      shareKeys.set(holder, key);
      ciphertexts.push({ from: this.id, to: holder, ciphertext });
    });
    this.#phase = {
      state: 'awaiting-shares',
      session: { ...fixed, neighbourKeys, selfMaskSeed: seedBytes, ownShares: ownShares!, shareKeys },
    };
    return { type: 'shares', bCommit: selfMaskCommitment(sessionId, this.id, seedBytes), ciphertexts };
  }

  // ---- stage 1 → 2 ---------------------------------------------------------------------------

  #onShareDelivery(session: Session, message: ShareDeliveryMessage): MaskedInputMessage {
    try {
      return this.#acceptShareDelivery(session, message);
    } finally {
      // The share keys are needed only to open this one delivery.
      wipeShareKeys(session);
    }
  }

  #acceptShareDelivery(session: Session, message: ShareDeliveryMessage): MaskedInputMessage {
    const senders = message.ciphertexts.map((c) => c.from);
    if (!isStrictlyAscending(senders))
      throw new Refusal('bad-peer-list', 'share senders are not sorted and unique');
    const received = new Map<ClientId, HeldShares | undefined>();
    for (const { from, to, ciphertext } of message.ciphertexts) {
      const sender = session.neighbourKeys.get(from);
      if (!sender) {
        throw new Refusal(
          session.neighbours.has(from) ? 'inconsistent-survivors' : 'bad-peer-list',
          session.neighbours.has(from)
            ? `shares from ${from}, which never advertised keys`
            : `shares from ${from}, which is not this client's neighbour in the round's graph`,
        );
      }
      if (to !== this.id) throw new ProtocolViolation(`a share addressed to client ${to} was delivered here`);
      // A message that cannot be read is the sender's fault (or a tampering coordinator's) and is
      // no reason to refuse: the sender stays in E_v (this client masks with it, as the sender and
      // the server expect), and this client simply holds none of its shares. Refusing would let one
      // client abort every round it takes part in; nothing is revealed for a sender whose share this
      // client does not hold (§4.5).
      received.set(from, this.#openShare(session, sender, ciphertext));
    }
    if (received.size + 1 < this.params.threshold) {
      throw new Refusal(
        'too-few-peers',
        `shares arrived from ${received.size} neighbours; with this client that is below threshold ${this.params.threshold}`,
      );
    }
    this.#unreadable = [...received].filter(([, held]) => !held).map(([from]) => from);
    const vectors = this.#maskInput(session, [...received.keys()]);
    this.#phase =
      this.params.serverModel === 'malicious'
        ? { state: 'awaiting-consistency', session, received }
        : { state: 'awaiting-unmask', session, received };
    return { type: 'masked', vectors };
  }

  /** The sender's shares, or undefined when its message cannot be read (§4.2). */
  #openShare(session: Session, sender: AdvertisedKeys, ciphertext: Uint8Array): HeldShares | undefined {
    const { sessionId } = session;
    // Every neighbour in U1 got a share from this client, so its key is normally cached (see
    // Session); derive it afresh only if the cache was already wiped.
    const cached = session.shareKeys.get(sender.id);
    const key = cached ?? deriveShareKey(this.#cipherKey!, sender.cPk, sessionId, this.id, sender.id);
    const plaintext = aesGcmOpen(
      key,
      shareNonce(sender.id, this.id),
      shareAad(sessionId, sender.id, this.id),
      ciphertext,
    );
    if (cached === undefined) key.fill(0);
    if (!plaintext) return undefined;
    try {
      if (plaintext.length !== SHARE_PLAINTEXT_BYTES) return undefined;
      const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
      if (view.getUint32(0, true) !== sender.id || view.getUint32(4, true) !== this.id) return undefined;
      return {
        selfMask: fieldElementFromBytes(plaintext.subarray(8, 40)),
        maskKey: fieldElementFromBytes(plaintext.subarray(40, 72)),
      };
    } catch {
      return undefined; // a value ≥ p: not a share
    } finally {
      plaintext.fill(0);
    }
  }

  /** y = x + selfMask(b) + Σ ± pairMask(s_vu) mod 2^bits, for every vector (§4.3). */
  #maskInput(session: Session, senders: readonly ClientId[]): Uint32Array[] {
    const { sessionId } = session;
    if (this.#inputSource) {
      const source = this.#inputSource;
      this.#inputSource = undefined;
      this.#input = checkInput(this.params, source(), false);
    }
    const pairSeeds = senders.map((peer) =>
      derivePairSeed(this.#maskKey!, session.neighbourKeys.get(peer)!.sPk, sessionId, this.id, peer),
    );
    const masked = this.params.vectors.map((spec, i) => {
      const acc = this.#input[i]!;
      const terms = [
        selfMaskTerm(session.selfMaskSeed, sessionId, this.id, spec, 1),
        ...senders.map((peer, j) => pairMaskTerm(pairSeeds[j]!, sessionId, this.id, peer, spec)),
      ];
      addMasks(acc, terms, spec.bits);
      wipeMaskTerms(terms);
      return acc;
    });
    for (const seed of pairSeeds) seed.fill(0);
    // The masked vectors now own the input buffers; the plaintext input no longer exists here.
    this.#input = [];
    return masked;
  }

  // ---- stage 3 (malicious only) --------------------------------------------------------------

  #onConsistencyRequest(
    session: Session,
    received: ReceivedShares,
    message: ConsistencyRequestMessage,
  ): ClientMessage {
    this.#checkSurvivors(session, message.survivors, received);
    const survivors = [...message.survivors];
    const signature = this.#identity!.sign(consistencyTranscript(session.sessionId, survivors));
    this.#phase = { state: 'awaiting-unmask', session, received, signedSurvivors: survivors };
    return { type: 'consistency', signature };
  }

  /** Checks a survivor list U3 against what this client saw (§4.4, §4.5). */
  #checkSurvivors(session: Session, survivors: readonly ClientId[], received: ReceivedShares): void {
    if (!isStrictlyAscending(survivors)) {
      throw new Refusal('inconsistent-survivors', 'the survivor list is not sorted and unique');
    }
    if (!sortedIncludes(survivors, this.id)) {
      throw new Refusal('inconsistent-survivors', 'this client is missing from the survivor list');
    }
    if (survivors.length < this.params.threshold) {
      throw new Refusal(
        'survivors-below-threshold',
        `${survivors.length} survivors is below threshold ${this.params.threshold}`,
      );
    }
    if (survivors.length < this.params.minSurvivors) {
      // A Harary graph's privacy holds only with at most n − minSurvivors clients lost (§2.2).
      throw new Refusal(
        'survivors-below-threshold',
        `${survivors.length} survivors is below the round's floor of ${this.params.minSurvivors}`,
      );
    }
    this.#checkSawShares(session, survivors, received, 'survivor');
  }

  /**
   * Every listed id is one of the round's clients, and every listed neighbour is one whose shares this
   * client received. `ids` is strictly ascending (checked by the caller): membership is a merge walk,
   * and only the k neighbours are looked up in it — O(|ids| + k log |ids|), no per-call set.
   */
  #checkSawShares(session: Session, ids: readonly ClientId[], received: ReceivedShares, role: string): void {
    const clients = this.params.clients;
    let c = 0;
    for (const peer of ids) {
      while (c < clients.length && (clients[c] as number) < peer) c++;
      if (clients[c] !== peer)
        throw new Refusal('inconsistent-survivors', `${role} ${peer} is not in this round`);
    }
    for (const peer of session.neighbours) {
      if (!received.has(peer) && sortedIncludes(ids, peer)) {
        throw new Refusal('inconsistent-survivors', `${role} ${peer} never shared keys with this client`);
      }
    }
  }

  // ---- stage 4 -------------------------------------------------------------------------------

  #onUnmaskRequest(
    session: Session,
    received: ReceivedShares,
    signedSurvivors: readonly ClientId[] | undefined,
    message: UnmaskRequestMessage,
    verifier: SignatureVerifier,
  ): UnmaskResponseMessage {
    const { survivors, dropped } = message;
    if (this.params.serverModel !== 'malicious' && message.signatures !== undefined) {
      // The field is set only in the malicious setting (§4.5); a semi-honest round has no consistency
      // check whose signatures it could carry. Answering would let a coordinator present one setting
      // to some clients and the other to the rest.
      throw new Refusal(
        'bad-signature',
        'the unmask request carries consistency signatures, but a semi-honest round has no consistency check',
      );
    }
    if (!isStrictlyAscending(dropped)) {
      throw new Refusal('inconsistent-survivors', 'the dropped list is not sorted and unique');
    }
    if (sortedIncludes(dropped, this.id)) {
      throw new Refusal('self-listed-as-dropped', 'this client is listed as dropped but asked to unmask');
    }
    if (!isStrictlyAscending(survivors)) {
      throw new Refusal('inconsistent-survivors', 'the survivor list is not sorted and unique');
    }
    // Both lists are sorted: membership is a binary search (no O(n) set per client at n = 10,000).
    const isSurvivor = (id: ClientId) => sortedIncludes(survivors, id);
    const isDropped = (id: ClientId) => sortedIncludes(dropped, id);
    const both = dropped.find(isSurvivor);
    if (both !== undefined) {
      throw new Refusal(
        'both-shares-requested',
        `client ${both} is listed as both surviving and dropped; revealing both its shares would expose its input`,
      );
    }
    this.#checkSurvivors(session, survivors, received);
    this.#checkSawShares(session, dropped, received, 'dropped client');
    const unaccounted = [...received.keys()].find((peer) => !isSurvivor(peer) && !isDropped(peer));
    if (unaccounted !== undefined) {
      throw new Refusal('inconsistent-survivors', `client ${unaccounted} shared keys but is in neither list`);
    }
    if (this.params.serverModel === 'malicious')
      this.#checkConsistencySignatures(session, signedSurvivors!, message, verifier);

    // Never both secrets of one peer: a self-mask share for a survivor, a key share for a dropped peer.
    // For a peer whose share message could not be read this client holds no share at all: nothing
    // for a survivor, and for a dropped peer the pair seed it masked with, which is what the key
    // share would have let the server derive (§4.5).
    const selfMaskShares: SecretShare[] = [];
    const keyShares: SecretShare[] = [];
    const pairSeeds: RevealedPairSeed[] = [];
    const ordered = [...received.keys(), this.id].sort((a, b) => a - b);
    for (const peer of ordered) {
      const shares = peer === this.id ? session.ownShares : received.get(peer);
      if (isSurvivor(peer)) {
        if (shares) selfMaskShares.push({ of: peer, share: fieldElementToBytes(shares.selfMask) });
      } else if (isDropped(peer)) {
        if (shares) keyShares.push({ of: peer, share: fieldElementToBytes(shares.maskKey) });
        else pairSeeds.push({ of: peer, seed: this.#pairSeedWith(session, peer) });
      }
    }
    this.#end({ state: 'done' });
    return { type: 'unmask', selfMaskShares, keyShares, pairSeeds };
  }

  /** pairSeed between this client and `peer` (§4.1), as used in the masked input. */
  #pairSeedWith(session: Session, peer: ClientId): Uint8Array {
    const keys = session.neighbourKeys.get(peer)!;
    return derivePairSeed(this.#maskKey!, keys.sPk, session.sessionId, this.id, peer);
  }

  #checkConsistencySignatures(
    session: Session,
    signedSurvivors: readonly ClientId[],
    message: UnmaskRequestMessage,
    verifier: SignatureVerifier,
  ): void {
    const { survivors, signatures = [] } = message;
    if (survivors.length !== signedSurvivors.length || survivors.some((id, i) => id !== signedSurvivors[i])) {
      throw new Refusal(
        'inconsistent-survivors',
        'the survivor list differs from the one this client signed',
      );
    }
    const signers = signatures.map((s) => s.id);
    if (!isStrictlyAscending(signers))
      throw new Refusal('bad-signature', 'signers are not sorted and unique');
    if (signatures.length < this.params.threshold) {
      throw new Refusal(
        'survivors-below-threshold',
        `${signatures.length} consistency signatures is below threshold ${this.params.threshold}`,
      );
    }
    const transcript = consistencyTranscript(session.sessionId, survivors);
    const survivorSet = new Set(survivors);
    for (const { id, signature } of signatures) {
      if (!survivorSet.has(id)) throw new Refusal('bad-signature', `signer ${id} is not a survivor`);
      if (!verifier.verify(this.#peerIdentities!.get(id)!, transcript, signature)) {
        throw new Refusal('bad-signature', `client ${id}'s consistency signature is invalid`);
      }
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  #assertUsable(): void {
    const phase = this.#phase;
    if (phase.state === 'failed') throw phase.error;
    if (phase.state === 'aborted') throw new UsageError(`the round was aborted: ${phase.reason}`);
  }

  /** Ends the round for this client and forgets every secret (best effort: JS cannot wipe BigInts). */
  #end(phase: Phase): void {
    const current = this.#phase;
    if ('session' in current) {
      current.session.selfMaskSeed.fill(0);
      wipeShareKeys(current.session);
    }
    for (const vector of this.#input) vector.fill(0);
    this.#input = [];
    this.#inputSource = undefined;
    this.#cipherKey = undefined;
    this.#maskKey = undefined;
    this.#phase = phase;
  }
}

/** Checks and copies a client's input vectors against the round's specs. */
function checkInput(params: RoundParams, input: readonly Uint32Array[], copy = true): Uint32Array[] {
  if (!Array.isArray(input)) throw new UsageError('input must be an array of Uint32Array vectors');
  if (input.length !== params.vectors.length) {
    throw new UsageError(`expected ${params.vectors.length} input vectors, got ${input.length}`);
  }
  return params.vectors.map((spec, i) => {
    const vector = input[i]!;
    if (!(vector instanceof Uint32Array)) throw new UsageError(`input '${spec.name}' must be a Uint32Array`);
    if (vector.length !== spec.length) {
      throw new UsageError(`input '${spec.name}' must have ${spec.length} elements, got ${vector.length}`);
    }
    const bad = firstOutOfRange(vector, spec.bits);
    if (bad >= 0) throw new UsageError(`input '${spec.name}'[${bad}] is not below 2^${spec.bits}`);
    return copy ? vector.slice() : vector;
  });
}

/** Zeroes and forgets the cached share keys (idempotent). */
function wipeShareKeys(session: Session): void {
  for (const key of session.shareKeys.values()) key.fill(0);
  session.shareKeys.clear();
}

function assertNever(value: never): never {
  throw new ProtocolViolation(`unknown message type '${(value as { type?: unknown }).type}'`);
}
