/**
 * The application context of a privagg round (docs/PROTOCOL.md §2.1): the canonical bytes of the
 * round's differential-privacy parameters and the digest of its training task. The core hashes the
 * context into configHash without reading it (src/secagg/params.ts), so clients that were announced
 * different noise, clip norms, rotation seeds or tasks end up with different session ids and cannot
 * complete a round together; in the malicious setting the signed consistency check catches it.
 * @module
 */
import type { AnnouncedClipCount, AnnouncedPrivacy } from '../dp/announced.ts';
import { ascii, concatBytes, u8, u32 } from '../secagg/encoding.ts';

/** Length of a task digest (SHA-256). */
export const TASK_DIGEST_BYTES = 32;

/** Mechanism kind bytes of §2.1. */
const MECHANISM_BYTE = { 'distributed-skellam': 1, 'central-gaussian': 2 } as const;

/** `f64` of §1: an IEEE-754 binary64, little-endian. */
export function f64(x: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, x, true);
  return out;
}

function clipCountBytes(clipCount: AnnouncedClipCount | undefined): Uint8Array {
  return clipCount ? concatBytes(u8(1), u8(clipCount.bits), f64(clipCount.bitNoiseStddev)) : u8(0);
}

function privacyBytes(privacy: AnnouncedPrivacy | undefined): Uint8Array {
  if (privacy === undefined) return u8(0);
  // The fields both mechanisms have, in the order of §2.1.
  const common = concatBytes(
    u8(MECHANISM_BYTE[privacy.mechanism]),
    u32(privacy.dimension),
    f64(privacy.clip),
    f64(privacy.noiseMultiplier),
    u8(privacy.bits),
    f64(privacy.scale),
  );
  if (privacy.mechanism === 'distributed-skellam') {
    return concatBytes(
      common,
      f64(privacy.beta),
      f64(privacy.maxWrapProbability),
      u32(privacy.minNoisyClients),
      privacy.rotationSeed,
      clipCountBytes(privacy.clipCount),
    );
  }
  return concatBytes(common, clipCountBytes(privacy.clipCount));
}

/**
 * The context bytes of §2.1; empty when the round has neither privacy nor a task, so plain rounds
 * hash exactly as before.
 * @param privacy - the announced mechanism (validated by the caller: ./convert.ts or dp/announced.ts)
 * @param taskDigest - SHA-256 of the task, {@link TASK_DIGEST_BYTES} bytes, if the round has a task
 */
export function roundContext(
  privacy: AnnouncedPrivacy | undefined,
  taskDigest: Uint8Array | undefined,
): Uint8Array {
  if (privacy === undefined && taskDigest === undefined) return new Uint8Array(0);
  if (taskDigest !== undefined && taskDigest.length !== TASK_DIGEST_BYTES) {
    throw new RangeError(`taskDigest must be ${TASK_DIGEST_BYTES} bytes, got ${taskDigest.length}`);
  }
  return concatBytes(
    ascii('privagg/v1/context'),
    privacyBytes(privacy),
    taskDigest ? concatBytes(u8(1), taskDigest) : u8(0),
  );
}
