// Quantization, docs/PROTOCOL.md §8: stochastic rounding, decoding of sums, and the no-wrap bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  dequantizeSum,
  maxScale,
  type QuantizeOptions,
  quantize,
  toSigned,
} from '../../src/secagg/quantize.ts';
import { addInto, reduceInto } from '../../src/secagg/ring.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { Rng } from '../../src/secagg/types.ts';

// Every assert.ok carries a message: without one, a failing assert.ok makes Node re-parse this file
// to quote the expression, and under fast-check's shrinking that turns a quick failure into minutes.

// ---- helpers ----------------------------------------------------------------------------------------

/**
 * A double as an exact fraction n / 2^k, found by doubling until it is an integer (doubling is exact
 * for these magnitudes). Independent of the bit-twiddling inside quantize.ts on purpose.
 */
function exact(x: number): { n: bigint; k: number } {
  let k = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    k++;
  }
  return { n: BigInt(x), k };
}

/** ⌈a · b⌉ in exact arithmetic, for positive doubles a and b. */
function exactCeilProduct(a: number, b: number): bigint {
  const x = exact(a);
  const y = exact(b);
  const den = 1n << BigInt(x.k + y.k);
  const num = x.n * y.n;
  return (num + den - 1n) / den;
}

/** The §8 condition m · ⌈c · s⌉ ≤ 2^(bits−1) − 1, evaluated exactly. */
function noWrap(bits: number, clip: number, clients: number, scale: number): boolean {
  return BigInt(clients) * exactCeilProduct(clip, scale) <= 2n ** BigInt(bits - 1) - 1n;
}

/** The next double above a positive double. */
function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

/** An rng that returns the given byte, repeated, and records every request. */
function constantRng(byte: number): Rng & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    randomBytes(length: number) {
      calls.push(length);
      return new Uint8Array(length).fill(byte);
    },
  };
}

/** Quantizes each client's vector, sums mod 2^bits as the server would, and decodes. */
function aggregate(clients: readonly Float64Array[], options: QuantizeOptions, rng: Rng): Float64Array {
  const acc = new Uint32Array(clients[0]!.length);
  for (const values of clients) addInto(acc, quantize(values, options, rng));
  reduceInto(acc, options.bits);
  return dequantizeSum(acc, options);
}

const clipped = (x: number, c: number) => Math.min(c, Math.max(-c, x));

/** The largest number of clients `bits` can hold, capped to keep the tests small. */
const clientsFor = (bits: number, cap: number) => Math.min(cap, 2 ** (bits - 1) - 1);

// ---- toSigned and dequantizeSum ---------------------------------------------------------------------

describe('toSigned', () => {
  it('reads two’s complement', () => {
    assert.equal(toSigned(0, 8), 0);
    assert.equal(toSigned(127, 8), 127);
    assert.equal(toSigned(128, 8), -128);
    assert.equal(toSigned(255, 8), -1);
    assert.equal(toSigned(1, 1), -1);
    assert.equal(toSigned(0x7fff_ffff, 32), 0x7fff_ffff);
    assert.equal(toSigned(0x8000_0000, 32), -0x8000_0000);
    assert.equal(toSigned(0xffff_ffff, 32), -1);
  });

  it('rejects values outside [0, 2^bits) and bad widths', () => {
    for (const value of [-1, 256, 1.5, Number.NaN]) {
      assert.throws(() => toSigned(value, 8), { name: 'RangeError', message: /value must be an integer/ });
    }
    assert.throws(() => toSigned('1' as unknown as number, 8), { name: 'TypeError', message: /value/ });
    assert.throws(() => toSigned(0, 33), { name: 'RangeError', message: /bits/ });
  });
});

describe('dequantizeSum', () => {
  it('reads each element as signed and divides by the scale', () => {
    assert.deepEqual(
      dequantizeSum(Uint32Array.of(0, 127, 128, 255), { bits: 8, scale: 4 }),
      Float64Array.of(0, 31.75, -32, -0.25),
    );
    assert.deepEqual(
      dequantizeSum(Uint32Array.of(0x8000_0000, 0xffff_ffff, 3), { bits: 32, scale: 2 }),
      Float64Array.of(-0x4000_0000, -0.5, 1.5),
    );
  });

  it('agrees with toSigned for every width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 32 }),
        fc.uint32Array({ minLength: 1, maxLength: 30 }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        (bits, raw, scale) => {
          const sum = raw.slice();
          reduceInto(sum, bits);
          const out = dequantizeSum(sum, { bits, scale });
          sum.forEach((z, i) => {
            assert.equal(out[i], toSigned(z, bits) / scale);
          });
        },
      ),
    );
  });

  it('rejects unreduced elements, naming the index, and bad options', () => {
    assert.throws(() => dequantizeSum(Uint32Array.of(0, 256), { bits: 8, scale: 1 }), {
      name: 'RangeError',
      message: /sum\[1\] = 256 is not below 2\^8/,
    });
    assert.throws(() => dequantizeSum([1] as unknown as Uint32Array, { bits: 8, scale: 1 }), {
      name: 'TypeError',
      message: /sum/,
    });
    assert.throws(() => dequantizeSum(new Uint32Array(1), null as unknown as QuantizeOptions), {
      name: 'TypeError',
      message: /options/,
    });
    assert.throws(() => dequantizeSum(new Uint32Array(1), { bits: 1, scale: 1 }), {
      name: 'RangeError',
      message: /options\.bits/,
    });
    for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => dequantizeSum(new Uint32Array(1), { bits: 8, scale }), {
        name: 'RangeError',
        message: /options\.scale/,
      });
    }
  });
});

// ---- maxScale ---------------------------------------------------------------------------------------

describe('maxScale', () => {
  it('gives the bound on simple cases', () => {
    assert.equal(maxScale(16, 1, 1), 32767);
    assert.equal(maxScale(16, 1, 3), 10922);
    assert.equal(maxScale(16, 0.5, 2), 32766);
    assert.equal(maxScale(32, 1, 1), 0x7fff_ffff);
    assert.equal(maxScale(2, 1, 1), 1);
    assert.equal(maxScale(2, 4, 1), 0.25);
  });

  it('steps below a quotient that floating point rounds too high', () => {
    // 127 / 0.1 is 1270 in doubles, but the double 0.1 is slightly above 1/10, so 0.1 · 1270 > 127
    // exactly and ⌈0.1 · 1270⌉ = 128 would break the bound.
    assert.equal(127 / 0.1, 1270);
    assert.equal(noWrap(8, 0.1, 1, 1270), false);
    const s = maxScale(8, 0.1, 1);
    assert.ok(s < 1270 && s > 1269.99, `maxScale(8, 0.1, 1) = ${s}`);
    assert.ok(noWrap(8, 0.1, 1, s), `maxScale(8, 0.1, 1) = ${s} breaks the bound`);
  });

  it('returns the largest scale that satisfies m · ⌈c · s⌉ ≤ 2^(bits−1) − 1, exactly', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 32 })
          .chain((bits) =>
            fc.tuple(fc.constant(bits), fc.integer({ min: 1, max: clientsFor(bits, 100_000) })),
          ),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        ([bits, clients], clip) => {
          const s = maxScale(bits, clip, clients);
          assert.ok(Number.isFinite(s) && s > 0, `maxScale(${bits}, ${clip}, ${clients}) = ${s}`);
          assert.ok(
            noWrap(bits, clip, clients, s),
            `maxScale(${bits}, ${clip}, ${clients}) = ${s} breaks the bound`,
          );
          assert.ok(!noWrap(bits, clip, clients, nextUp(s)), `a larger scale than ${s} also fits`);
        },
      ),
    );
  });

  it('rejects bad arguments, naming them', () => {
    assert.throws(() => maxScale(1, 1, 1), {
      name: 'RangeError',
      message: /bits must be an integer in 2\.\.32/,
    });
    assert.throws(() => maxScale(33, 1, 1), { name: 'RangeError', message: /bits/ });
    for (const clip of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => maxScale(16, clip, 1), { name: 'RangeError', message: /clip/ });
    }
    for (const clients of [0, 1.5, -3]) {
      assert.throws(() => maxScale(16, 1, clients), { name: 'RangeError', message: /clients/ });
    }
    assert.throws(() => maxScale(8, 1, 128), {
      name: 'RangeError',
      message: /clients must be at most 2\^\(bits-1\)-1 = 127 for 8 bits, got 128/,
    });
    assert.equal(maxScale(8, 1, 127), 1);
    assert.throws(() => maxScale(16, '1' as unknown as number, 1), { name: 'TypeError', message: /clip/ });
  });
});

// ---- quantize ---------------------------------------------------------------------------------------

describe('quantize', () => {
  it('rounds up iff the little-endian u32 is below frac · 2^32', () => {
    const options = { bits: 8, clip: 4, scale: 1, clients: 1 };
    const bytesRng = (bytes: number[]): Rng => ({ randomBytes: () => Uint8Array.from(bytes) });
    // v = 2.5: frac · 2^32 = 2^31.
    assert.deepEqual(
      quantize(Float64Array.of(2.5), options, bytesRng([0xff, 0xff, 0xff, 0x7f])),
      Uint32Array.of(3),
    );
    assert.deepEqual(
      quantize(Float64Array.of(2.5), options, bytesRng([0x00, 0x00, 0x00, 0x80])),
      Uint32Array.of(2),
    );
    // v = −2.5: ⌊v⌋ = −3, frac = 0.5; −3 and −2 mod 2^8.
    assert.deepEqual(quantize(Float64Array.of(-2.5), options, bytesRng([0, 0, 0, 0])), Uint32Array.of(254));
    assert.deepEqual(
      quantize(Float64Array.of(-2.5), options, bytesRng([0, 0, 0, 0x80])),
      Uint32Array.of(253),
    );
    // An integer v is never rounded, even by u = 0.
    assert.deepEqual(quantize(Float64Array.of(-2, 3), options, constantRng(0)), Uint32Array.of(254, 3));
    // Clipping comes first: ±10 become ±4.
    assert.deepEqual(quantize(Float64Array.of(10, -10), options, constantRng(0)), Uint32Array.of(4, 252));
  });

  it('draws exactly 4 · length random bytes in one call, and zeroes them after use', () => {
    const drawn: Uint8Array[] = [];
    const rng: Rng = {
      randomBytes(length) {
        const bytes = new Uint8Array(length).fill(0x5a);
        drawn.push(bytes);
        return bytes;
      },
    };
    quantize(new Float64Array(37).fill(0.3), { bits: 16, clip: 1, scale: 100, clients: 3 }, rng);
    assert.equal(drawn.length, 1);
    assert.equal(drawn[0]!.length, 4 * 37);
    assert.ok(
      drawn[0]!.every((b) => b === 0),
      'random bytes were not zeroed',
    );
  });

  it('is exact on multiples of 1/scale', () => {
    // A power-of-two scale keeps k / scale exact in floating point, so x · scale is the integer k.
    const setting = fc
      .integer({ min: 4, max: 32 })
      .chain((bits) => fc.tuple(fc.constant(bits), fc.integer({ min: 1, max: clientsFor(bits, 16) })))
      .chain(([bits, m]) => {
        const scale = 2 ** Math.floor(Math.log2(maxScale(bits, 1, m)));
        const k = fc.integer({ min: -scale, max: scale }); // |k / scale| ≤ clip = 1
        return fc.record({
          bits: fc.constant(bits),
          scale: fc.constant(scale),
          ks: fc
            .integer({ min: 1, max: 30 })
            .chain((length) =>
              fc.array(fc.array(k, { minLength: length, maxLength: length }), { minLength: m, maxLength: m }),
            ),
        });
      });
    fc.assert(
      fc.property(setting, fc.string(), ({ bits, scale, ks }, seed) => {
        const options = { bits, clip: 1, scale, clients: ks.length };
        const rng = new DeterministicRng(seed);
        const clients = ks.map((k) => Float64Array.from(k, (ki) => ki / scale));
        ks.forEach((k, c) => {
          const q = quantize(clients[c]!, options, rng);
          k.forEach((ki, i) => {
            assert.equal(toSigned(q[i]!, bits), ki);
          });
        });
        const decoded = aggregate(clients, options, rng);
        decoded.forEach((value, i) => {
          assert.equal(value, ks.reduce((sum, k) => sum + k[i]!, 0) / scale);
        });
      }),
      { numRuns: 80 },
    );
  });

  it('decodes the sum of m clients to within m/scale of the true clipped sum', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 8, max: 32 })
          .chain((bits) => fc.tuple(fc.constant(bits), fc.integer({ min: 1, max: clientsFor(bits, 20) }))),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.string(),
        ([bits, m], clip, fraction, length, seed) => {
          const scale = maxScale(bits, clip, m) * fraction;
          const options = { bits, clip, scale, clients: m };
          const rng = new DeterministicRng(`values/${seed}`);
          // Values up to 3× the clip bound, so that clipping is exercised too.
          const clients = Array.from({ length: m }, () => {
            const bytes = rng.randomBytes(4 * length);
            return Float64Array.from({ length }, (_, i) => {
              const u = new DataView(bytes.buffer).getUint32(4 * i, true) / 2 ** 32;
              return (u * 6 - 3) * clip;
            });
          });
          const decoded = aggregate(clients, options, new DeterministicRng(`rounding/${seed}`));
          for (let i = 0; i < length; i++) {
            const truth = clients.reduce((sum, values) => sum + clipped(values[i]!, clip), 0);
            // Each client is off by less than one unit (1/scale); the slack covers floating point.
            const slack = 1e-9 * (Math.abs(truth) + m * clip);
            assert.ok(
              Math.abs(decoded[i]! - truth) <= m / scale + slack,
              `element ${i}: decoded ${decoded[i]}, true ${truth}, bound ${m / scale}`,
            );
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('only ever rounds to one of the two neighbouring integers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 32 }),
        fc.float64Array({ minLength: 1, maxLength: 30, noNaN: true, noDefaultInfinity: true }),
        fc.string(),
        (bits, values, seed) => {
          const clip = 1.5;
          const scale = maxScale(bits, clip, 1);
          const q = quantize(values, { bits, clip, scale, clients: 1 }, new DeterministicRng(seed));
          values.forEach((x, i) => {
            const v = clipped(x, clip) * scale;
            const got = toSigned(q[i]!, bits);
            assert.ok(got === Math.floor(v) || got === Math.ceil(v), `${x} · ${scale} rounded to ${got}`);
          });
        },
      ),
    );
  });

  it('is unbiased: the mean of many roundings is the scaled value', () => {
    const n = 200_000;
    const cases = [
      { x: 0.3, scale: 1 },
      { x: -2.7, scale: 1 },
      { x: 0.01, scale: 1 },
      { x: 0.999, scale: 1 },
      { x: 0.123456, scale: 1000 },
      { x: -0.5, scale: 3 },
    ];
    for (const { x, scale } of cases) {
      const rng = new DeterministicRng(`privagg/test/unbiased/${x}/${scale}`);
      const q = quantize(new Float64Array(n).fill(x), { bits: 32, clip: 8, scale, clients: 1 }, rng);
      let sum = 0;
      for (const z of q) sum += toSigned(z, 32);
      const v = x * scale;
      const p = v - Math.floor(v);
      // Each draw is ⌊v⌋ + Bernoulli(p): the mean's standard deviation is √(p(1−p)/n). Five of them
      // (plus the 2^-32 granularity of the threshold) would be exceeded by chance with odds ~ 10^-6;
      // the stream is seeded, so the test is also reproducible.
      const tolerance = 5 * Math.sqrt((p * (1 - p)) / n) + 2 ** -32;
      assert.ok(
        Math.abs(sum / n - v) <= tolerance,
        `x = ${x}, scale = ${scale}: mean ${sum / n}, expected ${v}`,
      );
    }
  });

  it('accepts Float32Array input, with the same result as the equal Float64Array', () => {
    const f32 = Float32Array.of(0.1, -0.7, 3, -3, 1e-8);
    const options = { bits: 20, clip: 2, scale: 1000, clients: 4 };
    const a = quantize(f32, options, new DeterministicRng('f32'));
    const b = quantize(Float64Array.from(f32), options, new DeterministicRng('f32'));
    assert.deepEqual(a, b);
  });

  it('handles an empty vector', () => {
    assert.deepEqual(
      quantize(new Float64Array(0), { bits: 8, clip: 1, scale: 1, clients: 1 }, constantRng(0)),
      new Uint32Array(0),
    );
  });
});

// ---- the no-wrap bound ------------------------------------------------------------------------------

describe('quantize: the no-overflow bound', () => {
  const settings = [
    { bits: 2, clip: 1, clients: 1 },
    { bits: 2, clip: 0.3, clients: 1 },
    { bits: 8, clip: 0.1, clients: 1 },
    { bits: 8, clip: 0.1, clients: 127 },
    { bits: 8, clip: 1, clients: 50 },
    { bits: 16, clip: 1, clients: 3 },
    { bits: 16, clip: 0.3, clients: 7 },
    { bits: 20, clip: 7, clients: 5 },
    { bits: 24, clip: 1e-3, clients: 1000 },
    { bits: 32, clip: 1, clients: 1 },
    { bits: 32, clip: 12.5, clients: 65_535 },
    { bits: 32, clip: 0.1, clients: 3 },
  ];

  it('refuses a scale above maxScale, spelling out the bound, before drawing randomness', () => {
    for (const { bits, clip, clients } of settings) {
      const bound = maxScale(bits, clip, clients);
      for (const scale of [nextUp(bound), bound * 2]) {
        const rng = constantRng(0);
        assert.throws(() => quantize(Float64Array.of(clip), { bits, clip, scale, clients }, rng), {
          name: 'RangeError',
          message: new RegExp(`must be ≤ 2\\^\\(bits-1\\)-1 = ${2 ** (bits - 1) - 1}.*maxScale = ${bound}`),
        });
        assert.deepEqual(rng.calls, []);
      }
    }
  });

  it('at maxScale, all clients at +clip or all at −clip decode without wrap-around', () => {
    for (const { bits, clip, clients } of settings) {
      const scale = maxScale(bits, clip, clients);
      const options = { bits, clip, scale, clients };
      // The adversarial streams: u = 0 always rounds up (worst for +clip), u = 2^32 − 1 never does
      // (worst for −clip); and the values sit beyond the clip bound, so clipping is in play as well.
      const up = constantRng(0x00);
      const down = constantRng(0xff);
      const top = Array.from({ length: clients }, () => Float64Array.of(clip, clip * 1.5, 1e300));
      const bottom = Array.from({ length: clients }, () => Float64Array.of(-clip, -clip * 1.5, -1e300));
      const extreme = clients * Number(exactCeilProduct(clip, scale));
      assert.ok(
        extreme <= 2 ** (bits - 1) - 1,
        `bits ${bits}, clip ${clip}, ${clients} clients: bound broken`,
      );
      for (const [vectors, rng, sign] of [
        [top, up, 1],
        [bottom, down, -1],
      ] as const) {
        for (const value of aggregate(vectors, options, rng)) {
          assert.ok(
            Math.sign(value) === sign,
            `bits ${bits}, clip ${clip}, ${clients} clients: wrapped to ${value}`,
          );
          assert.ok(
            Math.abs(value - sign * clients * clip) <= clients / scale + 1e-9 * clients * clip,
            `bits ${bits}, clip ${clip}, ${clients} clients: decoded ${value}`,
          );
        }
      }
    }
  });

  it('holds for random settings with a random stream', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 32 })
          .chain((bits) => fc.tuple(fc.constant(bits), fc.integer({ min: 1, max: clientsFor(bits, 200) }))),
        fc.double({ min: 1e-4, max: 1e4, noNaN: true }),
        fc.constantFrom(1, -1),
        fc.string(),
        ([bits, clients], clip, sign, seed) => {
          const scale = maxScale(bits, clip, clients);
          const options = { bits, clip, scale, clients };
          const vectors = Array.from({ length: clients }, () => Float64Array.of(sign * clip));
          const [value] = aggregate(vectors, options, new DeterministicRng(seed));
          assert.equal(Math.sign(value!), sign);
          assert.ok(
            Math.abs(value! - sign * clients * clip) <= clients / scale + 1e-9 * clients * clip,
            `bits ${bits}, clip ${clip}, ${clients} clients: decoded ${value}`,
          );
        },
      ),
    );
  });
});

// ---- argument validation ----------------------------------------------------------------------------

describe('quantize: argument validation', () => {
  const options = { bits: 16, clip: 1, scale: 100, clients: 10 };

  it('rejects NaN and ±Infinity, naming the index, without drawing randomness', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const rng = constantRng(0);
      const values = Float64Array.of(0.5, 0, bad, 1);
      assert.throws(() => quantize(values, options, rng), {
        name: 'RangeError',
        message: new RegExp(`values\\[2\\] is ${bad}`),
      });
      assert.deepEqual(rng.calls, []);
    }
    assert.throws(() => quantize(Float32Array.of(Number.NaN), options, constantRng(0)), {
      name: 'RangeError',
      message: /values\[0\] is NaN/,
    });
  });

  it('rejects wrong types with a TypeError naming the argument', () => {
    const rng = constantRng(0);
    for (const values of [[0.5], Int32Array.of(1), new Uint32Array(1), null]) {
      assert.throws(() => quantize(values as unknown as Float64Array, options, rng), {
        name: 'TypeError',
        message: /values must be a Float64Array or Float32Array/,
      });
    }
    assert.throws(() => quantize(Float64Array.of(0), null as unknown as QuantizeOptions, rng), {
      name: 'TypeError',
      message: /options must be an object/,
    });
    for (const field of ['bits', 'clip', 'scale', 'clients'] as const) {
      assert.throws(() => quantize(Float64Array.of(0), { ...options, [field]: '1' }, rng), {
        name: 'TypeError',
        message: new RegExp(`options\\.${field}`),
      });
    }
    for (const bad of [null, {}, { randomBytes: 1 }]) {
      assert.throws(() => quantize(Float64Array.of(0), options, bad as unknown as Rng), {
        name: 'TypeError',
        message: /rng/,
      });
    }
    const arrayRng = { randomBytes: (n: number) => new Array(n).fill(0) } as unknown as Rng;
    assert.throws(() => quantize(Float64Array.of(0), options, arrayRng), {
      name: 'TypeError',
      message: /rng/,
    });
  });

  it('rejects out-of-range options with a RangeError naming them', () => {
    const rng = constantRng(0);
    const cases: [Partial<QuantizeOptions>, RegExp][] = [
      [{ bits: 1 }, /options\.bits/],
      [{ bits: 33 }, /options\.bits/],
      [{ clip: 0 }, /options\.clip/],
      [{ clip: Number.POSITIVE_INFINITY }, /options\.clip/],
      [{ scale: -1 }, /options\.scale/],
      [{ scale: Number.NaN }, /options\.scale/],
      [{ clients: 0 }, /options\.clients/],
      [{ clients: 2.5 }, /options\.clients/],
    ];
    for (const [patch, message] of cases) {
      assert.throws(() => quantize(Float64Array.of(0), { ...options, ...patch }, rng), {
        name: 'RangeError',
        message,
      });
    }
    assert.deepEqual(rng.calls, []);
  });

  it('rejects an rng that returns the wrong number of bytes', () => {
    const short: Rng = { randomBytes: (n) => new Uint8Array(n - 1) };
    assert.throws(() => quantize(Float64Array.of(0, 1), options, short), {
      name: 'RangeError',
      message: /rng\.randomBytes\(8\) returned 7 bytes/,
    });
  });

  it('does not modify its input', () => {
    const values = Float64Array.of(5, -5, 0.25);
    quantize(values, options, new DeterministicRng('input'));
    assert.deepEqual(values, Float64Array.of(5, -5, 0.25));
  });
});
