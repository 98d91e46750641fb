/**
 * Neighbour graphs: who masks with whom and who holds whose shares. Bonawitz et al. 2017 use the
 * complete graph; SecAgg+ (Bell et al. 2020) uses a sparse random graph with the same stages. The
 * protocol code only ever asks a graph for neighbourhoods, so nothing assumes every client talks to
 * every other.
 * @module
 */
import { u8 } from './encoding.ts';
import type { ClientId } from './types.ts';

/** A symmetric, loop-free neighbour relation over a round's clients. */
export interface NeighbourGraph {
  /** Graph kind as hashed into the configuration (docs/PROTOCOL.md §2). */
  readonly kind: 'complete';
  /** The neighbours of `id`, sorted ascending, never including `id` itself. */
  neighbours(id: ClientId): readonly ClientId[];
  /** Whether `a` and `b` are neighbours (false when a = b). */
  isNeighbour(a: ClientId, b: ClientId): boolean;
  /** Canonical encoding for the configuration hash: kind byte plus parameters. */
  encode(): Uint8Array;
}

/** Graph kind bytes of docs/PROTOCOL.md §2. */
const GRAPH_KIND_COMPLETE = 0;

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
