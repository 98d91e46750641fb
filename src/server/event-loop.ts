/**
 * How late the coordinator's event loop runs: every session's frames, deadlines and keepalive pings
 * wait behind whatever holds the loop, so its delay is the first thing to watch when clients are
 * dropped that should not have been. A thin wrapper over `perf_hooks.monitorEventLoopDelay`, read
 * and reset once per round.
 * @module
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Event-loop delay over a window, in milliseconds. */
export interface EventLoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The sampling period: a timer due every 10 ms. A stall shorter than this may go unseen; a longer
 * one shows up at about its full length.
 */
const RESOLUTION_MS = 10;

/** Samples the event loop's delay from construction until {@link close}. */
export class EventLoopMonitor {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this.#histogram.enable();
  }

  /** The delay since construction or the last call, and starts a new window. */
  takeWindow(): EventLoopDelay {
    const h = this.#histogram;
    // The histogram holds, in nanoseconds, the interval between two firings of a timer due every
    // RESOLUTION_MS: the delay is what exceeds the period. An empty window reads as no delay.
    const ms = (ns: number) =>
      h.count === 0 ? 0 : Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    const window = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    return window;
  }

  close(): void {
    this.#histogram.disable();
  }
}
