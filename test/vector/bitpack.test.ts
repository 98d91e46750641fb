// Bit packing, docs/PROTOCOL.md §6.3: layout, round trips for every width, and strict decoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { packBits, packedLength, unpackBits } from '../../src/secagg/bitpack.ts';

const WIDTHS = Array.from({ length: 32 }, (_, i) => i + 1);

/** The §6.3 definition, one bit at a time: bit k of the stream is bit k mod 8 of byte ⌊k/8⌋. */
function referencePack(values: readonly number[], bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  values.forEach((value, i) => {
    for (let j = 0; j < bits; j++) {
      if (Math.floor(value / 2 ** j) % 2 === 1) {
        const k = i * bits + j;
        out[k >> 3] = out[k >> 3]! | (1 << (k & 7));
      }
    }
  });
  return out;
}

/** A width and a vector of elements that fit in it; lengths from 1, most not multiples of 8. */
const widthAndValues = (bits: number) =>
  fc.array(fc.integer({ min: 0, max: 2 ** bits - 1 }), { minLength: 1, maxLength: 70 });

describe('packedLength', () => {
  it('is ceil(length · bits / 8)', () => {
    assert.equal(packedLength(0, 7), 0);
    assert.equal(packedLength(1, 1), 1);
    assert.equal(packedLength(8, 1), 1);
    assert.equal(packedLength(9, 1), 2);
    assert.equal(packedLength(3, 4), 2);
    assert.equal(packedLength(10, 20), 25);
    assert.equal(packedLength(3, 32), 12);
  });

  it('rejects bad arguments: TypeError for the type, RangeError for the value, naming the argument', () => {
    assert.throws(() => packedLength('3' as unknown as number, 8), { name: 'TypeError', message: /length/ });
    assert.throws(() => packedLength(3, '8' as unknown as number), { name: 'TypeError', message: /bits/ });
    for (const length of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => packedLength(length, 8), { name: 'RangeError', message: /length/ });
    }
    for (const bits of [0, 33, 2.5, Number.NaN]) {
      assert.throws(() => packedLength(3, bits), { name: 'RangeError', message: /bits/ });
    }
  });
});

describe('packBits / unpackBits', () => {
  it('packs known vectors in little-endian bit order', () => {
    assert.deepEqual(packBits(Uint32Array.of(1, 2, 3), 4), Uint8Array.of(0x21, 0x03));
    assert.deepEqual(packBits(Uint32Array.of(0xabc, 0x123), 12), Uint8Array.of(0xbc, 0x3a, 0x12));
    assert.deepEqual(packBits(Uint32Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1), 1), Uint8Array.of(0x0d, 0x01));
    assert.deepEqual(packBits(Uint32Array.of(0x0102, 0xfffe), 16), Uint8Array.of(0x02, 0x01, 0xfe, 0xff));
    assert.deepEqual(packBits(Uint32Array.of(0x01020304), 32), Uint8Array.of(4, 3, 2, 1));
    assert.deepEqual(packBits(Uint32Array.of(0x7fff_ffff, 1), 31), referencePack([0x7fff_ffff, 1], 31));
    assert.deepEqual(unpackBits(Uint8Array.of(0xbc, 0x3a, 0x12), 2, 12), Uint32Array.of(0xabc, 0x123));
  });

  for (const bits of WIDTHS) {
    it(`round-trips and matches the §6.3 bit layout at ${bits} bits`, () => {
      fc.assert(
        fc.property(widthAndValues(bits), (values) => {
          const packed = packBits(Uint32Array.from(values), bits);
          assert.equal(packed.length, packedLength(values.length, bits));
          assert.deepEqual(packed, referencePack(values, bits));
          assert.deepEqual(unpackBits(packed, values.length, bits), Uint32Array.from(values));
        }),
        { numRuns: 60 },
      );
    });
  }

  it('round-trips any width, including the extremes 0 and 2^bits − 1', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 32 })
          .chain((bits) =>
            fc.tuple(
              fc.constant(bits),
              fc.array(fc.constantFrom(0, 2 ** bits - 1, 2 ** (bits - 1)), { minLength: 1, maxLength: 40 }),
            ),
          ),
        ([bits, values]) => {
          assert.deepEqual(
            unpackBits(packBits(Uint32Array.from(values), bits), values.length, bits),
            Uint32Array.from(values),
          );
        },
      ),
    );
  });

  it('handles empty vectors', () => {
    for (const bits of [1, 8, 13, 16, 32]) {
      assert.deepEqual(packBits(new Uint32Array(0), bits), new Uint8Array(0));
      assert.deepEqual(unpackBits(new Uint8Array(0), 0, bits), new Uint32Array(0));
    }
  });

  it('round-trips a 2^20-element vector at 20 and 32 bits', () => {
    const n = 1 << 20;
    const values = new Uint32Array(n);
    for (let i = 0; i < n; i++) values[i] = Math.imul(i, 0x9e37_79b9) >>> 0;
    assert.deepEqual(unpackBits(packBits(values, 32), n, 32), values);
    const small = values.map((v) => v >>> 12);
    assert.deepEqual(unpackBits(packBits(small, 20), n, 20), small);
  });

  it('accepts views at any byte offset and never shares memory with its input', () => {
    for (const bits of [8, 11, 16, 32]) {
      const backing = Uint32Array.of(9, 1, 2, 3, 4, 5);
      const values = backing.subarray(1, 5);
      const packed = packBits(values, bits);
      assert.deepEqual(packed, referencePack([1, 2, 3, 4], bits));
      backing[1] = 7;
      assert.deepEqual(packed, referencePack([1, 2, 3, 4], bits), 'output aliased the input');

      const buffer = new Uint8Array(packed.length + 3);
      buffer.set(packed, 1); // an odd byte offset: no aligned typed-array view is possible
      const unpacked = unpackBits(buffer.subarray(1, 1 + packed.length), 4, bits);
      assert.deepEqual(unpacked, Uint32Array.of(1, 2, 3, 4));
      buffer.fill(0xff);
      assert.deepEqual(unpacked, Uint32Array.of(1, 2, 3, 4), 'output aliased the input');
    }
  });

  it('rejects an element that does not fit, naming its index', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 31 })
          .chain((bits) =>
            fc.tuple(
              fc.constant(bits),
              widthAndValues(bits),
              fc.nat(),
              fc.integer({ min: 2 ** bits, max: 0xffff_ffff }),
            ),
          ),
        ([bits, values, at, bad]) => {
          const index = at % values.length;
          const vector = Uint32Array.from(values);
          vector[index] = bad;
          assert.throws(() => packBits(vector, bits), {
            name: 'RangeError',
            message: new RegExp(`values\\[${index}\\] = ${bad} does not fit in ${bits} bits`),
          });
        },
      ),
    );
  });

  it('rejects a payload of the wrong length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 70 }),
        fc.constantFrom(-1, 1, 4),
        (bits, length, delta) => {
          const bytes = new Uint8Array(packedLength(length, bits) + delta);
          assert.throws(() => unpackBits(bytes, length, bits), {
            name: 'RangeError',
            message: new RegExp(`bytes must be ${packedLength(length, bits)} bytes long`),
          });
        },
      ),
    );
  });

  it('rejects non-zero padding bits in the last byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 70 }),
        fc.nat(),
        (bits, length, pick) => {
          const used = (length * bits) % 8;
          fc.pre(used !== 0);
          const packed = packBits(new Uint32Array(length), bits);
          const paddingBit = used + (pick % (8 - used));
          packed[packed.length - 1] = 1 << paddingBit;
          assert.throws(() => unpackBits(packed, length, bits), { name: 'RangeError', message: /padding/ });
        },
      ),
    );
  });

  it('rejects arguments of the wrong type with a TypeError naming them', () => {
    const wrong: unknown[] = [[1, 2], Int32Array.of(1), new Uint8Array(4), null, undefined, 'abc'];
    for (const values of wrong) {
      assert.throws(() => packBits(values as Uint32Array, 8), { name: 'TypeError', message: /values/ });
    }
    for (const bytes of [[1, 2], new Uint32Array(1), null, new ArrayBuffer(4)] as unknown[]) {
      assert.throws(() => unpackBits(bytes as Uint8Array, 1, 8), { name: 'TypeError', message: /bytes/ });
    }
    assert.throws(() => packBits(new Uint32Array(1), undefined as unknown as number), {
      name: 'TypeError',
      message: /bits/,
    });
    assert.throws(() => unpackBits(new Uint8Array(1), '1' as unknown as number, 8), {
      name: 'TypeError',
      message: /length/,
    });
  });

  it('rejects widths outside 1..32', () => {
    for (const bits of [0, 33, -8, 8.5]) {
      assert.throws(() => packBits(new Uint32Array(1), bits), { name: 'RangeError', message: /bits/ });
      assert.throws(() => unpackBits(new Uint8Array(1), 1, bits), { name: 'RangeError', message: /bits/ });
    }
  });
});
