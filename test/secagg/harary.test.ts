/**
 * The random Harary graph of SecAgg+ (src/secagg/harary.ts): its structure, its derivation from the
 * seed (recomputed here from the spec with @noble/hashes and @noble/ciphers), the unbiasedness of the
 * shuffle, its seed from the session id, its configuration encoding, the PROTOCOL.md §2.2 test
 * vector, and the neighbour-list check clients run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ctr } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  CompleteGraph,
  encodeGraphSpec,
  type GraphKind,
  type NeighbourGraph,
  verifyNeighbourhood,
} from '../../src/secagg/graph.ts';
import {
  graphSeed,
  HararyGraph,
  hararyOrder,
  neighbourGraph,
  shuffleIndices,
} from '../../src/secagg/harary.ts';
import { type ClientId, clientId } from '../../src/secagg/types.ts';

const ids = (...values: number[]): ClientId[] => values.map(clientId);
const range = (n: number, from = 1): ClientId[] => Array.from({ length: n }, (_, i) => clientId(from + i));

/** A fixed, distinct seed per label and index: SHA-256(label ‖ u32(i)). */
function seedFor(label: string, i = 0): Uint8Array {
  const index = new Uint8Array(4);
  new DataView(index.buffer).setUint32(0, i, true);
  return sha256(new Uint8Array([...new TextEncoder().encode(label), ...index]));
}

/** Checks every structural property of H(n, k) on `clients`: degree, loops, order, symmetry, connectivity. */
function assertHarary(graph: HararyGraph, clients: readonly ClientId[], k: number): void {
  const set = new Set(clients);
  const adjacency = new Map<ClientId, readonly ClientId[]>();
  for (const id of clients) {
    const nb = graph.neighbours(id);
    assert.equal(nb.length, k, `degree of ${id}`);
    assert.ok(!nb.includes(id), `self loop at ${id}`);
    for (let i = 1; i < nb.length; i++) assert.ok(nb[i - 1]! < nb[i]!, `neighbours of ${id} not ascending`);
    for (const v of nb) {
      assert.ok(set.has(v), `${v} is not a client`);
      assert.ok(graph.isNeighbour(id, v) && graph.isNeighbour(v, id), `isNeighbour(${id}, ${v})`);
    }
    assert.equal(graph.isNeighbour(id, id), false);
    adjacency.set(id, nb);
  }
  for (const [u, nb] of adjacency)
    for (const v of nb) assert.ok(adjacency.get(v)!.includes(u), `asymmetric ${u}-${v}`);
  // Connected: breadth-first search from the first client reaches everyone.
  const seen = new Set<ClientId>([clients[0]!]);
  const queue = [clients[0]!];
  for (let head = 0; head < queue.length; head++) {
    for (const v of adjacency.get(queue[head]!)!) {
      if (!seen.has(v)) {
        seen.add(v);
        queue.push(v);
      }
    }
  }
  assert.equal(seen.size, clients.length, 'graph is not connected');
}

/** The ring order recomputed from the spec text (harary.ts module comment) with independent libraries. */
function referenceOrder(seed: Uint8Array, n: number): number[] {
  const info = new Uint8Array([
    ...new TextEncoder().encode('privagg/v1/graph-order'),
    n & 255,
    (n >>> 8) & 255,
    (n >>> 16) & 255,
    n >>> 24,
  ]);
  const okm = hkdf(sha256, seed, new Uint8Array(0), info, 32);
  const stream = ctr(okm.slice(0, 16), okm.slice(16, 32)).encrypt(new Uint8Array(4 * (n + 64)));
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let next = 0;
  const pi = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    const m = BigInt(i + 1);
    const limit = 2n ** 32n - (2n ** 32n % m);
    let w: bigint;
    do w = BigInt(view.getUint32(4 * next++, true));
    while (w >= limit);
    const j = Number(w % m);
    [pi[i], pi[j]] = [pi[j]!, pi[i]!];
  }
  return pi;
}

describe('HararyGraph structure', () => {
  for (const [n, k] of [
    [3, 2],
    [4, 2],
    [5, 4],
    [7, 6],
    [10, 4],
    [11, 6],
    [64, 2],
    [100, 26],
    [257, 32],
  ] as const) {
    it(`H(${n}, ${k}): degree exactly k, symmetric, no self loops, connected`, () => {
      const clients = range(n, 5);
      for (let s = 0; s < 3; s++)
        assertHarary(new HararyGraph(clients, k, seedFor(`structure/${n}/${k}`, s)), clients, k);
    });
  }

  it('works on sparse ids up to 2^32 − 1 and orders neighbours by id', () => {
    const clients = ids(3, 7, 12, 300, 65536, 2147483649, 4294967295);
    const graph = new HararyGraph(clients, 4, seedFor('sparse'));
    assertHarary(graph, clients, 4);
  });

  it('connects exactly the clients within k/2 ring steps', () => {
    const clients = range(12, 100);
    const graph = new HararyGraph(clients, 6, seedFor('ring'));
    const ring = graph.ring();
    assert.deepEqual(
      [...ring].sort((a, b) => a - b),
      clients,
    );
    for (let p = 0; p < 12; p++) {
      for (let q = 0; q < 12; q++) {
        const d = Math.min(Math.abs(p - q), 12 - Math.abs(p - q));
        assert.equal(graph.isNeighbour(ring[p]!, ring[q]!), d >= 1 && d <= 3, `positions ${p}, ${q}`);
      }
    }
  });

  it('is the complete graph when k = n − 1', () => {
    const clients = range(9);
    const graph = new HararyGraph(clients, 8, seedFor('complete'));
    for (const id of clients)
      assert.deepEqual(
        graph.neighbours(id),
        clients.filter((c) => c !== id),
      );
  });

  it('builds H(10000, 58) and keeps its structure (no timing asserted)', () => {
    const clients = Array.from({ length: 10_000 }, (_, i) => clientId(3 * i + 1));
    const graph = new HararyGraph(clients, 58, seedFor('large'));
    assertHarary(graph, clients, 58);
  });
});

describe('HararyGraph from its seed', () => {
  it('derives the ring order exactly as the spec says (recomputed with @noble)', () => {
    for (const n of [1, 2, 3, 10, 97, 1000]) {
      for (let s = 0; s < 3; s++) {
        const seed = seedFor('spec', s);
        assert.deepEqual(Array.from(hararyOrder(seed, n)), referenceOrder(seed, n), `n=${n}, seed ${s}`);
      }
    }
  });

  it('pins the order of one seed (known answer)', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const order = Array.from(hararyOrder(seed, 10));
    assert.deepEqual(order, referenceOrder(seed, 10));
    assert.deepEqual(order, KNOWN_ORDER_0_TO_31_N10);
  });

  it('is deterministic: the same seed gives the same graph', () => {
    const clients = range(50);
    const a = new HararyGraph(clients, 8, seedFor('det'));
    const b = new HararyGraph(clients, 8, seedFor('det'));
    assert.deepEqual(a.ring(), b.ring());
    for (const id of clients) assert.deepEqual(a.neighbours(id), b.neighbours(id));
  });

  it('gives a different graph for a different seed, or a different n', () => {
    const clients = range(50);
    const a = new HararyGraph(clients, 8, seedFor('det', 0));
    const b = new HararyGraph(clients, 8, seedFor('det', 1));
    assert.notDeepEqual(a.ring(), b.ring());
    assert.ok(clients.some((id) => a.neighbours(id).join() !== b.neighbours(id).join()));
    assert.notDeepEqual(
      Array.from(hararyOrder(seedFor('det'), 50)).slice(0, 10),
      Array.from(hararyOrder(seedFor('det'), 51)).slice(0, 10),
    );
  });

  it('copies the seed it is given', () => {
    const seed = seedFor('copy');
    const graph = new HararyGraph(range(20), 4, seed);
    const before = graph.ring();
    seed.fill(0);
    assert.deepEqual(graph.ring(), before);
    assert.deepEqual(graph.seed, seedFor('copy'));
    graph.seed.fill(1); // the getter hands out a copy
    assert.deepEqual(graph.seed, seedFor('copy'));
  });
});

describe('the shuffle is unbiased', () => {
  it('all 24 orders of 4 clients are equally likely (chi-square over 7200 fixed seeds)', () => {
    const counts = new Map<string, number>();
    const seeds = 7200;
    for (let s = 0; s < seeds; s++) {
      const key = Array.from(hararyOrder(seedFor('chi4', s), 4)).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 24);
    const expected = seeds / 24;
    let statistic = 0;
    for (const c of counts.values()) statistic += (c - expected) ** 2 / expected;
    // Chi-square with 23 degrees of freedom: 49.73 is the p = 0.001 critical value. The seeds are
    // fixed, so this is one deterministic statistic.
    assert.ok(statistic < 49.73, `chi-square ${statistic.toFixed(2)} ≥ 49.73`);
  });

  it('every client is equally likely at every ring position (n = 7, chi-square over 7000 seeds)', () => {
    const n = 7;
    const seeds = 7000;
    const counts = new Float64Array(n * n);
    for (let s = 0; s < seeds; s++) {
      const order = hararyOrder(seedFor('chi7', s), n);
      for (let p = 0; p < n; p++) counts[p * n + order[p]!]!++;
    }
    const expected = seeds / n;
    let statistic = 0;
    for (const c of counts) statistic += (c - expected) ** 2 / expected;
    // Each row and column of the table sums to `seeds`, so the cells are not independent: under the
    // null hypothesis the statistic is about n/(n − 1) · χ²((n − 1)²), mean n(n − 1) = 42 (checked
    // against node:crypto randomInt shuffles). p = 0.001: 7/6 · 67.99 (χ²₃₆) = 79.3.
    assert.ok(statistic < 79.3, `chi-square ${statistic.toFixed(2)} ≥ 79.3`);
  });

  it('discards a word that would bias the draw (rejection sampling)', () => {
    // n = 3: the first draw is uniform(3); 2^32 mod 3 = 1, so only 0xffffffff is rejected.
    const words = [0xffff_ffff, 5, 0xffff_ffff];
    let used = 0;
    const order = shuffleIndices(3, () => words[used++]!);
    // j = 5 mod 3 = 2 (no swap at i = 2), then uniform(2) takes 0xffffffff: 2^32 is a multiple of 2,
    // so nothing is rejected and j = 1 (no swap at i = 1).
    assert.deepEqual(Array.from(order), [0, 1, 2]);
    assert.equal(used, 3);
    assert.deepEqual(Array.from(shuffleIndices(3, () => 0)), [1, 2, 0]);
    assert.deepEqual(Array.from(shuffleIndices(1, () => assert.fail('no draw for n = 1'))), [0]);
  });

  it('refuses a word source that breaks its contract', () => {
    assert.throws(() => shuffleIndices(3, () => -1), RangeError);
    assert.throws(() => shuffleIndices(3, () => 2 ** 32), RangeError);
    assert.throws(() => shuffleIndices(3, () => 0.5), RangeError);
    assert.throws(() => shuffleIndices(0, () => 0), RangeError);
    assert.throws(() => shuffleIndices(3, 'x' as unknown as () => number), TypeError);
  });
});

describe('graph encoding for the configuration hash', () => {
  it('encodes the Harary graph as u8(1) ‖ u32(k) ‖ u32(minSurvivors) ‖ u8(σ)', () => {
    const bytes = encodeGraphSpec({
      kind: 'harary',
      degree: 258,
      minSurvivors: 0x01020304,
      securityBits: 40,
    });
    assert.equal(Buffer.from(bytes).toString('hex'), '01020100000403020128');
  });

  it('leaves the complete graph encoding unchanged: one zero byte', () => {
    assert.deepEqual(encodeGraphSpec({ kind: 'complete' }), Uint8Array.of(0));
  });
});

describe('the graph seed comes from the session id (PROTOCOL.md §2.2)', () => {
  it('graphSeed = SHA256("privagg/v1/graph-seed" ‖ sessionId)', () => {
    const sessionId = seedFor('session');
    const expected = sha256(
      new Uint8Array([...new TextEncoder().encode('privagg/v1/graph-seed'), ...sessionId]),
    );
    assert.deepEqual(graphSeed(sessionId), expected);
    assert.throws(() => graphSeed(new Uint8Array(31)), /sessionId must be 32 bytes/);
  });

  it('neighbourGraph builds the announced graph for a session, and a new session moves the ring', () => {
    const clients = range(100);
    const spec = { kind: 'harary', degree: 16, minSurvivors: 90, securityBits: 40 } as const;
    const a = neighbourGraph(spec, clients, seedFor('session', 1));
    assert.equal(a.kind, 'harary');
    assert.equal(a.neighbours(clientId(1)).length, 16);
    assert.deepEqual((a as HararyGraph).seed, graphSeed(seedFor('session', 1)));
    const b = neighbourGraph(spec, clients, seedFor('session', 2));
    assert.notDeepEqual((a as HararyGraph).ring(), (b as HararyGraph).ring());
    const complete = neighbourGraph({ kind: 'complete' }, clients, seedFor('session', 1));
    assert.equal(complete.kind, 'complete');
    assert.equal(complete.neighbours(clientId(1)).length, 99);
    assert.throws(() => neighbourGraph(spec, clients, new Uint8Array(3)), /sessionId must be 32 bytes/);
  });

  it('reproduces the PROTOCOL.md §2.2 example: seed 00 01 … 1f, n = 10, k = 4', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.deepEqual(Array.from(hararyOrder(seed, 10)), [0, 1, 3, 2, 9, 4, 6, 5, 8, 7]);
    const graph = new HararyGraph(range(10), 4, seed);
    assert.deepEqual(graph.neighbours(clientId(1)), [2, 4, 8, 9]);
    assert.deepEqual(graph.neighbours(clientId(10)), [3, 4, 5, 7]);
  });
});

describe('HararyGraph argument checks', () => {
  const seed = seedFor('args');
  it('rejects bad degrees, client lists and seeds with errors naming the argument', () => {
    assert.throws(() => new HararyGraph(range(10), 3, seed), /degree must be even/);
    assert.throws(() => new HararyGraph(range(10), 0, seed), /degree must be an integer in \[2, 9\]/);
    assert.throws(() => new HararyGraph(range(10), 10, seed), /degree must be an integer in \[2, 9\]/);
    assert.throws(() => new HararyGraph(range(2), 2, seed), /at least 3/);
    assert.throws(() => new HararyGraph(ids(1, 3, 2), 2, seed), /sorted ascending/);
    assert.throws(() => new HararyGraph(ids(1, 2, 2, 4), 2, seed), /sorted ascending/);
    assert.throws(() => new HararyGraph([0, 1, 2] as ClientId[], 2, seed), /clients\[0\]/);
    assert.throws(() => new HararyGraph(range(10), 2, new Uint8Array(31)), /seed must be 32 bytes/);
    assert.throws(() => new HararyGraph(range(10), 2, 'seed' as unknown as Uint8Array), TypeError);
  });

  it('refuses to list the neighbours of a stranger, and never calls one a neighbour', () => {
    const graph = new HararyGraph(range(10), 4, seed);
    assert.throws(() => graph.neighbours(clientId(11)), /client 11 is not in this graph/);
    assert.equal(graph.isNeighbour(clientId(1), clientId(11)), false);
    assert.equal(graph.isNeighbour(clientId(11), clientId(1)), false);
  });
});

describe('verifyNeighbourhood', () => {
  const clients = range(30);
  const graph: NeighbourGraph<GraphKind> = new HararyGraph(clients, 6, seedFor('verify'));
  const me = clientId(7);
  const mine = graph.neighbours(me);
  const stranger = clients.find((c) => c !== me && !mine.includes(c))!;

  it('accepts exactly the neighbourhood', () => {
    assert.deepEqual(verifyNeighbourhood(graph, me, mine), { ok: true });
  });

  it('names what is wrong with a bad list', () => {
    const unsorted = [...mine].reverse();
    assert.equal(verifyNeighbourhood(graph, me, unsorted).ok, false);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, unsorted)), ['not-sorted', []]);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, [mine[0]!, mine[0]!])), ['not-sorted', []]);
    const withSelf = [...mine, me].sort((a, b) => a - b);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, withSelf)), ['includes-self', [me]]);
    const swapped = [...mine.slice(1), stranger].sort((a, b) => a - b);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, swapped)), ['not-a-neighbour', [stranger]]);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, [...mine, 999])), ['not-a-neighbour', [999]]);
    assert.deepEqual(pick(verifyNeighbourhood(graph, me, mine.slice(2))), [
      'missing-neighbour',
      mine.slice(0, 2),
    ]);
    const result = verifyNeighbourhood(graph, me, mine.slice(1));
    assert.ok(!result.ok && result.message.includes(String(mine[0])));
  });

  it('accepts a subset with allowMissing, still refusing strangers', () => {
    assert.deepEqual(verifyNeighbourhood(graph, me, mine.slice(2), { allowMissing: true }), { ok: true });
    assert.deepEqual(verifyNeighbourhood(graph, me, [], { allowMissing: true }), { ok: true });
    const bad = verifyNeighbourhood(graph, me, [stranger], { allowMissing: true });
    assert.deepEqual(pick(bad), ['not-a-neighbour', [stranger]]);
  });

  it('works for the complete graph too', () => {
    const complete = new CompleteGraph(range(5));
    assert.deepEqual(verifyNeighbourhood(complete, clientId(3), [1, 2, 4, 5]), { ok: true });
    assert.deepEqual(pick(verifyNeighbourhood(complete, clientId(3), [1, 2, 4])), ['missing-neighbour', [5]]);
  });

  it('throws only when the list is not an array', () => {
    assert.throws(() => verifyNeighbourhood(graph, me, 'x' as unknown as number[]), TypeError);
  });
});

function pick(check: ReturnType<typeof verifyNeighbourhood>): [string, readonly number[]] | 'ok' {
  return check.ok ? 'ok' : [check.problem, check.ids];
}

/** hararyOrder(00 01 … 1f, 10), recorded from the implementation and checked against referenceOrder. */
const KNOWN_ORDER_0_TO_31_N10 = [0, 1, 3, 2, 9, 4, 6, 5, 8, 7];
