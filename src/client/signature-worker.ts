/**
 * One thread of the {@link SignaturePool} (signature-pool.ts): verifies each packed batch it is sent
 * with `ed25519Verify` and answers with one byte per check (1: valid), transferred. A batch it cannot
 * read is answered with all zeros (not verified: the client then verifies those checks itself).
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { ed25519Verify } from '../secagg/crypto/ed25519.ts';
import { unpackChecks } from './signature-batch.ts';
import type { FromSignatureWorker, ToSignatureWorker } from './signature-pool.ts';

const port = parentPort;
if (!port) throw new Error('signature-worker.ts runs only as a worker thread (see signature-pool.ts)');

port.on('message', ({ id, batch, count }: ToSignatureWorker) => {
  const valid = new Uint8Array(count);
  try {
    const checks = unpackChecks(batch);
    if (checks.length === count) {
      checks.forEach(({ publicKey, message, signature }, i) => {
        valid[i] = ed25519Verify(publicKey, message, signature) ? 1 : 0;
      });
    }
  } catch {
    valid.fill(0);
  }
  const reply: FromSignatureWorker = { id, valid };
  port.postMessage(reply, [valid.buffer]);
});
