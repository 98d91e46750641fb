/**
 * The standard normal distribution in the precision the privacy accountants need: its upper tail
 * Φ̄(y) = P(Z > y) and log Φ̄ far into the tail (through ./logmath.ts `logErfc`), the mass of an
 * interval without cancellation, and the inverse of the upper tail given log Φ̄ (for Gaussianizing
 * a discrete CDF, ./skellam-gdp.ts).
 *
 * Accuracy: `logErfc` keeps a relative error of a few units in the last place (checked in
 * test/dp/logmath.test.ts); everything here is one or two operations on top of it. The inverse is
 * solved by a safeguarded Newton iteration to a relative precision of 4·10⁻¹⁶.
 * @module
 */
import { log1mExp, logErfc } from './logmath.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log Φ̄(y) = log P(Z > y) for a standard normal Z; exact for ±∞. */
export function logNormalTail(y: number): number {
  return logErfc(y / Math.SQRT2) - Math.LN2;
}

/** Φ̄(y) = P(Z > y). */
export function normalTail(y: number): number {
  return Math.exp(logNormalTail(y));
}

/** log φ(y), the standard normal log-density. */
export function logNormalDensity(y: number): number {
  return -0.5 * y * y - LOG_SQRT_2PI;
}

/**
 * P(a < Z ≤ b) for a ≤ b, computed from the tail on the side where both ends lie, so a narrow
 * interval far in a tail keeps its relative precision (no 1 − 1 + ε cancellation).
 */
export function normalIntervalMass(a: number, b: number): number {
  if (!(a < b)) return 0;
  if (a >= 0) return normalTail(a) - normalTail(b);
  if (b <= 0) return normalTail(-b) - normalTail(-a);
  return 1 - normalTail(b) - normalTail(-a);
}

/**
 * The y with log Φ̄(y) = `logTail`, for any `logTail` < 0 (so Φ̄(y) ∈ (0, 1)).
 *
 * Newton's method on f(y) = log Φ̄(y) − logTail, which is concave and decreasing, kept inside a
 * bracket that every step narrows; `guess` (e.g. the answer for a neighbouring value) only speeds
 * it up. Stops when a step moves y by less than 4·10⁻¹⁶·max(1, |y|).
 * @throws RangeError if `logTail` is not a number < 0
 */
export function normalTailQuantile(logTail: number, guess?: number): number {
  if (!(logTail < 0)) throw new RangeError(`logTail must be a number < 0, got ${logTail}`);
  if (logTail === -Infinity) return Infinity;
  // Bracket: Φ̄ is below e^{−y²/2}/2 for y ≥ 0, so y ≤ √(2(−logTail − ln 2)) + 1 suffices on the
  // right; symmetric reasoning on the left through log(1 − Φ̄).
  const right = Math.sqrt(Math.max(0, 2 * (-logTail - Math.LN2))) + 1;
  const logHead = log1mExp(logTail);
  const left = -(Math.sqrt(Math.max(0, 2 * (-logHead - Math.LN2))) + 1);
  let lo = left;
  let hi = right;
  let y =
    guess !== undefined && Number.isFinite(guess) && guess > lo && guess < hi
      ? guess
      : logTail < -Math.LN2
        ? Math.sqrt(Math.max(0, -2 * logTail - Math.log(Math.max(1, -2 * logTail)) - 2 * LOG_SQRT_2PI))
        : -Math.sqrt(Math.max(0, -2 * logHead - Math.log(Math.max(1, -2 * logHead)) - 2 * LOG_SQRT_2PI));
  for (let i = 0; i < 200; i++) {
    const value = logNormalTail(y);
    const f = value - logTail;
    if (f === 0) return y;
    // f > 0 means Φ̄(y) is too large: the answer is to the right.
    if (f > 0) lo = Math.max(lo, y);
    else hi = Math.min(hi, y);
    // f'(y) = −φ(y)/Φ̄(y).
    const slope = -Math.exp(logNormalDensity(y) - value);
    let next = y - f / slope;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - y) <= 4e-16 * Math.max(1, Math.abs(y))) return next;
    y = next;
  }
  return y;
}
