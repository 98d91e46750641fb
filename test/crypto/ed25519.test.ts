// Ed25519 (RFC 8032): the §7.1 TEST 1 vector, agreement with @noble/curves, and verification that
// returns false (never throws) for malformed signatures and keys.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { Ed25519Signer, ed25519Verify } from '../../src/secagg/crypto/ed25519.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

describe('RFC 8032 §7.1 TEST 1', () => {
  const seed = bytes('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const publicKey = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const signature =
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

  it('derives the public key and signs the empty message', () => {
    const signer = Ed25519Signer.fromSeed(seed);
    assert.equal(hex(signer.publicKey), publicKey);
    assert.equal(hex(signer.sign(new Uint8Array(0))), signature);
  });

  it('verifies the signature, and rejects it for another message', () => {
    assert.equal(ed25519Verify(bytes(publicKey), new Uint8Array(0), bytes(signature)), true);
    assert.equal(ed25519Verify(bytes(publicKey), Uint8Array.of(0), bytes(signature)), false);
  });
});

describe('Ed25519 agrees with noble', () => {
  it('keys, signatures and verification', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        (seed, message) => {
          const signer = Ed25519Signer.fromSeed(seed);
          assert.equal(hex(signer.publicKey), hex(ed25519.getPublicKey(seed)));
          const sig = signer.sign(message);
          assert.equal(hex(sig), hex(ed25519.sign(message, seed)));
          assert.equal(ed25519Verify(signer.publicKey, message, sig), true);
          assert.equal(ed25519.verify(sig, message, signer.publicKey), true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects any single-bit change of signature, message or key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 0, max: 2 }),
        (seed, message, position, which) => {
          const signer = Ed25519Signer.fromSeed(seed);
          const parts = [signer.publicKey, Uint8Array.from(message), signer.sign(message)];
          const target = parts[which]!;
          const bit = position % (target.length * 8);
          target[bit >> 3] = target[bit >> 3]! ^ (1 << (bit & 7));
          assert.equal(ed25519Verify(parts[0]!, parts[1]!, parts[2]!), false);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('Ed25519Signer', () => {
  it('generates from the rng deterministically', () => {
    const a = Ed25519Signer.generate(new DeterministicRng('ed25519 test'));
    const seed = new DeterministicRng('ed25519 test').randomBytes(32);
    assert.equal(hex(a.publicKey), hex(ed25519.getPublicKey(seed)));
  });

  it('validates its inputs', () => {
    assert.throws(() => Ed25519Signer.fromSeed(new Uint8Array(31)), RangeError);
    assert.throws(() => Ed25519Signer.fromSeed('seed' as unknown as Uint8Array), TypeError);
    assert.throws(() => Ed25519Signer.generate(null as never), TypeError);
    const signer = Ed25519Signer.fromSeed(new Uint8Array(32));
    assert.throws(() => signer.sign('m' as unknown as Uint8Array), TypeError);
  });
});

describe('ed25519Verify on malformed input', () => {
  const signer = Ed25519Signer.fromSeed(new Uint8Array(32).fill(7));
  const message = Uint8Array.of(1, 2, 3);
  const sig = signer.sign(message);

  it('returns false for wrong lengths', () => {
    assert.equal(ed25519Verify(signer.publicKey.subarray(0, 31), message, sig), false);
    assert.equal(ed25519Verify(signer.publicKey, message, sig.subarray(0, 63)), false);
    assert.equal(ed25519Verify(signer.publicKey, message, new Uint8Array(65)), false);
    assert.equal(ed25519Verify(new Uint8Array(0), message, new Uint8Array(0)), false);
  });

  it('returns false for a public key that is not a curve point', () => {
    // y = 2 has no x on edwards25519 (2 is not a valid y: (y²−1)/(dy²+1) is a non-square).
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    assert.equal(ed25519Verify(notAPoint, message, sig), false);
    assert.equal(ed25519Verify(new Uint8Array(32).fill(0xff), message, sig), false);
  });

  it('returns false for S ≥ L (signature malleability)', () => {
    // Add L to S: the same equation holds, but RFC 8032 §5.1.7 requires rejecting it.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const s = BigInt(`0x${hex(Uint8Array.from(sig.subarray(32)).reverse())}`) + L;
    const sBytes = bytes(s.toString(16).padStart(64, '0')).reverse();
    const malleated = Uint8Array.from(sig);
    malleated.set(sBytes, 32);
    assert.equal(ed25519Verify(signer.publicKey, message, malleated), false);
  });

  it('throws TypeError for arguments that are not bytes', () => {
    assert.throws(() => ed25519Verify('pk' as unknown as Uint8Array, message, sig), TypeError);
    assert.throws(() => ed25519Verify(signer.publicKey, undefined as unknown as Uint8Array, sig), TypeError);
    assert.throws(() => ed25519Verify(signer.publicKey, message, [1] as unknown as Uint8Array), TypeError);
  });
});
