// The simulation PRNG (src/fl/random.ts): reproducible per (seed, label), independent across labels,
// and its samplers have the right support and first moments.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimRandom } from '../../src/fl/random.ts';

const draws = (rng: SimRandom, n: number) => Array.from({ length: n }, () => rng.next());

describe('SimRandom', () => {
  it('repeats for the same seed and label, and differs across seeds and labels', () => {
    const a = draws(new SimRandom(7, 'x'), 8);
    assert.deepEqual(draws(new SimRandom(7, 'x'), 8), a);
    assert.notDeepEqual(draws(new SimRandom(8, 'x'), 8), a);
    assert.notDeepEqual(draws(new SimRandom(7, 'y'), 8), a);
  });

  it('draws uniforms in [0, 1) and unbiased integers in [0, n)', () => {
    const rng = new SimRandom(1);
    let sum = 0;
    const counts = new Array<number>(3).fill(0);
    for (let i = 0; i < 30_000; i++) {
      const u = rng.uniform();
      assert.ok(u >= 0 && u < 1, `uniform ${u} outside [0, 1)`);
      sum += u;
      counts[rng.int(3)]!++;
    }
    assert.ok(Math.abs(sum / 30_000 - 0.5) < 0.01, `mean of uniforms ${sum / 30_000}`);
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 400, `int(3) counts ${counts} are uneven`);
  });

  it('draws Dirichlet proportions that sum to 1 with the right means, even for tiny alpha', () => {
    const rng = new SimRandom(2);
    const mean = new Float64Array(3);
    for (let i = 0; i < 4000; i++) {
      const p = rng.dirichlet([1, 2, 5]);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12, `proportions ${p} do not sum to 1`);
      p.forEach((v, j) => {
        mean[j]! += v / 4000;
      });
    }
    [1 / 8, 2 / 8, 5 / 8].forEach((m, j) => {
      assert.ok(Math.abs(mean[j]! - m) < 0.015, `mean proportion ${j} is ${mean[j]}, expected ${m}`);
    });
    const tiny = rng.dirichlet(new Array(10).fill(0.001));
    assert.ok(
      tiny.every((v) => Number.isFinite(v)),
      `alpha 0.001 gave non-finite proportions ${tiny}`,
    );
    assert.ok(
      Math.abs(tiny.reduce((a, b) => a + b, 0) - 1) < 1e-12,
      'alpha 0.001 proportions do not sum to 1',
    );
  });

  it('samples k distinct sorted indices', () => {
    const s = new SimRandom(3).sample(100, 10);
    assert.equal(new Set(s).size, 10);
    assert.ok(
      s.every((v, i) => v < 100 && (i === 0 || v > s[i - 1]!)),
      `sample ${s} is not sorted and in range`,
    );
  });
});
