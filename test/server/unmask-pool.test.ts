/**
 * The unmask worker pool: failures fail the run (and the round) closed instead of hanging, the event
 * loop stays free while it computes, and it shuts down without leaving threads behind.
 */

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { CoordinatorAbortError, Participant } from '../../src/client/sdk.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import { type MaskJob, runUnmaskPlan, type UnmaskPlan, unmaskPlan } from '../../src/secagg/unmask-plan.ts';
import { defaultMaxFramesPerStage } from '../../src/server/config.ts';
import {
  Coordinator,
  type CoordinatorConfig,
  type CoordinatorEnvironment,
  type RoundOutcome,
} from '../../src/server/coordinator.ts';
import { UnmaskPool, UnmaskPoolError } from '../../src/server/unmask-pool.ts';
import { participateService } from '../../src/wire/service.ts';
import { standInWorkers } from '../fixtures/stand-in-workers.ts';

const pools: UnmaskPool[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of servers) s.forceShutdown();
  await Promise.all(pools.map((p) => p.close()));
});

const workerModule = standInWorkers('privagg-unmask-pool-');
const EXITS_ON_JOBS = workerModule(
  'exits.mjs',
  `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => { if (m.type === 'jobs') process.exit(7); });`,
);
const THROWS_ON_LOAD = workerModule('throws.mjs', `throw new Error('broken worker module');`);
const NEVER_ANSWERS = workerModule(
  'silent.mjs',
  `import { parentPort } from 'node:worker_threads';
parentPort.on('message', () => {});`,
);

function pool(options: ConstructorParameters<typeof UnmaskPool>[0]): UnmaskPool {
  const p = new UnmaskPool(options);
  pools.push(p);
  return p;
}

const rng = new DeterministicRng('unmask-pool');
function plan(vectors: readonly VectorSpec[], count: number): UnmaskPlan {
  const jobs: MaskJob[] = Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? { kind: 'self', client: (i + 1) as ClientId, seed: rng.randomBytes(32), sign: -1 }
      : { kind: 'pair', seed: rng.randomBytes(32), sign: i % 4 === 1 ? 1 : -1 },
  );
  return unmaskPlan(rng.randomBytes(32), vectors, jobs);
}
const SMALL = [{ name: 'v', length: 1000, bits: 32 }];

describe('a failing worker fails the run closed', () => {
  it('rejects when a worker reports an error (a job it cannot expand), then recovers', async () => {
    const p = pool({ size: 2, oversubscribe: true });
    const bad = plan([{ name: 'x'.repeat(300), length: 10, bits: 32 }], 4);
    await assert.rejects(p.run(bad), (error: Error) => {
      assert.ok(error instanceof UnmaskPoolError);
      assert.match(error.message, /^unmask worker failed: spec\.name must be 1\.\.255 UTF-8 bytes/);
      return true;
    });
    assert.equal(p.threads, 0, 'the failed run’s workers are terminated');
    const good = plan(SMALL, 6);
    assert.deepEqual(await p.run(good), runUnmaskPlan(good));
  });

  it('rejects when a worker exits', async () => {
    const p = pool({ size: 2, oversubscribe: true, workerUrl: EXITS_ON_JOBS });
    await assert.rejects(p.run(plan(SMALL, 4)), /unmask worker exited unexpectedly \(code 7\)/);
    assert.equal(p.threads, 0);
  });

  it('rejects when the worker module fails to load', async () => {
    const p = pool({ size: 1, workerUrl: THROWS_ON_LOAD });
    await assert.rejects(p.run(plan(SMALL, 2)), /unmask worker failed: broken worker module/);
    assert.equal(p.threads, 0);
  });

  it('rejects a malformed plan before starting any thread', async () => {
    const p = pool({ size: 2 });
    const good = plan(SMALL, 2);
    const bad = { ...good, jobs: [{ ...good.jobs[0]!, seed: new Uint8Array(31) }] };
    await assert.rejects(p.run(bad), /job\.seed must be 32 bytes/);
    assert.equal(p.threads, 0);
  });
});

describe('the pool', () => {
  it('keeps the event loop free while it computes', async () => {
    const p = pool({ size: 1 });
    await p.run(plan(SMALL, 1)); // start the thread outside the measurement
    const heavy = plan([{ name: 'v', length: 1 << 20, bits: 32 }], 120);
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    await p.run(heavy);
    const took = performance.now() - started;
    clearInterval(timer);
    // The inline computation would block for all of `took`; here timers keep firing throughout.
    assert.ok(took > 100, `the run took ${took.toFixed(0)} ms`);
    assert.ok(ticks > took / 50, `${ticks} ticks in ${took.toFixed(0)} ms`);
    assert.ok(longest < took / 2, `longest stall ${longest.toFixed(0)} ms of ${took.toFixed(0)} ms`);
  });

  it('closes: a run in progress rejects, every thread exits, later runs are refused', async () => {
    const p = new UnmaskPool({ size: 2, oversubscribe: true, workerUrl: NEVER_ANSWERS });
    const running = p.run(plan(SMALL, 4));
    const queued = p.run(plan(SMALL, 4));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(p.threads, 2);
    await p.close();
    await assert.rejects(running, /the unmask pool was closed/);
    await assert.rejects(queued, /the unmask pool is closed/);
    assert.equal(p.threads, 0);
    await assert.rejects(p.run(plan(SMALL, 1)), UnmaskPoolError);
    await p.close(); // idempotent
  });

  it('checks its options', () => {
    assert.throws(() => new UnmaskPool({ size: 0 }), RangeError);
    assert.throws(() => new UnmaskPool({ size: 1.5 }), RangeError);
    assert.throws(() => new UnmaskPool({ batchSize: 0 }), RangeError);
    assert.equal(new UnmaskPool({ size: 1000 }).size <= 1000, true);
    assert.equal(new UnmaskPool({ size: 3, oversubscribe: true }).size, 3);
  });
});

// ---- through the coordinator ----------------------------------------------------------------

/** Above the coordinator's inline limit (2^20 mask words), so the plan goes to the executor. */
const DIM = 300_000;

function config(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    cohortSize: 5,
    minClients: 5,
    threshold: 4,
    serverModel: 'semi-honest',
    maxCorruptClients: 0,
    vectors: [{ name: 'v', length: DIM, bits: 32 }],
    rounds: 1,
    checkInMs: 10_000,
    timeouts: { advertise: 10_000, share: 10_000, masked: 20_000, unmask: 10_000 },
    maxConcurrentUploads: 2,
    // The masked input in the SDK's chunks, as privagg serve sizes it.
    maxFramesPerStage: defaultMaxFramesPerStage([{ name: 'v', length: DIM, bits: 32 }]),
    ...overrides,
  };
}

function inputOf(index: number): Uint32Array {
  return Uint32Array.from({ length: DIM }, (_, j) => (index * 2_654_435_761 + j * 40_503) >>> 0);
}

/** One round of five clients, `client-2` lost at the masked stage; returns the outcome and client results. */
async function round(cfg: CoordinatorConfig, env: Partial<CoordinatorEnvironment> = {}) {
  const coordinator = new Coordinator(cfg, {
    logger: pino({ level: 'silent' }),
    authenticate: () => ({ ok: true, name: undefined }),
    ...env,
  });
  const server = new Server();
  servers.push(server);
  server.addService(participateService, { participate: coordinator.handleParticipate });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const running = coordinator.run();
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, async (_, i) => {
      const name = `client-${i}`;
      const p = new Participant({
        address: `127.0.0.1:${port}`,
        credentials: credentials.createInsecure(),
        name,
        onStage: (stage) => {
          if (i === 2 && stage === 'masked') throw new Error('simulated crash');
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
  server.forceShutdown();
  assert.equal(outcomes.length, 1);
  return { outcome: outcomes[0]!, results };
}

function expectedSum(indices: number[]): Uint32Array {
  const sum = new Uint32Array(DIM);
  for (const i of indices) {
    const x = inputOf(i);
    for (let j = 0; j < DIM; j++) sum[j] = (sum[j]! + x[j]!) >>> 0;
  }
  return sum;
}

describe('the coordinator unmasking on worker threads', () => {
  it('sums exactly with its own pool, and closes the pool with itself', async () => {
    const closed: UnmaskPool[] = [];
    const { close } = UnmaskPool.prototype;
    UnmaskPool.prototype.close = function (this: UnmaskPool) {
      closed.push(this);
      return close.call(this);
    };
    try {
      const { outcome } = await round(config({ unmaskWorkers: 2 }));
      assert.equal(outcome.status, 'ok', outcome.reason);
      assert.deepEqual(outcome.survivors, ['client-0', 'client-1', 'client-3', 'client-4']);
      assert.deepEqual(outcome.dropped, { 'client-2': 'masked' });
      assert.ok(Buffer.from(outcome.sums[0]!.buffer).equals(Buffer.from(expectedSum([0, 1, 3, 4]).buffer)));
      assert.equal(closed.length, 1, 'the coordinator created one pool and closed it');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(closed[0]!.threads, 0);
    } finally {
      UnmaskPool.prototype.close = close;
    }
  });

  it('sums the same inline (unmaskWorkers: 0)', async () => {
    const { outcome } = await round(config({ unmaskWorkers: 0 }));
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.ok(Buffer.from(outcome.sums[0]!.buffer).equals(Buffer.from(expectedSum([0, 1, 3, 4]).buffer)));
  });

  it('aborts the round with a clear reason when a worker fails, releasing nothing', async () => {
    const failing = pool({ size: 2, oversubscribe: true, workerUrl: EXITS_ON_JOBS });
    const { outcome, results } = await round(config(), { unmaskExecutor: failing });
    assert.equal(outcome.status, 'aborted');
    assert.equal(
      outcome.reason,
      'server-aborted at unmask: unmasking failed: unmask worker exited unexpectedly (code 7)',
    );
    assert.deepEqual(outcome.sums, []);
    assert.deepEqual(outcome.survivors, []);
    const aborted = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof CoordinatorAbortError,
    );
    assert.equal(aborted.length, 4, 'every client still in the round is told');
    for (const r of aborted) {
      const error = (r as PromiseRejectedResult).reason as CoordinatorAbortError;
      assert.equal(error.code, 'server-aborted');
      assert.match(error.reason, /unmasking failed: unmask worker exited/);
    }
  });

  it('refuses a negative or fractional worker count', () => {
    const env = {
      logger: pino({ level: 'silent' }),
      authenticate: () => ({ ok: true as const, name: undefined }),
    };
    assert.throws(() => new Coordinator(config({ unmaskWorkers: -1 }), env), /unmask workers/);
    assert.throws(() => new Coordinator(config({ unmaskWorkers: 1.5 }), env), /unmask workers/);
  });
});
