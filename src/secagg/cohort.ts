/**
 * The cohort of a malicious-setting round: for every selected client id, the name it checked in
 * under and its long-term Ed25519 identity key (docs/PROTOCOL.md §2.3). Announced with the round and
 * hashed into configHash, so that every client verifies signatures against the same id → key table,
 * and a coordinator that shows two clients different tables splits them into different sessions
 * (their masks do not cancel and their consistency signatures do not verify for each other).
 *
 * Where the keys come from is not the core's business: over the network every client checks the
 * announced cohort against the roster it holds out of band (src/identity/roster.ts) before it takes
 * part. This module checks only what makes a cohort well formed.
 * @module
 */
import { concatBytes, equalBytes, str, u32 } from './encoding.ts';
import { UsageError } from './errors.ts';
import type { RoundParams } from './params.ts';
import type { ClientId } from './types.ts';

/** Length of an Ed25519 public key (RFC 8032). */
export const IDENTITY_KEY_BYTES = 32;
/** Longest client name, in UTF-8 bytes (the check-in's limit). */
export const MAX_COHORT_NAME_BYTES = 255;

/** One selected client: its id this round, its name, and its identity public key. */
export interface CohortMember {
  readonly id: ClientId;
  /** The name it checked in under, 1..255 UTF-8 bytes, unique in the cohort. */
  readonly name: string;
  /** Its Ed25519 identity public key, 32 bytes, unique in the cohort. */
  readonly identityKey: Uint8Array;
}

/** Why a cohort is malformed (one line, naming the member); thrown as a ParameterError by params.ts. */
export class CohortError extends RangeError {
  override name = 'CohortError';
}

const utf8 = new TextEncoder();

/**
 * Checks a cohort against the round's sorted client ids and returns a frozen copy sorted by id.
 * Two members may share neither a name (the roster maps names to keys) nor a key (one key holder
 * would count as two clients: a Sybil the threshold does not account for).
 * @param members - the cohort, in any order
 * @param clients - the round's client ids, sorted ascending
 * @throws CohortError naming the first problem
 */
export function validateCohort(
  members: readonly CohortMember[],
  clients: readonly ClientId[],
): readonly CohortMember[] {
  if (!Array.isArray(members)) throw new CohortError('the cohort must be a list of members');
  const sorted = [...members].sort((a, b) => a.id - b.id);
  if (sorted.length !== clients.length) {
    throw new CohortError(
      `the cohort has ${sorted.length} members but the round has ${clients.length} clients`,
    );
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  const out = sorted.map((member, i) => {
    if (member.id !== clients[i]) {
      throw new CohortError(`cohort member ${i} has id ${member.id}, expected client ${clients[i]}`);
    }
    const { name, identityKey } = member;
    const length = typeof name === 'string' ? utf8.encode(name).length : -1;
    if (length < 1 || length > MAX_COHORT_NAME_BYTES) {
      throw new CohortError(`the name of client ${member.id} must be 1..255 UTF-8 bytes`);
    }
    if (names.has(name)) throw new CohortError(`two cohort members are named the same (client ${member.id})`);
    names.add(name);
    if (!(identityKey instanceof Uint8Array) || identityKey.length !== IDENTITY_KEY_BYTES) {
      throw new CohortError(`the identity key of client ${member.id} must be ${IDENTITY_KEY_BYTES} bytes`);
    }
    const hex = Buffer.from(identityKey).toString('hex');
    if (keys.has(hex)) {
      throw new CohortError(`client ${member.id} has the same identity key as another cohort member`);
    }
    keys.add(hex);
    return Object.freeze({ id: member.id, name, identityKey: Uint8Array.from(identityKey) });
  });
  return Object.freeze(out);
}

/**
 * The cohort's bytes in configHash (PROTOCOL.md §2.3):
 * `u32(n) ‖ for each member by ascending id: u32(id) ‖ str(name) ‖ identityKey`.
 */
export function encodeCohort(members: readonly CohortMember[]): Uint8Array {
  return concatBytes(u32(members.length), ...members.flatMap((m) => [u32(m.id), str(m.name), m.identityKey]));
}

/** The identity keys by client id (copies are not made: the cohort is frozen and its keys its own). */
export function cohortIdentityKeys(members: readonly CohortMember[]): ReadonlyMap<ClientId, Uint8Array> {
  return new Map(members.map((m) => [m.id, m.identityKey]));
}

/**
 * The identity keys a malicious-setting round verifies signatures with: the announced cohort's
 * (bound into configHash) or, in process without one, those handed in. Both given must agree.
 * @throws {UsageError} when a client has no key, or the two sources disagree
 */
export function roundIdentityKeys(
  params: RoundParams,
  given: ReadonlyMap<ClientId, Uint8Array> | undefined,
): ReadonlyMap<ClientId, Uint8Array> {
  const announced = params.cohort && cohortIdentityKeys(params.cohort);
  const identities = announced ?? given;
  if (!identities) throw new UsageError('the malicious setting needs every client identity key');
  for (const c of params.clients) {
    const key = identities.get(c);
    if (key === undefined) throw new UsageError(`no identity key for client ${c}`);
    const other = announced && given?.get(c);
    if (other !== undefined && !equalBytes(other, key)) {
      throw new UsageError(`the identity key given for client ${c} is not the cohort's`);
    }
  }
  return identities;
}
