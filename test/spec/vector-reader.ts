/**
 * Strict reading of the published vector files (spec/test-vectors/*.json), shared by the tests that
 * check them: every accessor throws when a value is absent or malformed, and every terminal read is
 * recorded, so a test can prove that it checked every value in a file. A vector whose expected value
 * is missing therefore makes a test throw; nothing is ever skipped.
 */
import assert from 'node:assert/strict';

/** A value the vector file must contain is absent. */
export class MissingVectorValue extends Error {
  override name = 'MissingVectorValue';
}

/** A value is present but has the wrong type or format. */
export class MalformedVectorValue extends TypeError {
  override name = 'MalformedVectorValue';
}

/**
 * A position in a parsed vector file. Every accessor throws when the value is absent or malformed,
 * and terminal reads are recorded in `reads`, so a test can prove that every value was checked.
 * Subclasses add format-specific readers; children are built with the subclass's constructor.
 */
export class VectorNode {
  constructor(
    readonly value: unknown,
    readonly path: string,
    readonly reads: Set<string>,
  ) {}

  /** A node of this node's class at `path`. */
  protected child(value: unknown, path: string): this {
    const Self = this.constructor as new (value: unknown, path: string, reads: Set<string>) => this;
    return new Self(value, path, this.reads);
  }

  /** The property `key` of this object; throws {@link MissingVectorValue} if it is absent. */
  get(key: string): this {
    const value = this.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new MalformedVectorValue(`${this.path} must be an object`);
    }
    const child = (value as Record<string, unknown>)[key];
    const path = `${this.path}.${key}`;
    if (child === undefined) throw new MissingVectorValue(`${path} is missing`);
    return this.child(child, path);
  }

  /** Asserts that the property `key` is absent (e.g. signatures in the semi-honest setting). */
  absent(key: string): void {
    const value = this.value as Record<string, unknown>;
    assert.equal(value[key], undefined, `${this.path}.${key} must be absent`);
  }

  /** The elements of this array; at least `min` of them. */
  list(min = 1): this[] {
    if (!Array.isArray(this.value)) throw new MalformedVectorValue(`${this.path} must be an array`);
    if (this.value.length < min) throw new MissingVectorValue(`${this.path} needs at least ${min} entries`);
    if (this.value.length === 0) this.reads.add(this.path);
    return this.value.map((v, i) => this.child(v, `${this.path}[${i}]`));
  }

  /** Whether this value is null (recorded as read). */
  isNull(): boolean {
    if (this.value === null) this.reads.add(this.path);
    return this.value === null;
  }

  str(): string {
    if (typeof this.value !== 'string' || this.value.length === 0) {
      throw new MalformedVectorValue(`${this.path} must be a non-empty string`);
    }
    this.reads.add(this.path);
    return this.value;
  }

  /** A string that must be one of `allowed`. */
  oneOf<T extends string>(...allowed: T[]): T {
    const value = this.str();
    if (!(allowed as string[]).includes(value)) {
      throw new MalformedVectorValue(`${this.path} must be one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  bool(): boolean {
    if (typeof this.value !== 'boolean') throw new MalformedVectorValue(`${this.path} must be a boolean`);
    this.reads.add(this.path);
    return this.value;
  }

  int(): number {
    if (!Number.isSafeInteger(this.value)) throw new MalformedVectorValue(`${this.path} must be an integer`);
    this.reads.add(this.path);
    return this.value as number;
  }

  /** An array of integers, e.g. a vector or an id list (read as one value). */
  ints(): number[] {
    const value = this.value;
    if (!Array.isArray(value) || !value.every((x) => Number.isSafeInteger(x))) {
      throw new MalformedVectorValue(`${this.path} must be an array of integers`);
    }
    this.reads.add(this.path);
    return value as number[];
  }

  /** Lowercase hex; `length` in bytes when given. */
  bytes(length?: number): Uint8Array {
    const value = this.value;
    if (typeof value !== 'string' || !/^([0-9a-f]{2})*$/.test(value)) {
      throw new MalformedVectorValue(`${this.path} must be lowercase hex`);
    }
    if (length !== undefined && value.length !== 2 * length) {
      throw new MalformedVectorValue(`${this.path} must be ${length} bytes`);
    }
    this.reads.add(this.path);
    return Uint8Array.from(Buffer.from(value, 'hex'));
  }

  /** A binary64 value: a JSON number, or "-0" for negative zero (the DP vectors' convention). */
  f64(): number {
    const value = readF64(this.value);
    if (value === undefined) throw new MalformedVectorValue(`${this.path} must be a finite number or "-0"`);
    this.reads.add(this.path);
    return value;
  }

  /** An array of binary64 values (read as one value). */
  f64s(): number[] {
    const value = this.value;
    const out = Array.isArray(value) ? value.map(readF64) : undefined;
    if (out === undefined || out.some((x) => x === undefined)) {
      throw new MalformedVectorValue(`${this.path} must be an array of finite numbers or "-0"`);
    }
    this.reads.add(this.path);
    return out as number[];
  }
}

function readF64(value: unknown): number | undefined {
  if (value === '-0') return -0;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Every leaf of a JSON value, in the path syntax of {@link VectorNode}: arrays of numbers (and "-0")
 * are one leaf.
 */
export function leafPaths(value: unknown, path: string, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0 || value.every((x) => typeof x === 'number' || x === '-0')) out.push(path);
    else for (const [i, x] of value.entries()) leafPaths(x, `${path}[${i}]`, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) leafPaths(child, `${path}.${key}`, out);
  } else {
    out.push(path);
  }
  return out;
}
