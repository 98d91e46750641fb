/**
 * Writes the coordinator's outgoing frames a time slice at a time. When a stage closes, the core hands
 * back one message per client at once (n share deliveries of O(n) ciphertexts each in a complete
 * graph); converting and serializing them all in one go held the event loop for 0.3 s at n = 300,
 * and every other session's frames, deadlines and keepalive pings waited behind it. Here each
 * macrotask writes for at most {@link SLICE_MS}, then yields to I/O and timers (`setImmediate`), so
 * the loop's delay stays bounded whatever n is.
 *
 * Writes keep their order per session (one FIFO for all). A session whose call is closed by the time
 * its turn comes is skipped. {@link idle} resolves once everything queued so far has been written.
 * @module
 */

/** One queued write: run when its turn comes, unless `skip()` says it is moot by then. */
export interface QueuedWrite {
  readonly skip: () => boolean;
  readonly write: () => void;
}

/**
 * How long one macrotask writes (or, in the coordinator, reconstructs secrets) before yielding. Small against the target loop delay (100 ms at
 * 1,000 clients), large enough that the yield itself (~tens of µs) costs little.
 */
export const SLICE_MS = 5;

/** A FIFO of writes drained in time slices. */
export class FrameWriter {
  #queue: QueuedWrite[] = [];
  #head = 0;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Queues a write; it runs in a later macrotask, after every write queued before it. */
  enqueue(write: QueuedWrite): void {
    this.#queue.push(write);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** How many writes are waiting. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Resolves once every write queued so far has run (or been skipped). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    const until = this.#now() + SLICE_MS;
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const next = queue[this.#head]!;
      // Release the entry at once: it may hold a large frame.
      queue[this.#head++] = undefined as unknown as QueuedWrite;
      if (!next.skip()) next.write();
      if (this.#now() >= until) break;
    }
    if (this.#head < queue.length) {
      this.#scheduled = true;
      setImmediate(this.#drain);
      return;
    }
    this.#queue = [];
    this.#head = 0;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
}
