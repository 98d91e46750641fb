/**
 * `privagg demo --preset NAME`: runs a federated training job through the coordinator, secure
 * aggregation and (for the main preset) differential privacy, over loopback gRPC.
 *
 * Presets:
 * - `main`: the job `npm start` runs (src/fl/main-job.ts).
 * - `tff-example`: the classic TensorFlow Federated FedAvg example — one dense softmax layer on 784
 *   inputs, zero-initialised, client SGD at learning rate 0.1, each client's data repeated 10 times
 *   in batches of 20, 3 clients, 5 rounds, the loss printed each round — but through secure
 *   aggregation. TFF's example takes the first three clients of federated EMNIST (a few hundred
 *   digits each); here the three clients are the first three of an IID split of the MNIST training
 *   digits into 100 clients (80 each).
 * @module
 */
import { echo } from '../text/echo.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';

const PRESETS = ['main', 'tff-example'] as const;
type Preset = (typeof PRESETS)[number];

const usage = `usage: privagg demo [--preset main|tff-example] [--out DIR]

Runs federated training over loopback gRPC through the secure aggregation coordinator, with simulated
clients in worker threads; prints a table per round and writes a report (JSON and an SVG chart).

  --preset main          the main job (default; what 'npm start' runs): MNIST across 100 non-IID
                         clients, distributed differential privacy within a budget, dropouts
  --preset tff-example   TensorFlow Federated's classic FedAvg example (softmax on 784 inputs,
                         zero-initialised, client SGD lr 0.1, data repeated 10x in batches of 20,
                         3 clients, 5 rounds), through secure aggregation, without noise
  --out DIR              report folder (default privagg-runs/<preset>-<time>)

The last line is "final: accuracy=<a> epsilon=<e> delta=<d> rounds=<n>" (epsilon=inf, delta=0 without
differential privacy).`;

async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandLine(argv, { preset: { type: 'string' }, out: { type: 'string' } }).values as {
    preset?: string;
    out?: string;
  };
  const preset = (values.preset ?? 'main') as Preset;
  if (!PRESETS.includes(preset)) {
    throw new CliError(`--preset must be one of ${PRESETS.join(', ')}, got '${echo(values.preset!)}'`);
  }
  const out = values.out ?? `privagg-runs/${preset}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const { MAIN_JOB, tffExampleJob, runMainJob } = await import('../fl/main-job.ts');
  try {
    if (preset === 'main') {
      return await runMainJob(MAIN_JOB, out, 'privagg demo: the main job');
    }
    return await runMainJob(
      await tffExampleJob(),
      out,
      "privagg demo: TensorFlow Federated's classic FedAvg example, through secure aggregation",
    );
  } catch (error) {
    // One line, not a stack: the wasm backend's handlers would otherwise print its whole source.
    console.error(`privagg: the demo failed: ${(error as Error).message}`);
    return 1;
  }
}

/** The `privagg demo` command. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'federated training demos through secure aggregation (presets: main, tff-example)',
  usage,
  run,
};
