// The server side (src/fl/fedavg.ts): the three server optimizers on a two-coordinate example worked
// out by hand (values chosen to be exact in float32 where the formula allows), the uniform mean,
// refusals that leave the optimizer's state untouched, and evaluate() on models whose accuracy and
// loss are known in closed form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, meanUpdate, ServerOptimizer } from '../../src/fl/fedavg.ts';
import { initWeights, softmaxSpec } from '../../src/fl/model.ts';

const t = (...values: number[]) => new Float32Array(values);
const one = (values: Float32Array) => new Map([['w', values]]);

describe('ServerOptimizer', () => {
  it('is importable without loading TensorFlow.js (for the coordinator)', () => {
    // This file imports fedavg.ts and model.ts; only evaluate() below loads tfjs, on first use.
    assert.ok(!('_tfGlobals' in globalThis), 'tfjs (its global namespace) is loaded already');
  });

  it('sgd: w + η·Δ, and η = 1 is plain averaging', () => {
    const plain = new ServerOptimizer();
    assert.deepEqual(plain.apply(one(t(1, -2)), one(t(0.5, 0.25))).get('w'), t(1.5, -1.75));
    const scaled = new ServerOptimizer({ kind: 'sgd', learningRate: 0.5 });
    assert.deepEqual(scaled.apply(one(t(1, -2)), one(t(0.5, 0.25))).get('w'), t(1.25, -1.875));
  });

  it('momentum (FedAvgM): v ← βv + Δ, w ← w + ηv, over three rounds', () => {
    const server = new ServerOptimizer({ kind: 'momentum', learningRate: 1, momentum: 0.5 });
    let w = one(t(0, 1));
    // round 1: v = (0.25, -1), w = (0.25, 0)
    w = server.apply(w, one(t(0.25, -1)));
    assert.deepEqual(w.get('w'), t(0.25, 0));
    // round 2: v = (0.125 + 0.25, -0.5 + 0) = (0.375, -0.5), w = (0.625, -0.5)
    w = server.apply(w, one(t(0.25, 0)));
    assert.deepEqual(w.get('w'), t(0.625, -0.5));
    // round 3 with Δ = 0: v = (0.1875, -0.25): momentum keeps moving the model
    w = server.apply(w, one(t(0, 0)));
    assert.deepEqual(w.get('w'), t(0.8125, -0.75));
    assert.equal(server.steps, 3);
  });

  it('adam (FedAdam, Reddi et al. 2021, no bias correction): m, v and the step', () => {
    const server = new ServerOptimizer({
      kind: 'adam',
      learningRate: 0.5,
      beta1: 0.5,
      beta2: 0.75,
      tau: 0.25,
    });
    let w = one(t(0, 0));
    // round 1, Δ = (1, -2): m = (0.5, -1), v = (0.25, 1), √v = (0.5, 1);
    // step = 0.5·m/(√v + 0.25) = (0.5·0.5/0.75, 0.5·(−1)/1.25) = (1/3, −0.4)
    w = server.apply(w, one(t(1, -2)));
    assert.deepEqual(w.get('w'), t(1 / 3, -0.4));
    // round 2, Δ = (1, 0): m = (0.75, -0.5), v = (0.4375, 0.75);
    // step = (0.5·0.75/(√0.4375 + 0.25), 0.5·(−0.5)/(√0.75 + 0.25))
    w = server.apply(w, one(t(1, 0)));
    const expected = [1 / 3 + 0.375 / (Math.sqrt(0.4375) + 0.25), -0.4 - 0.25 / (Math.sqrt(0.75) + 0.25)];
    const got = w.get('w')!;
    expected.forEach((e, i) => {
      assert.ok(Math.abs(got[i]! - e) < 1e-6, `coordinate ${i}: got ${got[i]}, expected ${e}`);
    });
  });

  it('adam: the first step of each coordinate is below η whatever the size of Δ (defaults)', () => {
    const server = new ServerOptimizer({ kind: 'adam' });
    const w = server.apply(one(t(0, 0, 0)), one(t(1e-6, 0.1, 1000))).get('w')!;
    for (const v of w) assert.ok(Math.abs(v) < 0.01, `first step ${v} exceeds the default η = 0.01`);
    assert.ok(w[2]! > 0.0099, `a large coordinate should take almost a full step, took ${w[2]}`);
  });

  it('refuses an update that does not match, and keeps its state', () => {
    const server = new ServerOptimizer({ kind: 'momentum', momentum: 0.5 });
    const w = server.apply(one(t(0, 0)), one(t(1, 1)));
    assert.throws(() => server.apply(w, one(t(1, 1, 1))), RangeError);
    assert.throws(() => server.apply(w, new Map([['v', t(1, 1)]])), RangeError);
    assert.throws(() => server.apply(w, one(t(Number.NaN, 1))), RangeError);
    assert.equal(server.steps, 1, 'a refused update counted as a step');
    // v = 0.5·(1, 1) + (0, 0) = (0.5, 0.5) — the refused updates left v alone.
    assert.deepEqual(server.apply(w, one(t(0, 0))).get('w'), t(1.5, 1.5));
  });

  it('refuses bad configurations', () => {
    assert.throws(() => new ServerOptimizer({ kind: 'momentum', momentum: 1 }), RangeError);
    assert.throws(() => new ServerOptimizer({ kind: 'adam', tau: 0 }), RangeError);
    assert.throws(() => new ServerOptimizer({ kind: 'sgd', learningRate: -1 }), RangeError);
    assert.throws(() => new ServerOptimizer({ kind: 'nesterov' } as never), RangeError);
  });
});

describe('meanUpdate', () => {
  it('is the uniform mean of the updates', () => {
    const mean = meanUpdate([
      new Map([
        ['a', t(1, 2)],
        ['b', t(3)],
      ]),
      new Map([
        ['a', t(3, -2)],
        ['b', t(0)],
      ]),
      new Map([
        ['a', t(2, 3)],
        ['b', t(0)],
      ]),
    ]);
    assert.deepEqual([...mean.keys()], ['a', 'b']);
    assert.deepEqual(mean.get('a'), t(2, 1));
    assert.deepEqual(mean.get('b'), t(1));
  });

  it('refuses no updates and mismatched layouts', () => {
    assert.throws(() => meanUpdate([]), RangeError);
    assert.throws(() => meanUpdate([one(t(1)), one(t(1, 2))]), RangeError);
    assert.throws(() => meanUpdate([one(t(1)), new Map([['v', t(1)]])]), RangeError);
  });
});

describe('evaluate', () => {
  const images = new Float32Array(5 * 784);
  const labels = new Uint8Array([0, 0, 1, 2, 3]);

  it('a zero model scores ln 10 and predicts class 0', async () => {
    const { accuracy, loss, examples } = await evaluate(initWeights(softmaxSpec()), images, labels, {
      batchSize: 2,
    });
    assert.equal(examples, 5);
    assert.equal(accuracy, 2 / 5);
    assert.ok(Math.abs(loss - Math.log(10)) < 1e-5, `loss ${loss}, expected ln 10`);
  });

  it('a model that reads the class off pixel c is always right, with a known loss', async () => {
    const weights = initWeights(softmaxSpec());
    const kernel = weights.get('dense/kernel')!;
    for (let c = 0; c < 10; c++) kernel[c * 10 + c] = 5; // pixel c → logit 5 for class c
    const x = new Float32Array(images.length);
    labels.forEach((label, i) => {
      x[i * 784 + label] = 1;
    });
    const { accuracy, loss } = await evaluate(weights, x, labels);
    assert.equal(accuracy, 1);
    const expected = -Math.log(Math.exp(5) / (Math.exp(5) + 9));
    assert.ok(Math.abs(loss - expected) < 1e-5, `loss ${loss}, expected ${expected}`);
  });

  it('refuses images and labels that do not match', async () => {
    await assert.rejects(evaluate(initWeights(softmaxSpec()), new Float32Array(784), labels), RangeError);
  });
});
