/**
 * The core's size limits fail closed: a round whose vectors exceed MAX_VECTOR_ELEMENTS (2^28 words
 * per client) is refused when its parameters are validated, naming the maximum, and the wire's
 * reassembler refuses such specs when it is built — never when a client's first chunk arrives (a
 * typed array of 2^32 words cannot be allocated: that RangeError used to kill the coordinator). A
 * large cohort's parameters hash without one argument per client (that overflowed the stack).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_VECTOR_ELEMENTS, ParameterError, roundParams } from '../../src/secagg/params.ts';
import { MaskedInputAssembler } from '../../src/wire/masked.ts';

const base = { round: 1, serverModel: 'semi-honest' as const, threshold: 2, clients: [1, 2, 3] };
const tooLong = (error: unknown, pattern: RegExp) =>
  error instanceof ParameterError && error.problem === 'invalid' && pattern.test(error.message);

describe('vector length limits', () => {
  it('accept vectors up to 2^28 elements in all', () => {
    const params = roundParams({
      ...base,
      vectors: [
        { name: 'a', length: MAX_VECTOR_ELEMENTS - 1, bits: 32 },
        { name: 'b', length: 1, bits: 8 },
      ],
    });
    assert.equal(params.vectors.length, 2);
    assert.doesNotThrow(() => new MaskedInputAssembler(params.vectors));
  });

  it('refuse one vector, or several together, longer than that, naming the maximum', () => {
    for (const length of [MAX_VECTOR_ELEMENTS + 1, 0xffff_ffff]) {
      assert.throws(
        () => roundParams({ ...base, vectors: [{ name: 'sum', length, bits: 32 }] }),
        (error: unknown) => tooLong(error, /length of vector 'sum' must be an integer in \[1, 268435456\]/),
      );
    }
    assert.throws(
      () =>
        roundParams({
          ...base,
          vectors: [
            { name: 'a', length: MAX_VECTOR_ELEMENTS, bits: 32 },
            { name: 'b', length: 1, bits: 32 },
          ],
        }),
      (error: unknown) => tooLong(error, /268435457 elements in all, above the maximum 268435456/),
    );
  });

  it('make the reassembler refuse such specs when built, before any chunk', () => {
    for (const vectors of [
      [{ name: 'sum', length: 0xffff_ffff, bits: 32 }],
      [
        { name: 'a', length: MAX_VECTOR_ELEMENTS, bits: 32 },
        { name: 'b', length: 1, bits: 1 },
      ],
    ]) {
      assert.throws(() => new MaskedInputAssembler(vectors), /above the maximum 268435456/);
    }
  });
});

describe('cohort size', () => {
  it('hashes the parameters of 300,000 clients (one argument per client overflowed the stack)', () => {
    const clients = Array.from({ length: 300_000 }, (_, i) => i + 1);
    const params = roundParams({
      ...base,
      threshold: 150_001, // 2t > n
      clients,
      vectors: [{ name: 'sum', length: 4, bits: 32 }],
    });
    assert.equal(params.clients.length, 300_000);
    assert.equal(params.configHash.length, 32);
  });
});
