/**
 * Splits a data set across simulated clients: IID, or non-IID with Dirichlet label skew.
 *
 * Non-IID follows Hsu, Qi & Brown, "Measuring the Effects of Non-Identical Data Distribution for
 * Federated Visual Classification" (2019, §3): every client k draws its own label proportions
 * q_k ~ Dir(α), all clients hold the same number of examples, and client k's examples are drawn
 * class by class from q_k. Small α gives clients few classes each; α → ∞ gives IID. As in most later
 * code (FedLab, FedDyn's `client_inner_dirichlet_partition`), α is the concentration of *each* class:
 * Hsu et al. write Dir(αp) with p the class prior, so our α = 0.5 is their α = 5 on ten balanced
 * classes. The split is exact — every example goes to exactly one client — so proportions are
 * approximate: examples are handed out one at a time to a random client that still has room, and
 * when the class that client draws is used up, it draws again from the classes left (its q_k
 * renormalised). Interleaving the clients spreads the scarce classes fairly instead of starving the
 * last client.
 *
 * All randomness is seeded simulation sampling (./random.ts), not security randomness: the same
 * seed gives the same partition in every process.
 * @module
 */
import { assertIntegerIn, assertPositive, kind } from '../dp/checks.ts';
import { SimRandom } from './random.ts';

/** Example indices per client: `partition[k]` holds client k's indices, ascending. */
export type Partition = readonly Uint32Array[];

/** Options common to both splits. */
export interface PartitionOptions {
  /** Number of clients, ≥ 1. */
  readonly clients: number;
  /** Seed of the split (0). */
  readonly seed?: number;
  /** Fewest examples any client may get (5); a data set too small for that is refused. */
  readonly minPerClient?: number;
}

/** Options of {@link partitionDirichlet}. */
export interface DirichletOptions extends PartitionOptions {
  /** Concentration per class, > 0 (0.5). Smaller is more skewed. */
  readonly alpha?: number;
}

/**
 * An IID split: a seeded permutation cut into equal parts (sizes differ by at most one).
 * @param count - the number of examples
 * @throws RangeError if a client would get fewer than `minPerClient` examples
 * @example
 * ```ts
 * partitionIid(10, { clients: 2, minPerClient: 1 }); // two disjoint sets of 5 indices
 * ```
 */
export function partitionIid(count: number, options: PartitionOptions): Partition {
  const { clients, seed, sizes } = checkOptions(count, options);
  const order = new SimRandom(seed, 'partition/iid').shuffle(
    Uint32Array.from({ length: count }, (_, i) => i),
  );
  const parts: Uint32Array[] = [];
  let at = 0;
  for (let k = 0; k < clients; k++) {
    parts.push(order.slice(at, at + sizes[k]!).sort());
    at += sizes[k]!;
  }
  return Object.freeze(parts);
}

/**
 * A non-IID split with Dirichlet(α) label proportions per client (see the module comment).
 * @param labels - the class of every example, integers in [0, classes)
 * @throws TypeError / RangeError on bad arguments, or if a client would get fewer than
 *   `minPerClient` examples
 * @example
 * ```ts
 * const parts = partitionDirichlet(train.labels, { clients: 100, alpha: 0.5, seed: 1 });
 * ```
 */
export function partitionDirichlet(labels: Uint8Array, options: DirichletOptions): Partition {
  if (!(labels instanceof Uint8Array))
    throw new TypeError(`labels must be a Uint8Array, got ${kind(labels)}`);
  const { clients, seed, sizes } = checkOptions(labels.length, options);
  const alpha = assertPositive('alpha', options.alpha ?? 0.5);
  const rng = new SimRandom(seed, 'partition/dirichlet');

  let classes = 0;
  for (const label of labels) if (label >= classes) classes = label + 1;
  const pools: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((label, i) => {
    pools[label]!.push(i);
  });
  for (const pool of pools) rng.shuffle(pool);

  const proportions = Array.from({ length: clients }, () => rng.dirichlet(new Array(classes).fill(alpha)));
  const room = Array.from(sizes);
  const parts = sizes.map((size) => new Uint32Array(size));
  const active = Array.from({ length: clients }, (_, k) => k);
  while (active.length > 0) {
    const slot = rng.int(active.length);
    const k = active[slot]!;
    const c = drawClass(rng, proportions[k]!, pools);
    const filled = sizes[k]! - room[k]!;
    parts[k]![filled] = pools[c]!.pop()!;
    if (--room[k]! === 0) {
      active[slot] = active[active.length - 1]!;
      active.pop();
    }
  }
  return Object.freeze(parts.map((p) => p.sort()));
}

/**
 * How many examples of each class each client holds: `counts[k][c]`.
 * @throws RangeError if an index is out of range
 */
export function clientClassCounts(labels: Uint8Array, partition: Partition, classes = 10): number[][] {
  return partition.map((indices, k) => {
    const counts = new Array<number>(classes).fill(0);
    for (const i of indices) {
      const label = labels[i];
      if (label === undefined) throw new RangeError(`client ${k} holds index ${i}, beyond ${labels.length}`);
      counts[label]!++;
    }
    return counts;
  });
}

/**
 * How far clients' label distributions are from the whole data set's: the mean over clients of the
 * total variation distance ½·Σ_c |p_k(c) − p(c)|, in [0, 1]. 0 for identical distributions; close
 * to 0.9 when every client holds a single one of ten balanced classes.
 */
export function labelSkew(labels: Uint8Array, partition: Partition, classes = 10): number {
  const global = new Array<number>(classes).fill(0);
  for (const label of labels) global[label]!++;
  const total = labels.length;
  const perClient = clientClassCounts(labels, partition, classes);
  let sum = 0;
  perClient.forEach((counts, k) => {
    const n = partition[k]!.length;
    let tv = 0;
    counts.forEach((count, c) => {
      tv += Math.abs(count / n - global[c]! / total);
    });
    sum += tv / 2;
  });
  return sum / partition.length;
}

/** Draws a class from `q` restricted to the classes with examples left. */
function drawClass(rng: SimRandom, q: Float64Array, pools: number[][]): number {
  let mass = 0;
  for (let c = 0; c < pools.length; c++) if (pools[c]!.length > 0) mass += q[c]!;
  if (mass > 1e-12) {
    let u = rng.uniform() * mass;
    let last = -1;
    for (let c = 0; c < pools.length; c++) {
      if (pools[c]!.length === 0) continue;
      last = c;
      u -= q[c]!;
      if (u < 0) return c;
    }
    return last; // rounding left u a hair above zero
  }
  // This client's classes are all used up: take the others in proportion to what is left.
  let left = 0;
  for (const pool of pools) left += pool.length;
  let u = rng.int(left);
  for (let c = 0; c < pools.length; c++) {
    u -= pools[c]!.length;
    if (u < 0) return c;
  }
  throw new Error('unreachable: no examples left to draw');
}

function checkOptions(
  count: number,
  options: PartitionOptions,
): { clients: number; seed: number; sizes: number[] } {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${kind(options)}`);
  }
  assertIntegerIn('count', count, 0, 2 ** 32 - 1);
  const clients = assertIntegerIn('clients', options.clients, 1, 2 ** 24);
  const seed = assertIntegerIn('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
  const minPerClient = assertIntegerIn('minPerClient', options.minPerClient ?? 5, 1, 2 ** 31);
  const base = Math.floor(count / clients);
  if (base < minPerClient) {
    throw new RangeError(
      `${count} examples cannot give ${clients} clients ${minPerClient} examples each (minPerClient)`,
    );
  }
  const sizes = Array.from({ length: clients }, (_, k) => base + (k < count % clients ? 1 : 0));
  return { clients, seed, sizes };
}
