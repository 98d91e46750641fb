/**
 * Deterministic benchmark inputs and the plain sum they should aggregate to. Inputs are cheap
 * xorshift words (test data, not randomness the protocol relies on), so the main thread and the peer
 * workers can regenerate any client's input from its id without shipping vectors around.
 * @module
 */
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';

/** Client `id`'s input for `spec`: pseudo-random words below 2^bits, fixed by (seed, id, spec). */
export function benchInput(spec: VectorSpec, seed: number, id: number): Uint32Array {
  const out = new Uint32Array(spec.length);
  fillWords(out, spec.bits, (seed ^ Math.imul(id, 0x9e3779b1)) | 0);
  return out;
}

/** Fills `out` with xorshift32 words below 2^bits. */
export function fillWords(out: Uint32Array, bits: number, seed: number): void {
  const mask = bits === 32 ? 0xffff_ffff : 2 ** bits - 1;
  let x = seed | 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & mask;
  }
}

/** The plain sum mod 2^bits of the listed clients' {@link benchInput}s. */
export function plainSum(spec: VectorSpec, seed: number, ids: readonly ClientId[]): Uint32Array {
  const sum = new Uint32Array(spec.length);
  for (const id of ids) {
    const v = benchInput(spec, seed, id);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (v[i] as number);
  }
  if (spec.bits < 32) {
    const mask = 2 ** spec.bits - 1;
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) & mask;
  }
  return sum;
}
