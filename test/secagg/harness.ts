/** Shared helpers for protocol tests: parameters, deterministic inputs, plain sums. */
import { type RoundParams, type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';

export const TWO_VECTORS: readonly VectorSpec[] = [
  { name: 'weights', length: 37, bits: 32 },
  { name: 'count', length: 3, bits: 12 },
];

export function makeParams(overrides: Partial<RoundParamsInput> & { n?: number } = {}): RoundParams {
  const n = overrides.n ?? 5;
  return roundParams({
    round: 1,
    serverModel: 'semi-honest',
    threshold: Math.floor((2 * n) / 3) + 1,
    clients: Array.from({ length: n }, (_, i) => i + 1),
    vectors: TWO_VECTORS,
    ...overrides,
  });
}

/** Deterministic inputs: each element drawn from a per-client labelled stream, below 2^bits. */
export function makeInputs(params: RoundParams, label = 'inputs'): Map<ClientId, Uint32Array[]> {
  return new Map(
    params.clients.map((id) => {
      const rng = new DeterministicRng(`${label}/${id}`);
      const vectors = params.vectors.map((spec) => {
        const bytes = rng.randomBytes(4 * spec.length);
        const words = new Uint32Array(bytes.buffer, bytes.byteOffset, spec.length).slice();
        if (spec.bits < 32) for (let i = 0; i < words.length; i++) words[i]! &= 2 ** spec.bits - 1;
        return words;
      });
      return [id, vectors];
    }),
  );
}

/** The plain sum mod 2^bits of the given clients' inputs, per vector. */
export function plainSum(
  params: RoundParams,
  inputs: ReadonlyMap<ClientId, readonly Uint32Array[]>,
  ids: readonly ClientId[],
): Uint32Array[] {
  return params.vectors.map((spec, i) => {
    const sum = new Uint32Array(spec.length);
    for (const id of ids) {
      const v = inputs.get(id)![i]!;
      for (let j = 0; j < sum.length; j++) sum[j] = (sum[j]! + v[j]!) >>> 0;
    }
    if (spec.bits < 32) for (let j = 0; j < sum.length; j++) sum[j]! &= 2 ** spec.bits - 1;
    return sum;
  });
}

export const rngFor = (label: string) => (id: ClientId) => new DeterministicRng(`${label}/client/${id}`);
