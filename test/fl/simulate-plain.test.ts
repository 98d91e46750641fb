// Plain FedAvg end to end (src/fl/simulate-plain.ts) on real MNIST digits: 10 clients with
// Dirichlet(0.5) label skew, 3 rounds of one local epoch each, softmax regression. Test accuracy must
// rise well above chance (0.1) and the loss below a zero model's ln 10; dropouts are counted and
// excluded; the run is reproducible from its seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/fl/backend.ts';
import { head, loadDataset } from '../../src/fl/data.ts';
import { mlpSpec, softmaxSpec } from '../../src/fl/model.ts';
import type { RoundRecord } from '../../src/fl/report.ts';
import { runPlainFedAvg } from '../../src/fl/simulate-plain.ts';

describe('runPlainFedAvg', () => {
  it('10 non-IID clients, 3 rounds, softmax: accuracy rises well above chance', async (t) => {
    const { train, test } = await loadDataset('mnist');
    const seen: RoundRecord[] = [];
    const { rounds, labelSkew } = await runPlainFedAvg({
      train: head(train, 3000),
      test,
      model: softmaxSpec(),
      clients: 10,
      rounds: 3,
      partition: { kind: 'dirichlet', alpha: 0.5 },
      local: { epochs: 1, batchSize: 20, learningRate: 0.1 },
      seed: 1,
      onRound: (r) => seen.push(r),
    });
    for (const r of rounds) {
      t.diagnostic(
        `round ${r.round}: accuracy ${r.accuracy.toFixed(4)}, loss ${r.loss.toFixed(4)}, train loss ${r.trainLoss?.toFixed(4)}`,
      );
    }
    t.diagnostic(`label skew (mean TV distance) ${labelSkew.toFixed(3)}`);
    assert.deepEqual(seen, rounds, 'onRound did not see every round');
    assert.deepEqual(
      rounds.map((r) => [r.round, r.clients, r.dropped, r.epsilon]),
      [
        [1, 10, 0, null],
        [2, 10, 0, null],
        [3, 10, 0, null],
      ],
    );
    const last = rounds.at(-1)!;
    assert.ok(last.accuracy > 0.5, `final test accuracy ${last.accuracy}, expected > 0.5 (chance is 0.1)`);
    assert.ok(
      last.loss < Math.log(10) - 1,
      `final test loss ${last.loss} is not well below a zero model's ln 10`,
    );
    assert.ok(
      last.accuracy >= rounds[0]!.accuracy,
      `accuracy fell from ${rounds[0]!.accuracy} to ${last.accuracy}`,
    );
    assert.ok(labelSkew > 0.3, `Dirichlet(0.5) gave label skew ${labelSkew}, not a non-IID split`);
  });

  it('samples cohorts, drops clients, and is reproducible from its seed', async () => {
    const { train, test } = await loadDataset('mnist');
    const config = {
      train: head(train, 600),
      test: head(test, 300),
      model: mlpSpec(8),
      clients: 12,
      clientsPerRound: 6,
      rounds: 2,
      partition: { kind: 'iid' } as const,
      dropoutRate: 0.5,
      server: { kind: 'momentum', momentum: 0.5 } as const,
      seed: 3,
    };
    const a = await runPlainFedAvg(config);
    for (const r of a.rounds) {
      assert.equal(r.clients, 6);
      assert.ok(r.dropped >= 0 && r.dropped <= 6, `round ${r.round} dropped ${r.dropped} of 6`);
    }
    assert.ok(
      a.rounds.some((r) => r.dropped > 0),
      'no client dropped at rate 0.5 over 12 draws (seeded: this would be a change in sampling)',
    );
    const b = await runPlainFedAvg(config);
    assert.deepEqual(b.rounds, a.rounds, 'the same seed gave another run');
    assert.deepEqual(b.weights, a.weights, 'the same seed gave other weights');
    const { tf } = await initBackend();
    assert.equal(tf.memory().numTensors, 0, 'tensors are left over after the runs');
  });
});
