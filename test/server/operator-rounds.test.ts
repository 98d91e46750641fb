/**
 * OperatorRounds, the planner whose rounds the operator starts: its states (idle → started → running
 * → idle, and stopped), in both orders of `start` and the coordinator's `ready`, and refusals that
 * change nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoundOutcome, RoundShape } from '../../src/server/coordinator.ts';
import { OperatorRounds, RoundRefusedError } from '../../src/server/operator-rounds.ts';

const shape = (round: number): RoundShape => ({
  round,
  clients: 3,
  threshold: 3,
  maxCorruptClients: 0,
  graph: { kind: 'complete' },
  minSurvivors: 3,
});

const outcome = (round: number) => ({ round }) as RoundOutcome;

/** Whether a promise has settled, after the microtasks queued so far. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('OperatorRounds', () => {
  it('lets a round through only once the operator starts it, with its task', async () => {
    const rounds = new OperatorRounds();
    const ready = rounds.ready(1);
    assert.equal(await settled(ready), false, 'the coordinator waits for a start');
    const task = Uint8Array.of(1, 2, 3);
    const started = rounds.start(task);
    task[0] = 9; // the caller's buffer may be reused: the round keeps a copy
    assert.equal(await ready, true);
    assert.equal(await started, 1);
    assert.equal(rounds.running, 1);
    assert.deepEqual(await rounds.plan(shape(1)), { task: Uint8Array.of(1, 2, 3) });
    await rounds.complete(outcome(1));
    assert.equal(rounds.running, undefined);
  });

  it('keeps a start that comes before the coordinator is ready, and numbers it then', async () => {
    const rounds = new OperatorRounds();
    const started = rounds.start();
    assert.equal(await settled(started), false);
    assert.equal(await rounds.ready(7), true);
    assert.equal(await started, 7);
    assert.deepEqual(await rounds.plan(shape(7)), {}, 'no task: none announced');
  });

  it('refuses a second start until the outcome, and changes nothing', async () => {
    const rounds = new OperatorRounds();
    const first = rounds.start(Uint8Array.of(1));
    assert.throws(() => rounds.start(Uint8Array.of(2)), {
      name: 'RoundRefusedError',
      message: /already started/,
    });
    void rounds.ready(1);
    await first;
    const refused = (() => {
      try {
        rounds.start(Uint8Array.of(3));
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(refused instanceof RoundRefusedError);
    assert.equal(refused.problem, 'round-in-progress');
    assert.deepEqual(await rounds.plan(shape(1)), { task: Uint8Array.of(1) });
    await rounds.complete(outcome(1));
    const next = rounds.start(Uint8Array.of(4));
    assert.equal(await rounds.ready(2), true);
    assert.equal(await next, 2);
  });

  it('stop answers a waiting ready with false, refuses a start not yet taken and later ones, keeps a running round its task', async () => {
    const waiting = new OperatorRounds();
    const ready = waiting.ready(1);
    waiting.stop();
    assert.equal(await ready, false);
    assert.equal(await waiting.ready(2), false);
    assert.throws(() => waiting.start(), {
      name: 'RoundRefusedError',
      message: 'the aggregation is stopped',
    });

    const pending = new OperatorRounds();
    const notTaken = pending.start(Uint8Array.of(4));
    pending.stop();
    await assert.rejects(notTaken, {
      name: 'RoundRefusedError',
      message: /stopped before the round could start/,
    });

    const running = new OperatorRounds();
    const started = running.start(Uint8Array.of(5));
    await running.ready(1);
    await started;
    running.stop();
    assert.equal(running.stopped, true);
    assert.deepEqual(await running.plan(shape(1)), { task: Uint8Array.of(5) });
  });

  it('plans the inner planner’s privacy with the operator’s task, and tells it the outcome first', async () => {
    const heard: number[] = [];
    const privacy = { mechanism: 'central-gaussian' } as never;
    const rounds = new OperatorRounds({
      plan: () => ({ privacy }),
      complete: (o) => {
        heard.push(o.round);
      },
    });
    const started = rounds.start(Uint8Array.of(8));
    await rounds.ready(3);
    await started;
    assert.deepEqual(await rounds.plan(shape(3)), { privacy, task: Uint8Array.of(8) });
    await rounds.complete(outcome(3));
    assert.deepEqual(heard, [3]);
  });
});
