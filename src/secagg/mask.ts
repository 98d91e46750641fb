/**
 * Applying self masks and pairwise masks to accumulators (docs/PROTOCOL.md §4.3, §6). Arithmetic is
 * modulo 2^32 throughout; callers reduce modulo 2^bits once at the end.
 * @module
 */
import { addMask, deriveMaskKey, PAIR_MASK_LABEL, selfMaskLabel } from './crypto/prg.ts';
import type { ClientId, VectorSpec } from './types.ts';

/** Adds (sign +1) or removes (sign −1) client `id`'s self mask for one vector. */
export function applySelfMask(
  acc: Uint32Array,
  seed: Uint8Array,
  sessionId: Uint8Array,
  id: ClientId,
  spec: VectorSpec,
  sign: 1 | -1,
): void {
  addMask(acc, deriveMaskKey(seed, sessionId, selfMaskLabel(id), spec), sign);
}

/** Adds a pairwise mask with the sign of `self` in the pair: + if self < peer, − otherwise. */
export function applyPairMask(
  acc: Uint32Array,
  pairSeed: Uint8Array,
  sessionId: Uint8Array,
  self: ClientId,
  peer: ClientId,
  spec: VectorSpec,
): void {
  addMask(acc, deriveMaskKey(pairSeed, sessionId, PAIR_MASK_LABEL, spec), pairSign(self, peer));
}

/** The sign of `self`'s copy of the pairwise mask shared with `peer` (§4.3). */
export function pairSign(self: ClientId, peer: ClientId): 1 | -1 {
  return self < peer ? 1 : -1;
}
