/**
 * Shamir secret sharing over GF(p), p = 2^255 − 19 (docs/PROTOCOL.md §5; Bonawitz et al. 2017, §4).
 * Clients share their self-mask seed and mask private key with threshold t among their neighbours;
 * the server reconstructs by Lagrange interpolation at 0 from the t lowest-id responders.
 *
 * Evaluation points are client ids (< 2^32), so Horner's rule multiplies a field element by a small
 * integer; reduction is deferred until the accumulator has grown by ~256 bits, which is about 2.5x
 * faster than reducing after every step. JavaScript BigInt arithmetic is not constant-time; the
 * shares and secrets here are handled the same way by every BigInt-based implementation, and cannot
 * be zeroed (BigInts are immutable).
 * @module
 */
import { invert } from '@noble/curves/abstract/modular.js';
import { assertBytes, assertInteger, describe, readRandom } from '../encoding.ts';
import type { ClientId, Rng } from '../types.ts';

/** The field prime p = 2^255 − 19 (the field of Curve25519). */
export const FIELD_PRIME: bigint = 2n ** 255n - 19n;

const FIELD_BYTES = 32;
const MAX_U32 = 0xffff_ffff;

function assertFieldElement(x: unknown, name: string): asserts x is bigint {
  if (typeof x !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${describe(x)}`);
  if (x < 0n || x >= FIELD_PRIME) throw new RangeError(`${name} must be in [0, p) with p = 2^255-19`);
}

/** Little-endian bytes to a non-negative bigint (via hex: BigInt parses it natively). */
function bigintFromLE(bytes: Uint8Array): bigint {
  const be = Buffer.from(bytes).reverse();
  const value = BigInt(`0x${be.toString('hex')}`);
  be.fill(0);
  return value;
}

/**
 * Little-endian 32 bytes to a bigint by four 64-bit limbs: about 3x faster than the hex route of
 * {@link bigintFromLE}, and the server decodes t shares per reconstructed secret.
 */
function bigintFrom32LE(b: Uint8Array): bigint {
  const view = new DataView(b.buffer, b.byteOffset, FIELD_BYTES);
  return (
    (view.getBigUint64(24, true) << 192n) |
    (view.getBigUint64(16, true) << 128n) |
    (view.getBigUint64(8, true) << 64n) |
    view.getBigUint64(0, true)
  );
}

/**
 * Decodes `fe(x)`: 32 bytes, little-endian, value < p (PROTOCOL.md §1). Values ≥ p are rejected, not
 * reduced, so every field element has exactly one encoding.
 * @param b - 32 bytes
 * @returns the field element
 * @throws TypeError if `b` is not a Uint8Array; RangeError if it is not 32 bytes or encodes a value ≥ p
 * @example fieldElementFromBytes(share.bytes)
 */
export function fieldElementFromBytes(b: Uint8Array): bigint {
  assertBytes(b, 'b', FIELD_BYTES);
  const value = bigintFrom32LE(b);
  if (value >= FIELD_PRIME) throw new RangeError('b must encode a value below p = 2^255-19');
  return value;
}

/**
 * Encodes a field element as `fe(x)`: 32 bytes, little-endian (PROTOCOL.md §1). Written as four
 * 64-bit limbs, which avoids the hex string round trip (and its unwipeable copies of the secret).
 * @param x - a bigint in [0, p)
 * @returns 32 new bytes
 * @throws TypeError if `x` is not a bigint; RangeError if it is outside [0, p)
 * @example fieldElementToBytes(1n) // [1, 0, …, 0]
 */
export function fieldElementToBytes(x: bigint): Uint8Array {
  assertFieldElement(x, 'x');
  const out = new Uint8Array(FIELD_BYTES);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, x), true);
  view.setBigUint64(8, BigInt.asUintN(64, x >> 64n), true);
  view.setBigUint64(16, BigInt.asUintN(64, x >> 128n), true);
  view.setBigUint64(24, x >> 192n, true); // < 2^63, since x < p < 2^255
  return out;
}

/**
 * Draws a field element as PROTOCOL.md §4.2 and §5 specify: 64 bytes from `rng`, read little-endian,
 * reduced mod p. Reducing a 512-bit value leaves a bias below 2^-256, unlike rejection sampling it
 * consumes a fixed number of bytes, which keeps test vectors reproducible.
 * @param rng - the randomness source; exactly one call of 64 bytes is made
 * @returns a uniformly distributed element of GF(p) (up to negligible bias)
 * @throws TypeError if `rng` is not an Rng or does not return 64 bytes
 */
export function randomFieldElement(rng: Rng): bigint {
  const bytes = readRandom(rng, 2 * FIELD_BYTES);
  const value = bigintFromLE(bytes) % FIELD_PRIME;
  bytes.fill(0);
  return value;
}

/** Validates a list of distinct evaluation points (client ids). */
function assertDistinctIds(ids: readonly number[], name: string): void {
  if (!Array.isArray(ids)) throw new TypeError(`${name} must be an array, got ${describe(ids)}`);
  // Fast path for the usual case, ids in ascending order: strictly ascending implies distinct, so
  // no Set is needed (the server reconstructs hundreds of secrets from t ≈ 2n/3 ids each).
  let ascending = true;
  for (let i = 0; i < ids.length; i++) {
    assertInteger(ids[i], `${name}[${i}]`, 1, MAX_U32);
    if (i > 0 && (ids[i] as number) <= (ids[i - 1] as number)) {
      ascending = false;
      break;
    }
  }
  if (ascending) return;
  const seen = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    // Id 0 would be the point where the secret itself sits (f(0) = s).
    assertInteger(id, `${name}[${i}]`, 1, MAX_U32);
    if (seen.has(id)) throw new RangeError(`${name} has a duplicate id ${id}`);
    seen.add(id);
  }
}

/** f(x) by Horner's rule, for coefficients a_0..a_{t-1} (a_0 the secret), x a small positive integer. */
function evaluate(coefficients: readonly bigint[], x: number): bigint {
  const bx = BigInt(x);
  // Each step adds at most bitLength(x) bits; reduce once ~256 bits have accumulated.
  const stepsPerReduction = Math.max(1, Math.floor(256 / (32 - Math.clz32(x))));
  let acc = 0n;
  let steps = 0;
  for (let k = coefficients.length - 1; k >= 0; k--) {
    acc = acc * bx + (coefficients[k] as bigint);
    if (++steps === stepsPerReduction) {
      acc %= FIELD_PRIME;
      steps = 0;
    }
  }
  return acc % FIELD_PRIME;
}

/**
 * Splits `secret` into shares with threshold `threshold` (PROTOCOL.md §5): coefficients
 * `a_1 … a_{t−1}` are drawn in that order with {@link randomFieldElement}, and the share of id `i` is
 * `f(i) = secret + a_1·i + … + a_{t−1}·i^{t−1} mod p`. Any `threshold` shares determine the secret;
 * fewer reveal nothing about it.
 * @param secret - the secret, in [0, p)
 * @param threshold - t, in [2, ids.length] (PROTOCOL.md §7: always t ≥ 2; t = 1 would hand out the secret)
 * @param ids - distinct client ids in [1, 2^32 − 1], in any order
 * @param rng - the randomness source; exactly t − 1 calls of 64 bytes are made
 * @returns the share values, in the order of `ids`
 * @throws TypeError for arguments of the wrong type; RangeError for a secret out of range, a bad
 *   threshold, or invalid or duplicate ids
 * @example const shares = shamirSplit(b, t, [u, ...neighbours], rng);
 */
export function shamirSplit(secret: bigint, threshold: number, ids: readonly ClientId[], rng: Rng): bigint[] {
  assertFieldElement(secret, 'secret');
  assertDistinctIds(ids, 'ids');
  assertInteger(threshold, 'threshold', 2, Math.max(2, ids.length));
  if (threshold > ids.length) {
    throw new RangeError(`threshold must be at most the number of ids (${ids.length}), got ${threshold}`);
  }
  const coefficients: bigint[] = [secret];
  for (let k = 1; k < threshold; k++) coefficients.push(randomFieldElement(rng));
  return ids.map((id) => evaluate(coefficients, id));
}

/**
 * The Lagrange coefficients at zero for the evaluation points `ids`:
 * `λ_j = Π_{m≠j} m / (m − j) mod p` (PROTOCOL.md §5), so that `s = Σ λ_j · f(j)`.
 * Computed as `λ_j = (Π_m m) / (j · Π_{m≠j} (m − j))` with one batched inversion (Montgomery's trick)
 * for all denominators: t² small-integer products and a single modular inverse.
 * @param ids - distinct client ids in [1, 2^32 − 1]
 * @returns the coefficients, in the order of `ids`, frozen
 * @throws TypeError for arguments of the wrong type; RangeError for invalid or duplicate ids
 */
export function lagrangeCoefficientsAtZero(ids: readonly ClientId[]): readonly bigint[] {
  assertDistinctIds(ids, 'ids');
  return computeLagrangeAtZero(ids);
}

/** {@link lagrangeCoefficientsAtZero} for ids already checked to be distinct client ids. */
function computeLagrangeAtZero(ids: readonly number[]): readonly bigint[] {
  const t = ids.length;
  if (t === 0) return Object.freeze([]);
  let numerator = 1n;
  for (const m of ids) numerator = (numerator * BigInt(m)) % FIELD_PRIME;

  const denominators: bigint[] = new Array(t);
  for (let a = 0; a < t; a++) {
    const j = ids[a] as number;
    // Multiply small factors as doubles while the product stays exact (< 2^53), then fold into the
    // BigInt: with ids up to a few thousand this cuts BigInt multiplications by ~5x.
    let acc = BigInt(j);
    let run = 1;
    let negative = false;
    let folds = 0;
    for (let b = 0; b < t; b++) {
      if (b === a) continue;
      let d = (ids[b] as number) - j;
      if (d < 0) {
        negative = !negative;
        d = -d;
      }
      if (run > Number.MAX_SAFE_INTEGER / d) {
        acc *= BigInt(run);
        run = d;
        if (++folds === 4) {
          acc %= FIELD_PRIME;
          folds = 0;
        }
      } else {
        run *= d;
      }
    }
    acc = (acc * BigInt(run)) % FIELD_PRIME;
    denominators[a] = negative ? FIELD_PRIME - acc : acc;
  }

  // Montgomery's trick: prefix products, one inversion, then walk back.
  const prefix: bigint[] = new Array(t);
  let running = 1n;
  for (let a = 0; a < t; a++) {
    running = (running * (denominators[a] as bigint)) % FIELD_PRIME;
    prefix[a] = running;
  }
  // Denominators are non-zero mod p: ids are distinct and all far below p.
  let inverse = invert(running, FIELD_PRIME);
  const coefficients: bigint[] = new Array(t);
  for (let a = t - 1; a >= 0; a--) {
    const inverseOfThis = a === 0 ? inverse : (inverse * (prefix[a - 1] as bigint)) % FIELD_PRIME;
    inverse = (inverse * (denominators[a] as bigint)) % FIELD_PRIME;
    coefficients[a] = (numerator * inverseOfThis) % FIELD_PRIME;
  }
  return Object.freeze(coefficients);
}

/**
 * A cache of Lagrange coefficients per set of evaluation points. The server reconstructs every
 * survivor's self-mask seed from the same t lowest responders (PROTOCOL.md §5), so one computation
 * serves the whole round. Bounded: beyond `maxEntries` sets, the oldest entry is evicted.
 * @example
 * const cache = new LagrangeCache();
 * for (const u of survivors) b[u] = shamirReconstruct(sharesOf(u), t, cache);
 */
export class LagrangeCache {
  readonly #entries = new Map<string, readonly bigint[]>();
  readonly #maxEntries: number;
  /** The last id list served, compared element-wise before building a string key for the map. */
  #last: { readonly ids: readonly number[]; readonly coefficients: readonly bigint[] } | undefined;

  /**
   * @param maxEntries - how many id sets to keep, ≥ 1 (default 64)
   * @throws TypeError if not a number; RangeError if not a positive integer
   */
  constructor(maxEntries = 64) {
    assertInteger(maxEntries, 'maxEntries', 1, Number.MAX_SAFE_INTEGER);
    this.#maxEntries = maxEntries;
  }

  /**
   * The Lagrange coefficients at zero for `ids` (see {@link lagrangeCoefficientsAtZero}), computed
   * once per id list. The list is keyed in the order given, and the result follows that order.
   * @param ids - distinct client ids in [1, 2^32 − 1]
   * @returns the coefficients in the order of `ids`, frozen
   * @throws TypeError for arguments of the wrong type; RangeError for invalid or duplicate ids
   */
  coefficientsAtZero(ids: readonly ClientId[]): readonly bigint[] {
    // Validated on every call, hits included: the key alone would let `['1']` hit the entry of `[1]`.
    assertDistinctIds(ids, 'ids');
    const last = this.#last;
    if (last !== undefined && last.ids.length === ids.length && last.ids.every((id, i) => id === ids[i])) {
      return last.coefficients;
    }
    const key = ids.join(',');
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#last = { ids: [...ids], coefficients: hit };
      return hit;
    }
    const coefficients = computeLagrangeAtZero(ids);
    this.#last = { ids: [...ids], coefficients };
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, coefficients);
    return coefficients;
  }
}

/**
 * Reconstructs a secret from Shamir shares by Lagrange interpolation at 0 (PROTOCOL.md §5), using
 * exactly the `threshold` shares with the lowest ids. Using a deterministic subset makes the result
 * reproducible and lets {@link LagrangeCache} hit; the caller verifies the result against its
 * commitment (§4.6), since a wrong share yields a wrong secret, not an error.
 * @param shares - shares `{ id, value }` with distinct ids, in any order, values in [0, p)
 * @param threshold - t, in [2, shares.length]
 * @param cache - optional coefficient cache shared across reconstructions
 * @returns the secret, in [0, p)
 * @throws TypeError for arguments of the wrong type; RangeError for fewer than `threshold` shares,
 *   duplicate or invalid ids, or values out of range
 * @example const b = shamirReconstruct(responses, t, cache);
 */
export function shamirReconstruct(
  shares: readonly { id: ClientId; value: bigint }[],
  threshold: number,
  cache?: LagrangeCache,
): bigint {
  if (!Array.isArray(shares)) throw new TypeError(`shares must be an array, got ${describe(shares)}`);
  assertInteger(threshold, 'threshold', 2, MAX_U32);
  if (cache !== undefined && !(cache instanceof LagrangeCache)) {
    throw new TypeError(`cache must be a LagrangeCache, got ${describe(cache)}`);
  }
  for (let i = 0; i < shares.length; i++) {
    const share = shares[i];
    if (typeof share !== 'object' || share === null) {
      throw new TypeError(`shares[${i}] must be an object, got ${describe(share)}`);
    }
    assertFieldElement(share.value, `shares[${i}].value`);
  }
  assertDistinctIds(
    shares.map((s) => s.id),
    'share ids',
  );
  if (shares.length < threshold) {
    throw new RangeError(`need at least threshold = ${threshold} shares, got ${shares.length}`);
  }
  const used = (isAscendingById(shares) ? shares : [...shares].sort((a, b) => a.id - b.id)).slice(
    0,
    threshold,
  );
  const ids = used.map((s) => s.id);
  const coefficients = cache ? cache.coefficientsAtZero(ids) : computeLagrangeAtZero(ids);
  let sum = 0n;
  for (let i = 0; i < threshold; i++) {
    sum += (coefficients[i] as bigint) * (used[i] as { value: bigint }).value;
    // Deferred reduction: products are < 2^510, so 64 of them stay below 2^516; reducing that
    // rarely measured ~20% faster than every 8 steps at t = 334.
    if ((i & 63) === 63) sum %= FIELD_PRIME;
  }
  return sum % FIELD_PRIME;
}

function isAscendingById(shares: readonly { id: ClientId }[]): boolean {
  for (let i = 1; i < shares.length; i++) {
    if ((shares[i - 1] as { id: ClientId }).id >= (shares[i] as { id: ClientId }).id) return false;
  }
  return true;
}
