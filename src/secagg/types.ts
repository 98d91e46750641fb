/**
 * Shared vocabulary of the secure aggregation core: branded identifiers, the injected randomness
 * source, and named vector specifications. Nothing here performs I/O.
 * @module
 */

/**
 * A client's identifier inside one round: an integer in [1, 2^32 − 1]. It is also the client's
 * Shamir evaluation point, which is why 0 is excluded (f(0) is the secret).
 */
export type ClientId = number & { readonly __brand: 'ClientId' };

/** Largest valid {@link ClientId}. */
export const MAX_CLIENT_ID = 0xffff_ffff;

/** Checks and brands a client id; throws a RangeError naming the bad value. */
export function clientId(value: number): ClientId {
  if (!Number.isInteger(value) || value < 1 || value > MAX_CLIENT_ID) {
    throw new RangeError(`client id must be an integer in [1, 2^32-1], got ${value}`);
  }
  return value as ClientId;
}

/**
 * Source of randomness injected into the core. Production code passes {@link systemRng} (the OS
 * CSPRNG); tests and test-vector generation pass a deterministic stream. Every key, seed, Shamir
 * coefficient and stochastic-rounding draw comes from here.
 */
export interface Rng {
  /** Returns `length` fresh random bytes. */
  randomBytes(length: number): Uint8Array;
}

/**
 * One named input vector of a round. Elements are integers modulo 2^bits; every client sends one
 * masked vector per spec, and the server outputs one sum per spec.
 */
export interface VectorSpec {
  /** Unique name, 1..255 UTF-8 bytes, e.g. `"dense/kernel"` or `"example_count"`. */
  readonly name: string;
  /** Number of elements, ≥ 1. */
  readonly length: number;
  /** Bit width b in 1..32: elements are summed modulo 2^b. */
  readonly bits: number;
}

/** The security setting of a round (Bonawitz et al. 2017, §6). */
export type ServerModel = 'semi-honest' | 'malicious';
