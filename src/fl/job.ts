/**
 * The federated job: a coordinator and simulated clients training one model together over loopback
 * gRPC, with secure aggregation, distributed (or central) differential privacy, a privacy budget
 * kept in a durable ledger, and clients dropping out. `npm start` and `privagg demo` run it.
 *
 * The coordinator runs on this thread. Its {@link RoundPlanner} sends each round the global model
 * and the local training settings as the task (bound into the round, docs/PROTOCOL.md §2.1), and
 * announces the round's privacy; when a round ends it divides the released noisy sum by the number of
 * clients in it (a public count), applies the server optimizer and evaluates on the test set. The
 * clients run in worker threads (./job-clients.ts), each with its own gRPC channel.
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { type AnnouncedPrivacy, type PrivacyPlan, planMechanism } from '../dp/announced.ts';
import { PrivacyLedger } from '../dp/ledger.ts';
import { calibrateNoiseMultiplier, PrivacyRounds } from '../dp/round-planner.ts';
import { siblingModule, workerEntry } from '../runtime/worker-entry.ts';
import type { Stage } from '../secagg/messages.ts';
import { defaultThreshold } from '../secagg/params.ts';
import { dequantizeSum, maxScale } from '../secagg/quantize.ts';
import { Coordinator, type RoundOutcome } from '../server/coordinator.ts';
import { Monitor } from '../server/monitor.ts';
import { participateService } from '../wire/service.ts';
import { initBackend } from './backend.ts';
import { type DatasetName, head, loadDataset } from './data.ts';
import { evaluate } from './evaluate.ts';
import { ServerOptimizer, type ServerOptimizerConfig } from './fedavg.ts';
import type { ClientsWorkerData, ClientsWorkerMessage, SimulatedClient } from './job-clients.ts';
import { initWeights, type ModelSpec, tensorShapes, type Weights } from './model.ts';
import { type Partition, partitionDirichlet, partitionIid } from './partition.ts';
import { SimRandom } from './random.ts';
import type { RoundRecord } from './report.ts';
import { encodeTask, type LocalTraining } from './task.ts';

/** The differential privacy of a job. */
export interface JobPrivacy {
  readonly mechanism: AnnouncedPrivacy['mechanism'];
  /** C: the clip norm (the first round's, with adaptive clipping). */
  readonly clip: number;
  /** The budget; the noise is calibrated so that all rounds fit. */
  readonly targetEpsilon: number;
  readonly delta: number;
  /** Adaptive clipping to this quantile of update norms (Andrew et al. 2021), if set. */
  readonly adaptiveQuantile?: number;
}

/** Everything a job runs with. */
export interface JobConfig {
  readonly dataset: DatasetName;
  readonly model: ModelSpec;
  /** Simulated clients; every one is in every round (no sampling, so no amplification is claimed). */
  readonly clients: number;
  readonly rounds: number;
  /** How the training split is divided: IID, Dirichlet label skew, or explicit index lists. */
  readonly partition:
    | { readonly kind: 'iid' }
    | { readonly kind: 'dirichlet'; readonly alpha: number }
    | { readonly kind: 'explicit'; readonly clients: Partition };
  readonly training: LocalTraining;
  readonly server: ServerOptimizerConfig;
  /** Absent: secure aggregation alone, the update quantized after clipping to `plainClip`. */
  readonly privacy?: JobPrivacy;
  /** Without privacy: the L2 bound that keeps the quantized sum from wrapping (default 10). */
  readonly plainClip?: number;
  /** Probability that a client drops out in a round, at a stage drawn uniformly. */
  readonly dropoutRate: number;
  /** Worker threads hosting the clients. */
  readonly workers: number;
  readonly seed: number;
  /** Test examples evaluated after each round. */
  readonly evalExamples: number;
  /** The ledger file; default a fresh one in a temporary folder (removed afterwards). */
  readonly ledgerPath?: string;
  /** Clients' privacy floor (their policy), with differential privacy. */
  readonly minNoiseMultiplier: number;
  /**
   * Serve the coordinator's live dashboard and metrics (server/monitor.ts) here while the job runs,
   * with each round's test accuracy in its timeline; port 0 picks a free one.
   */
  readonly dashboard?: { readonly host: string; readonly port: number };
}

/** What the job reports as it goes. */
export interface JobEvents {
  /** After the setup: the calibrated noise and the round's shape. */
  onStart?(info: JobStartInfo): void;
  /** Each client's local training finished (for a progress bar). */
  onTrained?(): void;
  /** A client's round ended other than by completing or dropping out as scheduled (e.g. a refusal). */
  onClientProblem?(name: string, round: number, outcome: string, detail: string): void;
  /** A round ended; the next round starts once a returned promise settles. */
  onRound?(record: JobRoundRecord): void | Promise<void>;
  /** The dashboard is being served at `url` (with `config.dashboard`). */
  onDashboard?(url: string): void;
}

/** The setup a job settled on. */
export interface JobStartInfo {
  /** Absent without differential privacy. */
  readonly noiseMultiplier?: number;
  readonly threshold: number;
  readonly parameters: number;
  readonly trainExamples: number;
  readonly testExamples: number;
  readonly backend: string;
}

/** A round's row. */
export interface JobRoundRecord extends RoundRecord {
  readonly status: 'ok' | 'aborted';
  readonly clip: number;
  readonly reason?: string;
}

/** A finished job. */
export interface JobResult {
  readonly rounds: readonly JobRoundRecord[];
  readonly start: JobStartInfo;
  readonly final: { readonly accuracy: number; readonly loss: number; readonly epsilon: number };
}

const DROP_STAGES: readonly Stage[] = ['advertise', 'share', 'masked', 'unmask'];

function partitionOf(config: JobConfig, labels: Uint8Array, count: number): Partition {
  const p = config.partition;
  if (p.kind === 'explicit') return p.clients;
  if (p.kind === 'iid') return partitionIid(count, { clients: config.clients, seed: config.seed });
  return partitionDirichlet(labels, { clients: config.clients, seed: config.seed, alpha: p.alpha });
}

/**
 * Runs a job to its end.
 * @throws (rejects with) any setup error (bad settings, no admissible privacy parameters), or if a
 *   worker fails
 */
export async function runFederatedJob(config: JobConfig, events: JobEvents = {}): Promise<JobResult> {
  const backend = await initBackend();
  const data = await loadDataset(config.dataset, { seed: config.seed });
  const test = head(data.test, config.evalExamples);
  const partition = partitionOf(config, data.train.labels, data.train.count);
  const threshold = defaultThreshold(config.clients, 'semi-honest');
  const shape = { clients: config.clients, threshold, maxCorruptClients: 0 };
  const parameters = [...tensorShapes(config.model).values()].reduce(
    (a, s) => a + s.reduce((x, y) => x * y, 1),
    0,
  );
  const dp = config.privacy;
  const adaptive = dp?.adaptiveQuantile !== undefined && {
    targetQuantile: dp.adaptiveQuantile,
    learningRate: 0.2,
    bitNoiseStddev: Math.max(1, config.clients / 20),
  };
  const noiseMultiplier =
    dp &&
    calibrateNoiseMultiplier({
      mechanism: dp.mechanism,
      targetEpsilon: dp.targetEpsilon,
      delta: dp.delta,
      rounds: config.rounds,
      q: 1,
      dimension: parameters,
      ...shape,
      clip: dp.clip,
      ...(adaptive && { adaptive }),
    });
  const privacy =
    dp &&
    new PrivacyRounds({
      mechanism: dp.mechanism,
      dimension: parameters,
      clip: dp.clip,
      noiseMultiplier: noiseMultiplier!,
      ...(adaptive && { adaptive }),
    });
  // Without privacy the update is only clipped (so the quantized sum cannot wrap) and quantized.
  const plainClip = config.plainClip ?? 10;
  const encoding = dp
    ? undefined
    : { clip: plainClip, bits: 32, scale: maxScale(32, plainClip, config.clients) };
  const start: JobStartInfo = {
    ...(noiseMultiplier !== undefined && { noiseMultiplier }),
    threshold,
    parameters,
    trainExamples: data.train.count,
    testExamples: test.count,
    backend: backend.name,
  };
  events.onStart?.(start);

  const scratch =
    dp && config.ledgerPath === undefined
      ? join(tmpdir(), `privagg-job-${process.pid}-${Date.now()}`)
      : undefined;
  if (scratch) mkdirSync(scratch, { recursive: true });
  const ledger =
    dp &&
    PrivacyLedger.open(config.ledgerPath ?? join(scratch!, 'ledger.db'), {
      delta: dp.delta,
      targetEpsilon: dp.targetEpsilon,
    });

  let weights: Weights = initWeights(config.model, config.seed);
  const optimizer = new ServerOptimizer(config.server);
  const records: JobRoundRecord[] = [];
  let clipOfRound = privacy?.clip ?? plainClip;

  const monitor =
    config.dashboard &&
    new Monitor(ledger && dp ? { privacy: { budget: dp.targetEpsilon, spent: ledger.spent().epsilon } } : {});
  const coordinator = new Coordinator(
    {
      cohortSize: config.clients,
      minClients: threshold,
      threshold,
      serverModel: 'semi-honest',
      maxCorruptClients: 0,
      vectors: dp ? [] : [{ name: 'update', length: parameters, bits: 32 }],
      rounds: config.rounds,
      checkInMs: 5_000,
      // Local training happens between the announcement and the advertise message.
      timeouts: { advertise: 120_000, share: 30_000, masked: 60_000, unmask: 30_000 },
      maxConcurrentUploads: 8,
      maxFramesPerStage: 256,
    },
    {
      logger: pino({ level: 'silent' }),
      authenticate: () => ({ ok: true, name: undefined }),
      ...(monitor && { observer: monitor.observer }),
      ...(ledger && {
        privacy: {
          ledger,
          mechanism: (_round: number, plan: PrivacyPlan | undefined) => {
            if (!plan) throw new Error('every round of a private job is private');
            return planMechanism(plan, 1, ledger.orders);
          },
        },
      }),
      planner: {
        plan: (roundShape) => {
          clipOfRound = privacy?.clip ?? plainClip;
          return {
            ...(privacy && { privacy: privacy.announce(roundShape) }),
            task: encodeTask({
              round: roundShape.round,
              training: config.training,
              weights: [...weights].map(([name, values]) => ({
                name,
                shape: tensorShapes(config.model).get(name)!,
                values,
              })),
              ...(encoding && { encoding }),
            }),
          };
        },
        complete: async (outcome) => {
          const record = await finishRound(outcome);
          records.push(record);
          // Accuracy is the model owner's own figure (on its test set): published on the page too.
          monitor?.dashboard.annotate(record.round, { accuracy: record.accuracy });
          await events.onRound?.(record);
        },
      },
    },
  );

  /** The released (noisy) sum of the round's updates, decoded; undefined if the round aborted. */
  function releasedSum(outcome: RoundOutcome): Float64Array | undefined {
    if (outcome.status !== 'ok') return undefined;
    if (outcome.release) return outcome.release.sum;
    return dequantizeSum(outcome.sums[0]!, { bits: encoding!.bits, scale: encoding!.scale });
  }

  async function finishRound(outcome: RoundOutcome): Promise<JobRoundRecord> {
    const dropped = Object.keys(outcome.dropped).length;
    if (outcome.release) privacy?.observe(outcome.release);
    const sum = releasedSum(outcome);
    if (sum) {
      // The clients in the sum are a public count: dividing by it is post-processing.
      const m = outcome.survivors.length;
      const mean = new Map<string, Float32Array>();
      let at = 0;
      for (const [name, values] of weights) {
        mean.set(
          name,
          Float32Array.from(sum.subarray(at, at + values.length), (x) => x / m),
        );
        at += values.length;
      }
      weights = optimizer.apply(weights, mean);
    }
    const { accuracy, loss } = await evaluate(weights, test.images, test.labels);
    return {
      round: outcome.round,
      status: outcome.status,
      clients: outcome.survivors.length + dropped,
      dropped,
      accuracy,
      loss,
      epsilon: outcome.epsilon ?? null,
      clip: clipOfRound,
      ...(outcome.reason !== undefined && { reason: outcome.reason }),
    };
  }

  const server = new Server({ 'grpc.max_receive_message_length': 16 << 20 });
  server.addService(participateService, { participate: coordinator.handleParticipate });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  monitor?.attach(coordinator);
  const workers: Worker[] = [];
  try {
    if (monitor) {
      const { host, port: wanted } = config.dashboard!;
      const bound = await monitor.listen(host, wanted);
      events.onDashboard?.(`http://${host.includes(':') ? `[${host}]` : host}:${bound}/`);
    }
    const rng = new SimRandom(config.seed, 'job/clients');
    const clients: SimulatedClient[] = partition.map((examples, i) => ({
      name: `client-${String(i + 1).padStart(3, '0')}`,
      examples,
      dropAt: Array.from({ length: config.rounds }, () =>
        rng.uniform() < config.dropoutRate ? DROP_STAGES[rng.int(DROP_STAGES.length)]! : null,
      ),
      seed: rng.next(),
    }));
    const running = coordinator.run();
    const finished = Array.from({ length: config.workers }, (_, w) => {
      const mine = clients.filter((_, i) => i % config.workers === w);
      return runWorker(
        {
          role: 'privagg-fl-clients',
          address: `127.0.0.1:${port}`,
          dataset: config.dataset,
          dataSeed: config.seed,
          rounds: config.rounds,
          ...(config.privacy && { minNoiseMultiplier: config.minNoiseMultiplier }),
          clients: mine,
        },
        workers,
        events,
      );
    });
    await Promise.all([running, ...finished]);
  } finally {
    coordinator.close();
    await Promise.all(workers.map((w) => w.terminate()));
    server.forceShutdown();
    ledger?.close();
    await monitor?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  const last = records.at(-1);
  return {
    rounds: records,
    start,
    final: {
      accuracy: last?.accuracy ?? 0,
      loss: last?.loss ?? Number.NaN,
      epsilon: [...records].reverse().find((r) => r.epsilon !== null)?.epsilon ?? 0,
    },
  };
}

function runWorker(data: ClientsWorkerData, workers: Worker[], events: JobEvents): Promise<void> {
  // job-clients.js when compiled; from the sources, through a bootstrap that registers tsx.
  const entry = workerEntry(siblingModule('./job-clients', import.meta.url));
  const worker = new Worker(entry.filename, { eval: entry.eval, workerData: data });
  workers.push(worker);
  return new Promise((resolve, reject) => {
    worker.on('message', (m: ClientsWorkerMessage) => {
      if (m.type === 'trained') events.onTrained?.();
      else if (m.type === 'round-end' && (m.outcome === 'refused' || m.outcome === 'failed')) {
        events.onClientProblem?.(m.name, m.round, m.outcome, m.detail ?? '');
      } else if (m.type === 'finished') resolve();
      else if (m.type === 'error') reject(new Error(`client worker: ${m.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`client worker exited with code ${code}`));
    });
  });
}
