/**
 * Sample messages of every kind for the wire tests, with deterministic bytes.
 * @module
 */

import type { CohortMember } from '../../src/secagg/cohort.ts';
import type {
  AdvertiseKeysMessage,
  ConsistencyRequestMessage,
  ConsistencySignatureMessage,
  EncryptedSharesMessage,
  PeerKeysMessage,
  ShareDeliveryMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from '../../src/secagg/messages.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import type { AnnouncedParameters } from '../../src/wire/convert.ts';

/** `length` bytes derived from `seed` (not random, just distinct per seed). */
export function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

export const id = (n: number): ClientId => n as ClientId;

/** The session's client in the samples. */
export const SELF = id(3);

export const VECTORS: readonly VectorSpec[] = [
  { name: 'bias', length: 5, bits: 20 },
  { name: 'dense/kernel', length: 17, bits: 32 },
  { name: 'example_count', length: 1, bits: 3 },
];

/** A malicious round's cohort (PROTOCOL.md §2.3) for these ids: names `c<id>`, distinct keys. */
export function cohortFor(ids: readonly ClientId[]): CohortMember[] {
  return ids.map((n, i) => ({ id: n, name: `c${n}`, identityKey: bytes(32, 60 + i) }));
}

export const PARAMETERS: AnnouncedParameters = {
  round: 7,
  serverModel: 'malicious',
  threshold: 4,
  maxCorruptClients: 1,
  clients: [1, 2, 3, 5, 8].map(id),
  graph: { kind: 'complete' },
  vectors: VECTORS,
  cohort: cohortFor([1, 2, 3, 5, 8].map(id)),
};

/** The same round in the semi-honest setting: no cohort. */
export const PARAMETERS_SEMI_HONEST: AnnouncedParameters = {
  round: 7,
  serverModel: 'semi-honest',
  threshold: 4,
  maxCorruptClients: 0,
  clients: [1, 2, 3, 5, 8].map(id),
  graph: { kind: 'complete' },
  vectors: VECTORS,
};

export const ADVERTISE_SEMI_HONEST: AdvertiseKeysMessage = {
  type: 'advertise',
  cPk: bytes(32, 1),
  sPk: bytes(32, 2),
};
export const ADVERTISE_MALICIOUS: AdvertiseKeysMessage = {
  ...ADVERTISE_SEMI_HONEST,
  signature: bytes(64, 3),
};

export const SHARES: EncryptedSharesMessage = {
  type: 'shares',
  bCommit: bytes(32, 4),
  ciphertexts: [1, 2, 5, 8].map((to) => ({ from: SELF, to: id(to), ciphertext: bytes(88, to) })),
};

export const CONSISTENCY: ConsistencySignatureMessage = { type: 'consistency', signature: bytes(64, 9) };

export const UNMASK: UnmaskResponseMessage = {
  type: 'unmask',
  selfMaskShares: [1, 3, 5].map((of) => ({ of: id(of), share: bytes(32, 10 + of) })),
  keyShares: [2].map((of) => ({ of: id(of), share: bytes(32, 20 + of) })),
  pairSeeds: [4, 6].map((of) => ({ of: id(of), seed: bytes(32, 50 + of) })),
};

export const PEER_KEYS: PeerKeysMessage = {
  type: 'peer-keys',
  peers: [1, 2, 3, 5].map((n) => ({
    id: id(n),
    cPk: bytes(32, 30 + n),
    sPk: bytes(32, 40 + n),
    signature: bytes(64, n),
  })),
};

export const PEER_KEYS_UNSIGNED: PeerKeysMessage = {
  type: 'peer-keys',
  peers: PEER_KEYS.peers.map(({ id, cPk, sPk }) => ({ id, cPk, sPk })),
};

export const DELIVERY: ShareDeliveryMessage = {
  type: 'share-delivery',
  ciphertexts: [1, 2, 5].map((from) => ({ from: id(from), to: SELF, ciphertext: bytes(88, 50 + from) })),
};

export const CONSISTENCY_REQUEST: ConsistencyRequestMessage = {
  type: 'consistency-request',
  survivors: [1, 3, 5, 8].map(id),
};

export const UNMASK_REQUEST_SEMI_HONEST: UnmaskRequestMessage = {
  type: 'unmask-request',
  survivors: [1, 3, 5].map(id),
  dropped: [2].map(id),
};

export const UNMASK_REQUEST_MALICIOUS: UnmaskRequestMessage = {
  ...UNMASK_REQUEST_SEMI_HONEST,
  signatures: [1, 3, 5].map((n) => ({ id: id(n), signature: bytes(64, 60 + n) })),
};

/** A masked input for {@link VECTORS}, every element within its bit width. */
export function maskedVectors(seed = 1): Uint32Array[] {
  return VECTORS.map((spec, v) => {
    const out = new Uint32Array(spec.length);
    const mask = spec.bits === 32 ? 0xffff_ffff : 2 ** spec.bits - 1;
    for (let i = 0; i < spec.length; i++)
      out[i] = (Math.imul(seed + v * 7919 + i, 2_654_435_761) >>> 0) & mask;
    return out;
  });
}
