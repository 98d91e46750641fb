/**
 * Test accuracy and loss of a weight map, with tfjs, in batches. Kept apart from the server
 * optimizer (./fedavg.ts, which re-exports it lazily) so that the coordinator can update a model
 * without loading tfjs at all.
 * @module
 */
import type * as Tf from '@tensorflow/tfjs';
import { assertIntegerIn, kind } from '../dp/checks.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import { initBackend } from './backend.ts';
import { forward, specOf, tensorShapes } from './model.ts';

/** A model's quality on a test set. */
export interface Evaluation {
  /** Fraction of examples whose highest logit is the true class, in [0, 1]. */
  readonly accuracy: number;
  /** Mean softmax cross-entropy (natural log). */
  readonly loss: number;
  /** Examples evaluated. */
  readonly examples: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Examples per forward pass (1000): bounds the backend memory one batch needs. */
  readonly batchSize?: number;
}

/**
 * Evaluates `weights` on labelled images. Disposes every tensor it makes.
 * @param images - count × inputs floats
 * @param labels - count class indices
 * @throws (rejects with) TypeError / RangeError on mismatched or malformed inputs
 * @example
 * ```ts
 * const { accuracy, loss } = await evaluate(weights, test.images, test.labels);
 * ```
 */
export async function evaluate(
  weights: NamedTensors,
  images: Float32Array,
  labels: Uint8Array,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const spec = specOf(weights);
  if (!(images instanceof Float32Array))
    throw new TypeError(`images must be a Float32Array, got ${kind(images)}`);
  if (!(labels instanceof Uint8Array))
    throw new TypeError(`labels must be a Uint8Array, got ${kind(labels)}`);
  const count = labels.length;
  if (count === 0 || images.length !== count * spec.inputs) {
    throw new RangeError(
      `images must hold ${count} × ${spec.inputs} values for ${count} labels (count > 0), got ${images.length}`,
    );
  }
  const batchSize = assertIntegerIn('batchSize', options.batchSize ?? 1000, 1, 2 ** 20);

  const { tf } = await initBackend();
  const params = new Map<string, Tf.Tensor>();
  try {
    for (const [name, shape] of tensorShapes(spec)) {
      params.set(name, tf.tensor(weights.get(name)! as Float32Array, [...shape], 'float32'));
    }
    let correct = 0;
    let lossSum = 0;
    for (let start = 0; start < count; start += batchSize) {
      const end = Math.min(start + batchSize, count);
      const [hits, loss] = tf.tidy(() => {
        const x = tf.tensor2d(images.subarray(start * spec.inputs, end * spec.inputs), [
          end - start,
          spec.inputs,
        ]);
        const y = tf.tensor1d(labels.subarray(start, end), 'int32');
        const logits = forward(spec, params, x);
        const onehot = tf.oneHot(y, spec.classes);
        const sumLoss = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.SUM);
        const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'));
        return [hit, sumLoss];
      });
      correct += hits!.dataSync()[0]!;
      lossSum += loss!.dataSync()[0]!;
      tf.dispose([hits!, loss!]);
    }
    return Object.freeze({ accuracy: correct / count, loss: lossSum / count, examples: count });
  } finally {
    tf.dispose([...params.values()]);
  }
}
