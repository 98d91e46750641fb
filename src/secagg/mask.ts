/**
 * The masks a client adds to its input (docs/PROTOCOL.md §4.3, §6), as {@link MaskTerm}s for
 * `addMasks`, which applies all of a vector's masks in one pass. Arithmetic is modulo 2^32
 * throughout; callers reduce modulo 2^bits once at the end.
 * @module
 */
import { deriveMaskKey, type MaskTerm, PAIR_MASK_LABEL, selfMaskLabel } from './crypto/prg.ts';
import type { ClientId, VectorSpec } from './types.ts';

/** Client `id`'s self mask for one vector, added (sign +1) or removed (sign −1). */
export function selfMaskTerm(
  seed: Uint8Array,
  sessionId: Uint8Array,
  id: ClientId,
  spec: VectorSpec,
  sign: 1 | -1,
): MaskTerm {
  return { mask: deriveMaskKey(seed, sessionId, selfMaskLabel(id), spec), sign };
}

/** `self`'s copy of the pairwise mask shared with `peer`, with its sign: + if self < peer, − otherwise. */
export function pairMaskTerm(
  pairSeed: Uint8Array,
  sessionId: Uint8Array,
  self: ClientId,
  peer: ClientId,
  spec: VectorSpec,
): MaskTerm {
  return { mask: deriveMaskKey(pairSeed, sessionId, PAIR_MASK_LABEL, spec), sign: pairSign(self, peer) };
}

/** The sign of `self`'s copy of the pairwise mask shared with `peer` (§4.3). */
export function pairSign(self: ClientId, peer: ClientId): 1 | -1 {
  return self < peer ? 1 : -1;
}

/** Zeroes the key material of used terms (best effort: the AES contexts are OpenSSL's to free). */
export function wipeMaskTerms(terms: readonly MaskTerm[]): void {
  for (const { mask } of terms) {
    mask.key.fill(0);
    mask.iv.fill(0);
  }
}
