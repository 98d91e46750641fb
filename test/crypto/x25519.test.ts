// X25519 (RFC 7748) as used in docs/PROTOCOL.md §3: the RFC 7748 §6.1 vector, agreement with
// @noble/curves, clamping at generation, and the §3.1 public-key validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import {
  assertValidX25519PublicKey,
  InvalidPublicKeyError,
  isClampedX25519PrivateKey,
  X25519PrivateKey,
  x25519PublicKeyFromPrivate,
  x25519PublicKeyProblem,
} from '../../src/secagg/crypto/x25519.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

/** RFC 7748 §5 clamping; X25519 clamps internally, so a clamped copy is the same scalar. */
function clamp(k: Uint8Array): Uint8Array {
  const c = Uint8Array.from(k);
  c[0] = c[0]! & 248;
  c[31] = (c[31]! & 127) | 64;
  return c;
}

const clampedKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(clamp);

describe('RFC 7748 §6.1 test vector', () => {
  // The RFC's private keys are not pre-clamped; clamping them does not change X25519's result.
  const alicePriv = bytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPriv = bytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('derives the public keys', () => {
    assert.equal(hex(X25519PrivateKey.fromBytes(clamp(alicePriv)).publicKey), alicePub);
    assert.equal(hex(x25519PublicKeyFromPrivate(clamp(bobPriv))), bobPub);
  });

  it('agrees on the shared secret from both sides', () => {
    const alice = X25519PrivateKey.fromBytes(clamp(alicePriv));
    const bob = X25519PrivateKey.fromBytes(clamp(bobPriv));
    assert.equal(hex(alice.agree(bytes(bobPub))), shared);
    assert.equal(hex(bob.agree(bytes(alicePub))), shared);
  });

  it('rejects the unclamped RFC keys as private-key bytes', () => {
    assert.equal(isClampedX25519PrivateKey(alicePriv), false);
    assert.throws(() => X25519PrivateKey.fromBytes(alicePriv), RangeError);
    assert.throws(() => x25519PublicKeyFromPrivate(bobPriv), RangeError);
  });
});

describe('X25519 agrees with noble', () => {
  it('public keys and shared secrets for random clamped keys', () => {
    fc.assert(
      fc.property(clampedKey, clampedKey, (a, b) => {
        const ka = X25519PrivateKey.fromBytes(a);
        const kb = X25519PrivateKey.fromBytes(b);
        assert.equal(hex(ka.publicKey), hex(x25519.getPublicKey(a)));
        assert.equal(hex(x25519PublicKeyFromPrivate(b)), hex(x25519.getPublicKey(b)));
        assert.equal(x25519PublicKeyProblem(ka.publicKey), undefined);
        const ours = ka.agree(kb.publicKey);
        assert.equal(hex(ours), hex(x25519.getSharedSecret(a, x25519.getPublicKey(b))));
        assert.equal(hex(ours), hex(kb.agree(ka.publicKey)));
      }),
      { numRuns: 60 },
    );
  });

  it('for any canonical peer u-coordinate that is not small-order', () => {
    fc.assert(
      fc.property(clampedKey, fc.uint8Array({ minLength: 32, maxLength: 32 }), (k, peer) => {
        const pk = Uint8Array.from(peer);
        pk[31] = pk[31]! & 0x7f; // canonical (a value ≥ p is astronomically unlikely here)
        fc.pre(x25519PublicKeyProblem(pk) === undefined);
        assert.equal(hex(X25519PrivateKey.fromBytes(k).agree(pk)), hex(x25519.getSharedSecret(k, pk)));
      }),
      { numRuns: 40 },
    );
  });
});

describe('X25519PrivateKey', () => {
  it('generates clamped keys from the rng, deterministically', () => {
    const a = X25519PrivateKey.generate(new DeterministicRng('x25519 test'));
    const b = X25519PrivateKey.generate(new DeterministicRng('x25519 test'));
    const raw = new DeterministicRng('x25519 test').randomBytes(32);
    assert.equal(hex(a.bytes), hex(b.bytes));
    assert.equal(hex(a.bytes), hex(clamp(raw)));
    assert.equal(isClampedX25519PrivateKey(a.bytes), true);
    assert.equal(hex(a.publicKey), hex(x25519.getPublicKey(a.bytes)));
  });

  it('always clamps, whatever the rng returns', () => {
    for (const fill of [0x00, 0xff]) {
      const key = X25519PrivateKey.generate({ randomBytes: (n) => new Uint8Array(n).fill(fill) });
      assert.equal(isClampedX25519PrivateKey(key.bytes), true);
    }
  });

  it('hands out copies of its bytes', () => {
    const key = X25519PrivateKey.generate(new DeterministicRng('copies'));
    const first = key.bytes;
    first.fill(0);
    assert.notEqual(hex(key.bytes), hex(first));
    const pk = key.publicKey;
    pk.fill(0);
    assert.notEqual(hex(key.publicKey), hex(pk));
  });

  it('validates its inputs', () => {
    assert.throws(() => X25519PrivateKey.fromBytes(new Uint8Array(31)), RangeError);
    assert.throws(() => X25519PrivateKey.fromBytes([] as unknown as Uint8Array), TypeError);
    const ok = clamp(new Uint8Array(32));
    for (const [index, bit] of [
      [0, 1],
      [0, 4],
      [31, 0x80],
    ] as const) {
      const bad = Uint8Array.from(ok);
      bad[index] = bad[index]! | bit;
      assert.throws(() => X25519PrivateKey.fromBytes(bad), RangeError);
    }
    const noBit254 = Uint8Array.from(ok);
    noBit254[31] = 0;
    assert.throws(() => X25519PrivateKey.fromBytes(noBit254), RangeError);
    assert.throws(() => X25519PrivateKey.generate({} as never), TypeError);
    assert.throws(() => X25519PrivateKey.generate({ randomBytes: () => new Uint8Array(31) }), TypeError);
    const key = X25519PrivateKey.fromBytes(ok);
    assert.throws(() => key.agree('00' as unknown as Uint8Array), TypeError);
  });
});

describe('public-key validation (PROTOCOL.md §3.1)', () => {
  const smallOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  const nonCanonical = [
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (≡ 0)
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1 (≡ 1)
    'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // 2^255 − 1
    // bit 255 set on each small-order point, and on the base point 9
    ...smallOrder.map((h) => h.slice(0, 62) + (Number.parseInt(h.slice(62), 16) | 0x80).toString(16)),
    '0900000000000000000000000000000000000000000000000000000000000080',
  ];
  const victim = X25519PrivateKey.generate(new DeterministicRng('victim'));

  it('rejects every small-order point', () => {
    for (const h of smallOrder) {
      assert.equal(x25519PublicKeyProblem(bytes(h)), 'small-order point', h);
      assert.throws(() => assertValidX25519PublicKey(bytes(h)), InvalidPublicKeyError);
      assert.throws(
        () => victim.agree(bytes(h)),
        (e: unknown) =>
          e instanceof InvalidPublicKeyError && e instanceof RangeError && !e.message.includes(h),
      );
    }
  });

  it('rejects every non-canonical encoding', () => {
    for (const h of nonCanonical) {
      assert.match(x25519PublicKeyProblem(bytes(h)) ?? '', /non-canonical/, h);
      assert.throws(() => victim.agree(bytes(h)), InvalidPublicKeyError);
    }
  });

  it('accepts p − 20 and other ordinary canonical values', () => {
    assert.equal(
      x25519PublicKeyProblem(bytes('ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')),
      undefined,
    );
    assert.equal(x25519PublicKeyProblem(bytes(`09${'00'.repeat(31)}`)), undefined);
  });

  it('rejects wrong lengths and wrong types', () => {
    assert.match(x25519PublicKeyProblem(new Uint8Array(31)) ?? '', /32 bytes/);
    assert.match(x25519PublicKeyProblem(new Uint8Array(33)) ?? '', /32 bytes/);
    assert.throws(() => victim.agree(new Uint8Array(33)), InvalidPublicKeyError);
    assert.throws(() => x25519PublicKeyProblem('ab' as unknown as Uint8Array), TypeError);
  });
});
