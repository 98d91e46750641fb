/**
 * Local training for the privacy benchmark (./bench-privacy.ts): many runs each train the same
 * cohort from their own global weights every round. {@link threadTrainer} trains in this thread;
 * {@link workerTrainer} spreads the clients over worker threads, each with its own tfjs backend and
 * its own copy of the data (tfjs-wasm is single-threaded on Node, ./backend.ts).
 *
 * Both call {@link trainLocal} with the same weights, examples and seed for a client, so they return
 * bit-identical updates: a run's result does not depend on how many threads trained it.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { assertIntegerIn } from '../dp/checks.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import { siblingModule, workerEntry } from '../runtime/worker-entry.ts';
import { type DatasetName, type Examples, head, loadDataset, subset } from './data.ts';
import type { Partition } from './partition.ts';
import { type TrainOptions, trainLocal } from './trainer.ts';

/** Local training settings (the seed is per client and round). */
export type LocalSettings = Omit<TrainOptions, 'seed'>;

/** Train these clients of the cohort from these weights. */
export interface TrainRequest {
  readonly weights: NamedTensors;
  /** Client indices into the partition. */
  readonly clients: readonly number[];
  /** One batch-order seed per client, same order. */
  readonly seeds: readonly number[];
}

/** Trains requests; `train` resolves to one flat update (new − old, model order) per client. */
export interface BenchTrainer {
  /** Worker threads in use (0: this thread). */
  readonly workers: number;
  train(requests: readonly TrainRequest[]): Promise<Float32Array[][]>;
  close(): Promise<void>;
}

/** Where a worker finds the training examples: the data set's train split, its first `examples`. */
export interface TrainSource {
  readonly dataset: DatasetName;
  /** Use only the first this many training examples (all). */
  readonly examples?: number;
}

/** The training examples a {@link TrainSource} names (loaded and cached per thread). */
export async function loadTrainExamples(source: TrainSource): Promise<Examples> {
  const { train } = await loadDataset(source.dataset);
  return source.examples === undefined ? train : head(train, source.examples);
}

/** Flattens an update in its tensors' order. */
export function flattenUpdate(update: NamedTensors): Float32Array {
  let total = 0;
  for (const t of update.values()) total += t.length;
  const flat = new Float32Array(total);
  let at = 0;
  for (const t of update.values()) {
    flat.set(t, at);
    at += t.length;
  }
  return flat;
}

/** Trains clients one after another in this thread. */
export function threadTrainer(train: Examples, partition: Partition, local: LocalSettings): BenchTrainer {
  return {
    workers: 0,
    async train(requests) {
      const out: Float32Array[][] = [];
      for (const r of requests) out.push(await trainClients(train, partition, local, r));
      return out;
    },
    async close() {},
  };
}

/** Trains `request`'s clients in this thread (the worker's loop too). */
export async function trainClients(
  train: Examples,
  partition: Partition,
  local: LocalSettings,
  request: Pick<TrainRequest, 'weights' | 'clients' | 'seeds'>,
): Promise<Float32Array[]> {
  const updates: Float32Array[] = [];
  for (let i = 0; i < request.clients.length; i++) {
    const k = request.clients[i]!;
    const indices = partition[k];
    if (indices === undefined) throw new RangeError(`client ${k} is not in the partition`);
    const { update } = await trainLocal(request.weights, subset(train, indices), {
      ...local,
      seed: request.seeds[i]!,
    });
    updates.push(flattenUpdate(update));
  }
  return updates;
}

/** What a worker is started with. */
export interface TrainWorkerData {
  readonly source: TrainSource;
  readonly partition: Partition;
  readonly local: LocalSettings;
}

/** main → worker. */
export interface TrainTask {
  readonly id: number;
  readonly weights: readonly (readonly [string, Float32Array])[];
  readonly clients: readonly number[];
  readonly seeds: readonly number[];
}

/** worker → main. */
export type TrainReply =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly updates: Float32Array[] }
  | { readonly type: 'error'; readonly id?: number; readonly message: string };

interface Pending {
  readonly task: TrainTask;
  readonly resolve: (updates: Float32Array[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Starts `count` worker threads that load the data and train on request. Clients are handed out in
 * chunks, a chunk to whichever worker is free, so a slow (shared) core holds up no more than one chunk.
 * @throws (rejects with) Error if a worker fails to start
 */
export async function workerTrainer(
  count: number,
  source: TrainSource,
  partition: Partition,
  local: LocalSettings,
): Promise<BenchTrainer> {
  assertIntegerIn('count', count, 1, 64);
  // bench-train-worker.js when compiled; from the sources, through a bootstrap that registers tsx.
  const entry = workerEntry(siblingModule('./bench-train-worker', import.meta.url));
  const data: TrainWorkerData = { source, partition, local };
  const workers: Worker[] = [];
  const idle: Worker[] = [];
  const queue: Pending[] = [];
  const running = new Map<Worker, Pending>();
  let failure: Error | undefined;
  let nextId = 0;

  const fail = (error: Error) => {
    failure ??= error;
    for (const p of [...running.values(), ...queue.splice(0)]) p.reject(failure);
    running.clear();
  };
  const pump = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!;
      const pending = queue.shift()!;
      running.set(worker, pending);
      worker.postMessage(pending.task);
    }
  };

  const ready = Array.from({ length: count }, () => {
    const worker = new Worker(entry.filename, { eval: entry.eval, workerData: data });
    workers.push(worker);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: TrainReply) => {
        if (reply.type === 'ready') {
          idle.push(worker);
          resolve();
          pump();
          return;
        }
        const pending = running.get(worker);
        running.delete(worker);
        idle.push(worker);
        if (reply.type === 'done') pending?.resolve(reply.updates);
        else {
          const error = new Error(`training worker: ${reply.message}`);
          if (pending) pending.reject(error);
          else {
            reject(error);
            fail(error);
          }
        }
        pump();
      });
      worker.on('error', (error) => {
        reject(error);
        fail(error);
      });
      worker.on('exit', (code) => {
        const error = new Error(`a training worker exited with code ${code}`);
        reject(error);
        if (running.has(worker) || queue.length > 0) fail(error);
      });
    });
  });
  try {
    await Promise.all(ready);
  } catch (error) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }

  const submit = (task: TrainTask) =>
    new Promise<Float32Array[]>((resolve, reject) => {
      if (failure) {
        reject(failure);
        return;
      }
      queue.push({ task, resolve, reject });
      pump();
    });

  return {
    workers: count,
    async train(requests) {
      const jobs = requests.map((r) => {
        const weights = [...r.weights].map(([name, t]) => [name, Float32Array.from(t)] as const);
        // Chunks small enough to balance two busy cores, large enough that messages stay cheap.
        const size = Math.max(1, Math.ceil(r.clients.length / (2 * count)));
        const chunks: Promise<Float32Array[]>[] = [];
        for (let a = 0; a < r.clients.length; a += size) {
          chunks.push(
            submit({
              id: nextId++,
              weights,
              clients: r.clients.slice(a, a + size),
              seeds: r.seeds.slice(a, a + size),
            }),
          );
        }
        return Promise.all(chunks).then((parts) => parts.flat());
      });
      return await Promise.all(jobs);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
