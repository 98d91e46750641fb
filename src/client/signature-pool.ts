/**
 * Worker threads that verify a client's Ed25519 signatures (the malicious setting's n − 1
 * advertisement signatures and t consistency signatures) in parallel, beside the event loop.
 *
 * A batch is cut into chunks of {@link CHUNK_CHECKS} checks, queued first come, first served, and
 * handed to whichever thread is idle, so that many participants in one process (a benchmark, a
 * simulation, a job that runs its clients together) keep every thread busy while the event loop
 * goes on with their other work. Threads start when first needed, up to the pool's size, and idle
 * ones do not keep the process alive.
 *
 * The pool only saves time, never decides: what it answers is `VerifiedSignatures`' input, and the
 * protocol step verifies on the spot anything not found valid (client/sdk.ts). So every failure
 * degrades to verifying on the event loop: a thread that errors or exits answers "not verified" for
 * the chunks it held, and the pool stops using threads for the rest of the process.
 *
 * Compiled (dist/), the threads run signature-worker.js; from the TypeScript sources, a bootstrap
 * registers tsx in each thread first (runtime/worker-entry.ts).
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { siblingModule, workerEntry } from '../runtime/worker-entry.ts';
import { type BatchVerifier, type SignatureCheck, verifyEachOnTheSpot } from '../secagg/crypto/ed25519.ts';
import { isPackable, packChecks } from './signature-batch.ts';

/**
 * Most checks per message to a thread: ~4 ms of work, far above what a message costs (~0.2 ms
 * measured, sending and waking the thread), while a batch of n − 1 ≈ 100 checks still spreads over
 * two threads.
 */
export const CHUNK_CHECKS = 64;

/** Below this many checks a batch is verified on the spot: the round trip to a thread costs more. */
const MIN_POOLED_CHECKS = 8;

/** Pool → thread: a packed batch (signature-batch.ts) of `count` checks. */
export interface ToSignatureWorker {
  readonly id: number;
  readonly batch: ArrayBuffer;
  readonly count: number;
}

/** Thread → pool: one byte per check of batch `id`, 1 for valid. */
export interface FromSignatureWorker {
  readonly id: number;
  readonly valid: Uint8Array;
}

/** Options for {@link SignaturePool}. */
export interface SignaturePoolOptions {
  /** Most threads; default `min(os.availableParallelism(), 8)`. */
  readonly size?: number;
  /** The worker module (tests point this at faulty workers). Default: `./signature-worker.js` (`.ts` from the sources). */
  readonly workerUrl?: URL;
}

interface Chunk {
  readonly id: number;
  readonly checks: readonly SignatureCheck[];
  readonly resolve: (valid: readonly boolean[]) => void;
}

const WORKER_MODULE = siblingModule('./signature-worker', import.meta.url);

/**
 * Verifies batches of signature checks on worker threads.
 * @example
 * ```ts
 * const pool = new SignaturePool();
 * const verified = await VerifiedSignatures.verifyAll(core.signatureChecks(frame), pool.verify);
 * ```
 */
export class SignaturePool {
  /** How many threads the pool starts at most. */
  readonly size: number;
  readonly #workerUrl: URL;
  readonly #idle: Worker[] = [];
  /** The chunk each busy thread holds. */
  readonly #busy = new Map<Worker, Chunk>();
  readonly #queue: Chunk[] = [];
  #nextId = 0;
  /** Set once a thread failed or the pool was closed: from then on, everything is verified on the spot. */
  #disabled = false;

  /**
   * @throws RangeError for a size that is not a positive integer
   */
  constructor(options: SignaturePoolOptions = {}) {
    const { size } = options;
    if (size !== undefined && !(Number.isInteger(size) && size >= 1)) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
    this.size = size ?? Math.min(availableParallelism(), 8);
    this.#workerUrl = options.workerUrl ?? WORKER_MODULE;
  }

  /** Threads currently alive. */
  get threads(): number {
    return this.#idle.length + this.#busy.size;
  }

  /** Whether the pool has stopped using threads (after a thread failed, or `close()`). */
  get disabled(): boolean {
    return this.#disabled;
  }

  /**
   * A {@link BatchVerifier}: resolves with one answer per check, in order (never rejects). Small
   * batches, and every batch once the pool is disabled, are verified on the spot.
   */
  readonly verify: BatchVerifier = async (checks) => {
    if (this.#disabled || checks.length < MIN_POOLED_CHECKS) return verifyEachOnTheSpot(checks);
    // A key or signature of the wrong length is invalid whatever its bytes: answered here, not sent.
    const sent = checks.flatMap((check, i) => (isPackable(check) ? [i] : []));
    // Chunks of equal size (67 checks as 34 + 33, not 64 + 3): each costs a message.
    const chunkSize = Math.ceil(sent.length / Math.ceil(sent.length / CHUNK_CHECKS));
    const chunks: Promise<readonly boolean[]>[] = [];
    for (let from = 0; from < sent.length; from += chunkSize) {
      const slice = sent.slice(from, from + chunkSize).map((i) => checks[i]!);
      chunks.push(new Promise((resolve) => this.#enqueue({ id: this.#nextId++, checks: slice, resolve })));
    }
    const answers = checks.map(() => false);
    (await Promise.all(chunks)).flat().forEach((valid, k) => {
      answers[sent[k]!] = valid;
    });
    return answers;
  };

  /**
   * Starts the threads now rather than on the first batch (each takes some ms to load), e.g. when a
   * malicious-setting round is announced. Idle threads do not keep the process alive.
   */
  warm(): void {
    while (!this.#disabled && this.threads < this.size) {
      const worker = this.#spawn();
      if (!worker) return;
      this.#idle.push(worker);
    }
  }

  /** Terminates every thread; batches in flight are answered "not verified". Idempotent. */
  async close(): Promise<void> {
    this.#disable();
    const workers = [...this.#idle, ...this.#busy.keys()];
    this.#idle.length = 0;
    this.#releaseAll();
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }

  #enqueue(chunk: Chunk): void {
    if (this.#disabled) {
      chunk.resolve(chunk.checks.map(() => false));
      return;
    }
    this.#queue.push(chunk);
    this.#dispatch();
  }

  /** Hands queued chunks to idle threads, starting threads up to the pool's size. */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (!worker) {
        if (this.threads >= this.size) return;
        worker = this.#spawn();
        if (!worker) return;
      }
      const chunk = this.#queue.shift()!;
      const batch = packChecks(chunk.checks);
      this.#busy.set(worker, chunk);
      worker.ref();
      const message: ToSignatureWorker = { id: chunk.id, batch, count: chunk.checks.length };
      worker.postMessage(message, [batch]);
    }
  }

  #spawn(): Worker | undefined {
    let worker: Worker;
    try {
      const entry = workerEntry(this.#workerUrl);
      // Not the parent's flags (e.g. `--test`, or an `--import tsx` that would register tsx twice).
      worker = new Worker(entry.filename, { eval: entry.eval, execArgv: [] });
    } catch {
      this.#disable();
      return undefined;
    }
    worker.on('message', (reply: FromSignatureWorker) => this.#onReply(worker, reply));
    worker.on('error', () => this.#onFailure(worker));
    worker.on('messageerror', () => this.#onFailure(worker));
    worker.on('exit', () => this.#onFailure(worker));
    // After the listeners: adding a 'message' listener refs the thread again.
    worker.unref();
    return worker;
  }

  #onReply(worker: Worker, reply: FromSignatureWorker): void {
    const chunk = this.#busy.get(worker);
    if (!chunk || reply.id !== chunk.id) return;
    this.#busy.delete(worker);
    worker.unref();
    const answers = chunk.checks.map((_, i) => reply.valid[i] === 1);
    this.#idle.push(worker);
    chunk.resolve(reply.valid.length === chunk.checks.length ? answers : answers.map(() => false));
    this.#dispatch();
  }

  #onFailure(worker: Worker): void {
    const idleAt = this.#idle.indexOf(worker);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    const chunk = this.#busy.get(worker);
    this.#busy.delete(worker);
    chunk?.resolve(chunk.checks.map(() => false));
    if (this.#disabled) return;
    this.#disable();
    void this.close();
  }

  /** Stops using threads: queued chunks are answered "not verified" (the step verifies them itself). */
  #disable(): void {
    this.#disabled = true;
    for (const chunk of this.#queue.splice(0)) chunk.resolve(chunk.checks.map(() => false));
  }

  #releaseAll(): void {
    for (const [worker, chunk] of this.#busy) {
      worker.unref();
      chunk.resolve(chunk.checks.map(() => false));
    }
    this.#busy.clear();
  }
}

let shared: SignaturePool | undefined;

/**
 * The process's signature pool, made on first use: every participant of a process shares its
 * threads. Undefined on a single core, where there is nothing to gain: checks are verified on the spot.
 */
export function sharedSignaturePool(): SignaturePool | undefined {
  if (availableParallelism() < 2) return undefined;
  shared ??= new SignaturePool();
  return shared;
}
