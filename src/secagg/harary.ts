/**
 * The random Harary graph of SecAgg+ (Bell et al., CCS 2020, §3; fcp's `SecretSharingHararyGraph`):
 * the round's `n` clients are placed on a ring in a pseudorandom order, and each is the neighbour of
 * the `k/2` nearest clients on either side, so every client has exactly `k` neighbours. The analysis
 * of `graph-params.ts` needs the order to be uniformly random and independent of which clients are
 * corrupt or drop out.
 *
 * Where the seed comes from (PROTOCOL.md §2.2): `graphSeed = SHA256("privagg/v1/graph-seed" ‖
 * sessionId)`. The session id hashes the configuration and every advertised key of U1, so the graph
 * is fixed only after the advertise stage, by the honest clients' fresh keys as much as anyone's: the
 * coordinator cannot pick it in advance, and clients that collude with it cannot place themselves
 * around a target, since they must advertise before seeing the others' keys. (A coordinator that
 * deviates from the protocol could still try many U1 subsets and colluding keys within the stage;
 * that is why the Harary graph is offered in the semi-honest setting only.) Every client computes
 * the graph by itself from the keys it received.
 *
 * Seed to order (PROTOCOL.md §2.2):
 * ```
 * okm = HKDF(seed, salt = "", info = "privagg/v1/graph-order" ‖ u32(n), 32);  key = okm[0..16], iv = okm[16..32]
 * w_0, w_1, … = AESCTR(key, iv) read as little-endian u32 words                (the expansion of §6.2)
 * π = (0, 1, …, n − 1); for i = n − 1 down to 1: j = uniform(i + 1); swap π[i], π[j]
 * uniform(m): take the next word w; if w < 2^32 − (2^32 mod m) return w mod m, else discard it and repeat
 * ```
 * Ring position `p` holds the client with the `π[p]`-th smallest id (0-based). The rejection step
 * makes every `j` exactly uniform, so π is a uniformly random permutation (Fisher–Yates), up to the
 * pseudorandomness of AES.
 * @module
 */

import { hkdf, sha256 } from './crypto/hash.ts';
import { expandMask } from './crypto/prg.ts';
import { ascii, assertBytes, assertInteger, concatBytes, describe, u32 } from './encoding.ts';
import { CompleteGraph, type GraphSpec, type NeighbourGraph } from './graph.ts';
import type { ClientId } from './types.ts';

/** Length of a Harary graph seed in bytes. */
export const HARARY_SEED_LENGTH = 32;

const MAX_U32 = 0xffff_ffff;
const TWO_32 = 2 ** 32;
const ORDER_LABEL = ascii('privagg/v1/graph-order');
const SEED_LABEL = ascii('privagg/v1/graph-seed');

/**
 * The round's graph seed (PROTOCOL.md §2.2): `SHA256("privagg/v1/graph-seed" ‖ sessionId)`.
 * @param sessionId - the round's 32-byte session id (§4.0)
 * @returns 32 new bytes
 * @throws TypeError / RangeError if `sessionId` is not 32 bytes
 * @example new HararyGraph(params.clients, 32, graphSeed(sessionId))
 */
export function graphSeed(sessionId: Uint8Array): Uint8Array {
  assertBytes(sessionId, 'sessionId', 32);
  return sha256(SEED_LABEL, sessionId);
}

/**
 * An unbiased Fisher–Yates shuffle of `(0, 1, …, n − 1)` driven by a stream of u32 words, with the
 * rejection rule of the module comment: a word `w ≥ 2^32 − (2^32 mod m)` is discarded, so `w mod m` is
 * exactly uniform on `[0, m)`.
 * @param n - number of elements, an integer in [1, 2^32 − 1]
 * @param nextWord - returns the next word of the stream, an integer in [0, 2^32)
 * @returns a new array `π` of length `n`
 * @throws TypeError if `nextWord` is not a function; RangeError for a bad `n` or a word out of range
 * @example shuffleIndices(3, () => 0) // [1, 2, 0]
 */
export function shuffleIndices(n: number, nextWord: () => number): Uint32Array {
  assertInteger(n, 'n', 1, MAX_U32);
  if (typeof nextWord !== 'function')
    throw new TypeError(`nextWord must be a function, got ${describe(nextWord)}`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const m = i + 1;
    const limit = TWO_32 - (TWO_32 % m); // the largest multiple of m not above 2^32
    let w: number;
    do {
      w = nextWord();
      if (!Number.isInteger(w) || w < 0 || w > MAX_U32) {
        throw new RangeError(`nextWord must return an integer in [0, 2^32 - 1], got ${w}`);
      }
    } while (w >= limit);
    const j = w % m;
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}

/**
 * The ring order of a Harary graph (module comment): `π[p]` is the index, in the ascending client
 * list, of the client at ring position `p`.
 * @param seed - the 32-byte graph seed
 * @param n - number of clients, in [1, 2^32 − 1]
 * @returns a new permutation of `0 … n − 1`
 * @throws TypeError if `seed` is not a Uint8Array; RangeError for a bad seed length or `n`
 * @example hararyOrder(new Uint8Array(32), 5)
 */
export function hararyOrder(seed: Uint8Array, n: number): Uint32Array {
  assertBytes(seed, 'seed', HARARY_SEED_LENGTH);
  assertInteger(n, 'n', 1, MAX_U32);
  const okm = hkdf(seed, new Uint8Array(0), concatBytes(ORDER_LABEL, u32(n)), 32);
  const mask = { key: okm.subarray(0, 16), iv: okm.subarray(16, 32) };
  // A shuffle takes n − 1 words plus the rejected ones; each draw is rejected with probability below
  // n / 2^32, so a small margin almost always suffices. If not, expand a longer prefix of the same
  // keystream and go on where we were.
  let words = expandMask(mask, n + 16);
  let next = 0;
  const order = shuffleIndices(n, () => {
    if (next === words.length) words = expandMask(mask, 2 * words.length);
    return words[next++] as number;
  });
  okm.fill(0);
  return order;
}

/**
 * The random Harary graph H(n, k) over a round's clients: ring order from {@link hararyOrder}, each
 * client joined to the `k/2` nearest on either side. Setup is O(n); {@link neighbours} is O(k log k)
 * (k ring lookups, then sorting by id) and {@link isNeighbour} O(1).
 */
export class HararyGraph implements NeighbourGraph<'harary'> {
  readonly kind = 'harary';
  /** k: every client's number of neighbours. */
  readonly degree: number;
  readonly #seed: Uint8Array;
  readonly #clients: readonly ClientId[];
  /** Client id → index in the ascending list. */
  readonly #index: ReadonlyMap<ClientId, number>;
  /** Ring position → client index (π). */
  readonly #order: Uint32Array;
  /** Client index → ring position (π⁻¹). */
  readonly #position: Uint32Array;

  /**
   * @param clients - the round's client ids, sorted ascending without duplicates, at least 3
   * @param degree - k: even, in [2, n − 1]
   * @param seed - the 32-byte graph seed (copied)
   * @throws TypeError for arguments of the wrong type; RangeError for an unsorted or invalid client
   *   list, a bad degree or a bad seed length
   * @example new HararyGraph([3, 7, 12, 300], 2, seed)
   */
  constructor(clients: readonly ClientId[], degree: number, seed: Uint8Array) {
    if (!Array.isArray(clients)) throw new TypeError(`clients must be an array, got ${describe(clients)}`);
    const n = clients.length;
    if (n < 3) throw new RangeError(`clients must hold at least 3 ids for a Harary graph, got ${n}`);
    for (let i = 0; i < n; i++) {
      assertInteger(clients[i], `clients[${i}]`, 1, MAX_U32);
      if (i > 0 && !((clients[i - 1] as number) < (clients[i] as number))) {
        throw new RangeError(`clients must be sorted ascending without duplicates, see clients[${i}]`);
      }
    }
    assertInteger(degree, 'degree', 2, n - 1);
    if (degree % 2 !== 0) throw new RangeError(`degree must be even, got ${degree}`);
    assertBytes(seed, 'seed', HARARY_SEED_LENGTH);

    this.degree = degree;
    this.#seed = seed.slice();
    this.#clients = Object.freeze(clients.slice());
    this.#index = new Map(clients.map((id, i) => [id, i]));
    this.#order = hararyOrder(this.#seed, n);
    this.#position = new Uint32Array(n);
    for (let p = 0; p < n; p++) this.#position[this.#order[p] as number] = p;
  }

  /** The 32-byte seed (a copy). */
  get seed(): Uint8Array {
    return this.#seed.slice();
  }

  /** The clients in ring order (position 0 first); for tests and diagnostics. */
  ring(): ClientId[] {
    return Array.from(this.#order, (i) => this.#clients[i] as ClientId);
  }

  /**
   * The `k` neighbours of `id`, sorted ascending.
   * @throws RangeError if `id` is not one of the graph's clients
   */
  neighbours(id: ClientId): readonly ClientId[] {
    const index = this.#index.get(id);
    if (index === undefined) throw new RangeError(`client ${id} is not in this graph`);
    const n = this.#order.length;
    const p = this.#position[index] as number;
    const found = new Uint32Array(this.degree);
    const half = this.degree / 2;
    for (let d = 1; d <= half; d++) {
      found[2 * d - 2] = this.#order[(p + d) % n] as number;
      found[2 * d - 1] = this.#order[(p - d + n) % n] as number;
    }
    found.sort(); // numeric for typed arrays; the client list is ascending, so indices order ids
    return Array.from(found, (i) => this.#clients[i] as ClientId);
  }

  /** Whether `a` and `b` are neighbours: distinct clients at most k/2 apart on the ring. */
  isNeighbour(a: ClientId, b: ClientId): boolean {
    const ia = this.#index.get(a);
    const ib = this.#index.get(b);
    if (ia === undefined || ib === undefined || ia === ib) return false;
    const n = this.#order.length;
    const d = Math.abs((this.#position[ia] as number) - (this.#position[ib] as number));
    return Math.min(d, n - d) <= this.degree / 2;
  }
}

/**
 * One client's neighbours in the round's graph, once the session id is known: what
 * {@link neighbourGraph}`(spec, clients, sessionId).neighbours(self)` returns, without building the
 * whole graph's index. A client needs only its own neighbourhood; keeping a graph per client would
 * cost O(n) memory each (10,000 simulated clients would hold gigabytes).
 * @param spec - the announced graph (validated by `roundParams`)
 * @param clients - the round's clients, sorted ascending without duplicates
 * @param sessionId - the 32-byte session id
 * @param self - the client, one of `clients`
 * @returns N(self), sorted ascending
 * @throws RangeError if `self` is not one of `clients`, or as {@link neighbourGraph}
 * @example neighboursOf(params.graph, params.clients, sessionId, me)
 */
export function neighboursOf(
  spec: GraphSpec,
  clients: readonly ClientId[],
  sessionId: Uint8Array,
  self: ClientId,
): ClientId[] {
  if (!Array.isArray(clients)) throw new TypeError(`clients must be an array, got ${describe(clients)}`);
  const index = sortedIndexOf(clients, self);
  if (index < 0) throw new RangeError(`client ${self} is not in this round`);
  if (spec.kind === 'complete') {
    assertBytes(sessionId, 'sessionId', 32);
    return clients.filter((c) => c !== self);
  }
  if (spec.kind !== 'harary') {
    throw new TypeError(`unknown graph kind ${describe((spec as { kind: unknown }).kind)}`);
  }
  const n = clients.length;
  assertInteger(spec.degree, 'degree', 2, n - 1);
  if (spec.degree % 2 !== 0) throw new RangeError(`degree must be even, got ${spec.degree}`);
  const order = hararyOrder(graphSeed(sessionId), n);
  const p = order.indexOf(index);
  const found = new Uint32Array(spec.degree);
  for (let d = 1; d <= spec.degree / 2; d++) {
    found[2 * d - 2] = order[(p + d) % n] as number;
    found[2 * d - 1] = order[(p - d + n) % n] as number;
  }
  found.sort();
  return Array.from(found, (i) => clients[i] as ClientId);
}

/** The index of `id` in the ascending list, or −1. */
function sortedIndexOf(sorted: readonly number[], id: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const value = sorted[mid] as number;
    if (value === id) return mid;
    if (value < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The round's neighbour graph, once its session id is known (PROTOCOL.md §2.2): the complete graph,
 * or the Harary graph of the announced degree over all `n` selected clients (those lost before
 * advertising keep their ring positions) with the order of {@link graphSeed}(sessionId). Client and
 * server both build it this way, so they cannot disagree.
 * @param spec - the announced graph (validated by `roundParams`)
 * @param clients - the round's clients, sorted ascending without duplicates
 * @param sessionId - the 32-byte session id
 * @returns a {@link HararyGraph} or a `CompleteGraph`
 * @throws TypeError / RangeError as {@link HararyGraph}'s constructor, or for a bad session id
 * @example const graph = neighbourGraph(params.graph, params.clients, sessionId)
 */
export function neighbourGraph(
  spec: GraphSpec,
  clients: readonly ClientId[],
  sessionId: Uint8Array,
): NeighbourGraph {
  if (!Array.isArray(clients)) throw new TypeError(`clients must be an array, got ${describe(clients)}`);
  switch (spec.kind) {
    case 'complete':
      assertBytes(sessionId, 'sessionId', 32);
      return new CompleteGraph(clients);
    case 'harary':
      return new HararyGraph(clients, spec.degree, graphSeed(sessionId));
    default:
      throw new TypeError(`unknown graph kind ${describe((spec as { kind: unknown }).kind)}`);
  }
}
