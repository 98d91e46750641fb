/**
 * The natural logarithm and exponential of fdlibm 5.3 (Sun Microsystems, 1993; `e_log.c` and
 * `e_exp.c`, the functions Java's `StrictMath.log` and `StrictMath.exp` are specified to return),
 * ported operation for operation, so that the random draws of the privacy mechanisms that depend on
 * a logarithm or an exponential are reproducible bit for bit in any language (docs/PROTOCOL.md §11.1).
 *
 * Why not `Math.log` / `Math.exp`: ECMAScript leaves their results implementation-approximated, and
 * they do change. V8 computed both with fdlibm ports until 2024 and now takes `log` from LLVM's libc
 * (correctly rounded), with `exp(1)` special-cased; glibc, musl, Apple's libm and CORE-MATH each round
 * some arguments differently in the last bit. The Poisson and Gaussian samplers compare such results
 * against uniforms, so a one-ulp difference flips an acceptance now and then, and a client in another
 * language (or on another Node version) would then draw different noise from the same random bytes —
 * harmless for privacy, but it breaks the test vectors. fdlibm needs nothing beyond IEEE-754 binary64
 * arithmetic with round-to-nearest (no fused multiply-add) and 32-bit integer operations on the words
 * of a double, so every port returns the same bits.
 *
 * Cost: a call is about as fast as the builtin once optimized; the samplers call these on the slow
 * paths only (PTRS's acceptance test, the Gaussian's once per pair).
 * @module
 */

// The two 32-bit halves of a double, through a shared buffer. The index of the high word follows the
// host's byte order, so the port is correct on either.
const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);
const HI = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** The double whose high and low 32-bit words are given: fdlibm's constants, from their exact bits. */
function fromWords(high: number, low: number): number {
  i32[HI] = high | 0;
  i32[LO] = low | 0;
  return f64[0]!;
}

/**
 * 2^e for e in [−1074, 1023], exactly. fdlibm changes a double's exponent by writing its high word;
 * multiplying by an exact power of two gives the same bits whenever the result is normal (it is,
 * everywhere it is used below), and is much faster in JavaScript than a 32-bit store followed by a
 * 64-bit load of the same memory (which defeats the CPU's store forwarding).
 */
const POW2_BIAS = 1074;
const POW2 = new Float64Array(POW2_BIAS + 1024);
POW2[POW2_BIAS] = 1;
// Doubling and halving are exact (subnormal powers of two included), whatever the engine's `**` does.
for (let e = 1; e <= 1023; e++) POW2[POW2_BIAS + e] = 2 * POW2[POW2_BIAS + e - 1]!;
for (let e = -1; e >= -1074; e--) POW2[POW2_BIAS + e] = 0.5 * POW2[POW2_BIAS + e + 1]!;

// ---- log (e_log.c) ---------------------------------------------------------------------------------

const LN2_HI = fromWords(0x3fe62e42, 0xfee00000); // 6.93147180369123816490e-1: ln 2, high part: k·LN2_HI is exact for |k| < 2000
const LN2_LO = fromWords(0x3dea39ef, 0x35793c76); // 1.90821492927058770002e-10: ln 2 − LN2_HI
const TWO54 = fromWords(0x43500000, 0x00000000); // 1.8014398509481984e16: 2^54
const LG1 = fromWords(0x3fe55555, 0x55555593); // 6.666666666666735130e-1
const LG2 = fromWords(0x3fd99999, 0x9997fa04); // 3.999999999940941908e-1
const LG3 = fromWords(0x3fd24924, 0x94229359); // 2.857142874366239149e-1
const LG4 = fromWords(0x3fcc71c5, 0x1d8e78af); // 2.222219843214978396e-1
const LG5 = fromWords(0x3fc74664, 0x96cb03de); // 1.818357216161805012e-1
const LG6 = fromWords(0x3fc39a09, 0xd078c69f); // 1.531383769920937332e-1
const LG7 = fromWords(0x3fc2f112, 0xdf3e5244); // 1.479819860511658591e-1
const ONE_THIRD = fromWords(0x3fd55555, 0x55555555); // the C literal 0.33333333333333333

/**
 * ln x, exactly as fdlibm 5.3's `__ieee754_log` (error below 1 ulp; the same bits as Java's
 * `StrictMath.log`).
 * @param x - any number; ln(±0) = −∞, ln(x < 0) = NaN, ln(+∞) = +∞, ln(NaN) = NaN
 * @returns ln x
 * @example
 * ```ts
 * log(Math.E); // 1
 * ```
 */
export function log(x: number): number {
  f64[0] = x;
  let hx = i32[HI]!;
  let k = 0;
  if (hx < 0x0010_0000) {
    // x < 2^−1022: zero, negative or subnormal.
    if (((hx & 0x7fff_ffff) | i32[LO]!) === 0) return -Infinity;
    if (hx < 0) return NaN;
    k -= 54;
    x *= TWO54; // scale a subnormal up
    f64[0] = x;
    hx = i32[HI]!;
  }
  if (hx >= 0x7ff0_0000) return x + x;
  const e = (hx >> 20) - 1023;
  hx &= 0x000f_ffff;
  const i = (hx + 0x95f64) & 0x10_0000;
  // fdlibm sets the high word to hx | (i ^ 0x3ff00000): x/2^e, or x/2^(e+1) when its mantissa is at
  // least √2 (i = 2^20), so that √2/2 ≤ x < √2. Dividing by that power of two is the same, exactly.
  x *= POW2[POW2_BIAS - e - (i >> 20)]!;
  k += e + (i >> 20);
  const f = x - 1;
  if ((0x000f_ffff & (2 + hx)) < 3) {
    // |f| < 2^−20
    if (f === 0) {
      if (k === 0) return 0;
      const dk = k;
      return dk * LN2_HI + dk * LN2_LO;
    }
    const r = f * f * (0.5 - ONE_THIRD * f);
    if (k === 0) return f - r;
    const dk = k;
    return dk * LN2_HI - (r - dk * LN2_LO - f);
  }
  const s = f / (2 + f);
  const dk = k;
  const z = s * s;
  let i2 = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  i2 |= j;
  const r = t2 + t1;
  if (i2 > 0) {
    const hfsq = 0.5 * f * f;
    if (k === 0) return f - (hfsq - s * (hfsq + r));
    return dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
  }
  if (k === 0) return f - s * (f - r);
  return dk * LN2_HI - (s * (f - r) - dk * LN2_LO - f);
}

// ---- exp (e_exp.c) ---------------------------------------------------------------------------------

const O_THRESHOLD = fromWords(0x40862e42, 0xfefa39ef); // 7.09782712893383973096e2: above this e^x overflows
const U_THRESHOLD = fromWords(0xc0874910, 0xd52d3051); // -7.45133219101941108420e2: below this e^x underflows to 0
const INV_LN2 = fromWords(0x3ff71547, 0x652b82fe); // 1.44269504088896338700: 1/ln 2
const TWO_M1000 = fromWords(0x01700000, 0x00000000); // 9.33263618503218878990e-302: 2^−1000
const P1 = fromWords(0x3fc55555, 0x5555553e); // 1.66666666666666019037e-1
const P2 = fromWords(0xbf66c16c, 0x16bebd93); // -2.77777777770155933842e-3
const P3 = fromWords(0x3f11566a, 0xaf25de2c); // 6.61375632143793436117e-5
const P4 = fromWords(0xbebbbd41, 0xc5d26bf1); // -1.65339022054652515390e-6
const P5 = fromWords(0x3e663769, 0x72bea4d0); // 4.13813679705723846039e-8

/**
 * e^x, exactly as fdlibm 5.3's `__ieee754_exp` (error below 1 ulp; the same bits as Java's
 * `StrictMath.exp`).
 * @param x - any number; e^+∞ = +∞, e^−∞ = 0, e^NaN = NaN
 * @returns e^x
 * @example
 * ```ts
 * exp(0); // 1
 * ```
 */
export function exp(x: number): number {
  f64[0] = x;
  let hx = i32[HI]!;
  const negative = hx < 0; // fdlibm's xsb
  hx &= 0x7fff_ffff;
  if (hx >= 0x4086_2e42) {
    // |x| ≥ 709.78…: non-finite, or the result over- or underflows
    if (hx >= 0x7ff0_0000) {
      if (((hx & 0xf_ffff) | i32[LO]!) !== 0) return x + x; // NaN
      return negative ? 0 : x;
    }
    if (x > O_THRESHOLD) return Infinity;
    if (x < U_THRESHOLD) return 0;
  }
  let hi = 0;
  let lo = 0;
  let k = 0;
  if (hx > 0x3fd6_2e42) {
    // |x| > ln2/2: reduce to x = k·ln2 + r, |r| ≤ ln2/2
    if (hx < 0x3ff0_a2b2) {
      // and |x| < 1.5·ln2
      hi = negative ? x + LN2_HI : x - LN2_HI;
      lo = negative ? -LN2_LO : LN2_LO;
      k = negative ? -1 : 1;
    } else {
      k = Math.trunc(INV_LN2 * x + (negative ? -0.5 : 0.5)); // C's (int) conversion truncates
      const t = k;
      hi = x - t * LN2_HI; // exact
      lo = t * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e30_0000) {
    // |x| < 2^−28
    return 1 + x;
  }
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - (lo - (x * c) / (2 - c) - hi);
  // Add k to y's exponent: fdlibm adds k·2^20 to the high word, which is y·2^k, exactly, while the
  // result is normal; below 2^−1021 it first scales to a normal y·2^(k+1000), then rounds once.
  if (k === 1024) return y * 2 * POW2[POW2_BIAS + 1023]!; // y < 1 here: y·2^1024 is finite
  if (k >= -1021) return y * POW2[POW2_BIAS + k]!;
  return y * POW2[POW2_BIAS + k + 1000]! * TWO_M1000;
}
