/**
 * The control service's Define request (proto/privagg/v1/control.proto) checked once, at the edge,
 * into an {@link AggregationDefinition} the inner layers trust. Every problem is a
 * {@link ControlRequestError} whose message starts with the offending field's path in the request
 * (`aggregation.cohort.min_clients: …`), so an operator in any language sees which field to fix.
 *
 * The rules are `privagg serve`'s (server/config.ts and ./limits.ts) for the same settings: a Define
 * and the flags of a fixed-configuration serve describe the same aggregations.
 * @module
 */
import { status as Status } from '@grpc/grpc-js';
import { type Aggregation, type PrivacyDefinition, PrivacyMechanism } from '../gen/privagg/v1/control.ts';
import type { GraphPlan } from '../secagg/graph-plan.ts';
import { defaultThreshold, roundParams } from '../secagg/params.ts';
import type { ServerModel, VectorSpec } from '../secagg/types.ts';
import { echo } from '../text/echo.ts';
import { DEFAULT_DELTA, planCohortGraphs, SERVE_DEFAULTS } from './config.ts';
import type { CoordinatorGraph } from './coordinator.ts';
import {
  type Limit,
  MAX_CLIENTS,
  MAX_COMPLETE_GRAPH_CLIENTS,
  MAX_DP_DIM,
  MAX_VECTORS,
  MAX_WORDS,
} from './limits.ts';

/** A control request refused with a gRPC status; the message names the field first. */
export class ControlRequestError extends Error {
  override name = 'ControlRequestError';
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/** INVALID_ARGUMENT naming `field`. */
export function invalid(field: string, problem: string): ControlRequestError {
  return new ControlRequestError(Status.INVALID_ARGUMENT, `${field}: ${problem}`);
}

/** The differential privacy of a defined aggregation. */
export interface DefinedPrivacy {
  readonly mechanism: 'distributed-skellam' | 'central-gaussian';
  /** D. */
  readonly dimension: number;
  readonly clip: number;
  /** The noise, given or to be calibrated for this many rounds: exactly one. */
  readonly noise:
    | { readonly kind: 'given'; readonly noiseMultiplier: number }
    | { readonly kind: 'calibrated'; readonly rounds: number };
  readonly targetEpsilon: number;
  readonly delta: number;
  /** A file name in the serve's ledger directory (checked: no path separators, no leading dot). */
  readonly ledger: string;
  readonly adaptiveClipQuantile?: number;
}

/** A checked Define: everything a coordinator and its privacy setup need. */
export interface AggregationDefinition {
  readonly name: string;
  /** N. */
  readonly clients: number;
  /** M. */
  readonly minClients: number;
  /** t for a full cohort (a planned graph's, or the fixed one). */
  readonly threshold: number;
  readonly maxCorruptClients: number;
  readonly graph: CoordinatorGraph;
  /** With a threat-model graph: the plans for N and, if smaller, M clients. */
  readonly graphPlans?: readonly GraphPlan[];
  /** The vectors summed, sorted by name; with privacy none (the mechanism determines them). */
  readonly vectors: readonly VectorSpec[];
  readonly checkInWindowMs: number;
  readonly stageTimeoutMs: number;
  readonly privacy?: DefinedPrivacy;
}

/** Names of aggregations and ledgers: safe as a file name and in a log line. */
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const MAX_VECTOR_NAME_BYTES = 255;
const MAX_MS = 2_147_483_647;

function checkName(field: string, value: string): string {
  if (!NAME.test(value)) {
    throw invalid(
      field,
      `must be 1..64 characters of [A-Za-z0-9._-], not starting with '.', got '${echo(value)}'`,
    );
  }
  return value;
}

function checkLimit(field: string, value: number, limit: Limit): void {
  if (value > limit.max) throw invalid(field, `must be at most ${limit.max} (${limit.why}), got ${value}`);
}

/** A proto3 double that must be finite and in a range. */
function checkFraction(field: string, value: number, range: '[0, 1)' | '(0, 1)'): number {
  const ok = Number.isFinite(value) && value < 1 && (range === '[0, 1)' ? value >= 0 : value > 0);
  if (!ok) throw invalid(field, `must be a number in ${range}, got ${value}`);
  return value;
}

function checkPositive(field: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    throw invalid(field, `must be a finite number > 0, got ${value}`);
  return value;
}

function orDefault(value: number, fallback: number): number {
  return value === 0 ? fallback : value;
}

function checkVectors(vectors: Aggregation['vectors']): VectorSpec[] {
  const field = 'aggregation.vectors';
  checkLimit(field, vectors.length, MAX_VECTORS);
  const names = new Set<string>();
  let total = 0;
  const checked = vectors.map((v, i) => {
    const at = `${field}[${i}]`;
    const bytes = Buffer.byteLength(v.name, 'utf8');
    if (bytes < 1 || bytes > MAX_VECTOR_NAME_BYTES) {
      throw invalid(`${at}.name`, `must be 1..${MAX_VECTOR_NAME_BYTES} bytes of UTF-8, got ${bytes}`);
    }
    if (names.has(v.name)) throw invalid(`${at}.name`, `'${echo(v.name)}' repeats`);
    names.add(v.name);
    if (v.length < 1) throw invalid(`${at}.length`, `must be at least 1, got ${v.length}`);
    checkLimit(`${at}.length`, v.length, MAX_WORDS);
    if (v.bits < 1 || v.bits > 32) throw invalid(`${at}.bits`, `must be in [1, 32], got ${v.bits}`);
    total += v.length;
    return { name: v.name, length: v.length, bits: v.bits };
  });
  if (total > MAX_WORDS.max) {
    throw invalid(field, `lengths add up to ${total}, above ${MAX_WORDS.max} (${MAX_WORDS.why})`);
  }
  // A round's vectors are sorted by the UTF-8 bytes of their names (PROTOCOL.md §2).
  return checked.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

/** The graph, threshold and n_C, as `privagg serve`'s graph settings choose them (server/config.ts). */
function checkGraph(
  choice: NonNullable<Aggregation['graph']>['choice'] | undefined,
  clients: number,
  minClients: number,
  serverModel: ServerModel,
): Pick<AggregationDefinition, 'graph' | 'graphPlans' | 'threshold' | 'maxCorruptClients'> {
  if (choice === undefined || choice.$case === 'complete') {
    const field = 'aggregation.graph.complete';
    checkLimit('aggregation.cohort.clients (on the complete graph)', clients, MAX_COMPLETE_GRAPH_CLIENTS);
    const maxCorruptClients = choice?.value.maxCorruptClients ?? 0;
    if (maxCorruptClients >= minClients) {
      throw invalid(
        `${field}.max_corrupt_clients`,
        `must be below the smallest cohort (${minClients}), got ${maxCorruptClients}`,
      );
    }
    const given = choice?.value.threshold ?? 0;
    const threshold =
      given !== 0 ? given : Math.min(defaultThreshold(clients, serverModel, maxCorruptClients), minClients);
    if (threshold > minClients) {
      throw invalid(
        `${field}.threshold`,
        `must be at most the smallest cohort (${minClients}): a round of ${minClients} clients could never complete, got ${threshold}`,
      );
    }
    try {
      // At the smallest and the largest cohort, as the coordinator checks it: one threshold must suit
      // both (t ≤ M, t > n_C, and 2t > N lest a split view reach t twice; 2t > N + n_C in the
      // malicious setting).
      for (const n of new Set([minClients, clients])) {
        roundParams({
          round: 1,
          serverModel,
          threshold,
          maxCorruptClients,
          clients: Array.from({ length: n }, (_, i) => i + 1),
          vectors: [{ name: 'check', length: 1, bits: 32 }],
          graph: { kind: 'complete' },
        });
      }
    } catch (error) {
      if (error instanceof RangeError) throw invalid(`${field}.threshold`, error.message);
      throw error;
    }
    return { graph: { mode: 'complete' }, threshold, maxCorruptClients };
  }
  const mode = choice.$case;
  const field = `aggregation.graph.${mode}`;
  const expectedDropout = checkFraction(`${field}.expected_dropout`, choice.value.expectedDropout, '[0, 1)');
  const adversarialFraction = checkFraction(
    `${field}.adversarial_fraction`,
    choice.value.adversarialFraction,
    '[0, 1)',
  );
  let graphPlans: GraphPlan[];
  try {
    graphPlans = planCohortGraphs({
      clients,
      minClients,
      expectedDropout,
      adversarialFraction,
      mode,
      serverModel,
    });
  } catch (error) {
    if (error instanceof RangeError) throw invalid(field, error.message);
    throw error;
  }
  const complete = graphPlans.find(
    (p) => p.graph.kind === 'complete' && p.n > MAX_COMPLETE_GRAPH_CLIENTS.max,
  );
  if (complete) {
    throw invalid(
      field,
      `plans the complete graph for ${complete.n} clients, above its maximum ${MAX_COMPLETE_GRAPH_CLIENTS.max} ` +
        '(the coordinator would hold N·(N-1) encrypted shares): lower the fractions or the cohort',
    );
  }
  const full = graphPlans[0]!;
  return {
    graph: { mode, expectedDropout, adversarialFraction },
    graphPlans,
    threshold: full.threshold,
    maxCorruptClients: full.maxCorruptClients,
  };
}

const MECHANISMS: Readonly<Record<number, DefinedPrivacy['mechanism']>> = {
  [PrivacyMechanism.PRIVACY_MECHANISM_DISTRIBUTED_SKELLAM]: 'distributed-skellam',
  [PrivacyMechanism.PRIVACY_MECHANISM_CENTRAL_GAUSSIAN]: 'central-gaussian',
};

function checkPrivacy(p: PrivacyDefinition): DefinedPrivacy {
  const field = 'aggregation.privacy';
  const mechanism = MECHANISMS[p.mechanism];
  if (mechanism === undefined) {
    throw invalid(
      `${field}.mechanism`,
      `must be PRIVACY_MECHANISM_DISTRIBUTED_SKELLAM or PRIVACY_MECHANISM_CENTRAL_GAUSSIAN, got ${p.mechanism}`,
    );
  }
  if (p.dimension < 1) throw invalid(`${field}.dimension`, `must be at least 1, got ${p.dimension}`);
  checkLimit(`${field}.dimension`, p.dimension, MAX_DP_DIM);
  const clip = checkPositive(`${field}.clip`, p.clip);
  let noise: DefinedPrivacy['noise'];
  if (p.noise === undefined) {
    throw invalid(
      `${field}.noise`,
      'set noise_multiplier, or calibrate_for_rounds to calibrate it to target_epsilon',
    );
  } else if (p.noise.$case === 'noiseMultiplier') {
    noise = { kind: 'given', noiseMultiplier: checkPositive(`${field}.noise_multiplier`, p.noise.value) };
  } else {
    if (p.noise.value < 1) {
      throw invalid(`${field}.calibrate_for_rounds`, `must be at least 1, got ${p.noise.value}`);
    }
    noise = { kind: 'calibrated', rounds: p.noise.value };
  }
  // Fail closed: a private aggregation is always accounted in a durable ledger against a budget.
  const targetEpsilon = checkPositive(`${field}.target_epsilon`, p.targetEpsilon);
  const delta = p.delta === 0 ? DEFAULT_DELTA : checkFraction(`${field}.delta`, p.delta, '(0, 1)');
  if (p.ledger === '')
    throw invalid(`${field}.ledger`, 'is required: the name of the durable privacy ledger');
  const ledger = checkName(`${field}.ledger`, p.ledger);
  const adaptive =
    p.adaptiveClipQuantile === 0
      ? undefined
      : checkFraction(`${field}.adaptive_clip_quantile`, p.adaptiveClipQuantile, '(0, 1)');
  return {
    mechanism,
    dimension: p.dimension,
    clip,
    noise,
    targetEpsilon,
    delta,
    ledger,
    ...(adaptive !== undefined && { adaptiveClipQuantile: adaptive }),
  };
}

/**
 * Checks a Define request's aggregation for the server's setting (`privagg serve --control`'s
 * `--server-model`, malicious with `--roster`): the threshold and graph rules differ between them.
 * @throws ControlRequestError (INVALID_ARGUMENT) naming the first bad field
 */
export function checkDefinition(
  aggregation: Aggregation | undefined,
  serverModel: ServerModel = 'semi-honest',
): AggregationDefinition {
  if (aggregation === undefined) throw invalid('aggregation', 'is required');
  const name = checkName('aggregation.name', aggregation.name);
  const cohort = aggregation.cohort;
  if (cohort === undefined) throw invalid('aggregation.cohort', 'is required');
  const clients = cohort.clients;
  if (clients < 2) throw invalid('aggregation.cohort.clients', `must be at least 2, got ${clients}`);
  checkLimit('aggregation.cohort.clients', clients, MAX_CLIENTS);
  const minClients = orDefault(cohort.minClients, clients);
  if (minClients < 2 || minClients > clients) {
    throw invalid(
      'aggregation.cohort.min_clients',
      `must be in [2, cohort.clients = ${clients}] (0: cohort.clients), got ${minClients}`,
    );
  }
  const checkInWindowMs = orDefault(cohort.checkInWindowMs, SERVE_DEFAULTS.checkInWindowMs);
  if (checkInWindowMs > MAX_MS) {
    throw invalid(
      'aggregation.cohort.check_in_window_ms',
      `must be at most ${MAX_MS}, got ${checkInWindowMs}`,
    );
  }
  const stageTimeoutMs = orDefault(aggregation.stageTimeoutMs, SERVE_DEFAULTS.stageTimeoutMs);
  if (stageTimeoutMs > MAX_MS) {
    throw invalid('aggregation.stage_timeout_ms', `must be at most ${MAX_MS}, got ${stageTimeoutMs}`);
  }
  if (aggregation.graph !== undefined && aggregation.graph.choice === undefined) {
    throw invalid('aggregation.graph', 'set one of complete, auto, harary (or leave graph out)');
  }
  const graph = checkGraph(aggregation.graph?.choice, clients, minClients, serverModel);
  const privacy = aggregation.privacy && checkPrivacy(aggregation.privacy);
  let vectors: VectorSpec[];
  if (privacy) {
    if (aggregation.vectors.length > 0) {
      throw invalid(
        'aggregation.vectors',
        'must be empty with privacy: the mechanism determines the vectors (privacy.dimension)',
      );
    }
    if (
      privacy.mechanism === 'distributed-skellam' &&
      graph.graphPlans?.some((p) => p.graph.kind === 'harary')
    ) {
      // As privagg serve: the noise planner assumes the complete graph's h = t − n_C (server/config.ts).
      throw invalid(
        'aggregation.privacy.mechanism',
        'distributed noise cannot run on a Harary graph yet (its planner assumes h = t - n_C of the ' +
          'complete graph): use graph.complete, or the central mechanism',
      );
    }
    vectors = [];
  } else {
    if (aggregation.vectors.length === 0) {
      throw invalid('aggregation.vectors', 'must name at least one vector (or set privacy)');
    }
    vectors = checkVectors(aggregation.vectors);
  }
  return {
    name,
    clients,
    minClients,
    ...graph,
    vectors,
    checkInWindowMs,
    stageTimeoutMs,
    ...(privacy && { privacy }),
  };
}
