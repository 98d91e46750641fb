/**
 * SHA-256 (FIPS 180-4) and HKDF-SHA256 (RFC 5869), the `SHA256` and `HKDF` of docs/PROTOCOL.md §1.
 * Both run on node:crypto (OpenSSL); HKDF falls back to @noble/hashes only for an `info` longer than
 * the 1024 bytes node accepts, so the function is total over its documented domain.
 * @module
 */
import { createHash, hkdfSync } from 'node:crypto';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { assertBytes, assertInteger } from '../encoding.ts';

/** RFC 5869 §2.3: at most 255 blocks of output. */
const HKDF_MAX_LENGTH = 255 * 32;
/** node:crypto rejects a longer `info` (a limit of its own, not of RFC 5869). */
const NODE_HKDF_MAX_INFO = 1024;

/**
 * SHA-256 of the concatenation of `parts`, hashed incrementally (no concatenated copy is made).
 * @param parts - byte strings, hashed in order
 * @returns the 32-byte digest
 * @throws TypeError if any part is not a Uint8Array
 * @example sha256(ascii('privagg/v1/config'), u32(round))
 */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    assertBytes(part, `parts[${i}]`);
    h.update(part);
  }
  return new Uint8Array(h.digest());
}

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt`, then expand with `info` to `length` bytes.
 * An empty salt is hashed as HashLen zero bytes, exactly as RFC 5869 §2.2 says for "not provided";
 * the protocol always passes the 32-byte session id.
 * @param ikm - input keying material (e.g. an X25519 shared secret); may be empty
 * @param salt - the salt; may be empty
 * @param info - context and domain-separation label
 * @param length - output length in bytes, 1..8160
 * @returns `length` new bytes
 * @throws TypeError for a non-Uint8Array argument or non-number length; RangeError for a bad length
 * @example hkdf(sharedSecret, sessionId, concatBytes(ascii('privagg/v1/share-key'), u32(lo), u32(hi)), 32)
 */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  assertBytes(ikm, 'ikm');
  assertBytes(salt, 'salt');
  assertBytes(info, 'info');
  assertInteger(length, 'length', 1, HKDF_MAX_LENGTH);
  if (info.length > NODE_HKDF_MAX_INFO) return nobleHkdf(nobleSha256, ikm, salt, info, length);
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}
