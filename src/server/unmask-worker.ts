/**
 * One thread of the {@link UnmaskPool} (unmask-pool.ts): expands the mask jobs it is sent into its own
 * accumulator, one `Uint32Array` per vector (O(vector length) memory however many jobs), and returns
 * the partial sum, transferred, when told the plan is used up.
 *
 * Protocol (messages in unmask-pool.ts): `begin` (session id and vector layout: a fresh zeroed
 * accumulator), then any number of `jobs` batches, each answered with `more`, then `end`, answered with
 * `partial`. Any error is answered with `error` (its message only: PRG argument checks, never values)
 * and drops the accumulator; the pool then terminates this thread.
 *
 * Each batch's seeds arrive in a buffer transferred to this thread and are zeroed once expanded; the
 * accumulator is handed over by transfer, so no copy of it stays here.
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { applyMaskJobs, unpackMaskJobs, zeroCorrection } from '../secagg/unmask-plan.ts';
import type { FromWorker, ToWorker } from './unmask-pool.ts';
import { collectYoungGarbage } from './young-gc.ts';

interface State {
  readonly sessionId: Uint8Array;
  readonly vectors: readonly { name: string; length: number; bits: number }[];
  readonly acc: Uint32Array[];
}

const port = parentPort;
if (!port) throw new Error('unmask-worker.ts runs only as a worker thread (see unmask-pool.ts)');

let state: State | undefined;

const reply = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function handle(message: ToWorker): void {
  switch (message.type) {
    case 'begin': {
      state = {
        sessionId: message.sessionId,
        vectors: message.vectors,
        acc: zeroCorrection(message.vectors),
      };
      return;
    }
    case 'jobs': {
      if (!state) throw new Error("'jobs' before 'begin'");
      try {
        // A chunk step of a pass drops one 64 KiB keystream Buffer per job (up to 16 MB): collect
        // them after each step rather than let ~64 MB pile up in this thread (young-gc.ts).
        applyMaskJobs(
          state.acc,
          state.sessionId,
          state.vectors,
          unpackMaskJobs(message),
          collectYoungGarbage,
        );
      } finally {
        message.seeds.fill(0);
      }
      reply({ type: 'more' });
      return;
    }
    case 'end': {
      if (!state) throw new Error("'end' before 'begin'");
      const buffers = state.acc.map((a) => a.buffer as ArrayBuffer);
      state = undefined;
      reply({ type: 'partial', sums: buffers }, buffers);
      return;
    }
    default:
      throw new Error(`unknown message '${String((message as { type: unknown }).type)}'`);
  }
}

port.on('message', (message: ToWorker) => {
  try {
    handle(message);
  } catch (error) {
    state?.acc.forEach((a) => {
      a.fill(0);
    });
    state = undefined;
    reply({ type: 'error', message: error instanceof Error ? error.message : 'unknown error' });
  }
});
