/**
 * Ed25519 signatures (RFC 8032, pure Ed25519) for the long-term identity keys of the malicious
 * setting, docs/PROTOCOL.md §3, §4.0 and §4.4, on node:crypto (OpenSSL).
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { assertBytes, equalBytes, readRandom } from '../encoding.ts';
import type { Rng } from '../types.ts';

/** PKCS#8 DER header of an Ed25519 private key (RFC 8410): 16 bytes followed by the 32-byte seed. */
const PKCS8_PREFIX = Uint8Array.from(Buffer.from('302e020100300506032b657004220420', 'hex'));
const SEED_LENGTH = 32;
const PUBLIC_KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;

/**
 * An Ed25519 signing key, built from its 32-byte seed (RFC 8032 §5.1.5).
 * @example
 * const d = Ed25519Signer.generate(systemRng);
 * const sig = d.sign(message); // 64 bytes
 * ed25519Verify(d.publicKey, message, sig); // true
 */
export class Ed25519Signer {
  readonly #key: KeyObject;
  readonly #publicKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    const der = new Uint8Array(PKCS8_PREFIX.length + SEED_LENGTH);
    der.set(PKCS8_PREFIX);
    der.set(seed, PKCS8_PREFIX.length);
    try {
      this.#key = createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0); // best effort: the KeyObject holds its own copy
    }
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    this.#publicKey = Uint8Array.from(spki.subarray(spki.length - PUBLIC_KEY_LENGTH));
  }

  /**
   * Builds a signer from a 32-byte seed (the RFC 8032 private key). The seed is not retained.
   * @param seed - 32 bytes
   * @returns the signer
   * @throws TypeError if `seed` is not a Uint8Array; RangeError if it is not 32 bytes
   */
  static fromSeed(seed: Uint8Array): Ed25519Signer {
    assertBytes(seed, 'seed', SEED_LENGTH);
    return new Ed25519Signer(seed);
  }

  /**
   * Generates a signer from 32 bytes of `rng`.
   * @param rng - the randomness source
   * @returns a new signer
   * @throws TypeError if `rng` is not an Rng or returns something other than 32 bytes
   */
  static generate(rng: Rng): Ed25519Signer {
    const seed = readRandom(rng, SEED_LENGTH);
    const signer = new Ed25519Signer(seed);
    seed.fill(0);
    return signer;
  }

  /** The 32-byte public key; a fresh copy on every read. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  /**
   * Signs a message (deterministic, RFC 8032 §5.1.6).
   * @param message - the bytes to sign, e.g. `"privagg/v1/consistency" ‖ sessionId ‖ idList(U3)`
   * @returns the 64-byte signature
   * @throws TypeError if `message` is not a Uint8Array
   */
  sign(message: Uint8Array): Uint8Array {
    assertBytes(message, 'message');
    return new Uint8Array(sign(null, message, this.#key));
  }
}

// Verifying n signatures from the same n identities every round would re-import each key; a small
// cache of imported KeyObjects (public data only) avoids that. Bounded: oldest entry evicted first.
const KEY_CACHE_LIMIT = 1024;
const keyCache = new Map<string, KeyObject>();

function importPublicKey(publicKey: Uint8Array): KeyObject | undefined {
  const hex = Buffer.from(publicKey).toString('hex');
  const cached = keyCache.get(hex);
  if (cached !== undefined) return cached;
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
      format: 'jwk',
    });
  } catch {
    return undefined;
  }
  if (keyCache.size >= KEY_CACHE_LIMIT) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(hex, key);
  return key;
}

/**
 * Verifies an Ed25519 signature (RFC 8032 §5.1.7, as implemented by OpenSSL: S must be < L).
 * Malformed inputs of the right type — wrong lengths, a public key that is not a curve point — make
 * it return false: a peer's bad signature is a protocol violation to report, not a crash.
 * @param publicKey - the signer's 32-byte public key
 * @param message - the signed bytes
 * @param signature - the 64-byte signature
 * @returns true iff the signature is valid
 * @throws TypeError if an argument is not a Uint8Array (local misuse)
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  const key = importPublicKey(publicKey);
  if (key === undefined) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** One Ed25519 verification a protocol step makes: the signer's public key, the signed bytes, the signature. */
export interface SignatureCheck {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** What a protocol step verifies signatures with (see {@link VerifiedSignatures}). */
export interface SignatureVerifier {
  /** As {@link ed25519Verify}: true iff the signature is valid. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Verifies every signature on the spot. */
export const verifyOnTheSpot: SignatureVerifier = { verify: ed25519Verify };

/**
 * As {@link ed25519Verify}, on libuv's threadpool (node:crypto's asynchronous form), so that many
 * verifications run in parallel, beside the event loop, on as many cores as the pool has threads.
 * Malformed inputs resolve to false.
 */
export function ed25519VerifyAsync(check: SignatureCheck): Promise<boolean> {
  const { publicKey, message, signature } = check;
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) {
    return Promise.resolve(false);
  }
  const key = importPublicKey(publicKey);
  if (key === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, message, key, signature, (error, valid) => resolve(error === null && valid));
    } catch {
      resolve(false);
    }
  });
}

/**
 * Signatures found valid ahead of the step that checks them. A client in the malicious setting
 * verifies n − 1 advertisement signatures in one step and t consistency signatures in another; on
 * the event loop they run one after another (~120 µs each), while verified here beforehand they run
 * in parallel on the threadpool. The step still asks about every signature it relies on: one found
 * valid here, with the same key and bytes, is answered at once; anything else — a signature found
 * invalid, or one not checked here — is verified on the spot, so the result never depends on what
 * was checked ahead. Only {@link VerifiedSignatures.verifyAll} makes one: holding one means its
 * entries were verified.
 */
export class VerifiedSignatures implements SignatureVerifier {
  /** Valid checks by their signature (hex): an Ed25519 signature names its key and message. */
  readonly #valid: ReadonlyMap<string, SignatureCheck>;

  private constructor(valid: ReadonlyMap<string, SignatureCheck>) {
    this.#valid = valid;
  }

  /**
   * Verifies `checks` in parallel on the threadpool.
   * @returns the set of those found valid
   */
  static async verifyAll(checks: readonly SignatureCheck[]): Promise<VerifiedSignatures> {
    const results = await Promise.all(checks.map(ed25519VerifyAsync));
    const valid = new Map<string, SignatureCheck>();
    checks.forEach((check, i) => {
      if (results[i]) valid.set(Buffer.from(check.signature).toString('hex'), check);
    });
    return new VerifiedSignatures(valid);
  }

  /** How many signatures were found valid. */
  get size(): number {
    return this.#valid.size;
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const known = this.#valid.get(Buffer.from(signature).toString('hex'));
    if (known && equalBytes(known.publicKey, publicKey) && equalBytes(known.message, message)) return true;
    return ed25519Verify(publicKey, message, signature);
  }
}
