/**
 * Masked vectors on the wire (docs/PROTOCOL.md §4.3, §6.3): each vector of a round is bit-packed and
 * cut into `MaskedInputChunk` frames, because one gRPC message may not exceed 4 MiB (grpc-js's
 * default) while a 10M-parameter model packs to 40 MB. {@link chunkPackedVector} cuts, and
 * {@link MaskedInputAssembler} puts the pieces back together, strictly: chunks of a vector arrive in
 * order, contiguous and without overlap, and add up to exactly the packed length.
 * @module
 */
import { packedLength, unpackBits } from '../secagg/bitpack.ts';
import { UsageError } from '../secagg/errors.ts';
import type { MaskedInputMessage } from '../secagg/messages.ts';
import { MAX_VECTOR_ELEMENTS } from '../secagg/params.ts';
import type { VectorSpec } from '../secagg/types.ts';
import { WireFormatError } from './errors.ts';

/** Default largest `data` of one chunk: 1 MiB, well below grpc-js's 4 MiB message limit. */
export const DEFAULT_MAX_CHUNK_BYTES = 1 << 20;

/** One piece of a packed vector, without the vector index. */
export interface PackedChunk {
  /** Where `data` starts in the packed vector, in bytes. */
  readonly offset: number;
  /** A non-empty view of the packed vector (not a copy). */
  readonly data: Uint8Array;
  /** True exactly on the chunk that ends the vector. */
  readonly last: boolean;
}

/** One received piece of one masked vector: the fields of the `MaskedInputChunk` frame. */
export interface MaskedChunk extends PackedChunk {
  /** Index into the round's vector specs. */
  readonly vectorIndex: number;
}

/**
 * Cuts a packed vector into chunks of at most `maxChunkBytes` bytes, in order. The chunks are views
 * of `bytes`: do not modify it while they are in use.
 * @param bytes - a packed vector, at least 1 byte (every vector has at least one element)
 * @param maxChunkBytes - largest chunk, a positive integer (default {@link DEFAULT_MAX_CHUNK_BYTES})
 * @returns a generator of `ceil(bytes.length / maxChunkBytes)` chunks; the last has `last` set
 * @throws TypeError if `bytes` is not a Uint8Array; RangeError if it is empty or `maxChunkBytes` is
 *   not a positive integer
 * @example
 * ```ts
 * [...chunkPackedVector(new Uint8Array(5), 2)].map((c) => c.data.length); // [2, 2, 1]
 * ```
 */
export function* chunkPackedVector(
  bytes: Uint8Array,
  maxChunkBytes: number = DEFAULT_MAX_CHUNK_BYTES,
): Generator<PackedChunk, void, undefined> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.length === 0)
    throw new RangeError('bytes must not be empty: a packed vector has at least 1 byte');
  if (!Number.isSafeInteger(maxChunkBytes) || maxChunkBytes < 1) {
    throw new RangeError(`maxChunkBytes must be a positive integer, got ${maxChunkBytes}`);
  }
  for (let offset = 0; offset < bytes.length; offset += maxChunkBytes) {
    const end = Math.min(offset + maxChunkBytes, bytes.length);
    yield { offset, data: bytes.subarray(offset, end), last: end === bytes.length };
  }
}

/** Reassembly state of one vector. */
interface Slot {
  readonly spec: VectorSpec;
  /** packedLength(spec.length, spec.bits). */
  readonly total: number;
  /** Allocated on the first chunk, so a client that sends nothing costs nothing. */
  buffer: Uint8Array | undefined;
  /** Bytes received so far: where the next chunk must start. */
  received: number;
}

/**
 * Reassembles one client's masked input from its chunks, for the vector specs of the round.
 *
 * Call {@link accept} for every chunk frame, in arrival order, until {@link complete} is true; then
 * {@link message} (unpacked, for the core) or {@link packedVectors}. Chunks of one vector must arrive
 * in order: the first at offset 0, each next where the previous ended, the one reaching the packed
 * length with `last` set. Chunks of different vectors may interleave.
 *
 * A rejected chunk is the sender's protocol violation: the assembler is then failed, and every later
 * call throws the same {@link WireFormatError} (h11-style: after an error nothing more is accepted).
 *
 * @example
 * ```ts
 * const specs = [{ name: 'w', length: 3, bits: 4 }];
 * const assembler = new MaskedInputAssembler(specs);
 * for (const chunk of chunkPackedVector(packBits(Uint32Array.of(1, 2, 3), 4), 1)) {
 *   assembler.accept({ vectorIndex: 0, ...chunk });
 * }
 * assembler.message().vectors[0]; // Uint32Array [1, 2, 3]
 * ```
 */
export class MaskedInputAssembler {
  readonly #slots: readonly Slot[];
  #remaining: number;
  #failure: WireFormatError | undefined;

  /**
   * @param vectors - the round's vector specs, in the round's order (validated round parameters)
   * @throws RangeError if `vectors` is empty, a spec has an invalid length or bit width, or the
   *   lengths add up to more than the core's maximum (`MAX_VECTOR_ELEMENTS`, 2^28)
   */
  constructor(vectors: readonly VectorSpec[]) {
    if (vectors.length === 0) throw new RangeError('vectors must not be empty');
    // Validated round parameters never exceed the maximum; checked again here because the buffers
    // are sized from these lengths when a client's first chunk arrives, and a length that cannot be
    // allocated must fail now, at the caller, not then, inside a handler for the client's frame.
    const total = vectors.reduce((sum, spec) => sum + spec.length, 0);
    if (!(total <= MAX_VECTOR_ELEMENTS)) {
      throw new RangeError(
        `the vectors have ${total} elements in all, above the maximum ${MAX_VECTOR_ELEMENTS} (2^28)`,
      );
    }
    this.#slots = vectors.map((spec) => ({
      spec,
      total: packedLength(spec.length, spec.bits),
      buffer: undefined,
      received: 0,
    }));
    this.#remaining = this.#slots.length;
  }

  /** True when every vector has been received in full. */
  get complete(): boolean {
    return this.#failure === undefined && this.#remaining === 0;
  }

  /** True after a chunk was rejected; the sender broke the protocol. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Takes one chunk. Its bytes are copied, so `chunk.data` may be a view into a reused buffer.
   * @param chunk - the chunk's fields, e.g. from `clientFrameFromWire`
   * @throws WireFormatError (direction `decode`) if the chunk names no vector of the round, does not
   *   start where the previous chunk of its vector ended, is empty, overruns the packed length, sets
   *   `last` wrongly, or arrives after the vector or the whole input is complete; and on every call
   *   after such an error
   */
  accept(chunk: MaskedChunk): void {
    if (this.#failure !== undefined) throw this.#failure;
    const problem = this.#check(chunk);
    if (problem !== undefined) {
      this.#failure = new WireFormatError('decode', `masked_input_chunk.${problem[0]}`, problem[1]);
      throw this.#failure;
    }
    const slot = this.#slots[chunk.vectorIndex]!;
    slot.buffer ??= new Uint8Array(slot.total);
    slot.buffer.set(chunk.data, chunk.offset);
    slot.received += chunk.data.length;
    if (chunk.last) this.#remaining--;
  }

  /** Returns the [field, problem] that makes `chunk` unacceptable, or undefined if it fits. */
  #check(chunk: MaskedChunk): [string, string] | undefined {
    const { vectorIndex, offset, data, last } = chunk;
    if (!Number.isInteger(vectorIndex) || vectorIndex < 0 || vectorIndex >= this.#slots.length) {
      return ['vector_index', `${vectorIndex} names no vector (the round has ${this.#slots.length})`];
    }
    const slot = this.#slots[vectorIndex]!;
    const name = `vector ${vectorIndex} ('${slot.spec.name}')`;
    if (slot.received === slot.total) return ['vector_index', `${name} is already complete`];
    if (!(data instanceof Uint8Array)) return ['data', 'must be bytes'];
    if (data.length === 0) return ['data', 'must not be empty'];
    if (offset !== slot.received) {
      return [
        'offset',
        `${offset} for ${name}, expected ${slot.received} (chunks of a vector must be contiguous and in order)`,
      ];
    }
    const end = offset + data.length;
    if (end > slot.total) {
      return ['data', `ends at byte ${end} of ${name}, beyond its packed length ${slot.total}`];
    }
    if (typeof last !== 'boolean' || last !== (end === slot.total)) {
      return [
        'last',
        `is ${last} on the chunk ending at byte ${end} of ${name}, whose packed length is ${slot.total}`,
      ];
    }
    return undefined;
  }

  /**
   * The packed vectors, in the round's order. The arrays are the assembler's own: copy before
   * modifying them.
   * @throws UsageError if the input is not complete yet; WireFormatError if the assembler failed
   */
  packedVectors(): readonly Uint8Array[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#remaining !== 0) {
      throw new UsageError(`masked input is incomplete: ${this.#remaining} vector(s) still missing bytes`);
    }
    return this.#slots.map((slot) => slot.buffer!);
  }

  /**
   * The masked input as the core's message, each vector unpacked (PROTOCOL.md §6.3).
   * @throws UsageError if the input is not complete yet; WireFormatError (direction `decode`) if a
   *   vector has non-zero padding bits (and the assembler is then failed)
   */
  message(): MaskedInputMessage {
    const packed = this.packedVectors();
    const vectors = this.#slots.map((slot, i) => {
      try {
        return unpackBits(packed[i]!, slot.spec.length, slot.spec.bits);
      } catch (error) {
        this.#failure = new WireFormatError(
          'decode',
          'masked_input_chunk.data',
          `of vector ${i} ('${slot.spec.name}') does not unpack: ${(error as Error).message}`,
        );
        throw this.#failure;
      }
    });
    return { type: 'masked', vectors };
  }
}
