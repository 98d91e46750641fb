/**
 * Simulated federated clients, run in a worker thread by the federated job (./job.ts). Each client is
 * a real SDK {@link Participant} with its own gRPC channel to the coordinator: per round it checks in,
 * receives the announced task and privacy, trains on its own examples (./trainer.ts) and sends its
 * clipped, encoded, noised and masked update. A client scheduled to drop out in a round closes its
 * channel on entering that stage, as a device that goes offline would.
 *
 * The worker loads the data set itself (workers share no memory with the coordinator) and takes only
 * the indices of its clients' examples from the job.
 * @module
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { credentials } from '@grpc/grpc-js';
import {
  type AssignedRound,
  ClientRefusedError,
  CoordinatorAbortError,
  Participant,
  privateUpdateInput,
} from '../client/sdk.ts';
import { clipCopy } from '../dp/clip.ts';
import { flatten } from '../dp/tensors.ts';
import type { Stage } from '../secagg/messages.ts';
import { quantize } from '../secagg/quantize.ts';
import { systemRng } from '../secagg/rng.ts';
import { initBackend } from './backend.ts';
import { type DatasetName, loadDataset, subset } from './data.ts';
import type { Weights } from './model.ts';
import { decodeTask, type PlainEncoding } from './task.ts';
import { trainLocal } from './trainer.ts';

/** One simulated client, as the job hands it to a worker. */
export interface SimulatedClient {
  readonly name: string;
  /** Indices of its training examples in the data set's training split. */
  readonly examples: Uint32Array;
  /** The stage at which it drops out, per round (index 0 = first round), or null to stay. */
  readonly dropAt: readonly (Stage | null)[];
  /** Seed of its local batch order. */
  readonly seed: number;
}

/** What a worker is started with. */
export interface ClientsWorkerData {
  readonly role: 'privagg-fl-clients';
  readonly address: string;
  readonly dataset: DatasetName;
  readonly dataSeed: number;
  readonly rounds: number;
  /** The least noise multiplier the clients accept (their privacy policy); absent for a job without DP. */
  readonly minNoiseMultiplier?: number;
  readonly clients: readonly SimulatedClient[];
}

/** Messages from a worker to the job. */
export type ClientsWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'trained'; readonly name: string; readonly round: number }
  | {
      readonly type: 'round-end';
      readonly name: string;
      readonly round: number;
      readonly outcome: 'done' | 'dropped' | 'aborted' | 'refused' | 'failed';
      readonly detail?: string;
    }
  | { readonly type: 'finished' }
  | { readonly type: 'error'; readonly message: string };

/** Clips, flattens and quantizes an update for a round without differential privacy. */
function encodePlainUpdate(update: Weights, encoding: PlainEncoding, clients: number): Uint32Array {
  const { tensors } = clipCopy(update, { clip: encoding.clip });
  const flat = flatten(tensors);
  return quantize(
    flat,
    { bits: encoding.bits, clip: encoding.clip, scale: encoding.scale, clients },
    systemRng,
  );
}

/** Thrown from the stage callback of a client scheduled to drop out. */
class DropOut extends Error {
  override name = 'DropOut';
  constructor(stage: Stage) {
    super(`dropped out on entering stage '${stage}'`);
  }
}

async function runClients(data: ClientsWorkerData, post: (m: ClientsWorkerMessage) => void): Promise<void> {
  await initBackend();
  const { train } = await loadDataset(data.dataset, { seed: data.dataSeed });
  post({ type: 'ready' });
  await Promise.all(
    data.clients.map(async (client) => {
      const own = subset(train, client.examples);
      for (let round = 0; round < data.rounds; round++) {
        const dropAt = client.dropAt[round] ?? null;
        const participant: Participant = new Participant({
          address: data.address,
          credentials: credentials.createInsecure(),
          name: client.name,
          ...(data.minNoiseMultiplier !== undefined && {
            privacyPolicy: { minNoiseMultiplier: data.minNoiseMultiplier },
          }),
          onStage: (stage) => {
            // Going offline: the SDK cancels the call, and the coordinator sees the client vanish.
            if (stage === dropAt) throw new DropOut(stage);
          },
        });
        let outcome: 'done' | 'dropped' | 'aborted' | 'refused' | 'failed' = 'done';
        let detail: string | undefined;
        try {
          const train = async ({ task, params }: AssignedRound) => {
            if (!task) throw new Error('the round has no training task');
            const { weights, training, encoding } = decodeTask(task);
            const global = new Map(weights.map((t) => [t.name, t.values]));
            const local = await trainLocal(global, own, {
              epochs: training.epochs,
              batchSize: training.batchSize,
              learningRate: training.learningRate,
              repeat: training.repeat ?? 1,
              seed: (client.seed + params.round * 7919) >>> 0,
            });
            post({ type: 'trained', name: client.name, round: params.round });
            return { update: local.update, encoding };
          };
          await participant.participate(async (round) => {
            if (round.privacy) return privateUpdateInput(async (r) => (await train(r)).update)(round);
            const { update, encoding } = await train(round);
            if (!encoding) throw new Error('a round without privacy must say how to encode the update');
            return [encodePlainUpdate(update, encoding, round.params.clients.length)];
          });
        } catch (error) {
          if (error instanceof DropOut) outcome = 'dropped';
          else if (error instanceof CoordinatorAbortError) outcome = 'aborted';
          else if (error instanceof ClientRefusedError) outcome = 'refused';
          else outcome = 'failed';
          if (!(error instanceof DropOut)) detail = (error as Error).message;
        } finally {
          participant.close();
        }
        post({ type: 'round-end', name: client.name, round: round + 1, outcome, ...(detail && { detail }) });
      }
    }),
  );
  post({ type: 'finished' });
}

if (!isMainThread && parentPort && (workerData as { role?: string } | null)?.role === 'privagg-fl-clients') {
  const port = parentPort;
  runClients(workerData as ClientsWorkerData, (m) => port.postMessage(m)).catch((error: Error) =>
    port.postMessage({ type: 'error', message: String(error.stack ?? error) } satisfies ClientsWorkerMessage),
  );
}
