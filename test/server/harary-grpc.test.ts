/**
 * SecAgg+ over loopback gRPC (PROTOCOL.md §2.2): the coordinator plans a Harary graph from the
 * threat model and runs it; the same round through the in-memory simulator, with the same clients'
 * randomness, inputs and dropouts, gives the same parameters, survivors and sums; and a client refuses
 * a coordinator that announces a graph or threshold below what its announced threat model requires.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { pino } from 'pino';
import { ClientRefusedError, Participant } from '../../src/client/sdk.ts';
import type { ServerFrame } from '../../src/gen/privagg/v1/secagg.ts';
import { minimumHararyThreshold } from '../../src/secagg/graph-params.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import type { RoundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { Coordinator, type CoordinatorConfig, type RoundOutcome } from '../../src/server/coordinator.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { parseClientFrame, roundAnnouncementToFrame, type WireAbort } from '../../src/wire/convert.ts';
import { participateService } from '../../src/wire/service.ts';

const DIM = 64;
const N = 24;
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.forceShutdown();
});

async function serve(handler: (call: ServerDuplexStream<Uint8Array, ServerFrame>) => void): Promise<number> {
  const server = new Server();
  servers.push(server);
  server.addService(participateService, { participate: handler });
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
}

const nameOf = (i: number) => `client-${String(i).padStart(2, '0')}`;
const inputOf = (i: number) =>
  Uint32Array.from({ length: DIM }, (_, j) => (i * 40_503 + j * 2_654_435_761) >>> 0);
const rngOf = (name: string) => new DeterministicRng(`harary-grpc/${name}`);

describe('a Harary round over gRPC', () => {
  it('runs the planned graph, and agrees with the simulator on parameters, survivors and sums', async () => {
    const config: CoordinatorConfig = {
      cohortSize: N,
      minClients: N,
      threshold: 2, // not used: the plan sets it
      serverModel: 'semi-honest',
      maxCorruptClients: 0,
      graph: { mode: 'harary', expectedDropout: 0.05, adversarialFraction: 0.05 }, // 10% needs n ≥ 30 with t ≥ k/2 + 1
      vectors: [{ name: 'v', length: DIM, bits: 32 }],
      rounds: 1,
      checkInMs: 10_000,
      timeouts: { advertise: 10_000, share: 10_000, masked: 10_000, unmask: 10_000 },
      maxConcurrentUploads: 4,
      maxFramesPerStage: 64,
      unmaskWorkers: 0,
    };
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const coordinator = new Coordinator(config, {
      logger,
      authenticate: () => ({ ok: true, name: undefined }),
    });
    const port = await serve(coordinator.handleParticipate);
    const running = coordinator.run();

    const drop: Record<string, Stage> = {
      [nameOf(3)]: 'share',
      [nameOf(11)]: 'masked',
      [nameOf(17)]: 'unmask',
    };
    const seen = new Map<string, { params: RoundParams; clientId: ClientId }>();
    const results = await Promise.allSettled(
      Array.from({ length: N }, async (_, i) => {
        const name = nameOf(i);
        const p = new Participant({
          address: `127.0.0.1:${port}`,
          credentials: credentials.createInsecure(),
          name,
          rng: rngOf(name),
          onStage: (stage) => {
            if (drop[name] === stage) throw new Error(`simulated crash of ${name} at ${stage}`);
          },
        });
        try {
          return await p.participate((round) => {
            seen.set(name, { params: round.params, clientId: round.clientId });
            return [inputOf(i)];
          });
        } finally {
          p.close();
        }
      }),
    );
    await running;
    const outcomes: RoundOutcome[] = [];
    for await (const o of coordinator.outcomes()) outcomes.push(o);
    const outcome = outcomes[0]!;
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, N - 3);

    // Every client was announced the planned Harary graph, and computed the same configHash.
    const plan = planGraph({ n: N, dropoutRate: 0.05, adversarialRate: 0.05, mode: 'harary' });
    const params = seen.get(nameOf(0))!.params;
    assert.deepEqual(params.graph, plan.graph);
    assert.equal(params.threshold, plan.threshold);
    assert.equal(params.maxCorruptClients, plan.maxCorruptClients);
    for (const { params: p } of seen.values()) assert.deepEqual(p.configHash, params.configHash);
    const graphLog = logs.find((l) => l['msg'] === 'round graph');
    assert.match(
      String(graphLog?.['graph']),
      new RegExp(`degree k=${(plan.graph as { degree: number }).degree}`),
    );

    // The same round in memory: ids follow the names' order, so client-i has id i + 1.
    const idOf = (name: string) => seen.get(name)!.clientId;
    const nameById = new Map([...seen].map(([name, s]) => [s.clientId, name]));
    const inputs = new Map(params.clients.map((id) => [id, [inputOf(Number(nameById.get(id)!.slice(7)))]]));
    const sim = simulateRound({
      params,
      inputs,
      rngFor: (id) => rngOf(nameById.get(id)!),
      dropouts: new Map(Object.entries(drop).map(([name, stage]) => [idOf(name), stage])),
    });
    assert.equal(sim.result.status, 'ok');
    if (sim.result.status !== 'ok') return;
    assert.deepEqual(
      outcome.survivors,
      sim.result.survivors.map((id) => nameById.get(id)),
    );
    assert.deepEqual(
      outcome.dropped,
      Object.fromEntries([...sim.result.dropped].map(([id, stage]) => [nameById.get(id), stage])),
    );
    assert.deepEqual(outcome.sums, sim.result.sums);
    const expected = new Uint32Array(DIM);
    for (const name of outcome.survivors) {
      const x = inputOf(Number(name.slice(7)));
      for (let j = 0; j < DIM; j++) expected[j] = (expected[j]! + x[j]!) >>> 0;
    }
    assert.deepEqual(outcome.sums[0], expected);
  });
});

describe('a client refuses a weak Harary announcement', () => {
  /**
   * A fake coordinator that announces `graph` for 500 clients with n_C = 25; resolves with the error
   * the client's participate() rejects with, once the fake has received the client's Abort frame
   * (naming the same refusal) and closed the call, as a coordinator does.
   */
  async function announceTo(threshold: number, graph: RoundParams['graph']): Promise<ClientRefusedError> {
    let abort: WireAbort | undefined;
    const port = await serve((call) => {
      call.on('data', (bytes: Uint8Array) => {
        const frame = parseClientFrame(bytes, undefined);
        if (frame.type === 'abort') {
          abort = frame;
          call.end();
          return;
        }
        if (frame.type !== 'check-in') return;
        call.write(
          roundAnnouncementToFrame(
            {
              round: 1,
              serverModel: 'semi-honest',
              threshold,
              maxCorruptClients: 25,
              clients: Array.from({ length: 500 }, (_, i) => (i + 1) as ClientId),
              graph,
              vectors: [{ name: 'v', length: 4, bits: 16 }],
            },
            1 as ClientId,
          ),
        );
      });
      call.on('error', () => {});
    });
    const p = new Participant({
      address: `127.0.0.1:${port}`,
      credentials: credentials.createInsecure(),
      name: 'alice',
    });
    try {
      await p.participate(() => assert.fail('no input may be asked for'));
      return assert.fail('the client must refuse');
    } catch (error) {
      assert.ok(error instanceof ClientRefusedError, `a refusal, got ${String(error)}`);
      assert.equal(abort?.code, 'client-refused', 'the Abort frame reached the coordinator');
      assert.equal(abort?.refusal, error.refusal.code);
      return error;
    } finally {
      p.close();
    }
  }

  const plan = planGraph({ n: 500, dropoutRate: 0.1, adversarialRate: 0.05 });
  const harary = plan.graph as RoundParams['graph'] & { kind: 'harary' };

  it('a degree below what 25 corrupt clients and the allowed losses require', async () => {
    // t = 11 = k/2 + 1 for k = 20 (the planned t may exceed what 20 neighbours can hold).
    const error = await announceTo(11, { ...harary, degree: 20 });
    assert.equal(error.refusal.code, 'bad-parameters');
    assert.match(error.message, /degree k=20 is too small/);
  });

  it('a threshold below what 25 corrupt clients require', async () => {
    const exposed = minimumHararyThreshold(500, harary.degree, plan.maxCorruptClients, 40) - 1;
    const error = await announceTo(exposed, harary);
    assert.equal(error.refusal.code, 'threshold-too-low');
    assert.match(error.message, /threshold t=\d+ is too low/);
  });

  it('a survivor floor that lets the graph fall apart', async () => {
    const error = await announceTo(plan.threshold, { ...harary, minSurvivors: 200 });
    assert.equal(error.refusal.code, 'bad-parameters');
    assert.match(error.message, /falls apart/);
  });

  it('σ below 40 bits', async () => {
    const error = await announceTo(plan.threshold, { ...harary, securityBits: 30 });
    assert.equal(error.refusal.code, 'bad-parameters');
    assert.match(error.message, /below the 40 bits/);
  });
});
