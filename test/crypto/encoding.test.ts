// Byte encodings of docs/PROTOCOL.md §1: u32/u8 little-endian, lp/str, ASCII labels, id lists,
// constant-time equality and the ascending-list check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ascii,
  concatBytes,
  equalBytes,
  idList,
  isStrictlyAscending,
  lp,
  str,
  u8,
  u32,
} from '../../src/secagg/encoding.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('u32 / u8', () => {
  it('encodes little-endian', () => {
    assert.equal(hex(u32(0)), '00000000');
    assert.equal(hex(u32(1)), '01000000');
    assert.equal(hex(u32(0x12345678)), '78563412');
    assert.equal(hex(u32(0xffffffff)), 'ffffffff');
    assert.equal(hex(u8(0)), '00');
    assert.equal(hex(u8(255)), 'ff');
  });

  it('rejects values outside the range with RangeError and non-numbers with TypeError', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => u32(bad), RangeError);
    }
    for (const bad of [-1, 256, 0.5]) assert.throws(() => u8(bad), RangeError);
    assert.throws(() => u32('1' as unknown as number), TypeError);
    assert.throws(() => u8(1n as unknown as number), TypeError);
  });

  it('round-trips every u32 through DataView', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
        const b = u32(x);
        assert.equal(new DataView(b.buffer).getUint32(0, true), x);
      }),
      { numRuns: 200 },
    );
  });
});

describe('lp / str / ascii / concatBytes', () => {
  it('prefixes with the u32 length', () => {
    assert.equal(hex(lp(new Uint8Array(0))), '00000000');
    assert.equal(hex(lp(Uint8Array.of(7, 8))), '020000000708');
    assert.equal(hex(str('ab')), '020000006162');
    assert.equal(hex(str('é')), '02000000c3a9'); // length in UTF-8 bytes, not UTF-16 units
    assert.equal(hex(str('😀')), '04000000f09f9880');
  });

  it('rejects lone surrogates instead of replacing them', () => {
    assert.throws(() => str('a\ud800'), RangeError);
    assert.throws(() => str('\udc00'), RangeError);
    assert.throws(() => str(5 as unknown as string), TypeError);
    assert.throws(() => lp('ab' as unknown as Uint8Array), TypeError);
  });

  it('encodes ASCII labels and rejects anything else', () => {
    assert.equal(Buffer.from(ascii('privagg/v1/config')).toString('latin1'), 'privagg/v1/config');
    assert.throws(() => ascii(''), RangeError);
    assert.throws(() => ascii('é'), RangeError);
    assert.throws(() => ascii('a\nb'), RangeError);
    assert.throws(() => ascii(undefined as unknown as string), TypeError);
  });

  it('concatenates in order and copies', () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes(a, new Uint8Array(0), Uint8Array.of(3));
    assert.equal(hex(out), '010203');
    a[0] = 9;
    assert.equal(out[0], 1);
    assert.equal(concatBytes().length, 0);
    assert.throws(() => concatBytes(a, [1] as unknown as Uint8Array), TypeError);
  });
});

describe('idList', () => {
  it('is u32(count) followed by u32 ids', () => {
    assert.equal(hex(idList([])), '00000000');
    assert.equal(hex(idList([1, 2, 0x01020304])), '03000000' + '01000000' + '02000000' + '04030201');
  });

  it('rejects ids outside [1, 2^32-1]', () => {
    assert.throws(() => idList([0]), RangeError);
    assert.throws(() => idList([2 ** 32]), RangeError);
    assert.throws(() => idList([1.5]), RangeError);
    assert.throws(() => idList(['1'] as unknown as number[]), TypeError);
    assert.throws(() => idList(new Set([1]) as unknown as number[]), TypeError);
  });
});

describe('equalBytes', () => {
  it('compares contents and lengths', () => {
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)), false);
    assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
    assert.throws(() => equalBytes(Uint8Array.of(1), 'a' as unknown as Uint8Array), TypeError);
  });

  it('agrees with Buffer.equals', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        assert.equal(equalBytes(a, b), Buffer.from(a).equals(Buffer.from(b)));
        assert.equal(equalBytes(a, Uint8Array.from(a)), true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('isStrictlyAscending', () => {
  it('accepts sorted lists without duplicates only', () => {
    assert.equal(isStrictlyAscending([]), true);
    assert.equal(isStrictlyAscending([5]), true);
    assert.equal(isStrictlyAscending([1, 2, 10]), true);
    assert.equal(isStrictlyAscending([1, 1]), false);
    assert.equal(isStrictlyAscending([2, 1]), false);
    assert.equal(isStrictlyAscending([1, Number.NaN]), false);
    assert.equal(isStrictlyAscending([Number.NaN]), false);
    assert.throws(() => isStrictlyAscending('12' as unknown as number[]), TypeError);
  });

  it('matches sort-and-dedupe', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 12 }), (ids) => {
        const canonical = [...new Set(ids)].sort((a, b) => a - b);
        const same = canonical.length === ids.length && canonical.every((v, i) => v === ids[i]);
        assert.equal(isStrictlyAscending(ids), same);
      }),
      { numRuns: 300 },
    );
  });
});
