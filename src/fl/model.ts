/**
 * Models as named float32 tensors: the form an update takes on the wire, under clipping
 * (`src/dp/clip.ts` works on the same `Map<string, Float32Array>`) and in the server optimizer. A
 * tensor's name says its layer and role, and the names alone determine the architecture
 * ({@link specOf}), so a bare weight map is a complete model.
 *
 * - `softmax`: one dense layer 784 → 10 (`dense/kernel` [784, 10], `dense/bias` [10]), zero
 *   initialised — multinomial logistic regression, the model of TFF's classic "Federated Learning for
 *   Image Classification" tutorial. Its loss is convex, so zero is a fine start and runs are exactly
 *   reproducible.
 * - `mlp`: 784 → H (ReLU) → 10 (`hidden/kernel`, `hidden/bias`, `output/kernel`, `output/bias`),
 *   kernels Glorot-uniform (Glorot & Bengio 2010) from a seed, biases zero.
 *
 * The pure parts (shapes, initialisation, counting) need no tfjs; the tfjs parts (a functional
 * forward pass, a `tf.LayersModel`) reach tfjs through ./backend.ts and so need `initBackend()` first.
 * @module
 */
import type * as Tf from '@tensorflow/tfjs';
import { assertIntegerIn, kind } from '../dp/checks.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import { tfjs } from './backend.ts';
import { IMAGE_SIZE, NUM_CLASSES } from './data.ts';
import { SimRandom } from './random.ts';

/** The architectures available. */
export type ModelKind = 'softmax' | 'mlp';

/** An architecture: inputs → (hidden, for `mlp`) → classes. */
export type ModelSpec =
  | { readonly kind: 'softmax'; readonly inputs: number; readonly classes: number }
  | { readonly kind: 'mlp'; readonly inputs: number; readonly hidden: number; readonly classes: number };

/** A model's weights: named float32 tensors, in a fixed order (see {@link tensorShapes}). */
export type Weights = Map<string, Float32Array>;

/** The softmax regression model for 28×28 images and ten classes. */
export function softmaxSpec(): ModelSpec {
  return Object.freeze({ kind: 'softmax', inputs: IMAGE_SIZE, classes: NUM_CLASSES });
}

/**
 * The one-hidden-layer perceptron for 28×28 images and ten classes.
 * @param hidden - hidden units (128)
 */
export function mlpSpec(hidden = 128): ModelSpec {
  assertIntegerIn('hidden', hidden, 1, 2 ** 20);
  return Object.freeze({ kind: 'mlp', inputs: IMAGE_SIZE, hidden, classes: NUM_CLASSES });
}

/**
 * Every tensor's name and shape, in the model's fixed order (the order of a weight map and of a
 * flattened update).
 */
export function tensorShapes(spec: ModelSpec): ReadonlyMap<string, readonly number[]> {
  checkSpec(spec);
  const shapes: [string, readonly number[]][] =
    spec.kind === 'softmax'
      ? [
          ['dense/kernel', [spec.inputs, spec.classes]],
          ['dense/bias', [spec.classes]],
        ]
      : [
          ['hidden/kernel', [spec.inputs, spec.hidden]],
          ['hidden/bias', [spec.hidden]],
          ['output/kernel', [spec.hidden, spec.classes]],
          ['output/bias', [spec.classes]],
        ];
  return new Map(shapes.map(([name, shape]) => [name, Object.freeze(shape)]));
}

/** The number of trainable parameters. */
export function parameterCount(spec: ModelSpec): number {
  let total = 0;
  for (const shape of tensorShapes(spec).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Fresh weights: zeros for `softmax`; Glorot-uniform kernels (U(±√(6/(fan_in+fan_out)))) and zero
 * biases for `mlp`, drawn from a seeded simulation stream.
 * @param seed - an integer in [0, 2^32) (0); ignored by `softmax`
 */
export function initWeights(spec: ModelSpec, seed = 0): Weights {
  const rng = new SimRandom(seed, 'model/init');
  const weights: Weights = new Map();
  for (const [name, shape] of tensorShapes(spec)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (spec.kind === 'mlp' && name.endsWith('/kernel')) {
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * limit;
    }
    weights.set(name, values);
  }
  return weights;
}

/**
 * The architecture that a weight map is for, read off its tensor names and lengths.
 * @throws TypeError / RangeError if the map is not a complete `softmax` or `mlp` weight set
 * @example
 * ```ts
 * specOf(initWeights(mlpSpec(64))); // { kind: 'mlp', inputs: 784, hidden: 64, classes: 10 }
 * ```
 */
export function specOf(weights: NamedTensors): ModelSpec {
  if (!(weights instanceof Map)) throw new TypeError(`weights must be a Map, got ${kind(weights)}`);
  let spec: ModelSpec;
  if (weights.has('dense/kernel')) {
    const classes = lengthOf(weights, 'dense/bias');
    spec = { kind: 'softmax', inputs: lengthOf(weights, 'dense/kernel') / classes, classes };
  } else if (weights.has('hidden/kernel')) {
    const hidden = lengthOf(weights, 'hidden/bias');
    const classes = lengthOf(weights, 'output/bias');
    spec = { kind: 'mlp', inputs: lengthOf(weights, 'hidden/kernel') / hidden, hidden, classes };
  } else {
    throw new RangeError(`weights hold neither 'dense/kernel' nor 'hidden/kernel': [${[...weights.keys()]}]`);
  }
  checkWeights(spec, weights);
  return Object.freeze(spec);
}

/**
 * Checks that `weights` holds exactly the tensors of `spec`, as Float32Arrays of the right lengths.
 * @throws TypeError / RangeError otherwise, naming the tensor
 */
export function checkWeights(spec: ModelSpec, weights: NamedTensors): void {
  const shapes = tensorShapes(spec);
  if (!(weights instanceof Map)) throw new TypeError(`weights must be a Map, got ${kind(weights)}`);
  for (const name of weights.keys()) {
    if (!shapes.has(name))
      throw new RangeError(`weights hold '${String(name)}', not a tensor of ${spec.kind}`);
  }
  for (const [name, shape] of shapes) {
    const values = weights.get(name);
    if (!(values instanceof Float32Array)) {
      throw new TypeError(`weights '${name}' must be a Float32Array, got ${kind(values)}`);
    }
    const length = shape.reduce((a, b) => a * b, 1);
    if (values.length !== length) {
      throw new RangeError(`weights '${name}' must hold ${length} values [${shape}], got ${values.length}`);
    }
  }
}

/** A deep copy, in the model's order. */
export function cloneWeights(weights: NamedTensors): Weights {
  const spec = specOf(weights);
  return new Map([...tensorShapes(spec).keys()].map((name) => [name, Float32Array.from(weights.get(name)!)]));
}

/**
 * Uploads weights as tfjs variables (trainable), keyed like the weights. The caller disposes them.
 * Needs `initBackend()` first.
 */
export function toVariables(weights: NamedTensors): Map<string, Tf.Variable> {
  const tf = tfjs();
  const spec = specOf(weights);
  const vars = new Map<string, Tf.Variable>();
  for (const [name, shape] of tensorShapes(spec)) {
    // The initial tensor is released once the variable holds its data (variables are not tidied).
    const initial = tf.tensor(weights.get(name)!, [...shape], 'float32');
    vars.set(name, tf.variable(initial, true, undefined, 'float32'));
    initial.dispose();
  }
  return vars;
}

/**
 * The functional forward pass: the logits (pre-softmax scores) for a batch, from parameters held as
 * tensors (variables while training, constants when evaluating). Call inside `tf.tidy` or a gradient
 * closure: intermediate tensors are not disposed here.
 * @param params - the model's tensors by name, shaped as in {@link tensorShapes}
 * @param x - a batch of inputs, [batch, inputs]
 * @returns logits, [batch, classes]
 */
export function forward(
  spec: ModelSpec,
  params: ReadonlyMap<string, Tf.Tensor>,
  x: Tf.Tensor2D,
): Tf.Tensor2D {
  const tf = tfjs();
  const get = (name: string): Tf.Tensor => {
    const t = params.get(name);
    if (t === undefined) throw new RangeError(`params lack '${name}'`);
    return t;
  };
  if (spec.kind === 'softmax') {
    return tf.add(tf.matMul(x, get('dense/kernel') as Tf.Tensor2D), get('dense/bias'));
  }
  const hidden = tf.relu(tf.add(tf.matMul(x, get('hidden/kernel') as Tf.Tensor2D), get('hidden/bias')));
  return tf.add(tf.matMul(hidden as Tf.Tensor2D, get('output/kernel') as Tf.Tensor2D), get('output/bias'));
}

/**
 * The same model as a `tf.LayersModel` (Keras-style; `predict`, `save`, `summary`), holding a copy
 * of `weights`. Outputs logits, like {@link forward}. The caller disposes it (`model.dispose()`).
 * Needs `initBackend()` first.
 */
export function buildLayersModel(weights: NamedTensors): Tf.LayersModel {
  const tf = tfjs();
  const spec = specOf(weights);
  const model = tf.sequential();
  if (spec.kind === 'softmax') {
    model.add(tf.layers.dense({ name: 'dense', inputShape: [spec.inputs], units: spec.classes }));
  } else {
    model.add(
      tf.layers.dense({ name: 'hidden', inputShape: [spec.inputs], units: spec.hidden, activation: 'relu' }),
    );
    model.add(tf.layers.dense({ name: 'output', units: spec.classes }));
  }
  setLayersWeights(model, weights);
  return model;
}

/** The weights of a model made by {@link buildLayersModel}, as a weight map. */
export function getLayersWeights(model: Tf.LayersModel): Weights {
  const weights: Weights = new Map();
  for (const layer of model.layers) {
    const [kernel, bias] = layer.getWeights();
    if (kernel === undefined || bias === undefined)
      throw new RangeError(`layer '${layer.name}' is not dense`);
    weights.set(`${layer.name}/kernel`, Float32Array.from(kernel.dataSync()));
    weights.set(`${layer.name}/bias`, Float32Array.from(bias.dataSync()));
  }
  specOf(weights);
  return weights;
}

/**
 * Copies `weights` into a model made by {@link buildLayersModel}.
 * @throws RangeError if the weights do not fit the model's layers
 */
export function setLayersWeights(model: Tf.LayersModel, weights: NamedTensors): void {
  const tf = tfjs();
  const spec = specOf(weights);
  const shapes = tensorShapes(spec);
  for (const layer of model.layers) {
    const tensors = ['kernel', 'bias'].map((role) => {
      const name = `${layer.name}/${role}`;
      const shape = shapes.get(name);
      if (shape === undefined) throw new RangeError(`weights lack '${name}' for layer '${layer.name}'`);
      return tf.tensor(weights.get(name)!, [...shape], 'float32');
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

function lengthOf(weights: NamedTensors, name: string): number {
  const values = weights.get(name);
  if (values === undefined) throw new RangeError(`weights lack '${name}'`);
  if (values.length === 0) throw new RangeError(`weights '${name}' is empty`);
  return values.length;
}

function checkSpec(spec: ModelSpec): void {
  if (typeof spec !== 'object' || spec === null)
    throw new TypeError(`spec must be an object, got ${kind(spec)}`);
  assertIntegerIn('spec.inputs', spec.inputs, 1, 2 ** 24);
  assertIntegerIn('spec.classes', spec.classes, 2, 2 ** 16);
  if (spec.kind === 'mlp') assertIntegerIn('spec.hidden', spec.hidden, 1, 2 ** 20);
  else if (spec.kind !== 'softmax') {
    throw new RangeError(
      `spec.kind must be 'softmax' or 'mlp', got ${String((spec as { kind: unknown }).kind)}`,
    );
  }
}
