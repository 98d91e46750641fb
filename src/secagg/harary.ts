/**
 * The random Harary graph of SecAgg+ (Bell et al., CCS 2020, §3; fcp's `SecretSharingHararyGraph`):
 * the round's `n` clients are placed on a ring in a pseudorandom order, and each is the neighbour of
 * the `k/2` nearest clients on either side, so every client has exactly `k` neighbours. The analysis
 * of `graph-params.ts` needs the order to be uniformly random and independent of which clients are
 * corrupt or drop out; it is derived from a public 32-byte seed that is part of the round's
 * configuration (docs/PROTOCOL.md §2), so every client computes the same graph by itself.
 *
 * Seed to order (PROTOCOL.md §2):
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

import { hkdf } from './crypto/hash.ts';
import { expandMask } from './crypto/prg.ts';
import { ascii, assertBytes, assertInteger, concatBytes, describe, u8, u32 } from './encoding.ts';
import { CompleteGraph, GRAPH_KIND_HARARY, type GraphKind, type NeighbourGraph } from './graph.ts';
import type { GraphChoice } from './graph-params.ts';
import type { ClientId } from './types.ts';

/** Length of a Harary graph seed in bytes. */
export const HARARY_SEED_LENGTH = 32;

const MAX_U32 = 0xffff_ffff;
const TWO_32 = 2 ** 32;
const ORDER_LABEL = ascii('privagg/v1/graph-order');

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

  /** `u8(1) ‖ u32(k) ‖ seed` (docs/PROTOCOL.md §2). */
  encode(): Uint8Array {
    return concatBytes(u8(GRAPH_KIND_HARARY), u32(this.degree), this.#seed);
  }
}

/**
 * Builds the graph that `graphParams` chose for a round's clients.
 * @param clients - the round's ids, sorted ascending without duplicates; as many as `choice.n`
 * @param choice - from `graphParams`
 * @param seed - the round's 32-byte graph seed (used only for a Harary graph)
 * @returns a {@link HararyGraph} or a `CompleteGraph`
 * @throws RangeError if `clients.length` differs from `choice.n`, or as {@link HararyGraph}'s constructor
 * @example graphFromChoice(params.clients, graphParams({ n, dropoutRate: 0.1, adversarialRate: 0.05 }), seed)
 */
export function graphFromChoice(
  clients: readonly ClientId[],
  choice: GraphChoice,
  seed: Uint8Array,
): NeighbourGraph<GraphKind> {
  if (!Array.isArray(clients)) throw new TypeError(`clients must be an array, got ${describe(clients)}`);
  if (clients.length !== choice.n) {
    throw new RangeError(`clients must hold choice.n = ${choice.n} ids, got ${clients.length}`);
  }
  return choice.kind === 'harary'
    ? new HararyGraph(clients, choice.degree, seed)
    : new CompleteGraph(clients);
}
