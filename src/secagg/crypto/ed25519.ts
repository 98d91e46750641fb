/**
 * Ed25519 signatures (RFC 8032, pure Ed25519) for the long-term identity keys of the malicious
 * setting, docs/PROTOCOL.md §1.3, §3, §4.0 and §4.4: signing on node:crypto (OpenSSL), verifying on
 * libsodium where it loads (OpenSSL otherwise) under one rule that both implement identically.
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { createRequire } from 'node:module';
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

// ---- verification ----------------------------------------------------------------------------
//
// The rule (docs/PROTOCOL.md §1.3) is libsodium's `crypto_sign_verify_detached`: RFC 8032 §5.1.7's
// cofactorless equation, compared as encodings ([S]B − [k]A must encode to exactly R), after
// rejecting S ≥ L, a non-canonical A, and an A or R of small order. Those rejections are made here,
// on the bytes, before either backend runs, so that libsodium and OpenSSL (which checks S < L but
// accepts a small-order A) accept exactly the same signatures — and so does a client written in
// another language against the spec.

/** L, the order of the base point, little-endian (RFC 8032 §5.1). */
const GROUP_ORDER = Uint8Array.from(
  Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'),
);

/**
 * Encodings of the points of small order (and the non-canonical encodings of two of them), y
 * little-endian with the sign bit ignored, as in libsodium's `ge25519_has_small_order`: the identity
 * (y = 1), the point of order 2 (y = p − 1), the two y-coordinates of the points of order 4 (y = 0)
 * and 8, and y = p, p + 1 (0 and 1 again, non-canonically).
 */
const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')));

/** Whether 32 little-endian bytes are a number below `bound` (also 32 little-endian bytes). */
function lessThan(bytes: Uint8Array, bound: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (bytes[i]! !== bound[i]!) return bytes[i]! < bound[i]!;
  }
  return false;
}

/** Whether a point encoding (sign bit ignored) is one of {@link SMALL_ORDER_ENCODINGS}. */
function hasSmallOrder(encoding: Uint8Array): boolean {
  return SMALL_ORDER_ENCODINGS.some((bad) => {
    for (let i = 0; i < 31; i++) if (encoding[i] !== bad[i]) return false;
    return (encoding[31]! & 0x7f) === bad[31];
  });
}

/** Whether a point encoding's y (sign bit ignored) is below p = 2^255 − 19. */
function hasCanonicalY(encoding: Uint8Array): boolean {
  if ((encoding[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i > 0; i--) if (encoding[i] !== 0xff) return true;
  return encoding[0]! < 0xed;
}

/**
 * The byte-level rejections of the rule: lengths, S ≥ L, a non-canonical or small-order A, a
 * small-order R. True when none applies (the equation is still to be checked).
 */
function passesEncodingRules(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  return (
    lessThan(signature.subarray(32), GROUP_ORDER) &&
    hasCanonicalY(publicKey) &&
    !hasSmallOrder(publicKey) &&
    !hasSmallOrder(signature.subarray(0, 32))
  );
}

/** An implementation of the cofactorless equation (it may reject more, never less, than the rule). */
type VerifyEquation = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** The part of sodium-native's API used here. */
interface Libsodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/**
 * libsodium (the sodium-native package, prebuilt for the common platforms), about twice as fast as
 * OpenSSL's Ed25519 here (~67 against ~143 µs per verification), or undefined where it does not load.
 */
function loadLibsodium(): VerifyEquation | undefined {
  try {
    const sodium = createRequire(import.meta.url)('sodium-native') as Libsodium;
    return (publicKey, message, signature) =>
      sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return undefined;
  }
}

// Verifying n signatures from the same n identities every round would re-import each key into
// OpenSSL; a small cache of imported KeyObjects (public data only) avoids that. Bounded: oldest
// entry evicted first.
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

/** OpenSSL's Ed25519 (node:crypto), where libsodium is not available. */
const openSslEquation: VerifyEquation = (publicKey, message, signature) => {
  const key = importPublicKey(publicKey);
  if (key === undefined) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
};

/**
 * The two implementations of the equation, for tests that check they agree under the rule; protocol
 * code calls {@link ed25519Verify}. `libsodium` is undefined where sodium-native does not load.
 */
export const ED25519_EQUATIONS: { readonly libsodium?: VerifyEquation; readonly openssl: VerifyEquation } = {
  libsodium: loadLibsodium(),
  openssl: openSslEquation,
};

/** Which implementation {@link ed25519Verify} uses in this process. */
export const ed25519Backend: 'libsodium' | 'openssl' = ED25519_EQUATIONS.libsodium ? 'libsodium' : 'openssl';

const equation = ED25519_EQUATIONS.libsodium ?? ED25519_EQUATIONS.openssl;

/**
 * Verifies an Ed25519 signature under docs/PROTOCOL.md §1.3's rule (libsodium's: RFC 8032's
 * cofactorless equation; S < L; A canonical; neither A nor R of small order). Malformed inputs of
 * the right type — wrong lengths, a public key that is not a curve point — make it return false: a
 * peer's bad signature is a protocol violation to report, not a crash.
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
  return passesEncodingRules(publicKey, signature) && equation(publicKey, message, signature);
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
 * Verifies many checks away from the caller's thread (the SDK hands these to worker threads:
 * client/signature-pool.ts) and resolves with one answer per check, in order, each what
 * {@link ed25519Verify} answers.
 */
export type BatchVerifier = (checks: readonly SignatureCheck[]) => Promise<readonly boolean[]>;

/** The {@link BatchVerifier} without threads: each check on the spot, one after another. */
export const verifyEachOnTheSpot: BatchVerifier = async (checks) =>
  checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));

/**
 * Signatures found valid ahead of the step that checks them. A client in the malicious setting
 * verifies n − 1 advertisement signatures in one step and t consistency signatures in another; on
 * the event loop they run one after another (~70 µs each with libsodium), while verified beforehand
 * they can run in parallel, on other threads. The step still asks about every signature it relies
 * on: one found valid here, with the same key and bytes, is answered at once; anything else — a
 * signature found invalid, or one not checked here — is verified on the spot, so a verifier that
 * fails or answers nothing only costs time. Only {@link VerifiedSignatures.verifyAll} makes one.
 */
export class VerifiedSignatures implements SignatureVerifier {
  /** Valid checks by their signature (hex): an Ed25519 signature names its key and message. */
  readonly #valid: ReadonlyMap<string, SignatureCheck>;

  private constructor(valid: ReadonlyMap<string, SignatureCheck>) {
    this.#valid = valid;
  }

  /**
   * Verifies `checks` with `verifyBatch`. An answer list of the wrong length counts as no answer.
   * @param checks - the checks a step will make (`SecAggClient.signatureChecks`)
   * @param verifyBatch - where to verify them; default: here, one after another
   * @returns the set of those found valid
   */
  static async verifyAll(
    checks: readonly SignatureCheck[],
    verifyBatch: BatchVerifier = verifyEachOnTheSpot,
  ): Promise<VerifiedSignatures> {
    const results = await verifyBatch(checks);
    const valid = new Map<string, SignatureCheck>();
    if (results.length === checks.length) {
      checks.forEach((check, i) => {
        if (results[i] === true) valid.set(Buffer.from(check.signature).toString('hex'), check);
      });
    }
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
