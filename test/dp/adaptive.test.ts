// Adaptive clipping (src/dp/adaptive.ts, Andrew et al. 2021): the update rule, the noise split, the
// clip-count query in central and distributed DP (inside a real simulated secure round), and
// convergence of the clip norm to the target quantile of synthetic update norms.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIP_COUNT_VECTOR,
  centredIndicator,
  clipCountParams,
  clipCountQuery,
  clipCountVectorSpec,
  combinedNoiseMultiplier,
  decodeClipFraction,
  encodeClipCount,
  encodeClipIndicator,
  noisyClipFraction,
  splitNoiseMultiplier,
  updateClipNorm,
} from '../../src/dp/adaptive.ts';
import { encodeUpdate, skellamParams, skellamQuery, skellamVectorSpec } from '../../src/dp/distributed.ts';
import { computeRdp } from '../../src/dp/rdp.ts';
import { fillGaussian } from '../../src/dp/sampling.ts';
import { skellamQueryRdpTable } from '../../src/dp/skellam-exact.ts';
import { SkellamRound, skellamRdp } from '../../src/dp/skellam-rdp.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { assertMoments } from './mechanisms-stats.ts';

const rng = (label: string) => new DeterministicRng(`test/dp/adaptive/${label}`);

describe('the clip indicator and the update rule', () => {
  it('b = 1[‖Δ‖ ≤ C], sent centred as 2b − 1', () => {
    assert.equal(centredIndicator(0.5, 1), 1);
    assert.equal(centredIndicator(1, 1), 1);
    assert.equal(centredIndicator(1.0000001, 1), -1);
    assert.deepEqual(encodeClipIndicator(2, 1, 8), Uint32Array.of(255));
    assert.deepEqual(encodeClipIndicator(0, 1, 32), Uint32Array.of(1));
    assert.throws(() => centredIndicator(Number.NaN, 1), { name: 'RangeError', message: /norm/ });
    assert.throws(() => centredIndicator(1, 0), { name: 'RangeError', message: /clip/ });
  });

  it('C ← C·exp(−η(b̄ − γ))', () => {
    const options = { targetQuantile: 0.5, learningRate: 0.2 };
    assert.equal(updateClipNorm(2, 0.5, options), 2);
    assert.equal(updateClipNorm(1, 0.8, options), Math.exp(-0.2 * 0.3));
    assert.equal(updateClipNorm(1, -0.1, options), Math.exp(0.2 * 0.6));
    assert.throws(() => updateClipNorm(1, 0.5, { targetQuantile: 1, learningRate: 0.2 }), {
      name: 'RangeError',
      message: /targetQuantile must be in \(0, 1\)/,
    });
    assert.throws(() => updateClipNorm(1, 0.5, { targetQuantile: 0.5, learningRate: 0 }), {
      message: /learningRate/,
    });
    assert.throws(() => updateClipNorm(0, 0.5, options), { message: /clip/ });
    assert.throws(() => updateClipNorm(1, Number.NaN, options), { message: /fraction must be finite/ });
  });

  it('the noise split z_Δ = (z^−2 − (2σ_b)^−2)^−1/2 keeps the round at multiplier z (Andrew et al. Thm 1)', () => {
    const z = 1.2;
    const sb = 5;
    const zd = splitNoiseMultiplier(z, sb);
    assert.ok(Math.abs(zd - (z ** -2 - 0.01) ** -0.5) < 1e-15);
    assert.ok(Math.abs(combinedNoiseMultiplier(zd, sb) - z) < 1e-14);
    // The two Gaussian releases (update: multiplier z_Δ; centred count: sensitivity 1/2, noise σ_b)
    // have the RDP of one Gaussian of multiplier z, at every order.
    const orders = [1.5, 2, 8, 32];
    const update = computeRdp({ q: 1, sigma: zd, steps: 1, orders });
    const bits = computeRdp({ q: 1, sigma: 2 * sb, steps: 1, orders });
    const total = computeRdp({ q: 1, sigma: z, steps: 1, orders });
    orders.forEach((_, k) => {
      assert.ok(Math.abs(update[k]! + bits[k]! - total[k]!) < 1e-12);
    });
  });

  it('refuses a split that leaves nothing for the update', () => {
    assert.throws(() => splitNoiseMultiplier(2, 1), {
      name: 'RangeError',
      message: /bitNoiseStddev 1 is too small for noiseMultiplier 2/,
    });
    assert.throws(() => splitNoiseMultiplier(0, 5), {
      message: /noiseMultiplier must be a finite number > 0/,
    });
    assert.throws(() => splitNoiseMultiplier(1, 0), {
      message: /bitNoiseStddev must be a finite number > 0/,
    });
  });
});

describe('central DP clip count', () => {
  it('adds N(0, (2σ_b)²) to the centred sum: b̄ has mean Σb/m and stddev σ_b/m', () => {
    const m = 50;
    const unclipped = 30;
    const centred = 2 * unclipped - m;
    const rngC = rng('central-count');
    const fractions = Float64Array.from({ length: 20_000 }, () => noisyClipFraction(centred, m, 2.5, rngC));
    assertMoments(fractions, { mean: unclipped / m, variance: (2.5 / m) ** 2 });
  });

  it('fails closed on an impossible count or no noise', () => {
    assert.throws(() => noisyClipFraction(11, 10, 1), {
      name: 'RangeError',
      message: /centredSum must be an integer in \[-10, 10\]/,
    });
    assert.throws(() => noisyClipFraction(0, 10, 0), {
      message: /bitNoiseStddev must be a finite number > 0/,
    });
    assert.throws(() => noisyClipFraction(0, 0, 1), { message: /contributors/ });
  });
});

describe('distributed DP clip count', () => {
  it('per-client Skellam noise (2σ_b)²/h; the ring must hold m indicators plus noise', () => {
    const p = clipCountParams({ bitNoiseStddev: 5, bits: 16, maxClients: 20, minNoisyClients: 14 });
    assert.equal(p.totalVariance, 100);
    assert.equal(p.clientVariance, 100 / 14);
    assert.ok(p.wrapProbability < 2 ** -30);
    assert.deepEqual(clipCountVectorSpec(p), { name: CLIP_COUNT_VECTOR, length: 1, bits: 16 });
    assert.deepEqual(clipCountQuery(p), { squaredL2Sensitivity: 1, l1Sensitivity: 1, variance: 100 });
    assert.throws(
      () => clipCountParams({ bitNoiseStddev: 5, bits: 6, maxClients: 20, minNoisyClients: 14 }),
      {
        name: 'RangeError',
        message: /bits = 6 is too small for the clip count: 20 indicators plus noise/,
      },
    );
    assert.throws(
      () => clipCountParams({ bitNoiseStddev: 0, bits: 16, maxClients: 20, minNoisyClients: 14 }),
      {
        message: /bitNoiseStddev must be a finite number > 0/,
      },
    );
    assert.throws(
      () => clipCountParams({ bitNoiseStddev: 5, bits: 16, maxClients: 20, minNoisyClients: 0 }),
      {
        message: /minNoisyClients/,
      },
    );
  });

  it('summed with the update in one real secure round, with dropouts: b̄ is right up to the noise', () => {
    const n = 20;
    const t = 14;
    const dropped = 4;
    const update = skellamParams({
      dimension: 1000,
      clip: 1,
      noiseMultiplier: 1,
      bits: 20,
      maxClients: n,
      minNoisyClients: t,
    });
    const bit = clipCountParams({ bitNoiseStddev: 2, bits: 12, maxClients: n, minNoisyClients: t });
    const params = roundParams({
      round: 1,
      serverModel: 'semi-honest',
      threshold: t,
      clients: Array.from({ length: n }, (_, i) => i + 1),
      vectors: [skellamVectorSpec('update', update), clipCountVectorSpec(bit)],
    });
    const seed = new Uint8Array(32).fill(3);
    const norms = new Map(params.clients.map((id) => [id, 0.1 * id])); // ids 1..10 within C = 1
    const estimates: number[] = [];
    for (let repeat = 0; repeat < 5; repeat++) {
      const inputs = new Map(
        params.clients.map((id) => {
          const w = new Float64Array(1000);
          w[id] = norms.get(id)!;
          const encoded = encodeUpdate(new Map([['w', w]]), update, seed, rng(`round/${repeat}/u/${id}`));
          const vectors = new Map([
            ['update', encoded.vector],
            [
              CLIP_COUNT_VECTOR,
              encodeClipCount(encoded.norm, update.clip, bit, rng(`round/${repeat}/b/${id}`)),
            ],
          ]);
          return [id, params.vectors.map((spec) => vectors.get(spec.name)!)];
        }),
      );
      const dropouts = new Map<ClientId, Stage>(params.clients.slice(0, dropped).map((id) => [id, 'masked']));
      const report = simulateRound({
        params,
        inputs,
        rngFor: (id) => rng(`round/${repeat}/s/${id}`),
        dropouts,
      });
      if (report.result.status !== 'ok') assert.fail(report.result.error.message);
      const index = params.vectors.findIndex((v) => v.name === CLIP_COUNT_VECTOR);
      const m = report.result.survivors.length;
      estimates.push(decodeClipFraction(report.result.sums[index]!, bit, m));
    }
    // Survivors are ids 5..20, of which 5..10 are within the clip norm: b̄ = 6/16.
    const mean = estimates.reduce((s, x) => s + x, 0) / estimates.length;
    // Noise on b̄: stddev √(16·v)/(2·16) ≈ 0.07 per round, /√5 for the mean.
    assert.ok(
      Math.abs(mean - 6 / 16) < 5 * (Math.sqrt((16 * bit.clientVariance) / 4) / 16 / Math.sqrt(5)),
      `${mean}`,
    );
    assert.ok(new Set(estimates).size > 1, 'the estimate is noised');
  });

  it('the round’s RDP is the update’s plus the count’s', () => {
    const update = skellamParams({
      dimension: 1000,
      clip: 1,
      noiseMultiplier: 1.1,
      bits: 20,
      maxClients: 20,
      minNoisyClients: 14,
    });
    const bit = clipCountParams({ bitNoiseStddev: 5, bits: 16, maxClients: 20, minNoisyClients: 14 });
    const round = new SkellamRound([skellamQuery(update), clipCountQuery(bit)], 1);
    const [r] = round.rdp([8]);
    const tables = [skellamQuery(update), clipCountQuery(bit)].map((q) => skellamQueryRdpTable(q, 8)[8]!);
    assert.equal(r, tables[0]! + tables[1]!);
    // Never above Agarwal et al.'s bound for the two queries.
    assert.ok(r! <= skellamRdp(skellamQuery(update), 8) + skellamRdp(clipCountQuery(bit), 8));
    // ≈ the Gaussian equivalence: 8/(2z²) with z^−2 = 1.1^−2 + 10^−2, up to the discreteness terms.
    const z = combinedNoiseMultiplier(1.1, 5);
    assert.ok(Math.abs(r! / (8 / (2 * z * z)) - 1) < 0.01, `${r}`);
  });
});

describe('convergence to the target quantile', () => {
  /** Log-normal update norms, e^{0.5·N(0,1)}: median 1, 90% quantile e^{0.5·1.2816} ≈ 1.898. */
  function norms(label: string, count: number): Float64Array {
    return fillGaussian(new Float64Array(count), 0.5, rng(label)).map(Math.exp);
  }

  function empiricalQuantile(values: Float64Array, gamma: number): number {
    const sorted = values.slice().sort();
    return sorted[Math.floor(gamma * (sorted.length - 1))]!;
  }

  for (const [mode, gamma] of [
    ['central', 0.5],
    ['distributed', 0.5],
    ['distributed', 0.9],
  ] as const) {
    it(`${mode} DP, γ = ${gamma}: C moves from 0.1 to within 10% of the quantile`, () => {
      const m = 100;
      const sigmaB = m / 20; // Andrew et al.'s recommendation
      const options = { targetQuantile: gamma, learningRate: 0.2 };
      const bit = clipCountParams({ bitNoiseStddev: sigmaB, bits: 16, maxClients: m, minNoisyClients: 67 });
      const population = norms(`population/${mode}/${gamma}`, 100_000);
      const target = empiricalQuantile(population, gamma);
      let clip = 0.1;
      const late: number[] = [];
      for (let round = 0; round < 200; round++) {
        const cohort = norms(`cohort/${mode}/${gamma}/${round}`, m);
        let fraction: number;
        if (mode === 'central') {
          let centred = 0;
          for (const norm of cohort) centred += centredIndicator(norm, clip);
          fraction = noisyClipFraction(centred, m, sigmaB, rng(`central/${round}`));
        } else {
          const sum = new Uint32Array(1);
          cohort.forEach((norm, i) => {
            sum[0] =
              (sum[0]! + encodeClipCount(norm, clip, bit, rng(`bit/${gamma}/${round}/${i}`))[0]!) & 0xffff;
          });
          fraction = decodeClipFraction(sum, bit, m);
        }
        clip = updateClipNorm(clip, fraction, options);
        if (round >= 150) late.push(clip);
      }
      const average = late.reduce((s, x) => s + x, 0) / late.length;
      assert.ok(Math.abs(average / target - 1) < 0.1, `C ≈ ${average}, target quantile ${target}`);
      const within = population.filter((x) => x <= average).length / population.length;
      assert.ok(Math.abs(within - gamma) < 0.05, `${within} of the norms are within C`);
    });
  }
});
