/**
 * Neighbour graphs: who masks with whom and who holds whose shares. Bonawitz et al. 2017 use the
 * complete graph; SecAgg+ (Bell et al. 2020) uses a sparse random graph with the same stages. The
 * protocol code only ever asks a graph for neighbourhoods, so nothing assumes every client talks to
 * every other.
 *
 * A round announces a {@link GraphSpec} (docs/PROTOCOL.md §2, §2.2): the kind and, for the Harary
 * graph, its degree and the threat model it was chosen for. The graph itself — which client is whose
 * neighbour — is fixed only once the advertise stage closes: a Harary graph's ring order comes from
 * the session id, which hashes every advertised key (`harary.ts` `neighbourGraph`), so no party can
 * choose it before the honest clients' keys are known.
 * @module
 */
import { describe, isStrictlyAscending, u8, u32 } from './encoding.ts';
import type { ClientId } from './types.ts';

/** The graph kinds of docs/PROTOCOL.md §2: byte 0 (`complete`) and byte 1 (`harary`). */
export type GraphKind = 'complete' | 'harary';

/** The complete graph (Bonawitz et al. 2017): no parameters. */
export interface CompleteGraphSpec {
  readonly kind: 'complete';
}

/**
 * The random Harary graph H(n, k) of SecAgg+ (Bell et al. 2020) with the threat model it was chosen
 * for (docs/PROTOCOL.md §2.2). Together with the round's `threshold` t and `maxCorruptClients` n_C,
 * a client checks that the graph is private enough (`graph-params.ts` `checkHararyParameters`):
 * with at most n_C corrupt clients and at most `n − minSurvivors` clients lost, the graph of honest
 * survivors stays connected and no client has t corrupt neighbours, except with probability below
 * 2^−securityBits.
 */
export interface HararyGraphSpec {
  readonly kind: 'harary';
  /** k: every client's number of neighbours, even, in [2, n − 1]. */
  readonly degree: number;
  /**
   * The fewest clients whose masked inputs may be unmasked together: clients refuse to unmask for a
   * smaller survivor set, and the coordinator aborts before asking. At least t.
   */
  readonly minSurvivors: number;
  /** σ: the statistical security the parameters were checked for, at least {@link MIN_SECURITY_BITS}. */
  readonly securityBits: number;
}

/** A round's neighbour graph as announced and hashed into configHash. */
export type GraphSpec = CompleteGraphSpec | HararyGraphSpec;

/** The least statistical security (σ, in bits) a client accepts for a Harary graph. */
export const MIN_SECURITY_BITS = 40;
/** The most σ a round may announce (the bounds are computed in doubles; beyond this they underflow). */
export const MAX_SECURITY_BITS = 128;

/**
 * A symmetric, loop-free neighbour relation over a round's clients. `K` narrows the kind.
 */
export interface NeighbourGraph<K extends GraphKind = GraphKind> {
  /** Graph kind as hashed into the configuration (docs/PROTOCOL.md §2). */
  readonly kind: K;
  /** The neighbours of `id`, sorted ascending, never including `id` itself. */
  neighbours(id: ClientId): readonly ClientId[];
  /** Whether `a` and `b` are neighbours (false when a = b). */
  isNeighbour(a: ClientId, b: ClientId): boolean;
}

/** Graph kind byte of the complete graph (docs/PROTOCOL.md §2); no parameters follow it. */
export const GRAPH_KIND_COMPLETE = 0;
/**
 * Graph kind byte of the random Harary graph (`harary.ts`), followed by
 * `u32(k) ‖ u32(minSurvivors) ‖ u8(securityBits)` (docs/PROTOCOL.md §2.2).
 */
export const GRAPH_KIND_HARARY = 1;

/**
 * The graph's part of the configuration hash (docs/PROTOCOL.md §2): `u8(0)` for the complete graph,
 * `u8(1) ‖ u32(k) ‖ u32(minSurvivors) ‖ u8(securityBits)` for the Harary graph.
 * @param spec - a validated graph spec (see `params.ts`)
 * @returns new bytes
 * @throws TypeError for an unknown kind
 * @example encodeGraphSpec({ kind: 'complete' }) // Uint8Array [0]
 */
export function encodeGraphSpec(spec: GraphSpec): Uint8Array {
  switch (spec.kind) {
    case 'complete':
      return u8(GRAPH_KIND_COMPLETE);
    case 'harary': {
      const out = new Uint8Array(10);
      out[0] = GRAPH_KIND_HARARY;
      out.set(u32(spec.degree), 1);
      out.set(u32(spec.minSurvivors), 5);
      out[9] = spec.securityBits;
      return out;
    }
    default:
      throw new TypeError(`unknown graph kind ${describe((spec as { kind: unknown }).kind)}`);
  }
}

/** Every client is every other client's neighbour. */
export class CompleteGraph implements NeighbourGraph<'complete'> {
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
