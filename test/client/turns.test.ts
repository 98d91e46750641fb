/**
 * takeTurn (src/client/turns.ts): the protocol steps of a process's participants run one per
 * event-loop turn, in order, so timers and sockets are served between any two of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeTurn } from '../../src/client/turns.ts';

describe('takeTurn', () => {
  it('runs steps in order, one per turn, with timers firing between them', async () => {
    const order: string[] = [];
    // Due at once: with the steps run back to back it would fire only after the last.
    setTimeout(() => order.push('timer'), 0);
    const steps = Array.from({ length: 6 }, (_, i) =>
      takeTurn(() => {
        const until = performance.now() + 3; // a step that holds the thread a little
        while (performance.now() < until);
        order.push(`step ${i}`);
        return i;
      }),
    );
    assert.deepEqual(await Promise.all(steps), [0, 1, 2, 3, 4, 5]);
    const timerAt = order.indexOf('timer');
    assert.ok(timerAt > 0 && timerAt < order.length - 1, `timer at ${timerAt} of ${order.join(', ')}`);
    assert.deepEqual(
      order.filter((x) => x !== 'timer'),
      steps.map((_, i) => `step ${i}`),
    );
  });

  it('passes a step’s error to its caller and goes on with the next', async () => {
    const failed = takeTurn(() => {
      throw new RangeError('bad step');
    });
    const next = takeTurn(() => 'next');
    await assert.rejects(failed, /bad step/);
    assert.equal(await next, 'next');
  });
});
