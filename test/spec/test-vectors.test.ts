/**
 * The published test vectors, spec/test-vectors/*.json, against docs/PROTOCOL.md: two rounds on the
 * complete graph (semi-honest, malicious) and one SecAgg+ round on a random Harary graph (§2.2).
 *
 * (a) Regeneration: scripts/gen-test-vectors.ts, run again, reproduces each file byte for byte, so
 *     every wire value (ciphertexts, masked inputs, unmask responses, sums) is what the state machines
 *     produce today.
 * (b) Independent recomputation: a second implementation of every derivation, written from
 *     PROTOCOL.md alone on @noble/curves, @noble/hashes and @noble/ciphers — it imports nothing from
 *     src/ — recomputes each value in the files from the values it is derived from: keys, the
 *     configuration hash (re-encoded here per §2), the session id, shared secrets, share keys, pair
 *     seeds, Shamir shares, share ciphertexts, commitments, PRG keys and masks, masked inputs and
 *     their packing, signatures, reconstructions and the sum. This is the evidence that the spec
 *     suffices to interoperate.
 * (c) Strictness: every value is read through an accessor that throws when it is absent, and a
 *     coverage check proves that every value in the files is read by (b). A vector file with a
 *     missing expected value therefore fails; nothing is ever skipped.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ctr, gcm } from '@noble/ciphers/aes.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import { DP_VECTOR_FILES } from '../../scripts/gen-dp-vectors.ts';
import { ED25519_VECTOR_FILE } from '../../scripts/gen-ed25519-vectors.ts';
import { buildVectorFile, serialise, VECTOR_CASES } from '../../scripts/gen-test-vectors.ts';
import { leafPaths, MalformedVectorValue, MissingVectorValue, VectorNode } from './vector-reader.ts';

const VECTOR_DIR = new URL('../../spec/test-vectors/', import.meta.url);

// ---- strict reading (c) --------------------------------------------------------------------------

/** A node of a secure-aggregation vector file: the shared strict reader plus field elements. */
class Node extends VectorNode {
  /** `fe(x)` (§1): 32 bytes little-endian, value < p. */
  fe(): bigint {
    const value = le(this.bytes(32));
    if (value >= P) throw new MalformedVectorValue(`${this.path} is not below p`);
    return value;
  }
}

/** Prose for human readers, not values: the only leaves the checks need not read. */
const PROSE = [
  /^\$\.conventions\./,
  /^\$\.fields\./,
  /\.rngDraws\[\d+\]\.what$/,
  /^\$\.clients\[\d+\]\.fate$/,
];

// ---- the protocol, from PROTOCOL.md alone (b) -------------------------------------------------------

const P = 2n ** 255n - 19n;
const utf8 = new TextEncoder();
const ascii = (label: string): Uint8Array => utf8.encode(label);
const hex = (b: Uint8Array): string => bytesToHex(b);
const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

/** §1 u32: 4 bytes little-endian. */
function u32(x: number): Uint8Array {
  assert.ok(Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff, `u32 out of range: ${x}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, x, true);
  return out;
}
const u8 = (x: number): Uint8Array => Uint8Array.of(x);
/** §1 str: u32 length prefix and UTF-8 bytes. */
const str = (s: string): Uint8Array => cat(u32(utf8.encode(s).length), utf8.encode(s));
const idList = (ids: readonly number[]): Uint8Array => cat(u32(ids.length), ...ids.map(u32));

function le(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x;
}

/** §1 fe(x). */
function fe(x: bigint): Uint8Array {
  assert.ok(x >= 0n && x < P, 'fe: value must be in [0, p)');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

const mod = (x: bigint): bigint => ((x % P) + P) % P;

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

/** §5: f(x) = a_0 + a_1 x + … mod p. */
function polynomialAt(coefficients: readonly bigint[], x: number): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = mod(acc * BigInt(x) + coefficients[k]!);
  return acc;
}

/** §5: λ_j = Π_{m≠j} m / (m − j) mod p. */
function lagrangeAtZero(ids: readonly number[]): bigint[] {
  return ids.map((j) => {
    let num = 1n;
    let den = 1n;
    for (const m of ids) {
      if (m === j) continue;
      num = mod(num * BigInt(m));
      den = mod(den * BigInt(m - j));
    }
    return mod(num * power(den, P - 2n));
  });
}

/** §3: RFC 7748 clamping. */
function clamp(raw: Uint8Array): Uint8Array {
  const k = raw.slice();
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

const HKDF32 = (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array =>
  hkdf(sha256, ikm, salt, info, 32);

/** §6.1–6.2: the raw keystream words of a mask (before reduction mod 2^bits). */
function maskKeyIv(seed: Uint8Array, sessionId: Uint8Array, label: Uint8Array, spec: VectorSpec) {
  const info = cat(label, str(spec.name), u32(spec.length), u8(spec.bits));
  const okm = HKDF32(seed, sessionId, info);
  const key = okm.slice(0, 16);
  const iv = okm.slice(16, 32);
  const stream = ctr(key, iv).encrypt(new Uint8Array(4 * spec.length));
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const words = Array.from({ length: spec.length }, (_, i) => view.getUint32(4 * i, true));
  return { info, key, iv, words };
}

const selfMaskLabel = (owner: number): Uint8Array => cat(ascii('privagg/v1/self-mask'), u32(owner));
const PAIR_MASK_LABEL = ascii('privagg/v1/pair-mask');
/** §4.3: sign(v, u) = +1 if v < u, −1 if v > u. */
const sign = (v: number, u: number): 1 | -1 => (v < u ? 1 : -1);

/** a + s·b mod 2^bits, elementwise; b may be raw u32 words. */
function addScaled(a: readonly number[], b: readonly number[], s: 1 | -1, bits: number): number[] {
  const m = 2 ** bits;
  return a.map((x, i) => (((x + s * (b[i]! % m)) % m) + m) % m);
}

/** §6.3: little-endian bit stream, element i at bits [i·bits, (i+1)·bits). */
function packBits(values: readonly number[], bits: number): Uint8Array {
  let acc = 0n;
  values.forEach((v, i) => {
    acc |= BigInt(v) << BigInt(i * bits);
  });
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  for (let i = 0; i < out.length; i++) out[i] = Number((acc >> BigInt(8 * i)) & 0xffn);
  return out;
}

const ascending = (ids: readonly number[]): boolean => ids.every((id, i) => i === 0 || ids[i - 1]! < id);
const pairName = (a: number, b: number): string => `${Math.min(a, b)}-${Math.max(a, b)}`;
const sameBytes = (actual: Uint8Array, expected: Uint8Array, what: string): void =>
  assert.equal(hex(actual), hex(expected), what);

// ---- §2.2: the Harary graph, from PROTOCOL.md alone -------------------------------------------------

/** §2.2: π from graphSeed by Fisher–Yates over AES-CTR words, rejecting w ≥ 2^32 − (2^32 mod m). */
function hararyPermutation(
  seed: Uint8Array,
  n: number,
): { order: number[]; key: Uint8Array; iv: Uint8Array } {
  const okm = hkdf(sha256, seed, new Uint8Array(0), cat(ascii('privagg/v1/graph-order'), u32(n)), 32);
  const key = okm.slice(0, 16);
  const iv = okm.slice(16, 32);
  // Generous: a word is rejected with probability below n / 2^32.
  const stream = ctr(key, iv).encrypt(new Uint8Array(4 * (n + 64)));
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let next = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    const m = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % m);
    let w: number;
    do w = view.getUint32(4 * next++, true);
    while (w >= limit);
    const j = w % m;
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return { order, key, iv };
}

/** §2.2: N(u) of H(n, k): the k/2 nearest clients on either side of u on the ring. */
function hararyNeighbours(ring: readonly number[], k: number): Map<number, number[]> {
  const n = ring.length;
  const out = new Map<number, number[]>();
  ring.forEach((id, p) => {
    const found: number[] = [];
    for (let d = 1; d <= k / 2; d++) found.push(ring[(p + d) % n]!, ring[(p - d + n) % n]!);
    out.set(
      id,
      found.sort((a, b) => a - b),
    );
  });
  return out;
}

/** §2.2 event 1: ln[n(n − k − 1)/2 · Π_{i<k} (B − i)/(n − i)], −∞ when k > B or k ≥ n − 1. */
function logDisconnection(n: number, k: number, bad: number): number {
  if (k > bad || k >= n - 1) return -Infinity;
  let sum = Math.log(n) + Math.log(n - k - 1) - Math.LN2;
  for (let i = 0; i < k; i++) sum += Math.log((bad - i) / (n - i));
  return sum;
}

/** §2.2 event 2: ln[n · P[X ≥ t]], X hypergeometric: k draws from n with A corrupt (exact sum). */
function logExposure(n: number, k: number, corrupt: number, t: number): number {
  const logChoose = (a: number, b: number) => {
    if (b < 0 || b > a) return -Infinity;
    let sum = 0;
    for (let i = 1; i <= b; i++) sum += Math.log((a - b + i) / i);
    return sum;
  };
  let p = 0;
  for (let x = t; x <= Math.min(k, corrupt); x++) {
    p += Math.exp(logChoose(corrupt, x) + logChoose(n - corrupt, k - x) - logChoose(n, k));
  }
  return Math.log(n) + Math.log(p);
}

/**
 * N(u) for every selected client (§2, §2.2): the complete graph, or the Harary graph whose ring order
 * comes from SHA256("privagg/v1/graph-seed" ‖ sessionId).
 */
function neighbourhoods(root: Node): Map<number, number[]> {
  const p = readParams(root);
  if (p.graph.kind === 'complete') {
    return new Map(p.clients.map((id) => [id, p.clients.filter((v) => v !== id)]));
  }
  const sessionId = root.get('sessionId').bytes(32);
  const seed = sha256(cat(ascii('privagg/v1/graph-seed'), sessionId));
  const { order } = hararyPermutation(seed, p.clients.length);
  return hararyNeighbours(
    order.map((i) => p.clients[i]!),
    p.graph.degree,
  );
}

/** The stream-label segment of §10.1: the setting, or `harary` for the Harary round. */
function streamName(p: Params): string {
  return p.graph.kind === 'harary' ? 'harary' : p.serverModel;
}

// ---- reading a vector file ------------------------------------------------------------------------

interface VectorSpec {
  readonly name: string;
  readonly length: number;
  readonly bits: number;
}

type Graph =
  | { readonly kind: 'complete' }
  | {
      readonly kind: 'harary';
      readonly degree: number;
      readonly minSurvivors: number;
      readonly securityBits: number;
    };

interface Params {
  readonly round: number;
  readonly serverModel: 'semi-honest' | 'malicious';
  readonly serverModelByte: number;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  readonly clients: readonly number[];
  readonly graphKindByte: number;
  readonly graph: Graph;
  readonly vectors: readonly VectorSpec[];
  readonly context: Uint8Array;
}

function readParams(root: Node): Params {
  const p = root.get('params');
  const serverModel = p.get('serverModel').str();
  assert.ok(
    serverModel === 'semi-honest' || serverModel === 'malicious',
    `unknown serverModel ${serverModel}`,
  );
  const g = p.get('graph');
  const kind = g.get('kind').oneOf('complete', 'harary');
  const graph: Graph =
    kind === 'complete'
      ? { kind }
      : {
          kind,
          degree: g.get('degree').int(),
          minSurvivors: g.get('minSurvivors').int(),
          securityBits: g.get('securityBits').int(),
        };
  return {
    graph,
    round: p.get('round').int(),
    serverModel,
    serverModelByte: p.get('serverModelByte').int(),
    threshold: p.get('threshold').int(),
    maxCorruptClients: p.get('maxCorruptClients').int(),
    clients: p.get('clients').ints(),
    graphKindByte: p.get('graph').get('kindByte').int(),
    vectors: p
      .get('vectors')
      .list()
      .map((v) => ({ name: v.get('name').str(), length: v.get('length').int(), bits: v.get('bits').int() })),
    context: p.get('context').bytes(),
  };
}

interface Sets {
  readonly U1: readonly number[];
  readonly U2: readonly number[];
  readonly U3: readonly number[];
  readonly U4: readonly number[];
  readonly U5: readonly number[];
  readonly dropped: readonly number[];
}

function readSets(root: Node): Sets {
  const s = root.get('sets');
  const sets = {
    U1: s.get('U1').ints(),
    U2: s.get('U2').ints(),
    U3: s.get('U3').ints(),
    U4: s.get('U4').ints(),
    U5: s.get('U5').ints(),
    dropped: s.get('dropped').ints(),
  };
  assert.deepEqual(s.get('survivors').ints(), sets.U3, 'survivors = U3');
  for (const [name, ids] of Object.entries(sets))
    assert.ok(ascending(ids), `${name} must be sorted and unique`);
  return sets;
}

/** The client entries by id, checked to list exactly `params.clients` in order. */
function readClients(root: Node, params: Params): Map<number, Node> {
  const entries = root.get('clients').list();
  const ids = entries.map((c) => c.get('id').int());
  assert.deepEqual(ids, params.clients, 'one client entry per selected client, in id order');
  return new Map(ids.map((id, i) => [id, entries[i]!]));
}

/** Transcript entries of one message type. */
function messages(root: Node, type: string): Node[] {
  return root
    .get('transcript')
    .list()
    .filter((m) => m.get('type').str() === type);
}

/** The one message of `type` from (client → server) or to (server → client) each listed client. */
function messagesByPeer(root: Node, type: string, peerKey: 'from' | 'to', expectedPeers: readonly number[]) {
  const found = messages(root, type);
  const peers = found.map((m) => {
    assert.equal(m.get('direction').str(), peerKey === 'from' ? 'client-to-server' : 'server-to-client');
    return m.get(peerKey).int();
  });
  assert.deepEqual(
    [...peers].sort((a, b) => a - b),
    [...expectedPeers],
    `'${type}' messages ${peerKey} ${expectedPeers}`,
  );
  return new Map(peers.map((id, i) => [id, found[i]!]));
}

/** N(id) ∩ U1. */
function u1Neighbours(root: Node, sets: Sets, id: number): number[] {
  const n = neighbourhoods(root).get(id)!;
  return sets.U1.filter((v) => n.includes(v));
}

/** E_v: the senders of the ShareDelivery to v, checked against U2 ∩ N(v) (§4.2–4.3). */
function senders(root: Node, sets: Sets, v: number): number[] {
  const delivery = messagesByPeer(root, 'share-delivery', 'to', sets.U2).get(v)!;
  const from = delivery
    .get('ciphertexts')
    .list()
    .map((c) => c.get('from').int());
  const n = neighbourhoods(root).get(v)!;
  assert.deepEqual(
    from,
    sets.U2.filter((u) => n.includes(u)),
    `E_${v} = U2 ∩ N(${v}), sorted`,
  );
  return from;
}

/**
 * The cohort's bytes in configHash (§2.3), from its members:
 * `u32(n) ‖ for each by ascending id: u32(id) ‖ u32(|name|) ‖ UTF-8(name) ‖ identityKey`.
 */
function cohortEncoding(root: Node): Uint8Array {
  const members = root.get('params').get('cohort').list();
  return cat(
    u32(members.length),
    ...members.flatMap((m) => {
      const name = utf8.encode(m.get('name').str());
      sameBytes(m.get('nameUtf8').bytes(), name, `${m.path}: nameUtf8 is the name's UTF-8`);
      return [u32(m.get('id').int()), u32(name.length), name, m.get('identityKey').bytes(32)];
    }),
  );
}

interface Keys {
  readonly c: Uint8Array;
  readonly cPk: Uint8Array;
  readonly s: Uint8Array;
  readonly sPk: Uint8Array;
  readonly identitySeed?: Uint8Array;
}

function keysOf(client: Node, malicious: boolean): Keys {
  const keys = {
    c: client.get('cipherKey').get('privateKey').bytes(32),
    cPk: client.get('cipherKey').get('publicKey').bytes(32),
    s: client.get('maskKey').get('privateKey').bytes(32),
    sPk: client.get('maskKey').get('publicKey').bytes(32),
  };
  return malicious ? { ...keys, identitySeed: client.get('identity').get('seed').bytes(32) } : keys;
}

interface Sharing {
  readonly holders: readonly number[];
  readonly b: Uint8Array;
  readonly bPolynomial: readonly bigint[];
  readonly sPolynomial: readonly bigint[];
  /** holder → [share of b, share of s]. */
  readonly shares: ReadonlyMap<number, readonly [bigint, bigint]>;
  readonly bCommit: Uint8Array;
}

function sharingOf(client: Node): Sharing | undefined {
  const node = client.get('sharing');
  if (node.isNull()) return undefined;
  const shares = node.get('shares').list();
  return {
    holders: node.get('holders').ints(),
    b: node.get('selfMaskSeed').bytes(32),
    bPolynomial: node
      .get('selfMaskPolynomial')
      .list()
      .map((a) => a.fe()),
    sPolynomial: node
      .get('maskKeyPolynomial')
      .list()
      .map((a) => a.fe()),
    shares: new Map(
      shares.map((s) => [
        s.get('holder').int(),
        [s.get('selfMaskShare').fe(), s.get('maskKeyShare').fe()] as const,
      ]),
    ),
    bCommit: node.get('bCommit').bytes(32),
  };
}

// ---- the checks (b) ---------------------------------------------------------------------------------

type Check = (root: Node) => void;

const CHECKS: Record<string, Check> = {
  'metadata: spec, protocol and setting'(root) {
    assert.ok(root.get('description').str().length > 20, 'a description');
    assert.equal(root.get('spec').str(), 'docs/PROTOCOL.md');
    assert.equal(root.get('protocol').str(), 'privagg/secagg/v1');
    assert.equal(root.get('setting').str(), readParams(root).serverModel);
  },

  'configHash: re-encoded per §2, and the §7 threshold rule (§2.2 for a Harary graph)'(root) {
    const p = readParams(root);
    const n = p.clients.length;
    assert.equal(p.serverModelByte, p.serverModel === 'malicious' ? 1 : 0);
    assert.equal(p.graphKindByte, p.graph.kind === 'harary' ? 1 : 0);
    assert.ok(ascending(p.clients) && p.clients[0]! >= 1, 'client ids sorted, unique, ≥ 1');
    const names = p.vectors.map((v) => Buffer.from(utf8.encode(v.name)));
    for (let i = 1; i < names.length; i++) {
      assert.ok(Buffer.compare(names[i - 1]!, names[i]!) < 0, 'vectors sorted by name bytes, unique');
    }
    assert.ok(2 <= p.threshold && p.threshold <= n, '§7: 2 ≤ t ≤ n');
    const g = p.graph;
    if (g.kind === 'harary') {
      assert.equal(p.serverModel, 'semi-honest', '§2.2: Harary graphs are semi-honest only');
      assert.ok(g.degree % 2 === 0 && g.degree >= 2 && g.degree <= n - 1, '§2.2: k even in [2, n − 1]');
      assert.ok(p.threshold <= g.degree + 1, '§2.2: t ≤ k + 1');
      assert.ok(g.minSurvivors >= p.threshold && g.minSurvivors <= n, '§2.2: t ≤ minSurvivors ≤ n');
      assert.ok(g.securityBits >= 40, '§2.2: σ ≥ 40');
      const limit = -(g.securityBits + 1) * Math.LN2;
      const bad = p.maxCorruptClients + n - g.minSurvivors;
      assert.ok(logDisconnection(n, g.degree, bad) < limit, '§2.2 event 1: the survivors stay connected');
      assert.ok(
        logExposure(n, g.degree, p.maxCorruptClients, p.threshold) < limit,
        '§2.2 event 2: no t corrupt neighbours',
      );
    } else if (p.serverModel === 'malicious') {
      assert.ok(2 * p.threshold > n + p.maxCorruptClients, '§7: 2t > n + n_C');
    } else {
      assert.ok(p.threshold > p.maxCorruptClients, '§7: t > n_C');
    }
    const graphBytes =
      g.kind === 'harary'
        ? cat(u8(p.graphKindByte), u32(g.degree), u32(g.minSurvivors), u8(g.securityBits))
        : u8(p.graphKindByte);
    const preimage = cat(
      ascii('privagg/v1/config'),
      u32(p.round),
      u8(p.serverModelByte),
      u32(p.threshold),
      u32(p.maxCorruptClients),
      idList(p.clients),
      graphBytes,
      u32(p.vectors.length),
      ...p.vectors.flatMap((v) => [str(v.name), u32(v.length), u8(v.bits)]),
      u32(p.context.length),
      p.context,
      // §2.3: the cohort follows in the malicious setting only.
      ...(p.serverModel === 'malicious' ? [cohortEncoding(root)] : []),
    );
    sameBytes(root.get('configHashPreimage').bytes(), preimage, 'configHash preimage');
    sameBytes(root.get('configHash').bytes(32), sha256(preimage), 'configHash');
  },

  'cohort: ids, names and identity keys, their §2.3 encoding, and each key as a roster holds it'(root) {
    const p = readParams(root);
    const params = root.get('params');
    const clients = readClients(root, p);
    if (p.serverModel !== 'malicious') {
      params.absent('cohort');
      params.absent('cohortBytes');
      for (const client of clients.values()) client.absent('name');
      return;
    }
    sameBytes(params.get('cohortBytes').bytes(), cohortEncoding(root), '§2.3 cohort bytes');
    const members = params.get('cohort').list();
    assert.deepEqual(
      members.map((m) => m.get('id').int()),
      p.clients,
      'one member per client, by ascending id',
    );
    const names = new Set<string>();
    const keys = new Set<string>();
    members.forEach((member, i) => {
      const id = p.clients[i]!;
      const name = member.get('name').str();
      const key = member.get('identityKey').bytes(32);
      names.add(name);
      keys.add(hex(key));
      const client = clients.get(id)!;
      assert.equal(client.get('name').str(), name, `client ${id}: its name is the cohort's`);
      const identity = client.get('identity');
      sameBytes(identity.get('publicKey').bytes(32), key, `client ${id}: its identity key is the cohort's`);
      // The roster form (README "Enrolling clients"): standard base64 with padding, canonical.
      const base64 = identity.get('publicKeyBase64').str();
      assert.match(base64, /^[A-Za-z0-9+/]{43}=$/, `client ${id}: base64 of 32 bytes`);
      sameBytes(
        Uint8Array.from(Buffer.from(base64, 'base64')),
        key,
        `client ${id}: base64 decodes to the key`,
      );
    });
    assert.equal(names.size, members.length, '§2.3: names unique');
    assert.equal(keys.size, members.length, '§2.3: identity keys unique');
  },

  'randomness: each draw from the client stream, in the §10.2 order'(root) {
    const p = readParams(root);
    const malicious = p.serverModel === 'malicious';
    for (const [id, client] of readClients(root, p)) {
      const label = client.get('rngLabel').str();
      assert.equal(label, `privagg/test-vectors/v1/${streamName(p)}/client/${id}`);
      const draws = client.get('rngDraws').list();
      const sharing = sharingOf(client);
      const expected = (malicious ? 1 : 0) + 2 + (sharing ? 1 + 2 * (p.threshold - 1) : 0);
      assert.equal(draws.length, expected, `client ${id}: number of draws`);
      const lengths = draws.map((d) => d.get('length').int());
      const total = lengths.reduce((a, b) => a + b, 0);
      // DeterministicRng (§10.2): AES-128-CTR keyed by SHA-256(label)[0..16], zero IV.
      const stream = ctr(sha256(utf8.encode(label)).slice(0, 16), new Uint8Array(16)).encrypt(
        new Uint8Array(total),
      );
      let offset = 0;
      const bytes = draws.map((d, i) => {
        assert.equal(d.get('offset').int(), offset, `client ${id}: draw ${i} offset`);
        const drawn = d.get('bytes').bytes(lengths[i]);
        sameBytes(drawn, stream.subarray(offset, offset + lengths[i]!), `client ${id}: draw ${i}`);
        offset += lengths[i]!;
        return drawn;
      });
      const keys = keysOf(client, malicious);
      let k = 0;
      if (malicious) sameBytes(keys.identitySeed!, bytes[k++]!, `client ${id}: identity seed is draw 0`);
      assert.equal(lengths[k], 32);
      sameBytes(keys.c, clamp(bytes[k++]!), `client ${id}: c = clamp(next 32 bytes)`);
      assert.equal(lengths[k], 32);
      sameBytes(keys.s, clamp(bytes[k++]!), `client ${id}: s = clamp(next 32 bytes)`);
      if (!sharing) continue;
      const t = p.threshold;
      const field = () => {
        assert.equal(lengths[k], 64);
        return le(bytes[k++]!) % P;
      };
      sameBytes(sharing.b, fe(field()), `client ${id}: b = 64 bytes LE mod p`);
      assert.equal(sharing.bPolynomial.length, t);
      assert.equal(sharing.sPolynomial.length, t);
      for (let j = 1; j < t; j++) assert.equal(sharing.bPolynomial[j], field(), `client ${id}: b's a_${j}`);
      for (let j = 1; j < t; j++) assert.equal(sharing.sPolynomial[j], field(), `client ${id}: s's a_${j}`);
      assert.equal(k, draws.length);
    }
  },

  'keys: public keys from private keys, Ed25519 advertisement signatures'(root) {
    const p = readParams(root);
    const malicious = p.serverModel === 'malicious';
    const configHash = root.get('configHash').bytes(32);
    const adverts = messagesByPeer(root, 'advertise', 'from', p.clients);
    for (const [id, client] of readClients(root, p)) {
      const keys = keysOf(client, malicious);
      for (const [name, priv] of [
        ['c', keys.c],
        ['s', keys.s],
      ] as const) {
        sameBytes(clamp(priv), priv, `client ${id}: ${name} is clamped`);
        const value = le(priv);
        assert.ok(value >= 2n ** 254n && value < P, `client ${id}: ${name} as an integer is in [2^254, p)`);
      }
      sameBytes(x25519.getPublicKey(keys.c), keys.cPk, `client ${id}: cPk = X25519(c, 9)`);
      sameBytes(x25519.getPublicKey(keys.s), keys.sPk, `client ${id}: sPk = X25519(s, 9)`);
      const advert = adverts.get(id)!;
      sameBytes(advert.get('cPk').bytes(32), keys.cPk, `client ${id}: AdvertiseKeys.cPk`);
      sameBytes(advert.get('sPk').bytes(32), keys.sPk, `client ${id}: AdvertiseKeys.sPk`);
      if (!malicious) {
        client.absent('identity');
        client.absent('advertise');
        advert.absent('signature');
        continue;
      }
      const publicKey = client.get('identity').get('publicKey').bytes(32);
      sameBytes(ed25519.getPublicKey(keys.identitySeed!), publicKey, `client ${id}: identity public key`);
      const signed = cat(ascii('privagg/v1/advertise'), configHash, u32(id), keys.cPk, keys.sPk);
      sameBytes(
        client.get('advertise').get('signedMessage').bytes(),
        signed,
        `client ${id}: §4.0 signed message`,
      );
      const signature = client.get('advertise').get('signature').bytes(64);
      sameBytes(ed25519.sign(signed, keys.identitySeed!), signature, `client ${id}: advertisement signature`);
      assert.ok(
        ed25519.verify(signature, signed, publicKey),
        `client ${id}: advertisement signature verifies`,
      );
      sameBytes(advert.get('signature').bytes(64), signature, `client ${id}: AdvertiseKeys.signature`);
    }
  },

  'inputs: drawn from the input stream of §10.1, one vector per spec, elements below 2^bits'(root) {
    const p = readParams(root);
    for (const [id, client] of readClients(root, p)) {
      const input = client.get('input').list();
      assert.equal(input.length, p.vectors.length);
      const label = `privagg/test-vectors/v1/${streamName(p)}/input/${id}`;
      const total = p.vectors.reduce((acc, v) => acc + 4 * v.length, 0);
      const stream = ctr(sha256(utf8.encode(label)).slice(0, 16), new Uint8Array(16)).encrypt(
        new Uint8Array(total),
      );
      const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
      let offset = 0;
      p.vectors.forEach((spec, i) => {
        const drawn = Array.from(
          { length: spec.length },
          (_, j) => view.getUint32(offset + 4 * j, true) % 2 ** spec.bits,
        );
        offset += 4 * spec.length;
        assert.deepEqual(
          input[i]!.get('elements').ints(),
          drawn,
          `client ${id}: '${spec.name}' from its input stream`,
        );
        assert.equal(input[i]!.get('vector').str(), spec.name);
        const elements = input[i]!.get('elements').ints();
        assert.equal(elements.length, spec.length, `client ${id}: '${spec.name}' length`);
        assert.ok(
          elements.every((x) => x >= 0 && x < 2 ** spec.bits),
          `client ${id}: '${spec.name}' range`,
        );
      });
    }
  },

  'sets: U1 ⊇ U2 ⊇ U3 ⊇ U4 ⊇ U5, dropped = U2 \\ U3, and who was lost where'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const subset = (a: readonly number[], b: readonly number[]) => a.every((x) => b.includes(x));
    assert.ok(
      subset(sets.U1, p.clients) && subset(sets.U2, sets.U1) && subset(sets.U3, sets.U2),
      'clients ⊇ U1 ⊇ U2 ⊇ U3',
    );
    assert.ok(subset(sets.U4, sets.U3) && subset(sets.U5, sets.U4), 'U3 ⊇ U4 ⊇ U5');
    if (p.serverModel === 'semi-honest') assert.deepEqual(sets.U4, sets.U3, 'semi-honest: U4 = U3');
    assert.deepEqual(
      sets.dropped,
      sets.U2.filter((u) => !sets.U3.includes(u)),
      'dropped = U2 \\ U3',
    );
    assert.ok(sets.U3.length >= p.threshold && sets.U5.length >= p.threshold, '|U3|, |U5| ≥ t');
    if (p.graph.kind === 'harary') assert.ok(sets.U3.length >= p.graph.minSurvivors, '|U3| ≥ minSurvivors');
    // Who sent each stage's message is exactly that stage's set.
    messagesByPeer(root, 'shares', 'from', sets.U2);
    messagesByPeer(root, 'masked', 'from', sets.U3);
    messagesByPeer(root, 'unmask', 'from', sets.U5);
    const lost = root
      .get('sets')
      .get('lost')
      .list()
      .map((l) => [l.get('id').int(), l.get('stage').str()] as const);
    const expectedLost = [
      ...sets.U1.filter((u) => !sets.U2.includes(u)).map((u) => [u, 'share'] as const),
      ...sets.U2.filter((u) => !sets.U3.includes(u)).map((u) => [u, 'masked'] as const),
    ].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(lost, expectedLost);
    // A server message is processed unless its recipient vanished on entering that message's stage.
    const entered: Record<string, string> = {
      'peer-keys': 'share',
      'share-delivery': 'masked',
      'consistency-request': 'consistency',
      'unmask-request': 'unmask',
    };
    for (const m of root.get('transcript').list()) {
      if (m.get('direction').str() !== 'server-to-client') continue;
      const to = m.get('to').int();
      const stage = entered[m.get('type').str()];
      const vanished = lost.some(([id, at]) => id === to && at === stage);
      assert.equal(
        m.get('processed').bool(),
        !vanished,
        `processed flag of '${m.get('type').str()}' to ${to}`,
      );
    }
  },

  'sessionId: over the PeerKeys list of U1 (§4.0)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const malicious = p.serverModel === 'malicious';
    const clients = readClients(root, p);
    const configHash = root.get('configHash').bytes(32);
    const peerKeys = messagesByPeer(root, 'peer-keys', 'to', sets.U1);
    for (const [to, message] of peerKeys) {
      const peers = message.get('peers').list();
      assert.deepEqual(
        peers.map((e) => e.get('id').int()),
        sets.U1,
        `PeerKeys to ${to} lists U1 sorted`,
      );
      for (const entry of peers) {
        const id = entry.get('id').int();
        const client = clients.get(id)!;
        const keys = keysOf(client, malicious);
        sameBytes(entry.get('cPk').bytes(32), keys.cPk, `PeerKeys to ${to}: ${id}'s cPk`);
        sameBytes(entry.get('sPk').bytes(32), keys.sPk, `PeerKeys to ${to}: ${id}'s sPk`);
        if (malicious) {
          const signature = client.get('advertise').get('signature').bytes(64);
          sameBytes(entry.get('signature').bytes(64), signature, `PeerKeys to ${to}: ${id}'s signature`);
        } else {
          entry.absent('signature');
        }
      }
    }
    const preimage = cat(
      ascii('privagg/v1/session'),
      configHash,
      u32(sets.U1.length),
      ...sets.U1.flatMap((id) => {
        const keys = keysOf(clients.get(id)!, malicious);
        return [u32(id), keys.cPk, keys.sPk];
      }),
    );
    sameBytes(root.get('sessionIdPreimage').bytes(), preimage, 'sessionId preimage');
    sameBytes(root.get('sessionId').bytes(32), sha256(preimage), 'sessionId');
  },

  'graph: the Harary ring order and neighbourhoods from the session id (§2.2)'(root) {
    const p = readParams(root);
    if (p.graph.kind === 'complete') {
      root.absent('graph');
      return;
    }
    const n = p.clients.length;
    const g = root.get('graph');
    const sessionId = root.get('sessionId').bytes(32);
    const preimage = cat(ascii('privagg/v1/graph-seed'), sessionId);
    sameBytes(g.get('seedPreimage').bytes(), preimage, 'graphSeed preimage');
    const seed = sha256(preimage);
    sameBytes(g.get('seed').bytes(32), seed, 'graphSeed');
    sameBytes(
      g.get('orderHkdfInfo').bytes(),
      cat(ascii('privagg/v1/graph-order'), u32(n)),
      'order HKDF info',
    );
    const { order, key, iv } = hararyPermutation(seed, n);
    sameBytes(g.get('orderKey').bytes(16), key, 'order key');
    sameBytes(g.get('orderIv').bytes(16), iv, 'order iv');
    const stream = ctr(key, iv).encrypt(new Uint8Array(4 * (n - 1)));
    const view = new DataView(stream.buffer);
    assert.deepEqual(
      g.get('orderFirstWords').ints(),
      Array.from({ length: n - 1 }, (_, i) => view.getUint32(4 * i, true)),
      'the first n − 1 AES-CTR words of the order',
    );
    assert.deepEqual(g.get('order').ints(), order, 'π');
    const ring = order.map((i) => p.clients[i]!);
    assert.deepEqual(g.get('ring').ints(), ring, 'the clients in ring order');
    const expected = hararyNeighbours(ring, p.graph.degree);
    const listed = g.get('neighbours').list();
    assert.deepEqual(
      listed.map((e) => e.get('id').int()),
      p.clients,
    );
    for (const entry of listed) {
      const id = entry.get('id').int();
      const nb = entry.get('neighbours').ints();
      assert.deepEqual(nb, expected.get(id), `N(${id})`);
      assert.equal(nb.length, p.graph.degree, `|N(${id})| = k`);
    }
  },

  'pairs: X25519 shared secrets, shareKey and pairSeed (§4.1)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const pairs = root.get('pairs').list();
    const nb = neighbourhoods(root);
    const expected = sets.U1.flatMap((lo) =>
      sets.U1.filter((hi) => lo < hi && nb.get(lo)!.includes(hi)).map((hi) => [lo, hi] as const),
    );
    assert.deepEqual(
      pairs.map((e) => [e.get('lo').int(), e.get('hi').int()]),
      expected,
      'every neighbour pair of U1, once, in order',
    );
    for (const entry of pairs) {
      const lo = entry.get('lo').int();
      const hi = entry.get('hi').int();
      const a = keysOf(clients.get(lo)!, p.serverModel === 'malicious');
      const b = keysOf(clients.get(hi)!, p.serverModel === 'malicious');
      const cipher = x25519.getSharedSecret(a.c, b.cPk);
      const mask = x25519.getSharedSecret(a.s, b.sPk);
      sameBytes(x25519.getSharedSecret(b.c, a.cPk), cipher, `${lo}-${hi}: cipher secret is symmetric`);
      sameBytes(x25519.getSharedSecret(b.s, a.sPk), mask, `${lo}-${hi}: mask secret is symmetric`);
      sameBytes(entry.get('cipherSharedSecret').bytes(32), cipher, `${lo}-${hi}: X25519(c_lo, cPk_hi)`);
      sameBytes(entry.get('maskSharedSecret').bytes(32), mask, `${lo}-${hi}: X25519(s_lo, sPk_hi)`);
      const shareKeyInfo = cat(ascii('privagg/v1/share-key'), u32(lo), u32(hi));
      const pairSeedInfo = cat(ascii('privagg/v1/pair-seed'), u32(lo), u32(hi));
      sameBytes(entry.get('shareKeyInfo').bytes(), shareKeyInfo, `${lo}-${hi}: share-key info`);
      sameBytes(entry.get('pairSeedInfo').bytes(), pairSeedInfo, `${lo}-${hi}: pair-seed info`);
      sameBytes(
        entry.get('shareKey').bytes(32),
        HKDF32(cipher, sessionId, shareKeyInfo),
        `${lo}-${hi}: shareKey`,
      );
      sameBytes(
        entry.get('pairSeed').bytes(32),
        HKDF32(mask, sessionId, pairSeedInfo),
        `${lo}-${hi}: pairSeed`,
      );
    }
  },

  'Shamir: shares from the coefficients, and bCommit (§4.2, §5)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const sessionId = root.get('sessionId').bytes(32);
    const sent = messagesByPeer(root, 'shares', 'from', sets.U2);
    for (const [id, client] of readClients(root, p)) {
      const sharing = sharingOf(client);
      assert.equal(
        sharing !== undefined,
        sets.U2.includes(id),
        `client ${id}: sharing is null iff not in U2`,
      );
      if (!sharing) continue;
      assert.deepEqual(
        sharing.holders,
        [id, ...u1Neighbours(root, sets, id)].sort((a, b) => a - b),
        `client ${id}: holders`,
      );
      sameBytes(fe(sharing.bPolynomial[0]!), sharing.b, `client ${id}: b's a_0 is b`);
      sameBytes(
        fe(sharing.sPolynomial[0]!),
        keysOf(client, p.serverModel === 'malicious').s,
        `client ${id}: s's a_0 is s`,
      );
      assert.deepEqual([...sharing.shares.keys()], sharing.holders, `client ${id}: one share per holder`);
      for (const holder of sharing.holders) {
        const [bShare, sShare]: readonly [bigint, bigint] = sharing.shares.get(holder)!;
        assert.equal(
          bShare,
          polynomialAt(sharing.bPolynomial, holder),
          `client ${id}: b's share at ${holder}`,
        );
        assert.equal(
          sShare,
          polynomialAt(sharing.sPolynomial, holder),
          `client ${id}: s's share at ${holder}`,
        );
      }
      const preimage = cat(ascii('privagg/v1/b-commit'), sessionId, u32(id), sharing.b);
      sameBytes(
        client.get('sharing').get('bCommitPreimage').bytes(),
        preimage,
        `client ${id}: bCommit preimage`,
      );
      sameBytes(sharing.bCommit, sha256(preimage), `client ${id}: bCommit`);
      sameBytes(
        sent.get(id)!.get('bCommit').bytes(32),
        sharing.bCommit,
        `client ${id}: EncryptedShares.bCommit`,
      );
    }
  },

  'share messages: plaintext, nonce, aad and AES-256-GCM ciphertext (§4.2)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const shareKeys = new Map(
      root
        .get('pairs')
        .list()
        .map((e) => [pairName(e.get('lo').int(), e.get('hi').int()), e.get('shareKey').bytes(32)]),
    );
    const entries = root.get('shareMessages').list();
    const expected = sets.U2.flatMap((from) =>
      u1Neighbours(root, sets, from).map((to) => [from, to] as const),
    );
    assert.deepEqual(
      entries.map((e) => [e.get('from').int(), e.get('to').int()]),
      expected,
      'one share message per U2 sender and U1 neighbour, in order',
    );
    const ciphertexts = new Map<string, Uint8Array>();
    for (const entry of entries) {
      const from = entry.get('from').int();
      const to = entry.get('to').int();
      const [bShare, sShare] = sharingOf(clients.get(from)!)!.shares.get(to)!;
      const plaintext = cat(u32(from), u32(to), fe(bShare), fe(sShare));
      const nonce = cat(u32(from), u32(to), u32(0));
      const aad = cat(ascii('privagg/v1/share'), sessionId, u32(from), u32(to));
      sameBytes(entry.get('plaintext').bytes(72), plaintext, `${from} → ${to}: plaintext`);
      sameBytes(entry.get('nonce').bytes(12), nonce, `${from} → ${to}: nonce`);
      sameBytes(entry.get('aad').bytes(), aad, `${from} → ${to}: aad`);
      const key = shareKeys.get(pairName(from, to))!;
      const ciphertext = entry.get('ciphertext').bytes(88);
      sameBytes(gcm(key, nonce, aad).encrypt(plaintext), ciphertext, `${from} → ${to}: ciphertext`);
      sameBytes(gcm(key, nonce, aad).decrypt(ciphertext), plaintext, `${from} → ${to}: decrypts`);
      ciphertexts.set(`${from}>${to}`, ciphertext);
    }
    // On the wire: EncryptedShares from each sender, ShareDelivery to each recipient.
    for (const [from, message] of messagesByPeer(root, 'shares', 'from', sets.U2)) {
      const list = message.get('ciphertexts').list();
      assert.deepEqual(
        list.map((c) => c.get('to').int()),
        u1Neighbours(root, sets, from),
        `EncryptedShares from ${from}: sorted by to`,
      );
      for (const c of list) {
        const to = c.get('to').int();
        sameBytes(
          c.get('ciphertext').bytes(88),
          ciphertexts.get(`${from}>${to}`)!,
          `EncryptedShares ${from} → ${to}`,
        );
      }
    }
    for (const [to, message] of messagesByPeer(root, 'share-delivery', 'to', sets.U2)) {
      for (const c of message.get('ciphertexts').list()) {
        const from = c.get('from').int();
        sameBytes(
          c.get('ciphertext').bytes(88),
          ciphertexts.get(`${from}>${to}`)!,
          `ShareDelivery ${from} → ${to}`,
        );
      }
      senders(root, sets, to);
    }
  },

  'masks: PRG key and iv, first and last keystream words (§6.1–6.2)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const pairSeeds = new Map(
      root
        .get('pairs')
        .list()
        .map((e) => [pairName(e.get('lo').int(), e.get('hi').int()), e.get('pairSeed').bytes(32)]),
    );
    const entries = root.get('masks').list();
    const nb = neighbourhoods(root);
    const expected = [
      ...sets.U3.flatMap((owner) => p.vectors.map((v) => `self ${owner} ${v.name}`)),
      ...sets.U2.flatMap((lo) =>
        sets.U2.filter((hi) => lo < hi && nb.get(lo)!.includes(hi)).flatMap((hi) =>
          p.vectors.map((v) => `pair ${lo}-${hi} ${v.name}`),
        ),
      ),
    ];
    const describeEntry = (e: Node) =>
      e.get('seedKind').oneOf('self', 'pair') === 'self'
        ? `self ${e.get('owner').int()} ${e.get('vector').str()}`
        : `pair ${e.get('lo').int()}-${e.get('hi').int()} ${e.get('vector').str()}`;
    assert.deepEqual(
      entries.map(describeEntry),
      expected,
      'a mask per U3 self-mask seed and U2 pair, per vector',
    );
    for (const entry of entries) {
      const what = describeEntry(entry);
      const spec = p.vectors.find((v) => v.name === entry.get('vector').str())!;
      const self = entry.get('seedKind').oneOf('self', 'pair') === 'self';
      const seed = self
        ? sharingOf(clients.get(entry.get('owner').int())!)!.b
        : pairSeeds.get(pairName(entry.get('lo').int(), entry.get('hi').int()))!;
      sameBytes(entry.get('seed').bytes(32), seed, `${what}: seed`);
      const label = self ? selfMaskLabel(entry.get('owner').int()) : PAIR_MASK_LABEL;
      const mask = maskKeyIv(seed, sessionId, label, spec);
      sameBytes(entry.get('hkdfInfo').bytes(), mask.info, `${what}: HKDF info`);
      sameBytes(entry.get('key').bytes(16), mask.key, `${what}: key`);
      sameBytes(entry.get('iv').bytes(16), mask.iv, `${what}: iv`);
      assert.deepEqual(entry.get('firstWords').ints(), mask.words.slice(0, 4), `${what}: first words`);
      assert.deepEqual(entry.get('lastWords').ints(), mask.words.slice(-4), `${what}: last words`);
    }
  },

  'masked inputs: y = x + selfMask + Σ sign·pairMask, and their bit packing (§4.3, §6.3)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const pairSeeds = new Map(
      root
        .get('pairs')
        .list()
        .map((e) => [pairName(e.get('lo').int(), e.get('hi').int()), e.get('pairSeed').bytes(32)]),
    );
    const wire = messagesByPeer(root, 'masked', 'from', sets.U3);
    const entries = root.get('maskedInputs').list();
    assert.deepEqual(
      entries.map((e) => e.get('client').int()),
      sets.U3,
      'one masked input per client of U3',
    );
    for (const entry of entries) {
      const v = entry.get('client').int();
      const e = senders(root, sets, v);
      assert.deepEqual(entry.get('maskedWith').ints(), e, `client ${v}: masked with E_v`);
      const b = sharingOf(clients.get(v)!)!.b;
      const input = clients.get(v)!.get('input').list();
      const vectors = entry.get('vectors').list();
      const wireVectors = wire.get(v)!.get('vectors').list();
      assert.equal(vectors.length, p.vectors.length);
      assert.equal(wireVectors.length, p.vectors.length);
      p.vectors.forEach((spec, i) => {
        const what = `client ${v} '${spec.name}'`;
        const vec = vectors[i]!;
        assert.equal(vec.get('vector').str(), spec.name);
        assert.equal(wireVectors[i]!.get('vector').str(), spec.name);
        const x = vec.get('input').ints();
        assert.deepEqual(x, input[i]!.get('elements').ints(), `${what}: input`);
        const terms = vec.get('terms').list();
        const expectedTerms = [
          { mask: 'self', owner: v, sign: 1 },
          ...e.map((u) => ({ mask: 'pair', lo: Math.min(u, v), hi: Math.max(u, v), sign: sign(v, u) })),
        ];
        assert.deepEqual(
          terms.map((t) =>
            t.get('mask').oneOf('self', 'pair') === 'self'
              ? { mask: 'self', owner: t.get('owner').int(), sign: t.get('sign').int() }
              : { mask: 'pair', lo: t.get('lo').int(), hi: t.get('hi').int(), sign: t.get('sign').int() },
          ),
          expectedTerms,
          `${what}: mask terms and signs`,
        );
        let y = addScaled(x, maskKeyIv(b, sessionId, selfMaskLabel(v), spec).words, 1, spec.bits);
        for (const u of e) {
          const words = maskKeyIv(pairSeeds.get(pairName(u, v))!, sessionId, PAIR_MASK_LABEL, spec).words;
          y = addScaled(y, words, sign(v, u), spec.bits);
        }
        assert.deepEqual(vec.get('masked').ints(), y, `${what}: y`);
        assert.deepEqual(wireVectors[i]!.get('elements').ints(), y, `${what}: MaskedInput elements`);
        const packed = packBits(y, spec.bits);
        assert.equal(packed.length, Math.ceil((spec.length * spec.bits) / 8));
        sameBytes(vec.get('packed').bytes(), packed, `${what}: packed`);
        sameBytes(wireVectors[i]!.get('packed').bytes(), packed, `${what}: MaskedInput packed`);
      });
    }
  },

  'consistency check: signed survivor list and signatures (§4.4)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const consistency = root.get('consistency');
    if (p.serverModel === 'semi-honest') {
      assert.ok(consistency.isNull(), 'semi-honest: no consistency check');
      assert.equal(messages(root, 'consistency-request').length, 0);
      assert.equal(messages(root, 'consistency').length, 0);
      for (const m of messages(root, 'unmask-request')) m.absent('signatures');
      return;
    }
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    for (const [to, m] of messagesByPeer(root, 'consistency-request', 'to', sets.U3)) {
      assert.deepEqual(m.get('survivors').ints(), sets.U3, `ConsistencyRequest to ${to}`);
    }
    const signed = cat(ascii('privagg/v1/consistency'), sessionId, idList(sets.U3));
    sameBytes(consistency.get('signedMessage').bytes(), signed, 'consistency signed message');
    const signatures = consistency.get('signatures').list();
    assert.deepEqual(
      signatures.map((s) => s.get('id').int()),
      sets.U4,
      'one signature per client of U4',
    );
    const wire = messagesByPeer(root, 'consistency', 'from', sets.U4);
    for (const s of signatures) {
      const id = s.get('id').int();
      const client = clients.get(id)!;
      const signature = s.get('signature').bytes(64);
      sameBytes(
        ed25519.sign(signed, keysOf(client, true).identitySeed!),
        signature,
        `client ${id}: signature`,
      );
      assert.ok(
        ed25519.verify(signature, signed, client.get('identity').get('publicKey').bytes(32)),
        `client ${id}: consistency signature verifies`,
      );
      sameBytes(wire.get(id)!.get('signature').bytes(64), signature, `client ${id}: ConsistencySignature`);
    }
    for (const m of messages(root, 'unmask-request')) {
      const forwarded = m.get('signatures').list();
      assert.deepEqual(
        forwarded.map((s) => s.get('id').int()),
        sets.U4.slice(0, p.threshold),
        '§4.4: the signatures of the t lowest ids of U4',
      );
      for (const [i, s] of forwarded.entries()) {
        sameBytes(
          s.get('signature').bytes(64),
          signatures[i]!.get('signature').bytes(64),
          'forwarded signature',
        );
      }
    }
  },

  'unmask: requests and every response share (§4.5)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    for (const [to, m] of messagesByPeer(root, 'unmask-request', 'to', sets.U4)) {
      assert.deepEqual(m.get('survivors').ints(), sets.U3, `UnmaskRequest to ${to}: survivors = U3`);
      assert.deepEqual(m.get('dropped').ints(), sets.dropped, `UnmaskRequest to ${to}: dropped`);
    }
    for (const [v, m] of messagesByPeer(root, 'unmask', 'from', sets.U5)) {
      const e = senders(root, sets, v);
      const selfShares = m.get('selfMaskShares').list(0);
      const keyShares = m.get('keyShares').list(0);
      const selfOf = [v, ...e].filter((u) => sets.U3.includes(u)).sort((a, b) => a - b);
      const keyOf = e.filter((u) => sets.dropped.includes(u));
      assert.deepEqual(
        selfShares.map((s) => s.get('of').int()),
        selfOf,
        `UnmaskResponse from ${v}: self-mask shares of ({v} ∪ E_v) ∩ U3`,
      );
      assert.deepEqual(
        keyShares.map((s) => s.get('of').int()),
        keyOf,
        `UnmaskResponse from ${v}: key shares of E_v ∩ dropped`,
      );
      for (const s of selfShares) {
        const of = s.get('of').int();
        assert.equal(
          s.get('share').fe(),
          sharingOf(clients.get(of)!)!.shares.get(v)![0],
          `${v}'s share of b_${of}`,
        );
      }
      for (const s of keyShares) {
        const of = s.get('of').int();
        assert.equal(
          s.get('share').fe(),
          sharingOf(clients.get(of)!)!.shares.get(v)![1],
          `${v}'s share of s_${of}`,
        );
      }
    }
  },

  'reconstruction: Lagrange at 0 from the lowest t holders (§4.6, §5)'(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const responses = messagesByPeer(root, 'unmask', 'from', sets.U5);
    const sharesOf = (of: number, kind: 'selfMaskShares' | 'keyShares') =>
      sets.U5.flatMap((holder) =>
        responses
          .get(holder)!
          .get(kind)
          .list(0)
          .filter((s) => s.get('of').int() === of)
          .map((s) => ({ holder, value: s.get('share').fe() })),
      );
    const rebuild = (entry: Node, kind: 'selfMaskShares' | 'keyShares') => {
      const of = entry.get('of').int();
      const used = sharesOf(of, kind).slice(0, p.threshold);
      assert.equal(used.length, p.threshold, `${kind} of ${of}: t shares arrived`);
      const ids = used.map((s) => s.holder);
      assert.deepEqual(entry.get('holders').ints(), ids, `${kind} of ${of}: the lowest t holders`);
      const lambda = lagrangeAtZero(ids);
      assert.deepEqual(
        entry
          .get('lagrangeCoefficients')
          .list()
          .map((c) => c.fe()),
        lambda,
        `${kind} of ${of}: Lagrange coefficients`,
      );
      return { of, secret: mod(used.reduce((acc, s, i) => acc + lambda[i]! * s.value, 0n)) };
    };
    const r = root.get('reconstruction');
    const seeds = r.get('selfMaskSeeds').list();
    assert.deepEqual(
      seeds.map((s) => s.get('of').int()),
      sets.U3,
    );
    for (const entry of seeds) {
      const { of, secret } = rebuild(entry, 'selfMaskShares');
      const sharing = sharingOf(clients.get(of)!)!;
      sameBytes(entry.get('seed').bytes(32), fe(secret), `b_${of} reconstructed`);
      sameBytes(fe(secret), sharing.b, `b_${of} is the seed the client drew`);
      const commitment = sha256(cat(ascii('privagg/v1/b-commit'), sessionId, u32(of), fe(secret)));
      sameBytes(entry.get('bCommit').bytes(32), commitment, `b_${of} matches its commitment`);
      sameBytes(commitment, sharing.bCommit, `b_${of}: the commitment sent at stage 1`);
    }
    const keys = r.get('maskKeys').list(0);
    assert.deepEqual(
      keys.map((k) => k.get('of').int()),
      sets.dropped,
    );
    for (const entry of keys) {
      const { of, secret } = rebuild(entry, 'keyShares');
      const privateKey = fe(secret);
      const own = keysOf(clients.get(of)!, p.serverModel === 'malicious');
      sameBytes(entry.get('privateKey').bytes(32), privateKey, `s_${of} reconstructed`);
      sameBytes(clamp(privateKey), privateKey, `s_${of} is a clamped key`);
      sameBytes(privateKey, own.s, `s_${of} is the client's mask key`);
      sameBytes(entry.get('publicKey').bytes(32), x25519.getPublicKey(privateKey), `X25519(s_${of}, 9)`);
      sameBytes(x25519.getPublicKey(privateKey), own.sPk, `s_${of} matches the advertised sPk`);
    }
    const removed = r.get('removedPairMasks').list(0);
    const nb = neighbourhoods(root);
    const expected = sets.dropped.flatMap((u) =>
      sets.U3.filter((v) => nb.get(u)!.includes(v)).map((v) => ({
        dropped: u,
        survivor: v,
        lo: Math.min(u, v),
        hi: Math.max(u, v),
        sign: sign(u, v),
      })),
    );
    assert.deepEqual(
      removed.map((x) => ({
        dropped: x.get('dropped').int(),
        survivor: x.get('survivor').int(),
        lo: x.get('lo').int(),
        hi: x.get('hi').int(),
        sign: x.get('sign').int(),
      })),
      expected,
      'the server adds sign(u, v)·pairMask for each dropped u and survivor neighbour v',
    );
  },

  "output: the sum unmasked from the wire equals the survivors' plain sum (§4.6)"(root) {
    const p = readParams(root);
    const sets = readSets(root);
    const clients = readClients(root, p);
    const sessionId = root.get('sessionId').bytes(32);
    const wire = messagesByPeer(root, 'masked', 'from', sets.U3);
    const r = root.get('reconstruction');
    const seeds = new Map(
      r
        .get('selfMaskSeeds')
        .list()
        .map((s) => [s.get('of').int(), s.get('seed').bytes(32)]),
    );
    const droppedKeys = new Map(
      r
        .get('maskKeys')
        .list(0)
        .map((k) => [k.get('of').int(), k.get('privateKey').bytes(32)]),
    );
    const output = root.get('output').list();
    assert.equal(output.length, p.vectors.length);
    p.vectors.forEach((spec, i) => {
      assert.equal(output[i]!.get('vector').str(), spec.name);
      let z: number[] = new Array(spec.length).fill(0);
      for (const v of sets.U3) {
        z = addScaled(z, wire.get(v)!.get('vectors').list()[i]!.get('elements').ints(), 1, spec.bits);
        z = addScaled(z, maskKeyIv(seeds.get(v)!, sessionId, selfMaskLabel(v), spec).words, -1, spec.bits);
      }
      // The server holds s_u of each dropped u and recomputes pairSeed_uv from the public sPk_v.
      const nb = neighbourhoods(root);
      for (const [u, s] of droppedKeys) {
        for (const v of sets.U3.filter((w) => nb.get(u)!.includes(w))) {
          const info = cat(ascii('privagg/v1/pair-seed'), u32(Math.min(u, v)), u32(Math.max(u, v)));
          const sPk = keysOf(clients.get(v)!, p.serverModel === 'malicious').sPk;
          const seed = HKDF32(x25519.getSharedSecret(s, sPk), sessionId, info);
          z = addScaled(z, maskKeyIv(seed, sessionId, PAIR_MASK_LABEL, spec).words, sign(u, v), spec.bits);
        }
      }
      let plain: number[] = new Array(spec.length).fill(0);
      for (const v of sets.U3) {
        plain = addScaled(
          plain,
          clients.get(v)!.get('input').list()[i]!.get('elements').ints(),
          1,
          spec.bits,
        );
      }
      assert.deepEqual(z, plain, `'${spec.name}': unmasking gives the survivors' plain sum`);
      assert.deepEqual(output[i]!.get('sum').ints(), z, `'${spec.name}': sum`);
      assert.deepEqual(
        output[i]!.get('survivorsPlainSum').ints(),
        plain,
        `'${spec.name}': survivors' plain sum`,
      );
    });
  },
};

function runAllChecks(root: Node): void {
  for (const check of Object.values(CHECKS)) check(root);
}

// ---- the tests -----------------------------------------------------------------------------------

function load(file: string): { text: string; json: unknown } {
  const text = readFileSync(new URL(file, VECTOR_DIR), 'utf8');
  return { text, json: JSON.parse(text) };
}

describe('spec/test-vectors', () => {
  it('holds exactly the files the generators write', () => {
    const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json'));
    // This file's rounds, and the differential-privacy vectors that test/spec/dp-vectors.test.ts checks.
    assert.deepEqual(
      files.sort(),
      [...VECTOR_CASES.map((c) => c.file), ...DP_VECTOR_FILES, ED25519_VECTOR_FILE].sort(),
    );
  });

  for (const vectorCase of VECTOR_CASES) {
    const { file } = vectorCase;
    const published = load(file);

    describe(`${file}: (a) regenerated by scripts/gen-test-vectors.ts`, () => {
      const regenerated = buildVectorFile(vectorCase);
      const fresh = JSON.parse(serialise(regenerated)) as Record<string, unknown>;
      const old = published.json as Record<string, unknown>;
      it('reproduces every wire message (keys, ciphertexts, masked inputs, signatures, unmask responses)', () => {
        assert.deepEqual(fresh['transcript'], old['transcript']);
      });
      it('reproduces the share ciphertexts, masked inputs, reconstructions and sums', () => {
        for (const key of ['shareMessages', 'maskedInputs', 'reconstruction', 'output'] as const) {
          assert.deepEqual(fresh[key], old[key], key);
        }
      });
      it('reproduces the file byte for byte', () => {
        assert.equal(serialise(regenerated), published.text);
      });
    });

    describe(`${file}: (b) recomputed independently from PROTOCOL.md with @noble/*`, () => {
      for (const [name, check] of Object.entries(CHECKS)) {
        it(name, () => check(new Node(published.json, '$', new Set())));
      }
    });

    describe(`${file}: (c) a missing expected value throws`, () => {
      it('every value in the file is read by a check (so none can go missing unnoticed)', () => {
        const reads = new Set<string>();
        runAllChecks(new Node(published.json, '$', reads));
        const unread = leafPaths(published.json, '$').filter(
          (path) => !reads.has(path) && !PROSE.some((re) => re.test(path)),
        );
        assert.deepEqual(unread, [], 'values no check reads');
      });

      const without = (path: (string | number)[]): unknown => {
        const copy = structuredClone(published.json) as Record<string | number, unknown>;
        let at: Record<string | number, unknown> = copy;
        for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
        delete at[path.at(-1)!];
        return copy;
      };
      const json = published.json as {
        shareMessages: unknown[];
        masks: unknown[];
        transcript: { type: string }[];
        clients: { sharing: unknown }[];
      };
      const maskedAt = json.transcript.findIndex((m) => m.type === 'masked');
      const unmaskAt = json.transcript.findIndex((m) => m.type === 'unmask');
      const nullSharing = json.clients.findIndex((c) => c.sharing === null);
      const harary = (published.json as { graph?: unknown }).graph !== undefined;
      const removals: (string | number)[][] = [
        ...(harary
          ? [
              ['graph', 'ring'],
              ['params', 'graph', 'minSurvivors'],
            ]
          : []),
        ['configHash'],
        ...(json.clients[0] && 'name' in (json.clients[0] as object)
          ? [
              ['params', 'cohort', 1, 'identityKey'],
              ['clients', 0, 'identity', 'publicKeyBase64'],
            ]
          : []),
        ['sessionId'],
        ['clients', 0, 'cipherKey', 'privateKey'],
        ['clients', nullSharing, 'sharing'],
        ['clients', 0, 'sharing', 'maskKeyPolynomial'],
        ['pairs', 0, 'pairSeed'],
        ['shareMessages', json.shareMessages.length - 1, 'ciphertext'],
        ['masks', json.masks.length - 1, 'lastWords'],
        ['maskedInputs', 0, 'vectors', 1, 'packed'],
        ['transcript', maskedAt, 'vectors', 0, 'elements'],
        ['transcript', unmaskAt, 'keyShares'],
        ['reconstruction', 'maskKeys', 0, 'privateKey'],
        ['output', 1, 'sum'],
        ['output'],
      ];
      for (const path of removals) {
        it(`without ${path.join('.')}: throws MissingVectorValue`, () => {
          const root = new Node(without(path), '$', new Set());
          assert.throws(() => runAllChecks(root), MissingVectorValue);
        });
      }

      it('an empty list where entries are expected throws, rather than checking nothing', () => {
        const copy = structuredClone(published.json) as { shareMessages: unknown[] };
        copy.shareMessages = [];
        assert.throws(
          () =>
            CHECKS['share messages: plaintext, nonce, aad and AES-256-GCM ciphertext (§4.2)']!(
              new Node(copy, '$', new Set()),
            ),
          MissingVectorValue,
        );
      });

      it('a wrong value fails the check that recomputes it', () => {
        const copy = structuredClone(published.json) as { shareMessages: { ciphertext: string }[] };
        const ct = copy.shareMessages[0]!.ciphertext;
        copy.shareMessages[0]!.ciphertext = (ct[0] === '0' ? '1' : '0') + ct.slice(1);
        assert.throws(
          () =>
            CHECKS['share messages: plaintext, nonce, aad and AES-256-GCM ciphertext (§4.2)']!(
              new Node(copy, '$', new Set()),
            ),
          assert.AssertionError,
        );
      });
    });
  }
});
