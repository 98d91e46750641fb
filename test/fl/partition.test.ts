// Client partitions (src/fl/partition.ts): every example goes to exactly one client, clients get at
// least `minPerClient` examples, the split is a function of the seed, and Dirichlet label skew is
// real — measured as the mean total-variation distance between each client's label distribution and
// the global one, it falls as α grows and reaches the IID level for a large α.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientClassCounts,
  labelSkew,
  type Partition,
  partitionDirichlet,
  partitionIid,
} from '../../src/fl/partition.ts';

/** 6,000 labels, 600 of each of ten classes, interleaved. */
const LABELS = new Uint8Array(6000).map((_, i) => i % 10);

function assertExactCover(partition: Partition, count: number, what: string): void {
  const seen = new Uint8Array(count);
  for (const indices of partition) {
    for (const i of indices) {
      assert.ok(i < count, `${what}: index ${i} is beyond the ${count} examples`);
      assert.equal(seen[i], 0, `${what}: example ${i} is assigned twice`);
      seen[i] = 1;
    }
  }
  assert.ok(
    seen.every((s) => s === 1),
    `${what}: some example is assigned to no client`,
  );
}

function same(a: Partition, b: Partition): boolean {
  return (
    a.length === b.length && a.every((p, k) => p.length === b[k]!.length && p.every((v, i) => v === b[k]![i]))
  );
}

describe('partitionIid', () => {
  it('assigns every example exactly once, in parts whose sizes differ by at most one', () => {
    const partition = partitionIid(1003, { clients: 10, seed: 3 });
    assertExactCover(partition, 1003, 'iid');
    const sizes = partition.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes} differ by more than one`);
  });

  it('is a function of the seed', () => {
    const a = partitionIid(500, { clients: 7, seed: 11 });
    assert.ok(same(a, partitionIid(500, { clients: 7, seed: 11 })), 'the same seed gave a different split');
    assert.ok(!same(a, partitionIid(500, { clients: 7, seed: 12 })), 'another seed gave the same split');
  });

  it('refuses a data set too small to give every client minPerClient examples', () => {
    assert.throws(() => partitionIid(49, { clients: 10 }), RangeError);
    assert.equal(partitionIid(50, { clients: 10 }).length, 10);
  });
});

describe('partitionDirichlet', () => {
  it('assigns every example exactly once and gives every client its equal share', () => {
    for (const alpha of [0.01, 0.5, 100]) {
      const partition = partitionDirichlet(LABELS, { clients: 23, alpha, seed: 5 });
      assertExactCover(partition, LABELS.length, `alpha ${alpha}`);
      for (const [k, p] of partition.entries()) {
        assert.ok(
          p.length >= 260 && p.length <= 261,
          `alpha ${alpha}: client ${k} holds ${p.length} examples`,
        );
      }
    }
  });

  it('is a function of the seed', () => {
    const a = partitionDirichlet(LABELS, { clients: 20, seed: 9 });
    assert.ok(
      same(a, partitionDirichlet(LABELS, { clients: 20, seed: 9 })),
      'the same seed gave a different split',
    );
    assert.ok(
      !same(a, partitionDirichlet(LABELS, { clients: 20, seed: 10 })),
      'another seed gave the same split',
    );
  });

  it('skews labels more as alpha shrinks, and not at all for a large alpha', () => {
    // Measured on three seeds: IID ≈ 0.07, α = 1000 ≈ 0.07, α = 10 ≈ 0.14, α = 0.5 ≈ 0.42, α = 0.1 ≈ 0.63.
    for (const seed of [0, 1, 2]) {
      const iid = labelSkew(LABELS, partitionIid(LABELS.length, { clients: 20, seed }));
      const skew = (alpha: number) =>
        labelSkew(LABELS, partitionDirichlet(LABELS, { clients: 20, alpha, seed }));
      const [s01, s05, s10, s1000] = [skew(0.1), skew(0.5), skew(10), skew(1000)];
      assert.ok(iid < 0.12, `seed ${seed}: IID clients are far from the global distribution (skew ${iid})`);
      assert.ok(s01 > 0.5, `seed ${seed}: alpha 0.1 gave skew ${s01}, expected > 0.5`);
      assert.ok(
        s01 > s05 + 0.1 && s05 > s10 + 0.1,
        `seed ${seed}: skew not falling with alpha: ${s01}, ${s05}, ${s10}`,
      );
      assert.ok(Math.abs(s1000 - iid) < 0.03, `seed ${seed}: alpha 1000 gave skew ${s1000}, IID ${iid}`);
    }
  });

  it('gives clients few classes for a small alpha, all ten for IID', () => {
    const mainClasses = (partition: Partition) => {
      const counts = clientClassCounts(LABELS, partition);
      return (
        counts.reduce((sum, c, k) => sum + c.filter((n) => n >= 0.02 * partition[k]!.length).length, 0) /
        counts.length
      );
    };
    const skewed = mainClasses(partitionDirichlet(LABELS, { clients: 20, alpha: 0.1, seed: 4 }));
    const iid = mainClasses(partitionIid(LABELS.length, { clients: 20, seed: 4 }));
    assert.ok(skewed < 6, `alpha 0.1: clients hold ${skewed} classes with ≥ 2% of their data on average`);
    assert.equal(iid, 10, 'IID clients should each hold every class');
  });

  it('refuses bad arguments', () => {
    assert.throws(() => partitionDirichlet(LABELS, { clients: 10, alpha: 0 }), RangeError);
    assert.throws(
      () => partitionDirichlet(Array.from(LABELS) as unknown as Uint8Array, { clients: 10 }),
      TypeError,
    );
    assert.throws(() => partitionDirichlet(LABELS, { clients: 2000 }), RangeError);
  });
});
