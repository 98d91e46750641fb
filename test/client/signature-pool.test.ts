// The SDK's signature pool: worker threads that verify a client's Ed25519 checks ahead of the step.
// Its answers equal ed25519Verify's, batch by batch and in order; every failure (a thread that
// exits, a module that does not load, close()) answers "not verified" — never "valid" — and the pool
// then verifies on the spot, so what a client decides never depends on the threads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { packChecks, unpackChecks } from '../../src/client/signature-batch.ts';
import { CHUNK_CHECKS, SignaturePool } from '../../src/client/signature-pool.ts';
import {
  Ed25519Signer,
  ed25519Verify,
  type SignatureCheck,
  VerifiedSignatures,
} from '../../src/secagg/crypto/ed25519.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { standInWorkers } from '../fixtures/stand-in-workers.ts';

const pools: SignaturePool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function pool(options: ConstructorParameters<typeof SignaturePool>[0] = {}): SignaturePool {
  const p = new SignaturePool(options);
  pools.push(p);
  return p;
}

const workerModule = standInWorkers('privagg-signature-pool-');
const EXITS_ON_FIRST_BATCH = workerModule(
  'exits.mjs',
  `import { parentPort } from 'node:worker_threads';
parentPort.on('message', () => process.exit(7));`,
);
const THROWS_ON_LOAD = workerModule('throws.mjs', `throw new Error('broken worker module');`);

const text = (s: string) => new TextEncoder().encode(s);
const truth = (checks: readonly SignatureCheck[]) =>
  checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));

/** `count` checks by 10 signers: every fifth forged, every seventh re-targeted at another message. */
function mixedChecks(count: number): SignatureCheck[] {
  const signers = Array.from({ length: 10 }, (_, i) =>
    Ed25519Signer.generate(new DeterministicRng(`pool/${i}`)),
  );
  return Array.from({ length: count }, (_, i) => {
    const signer = signers[i % signers.length]!;
    const message = text(`advertisement ${i}`);
    const signature = signer.sign(message);
    if (i % 5 === 4) signature[9]! ^= 0x40;
    return { publicKey: signer.publicKey, message: i % 7 === 6 ? text('another') : message, signature };
  });
}

describe('packed signature batches', () => {
  it('round-trip every check byte for byte, including an empty message', () => {
    const checks = [...mixedChecks(5), { ...mixedChecks(1)[0]!, message: new Uint8Array(0) }];
    const unpacked = unpackChecks(packChecks(checks));
    assert.deepEqual(
      unpacked.map((c) => [c.publicKey, c.message, c.signature].map((b) => Buffer.from(b).toString('hex'))),
      checks.map((c) => [c.publicKey, c.message, c.signature].map((b) => Buffer.from(b).toString('hex'))),
    );
  });

  it('refuse a key or signature of the wrong length, and a truncated buffer', () => {
    const [check] = mixedChecks(1);
    assert.throws(() => packChecks([{ ...check!, signature: check!.signature.subarray(0, 63) }]), RangeError);
    assert.throws(() => packChecks([{ ...check!, publicKey: new Uint8Array(33) }]), RangeError);
    const packed = packChecks(mixedChecks(2));
    assert.throws(() => unpackChecks(packed.slice(0, packed.byteLength - 1)), /ends inside a message/);
    assert.throws(() => unpackChecks(packed.slice(0, 50)), /ends inside a check/);
  });
});

describe('SignaturePool', () => {
  it('answers as ed25519Verify does, in order, over several threads and chunks', async () => {
    const p = pool({ size: 2 });
    const checks = mixedChecks(3 * CHUNK_CHECKS + 5);
    const answers = await p.verify(checks);
    assert.deepEqual(answers, truth(checks));
    assert.ok(answers.includes(true) && answers.includes(false));
    assert.equal(p.threads, 2);
    assert.equal(p.disabled, false);
  });

  it('serves many batches at once, each with its own answers', async () => {
    const p = pool({ size: 2 });
    const batches = [mixedChecks(40), mixedChecks(9).reverse(), mixedChecks(70)];
    const answers = await Promise.all(batches.map((b) => p.verify(b)));
    assert.deepEqual(answers, batches.map(truth));
  });

  it('verifies a small batch on the spot, without starting a thread', async () => {
    const p = pool({ size: 2 });
    const checks = mixedChecks(5);
    assert.deepEqual(await p.verify(checks), truth(checks));
    assert.equal(p.threads, 0);
  });

  it('answers a check of the wrong length "invalid", and the rest of its batch truly', async () => {
    const p = pool({ size: 1 });
    const checks = mixedChecks(20);
    checks[3] = { ...checks[3]!, signature: checks[3]!.signature.subarray(0, 63) };
    assert.deepEqual(await p.verify(checks), truth(checks));
  });

  it('starts its threads ahead with warm(), up to its size', async () => {
    const p = pool({ size: 2 });
    p.warm();
    assert.equal(p.threads, 2);
    p.warm();
    assert.equal(p.threads, 2);
    const checks = mixedChecks(30);
    assert.deepEqual(await p.verify(checks), truth(checks));
  });

  for (const [what, workerUrl] of [
    ['a thread that exits', EXITS_ON_FIRST_BATCH],
    ['a worker module that does not load', THROWS_ON_LOAD],
  ] as const) {
    it(`answers "not verified" when ${what}, then verifies on the spot`, async () => {
      const p = pool({ size: 2, workerUrl });
      const checks = mixedChecks(40);
      const answers = await p.verify(checks);
      assert.equal(answers.length, checks.length);
      assert.ok(answers.every((a) => a === false));
      assert.equal(p.disabled, true);
      assert.deepEqual(await p.verify(checks), truth(checks));
      // What the step decides is the truth either way.
      const verified = await VerifiedSignatures.verifyAll(checks, p.verify);
      assert.deepEqual(
        checks.map((c) => verified.verify(c.publicKey, c.message, c.signature)),
        truth(checks),
      );
    });
  }

  it('answers batches in flight "not verified" on close(), and verifies on the spot after', async () => {
    const p = pool({ size: 1 });
    const checks = mixedChecks(4 * CHUNK_CHECKS);
    const inFlight = p.verify(checks);
    await p.close();
    const answers = await inFlight;
    assert.equal(answers.length, checks.length);
    // Chunks answered before close() are true answers; the rest are "not verified".
    const expected = truth(checks);
    answers.forEach((a, i) => {
      assert.ok(a === false || a === expected[i]);
    });
    assert.deepEqual(await p.verify(checks), expected);
    assert.equal(p.threads, 0);
  });

  it('never keeps a process alive: one that warmed a pool exits', () => {
    const poolModule = new URL('../../src/client/signature-pool.ts', import.meta.url).href;
    const script = `
      const { SignaturePool } = await import(${JSON.stringify(poolModule)});
      const pool = new SignaturePool({ size: 2 });
      pool.warm();
      console.log(pool.threads);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.signal, null, 'the process had to be killed: a thread kept it alive');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), '2');
  });

  it('validates its size', () => {
    assert.throws(() => new SignaturePool({ size: 0 }), RangeError);
    assert.throws(() => new SignaturePool({ size: 1.5 }), RangeError);
  });
});
