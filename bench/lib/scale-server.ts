/**
 * The coordinator of `npm run bench:scale`, in a child process of its own, so that its CPU time and
 * peak memory are measured apart from the thousands of simulated clients: the real SecAggServer
 * (`src/sim/large.ts` `localServer`) unmasking on the coordinator's worker pool
 * (`src/server/unmask-pool.ts`). The parent drives it over IPC (advanced serialization, so typed
 * arrays and Maps cross as they are); see `scale-remote.ts` for the protocol.
 * @module
 */
import { readFileSync } from 'node:fs';
import { type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { unmaskPlan } from '../../src/secagg/unmask-plan.ts';
import { UnmaskPool } from '../../src/server/unmask-pool.ts';
import {
  type LocalServer,
  localServer,
  processCpuMs,
  type SimEvent,
  type SimReply,
} from '../../src/sim/large.ts';

/** Parent → child. */
export type ToScaleServer =
  | {
      readonly id: number;
      readonly op: 'init';
      readonly params: RoundParamsInput;
      /** Unmask worker threads (0: inline). */
      readonly workers: number;
      /**
       * Test-only override of the announced Harary parameters (the benchmark's row with Flower's
       * parameters, which `roundParams` refuses at 10% dropout): applied after validation, as a
       * coordinator that skipped the checks would. Never used for the secure rows.
       */
      readonly unchecked?: {
        readonly threshold: number;
        readonly degree: number;
        readonly minSurvivors: number;
      };
    }
  | { readonly id: number; readonly op: 'start' }
  | { readonly id: number; readonly op: 'exchange'; readonly events: readonly SimEvent[] }
  | { readonly id: number; readonly op: 'close-stage' }
  | { readonly id: number; readonly op: 'stats' };

/** What the child measured. */
export interface ScaleServerStats {
  /** Time in the state machine and the unmask executor (wall), ms. */
  readonly serverMs: number;
  /** Of which the unmask executor (wall), ms. */
  readonly unmaskMs: number;
  /** Process CPU time (every thread) during those calls, ms: the state machine, and the unmask workers. */
  readonly serverCpuMs: number;
  /** Of which during the unmask executor, ms. */
  readonly unmaskCpuMs: number;
  /** Unmask worker threads. */
  readonly workers: number;
  /** Process CPU time (all threads: state machine, unmask workers, IPC decoding, GC), ms. */
  readonly cpuMs: number;
  /**
   * Peak resident set size of the process (unmask workers included), bytes: Linux's VmHWM, which
   * starts afresh at exec (getrusage's maxRSS does not: it would report the forking parent's size),
   * or elsewhere the largest RSS sampled every 10 ms.
   */
  readonly maxRssBytes: number;
  /** Resident set size right after start-up (Node, tsx and the modules loaded), bytes. */
  readonly startRssBytes: number;
  /** Resident set size once the unmask threads are up, before the round: the idle coordinator. */
  readonly readyRssBytes: number;
}

/** Child → parent. */
export type FromScaleServer =
  | { readonly id: number; readonly reply: SimReply }
  | { readonly id: number; readonly stats: ScaleServerStats }
  | { readonly id: number; readonly ok: true }
  | { readonly id: number; readonly error: string };

const startRssBytes = process.memoryUsage().rss;

/** Linux's VmHWM of this process in bytes, or undefined elsewhere. */
function highWaterMark(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// Without VmHWM, sample the RSS every 10 ms (process.memoryUsage() is not free: only then).
let sampledPeak = startRssBytes;
if (highWaterMark() === undefined) {
  setInterval(() => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
  }, 10).unref();
}

/** The process's peak RSS: VmHWM where there is one, else the sampled peak. */
function peakRssBytes(): number {
  return highWaterMark() ?? Math.max(sampledPeak, process.memoryUsage().rss);
}
let server: LocalServer | undefined;
let pool: UnmaskPool | undefined;
let cpuAtInit = process.cpuUsage();
let readyRssBytes = startRssBytes;
let workers = 0;

function send(message: FromScaleServer): void {
  process.send!(message);
}

async function handle(message: ToScaleServer): Promise<FromScaleServer> {
  switch (message.op) {
    case 'init': {
      let params = roundParams(message.params);
      if (message.unchecked && params.graph.kind === 'harary') {
        const { threshold, degree, minSurvivors } = message.unchecked;
        params = Object.freeze({
          ...params,
          threshold,
          minSurvivors,
          graph: { ...params.graph, degree, minSurvivors },
        });
      }
      pool = message.workers > 0 ? new UnmaskPool({ size: message.workers }) : undefined;
      // One tiny plan, so every thread has loaded before the round (and is counted in readyRss).
      await pool?.run(
        unmaskPlan(
          new Uint8Array(32),
          [{ name: 'warm-up', length: 4 * message.workers, bits: 8 }],
          Array.from({ length: 4 * message.workers }, () => ({
            kind: 'pair' as const,
            seed: new Uint8Array(32),
            sign: 1 as const,
          })),
        ),
      );
      readyRssBytes = process.memoryUsage().rss;
      cpuAtInit = process.cpuUsage();
      workers = message.workers;
      server = localServer(params, {
        clock: () => performance.now(),
        cpuClock: processCpuMs,
        ...(pool && { unmask: (plan) => pool!.run(plan) }),
      });
      return { id: message.id, ok: true };
    }
    case 'start':
      return { id: message.id, reply: await server!.start() };
    case 'exchange':
      return { id: message.id, reply: await server!.exchange(message.events) };
    case 'close-stage':
      return { id: message.id, reply: await server!.closeStage() };
    case 'stats': {
      const cpu = process.cpuUsage(cpuAtInit);
      await pool?.close();
      return {
        id: message.id,
        stats: {
          serverMs: server!.stats.serverMs,
          unmaskMs: server!.stats.unmaskMs,
          serverCpuMs: server!.stats.serverCpuMs,
          unmaskCpuMs: server!.stats.unmaskCpuMs,
          workers,
          cpuMs: (cpu.user + cpu.system) / 1000,
          maxRssBytes: peakRssBytes(),
          startRssBytes,
          readyRssBytes,
        },
      };
    }
  }
}

process.on('message', (message: ToScaleServer) => {
  handle(message).then(send, (error: unknown) =>
    send({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
