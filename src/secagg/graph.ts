/**
 * Neighbour graphs: who masks with whom and who holds whose shares. Bonawitz et al. 2017 use the
 * complete graph; SecAgg+ (Bell et al. 2020) uses a sparse random graph with the same stages. The
 * protocol code only ever asks a graph for neighbourhoods, so nothing assumes every client talks to
 * every other.
 * @module
 */
import { describe, isStrictlyAscending, u8 } from './encoding.ts';
import type { ClientId } from './types.ts';

/** The graph kinds of docs/PROTOCOL.md §2: byte 0 (`complete`) and byte 1 (`harary`). */
export type GraphKind = 'complete' | 'harary';

/**
 * A symmetric, loop-free neighbour relation over a round's clients.
 *
 * `K` narrows the kind. Its default stays `'complete'` only so that code which still handles the
 * complete graph alone (the wire layer's `AnnouncedParameters`, `RoundParams.graph`) keeps compiling
 * until it is wired for SecAgg+; code that accepts any graph says `NeighbourGraph<GraphKind>`.
 */
export interface NeighbourGraph<K extends GraphKind = 'complete'> {
  /** Graph kind as hashed into the configuration (docs/PROTOCOL.md §2). */
  readonly kind: K;
  /** The neighbours of `id`, sorted ascending, never including `id` itself. */
  neighbours(id: ClientId): readonly ClientId[];
  /** Whether `a` and `b` are neighbours (false when a = b). */
  isNeighbour(a: ClientId, b: ClientId): boolean;
  /** Canonical encoding for the configuration hash: kind byte plus parameters. */
  encode(): Uint8Array;
}

/** Graph kind byte of the complete graph (docs/PROTOCOL.md §2); no parameters follow it. */
export const GRAPH_KIND_COMPLETE = 0;
/** Graph kind byte of the random Harary graph (`harary.ts`), followed by `u32(k) ‖ seed`. */
export const GRAPH_KIND_HARARY = 1;

/** Every client is every other client's neighbour. */
export class CompleteGraph implements NeighbourGraph {
  readonly kind = 'complete';
  readonly #clients: readonly ClientId[];
  readonly #members: ReadonlySet<ClientId>;

  /** @param clients the round's clients, sorted ascending and unique (checked by the caller). */
  constructor(clients: readonly ClientId[]) {
    this.#clients = clients;
    this.#members = new Set(clients);
  }

  neighbours(id: ClientId): readonly ClientId[] {
    return this.#clients.filter((c) => c !== id);
  }

  isNeighbour(a: ClientId, b: ClientId): boolean {
    return a !== b && this.#members.has(a) && this.#members.has(b);
  }

  encode(): Uint8Array {
    return u8(GRAPH_KIND_COMPLETE);
  }
}

/** Why a neighbour list failed {@link verifyNeighbourhood}. */
export type NeighbourhoodProblem = 'not-sorted' | 'includes-self' | 'not-a-neighbour' | 'missing-neighbour';

/** The outcome of {@link verifyNeighbourhood}: `ids` are the offending (or missing) ids, sorted. */
export type NeighbourhoodCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly problem: NeighbourhoodProblem;
      readonly ids: readonly number[];
      readonly message: string;
    };

function mismatch(
  problem: NeighbourhoodProblem,
  ids: readonly number[],
  message: string,
): NeighbourhoodCheck {
  return Object.freeze({ ok: false, problem, ids: Object.freeze(ids.slice()), message });
}

/**
 * Checks a neighbour list that the coordinator sent to client `self` against the graph the client
 * built from the announced parameters: strictly ascending, without `self`, only neighbours of `self`
 * and — unless `allowMissing` — all of them. With `allowMissing` the list may omit neighbours (e.g.
 * when it only names those still in the round). Never throws on a bad list: the result says what is
 * wrong, for the caller to turn into a refusal.
 * @param graph - the client's own graph for the round
 * @param self - the checking client's id (one of the graph's clients)
 * @param claimed - the ids the coordinator listed
 * @param options - `allowMissing`: accept a subset of the neighbourhood (default false)
 * @returns `{ ok: true }`, or the first problem found with the ids concerned
 * @throws TypeError if `claimed` is not an array; RangeError if `self` is not in a Harary graph
 * @example verifyNeighbourhood(graph, me, peerKeys.map((p) => p.id))
 */
export function verifyNeighbourhood(
  graph: NeighbourGraph<GraphKind>,
  self: ClientId,
  claimed: readonly number[],
  options: { readonly allowMissing?: boolean } = {},
): NeighbourhoodCheck {
  if (!Array.isArray(claimed)) throw new TypeError(`claimed must be an array, got ${describe(claimed)}`);
  if (!isStrictlyAscending(claimed)) {
    return mismatch('not-sorted', [], 'the neighbour list is not sorted ascending without duplicates');
  }
  if (claimed.includes(self)) {
    return mismatch('includes-self', [self], `the neighbour list of ${self} includes ${self} itself`);
  }
  const strangers = claimed.filter((id) => !graph.isNeighbour(self, id as ClientId));
  if (strangers.length > 0) {
    return mismatch(
      'not-a-neighbour',
      strangers,
      `the neighbour list of ${self} names non-neighbours: ${strangers.slice(0, 8).join(', ')}` +
        (strangers.length > 8 ? ` and ${strangers.length - 8} more` : ''),
    );
  }
  if (options.allowMissing === true) return { ok: true };
  const expected = graph.neighbours(self);
  if (expected.length === claimed.length) return { ok: true }; // same size and claimed ⊆ expected
  const listed = new Set(claimed);
  const missing = expected.filter((id) => !listed.has(id));
  return mismatch(
    'missing-neighbour',
    missing,
    `the neighbour list of ${self} omits ${missing.length} neighbour(s): ${missing.slice(0, 8).join(', ')}` +
      (missing.length > 8 ? ' …' : ''),
  );
}
