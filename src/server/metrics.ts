/**
 * The coordinator's Prometheus metrics (prom-client), in a registry of their own. A
 * {@link CoordinatorObserver} updates the round metrics as events come; the gauges that change on
 * every frame (bytes, clients by state) are read from the coordinator's counters only when scraped
 * (`collect`), so a frame costs the coordinator one addition and nothing here.
 *
 * Only counts, stages and timings are exported: never a key, share, input or sum.
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RoundOutcome } from './coordinator.ts';
import type { CoordinatorGauges, CoordinatorObserver } from './observer.ts';

/** What the metrics need to know besides the events. */
export interface MetricsOptions {
  /** The coordinator's live counters. */
  readonly gauges: CoordinatorGauges;
  /** The privacy budget ε (with differential privacy). */
  readonly epsilonBudget?: number;
  /** ε already spent when the coordinator started (a resumed ledger). */
  readonly epsilonSpent?: number;
  /** Register Node's default process metrics (default true; tests that build several set false). */
  readonly defaultMetrics?: boolean;
}

/** The registry and the observer that feeds it. */
export interface CoordinatorMetrics {
  readonly registry: Registry;
  readonly observer: CoordinatorObserver;
  /** Stops the event-loop sampler. */
  close(): void;
}

/** Round durations span ms (tiny cohorts on loopback) to many minutes (large vectors over WANs). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** The event-loop sampler's period (as server/event-loop.ts: a stall below it may go unseen). */
const LOOP_RESOLUTION_MS = 10;

/** Builds the metrics for one coordinator. */
export function createMetrics(options: MetricsOptions): CoordinatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const { gauges } = options;

  const rounds = new Counter({
    name: 'privagg_rounds_total',
    help: 'Rounds ended, by status (ok, aborted).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  // Both statuses exist from the start, so a rate() over them has no gap before the first abort.
  rounds.inc({ status: 'ok' }, 0);
  rounds.inc({ status: 'aborted' }, 0);
  const roundDuration = new Histogram({
    name: 'privagg_round_duration_seconds',
    help: 'Time from a round announcement to its result.',
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const stageDuration = new Histogram({
    name: 'privagg_stage_duration_seconds',
    help: 'Time each stage of a round was open.',
    labelNames: ['stage'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'privagg_clients',
    help: 'Clients by state: waiting for a round, in the running round, uploading, queued for an upload slot.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const s = gauges.clientStates();
      this.set({ state: 'waiting' }, s.waiting);
      this.set({ state: 'in_round' }, s.inRound);
      this.set({ state: 'uploading' }, s.uploading);
      this.set({ state: 'queued_for_upload' }, s.queuedForUpload);
    },
  });
  const dropped = new Counter({
    name: 'privagg_clients_dropped_total',
    help: 'Selected clients lost, by the stage at which they were lost.',
    labelNames: ['stage'] as const,
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'privagg_client_refusals_total',
    help: 'Sessions turned away before selection, by reason (server/session-end.ts).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Not in privagg_client_refusals_total: that one counts the coordinator turning sessions away;
  // this one, clients turning the coordinator's requests down — a sign of bad parameters or a
  // cheating coordinator, which an alert on the other would drown in routine waiting-full counts.
  const roundRefusals = new Counter({
    name: 'privagg_round_refusals_total',
    help: "Requests selected clients refused during a round (their Abort: CLIENT_REFUSED), by the client's refusal reason.",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Counter({
    name: 'privagg_bytes_received_total',
    help: 'Bytes of client frames received (protobuf-encoded).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gauges.bytesReceived);
    },
  });
  new Counter({
    name: 'privagg_bytes_sent_total',
    help: 'Bytes of server frames written (protobuf-encoded).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gauges.bytesSent);
    },
  });
  const epsilonSpent =
    options.epsilonBudget === undefined
      ? undefined
      : new Gauge({
          name: 'privagg_epsilon_spent',
          help: 'Cumulative privacy loss ε recorded in the ledger.',
          registers: [registry],
        });
  if (options.epsilonBudget !== undefined) {
    new Gauge({
      name: 'privagg_epsilon_budget',
      help: 'The privacy budget ε (--target-epsilon).',
      registers: [registry],
    }).set(options.epsilonBudget);
    epsilonSpent!.set(options.epsilonSpent ?? 0);
  }
  // p99 and max of the loop's delay since the last scrape: a window per scrape, so a stall between
  // two scrapes shows up in the next one instead of being averaged away over the process's life.
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  new Gauge({
    name: 'privagg_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape: p99 and max.',
    labelNames: ['quantile'] as const,
    registers: [registry],
    collect() {
      const s = (ns: number) => (loop.count === 0 ? 0 : Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1e3));
      this.set({ quantile: '0.99' }, s(loop.percentile(99)));
      this.set({ quantile: 'max' }, s(loop.max));
      loop.reset();
    },
  });

  const observer: CoordinatorObserver = {
    roundEnded(outcome: RoundOutcome) {
      rounds.inc({ status: outcome.status });
      roundDuration.observe(outcome.timing.totalMs / 1000);
      for (const [stage, ms] of Object.entries(outcome.timing.stageMs)) {
        if (ms !== undefined) stageDuration.observe({ stage }, ms / 1000);
      }
      for (const stage of Object.values(outcome.dropped)) dropped.inc({ stage });
      for (const [reason, count] of Object.entries(outcome.refusals ?? {})) {
        if (count !== undefined) roundRefusals.inc({ reason }, count);
      }
      if (epsilonSpent && outcome.epsilon !== undefined) epsilonSpent.set(outcome.epsilon);
    },
    refused(cause) {
      refusals.inc({ reason: cause });
    },
  };
  return { registry, observer, close: () => loop.disable() };
}
