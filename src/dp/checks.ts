/**
 * Argument checks shared by the privacy mechanisms (clipping, sampling, central and distributed
 * noise, adaptive clipping), in the style of ./validate.ts: each names the argument, says what was
 * expected and what came; a wrong type is a `TypeError`, a wrong value a `RangeError`. Inputs are
 * rejected, never coerced. A privacy parameter that fails a check stops the caller before any noise
 * is drawn or any data is touched: the mechanisms fail closed.
 * @module
 */
import type { Rng } from '../secagg/types.ts';

/** What a value is, for error messages: `"Int32Array"`, `"Array"`, `"Null"`, `"Number"`, … */
export function kind(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * Checks that `value` is a number, not NaN, finite and > 0.
 * @throws TypeError if it is not a number; RangeError otherwise
 */
export function assertPositive(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${kind(value)}`);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
  return value;
}

/**
 * Checks that `value` is a safe integer in [`min`, `max`].
 * @throws TypeError if it is not a number; RangeError otherwise
 */
export function assertIntegerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${kind(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Checks that `rng` is an object with a `randomBytes` method.
 * @throws TypeError otherwise
 */
export function assertRng(rng: unknown, name = 'rng'): asserts rng is Rng {
  if (typeof rng !== 'object' || rng === null || typeof (rng as Rng).randomBytes !== 'function') {
    throw new TypeError(`${name} must be an object with a randomBytes method, got ${kind(rng)}`);
  }
}

/**
 * Checks that `value` is a non-null object (an options bag).
 * @throws TypeError otherwise
 */
export function assertObject(name: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be an object, got ${kind(value)}`);
  }
}

/**
 * Draws `length` bytes from `rng` and checks that it kept its contract (a Uint8Array of exactly that
 * length): a broken randomness source must stop the mechanism, not weaken it.
 * @throws TypeError / RangeError if it did not
 */
export function drawBytes(rng: Rng, length: number): Uint8Array {
  const bytes = rng.randomBytes(length);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`rng.randomBytes must return a Uint8Array, got ${kind(bytes)}`);
  }
  if (bytes.length !== length)
    throw new RangeError(`rng.randomBytes(${length}) returned ${bytes.length} bytes`);
  return bytes;
}
