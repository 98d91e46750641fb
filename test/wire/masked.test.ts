/**
 * Masked vectors in chunks (PROTOCOL.md §4.3, §6.3): chunkPackedVector and MaskedInputAssembler,
 * including a 10M-element 32-bit vector in frames of at most 1 MiB of data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { packBits, packedLength } from '../../src/secagg/bitpack.ts';
import { UsageError } from '../../src/secagg/errors.ts';
import type { VectorSpec } from '../../src/secagg/types.ts';
import {
  chunkPackedVector,
  clientMessageToFrames,
  DEFAULT_MAX_CHUNK_BYTES,
  type MaskedChunk,
  type MaskedChunkFrame,
  MaskedInputAssembler,
  parseClientFrame,
} from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';
import * as fx from './fixtures.ts';

describe('chunkPackedVector', () => {
  it('cuts into pieces of at most maxChunkBytes, in order, the last one marked', () => {
    const chunks = [...chunkPackedVector(fx.bytes(10, 1), 4)];
    assert.deepEqual(
      chunks.map((c) => [c.offset, c.data.length, c.last]),
      [
        [0, 4, false],
        [4, 4, false],
        [8, 2, true],
      ],
    );
    assert.equal([...chunkPackedVector(fx.bytes(8, 1), 8)].length, 1);
  });

  it('rejects an empty vector and a non-positive chunk size', () => {
    assert.throws(() => [...chunkPackedVector(new Uint8Array(0), 4)], RangeError);
    assert.throws(() => [...chunkPackedVector(fx.bytes(4, 1), 0)], RangeError);
    assert.throws(() => [...chunkPackedVector(fx.bytes(4, 1), 1.5)], RangeError);
    assert.throws(() => [...chunkPackedVector([1, 2] as unknown as Uint8Array, 1)], TypeError);
  });
});

const SPECS: readonly VectorSpec[] = [
  { name: 'a', length: 10, bits: 12 }, // 15 bytes
  { name: 'b', length: 3, bits: 32 }, // 12 bytes
];

const chunk = (vectorIndex: number, offset: number, length: number, last: boolean): MaskedChunk => ({
  vectorIndex,
  offset,
  data: fx.bytes(length, offset + 1).map((b) => b & 0x0f),
  last,
});

/** Asserts a WireFormatError about `field`, and that the assembler stays failed. */
function rejectsChunk(
  assembler: MaskedInputAssembler,
  bad: MaskedChunk,
  field: string,
  problem: RegExp,
): void {
  const check = (error: unknown) => {
    assert.ok(error instanceof WireFormatError);
    assert.equal(error.direction, 'decode');
    assert.equal(error.field, field);
    assert.match(error.problem, problem);
    return true;
  };
  assert.throws(() => assembler.accept(bad), check);
  assert.equal(assembler.failed, true);
  assert.equal(assembler.complete, false);
  // Failed for good: even a chunk that would have fitted is refused, with the same error.
  assert.throws(() => assembler.accept(chunk(1, 0, 12, true)), check);
  assert.throws(() => assembler.packedVectors(), check);
}

describe('MaskedInputAssembler', () => {
  it('accepts interleaved vectors and reports completion only at the end', () => {
    const assembler = new MaskedInputAssembler(SPECS);
    assembler.accept(chunk(0, 0, 5, false));
    assembler.accept(chunk(1, 0, 12, true));
    assert.equal(assembler.complete, false);
    assert.throws(() => assembler.packedVectors(), UsageError);
    assembler.accept(chunk(0, 5, 10, true));
    assert.equal(assembler.complete, true);
    assert.equal(assembler.packedVectors()[0]!.length, 15);
    assert.equal(assembler.packedVectors()[1]!.length, 12);
  });

  it('copies chunk data (the caller may reuse its buffer)', () => {
    const assembler = new MaskedInputAssembler([{ name: 'x', length: 2, bits: 8 }]);
    const data = Uint8Array.of(1, 2);
    assembler.accept({ vectorIndex: 0, offset: 0, data, last: true });
    data.fill(9);
    assert.deepEqual(assembler.message().vectors[0], Uint32Array.of(1, 2));
  });

  it('rejects an unknown vector index', () => {
    rejectsChunk(
      new MaskedInputAssembler(SPECS),
      chunk(2, 0, 1, false),
      'masked_input_chunk.vector_index',
      /no vector/,
    );
  });

  it('rejects a gap', () => {
    const assembler = new MaskedInputAssembler(SPECS);
    assembler.accept(chunk(0, 0, 5, false));
    rejectsChunk(assembler, chunk(0, 6, 9, true), 'masked_input_chunk.offset', /expected 5/);
  });

  it('rejects an overlap', () => {
    const assembler = new MaskedInputAssembler(SPECS);
    assembler.accept(chunk(0, 0, 5, false));
    rejectsChunk(assembler, chunk(0, 4, 11, true), 'masked_input_chunk.offset', /expected 5/);
  });

  it('rejects a first chunk that does not start at 0', () => {
    rejectsChunk(
      new MaskedInputAssembler(SPECS),
      chunk(0, 1, 4, false),
      'masked_input_chunk.offset',
      /expected 0/,
    );
  });

  it('rejects a chunk running past the packed length', () => {
    rejectsChunk(
      new MaskedInputAssembler(SPECS),
      chunk(0, 0, 16, true),
      'masked_input_chunk.data',
      /beyond .* 15/,
    );
  });

  it('rejects `last` on a chunk that does not end the vector, and its absence on one that does', () => {
    rejectsChunk(new MaskedInputAssembler(SPECS), chunk(0, 0, 14, true), 'masked_input_chunk.last', /true/);
    rejectsChunk(new MaskedInputAssembler(SPECS), chunk(0, 0, 15, false), 'masked_input_chunk.last', /false/);
  });

  it('rejects an empty chunk', () => {
    rejectsChunk(new MaskedInputAssembler(SPECS), chunk(0, 0, 0, false), 'masked_input_chunk.data', /empty/);
  });

  it('rejects a chunk for a vector that is already complete', () => {
    const assembler = new MaskedInputAssembler(SPECS);
    assembler.accept(chunk(1, 0, 12, true));
    rejectsChunk(assembler, chunk(1, 12, 1, true), 'masked_input_chunk.vector_index', /already complete/);
  });

  it('rejects non-zero padding bits when unpacking (PROTOCOL.md §6.3)', () => {
    const assembler = new MaskedInputAssembler([{ name: 'x', length: 3, bits: 4 }]);
    assembler.accept({ vectorIndex: 0, offset: 0, data: Uint8Array.of(0x21, 0x13), last: true });
    assert.equal(assembler.complete, true);
    assert.throws(
      () => assembler.message(),
      (e: unknown) => e instanceof WireFormatError && /padding/.test(e.problem),
    );
    assert.equal(assembler.failed, true);
  });

  it('property: any vectors, any chunk size, any interleaving reassemble exactly', () => {
    const spec = fc.record({
      length: fc.integer({ min: 1, max: 200 }),
      bits: fc.integer({ min: 1, max: 32 }),
    });
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 64 }),
        fc.infiniteStream(fc.nat()),
        fc.nat(),
        (shapes, maxChunkBytes, picks, seed) => {
          const specs = shapes.map((s, i) => ({ name: `v${i}`, ...s }));
          const vectors = specs.map((s, v) => {
            const out = new Uint32Array(s.length);
            for (let i = 0; i < s.length; i++)
              out[i] = Math.imul(seed + v * 101 + i, 2_654_435_761) >>> (32 - s.bits);
            return out;
          });
          const queues = specs.map((s, v) => [
            ...[...chunkPackedVector(packBits(vectors[v]!, s.bits), maxChunkBytes)].map((c) => ({
              vectorIndex: v,
              ...c,
            })),
          ]);
          const assembler = new MaskedInputAssembler(specs);
          const pick = picks[Symbol.iterator]();
          for (let left = queues.reduce((n, q) => n + q.length, 0); left > 0; left--) {
            const open = queues.filter((q) => q.length > 0);
            assembler.accept(open[pick.next().value % open.length]!.shift()!);
          }
          assert.equal(assembler.complete, true);
          assert.deepEqual(assembler.message().vectors, vectors);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: arbitrary chunk sequences only ever raise WireFormatError', () => {
    const anyChunk = fc.record({
      vectorIndex: fc.integer({ min: 0, max: 3 }),
      offset: fc.integer({ min: 0, max: 20 }),
      data: fc.uint8Array({ maxLength: 16 }),
      last: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(anyChunk, { maxLength: 12 }), (chunks) => {
        const assembler = new MaskedInputAssembler(SPECS);
        for (const c of chunks) {
          try {
            assembler.accept(c);
          } catch (error) {
            assert.ok(error instanceof WireFormatError, String(error));
          }
        }
        if (assembler.complete) {
          try {
            assembler.message();
          } catch (error) {
            assert.ok(error instanceof WireFormatError, String(error));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a 10M-element 32-bit vector', () => {
  it('travels in frames of at most 1 MiB of data and reassembles exactly', () => {
    const length = 10_000_000;
    const spec: VectorSpec = { name: 'model', length, bits: 32 };
    const values = new Uint32Array(length);
    for (let i = 0; i < length; i++) values[i] = Math.imul(i + 1, 2_654_435_761) >>> 0;

    const assembler = new MaskedInputAssembler([spec]);
    let frames = 0;
    let largestFrame = 0;
    const context = { self: fx.SELF, vectors: [spec] };
    for (const frame of clientMessageToFrames({ type: 'masked', vectors: [values] }, context)) {
      const wire = Buffer.from(pb.ClientFrame.encode(frame).finish()); // as grpc-js sends it
      largestFrame = Math.max(largestFrame, wire.length);
      const received = parseClientFrame(wire, fx.SELF) as MaskedChunkFrame;
      assert.ok(received.data.length <= DEFAULT_MAX_CHUNK_BYTES);
      assembler.accept(received);
      frames++;
    }
    assert.equal(frames, Math.ceil(packedLength(length, 32) / DEFAULT_MAX_CHUNK_BYTES)); // 39
    assert.ok(largestFrame < 4 * 1024 * 1024, `largest frame ${largestFrame} bytes`);
    assert.ok(largestFrame <= DEFAULT_MAX_CHUNK_BYTES + 32, `largest frame ${largestFrame} bytes`);
    const back = assembler.message().vectors[0]!;
    assert.equal(back.length, length);
    assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(values.buffer)));
  });
});
