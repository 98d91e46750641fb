/**
 * A worker-thread pool that runs unmask plans (secagg/unmask-plan.ts) off the event loop.
 *
 * A plan's jobs are handed out in batches: each worker takes a batch, expands every mask of it into
 * its own accumulator (one `Uint32Array` per vector, so O(vector length) memory per worker whatever
 * the number of jobs), and asks for the next; when none is left it returns its accumulator as
 * transferred `ArrayBuffer`s (no copy), which the main thread adds into the correction as each arrives.
 * Batching rather than a fixed split keeps every worker busy when some run slower (the event loop
 * shares the cores). Memory is O((workers + 2) × vector length).
 *
 * Secrets: seeds travel to the workers by `postMessage`, within this process: each batch's seeds are
 * packed into a fresh buffer that is *transferred* (the sending side keeps no copy), and the worker
 * zeroes it once the batch's masks are expanded. The partial sums are zeroed once added. Error
 * messages from a worker are PRG argument checks (lengths, types), never values.
 *
 * Failure is closed: if a worker reports an error, throws, or exits, the run rejects, every worker
 * is terminated (fresh ones start with the next run) and no partial result is returned. Workers are
 * started on first use and kept for later runs; idle ones are `unref`ed so a forgotten pool never keeps
 * the process alive, and `close()` terminates them all.
 *
 * Compiled (dist/), the workers run unmask-worker.js as it is: plain JavaScript, no loader (~12 MiB of
 * resident memory per thread, against ~31 MiB for a thread that carries tsx: `npm run
 * measure:startup`). Run from the
 * TypeScript sources (tests, benchmarks), they run the worker module bundled into plain JavaScript by
 * esbuild (worker-bundle.ts, a development dependency loaded only then); where it cannot be bundled,
 * a worker starts from a bootstrap that registers tsx's loader in its own thread
 * (runtime/worker-entry.ts). Every path works the same whether the process was started with
 * `node --import tsx` or through `bin/privagg.js`.
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { isTypeScriptModule, siblingModule, workerEntry } from '../runtime/worker-entry.ts';
import {
  assertCorrection,
  type PackedMaskJobs,
  packMaskJobs,
  type UnmaskPlan,
  unmaskPlan,
  zeroCorrection,
} from '../secagg/unmask-plan.ts';
import { bundledWorkerUrl, prepareWorkerBundle } from './worker-bundle.ts';

/** Options for {@link UnmaskPool}. */
export interface UnmaskPoolOptions {
  /** Most worker threads to use; the pool uses `min(os.availableParallelism(), size)`. Default: no cap. */
  readonly size?: number;
  /** Use exactly `size` threads even beyond `os.availableParallelism()` (for tests). */
  readonly oversubscribe?: boolean;
  /** Jobs per batch; default: each run is cut into about 4 batches per worker. */
  readonly batchSize?: number;
  /** The worker module (tests point this at faulty workers). Default: `./unmask-worker.js` (`.ts` from the sources). */
  readonly workerUrl?: URL;
}

/** Why a run failed: a worker error, crash or exit, or the pool was closed. */
export class UnmaskPoolError extends Error {
  override name = 'UnmaskPoolError';
}

// ---- the messages between the pool and its workers --------------------------------------------

/** Pool → worker. */
export type ToWorker =
  | {
      readonly type: 'begin';
      readonly sessionId: Uint8Array;
      readonly vectors: readonly { name: string; length: number; bits: number }[];
    }
  | ({ readonly type: 'jobs' } & PackedMaskJobs)
  | { readonly type: 'end' };

/** Worker → pool. */
export type FromWorker =
  | { readonly type: 'more' }
  | { readonly type: 'partial'; readonly sums: readonly ArrayBuffer[] }
  | { readonly type: 'error'; readonly message: string };

const WORKER_MODULE = siblingModule('./unmask-worker', import.meta.url);

/** A plan in flight. */
interface Run {
  readonly plan: UnmaskPlan;
  readonly workers: readonly Worker[];
  readonly batchSize: number;
  next: number;
  /** Workers whose partial sum has not arrived yet. */
  pending: number;
  correction: Uint32Array[] | undefined;
  readonly resolve: (correction: Uint32Array[]) => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
}

/**
 * Runs unmask plans on worker threads. One plan runs at a time; later calls wait their turn.
 * @example
 * ```ts
 * const pool = new UnmaskPool({ size: 4 });
 * server.completeUnmask(await pool.run(server.pendingUnmask!));
 * await pool.close();
 * ```
 */
export class UnmaskPool {
  /** How many worker threads a run uses at most. */
  readonly size: number;
  readonly #batchSize: number | undefined;
  readonly #workerUrl: URL;
  #workers: Worker[] = [];
  #current: Run | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  /**
   * @throws RangeError for a size or batch size that is not a positive integer
   */
  constructor(options: UnmaskPoolOptions = {}) {
    const { size, batchSize } = options;
    if (size !== undefined && !(Number.isInteger(size) && size >= 1)) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
    if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1)) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    const cap = options.oversubscribe && size !== undefined ? size : availableParallelism();
    this.size = Math.max(1, Math.min(cap, size ?? Number.POSITIVE_INFINITY));
    this.#batchSize = batchSize;
    this.#workerUrl = options.workerUrl ?? WORKER_MODULE;
  }

  /** Worker threads currently alive (started and not yet terminated). */
  get threads(): number {
    return this.#workers.length;
  }

  /**
   * Builds what the threads start from ahead of time, without blocking the event loop (the esbuild
   * bundle, when running from the TypeScript sources; nothing to do when compiled).
   */
  prepare(): Promise<void> {
    return isTypeScriptModule(this.#workerUrl) ? prepareWorkerBundle(this.#workerUrl) : Promise.resolve();
  }

  /**
   * Starts the threads now rather than on the first run (each takes some ms to load its module and
   * the PRG), e.g. when a round begins. Idle threads do not keep the process alive. No-op once closed.
   */
  warm(): void {
    if (this.#closed) return;
    while (this.#workers.length < this.size) this.#workers.push(this.#spawn());
  }

  /**
   * Runs `plan` and resolves with its correction: per vector, `Σ_jobs sign · mask` modulo 2^32, equal
   * word for word to `runUnmaskPlan(plan)`. The plan is not modified (its seeds stay the caller's).
   * @throws {UnmaskPoolError} (rejection) if a worker fails or the pool is closed; TypeError /
   *   RangeError for a malformed plan
   */
  run(plan: UnmaskPlan): Promise<Uint32Array[]> {
    const turn = this.#tail.then(() => this.#run(plan));
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Terminates every worker; a run in progress (and any waiting) rejects with {@link UnmaskPoolError}.
   * Idempotent. Resolves once every thread has exited.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#fail(new UnmaskPoolError('the unmask pool was closed'));
    await this.#terminateAll();
  }

  #run(plan: UnmaskPlan): Promise<Uint32Array[]> {
    if (this.#closed) return Promise.reject(new UnmaskPoolError('the unmask pool is closed'));
    // Re-check the shape here (a plan handed in from outside the core): a bad job fails the run
    // before anything is sent.
    const checked = unmaskPlan(plan.sessionId, plan.vectors, plan.jobs);
    const { jobs } = checked;
    if (jobs.length === 0) return Promise.resolve(zeroCorrection(checked.vectors));
    const count = Math.min(this.size, jobs.length);
    while (this.#workers.length < count) this.#workers.push(this.#spawn());
    const workers = this.#workers.slice(0, count);
    const batchSize = this.#batchSize ?? Math.max(1, Math.ceil(jobs.length / (4 * count)));
    return new Promise<Uint32Array[]>((resolve, reject) => {
      const run: Run = {
        plan: checked,
        workers,
        batchSize,
        next: 0,
        pending: count,
        correction: undefined,
        resolve,
        reject,
        settled: false,
      };
      this.#current = run;
      const vectors = checked.vectors.map(({ name, length, bits }) => ({ name, length, bits }));
      for (const worker of workers) {
        worker.ref();
        this.#post(worker, { type: 'begin', sessionId: checked.sessionId, vectors });
        this.#feed(run, worker);
      }
    });
  }

  #spawn(): Worker {
    // Not the parent's flags (e.g. `--test`, or an `--import tsx` that would register tsx twice): the
    // module, its bundle or the bootstrap holds all the worker needs.
    const url = this.#workerUrl;
    const bundled = isTypeScriptModule(url) ? bundledWorkerUrl(url) : undefined;
    const entry = bundled ? { filename: bundled, eval: false } : workerEntry(url);
    const worker = new Worker(entry.filename, { eval: entry.eval, execArgv: [] });
    worker.unref();
    worker.on('message', (message: FromWorker) => this.#onMessage(worker, message));
    worker.on('error', (error: Error) => {
      this.#onWorkerFailure(worker, `unmask worker failed: ${error.message}`);
    });
    worker.on('messageerror', () => {
      this.#onWorkerFailure(worker, 'unmask worker sent a message that could not be read');
    });
    worker.on('exit', (code) => {
      this.#onWorkerFailure(worker, `unmask worker exited unexpectedly (code ${code})`);
    });
    return worker;
  }

  #post(worker: Worker, message: ToWorker): void {
    // The packed seeds are transferred: after this call the main thread holds no copy of them.
    const transfer = message.type === 'jobs' ? [message.seeds.buffer as ArrayBuffer] : [];
    worker.postMessage(message, transfer);
  }

  /** Sends `worker` its next batch, or `end` when the plan is used up. */
  #feed(run: Run, worker: Worker): void {
    const { jobs } = run.plan;
    if (run.next >= jobs.length) {
      this.#post(worker, { type: 'end' });
      return;
    }
    const from = run.next;
    const to = Math.min(jobs.length, from + run.batchSize);
    run.next = to;
    this.#post(worker, { type: 'jobs', ...packMaskJobs(jobs.slice(from, to)) });
  }

  #onMessage(worker: Worker, message: FromWorker): void {
    const run = this.#current;
    if (!run || run.settled || !run.workers.includes(worker)) return;
    switch (message.type) {
      case 'more':
        this.#feed(run, worker);
        return;
      case 'partial':
        this.#addPartial(run, message.sums);
        return;
      case 'error':
        this.#fail(new UnmaskPoolError(`unmask worker failed: ${message.message}`));
        return;
      default:
        this.#fail(new UnmaskPoolError('unmask worker sent an unknown message'));
    }
  }

  #addPartial(run: Run, buffers: readonly ArrayBuffer[]): void {
    let partial: Uint32Array[];
    try {
      partial = buffers.map((buffer) => new Uint32Array(buffer));
      assertCorrection(run.plan, partial);
    } catch {
      this.#fail(new UnmaskPoolError('unmask worker returned a partial sum of the wrong shape'));
      return;
    }
    if (!run.correction) {
      run.correction = partial;
    } else {
      const correction = run.correction;
      partial.forEach((p, i) => {
        const acc = correction[i]!;
        for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + p[j]!;
        p.fill(0);
      });
    }
    run.pending--;
    if (run.pending > 0) return;
    run.settled = true;
    this.#current = undefined;
    for (const worker of run.workers) worker.unref();
    run.resolve(run.correction);
  }

  #onWorkerFailure(worker: Worker, reason: string): void {
    const index = this.#workers.indexOf(worker);
    if (index < 0) return; // terminated on purpose
    this.#workers.splice(index, 1);
    const run = this.#current;
    if (run && !run.settled && run.workers.includes(worker)) this.#fail(new UnmaskPoolError(reason));
  }

  /** Rejects the run in progress, if any, and terminates every worker (fresh ones serve the next run). */
  #fail(error: UnmaskPoolError): void {
    const run = this.#current;
    if (!run || run.settled) return;
    run.settled = true;
    this.#current = undefined;
    if (run.correction) for (const c of run.correction) c.fill(0);
    run.reject(error);
    void this.#terminateAll();
  }

  async #terminateAll(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    // terminate() resolves with the exit code; a thread that is already gone is not an error here.
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}
