// Ring arithmetic mod 2^32 with a final reduction mod 2^bits, docs/PROTOCOL.md §6.2.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addInRange,
  addInto,
  assertBits,
  assertLength,
  firstOutOfRange,
  maxValue,
  reduceInto,
  subInto,
} from '../../src/secagg/ring.ts';

/** `count` u32 vectors of one common length, 1..50. */
const vectors = (count: number) =>
  fc
    .integer({ min: 1, max: 50 })
    .chain((n) =>
      fc.array(fc.uint32Array({ minLength: n, maxLength: n }), { minLength: count, maxLength: count }),
    );
const pair = vectors(2).map(([a, b]) => [a!, b!] as const);

const mod = (x: bigint, bits: number): number => Number(BigInt.asUintN(bits, x));

describe('addInto / subInto', () => {
  it('adds and subtracts modulo 2^32', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const sum = a.slice();
        addInto(sum, b);
        const diff = a.slice();
        subInto(diff, b);
        for (let i = 0; i < a.length; i++) {
          assert.equal(sum[i], mod(BigInt(a[i]!) + BigInt(b[i]!), 32));
          assert.equal(diff[i], mod(BigInt(a[i]!) - BigInt(b[i]!), 32));
        }
      }),
    );
  });

  it('subInto undoes addInto and leaves the operand untouched', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const acc = a.slice();
        const operand = b.slice();
        addInto(acc, operand);
        subInto(acc, operand);
        assert.deepEqual(acc, a);
        assert.deepEqual(operand, b);
      }),
    );
  });

  it('allows the accumulator as its own operand', () => {
    const a = Uint32Array.of(0x8000_0001, 3);
    addInto(a, a);
    assert.deepEqual(a, Uint32Array.of(2, 6));
    subInto(a, a);
    assert.deepEqual(a, Uint32Array.of(0, 0));
  });

  it('gives the same result mod 2^bits as reducing after every step (§6.2)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), vectors(3), (bits, [a, b, c]) => {
        if (!a || !b || !c) throw new Error('expected three vectors');
        const late = a.slice();
        addInto(late, b);
        subInto(late, c);
        reduceInto(late, bits);
        const early = a.slice();
        reduceInto(early, bits);
        const rb = b.slice();
        reduceInto(rb, bits);
        addInto(early, rb);
        reduceInto(early, bits);
        const rc = c.slice();
        reduceInto(rc, bits);
        subInto(early, rc);
        reduceInto(early, bits);
        assert.deepEqual(late, early);
      }),
    );
  });

  it('rejects mismatched lengths and wrong types, naming the argument', () => {
    for (const f of [addInto, subInto]) {
      assert.throws(() => f(new Uint32Array(2), new Uint32Array(3)), {
        name: 'RangeError',
        message: /v must have 2 elements, got 3/,
      });
      assert.throws(() => f(new Int32Array(2) as unknown as Uint32Array, new Uint32Array(2)), {
        name: 'TypeError',
        message: /acc must be a Uint32Array, got Int32Array/,
      });
      assert.throws(() => f(new Uint32Array(2), [1, 2] as unknown as Uint32Array), {
        name: 'TypeError',
        message: /v must be a Uint32Array, got Array/,
      });
    }
  });

  it('changes nothing when it rejects', () => {
    const acc = Uint32Array.of(1, 2);
    assert.throws(() => addInto(acc, new Uint32Array(3)));
    assert.deepEqual(acc, Uint32Array.of(1, 2));
  });
});

describe('reduceInto', () => {
  it('keeps the low bits, and is a no-op at 32 bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.uint32Array({ minLength: 1, maxLength: 50 }),
        (bits, v) => {
          const r = v.slice();
          reduceInto(r, bits);
          for (let i = 0; i < v.length; i++) assert.equal(r[i], v[i]! % 2 ** bits);
        },
      ),
    );
    // The high bits at every width, which random u32s (biased towards small values) rarely reach.
    for (let bits = 1; bits <= 32; bits++) {
      const edge = Uint32Array.of(0xffff_ffff, 0x8000_0000, 2 ** bits - 1, 2 ** (bits - 1));
      reduceInto(edge, bits);
      const low = 2 ** bits - 1;
      assert.deepEqual(
        edge,
        Uint32Array.of(low, bits === 32 ? 0x8000_0000 : 0, low, 2 ** (bits - 1)),
        `${bits} bits`,
      );
    }
    const v = Uint32Array.of(0xffff_ffff, 0x8000_0000);
    reduceInto(v, 32);
    assert.deepEqual(v, Uint32Array.of(0xffff_ffff, 0x8000_0000));
  });

  it('rejects bad arguments', () => {
    assert.throws(() => reduceInto([1] as unknown as Uint32Array, 8), {
      name: 'TypeError',
      message: /v must/,
    });
    assert.throws(() => reduceInto(new Uint32Array(1), 0), { name: 'RangeError', message: /bits/ });
    assert.throws(() => reduceInto(new Uint32Array(1), 33), { name: 'RangeError', message: /bits/ });
    assert.throws(() => reduceInto(new Uint32Array(1), '8' as unknown as number), {
      name: 'TypeError',
      message: /bits/,
    });
  });
});

describe('maxValue / assertBits / assertLength', () => {
  it('maxValue is 2^bits − 1, exactly, up to 32 bits', () => {
    assert.equal(maxValue(1), 1);
    assert.equal(maxValue(8), 255);
    assert.equal(maxValue(20), 1_048_575);
    assert.equal(maxValue(31), 0x7fff_ffff);
    assert.equal(maxValue(32), 0xffff_ffff);
    for (const bits of [0, 33, 1.5, Number.NaN]) assert.throws(() => maxValue(bits), RangeError);
    assert.throws(() => maxValue(null as unknown as number), TypeError);
  });

  it('assertBits honours a minimum width and the argument name', () => {
    assertBits(2, 'options.bits', 2);
    assert.throws(() => assertBits(1, 'options.bits', 2), {
      name: 'RangeError',
      message: /options\.bits must be an integer in 2\.\.32, got 1/,
    });
  });

  it('assertLength checks the type, then the length', () => {
    assertLength(new Uint32Array(3), 3, 'mask');
    assert.throws(() => assertLength(new Uint32Array(2), 3, 'mask'), {
      name: 'RangeError',
      message: /mask must have 3 elements, got 2/,
    });
    assert.throws(() => assertLength(new Uint8Array(3), 3, 'mask'), {
      name: 'TypeError',
      message: /mask must be a Uint32Array, got Uint8Array/,
    });
  });
});

describe('firstOutOfRange', () => {
  it('finds the first element not below 2^bits at every width, and -1 when all fit', () => {
    for (let bits = 1; bits <= 31; bits++) {
      const v = new Uint32Array(100).fill(2 ** bits - 1);
      assert.equal(firstOutOfRange(v, bits), -1, `bits ${bits}: all fit`);
      v[37] = 2 ** bits;
      v[80] = 0xffff_ffff;
      assert.equal(firstOutOfRange(v, bits), 37, `bits ${bits}: first bad index`);
    }
    assert.equal(firstOutOfRange(Uint32Array.of(0xffff_ffff), 32), -1, 'nothing exceeds 32 bits');
  });
});

describe('addInRange', () => {
  const bitsArb = fc.integer({ min: 1, max: 32 });

  it('adds exactly as addInto when every element fits', () => {
    fc.assert(
      fc.property(pair, bitsArb, ([acc, v], bits) => {
        const fitting = v.map((x) => (bits === 32 ? x : x & (2 ** bits - 1)));
        const expected = acc.slice();
        addInto(expected, fitting);
        const got = acc.slice();
        assert.equal(addInRange(got, fitting, bits), -1);
        assert.deepEqual(got, expected);
      }),
    );
  });

  it('leaves the accumulator unchanged and names the first element out of range', () => {
    fc.assert(
      fc.property(pair, fc.integer({ min: 1, max: 31 }), ([acc, v], bits) => {
        const expected = firstOutOfRange(v, bits);
        const got = acc.slice();
        assert.equal(addInRange(got, v, bits), expected);
        if (expected >= 0) assert.deepEqual(got, acc, 'a rejected vector leaves no trace');
      }),
    );
  });

  it('rejects an out-of-range element in the unrolled body and in the tail alike', () => {
    for (const length of [4, 8, 9, 1001]) {
      for (const bad of [0, 3, length - 1]) {
        const acc = new Uint32Array(length).fill(5);
        const v = new Uint32Array(length).fill(1);
        v[bad] = 256;
        assert.equal(addInRange(acc, v, 8), bad, `length ${length}, bad index ${bad}`);
        assert.ok(acc.every((x) => x === 5));
      }
    }
  });

  it('validates its arguments', () => {
    assert.throws(() => addInRange(new Uint32Array(2), new Uint32Array(3), 8), RangeError);
    assert.throws(() => addInRange(new Uint32Array(2), new Uint32Array(2), 33), RangeError);
    assert.throws(
      () => addInRange(new Int32Array(2) as unknown as Uint32Array, new Uint32Array(2), 8),
      TypeError,
    );
  });
});
