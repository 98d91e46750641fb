/**
 * The coordinator accounts every round in the durable privacy ledger: it refuses the round that would
 * exceed the budget (and says so), and a restarted coordinator resumes from the ledger.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Participant, TransportError } from '../../src/client/sdk.ts';
import type { GaussianCentral } from '../../src/dp/budget.ts';
import { PrivacyLedger } from '../../src/dp/ledger.ts';
import { Coordinator, type RoundOutcome } from '../../src/server/coordinator.ts';
import { participateService } from '../../src/wire/service.ts';

const DELTA = 1e-5;
const MECHANISM: GaussianCentral = { kind: 'gaussian-central', sigma: 4, sensitivity: 1 };
const dir = mkdtempSync(join(tmpdir(), 'privagg-budget-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** ε after `rounds` rounds of MECHANISM, from a scratch ledger with an unlimited budget. */
function epsilonAfter(rounds: number): number {
  const scratch = PrivacyLedger.open(join(dir, `scratch-${rounds}.db`), { delta: DELTA, targetEpsilon: 1e9 });
  for (let r = 1; r <= rounds; r++) scratch.reserve(r, MECHANISM);
  const { epsilon } = scratch.spent();
  scratch.close();
  return epsilon;
}

async function runCoordinator(ledgerPath: string, target: number, rounds: number, clients: number) {
  const ledger = PrivacyLedger.open(ledgerPath, { delta: DELTA, targetEpsilon: target });
  const coordinator = new Coordinator(
    {
      cohortSize: 3,
      minClients: 3,
      threshold: 2,
      serverModel: 'semi-honest',
      maxCorruptClients: 0,
      vectors: [{ name: 'v', length: 16, bits: 32 }],
      rounds,
      checkInMs: 5_000,
      timeouts: { advertise: 5_000, share: 5_000, masked: 5_000, unmask: 5_000 },
      maxConcurrentUploads: 2,
      maxFramesPerStage: 64,
    },
    {
      logger: pino({ level: 'silent' }),
      authenticate: () => ({ ok: true, name: undefined }),
      privacy: { ledger, mechanism: () => MECHANISM },
    },
  );
  const server = new Server();
  servers.push(server);
  server.addService(participateService, { participate: coordinator.handleParticipate });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const running = coordinator.run();
  const results: (string | Error)[] = [];
  const participants = Array.from({ length: clients }, (_, i) => {
    const p = new Participant({
      address: `127.0.0.1:${port}`,
      credentials: credentials.createInsecure(),
      name: `c${i}`,
    });
    return p
      .participateRounds(
        rounds,
        () => [new Uint32Array(16).fill(i + 1)],
        (outcome) => results.push(outcome instanceof Error ? outcome : `round ${outcome.round}`),
        { initialMs: 50, maxMs: 100, maxAttempts: 2, midRound: 'report' },
      )
      .catch((error: Error) => results.push(error))
      .finally(() => p.close());
  });
  await running;
  await Promise.all(participants);
  const outcomes: RoundOutcome[] = [];
  for await (const o of coordinator.outcomes()) outcomes.push(o);
  const spent = ledger.spent();
  ledger.close();
  server.forceShutdown();
  return { outcomes, coordinator, results, spent };
}

describe('privacy budget', () => {
  it('stops before the round that would exceed it, and a restart resumes from the ledger', async () => {
    const twoRounds = epsilonAfter(2);
    const threeRounds = epsilonAfter(3);
    assert.ok(threeRounds > twoRounds, 'each round must cost privacy');
    const target = (twoRounds + threeRounds) / 2;
    const path = join(dir, 'ledger.db');

    const first = await runCoordinator(path, target, 3, 3);
    assert.deepEqual(
      first.outcomes.map((o) => [o.round, o.status]),
      [
        [1, 'ok'],
        [2, 'ok'],
      ],
    );
    assert.ok(Math.abs(first.outcomes[1]!.epsilon! - twoRounds) < 1e-9, 'the outcome reports ε so far');
    assert.match(first.coordinator.budgetStop!, /round 3 would raise ε .* above the budget/);
    assert.equal(first.spent.rounds, 2);
    assert.ok(first.results.some((r) => r instanceof TransportError && /budget/.test(r.message)));

    // A new coordinator on the same ledger resumes at round 3, which is still over budget.
    const second = await runCoordinator(path, target, 1, 3);
    assert.deepEqual(second.outcomes, []);
    assert.match(second.coordinator.budgetStop!, /round 3 would raise/);
    assert.equal(second.spent.rounds, 2);
  });
});
