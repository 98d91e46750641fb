/**
 * Quieting the process before a timed section. Three things can otherwise land inside a
 * measurement: a garbage collection triggered by earlier work; V8's background threads finishing
 * that work (concurrent sweeping, the idle-time memory reducer); and worker threads (each has its own
 * heap and helper threads) doing the same after they answered. So: a full GC here, then wait until
 * the whole process has used almost no CPU for a short window while this thread sleeps. `gc` is
 * exposed at run time, since the npm script passes no `--expose-gc`.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (() => void) | undefined;

/** Runs a full GC now (synchronously); a no-op where gc cannot be exposed. */
export function collectGarbage(): void {
  collect?.();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long the last {@link settle} waited, in ms (for diagnostics). */
export let lastSettleMs = 0;

/**
 * Full GC, then waits until the process (all threads) used under `idleShare` of one core during a
 * `windowMs` window in which this thread slept, giving up after `maxMs`.
 */
export async function settle(windowMs = 20, idleShare = 0.1, maxMs = 5000): Promise<void> {
  const start = performance.now();
  collectGarbage();
  for (;;) {
    const before = process.cpuUsage();
    const t0 = performance.now();
    await sleep(windowMs);
    const used = process.cpuUsage(before);
    const elapsed = performance.now() - t0;
    const busy = (used.user + used.system) / 1000 / elapsed;
    if (busy < idleShare || performance.now() - start > maxMs) break;
  }
  lastSettleMs = performance.now() - start;
}
