/**
 * Privacy loss distributions (PLDs) on a grid, their composition, and the (ε, δ) they certify —
 * the numerical accountant of Koskela, Jälkö, Honkela (AISTATS 2020) and Doroshenko, Ghazi, Kamath,
 * Kumar, Manurangsi, "Connect the Dots: Tighter Discrete Approximations of Privacy Loss
 * Distributions" (PETS 2022), as in Google's dp_accounting `PLDAccountant`, built so that every
 * number it reports is an upper bound.
 *
 * A pair (A, B) of output distributions (the mechanism on two neighbouring inputs) has privacy loss
 * L = log(A/B) and, at every ε, δ(ε) = H_{e^ε}(A‖B) = E_A[(1 − e^{ε−L})₊], counting the mass where
 * B = 0 as L = +∞. A {@link PldPmf} stores the law of L under A on the grid {kΔ}, plus the mass at +∞.
 * Its pairs are "dominating" ones: built (./pld-mechanisms.ts) so that their δ(ε) is at least the
 * mechanism's at every ε ∈ ℝ, which makes them Blackwell-dominate the mechanism's pair and so keeps
 * them upper bounds under composition. Composition of independent releases adds their losses: the
 * PMFs convolve, here by FFT.
 *
 * Where the pessimism goes (each adds to the mass at +∞, which adds to δ at every ε):
 * - tails: before a T-fold composition the window of the result is chosen by Chernoff's bound on the
 *   sum of T losses, so that at most {@link TAIL_MASS} lies above it; that bound is added. Mass below
 *   the window wraps around the circular convolution to higher losses (pessimistic as it is);
 * - floating point: the FFT's error (./fft.ts, Higham's bound), propagated through the T-th power,
 *   bounds the ℓ1 error of the computed PMF; that bound is added, and negative rounding residue is
 *   dropped.
 * @module
 */
import { fft, fftRelativeError } from './fft.ts';

const U = 2 ** -53;

/** Upper-tail mass a composition may cut off (added to δ as mass at +∞). */
export const TAIL_MASS = 1e-20;

/** Default grid interval of the privacy loss (dp_accounting's default as well). */
export const DEFAULT_PLD_INTERVAL = 1e-4;

/** A privacy loss distribution on the grid {kΔ}: `probs[i]` is the mass at loss (offset + i)·Δ. */
export interface PldPmf {
  /** Δ, the grid interval of the loss. */
  readonly interval: number;
  /** The grid index of probs[0]. */
  readonly offset: number;
  /** Masses, ≥ 0. With `infinityMass` they sum to 1, or a little more where allowances were added. */
  readonly probs: Float64Array;
  /** Mass at +∞ (outputs only one side can produce, truncated tails, numerical-error allowances). */
  readonly infinityMass: number;
}

/** Builds a frozen {@link PldPmf}, trimming zero masses at both ends. */
export function pldPmf(interval: number, offset: number, probs: Float64Array, infinityMass: number): PldPmf {
  let lo = 0;
  let hi = probs.length;
  while (lo < hi && !(probs[lo]! > 0)) lo++;
  while (hi > lo && !(probs[hi - 1]! > 0)) hi--;
  const trimmed = lo === 0 && hi === probs.length ? probs : probs.slice(lo, hi);
  return Object.freeze({
    interval,
    offset: offset + lo,
    probs: trimmed,
    infinityMass: Math.min(1, Math.max(0, infinityMass)),
  });
}

function sumOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

function norm2(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(2, n)));
}

/**
 * The PMF compressed for Chernoff bounds: blocks of consecutive indices, each with its total mass
 * and its lowest and highest index. Bounding e^{t·i} within a block by its value at the block's
 * highest index (t > 0) or lowest (t < 0) keeps the moment generating function an upper bound.
 */
function blocks(probs: Float64Array): { logMass: Float64Array; lo: Float64Array; hi: Float64Array } {
  const size = Math.max(1, Math.ceil(probs.length / 2048));
  const count = Math.ceil(probs.length / size);
  const logMass = new Float64Array(count);
  const lo = new Float64Array(count);
  const hi = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    let mass = 0;
    const start = b * size;
    const end = Math.min(probs.length, start + size);
    for (let i = start; i < end; i++) mass += probs[i]!;
    logMass[b] = Math.log(mass);
    lo[b] = start;
    hi[b] = end - 1;
  }
  return { logMass, lo, hi };
}

/** An upper bound on log E[e^{t·I}] of the index I (relative to the first entry). */
function logMgf(b: ReturnType<typeof blocks>, t: number): number {
  const edge = t > 0 ? b.hi : b.lo;
  let max = -Infinity;
  for (let i = 0; i < edge.length; i++) max = Math.max(max, b.logMass[i]! + t * edge[i]!);
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < edge.length; i++) s += Math.exp(b.logMass[i]! + t * edge[i]! - max);
  return max + Math.log(s);
}

/**
 * Chernoff bounds on the sum S of `count` independent indices of `probs`: a b with
 * P(S > b) ≤ `tail`, and an a with P(S < a) ≤ `tail` (the latter only sizes the window).
 */
function sumWindow(probs: Float64Array, count: number, tail: number): { lo: number; hi: number } {
  const m = probs.length;
  const total = count * (m - 1);
  const logTail = Math.log(tail);
  const b = blocks(probs);
  const upper = (t: number) => (count * logMgf(b, t) - logTail) / t; // P(S ≥ ·) ≤ tail beyond it
  const lower = (t: number) => -(count * logMgf(b, -t) - logTail) / t;
  // Both are unimodal in log t; a coarse scan, then a golden-section refinement around the best.
  const search = (f: (t: number) => number, better: (x: number, y: number) => boolean): number => {
    let bestE = -40;
    let best = f(2 ** bestE);
    for (let e = -39; e <= 10; e++) {
      const v = f(2 ** e);
      if (better(v, best)) {
        best = v;
        bestE = e;
      }
    }
    let a = bestE - 1;
    let c = bestE + 1;
    for (let i = 0; i < 30; i++) {
      const x = a + 0.382 * (c - a);
      const y = a + 0.618 * (c - a);
      if (better(f(2 ** x), f(2 ** y))) c = y;
      else a = x;
    }
    const v = f(2 ** ((a + c) / 2));
    return better(v, best) ? v : best;
  };
  const hi = Math.ceil(search(upper, (x, y) => x < y));
  const lo = Math.floor(search(lower, (x, y) => x > y));
  return {
    lo: Math.max(0, Math.min(Number.isFinite(lo) ? lo : 0, total)),
    hi: Math.max(0, Math.min(Number.isFinite(hi) ? hi : total, total)),
  };
}

/**
 * The PLD of `count` independent repetitions of `pmf`: its FFT raised to the count-th power, on a
 * window chosen by Chernoff's bound (see the module comment for what is added to the mass at +∞).
 * @throws RangeError if `count` is not a non-negative integer or the window exceeds `maxLength`
 */
export function selfCompose(pmf: PldPmf, count: number, maxLength = 2 ** 24): PldPmf {
  if (!Number.isSafeInteger(count) || count < 0)
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (count === 0) return pldPmf(pmf.interval, 0, Float64Array.of(1), 0);
  if (count === 1) return pmf;
  const p = pmf.probs;
  const finite = 1 - pmf.infinityMass;
  const { lo, hi } = sumWindow(p, count, TAIL_MASS);
  const length = hi - lo + 1;
  const n = nextPow2(length);
  if (n > maxLength) {
    throw new RangeError(
      `composing ${count} times needs ${length} grid points (interval ${pmf.interval}); use a coarser interval`,
    );
  }
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  // Fold the step's PMF circularly into n (what a circular convolution of length n sees anyway).
  for (let i = 0; i < p.length; i++) re[i % n] = re[i % n]! + p[i]!;
  fft(re, im);
  for (let k = 0; k < n; k++) {
    const r = Math.hypot(re[k]!, im[k]!);
    if (r === 0) {
      re[k] = 0;
      im[k] = 0;
      continue;
    }
    const theta = Math.atan2(im[k]!, re[k]!);
    const magnitude = Math.exp(count * Math.log(r));
    const angle = (count * theta) % (2 * Math.PI);
    re[k] = magnitude * Math.cos(angle);
    im[k] = magnitude * Math.sin(angle);
  }
  fft(re, im, true);
  // Read all n positions as the losses lo … lo + n − 1: every residue class is kept, mass from below lo
  // lands higher (pessimistic) and only mass above hi (≤ TAIL_MASS, added below) can land lower.
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const v = re[(lo + j) % n]! / n;
    out[j] = v > 0 ? v : 0;
  }
  // ℓ1 error of the computed PMF: √n·‖error‖₂ with ‖error‖₂ ≤ T·η·‖p‖₂·(1 + 1%) from the forward
  // transform's error raised to the T-th power, (πT + 1)·u per coefficient from the polar power,
  // and η·‖y‖₂ ≤ η from the inverse transform (./fft.ts).
  const eta = fftRelativeError(n);
  const numerical = Math.sqrt(n) * (1.01 * count * eta * norm2(p) + (Math.PI * count + 1) * U + 2 * eta);
  const infinity = 1 - finite ** count + TAIL_MASS + numerical;
  return pldPmf(pmf.interval, count * pmf.offset + lo, out, infinity);
}

/**
 * The PLD of two independent releases: the linear convolution of the PMFs (directly when small, by
 * FFT otherwise, with the FFT's error bound added at +∞).
 * @throws RangeError if the grids differ
 */
export function convolve(a: PldPmf, b: PldPmf): PldPmf {
  if (a.interval !== b.interval) throw new RangeError('cannot compose PLDs on different grids');
  const la = a.probs.length;
  const lb = b.probs.length;
  const length = la + lb - 1;
  const infinity = 1 - (1 - a.infinityMass) * (1 - b.infinityMass);
  const out = new Float64Array(length);
  let numerical = 0;
  if (Math.min(la, lb) <= 64) {
    for (let i = 0; i < la; i++) {
      const x = a.probs[i]!;
      for (let j = 0; j < lb; j++) out[i + j] = out[i + j]! + x * b.probs[j]!;
    }
    numerical = Math.min(la, lb) * 2 * U * sumOf(out);
  } else {
    const n = nextPow2(length);
    const ar = new Float64Array(n);
    const ai = new Float64Array(n);
    const br = new Float64Array(n);
    const bi = new Float64Array(n);
    ar.set(a.probs);
    br.set(b.probs);
    fft(ar, ai);
    fft(br, bi);
    for (let k = 0; k < n; k++) {
      const r = ar[k]! * br[k]! - ai[k]! * bi[k]!;
      const i = ar[k]! * bi[k]! + ai[k]! * br[k]!;
      ar[k] = r;
      ai[k] = i;
    }
    fft(ar, ai, true);
    for (let j = 0; j < length; j++) {
      const v = ar[j]! / n;
      out[j] = v > 0 ? v : 0;
    }
    const eta = fftRelativeError(n);
    numerical = Math.sqrt(n) * (3 * eta * norm2(a.probs) * norm2(b.probs) + 4 * U);
  }
  return pldPmf(a.interval, a.offset + b.offset, out, infinity + numerical);
}

/**
 * δ at ε: E[(1 − e^{ε−L})₊] over the PLD, plus its mass at +∞, plus (1 + e^ε)·`slack` for a total
 * variation distance `slack` between the mechanism and the one the PLD dominates (./skellam-gdp.ts).
 * Rounding in the sum is covered by a relative allowance of n·u.
 */
export function deltaForEpsilon(pmf: PldPmf, epsilon: number, slack = 0): number {
  const { interval, offset, probs } = pmf;
  let sum = 0;
  for (let i = probs.length - 1; i >= 0; i--) {
    const loss = (offset + i) * interval;
    if (loss <= epsilon) break;
    sum += probs[i]! * -Math.expm1(epsilon - loss);
  }
  const delta = pmf.infinityMass + sum * (1 + probs.length * U) + (1 + Math.exp(epsilon)) * slack;
  return Math.min(1, delta);
}

/**
 * The smallest ε ≥ 0 with δ(ε) ≤ `delta` (see {@link deltaForEpsilon}); +∞ if none.
 *
 * On each interval between consecutive grid losses, δ(ε) = a − e^ε·b with a = mass at +∞ + slack +
 * Σ_{L>ε} p(L) and b = Σ_{L>ε} p(L)·e^{−L} − slack, so each interval is solved in closed form. With
 * slack the bound grows again for large ε, but it is convex in e^ε, so the ε at which it first
 * reaches `delta`, scanning up from 0, is the answer.
 */
export function epsilonForDelta(pmf: PldPmf, delta: number, slack = 0): number {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  const { interval, offset, probs } = pmf;
  const n = probs.length;
  const roundUp = 1 + n * U;
  // Suffix sums: c[j] = Σ_{i ≥ j} p_i, d[j] = Σ_{i ≥ j} p_i·e^{−L_i}.
  const c = new Float64Array(n + 1);
  const d = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const p = probs[i]!;
    c[i] = c[i + 1]! + p;
    d[i] = d[i + 1]! + (p > 0 ? Math.exp(Math.log(p) - (offset + i) * interval) : 0);
  }
  const base = pmf.infinityMass + slack;
  for (let j = 0; j <= n; j++) {
    // The interval [L_{j−1}, L_j) on which exactly the losses L_j, L_{j+1}, … exceed ε.
    const right = j === n ? Infinity : (offset + j) * interval;
    if (right <= 0) continue;
    const left = j === 0 ? 0 : Math.max(0, (offset + j - 1) * interval);
    const a = base + c[j]! * roundUp;
    const b = d[j]! * roundUp - slack;
    if (a - Math.exp(left) * b <= delta) return left;
    if (b > 0) {
      const epsilon = Math.log((a - delta) / b);
      if (epsilon < right) return Math.max(left, epsilon);
    }
  }
  return Infinity;
}
