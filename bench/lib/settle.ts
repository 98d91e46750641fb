/**
 * Quieting the process before a timed section: a full garbage collection (so a collection
 * triggered by earlier work does not land inside the measurement) and a short pause (so concurrent
 * GC threads and just-finished worker threads have gone idle). `gc` is exposed at run time, since the
 * npm script passes no `--expose-gc`.
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

/** Full GC, then a pause of `ms` milliseconds. */
export async function settle(ms = 10): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, ms));
}
