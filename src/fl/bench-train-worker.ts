/**
 * A training worker of the privacy benchmark (./bench-train.ts `workerTrainer`): loads the training
 * examples once, then trains the clients of each task it is sent and posts their flat updates back
 * (their buffers transferred, not copied).
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend.ts';
import {
  loadTrainExamples,
  type TrainReply,
  type TrainTask,
  type TrainWorkerData,
  trainClients,
} from './bench-train.ts';

const port = parentPort;
if (port === null) throw new Error('bench-train-worker must run in a worker thread');
const { source, partition, local } = workerData as TrainWorkerData;

const post = (reply: TrainReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

try {
  await initBackend();
  const train = await loadTrainExamples(source);
  port.on('message', (task: TrainTask) => {
    trainClients(train, partition, local, { ...task, weights: new Map(task.weights) }).then(
      (updates) =>
        post(
          { type: 'done', id: task.id, updates },
          updates.map((u) => u.buffer as ArrayBuffer),
        ),
      (error: unknown) => post({ type: 'error', id: task.id, message: message(error) }),
    );
  });
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'error', message: message(error) });
}
