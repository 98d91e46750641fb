/**
 * Differentially private rounds over gRPC: the coordinator announces the privacy parameters and a
 * task, clients clip, rotate, round and noise their updates as announced, the coordinator releases
 * only the decoded noisy sum (never the raw sums) after the ledger has recorded the round; a client
 * whose floor is above the announced noise refuses before sending anything derived from its data,
 * and the round goes on without it; a task that does not match its digest is refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  type AssignedRound,
  ClientRefusedError,
  Participant,
  privateUpdateInput,
} from '../../src/client/sdk.ts';
import { planMechanism, privacyPlan } from '../../src/dp/announced.ts';
import { PrivacyLedger } from '../../src/dp/ledger.ts';
import { PrivacyRounds } from '../../src/dp/round-planner.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { Coordinator, type RoundOutcome, type RoundPlanner } from '../../src/server/coordinator.ts';
import { participateService } from '../../src/wire/service.ts';

const D = 50;
const dir = mkdtempSync(join(tmpdir(), 'privagg-private-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** Client i's update: every coordinate (i + 1)/100, norm (i + 1)·√50/100 ≈ 0.07·(i + 1). */
const updateOf = (i: number) => new Map([['w', new Float64Array(D).fill((i + 1) / 100)]]);

async function start(
  planner: RoundPlanner | undefined,
  ledger: PrivacyLedger | undefined,
  clients: number,
  vectors: { name: string; length: number; bits: number }[] = [],
) {
  const coordinator = new Coordinator(
    {
      cohortSize: clients,
      minClients: clients,
      threshold: 3,
      serverModel: 'semi-honest',
      maxCorruptClients: 1,
      vectors,
      rounds: 1,
      checkInMs: 5_000,
      timeouts: { advertise: 5_000, share: 5_000, masked: 5_000, unmask: 5_000 },
      maxConcurrentUploads: 2,
      maxFramesPerStage: 64,
    },
    {
      logger: pino({ level: 'silent' }),
      authenticate: () => ({ ok: true, name: undefined }),
      ...(planner && { planner }),
      ...(ledger && {
        privacy: {
          ledger,
          mechanism: (_round, plan) => planMechanism(plan!, 1, ledger.orders),
        },
      }),
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
  return { coordinator, address: `127.0.0.1:${port}` };
}

async function collect(coordinator: Coordinator): Promise<RoundOutcome[]> {
  const outcomes: RoundOutcome[] = [];
  for await (const o of coordinator.outcomes()) outcomes.push(o);
  return outcomes;
}

describe('differentially private rounds over gRPC', () => {
  it('releases the noisy sum of clipped updates, recorded in the ledger first; a client below its floor refuses', async () => {
    const privacy = new PrivacyRounds(
      { mechanism: 'distributed-skellam', dimension: D, clip: 0.25, noiseMultiplier: 0.8 },
      new DeterministicRng('test/server/private-round'),
    );
    const task = new TextEncoder().encode('global model v1');
    const seen: AssignedRound[] = [];
    let ledgerAtComplete: number | undefined;
    const ledger = PrivacyLedger.open(join(dir, 'ledger.db'), { delta: 1e-5, targetEpsilon: 100 });
    const planner: RoundPlanner = {
      plan: (shape) => ({ privacy: privacy.announce(shape), task }),
      complete: (outcome) => {
        ledgerAtComplete = ledger.round(outcome.round) ? ledger.spent().epsilon : undefined;
      },
    };
    const { coordinator, address } = await start(planner, ledger, 5);
    const running = coordinator.run();
    const results = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const p = new Participant({
          address,
          credentials: credentials.createInsecure(),
          name: `c${i}`,
          // c4 insists on more noise than the coordinator announces.
          privacyPolicy: { minNoiseMultiplier: i === 4 ? 2 : 0.5 },
        });
        try {
          return await p.participate(
            privateUpdateInput((round) => {
              seen.push(round);
              return updateOf(i);
            }),
          );
        } catch (error) {
          return error as Error;
        } finally {
          p.close();
        }
      }),
    );
    await running;
    const [outcome] = await collect(coordinator);
    assert.ok(outcome, 'one outcome');
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.ok(results[4] instanceof ClientRefusedError, `c4 refused: ${String(results[4])}`);
    assert.match(results[4].message, /insufficient-privacy.*below this client's floor 2/);
    assert.deepEqual(outcome.survivors, ['c0', 'c1', 'c2', 'c3']);
    assert.equal(outcome.dropped['c4'], 'advertise', 'the refusing client is dropped at advertise');
    // Every client computed with the same task and parameters.
    assert.equal(seen.length, 4, 'the refusing client never produced its input');
    for (const round of seen) {
      assert.deepEqual(round.task, task, 'the announced task');
      assert.equal(round.privacy?.announced.mechanism, 'distributed-skellam');
    }
    // Raw sums are not published; the release is the sum of clipped updates plus noise.
    assert.equal(outcome.sums.length, 0, 'no raw sums in a private outcome');
    const release = outcome.release;
    assert.ok(release, 'a release');
    const plan = seen[0]!.privacy!;
    const sigma = plan.skellam!.noiseStddev;
    // Clients 0..3: norms 0.07, 0.14, 0.21, 0.28 → the last is clipped to 0.25.
    const clippedLast = 0.04 * (0.25 / (0.04 * Math.sqrt(D)));
    const expected = 0.01 + 0.02 + 0.03 + clippedLast;
    const mean = release.sum.reduce((a, b) => a + b, 0) / D;
    const errors = release.sum.map((x) => x - expected);
    const rms = Math.sqrt(errors.reduce((a, b) => a + b * b, 0) / D);
    assert.ok(
      Math.abs(mean - expected) < (4 * sigma) / Math.sqrt(D),
      `mean ${mean} vs ${expected}, σ ${sigma}`,
    );
    assert.ok(rms > 0.7 * sigma && rms < 1.8 * sigma, `rms ${rms} vs σ ${sigma}`);
    // The ledger held the round (and its ε) before the outcome was handed on.
    assert.ok(
      ledgerAtComplete !== undefined && ledgerAtComplete > 0,
      `ledger ε at completion ${ledgerAtComplete}`,
    );
    assert.equal(ledger.round(1)?.status, 'released');
    assert.equal(outcome.epsilon, ledger.spent().epsilon);
    assert.equal(privacyPlan(plan.announced, 5).vectors[0]!.length, 64, 'padded to a power of two');
    ledger.close();
  });

  it('a client that requires privacy refuses a round without it', async () => {
    const { coordinator, address } = await start(undefined, undefined, 3, [
      { name: 'v', length: 4, bits: 32 },
    ]);
    const running = coordinator.run();
    const results = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const p = new Participant({
          address,
          credentials: credentials.createInsecure(),
          name: `p${i}`,
          ...(i === 0 && { privacyPolicy: { minNoiseMultiplier: 0.5 } }),
        });
        try {
          return await p.participate(() => [new Uint32Array(4).fill(i + 1)]);
        } catch (error) {
          return error as Error;
        } finally {
          p.close();
        }
      }),
    );
    await running;
    const [outcome] = await collect(coordinator);
    assert.ok(results[0] instanceof ClientRefusedError, `p0 refused: ${String(results[0])}`);
    assert.match(results[0].message, /no differential privacy/);
    assert.equal(outcome?.status, 'aborted', 'two of three left with t = 3: the round aborts');
  });
});
