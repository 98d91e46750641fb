// The distributed Skellam mechanism (src/dp/distributed.ts) and what it is built from: the randomized
// Hadamard rotation, conditional rounding, the wrap-around bound and the Skellam RDP with Zhu–Wang
// subsampling. The noise in the unmasked sum of real simulated secure-aggregation rounds has the
// intended total variance with and without dropouts; misconfigurations fail closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RdpAccountant, type RdpStep } from '../../src/dp/accountant.ts';
import {
  decodeSum,
  encodeUpdate,
  maxSkellamScale,
  minNoisyClients,
  type SkellamInput,
  type SkellamParams,
  skellamParams,
  skellamQuery,
  skellamVectorSpec,
} from '../../src/dp/distributed.ts';
import { fwht, paddedLength, rotate, rotationSigns, unrotate } from '../../src/dp/hadamard.ts';
import { computeRdp } from '../../src/dp/rdp.ts';
import { conditionalRound, DEFAULT_BETA, roundedSquaredBound } from '../../src/dp/rounding.ts';
import { fillSkellam, RandomStream, skellamPmf } from '../../src/dp/sampling.ts';
import { SkellamRound, skellamRdp } from '../../src/dp/skellam-rdp.ts';
import { poissonSubsampledRdp } from '../../src/dp/subsampling.ts';
import type { NamedTensors } from '../../src/dp/tensors.ts';
import { logSkellamTail, logWrapProbability, wrapProbability } from '../../src/dp/wrap.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { type ClientId, clientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { assertMoments, chiSquareTest } from './mechanisms-stats.ts';

const rng = (label: string) => new DeterministicRng(`test/dp/distributed/${label}`);
const SEED = new Uint8Array(32).fill(0x5a);

function randomVector(label: string, n: number, scale = 1): Float64Array {
  const stream = new RandomStream(rng(label));
  return Float64Array.from({ length: n }, () => (2 * stream.double() - 1) * scale);
}

const signed = (z: number, bits: number) => (bits === 32 ? z | 0 : (z << (32 - bits)) >> (32 - bits));

describe('randomized Hadamard rotation', () => {
  it('H applied twice is n·I', () => {
    for (const n of [1, 2, 4, 8, 32, 1024, 2048]) {
      const x = randomVector(`fwht/${n}`, n);
      const y = x.slice();
      fwht(y);
      fwht(y);
      y.forEach((v, i) => {
        assert.ok(Math.abs(v / n - x[i]!) < 1e-12, `n = ${n}, i = ${i}`);
      });
    }
  });

  it('matches the Sylvester matrix H_ij = (−1)^popcount(i & j)', () => {
    const n = 16;
    const x = randomVector('sylvester', n);
    const y = x.slice();
    fwht(y);
    for (let i = 0; i < n; i++) {
      let expected = 0;
      for (let j = 0; j < n; j++) {
        let bits = i & j;
        let parity = 0;
        while (bits) {
          parity ^= bits & 1;
          bits >>= 1;
        }
        expected += (parity ? -1 : 1) * x[j]!;
      }
      assert.ok(Math.abs(y[i]! - expected) < 1e-12);
    }
  });

  it('keeps the norm, is inverted by unrotate, and depends on the seed', () => {
    const x = randomVector('rotate', 4096);
    const y = x.slice();
    rotate(y, SEED);
    const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
    assert.ok(Math.abs(norm(y) / norm(x) - 1) < 1e-12);
    const z = y.slice();
    unrotate(z, SEED);
    z.forEach((v, i) => {
      assert.ok(Math.abs(v - x[i]!) < 1e-12);
    });
    const other = x.slice();
    rotate(other, new Uint8Array(32).fill(1));
    assert.notDeepEqual(other, y);
    assert.deepEqual(rotationSigns(SEED, 64), rotationSigns(SEED, 64));
  });

  it('spreads a spike over every coordinate', () => {
    const n = 4096;
    const spike = new Float64Array(n);
    spike[17] = 1;
    rotate(spike, SEED);
    for (const v of spike) assert.ok(Math.abs(Math.abs(v) - 1 / 64) < 1e-15);
  });

  it('rejects a bad length or seed', () => {
    assert.throws(() => rotate(new Float64Array(3), SEED), { name: 'RangeError', message: /power-of-two/ });
    assert.throws(() => rotate(new Float64Array(4), new Uint8Array(16)), {
      name: 'RangeError',
      message: /32 bytes/,
    });
    assert.equal(paddedLength(100_000), 131072);
    assert.equal(paddedLength(1), 1);
    assert.equal(paddedLength(1024), 1024);
  });
});

describe('conditional rounding', () => {
  it('Kairouz et al.’s bound: min{c² + n/4 + √(2 ln 1/β)(c + √n/2), (c + √n)²}', () => {
    // β = e^{−1/2}: √(2 ln(1/β)) = 1; β = e^{−2} (the default): 2.
    assert.equal(DEFAULT_BETA, Math.exp(-2));
    assert.equal(roundedSquaredBound(10, 100, Math.exp(-0.5)), Math.floor(100 + 25 + 15));
    assert.equal(roundedSquaredBound(10, 100, Math.exp(-2)), Math.floor(100 + 25 + 2 * 15));
    // Small c: the deterministic (c + √n)² is the smaller one.
    assert.equal(roundedSquaredBound(0.5, 1, Math.exp(-0.5)), 1);
    assert.equal(roundedSquaredBound(0.1, 1, Math.exp(-2)), 1);
    assert.equal(roundedSquaredBound(10, 100, 0), 400);
  });

  it('never returns a vector above the bound, and is unbiased', () => {
    const n = 1024;
    const y = randomVector('round', n, 3);
    const c = Math.sqrt(y.reduce((s, a) => s + a * a, 0));
    const bound = roundedSquaredBound(c, n, DEFAULT_BETA);
    const stream = new RandomStream(rng('round-stream'));
    const out = new Int32Array(n);
    const mean = new Float64Array(n);
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      conditionalRound(y, bound, stream, out);
      let ss = 0;
      out.forEach((q, i) => {
        assert.ok(q === Math.floor(y[i]!) || q === Math.ceil(y[i]!));
        ss += q * q;
        mean[i]! += q / trials;
      });
      assert.ok(ss <= bound);
    }
    // Each coordinate's rounding has variance ≤ 1/4, so the mean of 400 is within ±0.025·5.
    mean.forEach((m, i) => {
      assert.ok(Math.abs(m - y[i]!) < 0.125, `${m} vs ${y[i]}`);
    });
  });

  it('redraws when the bound is tight, and gives up with an error rather than exceed it', () => {
    const y = Float64Array.of(0.5, 0.5, 0.5, 0.5);
    const out = new Int32Array(4);
    const attempts = conditionalRound(y, 1, new RandomStream(rng('tight')), out);
    assert.ok(out.reduce((s, q) => s + q * q, 0) <= 1);
    assert.ok(attempts >= 1);
    assert.throws(
      () => conditionalRound(Float64Array.of(1.5, 0.5), 0, new RandomStream(rng('never')), new Int32Array(2)),
      {
        name: 'RangeError',
        message: /exceeded its L2 bound 64 times/,
      },
    );
  });
});

describe('wrap-around bound', () => {
  it('the Skellam Chernoff tail bounds the exact tail', () => {
    const v = 50;
    for (const k of [5, 10, 20, 30, 40]) {
      let exact = 0;
      for (let j = k; j < 400; j++) exact += 2 * skellamPmf(j, v);
      const bound = Math.exp(logSkellamTail(k, v));
      assert.ok(exact <= bound, `k = ${k}: exact ${exact} > bound ${bound}`);
      assert.ok(bound < 60 * exact, `k = ${k}: bound ${bound} far above exact ${exact}`);
    }
  });

  it('falls with the bit width and rises with the noise', () => {
    const q = { length: 4096, clients: 20, scaledNorm: 1000, noiseVariance: 1e6 };
    const log = (bits: number, noiseVariance = 1e6) => logWrapProbability({ ...q, bits, noiseVariance });
    assert.ok(log(14) > log(15) && log(15) > log(16) && log(16) > log(18), `${[log(14), log(15), log(16)]}`);
    assert.ok(wrapProbability({ ...q, bits: 16 }) < 1e-100);
    assert.ok(log(15, 2e6) > log(15));
    assert.equal(wrapProbability({ ...q, bits: 8 }), 1);
    // Without rotation the signal bound is deterministic (m·s·C), so more bits are needed.
    assert.ok(logWrapProbability({ ...q, bits: 16, rotated: false }) > log(16));
  });
});

const SMALL: SkellamInput = {
  dimension: 4000,
  clip: 1,
  noiseMultiplier: 1,
  bits: 16,
  maxClients: 20,
  minNoisyClients: 14,
};

describe('skellamParams', () => {
  it('calibrates per-client noise so that t − n_C clients reach the target: h·v = z²·Δ₂²', () => {
    const p = skellamParams({ ...SMALL, noiseMultiplier: 0.8 });
    assert.equal(p.paddedDimension, 4096);
    assert.ok(Math.abs((p.minNoisyClients * p.clientVariance) / p.totalVariance - 1) < 1e-15);
    assert.ok(Math.abs(p.totalVariance / (0.64 * p.squaredL2Sensitivity) - 1) < 1e-15);
    assert.ok(p.l2Sensitivity >= p.scale * p.clip);
    assert.equal(p.l1Sensitivity, Math.min(p.squaredL2Sensitivity, 64 * p.l2Sensitivity));
    assert.ok(p.noiseStddev >= 0.8 * p.clip);
    assert.ok(p.wrapProbability <= p.maxWrapProbability);
    assert.ok(Object.isFrozen(p));
    assert.deepEqual(skellamVectorSpec('update', p), { name: 'update', length: 4096, bits: 16 });
    assert.equal(minNoisyClients(14, 3), 11);
  });

  it('chooses the largest admissible scale: a little more is refused, with the numbers', () => {
    const s = maxSkellamScale(SMALL);
    assert.equal(skellamParams(SMALL).scale, s);
    assert.doesNotThrow(() => skellamParams({ ...SMALL, scale: s }));
    assert.throws(() => skellamParams({ ...SMALL, scale: s * 1.01 }), {
      name: 'RangeError',
      message:
        /scale = .* is not admissible: the wrap-around probability bound .* exceeds maxWrapProbability .* the largest admissible scale is/,
    });
    // More bits, larger scale; more clients, smaller.
    assert.ok(maxSkellamScale({ ...SMALL, bits: 20 }) > 10 * s);
    assert.ok(maxSkellamScale({ ...SMALL, maxClients: 40 }) < s);
  });

  it('fails closed on every misconfiguration, saying what is wrong', () => {
    const bad: [Partial<SkellamInput>, RegExp][] = [
      [{ noiseMultiplier: 0 }, /noiseMultiplier must be a finite number > 0, got 0/],
      [{ noiseMultiplier: -1 }, /noiseMultiplier must be a finite number > 0/],
      [{ noiseMultiplier: Number.NaN }, /noiseMultiplier/],
      [{ clip: 0 }, /clip must be a finite number > 0/],
      [{ clip: -2 }, /clip must be/],
      [
        { bits: 8 },
        /bits = 8 is too small for this round: even at a negligible scale .*wrap-around probability bound 1\.00/,
      ],
      [{ bits: 33 }, /bits must be an integer in \[2, 32\]/],
      [{ minNoisyClients: 0 }, /minNoisyClients must be an integer in \[1, 20\]/],
      [{ minNoisyClients: 21 }, /minNoisyClients must be an integer in \[1, 20\]/],
      [{ scale: 0 }, /scale must be a finite number > 0/],
      [{ scale: 1e9 }, /scale = 1000000000 is not admissible: scale·clip = 1000000000 exceeds 2\^26/],
      [{ beta: 1 }, /beta must be in \[0, 1\)/],
      [{ maxWrapProbability: 0 }, /maxWrapProbability must be in \(0, 1\)/],
      [{ dimension: 0 }, /dimension must be an integer/],
    ];
    for (const [change, message] of bad) {
      assert.throws(
        () => skellamParams({ ...SMALL, ...change }),
        { name: 'RangeError', message },
        JSON.stringify(change),
      );
    }
    assert.throws(() => skellamParams({ ...SMALL, noiseMultiplier: '1' as never }), { name: 'TypeError' });
    assert.throws(() => minNoisyClients(3, 3), { name: 'RangeError', message: /leaves no honest noise/ });
  });
});

describe('encodeUpdate / decodeSum', () => {
  const p = skellamParams({ ...SMALL, noiseMultiplier: 0.5, bits: 24 });

  function clientUpdate(label: string, norm: number): Map<string, Float64Array> {
    const w = randomVector(`${label}/w`, 3000);
    const b = randomVector(`${label}/b`, 1000);
    const current = Math.sqrt([...w, ...b].reduce((s, a) => s + a * a, 0));
    return new Map([
      ['w', w.map((x) => (x * norm) / current)],
      ['b', b.map((x) => (x * norm) / current)],
    ]);
  }

  it('clips, and the decoded sum is the sum of clipped updates plus noise of variance m·v/s²', () => {
    const m = 10;
    const sum = new Uint32Array(p.paddedDimension);
    const truth = new Float64Array(p.dimension);
    for (let c = 0; c < m; c++) {
      const norm = c % 2 === 0 ? 0.3 : 5; // half of them get clipped
      const update = clientUpdate(`client${c}`, norm);
      const encoded = encodeUpdate(update, p, SEED, rng(`noise${c}`));
      assert.equal(encoded.clipped, norm > 1);
      assert.ok(Math.abs(encoded.norm - norm) < 1e-9);
      assert.ok(encoded.roundingAttempts >= 1 && encoded.roundingAttempts <= 3);
      assert.ok(encoded.vector.every((z) => z < 2 ** 24));
      const factor = Math.min(1, 1 / norm);
      let i = 0;
      for (const t of update.values()) for (const x of t) truth[i++]! += x * factor;
      for (let j = 0; j < sum.length; j++) sum[j] = (sum[j]! + encoded.vector[j]!) & 0xff_ffff;
    }
    const decoded = decodeSum(sum, p, SEED);
    assert.equal(decoded.length, p.dimension);
    const residual = decoded.map((x, i) => x - truth[i]!);
    // Rounding adds < m/4 ring units² of variance per coordinate, negligible next to m·v.
    assertMoments(residual, { mean: 0, variance: (m * p.clientVariance) / p.scale ** 2 });
  });

  it('leaves the caller’s tensors alone and rejects bad input, naming it', () => {
    const update = clientUpdate('inputs', 3);
    const copy = new Map([...update].map(([k, v]) => [k, v.slice()]));
    encodeUpdate(update, p, SEED, rng('inputs'));
    assert.deepEqual(update, copy);
    update.get('b')![7] = Number.POSITIVE_INFINITY;
    assert.throws(() => encodeUpdate(update, p, SEED, rng('x')), { message: /tensor 'b'\[7\] is Infinity/ });
    assert.throws(() => encodeUpdate(new Map([['w', new Float64Array(10)]]), p, SEED, rng('x')), {
      message: /the update has 10 elements, params.dimension is 4000/,
    });
    assert.throws(() => encodeUpdate(copy, { ...p }, SEED, rng('x')), {
      name: 'TypeError',
      message: /skellamParams/,
    });
    assert.throws(() => encodeUpdate(copy, p, new Uint8Array(31), rng('x')), { message: /32 bytes/ });
    assert.throws(() => decodeSum(new Uint32Array(4095), p, SEED), { message: /4096 elements/ });
    assert.throws(() => decodeSum(new Uint32Array(4096).fill(2 ** 24), p, SEED), {
      message: /not below 2\^24/,
    });
  });
});

describe('noise in the unmasked sum of a simulated secure round', () => {
  const n = 20;
  const t = 14;

  /** Runs one semi-honest round; the first `dropped` clients vanish before sending their masked input. */
  function secureRound(
    p: SkellamParams,
    updates: (id: ClientId) => NamedTensors,
    dropped: number,
    label: string,
  ) {
    const params = roundParams({
      round: 1,
      serverModel: 'semi-honest',
      threshold: t,
      clients: Array.from({ length: n }, (_, i) => i + 1),
      vectors: [skellamVectorSpec('update', p)],
    });
    const inputs = new Map(
      params.clients.map((id) => [
        id,
        [encodeUpdate(updates(id), p, SEED, rng(`${label}/noise/${id}`)).vector],
      ]),
    );
    const dropouts = new Map<ClientId, Stage>(params.clients.slice(0, dropped).map((id) => [id, 'masked']));
    const report = simulateRound({ params, inputs, rngFor: (id) => rng(`${label}/secagg/${id}`), dropouts });
    if (report.result.status !== 'ok') assert.fail(`round aborted: ${report.result.error.message}`);
    assert.equal(report.result.survivors.length, n - dropped);
    return { sum: report.result.sums[0]!, survivors: report.result.survivors };
  }

  // A small scale keeps the total variance near 10^3, where the exact pmf is cheap: s·C = 1 gives
  // Δ₂² = min{(1 + 64)², 1 + 1024 + 2·(1 + 32)} = 1091 ring units² (β = e^{−2}).
  const p = skellamParams({ ...SMALL, scale: 1, noiseMultiplier: 1 });
  const zero = () => new Map([['w', new Float64Array(4000)]]);

  for (const dropped of [0, 3, 6]) {
    it(`${n - dropped} survivors (t = ${t}): Skellam of variance ${n - dropped}·v ≥ the target z²Δ₂²`, () => {
      assert.equal(p.squaredL2Sensitivity, 1091);
      const { sum } = secureRound(p, zero, dropped, `zero/${dropped}`);
      const noise = Int32Array.from(sum, (z) => signed(z, p.bits));
      const variance = (n - dropped) * p.clientVariance;
      assert.ok(variance >= p.totalVariance * (1 - 1e-12));
      assertMoments(noise, { mean: 0, variance, excessKurtosis: 1 / variance });
      const { p: pValue, statistic, dof } = chiSquareTest(noise, (k) => skellamPmf(k, variance), 0);
      assert.ok(pValue > 1e-4, `χ² = ${statistic} on ${dof} dof, p = ${pValue}`);
      if (dropped === 6) {
        // Exactly t survivors: exactly the target.
        assert.ok(Math.abs(variance / p.totalVariance - 1) < 1e-12);
      } else {
        // The sample variance itself is clearly above the target, not just its expectation.
        const sample = noise.reduce((s, x) => s + x * x, 0) / noise.length;
        assert.ok(
          sample > p.totalVariance * (1 + (0.5 * (6 - dropped)) / t),
          `${sample} vs ${p.totalVariance}`,
        );
      }
    });
  }

  it('with real updates at the largest scale, the decoded sum is Σ clip(Δ_i) + noise of variance m·v/s²', () => {
    const q = skellamParams({ ...SMALL, noiseMultiplier: 0.7, bits: 20 });
    const updates = (id: ClientId) => new Map([['w', randomVector(`update/${id}`, 4000, 0.05 * id)]]);
    const { sum, survivors } = secureRound(q, updates, 4, 'real');
    const truth = new Float64Array(4000);
    for (const id of survivors) {
      const w = updates(id).get('w')!;
      const norm = Math.sqrt(w.reduce((s, a) => s + a * a, 0));
      const f = Math.min(1, 1 / norm);
      w.forEach((x, i) => {
        truth[i]! += x * f;
      });
    }
    const residual = decodeSum(sum, q, SEED).map((x, i) => x - truth[i]!);
    assertMoments(residual, { mean: 0, variance: (survivors.length * q.clientVariance) / q.scale ** 2 });
    assert.ok(q.noiseStddev >= 0.7 && q.noiseStddev < 0.7 * 1.001, `${q.noiseStddev}`);
    assert.equal(clientId(1), 1);
  });
});

describe('Skellam RDP and accounting', () => {
  const query = { squaredL2Sensitivity: 1e4, l1Sensitivity: 2e4, variance: 3e4 };

  it('is Agarwal et al.’s α·Δ₂²/(2μ) + min{((2α−1)Δ₂² + 6Δ₁)/(4μ²), 3Δ₁/(2μ)}', () => {
    const a = 5;
    const expected = (a * 1e4) / 6e4 + Math.min(((2 * a - 1) * 1e4 + 12e4) / (4 * 9e8), (3 * 2e4) / 6e4);
    assert.equal(skellamRdp(query, 5), expected);
    // Fractional orders use the next integer (RDP is non-decreasing in α).
    assert.equal(skellamRdp(query, 4.2), expected);
    assert.throws(() => skellamRdp(query, 1), { name: 'RangeError' });
    assert.throws(() => skellamRdp({ ...query, variance: 0 }, 2), {
      name: 'RangeError',
      message: /variance/,
    });
  });

  it('tends to the Gaussian mechanism’s α/(2z²) as the scale grows', () => {
    const z = 1.3;
    for (const d2 of [1e8, 1e12]) {
      const r = skellamRdp(
        { squaredL2Sensitivity: d2, l1Sensitivity: 1e3 * Math.sqrt(d2), variance: z * z * d2 },
        16,
      );
      assert.ok(r >= 16 / (2 * z * z));
      assert.ok(r / (16 / (2 * z * z)) - 1 < 1e-3, `${r}`);
    }
  });

  it('Zhu–Wang subsampling: exact at α = 2, never below the exact sampled Gaussian, never above the unsampled', () => {
    const q = 0.02;
    const sigma = 1.1;
    const gaussian = (a: number) => a / (2 * sigma * sigma);
    assert.ok(
      Math.abs(poissonSubsampledRdp(gaussian, q, 2) - Math.log1p(q * q * Math.expm1(gaussian(2)))) < 1e-15,
    );
    const orders = [2, 3, 5, 8, 16, 32, 64];
    const exact = computeRdp({ q, sigma, steps: 1, orders });
    orders.forEach((a, k) => {
      const bound = poissonSubsampledRdp(gaussian, q, a);
      assert.ok(bound >= exact[k]! * (1 - 1e-9), `α = ${a}: ${bound} < ${exact[k]}`);
    });
    const round = new SkellamRound(
      [{ squaredL2Sensitivity: 1e10, l1Sensitivity: 1e15, variance: 1.21e10 }],
      q,
    );
    round.rdp(orders).forEach((r, k) => {
      assert.ok(r <= gaussian(orders[k]!) * (1 + 1e-6) && r >= exact[k]! * (1 - 1e-6));
    });
  });

  it('a round of several queries adds their RDP; q = 0 costs nothing', () => {
    const other = { squaredL2Sensitivity: 1, l1Sensitivity: 1, variance: 100 };
    const both = new SkellamRound([query, other], 1).rdp([2, 8]);
    const one = new SkellamRound([query], 1).rdp([2, 8]);
    const two = new SkellamRound([other], 1).rdp([2, 8]);
    assert.deepEqual(both, [one[0]! + two[0]!, one[1]! + two[1]!]);
    // Never above Agarwal et al.'s bound.
    assert.ok(both[1]! <= skellamRdp(query, 8) + skellamRdp(other, 8));
    assert.deepEqual(new SkellamRound([query], 0).rdp([2, 3]), [0, 0]);
  });

  it('the accountant composes it; ε is close to (and above) the Gaussian’s for a fine quantization', () => {
    const p = skellamParams({ ...SMALL, bits: 24, noiseMultiplier: 1.0 });
    const skellam = new RdpAccountant().composeRdp(new SkellamRound([skellamQuery(p)], 0.05), 500);
    const gaussian = new RdpAccountant().compose({ q: 0.05, sigma: 1.0 }, 500);
    const es = skellam.epsilon(1e-5).epsilon;
    const eg = gaussian.epsilon(1e-5).epsilon;
    assert.ok(es >= eg && es < eg * 1.25, `Skellam ε ${es} vs Gaussian ε ${eg}`);
    // Composing T rounds at once equals T single rounds.
    const once = new RdpAccountant([2, 8]).composeRdp(new SkellamRound([skellamQuery(p)], 0.05), 3);
    const many = new RdpAccountant([2, 8]);
    for (let i = 0; i < 3; i++) many.composeRdp(new SkellamRound([skellamQuery(p)], 0.05));
    once.rdp.forEach((r, k) => {
      assert.ok(Math.abs(r - many.rdp[k]!) <= 1e-12 * r);
    });
  });

  it('composeRdp rejects a malformed curve and stays unchanged', () => {
    const accountant = new RdpAccountant([2, 4]).compose({ q: 0.1, sigma: 1 }, 10);
    const before = accountant.rdp;
    const curve = (values: unknown): RdpStep => ({ rdp: () => values as number[] });
    assert.throws(() => accountant.composeRdp(curve([1])), {
      name: 'RangeError',
      message: /one value per order/,
    });
    assert.throws(() => accountant.composeRdp(curve([1, -1])), {
      name: 'RangeError',
      message: /step\.rdp\[1\]/,
    });
    assert.throws(() => accountant.composeRdp(curve([1, Number.NaN])), { name: 'RangeError' });
    assert.throws(() => accountant.composeRdp({} as never), { name: 'TypeError' });
    assert.throws(() => accountant.composeRdp(curve([1, 1]), -1), { name: 'RangeError', message: /^steps / });
    assert.deepEqual(accountant.rdp, before);
    accountant.composeRdp(curve([Infinity, 0.5]), 0);
    assert.deepEqual(accountant.rdp, before);
    accountant.composeRdp(curve([Infinity, 0.5]), 2);
    assert.deepEqual(accountant.rdp, [Infinity, before[1]! + 1]);
  });

  it('fillSkellam is what the client adds (sanity: variance of a client share)', () => {
    const p = skellamParams(SMALL);
    const share = fillSkellam(new Int32Array(20_000), p.clientVariance, rng('share'));
    assertMoments(share, { mean: 0, variance: p.clientVariance });
  });
});
