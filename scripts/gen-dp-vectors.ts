/**
 * Generates the published test vectors of the differential-privacy encoding (docs/PROTOCOL.md §11):
 *
 * - `spec/test-vectors/dp-context.json`: the application context bytes of §2.1, field by field;
 * - `spec/test-vectors/dp-samplers.json`: fdlibm's ln and exp, log Γ, and traces of the Poisson and
 *   Gaussian samplers (§11.1, §11.6, §11.8) — every uniform drawn and what each iteration decided;
 * - `spec/test-vectors/dp-distributed.json`: a round of the distributed Skellam mechanism with
 *   adaptive clipping: per client every intermediate from the update to the vector it masks, then
 *   the coordinator's decoding of the survivors' sum (§11.2–§11.7, §11.9);
 * - `spec/test-vectors/dp-central.json`: a round of central DP with adaptive clipping: the clients'
 *   clipping and quantization, the coordinator's decoding and noise (§11.8).
 *
 * Every client and the coordinator draw from a labelled {@link DeterministicRng} stream (§11.10).
 * The outputs are those of the production code, called through its public functions
 * (`encodeClientUpdate`, `decodeRelease`, `roundContext`, …). The intermediates in between are
 * recovered by replaying the specification on the random draws the production code made (captured
 * by a recording stream), and every replayed value is checked against what production returned
 * before anything is written: a replay that disagrees fails the generator instead of publishing a
 * wrong vector. test/spec/dp-vectors.test.ts recomputes everything once more, independently.
 *
 * Usage: `node --import tsx scripts/gen-dp-vectors.ts` (or `npm run gen:vectors`, which also writes
 * the secure-aggregation vectors). The test imports {@link buildDpVectorFile} to check that the files
 * are current.
 * @module
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeClipCount } from '../src/dp/adaptive.ts';
import {
  type AnnouncedCentral,
  type AnnouncedDistributed,
  type AnnouncedPrivacy,
  decodeRelease,
  encodeClientUpdate,
  privacyPlan,
} from '../src/dp/announced.ts';
import { clipCopy, l2Norm } from '../src/dp/clip.ts';
import { encodeUpdate } from '../src/dp/distributed.ts';
import { exp, log } from '../src/dp/fdlibm.ts';
import { fwht, rotate, rotationSigns } from '../src/dp/hadamard.ts';
import { roundedSquaredBound } from '../src/dp/rounding.ts';
import { fillGaussian, logGamma, PoissonSampler, RandomStream } from '../src/dp/sampling.ts';
import { type FloatTensor, flatten } from '../src/dp/tensors.ts';
import { sha256 } from '../src/secagg/crypto/hash.ts';
import { ascii, concatBytes, u8, u32 } from '../src/secagg/encoding.ts';
import { maxScale } from '../src/secagg/quantize.ts';
import { DeterministicRng } from '../src/secagg/rng.ts';
import type { Rng } from '../src/secagg/types.ts';
import { f64, roundContext } from '../src/wire/context.ts';
import { type Json, VECTOR_DIR } from './gen-test-vectors.ts';

type JsonObject = { [key: string]: Json };

/** The files this generator writes, under spec/test-vectors/. */
export const DP_VECTOR_FILES = [
  'dp-context.json',
  'dp-samplers.json',
  'dp-distributed.json',
  'dp-central.json',
] as const;
export type DpVectorFile = (typeof DP_VECTOR_FILES)[number];

/** The prefix of every stream label of these vectors (§11.10). */
export const DP_LABEL_PREFIX = 'privagg/test-vectors/v1/dp';

// ---- JSON --------------------------------------------------------------------------------------------

/**
 * A binary64 value as JSON: the number itself (ECMAScript prints the shortest decimal that reads
 * back to the same double), except −0, which JSON cannot write and is written as the string "-0".
 */
function num(x: number): Json {
  assert.ok(Number.isFinite(x), `non-finite value ${x} in a vector`);
  return Object.is(x, -0) ? '-0' : x;
}
const nums = (xs: ArrayLike<number>): Json[] => Array.from(xs, num);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Serialises a DP vector file exactly as it is published: 2-space indentation and a final newline. */
export function serialiseDp(doc: Json): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const CONVENTIONS: JsonObject = {
  numbers:
    'binary64 values are JSON numbers written in the shortest decimal that reads back to the same double (parse with a correctly rounded parser: strtod, Python float, Rust str::parse, Java Double.parseDouble); negative zero is the string "-0"; every comparison is bit for bit',
  bytes: 'lowercase hex, no prefix',
  vectors:
    'ring vectors are decimal arrays of u32 elements, each < 2^bits, in the order of the round vectors (clip_count before update)',
  randomness:
    'every random byte comes from a labelled stream (§11.10): AES-128-CTR keyed by SHA-256(UTF-8 label)[0..16], zero IV; "offset" is the byte offset of a draw in its stream; a u32 is 4 bytes little-endian, a uniform takes 8 bytes (two u32 words w0, w1) and is ((w0 >>> 5)·2^26 + (w1 >>> 6))·2^−53',
};

// ---- randomness ----------------------------------------------------------------------------------

interface Draw {
  readonly kind: 'u32' | 'uniform';
  /** Byte offset in the stream. */
  readonly offset: number;
  readonly value: number;
}

/**
 * A {@link RandomStream} that records each draw with its byte offset, so that the replay below can
 * see what the production samplers consumed. Generator only.
 */
class RecordingStream extends RandomStream {
  readonly draws: Draw[] = [];
  #offset = 0;
  #inUniform = false;

  override uint32(): number {
    const value = super.uint32();
    // A uniform that straddles a refill takes its two words through uint32(): not separate draws.
    if (!this.#inUniform) {
      this.draws.push({ kind: 'u32', offset: this.#offset, value });
      this.#offset += 4;
    }
    return value;
  }

  override double(): number {
    this.#inUniform = true;
    try {
      const value = super.double();
      this.draws.push({ kind: 'uniform', offset: this.#offset, value });
      this.#offset += 8;
      return value;
    } finally {
      this.#inUniform = false;
    }
  }
}

/** An Rng that records each `randomBytes` call (for quantize, which draws its words in one call). */
class RecordingRng implements Rng {
  readonly calls: { offset: number; bytes: Uint8Array }[] = [];
  readonly #inner: Rng;
  #offset = 0;
  constructor(inner: Rng) {
    this.#inner = inner;
  }
  randomBytes(length: number): Uint8Array {
    const bytes = this.#inner.randomBytes(length);
    this.calls.push({ offset: this.#offset, bytes: bytes.slice() });
    this.#offset += length;
    return bytes;
  }
}

/** Reads recorded draws in order, checking their kind. */
class DrawReader {
  #i: number;
  constructor(
    readonly draws: readonly Draw[],
    start = 0,
    readonly end = draws.length,
  ) {
    this.#i = start;
  }
  get position(): number {
    return this.#i;
  }
  next(kind: Draw['kind']): Draw {
    assert.ok(this.#i < this.end, `ran out of recorded draws (wanted a ${kind})`);
    const d = this.draws[this.#i++]!;
    assert.equal(d.kind, kind, `draw ${this.#i - 1} is a ${d.kind}, the replay wanted a ${kind}`);
    return d;
  }
  done(): void {
    assert.equal(this.#i, this.end, 'the replay used fewer draws than production made');
  }
}

// ---- the samplers, replayed (§11.6, §11.8) -----------------------------------------------------

/** Constants of a Poisson(λ) sampler, as §11.6 defines them. */
interface PoissonConstants {
  readonly lambda: number;
  readonly method: 'multiplication' | 'ptrs';
  readonly expMinusLambda: number;
  readonly logLambda: number;
  readonly b: number;
  readonly a: number;
  readonly logInvAlpha: number;
  readonly vr: number;
}

function poissonConstants(lambda: number): PoissonConstants {
  const b = 0.931 + 2.53 * Math.sqrt(lambda);
  return {
    lambda,
    method: lambda < 10 ? 'multiplication' : 'ptrs',
    expMinusLambda: exp(-lambda),
    logLambda: log(lambda),
    b,
    a: -0.059 + 0.02483 * b,
    logInvAlpha: log(1.1239 + 1.1328 / (b - 3.4)),
    vr: 0.9277 - 3.6224 / (b - 2),
  };
}

function constantsJson(c: PoissonConstants): JsonObject {
  if (c.method === 'multiplication') {
    return { lambda: num(c.lambda), method: c.method, expMinusLambda: num(c.expMinusLambda) };
  }
  return {
    lambda: num(c.lambda),
    method: c.method,
    logLambda: num(c.logLambda),
    b: num(c.b),
    a: num(c.a),
    logInvAlpha: num(c.logInvAlpha),
    vr: num(c.vr),
  };
}

/** PTRS iteration outcomes, named as in §11.6. */
type PtrsOutcome = 'squeeze' | 'reject' | 'accept' | 'reject-test';

/** One Poisson sample replayed from uniforms: its value and every intermediate. */
function replayPoisson(c: PoissonConstants, reader: DrawReader): { value: number; trace: JsonObject } {
  const first = reader.draws[reader.position];
  const offset = first?.offset ?? -1;
  if (c.method === 'multiplication') {
    const uniforms: number[] = [];
    const products: number[] = [];
    let k = 0;
    let product = reader.next('uniform').value;
    uniforms.push(product);
    products.push(product);
    while (product > c.expMinusLambda) {
      k++;
      const u = reader.next('uniform').value;
      uniforms.push(u);
      product *= u;
      products.push(product);
    }
    return { value: k, trace: { offset, uniforms: nums(uniforms), products: nums(products), value: k } };
  }
  const iterations: JsonObject[] = [];
  for (;;) {
    const uRaw = reader.next('uniform').value;
    const v = reader.next('uniform').value;
    const u = uRaw - 0.5;
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * c.a) / us + c.b) * u + c.lambda + 0.43);
    const it: JsonObject = { uniforms: nums([uRaw, v]), u: num(u), us: num(us), k: num(k) };
    iterations.push(it);
    let outcome: PtrsOutcome;
    if (us >= 0.07 && v <= c.vr) outcome = 'squeeze';
    else if (k < 0 || (us < 0.013 && v > us)) outcome = 'reject';
    else {
      const lhs = log(v) + c.logInvAlpha - log(c.a / (us * us) + c.b);
      const lg = logGamma(k + 1);
      const rhs = -c.lambda + k * c.logLambda - lg;
      it['lhs'] = num(lhs);
      it['logGamma'] = num(lg);
      it['rhs'] = num(rhs);
      outcome = lhs <= rhs ? 'accept' : 'reject-test';
    }
    it['outcome'] = outcome;
    if (outcome === 'squeeze' || outcome === 'accept') {
      return { value: k, trace: { offset, iterations, value: k } };
    }
  }
}

/** Gaussian samples by the polar method (§11.8), replayed: every pair, accepted or not. */
function replayGaussian(
  count: number,
  stddev: number,
  reader: DrawReader,
): { samples: number[]; pairs: JsonObject[] } {
  const samples: number[] = [];
  const pairs: JsonObject[] = [];
  while (samples.length < count) {
    const offset = reader.draws[reader.position]?.offset ?? -1;
    const w1 = reader.next('uniform').value;
    const w2 = reader.next('uniform').value;
    const u = 2 * w1 - 1;
    const v = 2 * w2 - 1;
    const s = u * u + v * v;
    const pair: JsonObject = { offset, uniforms: nums([w1, w2]), u: num(u), v: num(v), s: num(s) };
    pairs.push(pair);
    if (s >= 1 || s === 0) {
      pair['accepted'] = false;
      continue;
    }
    const f = stddev * Math.sqrt((-2 * log(s)) / s);
    pair['accepted'] = true;
    pair['factor'] = num(f);
    const used = count - samples.length >= 2 ? [u * f, v * f] : [u * f];
    pair['samples'] = nums(used);
    samples.push(...used);
  }
  return { samples, pairs };
}

// ---- dp-samplers.json ----------------------------------------------------------------------------

/**
 * Arguments of ln and exp where fdlibm and glibc 2.36 disagree in the last bit (found by comparing
 * Java's StrictMath with glibc over random arguments), plus arguments the samplers meet.
 */
const FDLIBM_LOG_ARGS = ['3fe57c23f9de9684', '3fc27857a6baf270', '3fdb3e2775676bcc', '4106557000000000'];
const FDLIBM_EXP_ARGS = ['c01d1122a943fb67', '3fd5c28f5c28f5c3', '4021dda5a703d0d6', 'bfe0000000000000'];
const bitsToDouble = (h: string): number => Buffer.from(h, 'hex').readDoubleBE(0);

/** The Poisson means traced: both methods, the switch at λ = 10, a large mean. */
const POISSON_CASES: readonly { name: string; lambda: number; samples: number }[] = [
  { name: 'small', lambda: 0.625, samples: 24 },
  { name: 'below-switch', lambda: 9.75, samples: 8 },
  { name: 'switch', lambda: 10, samples: 96 },
  { name: 'moderate', lambda: 123.5, samples: 48 },
  { name: 'large', lambda: 1_562_500.25, samples: 24 },
];

function buildSamplers(): JsonObject {
  const fdlibm: JsonObject = {
    log: FDLIBM_LOG_ARGS.map((h) => ({ x: num(bitsToDouble(h)), log: num(log(bitsToDouble(h))) })),
    exp: FDLIBM_EXP_ARGS.map((h) => ({ x: num(bitsToDouble(h)), exp: num(exp(bitsToDouble(h))) })),
  };
  const logGammaTable = [1, 2, 3, 4.5, 6, 7, 8, 11, 100, 1_000_001].map((x) => ({
    x,
    logGamma: num(logGamma(x)),
  }));
  const seen = new Set<PtrsOutcome>();
  const poisson = POISSON_CASES.map(({ name, lambda, samples }) => {
    const label = `${DP_LABEL_PREFIX}/poisson/${name}`;
    const stream = new RecordingStream(new DeterministicRng(label));
    const sampler = new PoissonSampler(lambda);
    const produced = Array.from({ length: samples }, () => sampler.sample(stream));
    const c = poissonConstants(lambda);
    const reader = new DrawReader(stream.draws);
    const traces = produced.map((value) => {
      const replayed = replayPoisson(c, reader);
      assert.equal(replayed.value, value, `Poisson(${lambda}) replay`);
      for (const it of (replayed.trace['iterations'] as JsonObject[] | undefined) ?? []) {
        seen.add(it['outcome'] as PtrsOutcome);
      }
      return replayed.trace;
    });
    reader.done();
    return { name, rngLabel: label, constants: constantsJson(c), samples: traces };
  });
  // The vectors must exercise every branch of PTRS, or they prove little about an implementation.
  assert.deepEqual([...seen].sort(), ['accept', 'reject', 'reject-test', 'squeeze'], 'PTRS branches');

  const gaussianLabel = `${DP_LABEL_PREFIX}/gaussian`;
  const stddev = 1.5;
  const count = 15; // odd: the last pair's second sample is dropped
  const stream = new RecordingStream(new DeterministicRng(gaussianLabel));
  const produced = fillGaussian(new Float64Array(count), stddev, stream);
  const reader = new DrawReader(stream.draws);
  const gaussian = replayGaussian(count, stddev, reader);
  reader.done();
  assert.deepEqual(gaussian.samples, Array.from(produced), 'Gaussian replay');
  assert.ok(
    gaussian.pairs.some((p) => p['accepted'] === false),
    'the Gaussian trace includes a rejected pair',
  );
  return {
    description:
      'fdlibm ln and exp (§11.1), log Γ (§11.6), and the samplers fed from labelled streams: Poisson by the multiplication method (λ < 10) and by PTRS (λ ≥ 10) (§11.6), and the Gaussian polar method (§11.8)',
    conventions: CONVENTIONS,
    fields: {
      fdlibm: 'ln and exp of fdlibm 5.3 at arguments where other libms round differently',
      logGamma: 'log Γ(x) as §11.6 computes it (the Stirling series with the recurrence below 7)',
      poisson:
        'per mean: the stream label, the constants, and per sample the uniforms drawn and what each iteration computed; PTRS outcomes: squeeze (accepted by the box), reject (k < 0, or us < 0.013 with v > us), accept / reject-test (the logarithmic test, with lhs, log Γ(k + 1) and rhs)',
      gaussian:
        'the polar method: each pair of uniforms, u, v, s, and for accepted pairs the factor and the samples',
    },
    fdlibm,
    logGamma: logGammaTable,
    poisson,
    gaussian: {
      rngLabel: gaussianLabel,
      stddev: num(stddev),
      count,
      pairs: gaussian.pairs,
      samples: nums(gaussian.samples),
    },
  };
}

// ---- tensors ---------------------------------------------------------------------------------------

interface TensorInput {
  readonly name: string;
  readonly type: 'float32' | 'float64';
  readonly values: readonly number[];
}

function tensors(inputs: readonly TensorInput[]): Map<string, FloatTensor> {
  return new Map(
    inputs.map((t) => [
      t.name,
      t.type === 'float32' ? Float32Array.from(t.values) : Float64Array.from(t.values),
    ]),
  );
}

function tensorsJson(update: ReadonlyMap<string, FloatTensor>): Json[] {
  return [...update].map(([name, t]) => ({
    name,
    type: t instanceof Float32Array ? 'float32' : 'float64',
    values: nums(t),
  }));
}

/** Element-wise sum mod 2^bits. */
function ringSum(vectors: readonly Uint32Array[], bits: number): Uint32Array {
  const out = new Uint32Array(vectors[0]!.length);
  const mod = 2 ** bits;
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + v[i]!) % mod;
  return out;
}

const signed = (z: number, bits: number): number => (z << (32 - bits)) >> (32 - bits);

// ---- dp-distributed.json -------------------------------------------------------------------------

interface ClientCase {
  readonly id: number;
  readonly update: readonly TensorInput[];
  /** Whether its vectors reach the sum (a client lost after encoding is left out of it). */
  readonly survives: boolean;
}

/**
 * Four clients of a cohort of four (n = 4, t = 3, n_C = 1, so h = 2). Updates are two tensors,
 * float32 and float64, d = 6 (padded to 8: a non-trivial padding and an odd log₂ n, so 1/√n is
 * inexact). Clients 1 and 3 exceed the clip norm, 2 and 4 do not; client 4 is lost after encoding.
 */
const DISTRIBUTED_CLIENTS: readonly ClientCase[] = [
  {
    id: 1,
    update: [
      { name: 'dense/kernel', type: 'float32', values: [0.75, -1.25, 0.5, 2] },
      { name: 'dense/bias', type: 'float64', values: [-0.3, 0.1] },
    ],
    survives: true,
  },
  {
    id: 2,
    update: [
      { name: 'dense/kernel', type: 'float32', values: [0.1, 0.2, -0.3, 0.4] },
      { name: 'dense/bias', type: 'float64', values: [0.5, -0.6] },
    ],
    survives: true,
  },
  {
    id: 3,
    update: [
      { name: 'dense/kernel', type: 'float32', values: [-3, 0, 0, 1e-3] },
      { name: 'dense/bias', type: 'float64', values: [4, -2.5] },
    ],
    survives: true,
  },
  {
    id: 4,
    update: [
      { name: 'dense/kernel', type: 'float32', values: [-0.25, 0.125, 0.0625, -0.5] },
      { name: 'dense/bias', type: 'float64', values: [1, 0] },
    ],
    survives: false,
  },
];

const COHORT = { clients: 4, threshold: 3, maxCorruptClients: 1 };

function distributedAnnouncement(): AnnouncedDistributed {
  return {
    mechanism: 'distributed-skellam',
    dimension: 6,
    clip: 1.5,
    noiseMultiplier: 0.8,
    bits: 16,
    scale: 1000,
    // β close to 1 makes the rounding bound tight, so that the vectors show a redraw (§11.5).
    beta: 0.99,
    maxWrapProbability: 2 ** -30,
    minNoisyClients: 2,
    rotationSeed: new DeterministicRng(`${DP_LABEL_PREFIX}/distributed/rotation-seed`).randomBytes(32),
    clipCount: { bits: 8, bitNoiseStddev: 1.25 },
  };
}

function announcedJson(a: AnnouncedPrivacy): JsonObject {
  const out: JsonObject = {
    mechanism: a.mechanism,
    dimension: a.dimension,
    clip: num(a.clip),
    noiseMultiplier: num(a.noiseMultiplier),
    bits: a.bits,
    scale: num(a.scale),
  };
  if (a.mechanism === 'distributed-skellam') {
    out['beta'] = num(a.beta);
    out['maxWrapProbability'] = num(a.maxWrapProbability);
    out['minNoisyClients'] = a.minNoisyClients;
    out['rotationSeed'] = hex(a.rotationSeed);
  }
  out['clipCount'] = a.clipCount
    ? { bits: a.clipCount.bits, bitNoiseStddev: num(a.clipCount.bitNoiseStddev) }
    : null;
  return out;
}

/** Replays conditional rounding (§11.5) on recorded words: every attempt, where it stopped. */
function replayRounding(
  y: Float64Array,
  bound: number,
  reader: DrawReader,
): { attempts: JsonObject[]; rounded: number[] } {
  for (;;) {
    const offset = reader.draws[reader.position]!.offset;
    const words: number[] = [];
    const values: number[] = [];
    let sumSquares = 0;
    let accepted = true;
    for (let i = 0; i < y.length; i++) {
      const u = reader.next('u32').value;
      const floor = Math.floor(y[i]!);
      const q = u < (y[i]! - floor) * 2 ** 32 ? floor + 1 : floor;
      words.push(u);
      values.push(q);
      sumSquares += q * q;
      if (sumSquares > bound) {
        accepted = false;
        break;
      }
    }
    const attempt: JsonObject = { offset, words, values, sumSquares, accepted };
    if (accepted) return { attempts: [attempt], rounded: values };
    const rest = replayRounding(y, bound, reader);
    return { attempts: [attempt, ...rest.attempts], rounded: rest.rounded };
  }
}

function buildDistributed(): JsonObject {
  const a = distributedAnnouncement();
  const plan = privacyPlan(a, COHORT.clients);
  const sk = plan.skellam!;
  const cc = plan.clipCount!;
  const n = sk.paddedDimension;
  const root = sk.scale * sk.clip + Math.sqrt(n);
  const updateMean = sk.clientVariance / 2;
  const countMean = cc.clientVariance / 2;
  const updatePoisson = poissonConstants(updateMean);
  const countPoisson = poissonConstants(countMean);
  assert.equal(updatePoisson.method, 'ptrs');
  assert.equal(countPoisson.method, 'multiplication');
  const signBytes = rotationSigns(a.rotationSeed, n);
  const signs = Array.from({ length: n }, (_, i) => ((signBytes[i >>> 3]! >>> (i & 7)) & 1 ? -1 : 1));
  const inverseSqrtN = 1 / Math.sqrt(n);
  const derived: JsonObject = {
    paddedDimension: n,
    scaledClip: num(sk.scale * sk.clip),
    sqrtN: num(Math.sqrt(n)),
    deterministicBound: num(root * root),
    concentratedBound: num(
      sk.scale * sk.clip * (sk.scale * sk.clip) +
        n / 4 +
        Math.sqrt(2 * log(1 / sk.beta)) * (sk.scale * sk.clip + Math.sqrt(n) / 2),
    ),
    squaredL2Sensitivity: sk.squaredL2Sensitivity,
    totalVariance: num(sk.totalVariance),
    clientVariance: num(sk.clientVariance),
    poisson: constantsJson(updatePoisson),
    rotation: { signBytes: hex(signBytes), signs, inverseSqrtN: num(inverseSqrtN) },
    clipCount: {
      totalVariance: num(cc.totalVariance),
      clientVariance: num(cc.clientVariance),
      poisson: constantsJson(countPoisson),
    },
    vectors: plan.vectors.map((v) => ({ name: v.name, length: v.length, bits: v.bits })),
  };
  assert.equal(roundedSquaredBound(sk.scale * sk.clip, n, sk.beta), sk.squaredL2Sensitivity);

  const updateMask = 2 ** sk.bits - 1;
  const countMask = 2 ** cc.bits - 1;
  let redraws = 0;
  const clientVectors = new Map<number, Uint32Array[]>();
  const clippedSum = new Float64Array(a.dimension);
  const clients = DISTRIBUTED_CLIENTS.map((client) => {
    const label = `${DP_LABEL_PREFIX}/distributed/client/${client.id}`;
    const update = tensors(client.update);
    // Production, through the client's entry point.
    const encoded = encodeClientUpdate(plan, update, new DeterministicRng(label));
    // Production again, step by step on a recording stream: the same draws in the same order.
    const stream = new RecordingStream(new DeterministicRng(label));
    const step = encodeUpdate(update, sk, a.rotationSeed, stream);
    const updateDraws = stream.draws.length;
    const count = encodeClipCount(step.norm, a.clip, cc, stream);
    assert.deepEqual([count, step.vector], encoded.vectors, `client ${client.id}: entry point vs steps`);
    clientVectors.set(client.id, [count, step.vector]);

    // The replay of §11.3–§11.7.
    const norm = l2Norm(update);
    assert.equal(norm, encoded.norm);
    const clipped = norm > a.clip;
    const factor = (clipped ? a.clip / norm : 1) * a.scale;
    const flat = flatten(update, undefined, new Float64Array(n));
    const model = flatten(update);
    for (let i = 0; i < a.dimension; i++) {
      clippedSum[i]! += client.survives ? model[i]! * (clipped ? a.clip / norm : 1) : 0;
    }
    for (let i = 0; i < a.dimension; i++) flat[i]! *= factor;
    const withSigns = Float64Array.from(flat, (x, i) => (signs[i] === -1 ? -x : x));
    const hadamard = withSigns.slice();
    fwht(hadamard);
    const rotated = Float64Array.from(hadamard, (x) => x * inverseSqrtN);
    const check = flat.slice();
    rotate(check, a.rotationSeed);
    assert.deepEqual(rotated, check, 'rotation replay');

    const reader = new DrawReader(stream.draws, 0, updateDraws);
    const rounding = replayRounding(rotated, sk.squaredL2Sensitivity, reader);
    assert.equal(rounding.attempts.length, step.roundingAttempts, 'rounding attempts');
    redraws += rounding.attempts.length - 1;
    const noiseOffset = stream.draws[reader.position]!.offset;
    const samples: JsonObject[] = [];
    const noised: number[] = [];
    for (let i = 0; i < n; i++) {
      const added = replayPoisson(updatePoisson, reader);
      const subtracted = replayPoisson(updatePoisson, reader);
      const value = rounding.rounded[i]! + added.value - subtracted.value;
      noised.push(value);
      samples.push({ coordinate: i, added: added.trace, subtracted: subtracted.trace });
    }
    reader.done();
    assert.deepEqual(
      noised.map((x) => x & updateMask),
      Array.from(step.vector),
      `client ${client.id}: update replay`,
    );

    const indicator = norm <= a.clip ? 1 : -1;
    const countReader = new DrawReader(stream.draws, updateDraws);
    const countAdded = replayPoisson(countPoisson, countReader);
    const countSubtracted = replayPoisson(countPoisson, countReader);
    countReader.done();
    const countValue = indicator + countAdded.value - countSubtracted.value;
    assert.equal(countValue & countMask, count[0], `client ${client.id}: clip count replay`);
    const last = stream.draws.at(-1)!;
    return {
      id: client.id,
      rngLabel: label,
      update: tensorsJson(update),
      norm: num(norm),
      clipped,
      factor: num(factor),
      scaled: nums(flat),
      withSigns: nums(withSigns),
      hadamard: nums(hadamard),
      rotated: nums(rotated),
      rounding: { attempts: rounding.attempts, rounded: rounding.rounded },
      noise: { offset: noiseOffset, samples, noised },
      clipCount: {
        indicator,
        added: countAdded.trace,
        subtracted: countSubtracted.trace,
        value: countValue,
      },
      bytesDrawn: last.offset + (last.kind === 'u32' ? 4 : 8),
      vectors: { clip_count: Array.from(count), update: Array.from(step.vector) },
      survives: client.survives,
    };
  });
  assert.ok(redraws > 0, 'at least one client redraws its rounding (β is chosen for it)');
  assert.ok(
    clients.some((c) => c.clipped) && clients.some((c) => !c.clipped),
    'clipped and unclipped clients',
  );

  // The coordinator (§11.9).
  const survivors = DISTRIBUTED_CLIENTS.filter((c) => c.survives).map((c) => c.id);
  const m = survivors.length;
  const countSum = ringSum(
    survivors.map((id) => clientVectors.get(id)![0]!),
    cc.bits,
  );
  const updateSum = ringSum(
    survivors.map((id) => clientVectors.get(id)![1]!),
    sk.bits,
  );
  const release = decodeRelease(plan, [countSum, updateSum], m);
  const inverseScale = 1 / a.scale;
  const signedSum = Array.from(updateSum, (z) => signed(z, sk.bits));
  const scaled = Float64Array.from(signedSum, (z) => z * inverseScale);
  const hadamard = scaled.slice();
  fwht(hadamard);
  const normalized = Float64Array.from(hadamard, (x) => x * inverseSqrtN);
  const unrotated = Float64Array.from(normalized, (x, i) => (signs[i] === -1 ? -x : x));
  const decoded = unrotated.slice(0, a.dimension);
  assert.deepEqual(decoded, release.sum, 'coordinator replay');
  const e = signed(countSum[0]!, cc.bits);
  const fraction = (e + m) / (2 * m);
  assert.equal(fraction, release.unclippedFraction);

  return {
    description:
      'A round of the distributed Skellam mechanism with adaptive clipping (PROTOCOL.md §11.2–§11.7, §11.9): each client clips, scales, rotates, rounds and noises its update and its clip-count bit; the coordinator decodes the sum of the survivors’ vectors. Secure aggregation is left out: the sums are the plain sums mod 2^bits its output equals.',
    conventions: CONVENTIONS,
    fields: {
      announced: 'the announced mechanism (§2.1); cohort: the round’s n, t and n_C (maxClients = n)',
      derived:
        'what every client and the coordinator derive (§11.2): n, s·C, √n, both bounds and Δ₂², the variances, the Poisson constants, the rotation signs (bit i of signBytes, −1 if set) and 1/√n; the round vectors',
      'clients[]':
        'per client: its stream, its update (tensors in order), ‖x‖₂, whether it was clipped, the factor, then scaled (padded, ×factor), withSigns (×D), hadamard (H·, unnormalized), rotated (×1/√n); every rounding attempt (offset of its first word, the words, the values so far, Σq² when it stopped, accepted); the noise (per coordinate the added and the subtracted Poisson sample, each with its draws), noised = q + added − subtracted; the clip count (indicator e, its two samples, e + added − subtracted); bytesDrawn; the vectors it masks (mod 2^bits)',
      coordinator:
        'the survivors, the sums mod 2^bits, then signed (two’s complement), scaled (×1/s), hadamard, normalized (×1/√n), unrotated (×D) and decoded (the first d); the clip count’s signed sum E, m and (E + m)/(2m); clippedSum: the survivors’ clipped updates summed without noise, for comparison',
    },
    announced: announcedJson(a),
    cohort: COHORT,
    derived,
    clients,
    coordinator: {
      survivors,
      sums: { clip_count: Array.from(countSum), update: Array.from(updateSum) },
      signed: signedSum,
      inverseScale: num(inverseScale),
      scaled: nums(scaled),
      hadamard: nums(hadamard),
      normalized: nums(normalized),
      unrotated: nums(unrotated),
      decoded: nums(decoded),
      clipCount: { signed: e, contributors: m, unclippedFraction: num(fraction) },
      clippedSum: nums(clippedSum),
    },
  };
}

// ---- dp-central.json -----------------------------------------------------------------------------

const CENTRAL_CLIENTS: readonly ClientCase[] = [
  {
    id: 1,
    update: [
      { name: 'w', type: 'float32', values: [1.1, -0.7, 2.3] },
      { name: 'b', type: 'float64', values: [0.05, -1.9] },
    ],
    survives: true,
  },
  {
    id: 2,
    update: [
      { name: 'w', type: 'float32', values: [0.25, 0.5, -0.125] },
      { name: 'b', type: 'float64', values: [0.3, 0] },
    ],
    survives: true,
  },
  {
    id: 3,
    update: [
      { name: 'w', type: 'float32', values: [-5, 3, 0.1] },
      { name: 'b', type: 'float64', values: [2.2, -0.01] },
    ],
    survives: false,
  },
  {
    id: 4,
    update: [
      { name: 'w', type: 'float32', values: [0.6, 0.6, -0.6] },
      { name: 'b', type: 'float64', values: [-0.6, 0.6] },
    ],
    survives: true,
  },
];

function centralAnnouncement(): AnnouncedCentral {
  return {
    mechanism: 'central-gaussian',
    dimension: 5,
    clip: 2,
    noiseMultiplier: 1.1,
    bits: 12,
    scale: 250,
    clipCount: { bits: 6, bitNoiseStddev: 0.75 },
  };
}

/** Replays the clipping of §11.8 (scale, then shrink while the computed norm exceeds C). */
function replayCentralClip(
  update: ReadonlyMap<string, FloatTensor>,
  clip: number,
): { norm: number; clipped: boolean; steps: JsonObject[]; tensors: Map<string, FloatTensor> } {
  const norm = l2Norm(update);
  const clipped = norm > clip;
  const copy = new Map<string, FloatTensor>([...update].map(([k, t]) => [k, t.slice()]));
  const steps: JsonObject[] = [];
  if (!clipped) return { norm, clipped, steps, tensors: copy };
  const factor = clip / norm;
  for (const [name, t] of update) {
    const out = copy.get(name)!;
    for (let i = 0; i < t.length; i++) out[i] = t[i]! * factor;
  }
  let after = l2Norm(copy);
  steps.push({ multiplier: num(factor), tensors: tensorsJson(copy), norm: num(after) });
  const margin = [...copy.values()].some((t) => t instanceof Float32Array) ? 2 ** -22 : 2 ** -32;
  for (let shrinks = 0; shrinks < 3 && after > clip; shrinks++) {
    const shrink = (clip / after) * (1 - margin);
    for (const t of copy.values()) for (let i = 0; i < t.length; i++) t[i]! *= shrink;
    after = l2Norm(copy);
    steps.push({ multiplier: num(shrink), tensors: tensorsJson(copy), norm: num(after) });
  }
  assert.ok(after <= clip, 'clipping replay converged');
  return { norm, clipped, steps, tensors: copy };
}

function buildCentral(): JsonObject {
  const a = centralAnnouncement();
  const plan = privacyPlan(a, COHORT.clients);
  const cc = a.clipCount!;
  const limit = maxScale(a.bits, a.clip, COHORT.clients);
  const updateMask = 2 ** a.bits - 1;
  const countMask = 2 ** cc.bits - 1;
  const clientVectors = new Map<number, Uint32Array[]>();
  let shrunk = 0;
  const clients = CENTRAL_CLIENTS.map((client) => {
    const label = `${DP_LABEL_PREFIX}/central/client/${client.id}`;
    const update = tensors(client.update);
    const rng = new RecordingRng(new DeterministicRng(label));
    const encoded = encodeClientUpdate(plan, update, rng);
    clientVectors.set(client.id, [...encoded.vectors]);
    assert.equal(rng.calls.length, 1, 'quantize draws its words in one call');
    const random = rng.calls[0]!.bytes;
    const view = new DataView(random.buffer, random.byteOffset, random.byteLength);

    const clip = replayCentralClip(update, a.clip);
    const production = clipCopy(update, { clip: a.clip });
    assert.deepEqual(clip.tensors, production.tensors, 'clipping replay');
    if (clip.steps.length > 1) shrunk++;
    const flat = flatten(clip.tensors);
    const rows = Array.from(flat, (value, i) => {
      const x = Math.min(a.clip, Math.max(-a.clip, value));
      const v = x * a.scale;
      const floor = Math.floor(v);
      const threshold = (v - floor) * 2 ** 32;
      const word = view.getUint32(4 * i, true);
      const q = word < threshold ? floor + 1 : floor;
      return { x, v, floor, threshold, word, q };
    });
    const vector = rows.map((r) => r.q & updateMask);
    const indicator = clip.norm <= a.clip ? 1 : -1;
    assert.deepEqual(
      [[indicator & countMask], vector],
      encoded.vectors.map((v) => Array.from(v)),
      `client ${client.id}: replay`,
    );
    return {
      id: client.id,
      rngLabel: label,
      update: tensorsJson(update),
      norm: num(clip.norm),
      clipped: clip.clipped,
      clipSteps: clip.steps,
      flat: nums(flat),
      quantize: {
        offset: 0,
        words: rows.map((r) => r.word),
        clamped: nums(rows.map((r) => r.x)),
        scaled: nums(rows.map((r) => r.v)),
        floor: nums(rows.map((r) => r.floor)),
        threshold: nums(rows.map((r) => r.threshold)),
        rounded: rows.map((r) => r.q),
      },
      clipCount: { indicator },
      vectors: { clip_count: Array.from(encoded.vectors[0]!), update: vector },
      survives: client.survives,
    };
  });
  assert.ok(shrunk > 0, 'a clipped float32 update needed a shrink step (§11.8)');

  const survivors = CENTRAL_CLIENTS.filter((c) => c.survives).map((c) => c.id);
  const m = survivors.length;
  const countSum = ringSum(
    survivors.map((id) => clientVectors.get(id)![0]!),
    cc.bits,
  );
  const updateSum = ringSum(
    survivors.map((id) => clientVectors.get(id)![1]!),
    a.bits,
  );
  const coordinatorLabel = `${DP_LABEL_PREFIX}/central/coordinator`;
  const stream = new RecordingStream(new DeterministicRng(coordinatorLabel));
  const release = decodeRelease(plan, [countSum, updateSum], m, stream);
  const signedSum = Array.from(updateSum, (z) => signed(z, a.bits));
  const sensitivity = a.clip + Math.sqrt(a.dimension) / a.scale;
  const stddev = a.noiseMultiplier * sensitivity;
  const reader = new DrawReader(stream.draws);
  const noise = replayGaussian(a.dimension, stddev, reader);
  const snapped = noise.samples.map((g) => Math.round(g * a.scale));
  const released = signedSum.map((s, i) => (s + snapped[i]!) / a.scale);
  assert.deepEqual(released, Array.from(release.sum), 'coordinator replay');
  const e = signed(countSum[0]!, cc.bits);
  const countNoise = replayGaussian(1, 2 * cc.bitNoiseStddev, reader);
  reader.done();
  const fraction = (e + countNoise.samples[0]! + m) / (2 * m);
  assert.equal(fraction, release.unclippedFraction, 'clip fraction replay');
  return {
    description:
      'A round of central DP with adaptive clipping (PROTOCOL.md §11.8): clients clip and quantize and send their clip bit without noise; the coordinator decodes the survivors’ sum and adds Gaussian noise, snapped to the grid 1/s, to it and to the count.',
    conventions: CONVENTIONS,
    fields: {
      announced: 'the announced mechanism (§2.1); cohort: the round’s n, t and n_C',
      derived:
        'the largest admissible scale (exact, §8), the sensitivity C + √d/s, the noise stddev z·(C + √d/s), the round vectors',
      'clients[]':
        'per client: its stream, its update, ‖x‖₂ and whether it was clipped; clipSteps: each multiplication of the clipped copy (by C/‖x‖, then any shrink) with the tensors and norm after it; flat; quantize: the words (one draw of 4d bytes at offset 0), the clamped value, v = x·s, ⌊v⌋, (v − ⌊v⌋)·2^32, and q; the clip indicator; the vectors it masks',
      coordinator:
        'the survivors and sums mod 2^bits; signed; the noise stream, its pairs and samples G_i; snapped = round(G_i·s) (ties toward +∞); released = (S_i + snapped_i)/s; the clip count’s E, its noise pair(s) with stddev 2σ_b, and (E + g + m)/(2m)',
    },
    announced: announcedJson(a),
    cohort: COHORT,
    derived: {
      maxScale: num(limit),
      sensitivity: num(sensitivity),
      stddev: num(stddev),
      vectors: plan.vectors.map((v) => ({ name: v.name, length: v.length, bits: v.bits })),
    },
    clients,
    coordinator: {
      survivors,
      sums: { clip_count: Array.from(countSum), update: Array.from(updateSum) },
      signed: signedSum,
      rngLabel: coordinatorLabel,
      noise: { pairs: noise.pairs, samples: nums(noise.samples) },
      snapped,
      released: nums(released),
      clipCount: {
        signed: e,
        contributors: m,
        noise: {
          stddev: num(2 * cc.bitNoiseStddev),
          pairs: countNoise.pairs,
          sample: num(countNoise.samples[0]!),
        },
        unclippedFraction: num(fraction),
      },
    },
  };
}

// ---- dp-context.json -----------------------------------------------------------------------------

interface ContextCase {
  readonly name: string;
  readonly privacy?: AnnouncedPrivacy;
  /** The task bytes, if the round has a task (hashed into task_digest). */
  readonly task?: string;
}

const CONTEXT_CASES: readonly ContextCase[] = [
  {
    name: 'distributed-adaptive-task',
    privacy: distributedAnnouncement(),
    task: '{"model":"privagg test-vector model","epochs":1,"learningRate":0.05}',
  },
  {
    name: 'central',
    privacy: { ...centralAnnouncement(), clipCount: undefined } as AnnouncedCentral,
  },
  { name: 'task-only', task: 'privagg test-vector task' },
];

/** The §2.1 fields of a context, in order, each with its bytes. */
function contextFields(
  c: ContextCase,
  digest: Uint8Array | undefined,
): { field: string; bytes: Uint8Array }[] {
  const out: { field: string; bytes: Uint8Array }[] = [
    { field: 'label', bytes: ascii('privagg/v1/context') },
  ];
  const p = c.privacy;
  if (p === undefined) out.push({ field: 'privacy kind (none)', bytes: u8(0) });
  else {
    out.push(
      { field: 'privacy kind', bytes: u8(p.mechanism === 'distributed-skellam' ? 1 : 2) },
      { field: 'd', bytes: u32(p.dimension) },
      { field: 'C', bytes: f64(p.clip) },
      { field: 'z', bytes: f64(p.noiseMultiplier) },
      { field: 'bits', bytes: u8(p.bits) },
      { field: 's', bytes: f64(p.scale) },
    );
    if (p.mechanism === 'distributed-skellam') {
      out.push(
        { field: 'β', bytes: f64(p.beta) },
        { field: 'p_wrap', bytes: f64(p.maxWrapProbability) },
        { field: 'h', bytes: u32(p.minNoisyClients) },
        { field: 'rotationSeed', bytes: p.rotationSeed },
      );
    }
    if (p.clipCount) {
      out.push(
        { field: 'clipCount (adaptive)', bytes: u8(1) },
        { field: 'bits_b', bytes: u8(p.clipCount.bits) },
        { field: 'σ_b', bytes: f64(p.clipCount.bitNoiseStddev) },
      );
    } else out.push({ field: 'clipCount (fixed clip)', bytes: u8(0) });
  }
  if (digest) out.push({ field: 'task (present)', bytes: u8(1) }, { field: 'SHA256(task)', bytes: digest });
  else out.push({ field: 'task (absent)', bytes: u8(0) });
  return out;
}

function buildContext(): JsonObject {
  const cases = CONTEXT_CASES.map((c) => {
    const task = c.task === undefined ? undefined : new TextEncoder().encode(c.task);
    const digest = task && sha256(task);
    const context = roundContext(c.privacy, digest);
    const fields = contextFields(c, digest);
    assert.deepEqual(concatBytes(...fields.map((f) => f.bytes)), context, `${c.name}: fields`);
    return {
      name: c.name,
      privacy: c.privacy ? announcedJson(c.privacy) : null,
      task: task ? hex(task) : null,
      taskDigest: digest ? hex(digest) : null,
      fields: fields.map((f) => ({ field: f.field, bytes: hex(f.bytes) })),
      context: hex(context),
    };
  });
  return {
    description:
      'The application context bytes of PROTOCOL.md §2.1, which enter configHash (§2): a distributed-DP round with adaptive clipping and a task, a central-DP round with a fixed clip norm and no task, and a round with a task but no differential privacy.',
    conventions: CONVENTIONS,
    fields: {
      'cases[]':
        'the announced privacy (null: none), the task bytes and their SHA-256 (null: no task), each field of §2.1 with its bytes, and the context: their concatenation',
    },
    cases,
  };
}

// ---- files -------------------------------------------------------------------------------------------

/**
 * Builds one vector file as a JSON value. Deterministic: calling it again gives an identical value.
 * @throws AssertionError if a replay disagrees with the production code
 */
export function buildDpVectorFile(file: DpVectorFile): JsonObject {
  switch (file) {
    case 'dp-context.json':
      return buildContext();
    case 'dp-samplers.json':
      return buildSamplers();
    case 'dp-distributed.json':
      return buildDistributed();
    case 'dp-central.json':
      return buildCentral();
  }
}

function main(): void {
  for (const file of DP_VECTOR_FILES) {
    const path = join(VECTOR_DIR, file);
    writeFileSync(path, serialiseDp(buildDpVectorFile(file)));
    console.log(`wrote ${path}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
