// AES-256-GCM (NIST SP 800-38D) as used for share encryption, docs/PROTOCOL.md §4.2: agreement with
// @noble/ciphers and rejection of every tampered input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import fc from 'fast-check';
import { aesGcmOpen, aesGcmSeal } from '../../src/secagg/crypto/aead.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonce12 = fc.uint8Array({ minLength: 12, maxLength: 12 });

function flip(b: Uint8Array, position: number): Uint8Array {
  const out = Uint8Array.from(b);
  const bit = position % (out.length * 8);
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}

describe('aesGcmSeal / aesGcmOpen', () => {
  it('matches the GCM spec test case 16 (AES-256, 60-byte plaintext, 20-byte aad)', () => {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16.
    const key = Buffer.from('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', 'hex');
    const nonce = Buffer.from('cafebabefacedbaddecaf888', 'hex');
    const aad = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
    const pt = Buffer.from(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
      'hex',
    );
    const sealed = aesGcmSeal(key, nonce, aad, pt);
    assert.equal(
      hex(sealed),
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
        '76fc6ece0f4e1768cddf8853bb2d551b',
    );
    assert.equal(hex(aesGcmOpen(key, nonce, aad, sealed)!), hex(pt));
  });

  it('agrees with noble and round-trips', () => {
    fc.assert(
      fc.property(
        key32,
        nonce12,
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 200 }),
        (k, n, aad, pt) => {
          const sealed = aesGcmSeal(k, n, aad, pt);
          assert.equal(sealed.length, pt.length + 16);
          assert.equal(hex(sealed), hex(gcm(k, n, aad).encrypt(pt)));
          assert.equal(hex(aesGcmOpen(k, n, aad, sealed)!), hex(pt));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns undefined for any tampered ciphertext, tag, aad, nonce or key', () => {
    fc.assert(
      fc.property(
        key32,
        nonce12,
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.uint8Array({ minLength: 1, maxLength: 72 }),
        fc.nat(),
        (k, n, aad, pt, position) => {
          const sealed = aesGcmSeal(k, n, aad, pt);
          assert.equal(aesGcmOpen(k, n, aad, flip(sealed, position)), undefined);
          assert.equal(aesGcmOpen(k, n, flip(aad, position), sealed), undefined);
          assert.equal(aesGcmOpen(k, flip(n, position), aad, sealed), undefined);
          assert.equal(aesGcmOpen(flip(k, position), n, aad, sealed), undefined);
          assert.equal(aesGcmOpen(k, n, aad, sealed.subarray(0, sealed.length - 1)), undefined);
          assert.equal(aesGcmOpen(k, n, new Uint8Array(0), sealed), undefined);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns undefined for input shorter than a tag, and opens an empty plaintext', () => {
    const k = new Uint8Array(32);
    const n = new Uint8Array(12);
    assert.equal(aesGcmOpen(k, n, new Uint8Array(0), new Uint8Array(15)), undefined);
    assert.equal(aesGcmOpen(k, n, new Uint8Array(0), new Uint8Array(0)), undefined);
    const sealed = aesGcmSeal(k, n, new Uint8Array(0), new Uint8Array(0));
    assert.equal(sealed.length, 16);
    assert.equal(aesGcmOpen(k, n, new Uint8Array(0), sealed)?.length, 0);
  });

  it('validates key and nonce lengths and argument types', () => {
    const e = new Uint8Array(0);
    assert.throws(() => aesGcmSeal(new Uint8Array(16), new Uint8Array(12), e, e), RangeError);
    assert.throws(() => aesGcmSeal(new Uint8Array(32), new Uint8Array(16), e, e), RangeError);
    assert.throws(
      () => aesGcmOpen(new Uint8Array(31), new Uint8Array(12), e, new Uint8Array(16)),
      RangeError,
    );
    assert.throws(
      () => aesGcmOpen(new Uint8Array(32), new Uint8Array(11), e, new Uint8Array(16)),
      RangeError,
    );
    assert.throws(
      () => aesGcmSeal(new Uint8Array(32), new Uint8Array(12), e, 'x' as unknown as Uint8Array),
      TypeError,
    );
    assert.throws(() => aesGcmOpen(new Uint8Array(32), new Uint8Array(12), null as never, e), TypeError);
  });
});
