/**
 * The in-process form of the control API (the README's TypeScript example): a Coordinator whose
 * planner is OperatorRounds, over loopback gRPC with SDK participants that compute their input from
 * each round's task. Rounds start only when the operator starts them, each with its own task, and
 * the sums are exact; stop ends the run; a late reader gets only the outcomes kept (keepOutcomes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Participant } from '../../src/client/sdk.ts';
import { Coordinator } from '../../src/server/coordinator.ts';
import { OperatorRounds } from '../../src/server/operator-rounds.ts';
import { participateService } from '../../src/wire/service.ts';

const DIM = 16;
const CLIENTS = 3;

/** The model a round's task carries: DIM words, little-endian. */
const modelOf = (round: number) => Uint32Array.from({ length: DIM }, (_, j) => (round * 1_000_003 + j) >>> 0);
const taskOf = (model: Uint32Array) => new Uint8Array(model.buffer.slice(0));
const fromTask = (task: Uint8Array) =>
  new Uint32Array(task.buffer.slice(task.byteOffset, task.byteOffset + task.byteLength));

describe('Coordinator + OperatorRounds over gRPC', () => {
  it('runs the rounds the operator starts, each with its task, and stops', async () => {
    const rounds = new OperatorRounds();
    const coordinator = new Coordinator(
      {
        cohortSize: CLIENTS,
        minClients: CLIENTS,
        threshold: 2,
        serverModel: 'semi-honest',
        maxCorruptClients: 0,
        vectors: [{ name: 'update', length: DIM, bits: 32 }],
        rounds: Number.POSITIVE_INFINITY,
        checkInMs: 5_000,
        timeouts: { advertise: 5_000, share: 5_000, masked: 5_000, unmask: 5_000 },
        maxConcurrentUploads: 4,
        maxFramesPerStage: 64,
        unmaskWorkers: 0,
        // An indefinite run keeps only its latest outcomes for a late reader.
        keepOutcomes: 1,
      },
      {
        logger: pino({ level: 'silent' }),
        authenticate: () => ({ ok: true, name: undefined }),
        planner: rounds,
      },
    );
    const server = new Server();
    server.addService(participateService, { participate: coordinator.handleParticipate });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    const running = coordinator.run();
    const outcomes = coordinator.outcomes();
    // Client i's input is the round's model plus i in every word.
    const participants = Array.from({ length: CLIENTS }, (_, i) => {
      const p = new Participant({
        address: `127.0.0.1:${port}`,
        credentials: credentials.createInsecure(),
        name: `p${i}`,
      });
      const done = p.participateRounds(
        2,
        ({ task }) => [fromTask(task!).map((w) => (w + i) >>> 0)],
        () => {},
      );
      return { p, done };
    });
    try {
      // Everyone checks in, but no round starts before the operator's start.
      const first = outcomes.next();
      for (let i = 0; i < 100 && coordinator.waitingClients < CLIENTS; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(coordinator.waitingClients, CLIENTS);
      const early = await Promise.race([
        first.then(() => 'outcome'),
        new Promise((resolve) => setTimeout(() => resolve('waiting'), 200)),
      ]);
      assert.equal(early, 'waiting');
      assert.equal(rounds.running, undefined);

      for (const round of [1, 2]) {
        assert.equal(await rounds.start(taskOf(modelOf(round))), round);
        const { value: outcome } = round === 1 ? await first : await outcomes.next();
        assert.ok(outcome);
        assert.equal(outcome.round, round);
        assert.equal(outcome.status, 'ok');
        assert.deepEqual(outcome.survivors, ['p0', 'p1', 'p2']);
        // Σ_i (w + i) = 3w + 3 in every word.
        const expected = modelOf(round).map((w) => (CLIENTS * w + 3) >>> 0);
        assert.deepEqual([...outcome.sums[0]!], [...expected]);
      }
      rounds.stop();
      coordinator.close();
      await running;
      await Promise.all(participants.map(({ done }) => done));
      const late: number[] = [];
      for await (const outcome of coordinator.outcomes()) late.push(outcome.round);
      assert.deepEqual(late, [2]);
    } finally {
      for (const { p } of participants) p.close();
      server.forceShutdown();
    }
  });
});
