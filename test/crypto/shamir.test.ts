// Shamir secret sharing over GF(2^255 − 19), docs/PROTOCOL.md §5: field encoding, deterministic
// coefficient draws, reconstruction from any t shares, and the Lagrange cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FIELD_PRIME,
  fieldElementFromBytes,
  fieldElementToBytes,
  LagrangeCache,
  lagrangeCoefficientsAtZero,
  randomFieldElement,
  shamirReconstruct,
  shamirSplit,
} from '../../src/secagg/crypto/shamir.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';

const P = 2n ** 255n - 19n;
const ids = (xs: number[]) => xs as ClientId[];
const leBigint = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);

/** Reference f(x) mod p with plain BigInt, one reduction per step. */
function evalPoly(coefficients: bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = (acc * x + coefficients[k]!) % P;
  return acc;
}

const fieldElement = fc.bigInt({ min: 0n, max: P - 1n });
/** A set of distinct ids with a threshold: mostly small ids, sometimes near 2^32. */
const idSetAndThreshold = fc
  .uniqueArray(
    fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 2 ** 32 - 600, max: 2 ** 32 - 1 })),
    {
      minLength: 2,
      maxLength: 25,
    },
  )
  .chain((xs) => fc.tuple(fc.constant(ids(xs)), fc.integer({ min: 2, max: xs.length })));

describe('field elements', () => {
  it('FIELD_PRIME is 2^255 − 19', () => {
    assert.equal(FIELD_PRIME, P);
  });

  it('encode as 32 bytes little-endian and round-trip', () => {
    assert.equal(Buffer.from(fieldElementToBytes(1n)).toString('hex'), `01${'00'.repeat(31)}`);
    assert.equal(Buffer.from(fieldElementToBytes(P - 1n)).toString('hex'), `ec${'ff'.repeat(30)}7f`);
    fc.assert(
      fc.property(fieldElement, (x) => {
        const b = fieldElementToBytes(x);
        assert.equal(b.length, 32);
        assert.equal(leBigint(b), x);
        assert.equal(fieldElementFromBytes(b), x);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects encodings of values ≥ p and wrong lengths', () => {
    for (const v of [P, P + 1n, 2n ** 256n - 1n]) {
      const b = Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex').reverse());
      assert.throws(() => fieldElementFromBytes(b), RangeError);
    }
    assert.throws(() => fieldElementFromBytes(new Uint8Array(31)), RangeError);
    assert.throws(() => fieldElementFromBytes(new Uint8Array(33)), RangeError);
    assert.throws(() => fieldElementFromBytes('00' as unknown as Uint8Array), TypeError);
    assert.throws(() => fieldElementToBytes(P), RangeError);
    assert.throws(() => fieldElementToBytes(-1n), RangeError);
    assert.throws(() => fieldElementToBytes(1 as unknown as bigint), TypeError);
  });

  it('draws 64 bytes little-endian reduced mod p', () => {
    const raw = new DeterministicRng('fe').randomBytes(64);
    assert.equal(randomFieldElement(new DeterministicRng('fe')), leBigint(raw) % P);
    assert.equal(
      randomFieldElement({ randomBytes: (n) => new Uint8Array(n).fill(0xff) }),
      (2n ** 512n - 1n) % P,
    );
    assert.throws(() => randomFieldElement({ randomBytes: (n) => new Uint8Array(n - 1) }), TypeError);
  });
});

describe('shamirSplit', () => {
  it('draws a_1 … a_{t−1} in order from the rng (PROTOCOL.md §5)', () => {
    const rng = new DeterministicRng('shamir coefficients');
    const secret = 123456789n;
    const holders = ids([3, 1, 9, 4]);
    const shares = shamirSplit(secret, 3, holders, rng);
    const draws = new DeterministicRng('shamir coefficients');
    const coefficients = [secret, randomFieldElement(draws), randomFieldElement(draws)];
    assert.deepEqual(
      shares,
      holders.map((x) => evalPoly(coefficients, BigInt(x))),
    );
    // The rng has advanced by exactly (t − 1) · 64 bytes.
    assert.equal(
      Buffer.from(rng.randomBytes(8)).toString('hex'),
      Buffer.from(draws.randomBytes(8)).toString('hex'),
    );
  });

  it('evaluates like the reference for large thresholds and ids', () => {
    fc.assert(
      fc.property(fieldElement, idSetAndThreshold, fc.string(), (secret, [holders, t], label) => {
        const shares = shamirSplit(secret, t, holders, new DeterministicRng(label));
        const draws = new DeterministicRng(label);
        const coefficients = [secret, ...Array.from({ length: t - 1 }, () => randomFieldElement(draws))];
        assert.deepEqual(
          shares,
          holders.map((x) => evalPoly(coefficients, BigInt(x))),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('validates its arguments', () => {
    const rng = new DeterministicRng('v');
    assert.throws(() => shamirSplit(P, 2, ids([1, 2]), rng), RangeError);
    assert.throws(() => shamirSplit(-1n, 2, ids([1, 2]), rng), RangeError);
    assert.throws(() => shamirSplit(5 as unknown as bigint, 2, ids([1, 2]), rng), TypeError);
    assert.throws(() => shamirSplit(1n, 1, ids([1, 2]), rng), RangeError);
    assert.throws(() => shamirSplit(1n, 3, ids([1, 2]), rng), RangeError);
    assert.throws(() => shamirSplit(1n, 2, ids([1, 1]), rng), RangeError);
    assert.throws(() => shamirSplit(1n, 2, ids([0, 1]), rng), RangeError);
    assert.throws(() => shamirSplit(1n, 2, ids([1, 2 ** 32]), rng), RangeError);
    assert.throws(() => shamirSplit(1n, 2, ids([1, 2]), {} as never), TypeError);
  });
});

describe('shamirReconstruct', () => {
  it('recovers the secret from any t of n shares; t − 1 shares give another value', () => {
    fc.assert(
      fc.property(
        fieldElement,
        idSetAndThreshold,
        fc.string(),
        fc.nat(),
        (secret, [holders, t], label, pick) => {
          const values = shamirSplit(secret, t, holders, new DeterministicRng(label));
          const shares = holders.map((id, i) => ({ id, value: values[i]! }));
          // A pseudo-random subset of size t, rotated by `pick`.
          const start = pick % shares.length;
          const rotated = [...shares.slice(start), ...shares.slice(0, start)];
          const subset = rotated.slice(0, t);
          assert.equal(shamirReconstruct(subset, t), secret);
          // Interpolating only t − 1 of them (as if the threshold were t − 1) misses the secret,
          // except with negligible probability.
          if (t > 2) assert.notEqual(shamirReconstruct(subset.slice(0, t - 1), t - 1), secret);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('uses exactly the t lowest ids and ignores the rest', () => {
    const holders = ids([10, 2, 7, 5, 30]);
    const values = shamirSplit(42n, 3, holders, new DeterministicRng('lowest'));
    const shares = holders.map((id, i) => ({ id, value: values[i]! }));
    // Corrupt the shares of the two highest ids: the result must not change.
    const corrupted = shares.map((s) => (s.id >= 10 ? { id: s.id, value: (s.value + 1n) % P } : s));
    assert.equal(shamirReconstruct(corrupted, 3), 42n);
    // Corrupting one of the lowest three changes it.
    const bad = shares.map((s) => (s.id === 2 ? { id: s.id, value: (s.value + 1n) % P } : s));
    assert.notEqual(shamirReconstruct(bad, 3), 42n);
  });

  it('gives the same result with and without a cache, and reuses cached coefficients', () => {
    const cache = new LagrangeCache();
    fc.assert(
      fc.property(fieldElement, idSetAndThreshold, (secret, [holders, t]) => {
        const values = shamirSplit(secret, t, holders, new DeterministicRng('cache'));
        const shares = holders.map((id, i) => ({ id, value: values[i]! }));
        assert.equal(shamirReconstruct(shares, t, cache), secret);
        assert.equal(shamirReconstruct(shares, t, cache), shamirReconstruct(shares, t));
      }),
      { numRuns: 40 },
    );
    const a = cache.coefficientsAtZero(ids([1, 2, 3]));
    assert.equal(cache.coefficientsAtZero(ids([1, 2, 3])), a);
    assert.deepEqual(a, [3n, P - 3n, 1n]); // λ for {1,2,3}: 3, −3, 1
    assert.ok(Object.isFrozen(a));
  });

  it('evicts beyond its bound and still answers correctly', () => {
    const cache = new LagrangeCache(2);
    const first = cache.coefficientsAtZero(ids([1, 2]));
    cache.coefficientsAtZero(ids([1, 3]));
    cache.coefficientsAtZero(ids([1, 4]));
    const again = cache.coefficientsAtZero(ids([1, 2]));
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
    assert.throws(() => new LagrangeCache(0), RangeError);
    // Ids are validated on cache hits too: a string id must not hit the entry of the number.
    assert.throws(() => cache.coefficientsAtZero(['1', 2] as unknown as ClientId[]), TypeError);
    assert.throws(() => cache.coefficientsAtZero(ids([1, 1])), RangeError);
  });

  it('computes Lagrange coefficients that interpolate at 0', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 12 }),
        (xs) => {
          const lambda = lagrangeCoefficientsAtZero(ids(xs));
          // Σ λ_j · j^k = [k = 0] for every k < t.
          for (let k = 0; k < xs.length; k++) {
            let sum = 0n;
            xs.forEach((x, j) => {
              sum = (sum + lambda[j]! * BigInt(x) ** BigInt(k)) % P;
            });
            assert.equal(sum, k === 0 ? 1n : 0n);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('validates its arguments', () => {
    const s = (id: number, value = 1n) => ({ id: id as ClientId, value });
    assert.throws(() => shamirReconstruct([s(1), s(2)], 3), RangeError);
    assert.throws(() => shamirReconstruct([s(1), s(1), s(2)], 2), RangeError);
    assert.throws(() => shamirReconstruct([s(1), s(0)], 2), RangeError);
    assert.throws(() => shamirReconstruct([s(1), s(2, P)], 2), RangeError);
    assert.throws(() => shamirReconstruct([s(1), s(2)], 1), RangeError);
    assert.throws(
      () => shamirReconstruct([s(1), { id: 2 as ClientId, value: 1 as unknown as bigint }], 2),
      TypeError,
    );
    assert.throws(() => shamirReconstruct([s(1), null as never], 2), TypeError);
    assert.throws(() => shamirReconstruct('x' as never, 2), TypeError);
    assert.throws(() => shamirReconstruct([s(1), s(2)], 2, {} as LagrangeCache), TypeError);
    assert.throws(() => lagrangeCoefficientsAtZero(ids([3, 3])), RangeError);
  });
});
