/**
 * Timing with two clocks. Wall time is what a user waits; process CPU time (user + system, all
 * threads) is what the code costs, and is far less disturbed by other processes competing for the
 * cores. Peer workers are idle during every timed section, so process CPU time is this thread's work
 * plus the V8 helper threads (concurrent GC) it causes.
 * @module
 */

/** Milliseconds on both clocks. */
export interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

export const ZERO: Timing = Object.freeze({ wall: 0, cpu: 0 });

export function plus(a: Timing, b: Timing): Timing {
  return { wall: a.wall + b.wall, cpu: a.cpu + b.cpu };
}

/** Runs `f` and returns its value and how long it took. */
export function timed<T>(f: () => T): [T, Timing] {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const value = f();
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  return [value, { wall, cpu: (cpu.user + cpu.system) / 1000 }];
}
