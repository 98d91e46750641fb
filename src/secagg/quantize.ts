/**
 * Float vectors to the ring and back (docs/PROTOCOL.md §8). A client clips each value to `[−c, c]`,
 * multiplies by the scale `s`, rounds stochastically to an integer `q` and sends `q mod 2^bits` (two's
 * complement). The server decodes the sum of `m` clients by reading it as a signed integer in
 * `[−2^(bits−1), 2^(bits−1))` and dividing by `s`.
 *
 * Stochastic rounding is unbiased (E[q] = x·s), so the rounding errors of many clients cancel in the
 * sum instead of piling up the way round-to-nearest's do on values that share a fractional part.
 *
 * The decoded sum is right only if no partial sum wraps around: each |q| ≤ ⌈c·s⌉, so `m·⌈c·s⌉ ≤
 * 2^(bits−1) − 1` is required. {@link maxScale} gives the largest scale that satisfies it exactly
 * (in real arithmetic, not just in floating point) and {@link quantize} refuses anything larger.
 * @module
 */
import { assertBits } from './ring.ts';
import type { Rng } from './types.ts';

/** Parameters of {@link quantize}. */
export interface QuantizeOptions {
  /** Ring bit width, 2..32 (one bit for the sign, at least one for the value). */
  readonly bits: number;
  /** Clip bound c > 0: values are clipped to [−c, c] first. */
  readonly clip: number;
  /** Scale s > 0, at most {@link maxScale}(bits, clip, clients): one unit of the ring is 1/s. */
  readonly scale: number;
  /** Maximum number of clients whose vectors will be summed, ≥ 1. */
  readonly clients: number;
}

/**
 * The largest scale `s` with `clients · ⌈clip · s⌉ ≤ 2^(bits−1) − 1`, the condition under which the
 * sum of `clients` quantized vectors cannot wrap around (§8).
 *
 * The condition is evaluated exactly on the binary values of `clip` and `s`: the naive
 * `K / clip` (with `K = ⌊(2^(bits−1) − 1) / clients⌋`) can round up so that `clip · s` lands just
 * above `K` (e.g. bits 8, clip 0.1: 127 / 0.1 = 1270, but the double 0.1 is slightly more than 1/10),
 * so the result is stepped down, and then up, one double at a time until it is the largest that holds.
 * @param bits - ring bit width, 2..32
 * @param clip - clip bound, a finite number > 0
 * @param clients - maximum number of summands, an integer in 1..2^(bits−1) − 1
 * @returns the largest admissible scale, a finite number > 0
 * @throws TypeError if an argument is not a number; RangeError if one is out of range, including
 *   more clients than `2^(bits−1) − 1` (then not even scale → 0 can avoid wrap-around)
 * @example
 * ```ts
 * maxScale(16, 1, 3); // 10922: 3 · 10922 = 32766 ≤ 32767
 * maxScale(8, 0.1, 1) < 1270; // true: 0.1 · 1270 > 127 in exact arithmetic
 * ```
 */
export function maxScale(bits: number, clip: number, clients: number): number {
  assertBits(bits, 'bits', 2);
  assertPositive(clip, 'clip');
  assertClients(clients, 'clients');
  const limit = 2 ** (bits - 1) - 1;
  // m · ⌈c·s⌉ ≤ limit  ⟺  ⌈c·s⌉ ≤ ⌊limit / m⌋ = k  ⟺  c·s ≤ k (k is an integer).
  const k = Math.floor(limit / clients);
  if (k < 1) {
    throw new RangeError(`clients must be at most 2^(bits-1)-1 = ${limit} for ${bits} bits, got ${clients}`);
  }
  let s = k / clip;
  if (s === Number.POSITIVE_INFINITY) s = Number.MAX_VALUE; // a subnormal clip: any finite scale fits
  while (!productAtMost(clip, s, k)) s = nextDown(s);
  for (let up = nextUp(s); up < Number.POSITIVE_INFINITY && productAtMost(clip, up, k); up = nextUp(s)) {
    s = up;
  }
  return s;
}

/**
 * Quantizes a float vector into Z/2^bits (§8): clip to `[−clip, clip]`, multiply by `scale`, round
 * stochastically and store `q mod 2^bits`.
 *
 * Rounding: with `v = x · scale` and `f = v − ⌊v⌋`, the element is `⌊v⌋ + 1` iff `u < f · 2^32`,
 * where `u` is the next little-endian u32 of the random stream, else `⌊v⌋`. All `4 · length` random
 * bytes are drawn in one `rng.randomBytes` call (so the stream use is fixed by the length, which keeps
 * test vectors reproducible); nothing is drawn if an argument is rejected. The random bytes are zeroed
 * after use (best effort: they and the output together reveal more about the input than the output).
 * @param values - the float vector; not modified. Every element must be finite.
 * @param options - bit width, clip bound, scale and the maximum number of summands
 * @param rng - randomness for the rounding; `systemRng` (./rng.ts) in production
 * @returns a fresh `Uint32Array` of elements below 2^bits
 * @throws TypeError if `values` is not a Float32Array/Float64Array, `options` not an object, a field
 *   not a number, `rng` has no `randomBytes` or it returns no Uint8Array; RangeError if a field is out of range, `scale >
 *   maxScale(bits, clip, clients)`, an element is NaN or infinite (its index is named), or the rng
 *   returns the wrong number of bytes
 * @example
 * ```ts
 * const q = quantize(Float64Array.of(0.5, -1), { bits: 16, clip: 1, scale: 1024, clients: 10 }, systemRng);
 * // q = [512, 65536 − 1024]
 * ```
 */
export function quantize(
  values: Float32Array | Float64Array,
  options: QuantizeOptions,
  rng: Rng,
): Uint32Array {
  if (!(values instanceof Float64Array || values instanceof Float32Array)) {
    throw new TypeError(`values must be a Float64Array or Float32Array, got ${kind(values)}`);
  }
  assertOptions(options);
  const { bits, clip, scale, clients } = options;
  assertBits(bits, 'options.bits', 2);
  assertPositive(clip, 'options.clip');
  assertPositive(scale, 'options.scale');
  assertClients(clients, 'options.clients');
  if (typeof rng !== 'object' || rng === null || typeof rng.randomBytes !== 'function') {
    throw new TypeError(`rng must be an object with a randomBytes method, got ${kind(rng)}`);
  }
  const bound = maxScale(bits, clip, clients);
  if (scale > bound) {
    throw new RangeError(
      `options.scale = ${scale} could overflow: ${clients} clients · ⌈clip · scale⌉ must be ≤ ` +
        `2^(bits-1)-1 = ${2 ** (bits - 1) - 1}, so with clip = ${clip} and ${bits} bits the scale must be ` +
        `≤ maxScale = ${bound}`,
    );
  }
  const n = values.length;
  // Validate before drawing randomness, so that a rejected call leaves the rng's stream untouched.
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`values[${i}] is ${values[i]}; only finite numbers can be quantized`);
    }
  }
  const random = rng.randomBytes(4 * n);
  if (!(random instanceof Uint8Array)) {
    throw new TypeError(`rng.randomBytes must return a Uint8Array, got ${kind(random)}`);
  }
  if (random.length !== 4 * n) {
    throw new RangeError(`rng.randomBytes(${4 * n}) returned ${random.length} bytes`);
  }
  // DataView reads little-endian at any alignment, whatever the host byte order.
  const u32 = new DataView(random.buffer, random.byteOffset, random.byteLength);
  // `q & mask` keeps the low `bits` bits of q's two's complement; for 32 bits the mask is −1 as an
  // int32 and leaves q whole, and the Uint32Array store wraps a negative q mod 2^32.
  const mask = 0xffff_ffff >>> (32 - bits);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const x = Math.min(clip, Math.max(-clip, values[i]!)); // no NaN here, so min/max clip exactly
    // |x| ≤ clip and rounding is monotone, so |v| ≤ fl(clip · scale) ≤ k (maxScale's guarantee) and
    // ⌈v⌉ stays within the bound.
    const v = x * scale;
    const floor = Math.floor(v);
    // Round up iff u < f · 2^32, computed without a branch (a data-dependent branch on random input is
    // mispredicted half the time, which doubled the run time): d = u − f · 2^32 lies in (−2^32, 2^32)
    // and has the sign of the exact difference (a floating-point subtraction of unequal numbers never
    // rounds to 0 or flips sign), so ⌊d / 2^32⌋ is −1 when rounding up and 0 otherwise.
    const d = u32.getUint32(4 * i, true) - (v - floor) * 2 ** 32;
    const q = floor - Math.floor(d * 2 ** -32);
    out[i] = q & mask;
  }
  random.fill(0);
  return out;
}

/**
 * Decodes a sum of quantized vectors (§8): each element is read as a signed integer in
 * `[−2^(bits−1), 2^(bits−1))` and divided by `scale`.
 * @param sum - the reduced sum mod 2^bits; not modified. Elements ≥ 2^bits are rejected, not reduced.
 * @param options - the bit width and scale the vectors were quantized with (a {@link QuantizeOptions}
 *   will do)
 * @returns a fresh `Float64Array`
 * @throws TypeError if `sum` is not a `Uint32Array` or an option is not a number; RangeError if an
 *   option is out of range or an element is ≥ 2^bits (its index is named)
 * @example
 * ```ts
 * dequantizeSum(Uint32Array.of(512, 65535), { bits: 16, scale: 1024 }); // [0.5, -1/1024]
 * ```
 */
export function dequantizeSum(
  sum: Uint32Array,
  options: { readonly bits: number; readonly scale: number },
): Float64Array {
  if (!(sum instanceof Uint32Array)) throw new TypeError(`sum must be a Uint32Array, got ${kind(sum)}`);
  assertOptions(options);
  const { bits, scale } = options;
  assertBits(bits, 'options.bits', 2);
  assertPositive(scale, 'options.scale');
  const max = 2 ** bits - 1;
  // Shifting the element's sign bit (bit bits−1) up to bit 31 and arithmetic-shifting back
  // sign-extends it: the two's complement reading, without a branch on the (random-looking) sign.
  const shift = 32 - bits;
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const z = sum[i]!;
    if (z > max) throw new RangeError(`sum[${i}] = ${z} is not below 2^${bits}`);
    out[i] = ((z << shift) >> shift) / scale;
  }
  return out;
}

/**
 * Reads an element of Z/2^bits as a two's complement integer in `[−2^(bits−1), 2^(bits−1))`.
 * @param value - an integer in `[0, 2^bits)`
 * @param bits - bit width, 1..32
 * @returns `value` if it is below 2^(bits−1), else `value − 2^bits`
 * @throws TypeError if an argument is not a number; RangeError if `bits` is not in 1..32 or `value`
 *   is not an integer in `[0, 2^bits)`
 * @example
 * ```ts
 * toSigned(255, 8); // -1
 * toSigned(127, 8); // 127
 * toSigned(0x8000_0000, 32); // -2147483648
 * ```
 */
export function toSigned(value: number, bits: number): number {
  assertBits(bits);
  if (typeof value !== 'number') throw new TypeError(`value must be a number, got ${typeof value}`);
  const modulus = 2 ** bits;
  if (!Number.isInteger(value) || value < 0 || value >= modulus) {
    throw new RangeError(`value must be an integer in [0, 2^${bits}), got ${value}`);
  }
  return value >= modulus / 2 ? value - modulus : value;
}

function assertOptions(options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${kind(options)}`);
  }
}

function assertPositive(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
}

function assertClients(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
  }
}

// ---- exact floating-point helpers -----------------------------------------------------------------

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * Whether `a · b ≤ k` holds exactly, for finite `a, b > 0` and an integer `k ≥ 0`. Each double is an
 * integer mantissa times a power of two, so the product is compared in BigInt without rounding.
 */
function productAtMost(a: number, b: number, k: number): boolean {
  const [ma, ea] = decompose(a);
  const [mb, eb] = decompose(b);
  const m = ma * mb;
  const e = ea + eb;
  return e >= 0 ? m << BigInt(e) <= BigInt(k) : m <= BigInt(k) << BigInt(-e);
}

/** `x = mantissa · 2^exponent` for a finite double x ≥ 0, exactly. */
function decompose(x: number): [bigint, number] {
  f64[0] = x;
  const raw = u64[0]!;
  const exponent = Number((raw >> 52n) & 0x7ffn);
  const fraction = raw & 0xf_ffff_ffff_ffffn;
  // Exponent field 0 is a subnormal (or zero): no implicit leading 1, and the exponent of the smallest
  // normal.
  return exponent === 0 ? [fraction, -1074] : [fraction | (1n << 52n), exponent - 1075];
}

/** The next double above a finite x > 0 (positive doubles are ordered like their bit patterns). */
function nextUp(x: number): number {
  f64[0] = x;
  u64[0] = u64[0]! + 1n;
  return f64[0];
}

/** The next double below a finite x > 0. */
function nextDown(x: number): number {
  f64[0] = x;
  u64[0] = u64[0]! - 1n;
  return f64[0];
}

/** What a value is, for error messages: `"Int32Array"`, `"Array"`, `"Null"`, `"Number"`, … */
function kind(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}
