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
  addInt32Words(
    new Int32Array(acc.buffer, acc.byteOffset, acc.length),
    new Int32Array(v.buffer, v.byteOffset, v.length),
    0,
    acc.length,
  );
}

// The word kernels under addInto/subInto and the mask PRG's JavaScript fallback: Int32 views with
// `| 0` keep every value a small integer — addition modulo 2^32 is the same in two's complement — so
// V8 never boxes one as a double (a plain Uint32Array loop stores sums up to 2^33 and runs ~3× slower
// on the coordinator's 1M-word vectors). Two loops, so each stays monomorphic and branch-free, unrolled
// 8× (about twice as fast as the plain loop in V8).

/** `acc[offset + i] ← acc[offset + i] + words[i] mod 2^32` for `i < count`. No argument checks. */
export function addInt32Words(acc: Int32Array, words: Int32Array, offset: number, count: number): void {
  let i = 0;
  let j = offset;
  for (const end = count & ~7; i < end; i += 8, j += 8) {
    acc[j] = ((acc[j] as number) + (words[i] as number)) | 0;
    acc[j + 1] = ((acc[j + 1] as number) + (words[i + 1] as number)) | 0;
    acc[j + 2] = ((acc[j + 2] as number) + (words[i + 2] as number)) | 0;
    acc[j + 3] = ((acc[j + 3] as number) + (words[i + 3] as number)) | 0;
    acc[j + 4] = ((acc[j + 4] as number) + (words[i + 4] as number)) | 0;
    acc[j + 5] = ((acc[j + 5] as number) + (words[i + 5] as number)) | 0;
    acc[j + 6] = ((acc[j + 6] as number) + (words[i + 6] as number)) | 0;
    acc[j + 7] = ((acc[j + 7] as number) + (words[i + 7] as number)) | 0;
  }
  for (; i < count; i++, j++) acc[j] = ((acc[j] as number) + (words[i] as number)) | 0;
}

/** `acc[offset + i] ← acc[offset + i] − words[i] mod 2^32` for `i < count`. No argument checks. */
export function subInt32Words(acc: Int32Array, words: Int32Array, offset: number, count: number): void {
  let i = 0;
  let j = offset;
  for (const end = count & ~7; i < end; i += 8, j += 8) {
    acc[j] = ((acc[j] as number) - (words[i] as number)) | 0;
    acc[j + 1] = ((acc[j + 1] as number) - (words[i + 1] as number)) | 0;
    acc[j + 2] = ((acc[j + 2] as number) - (words[i + 2] as number)) | 0;
    acc[j + 3] = ((acc[j + 3] as number) - (words[i + 3] as number)) | 0;
    acc[j + 4] = ((acc[j + 4] as number) - (words[i + 4] as number)) | 0;
    acc[j + 5] = ((acc[j + 5] as number) - (words[i + 5] as number)) | 0;
    acc[j + 6] = ((acc[j + 6] as number) - (words[i + 6] as number)) | 0;
    acc[j + 7] = ((acc[j + 7] as number) - (words[i + 7] as number)) | 0;
  }
  for (; i < count; i++, j++) acc[j] = ((acc[j] as number) - (words[i] as number)) | 0;
}

/**
 * Adds `v` into `acc` (mod 2^32) if every element of `v` is below 2^bits; otherwise leaves `acc` as
 * it was and returns the index of the first element that is not. One pass over both arrays instead
 * of a check pass and an add pass: the coordinator runs this once per masked input, on vectors far
 * larger than the cache, so the second read of `v` from memory was half its cost. On failure the
 * additions are undone by subtraction (exact modulo 2^32), which is the rare path.
 * @param acc - accumulator, modified in place only on success
 * @param v - addend, same length as `acc`; not modified
 * @param bits - bit width, 1..32
 * @returns −1 when `v` was added, else the index of its first element ≥ 2^bits
 * @throws TypeError if either is not a `Uint32Array`; RangeError if the lengths differ or `bits` is invalid
 * @example
 * ```ts
 * const acc = Uint32Array.of(1, 1);
 * addInRange(acc, Uint32Array.of(2, 3), 8); // −1, acc = [3, 4]
 * addInRange(acc, Uint32Array.of(2, 256), 8); // 1, acc unchanged
 * ```
 */
export function addInRange(acc: Uint32Array, v: Uint32Array, bits: number): number {
  assertUint32Array(acc, 'acc');
  assertLength(v, acc.length, 'v');
  assertBits(bits);
  // The high bits any element sets; `>>> 0`-free because 0 for 32 bits means "all fit".
  const high = bits === 32 ? 0 : ~((1 << bits) - 1);
  const a = new Int32Array(acc.buffer, acc.byteOffset, acc.length);
  const b = new Int32Array(v.buffer, v.byteOffset, v.length);
  const n = a.length;
  let any = 0;
  let i = 0;
  for (const end = n & ~3; i < end; i += 4) {
    const b0 = b[i] as number;
    const b1 = b[i + 1] as number;
    const b2 = b[i + 2] as number;
    const b3 = b[i + 3] as number;
    any |= b0 | b1 | b2 | b3;
    a[i] = ((a[i] as number) + b0) | 0;
    a[i + 1] = ((a[i + 1] as number) + b1) | 0;
    a[i + 2] = ((a[i + 2] as number) + b2) | 0;
    a[i + 3] = ((a[i + 3] as number) + b3) | 0;
  }
  for (; i < n; i++) {
    const bi = b[i] as number;
    any |= bi;
    a[i] = ((a[i] as number) + bi) | 0;
  }
  if ((any & high) === 0) return -1;
  subInto(acc, v);
  return firstOutOfRange(v, bits);
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
  subInt32Words(
    new Int32Array(acc.buffer, acc.byteOffset, acc.length),
    new Int32Array(v.buffer, v.byteOffset, v.length),
    0,
    acc.length,
  );
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
  // OR the high bits of every element together (Int32 view: no element is boxed as a double), and
  // look for the culprit only when there is one.
  const high = ~((1 << bits) - 1);
  const w = new Int32Array(v.buffer, v.byteOffset, v.length);
  const n = w.length;
  let any = 0;
  let i = 0;
  for (const end = n & ~7; i < end; i += 8) {
    any |=
      ((w[i] as number) |
        (w[i + 1] as number) |
        (w[i + 2] as number) |
        (w[i + 3] as number) |
        (w[i + 4] as number) |
        (w[i + 5] as number) |
        (w[i + 6] as number) |
        (w[i + 7] as number)) &
      high;
  }
  for (; i < n; i++) any |= (w[i] as number) & high;
  if (any === 0) return -1;
  for (let j = 0; j < n; j++) if (((w[j] as number) & high) !== 0) return j;
  return -1;
}
