// Local training (src/fl/trainer.ts): one SGD step of softmax regression from zero matches the
// gradient worked out by hand; the update is new − old and the global weights are left alone; the
// batch order is a function of the seed; and no tensor outlives a call, whatever the model and
// optimizer, so tf.memory() is flat across many calls.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/fl/backend.ts';
import type { Examples } from '../../src/fl/data.ts';
import { initWeights, mlpSpec, softmaxSpec } from '../../src/fl/model.ts';
import { trainLocal } from '../../src/fl/trainer.ts';

/** `n` examples: example i has label i mod 10 and pixel (label + 10) lit. */
function examples(n: number): Examples {
  const images = new Float32Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    images[i * 784 + 10 + (i % 10)] = 1;
  }
  return { images, labels, count: n };
}

describe('trainLocal', () => {
  it('takes the hand-computed SGD step for softmax regression from zero', async () => {
    // One example, x = e_12 (pixel 12), label 2. At zero weights p = 0.1 for every class, so
    // ∂L/∂b = p − y and ∂L/∂W[12][c] = p_c − y_c; one step of lr 0.5 gives Δ = −0.5·(p − y).
    const global = initWeights(softmaxSpec());
    const data: Examples = { images: new Float32Array(784), labels: new Uint8Array([2]), count: 1 };
    data.images[12] = 1;
    const { update, examples: n, steps, meanLoss } = await trainLocal(global, data, { learningRate: 0.5 });
    assert.equal(n, 1);
    assert.equal(steps, 1);
    assert.ok(
      Math.abs(meanLoss - Math.log(10)) < 1e-5,
      `mean loss ${meanLoss}, expected ln 10 (loss before the step)`,
    );
    const db = update.get('dense/bias')!;
    const dW = update.get('dense/kernel')!;
    for (let c = 0; c < 10; c++) {
      const expected = c === 2 ? 0.45 : -0.05;
      assert.ok(Math.abs(db[c]! - expected) < 1e-6, `Δb[${c}] = ${db[c]}, expected ${expected}`);
      assert.ok(
        Math.abs(dW[12 * 10 + c]! - expected) < 1e-6,
        `ΔW[12][${c}] = ${dW[12 * 10 + c]}, expected ${expected}`,
      );
    }
    const elsewhere = dW.filter((v, i) => Math.floor(i / 10) !== 12 && v !== 0);
    assert.equal(elsewhere.length, 0, 'pixels that were 0 got a non-zero update');
    assert.ok(
      global.get('dense/bias')!.every((v) => v === 0),
      'the global weights were modified',
    );
  });

  it('counts steps over epochs and repeats, and repeats its result for a seed', async () => {
    const global = initWeights(mlpSpec(16), 3);
    const data = examples(45);
    const a = await trainLocal(global, data, { epochs: 2, repeat: 3, batchSize: 20, seed: 5 });
    assert.equal(a.steps, 2 * Math.ceil((45 * 3) / 20));
    assert.equal(a.examples, 45);
    const b = await trainLocal(global, data, { epochs: 2, repeat: 3, batchSize: 20, seed: 5 });
    assert.deepEqual(b.update, a.update, 'the same seed gave a different update');
    const c = await trainLocal(global, data, { epochs: 2, repeat: 3, batchSize: 20, seed: 6 });
    assert.notDeepEqual(c.update, a.update, 'another seed gave the same update');
  });

  it('learns: the training loss falls over epochs on separable data', async () => {
    const data = examples(100);
    const short = await trainLocal(initWeights(softmaxSpec()), data, { epochs: 1, learningRate: 0.5 });
    const long = await trainLocal(initWeights(softmaxSpec()), data, { epochs: 5, learningRate: 0.5 });
    assert.ok(
      long.meanLoss < short.meanLoss,
      `5 epochs mean loss ${long.meanLoss} ≥ 1 epoch ${short.meanLoss}`,
    );
  });

  it('disposes every tensor it makes, for every model and optimizer', async () => {
    const { tf } = await initBackend();
    const data = examples(64);
    const runs = [
      () => trainLocal(initWeights(softmaxSpec()), data, { batchSize: 16 }),
      () => trainLocal(initWeights(mlpSpec(32), 1), data, { batchSize: 16, optimizer: 'momentum' }),
      () =>
        trainLocal(initWeights(mlpSpec(32), 1), data, {
          batchSize: 16,
          optimizer: 'adam',
          learningRate: 0.01,
        }),
    ];
    await runs[0]!(); // warm-up: a backend may keep lazily created state after its first use
    const before = tf.memory();
    for (let i = 0; i < 3; i++) for (const run of runs) await run();
    const after = tf.memory();
    assert.equal(
      after.numTensors,
      before.numTensors,
      `tensors: ${before.numTensors} before, ${after.numTensors} after`,
    );
    assert.equal(
      after.numBytes,
      before.numBytes,
      `bytes: ${before.numBytes} before, ${after.numBytes} after`,
    );
  });

  it('refuses data that does not fit the model, leaking nothing', async () => {
    const { tf } = await initBackend();
    const before = tf.memory().numTensors;
    const bad: Examples = { images: new Float32Array(783), labels: new Uint8Array([1]), count: 1 };
    await assert.rejects(trainLocal(initWeights(softmaxSpec()), bad), RangeError);
    const label11: Examples = { images: new Float32Array(784), labels: new Uint8Array([11]), count: 1 };
    await assert.rejects(trainLocal(initWeights(softmaxSpec()), label11), RangeError);
    await assert.rejects(trainLocal(initWeights(softmaxSpec()), examples(5), { batchSize: 0 }), RangeError);
    assert.equal(tf.memory().numTensors, before, 'a refused call left tensors behind');
  });
});
