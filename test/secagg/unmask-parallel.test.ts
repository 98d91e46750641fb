/**
 * The unmask split (docs/PROTOCOL.md §4.6): the server's plan, run inline or on worker threads, gives
 * the same sum to the byte; the external-executor API refuses misuse and leaves the state unchanged.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import { ProtocolViolation, UsageError } from '../../src/secagg/errors.ts';
import type { ClientMessage, Stage } from '../../src/secagg/messages.ts';
import type { RoundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import {
  type MaskJob,
  packMaskJobs,
  runUnmaskPlan,
  type UnmaskPlan,
  unmaskPlan,
  unpackMaskJobs,
  zeroCorrection,
} from '../../src/secagg/unmask-plan.ts';
import { UnmaskPool } from '../../src/server/unmask-pool.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum, rngFor } from './harness.ts';

const pools: UnmaskPool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});
function pool(size: number, batchSize?: number): UnmaskPool {
  const p = new UnmaskPool({ size, batchSize, oversubscribe: true });
  pools.push(p);
  return p;
}

function randomPlan(rng: DeterministicRng, vectors: readonly VectorSpec[], jobCount: number): UnmaskPlan {
  const jobs: MaskJob[] = [];
  for (let i = 0; i < jobCount; i++) {
    const [kind, sign] = rng.randomBytes(2) as unknown as [number, number];
    const seed = rng.randomBytes(32);
    const s = sign & 1 ? 1 : -1;
    jobs.push(
      kind & 1
        ? { kind: 'self', client: (i + 1) as ClientId, seed, sign: s }
        : { kind: 'pair', seed, sign: s },
    );
  }
  return unmaskPlan(rng.randomBytes(32), vectors, jobs);
}

const bytesOf = (v: Uint32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
function assertSameWords(actual: readonly Uint32Array[], expected: readonly Uint32Array[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    assert.ok(a instanceof Uint32Array);
    assert.equal(a.length, expected[i]!.length);
    assert.ok(bytesOf(a).equals(bytesOf(expected[i]!)), `vector ${i} differs`);
  });
}

const STAGE_OF: Record<ClientMessage['type'], Stage> = {
  advertise: 'advertise',
  shares: 'share',
  masked: 'masked',
  consistency: 'consistency',
  unmask: 'unmask',
};

/**
 * A second server, in `external` mode, fed every client message of a simulated round. The simulator
 * closes a stage when nothing is in flight; the shadow closes it when the next stage's first message
 * arrives (or at the end), which drops the same clients at the same stages.
 */
function shadowServer(
  params: RoundParams,
  rngLabel: string,
  unmask: 'inline' | 'external' = 'external',
  {
    planInSteps = false,
    tamper,
  }: { planInSteps?: boolean; tamper?: (m: ClientMessage) => ClientMessage } = {},
) {
  const identities =
    params.serverModel === 'malicious'
      ? new Map(params.clients.map((id) => [id, Ed25519Signer.generate(rngFor(rngLabel)(id)).publicKey]))
      : undefined;
  const server = new SecAggServer({ params, identities, unmask, planInSteps });
  let sawPending = false;
  server.start(0);
  const drain = () => {
    while (server.pollTransmit());
  };
  const observe = (from: ClientId, message: ClientMessage) => {
    while (server.stage !== STAGE_OF[message.type] && !server.result) server.closeStage(0);
    server.handle(from, tamper ? tamper(message) : message, 0);
    sawPending ||= server.pendingUnmask !== undefined;
    drain();
  };
  const finish = () => {
    if (!server.pendingUnmask && !server.planningUnmask && !server.result) server.closeStage(0);
    drain();
    return server;
  };
  return { observe, finish, sawPending: () => sawPending };
}

/**
 * A simulated round of `label` with a shadow server beside it (see {@link shadowServer}): the
 * simulator's report, the inputs, and the shadow, whose stage the caller finishes.
 */
function shadowedRound(
  params: RoundParams,
  label: string,
  dropouts: ReadonlyMap<ClientId, Stage>,
  unmask: 'inline' | 'external' = 'external',
  options: Parameters<typeof shadowServer>[3] = {},
) {
  const inputs = makeInputs(params);
  const shadow = shadowServer(params, label, unmask, options);
  const report = simulateRound({ params, inputs, rngFor: rngFor(label), dropouts, observe: shadow.observe });
  return { inputs, shadow, report };
}

describe('the pool computes exactly what the inline executor computes', () => {
  const rng = new DeterministicRng('unmask-parallel/random-plans');
  const layouts: VectorSpec[][] = [
    [{ name: 'one', length: 1, bits: 32 }],
    [{ name: 'odd', length: 3, bits: 5 }],
    [
      { name: 'w', length: 65_536 + 7, bits: 32 },
      { name: 'n', length: 2, bits: 12 },
    ],
    [{ name: 'big', length: 300_001, bits: 20 }],
  ];
  for (const workers of [1, 2, 3, 4]) {
    it(`with ${workers} worker(s), for random plans of 0 to 33 jobs`, async () => {
      const p = pool(workers);
      const small = pool(workers, 1);
      for (const vectors of layouts) {
        for (const jobs of [0, 1, 2, 7, 33]) {
          const plan = randomPlan(rng, vectors, jobs);
          const expected = runUnmaskPlan(plan);
          assertSameWords(await p.run(plan), expected);
          // One job per batch: every worker keeps coming back for more.
          if (jobs <= 7) assertSameWords(await small.run(plan), expected);
        }
      }
      assert.equal(p.threads, Math.min(workers, 33));
    });
  }

  it('leaves the plan untouched (its seeds stay the caller’s to zero)', async () => {
    const plan = randomPlan(rng, [{ name: 'v', length: 10, bits: 32 }], 5);
    const before = plan.jobs.map((j) => Buffer.from(j.seed));
    await pool(2).run(plan);
    plan.jobs.forEach((j, i) => {
      assert.ok(Buffer.from(j.seed).equals(before[i]!));
    });
  });

  it('runs queued plans one after the other', async () => {
    const p = pool(2);
    const plans = [1, 2, 3].map((n) => randomPlan(rng, [{ name: 'v', length: 5000, bits: 32 }], n * 3));
    const results = await Promise.all(plans.map((plan) => p.run(plan)));
    results.forEach((r, i) => {
      assertSameWords(r, runUnmaskPlan(plans[i]!));
    });
  });

  it('packs and unpacks jobs losslessly', () => {
    const plan = randomPlan(rng, [{ name: 'v', length: 1, bits: 32 }], 9);
    const jobs = unpackMaskJobs(packMaskJobs(plan.jobs));
    assert.deepEqual(
      jobs.map((j) => ({ ...j, seed: [...j.seed] })),
      plan.jobs.map((j) => ({ ...j, seed: [...j.seed] })),
    );
  });
});

describe('a simulated round unmasked on worker threads', () => {
  const cases: { name: string; params: RoundParams; dropouts: Map<ClientId, Stage> }[] = [
    {
      name: 'semi-honest, 10 clients, lost at share, masked (two) and unmask',
      params: makeParams({ n: 10, threshold: 6 }),
      dropouts: new Map<ClientId, Stage>([
        [2 as ClientId, 'share'],
        [3 as ClientId, 'masked'],
        [6 as ClientId, 'masked'],
        [8 as ClientId, 'unmask'],
      ]),
    },
    {
      name: 'malicious, 7 clients, lost at masked and consistency',
      params: makeParams({ n: 7, threshold: 5, serverModel: 'malicious' }),
      dropouts: new Map<ClientId, Stage>([
        [1 as ClientId, 'masked'],
        [5 as ClientId, 'consistency'],
      ]),
    },
  ];
  for (const { name, params, dropouts } of cases) {
    it(`gives the inline round's sum to the byte (${name})`, async () => {
      const { inputs, shadow, report } = shadowedRound(params, `unmask-parallel/${name}`, dropouts);
      assert.equal(report.result.status, 'ok');
      if (report.result.status !== 'ok') return;

      const server = shadow.finish();
      const plan = server.pendingUnmask;
      assert.ok(plan, 'the external server waits with a plan');
      assert.equal(server.result === undefined, true);
      assert.equal(server.stage, 'unmask');
      assert.equal(server.pollTimeout(), undefined);
      server.completeUnmask(await pool(2).run(plan));

      const result = server.result;
      assert.equal(result?.status, 'ok');
      if (result?.status !== 'ok') return;
      assertSameWords(result.sums, report.result.sums);
      assertSameWords(result.sums, plainSum(params, inputs, report.result.survivors));
      assert.deepEqual(result.survivors, report.result.survivors);
      assert.deepEqual(result.dropped, report.result.dropped);
      assert.equal(server.pendingUnmask, undefined);
      for (const job of plan.jobs)
        assert.ok(
          job.seed.every((b) => b === 0),
          'seeds are zeroed',
        );
    });
  }
});

describe('the external unmask API', () => {
  function pendingServer(label = 'unmask-parallel/api') {
    const params = makeParams({ n: 5, threshold: 4 });
    const dropouts = new Map<ClientId, Stage>([[4 as ClientId, 'masked']]);
    const { shadow, report } = shadowedRound(params, label, dropouts);
    const server = shadow.finish();
    return { params, server, plan: server.pendingUnmask!, report };
  }

  it('is a plan that never prints or serializes a seed', () => {
    const { params, plan } = pendingServer();
    assert.equal(plan.jobs.filter((j) => j.kind === 'self').length, 4);
    // The dropped clients' pairs carry the key material their seeds are derived from.
    assert.equal(plan.jobs.filter((j) => j.kind === 'dropped-pair').length, 4);
    const json = JSON.stringify(plan);
    assert.deepEqual(JSON.parse(json), {
      selfMasks: 4,
      pairMasks: 4,
      vectors: params.vectors.map((v) => `${v.name}[${v.length}]/${v.bits}`),
    });
    assert.doesNotMatch(inspect(plan, { depth: 10 }), /seed|Uint8Array/);
    assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.jobs));
  });

  it('refuses a correction of the wrong shape and leaves the state unchanged', () => {
    const { params, server, plan } = pendingServer();
    const good = runUnmaskPlan(plan);
    const bad: unknown[] = [
      [good[0]!],
      [...good, good[0]!],
      [good[0]!, new Uint32Array(good[1]!.length + 1)],
      [good[0]!, Int32Array.from(good[1]!)],
      [good[0]!.slice(1), good[1]!],
    ];
    for (const correction of bad) {
      assert.throws(() => server.completeUnmask(correction as Uint32Array[]), UsageError);
      assert.equal(server.result, undefined);
      assert.equal(server.pendingUnmask, plan);
    }
    server.completeUnmask(good);
    assert.equal(server.result?.status, 'ok');
    assert.equal(params.vectors.length, 2);
  });

  it('refuses to complete twice, or to fail after completing', () => {
    const { server, plan, report } = pendingServer();
    server.completeUnmask(runUnmaskPlan(plan));
    const result = server.result;
    // The plan's secrets are zeroed once the round ends: a correction of the right shape is enough.
    assert.throws(() => server.completeUnmask(zeroCorrection(plan.vectors)), /no unmask pending/);
    assert.throws(() => server.failUnmask('late'), UsageError);
    assert.equal(server.result, result);
    assert.ok(report.result.status === 'ok' && result?.status === 'ok');
    assertSameWords(result.sums, report.result.sums);
  });

  it('refuses to complete before the unmask stage has closed', () => {
    const params = makeParams({ n: 3, threshold: 2 });
    const server = new SecAggServer({ params, unmask: 'external' });
    assert.throws(() => server.completeUnmask([]), UsageError);
    server.start(0);
    assert.throws(() => server.completeUnmask([]), /no unmask pending \(stage 'advertise'\)/);
    assert.throws(() => server.failUnmask('x'), UsageError);
  });

  it('ignores disconnects and refuses messages while the plan is pending', () => {
    const { server, plan, report } = pendingServer();
    server.handleDisconnect(1 as ClientId, 0);
    server.closeStage(0);
    server.handleTimeout(Number.MAX_SAFE_INTEGER);
    assert.equal(server.pendingUnmask, plan);
    assert.throws(
      () =>
        server.handle(
          2 as ClientId,
          { type: 'advertise', cPk: new Uint8Array(32), sPk: new Uint8Array(32) },
          0,
        ),
      ProtocolViolation,
    );
    assert.equal(server.pollTransmit(), undefined);
    server.completeUnmask(runUnmaskPlan(plan));
    assert.ok(server.result?.status === 'ok' && report.result.status === 'ok');
    assert.deepEqual(server.result.survivors, report.result.survivors);
    assert.deepEqual(server.result.dropped, report.result.dropped);
  });

  it('fails closed: failUnmask aborts, tells the clients, releases nothing and zeroes the seeds', () => {
    const { server, plan } = pendingServer();
    server.failUnmask('unmasking failed: worker exited');
    const result = server.result;
    assert.equal(result?.status, 'aborted');
    if (result?.status !== 'aborted') return;
    assert.equal(result.error.code, 'server-aborted');
    assert.equal(result.error.stage, 'unmask');
    assert.equal(result.error.message, 'server-aborted at unmask: unmasking failed: worker exited');
    assert.equal('sums' in result, false);
    const aborts = [];
    for (let out = server.pollTransmit(); out; out = server.pollTransmit()) aborts.push(out);
    assert.ok(aborts.length > 0 && aborts.every((o) => o.message.type === 'abort'));
    for (const job of plan.jobs) assert.ok(job.seed.every((b) => b === 0));
    assert.throws(() => server.completeUnmask(zeroCorrection(plan.vectors)), UsageError);
  });

  it('is not used in the default inline mode: the round ends in the call that closes the stage', () => {
    const params = makeParams({ n: 5, threshold: 4 });
    const dropouts = new Map<ClientId, Stage>([[4 as ClientId, 'masked']]);
    const { shadow, report } = shadowedRound(params, 'unmask-parallel/inline', dropouts, 'inline');
    const server = shadow.finish();
    assert.equal(shadow.sawPending(), false);
    assert.ok(server.result?.status === 'ok' && report.result.status === 'ok');
    assertSameWords(server.result.sums, report.result.sums);
    assert.throws(() => server.completeUnmask([]), UsageError);
    assert.throws(() => new SecAggServer({ params, unmask: 'threads' as 'inline' }), UsageError);
  });
});

describe('planning the unmask in steps (planInSteps)', () => {
  const params = makeParams({ n: 6, threshold: 4 });
  const dropouts = new Map<ClientId, Stage>([[5 as ClientId, 'masked']]);

  /** The round of `label` through a shadow server; with `steps`, its plan built one step per call. */
  function planned(label: string, steps: boolean, tamper?: (m: ClientMessage) => ClientMessage) {
    const { inputs, shadow, report } = shadowedRound(params, label, dropouts, 'external', {
      planInSteps: steps,
      ...(tamper && { tamper }),
    });
    const server = shadow.finish();
    let calls = 0;
    if (steps) {
      assert.equal(server.planningUnmask, true, 'the plan is not built when the stage closes');
      assert.equal(server.pendingUnmask, undefined);
      assert.equal(server.stage, 'unmask');
      assert.equal(server.pollTimeout(), undefined);
      while (server.planningUnmask) {
        server.planUnmask(1);
        calls++;
      }
    }
    return { server, report, inputs, calls };
  }

  it('builds, a response or a secret per call, the plan built at once, and the round ends with the same sum', () => {
    const label = 'unmask-parallel/steps';
    const atOnce = planned(label, false);
    const stepwise = planned(label, true);
    // 5 responses gathered, 5 survivors' self masks and the dropped client's key: a call each.
    assert.ok(stepwise.calls >= 11, `${stepwise.calls} calls`);
    const plan = stepwise.server.pendingUnmask!;
    assert.ok(plan);
    assert.equal(plan.jobs.length, atOnce.server.pendingUnmask!.jobs.length);
    assertSameWords(runUnmaskPlan(plan), runUnmaskPlan(atOnce.server.pendingUnmask!));
    stepwise.server.completeUnmask(runUnmaskPlan(plan));
    const result = stepwise.server.result;
    assert.ok(result?.status === 'ok' && stepwise.report.result.status === 'ok');
    assertSameWords(result.sums, plainSum(params, stepwise.inputs, stepwise.report.result.survivors));
    for (const job of plan.jobs)
      assert.ok(
        job.seed.every((b) => b === 0),
        'seeds are zeroed',
      );
    assert.throws(() => stepwise.server.planUnmask(1), /no plan being built/);
  });

  it('aborts in the step that meets an unrecoverable secret, as the plan built at once does', () => {
    // Every holder's share of client 2's self-mask seed is changed: no t of them give a seed that
    // matches its commitment, so the round cannot be unmasked.
    const tamper = (m: ClientMessage): ClientMessage => {
      if (m.type !== 'unmask') return m;
      const selfMaskShares = m.selfMaskShares.map((sh) => {
        if (sh.of !== 2) return sh;
        const share = sh.share.slice();
        share[share.length - 1]! ^= 1;
        return { ...sh, share };
      });
      return { ...m, selfMaskShares };
    };
    const label = 'unmask-parallel/steps-abort';
    const atOnce = planned(label, false, tamper).server.result;
    const stepwise = planned(label, true, tamper);
    assert.equal(stepwise.server.planningUnmask, false);
    assert.equal(stepwise.server.pendingUnmask, undefined);
    const result = stepwise.server.result;
    assert.equal(result?.status, 'aborted');
    assert.ok(result?.status === 'aborted' && atOnce?.status === 'aborted');
    assert.equal(result.error.code, 'reconstruction-failed');
    assert.equal(result.error.message, atOnce.error.message);
  });

  it('is refused without an external unmask, and planUnmask before the stage has closed', () => {
    assert.throws(
      () => new SecAggServer({ params, planInSteps: true }),
      /planInSteps needs unmask: 'external'/,
    );
    const server = new SecAggServer({ params, unmask: 'external', planInSteps: true });
    server.start(0);
    assert.equal(server.planningUnmask, false);
    assert.throws(() => server.planUnmask(1), /no plan being built \(stage 'advertise'\)/);
  });
});
