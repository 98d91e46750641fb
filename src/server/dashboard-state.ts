/**
 * What the live dashboard shows, kept as plain JSON-able data: the running round and its stage, the
 * clients by state, a timeline of recent rounds, and ε against the budget. It is a
 * {@link CoordinatorObserver}; {@link snapshot} is what `/state` serves.
 *
 * Only metadata is copied out of an outcome (names of dropped clients and their stages, counts,
 * timings, status, reason, ε): never its sums or release, so nothing here can leak one. Extra
 * per-round figures a model owner publishes anyway (the main job's test accuracy) are added with
 * {@link annotate}.
 * @module
 */
import type { Stage } from '../secagg/messages.ts';
import type { RoundOutcome } from './coordinator.ts';
import type { ClientStates, CoordinatorGauges, CoordinatorObserver } from './observer.ts';

/** One ended round, as the timeline shows it. */
export interface RoundSummary {
  readonly round: number;
  readonly status: 'ok' | 'aborted';
  readonly survivors: number;
  /** How many clients were lost at each stage. */
  readonly droppedByStage: Readonly<Partial<Record<Stage, number>>>;
  readonly durationMs: number;
  readonly stageMs: Readonly<Partial<Record<Stage, number>>>;
  readonly reason?: string;
  /** Cumulative ε after the round (with differential privacy). */
  readonly epsilon?: number;
  /** Figures the model owner added (e.g. accuracy), by name. */
  readonly notes?: Readonly<Record<string, number>>;
}

/** Everything the page draws. */
export interface DashboardSnapshot {
  /** The running round, or null between rounds. */
  readonly current: { readonly round: number; readonly clients: number; readonly stage: Stage | null } | null;
  readonly clients: ClientStates;
  readonly roundsOk: number;
  readonly roundsAborted: number;
  /** The most recent rounds, oldest first (at most {@link TIMELINE_ROUNDS}). */
  readonly rounds: readonly RoundSummary[];
  readonly epsilonBudget: number | null;
  readonly epsilonSpent: number | null;
  readonly bytesReceived: number;
  readonly bytesSent: number;
}

/** How many ended rounds the timeline keeps. */
export const TIMELINE_ROUNDS = 200;

/** The dashboard's state, fed by the coordinator's events. */
export class DashboardState implements CoordinatorObserver {
  #current: { round: number; clients: number; stage: Stage | null } | null = null;
  #rounds: RoundSummary[] = [];
  #ok = 0;
  #aborted = 0;
  #epsilonSpent: number | null;
  readonly #epsilonBudget: number | null;
  readonly #gauges: CoordinatorGauges;
  /** Bumped on every change, so a poller can tell nothing changed. */
  version = 0;

  constructor(gauges: CoordinatorGauges, privacy?: { readonly budget: number; readonly spent: number }) {
    this.#gauges = gauges;
    this.#epsilonBudget = privacy?.budget ?? null;
    this.#epsilonSpent = privacy?.spent ?? null;
  }

  roundStarted(round: number, clients: number): void {
    this.#current = { round, clients, stage: null };
    this.version++;
  }

  stage(round: number, stage: Stage): void {
    if (this.#current?.round === round) this.#current.stage = stage;
    this.version++;
  }

  roundEnded(outcome: RoundOutcome): void {
    const droppedByStage: Partial<Record<Stage, number>> = {};
    for (const stage of Object.values(outcome.dropped))
      droppedByStage[stage] = (droppedByStage[stage] ?? 0) + 1;
    const stageMs: Partial<Record<Stage, number>> = {};
    for (const [stage, ms] of Object.entries(outcome.timing.stageMs)) {
      if (ms !== undefined) stageMs[stage as Stage] = Math.round(ms);
    }
    this.#rounds.push({
      round: outcome.round,
      status: outcome.status,
      survivors: outcome.survivors.length,
      droppedByStage,
      durationMs: Math.round(outcome.timing.totalMs),
      stageMs,
      ...(outcome.reason !== undefined && { reason: outcome.reason }),
      ...(outcome.epsilon !== undefined && { epsilon: outcome.epsilon }),
    });
    if (this.#rounds.length > TIMELINE_ROUNDS) this.#rounds.shift();
    if (outcome.status === 'ok') this.#ok++;
    else this.#aborted++;
    if (outcome.epsilon !== undefined) this.#epsilonSpent = outcome.epsilon;
    this.#current = null;
    this.version++;
  }

  /**
   * Adds named figures to an ended round's timeline entry (e.g. `{ accuracy: 0.91 }`). Only finite
   * numbers: the page shows them as they are.
   * @throws RangeError if a value is not a finite number
   */
  annotate(round: number, notes: Readonly<Record<string, number>>): void {
    for (const [name, value] of Object.entries(notes)) {
      if (!Number.isFinite(value))
        throw new RangeError(`note '${name}' must be a finite number, got ${value}`);
    }
    const i = this.#rounds.findIndex((r) => r.round === round);
    if (i < 0) return;
    const entry = this.#rounds[i]!;
    this.#rounds[i] = { ...entry, notes: { ...entry.notes, ...notes } };
    this.version++;
  }

  /** What the page draws now. */
  snapshot(): DashboardSnapshot {
    return {
      current: this.#current && { ...this.#current },
      clients: this.#gauges.clientStates(),
      roundsOk: this.#ok,
      roundsAborted: this.#aborted,
      rounds: this.#rounds,
      epsilonBudget: this.#epsilonBudget,
      epsilonSpent: this.#epsilonSpent,
      bytesReceived: this.#gauges.bytesReceived,
      bytesSent: this.#gauges.bytesSent,
    };
  }
}
