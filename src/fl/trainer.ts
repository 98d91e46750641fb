/**
 * A client's local training (the ClientUpdate of McMahan et al. 2017, "Communication-Efficient
 * Learning of Deep Networks from Decentralized Data", Algorithm 1): start from the global weights,
 * run minibatch SGD over the client's own examples for E epochs, and return the *difference* new −
 * old. The update, not the weights, is what gets clipped, noised and securely summed.
 *
 * No I/O, no networking: named tensors and typed arrays in, named tensors out. It runs wherever a
 * tfjs backend is up (./backend.ts), worker threads included. Every tensor it makes is disposed
 * before it returns, thrown errors included, so a long simulation of thousands of client updates in
 * one process does not grow the backend's memory (wasm memory is never given back to the OS, so a
 * leak there is permanent).
 * @module
 */
import type * as Tf from '@tensorflow/tfjs';
import { assertIntegerIn, assertPositive, kind } from '../dp/checks.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import { initBackend } from './backend.ts';
import type { Examples } from './data.ts';
import { forward, specOf, tensorShapes, toVariables, type Weights } from './model.ts';
import { SimRandom } from './random.ts';

/** The client optimizers: plain SGD (FedAvg's), SGD with momentum, or Adam. */
export type ClientOptimizer = 'sgd' | 'momentum' | 'adam';

/** Options of {@link trainLocal}. */
export interface TrainOptions {
  /** Passes over the (repeated) data, E (1). */
  readonly epochs?: number;
  /** Minibatch size, B (20, as in TFF's tutorials); the last batch of an epoch may be smaller. */
  readonly batchSize?: number;
  /** Client learning rate (0.1). */
  readonly learningRate?: number;
  /** Client optimizer ('sgd'). Momentum and Adam state start fresh every call, as in FedAvg. */
  readonly optimizer?: ClientOptimizer;
  /** Momentum coefficient for 'momentum' (0.9). */
  readonly momentum?: number;
  /**
   * Repeats the data this many times before shuffling and batching (1), like TFF's tutorial's
   * `dataset.repeat(10)`: E epochs over R copies are E·R passes, with batches crossing pass
   * boundaries. (TFF shuffles with a buffer of 100; here each epoch is a full shuffle.)
   */
  readonly repeat?: number;
  /** Seed of the batch order (0). Give each client and round its own. */
  readonly seed?: number;
}

/** What a client sends back (before clipping and noise). */
export interface LocalUpdate {
  /** new − old, per tensor, in the model's order. */
  readonly update: Weights;
  /** The client's examples (not multiplied by epochs or repeat). */
  readonly examples: number;
  /** Mean training loss over all batches, each batch's loss taken before its step. */
  readonly meanLoss: number;
  /** Optimizer steps taken. */
  readonly steps: number;
}

/**
 * Trains a copy of `global` on `data` and returns the update.
 * @param global - the global weights (not modified)
 * @param data - the client's examples; images in [0, 1], count × inputs
 * @throws (rejects with) TypeError / RangeError on bad arguments; nothing leaks on any error
 * @example
 * ```ts
 * const { update, examples, meanLoss } = await trainLocal(weights, clientData, { epochs: 1, learningRate: 0.1 });
 * ```
 */
export async function trainLocal(
  global: NamedTensors,
  data: Examples,
  options: TrainOptions = {},
): Promise<LocalUpdate> {
  const spec = specOf(global);
  checkExamples(data, spec.inputs, spec.classes);
  const epochs = assertIntegerIn('epochs', options.epochs ?? 1, 1, 10_000);
  const batchSize = assertIntegerIn('batchSize', options.batchSize ?? 20, 1, 2 ** 20);
  const learningRate = assertPositive('learningRate', options.learningRate ?? 0.1);
  const repeat = assertIntegerIn('repeat', options.repeat ?? 1, 1, 10_000);
  const seed = assertIntegerIn('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
  const momentum = options.momentum ?? 0.9;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) {
    throw new RangeError(`momentum must be a number in [0, 1), got ${String(momentum)}`);
  }
  const optimizerKind = options.optimizer ?? 'sgd';
  if (optimizerKind !== 'sgd' && optimizerKind !== 'momentum' && optimizerKind !== 'adam') {
    throw new RangeError(`optimizer must be 'sgd', 'momentum' or 'adam', got ${String(optimizerKind)}`);
  }

  const { tf } = await initBackend();
  const n = data.count;
  const total = n * repeat;
  const rng = new SimRandom(seed, 'trainer/batches');
  const order = new Int32Array(total);

  const owned: Tf.TensorContainer[] = [];
  let optimizer: Tf.Optimizer | undefined;
  try {
    const vars = toVariables(global);
    owned.push([...vars.values()]);
    const x = tf.tensor2d(data.images, [n, spec.inputs], 'float32');
    owned.push(x);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(data.labels, 'int32'), spec.classes), 'float32'));
    owned.push(y);
    optimizer =
      optimizerKind === 'sgd'
        ? tf.train.sgd(learningRate)
        : optimizerKind === 'momentum'
          ? tf.train.momentum(learningRate, momentum)
          : tf.train.adam(learningRate);
    const opt = optimizer;
    const varList = [...vars.values()];

    let lossSum = 0;
    let steps = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (let i = 0; i < total; i++) order[i] = i % n;
      rng.shuffle(order);
      for (let start = 0; start < total; start += batchSize) {
        const batch = order.subarray(start, Math.min(start + batchSize, total));
        const loss = tf.tidy((): Tf.Scalar => {
          const idx = tf.tensor1d(batch, 'int32');
          const xb = tf.gather(x, idx) as Tf.Tensor2D;
          const yb = tf.gather(y, idx);
          const cost = opt.minimize(
            () => tf.losses.softmaxCrossEntropy(yb, forward(spec, vars, xb)) as Tf.Scalar,
            true,
            varList,
          );
          if (cost === null) throw new Error('the optimizer returned no loss');
          return cost;
        });
        lossSum += loss.dataSync()[0]! * batch.length;
        loss.dispose();
        steps++;
      }
    }

    const update: Weights = new Map();
    for (const name of tensorShapes(spec).keys()) {
      const after = vars.get(name)!.dataSync() as Float32Array;
      const before = global.get(name)!;
      const delta = new Float32Array(after.length);
      for (let i = 0; i < delta.length; i++) delta[i] = after[i]! - before[i]!;
      update.set(name, delta);
    }
    return Object.freeze({ update, examples: n, meanLoss: lossSum / (total * epochs), steps });
  } finally {
    optimizer?.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose() does not call SGDOptimizer's, so the learning-rate
    // scalar `c` it inherits would leak one tensor per call.
    const lr = (optimizer as unknown as { c?: Tf.Tensor } | undefined)?.c;
    if (lr !== undefined && !lr.isDisposed) lr.dispose();
    tf.dispose(owned);
  }
}

function checkExamples(data: Examples, inputs: number, classes: number): void {
  if (typeof data !== 'object' || data === null)
    throw new TypeError(`data must be an object, got ${kind(data)}`);
  if (!(data.images instanceof Float32Array)) {
    throw new TypeError(`data.images must be a Float32Array, got ${kind(data.images)}`);
  }
  if (!(data.labels instanceof Uint8Array)) {
    throw new TypeError(`data.labels must be a Uint8Array, got ${kind(data.labels)}`);
  }
  const count = assertIntegerIn('data.count', data.count, 1, 2 ** 31);
  if (data.labels.length !== count || data.images.length !== count * inputs) {
    throw new RangeError(
      `data must hold ${count} labels and ${count}×${inputs} pixels, got ${data.labels.length} and ${data.images.length}`,
    );
  }
  for (const label of data.labels) {
    if (label >= classes) throw new RangeError(`data.labels must be below ${classes}, got ${label}`);
  }
}
