// SHA-256 (FIPS 180-4) and HKDF-SHA256 (RFC 5869): published vectors and agreement with @noble/hashes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { hkdf, sha256 } from '../../src/secagg/crypto/hash.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    assert.equal(
      hex(sha256(new TextEncoder().encode('abc'))),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    assert.equal(hex(sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the concatenation of its parts, like noble', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (parts) => {
        const joined = Buffer.concat(parts);
        assert.equal(hex(sha256(...parts)), hex(nobleSha256(joined)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects non-bytes', () => {
    assert.throws(() => sha256('abc' as unknown as Uint8Array), TypeError);
  });
});

describe('hkdf', () => {
  it('matches RFC 5869 test case 1', () => {
    const okm = hkdf(
      bytes('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      bytes('000102030405060708090a0b0c'),
      bytes('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    assert.equal(
      hex(okm),
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('matches RFC 5869 test case 3 (empty salt and info)', () => {
    const okm = hkdf(bytes('0b'.repeat(22)), new Uint8Array(0), new Uint8Array(0), 42);
    assert.equal(
      hex(okm),
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it('agrees with noble, including info longer than node accepts', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1020, maxLength: 1100 })),
        fc.integer({ min: 1, max: 200 }),
        (ikm, salt, info, length) => {
          assert.equal(
            hex(hkdf(ikm, salt, info, length)),
            hex(nobleHkdf(nobleSha256, ikm, salt, info, length)),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('validates its arguments', () => {
    const b = new Uint8Array(1);
    assert.throws(() => hkdf(b, b, b, 0), RangeError);
    assert.throws(() => hkdf(b, b, b, 255 * 32 + 1), RangeError);
    assert.equal(hkdf(b, b, b, 255 * 32).length, 255 * 32);
    assert.throws(() => hkdf(b, b, b, 1.5), RangeError);
    assert.throws(() => hkdf(b, b, 'x' as unknown as Uint8Array, 32), TypeError);
    assert.throws(() => hkdf(b, undefined as unknown as Uint8Array, b, 32), TypeError);
  });
});
