/**
 * The bare lower bound of a masking party's work: derive `count` mask keys with the protocol's own
 * {@link deriveMaskKey} (HKDF-SHA256) and expand each with its own {@link addMask} (AES-128-CTR
 * keystream added into one accumulator of the vector's length). Nothing else: no key agreement, no
 * secret sharing, no validation, no final reduction. A party that removes or adds `count` masks
 * cannot do less with this PRG.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { addMask, deriveMaskKey, PAIR_MASK_LABEL, selfMaskLabel } from '../../src/secagg/crypto/prg.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import { type Timing, timed } from './timing.ts';

/**
 * Time to derive and add `count` masks of `spec.length` words into one accumulator: the first a
 * self mask, the rest pairwise masks with alternating signs, as a client or the server would. Seeds
 * and the accumulator are prepared before the clock starts.
 */
export function maskBound(count: number, spec: VectorSpec): Timing {
  const seeds = randomBytes(32 * count);
  const sessionId = randomBytes(32);
  const selfLabel = selfMaskLabel(1 as ClientId);
  const acc = new Uint32Array(spec.length);
  const [, timing] = timed(() => {
    for (let i = 0; i < count; i++) {
      const seed = seeds.subarray(32 * i, 32 * i + 32);
      const key = deriveMaskKey(seed, sessionId, i === 0 ? selfLabel : PAIR_MASK_LABEL, spec);
      addMask(acc, key, i % 2 === 0 ? 1 : -1);
    }
  });
  // Keep the work observable so it cannot be optimised away.
  if (acc[0] === 0.5) console.log('unreachable');
  return timing;
}
