/**
 * src/dp/fdlibm.ts against fdlibm 5.3 itself: the known answers of ./fdlibm-kat.ts (Java's StrictMath,
 * at arguments where glibc rounds differently) and the special cases, also from StrictMath.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exp, log } from '../../src/dp/fdlibm.ts';
import { EXP_KAT, LOG_KAT } from './fdlibm-kat.ts';

/** A double from its IEEE-754 bits, big-endian hex (as Java's Double.doubleToRawLongBits prints). */
function bits(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

function hexOf(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString('hex');
}

describe('fdlibm log', () => {
  it('returns StrictMath.log bit for bit where glibc differs', () => {
    for (const [x, y] of LOG_KAT) assert.equal(hexOf(log(bits(x))), y, `log(${bits(x)})`);
  });

  it('special cases: ±0, negatives, ∞, NaN, 1, subnormals, powers of two', () => {
    assert.equal(log(0), -Infinity);
    assert.equal(log(-0), -Infinity);
    assert.ok(Number.isNaN(log(-1)));
    assert.ok(Number.isNaN(log(Number.NaN)));
    assert.equal(log(Infinity), Infinity);
    assert.ok(Object.is(log(1), 0));
    // StrictMath.log(2^k) = k·ln2_hi + k·ln2_lo; the smallest subnormal is 2^−1074.
    assert.equal(hexOf(log(2)), '3fe62e42fefa39ef');
    assert.equal(hexOf(log(5e-324)), 'c0874385446d71c3');
    assert.equal(hexOf(log(Number.MAX_VALUE)), '40862e42fefa39ef');
  });

  it('is within one ulp of the engine’s log (a sanity check, not the specification)', () => {
    for (let i = 1; i < 20_000; i++) {
      const x = i * 0.37 + 1 / i;
      const a = log(x);
      const b = Math.log(x);
      assert.ok(Math.abs(a - b) <= Math.abs(b) * 2 ** -52, `log(${x}): ${a} vs ${b}`);
    }
  });
});

describe('fdlibm exp', () => {
  it('returns StrictMath.exp bit for bit where glibc differs', () => {
    for (const [x, y] of EXP_KAT) assert.equal(hexOf(exp(bits(x))), y, `exp(${bits(x)})`);
  });

  it('special cases: 0, ±∞, NaN, overflow and underflow thresholds, exp(1)', () => {
    assert.equal(exp(0), 1);
    assert.equal(exp(Infinity), Infinity);
    assert.ok(Object.is(exp(-Infinity), 0));
    assert.ok(Number.isNaN(exp(Number.NaN)));
    assert.equal(exp(710), Infinity);
    assert.equal(exp(-746), 0);
    // fdlibm's exp(1) is one ulp above Math.E (V8 special-cases it; StrictMath does not).
    assert.equal(hexOf(exp(1)), '4005bf0a8b14576a');
    // Near the thresholds: k = 1024 (the result still finite) and a subnormal result.
    assert.equal(hexOf(exp(709.7)), '7fed75ae7a50ee14');
    assert.equal(hexOf(exp(-740)), '0000000000000055');
  });
});
