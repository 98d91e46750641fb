/**
 * X25519 key agreement (RFC 7748) for the cipher and mask key pairs of docs/PROTOCOL.md §3, on
 * node:crypto (OpenSSL). Private keys are clamped once, at generation (§3): the clamped bytes are the
 * key, so the mask key's integer value lies in [2^254, 2^255) < p and can be Shamir-shared as a field
 * element and later checked against the public key by the server (§4.6). Peer public keys are
 * validated as §3.1 requires before every agreement.
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { assertBytes, readRandom } from '../encoding.ts';
import type { Rng } from '../types.ts';

/** PKCS#8 DER header of an X25519 private key (RFC 8410): 16 bytes followed by the 32-byte key. */
const PKCS8_PREFIX = Uint8Array.from(Buffer.from('302e020100300506032b656e04220420', 'hex'));
const KEY_LENGTH = 32;

/** The five canonical small-order u-coordinates of PROTOCOL.md §3.1, as sent (little-endian). */
const SMALL_ORDER_POINTS: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')));

/**
 * A peer's X25519 public key was rejected (PROTOCOL.md §3.1), or an agreement with it produced the
 * all-zero secret. The message gives the reason only, never key bytes.
 */
export class InvalidPublicKeyError extends RangeError {
  override name = 'InvalidPublicKeyError';
  /**
   * @param reason - why the key was rejected, e.g. `"small-order point"`
   */
  constructor(readonly reason: string) {
    super(`invalid X25519 public key: ${reason}`);
  }
}

/**
 * Checks a peer public key against PROTOCOL.md §3.1 without throwing for a bad key.
 * Rejected: a length other than 32, bit 255 set, a value ≥ p = 2^255 − 19 (both non-canonical: RFC
 * 7748 would silently reduce them, so one key would have several encodings), and the five canonical
 * small-order points (they force a predictable shared secret).
 * @param pk - the public key as received
 * @returns a short reason if the key must be rejected, otherwise undefined
 * @throws TypeError if `pk` is not a Uint8Array
 * @example if (x25519PublicKeyProblem(peer.sPk)) refuse('invalid-public-key')
 */
export function x25519PublicKeyProblem(pk: Uint8Array): string | undefined {
  assertBytes(pk, 'pk');
  if (pk.length !== KEY_LENGTH) return `must be ${KEY_LENGTH} bytes, got ${pk.length}`;
  if ((pk[31] as number) & 0x80) return 'non-canonical encoding (bit 255 set)';
  if (isAtLeastP(pk)) return 'non-canonical encoding (value >= p)';
  // Public keys are public: a plain comparison leaks nothing worth protecting.
  for (const point of SMALL_ORDER_POINTS) {
    if (Buffer.compare(pk, point) === 0) return 'small-order point';
  }
  return undefined;
}

/** Little-endian value with bit 255 clear is ≥ p = 2^255 − 19 iff it is 0x7fff…ff followed by ≥ 0xed. */
function isAtLeastP(pk: Uint8Array): boolean {
  if (pk[31] !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (pk[i] !== 0xff) return false;
  return (pk[0] as number) >= 0xed;
}

/**
 * Throws unless `pk` is a valid peer public key per PROTOCOL.md §3.1 (see {@link x25519PublicKeyProblem}).
 * @param pk - the public key as received
 * @throws TypeError if `pk` is not a Uint8Array; {@link InvalidPublicKeyError} if it must be rejected
 */
export function assertValidX25519PublicKey(pk: Uint8Array): void {
  const problem = x25519PublicKeyProblem(pk);
  if (problem !== undefined) throw new InvalidPublicKeyError(problem);
}

/**
 * Tells whether 32 bytes are a clamped private key (RFC 7748 §5: low 3 bits clear, bit 255 clear,
 * bit 254 set). The server uses it on a reconstructed mask key (§4.6) to tell a bad reconstruction
 * apart before deriving a public key from it.
 * @param bytes - candidate private key
 * @returns true iff `bytes` is 32 bytes and clamped
 * @throws TypeError if `bytes` is not a Uint8Array
 */
export function isClampedX25519PrivateKey(bytes: Uint8Array): boolean {
  assertBytes(bytes, 'bytes');
  if (bytes.length !== KEY_LENGTH) return false;
  const first = bytes[0] as number;
  const last = bytes[31] as number;
  return (first & 7) === 0 && (last & 0x80) === 0 && (last & 0x40) !== 0;
}

/**
 * An X25519 private key: 32 clamped bytes (PROTOCOL.md §3) held in a node:crypto KeyObject.
 * @example
 * const s = X25519PrivateKey.generate(systemRng);
 * const secret = s.agree(peerSPk); // 32 bytes, fed to HKDF (§4.1)
 */
export class X25519PrivateKey {
  readonly #bytes: Uint8Array;
  readonly #key: KeyObject;
  readonly #publicKey: Uint8Array;

  private constructor(clamped: Uint8Array) {
    this.#bytes = Uint8Array.from(clamped);
    const der = new Uint8Array(PKCS8_PREFIX.length + KEY_LENGTH);
    der.set(PKCS8_PREFIX);
    der.set(this.#bytes, PKCS8_PREFIX.length);
    try {
      this.#key = createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0); // best effort: the KeyObject holds its own copy
    }
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    this.#publicKey = Uint8Array.from(spki.subarray(spki.length - KEY_LENGTH));
  }

  /**
   * Generates a key from 32 bytes of `rng`, clamped at once (PROTOCOL.md §3).
   * @param rng - the randomness source
   * @returns a new private key
   * @throws TypeError if `rng` is not an Rng or returns something other than 32 bytes
   */
  static generate(rng: Rng): X25519PrivateKey {
    const raw = readRandom(rng, KEY_LENGTH);
    raw[0] = (raw[0] as number) & 248;
    raw[31] = ((raw[31] as number) & 127) | 64;
    const key = new X25519PrivateKey(raw);
    raw.fill(0);
    return key;
  }

  /**
   * Imports an already clamped private key, e.g. a mask key reconstructed from Shamir shares.
   * Unclamped bytes are rejected rather than clamped: clamping would map several inputs to one key
   * and hide a bad reconstruction.
   * @param bytes - 32 clamped bytes (copied)
   * @returns the private key
   * @throws TypeError if `bytes` is not a Uint8Array; RangeError if not 32 bytes or not clamped
   */
  static fromBytes(bytes: Uint8Array): X25519PrivateKey {
    assertBytes(bytes, 'bytes', KEY_LENGTH);
    if (!isClampedX25519PrivateKey(bytes)) {
      throw new RangeError('bytes must be a clamped X25519 private key (RFC 7748 §5)');
    }
    return new X25519PrivateKey(bytes);
  }

  /** The 32 clamped private-key bytes; a fresh copy on every read, so callers can zero it. */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The public key X25519(k, 9), 32 bytes; a fresh copy on every read. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  /**
   * Computes X25519(k, peerPublicKey) after validating the peer key (PROTOCOL.md §3.1).
   * @param peerPublicKey - the peer's 32-byte public key
   * @returns the 32-byte shared secret (to be fed to HKDF, never used directly)
   * @throws TypeError if `peerPublicKey` is not a Uint8Array; {@link InvalidPublicKeyError} if the
   *   key is invalid or the shared secret is all zeros
   */
  agree(peerPublicKey: Uint8Array): Uint8Array {
    assertValidX25519PublicKey(peerPublicKey);
    // JWK import measured ~3x faster than SPKI DER import in node 20.
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublicKey).toString('base64url') },
      format: 'jwk',
    });
    let secret: Uint8Array;
    try {
      secret = new Uint8Array(diffieHellman({ privateKey: this.#key, publicKey }));
    } catch {
      // OpenSSL refuses to output an all-zero secret; the validation above should make this
      // unreachable, but a zero secret is exactly what a malicious key would aim for.
      throw new InvalidPublicKeyError('all-zero shared secret');
    }
    let acc = 0;
    for (let i = 0; i < secret.length; i++) acc |= secret[i] as number;
    if (acc === 0) throw new InvalidPublicKeyError('all-zero shared secret');
    return secret;
  }
}

/**
 * The public key X25519(k, 9) of a clamped private key (as the server checks a reconstructed mask
 * key against the advertised one, PROTOCOL.md §4.6).
 * @param bytes - 32 clamped private-key bytes
 * @returns the 32-byte public key
 * @throws TypeError if `bytes` is not a Uint8Array; RangeError if not 32 bytes or not clamped
 */
export function x25519PublicKeyFromPrivate(bytes: Uint8Array): Uint8Array {
  return X25519PrivateKey.fromBytes(bytes).publicKey;
}
