/**
 * One aggregation an operator defined through the control service: a {@link Coordinator} whose rounds
 * come from the operator ({@link OperatorRounds}), with the privacy ledger and planner of
 * `privagg serve --dp` when the definition has privacy. This is the in-process API the control
 * service (./control-service.ts) adapts to gRPC, call for call:
 *
 * | control call  | here                        |
 * |---------------|-----------------------------|
 * | Define        | `Aggregation.open(definition, env)` then {@link Aggregation.run} |
 * | StartRound    | {@link Aggregation.start}   |
 * | WatchOutcomes | {@link Aggregation.events}  |
 * | GetBudget     | {@link Aggregation.budget}  |
 * | Stop          | {@link Aggregation.stop}    |
 *
 * Lifecycle: open (checks what needs the server's state: the ledger directory, the budget) → run
 * (participants may check in; each round waits for a start) → ended, by {@link Aggregation.stop}, by
 * {@link Aggregation.shutdown}, or when the ledger refuses a round. Its events are every round's
 * outcome, in order, then one end event. The latest {@link REPLAY_OUTCOMES} outcomes are kept for a
 * watcher that comes late; older ones are dropped, so an aggregation that runs for months does not
 * hold every round's sums.
 * @module
 */
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { LedgerError } from '../dp/ledger.ts';
import { sha256 } from '../secagg/crypto/hash.ts';
import type { ServerModel } from '../secagg/types.ts';
import { MAX_TASK_BYTES } from '../wire/convert.ts';
import {
  DEADLINE_STAGES,
  defaultMaxConcurrentUploads,
  defaultMaxFramesPerStage,
  defaultMaxWaitingClients,
} from './config.ts';
import { type AggregationDefinition, ControlRequestError, invalid } from './control-define.ts';
import { type Authenticate, Coordinator, type CoordinatorConfig, type RoundOutcome } from './coordinator.ts';
import type { CoordinatorObserver } from './observer.ts';
import { OperatorRounds, RoundRefusedError } from './operator-rounds.ts';
import { type ServePrivacy, setUpPrivacy } from './privacy-setup.ts';

/** How many of the latest outcomes an aggregation (and its coordinator) keeps for late watchers. */
export const REPLAY_OUTCOMES = 16;

/** Why an aggregation ended. */
export type EndReason = 'stopped' | 'budget-exhausted' | 'shutdown' | 'failed';

/** The last event of an aggregation. */
export interface AggregationEnd {
  readonly reason: EndReason;
  readonly detail: string;
  /** The last round that ended; 0 if none did. */
  readonly lastRound: number;
}

/** An aggregation's events: each round's outcome, then its end. */
export type AggregationEvent =
  | { readonly kind: 'outcome'; readonly outcome: RoundOutcome }
  | { readonly kind: 'ended'; readonly end: AggregationEnd };

/** What the server gives every aggregation. */
export interface AggregationEnvironment {
  readonly logger: Logger;
  /** Authenticates participants (never the operator: ./operator-auth.ts). */
  readonly authenticate: Authenticate;
  /** Where private aggregations keep their ledgers; without it a private definition is refused. */
  readonly ledgerDir?: string;
  /** Worker threads that remove the masks (default: one per core). */
  readonly unmaskWorkers?: number;
  readonly observer?: CoordinatorObserver;
  /**
   * The setting every aggregation runs (default semi-honest). The malicious setting needs
   * `identities`: each round then announces its cohort's names and keys from them (PROTOCOL.md §2.3).
   */
  readonly serverModel?: ServerModel;
  /** The roster: each enrolled client name's Ed25519 identity key (only enrolled names may check in). */
  readonly identities?: ReadonlyMap<string, Uint8Array>;
}

/** The privacy budget, as GetBudget reports it. */
export interface BudgetReport {
  readonly epsilonSpent: number;
  readonly targetEpsilon: number;
  readonly delta: number;
  readonly roundsCounted: number;
  readonly accountant: 'rdp' | 'pld';
}

/** The parts of a definition `privagg serve` would have taken from its flags. */
function coordinatorConfig(d: AggregationDefinition, env: AggregationEnvironment): CoordinatorConfig {
  // A private update is padded to a power of two: at most 2·D words (as serve sizes it).
  const sized = d.privacy ? [{ name: 'update', length: 2 * d.privacy.dimension, bits: 32 }] : d.vectors;
  return {
    cohortSize: d.clients,
    minClients: d.minClients,
    threshold: d.threshold,
    serverModel: env.serverModel ?? 'semi-honest',
    ...(env.identities && { identities: env.identities }),
    maxCorruptClients: d.maxCorruptClients,
    ...(d.graph.mode !== 'complete' && { graph: d.graph }),
    vectors: d.vectors,
    rounds: Number.POSITIVE_INFINITY,
    checkInMs: d.checkInWindowMs,
    timeouts: Object.fromEntries(
      DEADLINE_STAGES.map((s) => [s, d.stageTimeoutMs]),
    ) as CoordinatorConfig['timeouts'],
    maxConcurrentUploads: defaultMaxConcurrentUploads(sized),
    maxFramesPerStage: defaultMaxFramesPerStage(sized),
    maxWaitingClients: defaultMaxWaitingClients(d.clients),
    keepOutcomes: REPLAY_OUTCOMES,
  };
}

/** An operator's aggregation (see the module documentation). */
export class Aggregation {
  readonly definition: AggregationDefinition;
  readonly coordinator: Coordinator;
  readonly #rounds: OperatorRounds;
  readonly #privacy: ServePrivacy | undefined;
  readonly #logger: Logger;
  /** The latest outcomes (at most REPLAY_OUTCOMES), in order. */
  readonly #kept: RoundOutcome[] = [];
  /** Outcomes dropped from the front of #kept: #kept[0]'s position among all outcomes. */
  #dropped = 0;
  #wake: (() => void)[] = [];
  #end: AggregationEnd | undefined;
  #requested: { readonly reason: 'stopped' | 'shutdown'; readonly detail: string } | undefined;
  #running: Promise<void> | undefined;

  private constructor(
    definition: AggregationDefinition,
    env: AggregationEnvironment,
    privacy: ServePrivacy | undefined,
  ) {
    this.definition = definition;
    this.#privacy = privacy;
    this.#logger = env.logger.child({ aggregation: definition.name });
    this.#rounds = new OperatorRounds(privacy?.planner);
    this.coordinator = new Coordinator(
      {
        ...coordinatorConfig(definition, env),
        ...(env.unmaskWorkers !== undefined && { unmaskWorkers: env.unmaskWorkers }),
      },
      {
        logger: this.#logger,
        authenticate: env.authenticate,
        planner: this.#rounds,
        ...(privacy && { privacy: privacy.accounting }),
        ...(env.observer && { observer: env.observer }),
      },
    );
  }

  /**
   * Builds the aggregation: opens (or resumes) its ledger and checks that its budget allows a round.
   * @throws ControlRequestError FAILED_PRECONDITION for a private aggregation on a server without a
   *   ledger directory, or a ledger created with another δ or budget; RESOURCE_EXHAUSTED when the
   *   ledger has no budget for a round; INVALID_ARGUMENT when no admissible noise exists
   */
  static open(definition: AggregationDefinition, env: AggregationEnvironment): Aggregation {
    const privacy = definition.privacy && openPrivacy(definition, env);
    try {
      return new Aggregation(definition, env, privacy);
    } catch (error) {
      privacy?.ledger.close();
      // The coordinator re-checks the round parameters; checkDefinition has caught all it knows of.
      if (error instanceof RangeError) throw invalid('aggregation', error.message);
      throw error;
    }
  }

  /** The noise multiplier every round uses (with privacy). */
  get noiseMultiplier(): number | undefined {
    return this.#privacy?.noiseMultiplier;
  }

  /** The number the first round has. */
  get firstRound(): number {
    return this.#privacy ? this.#privacy.ledger.nextRound() : 1;
  }

  /** Whether the aggregation has ended (its last event is out). */
  get ended(): boolean {
    return this.#end !== undefined;
  }

  /**
   * Runs the coordinator until the aggregation ends; resolves then, after its ledger is closed.
   * Participants are served from the call on.
   */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<void> {
    const coordinator = this.coordinator;
    const last = () => this.#lastRound();
    let failure: string | undefined;
    try {
      const done = coordinator.run();
      for await (const outcome of coordinator.outcomes()) this.#push(outcome);
      await done;
      // A round running when the coordinator was closed ends after outcomes() has (cli/serve.ts).
      for await (const outcome of coordinator.outcomes()) {
        if (outcome.round > last()) this.#push(outcome);
      }
    } catch (error) {
      // Fail closed: no further round; the watchers still hear that it ended.
      failure = error instanceof Error ? error.message : String(error);
      this.#logger.error({ error: failure }, 'aggregation failed');
      coordinator.close();
    }
    this.#rounds.stop();
    if (this.#privacy) {
      this.#spentAtEnd = this.#privacy.ledger.spent();
      this.#privacy.ledger.close();
    }
    const budgetStop = coordinator.budgetStop;
    const end: AggregationEnd =
      failure !== undefined
        ? { reason: 'failed', detail: 'an internal error ended the aggregation', lastRound: last() }
        : budgetStop !== undefined
          ? { reason: 'budget-exhausted', detail: budgetStop, lastRound: last() }
          : {
              reason: this.#requested?.reason ?? 'stopped',
              detail: this.#requested?.detail ?? 'stopped',
              lastRound: last(),
            };
    this.#logger.info({ reason: end.reason, lastRound: end.lastRound }, 'aggregation ended');
    this.#end = end;
    this.#wakeWatchers();
  }

  #lastRound(): number {
    return this.#kept.at(-1)?.round ?? 0;
  }

  #push(outcome: RoundOutcome): void {
    this.#kept.push(outcome);
    if (this.#kept.length > REPLAY_OUTCOMES) {
      this.#kept.shift();
      this.#dropped++;
    }
    this.#wakeWatchers();
  }

  #wakeWatchers(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }

  /**
   * Starts the next round with `task`.
   * @returns the round's number and the task's SHA-256 (undefined without a task)
   * @throws ControlRequestError INVALID_ARGUMENT for a task over 8 MiB; FAILED_PRECONDITION while a
   *   round is started or running, or once the aggregation is stopping; RESOURCE_EXHAUSTED when the
   *   budget allows no further round
   */
  async start(task: Uint8Array | undefined): Promise<{ round: number; taskDigest?: Uint8Array }> {
    if (task && task.length > MAX_TASK_BYTES) {
      throw invalid('task', `must be at most ${MAX_TASK_BYTES} bytes, got ${task.length}`);
    }
    if (this.#requested || this.#end) {
      throw new ControlRequestError(
        Status.FAILED_PRECONDITION,
        `aggregation: '${this.definition.name}' is ${this.#end ? 'ended' : 'stopping'}: no further round`,
      );
    }
    const refusal = this.#privacy?.budgetRefusal();
    if (refusal !== undefined) {
      throw new ControlRequestError(
        Status.RESOURCE_EXHAUSTED,
        `aggregation.privacy.target_epsilon: ${refusal}`,
      );
    }
    let round: number;
    try {
      round = await this.#rounds.start(task);
    } catch (error) {
      if (error instanceof RoundRefusedError) {
        throw new ControlRequestError(Status.FAILED_PRECONDITION, `aggregation: ${error.message}`);
      }
      throw error;
    }
    this.#logger.info({ round, taskBytes: task?.length ?? 0 }, 'round started by the operator');
    return { round, ...(task && task.length > 0 && { taskDigest: sha256(task) }) };
  }

  /**
   * Every outcome of a round after `afterRound` (of those still kept), then each as it ends, then the
   * end event, which is the last.
   */
  async *events(afterRound = 0): AsyncGenerator<AggregationEvent> {
    let index = 0;
    while (true) {
      // A watcher that fell behind what is kept goes on from the oldest kept outcome.
      for (index = Math.max(index, this.#dropped); index - this.#dropped < this.#kept.length; ) {
        const outcome = this.#kept[index++ - this.#dropped]!;
        if (outcome.round > afterRound) yield { kind: 'outcome', outcome };
        index = Math.max(index, this.#dropped);
      }
      if (this.#end) {
        yield { kind: 'ended', end: this.#end };
        return;
      }
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
  }

  /**
   * The privacy budget.
   * @throws ControlRequestError FAILED_PRECONDITION without privacy
   */
  budget(): BudgetReport {
    const privacy = this.#privacy;
    if (!privacy) {
      throw new ControlRequestError(
        Status.FAILED_PRECONDITION,
        `aggregation: '${this.definition.name}' has no differential privacy, so no budget`,
      );
    }
    const ledger = privacy.ledger;
    const spent = this.#end ? this.#spentAtEnd : ledger.spent();
    return {
      epsilonSpent: spent.epsilon,
      targetEpsilon: ledger.targetEpsilon,
      delta: ledger.delta,
      roundsCounted: spent.rounds,
      accountant: spent.accountant,
    };
  }

  /** What the ledger had spent when the aggregation ended (the ledger is closed then). */
  #spentAtEnd: ReturnType<ServePrivacy['ledger']['spent']> = {
    epsilon: 0,
    order: 0,
    rounds: 0,
    accountant: 'rdp',
  };

  /**
   * Starts no further round; a round with its cohort runs to its end. Resolves with the aggregation's
   * end once it has ended.
   */
  stop(): Promise<AggregationEnd> {
    return this.#close('stopped', 'stopped by the operator');
  }

  /** As {@link stop}, for a server that is shutting down. */
  shutdown(): Promise<AggregationEnd> {
    return this.#close('shutdown', 'the server is shutting down');
  }

  async #close(reason: 'stopped' | 'shutdown', detail: string): Promise<AggregationEnd> {
    this.#requested ??= { reason, detail };
    this.#rounds.stop();
    this.coordinator.close();
    await this.run();
    return this.#end!;
  }
}

/** The privacy setup of `privagg serve --dp`, for a definition's privacy. */
function openPrivacy(definition: AggregationDefinition, env: AggregationEnvironment): ServePrivacy {
  const p = definition.privacy!;
  if (env.ledgerDir === undefined) {
    throw new ControlRequestError(
      Status.FAILED_PRECONDITION,
      'aggregation.privacy.ledger: this server keeps no privacy ledgers: start privagg serve --control ' +
        'with --ledger-dir DIR to run private aggregations',
    );
  }
  let privacy: ServePrivacy;
  try {
    privacy = setUpPrivacy(
      {
        vectors: [{ name: 'update', length: p.dimension, bits: 32 }],
        clients: definition.clients,
        minClients: definition.minClients,
        rounds: p.noise.kind === 'calibrated' ? p.noise.rounds : 1,
        threshold: definition.threshold,
        maxCorruptClients: definition.maxCorruptClients,
        ...(definition.graphPlans && { graphPlans: definition.graphPlans }),
      },
      {
        mechanism: p.mechanism,
        clip: p.clip,
        ...(p.noise.kind === 'given' && { noiseMultiplier: p.noise.noiseMultiplier }),
        targetEpsilon: p.targetEpsilon,
        delta: p.delta,
        ledger: join(env.ledgerDir, p.ledger),
        ...(p.adaptiveClipQuantile !== undefined && { adaptiveClipQuantile: p.adaptiveClipQuantile }),
      },
    );
  } catch (error) {
    // Another δ or budget, a corrupt file, one that cannot be opened: the ledger is the operator's to fix.
    if (error instanceof LedgerError) {
      throw new ControlRequestError(
        Status.FAILED_PRECONDITION,
        `aggregation.privacy.ledger: ${error.message}`,
      );
    }
    if (error instanceof RangeError) throw invalid('aggregation.privacy', error.message);
    throw error;
  }
  const refusal = privacy.budgetRefusal();
  if (refusal !== undefined) {
    privacy.ledger.close();
    throw new ControlRequestError(
      Status.RESOURCE_EXHAUSTED,
      `aggregation.privacy.target_epsilon: ${refusal}`,
    );
  }
  return privacy;
}
