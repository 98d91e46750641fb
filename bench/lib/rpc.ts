/**
 * A minimal request/response channel to a worker thread that runs one of the bench modules. Workers
 * do not inherit tsx's loader on Node 20, so each is started from a tiny bootstrap that registers
 * tsx and imports the module; `workerData.role` tells the module which handler to install.
 * @module
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

interface Envelope<T> {
  readonly seq: number;
  readonly body?: T;
  readonly error?: string;
}

/** The main-thread end of one worker. */
export class RpcWorker<Req, Res> {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: Res) => void; reject: (e: Error) => void }>();
  #seq = 0;

  /** @param moduleUrl - `import.meta.url` of the module that calls {@link serveRpc} for `role` */
  constructor(moduleUrl: string, role: string) {
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); });`;
    this.#worker = new Worker(bootstrap, { eval: true, workerData: { role } });
    this.#worker.on('message', (envelope: Envelope<Res>) => {
      const pending = this.#pending.get(envelope.seq);
      if (!pending) return;
      this.#pending.delete(envelope.seq);
      if (envelope.error !== undefined) pending.reject(new Error(`${role} worker: ${envelope.error}`));
      else pending.resolve(envelope.body as Res);
    });
    this.#worker.on('error', (error) => {
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    });
  }

  call(request: Req, transfer: readonly ArrayBuffer[] = []): Promise<Res> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.#worker.postMessage({ seq, body: request } satisfies Envelope<Req>, [...transfer]);
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** What a handler returns: the response and the buffers to move (not copy) with it. */
export interface Answer<Res> {
  readonly body: Res;
  readonly transfer?: readonly ArrayBuffer[];
}

/**
 * In a worker started by {@link RpcWorker} with this `role`, answers each request with `handler`,
 * one at a time, in order. Does nothing anywhere else.
 */
export function serveRpc<Req, Res>(role: string, handler: (request: Req) => Promise<Answer<Res>>): void {
  if (isMainThread || !parentPort || (workerData as { role?: string } | null)?.role !== role) return;
  const port = parentPort;
  let queue = Promise.resolve();
  port.on('message', (envelope: Envelope<Req>) => {
    queue = queue.then(async () => {
      try {
        const answer = await handler(envelope.body as Req);
        port.postMessage({ seq: envelope.seq, body: answer.body } satisfies Envelope<Res>, [
          ...(answer.transfer ?? []),
        ]);
      } catch (error) {
        port.postMessage({
          seq: envelope.seq,
          error: String((error as Error).stack ?? error),
        } satisfies Envelope<Res>);
      }
    });
  });
}
