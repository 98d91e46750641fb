/**
 * AES-256-GCM (NIST SP 800-38D) with a 12-byte nonce and a 16-byte tag appended, the `AESGCM` of
 * docs/PROTOCOL.md §1, used to encrypt Shamir shares between neighbours (§4.2). On node:crypto.
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { assertBytes } from '../encoding.ts';

const KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * Encrypts and authenticates `plaintext`, also authenticating `aad`.
 * The caller must never reuse a (key, nonce) pair: GCM then leaks the XOR of plaintexts and allows
 * forgeries. The protocol's nonces are unique per ordered pair within a session-unique key (§4.2).
 * @param key - 32-byte key
 * @param nonce - 12-byte nonce
 * @param aad - associated data (authenticated, not encrypted); may be empty
 * @param plaintext - the message; may be empty
 * @returns `ciphertext ‖ tag`, `plaintext.length + 16` new bytes
 * @throws TypeError if an argument is not a Uint8Array; RangeError for a wrong key or nonce length
 * @example const ct = aesGcmSeal(shareKey, nonce, aad, plaintext); // 72 → 88 bytes
 */
export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  assertBytes(key, 'key', KEY_LENGTH);
  assertBytes(nonce, 'nonce', NONCE_LENGTH);
  assertBytes(aad, 'aad');
  assertBytes(plaintext, 'plaintext');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(head.length + tail.length + TAG_LENGTH);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(tag, head.length + tail.length);
  return out;
}

/**
 * Authenticates and decrypts `ciphertext ‖ tag` produced by {@link aesGcmSeal}.
 * No plaintext is returned unless the tag verifies (node checks the tag in constant time).
 * @param key - 32-byte key
 * @param nonce - 12-byte nonce
 * @param aad - the associated data used when sealing
 * @param sealed - `ciphertext ‖ tag`
 * @returns the plaintext, or undefined if `sealed` is shorter than a tag or fails authentication
 * @throws TypeError if an argument is not a Uint8Array; RangeError for a wrong key or nonce length
 */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  assertBytes(key, 'key', KEY_LENGTH);
  assertBytes(nonce, 'nonce', NONCE_LENGTH);
  assertBytes(aad, 'aad');
  assertBytes(sealed, 'sealed');
  if (sealed.length < TAG_LENGTH) return undefined;
  const split = sealed.length - TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(split));
  decipher.setAAD(aad);
  const head = decipher.update(sealed.subarray(0, split));
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    head.fill(0); // unauthenticated plaintext must not leak out, even via a reused buffer
    return undefined;
  }
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  head.fill(0);
  return out;
}
