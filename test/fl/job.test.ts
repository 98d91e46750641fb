/**
 * Short federated runs through the whole stack — coordinator, gRPC, clients in worker threads, local
 * training, secure aggregation and distributed DP: the model learns well above chance, the privacy
 * spent stays within the budget and is recorded, dropouts happen and the rounds survive them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDataset } from '../../src/fl/data.ts';
import { type JobConfig, runFederatedJob } from '../../src/fl/job.ts';
import { softmaxSpec } from '../../src/fl/model.ts';
import { partitionIid } from '../../src/fl/partition.ts';

async function smallJob(overrides: Partial<JobConfig>): Promise<JobConfig> {
  const { train } = await loadDataset('mnist', { seed: 3 });
  const clients = overrides.clients ?? 4;
  // A small subset: 150 digits per client.
  const partition = partitionIid(train.count, { clients: Math.floor(train.count / 150), seed: 3 }).slice(
    0,
    clients,
  );
  return {
    dataset: 'mnist',
    model: softmaxSpec(),
    clients,
    rounds: 3,
    partition: { kind: 'explicit', clients: partition },
    training: { epochs: 1, batchSize: 20, learningRate: 0.1, repeat: 2 },
    server: { kind: 'sgd', learningRate: 1 },
    dropoutRate: 0,
    workers: 2,
    seed: 3,
    evalExamples: 1_000,
    minNoiseMultiplier: 0.1,
    ...overrides,
  };
}

describe('federated job over gRPC', () => {
  it('secure aggregation without noise: accuracy rises well above chance (10%)', async () => {
    // With the dashboard: while the job runs, /state has each ended round with its accuracy.
    let url: string | undefined;
    const seen: { round: number; accuracy: number | undefined }[] = [];
    const result = await runFederatedJob(
      await smallJob({ clients: 3, dashboard: { host: '127.0.0.1', port: 0 } }),
      {
        onDashboard: (u) => {
          url = u;
        },
        onRound: async (record) => {
          const state = (await (await fetch(`${url}state`)).json()) as {
            rounds: { round: number; notes?: { accuracy?: number } }[];
          };
          const entry = state.rounds.find((r) => r.round === record.round);
          seen.push({ round: record.round, accuracy: entry?.notes?.accuracy });
          assert.equal(entry?.notes?.accuracy, record.accuracy);
        },
      },
    );
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.deepEqual(
      seen.map((s) => s.round),
      [1, 2, 3],
    );
    assert.equal(result.rounds.length, 3);
    assert.ok(
      result.rounds.every((r) => r.status === 'ok'),
      JSON.stringify(result.rounds),
    );
    assert.ok(result.final.accuracy > 0.6, `final accuracy ${result.final.accuracy}`);
    assert.ok(result.rounds[2]!.loss < result.rounds[0]!.loss, 'the loss falls');
  });

  it('distributed DP with dropouts: learns, spends at most the budget, survives dropouts', async () => {
    const config = await smallJob({
      clients: 8,
      dropoutRate: 0.15,
      privacy: { mechanism: 'distributed-skellam', clip: 1, targetEpsilon: 30, delta: 1e-5 },
    });
    const result = await runFederatedJob(config);
    const ok = result.rounds.filter((r) => r.status === 'ok');
    assert.ok(ok.length >= 2, `rounds completed: ${JSON.stringify(result.rounds)}`);
    const dropped = result.rounds.reduce((a, r) => a + r.dropped, 0);
    assert.ok(dropped > 0, 'clients dropped out');
    assert.ok(result.final.accuracy > 0.3, `final accuracy ${result.final.accuracy}`);
    const epsilons = result.rounds.map((r) => r.epsilon ?? Number.NaN);
    assert.ok(
      epsilons.every((e, i) => e > 0 && e <= 30 && (i === 0 || e >= epsilons[i - 1]!)),
      `ε per round ${epsilons}`,
    );
    assert.ok(result.start.noiseMultiplier !== undefined && result.start.noiseMultiplier > 0, 'noise');
  });
});
