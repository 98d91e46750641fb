/**
 * Every message of the protocol, as readonly discriminated unions (docs/PROTOCOL.md §4). These are the
 * in-memory forms the state machines consume and produce; the wire encoding (protobuf, bit-packed
 * vectors) lives at the transport edge.
 * @module
 */
import type { ClientId } from './types.ts';

/** Stage names, in protocol order. `consistency` runs only in the malicious setting. */
export const STAGES = ['advertise', 'share', 'masked', 'consistency', 'unmask'] as const;
export type Stage = (typeof STAGES)[number];

/** One client's advertised public keys (§4.0). */
export interface AdvertisedKeys {
  readonly id: ClientId;
  /** X25519 public key for share encryption, 32 bytes. */
  readonly cPk: Uint8Array;
  /** X25519 public key for pairwise mask agreement, 32 bytes. */
  readonly sPk: Uint8Array;
  /** Ed25519 signature over the keys; present exactly in the malicious setting. */
  readonly signature?: Uint8Array;
}

/** A ciphertext of shares from one client to another (§4.2). */
export interface ShareCiphertext {
  readonly from: ClientId;
  readonly to: ClientId;
  /** 88 bytes: AES-256-GCM of the 72-byte plaintext plus tag. */
  readonly ciphertext: Uint8Array;
}

/** A Shamir share of some client's secret, as a 32-byte field element (§5). */
export interface SecretShare {
  /** Whose secret this is a share of. */
  readonly of: ClientId;
  readonly share: Uint8Array;
}

/**
 * A pairwise mask seed revealed in place of a key share (§4.5): the responder could not read the
 * share message of `of`, a client listed as dropped, so it holds no share of `of`'s mask key and
 * gives the one seed of that key it knows, `pairSeed` between itself and `of`.
 */
export interface RevealedPairSeed {
  /** The dropped client at the other end of the pair. */
  readonly of: ClientId;
  /** `pairSeed` of the pair (§4.1), 32 bytes. */
  readonly seed: Uint8Array;
}

/** A consistency-check signature (§4.4). */
export interface ConsistencySignature {
  readonly id: ClientId;
  readonly signature: Uint8Array;
}

// ---- client → server --------------------------------------------------------------------------

export interface AdvertiseKeysMessage {
  readonly type: 'advertise';
  readonly cPk: Uint8Array;
  readonly sPk: Uint8Array;
  readonly signature?: Uint8Array;
}

export interface EncryptedSharesMessage {
  readonly type: 'shares';
  /** SHA-256 commitment to the self-mask seed (§4.2). */
  readonly bCommit: Uint8Array;
  /** One ciphertext per neighbour that advertised keys, sorted by `to`. */
  readonly ciphertexts: readonly ShareCiphertext[];
}

export interface MaskedInputMessage {
  readonly type: 'masked';
  /** One masked vector per round vector, in the order of the round's vector specs. */
  readonly vectors: readonly Uint32Array[];
}

export interface ConsistencySignatureMessage {
  readonly type: 'consistency';
  readonly signature: Uint8Array;
}

export interface UnmaskResponseMessage {
  readonly type: 'unmask';
  /** For each survivor among the sender and the neighbours whose share message it could read. */
  readonly selfMaskShares: readonly SecretShare[];
  /** For each dropped neighbour whose share message it could read. */
  readonly keyShares: readonly SecretShare[];
  /** For each dropped neighbour whose share message it could not read (§4.2); usually empty. */
  readonly pairSeeds: readonly RevealedPairSeed[];
}

export type ClientMessage =
  | AdvertiseKeysMessage
  | EncryptedSharesMessage
  | MaskedInputMessage
  | ConsistencySignatureMessage
  | UnmaskResponseMessage;

// ---- server → client --------------------------------------------------------------------------

export interface PeerKeysMessage {
  readonly type: 'peer-keys';
  /** Every client of U1, sorted by id. */
  readonly peers: readonly AdvertisedKeys[];
}

export interface ShareDeliveryMessage {
  readonly type: 'share-delivery';
  /** The ciphertexts addressed to this client by neighbours in U2, sorted by `from`. */
  readonly ciphertexts: readonly ShareCiphertext[];
}

export interface ConsistencyRequestMessage {
  readonly type: 'consistency-request';
  readonly survivors: readonly ClientId[];
}

export interface UnmaskRequestMessage {
  readonly type: 'unmask-request';
  /** U3: the clients whose masked input is in the sum. */
  readonly survivors: readonly ClientId[];
  /** U2 \ U3: clients that shared keys but whose masked input never arrived. */
  readonly dropped: readonly ClientId[];
  /** Malicious setting: the consistency signatures of U4. */
  readonly signatures?: readonly ConsistencySignature[];
}

export interface AbortMessage {
  readonly type: 'abort';
  readonly reason: string;
}

export type ServerMessage =
  | PeerKeysMessage
  | ShareDeliveryMessage
  | ConsistencyRequestMessage
  | UnmaskRequestMessage
  | AbortMessage;

/** The stage a client enters on receiving each server message (its reply belongs to that stage). */
export const STAGE_ENTERED: Readonly<Record<Exclude<ServerMessage['type'], 'abort'>, Stage>> = {
  'peer-keys': 'share',
  'share-delivery': 'masked',
  'consistency-request': 'consistency',
  'unmask-request': 'unmask',
};
