/**
 * Every byte string the protocol hashes, signs, encrypts under or derives from, in one place
 * (docs/PROTOCOL.md §2–§6). Client and server both call these, so they cannot disagree.
 * @module
 */
import { hkdf, sha256 } from './crypto/hash.ts';
import type { X25519PrivateKey } from './crypto/x25519.ts';
import { ascii, concatBytes, idList, u32 } from './encoding.ts';
import type { AdvertisedKeys } from './messages.ts';
import type { ClientId } from './types.ts';

const LABEL = {
  advertise: ascii('privagg/v1/advertise'),
  session: ascii('privagg/v1/session'),
  shareKey: ascii('privagg/v1/share-key'),
  pairSeed: ascii('privagg/v1/pair-seed'),
  share: ascii('privagg/v1/share'),
  bCommit: ascii('privagg/v1/b-commit'),
  consistency: ascii('privagg/v1/consistency'),
} as const;

/** The message a client signs to advertise its keys (§4.0). */
export function advertiseTranscript(
  configHash: Uint8Array,
  id: ClientId,
  cPk: Uint8Array,
  sPk: Uint8Array,
): Uint8Array {
  return concatBytes(LABEL.advertise, configHash, u32(id), cPk, sPk);
}

/**
 * The session id: a hash over the configuration and every advertised key of U1 (§4.0). The peer
 * entries are laid out in one buffer (68 bytes each) rather than passed as 3·|U1| arguments, which
 * would overflow the call stack at some hundred thousand clients.
 */
export function sessionIdFor(configHash: Uint8Array, peers: readonly AdvertisedKeys[]): Uint8Array {
  const body = new Uint8Array(4 + 68 * peers.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, peers.length, true);
  let at = 4;
  for (const { id, cPk, sPk } of peers) {
    view.setUint32(at, id, true);
    // Native copies: every client runs this over all of U1 once per round, with its code still cold
    // (a byte loop here was a third of a 10,000-client round's per-client time).
    body.set(cPk, at + 4);
    body.set(sPk, at + 36);
    at += 68;
  }
  return sha256(LABEL.session, configHash, body);
}

function pairInfo(label: Uint8Array, a: ClientId, b: ClientId): Uint8Array {
  return concatBytes(label, u32(Math.min(a, b)), u32(Math.max(a, b)));
}

/** AES-256-GCM key for shares between `self` and `peer` (§4.1); symmetric in the two ids. */
export function deriveShareKey(
  cipherKey: X25519PrivateKey,
  peerCPk: Uint8Array,
  sessionId: Uint8Array,
  self: ClientId,
  peer: ClientId,
): Uint8Array {
  return hkdf(cipherKey.agree(peerCPk), sessionId, pairInfo(LABEL.shareKey, self, peer), 32);
}

/** Pairwise mask seed between `self` and `peer` (§4.1); symmetric in the two ids. */
export function derivePairSeed(
  maskKey: X25519PrivateKey,
  peerSPk: Uint8Array,
  sessionId: Uint8Array,
  self: ClientId,
  peer: ClientId,
): Uint8Array {
  return hkdf(maskKey.agree(peerSPk), sessionId, pairInfo(LABEL.pairSeed, self, peer), 32);
}

/** Deterministic, per-direction unique AES-GCM nonce for the share message from → to (§4.2). */
export function shareNonce(from: ClientId, to: ClientId): Uint8Array {
  return concatBytes(u32(from), u32(to), u32(0));
}

/** Associated data binding a share ciphertext to its session and direction (§4.2). */
export function shareAad(sessionId: Uint8Array, from: ClientId, to: ClientId): Uint8Array {
  return concatBytes(LABEL.share, sessionId, u32(from), u32(to));
}

/** Commitment to a self-mask seed, so a wrong reconstruction is detected (§4.2). */
export function selfMaskCommitment(sessionId: Uint8Array, id: ClientId, seed: Uint8Array): Uint8Array {
  return sha256(LABEL.bCommit, sessionId, u32(id), seed);
}

/** The message a client signs in the consistency check (§4.4). */
export function consistencyTranscript(sessionId: Uint8Array, survivors: readonly ClientId[]): Uint8Array {
  return concatBytes(LABEL.consistency, sessionId, idList(survivors));
}
