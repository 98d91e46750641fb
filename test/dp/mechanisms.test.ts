// Clipping (src/dp/clip.ts), the noise samplers (src/dp/sampling.ts) and the central Gaussian
// mechanism (src/dp/central.ts): exactness of clipping, the distribution of every sampler against its
// exact law with a fixed seed, and fail-closed argument checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { addCentralNoise, centralNoiseStddev, quantizedSensitivity } from '../../src/dp/central.ts';
import {
  boundedWeight,
  clipCopy,
  clipInPlace,
  contributionBound,
  fixedDenominatorMean,
  l2Norm,
} from '../../src/dp/clip.ts';
import {
  addSkellamMod,
  fillGaussian,
  fillSkellam,
  logGamma,
  PoissonSampler,
  RandomStream,
  skellamPmf,
} from '../../src/dp/sampling.ts';
import { flatten, layoutOf, unflatten } from '../../src/dp/tensors.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { assertMoments, chiSquareTest, ksTest, normalCdf } from './mechanisms-stats.ts';

const rng = (label: string) => new DeterministicRng(`test/dp/mechanisms/${label}`);

/** Deterministic pseudo-random floats in [−scale, scale). */
function floats(label: string, n: number, scale = 1): Float64Array {
  const stream = new RandomStream(rng(label));
  return Float64Array.from({ length: n }, () => (2 * stream.double() - 1) * scale);
}

describe('l2Norm', () => {
  it('is the norm across all tensors, whatever their element type', () => {
    const update = new Map<string, Float32Array | Float64Array>([
      ['a', Float32Array.of(3)],
      ['b', Float64Array.of(0, 4)],
    ]);
    assert.equal(l2Norm(update), 5);
  });

  it('neither overflows nor underflows', () => {
    assert.ok(Math.abs(l2Norm(new Map([['w', Float64Array.of(3e200, 4e200)]])) / 5e200 - 1) < 1e-15);
    assert.ok(Math.abs(l2Norm(new Map([['w', Float64Array.of(3e-200, 4e-200)]])) / 5e-200 - 1) < 1e-15);
    assert.equal(l2Norm(new Map([['w', new Float64Array(5)]])), 0);
  });

  it('rejects NaN and ±Infinity, naming the tensor and index', () => {
    const bad = new Map<string, Float32Array | Float64Array>([
      ['ok', new Float32Array(3)],
      ['dense/kernel', Float64Array.of(1, 2, Number.NaN)],
    ]);
    assert.throws(() => l2Norm(bad), { name: 'RangeError', message: /tensor 'dense\/kernel'\[2\] is NaN/ });
    const inf = new Map([['b', Float32Array.of(0, -Infinity)]]);
    assert.throws(() => l2Norm(inf), { name: 'RangeError', message: /tensor 'b'\[1\] is -Infinity/ });
  });

  it('rejects what is not a Map of float tensors', () => {
    assert.throws(() => l2Norm([Float64Array.of(1)] as never), { name: 'TypeError' });
    assert.throws(() => l2Norm(new Map([['w', Int32Array.of(1)]]) as never), {
      name: 'TypeError',
      message: /'w' must be a Float32Array or Float64Array/,
    });
    assert.throws(() => l2Norm(new Map()), { name: 'RangeError', message: /at least one tensor/ });
  });
});

describe('clipping', () => {
  it('leaves an update within C untouched, bit for bit', () => {
    const w = floats('small', 100, 0.01);
    const before = w.slice();
    const report = clipInPlace(new Map([['w', w]]), { clip: 1 });
    assert.deepEqual(report, { norm: l2Norm(new Map([['w', before]])), factor: 1, clipped: false });
    assert.deepEqual(w, before);
  });

  it('leaves an update of norm exactly C untouched', () => {
    const w = Float64Array.of(3, 4);
    assert.equal(clipInPlace(new Map([['w', w]]), { clip: 5 }).clipped, false);
    assert.deepEqual(w, Float64Array.of(3, 4));
  });

  it('scales an update above C to norm C across all tensors, by min(1, C/‖x‖)', () => {
    const a = Float32Array.of(3, 0);
    const b = Float64Array.of(0, 4);
    const update = new Map<string, Float32Array | Float64Array>([
      ['a', a],
      ['b', b],
    ]);
    const report = clipInPlace(update, { clip: 1 });
    assert.equal(report.norm, 5);
    assert.equal(report.clipped, true);
    assert.ok(Math.abs(report.factor - 0.2) < 1e-6);
    assert.ok(l2Norm(update) <= 1);
    assert.ok(Math.abs(a[0]! - 0.6) < 1e-6 && Math.abs(b[1]! - 0.8) < 1e-6);
  });

  it('property: the clipped norm never exceeds C, and the direction is kept', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ minLength: 1, maxLength: 64, min: -1e6, max: 1e6, noNaN: true }),
        fc.float64Array({ minLength: 0, maxLength: 64, min: -1e100, max: 1e100, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        (a, b, clip) => {
          const update = new Map<string, Float32Array | Float64Array>([
            ['a', a.slice()],
            ['b', b.slice()],
          ]);
          const norm = l2Norm(update);
          const report = clipInPlace(update, { clip });
          assert.ok(l2Norm(update) <= clip, `${l2Norm(update)} > ${clip}`);
          if (norm <= clip) {
            assert.equal(report.factor, 1);
            assert.deepEqual(update.get('a'), a);
          } else {
            assert.ok(Math.abs(report.factor / (clip / norm) - 1) < 1e-6);
            // Every element was multiplied by the same factor (up to its own rounding).
            const out = update.get('b')!;
            b.forEach((x, i) => {
              assert.ok(
                Math.abs(out[i]! - x * report.factor) <= Math.abs(x * report.factor) * 1e-15 + 1e-300,
              );
            });
          }
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('clipCopy clips a copy and leaves the input alone', () => {
    const w = Float32Array.of(30, 40);
    const { tensors, norm, clipped } = clipCopy(new Map([['w', w]]), { clip: 10 });
    assert.deepEqual(w, Float32Array.of(30, 40));
    assert.equal(norm, 50);
    assert.equal(clipped, true);
    assert.ok(tensors.get('w') instanceof Float32Array);
    assert.ok(l2Norm(tensors) <= 10 && l2Norm(tensors) > 10 * (1 - 1e-6));
  });

  it('applies a bounded FedAvg weight after clipping: norm ≤ w·C', () => {
    const w = boundedWeight(50, 200);
    assert.equal(w, 0.25);
    assert.equal(boundedWeight(1e9, 200), 1);
    assert.equal(boundedWeight(0, 200), 0);
    const update = new Map([['w', Float64Array.of(6, 8)]]);
    const report = clipInPlace(update, { clip: 2, weight: w });
    assert.ok(l2Norm(update) <= 0.5 && l2Norm(update) > 0.5 * (1 - 1e-9));
    assert.ok(Math.abs(report.factor - 0.05) < 1e-9);
    // Below C the weight still applies.
    const small = new Map([['w', Float64Array.of(0.3, 0.4)]]);
    clipInPlace(small, { clip: 2, weight: 0.5 });
    assert.deepEqual(small.get('w'), Float64Array.of(0.15, 0.2));
    assert.equal(contributionBound(2, 0.5), 1);
    assert.deepEqual(fixedDenominatorMean(Float64Array.of(10, -5), 20), Float64Array.of(0.5, -0.25));
  });

  it('fails closed on a bad clip norm or weight, changing nothing', () => {
    const w = Float64Array.of(3, 4);
    const update = new Map([['w', w]]);
    for (const clip of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => clipInPlace(update, { clip }), {
        name: 'RangeError',
        message: /options\.clip must be/,
      });
    }
    assert.throws(() => clipInPlace(update, { clip: '1' as never }), { name: 'TypeError' });
    for (const weight of [-0.1, 1.5, Number.NaN]) {
      assert.throws(() => clipInPlace(update, { clip: 1, weight }), {
        name: 'RangeError',
        message: /options\.weight must be a number in \[0, 1\]/,
      });
    }
    assert.throws(() => boundedWeight(-1, 10), { name: 'RangeError' });
    assert.throws(() => boundedWeight(1, 0), { name: 'RangeError', message: /cap must be/ });
    assert.throws(() => contributionBound(1, 2), { name: 'RangeError' });
    const nan = new Map([['w', Float64Array.of(3e10, Number.NaN)]]);
    assert.throws(() => clipInPlace(nan, { clip: 1 }), { message: /tensor 'w'\[1\] is NaN/ });
    assert.equal(nan.get('w')![0], 3e10);
    assert.deepEqual(w, Float64Array.of(3, 4));
  });

  it('flattens and unflattens in layout order', () => {
    const update = new Map<string, Float32Array | Float64Array>([
      ['w', Float32Array.of(1, 2, 3)],
      ['b', Float64Array.of(4)],
    ]);
    const layout = layoutOf(update);
    const flat = flatten(update, layout, new Float64Array(8));
    assert.deepEqual(flat, Float64Array.of(1, 2, 3, 4, 0, 0, 0, 0));
    assert.deepEqual(
      [...unflatten(flat, layout)],
      [
        ['w', Float64Array.of(1, 2, 3)],
        ['b', Float64Array.of(4)],
      ],
    );
    assert.throws(
      () =>
        flatten(update, [
          { name: 'b', length: 1 },
          { name: 'w', length: 3 },
        ]),
      {
        message: /layout expects 'b'/,
      },
    );
  });
});

describe('RandomStream', () => {
  it('is reproducible from a seeded Rng and uniform on [0, 1)', () => {
    const a = new RandomStream(rng('stream'));
    const b = new RandomStream(rng('stream'));
    const xs = Float64Array.from({ length: 20000 }, () => a.double());
    assert.deepEqual(
      xs,
      Float64Array.from({ length: 20000 }, () => b.double()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.ok(ksTest(xs, (x) => Math.min(1, Math.max(0, x))).p > 1e-3);
  });

  it('reads the Rng as one byte stream, in order and without gaps, across refills (PROTOCOL.md §11.1)', () => {
    const stream = new RandomStream(rng('bytes'));
    const raw = rng('bytes').randomBytes(4096);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    let offset = 0;
    const word = () => {
      const w = view.getUint32(offset, true);
      offset += 4;
      return w;
    };
    const uniform = () => {
      const w0 = word();
      const w1 = word();
      return ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) * 2 ** -53;
    };
    // Odd word counts put a double across the 256-byte and 768-byte refill boundaries.
    for (const [words, doubles] of [
      [3, 5],
      [53, 1],
      [1, 100],
      [7, 3],
    ] as const) {
      for (let i = 0; i < words; i++) assert.equal(stream.uint32(), word(), `word at byte ${offset}`);
      for (let i = 0; i < doubles; i++) assert.equal(stream.double(), uniform(), `double at byte ${offset}`);
    }
    assert.ok(offset > 768, 'the draws crossed two refills');
  });

  it('fails closed on a broken Rng', () => {
    assert.throws(() => new RandomStream({} as never), { name: 'TypeError', message: /randomBytes/ });
    const short = new RandomStream({ randomBytes: (n: number) => new Uint8Array(n - 1) });
    assert.throws(() => short.uint32(), { name: 'RangeError', message: /returned \d+ bytes/ });
    const wrong = new RandomStream({ randomBytes: () => [1, 2, 3] as never });
    assert.throws(() => wrong.double(), { name: 'TypeError', message: /must return a Uint8Array/ });
  });
});

describe('Gaussian sampler', () => {
  it('N(0, σ²): mean, variance and a Kolmogorov–Smirnov test, with a fixed seed', () => {
    const sigma = 2.5;
    const xs = fillGaussian(new Float64Array(100_000), sigma, rng('gauss'));
    assertMoments(xs, { mean: 0, variance: sigma * sigma });
    const { p, d } = ksTest(xs, (x) => normalCdf(x / sigma));
    assert.ok(p > 1e-3, `KS D = ${d}, p = ${p}`);
  });

  it('the KS test does notice a wrong scale (the test has power)', () => {
    const xs = fillGaussian(new Float64Array(100_000), 1.05, rng('gauss-power'));
    assert.ok(ksTest(xs, normalCdf).p < 1e-3);
  });

  it('fails closed on σ ≤ 0', () => {
    for (const s of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => fillGaussian(new Float64Array(3), s), {
        name: 'RangeError',
        message: /stddev must be/,
      });
    }
  });
});

describe('Poisson sampler', () => {
  const poissonPmf = (lambda: number) => (k: number) =>
    k < 0 ? 0 : Math.exp(-lambda + k * Math.log(lambda) - logGamma(k + 1));

  for (const lambda of [0.7, 3, 9.5, 10, 40, 1000]) {
    it(`Poisson(${lambda}) (${lambda < 10 ? 'multiplication' : 'PTRS'}): moments and chi-square vs the exact pmf`, () => {
      const stream = new RandomStream(rng(`poisson/${lambda}`));
      const sampler = new PoissonSampler(lambda);
      const xs = Float64Array.from({ length: 100_000 }, () => sampler.sample(stream));
      assertMoments(xs, { mean: lambda, variance: lambda, excessKurtosis: 1 / lambda });
      const { p, statistic, dof } = chiSquareTest(xs, poissonPmf(lambda), Math.floor(lambda));
      assert.ok(p > 1e-4, `χ² = ${statistic} on ${dof} dof, p = ${p}`);
    });
  }

  it('log Γ matches log((n−1)!)', () => {
    let logFactorial = 0;
    for (let n = 1; n < 200; n++) {
      assert.ok(Math.abs(logGamma(n) - logFactorial) <= 1e-13 * Math.max(1, logFactorial), `n = ${n}`);
      logFactorial += Math.log(n);
    }
  });

  it('fails closed on a bad mean', () => {
    for (const lambda of [0, -2, Number.NaN, Infinity, 2 ** 51]) {
      assert.throws(() => new PoissonSampler(lambda), { name: 'RangeError' });
    }
  });
});

describe('Skellam sampler', () => {
  it('the pmf e^{−v}·I_k(v) is symmetric, sums to 1 and is the difference of two Poissons', () => {
    const v = 7;
    let total = 0;
    for (let k = -60; k <= 60; k++) total += skellamPmf(k, v);
    assert.ok(Math.abs(total - 1) < 1e-12);
    assert.equal(skellamPmf(3, v), skellamPmf(-3, v));
    // Convolution of Poisson(v/2) with itself, reflected.
    const pois = (k: number) => Math.exp(-v / 2 + k * Math.log(v / 2) - logGamma(k + 1));
    for (const k of [0, 1, 5, 12]) {
      let conv = 0;
      for (let j = 0; j < 80; j++) conv += pois(j + k) * pois(j);
      assert.ok(Math.abs(skellamPmf(k, v) / conv - 1) < 1e-12, `k = ${k}`);
    }
  });

  for (const variance of [0.5, 6, 19.9, 20, 300]) {
    it(`variance ${variance}: moments and chi-square vs the exact pmf, with a fixed seed`, () => {
      const xs = fillSkellam(new Int32Array(100_000), variance, rng(`skellam/${variance}`));
      // Excess kurtosis of Sk(λ, λ): 1/(2λ) = 1/variance.
      assertMoments(xs, { mean: 0, variance, excessKurtosis: 1 / variance });
      const { p, statistic, dof } = chiSquareTest(xs, (k) => skellamPmf(k, variance), 0);
      assert.ok(p > 1e-4, `χ² = ${statistic} on ${dof} dof, p = ${p}`);
    });
  }

  it('the chi-square test has power: variance 6.3 samples are rejected against variance 6', () => {
    const xs = fillSkellam(new Int32Array(100_000), 6.3, rng('skellam-power'));
    assert.ok(chiSquareTest(xs, (k) => skellamPmf(k, 6), 0).p < 1e-4);
  });

  it('large variances: moments', () => {
    for (const variance of [1e4, 1e10]) {
      const xs = fillSkellam(new Int32Array(50_000), variance, rng(`skellam-large/${variance}`));
      assertMoments(xs, { mean: 0, variance });
    }
  });

  it('addSkellamMod adds the same noise modulo 2^bits', () => {
    const noise = fillSkellam(new Int32Array(1000), 50, rng('mod'));
    const target = Uint32Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    const expected = target.map((t, i) => (((t + noise[i]!) % 256) + 256) % 256);
    addSkellamMod(target, 50, 8, rng('mod'));
    assert.deepEqual(target, expected);
    const wide = new Uint32Array(1000);
    addSkellamMod(wide, 50, 32, rng('mod'));
    assert.deepEqual(Int32Array.from(wide), noise);
  });

  it('fails closed on a bad variance or bit width, changing nothing', () => {
    const target = new Uint32Array(4);
    for (const v of [0, -1, Number.NaN, Infinity, 2 ** 52]) {
      assert.throws(() => addSkellamMod(target, v, 16), { name: 'RangeError', message: /variance must be/ });
      assert.throws(() => fillSkellam(new Int32Array(2), v), { name: 'RangeError' });
    }
    assert.throws(() => addSkellamMod(target, 1, 0), { name: 'RangeError', message: /bits/ });
    assert.throws(() => addSkellamMod(target, 1, 33), { name: 'RangeError', message: /bits/ });
    assert.deepEqual(target, new Uint32Array(4));
  });
});

describe('central Gaussian mechanism', () => {
  it('noise stddev is σ·C, or σ·(C + √d/s) for a quantized sum', () => {
    assert.equal(centralNoiseStddev({ noiseMultiplier: 1.5, clip: 2 }), 3);
    assert.equal(quantizedSensitivity(1, { dimension: 10_000, scale: 100 }), 2);
    assert.equal(
      centralNoiseStddev({ noiseMultiplier: 2, clip: 1, quantization: { dimension: 10_000, scale: 100 } }),
      4,
    );
  });

  it('adds N(0, (σC)²) to every coordinate (moments and KS)', () => {
    const sum = new Float64Array(50_000).fill(3);
    const stddev = addCentralNoise(sum, { noiseMultiplier: 1.1, clip: 0.5 }, rng('central'));
    assert.equal(stddev, 0.55);
    const noise = sum.map((x) => x - 3);
    assertMoments(noise, { mean: 0, variance: 0.55 ** 2 });
    assert.ok(ksTest(noise, (x) => normalCdf(x / 0.55)).p > 1e-3);
  });

  it('snaps the noise to the quantization grid of a ring sum', () => {
    const scale = 64;
    const sum = Float64Array.from({ length: 20_000 }, (_, i) => (i % 101) / scale);
    const before = sum.slice();
    const q = { dimension: 4, scale };
    const stddev = addCentralNoise(sum, { noiseMultiplier: 2, clip: 1, quantization: q }, rng('snap'));
    assert.equal(stddev, 2 * (1 + 2 / 64));
    for (const x of sum) assert.equal(x * scale, Math.round(x * scale));
    // round(s·G)/s has variance σ² + 1/(12s²) for the continuous G.
    assertMoments(
      sum.map((x, i) => x - before[i]!),
      { mean: 0, variance: stddev ** 2 + 1 / (12 * scale * scale) },
    );
  });

  it('fails closed: σ ≤ 0, C ≤ 0, a non-finite or off-grid sum; the sum is left unchanged', () => {
    const sum = Float64Array.of(1, 2);
    for (const noiseMultiplier of [0, -1, Number.NaN]) {
      assert.throws(() => addCentralNoise(sum, { noiseMultiplier, clip: 1 }), {
        name: 'RangeError',
        message: /options\.noiseMultiplier must be a finite number > 0/,
      });
    }
    assert.throws(() => addCentralNoise(sum, { noiseMultiplier: 1, clip: 0 }), { message: /options\.clip/ });
    assert.throws(
      () => addCentralNoise(sum, { noiseMultiplier: 1, clip: 1, quantization: { dimension: 2, scale: 0 } }),
      {
        message: /quantization\.scale/,
      },
    );
    assert.throws(() => addCentralNoise(Float64Array.of(1, Number.NaN), { noiseMultiplier: 1, clip: 1 }), {
      message: /sum\[1\] is NaN/,
    });
    assert.throws(
      () =>
        addCentralNoise(Float64Array.of(0.3), {
          noiseMultiplier: 1,
          clip: 1,
          quantization: { dimension: 1, scale: 4 },
        }),
      { message: /not on the quantization grid/ },
    );
    assert.throws(() => addCentralNoise(sum, undefined as never), { name: 'TypeError' });
    assert.deepEqual(sum, Float64Array.of(1, 2));
  });
});
