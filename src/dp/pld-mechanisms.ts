/**
 * Dominating privacy loss distributions (./pld.ts) of single mechanisms: the (Poisson-subsampled)
 * Gaussian mechanism and any (Poisson-subsampled) additive mechanism with integer noise given by its
 * PMF — the scalar Skellam mechanism among them — each for the two orders of a neighbouring pair.
 *
 * Neighbouring relation: add/remove one record with Poisson sampling at rate q (q = 1: no sampling).
 * With P the mechanism's output when the record is in the sample and Q when it is not, a round
 * outputs M = (1−q)·Q + q·P with the record in the data and Q without it. "remove" is the pair
 * (M, Q), "add" the pair (Q, M); ε is the larger of the two (as dp_accounting's PLD accountant
 * reports for add-or-remove). For q = 1 the two are the pairs (P, Q) and (Q, P).
 *
 * Discretisation: "connect the dots" (Doroshenko et al., PETS 2022, §4). Each bit of privacy loss at
 * l ∈ (kΔ, (k+1)Δ], carrying mass w under the first distribution and v = E[e^{−L}] under the second,
 * is split between the two grid points: b = (w·e^{−kΔ} − v)/(e^{−kΔ} − e^{−(k+1)Δ}) at (k+1)Δ and
 * w − b at kΔ, which keeps both masses. Its δ(ε) is then the same outside the cell and, inside,
 * the chord of the convex function w·(1 − e^{ε−l})₊ of e^ε, so never smaller: the discrete PLD
 * dominates the mechanism at every ε ∈ ℝ, and its error is second order in Δ (rounding every loss up,
 * the older pessimistic method, drifts by up to Δ per composed round). Rounding errors of b are
 * covered by moving a few ulps of mass up. Mass with loss below the grid's range is put at its lowest
 * point (rounding up); mass above it, and mass the first distribution has where the second has none,
 * at +∞.
 * @module
 */
import { logAdd } from './logmath.ts';
import { normalTail, normalTailQuantile } from './normal.ts';
import { type PldPmf, pldPmf } from './pld.ts';

/** Which order of a neighbouring pair (see the module comment). */
export type PldDirection = 'remove' | 'add';

const U = 2 ** -53;

/** Mass of the first distribution allowed beyond the computed range (put at +∞). */
const RANGE_TAIL = 1e-21;

/** The largest number of grid points one mechanism's PLD may have. */
const MAX_POINTS = 2 ** 23;

/** Collects connect-the-dots masses on grid indices [lowest, highest]. */
class Grid {
  readonly interval: number;
  readonly lowest: number;
  readonly probs: Float64Array;
  infinity = 0;
  readonly #spread: number;

  constructor(interval: number, lowest: number, highest: number) {
    if (highest - lowest + 1 > MAX_POINTS) {
      throw new RangeError(
        `the privacy loss spans ${highest - lowest + 1} grid points at interval ${interval}; use a coarser interval`,
      );
    }
    this.interval = interval;
    this.lowest = lowest;
    this.probs = new Float64Array(highest - lowest + 1);
    this.#spread = -Math.expm1(-interval); // 1 − e^{−Δ}
  }

  /** Mass w (first distribution) and v (second) of losses in the cell (kΔ, (k+1)Δ]. */
  cell(k: number, w: number, v: number): void {
    if (!(w > 0)) return;
    const i = k - this.lowest;
    if (i < 0) {
      this.probs[0]! += w; // below the range: rounded up to its lowest point
      return;
    }
    if (i + 1 >= this.probs.length) {
      this.infinity += w;
      return;
    }
    const scaled = v * Math.exp(k * this.interval);
    let b = (w - scaled) / this.#spread;
    b += (4 * U * (w + scaled)) / this.#spread; // rounding, towards the pessimistic side
    b = Math.min(w, Math.max(0, b));
    this.probs[i] = this.probs[i]! + (w - b);
    this.probs[i + 1] = this.probs[i + 1]! + b;
  }

  /** One atom of loss `loss` (may be ±∞) with masses w and v = w·e^{−loss}. */
  atom(loss: number, w: number, v: number): void {
    if (!(w > 0)) return;
    if (loss === Infinity) {
      this.infinity += w;
      return;
    }
    const k = Math.floor(loss / this.interval);
    if (k * this.interval === loss) {
      this.cell(k - 1, w, w * Math.exp(-k * this.interval)); // exactly on a grid point: all at k
      return;
    }
    this.cell(k, w, v);
  }

  build(extraInfinity = 0): PldPmf {
    return pldPmf(this.interval, this.lowest, this.probs, this.infinity + extraInfinity);
  }
}

function checkCommon(q: number, interval: number, direction: PldDirection): void {
  if (!(q > 0 && q <= 1)) throw new RangeError(`q must be in (0, 1], got ${q}`);
  if (!(interval > 0) || !Number.isFinite(interval))
    throw new RangeError(`interval must be a finite number > 0, got ${interval}`);
  if (direction !== 'remove' && direction !== 'add')
    throw new RangeError(`direction must be 'remove' or 'add', got ${String(direction)}`);
}

/**
 * The dominating PLD of the Gaussian mechanism with L2 sensitivity 1 and noise standard deviation
 * `sigma`, Poisson-subsampled at rate `q`, for one order of the neighbouring pair.
 *
 * With Q = N(0, σ²) and P = N(1, σ²) (one dimension suffices: only the component along the shift
 * carries information), the remove pair's loss is L(x) = log(1 − q + q·e^{(2x−1)/(2σ²)}), increasing
 * in x; the add pair's is −L(x) under Q. Each grid cell is the image of an x-interval from the
 * inverse of L, and its two masses are differences of normal tails (./normal.ts), one tail evaluation
 * per cell boundary.
 * @throws RangeError on a bad argument, or if the PLD would need more than 2^23 grid points
 */
export function gaussianPld(sigma: number, q: number, direction: PldDirection, interval: number): PldPmf {
  if (!(sigma > 0) || !Number.isFinite(sigma))
    throw new RangeError(`sigma must be a finite number > 0, got ${sigma}`);
  checkCommon(q, interval, direction);
  const s2 = sigma * sigma;
  const log1mQ = Math.log1p(-q); // −∞ when q = 1
  const z = normalTailQuantile(Math.log(RANGE_TAIL));
  // The remove pair's loss and its inverse (x as a function of the loss).
  const loss = (x: number) =>
    q === 1 ? (2 * x - 1) / (2 * s2) : Math.log1p(q * Math.expm1((2 * x - 1) / (2 * s2)));
  const inverse = (l: number) => {
    if (q === 1) return s2 * l + 0.5;
    const inner = Math.expm1(l) + q; // e^l − (1 − q)
    return inner > 0 ? s2 * Math.log(inner / q) + 0.5 : -Infinity;
  };
  if (direction === 'remove') {
    // First distribution M = (1−q)·N(0, σ²) + q·N(1, σ²), second Q = N(0, σ²).
    const lo = Math.floor(Math.max(loss(-z * sigma), q === 1 ? -Infinity : log1mQ) / interval);
    const hi = Math.ceil(loss(1 + z * sigma) / interval);
    const grid = new Grid(interval, lo, hi);
    const n0 = new NormalCuts(0, sigma);
    const n1 = new NormalCuts(1, sigma);
    n0.cut(inverse(lo * interval));
    n1.cut(n0.x);
    // Everything at or below the lowest grid loss goes to the lowest point.
    grid.cell(lo - 1, (1 - q) * n0.below() + q * n1.below(), 0);
    for (let k = lo; k < hi; k++) {
      const x1 = inverse((k + 1) * interval);
      const m0 = n0.advance(x1);
      grid.cell(k, (1 - q) * m0 + q * n1.advance(x1), m0);
    }
    return grid.build((1 - q) * n0.above() + q * n1.above());
  }
  // add: first distribution Q = N(0, σ²), second M; the loss −L(x) decreases in x, and is at most
  // −log(1 − q).
  const top = q === 1 ? Infinity : -log1mQ;
  const lo = Math.floor(-loss(z * sigma) / interval);
  const hi = Math.ceil(Math.min(-loss(-z * sigma), top) / interval);
  const grid = new Grid(interval, lo, hi);
  // −L(x) ≤ kΔ ⇔ x ≥ inverse(−kΔ); the cells are walked from large x down, so on the mirrored axis.
  const n0 = new NormalCuts(-0, sigma);
  const n1 = new NormalCuts(-1, sigma);
  n0.cut(-inverse(-lo * interval));
  n1.cut(n0.x);
  grid.cell(lo - 1, n0.below(), 0);
  for (let k = lo; k < hi; k++) {
    const x1 = -inverse(-(k + 1) * interval); // cell (kΔ, (k+1)Δ] ↔ x ∈ [−x1, previous)
    const m0 = n0.advance(x1);
    grid.cell(k, m0, (1 - q) * m0 + q * n1.advance(x1));
  }
  return grid.build(n0.above());
}

/**
 * Masses of N(mean, σ²) between successive cut points x₀ ≤ x₁ ≤ …, one tail evaluation per cut,
 * each from the tail on its own side of the mean (no 1 − 1 + ε cancellation far in a tail).
 */
class NormalCuts {
  x = -Infinity;
  #up = 1; // P(X > x)
  #down = 0; // P(X ≤ x)
  readonly #mean: number;
  readonly #sigma: number;

  constructor(mean: number, sigma: number) {
    this.#mean = mean;
    this.#sigma = sigma;
  }

  /** Moves to cut x without returning a mass. */
  cut(x: number): void {
    this.x = x;
    const z = (x - this.#mean) / this.#sigma;
    if (z >= 0) {
      this.#up = normalTail(z);
      this.#down = 1 - this.#up;
    } else {
      this.#down = normalTail(-z);
      this.#up = 1 - this.#down;
    }
  }

  /** Mass below the current cut. */
  below(): number {
    return this.#down;
  }

  /** Mass above the current cut. */
  above(): number {
    return this.#up;
  }

  /** Moves to cut x ≥ the current one; returns the mass in between. */
  advance(x: number): number {
    const up = this.#up;
    const down = this.#down;
    const wasUpper = this.x >= this.#mean;
    this.cut(x);
    if (wasUpper) return Math.max(0, up - this.#up); // both cuts in the upper half
    if (x <= this.#mean) return Math.max(0, this.#down - down); // both in the lower half
    return Math.max(0, 1 - this.#up - down);
  }
}

/** An integer-valued additive noise: log p(x) for x in [lowest, highest], and a bound on the rest. */
export interface IntegerNoise {
  /** The smallest value with mass. */
  readonly lowest: number;
  /** The largest value with mass. */
  readonly highest: number;
  /** log p(x) for lowest ≤ x ≤ highest (−∞ allowed). */
  logPmf(x: number): number;
  /** An upper bound on the noise's mass outside [lowest, highest] (0 for a finite support). */
  readonly outsideMass: number;
}

/**
 * The dominating PLD of an additive mechanism with integer noise X and sensitivity `shift` (the
 * output is X + s·shift for a record's contribution s ∈ {0, 1}), Poisson-subsampled at rate `q`.
 * P = law of X + shift, Q = law of X; every output value is one atom of the PLD. The noise's mass
 * outside its table goes to +∞.
 * @throws RangeError on a bad argument
 */
export function integerNoisePld(
  noise: IntegerNoise,
  shift: number,
  q: number,
  direction: PldDirection,
  interval: number,
): PldPmf {
  checkCommon(q, interval, direction);
  if (!Number.isSafeInteger(shift) || shift < 1)
    throw new RangeError(`shift must be an integer >= 1, got ${shift}`);
  const { lowest, highest } = noise;
  if (!Number.isSafeInteger(lowest) || !Number.isSafeInteger(highest) || highest < lowest)
    throw new RangeError('the noise support must be integers with lowest <= highest');
  const log1mQ = Math.log1p(-q);
  const logQ = Math.log(q);
  const at = (x: number) => (x >= lowest && x <= highest ? noise.logPmf(x) : -Infinity);
  const atoms: { loss: number; w: number; v: number }[] = [];
  let lossLo = Infinity;
  let lossHi = -Infinity;
  for (let x = lowest; x <= highest + shift; x++) {
    const lq = at(x);
    const lp = at(x - shift);
    // log M = log((1−q)·Q + q·P).
    const lm = q === 1 ? lp : logAdd(log1mQ + lq, logQ + lp);
    const [la, lb] = direction === 'remove' ? [lm, lq] : [lq, lm];
    if (la === -Infinity) continue;
    const loss = lb === -Infinity ? Infinity : la - lb;
    const w = Math.exp(la);
    atoms.push({ loss, w, v: lb === -Infinity ? 0 : Math.exp(lb) });
    if (Number.isFinite(loss)) {
      lossLo = Math.min(lossLo, loss);
      lossHi = Math.max(lossHi, loss);
    }
  }
  if (atoms.length === 0 || lossLo === Infinity) {
    const grid = new Grid(interval, 0, 1);
    for (const a of atoms) grid.atom(a.loss, a.w, a.v);
    return grid.build(noise.outsideMass);
  }
  // Keep the grid to at most 2^22 points: losses far below the top are rounded up to the floor.
  const hi = Math.ceil(lossHi / interval) + 1;
  const lo = Math.max(Math.floor(lossLo / interval) - 1, hi - 2 ** 22);
  const grid = new Grid(interval, lo, hi);
  for (const a of atoms) grid.atom(a.loss, a.w, a.v);
  // The first distribution's mass outside the table: at most the noise's (P and Q are shifts of it).
  return grid.build(noise.outsideMass);
}
