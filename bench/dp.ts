/**
 * `npm run bench:dp`: what distributed DP costs a client, against the mask expansion of secure
 * aggregation measured in the same run, and what the accountant costs.
 *
 * For d ∈ {100k, 1M} (an update of two Float32 tensors, 90% / 10% of d, norm above the clip norm so
 * that clipping does work), n = 2^⌈log₂ d⌉ ring words, the distributed Skellam mechanism at 20 bits
 * for 100 clients, t − n_C = 67, z = 1:
 * - clip: the global L2 norm and the scaled copy into the zero-padded buffer;
 * - rotate: the randomized Hadamard transform of n values;
 * - round: conditional randomized rounding (redraws counted);
 * - noise: Skellam noise on n coordinates, reduced mod 2^bits (two Poisson samples each, OS CSPRNG);
 * - encode: the whole client pipeline (`encodeUpdate`), end to end;
 * - mask: one mask of n words, `deriveMaskKey` + `addMask` — what a client pays per neighbour (plus
 *   one self mask), so a client of a complete graph of 100 pays ≈ 100 masks.
 * Each is timed over several repetitions, interleaved (mask, stages, encode, mask, …) so that load from
 * other processes hits all of them alike; the median and the minimum (the least disturbed run) are
 * reported, each with its ratio to the mask's.
 * Accountant: ε after 10,000 rounds of the Skellam mechanism with Poisson client sampling
 * (q = 0.01), as one `composeRdp(…, 10000)` and as 10,000 separate rounds, and the sampled Gaussian
 * for comparison.
 * PLD accountant: the time of a cold computation (single-round PLDs built, composed by FFT, both
 * orders of the pair) for 1,000 and 10,000 rounds, against the RDP accountant's; and the ε the PLD
 * bound saves against RDP at the README's operating points (dp_accounting's reference points, the main
 * job, the privacy benchmark's distributed rounds).
 * Run with `node --import tsx bench/dp.ts` (the lead adds the npm script).
 * @module
 */
import { RdpAccountant } from '../src/dp/accountant.ts';
import { l2Norm } from '../src/dp/clip.ts';
import { encodeUpdate, skellamParams, skellamQuery } from '../src/dp/distributed.ts';
import { rotate } from '../src/dp/hadamard.ts';
import { clearPldCache, PldAccountant, type PldEvent } from '../src/dp/pld-accountant.ts';
import { conditionalRound } from '../src/dp/rounding.ts';
import { addSkellamMod, RandomStream } from '../src/dp/sampling.ts';
import { skellamGaussianDominance } from '../src/dp/skellam-gdp.ts';
import { SkellamRound } from '../src/dp/skellam-rdp.ts';
import { flatten } from '../src/dp/tensors.ts';
import { addMask, deriveMaskKey, PAIR_MASK_LABEL } from '../src/secagg/crypto/prg.ts';
import { systemRng } from '../src/secagg/rng.ts';
import { loadLine, machineLine } from './lib/machine.ts';
import { median, ms, table } from './lib/stats.ts';

const BITS = 20;
const CLIENTS = 100;
const HONEST = 67;

/** Wall-clock ms of `f()`. */
function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function update(d: number): Map<string, Float32Array> {
  const stream = new RandomStream(systemRng);
  const kernel = new Float32Array(Math.floor(0.9 * d));
  const bias = new Float32Array(d - kernel.length);
  for (const t of [kernel, bias]) for (let i = 0; i < t.length; i++) t[i] = (2 * stream.double() - 1) * 0.01;
  return new Map([
    ['dense/kernel', kernel],
    ['dense/bias', bias],
  ]);
}

interface Row {
  readonly stage: string;
  readonly times: number[];
}

function benchDimension(d: number, reps: number): string {
  const params = skellamParams({
    dimension: d,
    clip: 1,
    noiseMultiplier: 1,
    bits: BITS,
    maxClients: CLIENTS,
    minNoisyClients: HONEST,
  });
  const n = params.paddedDimension;
  const seed = systemRng.randomBytes(32);
  const sessionId = systemRng.randomBytes(32);
  const spec = { name: 'update', length: n, bits: BITS };
  const tensors = update(d);
  const rows: Row[] = ['mask', 'clip', 'rotate', 'round', 'noise', 'encode (all of the above)'].map(
    (stage) => ({ stage, times: [] }),
  );
  const mask = rows[0]!;
  let redraws = 0;
  for (let r = 0; r <= reps; r++) {
    const record = r > 0; // the first repetition warms up the JIT
    const acc = new Uint32Array(n);
    const tMask = time(() => addMask(acc, deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, spec), 1));
    const y = new Float64Array(n);
    const tClip = time(() => {
      const norm = l2Norm(tensors);
      flatten(tensors, undefined, y);
      const factor = Math.min(1, params.clip / norm) * params.scale;
      for (let i = 0; i < d; i++) y[i]! *= factor;
    });
    const tRotate = time(() => rotate(y, seed));
    const rounded = new Int32Array(n);
    const stream = new RandomStream(systemRng);
    let attempts = 0;
    const tRound = time(() => {
      attempts = conditionalRound(y, params.squaredL2Sensitivity, stream, rounded);
    });
    const vector = Uint32Array.from(rounded, (q) => q & 0xfffff);
    const tNoise = time(() => addSkellamMod(vector, params.clientVariance, BITS, systemRng));
    const tEncode = time(() => encodeUpdate(tensors, params, seed, systemRng));
    if (!record) continue;
    redraws += attempts - 1;
    [tMask, tClip, tRotate, tRound, tNoise, tEncode].forEach((t, i) => {
      rows[i]!.times.push(t);
    });
  }
  const base = median(mask.times);
  const baseMin = Math.min(...mask.times);
  const lines = rows.map((row) => {
    const m = median(row.times);
    const least = Math.min(...row.times);
    return [row.stage, ms(m), `${(m / base).toFixed(1)}×`, ms(least), `${(least / baseMin).toFixed(1)}×`];
  });
  return [
    `d = ${d.toLocaleString('en-US')} (n = ${n.toLocaleString('en-US')} ring words of ${BITS} bits): scale ${params.scale.toPrecision(6)}, ` +
      `rounding inflation ${params.roundingInflation.toFixed(6)}, client variance ${params.clientVariance.toPrecision(4)}, ` +
      `wrap bound ${params.wrapProbability.toPrecision(3)}; ${reps} repetitions, ${redraws} rounding redraws`,
    table(['stage', 'median ms', '÷ mask', 'min ms', '÷ mask (min)'], lines),
  ].join('\n');
}

function benchAccountant(): string {
  const params = skellamParams({
    dimension: 1_000_000,
    clip: 1,
    noiseMultiplier: 1,
    bits: BITS,
    maxClients: CLIENTS,
    minNoisyClients: HONEST,
  });
  const query = skellamQuery(params);
  const q = 0.01;
  const rows: string[][] = [];
  const run = (name: string, f: () => number) => {
    const times: number[] = [];
    let epsilon = 0;
    for (let r = 0; r < 4; r++) {
      const t = time(() => {
        epsilon = f();
      });
      if (r > 0) times.push(t);
    }
    rows.push([name, ms(median(times)), epsilon.toFixed(4)]);
  };
  run(
    'Skellam, composeRdp(round, 10000)',
    () => new RdpAccountant().composeRdp(new SkellamRound([query], q), 10_000).epsilon(1e-5).epsilon,
  );
  run('Skellam, 10,000 separate rounds', () => {
    const accountant = new RdpAccountant();
    for (let i = 0; i < 10_000; i++) accountant.composeRdp(new SkellamRound([query], q));
    return accountant.epsilon(1e-5).epsilon;
  });
  run(
    'sampled Gaussian σ = 1, compose(step, 10000)',
    () => new RdpAccountant().compose({ q, sigma: 1 }, 10_000).epsilon(1e-5).epsilon,
  );
  return [
    `accountant: ε at δ = 1e-5 after 10,000 rounds, q = ${q}, z = 1 (Skellam at d = 1M, ${BITS} bits); ${DEFAULT_ORDERS} orders`,
    table(['case', 'median ms', 'ε'], rows),
  ].join('\n');
}

const DEFAULT_ORDERS = new RdpAccountant().orders.length;

function benchPld(): string {
  const cold = (event: PldEvent, rounds: number): { ms: number; epsilon: number } => {
    const times: number[] = [];
    let epsilon = 0;
    for (let r = 0; r < 4; r++) {
      clearPldCache();
      const t = time(() => {
        epsilon = new PldAccountant().compose(event, rounds).epsilon(1e-5).epsilon;
      });
      if (r > 0) times.push(t);
    }
    return { ms: median(times), epsilon };
  };
  const timing: string[][] = [];
  for (const [q, sigma, rounds] of [
    [0.01, 1.1, 1000],
    [0.01, 4, 10_000],
    [1, 2.49, 1000],
    [1, 2.49, 10_000],
  ] as const) {
    const pld = cold({ kind: 'gaussian', sigma, q }, rounds);
    const times: number[] = [];
    let rdp = 0;
    for (let r = 0; r < 4; r++) {
      const t = time(() => {
        rdp = new RdpAccountant().compose({ q, sigma }, rounds).epsilon(1e-5).epsilon;
      });
      if (r > 0) times.push(t);
    }
    timing.push([
      `Gaussian q = ${q}, σ = ${sigma}`,
      rounds.toLocaleString('en-US'),
      ms(pld.ms),
      ms(median(times)),
      pld.epsilon.toFixed(4),
      rdp.toFixed(4),
    ]);
  }
  // A distributed round at the main job's scale (d = 7,850 → 8,192, 20 bits, 100 clients, h = 67):
  // the Gaussian dominating it, composed like any Gaussian round (its window of γ is computed once).
  const main = skellamParams({
    dimension: 7850,
    clip: 1,
    noiseMultiplier: 2.3249,
    bits: BITS,
    maxClients: CLIENTS,
    minNoisyClients: HONEST,
  });
  const dominance = skellamGaussianDominance([skellamQuery(main)])!;
  const event: PldEvent = { kind: 'gaussian', sigma: dominance.sigma, q: 0.01, slack: dominance.slack };
  for (const rounds of [1000, 10_000]) {
    const pld = cold(event, rounds);
    const rdp = new RdpAccountant()
      .composeRdp(new SkellamRound([skellamQuery(main)], 0.01), rounds)
      .epsilon(1e-5).epsilon;
    timing.push([
      `distributed Skellam z = 2.3249, q = 0.01`,
      rounds.toLocaleString('en-US'),
      ms(pld.ms),
      '—',
      pld.epsilon.toFixed(4),
      rdp.toFixed(4),
    ]);
  }

  const points: [string, number, number, number][] = [
    ['dp_accounting reference', 1, 2.49, 15],
    ['dp_accounting reference', 0.1, 0.82, 40],
    ['dp_accounting reference', 0.1, 2.9, 40],
    ['dp_accounting reference', 0.01, 1.1, 1000],
    ['dp_accounting reference', 0.01, 4, 10_000],
  ];
  const saving: string[][] = points.map(([what, q, sigma, rounds]) => {
    const pld = new PldAccountant().compose({ kind: 'gaussian', sigma, q }, rounds).epsilon(1e-5).epsilon;
    const rdp = new RdpAccountant().compose({ q, sigma }, rounds).epsilon(1e-5).epsilon;
    return [
      what,
      `q = ${q}, σ = ${sigma}, T = ${rounds}`,
      rdp.toFixed(4),
      pld.toFixed(4),
      `${(100 * (1 - pld / rdp)).toFixed(1)}%`,
    ];
  });
  // The privacy benchmark's distributed rounds (d = 7,850, 20 bits, cohort cap 158, h = t(158) = 106),
  // at the z the old Zhu–Wang accounting needed for ε = 1, 2, 4, 8 (q = 0.1, 40 rounds).
  for (const z of [7.415, 2.961, 1.391, 0.913]) {
    const p = skellamParams({
      dimension: 7850,
      clip: 0.3,
      noiseMultiplier: z,
      bits: BITS,
      maxClients: 158,
      minNoisyClients: 106,
    });
    const round = new SkellamRound([skellamQuery(p)], 0.1);
    const d = skellamGaussianDominance([skellamQuery(p)])!;
    const pld = new PldAccountant()
      .compose({ kind: 'gaussian', sigma: d.sigma, q: 0.1, slack: d.slack }, 40)
      .epsilon(1e-5).epsilon;
    const rdp = new RdpAccountant().composeRdp(round, 40).epsilon(1e-5).epsilon;
    const zw = new RdpAccountant().composeRdp({ rdp: (o) => round.zhuWangRdp(o) }, 40).epsilon(1e-5).epsilon;
    saving.push([
      `bench privacy distributed (Zhu–Wang ${zw.toFixed(3)})`,
      `q = 0.1, z = ${z}, T = 40`,
      rdp.toFixed(4),
      pld.toFixed(4),
      `${(100 * (1 - pld / rdp)).toFixed(1)}%`,
    ]);
  }
  return [
    'PLD accountant: a cold computation (single-round PLDs built, FFT composition, both orders), δ = 1e-5, grid 1e-4',
    table(['case', 'rounds', 'PLD ms', 'RDP ms', 'ε (PLD)', 'ε (RDP)'], timing),
    '',
    'ε saved by the PLD bound against RDP (exact subsampled RDP for the Skellam rounds), δ = 1e-5',
    table(['operating point', 'parameters', 'ε (RDP)', 'ε (PLD)', 'saved'], saving),
  ].join('\n');
}

console.log(machineLine());
console.log(`load average ${loadLine()}`);
console.log('');
console.log(benchDimension(100_000, 9));
console.log('');
console.log(benchDimension(1_000_000, 5));
console.log('');
console.log(benchAccountant());
console.log('');
console.log(benchPld());
console.log(`\nload average ${loadLine()}`);
