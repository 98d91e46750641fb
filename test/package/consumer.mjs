// Runs inside a folder where the packed privagg is installed like a user would install it (see
// scripts/test-package.mjs): plain JavaScript, no TypeScript loader, no development dependencies.
// One secure aggregation round through the public exports (`privagg/server`, `privagg/client`), an
// ε from `privagg/dp` and a privacy ledger (the native better-sqlite3 module), an unmask run on the
// worker pool, and the other entry points import. Prints `consumer: ok` and exits 0, or throws.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as root from 'privagg';
import { credentials, Participant } from 'privagg/client';
import { PrivacyLedger, RdpAccountant } from 'privagg/dp';
import { runUnmaskPlan, SecAggServer, unmaskPlan } from 'privagg/secagg';
import {
  Coordinator,
  createLogger,
  participateService,
  Server,
  ServerCredentials,
  UnmaskPool,
} from 'privagg/server';

const DIM = 100;
const CLIENTS = 3;
const coordinator = new Coordinator(
  {
    cohortSize: CLIENTS,
    minClients: CLIENTS,
    threshold: 2,
    serverModel: 'semi-honest',
    maxCorruptClients: 0,
    vectors: [{ name: 'v', length: DIM, bits: 32 }],
    rounds: 1,
    checkInMs: 10_000,
    timeouts: { advertise: 10_000, share: 10_000, masked: 10_000, unmask: 10_000 },
    maxConcurrentUploads: 2,
    maxFramesPerStage: 64,
  },
  { logger: createLogger('silent'), authenticate: () => ({ ok: true, name: undefined }) },
);
const server = new Server();
server.addService(participateService, { participate: coordinator.handleParticipate });
const port = await new Promise((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
const running = coordinator.run();
const inputs = Array.from({ length: CLIENTS }, (_, i) =>
  Uint32Array.from({ length: DIM }, (_, j) => i * 1000 + j),
);
const participants = inputs.map(
  (_, i) =>
    new Participant({
      address: `127.0.0.1:${port}`,
      credentials: credentials.createInsecure(),
      name: `c${i}`,
    }),
);
await Promise.all(participants.map((p, i) => p.participate(() => [inputs[i]])));
for (const p of participants) p.close();
await running;
const outcomes = [];
for await (const o of coordinator.outcomes()) outcomes.push(o);
server.forceShutdown();
assert.equal(outcomes.length, 1);
const [outcome] = outcomes;
assert.equal(outcome.status, 'ok', JSON.stringify(outcome));
const expected = Array.from({ length: DIM }, (_, j) => inputs.reduce((s, x) => s + x[j], 0));
assert.deepEqual([...outcome.sums[0]], expected);

// privagg/dp: the README's main job spends ε ≈ 7.92 in 15 rounds at σ = 2.49, δ = 1e-5.
const { epsilon } = new RdpAccountant().compose({ q: 1, sigma: 2.49 }, 15).epsilon(1e-5);
assert.ok(Math.abs(epsilon - 7.92) < 0.01, `epsilon ${epsilon}`);
const dir = mkdtempSync(join(tmpdir(), 'privagg-consumer-'));
try {
  const ledger = PrivacyLedger.open(join(dir, 'ledger.db'), { delta: 1e-5, targetEpsilon: 8 });
  assert.equal(ledger.spent().rounds, 0);
  ledger.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The unmask workers start from the compiled worker module (no TypeScript loader is installed here)
// and agree with the inline expansion.
const seed = (b) => new Uint8Array(32).fill(b);
const plan = unmaskPlan(
  seed(7),
  [{ name: 'v', length: 1000, bits: 32 }],
  [
    { kind: 'self', client: 1, seed: seed(1), sign: -1 },
    { kind: 'pair', seed: seed(2), sign: 1 },
  ],
);
const pool = new UnmaskPool({ size: 2 });
try {
  const pooled = await pool.run(plan);
  assert.deepEqual(pooled, runUnmaskPlan(plan));
} finally {
  await pool.close();
}

// The other entry points load and export what they say.
assert.equal(typeof SecAggServer, 'function');
assert.equal(root.Participant, Participant);
assert.equal(root.Coordinator, Coordinator);
console.log('consumer: ok');
