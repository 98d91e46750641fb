/**
 * Shamir reconstruction when some shares may be wrong (docs/PROTOCOL.md §4.6, §5).
 *
 * The shares of a polynomial `f` of degree < t at m distinct points are a codeword of a Reed–Solomon
 * code of length m and dimension t, so wrong shares are errors in that codeword. The server calls this
 * only after its cheap path (interpolating the t lowest shares and checking the result against the
 * secret's commitment) has failed; `accept` is that check. What can be found:
 *
 * - m ≥ t + 2: Gao's decoder (S. Gao, *A new algorithm for decoding Reed-Solomon codes*, 2003) finds
 *   `f` when at most ⌊(m − t)/2⌋ shares are wrong, and the error locator's roots name them. Cost
 *   O(m²) field operations (an interpolation and a partial extended Euclid), no subset search.
 * - m = t + 1: one spare share, so the decoder above cannot correct anything; but with a check to
 *   tell the right secret from a wrong one, one wrong share is found by leaving each share out in
 *   turn. With λ the Lagrange coefficients at 0 of all m points, leaving share j out gives
 *   `s_j = A − B / x_j` with `A = Σ λ_i y_i`, `B = Σ λ_i x_i y_i` (from `λ_i^{S∖j} = λ_i (x_j − x_i)/x_j`),
 *   so the m candidates cost O(m²) small-integer products, m inversions and m checks.
 * - m = t: nothing to spare; a wrong share is detected (by `accept`) but cannot be found.
 *
 * More wrong shares than that and the answer is `undefined`: the caller aborts rather than guess.
 * A result is returned only if `accept` approves its secret, so a decoder that lands on another
 * codeword (possible beyond the bound) is never believed.
 *
 * BigInt arithmetic is not constant-time (see shamir.ts); this runs only on the server, on shares
 * the clients released to it for exactly this reconstruction.
 * @module
 */
import { invert } from '@noble/curves/abstract/modular.js';
import { assertInteger, describe } from '../encoding.ts';
import type { ClientId } from '../types.ts';
import { FIELD_PRIME, lagrangeCoefficientsAtZero } from './shamir.ts';

const P = FIELD_PRIME;

/** What {@link shamirDecode} found. */
export interface DecodedSharing {
  /** f(0): the shared secret, approved by the caller's check. */
  readonly secret: bigint;
  /** The ids whose shares are not on `f`, ascending; empty when every share was right. */
  readonly bad: readonly ClientId[];
}

/**
 * Finds the secret of a sharing with threshold `threshold` from `shares`, some of which may be wrong,
 * and names the wrong ones. See the module comment for how many wrong shares can be found.
 * @param shares - `{ id, value }` with distinct ids in [1, 2^32 − 1] and values in [0, p), at least
 *   `threshold` of them
 * @param threshold - t ≥ 2: the polynomial has degree < t
 * @param accept - tells the right secret from a wrong one (e.g. a commitment check); called at most
 *   m times
 * @returns the secret and the wrong shares' ids, or undefined when no secret `accept` approves can
 *   be found within the bounds
 * @throws TypeError for arguments of the wrong type; RangeError for fewer than `threshold` shares,
 *   invalid or repeated ids, or values out of range
 * @example const found = shamirDecode(shares, t, (b) => commits(b)); if (!found) abort();
 */
export function shamirDecode(
  shares: readonly { readonly id: ClientId; readonly value: bigint }[],
  threshold: number,
  accept: (secret: bigint) => boolean,
): DecodedSharing | undefined {
  if (!Array.isArray(shares)) throw new TypeError(`shares must be an array, got ${describe(shares)}`);
  assertInteger(threshold, 'threshold', 2, 0xffff_ffff);
  if (typeof accept !== 'function') throw new TypeError(`accept must be a function, got ${describe(accept)}`);
  const seen = new Set<number>();
  shares.forEach((share, i) => {
    if (typeof share !== 'object' || share === null) {
      throw new TypeError(`shares[${i}] must be an object, got ${describe(share)}`);
    }
    assertInteger(share.id, `shares[${i}].id`, 1, 0xffff_ffff);
    if (seen.has(share.id)) throw new RangeError(`shares has a duplicate id ${share.id}`);
    seen.add(share.id);
    if (typeof share.value !== 'bigint') {
      throw new TypeError(`shares[${i}].value must be a bigint, got ${describe(share.value)}`);
    }
    if (share.value < 0n || share.value >= P) throw new RangeError(`shares[${i}].value must be in [0, p)`);
  });
  const m = shares.length;
  if (m < threshold) throw new RangeError(`need at least threshold = ${threshold} shares, got ${m}`);
  const sorted = [...shares].sort((a, b) => a.id - b.id);
  const xs = sorted.map((s) => s.id);
  const ys = sorted.map((s) => s.value);
  if (m >= threshold + 2) return gao(xs, ys, threshold, accept);
  if (m === threshold + 1) return leaveOneOut(xs, ys, accept);
  const lambda = lagrangeCoefficientsAtZero(xs);
  const secret = dot(lambda, ys);
  return accept(secret) ? { secret, bad: [] } : undefined;
}

/** How many wrong shares among `m` {@link shamirDecode} is sure to find, with threshold `t`. */
export function correctableShares(m: number, t: number): number {
  if (m <= t) return 0;
  return m === t + 1 ? 1 : Math.floor((m - t) / 2);
}

// ---- m = t + 1: leave one out ------------------------------------------------------------------

function leaveOneOut(
  xs: readonly ClientId[],
  ys: readonly bigint[],
  accept: (secret: bigint) => boolean,
): DecodedSharing | undefined {
  const lambda = lagrangeCoefficientsAtZero(xs);
  const a = dot(lambda, ys);
  let b = 0n;
  for (let i = 0; i < xs.length; i++) b += ((lambda[i]! * ys[i]!) % P) * BigInt(xs[i]!);
  b %= P;
  // B = 0 exactly when all m shares lie on one polynomial of degree < t (its x^t coefficient is 0):
  // then every candidate is A.
  if (b === 0n) return accept(a) ? { secret: a, bad: [] } : undefined;
  // Otherwise the candidates differ pairwise (the x_j do), so at most one can pass a sound check.
  for (let j = 0; j < xs.length; j++) {
    const candidate = mod(a - b * invert(BigInt(xs[j]!), P));
    if (accept(candidate)) return { secret: candidate, bad: [xs[j]!] };
  }
  return undefined;
}

function dot(lambda: readonly bigint[], ys: readonly bigint[]): bigint {
  let sum = 0n;
  for (let i = 0; i < ys.length; i++) sum += lambda[i]! * ys[i]!;
  return sum % P;
}

// ---- m ≥ t + 2: Gao's decoder --------------------------------------------------------------------

/** A polynomial over GF(p), coefficients in [0, p) from degree 0 up, with no zero leading term. */
type Poly = bigint[];

function gao(
  xs: readonly ClientId[],
  ys: readonly bigint[],
  k: number,
  accept: (secret: bigint) => boolean,
): DecodedSharing | undefined {
  const n = xs.length;
  const g0 = fromRoots(xs);
  const g1 = interpolate(xs, ys, g0);
  // Partial extended Euclid on (g0, g1), tracking only g1's cofactor v: stop at the first remainder
  // of degree < (n + k)/2. Then g = u·g0 + v·g1, and f = g / v when at most (n − k)/2 shares are wrong.
  let r0 = g0;
  let r1 = g1;
  let v0: Poly = [];
  let v1: Poly = [1n];
  while (r1.length > 0 && 2 * (r1.length - 1) >= n + k) {
    const [q, r] = divMod(r0, r1);
    r0 = r1;
    r1 = r;
    const next = sub(v0, mul(q, v1));
    v0 = v1;
    v1 = next;
  }
  if (v1.length === 0) return undefined;
  const [f, remainder] = divMod(r1, v1);
  if (remainder.length > 0 || f.length > k) return undefined;
  // v is the error locator: its roots among the evaluation points are the wrong shares.
  const bad = xs.filter((x) => evaluate(v1, x) === 0n);
  if (bad.length !== v1.length - 1) return undefined;
  const secret = f[0] ?? 0n;
  return accept(secret) ? { secret, bad } : undefined;
}

function mod(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** Drops zero leading coefficients, in place. */
function trim(a: Poly): Poly {
  while (a.length > 0 && a[a.length - 1] === 0n) a.pop();
  return a;
}

/** Π (x − x_i), monic of degree n. The x_i are small (< 2^32), so each step is a cheap product. */
function fromRoots(xs: readonly number[]): Poly {
  let poly: Poly = [1n];
  for (const x of xs) {
    const r = BigInt(x);
    const next: Poly = new Array(poly.length + 1).fill(0n);
    for (let i = 0; i < poly.length; i++) {
      next[i + 1] = next[i + 1]! + poly[i]!;
      next[i] = next[i]! - r * poly[i]!;
    }
    poly = next.map(mod);
  }
  return poly;
}

/**
 * The polynomial of degree < n through (x_i, y_i): Σ y_i w_i · g0 / (x − x_i), with barycentric
 * weights w_i = 1 / Π_{j≠i} (x_i − x_j) inverted together (one inversion in all), and each quotient
 * g0 / (x − x_i) by synthetic division (products by a small x_i). O(n²).
 */
function interpolate(xs: readonly number[], ys: readonly bigint[], g0: Poly): Poly {
  const n = xs.length;
  const denominators = xs.map((xi, i) => {
    let d = 1n;
    for (let j = 0; j < n; j++) if (j !== i) d = (d * BigInt(xi - xs[j]!)) % P;
    return mod(d);
  });
  const weights = invertAll(denominators);
  const acc: bigint[] = new Array(n).fill(0n);
  const quotient: bigint[] = new Array(n).fill(0n);
  for (let i = 0; i < n; i++) {
    const c = (ys[i]! * weights[i]!) % P;
    if (c === 0n) continue;
    const xi = BigInt(xs[i]!);
    // g0 = (x − x_i)·Q: Q[n−1] = g0[n] = 1, Q[d−1] = g0[d] + x_i·Q[d].
    quotient[n - 1] = 1n;
    for (let d = n - 1; d >= 1; d--) quotient[d - 1] = (g0[d]! + xi * quotient[d]!) % P;
    // Products are < 2^510; reduced once per coefficient at the end.
    for (let d = 0; d < n; d++) acc[d] = acc[d]! + c * quotient[d]!;
  }
  return trim(acc.map((a) => a % P));
}

/** Montgomery's trick: every inverse for one inversion. The values are non-zero. */
function invertAll(values: readonly bigint[]): bigint[] {
  const prefix: bigint[] = [];
  let running = 1n;
  for (const v of values) {
    running = (running * v) % P;
    prefix.push(running);
  }
  let inverse = invert(running, P);
  const out: bigint[] = new Array(values.length);
  for (let i = values.length - 1; i >= 0; i--) {
    out[i] = i === 0 ? inverse : (inverse * prefix[i - 1]!) % P;
    inverse = (inverse * values[i]!) % P;
  }
  return out;
}

function divMod(a: Poly, b: Poly): [Poly, Poly] {
  const db = b.length - 1;
  if (a.length - 1 < db) return [[], a.slice()];
  const r = a.slice();
  const q: bigint[] = new Array(a.length - db).fill(0n);
  const lead = invert(b[db]!, P);
  for (let i = a.length - 1; i >= db; i--) {
    const coefficient = (r[i]! * lead) % P;
    if (coefficient === 0n) continue;
    q[i - db] = coefficient;
    for (let j = 0; j <= db; j++) r[i - db + j] = mod(r[i - db + j]! - coefficient * b[j]!);
  }
  return [trim(q), trim(r.slice(0, db))];
}

function mul(a: Poly, b: Poly): Poly {
  if (a.length === 0 || b.length === 0) return [];
  const out: bigint[] = new Array(a.length + b.length - 1).fill(0n);
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < b.length; j++) out[i + j] = out[i + j]! + a[i]! * b[j]!;
  return trim(out.map((c) => c % P));
}

function sub(a: Poly, b: Poly): Poly {
  const out: bigint[] = new Array(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = mod((a[i] ?? 0n) - (b[i] ?? 0n));
  return trim(out);
}

/** a(x) by Horner's rule. */
function evaluate(a: Poly, x: number): bigint {
  const bx = BigInt(x);
  let acc = 0n;
  for (let i = a.length - 1; i >= 0; i--) acc = (acc * bx + a[i]!) % P;
  return acc;
}
