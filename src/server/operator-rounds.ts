/**
 * A {@link RoundPlanner} whose rounds are started by the operator, one at a time, each with its own
 * task: the in-process form of the control service's StartRound (server/control-service.ts is a thin
 * gRPC adapter over this and the {@link Coordinator}).
 *
 * Call order. The coordinator calls `ready(round)` before it selects each round's cohort; the round
 * waits there until the operator calls {@link OperatorRounds.start} (which may also come first: it is
 * then taken by the next `ready`). `plan` hands the coordinator the started round's task (and the
 * privacy an inner planner announces), `complete` ends it; only then may the next `start` come.
 * {@link OperatorRounds.stop} makes every later `ready` answer false, which ends the coordinator's run.
 *
 * States: idle (no round started) → started (a task waits for `ready`) → running (from `ready` to
 * `complete`) → idle; any state → stopped, which is final. A `start` outside idle is refused and
 * changes nothing.
 *
 * ```ts
 * const rounds = new OperatorRounds();
 * const coordinator = new Coordinator({ ...config, rounds: Infinity }, { logger, authenticate, planner: rounds });
 * const running = coordinator.run();
 * const { round } = await rounds.start(modelBytes); // once per round, after the previous outcome
 * for await (const outcome of coordinator.outcomes()) { ...; if (done) rounds.stop(); }
 * ```
 * @module
 */
import type { RoundOutcome, RoundPlanner, RoundShape, RoundTask } from './coordinator.ts';

/** Why {@link OperatorRounds.start} refused: a round is already started or running, or it stopped. */
export class RoundRefusedError extends Error {
  override name = 'RoundRefusedError';
  constructor(
    readonly problem: 'round-in-progress' | 'stopped',
    message: string,
  ) {
    super(message);
  }
}

/** A started round: its task, and who waits to learn its number (or that it will not run). */
interface Started {
  readonly task: Uint8Array | undefined;
  readonly accepted: (round: number) => void;
  readonly refused: (error: RoundRefusedError) => void;
}

type State =
  | { readonly kind: 'idle' }
  | { readonly kind: 'started'; readonly started: Started }
  | { readonly kind: 'running'; readonly round: number }
  | { readonly kind: 'stopped' };

/** Rounds started by the operator (see the module documentation). */
export class OperatorRounds implements RoundPlanner {
  readonly #inner: RoundPlanner | undefined;
  #state: State = { kind: 'idle' };
  /** The task of the round the coordinator took last (kept through stop(): that round may still run). */
  #task: Uint8Array | undefined;
  /** The coordinator waiting in `ready` for a start, if it is. */
  #waiting: { readonly round: number; readonly answer: (go: boolean) => void } | undefined;

  /**
   * @param inner - plans what the operator does not give per round (the announced privacy) and hears
   *   each outcome first: `privagg serve --dp`'s planner (server/privacy-setup.ts); it must not set a
   *   task, and needs no `ready`
   */
  constructor(inner?: RoundPlanner) {
    this.#inner = inner;
  }

  /** Whether {@link stop} has been called. */
  get stopped(): boolean {
    return this.#state.kind === 'stopped';
  }

  /** The round running now (from its cohort's selection to its outcome), if any. */
  get running(): number | undefined {
    return this.#state.kind === 'running' ? this.#state.round : undefined;
  }

  /**
   * Starts the next round with `task` (copied). Resolves with the round's number once the coordinator
   * takes it, which is at once unless it is still finishing the previous round's bookkeeping.
   * @throws RoundRefusedError when a round is started or running, or after {@link stop}
   */
  start(task?: Uint8Array): Promise<number> {
    const state = this.#state;
    if (state.kind === 'stopped') throw new RoundRefusedError('stopped', 'the aggregation is stopped');
    if (state.kind === 'started') {
      throw new RoundRefusedError('round-in-progress', 'a round is already started and waiting to run');
    }
    if (state.kind === 'running') {
      throw new RoundRefusedError(
        'round-in-progress',
        `round ${state.round} is still running: start the next one after its outcome`,
      );
    }
    // A copy: the caller's buffer may be reused before the round announces it.
    const copy = task && task.length > 0 ? task.slice() : undefined;
    return new Promise<number>((accepted, refused) => {
      this.#state = { kind: 'started', started: { task: copy, accepted, refused } };
      this.#take();
    });
  }

  /**
   * Starts no further round: a `ready` waiting now, and every later one, answers false; a start the
   * coordinator has not taken yet is refused.
   */
  stop(): void {
    const state = this.#state;
    this.#state = { kind: 'stopped' };
    if (state.kind === 'started') {
      state.started.refused(
        new RoundRefusedError('stopped', 'the aggregation stopped before the round could start'),
      );
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.answer(false);
  }

  /** {@link RoundPlanner.ready}: waits for the operator's start (or stop). */
  ready(round: number): Promise<boolean> {
    if (this.#state.kind === 'stopped') return Promise.resolve(false);
    return new Promise<boolean>((answer) => {
      this.#waiting = { round, answer };
      this.#take();
    });
  }

  /** Hands a started round to a waiting coordinator, when there are both. */
  #take(): void {
    const state = this.#state;
    const waiting = this.#waiting;
    if (state.kind !== 'started' || !waiting) return;
    this.#waiting = undefined;
    this.#state = { kind: 'running', round: waiting.round };
    this.#task = state.started.task;
    state.started.accepted(waiting.round);
    waiting.answer(true);
  }

  /** {@link RoundPlanner.plan}: the inner planner's privacy with the operator's task. */
  async plan(shape: RoundShape): Promise<RoundTask> {
    // The coordinator plans only a round `ready` let through; stop() does not take its task away.
    const task = this.#task;
    const inner = this.#inner ? await this.#inner.plan(shape) : {};
    return { ...(inner.privacy && { privacy: inner.privacy }), ...(task && { task }) };
  }

  /** {@link RoundPlanner.complete}: the inner planner hears the outcome, then the next start may come. */
  async complete(outcome: RoundOutcome): Promise<void> {
    await this.#inner?.complete?.(outcome);
    this.#task = undefined;
    if (this.#state.kind === 'running') this.#state = { kind: 'idle' };
  }
}
