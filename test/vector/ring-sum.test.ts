// RingSum (src/secagg/ring-sum.ts): the coordinator's running sum with the range check fused in,
// on the WebAssembly SIMD kernel and on the portable path, against a plain reference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RingSum } from '../../src/secagg/ring-sum.ts';
import { xorshiftWords } from '../fixtures/xorshift.ts';

/** What the sum should be: element-wise addition modulo 2^32 of the accepted vectors. */
function referenceSum(length: number, accepted: readonly Uint32Array[]): Uint32Array {
  const out = new Uint32Array(length);
  for (const v of accepted) for (let i = 0; i < length; i++) out[i] = out[i]! + v[i]!;
  return out;
}

describe('RingSum', () => {
  it('adds with the WebAssembly SIMD kernel on this host', () => {
    assert.equal(new RingSum(10).usesKernel, true);
    assert.equal(new RingSum(10, { kernel: false }).usesKernel, false);
    assert.equal(new RingSum(0).usesKernel, false, 'nothing to add: no memory');
  });

  for (const kernel of [true, false]) {
    describe(kernel ? 'kernel' : 'portable path', () => {
      it('sums in-range vectors exactly, across chunk boundaries and tails', () => {
        for (const length of [1, 3, 4, 5, 16383, 16384, 16385, 40003]) {
          for (const bits of [1, 16, 24, 32]) {
            const sum = new RingSum(length, { kernel });
            const inputs = [1, 2, 3].map((seed) => xorshiftWords(length, seed * 977 + length, bits));
            for (const v of inputs) assert.equal(sum.addInRange(v, bits), -1);
            assert.deepEqual(sum.words, referenceSum(length, inputs), `length ${length}, ${bits} bits`);
          }
        }
      });

      it('refuses a vector with an element ≥ 2^bits, names the first, and leaves the sum as it was', () => {
        for (const length of [1, 7, 16385, 40003]) {
          const sum = new RingSum(length, { kernel });
          const good = xorshiftWords(length, length, 12);
          assert.equal(sum.addInRange(good, 12), -1);
          for (const at of [0, length >> 1, length - 1]) {
            const bad = xorshiftWords(length, at + 5, 12);
            bad[at] = 1 << 12;
            if (at + 1 < length) bad[length - 1] = 0xffff_ffff; // a later culprit too
            assert.equal(sum.addInRange(bad, 12), at, `length ${length}, culprit at ${at}`);
            assert.deepEqual(sum.words, good, 'unchanged');
          }
        }
      });

      it('agrees with the reference for any vectors and widths', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 70 }),
            fc.integer({ min: 1, max: 32 }),
            fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 1, maxLength: 5 }),
            (length, bits, seeds) => {
              const sum = new RingSum(length, { kernel });
              const accepted: Uint32Array[] = [];
              for (const seed of seeds) {
                const v = xorshiftWords(length, seed, 32);
                const fits = v.every((x) => bits === 32 || x < 2 ** bits);
                const result = sum.addInRange(v, bits);
                if (fits) {
                  assert.equal(result, -1);
                  accepted.push(v);
                } else {
                  assert.equal(
                    result,
                    v.findIndex((x) => x >= 2 ** bits),
                  );
                }
              }
              assert.deepEqual(sum.words, referenceSum(length, accepted));
            },
          ),
          { numRuns: 200 },
        );
      });

      it('validates its arguments', () => {
        const sum = new RingSum(4, { kernel });
        assert.throws(() => sum.addInRange(new Uint32Array(5), 8), RangeError);
        assert.throws(() => sum.addInRange(Uint32Array.of(1, 2, 3, 4), 0), RangeError);
        assert.throws(() => sum.addInRange(Uint32Array.of(1, 2, 3, 4), 33), RangeError);
        assert.throws(() => sum.addInRange([1, 2, 3, 4] as unknown as Uint32Array, 8), TypeError);
        assert.deepEqual(sum.words, new Uint32Array(4));
      });
    });
  }

  it('rejects a length that is not an integer in [0, 2^32)', () => {
    assert.throws(() => new RingSum(-1), RangeError);
    assert.throws(() => new RingSum(1.5), RangeError);
    assert.throws(() => new RingSum(2 ** 32), RangeError);
  });
});
