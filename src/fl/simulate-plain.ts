/**
 * Plain federated averaging in one process: no secure aggregation, no noise, no network. Each round
 * samples a cohort of simulated clients, trains each locally (./trainer.ts), averages the updates
 * of those that did not drop out, applies the server optimizer (./fedavg.ts) and evaluates on the
 * test set. It is the baseline the private runs are measured against ("what does privacy cost?"),
 * and a fixture for tests.
 *
 * Averaging is uniform over the clients that reported, not weighted by their example counts. That is
 * what the private pipeline must do too: with every update clipped to norm C, a uniform mean lets one
 * client move the sum by at most C (the sensitivity the noise is calibrated to), whereas weighting by
 * self-reported counts n_k lets a client inflate its influence — and in secure aggregation the
 * counts would have to be revealed or bounded. Example-count weighting needs public bounded weights
 * min(n_k, ŵ)/ŵ (McMahan et al. 2018; `boundedWeight` in src/dp/clip.ts). Keeping the baseline
 * uniform makes the comparison about the noise and nothing else.
 *
 * Clients run one after another on this thread; the wall time is the sum of local training times.
 * All sampling (cohorts, dropouts, batch orders) is seeded simulation randomness (./random.ts).
 * @module
 */
import { assertIntegerIn, kind } from '../dp/checks.ts';
import { assertInRange } from '../dp/validate.ts';
import { type Examples, head, subset } from './data.ts';
import { evaluate } from './evaluate.ts';
import { meanUpdate, ServerOptimizer, type ServerOptimizerConfig } from './fedavg.ts';
import { checkWeights, initWeights, type ModelSpec, type Weights } from './model.ts';
import { labelSkew, type Partition, partitionDirichlet, partitionIid } from './partition.ts';
import type { Progress } from './progress.ts';
import { SimRandom } from './random.ts';
import type { RoundRecord } from './report.ts';
import { type LocalUpdate, type TrainOptions, trainLocal } from './trainer.ts';

/** How the training examples are split across clients. */
export type PartitionConfig =
  | { readonly kind: 'iid' }
  | { readonly kind: 'dirichlet'; readonly alpha?: number };

/** Settings of {@link runPlainFedAvg}. */
export interface PlainFedAvgConfig {
  readonly train: Examples;
  readonly test: Examples;
  readonly model: ModelSpec;
  /** Starting weights (default: `initWeights(model, seed)`). */
  readonly initialWeights?: Weights;
  /** Simulated clients in all. */
  readonly clients: number;
  /** Clients sampled per round, uniformly without replacement (all). */
  readonly clientsPerRound?: number;
  readonly rounds: number;
  /** IID or Dirichlet label skew (Dirichlet, α = 0.5). */
  readonly partition?: PartitionConfig;
  /** Local training settings; `seed` is replaced per client and round. */
  readonly local?: Omit<TrainOptions, 'seed'>;
  /** Server optimizer (plain FedAvg, η = 1). */
  readonly server?: ServerOptimizerConfig;
  /** Probability that a sampled client drops out before reporting (0). */
  readonly dropoutRate?: number;
  /** Test examples used for the per-round evaluation (all). */
  readonly evalExamples?: number;
  readonly seed?: number;
  /** Called after every round. */
  readonly onRound?: (record: RoundRecord) => void;
  /** Ticked once per client trained. */
  readonly progress?: Progress;
}

/** The outcome of {@link runPlainFedAvg}. */
export interface PlainFedAvgResult {
  readonly weights: Weights;
  readonly rounds: readonly RoundRecord[];
  readonly partition: Partition;
  /** Mean total-variation distance of clients' label distributions from the global one. */
  readonly labelSkew: number;
}

/**
 * Runs plain FedAvg.
 * @throws (rejects with) TypeError / RangeError on bad settings
 * @example
 * ```ts
 * const { train, test } = await loadDataset('mnist');
 * const { rounds } = await runPlainFedAvg({ train, test, model: softmaxSpec(), clients: 10, rounds: 3 });
 * ```
 */
export async function runPlainFedAvg(config: PlainFedAvgConfig): Promise<PlainFedAvgResult> {
  if (typeof config !== 'object' || config === null)
    throw new TypeError(`config must be an object, got ${kind(config)}`);
  const seed = assertIntegerIn('seed', config.seed ?? 0, 0, 2 ** 32 - 1);
  const clients = assertIntegerIn('clients', config.clients, 1, 2 ** 24);
  const perRound = assertIntegerIn('clientsPerRound', config.clientsPerRound ?? clients, 1, clients);
  const rounds = assertIntegerIn('rounds', config.rounds, 1, 1_000_000);
  const dropoutRate = assertInRange('dropoutRate', config.dropoutRate ?? 0, 0, 1);
  const partitionConfig = config.partition ?? { kind: 'dirichlet' };
  let partition: Partition;
  if (partitionConfig.kind === 'iid') partition = partitionIid(config.train.count, { clients, seed });
  else if (partitionConfig.kind === 'dirichlet') {
    partition = partitionDirichlet(config.train.labels, {
      clients,
      seed,
      alpha: partitionConfig.alpha ?? 0.5,
    });
  } else {
    throw new RangeError(
      `partition.kind must be 'iid' or 'dirichlet', got ${String((partitionConfig as { kind: unknown }).kind)}`,
    );
  }
  const test = head(config.test, config.evalExamples ?? config.test.count);
  const server = new ServerOptimizer(config.server ?? { kind: 'sgd' });
  if (config.initialWeights !== undefined) checkWeights(config.model, config.initialWeights);
  let weights = config.initialWeights ?? initWeights(config.model, seed);

  const rng = new SimRandom(seed, 'simulate-plain/rounds');
  const records: RoundRecord[] = [];
  for (let round = 1; round <= rounds; round++) {
    const cohort = rng.sample(clients, perRound);
    const reported: LocalUpdate[] = [];
    for (const k of cohort) {
      const drops = dropoutRate > 0 && rng.uniform() < dropoutRate;
      const clientSeed = rng.next();
      if (drops) {
        config.progress?.tick(1, `round ${round}`);
        continue;
      }
      const data = subset(config.train, partition[k]!);
      reported.push(await trainLocal(weights, data, { ...config.local, seed: clientSeed }));
      config.progress?.tick(1, `round ${round}`);
    }
    if (reported.length > 0) weights = server.apply(weights, meanUpdate(reported.map((r) => r.update)));
    const { accuracy, loss } = await evaluate(weights, test.images, test.labels);
    const record: RoundRecord = Object.freeze({
      round,
      clients: cohort.length,
      dropped: cohort.length - reported.length,
      accuracy,
      loss,
      epsilon: null,
      ...(reported.length > 0
        ? { trainLoss: reported.reduce((s, r) => s + r.meanLoss, 0) / reported.length }
        : {}),
    });
    records.push(record);
    config.onRound?.(record);
  }
  return Object.freeze({
    weights,
    rounds: Object.freeze(records),
    partition,
    labelSkew: labelSkew(config.train.labels, partition),
  });
}
