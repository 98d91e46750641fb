/**
 * The coordinator's per-input kernels as they were before `addInRange` (commit 3f27902): a check
 * pass and an add pass over plain `Uint32Array` loops. Kept only as the baseline `bench:kernels`
 * measures the current code against, in the same run.
 * @module
 */

/** The old range check: the first element ≥ 2^bits, or −1. */
export function baselineFirstOutOfRange(v: Uint32Array, bits: number): number {
  if (bits >= 32) return -1;
  const high = ~((1 << bits) - 1);
  let any = 0;
  for (let i = 0; i < v.length; i++) any |= v[i]! & high;
  if (any === 0) return -1;
  for (let i = 0; i < v.length; i++) if ((v[i]! & high) !== 0) return i;
  return -1;
}

/** The old sum: sums of two u32 as doubles, reduced by the `Uint32Array` store. */
export function baselineAddInto(acc: Uint32Array, v: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + v[i]!;
}
