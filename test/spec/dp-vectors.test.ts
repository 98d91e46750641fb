/**
 * The differential-privacy test vectors, spec/test-vectors/dp-*.json, against docs/PROTOCOL.md §11
 * (and §2.1 for the context bytes).
 *
 * (a) Independent recomputation: a second implementation of §11, written from the text — it imports
 *     nothing from src/: SHA-256 and AES-CTR come from @noble/*, fdlibm's ln and exp are ported here
 *     again (word by word, as the C source does it, where src/dp/fdlibm.ts scales by powers of two),
 *     and the norm, the rotation, the rounding, the Poisson and Gaussian samplers, quantization, the
 *     decoding and the context bytes are rewritten — recomputes every value in the files from the
 *     announced parameters, the updates and the stream labels, and compares bit for bit.
 * (b) The reference code: scripts/gen-dp-vectors.ts reproduces each file byte for byte, and the entry
 *     points (`encodeClientUpdate`, `decodeRelease`, `roundContext`, the samplers) reproduce every
 *     vector, sum, release and context from the labels alone.
 * (c) Decoding: the coordinator's decoding of the sum of the survivors' vectors — the sums are
 *     recomputed here from the clients' vectors, shown to be the exact integer sums (no wrap-around),
 *     and decoded by (a) and by the reference.
 * Strictness: values are read through the accessors of ./vector-reader.ts, which throw when a value
 * is absent, and a coverage check proves that every value in each file is read by (a); a vector
 * whose expected value is missing therefore fails, never skips.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ctr } from '@noble/ciphers/aes.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import {
  buildDpVectorFile,
  DP_LABEL_PREFIX,
  DP_VECTOR_FILES,
  type DpVectorFile,
  serialiseDp,
} from '../../scripts/gen-dp-vectors.ts';
import {
  type AnnouncedPrivacy,
  decodeRelease,
  encodeClientUpdate,
  privacyPlan,
} from '../../src/dp/announced.ts';
import * as reference from '../../src/dp/fdlibm.ts';
import { fillGaussian, logGamma, PoissonSampler, RandomStream } from '../../src/dp/sampling.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { roundContext } from '../../src/wire/context.ts';
import { EXP_KAT, LOG_KAT } from '../dp/fdlibm-kat.ts';
import { leafPaths, MissingVectorValue, VectorNode } from './vector-reader.ts';

const VECTOR_DIR = new URL('../../spec/test-vectors/', import.meta.url);
const utf8 = new TextEncoder();

// ---- §11.1: binary64 words, fdlibm ln and exp --------------------------------------------------------

// Big-endian DataView: bytes 0..3 are the high word, as fdlibm's __HI.
const words = new DataView(new ArrayBuffer(8));
function hi(x: number): number {
  words.setFloat64(0, x);
  return words.getInt32(0);
}
function lo(x: number): number {
  words.setFloat64(0, x);
  return words.getUint32(4);
}
function setHi(x: number, h: number): number {
  words.setFloat64(0, x);
  words.setInt32(0, h | 0);
  return words.getFloat64(0);
}
function double(h: number, l: number): number {
  words.setUint32(0, h >>> 0);
  words.setUint32(4, l >>> 0);
  return words.getFloat64(0);
}

const LN2_HI = double(0x3fe62e42, 0xfee00000);
const LN2_LO = double(0x3dea39ef, 0x35793c76);
const TWO54 = double(0x43500000, 0);
const LG = [
  double(0x3fe55555, 0x55555593),
  double(0x3fd99999, 0x9997fa04),
  double(0x3fd24924, 0x94229359),
  double(0x3fcc71c5, 0x1d8e78af),
  double(0x3fc74664, 0x96cb03de),
  double(0x3fc39a09, 0xd078c69f),
  double(0x3fc2f112, 0xdf3e5244),
] as const;

/** fdlibm 5.3 `__ieee754_log` (e_log.c), transcribed statement by statement. */
function ln(x: number): number {
  let hx = hi(x);
  const lx = lo(x);
  let k = 0;
  if (hx < 0x00100000) {
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity;
    if (hx < 0) return Number.NaN;
    k -= 54;
    x *= TWO54;
    hx = hi(x);
  }
  if (hx >= 0x7ff00000) return x + x;
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  let i = (hx + 0x95f64) & 0x100000;
  x = setHi(x, hx | (i ^ 0x3ff00000));
  k += i >> 20;
  const f = x - 1.0;
  const dk = k;
  if ((0x000fffff & (2 + hx)) < 3) {
    if (f === 0) return k === 0 ? 0 : dk * LN2_HI + dk * LN2_LO;
    const R = f * f * (0.5 - double(0x3fd55555, 0x55555555) * f);
    return k === 0 ? f - R : dk * LN2_HI - (R - dk * LN2_LO - f);
  }
  const s = f / (2.0 + f);
  const z = s * s;
  i = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (LG[1] + w * (LG[3] + w * LG[5]));
  const t2 = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])));
  i |= j;
  const R = t2 + t1;
  if (i > 0) {
    const hfsq = 0.5 * f * f;
    return k === 0 ? f - (hfsq - s * (hfsq + R)) : dk * LN2_HI - (hfsq - (s * (hfsq + R) + dk * LN2_LO) - f);
  }
  return k === 0 ? f - s * (f - R) : dk * LN2_HI - (s * (f - R) - dk * LN2_LO - f);
}

const P_EXP = [
  double(0x3fc55555, 0x5555553e),
  double(0xbf66c16c, 0x16bebd93),
  double(0x3f11566a, 0xaf25de2c),
  double(0xbebbbd41, 0xc5d26bf1),
  double(0x3e663769, 0x72bea4d0),
] as const;

/** fdlibm 5.3 `__ieee754_exp` (e_exp.c), transcribed; only the finite, non-overflowing range is needed. */
function expo(x: number): number {
  let hx = hi(x);
  const xsb = (hx >>> 31) & 1;
  hx &= 0x7fffffff;
  assert.ok(hx < 0x40862e42, 'exp: |x| < 709.78 only in these vectors');
  let hiPart = 0;
  let loPart = 0;
  let k = 0;
  if (hx > 0x3fd62e42) {
    if (hx < 0x3ff0a2b2) {
      hiPart = x - (xsb ? -LN2_HI : LN2_HI);
      loPart = xsb ? -LN2_LO : LN2_LO;
      k = 1 - xsb - xsb;
    } else {
      k = Math.trunc(double(0x3ff71547, 0x652b82fe) * x + (xsb ? -0.5 : 0.5));
      hiPart = x - k * LN2_HI;
      loPart = k * LN2_LO;
    }
    x = hiPart - loPart;
  } else if (hx < 0x3e300000) {
    return 1 + x;
  }
  const t = x * x;
  const c = x - t * (P_EXP[0] + t * (P_EXP[1] + t * (P_EXP[2] + t * (P_EXP[3] + t * P_EXP[4]))));
  if (k === 0) return 1 - ((x * c) / (c - 2.0) - x);
  const y = 1 - (loPart - (x * c) / (2.0 - c) - hiPart);
  assert.ok(k >= -1021, 'exp: no subnormal results in these vectors');
  return setHi(y, hi(y) + (k << 20));
}

/** ECMAScript Math.round: nearest, ties toward +∞ (§11.1), without calling it. */
function roundHalfUp(x: number): number {
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

const signedOf = (z: number, bits: number): number => (z >= 2 ** (bits - 1) ? z - 2 ** bits : z);
const modPow2 = (x: number, bits: number): number => ((x % 2 ** bits) + 2 ** bits) % 2 ** bits;

// ---- §11.1: the random stream -----------------------------------------------------------------------

/** The keystream of a label (§10.1, §11.10), grown on demand. */
class Keystream {
  #bytes = new Uint8Array(0);
  readonly #key: Uint8Array;
  constructor(label: string) {
    this.#key = sha256(utf8.encode(label)).subarray(0, 16);
  }
  bytes(offset: number, length: number): Uint8Array {
    if (offset + length > this.#bytes.length) {
      const size = Math.max(2 * this.#bytes.length, offset + length, 1024);
      this.#bytes = ctr(this.#key, new Uint8Array(16)).encrypt(new Uint8Array(size));
    }
    return this.#bytes.subarray(offset, offset + length);
  }
}

/** Reads a keystream as §11.1's u32() and uniform(), from a byte offset. */
class Cursor {
  constructor(
    readonly stream: Keystream,
    public offset = 0,
  ) {}
  u32(): number {
    const b = this.stream.bytes(this.offset, 4);
    this.offset += 4;
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  uniform(): number {
    const w0 = this.u32();
    const w1 = this.u32();
    return ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) * 2 ** -53;
  }
}

// ---- §11.6: Poisson, lnΓ; §11.8: Gaussian -----------------------------------------------------------

const LOGGAM = [
  8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4,
  8.417508417508418e-4, -1.917526917526918e-3, 6.41025641025641e-3, -2.955065359477124e-2, 0.1796443723688307,
  -1.3924322169059,
] as const;

function lnGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const j = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + j;
  const x2 = 1 / (x0 * x0);
  let g: number = LOGGAM[9];
  for (let k = 8; k >= 0; k--) g = g * x2 + LOGGAM[k]!;
  g = g / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * ln(x0) - x0;
  for (let i = 0; i < j; i++) {
    x0 = x0 - 1;
    g = g - ln(x0);
  }
  return g;
}

interface Poisson {
  readonly lambda: number;
  readonly constants: Record<string, unknown>;
  readonly b: number;
  readonly a: number;
  readonly alpha: number;
  readonly vr: number;
  readonly l: number;
  readonly e: number;
}

function poisson(lambda: number): Poisson {
  const b = 0.931 + 2.53 * Math.sqrt(lambda);
  const a = -0.059 + 0.02483 * b;
  const alpha = ln(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  const l = ln(lambda);
  const e = lambda < 10 ? expo(-lambda) : Number.NaN; // used by the multiplication method only
  const constants =
    lambda < 10
      ? { lambda, method: 'multiplication', expMinusLambda: e }
      : { lambda, method: 'ptrs', logLambda: l, b, a, logInvAlpha: alpha, vr };
  return { lambda, constants, b, a, alpha, vr, l, e };
}

/** One Poisson sample from the cursor, with the trace the files record. */
function poissonSample(p: Poisson, cur: Cursor): { value: number; trace: Record<string, unknown> } {
  const offset = cur.offset;
  if (p.lambda < 10) {
    const uniforms = [cur.uniform()];
    const products = [uniforms[0]!];
    let k = 0;
    let prod = uniforms[0]!;
    while (prod > p.e) {
      k = k + 1;
      const u = cur.uniform();
      uniforms.push(u);
      prod = prod * u;
      products.push(prod);
    }
    return { value: k, trace: { offset, uniforms, products, value: k } };
  }
  const iterations: Record<string, unknown>[] = [];
  for (;;) {
    const U0 = cur.uniform();
    const V = cur.uniform();
    const U = U0 - 0.5;
    const us = 0.5 - Math.abs(U);
    const k = Math.floor(((2 * p.a) / us + p.b) * U + p.lambda + 0.43);
    const it: Record<string, unknown> = { uniforms: [U0, V], u: U, us, k };
    iterations.push(it);
    if (us >= 0.07 && V <= p.vr) {
      it['outcome'] = 'squeeze';
      return { value: k, trace: { offset, iterations, value: k } };
    }
    if (k < 0 || (us < 0.013 && V > us)) {
      it['outcome'] = 'reject';
      continue;
    }
    const lhs = ln(V) + p.alpha - ln(p.a / (us * us) + p.b);
    const lg = lnGamma(k + 1);
    const rhs = -p.lambda + k * p.l - lg;
    Object.assign(it, { lhs, logGamma: lg, rhs });
    it['outcome'] = lhs <= rhs ? 'accept' : 'reject-test';
    if (lhs <= rhs) return { value: k, trace: { offset, iterations, value: k } };
  }
}

/** `count` Gaussian samples of standard deviation `sd` by the polar method, with every pair. */
function gaussian(
  count: number,
  sd: number,
  cur: Cursor,
): { samples: number[]; pairs: Record<string, unknown>[] } {
  const samples: number[] = [];
  const pairs: Record<string, unknown>[] = [];
  while (samples.length < count) {
    const offset = cur.offset;
    const w1 = cur.uniform();
    const w2 = cur.uniform();
    const u = 2 * w1 - 1;
    const v = 2 * w2 - 1;
    const rho = u * u + v * v;
    if (rho >= 1 || rho === 0) {
      pairs.push({ offset, uniforms: [w1, w2], u, v, s: rho, accepted: false });
      continue;
    }
    const f = sd * Math.sqrt((-2 * ln(rho)) / rho);
    const out = count - samples.length >= 2 ? [u * f, v * f] : [u * f];
    pairs.push({ offset, uniforms: [w1, w2], u, v, s: rho, accepted: true, factor: f, samples: out });
    samples.push(...out);
  }
  return { samples, pairs };
}

// ---- §11.3: tensors and the norm ---------------------------------------------------------------------

interface Tensor {
  readonly name: string;
  readonly type: 'float32' | 'float64';
  readonly values: number[];
}

function readTensors(node: VectorNode): Tensor[] {
  return node.list().map((t) => {
    const type = t.get('type').oneOf('float32', 'float64');
    const values = t.get('values').f64s();
    if (type === 'float32') for (const v of values) assert.equal(Math.fround(v), v, 'a float32 value');
    return { name: t.get('name').str(), type, values };
  });
}

function norm(tensors: readonly Tensor[]): number {
  let M = 0;
  for (const t of tensors) for (const x of t.values) M = Math.max(M, Math.abs(x));
  if (M === 0) return 0;
  const sigma = M > 2 ** 400 ? 2 ** -600 : M < 2 ** -400 ? 2 ** 600 : 1;
  let T = 0;
  for (const t of tensors) {
    const a = [0, 0, 0, 0];
    const L = t.values.length;
    for (let i = 0; i < L; i++) {
      const p = sigma * t.values[i]!;
      const slot = i < 4 * Math.floor(L / 4) ? i % 4 : 0;
      a[slot] = a[slot]! + p * p;
    }
    T = T + (a[0]! + a[1]! + a[2]! + a[3]!);
  }
  return Math.sqrt(T) / sigma;
}

const concat = (tensors: readonly Tensor[]): number[] => tensors.flatMap((t) => t.values);

// ---- §11.4, §11.9: the rotation ---------------------------------------------------------------------

function signsOf(seed: Uint8Array, N: number): { bytes: Uint8Array; signs: number[] } {
  const key = sha256(concatBytes(utf8.encode('privagg/v1/dp-rotation'), seed)).subarray(0, 16);
  const bytes = ctr(key, new Uint8Array(16)).encrypt(new Uint8Array(Math.ceil(N / 8)));
  const signs = Array.from({ length: N }, (_, i) => ((bytes[Math.floor(i / 8)]! >> (i % 8)) & 1 ? -1 : 1));
  return { bytes, signs };
}

/** The butterflies of §11.4 step 2, radix 2. */
function hadamard(y: readonly number[]): number[] {
  const out = [...y];
  for (let h = 1; h < out.length; h *= 2) {
    for (let j = 0; j < out.length; j++) {
      if (j % (2 * h) >= h) continue;
      const a = out[j]!;
      const b = out[j + h]!;
      out[j] = a + b;
      out[j + h] = a - b;
    }
  }
  return out;
}

// ---- comparing a recomputed tree with a file -------------------------------------------------------

/**
 * Compares `expected` (recomputed here) with the file at `node`, reading every leaf: numbers bit for
 * bit (−0 included), arrays of objects entry by entry with equal lengths.
 */
function expectTree(node: VectorNode, expected: unknown): void {
  if (expected === null) {
    assert.ok(node.isNull(), `${node.path} must be null`);
  } else if (typeof expected === 'number') {
    const v = node.f64();
    assert.ok(Object.is(v, expected), `${node.path}: the file has ${v}, recomputed ${expected}`);
  } else if (typeof expected === 'boolean') {
    assert.equal(node.bool(), expected, node.path);
  } else if (typeof expected === 'string') {
    assert.equal(node.str(), expected, node.path);
  } else if (Array.isArray(expected)) {
    if (expected.every((x) => typeof x === 'number')) {
      const v = node.f64s();
      assert.equal(v.length, expected.length, `${node.path}: length`);
      v.forEach((x, i) => {
        assert.ok(
          Object.is(x, expected[i]),
          `${node.path}[${i}]: the file has ${x}, recomputed ${expected[i]}`,
        );
      });
    } else {
      const items = node.list(expected.length === 0 ? 0 : 1);
      assert.equal(items.length, expected.length, `${node.path}: length`);
      for (const [i, item] of items.entries()) expectTree(item, expected[i]);
    }
  } else {
    for (const [key, value] of Object.entries(expected as object)) expectTree(node.get(key), value);
  }
}

// ---- the announcement (§2.1) ---------------------------------------------------------------------

interface Announced {
  readonly mechanism: 'distributed-skellam' | 'central-gaussian';
  readonly d: number;
  readonly C: number;
  readonly z: number;
  readonly bits: number;
  readonly s: number;
  readonly beta: number;
  readonly pWrap: number;
  readonly h: number;
  readonly seed: Uint8Array;
  readonly clipCount?: { readonly bits: number; readonly sigma: number };
}

function readAnnounced(node: VectorNode): Announced {
  const mechanism = node.get('mechanism').oneOf('distributed-skellam', 'central-gaussian');
  const distributed = mechanism === 'distributed-skellam';
  const cc = node.get('clipCount');
  return {
    mechanism,
    d: node.get('dimension').int(),
    C: node.get('clip').f64(),
    z: node.get('noiseMultiplier').f64(),
    bits: node.get('bits').int(),
    s: node.get('scale').f64(),
    beta: distributed ? node.get('beta').f64() : Number.NaN,
    pWrap: distributed ? node.get('maxWrapProbability').f64() : Number.NaN,
    h: distributed ? node.get('minNoisyClients').int() : Number.NaN,
    seed: distributed ? node.get('rotationSeed').bytes(32) : new Uint8Array(0),
    ...(!cc.isNull() && { clipCount: { bits: cc.get('bits').int(), sigma: cc.get('bitNoiseStddev').f64() } }),
  };
}

/** The same announcement for the reference code. */
function toReference(a: Announced): AnnouncedPrivacy {
  const clipCount = a.clipCount && { bits: a.clipCount.bits, bitNoiseStddev: a.clipCount.sigma };
  const common = { dimension: a.d, clip: a.C, noiseMultiplier: a.z, bits: a.bits, scale: a.s, clipCount };
  if (a.mechanism === 'central-gaussian') return { mechanism: a.mechanism, ...common };
  return {
    mechanism: a.mechanism,
    ...common,
    beta: a.beta,
    maxWrapProbability: a.pWrap,
    minNoisyClients: a.h,
    rotationSeed: a.seed,
  };
}

function f64le(x: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, x, true);
  return out;
}
function u32le(x: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, x, true);
  return out;
}

/** §2.1, written out again. */
function contextBytes(a: Announced | undefined, digest: Uint8Array | undefined): Uint8Array {
  const parts: Uint8Array[] = [utf8.encode('privagg/v1/context')];
  if (a === undefined) parts.push(Uint8Array.of(0));
  else {
    parts.push(
      Uint8Array.of(a.mechanism === 'distributed-skellam' ? 1 : 2),
      u32le(a.d),
      f64le(a.C),
      f64le(a.z),
      Uint8Array.of(a.bits),
      f64le(a.s),
    );
    if (a.mechanism === 'distributed-skellam') parts.push(f64le(a.beta), f64le(a.pWrap), u32le(a.h), a.seed);
    parts.push(
      a.clipCount
        ? concatBytes(Uint8Array.of(1, a.clipCount.bits), f64le(a.clipCount.sigma))
        : Uint8Array.of(0),
    );
  }
  parts.push(digest ? concatBytes(Uint8Array.of(1), digest) : Uint8Array.of(0));
  return concatBytes(...parts);
}

// ---- dp-context.json ----------------------------------------------------------------------------

type Checks = Record<string, (root: VectorNode) => void>;

const CONTEXT_CHECKS: Checks = {
  'context bytes, field by field (§2.1)': (root) => {
    const names = root
      .get('cases')
      .list(3)
      .map((c) => {
        const privacyNode = c.get('privacy');
        const announced = privacyNode.isNull() ? undefined : readAnnounced(privacyNode);
        const taskNode = c.get('task');
        const task = taskNode.isNull() ? undefined : taskNode.bytes();
        const digest = task && sha256(task);
        expectTree(c.get('taskDigest'), digest ? bytesToHex(digest) : null);
        const context = contextBytes(announced, digest);
        const fields = c.get('fields').list();
        assert.equal(
          bytesToHex(concatBytes(...fields.map((f) => f.get('bytes').bytes()))),
          bytesToHex(context),
          'the fields concatenate to the context',
        );
        expectTree(c.get('context'), bytesToHex(context));
        return `${announced?.mechanism ?? 'none'}/${announced?.clipCount ? 'adaptive' : 'fixed'}/${digest ? 'task' : 'no task'}/${c.get('name').str()}`;
      });
    // What the brief of §11.10 promises: distributed with adaptive clipping and a task; central.
    assert.ok(names.some((n) => n.startsWith('distributed-skellam/adaptive/task/')));
    assert.ok(names.some((n) => n.startsWith('central-gaussian/')));
    assert.ok(names.some((n) => n.startsWith('none/')));
  },
};

// ---- dp-samplers.json ---------------------------------------------------------------------------

const SAMPLER_CHECKS: Checks = {
  'fdlibm ln and exp (§11.1)': (root) => {
    const f = root.get('fdlibm');
    for (const e of f.get('log').list(4)) expectTree(e.get('log'), ln(e.get('x').f64()));
    for (const e of f.get('exp').list(4)) expectTree(e.get('exp'), expo(e.get('x').f64()));
  },
  'lnΓ (§11.6)': (root) => {
    for (const e of root.get('logGamma').list(5)) expectTree(e.get('logGamma'), lnGamma(e.get('x').f64()));
  },
  'Poisson traces: the multiplication method and PTRS, every branch (§11.6)': (root) => {
    const outcomes = new Set<string>();
    const methods = new Set<string>();
    for (const c of root.get('poisson').list(3)) {
      const name = c.get('name').str();
      const label = `${DP_LABEL_PREFIX}/poisson/${name}`;
      expectTree(c.get('rngLabel'), label);
      const lambda = c.get('constants').get('lambda').f64();
      const p = poisson(lambda);
      expectTree(c.get('constants'), p.constants);
      methods.add(p.constants['method'] as string);
      const cur = new Cursor(new Keystream(label));
      const samples = c.get('samples').list();
      for (const s of samples) {
        const { trace } = poissonSample(p, cur);
        for (const it of (trace['iterations'] as { outcome: string }[] | undefined) ?? [])
          outcomes.add(it.outcome);
        expectTree(s, trace);
      }
    }
    assert.deepEqual([...methods].sort(), ['multiplication', 'ptrs']);
    assert.deepEqual(
      [...outcomes].sort(),
      ['accept', 'reject', 'reject-test', 'squeeze'],
      'PTRS branches covered',
    );
  },
  'Gaussian trace: the polar method, a rejected pair, an odd count (§11.8)': (root) => {
    const g = root.get('gaussian');
    const label = `${DP_LABEL_PREFIX}/gaussian`;
    expectTree(g.get('rngLabel'), label);
    const count = g.get('count').int();
    assert.equal(count % 2, 1);
    const { samples, pairs } = gaussian(count, g.get('stddev').f64(), new Cursor(new Keystream(label)));
    assert.ok(pairs.some((p) => p['accepted'] === false));
    expectTree(g.get('pairs'), pairs);
    expectTree(g.get('samples'), samples);
  },
};

// ---- dp-distributed.json ------------------------------------------------------------------------

interface Derived {
  readonly N: number;
  readonly bound: number;
  readonly update: Poisson;
  readonly count: Poisson;
  readonly signs: number[];
  readonly r: number;
  readonly tree: Record<string, unknown>;
}

/** §11.2, and the signs and 1/√N of §11.4. */
function deriveDistributed(a: Announced): Derived {
  let N = 1;
  while (N < a.d) N *= 2;
  const c = a.s * a.C;
  const root = c + Math.sqrt(N);
  const det = root * root;
  const conc = c * c + N / 4 + Math.sqrt(2 * ln(1 / a.beta)) * (c + Math.sqrt(N) / 2);
  const bound = Math.floor(a.beta === 0 ? det : Math.min(det, conc));
  const total = a.z * a.z * bound;
  const v = total / a.h;
  const cc = a.clipCount!;
  const totalB = 2 * cc.sigma * (2 * cc.sigma);
  const vB = totalB / a.h;
  const update = poisson(v / 2);
  const count = poisson(vB / 2);
  const { bytes, signs } = signsOf(a.seed, N);
  const r = 1 / Math.sqrt(N);
  return {
    N,
    bound,
    update,
    count,
    signs,
    r,
    tree: {
      paddedDimension: N,
      scaledClip: c,
      sqrtN: Math.sqrt(N),
      deterministicBound: det,
      concentratedBound: conc,
      squaredL2Sensitivity: bound,
      totalVariance: total,
      clientVariance: v,
      poisson: update.constants,
      rotation: { signBytes: bytesToHex(bytes), signs, inverseSqrtN: r },
      clipCount: { totalVariance: totalB, clientVariance: vB, poisson: count.constants },
      vectors: [
        { name: 'clip_count', length: 1, bits: cc.bits },
        { name: 'update', length: N, bits: a.bits },
      ],
    },
  };
}

/** A distributed client, §11.3–§11.7, from its update and its stream. */
function encodeDistributed(
  a: Announced,
  k: Derived,
  id: number,
  tensors: readonly Tensor[],
): { tree: Record<string, unknown>; noised: number[]; vectors: number[][] } {
  const label = `${DP_LABEL_PREFIX}/distributed/client/${id}`;
  const x = concat(tensors);
  const nrm = norm(tensors);
  const clipped = nrm > a.C;
  const factor = (clipped ? a.C / nrm : 1) * a.s;
  const scaled = Array.from({ length: k.N }, (_, i) => (i < a.d ? x[i]! * factor : 0));
  const withSigns = scaled.map((y, i) => (k.signs[i] === -1 ? -y : y));
  const h = hadamard(withSigns);
  const rotated = h.map((y) => y * k.r);

  const cur = new Cursor(new Keystream(label));
  const attempts: Record<string, unknown>[] = [];
  let rounded: number[] | undefined;
  while (rounded === undefined) {
    assert.ok(attempts.length < 64, 'at most 64 attempts');
    const offset = cur.offset;
    const wordsDrawn: number[] = [];
    const values: number[] = [];
    let S = 0;
    let accepted = true;
    for (let i = 0; i < k.N; i++) {
      const u = cur.u32();
      const fl = Math.floor(rotated[i]!);
      const q = u < (rotated[i]! - fl) * 2 ** 32 ? fl + 1 : fl;
      wordsDrawn.push(u);
      values.push(q);
      S = S + q * q;
      if (S > k.bound) {
        accepted = false;
        break;
      }
    }
    attempts.push({ offset, words: wordsDrawn, values, sumSquares: S, accepted });
    if (accepted) rounded = values;
  }
  const noiseOffset = cur.offset;
  const samples: Record<string, unknown>[] = [];
  const noised: number[] = [];
  for (let i = 0; i < k.N; i++) {
    const added = poissonSample(k.update, cur);
    const subtracted = poissonSample(k.update, cur);
    noised.push(rounded[i]! + added.value - subtracted.value);
    samples.push({ coordinate: i, added: added.trace, subtracted: subtracted.trace });
  }
  const e = nrm <= a.C ? 1 : -1;
  const countAdded = poissonSample(k.count, cur);
  const countSubtracted = poissonSample(k.count, cur);
  const countValue = e + countAdded.value - countSubtracted.value;
  const vectors = [[modPow2(countValue, a.clipCount!.bits)], noised.map((q) => modPow2(q, a.bits))];
  return {
    noised,
    vectors,
    tree: {
      rngLabel: label,
      norm: nrm,
      clipped,
      factor,
      scaled,
      withSigns,
      hadamard: h,
      rotated,
      rounding: { attempts, rounded },
      noise: { offset: noiseOffset, samples, noised },
      clipCount: {
        indicator: e,
        added: countAdded.trace,
        subtracted: countSubtracted.trace,
        value: countValue,
      },
      bytesDrawn: cur.offset,
      vectors: { clip_count: vectors[0]!, update: vectors[1]! },
    },
  };
}

/** The cohort (§2): n selected clients, each with an entry; 1 ≤ n_C < t ≤ n. */
function checkCohort(root: VectorNode): void {
  const cohort = root.get('cohort');
  const n = cohort.get('clients').int();
  const t = cohort.get('threshold').int();
  const nC = cohort.get('maxCorruptClients').int();
  assert.ok(nC < t && t <= n, 'a valid complete-graph round (§7)');
  const ids = root
    .get('clients')
    .list()
    .map((c) => c.get('id').int());
  assert.equal(new Set(ids).size, n, 'one client entry per selected client');
}

function ringSum(vectors: readonly number[][], bits: number): number[] {
  return vectors[0]!.map((_, i) =>
    modPow2(
      vectors.reduce((acc, v) => acc + v[i]!, 0),
      bits,
    ),
  );
}

const DISTRIBUTED_CHECKS: Checks = {
  'derived parameters: N, Δ₂², v, λ, Poisson constants, rotation signs (§11.2, §11.4)': (root) => {
    const a = readAnnounced(root.get('announced'));
    expectTree(root.get('derived'), deriveDistributed(a).tree);
  },
  'the cohort: a client would take part (h ≤ t − n_C, one entry per selected client; §2.1)': (root) => {
    const a = readAnnounced(root.get('announced'));
    checkCohort(root);
    const cohort = root.get('cohort');
    assert.ok(a.h <= cohort.get('threshold').int() - cohort.get('maxCorruptClients').int());
  },
  'clients: norm, scaling, rotation, every rounding attempt, every noise draw, clip count (§11.3–§11.7)': (
    root,
  ) => {
    const a = readAnnounced(root.get('announced'));
    const k = deriveDistributed(a);
    let redraws = 0;
    const clipped = new Set<boolean>();
    for (const c of root.get('clients').list(2)) {
      const id = c.get('id').int();
      const { tree } = encodeDistributed(a, k, id, readTensors(c.get('update')));
      redraws += (tree['rounding'] as { attempts: unknown[] }).attempts.length - 1;
      clipped.add(tree['clipped'] as boolean);
      expectTree(c, tree);
      c.get('survives').bool();
    }
    assert.ok(redraws > 0, 'the vectors show a rounding redraw');
    assert.equal(clipped.size, 2, 'clipped and unclipped clients');
  },
  'coordinator: the survivors’ sums, decoded (§11.7, §11.9)': (root) => {
    const a = readAnnounced(root.get('announced'));
    const k = deriveDistributed(a);
    const clients = root.get('clients').list(2);
    const co = root.get('coordinator');
    const survivors = co.get('survivors').ints();
    const encoded = new Map<number, ReturnType<typeof encodeDistributed>>();
    const clippedSum = new Array<number>(a.d).fill(0);
    for (const c of clients) {
      const id = c.get('id').int();
      const tensors = readTensors(c.get('update'));
      encoded.set(id, encodeDistributed(a, k, id, tensors));
      assert.equal(c.get('survives').bool(), survivors.includes(id));
      if (!survivors.includes(id)) continue;
      const nrm = norm(tensors);
      concat(tensors).forEach((x, i) => {
        clippedSum[i] = clippedSum[i]! + x * (nrm > a.C ? a.C / nrm : 1);
      });
    }
    const ofSurvivors = survivors.map((id) => encoded.get(id)!);
    const countSum = ringSum(
      ofSurvivors.map((e) => e.vectors[0]!),
      a.clipCount!.bits,
    );
    const updateSum = ringSum(
      ofSurvivors.map((e) => e.vectors[1]!),
      a.bits,
    );
    const signed = updateSum.map((z) => signedOf(z, a.bits));
    // (c) no wrap-around: the signed reading is the true integer sum of the noised values.
    signed.forEach((z, i) => {
      assert.equal(
        z,
        ofSurvivors.reduce((acc, e) => acc + e.noised[i]!, 0),
        `coordinate ${i} wrapped`,
      );
    });
    const iota = 1 / a.s;
    const scaled = signed.map((z) => z * iota);
    const h = hadamard(scaled);
    const normalized = h.map((y) => y * k.r);
    const unrotated = normalized.map((y, i) => (k.signs[i] === -1 ? -y : y));
    const E = signedOf(countSum[0]!, a.clipCount!.bits);
    const m = survivors.length;
    expectTree(co, {
      sums: { clip_count: countSum, update: updateSum },
      signed,
      inverseScale: iota,
      scaled,
      hadamard: h,
      normalized,
      unrotated,
      decoded: unrotated.slice(0, a.d),
      clipCount: { signed: E, contributors: m, unclippedFraction: (E + m) / (2 * m) },
      clippedSum,
    });
  },
};

// ---- dp-central.json ----------------------------------------------------------------------------

/** The largest double s with C·s ≤ k exactly (§8), by exact rational comparison. */
function maxScaleExact(bits: number, C: number, n: number): number {
  const k = Math.floor((2 ** (bits - 1) - 1) / n);
  const exact = (x: number): [bigint, bigint] => {
    words.setFloat64(0, x);
    const raw = words.getBigUint64(0);
    const e = Number((raw >> 52n) & 0x7ffn);
    const mant = e === 0 ? raw & 0xfffffffffffffn : (raw & 0xfffffffffffffn) | (1n << 52n);
    const shift = (e === 0 ? -1074 : e - 1075) + 2000; // x = mant · 2^(shift − 2000)
    return [mant, BigInt(shift)];
  };
  const fits = (s: number): boolean => {
    const [m1, e1] = exact(C);
    const [m2, e2] = exact(s);
    // C·s ≤ k  ⟺  m1·m2 ≤ k · 2^(4000 − e1 − e2)
    const exponent = 4000n - e1 - e2;
    return exponent >= 0n ? m1 * m2 <= BigInt(k) << exponent : (m1 * m2) << -exponent <= BigInt(k);
  };
  const step = (s: number, by: bigint): number => {
    words.setFloat64(0, s);
    words.setBigUint64(0, words.getBigUint64(0) + by);
    return words.getFloat64(0);
  };
  let s = k / C;
  while (!fits(s)) s = step(s, -1n);
  while (fits(step(s, 1n))) s = step(s, 1n);
  return s;
}

/** A central client, §11.8, from its update and its stream. */
function encodeCentral(
  a: Announced,
  id: number,
  tensors: readonly Tensor[],
): { tree: Record<string, unknown>; q: number[]; vectors: number[][] } {
  const label = `${DP_LABEL_PREFIX}/central/client/${id}`;
  const nrm = norm(tensors);
  const clipped = nrm > a.C;
  const store = (t: Tensor, x: number): number => (t.type === 'float32' ? Math.fround(x) : x);
  let current = tensors.map((t) => ({ ...t, values: [...t.values] }));
  const steps: Record<string, unknown>[] = [];
  const json = (ts: readonly Tensor[]) => ts.map((t) => ({ name: t.name, type: t.type, values: t.values }));
  if (clipped) {
    const multiply = (by: number) => {
      current = current.map((t) => ({ ...t, values: t.values.map((x) => store(t, x * by)) }));
      steps.push({ multiplier: by, tensors: json(current), norm: norm(current) });
    };
    multiply(a.C / nrm);
    const eps = current.some((t) => t.type === 'float32') ? 2 ** -22 : 2 ** -32;
    for (let shrinks = 0; norm(current) > a.C; shrinks++) {
      assert.ok(shrinks < 3, 'at most three shrinks');
      multiply((a.C / norm(current)) * (1 - eps));
    }
  }
  const flat = concat(current);
  const cur = new Cursor(new Keystream(label));
  const rows = flat.map((value) => {
    const xi = Math.min(a.C, Math.max(-a.C, value));
    const w = xi * a.s;
    const floor = Math.floor(w);
    const threshold = (w - floor) * 2 ** 32;
    const word = cur.u32();
    return { xi, w, floor, threshold, word, q: word < threshold ? floor + 1 : floor };
  });
  const e = nrm <= a.C ? 1 : -1;
  const q = rows.map((r) => r.q);
  const vectors = [[modPow2(e, a.clipCount!.bits)], q.map((x) => modPow2(x, a.bits))];
  return {
    q,
    vectors,
    tree: {
      rngLabel: label,
      norm: nrm,
      clipped,
      clipSteps: steps,
      flat,
      quantize: {
        offset: 0,
        words: rows.map((r) => r.word),
        clamped: rows.map((r) => r.xi),
        scaled: rows.map((r) => r.w),
        floor: rows.map((r) => r.floor),
        threshold: rows.map((r) => r.threshold),
        rounded: q,
      },
      clipCount: { indicator: e },
      vectors: { clip_count: vectors[0]!, update: vectors[1]! },
    },
  };
}

const CENTRAL_CHECKS: Checks = {
  'the cohort: one entry per selected client': checkCohort,
  'derived: the exact largest scale, sensitivity, noise (§8, §11.8)': (root) => {
    const a = readAnnounced(root.get('announced'));
    const n = root.get('cohort').get('clients').int();
    const limit = maxScaleExact(a.bits, a.C, n);
    assert.ok(a.s <= limit, 'the announced scale is admissible');
    const sensitivity = a.C + Math.sqrt(a.d) / a.s;
    expectTree(root.get('derived'), {
      maxScale: limit,
      sensitivity,
      stddev: a.z * sensitivity,
      vectors: [
        { name: 'clip_count', length: 1, bits: a.clipCount!.bits },
        { name: 'update', length: a.d, bits: a.bits },
      ],
    });
  },
  'clients: clipping (with a shrink), quantization, clip bit (§11.3, §11.7, §11.8)': (root) => {
    const a = readAnnounced(root.get('announced'));
    let shrinks = 0;
    for (const c of root.get('clients').list(2)) {
      const { tree } = encodeCentral(a, c.get('id').int(), readTensors(c.get('update')));
      shrinks += Math.max(0, (tree['clipSteps'] as unknown[]).length - 1);
      expectTree(c, tree);
      c.get('survives').bool();
    }
    assert.ok(shrinks > 0, 'the vectors show a shrink step');
  },
  'coordinator: the survivors’ sums, decoded and noised (§11.7, §11.8)': (root) => {
    const a = readAnnounced(root.get('announced'));
    const co = root.get('coordinator');
    const survivors = co.get('survivors').ints();
    const encoded = new Map<number, ReturnType<typeof encodeCentral>>();
    for (const c of root.get('clients').list(2)) {
      const id = c.get('id').int();
      encoded.set(id, encodeCentral(a, id, readTensors(c.get('update'))));
      assert.equal(c.get('survives').bool(), survivors.includes(id));
    }
    const ofSurvivors = survivors.map((id) => encoded.get(id)!);
    const cc = a.clipCount!;
    const countSum = ringSum(
      ofSurvivors.map((e) => e.vectors[0]!),
      cc.bits,
    );
    const updateSum = ringSum(
      ofSurvivors.map((e) => e.vectors[1]!),
      a.bits,
    );
    const signed = updateSum.map((z) => signedOf(z, a.bits));
    signed.forEach((z, i) => {
      assert.equal(
        z,
        ofSurvivors.reduce((acc, e) => acc + e.q[i]!, 0),
        `coordinate ${i} wrapped`,
      );
    });
    const label = `${DP_LABEL_PREFIX}/central/coordinator`;
    const cur = new Cursor(new Keystream(label));
    const sd = a.z * (a.C + Math.sqrt(a.d) / a.s);
    const noise = gaussian(a.d, sd, cur);
    const snapped = noise.samples.map((g) => roundHalfUp(g * a.s));
    const E = signedOf(countSum[0]!, cc.bits);
    const countNoise = gaussian(1, 2 * cc.sigma, cur);
    const m = survivors.length;
    expectTree(co, {
      sums: { clip_count: countSum, update: updateSum },
      signed,
      rngLabel: label,
      noise: { pairs: noise.pairs, samples: noise.samples },
      snapped,
      released: signed.map((z, i) => (z + snapped[i]!) / a.s),
      clipCount: {
        signed: E,
        contributors: m,
        noise: { stddev: 2 * cc.sigma, pairs: countNoise.pairs, sample: countNoise.samples[0]! },
        unclippedFraction: (E + countNoise.samples[0]! + m) / (2 * m),
      },
    });
  },
};

const CHECKS: Record<DpVectorFile, Checks> = {
  'dp-context.json': CONTEXT_CHECKS,
  'dp-samplers.json': SAMPLER_CHECKS,
  'dp-distributed.json': DISTRIBUTED_CHECKS,
  'dp-central.json': CENTRAL_CHECKS,
};

/** Prose for human readers, not values: the only leaves the checks need not read. */
const PROSE = [
  /^\$\.description$/,
  /^\$\.conventions\./,
  /^\$\.fields\./,
  /^\$\.cases\[\d+\]\.fields\[\d+\]\.field$/,
];

// ---- (b) the reference code --------------------------------------------------------------------

function load(file: string): { text: string; json: unknown } {
  const text = readFileSync(new URL(file, VECTOR_DIR), 'utf8');
  return { text, json: JSON.parse(text) };
}

const REFERENCE: Record<DpVectorFile, Checks> = {
  'dp-context.json': {
    'roundContext gives each context': (root) => {
      for (const c of root.get('cases').list()) {
        const p = c.get('privacy');
        const digest = c.get('taskDigest');
        const context = roundContext(
          p.isNull() ? undefined : toReference(readAnnounced(p)),
          digest.isNull() ? undefined : digest.bytes(32),
        );
        assert.equal(bytesToHex(context), c.get('context').str());
      }
    },
  },
  'dp-samplers.json': {
    'fdlibm.ts, logGamma, PoissonSampler and fillGaussian reproduce the values and samples': (root) => {
      for (const e of root.get('fdlibm').get('log').list()) {
        assert.ok(Object.is(reference.log(e.get('x').f64()), e.get('log').f64()));
      }
      for (const e of root.get('fdlibm').get('exp').list()) {
        assert.ok(Object.is(reference.exp(e.get('x').f64()), e.get('exp').f64()));
      }
      for (const e of root.get('logGamma').list()) {
        assert.ok(Object.is(logGamma(e.get('x').f64()), e.get('logGamma').f64()));
      }
      for (const c of root.get('poisson').list()) {
        const sampler = new PoissonSampler(c.get('constants').get('lambda').f64());
        // One stream per case, read from its start, as §11.10 says.
        const stream = new RandomStream(new DeterministicRng(c.get('rngLabel').str()));
        for (const sample of c.get('samples').list())
          assert.equal(sampler.sample(stream), sample.get('value').int());
      }
      const g = root.get('gaussian');
      const produced = fillGaussian(
        new Float64Array(g.get('count').int()),
        g.get('stddev').f64(),
        new DeterministicRng(g.get('rngLabel').str()),
      );
      assert.deepEqual(Array.from(produced), g.get('samples').f64s());
    },
  },
  'dp-distributed.json': {
    'encodeClientUpdate reproduces every client’s vectors from its label; decodeRelease the release': (
      root,
    ) => {
      const announced = toReference(readAnnounced(root.get('announced')));
      const plan = privacyPlan(announced, root.get('cohort').get('clients').int());
      assert.deepEqual(
        plan.vectors.map((v) => ({ ...v })),
        root
          .get('derived')
          .get('vectors')
          .list()
          .map((v) => ({
            name: v.get('name').str(),
            length: v.get('length').int(),
            bits: v.get('bits').int(),
          })),
      );
      for (const c of root.get('clients').list()) {
        const update = new Map(
          readTensors(c.get('update')).map((t) => [
            t.name,
            t.type === 'float32' ? Float32Array.from(t.values) : Float64Array.from(t.values),
          ]),
        );
        const encoded = encodeClientUpdate(plan, update, new DeterministicRng(c.get('rngLabel').str()));
        const vectors = c.get('vectors');
        assert.deepEqual(
          encoded.vectors.map((v) => Array.from(v)),
          [vectors.get('clip_count').ints(), vectors.get('update').ints()],
        );
      }
      const co = root.get('coordinator');
      const sums = co.get('sums');
      const release = decodeRelease(
        plan,
        [Uint32Array.from(sums.get('clip_count').ints()), Uint32Array.from(sums.get('update').ints())],
        co.get('survivors').ints().length,
      );
      assert.deepEqual(Array.from(release.sum), co.get('decoded').f64s());
      assert.ok(Object.is(release.unclippedFraction, co.get('clipCount').get('unclippedFraction').f64()));
    },
  },
  'dp-central.json': {
    'encodeClientUpdate reproduces every client’s vectors from its label; decodeRelease the release': (
      root,
    ) => {
      const announced = toReference(readAnnounced(root.get('announced')));
      const plan = privacyPlan(announced, root.get('cohort').get('clients').int());
      for (const c of root.get('clients').list()) {
        const update = new Map(
          readTensors(c.get('update')).map((t) => [
            t.name,
            t.type === 'float32' ? Float32Array.from(t.values) : Float64Array.from(t.values),
          ]),
        );
        const encoded = encodeClientUpdate(plan, update, new DeterministicRng(c.get('rngLabel').str()));
        const vectors = c.get('vectors');
        assert.deepEqual(
          encoded.vectors.map((v) => Array.from(v)),
          [vectors.get('clip_count').ints(), vectors.get('update').ints()],
        );
      }
      const co = root.get('coordinator');
      const sums = co.get('sums');
      const release = decodeRelease(
        plan,
        [Uint32Array.from(sums.get('clip_count').ints()), Uint32Array.from(sums.get('update').ints())],
        co.get('survivors').ints().length,
        new DeterministicRng(co.get('rngLabel').str()),
      );
      assert.deepEqual(Array.from(release.sum), co.get('released').f64s());
      assert.ok(Object.is(release.unclippedFraction, co.get('clipCount').get('unclippedFraction').f64()));
    },
  },
};

// ---- the tests ---------------------------------------------------------------------------------------

function runChecks(checks: Checks, root: VectorNode): void {
  for (const check of Object.values(checks)) check(root);
}

/** Paths (of each file) whose removal must make the checks throw MissingVectorValue. */
const REMOVALS: Record<DpVectorFile, (string | number)[][]> = {
  'dp-context.json': [
    ['cases', 0, 'context'],
    ['cases', 1, 'fields', 3, 'bytes'],
    ['cases', 0, 'taskDigest'],
    ['cases', 2, 'privacy'],
  ],
  'dp-samplers.json': [
    ['fdlibm', 'log', 0, 'log'],
    ['logGamma', 3, 'logGamma'],
    ['poisson', 0, 'samples', 5, 'products'],
    ['poisson', 2, 'samples', 7, 'iterations', 0, 'outcome'],
    ['poisson', 3, 'constants', 'logInvAlpha'],
    ['gaussian', 'pairs', 0, 'factor'],
    ['gaussian', 'samples'],
  ],
  'dp-distributed.json': [
    ['announced', 'rotationSeed'],
    ['derived', 'squaredL2Sensitivity'],
    ['derived', 'rotation', 'signs'],
    ['clients', 0, 'rotated'],
    ['clients', 0, 'rounding', 'attempts', 1, 'words'],
    ['clients', 1, 'noise', 'samples', 3, 'subtracted'],
    ['clients', 2, 'clipCount', 'added'],
    ['clients', 3, 'vectors', 'update'],
    ['coordinator', 'sums'],
    ['coordinator', 'decoded'],
    ['coordinator', 'clipCount', 'unclippedFraction'],
  ],
  'dp-central.json': [
    ['derived', 'maxScale'],
    ['clients', 0, 'clipSteps'],
    ['clients', 1, 'quantize', 'words'],
    ['clients', 2, 'vectors', 'clip_count'],
    ['coordinator', 'noise', 'pairs'],
    ['coordinator', 'released'],
    ['coordinator', 'clipCount', 'noise', 'sample'],
  ],
};

describe('spec/test-vectors/dp-*.json', () => {
  for (const file of DP_VECTOR_FILES) {
    const published = load(file);
    const root = () => new VectorNode(published.json, '$', new Set());

    describe(`${file}: (a) recomputed independently from PROTOCOL.md §11`, () => {
      for (const [name, check] of Object.entries(CHECKS[file])) it(name, () => check(root()));
    });

    describe(`${file}: (b) the reference code`, () => {
      it('scripts/gen-dp-vectors.ts reproduces the file byte for byte', () => {
        assert.equal(serialiseDp(buildDpVectorFile(file)), published.text);
      });
      for (const [name, check] of Object.entries(REFERENCE[file])) it(name, () => check(root()));
    });

    describe(`${file}: a missing expected value throws`, () => {
      it('every value in the file is read by a check of (a)', () => {
        const reads = new Set<string>();
        runChecks(CHECKS[file], new VectorNode(published.json, '$', reads));
        const unread = leafPaths(published.json, '$').filter(
          (path) => !reads.has(path) && !PROSE.some((re) => re.test(path)),
        );
        assert.deepEqual(unread, [], 'values no check reads');
      });
      for (const path of REMOVALS[file]) {
        it(`without ${path.join('.')}: throws MissingVectorValue`, () => {
          const copy = structuredClone(published.json) as Record<string | number, unknown>;
          let at: Record<string | number, unknown> = copy;
          for (const key of path.slice(0, -1)) {
            at = at[key] as Record<string | number, unknown>;
            assert.ok(at !== undefined, `${path.join('.')} exists in the file`);
          }
          assert.ok(at[path.at(-1)!] !== undefined, `${path.join('.')} exists in the file`);
          delete at[path.at(-1)!];
          assert.throws(
            () => runChecks(CHECKS[file], new VectorNode(copy, '$', new Set())),
            MissingVectorValue,
          );
        });
      }
    });
  }

  it('a wrong value fails the check that recomputes it', () => {
    const copy = structuredClone(load('dp-distributed.json').json) as {
      clients: { rounding: { attempts: { words: number[] }[] } }[];
    };
    const words = copy.clients[0]!.rounding.attempts[0]!.words;
    words[3] = (words[3]! + 1) >>> 0;
    assert.throws(
      () =>
        DISTRIBUTED_CHECKS[
          'clients: norm, scaling, rotation, every rounding attempt, every noise draw, clip count (§11.3–§11.7)'
        ]!(new VectorNode(copy, '$', new Set())),
      assert.AssertionError,
    );
  });

  it('the independent ln and exp return StrictMath’s known answers (test/dp/fdlibm-kat.ts)', () => {
    const bits = (h: string): number => Buffer.from(h, 'hex').readDoubleBE(0);
    for (const [x, y] of LOG_KAT) assert.ok(Object.is(ln(bits(x)), bits(y)), `ln ${x}`);
    for (const [x, y] of EXP_KAT) assert.ok(Object.is(expo(bits(x)), bits(y)), `exp ${x}`);
  });

  it('the independent ln and exp agree with the reference port on the samplers’ arguments', () => {
    for (let i = 1; i < 5000; i++) {
      const x = i / 4999;
      assert.ok(Object.is(ln(x), reference.log(x)), `ln(${x})`);
      assert.ok(Object.is(expo(-10 * x), reference.exp(-10 * x)), `exp(${-10 * x})`);
    }
  });
});
