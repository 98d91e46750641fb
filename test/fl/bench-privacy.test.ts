// The privacy benchmark (src/fl/bench-privacy.ts, src/fl/aggregators.ts, `privagg bench privacy`):
// the --quick configuration end to end with its files; secure aggregation alone equals the float
// mean up to quantization; distributed DP through secure aggregation is the clipped mean plus noise
// of the promised size; every DP run's accountant ends within its target ε.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { benchCommand, parseBenchArgs } from '../../src/cli/bench.ts';
import { CliError } from '../../src/cli/command.ts';
import {
  aggregateSecurely,
  type CohortRound,
  calibrate,
  type DpSettings,
  dpSecureAggregator,
  plainAggregator,
  secaggAggregator,
  secaggErrorBound,
} from '../../src/fl/aggregators.ts';
import { cohortCap, quickBenchConfig } from '../../src/fl/bench-privacy.ts';
import { loadTrainExamples, threadTrainer, workerTrainer } from '../../src/fl/bench-train.ts';
import { initWeights, softmaxSpec } from '../../src/fl/model.ts';
import { partitionIid } from '../../src/fl/partition.ts';
import { SimRandom } from '../../src/fl/random.ts';
import { defaultThreshold } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';

const rngFor = (label: string) => new DeterministicRng(`bench-privacy.test/${label}`);
const protocolRng = {
  bits: 20,
  rngFor: (id: number) => new DeterministicRng(`bench-privacy.test/client-${id}`),
};

function randomUpdates(n: number, d: number, scale: number, seed: number): Float32Array[] {
  const rng = new SimRandom(seed, 'updates');
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => scale * rng.normal()));
}

function cohort(n: number): CohortRound {
  return { round: 1, clients: n, threshold: defaultThreshold(n, 'semi-honest'), maxCorruptClients: 0 };
}

describe('privagg bench privacy --quick', () => {
  it('runs end to end, prints the table and writes valid files; every DP run stays within its ε', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'privagg-bench-'));
    try {
      const printed: string[] = [];
      t.mock.method(console, 'log', (text: string) => printed.push(text));
      const code = await benchCommand.run(['privacy', '--quick', '--out', dir, '--epsilons', '1,8']);
      t.mock.restoreAll();
      assert.equal(code, 0);
      const stdout = printed.join('\n');
      assert.match(
        stdout,
        /\| ε +\| central, no SecAgg \| central \+ SecAgg \| distributed, no SecAgg \| distributed \+ SecAgg \|/,
      );
      for (const row of ['1', '8', '∞'])
        assert.match(stdout, new RegExp(`^\\| ${row} +\\|( +\\d+\\.\\d%\\s+\\|){4}`, 'm'));

      const json = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
      const quick = quickBenchConfig();
      assert.equal(json.config.clients, quick.clients);
      assert.equal(json.config.rounds, quick.rounds);
      // plain + SecAgg alone + 2 ε × 4 aggregators.
      assert.equal(json.runs.length, 10);
      assert.deepEqual(
        json.table.map((r: { epsilon: number | null }) => r.epsilon),
        [1, 8, null],
      );
      for (const run of json.runs) {
        assert.equal(run.rounds.length, quick.rounds, run.id);
        assert.ok(run.finalAccuracy > 0.1 && run.finalAccuracy <= 1, `${run.id}: ${run.finalAccuracy}`);
        if (run.targetEpsilon === null) {
          assert.equal(run.epsilonSpent, undefined);
          continue;
        }
        // Read back from the run's accountant: within the target (the distributed float run uses the
        // distributed z, whose Gaussian accounting lands below it).
        assert.ok(
          run.epsilonSpent > 0 && run.epsilonSpent <= run.targetEpsilon * (1 + 1e-9),
          `${run.id}: ε ${run.epsilonSpent}`,
        );
        if (run.kind !== 'distributed-float') assert.ok(run.epsilonSpent > 0.9 * run.targetEpsilon, run.id);
        assert.ok(run.noiseMultiplier > 0);
        assert.equal(run.rounds[0].clip, quick.clip, `${run.id}: the first round's clip`);
        assert.deepEqual(
          run.rounds.map((r: { epsilon: number }) => r.epsilon > 0),
          [true, true, true],
        );
      }
      // The same z for the float and secure runs of a family and ε; more noise for smaller ε.
      const z = (id: string) => json.runs.find((r: { id: string }) => r.id === id).noiseMultiplier;
      assert.equal(z('central-float@1'), z('central-secagg@1'));
      assert.equal(z('distributed-float@8'), z('distributed-secagg@8'));
      assert.ok(z('central-secagg@1') > z('central-secagg@8'));
      assert.ok(z('distributed-secagg@1') >= z('central-secagg@1'));
      assert.ok(json.secaggCheck.maxAbsError <= json.secaggCheck.bound, JSON.stringify(json.secaggCheck));

      const svg = await readFile(join(dir, 'accuracy-vs-epsilon.svg'), 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<\/svg>\n$/);
      assert.equal(svg.match(/<path /g)?.length, 4, 'one line per column');
      assert.match(svg, />∞</);
      const table = await readFile(join(dir, 'table.md'), 'utf8');
      assert.match(table, /distributed \+ SecAgg/);
      assert.match(table, /Poisson sampling q = 0\.1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--seeds runs once per seed and reports each cell’s mean and spread', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'privagg-bench-seeds-'));
    try {
      const printed: string[] = [];
      t.mock.method(console, 'log', (text: string) => printed.push(text));
      const args = ['privacy', '--quick', '--out', dir, '--epsilons', '8', '--rounds', '2', '--seeds', '3,4'];
      assert.equal(await benchCommand.run(args), 0);
      t.mock.restoreAll();
      const stdout = printed.join('\n');
      assert.match(stdout, /seed 3:/);
      assert.match(stdout, /seed 4:/);
      assert.match(stdout, /over seeds 3, 4: mean ± half the range/);
      const json = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
      assert.deepEqual(json.seeds, [3, 4]);
      const cell = json.cells.find((c: { epsilon: number | null }) => c.epsilon === 8)[
        'distributed + SecAgg'
      ];
      assert.equal(cell.values.length, 2);
      const [a, b] = cell.values as number[];
      assert.ok(
        Math.abs(cell.mean - (a! + b!) / 2) < 1e-12 && Math.abs(cell.spread - Math.abs(a! - b!) / 2) < 1e-12,
      );
      // Each seed's own files, and its own partition: the two seeds' results differ.
      const one = JSON.parse(await readFile(join(dir, 'seed-3', 'results.json'), 'utf8'));
      const two = JSON.parse(await readFile(join(dir, 'seed-4', 'results.json'), 'utf8'));
      assert.equal(one.config.seed, 3);
      assert.equal(two.config.seed, 4);
      assert.notDeepEqual(one.table, two.table);
      const table = await readFile(join(dir, 'table.md'), 'utf8');
      assert.match(table, /\d+\.\d% ±\d+\.\d/);
      assert.throws(
        () => parseBenchArgs(['privacy', '--seed', '1', '--seeds', '1,2']),
        /either --seed or --seeds/,
      );
      assert.throws(() => parseBenchArgs(['privacy', '--seeds', '1,1']), /must not repeat/);
      assert.deepEqual(parseBenchArgs(['privacy', '--seeds', '5,6']).seeds, [5, 6]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses flags and refuses bad ones', () => {
    const { config, out } = parseBenchArgs([
      'privacy',
      '--rounds',
      '40',
      '--clients',
      '2000',
      '--cohort',
      '150',
      '--epsilons',
      '2,4',
      '--mechanisms',
      'distributed',
      '--model',
      'mlp',
      '--seed',
      '7',
      '--out',
      'x',
    ]);
    assert.equal(out, 'x');
    assert.deepEqual(
      [
        config.rounds,
        config.clients,
        config.cohort,
        config.epsilons,
        config.mechanisms,
        config.model,
        config.seed,
      ],
      [40, 2000, 150, [2, 4], ['distributed'], 'mlp', 7],
    );
    assert.throws(() => parseBenchArgs(['privacy', '--epsilons', '1,x']), CliError);
    assert.throws(() => parseBenchArgs(['privacy', '--mechanisms', 'local']), CliError);
    assert.throws(() => parseBenchArgs(['privacy', '--cohort', '5000']), CliError);
    assert.throws(() => parseBenchArgs(['speed']), /unknown benchmark/);
  });
});

describe('aggregators', () => {
  it('secure aggregation alone gives the float mean within the quantization bound', () => {
    const n = 12;
    const d = 3000;
    const updates = randomUpdates(n, d, 0.05, 1);
    const settings = { dimension: d, bits: 20, coordinateClip: 1, maxClients: cohortCap(100, 0.12) };
    const secure = secaggAggregator({ ...settings, rngFor });
    const report = aggregateSecurely([secure.begin(cohort(n))], [updates], cohort(n), protocolRng);
    const exact = plainAggregator(d).aggregate(updates, cohort(n)).mean;
    const got = report.aggregates[0]!.mean;
    const bound = secaggErrorBound(settings);
    let worst = 0;
    for (let i = 0; i < d; i++) worst = Math.max(worst, Math.abs(got[i]! - exact[i]!));
    assert.ok(worst <= bound, `error ${worst} above the bound ${bound}`);
    assert.ok(worst > 0, 'quantization should leave some error');
    // Stochastic rounding: the errors of n clients average out far below the worst case.
    let squares = 0;
    for (let i = 0; i < d; i++) squares += (got[i]! - exact[i]!) ** 2;
    assert.ok(Math.sqrt(squares / d) < bound / Math.sqrt(n), `rms error ${Math.sqrt(squares / d)}`);
  });

  it("a run's segment of a shared protocol round equals a round of its own", () => {
    const n = 8;
    const d = 500;
    const updates = randomUpdates(n, d, 0.05, 2);
    const make = () =>
      secaggAggregator({ dimension: d, bits: 20, coordinateClip: 1, maxClients: 20, rngFor });
    const dp: DpSettings = {
      mechanism: 'central',
      dimension: d,
      noiseMultiplier: 1,
      clip: 0.5,
      bits: 20,
      maxClients: 20,
      thresholdFor: (m) => defaultThreshold(m, 'semi-honest'),
      maxCorruptClients: 0,
      denominator: 8,
      q: 0.1,
      rngFor,
    };
    const alone = aggregateSecurely([make().begin(cohort(n))], [updates], cohort(n), protocolRng);
    const shared = aggregateSecurely(
      [dpSecureAggregator(dp).begin(cohort(n)), make().begin(cohort(n))],
      [updates, updates],
      cohort(n),
      protocolRng,
    );
    assert.deepEqual(shared.aggregates[1]!.mean, alone.aggregates[0]!.mean);
    assert.equal(shared.vectorLength, 2 * d);
  });

  it('distributed DP through secure aggregation: the clipped mean plus noise of the promised size', () => {
    const n = 30;
    const d = 2000;
    const clip = 0.5;
    const m = 25; // the fixed denominator: the expected cohort
    const updates = randomUpdates(n, d, 0.02, 3); // norms ≈ 0.02·√2000 ≈ 0.89: every update is clipped
    const settings: DpSettings = {
      mechanism: 'distributed',
      dimension: d,
      noiseMultiplier: 1.5,
      clip,
      bits: 20,
      maxClients: 40,
      thresholdFor: (k) => defaultThreshold(k, 'semi-honest'),
      maxCorruptClients: 0,
      denominator: m,
      q: 0.05,
      rngFor,
    };
    const aggregator = dpSecureAggregator(settings);
    const round = cohort(n);
    const report = aggregateSecurely([aggregator.begin(round)], [updates], round, protocolRng);
    const { mean, clipped } = report.aggregates[0]!;
    assert.equal(clipped, n);
    // The clipped mean, in floats.
    const expected = new Float64Array(d);
    for (const u of updates) {
      const norm = Math.sqrt(u.reduce((s, x) => s + x * x, 0));
      for (let i = 0; i < d; i++) expected[i]! += (u[i]! * clip) / norm / m;
    }
    // Every client adds variance z²Δ²/h (ring units), so n/h times z²C² in all, up to rounding's
    // inflation of Δ (under 1% here), divided by m.
    const h = round.threshold;
    const sigma = (settings.noiseMultiplier * clip * Math.sqrt(n / h)) / m;
    let sum = 0;
    let squares = 0;
    let worst = 0;
    for (let i = 0; i < d; i++) {
      const r = mean[i]! - expected[i]!;
      sum += r;
      squares += r * r;
      worst = Math.max(worst, Math.abs(r));
    }
    const sd = Math.sqrt(squares / d);
    assert.ok(Math.abs(sum / d) < (4 * sigma) / Math.sqrt(d), `residual mean ${sum / d}, σ ${sigma}`);
    assert.ok(sd > 0.93 * sigma && sd < 1.07 * sigma, `residual sd ${sd}, expected ${sigma}`);
    assert.ok(worst < 6 * sigma, `largest residual ${worst} beyond 6σ = ${6 * sigma}`);
    assert.equal(aggregator.privacy.rounds, 1);
    assert.ok(aggregator.privacy.epsilon(1e-5) > 0);
  });

  it('calibrate: the z it returns meets the target on the composed curve, and 2% less does not', () => {
    const base: Omit<DpSettings, 'noiseMultiplier'> = {
      mechanism: 'central',
      dimension: 7850,
      clip: 1,
      bits: 20,
      maxClients: 157,
      thresholdFor: (k) => defaultThreshold(k, 'semi-honest'),
      maxCorruptClients: 0,
      denominator: 100,
      q: 0.1,
      rngFor,
    };
    for (const mechanism of ['central', 'distributed'] as const) {
      for (const targetEpsilon of [1, 8]) {
        const target = { targetEpsilon, delta: 1e-5, rounds: 30 };
        const { noiseMultiplier: z, epsilon } = calibrate({ ...base, mechanism }, target);
        assert.ok(epsilon <= targetEpsilon, `${mechanism} ε=${targetEpsilon}: got ${epsilon}`);
        const lower = calibrate(
          { ...base, mechanism, q: 0.1 },
          { ...target, targetEpsilon: targetEpsilon * 1.2 },
        );
        assert.ok(lower.noiseMultiplier < z, `${mechanism}: a larger ε must need less noise`);
        const aggregator = dpSecureAggregator({ ...base, mechanism, noiseMultiplier: z * 0.98 });
        for (let r = 0; r < 30; r++) aggregator.privacy.skip();
        assert.ok(
          aggregator.privacy.epsilon(1e-5) > targetEpsilon,
          `${mechanism}: 2% less noise still meets ε`,
        );
      }
    }
  });

  it('training in a worker thread gives the same updates as in this thread', async () => {
    const source = { dataset: 'fashion-mnist' as const, examples: 600 };
    const train = await loadTrainExamples(source);
    const partition = partitionIid(train.count, { clients: 10, seed: 4 });
    const local = { epochs: 1, batchSize: 20, learningRate: 0.3 };
    const weights = initWeights(softmaxSpec());
    const requests = [
      { weights, clients: [0, 3, 7], seeds: [11, 12, 13] },
      { weights, clients: [3, 9], seeds: [12, 14] },
    ];
    const here = await threadTrainer(train, partition, local).train(requests);
    const pool = await workerTrainer(1, source, partition, local);
    try {
      const there = await pool.train(requests);
      assert.deepEqual(there, here);
      assert.equal(here[0]![0]!.length, 7850);
      assert.ok(here[0]![0]!.some((x) => x !== 0));
    } finally {
      await pool.close();
    }
  });
});
