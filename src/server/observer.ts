/**
 * What the coordinator tells an observer (metrics, the dashboard) while it runs, without knowing who
 * listens: the coordinator imports no HTTP or Prometheus code, only this interface.
 *
 * Call order per round: `roundStarted`, then `stage` once per stage as it opens, then `roundEnded`
 * with the outcome (after the ledger has recorded it, before the planner's `complete` and before it
 * is published, so a planner may add to what an observer recorded: the training job's accuracy). `refused` may come at
 * any time. Byte counts and the clients' states are not events: they change on every frame, so the
 * coordinator keeps them as plain counters ({@link CoordinatorGauges}) that an observer reads when it
 * needs them (a scrape, a dashboard tick), and a frame costs one addition.
 *
 * What is passed is what the coordinator already learns and logs: names, stages, counts, timings.
 * An outcome's `sums` are there because the outcome is the coordinator's own; an observer that shows
 * anything must not show them (server/dashboard-state.ts copies only metadata).
 * @module
 */
import type { Stage } from '../secagg/messages.ts';
import type { RoundOutcome } from './coordinator.ts';
import type { SessionEndCause } from './session-end.ts';

/** Receives the coordinator's round events. Every method is optional; none may throw. */
export interface CoordinatorObserver {
  /** A round was announced to `clients` selected clients. */
  roundStarted?(round: number, clients: number): void;
  /** A round entered `stage`. */
  stage?(round: number, stage: Stage): void;
  /** A round ended (ok or aborted); `epsilon` is set when the round ran with differential privacy. */
  roundEnded?(outcome: RoundOutcome): void;
  /** A session was turned away before it was selected for a round. */
  refused?(cause: SessionEndCause): void;
}

/** The coordinator's live counts, read on demand. */
export interface CoordinatorGauges {
  /** Bytes of client frames received (protobuf-encoded, as they came off the call). */
  readonly bytesReceived: number;
  /** Bytes of server frames written (protobuf-encoded). */
  readonly bytesSent: number;
  /** Clients in each state, counted now. */
  clientStates(): ClientStates;
}

/** How many clients are in each state. */
export interface ClientStates {
  /** Checked in, waiting for a round. */
  readonly waiting: number;
  /** Selected for the running round and still connected (uploading and queued included). */
  readonly inRound: number;
  /** Holding an upload slot: their masked input is being assembled. */
  readonly uploading: number;
  /** Waiting for an upload slot (their stream is paused). */
  readonly queuedForUpload: number;
}

/** One observer that forwards every event to each of `observers`, in order. */
export function fanOut(...observers: readonly CoordinatorObserver[]): CoordinatorObserver {
  return {
    roundStarted: (round, clients) => {
      for (const o of observers) o.roundStarted?.(round, clients);
    },
    stage: (round, stage) => {
      for (const o of observers) o.stage?.(round, stage);
    },
    roundEnded: (outcome) => {
      for (const o of observers) o.roundEnded?.(outcome);
    },
    refused: (cause) => {
      for (const o of observers) o.refused?.(cause);
    },
  };
}
