/**
 * Byte encodings of docs/PROTOCOL.md §1: little-endian integers, length-prefixed strings, ASCII
 * domain-separation labels and id lists, plus constant-time comparison. Every hash, KDF and
 * signature input of the protocol is built from these, so they reject rather than coerce: a value
 * that would silently wrap or be re-encoded would make two honest parties hash different bytes.
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { Rng } from './types.ts';

const MAX_U32 = 0xffff_ffff;

/** Throws a TypeError unless `value` is a Uint8Array (Buffers are Uint8Arrays and are accepted). */
export function assertBytes(value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Throws unless `value` is an integer in [min, max]: TypeError for a non-number, RangeError otherwise. */
export function assertInteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * Reads `length` bytes from an injected {@link Rng}, checking that it kept its contract (a broken
 * source must fail loudly, not yield short or shared keys).
 * @param rng - the randomness source
 * @param length - number of bytes wanted
 * @returns the bytes the source returned (owned by the caller)
 * @throws TypeError if `rng` is not an Rng or returns anything but `length` bytes
 */
export function readRandom(rng: Rng, length: number): Uint8Array {
  if (typeof rng !== 'object' || rng === null || typeof rng.randomBytes !== 'function') {
    throw new TypeError(`rng must be an Rng, got ${describe(rng)}`);
  }
  const bytes = rng.randomBytes(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new TypeError(`rng.randomBytes(${length}) must return a Uint8Array of ${length} bytes`);
  }
  return bytes;
}

/** A short description of a value's type for error messages; never includes the value itself. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/**
 * Encodes an unsigned 32-bit integer as 4 bytes, little-endian (`u32` of PROTOCOL.md §1).
 * @param x - an integer in [0, 2^32)
 * @returns 4 new bytes
 * @throws TypeError if `x` is not a number; RangeError if it is not an integer in range
 * @example u32(1) // Uint8Array [1, 0, 0, 0]
 */
export function u32(x: number): Uint8Array {
  assertInteger(x, 'x', 0, MAX_U32);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, x, true);
  return out;
}

/**
 * Encodes an unsigned 8-bit integer as 1 byte (`u8` of PROTOCOL.md §1).
 * @param x - an integer in [0, 255]
 * @returns 1 new byte
 * @throws TypeError if `x` is not a number; RangeError if it is not an integer in range
 * @example u8(32) // Uint8Array [32]
 */
export function u8(x: number): Uint8Array {
  assertInteger(x, 'x', 0, 0xff);
  return Uint8Array.of(x);
}

/**
 * Length-prefixes a byte string: `u32(len(bytes)) ‖ bytes` (`lp` of PROTOCOL.md §1). The prefix makes
 * concatenations of variable-length fields unambiguous.
 * @param bytes - at most 2^32 − 1 bytes
 * @returns a new array of `4 + bytes.length` bytes
 * @throws TypeError if `bytes` is not a Uint8Array; RangeError if it is too long to prefix
 * @example lp(Uint8Array.of(7)) // [1, 0, 0, 0, 7]
 */
export function lp(bytes: Uint8Array): Uint8Array {
  assertBytes(bytes, 'bytes');
  if (bytes.length > MAX_U32) throw new RangeError(`bytes must be at most 2^32-1 bytes, got ${bytes.length}`);
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length, true);
  out.set(bytes, 4);
  return out;
}

// A lone surrogate has no UTF-8 encoding; TextEncoder would silently replace it with U+FFFD, so two
// different strings would encode to the same bytes. With the `u` flag a valid pair is one code point
// and does not match, so this matches lone surrogates only.
const LONE_SURROGATE = /\p{Cs}/u;
const utf8 = new TextEncoder();

/**
 * Encodes a string as its length-prefixed UTF-8 bytes (`str` of PROTOCOL.md §1).
 * @param s - a well-formed string (no lone UTF-16 surrogates)
 * @returns `lp(UTF-8(s))`
 * @throws TypeError if `s` is not a string; RangeError if it contains a lone surrogate
 * @example str('ab') // [2, 0, 0, 0, 0x61, 0x62]
 */
export function str(s: string): Uint8Array {
  return lp(utf8Bytes(s, 's'));
}

/**
 * The UTF-8 bytes of a well-formed string, without a length prefix (used to measure and sort vector
 * names by their bytes, PROTOCOL.md §2).
 * @param s - a well-formed string
 * @param name - the argument name to use in errors
 * @throws TypeError if `s` is not a string; RangeError if it contains a lone surrogate
 */
export function utf8Bytes(s: string, name = 's'): Uint8Array {
  if (typeof s !== 'string') throw new TypeError(`${name} must be a string, got ${describe(s)}`);
  if (LONE_SURROGATE.test(s)) throw new RangeError(`${name} contains a lone UTF-16 surrogate`);
  return utf8.encode(s);
}

/**
 * Encodes a domain-separation label (PROTOCOL.md §1.2) as its ASCII bytes, without a length prefix.
 * Labels are fixed protocol constants, so anything outside printable ASCII is a programming error.
 * @param label - a non-empty string of printable ASCII (0x20..0x7e)
 * @returns the label's bytes
 * @throws TypeError if `label` is not a string; RangeError if it is empty or not printable ASCII
 * @example ascii('privagg/v1/config')
 */
export function ascii(label: string): Uint8Array {
  if (typeof label !== 'string') throw new TypeError(`label must be a string, got ${describe(label)}`);
  if (label.length === 0) throw new RangeError('label must not be empty');
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c < 0x20 || c > 0x7e)
      throw new RangeError(`label must be printable ASCII, bad character at index ${i}`);
    out[i] = c;
  }
  return out;
}

/**
 * Concatenates byte strings (`‖` of PROTOCOL.md §1) into a new array; the inputs are not retained.
 * @param parts - byte strings, in order
 * @returns a new array holding all parts
 * @throws TypeError if any part is not a Uint8Array
 * @example concatBytes(u32(1), u8(2)) // [1, 0, 0, 0, 2]
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    assertBytes(part, `parts[${i}]`);
    total += part.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts as Uint8Array[]) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Encodes a list of client ids as `u32(count) ‖ u32(id_1) ‖ … ‖ u32(id_count)`, the form hashed and
 * signed in PROTOCOL.md §2 and §4.4. The order is kept as given: the protocol requires ascending
 * lists, which the caller checks with {@link isStrictlyAscending} (encoding does not reorder, since a
 * silently sorted list would sign something other than what was received).
 * @param ids - client ids, each an integer in [1, 2^32 − 1]
 * @returns `4 + 4·ids.length` new bytes
 * @throws TypeError if `ids` is not an array or an id is not a number; RangeError for an id out of range
 * @example idList([1, 2]) // [2,0,0,0, 1,0,0,0, 2,0,0,0]
 */
export function idList(ids: readonly number[]): Uint8Array {
  if (!Array.isArray(ids)) throw new TypeError(`ids must be an array, got ${describe(ids)}`);
  const out = new Uint8Array(4 + 4 * ids.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, ids.length, true);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    assertInteger(id, `ids[${i}]`, 1, MAX_U32);
    view.setUint32(4 + 4 * i, id, true);
  }
  return out;
}

/**
 * Compares two byte strings. For equal lengths the comparison takes time independent of the contents
 * (node's `timingSafeEqual`), so it may be used on MACs, keys and commitments; lengths are not secret.
 * @param a - first byte string
 * @param b - second byte string
 * @returns true iff both have the same length and bytes
 * @throws TypeError if either argument is not a Uint8Array
 * @example equalBytes(u32(1), u32(1)) // true
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  assertBytes(a, 'a');
  assertBytes(b, 'b');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * Whether a strictly ascending list holds `id`: a binary search, O(log n) with no allocation (the
 * caller has checked the order, e.g. with {@link isStrictlyAscending}).
 * @param sorted - a strictly ascending list of numbers
 * @param id - the value to look for
 * @returns true when `id` is in the list
 * @example sortedIncludes([1, 4, 9], 4) // true
 */
export function sortedIncludes(sorted: readonly number[], id: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const value = sorted[mid] as number;
    if (value === id) return true;
    if (value < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Tells whether a list is sorted strictly ascending, i.e. sorted without duplicates, as PROTOCOL.md §1
 * requires of every id list. The empty list and single-element lists are ascending. An element that
 * is not a number (or is NaN) makes the list not ascending.
 * @param ids - the list to check
 * @returns true iff `ids[i-1] < ids[i]` for every i
 * @throws TypeError if `ids` is not an array
 * @example isStrictlyAscending([1, 3, 7]) // true; isStrictlyAscending([1, 1]) // false
 */
export function isStrictlyAscending(ids: readonly number[]): boolean {
  if (!Array.isArray(ids)) throw new TypeError(`ids must be an array, got ${describe(ids)}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number' || Number.isNaN(id)) return false;
    if (i > 0 && !((ids[i - 1] as number) < id)) return false;
  }
  return true;
}
