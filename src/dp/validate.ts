/**
 * Argument checks for the public functions of `src/dp`. Each names the argument, says what was
 * expected and what came; a value of the wrong type is a `TypeError`, a number out of range a
 * `RangeError`. Inputs are rejected, never coerced (a string `'0.5'` is not a probability).
 * @module
 */

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function number(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${show(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${name} must not be NaN`);
  return value;
}

/**
 * Checks that `value` is a finite number in the closed interval [`min`, `max`].
 * @throws TypeError if `value` is not a number; RangeError if it is NaN, infinite or out of range.
 */
export function assertInRange(name: string, value: unknown, min: number, max: number): number {
  const v = number(name, value);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${show(value)}`);
  }
  return v;
}

/**
 * Checks that `value` is a finite number ≥ 0 (or > 0 when `strict`).
 * @throws TypeError if `value` is not a number; RangeError if it is NaN, infinite or too small.
 */
export function assertNonNegative(name: string, value: unknown, strict = false): number {
  const v = number(name, value);
  if (!Number.isFinite(v) || v < 0 || (strict && v === 0)) {
    const what = strict ? 'a finite number > 0' : 'a finite number >= 0';
    throw new RangeError(`${name} must be ${what}, got ${show(value)}`);
  }
  return v;
}

/**
 * Checks that `value` is a safe integer ≥ 0.
 * @throws TypeError if `value` is not a number; RangeError if it is not a non-negative safe integer.
 */
export function assertCount(name: string, value: unknown): number {
  const v = number(name, value);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${show(value)}`);
  }
  return v;
}

/**
 * Checks a list of Rényi orders: a non-empty array of finite numbers, each > 1. Order 1 (the KL
 * divergence) is excluded because every formula here divides by α − 1.
 * @returns a frozen copy, so a caller mutating its array later cannot change what was checked.
 * @throws TypeError if `value` is not an array of numbers; RangeError if it is empty or an order is
 *   not finite or ≤ 1.
 */
export function assertOrders(name: string, value: unknown): readonly number[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of numbers, got ${show(value)}`);
  if (value.length === 0) throw new RangeError(`${name} must not be empty`);
  const orders = value.map((order: unknown, i) => {
    const v = number(`${name}[${i}]`, order);
    if (!Number.isFinite(v) || v <= 1) {
      throw new RangeError(`${name}[${i}] must be a finite number > 1, got ${show(order)}`);
    }
    return v;
  });
  return Object.freeze(orders);
}
