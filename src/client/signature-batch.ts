/**
 * A batch of signature checks packed into one `ArrayBuffer`, so that it crosses to a worker thread
 * by transfer (one message, no structured clone of many small arrays). Public data only: keys,
 * signed bytes and signatures that the coordinator relayed.
 *
 * Layout, per check: u32 little-endian message length ‖ 32-byte public key ‖ 64-byte signature ‖ message.
 * @module
 */
import type { SignatureCheck } from '../secagg/crypto/ed25519.ts';

const PUBLIC_KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const HEADER = 4 + PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH;

/** Whether a check has Ed25519's lengths (a 32-byte key, a 64-byte signature), so can be packed. */
export function isPackable(check: SignatureCheck): boolean {
  return check.publicKey.length === PUBLIC_KEY_LENGTH && check.signature.length === SIGNATURE_LENGTH;
}

/**
 * Packs `checks`.
 * @throws RangeError if one is not {@link isPackable}
 */
export function packChecks(checks: readonly SignatureCheck[]): ArrayBuffer {
  let total = 0;
  for (const check of checks) {
    if (!isPackable(check))
      throw new RangeError('a packed check needs a 32-byte key and a 64-byte signature');
    total += HEADER + check.message.length;
  }
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let at = 0;
  for (const { publicKey, signature, message } of checks) {
    view.setUint32(at, message.length, true);
    bytes.set(publicKey, at + 4);
    bytes.set(signature, at + 4 + PUBLIC_KEY_LENGTH);
    bytes.set(message, at + HEADER);
    at += HEADER + message.length;
  }
  return buffer;
}

/**
 * The checks of a packed batch, as views into `buffer` (no copies).
 * @throws RangeError if `buffer` is not a whole number of packed checks
 */
export function unpackChecks(buffer: ArrayBuffer): SignatureCheck[] {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const checks: SignatureCheck[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < HEADER) throw new RangeError('a packed signature batch ends inside a check');
    const messageLength = view.getUint32(at, true);
    const end = at + HEADER + messageLength;
    if (end > bytes.length) throw new RangeError('a packed signature batch ends inside a message');
    checks.push({
      publicKey: bytes.subarray(at + 4, at + 4 + PUBLIC_KEY_LENGTH),
      signature: bytes.subarray(at + 4 + PUBLIC_KEY_LENGTH, at + HEADER),
      message: bytes.subarray(at + HEADER, end),
    });
    at = end;
  }
  return checks;
}
