/**
 * The roster (src/identity/roster.ts): strict parsing with one line per problem, and the check a
 * client makes of an announced cohort against it. The identity key file (src/identity/keyfile.ts):
 * PKCS#8 PEM, mode 0600, never overwritten, refused when other users can read it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { generateIdentity, KeyFileError, readKeyFile, writeKeyFile } from '../../src/identity/keyfile.ts';
import { decodeIdentityKey, parseRoster, RosterError } from '../../src/identity/roster.ts';
import { ed25519Verify } from '../../src/secagg/crypto/ed25519.ts';

const keyOf = (seedByte: number): Uint8Array => ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const ALICE = b64(keyOf(1));
const BOB = b64(keyOf(2));
const SOURCE = '--roster r.json';

const rosterError = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RosterError, `expected a RosterError, got ${String(error)}`);
  assert.match(error.message, pattern);
  assert.ok(!error.message.includes('\n'), 'one line');
  return true;
};

describe('parseRoster', () => {
  it('reads names and keys in file order', () => {
    const roster = parseRoster(JSON.stringify({ alice: ALICE, bob: BOB, 'zoë ✓': b64(keyOf(3)) }), SOURCE);
    assert.equal(roster.size, 3);
    assert.deepEqual(roster.names, ['alice', 'bob', 'zoë ✓']);
    assert.deepEqual(roster.keyOf('bob'), keyOf(2));
    assert.equal(roster.keyOf('carol'), undefined);
    const copy = roster.keyOf('alice')!;
    copy.fill(0);
    assert.deepEqual(roster.keyOf('alice'), keyOf(1), 'keyOf gives a copy');
    assert.deepEqual([...roster.toMap().keys()], ['alice', 'bob', 'zoë ✓']);
  });

  it('refuses, in one line naming the entry, everything but a clean object of ≥ 2 good keys', () => {
    const small = b64(ed25519.Point.ZERO.toBytes()); // the identity point: order 1
    // A point of order 8 (noble's list of the torsion subgroup).
    const torsion = b64(Uint8Array.from(Buffer.from(ED25519_TORSION_SUBGROUP[1]!, 'hex')));
    const notPoint = b64(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x7f : 0xff))); // y = 2^255 − 1 ≥ p
    const cases: [string, RegExp][] = [
      ['{"alice": ', /is not valid JSON/],
      ['[1, 2]', /must hold a JSON object mapping client names/],
      ['"alice"', /must hold a JSON object/],
      [`{"alice": "${ALICE}"}`, /at least 2 clients.*got 1/],
      [`{"alice": "${ALICE}", "bob": "${BOB}", "alice": "${b64(keyOf(3))}"}`, /names 'alice' twice/],
      [`{"alice": "${ALICE}", "bob": "${ALICE}"}`, /'bob' has the same key as 'alice'/],
      [`{"alice": "${ALICE}", "": "${BOB}"}`, /the name '' must be 1\.\.255 UTF-8 bytes, got 0/],
      [`{"alice": "${ALICE}", "${'x'.repeat(256)}": "${BOB}"}`, /must be 1\.\.255 UTF-8 bytes, got 256/],
      [
        `{"alice": "${ALICE}", "bob": 5}`,
        /the key of 'bob' must be the base64 of a 32-byte Ed25519 public key.*got a number/,
      ],
      [`{"alice": "${ALICE}", "bob": "${BOB.slice(0, -1)}"}`, /the key of 'bob' must be the base64/],
      [`{"alice": "${ALICE}", "bob": "${Buffer.from(keyOf(2)).toString('hex')}"}`, /must be the base64/],
      [`{"alice": "${ALICE}", "bob": "${notPoint}"}`, /the key of 'bob' is not an Ed25519 public key/],
      [`{"alice": "${ALICE}", "bob": "${small}"}`, /small-order point: anyone could sign as it/],
      [`{"alice": "${ALICE}", "bob": "${torsion}"}`, /small-order point/],
      [`{"alice": "${ALICE}", "bob\\u001b[2J": "${notPoint}"}`, /'bob\\u001b\[2J'/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(() => parseRoster(text, SOURCE), rosterError(pattern), `${text} → ${pattern}`);
    }
  });

  it('takes base64 in its one canonical spelling only', () => {
    // The last character of 32 bytes' base64 carries 4 bits of data and 2 spare bits: 'Q' and 'R'
    // can decode alike, and only the encoder's own spelling is accepted.
    const key = keyOf(4);
    const text = b64(key);
    assert.deepEqual(decodeIdentityKey(text, 'k'), key);
    const last = text[42]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    assert.throws(
      () => decodeIdentityKey(`${text.slice(0, 42)}${sibling}=`, 'k'),
      rosterError(/not canonical base64/),
    );
  });
});

describe('Roster.cohortProblem: what a client checks before taking part', () => {
  const roster = parseRoster(JSON.stringify({ alice: ALICE, bob: BOB, carol: b64(keyOf(3)) }), SOURCE);
  it('accepts a cohort of enrolled names with their keys, in any subset', () => {
    assert.equal(
      roster.cohortProblem([
        { id: 1, name: 'alice', identityKey: keyOf(1) },
        { id: 2, name: 'carol', identityKey: keyOf(3) },
      ]),
      undefined,
    );
  });

  it('names the first member at fault: not enrolled, or another key than the roster’s', () => {
    assert.equal(
      roster.cohortProblem([
        { id: 1, name: 'alice', identityKey: keyOf(1) },
        { id: 2, name: 'mallory', identityKey: keyOf(9) },
      ]),
      "cohort member 'mallory' (client 2) is not in the roster",
    );
    assert.equal(
      roster.cohortProblem([{ id: 7, name: 'bob', identityKey: keyOf(9) }]),
      "the identity key announced for 'bob' (client 7) is not the roster's",
    );
    assert.equal(
      roster.cohortProblem([{ id: 3, name: 'bob\n', identityKey: keyOf(2) }]),
      "cohort member 'bob\\n' (client 3) is not in the roster",
      'a name from the coordinator is escaped',
    );
  });
});

describe('identity key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'privagg-identity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round trip: PKCS#8 PEM with mode 0600, the signer signs under the generated public key', () => {
    const identity = generateIdentity();
    const path = join(dir, 'alice.key');
    writeKeyFile(path, identity.pem, path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(
      readFileSync(path, 'utf8'),
      /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=]+\n-----END PRIVATE KEY-----\n$/,
    );
    const signer = readKeyFile(path, path);
    assert.deepEqual(signer.publicKey, identity.publicKey);
    const message = Uint8Array.of(1, 2, 3);
    assert.ok(ed25519Verify(identity.publicKey, message, signer.sign(message)));
    assert.ok(ed25519.verify(signer.sign(message), message, identity.publicKey), 'noble agrees');
  });

  it('never overwrites an existing file', () => {
    const path = join(dir, 'taken.key');
    writeFileSync(path, 'precious');
    assert.throws(
      () => writeKeyFile(path, generateIdentity().pem, '--out taken.key'),
      (e: unknown) =>
        e instanceof KeyFileError && e.message === '--out taken.key already exists: refusing to overwrite it',
    );
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });

  it('refuses a key file others can read, a missing one, and anything but an Ed25519 private key', () => {
    const path = join(dir, 'open.key');
    writeKeyFile(path, generateIdentity().pem, path);
    chmodSync(path, 0o644);
    assert.throws(
      () => readKeyFile(path, 'K'),
      /^KeyFileError: K is accessible by other users \(mode 0644\).*chmod 600/,
    );
    assert.throws(() => readKeyFile(join(dir, 'absent.key'), 'K'), /^KeyFileError: cannot read K: ENOENT$/);
    const garbage = join(dir, 'garbage.key');
    writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    assert.throws(
      () => readKeyFile(garbage, 'K'),
      /^KeyFileError: K is not an Ed25519 private key in PKCS#8 PEM/,
    );
    const x25519 = join(dir, 'x25519.key');
    // An X25519 key in PKCS#8 (OID 1.3.101.110): a curve key, but not a signing one.
    const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.alloc(32, 5)]);
    writeFileSync(
      x25519,
      `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`,
      {
        mode: 0o600,
      },
    );
    assert.throws(() => readKeyFile(x25519, 'K'), /^KeyFileError: K holds a x25519 key, not an Ed25519 one$/);
  });
});
