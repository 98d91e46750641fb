/**
 * Generates the published test vectors of privagg/secagg/v1 (docs/PROTOCOL.md §10):
 * `spec/test-vectors/semi-honest.json`, `spec/test-vectors/malicious.json` (complete graph) and
 * `spec/test-vectors/harary.json` (a SecAgg+ round on a random Harary graph, §2.2).
 *
 * Each file is one complete round run through the real state machines ({@link simulateRound}), with
 * every client's randomness drawn from one labelled {@link DeterministicRng} stream and two dropouts:
 * one client lost on entering the share stage (it advertised keys but never shared them, so it is in
 * U1 but not U2) and one lost on entering the masked stage (it shared keys but never sent its masked
 * input, so the server reconstructs its mask key and removes its pairwise masks).
 *
 * Wire values are captured as they pass: client → server with the simulator's `observe` hook,
 * server → client with a pass-through `tamper` hook. Secret intermediate values (private keys,
 * self-mask seeds, Shamir coefficients) never leave the state machines, so they are recovered by
 * replaying each client's labelled stream in the draw order of PROTOCOL.md §10.2. Every replayed and
 * derived value is checked here against what went over the wire (public keys, signatures, share
 * ciphertexts, commitments, masked inputs, the sum) before anything is written: a wrong replay fails
 * the generator instead of publishing a wrong vector.
 *
 * Usage: `node --import tsx scripts/gen-test-vectors.ts` (writes both files).
 * test/spec/test-vectors.test.ts imports {@link buildVectorFile} to check that the files are current.
 * @module
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packBits } from '../src/secagg/bitpack.ts';
import { type CohortMember, encodeCohort } from '../src/secagg/cohort.ts';
import { aesGcmSeal } from '../src/secagg/crypto/aead.ts';
import { Ed25519Signer } from '../src/secagg/crypto/ed25519.ts';
import { hkdf, sha256 } from '../src/secagg/crypto/hash.ts';
import {
  addMask,
  deriveMaskKey,
  expandMask,
  type MaskTerm,
  PAIR_MASK_LABEL,
  selfMaskLabel,
} from '../src/secagg/crypto/prg.ts';
import {
  FIELD_PRIME,
  fieldElementFromBytes,
  fieldElementToBytes,
  lagrangeCoefficientsAtZero,
  shamirReconstruct,
} from '../src/secagg/crypto/shamir.ts';
import { X25519PrivateKey } from '../src/secagg/crypto/x25519.ts';
import { ascii, concatBytes, str, u8, u32 } from '../src/secagg/encoding.ts';
import type { GraphSpec } from '../src/secagg/graph.ts';
import { type HararyGraph, hararyOrder, neighbourGraph } from '../src/secagg/harary.ts';
import { pairMaskTerm, pairSign, selfMaskTerm } from '../src/secagg/mask.ts';
import type {
  AdvertiseKeysMessage,
  ClientMessage,
  ConsistencySignatureMessage,
  EncryptedSharesMessage,
  MaskedInputMessage,
  PeerKeysMessage,
  ServerMessage,
  ShareDeliveryMessage,
  Stage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from '../src/secagg/messages.ts';
import { type RoundParams, roundParams } from '../src/secagg/params.ts';
import { reduceInto } from '../src/secagg/ring.ts';
import { DeterministicRng } from '../src/secagg/rng.ts';
import {
  advertiseTranscript,
  consistencyTranscript,
  derivePairSeed,
  deriveShareKey,
  selfMaskCommitment,
  sessionIdFor,
  shareAad,
  shareNonce,
} from '../src/secagg/transcript.ts';
import type { ClientId, ServerModel, VectorSpec } from '../src/secagg/types.ts';
import { simulateRound } from '../src/sim/round.ts';

/** A JSON value, as written to the vector files. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** One published round: its parameters, its dropouts and the file it is written to. */
export interface VectorCase {
  /** File name under spec/test-vectors/. */
  readonly file: string;
  readonly serverModel: ServerModel;
  readonly round: number;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  readonly clients: readonly number[];
  /** In any order; the round sorts them by name (§2). */
  readonly vectors: readonly VectorSpec[];
  /** Advertises keys, then vanishes on entering the share stage: in U1, not in U2. */
  readonly lostAtShare: number;
  /** Shares keys, then vanishes on entering the masked stage: in U2, not in U3. */
  readonly lostAtMasked: number;
  /** The application context bound into configHash (§2); empty when absent. */
  readonly context?: Uint8Array;
  /** The neighbour graph (§2, §2.2); complete when absent. */
  readonly graph?: GraphSpec;
  /**
   * The `<setting>` segment of the clients' stream labels (§10.1): the server model, or `harary` for
   * the Harary round (so its streams differ from the semi-honest round's).
   */
  readonly stream: string;
  /**
   * Malicious setting: the names the clients checked in under, by id (§2.3). With them the round
   * announces its cohort — ids, names and identity keys — which enters configHash.
   */
  readonly names?: Readonly<Record<number, string>>;
}

const VECTORS: readonly VectorSpec[] = [
  { name: 'weights', length: 8, bits: 32 },
  { name: 'count', length: 5, bits: 10 },
];

/**
 * The published rounds. Client ids are deliberately not 1..n: they include ids above 2^31 (and, in
 * the malicious round, the largest id 2^32 − 1) so that signed-integer and endianness mistakes in u32
 * encodings, pair ordering and Shamir evaluation points show up. n_C = 1 puts a non-zero value in
 * the configuration hash. The malicious round has n = 6: with t = 4, two dropouts before the masked
 * stage leave |U3| = 4 = t, whereas n = 5 would leave 3 < t and abort the round.
 */
export const VECTOR_CASES: readonly VectorCase[] = [
  {
    file: 'semi-honest.json',
    serverModel: 'semi-honest',
    round: 7,
    threshold: 3,
    maxCorruptClients: 1,
    clients: [3, 7, 12, 300, 2_147_483_649],
    vectors: VECTORS,
    lostAtShare: 7,
    lostAtMasked: 300,
    stream: 'semi-honest',
  },
  {
    file: 'malicious.json',
    serverModel: 'malicious',
    round: 42,
    threshold: 4,
    maxCorruptClients: 1,
    clients: [1, 2, 5, 1000, 65_536, 4_294_967_295],
    vectors: VECTORS,
    lostAtShare: 5,
    lostAtMasked: 65_536,
    // Arbitrary bytes: the core hashes the context without reading it (§2).
    context: new TextEncoder().encode('privagg test-vector context'),
    stream: 'malicious',
    // Names whose byte order differs from the ids' (and one of more than one byte per character), so
    // that a cohort sorted by name instead of by id shows.
    names: {
      1: 'zoë',
      2: 'alice',
      5: 'bob',
      1000: 'carol',
      65536: 'dave',
      4294967295: 'eve',
    },
  },
  {
    // SecAgg+ (§2.2): H(10, 4), so each client masks with 4 of the 9 others. With n_C = 1 and at most
    // 10 − 8 = 2 clients lost, no client can have t = 3 corrupt neighbours and no 4 removed clients
    // exist to cut the ring: both privacy bounds are 0, and the announced parameters pass §2.2.
    file: 'harary.json',
    serverModel: 'semi-honest',
    round: 9,
    threshold: 3,
    maxCorruptClients: 1,
    clients: [2, 3, 5, 8, 13, 21, 34, 55, 2_147_483_648, 4_294_967_294],
    vectors: VECTORS,
    lostAtShare: 13,
    lostAtMasked: 2_147_483_648,
    graph: { kind: 'harary', degree: 4, minSurvivors: 8, securityBits: 40 },
    stream: 'harary',
  },
];

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fe = (x: bigint): string => hex(fieldElementToBytes(x));
const words = (v: Uint32Array): number[] => Array.from(v);
const byId = (a: number, b: number): number => a - b;

/** The RNG label of a client's stream (§10.2); `stream` is the case's {@link VectorCase.stream}. */
export function clientRngLabel(stream: string, id: number): string {
  return `privagg/test-vectors/v1/${stream}/client/${id}`;
}

/** The RNG label of the stream a client's fixed input is drawn from. */
export function inputRngLabel(stream: string, id: number): string {
  return `privagg/test-vectors/v1/${stream}/input/${id}`;
}

/** A client's input: per vector, `4·length` bytes of its input stream as u32 LE words, mod 2^bits. */
function makeInput(params: RoundParams, stream: string, id: ClientId): Uint32Array[] {
  const rng = new DeterministicRng(inputRngLabel(stream, id));
  return params.vectors.map((spec) => {
    const bytes = rng.randomBytes(4 * spec.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = Uint32Array.from({ length: spec.length }, (_, i) => view.getUint32(4 * i, true));
    reduceInto(out, spec.bits);
    return out;
  });
}

/**
 * The announced cohort of a malicious case (§2.3): each client's name and identity public key. The
 * identity key is the first draw of the client's stream (§10.2), so it is known before the round;
 * the simulator draws the same bytes again when it builds the client.
 */
function cohortOf(c: VectorCase): CohortMember[] {
  return c.clients.map((id) => {
    const seed = new DeterministicRng(clientRngLabel(c.stream, id)).randomBytes(32);
    const name = c.names![id];
    if (name === undefined) throw new Error(`case ${c.file}: no name for client ${id}`);
    return { id: id as ClientId, name, identityKey: Ed25519Signer.fromSeed(seed).publicKey };
  });
}

/** The stage a client enters on receiving each server message (as in src/sim/round.ts). */
const STAGE_ENTERED: Record<Exclude<ServerMessage['type'], 'abort'>, Stage> = {
  'peer-keys': 'share',
  'share-delivery': 'masked',
  'consistency-request': 'consistency',
  'unmask-request': 'unmask',
};

interface Draw {
  readonly what: string;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** What a client drew from its stream, replayed (§10.2). */
interface Replayed {
  readonly id: ClientId;
  readonly label: string;
  readonly draws: Draw[];
  readonly identity?: { readonly seed: Uint8Array; readonly signer: Ed25519Signer };
  readonly cipherKey: X25519PrivateKey;
  readonly maskKey: X25519PrivateKey;
  /** Present for clients that reached the share stage. */
  readonly sharing?: {
    readonly holders: readonly ClientId[];
    /** a_0 = b, a_1 … a_{t−1}. */
    readonly selfMaskPolynomial: readonly bigint[];
    /** a_0 = s (the clamped mask private key as an integer), a_1 … a_{t−1}. */
    readonly maskKeyPolynomial: readonly bigint[];
  };
}

function clamp(raw: Uint8Array): Uint8Array {
  const k = raw.slice();
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

function leBigint(bytes: Uint8Array): bigint {
  return BigInt(`0x${hex(Uint8Array.from(bytes).reverse()) || '0'}`);
}

/** f(x) mod p for coefficients a_0 … a_{t−1}. */
function evaluate(coefficients: readonly bigint[], x: number): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = (acc * BigInt(x) + coefficients[k]!) % FIELD_PRIME;
  return acc;
}

/**
 * Replays client `id`'s stream: [identity seed (32, malicious)], c (32), s (32), and, if it shared,
 * b (64) and the t − 1 coefficients of b's polynomial then of s's polynomial (64 each).
 */
function replay(
  params: RoundParams,
  stream: string,
  id: ClientId,
  holders: readonly ClientId[] | undefined,
): Replayed {
  const label = clientRngLabel(stream, id);
  const rng = new DeterministicRng(label);
  const draws: Draw[] = [];
  let offset = 0;
  const draw = (what: string, length: number): Uint8Array => {
    const bytes = rng.randomBytes(length);
    draws.push({ what, offset, bytes });
    offset += length;
    return bytes;
  };
  let identity: Replayed['identity'];
  if (params.serverModel === 'malicious') {
    const seed = draw('identity key d: Ed25519 seed (RFC 8032 private key), drawn by the simulator', 32);
    identity = { seed, signer: Ed25519Signer.fromSeed(seed) };
  }
  const cipherKey = X25519PrivateKey.fromBytes(clamp(draw('c: cipher private key, before clamping', 32)));
  const maskKey = X25519PrivateKey.fromBytes(clamp(draw('s: mask private key, before clamping', 32)));
  if (!holders) return { id, label, draws, identity, cipherKey, maskKey };
  const t = params.threshold;
  const b = leBigint(draw('b: self-mask seed, 64 bytes read little-endian, mod p', 64)) % FIELD_PRIME;
  const selfMaskPolynomial = [b];
  for (let k = 1; k < t; k++) {
    selfMaskPolynomial.push(leBigint(draw(`a_${k} of b's polynomial, 64 bytes LE mod p`, 64)) % FIELD_PRIME);
  }
  const maskKeyPolynomial = [fieldElementFromBytes(maskKey.bytes)];
  for (let k = 1; k < t; k++) {
    maskKeyPolynomial.push(leBigint(draw(`a_${k} of s's polynomial, 64 bytes LE mod p`, 64)) % FIELD_PRIME);
  }
  return {
    id,
    label,
    draws,
    identity,
    cipherKey,
    maskKey,
    sharing: { holders, selfMaskPolynomial, maskKeyPolynomial },
  };
}

function advertiseJson(m: AdvertiseKeysMessage): JsonObject {
  const out: JsonObject = { cPk: hex(m.cPk), sPk: hex(m.sPk) };
  if (m.signature) out['signature'] = hex(m.signature);
  return out;
}

function clientMessageJson(params: RoundParams, m: ClientMessage): JsonObject {
  switch (m.type) {
    case 'advertise':
      return advertiseJson(m);
    case 'shares':
      return {
        bCommit: hex(m.bCommit),
        ciphertexts: m.ciphertexts.map((c) => ({ to: c.to, ciphertext: hex(c.ciphertext) })),
      };
    case 'masked':
      return {
        vectors: m.vectors.map((v, i) => {
          const spec = params.vectors[i]!;
          return { vector: spec.name, elements: words(v), packed: hex(packBits(v, spec.bits)) };
        }),
      };
    case 'consistency':
      return { signature: hex(m.signature) };
    case 'unmask':
      return {
        selfMaskShares: m.selfMaskShares.map((s) => ({ of: s.of, share: hex(s.share) })),
        keyShares: m.keyShares.map((s) => ({ of: s.of, share: hex(s.share) })),
      };
  }
}

function serverMessageJson(m: ServerMessage): JsonObject {
  switch (m.type) {
    case 'peer-keys':
      return { peers: m.peers.map((p) => ({ id: p.id, ...advertiseJson({ type: 'advertise', ...p }) })) };
    case 'share-delivery':
      return { ciphertexts: m.ciphertexts.map((c) => ({ from: c.from, ciphertext: hex(c.ciphertext) })) };
    case 'consistency-request':
      return { survivors: [...m.survivors] };
    case 'unmask-request': {
      const out: JsonObject = { survivors: [...m.survivors], dropped: [...m.dropped] };
      if (m.signatures)
        out['signatures'] = m.signatures.map((s) => ({ id: s.id, signature: hex(s.signature) }));
      return out;
    }
    case 'abort':
      return { reason: m.reason };
  }
}

/** Collects the messages of one type from a capture list, by peer, checking there is one per peer. */
function byPeer<T extends { type: string }, M extends T>(
  captured: readonly { peer: ClientId; message: T }[],
  type: M['type'],
): Map<ClientId, M> {
  const out = new Map<ClientId, M>();
  for (const { peer, message } of captured) {
    if (message.type !== type) continue;
    assert.ok(!out.has(peer), `two '${type}' messages for client ${peer}`);
    out.set(peer, message as M);
  }
  return out;
}

const CONVENTIONS: JsonObject = {
  bytes: 'lowercase hex, no prefix',
  fieldElements: 'fe(x) of PROTOCOL.md §1: 32 bytes little-endian, as hex',
  vectors: 'decimal arrays of u32 elements, each < 2^bits; vectors appear in params.vectors order',
  maskWords:
    'raw little-endian u32 words of the AES-CTR keystream (§6.2), before reduction: the mask element is word mod 2^bits',
  signs: 'sign +1 adds the mask, −1 subtracts it, modulo 2^bits',
  sets: 'U1 ⊇ U2 ⊇ U3 ⊇ U4 ⊇ U5 as in §4; every id list is sorted ascending',
  randomness:
    'every random byte a client uses comes from its rngLabel stream (§10.2): AES-128-CTR keyed by SHA-256(label)[0..16], zero IV; rngDraws lists each draw with its byte offset',
};

const HARARY_FIELDS: JsonObject = {
  graph:
    'the Harary graph of §2.2, derived from the session id: graphSeed, the HKDF info, key and iv of its order, the first AES-CTR words drawn, the permutation π, the clients in ring order, and every client’s neighbours N(u)',
};

const FIELDS: JsonObject = {
  'params / configHashPreimage / configHash': '§2 (params.context is hex)',
  'clients[].cipherKey, maskKey': 'X25519 key pairs c and s; privateKey is the clamped key (§3)',
  'params.cohort / params.cohortBytes':
    'malicious only: the announced cohort (§2.3) — per id, the name (and its UTF-8 bytes) and identity public key — and its encoding, the tail of configHashPreimage',
  'clients[].name, identity':
    'malicious only: the name the client checked in under, and its Ed25519 identity key d (seed, RFC 8032 public key, and the public key in base64 as `privagg keygen` prints it and a roster holds it)',
  'clients[].advertise': 'malicious only: the signed message and signature of AdvertiseKeys (§4.0)',
  'clients[].sharing':
    'null for a client that never reached the share stage; else b, both Shamir polynomials (coefficient a_0 is the secret), the shares for every holder, and bCommit (§4.2, §5)',
  'sessionIdPreimage / sessionId': '§4.0',
  pairs:
    'every neighbour pair lo < hi of U1: X25519(c_lo, cPk_hi) = X25519(c_hi, cPk_lo), X25519(s_lo, sPk_hi) = X25519(s_hi, sPk_lo), the HKDF info strings, shareKey and pairSeed (§4.1)',
  shareMessages: 'every share message of U2: plaintext, nonce, aad and ciphertext (§4.2)',
  masks:
    'for every self-mask seed of U3 and every pair seed within U2, per vector: HKDF info, PRG key and iv, first and last 4 keystream words (§6)',
  maskedInputs:
    'y_v for v in U3: the input, each mask term with its sign, y_v and its bit-packed form (§4.3, §6.3)',
  transcript:
    'every wire message in the order the simulator delivered it; processed = false for a message the recipient never acted on because it dropped out',
  reconstruction:
    'what the server rebuilds from the unmask responses of U5 with the lowest t holder ids (§4.6, §5)',
  output: 'the final sums, equal to the plain sum of the inputs of U3 (§4.6)',
};

/**
 * Runs one published round and returns its vector file as a JSON value. Deterministic: calling it
 * again gives an identical value.
 * @param c - the round to run
 * @returns the file's contents
 * @throws AssertionError if any replayed or derived value disagrees with the wire, or the sum is wrong
 */
export function buildVectorFile(c: VectorCase): JsonObject {
  const params = roundParams({
    round: c.round,
    serverModel: c.serverModel,
    threshold: c.threshold,
    maxCorruptClients: c.maxCorruptClients,
    clients: c.clients,
    vectors: c.vectors,
    context: c.context,
    graph: c.graph,
    ...(c.names && { cohort: cohortOf(c) }),
  });
  const { threshold: t, configHash } = params;
  const inputs = new Map(params.clients.map((id) => [id, makeInput(params, c.stream, id)]));
  const dropouts = new Map<ClientId, Stage>([
    [c.lostAtShare as ClientId, 'share'],
    [c.lostAtMasked as ClientId, 'masked'],
  ]);

  // One stream per client: the simulator asks for it twice in the malicious setting (identity key,
  // then the client), and both must read the same stream (§10.2).
  const streams = new Map<ClientId, DeterministicRng>();
  const rngFor = (id: ClientId): DeterministicRng => {
    let rng = streams.get(id);
    if (!rng) {
      rng = new DeterministicRng(clientRngLabel(c.stream, id));
      streams.set(id, rng);
    }
    return rng;
  };

  const toServer: { peer: ClientId; message: ClientMessage }[] = [];
  const toClients: { peer: ClientId; message: ServerMessage }[] = [];
  const transcript: JsonObject[] = [];
  const report = simulateRound({
    params,
    inputs,
    rngFor,
    dropouts,
    observe: (from, message) => {
      toServer.push({ peer: from, message: structuredClone(message) });
      transcript.push({
        direction: 'client-to-server',
        from,
        type: message.type,
        ...clientMessageJson(params, message),
      });
    },
    tamper: (to, message) => {
      toClients.push({ peer: to, message: structuredClone(message) });
      const processed = message.type === 'abort' || dropouts.get(to) !== STAGE_ENTERED[message.type];
      transcript.push({
        direction: 'server-to-client',
        to,
        type: message.type,
        processed,
        ...serverMessageJson(message),
      });
      return message;
    },
  });
  const { result } = report;
  if (result.status !== 'ok') throw new Error(`the ${c.serverModel} round aborted: ${result.error.message}`);
  assert.equal(report.clientErrors.size, 0, 'no client may refuse in a published round');
  assert.equal(report.violations.length, 0, 'no protocol violation in a published round');

  // ---- the wire ------------------------------------------------------------------------------
  const adverts = byPeer<ClientMessage, AdvertiseKeysMessage>(toServer, 'advertise');
  const sharesSent = byPeer<ClientMessage, EncryptedSharesMessage>(toServer, 'shares');
  const maskedSent = byPeer<ClientMessage, MaskedInputMessage>(toServer, 'masked');
  const consistencySent = byPeer<ClientMessage, ConsistencySignatureMessage>(toServer, 'consistency');
  const unmaskSent = byPeer<ClientMessage, UnmaskResponseMessage>(toServer, 'unmask');
  const peerKeys = byPeer<ServerMessage, PeerKeysMessage>(toClients, 'peer-keys');
  const deliveries = byPeer<ServerMessage, ShareDeliveryMessage>(toClients, 'share-delivery');
  const unmaskRequests = byPeer<ServerMessage, UnmaskRequestMessage>(toClients, 'unmask-request');

  const peers = [...peerKeys.values()][0]!.peers;
  for (const m of peerKeys.values()) assert.deepEqual(m.peers, peers, 'every client sees the same PeerKeys');
  const request = [...unmaskRequests.values()][0]!;
  for (const m of unmaskRequests.values())
    assert.deepEqual(m, request, 'every client sees the same UnmaskRequest');

  const u1 = peers.map((p) => p.id);
  const u2 = [...sharesSent.keys()].sort(byId);
  const u3 = [...result.survivors];
  const u4 = params.serverModel === 'malicious' ? [...consistencySent.keys()].sort(byId) : u3;
  const u5 = [...unmaskSent.keys()].sort(byId);
  const dropped = [...request.dropped];
  assert.deepEqual(u1, params.clients, 'nobody dropped at advertise');
  assert.deepEqual(
    u2,
    u1.filter((id) => id !== c.lostAtShare),
    'U2 is U1 without the client lost at share',
  );
  assert.deepEqual(
    u3,
    u2.filter((id) => id !== c.lostAtMasked),
    'U3 is U2 without the client lost at masked',
  );
  assert.deepEqual([...request.survivors], u3);
  assert.deepEqual(dropped, [c.lostAtMasked], 'dropped = U2 \\ U3');
  assert.ok(u3.length >= t, 'enough survivors');

  // ---- §2 configuration hash -----------------------------------------------------------------
  const graphBytes =
    params.graph.kind === 'harary'
      ? concatBytes(
          u8(1),
          u32(params.graph.degree),
          u32(params.graph.minSurvivors),
          u8(params.graph.securityBits),
        )
      : u8(0);
  const configHashPreimage = concatBytes(
    ascii('privagg/v1/config'),
    u32(params.round),
    u8(params.serverModel === 'malicious' ? 1 : 0),
    u32(t),
    u32(params.maxCorruptClients),
    u32(params.clients.length),
    ...params.clients.map(u32),
    graphBytes,
    u32(params.vectors.length),
    ...params.vectors.flatMap((v) => [str(v.name), u32(v.length), u8(v.bits)]),
    u32(params.context.length),
    params.context,
    ...(params.cohort
      ? [u32(params.cohort.length), ...params.cohort.flatMap((m) => [u32(m.id), str(m.name), m.identityKey])]
      : []),
  );
  assert.deepEqual(sha256(configHashPreimage), configHash, 'configHash preimage');
  if (params.cohort) {
    // The core's own encoding, for the document: it must be the tail of the preimage just checked.
    const cohortBytes = encodeCohort(params.cohort);
    assert.deepEqual(
      configHashPreimage.subarray(configHashPreimage.length - cohortBytes.length),
      cohortBytes,
    );
  }

  // ---- the graph, fixed by the session id (§2.2) --------------------------------------------------
  const sessionId = sessionIdFor(configHash, peers);
  const graph = neighbourGraph(params.graph, params.clients, sessionId);
  const graphJson =
    params.graph.kind === 'harary' ? hararyJson(params, graph as HararyGraph, sessionId) : null;

  // ---- replay and check keys against the advertisements ---------------------------------------
  const neighbours = (id: ClientId): ClientId[] => graph.neighbours(id).filter((v) => u1.includes(v));
  const replayed = new Map<ClientId, Replayed>();
  for (const id of params.clients) {
    const holders = sharesSent.has(id) ? [id, ...neighbours(id)].sort(byId) : undefined;
    const r = replay(params, c.stream, id, holders);
    replayed.set(id, r);
    const advert = adverts.get(id)!;
    assert.deepEqual(r.cipherKey.publicKey, advert.cPk, `client ${id}: replayed c matches cPk`);
    assert.deepEqual(r.maskKey.publicKey, advert.sPk, `client ${id}: replayed s matches sPk`);
    if (r.identity) {
      const signed = advertiseTranscript(configHash, id, advert.cPk, advert.sPk);
      assert.deepEqual(r.identity.signer.sign(signed), advert.signature, `client ${id}: advertise signature`);
    }
  }
  const rep = (id: ClientId): Replayed => replayed.get(id)!;

  // ---- §4.0 session id -----------------------------------------------------------------------
  const sessionIdPreimage = concatBytes(
    ascii('privagg/v1/session'),
    configHash,
    u32(peers.length),
    ...peers.flatMap((p) => [u32(p.id), p.cPk, p.sPk]),
  );
  assert.deepEqual(sha256(sessionIdPreimage), sessionId, 'sessionId preimage');

  // ---- §4.1 pairs ------------------------------------------------------------------------------
  const pairs: JsonObject[] = [];
  const pairSeeds = new Map<string, Uint8Array>();
  const shareKeys = new Map<string, Uint8Array>();
  const pairKey = (a: ClientId, b: ClientId) => `${Math.min(a, b)}-${Math.max(a, b)}`;
  for (const lo of u1) {
    for (const hi of u1) {
      if (!(lo < hi) || !graph.isNeighbour(lo, hi)) continue;
      const [a, b] = [rep(lo), rep(hi)];
      const cipherSecret = a.cipherKey.agree(b.cipherKey.publicKey);
      const maskSecret = a.maskKey.agree(b.maskKey.publicKey);
      assert.deepEqual(b.cipherKey.agree(a.cipherKey.publicKey), cipherSecret, 'X25519 is symmetric');
      assert.deepEqual(b.maskKey.agree(a.maskKey.publicKey), maskSecret, 'X25519 is symmetric');
      const shareKeyInfo = concatBytes(ascii('privagg/v1/share-key'), u32(lo), u32(hi));
      const pairSeedInfo = concatBytes(ascii('privagg/v1/pair-seed'), u32(lo), u32(hi));
      const shareKey = deriveShareKey(a.cipherKey, b.cipherKey.publicKey, sessionId, lo, hi);
      const pairSeed = derivePairSeed(a.maskKey, b.maskKey.publicKey, sessionId, lo, hi);
      assert.deepEqual(hkdf(cipherSecret, sessionId, shareKeyInfo, 32), shareKey);
      assert.deepEqual(hkdf(maskSecret, sessionId, pairSeedInfo, 32), pairSeed);
      assert.deepEqual(deriveShareKey(b.cipherKey, a.cipherKey.publicKey, sessionId, hi, lo), shareKey);
      assert.deepEqual(derivePairSeed(b.maskKey, a.maskKey.publicKey, sessionId, hi, lo), pairSeed);
      shareKeys.set(pairKey(lo, hi), shareKey);
      pairSeeds.set(pairKey(lo, hi), pairSeed);
      pairs.push({
        lo,
        hi,
        cipherSharedSecret: hex(cipherSecret),
        maskSharedSecret: hex(maskSecret),
        shareKeyInfo: hex(shareKeyInfo),
        shareKey: hex(shareKey),
        pairSeedInfo: hex(pairSeedInfo),
        pairSeed: hex(pairSeed),
      });
    }
  }

  // ---- §4.2 shares -----------------------------------------------------------------------------
  const shareMessages: JsonObject[] = [];
  for (const from of u2) {
    const sharing = rep(from).sharing!;
    const sent = sharesSent.get(from)!;
    const b = fieldElementToBytes(sharing.selfMaskPolynomial[0]!);
    assert.deepEqual(selfMaskCommitment(sessionId, from, b), sent.bCommit, `client ${from}: bCommit`);
    assert.deepEqual(
      sent.ciphertexts.map((x) => x.to),
      neighbours(from),
      `client ${from} shares with its U1 neighbours`,
    );
    for (const { to, ciphertext } of sent.ciphertexts) {
      const plaintext = concatBytes(
        u32(from),
        u32(to),
        fieldElementToBytes(evaluate(sharing.selfMaskPolynomial, to)),
        fieldElementToBytes(evaluate(sharing.maskKeyPolynomial, to)),
      );
      const nonce = shareNonce(from, to);
      const aad = shareAad(sessionId, from, to);
      const sealed = aesGcmSeal(shareKeys.get(pairKey(from, to))!, nonce, aad, plaintext);
      assert.deepEqual(sealed, ciphertext, `share ciphertext ${from} → ${to}`);
      shareMessages.push({
        from,
        to,
        plaintext: hex(plaintext),
        nonce: hex(nonce),
        aad: hex(aad),
        ciphertext: hex(ciphertext),
      });
    }
  }

  // ---- §6 masks ------------------------------------------------------------------------------
  const masks: JsonObject[] = [];
  const maskJson = (seed: Uint8Array, label: Uint8Array, spec: VectorSpec): JsonObject => {
    const info = concatBytes(label, str(spec.name), u32(spec.length), u8(spec.bits));
    const mk = deriveMaskKey(seed, sessionId, label, spec);
    assert.deepEqual(hkdf(seed, sessionId, info, 32), concatBytes(mk.key, mk.iv));
    const w = expandMask(mk, spec.length);
    return {
      vector: spec.name,
      hkdfInfo: hex(info),
      key: hex(mk.key),
      iv: hex(mk.iv),
      firstWords: words(w.slice(0, 4)),
      lastWords: words(w.slice(-4)),
    };
  };
  for (const owner of u3) {
    const seed = fieldElementToBytes(rep(owner).sharing!.selfMaskPolynomial[0]!);
    for (const spec of params.vectors) {
      masks.push({ seedKind: 'self', owner, seed: hex(seed), ...maskJson(seed, selfMaskLabel(owner), spec) });
    }
  }
  for (const lo of u2) {
    for (const hi of u2) {
      if (!(lo < hi) || !graph.isNeighbour(lo, hi)) continue;
      const seed = pairSeeds.get(pairKey(lo, hi))!;
      for (const spec of params.vectors) {
        masks.push({ seedKind: 'pair', lo, hi, seed: hex(seed), ...maskJson(seed, PAIR_MASK_LABEL, spec) });
      }
    }
  }

  // ---- §4.3 masked inputs --------------------------------------------------------------------
  const maskedInputs: JsonObject[] = [];
  for (const v of u3) {
    const senders = deliveries.get(v)!.ciphertexts.map((x) => x.from);
    assert.deepEqual(
      senders,
      neighbours(v).filter((u) => u2.includes(u)),
      `E_${v} = U2 ∩ N(${v})`,
    );
    const b = fieldElementToBytes(rep(v).sharing!.selfMaskPolynomial[0]!);
    const sent = maskedSent.get(v)!;
    maskedInputs.push({
      client: v,
      maskedWith: senders,
      vectors: params.vectors.map((spec, i) => {
        const y = inputs.get(v)![i]!.slice();
        // One mask at a time (the clients apply them all in one pass).
        apply(y, selfMaskTerm(b, sessionId, v, spec, 1));
        for (const u of senders) apply(y, pairMaskTerm(pairSeeds.get(pairKey(u, v))!, sessionId, v, u, spec));
        reduceInto(y, spec.bits);
        assert.deepEqual(y, sent.vectors[i], `client ${v}: masked '${spec.name}'`);
        return {
          vector: spec.name,
          input: words(inputs.get(v)![i]!),
          terms: [
            { mask: 'self', owner: v, sign: 1 },
            ...senders.map((u) => ({
              mask: 'pair',
              lo: Math.min(u, v),
              hi: Math.max(u, v),
              sign: pairSign(v, u),
            })),
          ],
          masked: words(y),
          packed: hex(packBits(y, spec.bits)),
        };
      }),
    });
  }

  // ---- §4.4 consistency (malicious) --------------------------------------------------------------
  let consistency: JsonObject | null = null;
  if (params.serverModel === 'malicious') {
    const signed = consistencyTranscript(sessionId, u3);
    for (const id of u4) {
      assert.deepEqual(rep(id).identity!.signer.sign(signed), consistencySent.get(id)!.signature);
    }
    assert.deepEqual(
      request.signatures?.map((s) => s.id),
      u4.slice(0, t),
      'the unmask request forwards the signatures of the t lowest ids of U4 (§4.4)',
    );
    consistency = {
      signedMessage: hex(signed),
      signatures: u4.map((id) => ({ id, signature: hex(consistencySent.get(id)!.signature) })),
    };
  }

  // ---- §4.6 reconstruction and the sum ---------------------------------------------------------
  const collect = (of: ClientId, kind: 'selfMaskShares' | 'keyShares') =>
    u5.flatMap((holder) =>
      unmaskSent
        .get(holder)!
        [kind].filter((s) => s.of === of)
        .map((s) => ({ id: holder, value: fieldElementFromBytes(s.share) })),
    );
  const rebuild = (of: ClientId, kind: 'selfMaskShares' | 'keyShares', expected: bigint) => {
    const shares = collect(of, kind);
    const used = shares.slice(0, t).map((s) => s.id);
    const secret = shamirReconstruct(shares, t);
    assert.equal(secret, expected, `client ${of}: reconstructed ${kind}`);
    return { holders: used, lagrangeCoefficients: lagrangeCoefficientsAtZero(used).map(fe), secret };
  };
  const selfMaskSeeds = u3.map((of) => {
    const { holders, lagrangeCoefficients, secret } = rebuild(
      of,
      'selfMaskShares',
      rep(of).sharing!.selfMaskPolynomial[0]!,
    );
    const commitment = selfMaskCommitment(sessionId, of, fieldElementToBytes(secret));
    assert.deepEqual(commitment, sharesSent.get(of)!.bCommit);
    return { of, holders, lagrangeCoefficients, seed: fe(secret), bCommit: hex(commitment) };
  });
  const maskKeys = dropped.map((of) => {
    const { holders, lagrangeCoefficients, secret } = rebuild(
      of,
      'keyShares',
      rep(of).sharing!.maskKeyPolynomial[0]!,
    );
    const key = X25519PrivateKey.fromBytes(fieldElementToBytes(secret));
    assert.deepEqual(key.publicKey, adverts.get(of)!.sPk);
    return { of, holders, lagrangeCoefficients, privateKey: hex(key.bytes), publicKey: hex(key.publicKey) };
  });
  const removedPairMasks = dropped.flatMap((u) =>
    u3
      .filter((v) => graph.isNeighbour(u, v))
      .map((v) => ({
        dropped: u,
        survivor: v,
        lo: Math.min(u, v),
        hi: Math.max(u, v),
        sign: pairSign(u, v),
      })),
  );

  const output = params.vectors.map((spec, i) => {
    const z = new Uint32Array(spec.length);
    for (const v of u3) for (let j = 0; j < z.length; j++) z[j] = z[j]! + maskedSent.get(v)!.vectors[i]![j]!;
    for (const v of u3) {
      apply(
        z,
        selfMaskTerm(fieldElementToBytes(rep(v).sharing!.selfMaskPolynomial[0]!), sessionId, v, spec, -1),
      );
    }
    for (const p of removedPairMasks) {
      apply(
        z,
        pairMaskTerm(pairSeeds.get(pairKey(p.dropped, p.survivor))!, sessionId, p.dropped, p.survivor, spec),
      );
    }
    reduceInto(z, spec.bits);
    const plain = new Uint32Array(spec.length);
    for (const v of u3) for (let j = 0; j < plain.length; j++) plain[j] = plain[j]! + inputs.get(v)![i]![j]!;
    reduceInto(plain, spec.bits);
    assert.deepEqual(result.sums[i], plain, `'${spec.name}': the sum is the survivors' plain sum`);
    assert.deepEqual(z, plain, `'${spec.name}': unmasking the masked inputs gives the sum`);
    return { vector: spec.name, sum: words(result.sums[i]!), survivorsPlainSum: words(plain) };
  });

  // ---- the document ----------------------------------------------------------------------------
  const clients: JsonObject[] = params.clients.map((id, i) => {
    const r = rep(id);
    const entry: JsonObject = {
      id,
      rngLabel: r.label,
      rngDraws: r.draws.map((d) => ({
        what: d.what,
        offset: d.offset,
        length: d.bytes.length,
        bytes: hex(d.bytes),
      })),
    };
    if (r.identity) {
      const member = params.cohort?.find((m) => m.id === id);
      assert.ok(member, `client ${id} is in the cohort`);
      assert.deepEqual(member.identityKey, r.identity.signer.publicKey, `client ${id}: cohort key`);
      entry['name'] = member.name;
      entry['identity'] = {
        seed: hex(r.identity.seed),
        publicKey: hex(r.identity.signer.publicKey),
        publicKeyBase64: Buffer.from(r.identity.signer.publicKey).toString('base64'),
      };
    }
    entry['cipherKey'] = { privateKey: hex(r.cipherKey.bytes), publicKey: hex(r.cipherKey.publicKey) };
    entry['maskKey'] = { privateKey: hex(r.maskKey.bytes), publicKey: hex(r.maskKey.publicKey) };
    if (r.identity) {
      const advert = adverts.get(id)!;
      entry['advertise'] = {
        signedMessage: hex(advertiseTranscript(configHash, id, advert.cPk, advert.sPk)),
        signature: hex(advert.signature!),
      };
    }
    entry['input'] = params.vectors.map((spec, k) => ({
      vector: spec.name,
      elements: words(inputs.get(id)![k]!),
    }));
    const sharing = r.sharing;
    if (!sharing) {
      entry['sharing'] = null;
    } else {
      const b = fieldElementToBytes(sharing.selfMaskPolynomial[0]!);
      entry['sharing'] = {
        holders: [...sharing.holders],
        selfMaskSeed: hex(b),
        selfMaskPolynomial: sharing.selfMaskPolynomial.map(fe),
        maskKeyPolynomial: sharing.maskKeyPolynomial.map(fe),
        shares: sharing.holders.map((holder) => ({
          holder,
          selfMaskShare: fe(evaluate(sharing.selfMaskPolynomial, holder)),
          maskKeyShare: fe(evaluate(sharing.maskKeyPolynomial, holder)),
        })),
        bCommitPreimage: hex(concatBytes(ascii('privagg/v1/b-commit'), sessionId, u32(id), b)),
        bCommit: hex(sharesSent.get(id)!.bCommit),
      };
    }
    entry['fate'] =
      id === c.lostAtShare
        ? 'lost on entering the share stage: advertised keys, never shared them (in U1, not U2)'
        : id === c.lostAtMasked
          ? 'lost on entering the masked stage: shared keys, never sent its masked input (in U2, not U3); its mask key is reconstructed'
          : 'survivor: its input is in the sum';
    assert.equal(params.clients[i], id);
    return entry;
  });

  const graphText =
    params.graph.kind === 'harary'
      ? ` on a random Harary graph H(${params.clients.length}, ${params.graph.degree}) (SecAgg+, §2.2)`
      : '';
  const doc: JsonObject = {
    description:
      `privagg/secagg/v1 test vectors, ${params.serverModel} setting: one round of n = ${params.clients.length} ` +
      `clients${graphText} with threshold t = ${t}, two vectors, client ${c.lostAtShare} lost at the share stage and client ` +
      `${c.lostAtMasked} lost at the masked stage. Every value needed to check an implementation step by step, ` +
      'from the clients’ random bytes to the final sum. Generated by scripts/gen-test-vectors.ts; do not edit.',
    spec: 'docs/PROTOCOL.md',
    protocol: 'privagg/secagg/v1',
    setting: params.serverModel,
    conventions: CONVENTIONS,
    fields: graphJson ? { ...FIELDS, ...HARARY_FIELDS } : FIELDS,
    params: {
      round: params.round,
      serverModel: params.serverModel,
      serverModelByte: params.serverModel === 'malicious' ? 1 : 0,
      threshold: t,
      maxCorruptClients: params.maxCorruptClients,
      clients: [...params.clients],
      graph:
        params.graph.kind === 'harary'
          ? {
              kind: 'harary',
              kindByte: 1,
              degree: params.graph.degree,
              minSurvivors: params.graph.minSurvivors,
              securityBits: params.graph.securityBits,
            }
          : { kind: 'complete', kindByte: 0 },
      vectors: params.vectors.map((v) => ({ name: v.name, length: v.length, bits: v.bits })),
      context: hex(params.context),
      ...(params.cohort && {
        cohort: params.cohort.map((m) => ({
          id: m.id,
          name: m.name,
          nameUtf8: hex(new TextEncoder().encode(m.name)),
          identityKey: hex(m.identityKey),
        })),
        cohortBytes: hex(encodeCohort(params.cohort)),
      }),
    },
    configHashPreimage: hex(configHashPreimage),
    configHash: hex(configHash),
    clients,
    sessionIdPreimage: hex(sessionIdPreimage),
    sessionId: hex(sessionId),
    ...(graphJson && { graph: graphJson }),
    pairs,
    shareMessages,
    masks,
    maskedInputs,
    consistency,
    sets: {
      U1: u1,
      U2: u2,
      U3: u3,
      U4: u4,
      U5: u5,
      survivors: u3,
      dropped,
      lost: [...result.dropped].sort(([a], [b]) => a - b).map(([id, stage]) => ({ id, stage })),
    },
    reconstruction: { selfMaskSeeds, maskKeys, removedPairMasks },
    output,
    transcript,
  };
  return doc;
}

/**
 * The Harary graph's derivation (§2.2), each step recomputed here from the spec's formulas and checked
 * against the graph the state machines used.
 */
function hararyJson(params: RoundParams, graph: HararyGraph, sessionId: Uint8Array): JsonObject {
  const n = params.clients.length;
  const seedPreimage = concatBytes(ascii('privagg/v1/graph-seed'), sessionId);
  const seed = sha256(seedPreimage);
  assert.deepEqual(graph.seed, seed, 'graphSeed = SHA256("privagg/v1/graph-seed" ‖ sessionId)');
  const info = concatBytes(ascii('privagg/v1/graph-order'), u32(n));
  const okm = hkdf(seed, new Uint8Array(0), info, 32);
  const firstWords = expandMask({ key: okm.subarray(0, 16), iv: okm.subarray(16, 32) }, n - 1);
  const order = Array.from(hararyOrder(seed, n));
  const ring = order.map((i) => params.clients[i]!);
  assert.deepEqual(graph.ring(), ring, 'ring order');
  return {
    seedPreimage: hex(seedPreimage),
    seed: hex(seed),
    orderHkdfInfo: hex(info),
    orderKey: hex(okm.subarray(0, 16)),
    orderIv: hex(okm.subarray(16, 32)),
    orderFirstWords: words(firstWords),
    order,
    ring,
    neighbours: params.clients.map((id) => ({ id, neighbours: [...graph.neighbours(id)] })),
  };
}

/** Serialises a vector file exactly as it is published: 2-space indentation and a final newline. */
export function serialise(doc: Json): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Where the vector files live. */
export const VECTOR_DIR: string = join(dirname(fileURLToPath(import.meta.url)), '..', 'spec', 'test-vectors');

function main(): void {
  for (const c of VECTOR_CASES) {
    const path = join(VECTOR_DIR, c.file);
    writeFileSync(path, serialise(buildVectorFile(c)));
    console.log(`wrote ${path}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

/** Applies one mask term to `acc`. */
function apply(acc: Uint32Array, term: MaskTerm): void {
  addMask(acc, term.mask, term.sign);
}
