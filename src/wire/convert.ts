/**
 * Conversion between the generated protobuf frames (proto/privagg/v1/secagg.proto, code in src/gen/)
 * and the core's messages (src/secagg/messages.ts), strict in both directions: exact byte lengths
 * (keys 32, signatures 64, ciphertexts 88, shares 32, commitments 32, identity keys 32), id lists
 * sorted ascending without duplicates (docs/PROTOCOL.md §1), no id 0, every required oneof and enum
 * set, and the cohort (§2.3) present exactly in the malicious setting, one entry per client. Anything
 * else is a {@link WireFormatError} naming the field.
 *
 * Every message has one `*FromWire` check; the `*ToWire` direction builds the frame and runs the same
 * check over it (as direction `encode`), so both directions accept exactly the same set of frames.
 *
 * Which side calls what, in session order:
 * - client: {@link checkInToFrame}; then per server frame {@link parseServerFrame} (or
 *   {@link serverFrameFromWire} when grpc-js already decoded it) and per core output
 *   {@link clientMessageToFrames}; {@link clientAbortToFrame} to give up.
 * - coordinator: per client frame {@link parseClientFrame} / {@link clientFrameFromWire}, feeding
 *   masked-input chunks to a {@link MaskedInputAssembler}; {@link roundAnnouncementToFrame} after a
 *   check-in; {@link serverMessageToFrame} for each core output, aborts included.
 *
 * Received byte strings are copied into the core messages (decoded frames are views of the received
 * buffer), except masked-input chunk data, which the assembler copies.
 * @module
 */
import { type AnnouncedClipCount, type AnnouncedPrivacy, ROTATION_SEED_BYTES } from '../dp/announced.ts';
import * as pb from '../gen/privagg/v1/secagg.ts';
import { packBits } from '../secagg/bitpack.ts';
import { type CohortMember, IDENTITY_KEY_BYTES, MAX_COHORT_NAME_BYTES } from '../secagg/cohort.ts';
import { sha256 } from '../secagg/crypto/hash.ts';
import { equalBytes } from '../secagg/encoding.ts';
import {
  type AbortCode,
  ProtocolViolation,
  Refusal,
  type RefusalCode,
  RoundAborted,
} from '../secagg/errors.ts';
import type { GraphSpec } from '../secagg/graph.ts';
import type {
  AbortMessage,
  AdvertisedKeys,
  AdvertiseKeysMessage,
  ClientMessage,
  ConsistencyRequestMessage,
  ConsistencySignature,
  ConsistencySignatureMessage,
  EncryptedSharesMessage,
  PeerKeysMessage,
  RevealedPairSeed,
  SecretShare,
  ServerMessage,
  ShareCiphertext,
  ShareDeliveryMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from '../secagg/messages.ts';
import { MAX_VECTOR_ELEMENTS } from '../secagg/params.ts';
import { type ClientId, MAX_CLIENT_ID, type ServerModel, type VectorSpec } from '../secagg/types.ts';
import { roundContext, TASK_DIGEST_BYTES } from './context.ts';
import { type WireDirection, WireFormatError } from './errors.ts';
import { chunkPackedVector, DEFAULT_MAX_CHUNK_BYTES, type MaskedChunk } from './masked.ts';

export type { MaskedChunk, PackedChunk } from './masked.ts';
export { chunkPackedVector, DEFAULT_MAX_CHUNK_BYTES, MaskedInputAssembler } from './masked.ts';

/** Byte lengths fixed by PROTOCOL.md. */
export const WIRE_LENGTHS = Object.freeze({
  publicKey: 32,
  signature: 64,
  ciphertext: 88,
  share: 32,
  commitment: 32,
  pairSeed: 32,
  identityKey: 32,
});

/** Longest client name in a check-in, in UTF-8 bytes. */
export const MAX_CLIENT_NAME_BYTES = 255;
/** Longest vector name, in UTF-8 bytes (PROTOCOL.md §2). */
export const MAX_VECTOR_NAME_BYTES = 255;
/** Longest abort message, in UTF-8 bytes; longer outgoing messages are cut to fit. */
export const MAX_ABORT_MESSAGE_BYTES = 1024;

const MAX_U32 = 0xffff_ffff;
/** Largest training task in a round announcement (PROTOCOL.md §2.1). */
export const MAX_TASK_BYTES = 8 << 20;

// ---- Types of the frames that are not core messages ----------------------------------------------

/** A client's first frame. */
export interface CheckInFrame {
  readonly type: 'check-in';
  /** The coordinator's name for the client, 1..255 UTF-8 bytes. */
  readonly clientName: string;
}

/** One piece of a masked vector; feed it to a {@link MaskedInputAssembler}. */
export interface MaskedChunkFrame extends MaskedChunk {
  readonly type: 'masked-chunk';
}

/** Why a session or round ended early: the core's abort codes plus the transport's own. */
export type WireAbortCode = AbortCode | 'protocol-violation' | 'not-selected' | 'dropped';

/**
 * An abort in either direction. It is an {@link AbortMessage} (the core's server-side abort) with a
 * reason code, and a refusal code when a client refused.
 */
export interface WireAbort extends AbortMessage {
  readonly code: WireAbortCode;
  /** Set exactly when `code` is `client-refused`. */
  readonly refusal?: RefusalCode;
}

/** The round parameters of PROTOCOL.md §2 as announced; the core's `RoundParams` fits this shape. */
export interface AnnouncedParameters {
  readonly round: number;
  readonly serverModel: ServerModel;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  /** Sorted ascending, unique. */
  readonly clients: readonly ClientId[];
  /**
   * The neighbour graph (PROTOCOL.md §2, §2.2). Structurally checked only (integers in range); its
   * privacy bounds are checked by `roundParams`.
   */
  readonly graph: GraphSpec;
  /** Sorted by the UTF-8 bytes of the names, unique. */
  readonly vectors: readonly VectorSpec[];
  /** The round's differential privacy (§2.1), structurally valid; absent when none. */
  readonly privacy?: AnnouncedPrivacy;
  /** SHA-256 of the round's task, when it has one (§2.1). */
  readonly taskDigest?: Uint8Array;
  /**
   * Malicious setting: the cohort's ids, names and identity keys (PROTOCOL.md §2.3), sorted by id,
   * the ids exactly `clients`; present exactly when `serverModel` is malicious. Structurally checked
   * only (uniqueness of names and keys is `roundParams`'s, agreement with a roster the client's).
   */
  readonly cohort?: readonly CohortMember[];
  /**
   * When encoding: the context the parameters were hashed with (a `RoundParams` has it); it must be
   * the §2.1 encoding of `privacy` and `taskDigest`, so a coordinator cannot announce parameters
   * other than those it computes with.
   */
  readonly context?: Uint8Array;
}

/**
 * The coordinator selected the client. `parameters` is structurally valid only: pass it to
 * `roundParams` (src/secagg/params.ts) for the threshold rules of §7 and the configuration hash.
 */
export interface RoundAnnouncementFrame {
  readonly type: 'round';
  /** The receiving client's id in this round, a member of `parameters.clients`. */
  readonly clientId: ClientId;
  readonly parameters: AnnouncedParameters;
  /** The round's task; present exactly when `parameters.taskDigest` is, and hashing to it. */
  readonly task?: Uint8Array;
}

/** A client frame as the coordinator sees it. */
export type InboundClientFrame =
  | CheckInFrame
  | AdvertiseKeysMessage
  | EncryptedSharesMessage
  | MaskedChunkFrame
  | ConsistencySignatureMessage
  | UnmaskResponseMessage
  | WireAbort;

/** A server frame as a client sees it. */
export type InboundServerFrame =
  | RoundAnnouncementFrame
  | PeerKeysMessage
  | ShareDeliveryMessage
  | ConsistencyRequestMessage
  | UnmaskRequestMessage
  | WireAbort;

/** What {@link clientMessageToFrames} needs to know about the session. */
export interface ClientFrameContext {
  /** This client's id in the round. */
  readonly self: ClientId;
  /** The round's vector specs, in the round's order. */
  readonly vectors: readonly VectorSpec[];
  /** Largest masked-input chunk (default {@link DEFAULT_MAX_CHUNK_BYTES}). */
  readonly maxChunkBytes?: number;
}

// ---- Field checks -------------------------------------------------------------------------------

const utf8 = new TextEncoder();

/** Field checks for one direction; every failure is a WireFormatError naming the field. */
class Fields {
  constructor(readonly direction: WireDirection) {}

  fail(field: string, problem: string): never {
    throw new WireFormatError(this.direction, field, problem);
  }

  /** Exactly `length` bytes; received bytes are copied, outgoing ones passed through. */
  bytes(value: unknown, field: string, length: number): Uint8Array {
    if (!(value instanceof Uint8Array)) this.fail(field, 'must be bytes');
    if (value.length !== length) this.fail(field, `must be ${length} bytes, got ${value.length}`);
    // A plain Uint8Array copy: grpc-js hands over Buffers, whose slice() is a view, not a copy.
    return this.direction === 'decode' ? new Uint8Array(value) : value;
  }

  /** An integer in [min, max]. */
  /** A finite double in the open interval (min, max). */
  double(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value >= max) {
      this.fail(field, `must be a finite number in (${min}, ${max}), got ${String(value)}`);
    }
    return value;
  }

  uint(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
    return value;
  }

  /** A client id, [1, 2^32 − 1]. */
  id(value: unknown, field: string): ClientId {
    if (value === 0) this.fail(field, 'must not be 0 (client ids start at 1)');
    return this.uint(value, field, 1, MAX_CLIENT_ID) as ClientId;
  }

  /** A list, as an array. */
  list<T>(value: readonly T[] | undefined, field: string): readonly T[] {
    if (!Array.isArray(value)) this.fail(field, 'must be a list');
    return value;
  }

  /** A list of ids, sorted ascending without duplicates. */
  ids(value: readonly number[] | undefined, field: string): ClientId[] {
    const ids = this.list(value, field).map((id, i) => this.id(id, `${field}[${i}]`));
    this.ascending(ids, field, '');
    return ids;
  }

  /** `keys[i]` is the id of entry i of `field`; they must ascend strictly. */
  ascending(keys: readonly number[], field: string, key: string): void {
    for (let i = 1; i < keys.length; i++) {
      if (keys[i]! <= keys[i - 1]!) {
        const what = keys[i] === keys[i - 1] ? 'repeats' : 'is below';
        this.fail(
          `${field}[${i}]${key}`,
          `${what} the previous id ${keys[i - 1]} (${keys[i]}; ids must be sorted ascending without duplicates)`,
        );
      }
    }
  }

  /** A string of `min..max` UTF-8 bytes. */
  text(value: unknown, field: string, min: number, max: number): string {
    if (typeof value !== 'string') this.fail(field, 'must be a string');
    const length = utf8.encode(value).length;
    if (length < min || length > max) this.fail(field, `must be ${min}..${max} UTF-8 bytes, got ${length}`);
    return value;
  }

  /** A required sub-message. */
  present<T>(value: T | undefined, field: string): T {
    if (value === undefined || value === null) this.fail(field, 'is missing');
    return value;
  }
}

const DECODE: Fields = new Fields('decode');
const ENCODE: Fields = new Fields('encode');

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Exhaustiveness guard of a switch over a oneof case or a message type. */
function unreachable(value: never, f: Fields, field: string): never {
  const tagged = value as { $case?: unknown; type?: unknown } | string;
  const name = typeof tagged === 'object' && tagged !== null ? (tagged.$case ?? tagged.type) : tagged;
  return f.fail(field, `has unknown case '${String(name)}'`);
}

// ---- Enums --------------------------------------------------------------------------------------

const SERVER_MODEL_TO_WIRE: Record<ServerModel, pb.ServerModel> = {
  'semi-honest': pb.ServerModel.SERVER_MODEL_SEMI_HONEST,
  malicious: pb.ServerModel.SERVER_MODEL_MALICIOUS,
};

const ABORT_TO_WIRE: Record<WireAbortCode, pb.AbortReason> = {
  'too-few-clients': pb.AbortReason.ABORT_REASON_TOO_FEW_CLIENTS,
  'reconstruction-failed': pb.AbortReason.ABORT_REASON_RECONSTRUCTION_FAILED,
  'server-aborted': pb.AbortReason.ABORT_REASON_SERVER_ABORTED,
  'client-refused': pb.AbortReason.ABORT_REASON_CLIENT_REFUSED,
  'protocol-violation': pb.AbortReason.ABORT_REASON_PROTOCOL_VIOLATION,
  'not-selected': pb.AbortReason.ABORT_REASON_NOT_SELECTED,
  dropped: pb.AbortReason.ABORT_REASON_DROPPED,
};

const REFUSAL_TO_WIRE: Record<RefusalCode, pb.RefusalReason> = {
  'bad-parameters': pb.RefusalReason.REFUSAL_REASON_BAD_PARAMETERS,
  'threshold-too-low': pb.RefusalReason.REFUSAL_REASON_THRESHOLD_TOO_LOW,
  'bad-peer-list': pb.RefusalReason.REFUSAL_REASON_BAD_PEER_LIST,
  'invalid-public-key': pb.RefusalReason.REFUSAL_REASON_INVALID_PUBLIC_KEY,
  'duplicate-public-key': pb.RefusalReason.REFUSAL_REASON_DUPLICATE_PUBLIC_KEY,
  'bad-signature': pb.RefusalReason.REFUSAL_REASON_BAD_SIGNATURE,
  'own-keys-altered': pb.RefusalReason.REFUSAL_REASON_OWN_KEYS_ALTERED,
  'too-few-peers': pb.RefusalReason.REFUSAL_REASON_TOO_FEW_PEERS,
  'bad-share': pb.RefusalReason.REFUSAL_REASON_BAD_SHARE,
  'survivors-below-threshold': pb.RefusalReason.REFUSAL_REASON_SURVIVORS_BELOW_THRESHOLD,
  'inconsistent-survivors': pb.RefusalReason.REFUSAL_REASON_INCONSISTENT_SURVIVORS,
  'self-listed-as-dropped': pb.RefusalReason.REFUSAL_REASON_SELF_LISTED_AS_DROPPED,
  'both-shares-requested': pb.RefusalReason.REFUSAL_REASON_BOTH_SHARES_REQUESTED,
  'repeated-request': pb.RefusalReason.REFUSAL_REASON_REPEATED_REQUEST,
  'insufficient-privacy': pb.RefusalReason.REFUSAL_REASON_INSUFFICIENT_PRIVACY,
};

function invert<K extends string>(map: Record<K, number>): ReadonlyMap<number, K> {
  return new Map(Object.entries(map).map(([k, v]) => [v as number, k as K]));
}

const SERVER_MODEL_FROM_WIRE = invert(SERVER_MODEL_TO_WIRE);
const ABORT_FROM_WIRE = invert(ABORT_TO_WIRE);
const REFUSAL_FROM_WIRE = invert(REFUSAL_TO_WIRE);

/** Looks a core name up in a to-wire table, failing on anything else. */
function enumToWire<K extends string, V extends number>(
  table: Record<K, V>,
  value: unknown,
  f: Fields,
  field: string,
): V {
  if (typeof value !== 'string' || !Object.hasOwn(table, value)) {
    f.fail(field, `has unknown value '${String(value)}'`);
  }
  return table[value as K];
}

/** Looks a wire enum number up, failing on UNSPECIFIED (0) and unknown numbers. */
function enumFromWire<K extends string>(
  table: ReadonlyMap<number, K>,
  value: number,
  f: Fields,
  field: string,
): K {
  const name = table.get(value);
  if (name === undefined) f.fail(field, value === 0 ? 'is not set' : `has unknown value ${value}`);
  return name;
}

// ---- Check-in and round announcement -----------------------------------------------------------

function checkInFromWire(v: pb.CheckIn, f: Fields): CheckInFrame {
  return {
    type: 'check-in',
    clientName: f.text(v.clientName, 'check_in.client_name', 1, MAX_CLIENT_NAME_BYTES),
  };
}

function parametersFromWire(v: pb.RoundParameters, f: Fields, field: string): AnnouncedParameters {
  const round = f.uint(v.round, `${field}.round`, 1, MAX_U32);
  const serverModel = enumFromWire(SERVER_MODEL_FROM_WIRE, v.serverModel, f, `${field}.server_model`);
  const threshold = f.uint(v.threshold, `${field}.threshold`, 0, MAX_U32);
  const maxCorruptClients = f.uint(v.maxCorruptClients, `${field}.max_corrupt_clients`, 0, MAX_U32);
  const clients = f.ids(v.clients, `${field}.clients`);
  if (clients.length === 0) f.fail(`${field}.clients`, 'must not be empty');
  const graph = graphFromWire(f.present(v.graph, `${field}.graph`), f, `${field}.graph`);
  const specs = f.list(v.vectors, `${field}.vectors`);
  if (specs.length === 0) f.fail(`${field}.vectors`, 'must not be empty');
  let previous: Uint8Array | undefined;
  const vectors = specs.map((spec, i): VectorSpec => {
    const at = `${field}.vectors[${i}]`;
    const name = f.text(spec.name, `${at}.name`, 1, MAX_VECTOR_NAME_BYTES);
    const nameBytes = utf8.encode(name);
    if (previous !== undefined && compareBytes(previous, nameBytes) >= 0) {
      f.fail(
        `${at}.name`,
        compareBytes(previous, nameBytes) === 0
          ? `repeats the previous name '${name}'`
          : `'${name}' is not after the previous name in UTF-8 byte order (vectors must be sorted by name)`,
      );
    }
    previous = nameBytes;
    return Object.freeze({
      name,
      // Fail closed at the wire too: the client allocates from this length (secagg/params.ts).
      length: f.uint(spec.length, `${at}.length`, 1, MAX_VECTOR_ELEMENTS),
      bits: f.uint(spec.bits, `${at}.bits`, 1, 32),
    });
  });
  const privacy = v.privacy === undefined ? undefined : privacyFromWire(v.privacy, f, `${field}.privacy`);
  const taskDigest = v.taskDigest?.length
    ? f.bytes(v.taskDigest, `${field}.task_digest`, TASK_DIGEST_BYTES)
    : undefined;
  const cohort = cohortFromWire(v.cohort, serverModel, clients, f, `${field}.cohort`);
  return {
    round,
    serverModel,
    threshold,
    maxCorruptClients,
    clients,
    graph,
    vectors,
    ...(privacy && { privacy }),
    ...(taskDigest && { taskDigest }),
    ...(cohort && { cohort }),
  };
}

/**
 * The cohort (§2.3): required and one entry per client, in the order of `clients`, in the malicious
 * setting (a coordinator that leaves it out cannot downgrade the clients to keys of its choosing);
 * empty in the semi-honest one.
 */
function cohortFromWire(
  list: readonly pb.CohortMember[] | undefined,
  serverModel: ServerModel,
  clients: readonly ClientId[],
  f: Fields,
  field: string,
): CohortMember[] | undefined {
  const entries = f.list(list ?? [], field);
  if (serverModel !== 'malicious') {
    if (entries.length > 0) f.fail(field, 'must be empty in the semi-honest setting');
    return undefined;
  }
  if (entries.length !== clients.length) {
    f.fail(field, `must have one entry per client (${clients.length}), got ${entries.length}`);
  }
  return entries.map((m, i): CohortMember => {
    const at = `${field}[${i}]`;
    const id = f.id(m.clientId, `${at}.client_id`);
    if (id !== clients[i]) f.fail(`${at}.client_id`, `is ${id}, not clients[${i}] = ${clients[i]}`);
    return {
      id,
      name: f.text(m.name, `${at}.name`, 1, MAX_COHORT_NAME_BYTES),
      identityKey: f.bytes(m.identityKey, `${at}.identity_key`, IDENTITY_KEY_BYTES),
    };
  });
}

function graphFromWire(v: pb.NeighbourGraph, f: Fields, field: string): GraphSpec {
  const kind = f.present(v.kind, `${field}.kind`);
  switch (kind.$case) {
    case 'complete':
      return Object.freeze({ kind: 'complete' });
    case 'harary': {
      const h = kind.value;
      return Object.freeze({
        kind: 'harary',
        degree: f.uint(h.degree, `${field}.harary.degree`, 2, MAX_U32),
        minSurvivors: f.uint(h.minSurvivors, `${field}.harary.min_survivors`, 2, MAX_U32),
        securityBits: f.uint(h.securityBits, `${field}.harary.security_bits`, 1, 255),
      });
    }
    default:
      return unreachable(kind, f, `${field}.kind`);
  }
}

function graphToWire(graph: GraphSpec | undefined, f: Fields): pb.NeighbourGraph {
  switch (graph?.kind) {
    case 'complete':
      return { kind: { $case: 'complete', value: {} } };
    case 'harary':
      return {
        kind: {
          $case: 'harary',
          value: {
            degree: graph.degree,
            minSurvivors: graph.minSurvivors,
            securityBits: graph.securityBits,
          },
        },
      };
    default:
      return f.fail(
        'round_announcement.parameters.graph',
        `has unknown kind '${String((graph as { kind?: unknown } | undefined)?.kind)}'`,
      );
  }
}

function clipCountFromWire(
  v: pb.ClipCount | undefined,
  f: Fields,
  field: string,
): AnnouncedClipCount | undefined {
  if (v === undefined) return undefined;
  return {
    bits: f.uint(v.bits, `${field}.bits`, 2, 32),
    bitNoiseStddev: f.double(v.bitNoiseStddev, `${field}.bit_noise_stddev`, 0, Number.POSITIVE_INFINITY),
  };
}

/** The fields both mechanisms share (PROTOCOL.md §2.1), checked structurally. */
function commonPrivacyFromWire(m: pb.DistributedSkellam | pb.CentralGaussian, f: Fields, at: string) {
  const inf = Number.POSITIVE_INFINITY;
  const clipCount = clipCountFromWire(m.clipCount, f, `${at}.clip_count`);
  return {
    dimension: f.uint(m.dimension, `${at}.dimension`, 1, 2 ** 30),
    clip: f.double(m.clip, `${at}.clip`, 0, inf),
    noiseMultiplier: f.double(m.noiseMultiplier, `${at}.noise_multiplier`, 0, inf),
    bits: f.uint(m.bits, `${at}.bits`, 2, 32),
    scale: f.double(m.scale, `${at}.scale`, 0, inf),
    ...(clipCount && { clipCount }),
  };
}

/** Structural checks only; dp/announced.ts `privacyPlan` checks that the numbers work together. */
function privacyFromWire(v: pb.DifferentialPrivacy, f: Fields, field: string): AnnouncedPrivacy {
  const mechanism = f.present(v.mechanism, `${field}.mechanism`);
  if (mechanism.$case === 'distributedSkellam') {
    const m = mechanism.value;
    const at = `${field}.distributed_skellam`;
    return {
      mechanism: 'distributed-skellam',
      ...commonPrivacyFromWire(m, f, at),
      beta: m.beta === 0 ? 0 : f.double(m.beta, `${at}.beta`, 0, 1),
      maxWrapProbability: f.double(m.maxWrapProbability, `${at}.max_wrap_probability`, 0, 1),
      minNoisyClients: f.uint(m.minNoisyClients, `${at}.min_noisy_clients`, 1, MAX_U32),
      rotationSeed: f.bytes(m.rotationSeed, `${at}.rotation_seed`, ROTATION_SEED_BYTES),
    };
  }
  if (mechanism.$case === 'centralGaussian') {
    return {
      mechanism: 'central-gaussian',
      ...commonPrivacyFromWire(mechanism.value, f, `${field}.central_gaussian`),
    };
  }
  return unreachable(mechanism, f, `${field}.mechanism`);
}

function clipCountToWire(c: AnnouncedClipCount | undefined): pb.ClipCount | undefined {
  return c && { bits: c.bits, bitNoiseStddev: c.bitNoiseStddev };
}

function privacyToWire(p: AnnouncedPrivacy): pb.DifferentialPrivacy {
  if (p.mechanism === 'distributed-skellam') {
    return {
      mechanism: {
        $case: 'distributedSkellam',
        value: {
          dimension: p.dimension,
          clip: p.clip,
          noiseMultiplier: p.noiseMultiplier,
          bits: p.bits,
          scale: p.scale,
          beta: p.beta,
          maxWrapProbability: p.maxWrapProbability,
          minNoisyClients: p.minNoisyClients,
          rotationSeed: p.rotationSeed,
          clipCount: clipCountToWire(p.clipCount),
        },
      },
    };
  }
  return {
    mechanism: {
      $case: 'centralGaussian',
      value: {
        dimension: p.dimension,
        clip: p.clip,
        noiseMultiplier: p.noiseMultiplier,
        bits: p.bits,
        scale: p.scale,
        clipCount: clipCountToWire(p.clipCount),
      },
    },
  };
}

function roundAnnouncementFromWire(v: pb.RoundAnnouncement, f: Fields): RoundAnnouncementFrame {
  const parameters = parametersFromWire(
    f.present(v.parameters, 'round_announcement.parameters'),
    f,
    'round_announcement.parameters',
  );
  const clientId = f.id(v.clientId, 'round_announcement.client_id');
  if (!parameters.clients.includes(clientId)) {
    f.fail('round_announcement.client_id', `${clientId} is not one of the round's clients`);
  }
  const task = v.task?.length ? (f.direction === 'decode' ? new Uint8Array(v.task) : v.task) : undefined;
  if (task && task.length > MAX_TASK_BYTES) {
    f.fail('round_announcement.task', `must be at most ${MAX_TASK_BYTES} bytes, got ${task.length}`);
  }
  if ((task === undefined) !== (parameters.taskDigest === undefined)) {
    f.fail(
      'round_announcement.task',
      task ? 'is set but parameters.task_digest is empty' : 'is empty but parameters.task_digest is set',
    );
  }
  if (task && !equalBytes(sha256(task), parameters.taskDigest!)) {
    f.fail('round_announcement.task', 'does not hash to parameters.task_digest');
  }
  return { type: 'round', clientId, parameters, ...(task && { task }) };
}

// ---- Stage 0 ------------------------------------------------------------------------------------

function advertiseKeysFromWire(v: pb.AdvertiseKeys, f: Fields): AdvertiseKeysMessage {
  const cPk = f.bytes(v.cPk, 'advertise_keys.c_pk', WIRE_LENGTHS.publicKey);
  const sPk = f.bytes(v.sPk, 'advertise_keys.s_pk', WIRE_LENGTHS.publicKey);
  if (v.signature === undefined) return { type: 'advertise', cPk, sPk };
  return { type: 'advertise', cPk, sPk, signature: f.bytes(v.signature, 'advertise_keys.signature', 64) };
}

function peerKeysFromWire(v: pb.PeerKeys, f: Fields): PeerKeysMessage {
  const entries = f.list(v.peers, 'peer_keys.peers');
  const signed = entries[0]?.signature !== undefined;
  const peers = entries.map((peer, i): AdvertisedKeys => {
    const at = `peer_keys.peers[${i}]`;
    const id = f.id(peer.clientId, `${at}.client_id`);
    const cPk = f.bytes(peer.cPk, `${at}.c_pk`, WIRE_LENGTHS.publicKey);
    const sPk = f.bytes(peer.sPk, `${at}.s_pk`, WIRE_LENGTHS.publicKey);
    if ((peer.signature !== undefined) !== signed) {
      f.fail(
        `${at}.signature`,
        'must be present on every peer or on none (it is set in the malicious setting)',
      );
    }
    if (peer.signature === undefined) return { id, cPk, sPk };
    return { id, cPk, sPk, signature: f.bytes(peer.signature, `${at}.signature`, WIRE_LENGTHS.signature) };
  });
  f.ascending(
    peers.map((p) => p.id),
    'peer_keys.peers',
    '.client_id',
  );
  return { type: 'peer-keys', peers };
}

// ---- Stage 1 ------------------------------------------------------------------------------------

function encryptedSharesFromWire(
  v: pb.EncryptedShares,
  f: Fields,
  sender: ClientId | undefined,
): EncryptedSharesMessage {
  if (sender === undefined) f.fail('encrypted_shares', 'arrived before the client was given an id');
  const bCommit = f.bytes(v.bCommit, 'encrypted_shares.b_commit', WIRE_LENGTHS.commitment);
  const ciphertexts = f.list(v.ciphertexts, 'encrypted_shares.ciphertexts').map((c, i): ShareCiphertext => {
    const at = `encrypted_shares.ciphertexts[${i}]`;
    const to = f.id(c.recipient, `${at}.recipient`);
    if (to === sender) f.fail(`${at}.recipient`, `is the sender itself (${sender})`);
    return {
      from: sender,
      to,
      ciphertext: f.bytes(c.ciphertext, `${at}.ciphertext`, WIRE_LENGTHS.ciphertext),
    };
  });
  f.ascending(
    ciphertexts.map((c) => c.to),
    'encrypted_shares.ciphertexts',
    '.recipient',
  );
  return { type: 'shares', bCommit, ciphertexts };
}

function shareDeliveryFromWire(
  v: pb.ShareDelivery,
  f: Fields,
  self: ClientId | undefined,
): ShareDeliveryMessage {
  if (self === undefined) f.fail('share_delivery', 'arrived before the client was given an id');
  const ciphertexts = f.list(v.ciphertexts, 'share_delivery.ciphertexts').map((c, i): ShareCiphertext => {
    const at = `share_delivery.ciphertexts[${i}]`;
    const from = f.id(c.sender, `${at}.sender`);
    if (from === self) f.fail(`${at}.sender`, `is the recipient itself (${self})`);
    return { from, to: self, ciphertext: f.bytes(c.ciphertext, `${at}.ciphertext`, WIRE_LENGTHS.ciphertext) };
  });
  f.ascending(
    ciphertexts.map((c) => c.from),
    'share_delivery.ciphertexts',
    '.sender',
  );
  return { type: 'share-delivery', ciphertexts };
}

// ---- Stage 2 ------------------------------------------------------------------------------------

function maskedChunkFromWire(v: pb.MaskedInputChunk, f: Fields): MaskedChunkFrame {
  const vectorIndex = f.uint(v.vectorIndex, 'masked_input_chunk.vector_index', 0, MAX_U32);
  const offset = f.uint(v.offset, 'masked_input_chunk.offset', 0, Number.MAX_SAFE_INTEGER);
  if (!(v.data instanceof Uint8Array)) f.fail('masked_input_chunk.data', 'must be bytes');
  if (v.data.length === 0) f.fail('masked_input_chunk.data', 'must not be empty');
  if (typeof v.last !== 'boolean') f.fail('masked_input_chunk.last', 'must be a boolean');
  return { type: 'masked-chunk', vectorIndex, offset, data: v.data, last: v.last };
}

// ---- Stages 3 and 4 -----------------------------------------------------------------------------

function consistencyRequestFromWire(v: pb.ConsistencyRequest, f: Fields): ConsistencyRequestMessage {
  return { type: 'consistency-request', survivors: f.ids(v.survivors, 'consistency_request.survivors') };
}

function consistencySignatureFromWire(v: pb.ConsistencySignature, f: Fields): ConsistencySignatureMessage {
  return {
    type: 'consistency',
    signature: f.bytes(v.signature, 'consistency_signature.signature', WIRE_LENGTHS.signature),
  };
}

function unmaskRequestFromWire(v: pb.UnmaskRequest, f: Fields): UnmaskRequestMessage {
  const survivors = f.ids(v.survivors, 'unmask_request.survivors');
  const dropped = f.ids(v.dropped, 'unmask_request.dropped');
  if (v.consistencySignatures === undefined) return { type: 'unmask-request', survivors, dropped };
  const field = 'unmask_request.consistency_signatures.signatures';
  const signatures = f.list(v.consistencySignatures.signatures, field).map(
    (s, i): ConsistencySignature => ({
      id: f.id(s.clientId, `${field}[${i}].client_id`),
      signature: f.bytes(s.signature, `${field}[${i}].signature`, WIRE_LENGTHS.signature),
    }),
  );
  f.ascending(
    signatures.map((s) => s.id),
    field,
    '.client_id',
  );
  return { type: 'unmask-request', survivors, dropped, signatures };
}

function sharesFromWire(list: readonly pb.OwnedShare[], f: Fields, field: string): SecretShare[] {
  const shares = f.list(list, field).map(
    (s, i): SecretShare => ({
      of: f.id(s.owner, `${field}[${i}].owner`),
      share: f.bytes(s.share, `${field}[${i}].share`, WIRE_LENGTHS.share),
    }),
  );
  f.ascending(
    shares.map((s) => s.of),
    field,
    '.owner',
  );
  return shares;
}

function pairSeedsFromWire(list: readonly pb.PairSeed[], f: Fields): RevealedPairSeed[] {
  const field = 'unmask_response.pair_seeds';
  const seeds = f.list(list, field).map(
    (s, i): RevealedPairSeed => ({
      of: f.id(s.peer, `${field}[${i}].peer`),
      seed: f.bytes(s.seed, `${field}[${i}].seed`, WIRE_LENGTHS.pairSeed),
    }),
  );
  f.ascending(
    seeds.map((s) => s.of),
    field,
    '.peer',
  );
  return seeds;
}

function unmaskResponseFromWire(v: pb.UnmaskResponse, f: Fields): UnmaskResponseMessage {
  return {
    type: 'unmask',
    selfMaskShares: sharesFromWire(v.selfMaskShares, f, 'unmask_response.self_mask_shares'),
    keyShares: sharesFromWire(v.keyShares, f, 'unmask_response.key_shares'),
    pairSeeds: pairSeedsFromWire(v.pairSeeds, f),
  };
}

// ---- Abort --------------------------------------------------------------------------------------

function abortFromWire(v: pb.Abort, f: Fields): WireAbort {
  const code = enumFromWire(ABORT_FROM_WIRE, v.reason, f, 'abort.reason');
  const reason = f.text(v.message, 'abort.message', 0, MAX_ABORT_MESSAGE_BYTES);
  if (code !== 'client-refused') {
    if (v.refusal !== pb.RefusalReason.REFUSAL_REASON_UNSPECIFIED) {
      f.fail('abort.refusal', `must not be set when the reason is '${code}'`);
    }
    return { type: 'abort', code, reason };
  }
  const refusal = enumFromWire(REFUSAL_FROM_WIRE, v.refusal, f, 'abort.refusal');
  return { type: 'abort', code, refusal, reason };
}

/** Cuts `text` to at most `max` UTF-8 bytes at a code point boundary. */
function truncateUtf8(text: string, max: number): string {
  if (utf8.encode(text).length <= max) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = utf8.encode(ch).length;
    if (used + size > max - 3) break;
    out += ch;
    used += size;
  }
  return `${out}...`;
}

function abortToWire(abort: WireAbort | AbortMessage): pb.Abort {
  const code: unknown = 'code' in abort ? abort.code : 'server-aborted';
  const refusal = 'refusal' in abort ? abort.refusal : undefined;
  const wire: pb.Abort = {
    reason: enumToWire(ABORT_TO_WIRE, code, ENCODE, 'abort.reason'),
    refusal:
      refusal === undefined
        ? pb.RefusalReason.REFUSAL_REASON_UNSPECIFIED
        : enumToWire(REFUSAL_TO_WIRE, refusal, ENCODE, 'abort.refusal'),
    message: typeof abort.reason === 'string' ? truncateUtf8(abort.reason, MAX_ABORT_MESSAGE_BYTES) : '',
  };
  abortFromWire(wire, ENCODE);
  return wire;
}

/**
 * Turns an error into the abort to send: a {@link Refusal} becomes `client-refused` with its code, a
 * {@link RoundAborted} keeps its code, a {@link WireFormatError} about received data and a core
 * {@link ProtocolViolation} (a message out of order or against the protocol) are a
 * `protocol-violation` of the peer, and anything else is `server-aborted` with a generic message
 * (an unexpected error's text is not sent).
 * @param error - what was thrown
 * @returns the abort, for {@link clientAbortToFrame} or {@link serverMessageToFrame}
 */
export function abortFromError(error: unknown): WireAbort {
  if (error instanceof Refusal) {
    return { type: 'abort', code: 'client-refused', refusal: error.code, reason: error.message };
  }
  if (error instanceof RoundAborted) return { type: 'abort', code: error.code, reason: error.message };
  if (
    (error instanceof WireFormatError && error.direction === 'decode') ||
    error instanceof ProtocolViolation
  ) {
    return { type: 'abort', code: 'protocol-violation', reason: error.message };
  }
  return { type: 'abort', code: 'server-aborted', reason: 'internal error' };
}

// ---- Frames: coordinator side ---------------------------------------------------------------------

/**
 * Decodes the bytes of a client frame.
 * @param bytes - one gRPC message of the Participate request stream
 * @returns the generated frame; its byte fields are views of `bytes`
 * @throws WireFormatError (direction `decode`, field `ClientFrame`) if the bytes are not a protobuf
 *   encoding of a ClientFrame
 */
export function decodeClientFrame(bytes: Uint8Array): pb.ClientFrame {
  try {
    return pb.ClientFrame.decode(bytes);
  } catch (error) {
    throw new WireFormatError(
      'decode',
      'ClientFrame',
      `is not a valid protobuf encoding: ${(error as Error).message}`,
    );
  }
}

/**
 * Converts a received client frame for the coordinator.
 * @param frame - a decoded ClientFrame
 * @param sender - the session's client id once assigned (needed for encrypted shares, whose sender
 *   the frame does not repeat)
 * @returns the check-in, a core {@link ClientMessage} (the masked input excepted), one masked-input
 *   chunk, or the client's abort
 * @throws WireFormatError (direction `decode`) naming the malformed field
 */
export function clientFrameFromWire(frame: pb.ClientFrame, sender?: ClientId): InboundClientFrame {
  const f: Fields = DECODE;
  const content = f.present(frame.frame, 'frame');
  switch (content.$case) {
    case 'checkIn':
      return checkInFromWire(content.value, f);
    case 'advertiseKeys':
      return advertiseKeysFromWire(content.value, f);
    case 'encryptedShares':
      return encryptedSharesFromWire(content.value, f, sender);
    case 'maskedInputChunk':
      return maskedChunkFromWire(content.value, f);
    case 'consistencySignature':
      return consistencySignatureFromWire(content.value, f);
    case 'unmaskResponse':
      return unmaskResponseFromWire(content.value, f);
    case 'abort':
      return abortFromWire(content.value, f);
    default:
      return unreachable(content, f, 'frame');
  }
}

/**
 * {@link decodeClientFrame} then {@link clientFrameFromWire}.
 * @throws WireFormatError (direction `decode`) and nothing else, whatever the bytes
 */
export function parseClientFrame(bytes: Uint8Array, sender?: ClientId): InboundClientFrame {
  return clientFrameFromWire(decodeClientFrame(bytes), sender);
}

/**
 * Encodes a round's announcement once for all its clients: the returned function gives the encoded
 * `ServerFrame` for one recipient, the shared bytes with that recipient's `client_id` appended. (A
 * protobuf parser takes fields in any order, so the bytes decode to exactly what
 * {@link roundAnnouncementToFrame} gives; encoding each in full cost ~1 ms per client at n = 1,000,
 * most of it the client list.) The shared part is checked once, each id when its frame is made.
 * @throws WireFormatError (direction `encode`) as {@link roundAnnouncementToFrame}
 */
export function roundAnnouncementFrames(
  parameters: AnnouncedParameters,
  task?: Uint8Array,
): (clientId: ClientId) => Uint8Array {
  const first = parameters.clients[0] ?? ENCODE.fail('round_announcement.parameters.clients', 'is empty');
  // Validates the shared part (with a real recipient, as the checks need one).
  const checked = roundAnnouncementToFrame(parameters, first, task);
  if (checked.frame?.$case !== 'roundAnnouncement') throw new Error('unreachable');
  // proto3 leaves a zero client_id out, so this is the announcement without field 2.
  const shared = pb.RoundAnnouncement.encode({ ...checked.frame.value, clientId: 0 }).finish();
  const members = new Set(parameters.clients);
  return (clientId) => {
    if (!members.has(clientId)) {
      ENCODE.fail('round_announcement.client_id', `${clientId} is not one of the round's clients`);
    }
    const idField = [0x10, ...varint(clientId)]; // field 2, varint
    const innerLength = shared.length + idField.length;
    const lengthBytes = varint(innerLength);
    const out = new Uint8Array(1 + lengthBytes.length + innerLength);
    out[0] = 0x0a; // ServerFrame field 1 (round_announcement), length-delimited
    out.set(lengthBytes, 1);
    out.set(shared, 1 + lengthBytes.length);
    out.set(idField, 1 + lengthBytes.length + shared.length);
    return out;
  };
}

/** The protobuf base-128 varint of a non-negative safe integer. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/**
 * Builds the frame announcing a round to one selected client.
 * @param parameters - the round's validated parameters (a `RoundParams` fits)
 * @param clientId - the recipient's id, a member of `parameters.clients`
 * @throws WireFormatError (direction `encode`) if the parameters or id break the wire format
 */
export function roundAnnouncementToFrame(
  parameters: AnnouncedParameters,
  clientId: ClientId,
  task?: Uint8Array,
): pb.ServerFrame {
  const f: Fields = ENCODE;
  if (
    parameters.context !== undefined &&
    !equalBytes(parameters.context, roundContext(parameters.privacy, parameters.taskDigest))
  ) {
    f.fail(
      'round_announcement.parameters',
      'the context hashed into configHash is not that of privacy and task_digest',
    );
  }
  const value: pb.RoundAnnouncement = {
    parameters: {
      round: parameters.round,
      serverModel: enumToWire(
        SERVER_MODEL_TO_WIRE,
        parameters.serverModel,
        f,
        'round_announcement.parameters.server_model',
      ),
      threshold: parameters.threshold,
      maxCorruptClients: parameters.maxCorruptClients,
      clients: parameters.clients,
      graph: graphToWire(parameters.graph, f),
      vectors: f
        .list(parameters.vectors, 'round_announcement.parameters.vectors')
        .map((v) => ({ name: v.name, length: v.length, bits: v.bits })),
      privacy: parameters.privacy && privacyToWire(parameters.privacy),
      taskDigest: parameters.taskDigest ?? new Uint8Array(0),
      cohort: (parameters.cohort ?? []).map((m) => ({
        clientId: m.id,
        name: m.name,
        identityKey: m.identityKey,
      })),
    },
    clientId,
    task: task ?? new Uint8Array(0),
  };
  roundAnnouncementFromWire(value, f);
  return { frame: { $case: 'roundAnnouncement', value } };
}

/**
 * Builds the frame carrying a core server message (or an abort) to one client.
 * @param message - the message; a plain {@link AbortMessage} is sent as `server-aborted`
 * @param recipient - the client it goes to (every ciphertext of a share delivery must be addressed to it)
 * @throws WireFormatError (direction `encode`) naming the field that breaks the wire format
 */
export function serverMessageToFrame(
  message: ServerMessage | WireAbort,
  recipient: ClientId,
): pb.ServerFrame {
  const f: Fields = ENCODE;
  switch (message.type) {
    case 'peer-keys': {
      const value: pb.PeerKeys = {
        peers: f.list(message.peers, 'peer_keys.peers').map((p) => ({
          clientId: p.id,
          cPk: p.cPk,
          sPk: p.sPk,
          ...(p.signature === undefined ? {} : { signature: p.signature }),
        })),
      };
      peerKeysFromWire(value, f);
      return { frame: { $case: 'peerKeys', value } };
    }
    case 'share-delivery': {
      const list = f.list(message.ciphertexts, 'share_delivery.ciphertexts');
      list.forEach((c, i) => {
        if (c.to !== recipient) {
          f.fail(
            `share_delivery.ciphertexts[${i}]`,
            `is addressed to ${c.to}, not to the recipient ${recipient}`,
          );
        }
      });
      const value: pb.ShareDelivery = {
        ciphertexts: list.map((c) => ({ sender: c.from, ciphertext: c.ciphertext })),
      };
      shareDeliveryFromWire(value, f, f.id(recipient, 'recipient'));
      return { frame: { $case: 'shareDelivery', value } };
    }
    case 'consistency-request': {
      const value: pb.ConsistencyRequest = { survivors: message.survivors };
      consistencyRequestFromWire(value, f);
      return { frame: { $case: 'consistencyRequest', value } };
    }
    case 'unmask-request': {
      const value: pb.UnmaskRequest = {
        survivors: message.survivors,
        dropped: message.dropped,
        ...(message.signatures === undefined
          ? {}
          : {
              consistencySignatures: {
                signatures: f
                  .list(message.signatures, 'unmask_request.consistency_signatures.signatures')
                  .map((s) => ({ clientId: s.id, signature: s.signature })),
              },
            }),
      };
      unmaskRequestFromWire(value, f);
      return { frame: { $case: 'unmaskRequest', value } };
    }
    case 'abort':
      return { frame: { $case: 'abort', value: abortToWire(message) } };
    default:
      return unreachable(message, f, 'message.type');
  }
}

// ---- Frames: client side --------------------------------------------------------------------------

/**
 * Decodes the bytes of a server frame.
 * @throws WireFormatError (direction `decode`, field `ServerFrame`) if the bytes are not a protobuf
 *   encoding of a ServerFrame
 */
export function decodeServerFrame(bytes: Uint8Array): pb.ServerFrame {
  try {
    return pb.ServerFrame.decode(bytes);
  } catch (error) {
    throw new WireFormatError(
      'decode',
      'ServerFrame',
      `is not a valid protobuf encoding: ${(error as Error).message}`,
    );
  }
}

/**
 * Converts a received server frame for a client.
 * @param frame - a decoded ServerFrame
 * @param self - this client's id once announced (needed for share deliveries, whose recipient the
 *   frame does not repeat)
 * @returns the round announcement, a core {@link ServerMessage}, or the coordinator's abort
 * @throws WireFormatError (direction `decode`) naming the malformed field
 */
export function serverFrameFromWire(frame: pb.ServerFrame, self?: ClientId): InboundServerFrame {
  const f: Fields = DECODE;
  const content = f.present(frame.frame, 'frame');
  switch (content.$case) {
    case 'roundAnnouncement':
      return roundAnnouncementFromWire(content.value, f);
    case 'peerKeys':
      return peerKeysFromWire(content.value, f);
    case 'shareDelivery':
      return shareDeliveryFromWire(content.value, f, self);
    case 'consistencyRequest':
      return consistencyRequestFromWire(content.value, f);
    case 'unmaskRequest':
      return unmaskRequestFromWire(content.value, f);
    case 'abort':
      return abortFromWire(content.value, f);
    default:
      return unreachable(content, f, 'frame');
  }
}

/**
 * {@link decodeServerFrame} then {@link serverFrameFromWire}.
 * @throws WireFormatError (direction `decode`) and nothing else, whatever the bytes
 */
export function parseServerFrame(bytes: Uint8Array, self?: ClientId): InboundServerFrame {
  return serverFrameFromWire(decodeServerFrame(bytes), self);
}

/**
 * Builds a client's first frame.
 * @param clientName - the coordinator's name for this client, 1..255 UTF-8 bytes
 * @throws WireFormatError (direction `encode`) if the name is empty or too long
 */
export function checkInToFrame(clientName: string): pb.ClientFrame {
  const value: pb.CheckIn = { clientName };
  checkInFromWire(value, ENCODE);
  return { frame: { $case: 'checkIn', value } };
}

/**
 * Builds a client's abort frame.
 * @param abort - why; e.g. from {@link abortFromError}
 * @throws WireFormatError (direction `encode`) for an unknown code, or a refusal code without
 *   `client-refused` (or the reverse)
 */
export function clientAbortToFrame(abort: WireAbort): pb.ClientFrame {
  return { frame: { $case: 'abort', value: abortToWire(abort) } };
}

/**
 * Builds the frames carrying a core client message: one frame, or for the masked input one frame
 * per chunk of each bit-packed vector (vector by vector, in the round's order). Frames are produced
 * lazily, and chunk data are views of one packed vector at a time, so a large model is never held
 * twice in frame form.
 * @param message - the core's output
 * @param context - this client's id, the round's vector specs and the chunk size
 * @throws WireFormatError (direction `encode`) naming the field that breaks the wire format (for the
 *   masked input: wrong vector count or length, or an element that does not fit its bit width)
 */
export function* clientMessageToFrames(
  message: ClientMessage,
  context: ClientFrameContext,
): Generator<pb.ClientFrame, void, undefined> {
  const f: Fields = ENCODE;
  switch (message.type) {
    case 'advertise': {
      const value: pb.AdvertiseKeys = {
        cPk: message.cPk,
        sPk: message.sPk,
        ...(message.signature === undefined ? {} : { signature: message.signature }),
      };
      advertiseKeysFromWire(value, f);
      yield { frame: { $case: 'advertiseKeys', value } };
      return;
    }
    case 'shares': {
      const list = f.list(message.ciphertexts, 'encrypted_shares.ciphertexts');
      list.forEach((c, i) => {
        if (c.from !== context.self) {
          f.fail(
            `encrypted_shares.ciphertexts[${i}]`,
            `is from ${c.from}, not from this client ${context.self}`,
          );
        }
      });
      const value: pb.EncryptedShares = {
        bCommit: message.bCommit,
        ciphertexts: list.map((c) => ({ recipient: c.to, ciphertext: c.ciphertext })),
      };
      encryptedSharesFromWire(value, f, f.id(context.self, 'self'));
      yield { frame: { $case: 'encryptedShares', value } };
      return;
    }
    case 'masked': {
      const specs = context.vectors;
      const vectors = f.list(message.vectors, 'masked_input.vectors');
      if (vectors.length !== specs.length) {
        f.fail('masked_input.vectors', `has ${vectors.length} vectors, the round has ${specs.length}`);
      }
      for (let vectorIndex = 0; vectorIndex < specs.length; vectorIndex++) {
        const spec = specs[vectorIndex]!;
        const values = vectors[vectorIndex];
        const at = `masked_input.vectors[${vectorIndex}]`;
        if (!(values instanceof Uint32Array)) f.fail(at, 'must be a Uint32Array');
        if (values.length !== spec.length) {
          f.fail(at, `has ${values.length} elements, vector '${spec.name}' has ${spec.length}`);
        }
        let packed: Uint8Array;
        try {
          packed = packBits(values, spec.bits);
        } catch (error) {
          f.fail(at, `cannot be packed: ${(error as Error).message}`);
        }
        for (const chunk of chunkPackedVector(packed, context.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES)) {
          yield { frame: { $case: 'maskedInputChunk', value: { vectorIndex, ...chunk } } };
        }
      }
      return;
    }
    case 'consistency': {
      const value: pb.ConsistencySignature = { signature: message.signature };
      consistencySignatureFromWire(value, f);
      yield { frame: { $case: 'consistencySignature', value } };
      return;
    }
    case 'unmask': {
      const value: pb.UnmaskResponse = {
        selfMaskShares: f
          .list(message.selfMaskShares, 'unmask_response.self_mask_shares')
          .map((s) => ({ owner: s.of, share: s.share })),
        keyShares: f
          .list(message.keyShares, 'unmask_response.key_shares')
          .map((s) => ({ owner: s.of, share: s.share })),
        pairSeeds: f
          .list(message.pairSeeds, 'unmask_response.pair_seeds')
          .map((s) => ({ peer: s.of, seed: s.seed })),
      };
      unmaskResponseFromWire(value, f);
      yield { frame: { $case: 'unmaskResponse', value } };
      return;
    }
    default:
      return unreachable(message, f, 'message.type');
  }
}
