/**
 * Vector arithmetic in the ring Z/2^bits (docs/PROTOCOL.md §6.2). Every vector is a `Uint32Array`.
 * Because 2^bits divides 2^32, sums and differences are taken on whole words modulo 2^32 and reduced
 * modulo 2^bits once, at the end ({@link reduceInto}): the result is the same as reducing after every
 * step, and the inner loops stay free of masking.
 * @module
 */

/**
 * Checks that `bits` is a ring bit width: an integer in `[min, 32]`.
 *
 * Shared by the vector modules (bit packing, quantization) so that every width error reads the same.
 * @param bits - the value to check
 * @param name - the argument name to put in the error, default `"bits"`
 * @param min - smallest allowed width, default 1 (quantization needs 2: one sign bit plus one value bit)
 * @throws TypeError if `bits` is not a number; RangeError if it is not an integer in `[min, 32]`
 * @example
 * ```ts
 * assertBits(20); // ok
 * assertBits(33); // RangeError: bits must be an integer in 1..32, got 33
 * ```
 */
export function assertBits(bits: unknown, name = 'bits', min = 1): asserts bits is number {
  if (typeof bits !== 'number') throw new TypeError(`${name} must be a number, got ${typeof bits}`);
  if (!Number.isInteger(bits) || bits < min || bits > 32) {
    throw new RangeError(`${name} must be an integer in ${min}..32, got ${bits}`);
  }
}

/**
 * Checks that `v` is a `Uint32Array` of exactly `length` elements.
 * @param v - the value to check
 * @param length - the required number of elements
 * @param name - the argument name to put in the error
 * @throws TypeError if `v` is not a `Uint32Array` (subclasses and other typed arrays are not coerced);
 *   RangeError if its length differs
 * @example
 * ```ts
 * assertLength(new Uint32Array(3), 3, 'mask'); // ok
 * assertLength(new Uint32Array(2), 3, 'mask'); // RangeError: mask must have 3 elements, got 2
 * ```
 */
export function assertLength(v: unknown, length: number, name: string): asserts v is Uint32Array {
  assertUint32Array(v, name);
  if (v.length !== length) throw new RangeError(`${name} must have ${length} elements, got ${v.length}`);
}

/**
 * The largest element of Z/2^bits, `2^bits − 1`, as an exact number (4294967295 for 32 bits, which is
 * why this is arithmetic rather than a shift: `(1 << 32) − 1` would be 0).
 * @param bits - bit width, 1..32
 * @returns `2^bits − 1`
 * @throws TypeError / RangeError if `bits` is not an integer in 1..32
 * @example
 * ```ts
 * maxValue(8); // 255
 * maxValue(32); // 4294967295
 * ```
 */
export function maxValue(bits: number): number {
  assertBits(bits);
  return 2 ** bits - 1;
}

/**
 * `acc[i] ← acc[i] + v[i] mod 2^32`, in place. Reduce with {@link reduceInto} when done.
 * `acc` and `v` may be the same array (the result is then `2·acc`).
 * @param acc - accumulator, modified in place
 * @param v - addend, same length as `acc`; not modified
 * @throws TypeError if either is not a `Uint32Array`; RangeError if the lengths differ
 * @example
 * ```ts
 * const acc = Uint32Array.of(0xffff_ffff, 1);
 * addInto(acc, Uint32Array.of(2, 2)); // acc = [1, 3]
 * ```
 */
export function addInto(acc: Uint32Array, v: Uint32Array): void {
  assertUint32Array(acc, 'acc');
  assertLength(v, acc.length, 'v');
  // The sum of two u32 is below 2^33, exact in a double; storing into a Uint32Array reduces it mod 2^32.
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + v[i]!;
}

/**
 * `acc[i] ← acc[i] − v[i] mod 2^32`, in place; the inverse of {@link addInto}.
 * @param acc - minuend, modified in place
 * @param v - subtrahend, same length as `acc`; not modified
 * @throws TypeError if either is not a `Uint32Array`; RangeError if the lengths differ
 * @example
 * ```ts
 * const acc = Uint32Array.of(0, 5);
 * subInto(acc, Uint32Array.of(1, 2)); // acc = [4294967295, 3]
 * ```
 */
export function subInto(acc: Uint32Array, v: Uint32Array): void {
  assertUint32Array(acc, 'acc');
  assertLength(v, acc.length, 'v');
  // A negative difference is wrapped mod 2^32 by the Uint32Array store (ToUint32 is modular).
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! - v[i]!;
}

/**
 * `v[i] ← v[i] mod 2^bits`, in place: keeps the low `bits` bits. A no-op for 32 bits.
 * @param v - vector, modified in place
 * @param bits - bit width, 1..32
 * @throws TypeError if `v` is not a `Uint32Array`; TypeError / RangeError if `bits` is invalid
 * @example
 * ```ts
 * const v = Uint32Array.of(0x1ff, 7);
 * reduceInto(v, 8); // v = [255, 7]
 * ```
 */
export function reduceInto(v: Uint32Array, bits: number): void {
  assertUint32Array(v, 'v');
  assertBits(bits);
  if (bits === 32) return;
  const mask = 0xffff_ffff >>> (32 - bits);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! & mask;
}

function assertUint32Array(v: unknown, name: string): asserts v is Uint32Array {
  if (!(v instanceof Uint32Array)) throw new TypeError(`${name} must be a Uint32Array, got ${kind(v)}`);
}

/** What a value is, for error messages: `"Int32Array"`, `"Array"`, `"Null"`, `"Number"`, … */
function kind(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * The index of the first element of `v` that is not below 2^bits, or −1 if all fit. Checks with one
 * OR of the high bits per element and searches only on failure: a closure-based `findIndex` costs
 * ~7 ms per 1M words on the server's hot path, this ~0.5 ms.
 */
export function firstOutOfRange(v: Uint32Array, bits: number): number {
  if (bits >= 32) return -1;
  const high = ~((1 << bits) - 1);
  let any = 0;
  for (let i = 0; i < v.length; i++) any |= v[i]! & high;
  if (any === 0) return -1;
  for (let i = 0; i < v.length; i++) if ((v[i]! & high) !== 0) return i;
  return -1;
}
