// young-gc.ts: freeing dead young ArrayBuffers on demand (the unmask workers' keystream chunks, the
// coordinator's summed inputs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canCollectYoungGarbage, collectPerBytes, collectYoungGarbage } from '../../src/server/young-gc.ts';

/**
 * The ArrayBuffer bytes once V8's (concurrent) sweeper has released what a collection freed: polls
 * until they fall below `below`, for up to ~100 ms (long enough for the sweeper, too short for V8 to
 * collect on its own).
 */
async function settledArrayBuffers(below: number): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const bytes = process.memoryUsage().arrayBuffers;
    if (bytes < below) return bytes;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return process.memoryUsage().arrayBuffers;
}

/** Allocates and drops `count` buffers of 4 MiB; returns how many bytes they held. */
function dropBuffers(count: number): number {
  for (let i = 0; i < count; i++) new Uint8Array(4 << 20)[0] = 1;
  return count * (4 << 20);
}

describe('young-gc', () => {
  it('can collect on Node 20', () => {
    assert.equal(canCollectYoungGarbage(), true);
  });

  it('frees dead young ArrayBuffers once collectPerBytes has been told of enough of them', async () => {
    // The first large allocations of a process can make V8 schedule a collection of its own; let
    // that happen before the measured part.
    dropBuffers(2);
    collectYoungGarbage();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const report = collectPerBytes(3 << 20);
    const dropped = dropBuffers(2);
    const held = process.memoryUsage().arrayBuffers;
    report(1 << 20);
    report(1 << 20);
    assert.ok(process.memoryUsage().arrayBuffers >= held, 'not yet: 2 MiB of 3 reported');
    report(1 << 20);
    assert.ok(
      (await settledArrayBuffers(held - dropped / 2)) < held - dropped / 2,
      'the third MiB reported collected',
    );
  });

  it('collectPerBytes validates its threshold', () => {
    assert.throws(() => collectPerBytes(0), RangeError);
    assert.throws(() => collectPerBytes(1.5), RangeError);
  });
});
