/**
 * Round parameters: validated once, frozen, and hashed into the configuration hash that every
 * signature and derived key is bound to (docs/PROTOCOL.md §2, §7).
 * @module
 */
import { CohortError, type CohortMember, encodeCohort, validateCohort } from './cohort.ts';
import { sha256 } from './crypto/hash.ts';
import { ascii, concatBytes, str, u8, u32 } from './encoding.ts';
import { encodeGraphSpec, type GraphSpec, MAX_SECURITY_BITS, MIN_SECURITY_BITS } from './graph.ts';
import { checkHararyParameters } from './graph-params.ts';
import { type ClientId, clientId, type ServerModel, type VectorSpec } from './types.ts';

/** What the caller supplies to {@link roundParams}. */
export interface RoundParamsInput {
  /** Round number, ≥ 1. */
  readonly round: number;
  readonly serverModel: ServerModel;
  /** Shamir threshold t. */
  readonly threshold: number;
  /** n_C: how many clients may collude with the server (default 0). */
  readonly maxCorruptClients?: number;
  /** The selected clients' ids, in any order, unique. */
  readonly clients: readonly number[];
  /** The named vectors summed this round, in any order, names unique. */
  readonly vectors: readonly VectorSpec[];
  /**
   * The neighbour graph (default complete). A Harary graph is checked against its threat model
   * (docs/PROTOCOL.md §2.2) instead of §7's whole-cohort threshold rule.
   */
  readonly graph?: GraphSpec;
  /**
   * Application parameters bound into the round (default empty): bytes the core does not interpret
   * but hashes into configHash, so every signature and key of the round depends on them and clients
   * that were told different things cannot complete a round together. privagg puts the round's
   * differential-privacy parameters and the digest of its training task here (docs/PROTOCOL.md §2).
   */
  readonly context?: Uint8Array;
  /**
   * Malicious setting: who the selected clients are — per id, the name it checked in under and its
   * long-term Ed25519 identity key (docs/PROTOCOL.md §2.3). Hashed into configHash, so every client
   * verifies signatures against the same table. Required on the wire (every client checks it against
   * its roster); in process it may be left out when the identity keys are handed to the client and
   * server state machines directly. Refused in the semi-honest setting, where nothing is signed.
   */
  readonly cohort?: readonly CohortMember[];
}

/** Validated, frozen round parameters. Build with {@link roundParams}. */
export interface RoundParams {
  readonly round: number;
  readonly serverModel: ServerModel;
  readonly threshold: number;
  readonly maxCorruptClients: number;
  /** Sorted ascending. */
  readonly clients: readonly ClientId[];
  /** Sorted by the UTF-8 bytes of the name; the order of every vector list on the wire. */
  readonly vectors: readonly VectorSpec[];
  /**
   * The announced graph (frozen). Which clients are neighbours is known once the session id is:
   * `harary.ts` `neighbourGraph(params.graph, params.clients, sessionId)`.
   */
  readonly graph: GraphSpec;
  /**
   * The fewest survivors (|U3|) a sum may be unmasked for: t for the complete graph, the announced
   * floor for a Harary graph. Clients refuse smaller survivor lists; the server aborts before asking.
   */
  readonly minSurvivors: number;
  /** The application context bound into configHash (a copy; empty if none was given). */
  readonly context: Uint8Array;
  /** Malicious setting: the cohort's names and identity keys, sorted by id (§2.3); frozen. */
  readonly cohort?: readonly CohortMember[];
  /** SHA-256 configuration hash (§2). */
  readonly configHash: Uint8Array;
}

/**
 * Which validation rule a {@link ParameterError} broke: `threshold-too-low` (t below §7's minimum, or
 * below what a Harary graph's threat model needs), `graph-too-weak` (a Harary degree or survivor
 * floor that lets the honest survivors' graph fall apart, or σ below {@link MIN_SECURITY_BITS}), or
 * `invalid` for anything malformed or unsupported.
 */
export type ParameterProblem = 'invalid' | 'threshold-too-low' | 'graph-too-weak';

/** Round parameters are invalid or insecure; the message says what is needed. */
export class ParameterError extends RangeError {
  override name = 'ParameterError';
  constructor(
    readonly problem: ParameterProblem,
    message: string,
  ) {
    super(message);
  }
}

const SERVER_MODEL_BYTE: Record<ServerModel, number> = { 'semi-honest': 0, malicious: 1 };
const MAX_VECTOR_NAME_BYTES = 255;
/**
 * The most elements a round's vectors may have in all: 2^28 (1 GiB of 32-bit words per client).
 * Both sides allocate buffers of this size from the announced lengths (a client its input and
 * masks, the server its sums and the wire its reassembly buffers), and a typed array of 2^32 words
 * cannot be allocated at all: a longer round is refused here, before any buffer is sized from it.
 */
export const MAX_VECTOR_ELEMENTS = 2 ** 28;
/** Upper bound on the application context: it is parameters and digests, never payload. */
export const MAX_CONTEXT_BYTES = 65_536;

/**
 * The smallest threshold privagg allows for `n` clients on the complete graph (§7): semi-honest needs
 * t > n_C (Bonawitz et al. 2017, Thm 6.3) and 2t > n (see {@link splitViewMinimum}); malicious needs
 * 2t > n + n_C (Thm 6.5, with the signed consistency check). Never below 2: with t = 1 a single share
 * is the secret.
 */
export function minimumThreshold(n: number, serverModel: ServerModel, maxCorruptClients: number): number {
  const bound =
    serverModel === 'malicious'
      ? Math.floor((n + maxCorruptClients) / 2) + 1
      : Math.max(maxCorruptClients + 1, splitViewMinimum(n));
  return Math.max(2, bound);
}

/**
 * The smallest threshold that keeps a split view from exposing an input when nothing makes the
 * clients agree on who survived (the semi-honest setting has no consistency check, §4.4): t with
 * 2t > `holders`, the clients that hold shares of one client's secrets (the client itself and its
 * neighbours: n on the complete graph, k + 1 on a Harary graph of degree k).
 *
 * Why: a coordinator that tells some holders of u's shares that u survived (they reveal shares of
 * u's self-mask seed b_u, and u reveals its own) and the others that u dropped (they reveal shares of
 * u's mask key s_u) learns both secrets, and so u's input, once each group reaches t. The two groups
 * are disjoint, so both can reach t exactly when 2t ≤ holders: with n = 6 and t = 3, three clients
 * told one story and three the other unmask everyone. Each view is consistent on its own, so no
 * client can notice it; only the threshold can rule it out. The malicious setting's bound
 * 2t > n + n_C already implies this one.
 */
export function splitViewMinimum(holders: number): number {
  return Math.floor(holders / 2) + 1;
}

/** The default threshold: ⌊2n/3⌋ + 1 (safe in both settings for n_C < n/3), at least the minimum. */
export function defaultThreshold(n: number, serverModel: ServerModel, maxCorruptClients = 0): number {
  return Math.min(
    n,
    Math.max(Math.floor((2 * n) / 3) + 1, minimumThreshold(n, serverModel, maxCorruptClients)),
  );
}

function checkInteger(value: number, name: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ParameterError('invalid', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** The u32 encodings of `values`, concatenated (`u32(values[0]) || u32(values[1]) || …`). */
function u32List(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint32(4 * i, values[i]!, true);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function validateVectors(vectors: readonly VectorSpec[]): VectorSpec[] {
  if (vectors.length === 0) throw new ParameterError('invalid', 'at least one vector is required');
  const encoder = new TextEncoder();
  const named = vectors.map((spec) => {
    const nameBytes = encoder.encode(spec.name);
    if (nameBytes.length < 1 || nameBytes.length > MAX_VECTOR_NAME_BYTES) {
      throw new ParameterError('invalid', `vector name must be 1..255 UTF-8 bytes, got ${nameBytes.length}`);
    }
    checkInteger(spec.length, `length of vector '${spec.name}'`, 1, MAX_VECTOR_ELEMENTS);
    checkInteger(spec.bits, `bits of vector '${spec.name}'`, 1, 32);
    return { spec: Object.freeze({ name: spec.name, length: spec.length, bits: spec.bits }), nameBytes };
  });
  const total = named.reduce((sum, n) => sum + n.spec.length, 0);
  if (total > MAX_VECTOR_ELEMENTS) {
    throw new ParameterError(
      'invalid',
      `the vectors have ${total} elements in all, above the maximum ${MAX_VECTOR_ELEMENTS} (2^28)`,
    );
  }
  named.sort((a, b) => compareBytes(a.nameBytes, b.nameBytes));
  for (let i = 1; i < named.length; i++) {
    if (compareBytes(named[i - 1]!.nameBytes, named[i]!.nameBytes) === 0) {
      throw new ParameterError('invalid', `vector names must be unique, '${named[i]!.spec.name}' repeats`);
    }
  }
  return named.map((n) => n.spec);
}

function validateContext(context: Uint8Array | undefined): Uint8Array {
  if (context === undefined) return new Uint8Array(0);
  if (!(context instanceof Uint8Array)) throw new ParameterError('invalid', 'context must be a Uint8Array');
  if (context.length > MAX_CONTEXT_BYTES) {
    throw new ParameterError(
      'invalid',
      `context must be at most ${MAX_CONTEXT_BYTES} bytes, got ${context.length}`,
    );
  }
  return Uint8Array.from(context);
}

/**
 * Validates a Harary graph spec against the round (docs/PROTOCOL.md §2.2): semi-honest only; k even
 * in [2, n − 1]; t in [2, k + 1]; minSurvivors in [t, n]; σ in [{@link MIN_SECURITY_BITS},
 * {@link MAX_SECURITY_BITS}]; the privacy bounds of `checkHararyParameters`; and 2t > k + 1
 * ({@link splitViewMinimum}: the Harary graph runs without a consistency check).
 */
function validateHarary(
  spec: GraphSpec & { kind: 'harary' },
  n: number,
  threshold: number,
  maxCorruptClients: number,
  serverModel: ServerModel,
): GraphSpec {
  if (serverModel !== 'semi-honest') {
    throw new ParameterError(
      'invalid',
      'the Harary graph is offered in the semi-honest setting only: its ring order comes from the ' +
        'advertised keys, which a coordinator that deviates from the protocol could grind',
    );
  }
  if (n < 3) throw new ParameterError('invalid', `a Harary graph needs at least 3 clients, got ${n}`);
  checkInteger(spec.degree, 'graph degree', 2, n - 1);
  if (spec.degree % 2 !== 0)
    throw new ParameterError('invalid', `graph degree must be even, got ${spec.degree}`);
  if (threshold > spec.degree + 1) {
    throw new ParameterError(
      'invalid',
      `threshold ${threshold} exceeds what a client and its ${spec.degree} neighbours can hold (${spec.degree + 1})`,
    );
  }
  checkInteger(spec.minSurvivors, 'graph minSurvivors', threshold, n);
  checkInteger(spec.securityBits, 'graph securityBits', 1, MAX_SECURITY_BITS);
  if (spec.securityBits < MIN_SECURITY_BITS) {
    throw new ParameterError(
      'graph-too-weak',
      `graph securityBits ${spec.securityBits} is below the ${MIN_SECURITY_BITS} bits a client requires`,
    );
  }
  if (threshold < 2) throw new ParameterError('threshold-too-low', `threshold ${threshold} is below 2`);
  const check = checkHararyParameters({
    n,
    degree: spec.degree,
    threshold,
    corruptClients: maxCorruptClients,
    minSurvivors: spec.minSurvivors,
    securityBits: spec.securityBits,
  });
  if (!check.ok) {
    throw new ParameterError(
      check.problem === 'exposure' ? 'threshold-too-low' : 'graph-too-weak',
      check.message,
    );
  }
  // Checked after the threat model's bounds, whose messages say more when both fail.
  const splitView = splitViewMinimum(spec.degree + 1);
  if (threshold < splitView) {
    throw new ParameterError(
      'threshold-too-low',
      `threshold ${threshold} is below ${splitView}: without a consistency check a client's ` +
        `${spec.degree + 1} share holders (itself and its ${spec.degree} neighbours) could be split into two ` +
        `groups that each reach t, one told it survived and one that it dropped (2t > k + 1 is needed)`,
    );
  }
  return Object.freeze({
    kind: 'harary',
    degree: spec.degree,
    minSurvivors: spec.minSurvivors,
    securityBits: spec.securityBits,
  });
}

function validateGraph(
  spec: GraphSpec | undefined,
  n: number,
  threshold: number,
  maxCorruptClients: number,
  serverModel: ServerModel,
): GraphSpec {
  if (spec === undefined) return COMPLETE;
  if (typeof spec !== 'object' || spec === null) {
    throw new ParameterError('invalid', `graph must be a GraphSpec object, got ${typeof spec}`);
  }
  if (spec.kind === 'complete') return COMPLETE;
  if (spec.kind === 'harary') return validateHarary(spec, n, threshold, maxCorruptClients, serverModel);
  throw new ParameterError('invalid', `unknown graph kind '${String((spec as { kind: unknown }).kind)}'`);
}

const COMPLETE: GraphSpec = Object.freeze({ kind: 'complete' });

/**
 * Validates and freezes round parameters and computes the configuration hash.
 * @throws {ParameterError} with problem `threshold-too-low` when t is below {@link minimumThreshold}
 *   (complete graph) or below what a Harary graph's threat model and {@link splitViewMinimum} need
 *   (2t > k + 1), `graph-too-weak` for a Harary
 *   degree, survivor floor or σ that is not private enough, `invalid` for anything malformed.
 */
export function roundParams(input: RoundParamsInput): RoundParams {
  checkInteger(input.round, 'round', 1, 0xffff_ffff);
  if (input.serverModel !== 'semi-honest' && input.serverModel !== 'malicious') {
    throw new ParameterError(
      'invalid',
      `serverModel must be 'semi-honest' or 'malicious', got '${input.serverModel}'`,
    );
  }
  let clients: ClientId[];
  try {
    clients = input.clients.map(clientId).sort((a, b) => a - b);
  } catch (error) {
    throw new ParameterError('invalid', (error as Error).message);
  }
  for (let i = 1; i < clients.length; i++) {
    if (clients[i] === clients[i - 1]) throw new ParameterError('invalid', `client id ${clients[i]} repeats`);
  }
  const n = clients.length;
  if (n < 2) throw new ParameterError('invalid', `a round needs at least 2 clients, got ${n}`);
  const maxCorruptClients = input.maxCorruptClients ?? 0;
  checkInteger(maxCorruptClients, 'maxCorruptClients', 0, n - 1);
  checkInteger(input.threshold, 'threshold', 1, n);
  const graph = validateGraph(input.graph, n, input.threshold, maxCorruptClients, input.serverModel);
  // §7's whole-cohort rule is the complete graph's; a Harary graph's per-neighbourhood conditions
  // (checked above) replace it: there t is far below n_C (e.g. t = 18 with n_C = 25 at n = 500).
  const needed = graph.kind === 'complete' ? minimumThreshold(n, input.serverModel, maxCorruptClients) : 2;
  if (input.threshold < needed) {
    const rule =
      input.serverModel === 'malicious'
        ? '2t > n + n_C'
        : 't > n_C, and 2t > n: without a consistency check two disjoint survivor views must not both reach t';
    throw new ParameterError(
      'threshold-too-low',
      `threshold ${input.threshold} is below the ${input.serverModel} minimum ${needed} for n=${n}, ` +
        `n_C=${maxCorruptClients} (${rule}; and t >= 2)`,
    );
  }
  const vectors = validateVectors(input.vectors);
  const context = validateContext(input.context);
  const cohort = validateCohortInput(input.cohort, clients, input.serverModel);
  const configHash = sha256(
    ascii('privagg/v1/config'),
    u32(input.round),
    u8(SERVER_MODEL_BYTE[input.serverModel]),
    u32(input.threshold),
    u32(maxCorruptClients),
    u32(n),
    // One buffer, not one argument per client: spreading n arguments overflows the stack for large n.
    u32List(clients),
    encodeGraphSpec(graph),
    u32(vectors.length),
    ...vectors.flatMap((v) => [str(v.name), u32(v.length), u8(v.bits)]),
    u32(context.length),
    context,
    // Only with a cohort (§2.3): the preimage of a round without one is unchanged.
    ...(cohort ? [encodeCohort(cohort)] : []),
  );
  return Object.freeze({
    round: input.round,
    serverModel: input.serverModel,
    threshold: input.threshold,
    maxCorruptClients,
    clients: Object.freeze(clients),
    vectors: Object.freeze(vectors),
    graph,
    minSurvivors: graph.kind === 'harary' ? graph.minSurvivors : input.threshold,
    context,
    ...(cohort && { cohort }),
    configHash: concatBytes(configHash),
  });
}

function validateCohortInput(
  cohort: readonly CohortMember[] | undefined,
  clients: readonly ClientId[],
  serverModel: ServerModel,
): readonly CohortMember[] | undefined {
  if (cohort === undefined) return undefined;
  if (serverModel !== 'malicious') {
    throw new ParameterError(
      'invalid',
      'a cohort of identity keys is announced in the malicious setting only (nothing is signed in the semi-honest one)',
    );
  }
  try {
    return validateCohort(cohort, clients);
  } catch (error) {
    if (error instanceof CohortError) throw new ParameterError('invalid', error.message);
    throw error;
  }
}
