/**
 * The unmask plan: the mask-removal work of docs/PROTOCOL.md §4.6 as data.
 *
 * Once the unmask responses suffice, the server reconstructs every secret it needs and checks it
 * (cheap: Shamir interpolation, and one key check per dropped client). What remains is one self mask
 * per survivor `u ∈ U3`, subtracted, and one pairwise mask per dropped client `u` and surviving
 * neighbour `v`, added with `u`'s sign. Each pairwise seed still takes an X25519 agreement and an
 * HKDF to derive (~10^5 of them at a thousand clients with a tenth dropped: seconds of CPU), and each
 * mask a full-length expansion; together nearly all of the server's time. A plan lists that work as
 * jobs (a seed, or for a dropped client's pair the key material to derive it from; a sign; the label
 * that selects the mask), with the vector layout and the session id, so the caller may run them
 * anywhere: on the calling thread ({@link runUnmaskPlan}, the server's default) or split across
 * worker threads.
 *
 * What comes back is the *correction*: per vector, `Σ_jobs sign · PRG(seed)` modulo 2^32, which the
 * server adds to the sum of the masked inputs before reducing modulo 2^bits (§6.2 allows whole-word
 * arithmetic with one reduction at the end). Addition modulo 2^32 is commutative and associative, so
 * any split of the jobs into partial sums, combined in any order, gives the same bytes as the inline
 * computation.
 *
 * Secrets: a plan holds seeds. It redacts itself when turned into JSON or printed with
 * `util.inspect` (only counts and the vector layout show), so it cannot reach a log by accident. The
 * server zeroes the plan's seeds once the round ends (best effort); copies handed to an executor are
 * the executor's to zero.
 * @module
 */

import { addMasks, deriveMaskKey, type MaskTerm, PAIR_MASK_LABEL, selfMaskLabel } from './crypto/prg.ts';
import { X25519PrivateKey } from './crypto/x25519.ts';
import { describe } from './encoding.ts';
import { UsageError } from './errors.ts';
import { derivePairSeed } from './transcript.ts';
import type { ClientId, VectorSpec } from './types.ts';

/** Removes (sign −1) or adds (sign +1) client `client`'s self mask, label `self-mask ‖ u32(client)`. */
export interface SelfMaskJob {
  readonly kind: 'self';
  readonly client: ClientId;
  /** `fe(b_client)`, 32 bytes. */
  readonly seed: Uint8Array;
  readonly sign: 1 | -1;
}

/** Adds a pairwise mask (label `pair-mask`) with the given sign: the dropped client's, `sign(u, v)`. */
export interface PairMaskJob {
  readonly kind: 'pair';
  /** `pairSeed_uv`, 32 bytes. */
  readonly seed: Uint8Array;
  readonly sign: 1 | -1;
}

/**
 * Adds the pairwise mask of a dropped client `dropped` and its surviving neighbour `peer`, whose seed
 * is derived first: `pairSeed = HKDF(X25519(maskKey, peerPublicKey), …)` (§4.6), exactly as `dropped`
 * would have derived it.
 */
export interface DroppedPairMaskJob {
  readonly kind: 'dropped-pair';
  readonly dropped: ClientId;
  readonly peer: ClientId;
  /** The dropped client's reconstructed X25519 mask key `s_u`, 32 bytes (secret; may be shared by its jobs). */
  readonly seed: Uint8Array;
  /** The neighbour's advertised mask-agreement public key `sPk_v`, 32 bytes. */
  readonly peerPublicKey: Uint8Array;
  /** `sign(dropped, peer)`. */
  readonly sign: 1 | -1;
}

/** One mask expansion: the mask is expanded once per vector of the round. */
export type MaskJob = SelfMaskJob | PairMaskJob | DroppedPairMaskJob;

/** The mask expansions that turn the sum of the masked inputs into the sum of the inputs. */
export interface UnmaskPlan {
  /** The round's 32-byte session id (the HKDF salt of every mask, §6.1). */
  readonly sessionId: Uint8Array;
  /** The round's vectors, in order: the correction has one array per entry, of its length. */
  readonly vectors: readonly VectorSpec[];
  readonly jobs: readonly MaskJob[];
}

/**
 * Runs a plan somewhere (inline, on worker threads, …) and resolves with its correction: one
 * `Uint32Array` per vector of `plan.vectors`, of that vector's length, holding `Σ_jobs sign · mask`
 * modulo 2^32 (not necessarily reduced modulo 2^bits).
 */
export type UnmaskExecutor = (plan: UnmaskPlan) => Promise<readonly Uint32Array[]>;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Builds a frozen plan. The arrays are kept, not copied: the seeds are the caller's to zero (with
 * {@link wipeUnmaskPlan}) when the plan is done with.
 * @param sessionId - 32 bytes
 * @param vectors - the round's vectors
 * @param jobs - the expansions
 * @returns a plan that prints and serializes as a redacted summary
 * @throws TypeError / RangeError for a malformed job
 */
export function unmaskPlan(
  sessionId: Uint8Array,
  vectors: readonly VectorSpec[],
  jobs: readonly MaskJob[],
): UnmaskPlan {
  if (!(sessionId instanceof Uint8Array) || sessionId.length !== 32) {
    throw new TypeError(`sessionId must be a 32-byte Uint8Array, got ${describe(sessionId)}`);
  }
  jobs.forEach(assertMaskJob);
  const plan = { sessionId, vectors: Object.freeze([...vectors]), jobs: Object.freeze([...jobs]) };
  const summary = () => summarizeUnmaskPlan(plan);
  Object.defineProperty(plan, 'toJSON', { value: summary });
  Object.defineProperty(plan, INSPECT, { value: summary });
  return Object.freeze(plan);
}

/** What may be logged about a plan: counts and the vector layout, never a seed. */
export function summarizeUnmaskPlan(plan: UnmaskPlan): {
  selfMasks: number;
  pairMasks: number;
  vectors: string[];
} {
  let selfMasks = 0;
  for (const job of plan.jobs) if (job.kind === 'self') selfMasks++;
  return {
    selfMasks,
    pairMasks: plan.jobs.length - selfMasks,
    vectors: plan.vectors.map((v) => `${v.name}[${v.length}]/${v.bits}`),
  };
}

/**
 * Checks one job's shape: a known kind, a 32-byte seed, a sign of ±1, a client id for a self mask.
 * @throws TypeError / RangeError naming the field
 */
export function assertMaskJob(job: MaskJob): void {
  if (typeof job !== 'object' || job === null)
    throw new TypeError(`job must be a MaskJob, got ${describe(job)}`);
  if (!(job.seed instanceof Uint8Array))
    throw new TypeError(`job.seed must be a Uint8Array, got ${describe(job.seed)}`);
  if (job.seed.length !== 32) throw new RangeError(`job.seed must be 32 bytes, got ${job.seed.length}`);
  if (job.sign !== 1 && job.sign !== -1)
    throw new RangeError(`job.sign must be 1 or -1, got ${String(job.sign)}`);
  switch (job.kind) {
    case 'self':
      if (!Number.isInteger(job.client) || job.client < 1 || job.client > 0xffff_ffff) {
        throw new RangeError(`job.client must be a client id, got ${String(job.client)}`);
      }
      return;
    case 'pair':
      return;
    case 'dropped-pair':
      for (const [field, id] of [
        ['dropped', job.dropped],
        ['peer', job.peer],
      ] as const) {
        if (!Number.isInteger(id) || id < 1 || id > 0xffff_ffff) {
          throw new RangeError(`job.${field} must be a client id, got ${String(id)}`);
        }
      }
      if (!(job.peerPublicKey instanceof Uint8Array) || job.peerPublicKey.length !== 32) {
        throw new TypeError(
          `job.peerPublicKey must be a 32-byte Uint8Array, got ${describe(job.peerPublicKey)}`,
        );
      }
      return;
    default:
      throw new TypeError(
        `job.kind must be 'self', 'pair' or 'dropped-pair', got ${describe((job as { kind: unknown }).kind)}`,
      );
  }
}

/**
 * How many masks one pass over a vector applies at most (one AES context each): enough that the
 * accumulator is read and written once per many masks, few enough to keep the contexts small.
 */
const TERMS_PER_PASS = 256;

/**
 * Adds the jobs' masks, for every vector, into `acc` (one accumulator per vector, modulo 2^32), a
 * few hundred masks per pass over each vector (`addMasks`).
 * @param acc - one `Uint32Array` per entry of `vectors`, of its length; modified in place
 * @param sessionId - 32 bytes
 * @param vectors - the round's vectors
 * @param jobs - the expansions
 * @param afterChunk - passed to `addMasks`: called after every 64 KiB chunk step of each pass
 * @throws TypeError / RangeError for a malformed job or vector (from the PRG's own checks)
 */
export function applyMaskJobs(
  acc: readonly Uint32Array[],
  sessionId: Uint8Array,
  vectors: readonly VectorSpec[],
  jobs: readonly MaskJob[],
  afterChunk?: () => void,
): void {
  for (let from = 0; from < jobs.length; from += TERMS_PER_PASS) {
    // Seeds are derived once per job, not once per vector.
    const seeded = seedJobs(sessionId, jobs.slice(from, from + TERMS_PER_PASS));
    try {
      vectors.forEach((spec, i) => {
        const terms = seeded.map((job) => maskTerm(sessionId, spec, job));
        try {
          addMasks(acc[i]!, terms, 32, afterChunk);
        } finally {
          for (const { mask } of terms) {
            mask.key.fill(0);
            mask.iv.fill(0);
          }
        }
      });
    } finally {
      seeded.forEach((job, k) => {
        if (job !== jobs[from + k]) job.seed.fill(0);
      });
    }
  }
}

/**
 * The jobs with every dropped client's pairwise seed derived (the others as they are). One key object
 * per dropped client of the batch: its jobs share the mask key.
 */
function seedJobs(sessionId: Uint8Array, jobs: readonly MaskJob[]): (SelfMaskJob | PairMaskJob)[] {
  const keys = new Map<ClientId, X25519PrivateKey>();
  return jobs.map((job) => {
    if (job.kind !== 'dropped-pair') return job;
    let key = keys.get(job.dropped);
    if (!key) {
      key = X25519PrivateKey.fromBytes(job.seed);
      keys.set(job.dropped, key);
    }
    const seed = derivePairSeed(key, job.peerPublicKey, sessionId, job.dropped, job.peer);
    return { kind: 'pair', seed, sign: job.sign };
  });
}

/** One job's mask for one vector (PROTOCOL.md §6.1–6.2), with its sign. */
function maskTerm(sessionId: Uint8Array, spec: VectorSpec, job: SelfMaskJob | PairMaskJob): MaskTerm {
  let label: Uint8Array;
  switch (job.kind) {
    case 'self':
      label = selfMaskLabel(job.client);
      break;
    case 'pair':
      label = PAIR_MASK_LABEL;
      break;
    default: {
      const never: never = job;
      throw new TypeError(`unknown mask job ${describe(never)}`);
    }
  }
  return { mask: deriveMaskKey(job.seed, sessionId, label, spec), sign: job.sign };
}

/** One zeroed accumulator per vector. */
export function zeroCorrection(vectors: readonly VectorSpec[]): Uint32Array[] {
  return vectors.map((spec) => new Uint32Array(spec.length));
}

/**
 * The inline executor: runs every job of `plan` on the calling thread.
 * @param plan - the plan
 * @param into - accumulators to add the masks into (default: new zeroed ones), e.g. the sums themselves
 * @returns `into`, holding `into + Σ_jobs sign · mask` modulo 2^32
 */
export function runUnmaskPlan(
  plan: UnmaskPlan,
  into: Uint32Array[] = zeroCorrection(plan.vectors),
): Uint32Array[] {
  assertCorrection(plan, into);
  applyMaskJobs(into, plan.sessionId, plan.vectors, plan.jobs);
  return into;
}

/**
 * Checks that `correction` fits `plan`: exactly one `Uint32Array` per vector, of its length.
 * @throws UsageError otherwise (the caller handed back the wrong thing; nothing was changed)
 */
export function assertCorrection(plan: UnmaskPlan, correction: readonly Uint32Array[]): void {
  if (!Array.isArray(correction) || correction.length !== plan.vectors.length) {
    throw new UsageError(
      `the unmask correction must hold ${plan.vectors.length} vectors, got ${Array.isArray(correction) ? correction.length : describe(correction)}`,
    );
  }
  plan.vectors.forEach((spec, i) => {
    const v = correction[i];
    if (!(v instanceof Uint32Array)) {
      throw new UsageError(
        `the unmask correction of '${spec.name}' must be a Uint32Array, got ${describe(v)}`,
      );
    }
    if (v.length !== spec.length) {
      throw new UsageError(
        `the unmask correction of '${spec.name}' must have ${spec.length} elements, got ${v.length}`,
      );
    }
  });
}

/** Zeroes every seed of the plan (best effort: JavaScript may have copied them elsewhere). */
export function wipeUnmaskPlan(plan: UnmaskPlan): void {
  for (const job of plan.jobs) job.seed.fill(0);
}

/**
 * A batch of jobs as flat arrays, for `postMessage` (structured clone or transfer): seed `i` (or a
 * dropped pair's mask key) is bytes `[32i, 32i + 32)` of `seeds`, `signs[i]` is ±1, `selfIds[i]` is
 * the client of a self mask or 0 (client ids start at 1), and for a dropped pair `pairIds[2i]`,
 * `pairIds[2i + 1]` are the dropped client and its peer (0, 0 otherwise) and bytes `[32i, 32i + 32)`
 * of `peerKeys` the peer's public key.
 */
export interface PackedMaskJobs {
  readonly seeds: Uint8Array;
  readonly signs: Int8Array;
  readonly selfIds: Uint32Array;
  readonly pairIds: Uint32Array;
  readonly peerKeys: Uint8Array;
}

/**
 * Packs jobs into fresh arrays (the seeds are copied: zero or transfer `seeds` when done).
 * @param jobs - well-formed jobs (see {@link assertMaskJob})
 */
export function packMaskJobs(jobs: readonly MaskJob[]): PackedMaskJobs {
  const seeds = new Uint8Array(32 * jobs.length);
  const signs = new Int8Array(jobs.length);
  const selfIds = new Uint32Array(jobs.length);
  const pairIds = new Uint32Array(2 * jobs.length);
  const peerKeys = new Uint8Array(32 * jobs.length);
  jobs.forEach((job, i) => {
    seeds.set(job.seed, 32 * i);
    signs[i] = job.sign;
    selfIds[i] = job.kind === 'self' ? job.client : 0;
    if (job.kind === 'dropped-pair') {
      pairIds[2 * i] = job.dropped;
      pairIds[2 * i + 1] = job.peer;
      peerKeys.set(job.peerPublicKey, 32 * i);
    }
  });
  return { seeds, signs, selfIds, pairIds, peerKeys };
}

/**
 * The inverse of {@link packMaskJobs}. The jobs' seeds are views into `packed.seeds`: zero that when
 * done.
 * @throws TypeError for arrays of the wrong types or lengths; RangeError for a sign other than ±1
 */
export function unpackMaskJobs(packed: PackedMaskJobs): MaskJob[] {
  const { seeds, signs, selfIds, pairIds, peerKeys } = packed;
  if (
    !(
      seeds instanceof Uint8Array &&
      signs instanceof Int8Array &&
      selfIds instanceof Uint32Array &&
      pairIds instanceof Uint32Array &&
      peerKeys instanceof Uint8Array
    )
  ) {
    throw new TypeError(
      'a packed job batch must be Uint8Array seeds, Int8Array signs, Uint32Array selfIds and pairIds, Uint8Array peerKeys',
    );
  }
  const count = signs.length;
  if (
    seeds.length !== 32 * count ||
    selfIds.length !== count ||
    pairIds.length !== 2 * count ||
    peerKeys.length !== 32 * count
  ) {
    throw new TypeError(`a packed job batch of ${count} jobs has arrays of the wrong lengths`);
  }
  return Array.from({ length: count }, (_, i): MaskJob => {
    const seed = seeds.subarray(32 * i, 32 * i + 32);
    const sign = signs[i]!;
    if (sign !== 1 && sign !== -1) throw new RangeError(`job ${i}'s sign must be 1 or -1, got ${sign}`);
    const self = selfIds[i]!;
    if (self !== 0) return { kind: 'self', client: self as ClientId, seed, sign };
    const dropped = pairIds[2 * i]!;
    if (dropped === 0) return { kind: 'pair', seed, sign };
    return {
      kind: 'dropped-pair',
      dropped: dropped as ClientId,
      peer: pairIds[2 * i + 1]! as ClientId,
      seed,
      peerPublicKey: peerKeys.subarray(32 * i, 32 * i + 32),
      sign,
    };
  });
}
