/**
 * The main job as a user sees it: runs a {@link JobConfig} with a progress bar on stderr, one table
 * row per round on stdout, a summary, a report folder (JSON and an SVG chart of accuracy and ε by
 * round), and as its very last line `final: accuracy=<a> epsilon=<ε> delta=<δ> rounds=<n>`.
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadDataset } from './data.ts';
import { type JobConfig, type JobRoundRecord, runFederatedJob } from './job.ts';
import { softmaxSpec } from './model.ts';
import { partitionIid } from './partition.ts';
import { Progress } from './progress.ts';
import { writeRunReport } from './report.ts';

/** The embedded default: MNIST digits, 100 non-IID clients, distributed DP, secure aggregation. */
export const MAIN_JOB: JobConfig = {
  dataset: 'mnist',
  model: softmaxSpec(),
  clients: 100,
  rounds: 15,
  partition: { kind: 'dirichlet', alpha: 0.5 },
  training: { epochs: 2, batchSize: 10, learningRate: 0.1 },
  server: { kind: 'sgd', learningRate: 1 },
  // The clip norm starts at 1 and follows the median update norm (Andrew et al. 2021).
  privacy: {
    mechanism: 'distributed-skellam',
    clip: 1,
    targetEpsilon: 8,
    delta: 1e-5,
    adaptiveQuantile: 0.5,
  },
  dropoutRate: 0.03,
  workers: 2,
  seed: 1,
  evalExamples: 2_000,
  minNoiseMultiplier: 0.3,
  // The live dashboard on a free loopback port, named on stdout.
  dashboard: { host: '127.0.0.1', port: 0 },
};

/**
 * TensorFlow Federated's classic FedAvg example through secure aggregation: softmax on 784 inputs,
 * zero-initialised, client SGD at 0.1 on data repeated 10 times in batches of 20, 3 clients, 5 rounds,
 * no noise. The clients are the first three of an IID split of the training digits into 100.
 */
export async function tffExampleJob(): Promise<JobConfig> {
  const { train } = await loadDataset('mnist', { seed: 1 });
  const hundred = partitionIid(train.count, { clients: 100, seed: 1 });
  return {
    dataset: 'mnist',
    model: softmaxSpec(),
    clients: 3,
    rounds: 5,
    partition: { kind: 'explicit', clients: hundred.slice(0, 3) },
    training: { epochs: 1, batchSize: 20, learningRate: 0.1, repeat: 10 },
    server: { kind: 'sgd', learningRate: 1 },
    dropoutRate: 0,
    workers: 2,
    seed: 1,
    evalExamples: 2_000,
    minNoiseMultiplier: 0.3,
  };
}

const HEADER = 'round  clients  dropped  accuracy    loss  clip     epsilon';

function row(r: JobRoundRecord): string {
  const status = r.status === 'ok' ? '' : `  aborted: ${r.reason ?? ''}`;
  return (
    `${String(r.round).padStart(5)}  ${String(r.clients).padStart(7)}  ${String(r.dropped).padStart(7)}  ` +
    `${r.accuracy.toFixed(4).padStart(8)}  ${r.loss.toFixed(3).padStart(6)}  ${r.clip.toFixed(3).padStart(5)}  ` +
    `${(r.epsilon === null ? 'inf' : r.epsilon.toFixed(3)).padStart(10)}${status}`
  );
}

/**
 * Runs the job and prints as it goes.
 * @param reportDir - the folder for the report (created)
 * @returns the process exit code
 */
export async function runMainJob(config: JobConfig, reportDir: string, title: string): Promise<number> {
  const started = performance.now();
  const progress = new Progress({ total: config.clients * config.rounds, label: 'training' });
  const dp = config.privacy;
  const reported = new Set<string>();
  let first: JobRoundRecord | undefined;
  const firstRecord = (record: JobRoundRecord) => {
    first ??= record;
    return first;
  };
  console.log(title);
  const result = await runFederatedJob(config, {
    onStart: (info) => {
      const split =
        config.partition.kind === 'dirichlet'
          ? `Dirichlet alpha=${config.partition.alpha}`
          : config.partition.kind;
      console.log(
        `${config.dataset}: ${info.trainExamples} training examples over ${config.clients} clients (${split}), ` +
          `${info.testExamples} test examples; model ${config.model.kind} (${info.parameters} parameters); ` +
          `tfjs backend ${info.backend}`,
      );
      console.log(
        `secure aggregation: ${config.clients} clients per round, threshold ${info.threshold}, ` +
          `${Math.round(config.dropoutRate * 100)}% of clients drop out per round at a random stage`,
      );
      console.log(
        dp && info.noiseMultiplier !== undefined
          ? `differential privacy: ${dp.mechanism}, clip ${dp.clip}, noise multiplier ` +
              `${info.noiseMultiplier.toFixed(3)} (calibrated: ${config.rounds} rounds within epsilon ` +
              `${dp.targetEpsilon}, delta ${dp.delta})`
          : 'differential privacy: none (secure aggregation only)',
      );
    },
    onDashboard: (url) => console.log(`dashboard: ${url} (live while training)`),
    onTrained: () => progress.tick(),
    onClientProblem: (name, round, outcome, detail) => {
      // Each distinct reason once: a hundred clients refusing alike is one message.
      const reason = detail.replace(/\b\d+(\.\d+)?\b/g, '#');
      if (reported.has(reason)) return;
      reported.add(reason);
      progress.clear();
      console.error(`privagg: ${name} ${outcome} in round ${round}: ${detail}`);
    },
    onRound: (record) => {
      progress.clear();
      // The header with the first row: the dashboard's line comes once the coordinator listens.
      if (record === firstRecord(record)) console.log(HEADER);
      console.log(row(record));
    },
  });
  progress.finish();
  const seconds = (performance.now() - started) / 1000;
  const ok = result.rounds.filter((r) => r.status === 'ok').length;
  const dropped = result.rounds.reduce((a, r) => a + r.dropped, 0);
  const privacyNote = dp
    ? `epsilon ${result.final.epsilon.toFixed(3)} (delta ${dp.delta})`
    : 'no differential privacy';
  console.log(
    `summary: ${ok} of ${result.rounds.length} rounds completed, ${dropped} client dropouts, ` +
      `accuracy ${result.final.accuracy.toFixed(4)}, ${privacyNote} in ${seconds.toFixed(1)} s`,
  );
  const base = resolve(reportDir, 'report');
  const { json, svg } = await writeRunReport(
    base,
    { meta: { title, config: jsonConfig(config), start: result.start, seconds }, rounds: result.rounds },
    title,
  );
  await writeFile(resolve(reportDir, 'rounds.txt'), [HEADER, ...result.rounds.map(row), ''].join('\n'));
  console.log(`report: ${json}, ${svg}`);
  // Without differential privacy ε is infinite and δ is 0.
  const epsilon = dp ? result.final.epsilon.toFixed(4) : 'inf';
  console.log(
    `final: accuracy=${result.final.accuracy.toFixed(4)} epsilon=${epsilon} delta=${dp?.delta ?? 0} ` +
      `rounds=${result.rounds.length}`,
  );
  return ok > 0 ? 0 : 1;
}

function jsonConfig(config: JobConfig): unknown {
  return {
    ...config,
    partition: config.partition.kind === 'explicit' ? { kind: 'explicit' } : config.partition,
  };
}
