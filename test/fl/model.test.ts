// Models as named tensors (src/fl/model.ts): the layouts and parameter counts, Glorot bounds, the
// architecture read back from a bare weight map, and the functional forward pass agreeing with the
// tf.LayersModel built from the same weights.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/fl/backend.ts';
import {
  buildLayersModel,
  cloneWeights,
  forward,
  getLayersWeights,
  initWeights,
  mlpSpec,
  parameterCount,
  softmaxSpec,
  specOf,
  tensorShapes,
} from '../../src/fl/model.ts';
import { SimRandom } from '../../src/fl/random.ts';

describe('model', () => {
  it('lays out softmax and mlp tensors in a fixed order, with their parameter counts', () => {
    assert.deepEqual(
      [...tensorShapes(softmaxSpec())],
      [
        ['dense/kernel', [784, 10]],
        ['dense/bias', [10]],
      ],
    );
    assert.equal(parameterCount(softmaxSpec()), 7850);
    assert.deepEqual(
      [...tensorShapes(mlpSpec(128)).keys()],
      ['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias'],
    );
    assert.equal(parameterCount(mlpSpec(128)), 784 * 128 + 128 + 128 * 10 + 10);
  });

  it('initialises softmax to zero and mlp kernels Glorot-uniformly from a seed', () => {
    assert.ok(
      [...initWeights(softmaxSpec()).values()].every((t) => t.every((v) => v === 0)),
      'softmax is not zero',
    );
    const w = initWeights(mlpSpec(64), 7);
    const limit = Math.sqrt(6 / (784 + 64));
    const kernel = w.get('hidden/kernel')!;
    assert.ok(
      kernel.every((v) => Math.abs(v) <= limit),
      'a kernel value exceeds the Glorot limit',
    );
    const variance = kernel.reduce((s, v) => s + v * v, 0) / kernel.length;
    assert.ok(
      Math.abs(variance - limit ** 2 / 3) < 0.02 * limit ** 2,
      `variance ${variance}, expected ${limit ** 2 / 3}`,
    );
    assert.ok(
      w.get('hidden/bias')!.every((v) => v === 0),
      'biases are not zero',
    );
    assert.deepEqual(initWeights(mlpSpec(64), 7), w, 'the same seed gave other weights');
    assert.notDeepEqual(initWeights(mlpSpec(64), 8), w, 'another seed gave the same weights');
  });

  it('reads the architecture off a weight map, and refuses incomplete or mis-sized ones', () => {
    assert.deepEqual(specOf(initWeights(mlpSpec(32))), mlpSpec(32));
    assert.deepEqual(specOf(initWeights(softmaxSpec())), softmaxSpec());
    const broken = cloneWeights(initWeights(softmaxSpec()));
    broken.set('dense/bias', new Float32Array(9));
    assert.throws(() => specOf(broken), RangeError);
    const extra = cloneWeights(initWeights(softmaxSpec()));
    extra.set('other', new Float32Array(1));
    assert.throws(() => specOf(extra), RangeError);
    assert.throws(
      () =>
        specOf(
          new Map([
            ['dense/kernel', new Float64Array(7840)],
            ['dense/bias', new Float64Array(10)],
          ]),
        ),
      TypeError,
    );
  });

  it('computes the same logits as a LayersModel of the same weights, and round-trips its weights', async () => {
    const { tf } = await initBackend();
    const weights = initWeights(mlpSpec(16), 3);
    const rng = new SimRandom(4);
    const x = Float32Array.from({ length: 5 * 784 }, () => rng.uniform());
    const model = buildLayersModel(weights);
    const before = tf.memory().numTensors;
    const [ours, theirs] = tf.tidy(() => {
      const params = new Map(
        [...weights].map(([name, v]) => [name, tf.tensor(v, [...tensorShapes(specOf(weights)).get(name)!])]),
      );
      const input = tf.tensor2d(x, [5, 784]);
      return [
        forward(specOf(weights), params, input).dataSync(),
        (model.predict(input) as ReturnType<typeof tf.tensor>).dataSync(),
      ];
    });
    assert.equal(tf.memory().numTensors, before, 'the forward pass leaked tensors');
    ours!.forEach((v, i) => {
      assert.ok(Math.abs(v - theirs![i]!) < 1e-5, `logit ${i}: ${v} vs the LayersModel's ${theirs![i]}`);
    });
    assert.deepEqual(getLayersWeights(model), weights);
    model.dispose();
  });
});
