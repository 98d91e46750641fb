// Mask PRG, docs/PROTOCOL.md §6.1–6.2: per-vector HKDF key derivation and AES-128-CTR expansion
// added modulo 2^32, checked against @noble/ciphers and @noble/hashes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ctr } from '@noble/ciphers/aes.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import {
  addMask,
  addMasks,
  deriveMaskKey,
  expandMask,
  forcePortableMaskPath,
  type MaskKey,
  maskKernel,
  PAIR_MASK_LABEL,
  selfMaskLabel,
} from '../../src/secagg/crypto/prg.ts';
import { type ClientId, clientId, type VectorSpec } from '../../src/secagg/types.ts';
import { xorshiftWords } from '../fixtures/xorshift.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const maskKey = fc.record({ key: bytes16, iv: bytes16 });

/** The keystream as noble computes it: AES-128-CTR over zeros, words read little-endian. */
function nobleWords(mask: MaskKey, length: number): Uint32Array {
  const stream = ctr(mask.key, mask.iv).encrypt(new Uint8Array(4 * length));
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  return Uint32Array.from({ length }, (_, i) => view.getUint32(4 * i, true));
}

describe('expandMask', () => {
  it('is the AES-128-CTR keystream as little-endian words, like noble', () => {
    fc.assert(
      fc.property(maskKey, fc.integer({ min: 0, max: 300 }), (mask, length) => {
        assert.deepEqual(expandMask(mask, length), nobleWords(mask, length));
      }),
      { numRuns: 100 },
    );
  });

  it('increments the whole 16-byte counter big-endian, across 2^64 and 2^128 carries', () => {
    const key = new Uint8Array(16).fill(0x42);
    for (const ivHex of [
      'ffffffffffffffffffffffffffffffff',
      'fffffffffffffffffffffffffffffffe',
      '0000000000000000ffffffffffffffff',
    ]) {
      const mask = { key, iv: Uint8Array.from(Buffer.from(ivHex, 'hex')) };
      assert.deepEqual(expandMask(mask, 16), nobleWords(mask, 16), ivHex);
    }
  });

  it('crosses 64 KiB chunk boundaries consistently', () => {
    const mask = { key: new Uint8Array(16).fill(1), iv: new Uint8Array(16).fill(2) };
    const long = expandMask(mask, 40000);
    assert.deepEqual(long, nobleWords(mask, 40000));
    assert.deepEqual(expandMask(mask, 16385), long.subarray(0, 16385));
  });
});

describe('addMask', () => {
  const mask = { key: Uint8Array.from({ length: 16 }, (_, i) => i), iv: new Uint8Array(16).fill(0xa5) };

  for (const length of [0, 1, 5, 16383, 16384, 16385, 100003]) {
    it(`adds and subtracts the mask modulo 2^32 (length ${length})`, () => {
      const start = xorshiftWords(length, length + 7);
      const words = expandMask(mask, length);
      const acc = Uint32Array.from(start);
      addMask(acc, mask, 1);
      for (let i = 0; i < length; i++) {
        if (acc[i] !== (start[i]! + words[i]!) % 2 ** 32) assert.fail(`word ${i} after +1`);
      }
      addMask(acc, mask, -1);
      assert.deepEqual(acc, start);
      addMask(acc, mask, -1);
      for (let i = 0; i < length; i++) {
        if (acc[i] !== (start[i]! - words[i]! + 2 ** 32) % 2 ** 32) assert.fail(`word ${i} after -1`);
      }
    });
  }

  it('restores any accumulator after +1 then −1', () => {
    fc.assert(
      fc.property(
        maskKey,
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 100 }),
        (m, values) => {
          const acc = Uint32Array.from(values);
          addMask(acc, m, 1);
          addMask(acc, m, -1);
          assert.deepEqual(acc, Uint32Array.from(values));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('works on a view into a larger buffer without touching its neighbours', () => {
    const backing = new Uint32Array(50).fill(7);
    const view = backing.subarray(10, 30);
    addMask(view, mask, 1);
    const words = expandMask(mask, 20);
    assert.deepEqual(
      Array.from(view),
      Array.from(words, (w) => (w + 7) % 2 ** 32),
    );
    assert.ok(backing.subarray(0, 10).every((v) => v === 7));
    assert.ok(backing.subarray(30).every((v) => v === 7));
  });

  it('validates its arguments', () => {
    const acc = new Uint32Array(4);
    assert.throws(() => addMask(new Int32Array(4) as unknown as Uint32Array, mask, 1), TypeError);
    assert.throws(() => addMask(acc, mask, 0 as 1), RangeError);
    assert.throws(() => addMask(acc, mask, 2 as 1), RangeError);
    assert.throws(() => addMask(acc, mask, '1' as unknown as 1), TypeError);
    assert.throws(() => addMask(acc, { key: new Uint8Array(32), iv: mask.iv }, 1), RangeError);
    assert.throws(() => addMask(acc, { key: mask.key, iv: new Uint8Array(12) }, 1), RangeError);
    assert.throws(() => addMask(acc, null as unknown as MaskKey, 1), TypeError);
    assert.throws(() => expandMask(mask, -1), RangeError);
    assert.throws(() => expandMask(mask, 1.5), RangeError);
  });
});

describe('addMasks', () => {
  /** Σ sign · keystream, as noble computes it, added to `start`. */
  function reference(start: Uint32Array, terms: readonly { mask: MaskKey; sign: 1 | -1 }[]): Uint32Array {
    const out = start.slice();
    for (const { mask, sign } of terms) {
      const words = nobleWords(mask, start.length);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! + sign * words[i]!;
    }
    return out;
  }
  const term = (i: number, sign: 1 | -1) => ({
    mask: { key: new Uint8Array(16).fill(i), iv: Uint8Array.from({ length: 16 }, (_, j) => i * 16 + j) },
    sign,
  });

  for (const length of [1, 3, 5, 16383, 16385, 40001]) {
    it(`applies several masks in one pass, as one at a time would (length ${length})`, () => {
      const terms = [term(1, 1), term(2, -1), term(3, 1), term(4, 1), term(5, -1), term(6, -1), term(7, 1)];
      const start = xorshiftWords(length, length + 3);
      const acc = start.slice();
      addMasks(acc, terms);
      assert.deepEqual(acc, reference(start, terms));
      const oneByOne = start.slice();
      for (const t of terms) addMask(oneByOne, t.mask, t.sign);
      assert.deepEqual(acc, oneByOne);
    });
  }

  it('agrees with noble for any terms and accumulator', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ mask: maskKey, sign: fc.constantFrom(1 as const, -1 as const) }), {
          maxLength: 6,
        }),
        fc.uint32Array({ maxLength: 70 }),
        (terms, start) => {
          const acc = start.slice();
          addMasks(acc, terms);
          assert.deepEqual(acc, reference(start, terms));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reduces modulo 2^bits in the same pass when asked (kernel body and tail alike)', () => {
    for (const length of [1, 7, 16385, 40003]) {
      for (const bits of [1, 8, 24, 31, 32]) {
        const terms = [term(8, 1), term(9, -1), term(10, 1)];
        const start = xorshiftWords(length, bits * length + 1);
        const expected = reference(start, terms).map((w) => (bits === 32 ? w : w % 2 ** bits));
        const acc = start.slice();
        addMasks(acc, terms, bits);
        assert.deepEqual(acc, expected, `length ${length}, ${bits} bits`);
      }
    }
    const acc = Uint32Array.of(0x1ff, 0xffff_ffff, 3);
    addMasks(acc, [], 8);
    assert.deepEqual(acc, Uint32Array.of(0xff, 0xff, 3), 'no masks: only the reduction');
    assert.throws(() => addMasks(acc, [], 0), RangeError);
    assert.throws(() => addMasks(acc, [], 33), RangeError);
  });

  it('calls afterChunk once per 64 KiB chunk of the vector, on either path, without changing the result', () => {
    const terms = [term(11, 1), term(12, -1)];
    for (const portable of [false, true]) {
      forcePortableMaskPath(portable);
      try {
        for (const [length, chunks] of [
          [1, 1],
          [16384, 1],
          [16385, 2],
          [40001, 3],
        ] as const) {
          const start = xorshiftWords(length, length);
          const acc = start.slice();
          let calls = 0;
          addMasks(acc, terms, 32, () => {
            calls += 1;
          });
          assert.equal(calls, chunks, `length ${length}, portable ${portable}`);
          assert.deepEqual(acc, reference(start, terms));
        }
      } finally {
        forcePortableMaskPath(false);
      }
    }
  });

  it('checks every term before changing anything', () => {
    const acc = Uint32Array.of(1, 2, 3, 4, 5);
    assert.throws(() => addMasks(acc, [term(1, 1), { mask: term(2, 1).mask, sign: 0 as 1 }]), RangeError);
    assert.throws(
      () =>
        addMasks(acc, [term(1, 1), { mask: { key: new Uint8Array(8), iv: new Uint8Array(16) }, sign: 1 }]),
      RangeError,
    );
    assert.throws(() => addMasks(acc, 'terms' as unknown as []), TypeError);
    assert.deepEqual(acc, Uint32Array.of(1, 2, 3, 4, 5));
    addMasks(acc, []);
    assert.deepEqual(acc, Uint32Array.of(1, 2, 3, 4, 5), 'no terms: no change');
  });
});

describe('deriveMaskKey', () => {
  const seed = new Uint8Array(32).fill(1);
  const sessionId = new Uint8Array(32).fill(2);
  const spec: VectorSpec = { name: 'dense/kernel', length: 1000, bits: 20 };

  it('follows PROTOCOL.md §6.1 byte for byte', () => {
    const label = Buffer.concat([Buffer.from('privagg/v1/self-mask', 'ascii'), Buffer.from([7, 0, 0, 0])]);
    assert.equal(hex(selfMaskLabel(clientId(7))), hex(label));
    assert.equal(Buffer.from(PAIR_MASK_LABEL).toString('latin1'), 'privagg/v1/pair-mask');
    const info = Buffer.concat([
      label,
      Buffer.from([12, 0, 0, 0]),
      Buffer.from('dense/kernel', 'utf8'),
      Buffer.from([0xe8, 0x03, 0, 0]), // 1000
      Buffer.from([20]),
    ]);
    const okm = nobleHkdf(nobleSha256, seed, sessionId, info, 32);
    const mask = deriveMaskKey(seed, sessionId, selfMaskLabel(clientId(7)), spec);
    assert.equal(hex(mask.key), hex(okm.subarray(0, 16)));
    assert.equal(hex(mask.iv), hex(okm.subarray(16)));
    assert.ok(Object.isFrozen(mask));
  });

  it('changes when any input changes', () => {
    const base = deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, spec);
    const flipped = (b: Uint8Array, i: number) => {
      const c = Uint8Array.from(b);
      c[i] = c[i]! ^ 1;
      return c;
    };
    const variants: MaskKey[] = [
      deriveMaskKey(flipped(seed, 0), sessionId, PAIR_MASK_LABEL, spec),
      deriveMaskKey(flipped(seed, 31), sessionId, PAIR_MASK_LABEL, spec),
      deriveMaskKey(seed, flipped(sessionId, 0), PAIR_MASK_LABEL, spec),
      deriveMaskKey(seed, flipped(sessionId, 31), PAIR_MASK_LABEL, spec),
      deriveMaskKey(seed, sessionId, selfMaskLabel(clientId(1)), spec),
      deriveMaskKey(seed, sessionId, selfMaskLabel(clientId(2)), spec),
      deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, { ...spec, name: 'dense/kernem' }),
      deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, { ...spec, name: 'dense/kernel2' }),
      deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, { ...spec, length: 1001 }),
      deriveMaskKey(seed, sessionId, PAIR_MASK_LABEL, { ...spec, bits: 21 }),
    ];
    const all = [base, ...variants].map((m) => hex(m.key) + hex(m.iv));
    assert.equal(new Set(all).size, all.length);
    assert.notEqual(hex(base.key), hex(base.iv));
  });

  it('is deterministic', () => {
    const a = deriveMaskKey(seed, sessionId, selfMaskLabel(clientId(3)), spec);
    const b = deriveMaskKey(Uint8Array.from(seed), Uint8Array.from(sessionId), selfMaskLabel(clientId(3)), {
      ...spec,
    });
    assert.equal(hex(a.key) + hex(a.iv), hex(b.key) + hex(b.iv));
  });

  it('validates its arguments', () => {
    const ok =
      (over: Partial<Record<'seed' | 'sessionId' | 'label', unknown>>, s: unknown = spec) =>
      () =>
        deriveMaskKey(
          (over.seed ?? seed) as Uint8Array,
          (over.sessionId ?? sessionId) as Uint8Array,
          (over.label ?? PAIR_MASK_LABEL) as Uint8Array,
          s as VectorSpec,
        );
    assert.throws(ok({ seed: new Uint8Array(31) }), RangeError);
    assert.throws(ok({ sessionId: new Uint8Array(33) }), RangeError);
    assert.throws(ok({ label: new Uint8Array(0) }), RangeError);
    assert.throws(ok({ seed: 'seed' }), TypeError);
    assert.throws(ok({}, null), TypeError);
    assert.throws(ok({}, { ...spec, name: '' }), RangeError);
    assert.throws(ok({}, { ...spec, name: 'x'.repeat(256) }), RangeError);
    assert.throws(ok({}, { ...spec, name: 'é'.repeat(128) }), RangeError); // 256 UTF-8 bytes
    assert.doesNotThrow(ok({}, { ...spec, name: 'x'.repeat(255) }));
    assert.throws(ok({}, { ...spec, name: 3 }), TypeError);
    assert.throws(ok({}, { ...spec, length: 0 }), RangeError);
    assert.throws(ok({}, { ...spec, length: 2 ** 32 }), RangeError);
    assert.throws(ok({}, { ...spec, bits: 0 }), RangeError);
    assert.throws(ok({}, { ...spec, bits: 33 }), RangeError);
    assert.throws(() => selfMaskLabel(0 as ClientId), RangeError);
    assert.throws(() => selfMaskLabel((2 ** 32) as ClientId), RangeError);
  });
});

describe('the mask kernel', () => {
  it('is the WebAssembly SIMD kernel on this host (Node 20, little-endian)', () => {
    // Both paths are exact, so a kernel that failed to load would only show up as slowness.
    assert.equal(maskKernel(), 'wasm-simd');
  });

  describe('the portable JavaScript path gives the same results', () => {
    after(() => forcePortableMaskPath(false));
    it('adds, subtracts and reduces like noble, across chunks and tails', () => {
      forcePortableMaskPath(true);
      assert.equal(maskKernel(), 'javascript');
      for (const length of [1, 5, 16385, 40003]) {
        for (const bits of [8, 24, 32]) {
          const start = xorshiftWords(length, length * bits);
          const terms = [
            {
              mask: { key: new Uint8Array(16).fill(bits), iv: new Uint8Array(16).fill(length & 0xff) },
              sign: 1 as const,
            },
            { mask: { key: new Uint8Array(16).fill(7), iv: new Uint8Array(16).fill(3) }, sign: -1 as const },
          ];
          const expected = start.slice();
          for (const { mask, sign } of terms) {
            const words = nobleWords(mask, length);
            for (let i = 0; i < length; i++) expected[i] = expected[i]! + sign * words[i]!;
          }
          if (bits < 32) for (let i = 0; i < length; i++) expected[i] = expected[i]! % 2 ** bits;
          const acc = start.slice();
          addMasks(acc, terms, bits);
          assert.deepEqual(acc, expected, `length ${length}, ${bits} bits`);
        }
      }
      forcePortableMaskPath(false);
      assert.equal(maskKernel(), 'wasm-simd');
    });
  });
});
