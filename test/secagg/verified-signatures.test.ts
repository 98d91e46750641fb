// Signatures verified ahead, by a batch verifier (VerifiedSignatures), and what the client
// core makes of them: it lists exactly the checks it will make, and its decision never depends on
// what was verified ahead — a forged signature is refused whatever set it is handed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecAggClient } from '../../src/secagg/client.ts';
import {
  Ed25519Signer,
  ed25519Verify,
  type SignatureCheck,
  VerifiedSignatures,
} from '../../src/secagg/crypto/ed25519.ts';
import { Refusal } from '../../src/secagg/errors.ts';
import type { PeerKeysMessage } from '../../src/secagg/messages.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { makeInputs, makeParams } from './harness.ts';

const text = (s: string) => new TextEncoder().encode(s);

function signed(label: string, message: string): SignatureCheck {
  const signer = Ed25519Signer.generate(new DeterministicRng(label));
  const bytes = text(message);
  return { publicKey: signer.publicKey, message: bytes, signature: signer.sign(bytes) };
}

function forged(check: SignatureCheck): SignatureCheck {
  const signature = check.signature.slice();
  signature[7]! ^= 0x20;
  return { ...check, signature };
}

describe('VerifiedSignatures', () => {
  it('holds what it found valid, and verifies anything else on the spot', async () => {
    const a = signed('a', 'keys of client 1');
    const b = signed('b', 'keys of client 2');
    const verified = await VerifiedSignatures.verifyAll([a, forged(b)]);
    assert.equal(verified.size, 1);
    assert.equal(verified.verify(a.publicKey, a.message, a.signature), true);
    // Not found valid ahead: verified again, and the answer is the truth either way.
    assert.equal(verified.verify(b.publicKey, b.message, b.signature), true);
    const f = forged(b);
    assert.equal(verified.verify(f.publicKey, f.message, f.signature), false);
  });

  it('takes the answers of the batch verifier it is given, and none from one that answers the wrong number', async () => {
    const a = signed('a', 'keys of client 1');
    const b = signed('b', 'keys of client 2');
    const calls: number[] = [];
    const counting = async (checks: readonly SignatureCheck[]) => {
      calls.push(checks.length);
      return checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));
    };
    assert.equal((await VerifiedSignatures.verifyAll([a, b, forged(a)], counting)).size, 2);
    assert.deepEqual(calls, [3]);
    const short = await VerifiedSignatures.verifyAll([a, b], async () => [true]);
    assert.equal(short.size, 0);
    // Nothing found valid ahead: the answers are still the truth, verified on the spot.
    assert.equal(short.verify(a.publicKey, a.message, a.signature), true);
    assert.equal(short.verify(a.publicKey, a.message, forged(a).signature), false);
  });

  it('answers for a known signature only with the key and bytes it was verified with', async () => {
    const a = signed('a', 'keys of client 1');
    const verified = await VerifiedSignatures.verifyAll([a]);
    assert.equal(verified.verify(a.publicKey, text('keys of client 9'), a.signature), false);
    assert.equal(verified.verify(signed('c', 'x').publicKey, a.message, a.signature), false);
  });
});

describe('the client core with signatures verified ahead', () => {
  // Six clients of a malicious round; the victim is client 1, handed everyone's advertisement.
  const params = makeParams({ n: 6, serverModel: 'malicious', threshold: 4 });
  const inputs = makeInputs(params);

  function setUp() {
    const signers = new Map(
      params.clients.map((id) => [id, Ed25519Signer.generate(new DeterministicRng(`identity/${id}`))]),
    );
    const peerIdentities = new Map([...signers].map(([id, s]) => [id, s.publicKey]));
    const clients = params.clients.map(
      (id) =>
        new SecAggClient({
          id,
          params,
          input: inputs.get(id)!,
          rng: new DeterministicRng(`client/${id}`),
          identity: signers.get(id)!,
          peerIdentities,
        }),
    );
    const peerKeys: PeerKeysMessage = {
      type: 'peer-keys',
      peers: clients.map((c) => {
        const { type: _, ...keys } = c.start();
        return { id: c.id, ...keys };
      }),
    };
    return { victim: clients[0]!, peerKeys };
  }

  it("lists the n − 1 neighbours' advertisement signatures, and none in another state", () => {
    const { victim, peerKeys } = setUp();
    const checks = victim.signatureChecks(peerKeys);
    assert.equal(checks.length, params.clients.length - 1);
    for (const check of checks)
      assert.equal(ed25519Verify(check.publicKey, check.message, check.signature), true);
    assert.deepEqual(victim.signatureChecks({ type: 'share-delivery', ciphertexts: [] }), []);
  });

  it('accepts the peer keys with the checks done ahead', async () => {
    const { victim, peerKeys } = setUp();
    const verified = await VerifiedSignatures.verifyAll(victim.signatureChecks(peerKeys));
    assert.equal(verified.size, params.clients.length - 1);
    const reply = victim.handle(peerKeys, verified);
    assert.equal(reply?.type, 'shares');
  });

  it('refuses a forged advertisement signature, whatever was verified ahead', async () => {
    const { victim, peerKeys } = setUp();
    // What was verified ahead is the honest list; the list handed to the step has one signature forged.
    const verified = await VerifiedSignatures.verifyAll(victim.signatureChecks(peerKeys));
    const target = 4 as ClientId;
    const tampered: PeerKeysMessage = {
      ...peerKeys,
      peers: peerKeys.peers.map((p) => {
        if (p.id !== target) return p;
        const signature = p.signature!.slice();
        signature[3]! ^= 1;
        return { ...p, signature };
      }),
    };
    assert.throws(
      () => victim.handle(tampered, verified),
      (error) => error instanceof Refusal && error.code === 'bad-signature' && /client 4/.test(error.message),
    );
  });
});
