/**
 * Generates `spec/test-vectors/ed25519-verify.json`: the Ed25519 verification rule of
 * docs/PROTOCOL.md §1.3 case by case — signatures that RFC 8032 implementations disagree on (small-
 * order and mixed-order keys and R, S ≥ L, non-canonical encodings), each with the verdict the rule
 * gives and the clause that decides it. A client in another language runs its verifier on every case.
 *
 * The signatures that no honest signer makes are built here from known discrete logarithms with
 * @noble/curves' point arithmetic (a development dependency); each verdict is production's
 * `ed25519Verify`, and the generator refuses to write a file where libsodium and OpenSSL disagree on a
 * case the byte rules let through. test/spec/ed25519-vectors.test.ts recomputes every verdict
 * independently.
 *
 * Usage: `node --import tsx scripts/gen-ed25519-vectors.ts` (also run by `npm run gen:vectors`).
 * @module
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { ED25519_EQUATIONS, Ed25519Signer, ed25519Verify } from '../src/secagg/crypto/ed25519.ts';
import { concatBytes } from '../src/secagg/encoding.ts';
import { type Json, VECTOR_DIR } from './gen-test-vectors.ts';

/** The file this generator writes, under spec/test-vectors/. */
export const ED25519_VECTOR_FILE = 'ed25519-verify.json';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
const scalarBytes = (n: bigint) => fromHex(n.toString(16).padStart(64, '0')).reverse();
const scalarOf = (bytes: Uint8Array) => BigInt(`0x${hex(Uint8Array.from(bytes).reverse())}`);
/** k = SHA-512(R ‖ A ‖ M) mod L (RFC 8032 §5.1.7). */
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => scalarOf(sha512(concatBytes(R, A, M))) % L;

/** The identity (y = 1), and a point of order 8 (both as RFC 8032 encodes points). */
const IDENTITY = scalarBytes(1n);
const ORDER_8 = Point.fromBytes(fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'));
/** The identity encoded non-canonically, y = p + 1. */
const IDENTITY_Y_P_PLUS_1 = fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');

interface Case {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  /** The clause of the rule that decides it. */
  readonly why: string;
}

/** A cofactorless signature by the secret scalar `a` for the public point `A` (possibly not a·B), nonce r. */
function signWith(
  a: bigint,
  A: Uint8Array,
  message: Uint8Array,
  r: bigint,
  R = Point.BASE.multiply(r),
): Uint8Array {
  const Rb = R.toBytes();
  return concatBytes(Rb, scalarBytes((r + challenge(Rb, A, message) * a) % L));
}

/** The first message `label ‖ i` whose challenge k under (R, A) has `k ≡ 0 (mod 8)` iff `divisible`. */
function messageWithChallenge(label: string, R: Uint8Array, A: Uint8Array, divisible: boolean): Uint8Array {
  for (let i = 0; ; i++) {
    const message = new TextEncoder().encode(`${label} ${i}`);
    if ((challenge(R, A, message) % 8n === 0n) === divisible) return message;
  }
}

function cases(): Case[] {
  const text = (s: string) => new TextEncoder().encode(s);
  // RFC 8032 §7.1 TEST 1 and TEST 2.
  const test1 = Ed25519Signer.fromSeed(
    fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  );
  const test1Sig = test1.sign(new Uint8Array(0));
  const test2 = Ed25519Signer.fromSeed(
    fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
  );
  const test2Sig = test2.sign(Uint8Array.of(0x72));
  const sPlusL = Uint8Array.from(test1Sig);
  sPlusL.set(scalarBytes(scalarOf(test1Sig.subarray(32)) + L), 32);

  const a = 0x1234_5678_9abc_def0n;
  const honestA = Point.BASE.multiply(a).toBytes();
  const mixedA = Point.BASE.multiply(a).add(ORDER_8).toBytes();
  const r = 0x0fed_cba9_8765_4321n;
  const Rb = Point.BASE.multiply(r).toBytes();
  const mixedMessagePasses = messageWithChallenge('mixed-order key', Rb, mixedA, true);
  const mixedMessageFails = messageWithChallenge('mixed-order key', Rb, mixedA, false);
  const identityR = text('R is the identity');
  const zeroS = text('S = 0 with a small-order key');

  return [
    {
      name: 'rfc8032-test1',
      publicKey: test1.publicKey,
      message: new Uint8Array(0),
      signature: test1Sig,
      why: 'valid',
    },
    {
      name: 'rfc8032-test2',
      publicKey: test2.publicKey,
      message: Uint8Array.of(0x72),
      signature: test2Sig,
      why: 'valid',
    },
    {
      name: 'rfc8032-test1-other-message',
      publicKey: test1.publicKey,
      message: Uint8Array.of(0),
      signature: test1Sig,
      why: 'equation',
    },
    {
      name: 's-plus-l',
      publicKey: test1.publicKey,
      message: new Uint8Array(0),
      signature: sPlusL,
      why: 's-not-below-l',
    },
    {
      name: 'key-identity-r-identity-s-zero',
      publicKey: IDENTITY,
      message: zeroS,
      signature: concatBytes(IDENTITY, scalarBytes(0n)),
      why: 'key-small-order',
    },
    {
      name: 'key-identity-noncanonical-r-identity-s-zero',
      publicKey: IDENTITY_Y_P_PLUS_1,
      message: zeroS,
      signature: concatBytes(IDENTITY, scalarBytes(0n)),
      why: 'key-not-canonical',
    },
    {
      name: 'key-order-8-r-identity-s-zero',
      publicKey: ORDER_8.toBytes(),
      message: messageWithChallenge('order-8 key', IDENTITY, ORDER_8.toBytes(), true),
      signature: concatBytes(IDENTITY, scalarBytes(0n)),
      why: 'key-small-order',
    },
    {
      name: 'r-identity',
      publicKey: honestA,
      message: identityR,
      signature: concatBytes(IDENTITY, scalarBytes((challenge(IDENTITY, honestA, identityR) * a) % L)),
      why: 'r-small-order',
    },
    {
      name: 'mixed-order-key-challenge-divisible-by-8',
      publicKey: mixedA,
      message: mixedMessagePasses,
      signature: signWith(a, mixedA, mixedMessagePasses, r),
      why: 'valid',
    },
    {
      name: 'mixed-order-key-challenge-not-divisible-by-8',
      publicKey: mixedA,
      message: mixedMessageFails,
      signature: signWith(a, mixedA, mixedMessageFails, r),
      why: 'equation',
    },
    {
      name: 'mixed-order-r',
      publicKey: honestA,
      message: text('R has a small-order component'),
      signature: signWith(
        a,
        honestA,
        text('R has a small-order component'),
        r,
        Point.BASE.multiply(r).add(ORDER_8),
      ),
      why: 'equation',
    },
    {
      name: 'key-not-a-point',
      publicKey: scalarBytes(2n),
      message: new Uint8Array(0),
      signature: test1Sig,
      why: 'key-not-a-point',
    },
    {
      name: 'signature-63-bytes',
      publicKey: test1.publicKey,
      message: new Uint8Array(0),
      signature: test1Sig.subarray(0, 63),
      why: 'length',
    },
  ];
}

/** What each `why` means, as the file states it. */
const CLAUSES: Record<string, string> = {
  valid: 'every check passes',
  equation: 'the encoding of [S]B − [k]A is not R (the cofactorless equation fails)',
  's-not-below-l': 'S ≥ L',
  'key-small-order': 'A (sign bit ignored) is one of the small-order encodings',
  'key-not-canonical': "A's y (sign bit ignored) is ≥ p",
  'r-small-order': 'R (sign bit ignored) is one of the small-order encodings',
  'key-not-a-point': 'A does not decode to a point',
  length: 'the key is not 32 bytes or the signature not 64',
};

/** The vector file, as a JSON document. */
export function buildEd25519Vectors(): Json {
  const list = cases().map((c) => {
    const valid = ed25519Verify(c.publicKey, c.message, c.signature);
    assert.equal(valid, c.why === 'valid', `${c.name}: production says ${valid}, the case is '${c.why}'`);
    const { libsodium, openssl } = ED25519_EQUATIONS;
    if (libsodium && c.why === 'valid') {
      assert.equal(libsodium(c.publicKey, c.message, c.signature), true, `${c.name}: libsodium`);
      assert.equal(openssl(c.publicKey, c.message, c.signature), true, `${c.name}: OpenSSL`);
    }
    return {
      name: c.name,
      publicKey: hex(c.publicKey),
      message: hex(c.message),
      signature: hex(c.signature),
      valid,
      why: c.why,
    };
  });
  return {
    description:
      'privagg Ed25519 verification rule (docs/PROTOCOL.md §1.3): each case with the verdict the rule gives and the clause that decides it. Generated by scripts/gen-ed25519-vectors.ts; do not edit.',
    spec: 'docs/PROTOCOL.md',
    conventions: {
      bytes: 'lowercase hex, no prefix; points and scalars as RFC 8032 encodes them (little-endian)',
    },
    clauses: CLAUSES,
    cases: list,
  };
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const path = join(VECTOR_DIR, ED25519_VECTOR_FILE);
  writeFileSync(path, `${JSON.stringify(buildEd25519Vectors(), null, 2)}\n`);
  console.log(`wrote ${path}`);
}
