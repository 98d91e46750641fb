/**
 * Round parameters: validated once, frozen, and hashed into the configuration hash that every
 * signature and derived key is bound to (docs/PROTOCOL.md §2, §7).
 * @module
 */
import { sha256 } from './crypto/hash.ts';
import { ascii, concatBytes, str, u8, u32 } from './encoding.ts';
import { CompleteGraph, type NeighbourGraph } from './graph.ts';
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
   * Application parameters bound into the round (default empty): bytes the core does not interpret
   * but hashes into configHash, so every signature and key of the round depends on them and clients
   * that were told different things cannot complete a round together. privagg puts the round's
   * differential-privacy parameters and the digest of its training task here (docs/PROTOCOL.md §2).
   */
  readonly context?: Uint8Array;
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
  readonly graph: NeighbourGraph;
  /** The application context bound into configHash (a copy; empty if none was given). */
  readonly context: Uint8Array;
  /** SHA-256 configuration hash (§2). */
  readonly configHash: Uint8Array;
}

/** Which validation rule a {@link ParameterError} broke. */
export type ParameterProblem = 'invalid' | 'threshold-too-low';

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
/** Upper bound on the application context: it is parameters and digests, never payload. */
export const MAX_CONTEXT_BYTES = 65_536;

/**
 * The smallest threshold the security theorems allow for `n` clients (§7): semi-honest needs
 * t > n_C (Bonawitz et al. 2017, Thm 6.3); malicious needs 2t > n + n_C (Thm 6.5, with the signed
 * consistency check). Never below 2: with t = 1 a single share is the secret.
 */
export function minimumThreshold(n: number, serverModel: ServerModel, maxCorruptClients: number): number {
  const bound =
    serverModel === 'malicious' ? Math.floor((n + maxCorruptClients) / 2) + 1 : maxCorruptClients + 1;
  return Math.max(2, bound);
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
    checkInteger(spec.length, `length of vector '${spec.name}'`, 1, 0xffff_ffff);
    checkInteger(spec.bits, `bits of vector '${spec.name}'`, 1, 32);
    return { spec: Object.freeze({ name: spec.name, length: spec.length, bits: spec.bits }), nameBytes };
  });
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
 * Validates and freezes round parameters and computes the configuration hash.
 * @throws {ParameterError} with problem `threshold-too-low` when t is below {@link minimumThreshold},
 *   `invalid` for anything malformed.
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
  const needed = minimumThreshold(n, input.serverModel, maxCorruptClients);
  if (input.threshold < needed) {
    const rule = input.serverModel === 'malicious' ? '2t > n + n_C' : 't > n_C';
    throw new ParameterError(
      'threshold-too-low',
      `threshold ${input.threshold} is below the ${input.serverModel} minimum ${needed} for n=${n}, ` +
        `n_C=${maxCorruptClients} (${rule}, and t >= 2)`,
    );
  }
  const vectors = validateVectors(input.vectors);
  const context = validateContext(input.context);
  const graph = new CompleteGraph(clients);
  const configHash = sha256(
    ascii('privagg/v1/config'),
    u32(input.round),
    u8(SERVER_MODEL_BYTE[input.serverModel]),
    u32(input.threshold),
    u32(maxCorruptClients),
    u32(n),
    ...clients.map(u32),
    graph.encode(),
    u32(vectors.length),
    ...vectors.flatMap((v) => [str(v.name), u32(v.length), u8(v.bits)]),
    u32(context.length),
    context,
  );
  return Object.freeze({
    round: input.round,
    serverModel: input.serverModel,
    threshold: input.threshold,
    maxCorruptClients,
    clients: Object.freeze(clients),
    vectors: Object.freeze(vectors),
    graph,
    context,
    configHash: concatBytes(configHash),
  });
}
