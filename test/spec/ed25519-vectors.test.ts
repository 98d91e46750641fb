// spec/test-vectors/ed25519-verify.json: every case's verdict (a) recomputed from docs/PROTOCOL.md
// §1.3's rule independently — BigInt arithmetic and @noble/curves' points, clause by clause in the
// spec's order — and (b) given by production's ed25519Verify, with libsodium and OpenSSL agreeing on
// every case the byte clauses let through; (c) the generator reproduces the file byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { buildEd25519Vectors, ED25519_VECTOR_FILE } from '../../scripts/gen-ed25519-vectors.ts';
import { VECTOR_DIR } from '../../scripts/gen-test-vectors.ts';
import { ED25519_EQUATIONS, ed25519Verify } from '../../src/secagg/crypto/ed25519.ts';

interface VectorCase {
  readonly name: string;
  readonly publicKey: string;
  readonly message: string;
  readonly signature: string;
  readonly valid: boolean;
  readonly why: string;
}

const text = readFileSync(join(VECTOR_DIR, ED25519_VECTOR_FILE), 'utf8');
const file = JSON.parse(text) as { clauses: Record<string, string>; cases: VectorCase[] };

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const littleEndian = (b: Uint8Array) =>
  BigInt(`0x${Buffer.from(Uint8Array.from(b).reverse()).toString('hex') || '0'}`);
/** y of a point encoding: the low 255 bits. */
const yOf = (encoding: Uint8Array) => littleEndian(encoding) & (2n ** 255n - 1n);

/** Whether y mod p is the y-coordinate of a point of order dividing 8. */
function smallOrderY(encoding: Uint8Array): boolean {
  const y = yOf(encoding) % P;
  const canonical = bytes(y.toString(16).padStart(64, '0')).reverse();
  try {
    const point = ed25519.Point.fromBytes(canonical);
    return point.multiply(8n).equals(ed25519.Point.ZERO) || point.equals(ed25519.Point.ZERO);
  } catch {
    return false; // no x for this y: not a point at all
  }
}

/** The first clause of the rule that rejects, or 'valid' — in PROTOCOL.md §1.3's order. */
function clause(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  if (publicKey.length !== 32 || signature.length !== 64) return 'length';
  const R = signature.subarray(0, 32);
  const S = littleEndian(signature.subarray(32));
  if (S >= L) return 's-not-below-l';
  if (yOf(publicKey) >= P) return 'key-not-canonical';
  if (smallOrderY(publicKey)) return 'key-small-order';
  if (smallOrderY(R)) return 'r-small-order';
  let A: InstanceType<typeof ed25519.Point>;
  try {
    A = ed25519.Point.fromBytes(publicKey);
  } catch {
    return 'key-not-a-point';
  }
  const k = littleEndian(sha512(Uint8Array.from([...R, ...publicKey, ...message]))) % L;
  const sB = S === 0n ? ed25519.Point.ZERO : ed25519.Point.BASE.multiply(S);
  const kA = k === 0n ? ed25519.Point.ZERO : A.multiply(k);
  const encoded = sB.subtract(kA).toBytes();
  return Buffer.from(encoded).equals(Buffer.from(R)) ? 'valid' : 'equation';
}

describe(`spec/test-vectors/${ED25519_VECTOR_FILE}`, () => {
  it('covers every clause of the rule', () => {
    assert.deepEqual(new Set(file.cases.map((c) => c.why)), new Set(Object.keys(file.clauses)));
  });

  for (const c of file.cases) {
    describe(c.name, () => {
      const [publicKey, message, signature] = [c.publicKey, c.message, c.signature].map(bytes) as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];

      it(`(a) the rule, recomputed: ${c.why}`, () => {
        assert.equal(clause(publicKey, message, signature), c.why);
        assert.equal(c.valid, c.why === 'valid');
      });

      it('(b) production verifies it so, and its two implementations agree', () => {
        assert.equal(ed25519Verify(publicKey, message, signature), c.valid);
        if (['valid', 'equation', 'key-not-a-point'].includes(c.why)) {
          const { libsodium, openssl } = ED25519_EQUATIONS;
          assert.equal(openssl(publicKey, message, signature), c.valid, 'OpenSSL');
          if (libsodium) assert.equal(libsodium(publicKey, message, signature), c.valid, 'libsodium');
        }
      });
    });
  }

  it('(c) scripts/gen-ed25519-vectors.ts reproduces the file byte for byte', () => {
    assert.equal(`${JSON.stringify(buildEd25519Vectors(), null, 2)}\n`, text);
  });
});
