/** End to end over loopback gRPC, in one process: the coordinator, the SDK, dropouts, aborts. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { CoordinatorAbortError, Participant } from '../../src/client/sdk.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { Coordinator, type CoordinatorConfig, type RoundOutcome } from '../../src/server/coordinator.ts';
import { participateService } from '../../src/wire/service.ts';

const DIM = 1000;

function config(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    cohortSize: 6,
    minClients: 6,
    threshold: 4,
    serverModel: 'semi-honest',
    maxCorruptClients: 0,
    vectors: [{ name: 'v', length: DIM, bits: 32 }],
    rounds: 1,
    checkInMs: 5_000,
    timeouts: { advertise: 5_000, share: 5_000, masked: 5_000, unmask: 5_000 },
    maxConcurrentUploads: 2,
    maxFramesPerStage: 64,
    ...overrides,
  };
}

async function startCoordinator(cfg: CoordinatorConfig) {
  const coordinator = new Coordinator(cfg, {
    logger: pino({ level: 'silent' }),
    authenticate: () => ({ ok: true, name: undefined }),
  });
  const server = new Server();
  server.addService(participateService, { participate: coordinator.handleParticipate });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const running = coordinator.run();
  return { coordinator, server, port, running };
}

function inputOf(index: number): Uint32Array {
  return Uint32Array.from({ length: DIM }, (_, j) => (index * 1_000_003 + j * 7919) >>> 0);
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.forceShutdown();
});

describe('a round over gRPC', () => {
  it('sums six clients exactly, with one lost at each of two stages', async () => {
    const { coordinator, server, port, running } = await startCoordinator(config());
    servers.push(server);
    const drop: Record<string, Stage> = { 'client-2': 'masked', 'client-5': 'unmask' };
    const participants = Array.from({ length: 6 }, (_, i) => {
      const name = `client-${i}`;
      const p = new Participant({
        address: `127.0.0.1:${port}`,
        credentials: credentials.createInsecure(),
        name,
        onStage: (stage) => {
          if (drop[name] === stage) throw new Error(`simulated crash of ${name} at ${stage}`);
        },
      });
      return { name, p, index: i };
    });
    const results = await Promise.allSettled(
      participants.map(({ p, index }) => p.participate(() => [inputOf(index)])),
    );
    for (const { p } of participants) p.close();
    await running;
    const outcomes: RoundOutcome[] = [];
    for await (const o of coordinator.outcomes()) outcomes.push(o);
    assert.equal(outcomes.length, 1);
    const outcome = outcomes[0]!;
    assert.equal(outcome.status, 'ok', outcome.reason);
    const expectedSurvivors = ['client-0', 'client-1', 'client-3', 'client-4', 'client-5'];
    assert.deepEqual(outcome.survivors, expectedSurvivors);
    assert.deepEqual(outcome.dropped, { 'client-2': 'masked' });
    const expected = new Uint32Array(DIM);
    for (const name of expectedSurvivors) {
      const x = inputOf(Number(name.split('-')[1]));
      for (let j = 0; j < DIM; j++) expected[j] = (expected[j]! + x[j]!) >>> 0;
    }
    assert.deepEqual(outcome.sums[0], expected);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
  });

  it('aborts below threshold and tells the remaining clients why', async () => {
    const { coordinator, server, port, running } = await startCoordinator(
      config({ cohortSize: 5, minClients: 5, threshold: 4 }),
    );
    servers.push(server);
    const drop = new Set(['client-0', 'client-1']);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, async (_, i) => {
        const name = `client-${i}`;
        const p = new Participant({
          address: `127.0.0.1:${port}`,
          credentials: credentials.createInsecure(),
          name,
          onStage: (stage) => {
            if (drop.has(name) && stage === 'masked') throw new Error('crash');
          },
        });
        try {
          return await p.participate(() => [inputOf(i)]);
        } finally {
          p.close();
        }
      }),
    );
    await running;
    const outcomes: RoundOutcome[] = [];
    for await (const o of coordinator.outcomes()) outcomes.push(o);
    assert.equal(outcomes[0]!.status, 'aborted');
    assert.match(outcomes[0]!.reason!, /too-few-clients at masked/);
    assert.deepEqual(outcomes[0]!.sums, []);
    const aborted = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof CoordinatorAbortError,
    );
    assert.equal(aborted.length, 3);
  });
});
