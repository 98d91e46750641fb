/**
 * Bit packing of ring vectors for the wire (docs/PROTOCOL.md §6.3): `length` elements of `bits` bits
 * travel as `ceil(length · bits / 8)` bytes, element `i` in bits `[i·bits, (i+1)·bits)` of the byte
 * string read as a little-endian bit stream. Unused high bits of the last byte are zero, and
 * {@link unpackBits} rejects a payload of the wrong length or with non-zero padding, so every vector
 * has exactly one encoding.
 *
 * Widths 8, 16 and 32 are byte-aligned and take typed-array fast paths (32 bits is one copy). Other
 * widths go through 32-bit words: an element straddles at most two words, so every shift and mask is
 * a 32-bit operation, which is all JavaScript's bitwise operators can do.
 * @module
 */
import { assertBits } from './ring.ts';

// Every fast path views words as bytes; the wire order is little-endian, so on a big-endian host the
// words are byte-swapped around those views (no mainstream Node platform is big-endian, but the
// format must not depend on the host).
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Number of bytes of a packed vector: `ceil(length · bits / 8)`.
 * @param length - number of elements, a non-negative integer
 * @param bits - element width, 1..32
 * @returns the packed size in bytes
 * @throws TypeError if an argument is not a number; RangeError if `length` is negative, fractional
 *   or so large that `length · bits` is not a safe integer, or if `bits` is not in 1..32
 * @example
 * ```ts
 * packedLength(10, 20); // 25
 * packedLength(3, 1); // 1
 * ```
 */
export function packedLength(length: number, bits: number): number {
  assertCount(length, 'length');
  assertBits(bits);
  return totalBytes(length, bits);
}

/**
 * Packs `values` (each below 2^bits) into `packedLength(values.length, bits)` bytes.
 * @param values - elements to pack; not modified, and the result never shares memory with it
 * @param bits - element width, 1..32
 * @returns a fresh byte array
 * @throws TypeError if `values` is not a `Uint32Array` or `bits` not a number; RangeError if `bits`
 *   is not in 1..32 or an element does not fit in `bits` bits (the first such index is named)
 * @example
 * ```ts
 * packBits(Uint32Array.of(1, 2, 3), 4); // Uint8Array [0x21, 0x03]
 * ```
 */
export function packBits(values: Uint32Array, bits: number): Uint8Array {
  if (!(values instanceof Uint32Array)) {
    throw new TypeError(`values must be a Uint32Array, got ${kind(values)}`);
  }
  assertBits(bits);
  const n = values.length;
  if (bits === 32) {
    // Every u32 fits in 32 bits: packing is a copy (slice never shares the input's buffer).
    const out = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + 4 * n));
    if (!LITTLE_ENDIAN) swapWords(out);
    return out;
  }
  assertFits(values, bits);
  if (bits === 8) {
    const out = new Uint8Array(n);
    out.set(values); // typed-array set truncates mod 2^8, harmless after assertFits
    return out;
  }
  if (bits === 16) {
    const words = new Uint16Array(n);
    words.set(values);
    const out = new Uint8Array(words.buffer);
    if (!LITTLE_ENDIAN) swapHalfWords(out);
    return out;
  }
  // Generic width: OR each element into a zeroed array of 32-bit words at bit offset `off` of word
  // `w`; the part that does not fit in word `w` goes to the low bits of word `w + 1`. The offsets are
  // tracked incrementally, so `i · bits` is never computed and cannot leave the 32-bit range.
  const byteLength = totalBytes(n, bits);
  const words = new Uint32Array(Math.ceil(byteLength / 4));
  let w = 0;
  let off = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    words[w] = words[w]! | (v << off);
    off += bits;
    if (off >= 32) {
      off -= 32;
      w++;
      // `v >>> (bits − off)` are the high `off` bits that spilled over; when off is 0 nothing spilled
      // (and the shift by `bits` would be a no-op shift in JavaScript if bits were 32, hence the test).
      if (off > 0) words[w] = v >>> (bits - off);
    }
  }
  const bytes = new Uint8Array(words.buffer);
  if (!LITTLE_ENDIAN) swapWords(bytes);
  // The word array is rounded up to 4 bytes; hand out exactly the packed length, as its own buffer.
  return bytes.length === byteLength ? bytes : bytes.slice(0, byteLength);
}

/**
 * Unpacks `length` elements of `bits` bits from `bytes`, strictly: the byte length must be
 * exactly `packedLength(length, bits)` and the padding bits of the last byte must be zero.
 * @param bytes - the packed vector; not modified, and the result never shares memory with it
 * @param length - number of elements expected, a non-negative integer
 * @param bits - element width, 1..32
 * @returns a fresh `Uint32Array` of `length` elements, each below 2^bits
 * @throws TypeError if `bytes` is not a `Uint8Array` or a number argument is not a number;
 *   RangeError if `length` or `bits` is invalid, the byte length is wrong, or padding is non-zero
 * @example
 * ```ts
 * unpackBits(Uint8Array.of(0x21, 0x03), 3, 4); // Uint32Array [1, 2, 3]
 * unpackBits(Uint8Array.of(0x21, 0x13), 3, 4); // RangeError: non-zero padding
 * ```
 */
export function unpackBits(bytes: Uint8Array, length: number, bits: number): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bytes must be a Uint8Array, got ${kind(bytes)}`);
  assertCount(length, 'length');
  assertBits(bits);
  const byteLength = totalBytes(length, bits);
  if (bytes.length !== byteLength) {
    throw new RangeError(
      `bytes must be ${byteLength} bytes long for ${length} elements of ${bits} bits, got ${bytes.length}`,
    );
  }
  const usedInLast = (length * bits) % 8;
  if (usedInLast !== 0 && bytes[byteLength - 1]! >>> usedInLast !== 0) {
    throw new RangeError(
      `bytes has non-zero padding bits in its last byte (only the low ${usedInLast} are used)`,
    );
  }
  const out = new Uint32Array(length);
  if (bits === 8) {
    out.set(bytes);
    return out;
  }
  if (bits === 32 || bits === 16) {
    // Copy the bytes into a buffer of the right alignment (the input may start at any byteOffset).
    if (bits === 32) {
      const view = new Uint8Array(out.buffer);
      view.set(bytes);
      if (!LITTLE_ENDIAN) swapWords(view);
    } else {
      const half = new Uint16Array(length);
      const view = new Uint8Array(half.buffer);
      view.set(bytes);
      if (!LITTLE_ENDIAN) swapHalfWords(view);
      out.set(half);
    }
    return out;
  }
  // Generic width: copy into zero-padded, aligned 32-bit words, then read back what packBits wrote.
  // An element that spills into word `w + 1` ends inside the payload, so that word always exists.
  const padded = new Uint8Array(4 * Math.ceil(byteLength / 4));
  padded.set(bytes);
  if (!LITTLE_ENDIAN) swapWords(padded);
  const words = new Uint32Array(padded.buffer);
  const mask = 0xffff_ffff >>> (32 - bits);
  let w = 0;
  let off = 0;
  for (let i = 0; i < length; i++) {
    let v = words[w]! >>> off;
    // `off` is in 0..31 here; when the element spills into the next word, its high bits sit at the
    // bottom of that word (32 − off ≥ 1, so the shift is in range).
    if (off + bits > 32) v |= words[w + 1]! << (32 - off);
    out[i] = v & mask;
    off += bits;
    if (off >= 32) {
      off -= 32;
      w++;
    }
  }
  return out;
}

/** Bytes needed for `length` elements of `bits` bits (arguments already validated). */
function totalBytes(length: number, bits: number): number {
  return Math.ceil((length * bits) / 8);
}

/** Throws a RangeError naming the first element of `values` that is ≥ 2^bits (bits < 32). */
function assertFits(values: Uint32Array, bits: number): void {
  for (let i = 0; i < values.length; i++) {
    if (values[i]! >>> bits !== 0) {
      throw new RangeError(`values[${i}] = ${values[i]} does not fit in ${bits} bits (max ${2 ** bits - 1})`);
    }
  }
}

/** Checks an element count: a non-negative integer whose bit count stays a safe integer. */
function assertCount(length: unknown, name: string): asserts length is number {
  if (typeof length !== 'number') throw new TypeError(`${name} must be a number, got ${typeof length}`);
  // 32 · length must be exact, since the packed size is computed from length · bits in a double.
  if (!Number.isInteger(length) || length < 0 || !Number.isSafeInteger(length * 32)) {
    throw new RangeError(`${name} must be a non-negative integer below 2^48, got ${length}`);
  }
}

/** Reverses the byte order of every 4-byte word, in place (big-endian hosts only). */
function swapWords(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

/** Reverses the byte order of every 2-byte half-word, in place (big-endian hosts only). */
function swapHalfWords(bytes: Uint8Array): void {
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const a = bytes[i]!;
    bytes[i] = bytes[i + 1]!;
    bytes[i + 1] = a;
  }
}

/** What a value is, for error messages: `"Int32Array"`, `"Array"`, `"Null"`, `"Number"`, … */
function kind(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}
