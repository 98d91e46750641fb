/**
 * The privacy benchmark (`privagg bench privacy`, issue 5): test accuracy of federated training on
 * Fashion-MNIST against ε ∈ {1, 2, 4, 8, ∞} at δ = 10⁻⁵, for central and distributed differential
 * privacy, each with and without secure aggregation, all from the same seeds (and, with several
 * seeds, their mean and spread: {@link seedsTable}).
 *
 * Setting. A population of N simulated clients (1,000 by default) holds the 60,000 training images,
 * split with Dirichlet(0.5) label skew (Hsu et al. 2019; ./partition.ts): realistic non-IID clients,
 * the usual choice of federated benchmarks, and harder than IID, which would flatter every number
 * here. Each round samples a cohort by Poisson sampling (every client independently with probability
 * q = m/N, m the expected cohort), the sampling the accountants' amplification bounds assume — the
 * Poisson-subsampled Gaussian for central DP, the exact Poisson-subsampled Skellam RDP and its
 * dominating Gaussian's PLD for distributed DP (src/dp/skellam-rdp.ts, skellam-gdp.ts). Every sampled client trains locally (./trainer.ts) from its
 * run's global model; the runs differ only in how the updates are aggregated (./aggregators.ts):
 *
 * - ε = ∞: plain FedAvg (float mean), and secure aggregation alone (updates quantized to the ring and
 *   summed by the real protocol) — the difference between them is quantization only;
 * - each finite ε: central DP without and with secure aggregation (the announced `central-gaussian`
 *   pipeline), and distributed DP without (each client adds its Gaussian share of the noise, in
 *   floats) and with secure aggregation (the announced `distributed-skellam` pipeline).
 *
 * All runs advance in lockstep, round by round, so that they share cohorts, client seeds and one
 * secure-aggregation protocol execution per round (./aggregators.ts `aggregateSecurely`: each run's
 * vector is a segment of the round's vector; the protocol's sum is exact, so this equals a round per
 * run). Noise multipliers are calibrated per ε for the number of rounds and q on exactly what each
 * run composes into its accountant (RDP curve and PLD, the tighter bound counting, as in the ledger);
 * the ε each run actually spent is read back from its accountant at the end.
 *
 * Reported accuracy: the mean test accuracy (10,000 held-out images) over the last `finalRounds`
 * rounds, which evens out the round-to-round wobble that noise adds.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertIntegerIn, assertPositive } from '../dp/checks.ts';
import { defaultThreshold } from '../secagg/params.ts';
import { DeterministicRng } from '../secagg/rng.ts';
import {
  type AdaptiveClip,
  type Aggregate,
  type Aggregator,
  type AggregatorKind,
  aggregateSecurely,
  type CohortRound,
  calibrate,
  type DpAccount,
  type DpSettings,
  dpFloatAggregator,
  dpSecureAggregator,
  plainAggregator,
  secaggAggregator,
  secaggErrorBound,
  updateNoiseMultiplier,
} from './aggregators.ts';
import { initBackend } from './backend.ts';
import { type BenchTrainer, type LocalSettings, threadTrainer, workerTrainer } from './bench-train.ts';
import { type DatasetName, type Examples, head, IMAGE_SIZE, loadDataset } from './data.ts';
import { evaluate } from './evaluate.ts';
import { ServerOptimizer, type ServerOptimizerConfig } from './fedavg.ts';
import {
  initWeights,
  type ModelSpec,
  mlpSpec,
  parameterCount,
  softmaxSpec,
  tensorShapes,
  type Weights,
} from './model.ts';
import { labelSkew, type Partition, partitionDirichlet, partitionIid } from './partition.ts';
import { SimRandom } from './random.ts';
import { lineChartSvg } from './report.ts';
import type { PartitionConfig } from './simulate-plain.ts';

/** The DP families a benchmark compares. */
export type MechanismFamily = 'central' | 'distributed';

/** Everything a benchmark runs with. */
export interface PrivacyBenchConfig {
  readonly dataset: DatasetName;
  readonly model: 'softmax' | 'mlp';
  /** Hidden units of the `mlp` model. */
  readonly hidden: number;
  /** N: simulated clients. */
  readonly clients: number;
  /** m: the expected cohort; clients are Poisson-sampled at q = m/N. */
  readonly cohort: number;
  /** T: rounds. */
  readonly rounds: number;
  /** The finite ε targets (ε = ∞ is always run). */
  readonly epsilons: readonly number[];
  readonly delta: number;
  readonly mechanisms: readonly MechanismFamily[];
  readonly partition: PartitionConfig;
  readonly local: LocalSettings;
  readonly server: ServerOptimizerConfig;
  /**
   * The server step's factor in the last round: the mean update is scaled by a cosine schedule from 1
   * (first round) down to this factor (last round) before the server optimizer applies it — a server
   * learning-rate decay, which averages out more of the noise late in training (1: constant).
   */
  readonly serverDecay: number;
  /** C: the L2 clip norm of the DP runs (the first round's, with adaptive clipping). */
  readonly clip: number;
  /** Adaptive clipping to this quantile of update norms (Andrew et al. 2021), if set; η_C = 0.2, σ_b = m/20. */
  readonly adaptiveQuantile?: number;
  /** Ring bit width of every secure vector. */
  readonly bits: number;
  /**
   * c: the coordinate clip of the non-private secure run, chosen above any coordinate of an update so
   * that only rounding separates it from plain FedAvg. For softmax regression on pixels in [0, 1]
   * every coordinate of a minibatch gradient is within [−1, 1], so |Δ_i| ≤ lr · (SGD steps); the
   * run counts the updates that had a coordinate beyond c (`clippedFraction`).
   */
  readonly secaggClip: number;
  /** n_C: clients assumed to collude with the coordinator (threshold t > n_C; h = t − n_C). */
  readonly maxCorruptClients: number;
  /** Use only the first this many training examples (all). */
  readonly trainExamples?: number;
  /**
   * Hold out the last this many training examples and evaluate on them instead of the test set: for
   * tuning hyper-parameters without looking at the test set (0: evaluate on the test set).
   */
  readonly validation: number;
  /** Evaluate on the first this many test (or validation) examples (all). */
  readonly evalExamples?: number;
  /** Final accuracy = the mean over the last this many rounds. */
  readonly finalRounds: number;
  readonly seed: number;
  /** Worker threads for local training (0: this thread). */
  readonly workers: number;
  /** Run only these aggregators (all). */
  readonly only?: readonly AggregatorKind[];
}

/** The default configuration: what `privagg bench privacy` runs without flags. */
export function defaultBenchConfig(): PrivacyBenchConfig {
  return {
    dataset: 'fashion-mnist',
    model: 'softmax',
    hidden: 32,
    clients: 1000,
    cohort: 100,
    rounds: 40,
    epsilons: [1, 2, 4, 8],
    delta: 1e-5,
    mechanisms: ['central', 'distributed'],
    partition: { kind: 'dirichlet', alpha: 0.5 },
    local: { epochs: 3, batchSize: 20, learningRate: 0.3 },
    server: { kind: 'momentum', learningRate: 1, momentum: 0.9 },
    serverDecay: 1,
    clip: 0.3,
    bits: 20,
    secaggClip: 2,
    maxCorruptClients: 0,
    validation: 0,
    finalRounds: 5,
    seed: 1,
    workers: 2,
  };
}

/** A small configuration for tests and smoke runs: 100 clients of 60 images, cohort 10, 3 rounds. */
export function quickBenchConfig(): PrivacyBenchConfig {
  return {
    ...defaultBenchConfig(),
    clients: 100,
    cohort: 10,
    rounds: 3,
    trainExamples: 6000,
    evalExamples: 1000,
    finalRounds: 2,
    workers: 0,
  };
}

/** One round of one run. */
export interface BenchRound {
  readonly round: number;
  /** n: the cohort (0 or 1: the round was skipped by every run). */
  readonly clients: number;
  readonly accuracy: number;
  readonly loss: number;
  /** ε spent after this round (DP runs). */
  readonly epsilon?: number;
  /** The clip norm used this round (DP runs). */
  readonly clip?: number;
  /** Clients clipped this round. */
  readonly clipped: number;
}

/** One run's outcome. */
export interface BenchRun {
  readonly id: string;
  readonly kind: AggregatorKind;
  readonly family: MechanismFamily | 'none';
  readonly secure: boolean;
  /** The target ε (Infinity for the non-private runs). */
  readonly targetEpsilon: number;
  /** z: the round's noise multiplier (update + clip count), DP runs. */
  readonly noiseMultiplier?: number;
  /** z_Δ: the update's share of z (= z without adaptive clipping). */
  readonly updateNoiseMultiplier?: number;
  /** The ε the run's accountant holds after the last round, at δ. */
  readonly epsilonSpent?: number;
  /** Mean test accuracy of the last `finalRounds` rounds. */
  readonly finalAccuracy: number;
  /** Accuracy after the last round. */
  readonly lastAccuracy: number;
  /** Fraction of client updates clipped, over all rounds. */
  readonly clippedFraction: number;
  readonly rounds: readonly BenchRound[];
}

/** Timings, in milliseconds. */
export interface BenchTimings {
  readonly total: number;
  readonly load: number;
  readonly train: number;
  readonly floatAggregate: number;
  readonly secureEncode: number;
  readonly secureProtocol: number;
  readonly secureDecode: number;
  readonly evaluate: number;
}

/** A finished benchmark. */
export interface PrivacyBenchResult {
  readonly config: PrivacyBenchConfig;
  /** Derived quantities: q, d, the cohort cap, the partition's label skew, the backend. */
  readonly derived: {
    readonly q: number;
    readonly dimension: number;
    readonly maxClients: number;
    readonly labelSkew: number;
    readonly backend: string;
    readonly trainClients: number;
    readonly examplesPerClient: number;
    readonly evalSet: string;
    readonly evalExamples: number;
    /** Mean realised cohort size and elements of the round's secure-aggregation vector. */
    readonly meanCohort: number;
    readonly secureVectorLength: number;
  };
  readonly runs: readonly BenchRun[];
  /** Secure aggregation alone vs plain FedAvg: the largest per-coordinate error of its mean, and the bound. */
  readonly secaggCheck?: {
    readonly maxAbsError: number;
    readonly bound: number;
    readonly accuracyGap: number;
  };
  readonly timings: BenchTimings;
  /** The hyper-parameters, in words. */
  readonly note: string;
}

/** What the engine reports while it runs. */
export interface ProgressLike {
  tick(n?: number, note?: string): void;
  finish(note?: string): void;
}

/** Options of {@link runPrivacyBench}. */
export interface RunOptions {
  /** Makes a progress writer for `total` units (one per run and round, plus one per round's protocol). */
  readonly progress?: (total: number) => ProgressLike;
}

interface RunState {
  readonly id: string;
  readonly kind: AggregatorKind;
  readonly family: MechanismFamily | 'none';
  readonly targetEpsilon: number;
  readonly aggregator: Aggregator;
  readonly privacy?: DpAccount;
  readonly server: ServerOptimizer;
  weights: Weights;
  readonly rounds: BenchRound[];
  clippedTotal: number;
  updatesTotal: number;
}

/** A configuration that cannot run; the message names the setting. */
export class BenchConfigError extends RangeError {
  override name = 'BenchConfigError';
}

/** Checks a configuration; returns it frozen. @throws BenchConfigError naming the field */
export function checkBenchConfig(config: PrivacyBenchConfig): PrivacyBenchConfig {
  try {
    return checkFields(config);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new BenchConfigError(error.message);
    throw error;
  }
}

function checkFields(config: PrivacyBenchConfig): PrivacyBenchConfig {
  assertIntegerIn('clients', config.clients, 2, 1_000_000);
  assertIntegerIn('cohort', config.cohort, 2, config.clients);
  assertIntegerIn('rounds', config.rounds, 1, 100_000);
  assertIntegerIn('hidden', config.hidden, 1, 4096);
  if (config.model !== 'softmax' && config.model !== 'mlp') {
    throw new RangeError(`model must be 'softmax' or 'mlp', got ${String(config.model)}`);
  }
  if (!Array.isArray(config.epsilons)) throw new TypeError('epsilons must be an array');
  for (const e of config.epsilons) assertPositive('epsilons[]', e);
  if (!(config.delta > 0 && config.delta < 1))
    throw new RangeError(`delta must be in (0, 1), got ${config.delta}`);
  for (const m of config.mechanisms) {
    if (m !== 'central' && m !== 'distributed') throw new RangeError(`unknown mechanism '${String(m)}'`);
  }
  assertPositive('clip', config.clip);
  if (
    config.adaptiveQuantile !== undefined &&
    !(config.adaptiveQuantile > 0 && config.adaptiveQuantile < 1)
  ) {
    throw new RangeError(`adaptiveQuantile must be in (0, 1), got ${config.adaptiveQuantile}`);
  }
  assertIntegerIn('bits', config.bits, 8, 32);
  assertPositive('secaggClip', config.secaggClip);
  assertIntegerIn('maxCorruptClients', config.maxCorruptClients, 0, config.cohort);
  assertIntegerIn('validation', config.validation, 0, 1_000_000);
  assertIntegerIn('finalRounds', config.finalRounds, 1, config.rounds);
  assertIntegerIn('seed', config.seed, 0, 2 ** 32 - 1);
  assertIntegerIn('workers', config.workers, 0, 64);
  if (config.trainExamples !== undefined) assertIntegerIn('trainExamples', config.trainExamples, 1, 1e7);
  if (config.evalExamples !== undefined) assertIntegerIn('evalExamples', config.evalExamples, 1, 1e7);
  return Object.freeze({ ...config });
}

/**
 * The public cap on a Poisson cohort of mean m = qN: m + 6 standard deviations (+1), at most N. A
 * cohort above it (probability below 10⁻⁸ per round) stops the run rather than wrap the ring.
 */
export function cohortCap(clients: number, q: number): number {
  const m = q * clients;
  return Math.min(clients, Math.ceil(m + 6 * Math.sqrt(m * (1 - q)) + 1));
}

/** Formats δ: 1e-5 rather than 0.00001. */
export function formatDelta(delta: number): string {
  return delta < 1e-3 ? delta.toExponential() : String(delta);
}

/** Formats ε for tables: ∞ for Infinity. */
export function formatEpsilon(epsilon: number): string {
  return epsilon === Number.POSITIVE_INFINITY ? '∞' : String(epsilon);
}

/**
 * Runs the benchmark.
 * @throws (rejects with) TypeError / RangeError on a bad configuration; Error if a round fails
 */
export async function runPrivacyBench(
  input: PrivacyBenchConfig,
  options: RunOptions = {},
): Promise<PrivacyBenchResult> {
  const config = checkBenchConfig(input);
  const started = performance.now();
  const backend = await initBackend();
  const dataset = await loadDataset(config.dataset);
  const all = config.trainExamples === undefined ? dataset.train : head(dataset.train, config.trainExamples);
  const trainCount = all.count - config.validation;
  if (trainCount < config.clients) {
    throw new RangeError(`${trainCount} training examples cannot be split over ${config.clients} clients`);
  }
  const train = head(all, trainCount);
  const evalBase = config.validation > 0 ? slice(all, trainCount, all.count) : dataset.test;
  const evalSet = config.evalExamples === undefined ? evalBase : head(evalBase, config.evalExamples);
  const loadMs = performance.now() - started;

  const partition: Partition =
    config.partition.kind === 'iid'
      ? partitionIid(train.count, { clients: config.clients, seed: config.seed })
      : partitionDirichlet(train.labels, {
          clients: config.clients,
          seed: config.seed,
          alpha: config.partition.alpha ?? 0.5,
        });
  const spec: ModelSpec = config.model === 'softmax' ? softmaxSpec() : mlpSpec(config.hidden);
  const dimension = parameterCount(spec);
  const shapes = [...tensorShapes(spec)].map(([name, shape]) => ({
    name,
    length: shape.reduce((a, b) => a * b, 1),
  }));
  const q = config.cohort / config.clients;
  const maxClients = cohortCap(config.clients, q);
  const thresholdFor = (n: number) => defaultThreshold(n, 'semi-honest', config.maxCorruptClients);
  const rngLabel = (run: string) => (label: string) =>
    new DeterministicRng(`privagg-bench/${config.seed}/${run}/${label}`);

  const runs = buildRuns(config, { dimension, q, maxClients, thresholdFor, rngLabel });
  const initial = initWeights(spec, config.seed);
  const states: RunState[] = runs.map((r) => ({
    ...r,
    server: new ServerOptimizer(config.server),
    weights: new Map([...initial].map(([name, t]) => [name, Float32Array.from(t)])),
    rounds: [],
    clippedTotal: 0,
    updatesTotal: 0,
  }));

  const trainer: BenchTrainer =
    config.workers > 0
      ? await workerTrainer(
          config.workers,
          { dataset: config.dataset, examples: trainCount },
          partition,
          config.local,
        )
      : threadTrainer(train, partition, config.local);
  const secureStates = states.filter((s) => s.aggregator.secure);
  const progress = options.progress?.(config.rounds * (states.length + (secureStates.length > 0 ? 1 : 0)));
  const timings = {
    train: 0,
    floatAggregate: 0,
    secureEncode: 0,
    secureProtocol: 0,
    secureDecode: 0,
    evaluate: 0,
  };
  const secaggState = states.find((s) => s.kind === 'secagg');
  const secaggBound =
    secaggState === undefined
      ? undefined
      : secaggErrorBound({ bits: config.bits, coordinateClip: config.secaggClip, maxClients });
  let secaggMaxError = 0;
  let cohortSum = 0;
  let vectorLength = 0;

  const cohorts = new SimRandom(config.seed, 'bench-privacy/cohorts');
  try {
    for (let round = 1; round <= config.rounds; round++) {
      const cohort: number[] = [];
      for (let k = 0; k < config.clients; k++) if (cohorts.uniform() < q) cohort.push(k);
      const n = cohort.length;
      cohortSum += n;
      if (n > maxClients) {
        throw new Error(`round ${round} sampled ${n} clients, above the public cap ${maxClients}`);
      }
      const seeds = new SimRandom(config.seed, `bench-privacy/round-${round}`);
      const clientSeeds = cohort.map(() => seeds.next());
      const aggregates = new Map<RunState, Aggregate>();
      // The clip norm this round uses (adaptive clipping moves it once the round is released).
      const clips = new Map(states.map((s) => [s, s.privacy?.clip]));
      if (n >= 2) {
        let t0 = performance.now();
        const updates = await trainer.train(
          states.map((s) => ({ weights: s.weights, clients: cohort, seeds: clientSeeds })),
        );
        timings.train += performance.now() - t0;
        const byRun = new Map(states.map((s, i) => [s, updates[i]!]));
        const cohortRound: CohortRound = {
          round,
          clients: n,
          threshold: thresholdFor(n),
          maxCorruptClients: config.maxCorruptClients,
        };
        t0 = performance.now();
        for (const s of states) {
          if (!s.aggregator.secure) aggregates.set(s, s.aggregator.aggregate(byRun.get(s)!, cohortRound));
        }
        timings.floatAggregate += performance.now() - t0;
        if (secureStates.length > 0) {
          const report = aggregateSecurely(
            secureStates.map((s) => (s.aggregator.secure ? s.aggregator.begin(cohortRound) : never())),
            secureStates.map((s) => byRun.get(s)!),
            cohortRound,
            {
              bits: config.bits,
              rngFor: (id) =>
                new DeterministicRng(`privagg-bench/${config.seed}/round-${round}/client-${id}`),
            },
          );
          secureStates.forEach((s, i) => {
            aggregates.set(s, report.aggregates[i]!);
          });
          timings.secureEncode += report.encodeMs;
          timings.secureProtocol += report.protocolMs;
          timings.secureDecode += report.decodeMs;
          vectorLength = report.vectorLength;
          progress?.tick(1, `round ${round}: secure aggregation of ${n} clients`);
        }
        if (secaggState !== undefined) {
          const exact = floatMean(byRun.get(secaggState)!, dimension);
          const got = aggregates.get(secaggState)!.mean;
          for (let i = 0; i < dimension; i++) {
            secaggMaxError = Math.max(secaggMaxError, Math.abs(got[i]! - exact[i]!));
          }
        }
      } else {
        for (const s of states) s.privacy?.skip();
      }

      const factor = serverFactor(config, round);
      for (const s of states) {
        const aggregate = aggregates.get(s);
        const clip = clips.get(s);
        if (aggregate !== undefined) {
          if (factor !== 1) for (let i = 0; i < dimension; i++) aggregate.mean[i]! *= factor;
          s.weights = s.server.apply(s.weights, unflatten(aggregate.mean, shapes));
          s.clippedTotal += aggregate.clipped;
          s.updatesTotal += n;
        }
        const t0 = performance.now();
        const { accuracy, loss } = await evaluate(s.weights, evalSet.images, evalSet.labels);
        timings.evaluate += performance.now() - t0;
        s.rounds.push(
          Object.freeze({
            round,
            clients: n,
            accuracy,
            loss,
            ...(s.privacy && { epsilon: s.privacy.epsilon(config.delta), clip: clip! }),
            clipped: aggregate?.clipped ?? 0,
          }),
        );
        progress?.tick(1, `round ${round}: ${s.id} accuracy ${(100 * accuracy).toFixed(1)}%`);
      }
    }
  } finally {
    await trainer.close();
  }

  const results: BenchRun[] = states.map((s) => {
    const last = s.rounds.slice(-config.finalRounds);
    const settings = s.privacy?.settings;
    return Object.freeze({
      id: s.id,
      kind: s.kind,
      family: s.family,
      secure: s.aggregator.secure,
      targetEpsilon: s.targetEpsilon,
      ...(settings && {
        noiseMultiplier: settings.noiseMultiplier,
        updateNoiseMultiplier: updateNoiseMultiplier(settings),
        epsilonSpent: s.privacy!.epsilon(config.delta),
      }),
      finalAccuracy: last.reduce((a, r) => a + r.accuracy, 0) / last.length,
      lastAccuracy: s.rounds.at(-1)!.accuracy,
      clippedFraction: s.updatesTotal === 0 ? 0 : s.clippedTotal / s.updatesTotal,
      rounds: Object.freeze(s.rounds),
    });
  });
  const plain = results.find((r) => r.kind === 'plain');
  const secagg = results.find((r) => r.kind === 'secagg');
  const total = performance.now() - started;
  progress?.finish(`${(total / 1000).toFixed(0)} s`);
  const derived = {
    q,
    dimension,
    maxClients,
    labelSkew: labelSkew(train.labels, partition),
    backend: backend.name,
    trainClients: config.clients,
    examplesPerClient: train.count / config.clients,
    evalSet: config.validation > 0 ? 'validation (held-out training examples)' : 'test',
    evalExamples: evalSet.count,
    meanCohort: cohortSum / config.rounds,
    secureVectorLength: vectorLength,
  };
  const result: PrivacyBenchResult = {
    config,
    derived,
    runs: Object.freeze(results),
    ...(secagg &&
      plain &&
      secaggBound !== undefined && {
        secaggCheck: {
          maxAbsError: secaggMaxError,
          bound: secaggBound,
          accuracyGap: secagg.finalAccuracy - plain.finalAccuracy,
        },
      }),
    timings: { total, load: loadMs, ...timings },
    note: '',
  };
  return Object.freeze({ ...result, note: hyperParameterNote(result) });
}

interface Derived {
  readonly dimension: number;
  readonly q: number;
  readonly maxClients: number;
  readonly thresholdFor: (n: number) => number;
  readonly rngLabel: (run: string) => DpSettings['rngFor'];
}

type RunSpec = Omit<RunState, 'server' | 'weights' | 'rounds' | 'clippedTotal' | 'updatesTotal'>;

function buildRuns(config: PrivacyBenchConfig, d: Derived): RunSpec[] {
  const wanted = (kind: AggregatorKind) => config.only === undefined || config.only.includes(kind);
  const runs: RunSpec[] = [];
  if (wanted('plain')) {
    runs.push({
      id: 'plain',
      kind: 'plain',
      family: 'none',
      targetEpsilon: Infinity,
      aggregator: plainAggregator(d.dimension),
    });
  }
  if (wanted('secagg')) {
    runs.push({
      id: 'secagg',
      kind: 'secagg',
      family: 'none',
      targetEpsilon: Infinity,
      aggregator: secaggAggregator({
        dimension: d.dimension,
        bits: config.bits,
        coordinateClip: config.secaggClip,
        maxClients: d.maxClients,
        rngFor: d.rngLabel('secagg'),
      }),
    });
  }
  for (const epsilon of config.epsilons) {
    for (const family of config.mechanisms) {
      const float: AggregatorKind = family === 'central' ? 'central-float' : 'distributed-float';
      const secure: AggregatorKind = family === 'central' ? 'central-secagg' : 'distributed-secagg';
      if (!wanted(float) && !wanted(secure)) continue;
      const adaptive: AdaptiveClip | undefined =
        config.adaptiveQuantile === undefined
          ? undefined
          : {
              targetQuantile: config.adaptiveQuantile,
              learningRate: 0.2,
              bitNoiseStddev: config.cohort / 20,
            };
      const base: Omit<DpSettings, 'noiseMultiplier' | 'rngFor'> = {
        mechanism: family,
        dimension: d.dimension,
        clip: config.clip,
        bits: config.bits,
        maxClients: d.maxClients,
        thresholdFor: d.thresholdFor,
        maxCorruptClients: config.maxCorruptClients,
        denominator: config.cohort,
        q: d.q,
        ...(adaptive && { adaptive }),
      };
      // One z per (family, ε), calibrated on the secure pipeline's curve; the float run of the family
      // uses the same z (the same noise per client), so the pair differs only in the arithmetic.
      let noiseMultiplier: number;
      try {
        ({ noiseMultiplier } = calibrate(
          { ...base, rngFor: d.rngLabel('calibration') },
          { targetEpsilon: epsilon, delta: config.delta, rounds: config.rounds },
        ));
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        throw new BenchConfigError(
          `${family} DP at ε = ${epsilon}: ${error.message}` +
            (adaptive
              ? ' (adaptive clipping needs 2σ_b = m/10 above z: a larger --cohort, or fixed clipping)'
              : ''),
        );
      }
      for (const kind of [float, secure]) {
        if (!wanted(kind)) continue;
        const id = `${kind}@${epsilon}`;
        const settings: DpSettings = { ...base, noiseMultiplier, rngFor: d.rngLabel(id) };
        const aggregator = kind === float ? dpFloatAggregator(settings) : dpSecureAggregator(settings);
        runs.push({ id, kind, family, targetEpsilon: epsilon, aggregator, privacy: aggregator.privacy });
      }
    }
  }
  return runs;
}

/** The cosine schedule of {@link PrivacyBenchConfig.serverDecay}: 1 in round 1, serverDecay in round T. */
export function serverFactor(
  config: Pick<PrivacyBenchConfig, 'serverDecay' | 'rounds'>,
  round: number,
): number {
  const f = config.serverDecay;
  if (f === 1 || config.rounds === 1) return 1;
  return f + ((1 - f) * (1 + Math.cos((Math.PI * (round - 1)) / (config.rounds - 1)))) / 2;
}

function never(): never {
  throw new Error('unreachable');
}

function slice(examples: Examples, from: number, to: number): Examples {
  return Object.freeze({
    images: examples.images.subarray(from * IMAGE_SIZE, to * IMAGE_SIZE),
    labels: examples.labels.subarray(from, to),
    count: to - from,
  });
}

function floatMean(updates: readonly Float32Array[], d: number): Float64Array {
  const mean = new Float64Array(d);
  for (const u of updates) for (let i = 0; i < d; i++) mean[i] = mean[i]! + u[i]!;
  for (let i = 0; i < d; i++) mean[i]! /= updates.length;
  return mean;
}

function unflatten(
  flat: Float64Array,
  shapes: readonly { name: string; length: number }[],
): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  let at = 0;
  for (const { name, length } of shapes) {
    out.set(name, flat.subarray(at, at + length));
    at += length;
  }
  return out;
}

// ---- reporting -----------------------------------------------------------------------------------

const COLUMNS: readonly {
  readonly title: string;
  readonly family: MechanismFamily;
  readonly secure: boolean;
}[] = [
  { title: 'central, no SecAgg', family: 'central', secure: false },
  { title: 'central + SecAgg', family: 'central', secure: true },
  { title: 'distributed, no SecAgg', family: 'distributed', secure: false },
  { title: 'distributed + SecAgg', family: 'distributed', secure: true },
];

/** The run of a table cell: at ε = ∞ plain FedAvg (no SecAgg) or SecAgg alone. */
function cellRun(result: PrivacyBenchResult, epsilon: number, family: MechanismFamily, secure: boolean) {
  if (epsilon === Infinity) return result.runs.find((r) => r.kind === (secure ? 'secagg' : 'plain'));
  return result.runs.find((r) => r.family === family && r.secure === secure && r.targetEpsilon === epsilon);
}

function pct(x: number | undefined): string {
  return x === undefined ? '—' : `${(100 * x).toFixed(1)}%`;
}

/**
 * The results table as Markdown: a row per ε (∞ last), a column per aggregator (present families
 * only), then the noise multipliers z of each family.
 */
export function resultsTable(result: PrivacyBenchResult): string {
  return accuracyTable(result, (epsilon, family, secure) =>
    pct(cellRun(result, epsilon, family, secure)?.finalAccuracy),
  );
}

/**
 * A row per ε (∞ last), a column per aggregator whose family was run, each cell `cellText`, then the
 * noise multipliers z of each family (those of `result`: they do not depend on the seed).
 */
function accuracyTable(
  result: PrivacyBenchResult,
  cellText: (epsilon: number, family: (typeof COLUMNS)[number]['family'], secure: boolean) => string,
): string {
  const families = result.config.mechanisms;
  const columns = COLUMNS.filter((c) => families.includes(c.family));
  const epsilons = [...result.config.epsilons].sort((a, b) => a - b);
  const header = ['ε', ...columns.map((c) => c.title), ...families.map((f) => `z (${f})`)];
  const rows: string[][] = [];
  for (const epsilon of [...epsilons, Infinity]) {
    const z = families.map((f) => {
      const run = result.runs.find((r) => r.family === f && r.targetEpsilon === epsilon);
      return run?.noiseMultiplier === undefined ? '—' : run.noiseMultiplier.toFixed(3);
    });
    rows.push([formatEpsilon(epsilon), ...columns.map((c) => cellText(epsilon, c.family, c.secure)), ...z]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The ε each DP run's accountant ended at, one line per run. */
export function spentLines(result: PrivacyBenchResult): string[] {
  return result.runs
    .filter((r) => r.epsilonSpent !== undefined)
    .map(
      (r) =>
        `${r.id}: z = ${r.noiseMultiplier!.toFixed(3)}${
          r.updateNoiseMultiplier !== r.noiseMultiplier
            ? ` (update ${r.updateNoiseMultiplier!.toFixed(3)})`
            : ''
        }, ε spent ${r.epsilonSpent!.toFixed(3)} (target ${r.targetEpsilon}), clipped ${(100 * r.clippedFraction).toFixed(0)}%, final ${pct(r.finalAccuracy)}`,
    );
}

/** The hyper-parameters and setting, in words (printed and stored in results.json). */
export function hyperParameterNote(result: Omit<PrivacyBenchResult, 'note'>): string {
  const c = result.config;
  const d = result.derived;
  const server =
    c.server.kind === 'sgd'
      ? `FedAvg (server SGD, η = ${c.server.learningRate ?? 1})`
      : c.server.kind === 'momentum'
        ? `FedAvgM (server momentum β = ${c.server.momentum ?? 0.9}, η = ${c.server.learningRate ?? 1})`
        : `FedAdam (η = ${c.server.learningRate ?? 0.01}, β1 = ${c.server.beta1 ?? 0.9}, β2 = ${c.server.beta2 ?? 0.99}, τ = ${c.server.tau ?? 0.001})`;
  const model = c.model === 'softmax' ? 'softmax regression' : `MLP 784-${c.hidden}-10`;
  const partition =
    c.partition.kind === 'iid' ? 'an IID split' : `Dirichlet(${c.partition.alpha ?? 0.5}) label skew`;
  const clip =
    c.adaptiveQuantile === undefined
      ? `fixed L2 clip C = ${c.clip}`
      : `adaptive clipping to the ${c.adaptiveQuantile} quantile (Andrew et al. 2021, η_C = 0.2, σ_b = m/20, C₀ = ${c.clip}; the count's noise is part of z)`;
  return [
    `${c.dataset}, ${model} (d = ${d.dimension}), ${c.clients} clients (${d.examplesPerClient.toFixed(0)} examples each, ${partition}, seed ${c.seed}).`,
    `Poisson sampling q = ${d.q} (expected cohort m = ${c.cohort}, mean realised ${d.meanCohort.toFixed(1)}, cap ${d.maxClients}), T = ${c.rounds} rounds.`,
    `Local: ${c.local.epochs ?? 1} epoch(s) of ${c.local.optimizer ?? 'sgd'}, batch ${c.local.batchSize ?? 20}, lr ${c.local.learningRate ?? 0.1}. Server: ${server}${
      c.serverDecay === 1 ? '' : `, step decayed by a cosine schedule to ${c.serverDecay}× in the last round`
    }, the same for every run.`,
    `DP: ${clip}; the noised sum is divided by the fixed m = qN (DP-FedAvg's fixed denominator); δ = ${formatDelta(c.delta)}; z calibrated per ε for T rounds at q by the tighter of RDP and PLD accounting, as the ledger charges them (central: the subsampled Gaussian, add/remove; distributed: the exact subsampled Skellam RDP and the Gaussian that dominates it, zero-out), the distributed no-SecAgg run uses the distributed z.`,
    `Secure aggregation: the real protocol in memory, semi-honest, t = ⌊2n/3⌋+1, n_C = ${c.maxCorruptClients} so h = t − n_C; ${c.bits}-bit ring; SecAgg-only quantizes with coordinate clip ${c.secaggClip}.`,
    `Accuracy: mean over the last ${c.finalRounds} rounds on ${d.evalExamples} ${d.evalSet} examples.`,
  ].join('\n');
}

/** Serialisable results (∞ as null, timings rounded). */
export function resultsJson(result: PrivacyBenchResult): string {
  const eps = (e: number) => (e === Infinity ? null : e);
  const json = {
    generatedBy: 'privagg bench privacy',
    note: result.note,
    config: result.config,
    derived: result.derived,
    secaggCheck: result.secaggCheck,
    timingsMs: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)])),
    table: tableRows(result),
    runs: result.runs.map((r) => ({ ...r, targetEpsilon: eps(r.targetEpsilon) })),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

function tableRows(result: PrivacyBenchResult) {
  const epsilons = [...[...result.config.epsilons].sort((a, b) => a - b), Infinity];
  return epsilons.map((epsilon) => ({
    epsilon: epsilon === Infinity ? null : epsilon,
    ...Object.fromEntries(
      COLUMNS.filter((c) => result.config.mechanisms.includes(c.family)).map((c) => [
        c.title,
        cellRun(result, epsilon, c.family, c.secure)?.finalAccuracy ?? null,
      ]),
    ),
  }));
}

/** The accuracy-vs-ε chart: one line per column of the table, ε = ∞ last. */
export function accuracySvg(result: PrivacyBenchResult): string {
  return accuracyChart(
    result.config,
    '',
    '',
    (e, family, secure) => cellRun(result, e, family, secure)?.finalAccuracy,
  );
}

/**
 * One line per column of the table whose mechanism was run, ε = ∞ last, each point `accuracyOf` the
 * cell (a cell with no value is left out).
 */
function accuracyChart(
  c: PrivacyBenchResult['config'],
  titleSuffix: string,
  yLabelSuffix: string,
  accuracyOf: (
    epsilon: number,
    family: (typeof COLUMNS)[number]['family'],
    secure: boolean,
  ) => number | undefined,
): string {
  const epsilons = [...[...c.epsilons].sort((a, b) => a - b), Infinity];
  const series = COLUMNS.filter((col) => c.mechanisms.includes(col.family)).map((col) => ({
    name: col.title,
    points: epsilons.flatMap((e): [number, number][] => {
      const accuracy = accuracyOf(e, col.family, col.secure);
      return accuracy === undefined ? [] : [[e, accuracy]];
    }),
  }));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  const lo = Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...ys) + 0.02) * 20) / 20);
  return lineChartSvg({
    title: `${c.dataset}: test accuracy vs ε (δ = ${formatDelta(c.delta)}), ${c.clients} clients, ${c.rounds} rounds${titleSuffix}`,
    xLabel: `ε (∞: no DP — plain FedAvg, or SecAgg alone)`,
    yLabel: `test accuracy (mean of last ${c.finalRounds} rounds${yLabelSuffix})`,
    xScale: 'category',
    yRange: ys.length > 0 ? [lo, hi] : [0, 1],
    series,
  });
}

/**
 * Writes `results.json`, `accuracy-vs-epsilon.svg` and `table.md` into `dir` (created).
 * @returns the paths written
 */
export async function writeBenchFiles(dir: string, result: PrivacyBenchResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['results.json', resultsJson(result)],
    ['accuracy-vs-epsilon.svg', accuracySvg(result)],
    ['table.md', `${resultsTable(result)}\n\n${result.note}\n`],
  ];
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(path, text);
    paths.push(path);
  }
  return paths;
}

// ---- several seeds -------------------------------------------------------------------------------

/** The mean and the spread (half the range) of a cell over seeds; undefined if a seed lacks it. */
function cellStats(
  results: readonly PrivacyBenchResult[],
  epsilon: number,
  family: MechanismFamily,
  secure: boolean,
): { mean: number; spread: number; values: number[] } | undefined {
  const values: number[] = [];
  for (const r of results) {
    const run = cellRun(r, epsilon, family, secure);
    if (run === undefined) return undefined;
    values.push(run.finalAccuracy);
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, spread: (Math.max(...values) - Math.min(...values)) / 2, values };
}

/**
 * The results table over several seeds (runs of the same configuration but for `seed`): each cell
 * the mean accuracy over the seeds and ± half the range between them. The noise multipliers do not
 * depend on the seed.
 * @throws RangeError if the results are not of one configuration up to the seed
 */
export function seedsTable(results: readonly PrivacyBenchResult[]): string {
  checkSameConfig(results);
  return accuracyTable(results[0]!, (epsilon, family, secure) => {
    const stats = cellStats(results, epsilon, family, secure);
    return stats === undefined
      ? '—'
      : `${(100 * stats.mean).toFixed(1)}% ±${(100 * stats.spread).toFixed(1)}`;
  });
}

function checkSameConfig(results: readonly PrivacyBenchResult[]): void {
  if (results.length === 0) throw new RangeError('no results');
  const strip = (r: PrivacyBenchResult) => JSON.stringify({ ...r.config, seed: 0 });
  const reference = strip(results[0]!);
  for (const r of results) {
    if (strip(r) !== reference) throw new RangeError('the results differ in more than the seed');
  }
}

/** The accuracy-vs-ε chart of the means over seeds. */
export function seedsSvg(results: readonly PrivacyBenchResult[]): string {
  checkSameConfig(results);
  return accuracyChart(
    results[0]!.config,
    `, mean of ${results.length} seeds`,
    ', mean over seeds',
    (e, family, secure) => cellStats(results, e, family, secure)?.mean,
  );
}

/**
 * Writes each seed's files into `dir/seed-<s>/` and the combined ones into `dir`: `results.json`
 * (every seed's table and the per-cell mean, spread and values), `accuracy-vs-epsilon.svg` (means) and
 * `table.md`.
 * @returns the paths written
 */
export async function writeSeedFiles(dir: string, results: readonly PrivacyBenchResult[]): Promise<string[]> {
  checkSameConfig(results);
  const paths: string[] = [];
  for (const r of results) paths.push(...(await writeBenchFiles(join(dir, `seed-${r.config.seed}`), r)));
  const first = results[0]!;
  const epsilons = [...[...first.config.epsilons].sort((a, b) => a - b), Infinity];
  const cells = epsilons.map((epsilon) => ({
    epsilon: epsilon === Infinity ? null : epsilon,
    ...Object.fromEntries(
      COLUMNS.filter((c) => first.config.mechanisms.includes(c.family)).map((c) => [
        c.title,
        cellStats(results, epsilon, c.family, c.secure) ?? null,
      ]),
    ),
  }));
  const json = {
    generatedBy: 'privagg bench privacy --seeds',
    seeds: results.map((r) => r.config.seed),
    note: first.note,
    cells,
    perSeed: results.map((r) => ({ seed: r.config.seed, table: tableRows(r), timingsMs: r.timings.total })),
  };
  const files: [string, string][] = [
    ['results.json', `${JSON.stringify(json, null, 2)}\n`],
    ['accuracy-vs-epsilon.svg', seedsSvg(results)],
    ['table.md', `${seedsTable(results)}\n\n${first.note}\n`],
  ];
  await mkdir(dir, { recursive: true });
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(path, text);
    paths.push(path);
  }
  return paths;
}
