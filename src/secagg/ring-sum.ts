/**
 * The coordinator's running sum of masked inputs, modulo 2^32, with the range check of each input
 * fused into its addition. Every masked input of a round passes through here once, so this is the
 * coordinator's hottest loop: at n = 500 and d = 1M it adds 500 vectors of 4 MB.
 *
 * Where WebAssembly SIMD is available the sum lives in a WebAssembly memory of its own, so that a
 * 16-byte-lane kernel can add to it in place: each 64 KiB chunk of the input is copied into the
 * memory's scratch area (from cache, cheap) and the kernel adds it and ORs it into a running check,
 * four words per instruction — about twice as fast as the scalar `addInRange` of ring.ts on the
 * 2-core reference machine (`npm run bench:kernels`). Elsewhere, and for vectors too long for one
 * WebAssembly memory (4 GiB), the sum is a plain Uint32Array and ring.ts does the work.
 *
 * The kernel's source is WebAssembly text, src/secagg/wasm/ring-sum.wat (memory imported, scratch at
 * [0, 64 KiB), the sum from 64 KiB), assembled by `npm run gen` with wabt into ring-sum.wasm.ts.
 * @module
 */
import { addInRange, assertBits, assertLength, firstOutOfRange, subInto } from './ring.ts';
import { ringSumWasm } from './wasm/ring-sum.wasm.ts';
import { compileWasm, wasmApi } from './wasm.ts';

const PAGE_BYTES = 65536;
/** The scratch area a chunk of the input is copied to: the first page. */
const SCRATCH_BYTES = PAGE_BYTES;
/** WebAssembly memories hold at most 2^16 pages (4 GiB), scratch included. */
const MAX_KERNEL_WORDS = (65536 * PAGE_BYTES - SCRATCH_BYTES) / 4;

type AddKernel = (accOffset: number, srcOffset: number, bytes: number) => number;

/** Compiled on first use; `null` once found unavailable. Instantiated once per sum (its memory). */
let compiled: object | null | undefined;

/** True where the host is little-endian (WebAssembly memory is; the sum's view must agree). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Scratch plus `length` words of WebAssembly memory, or undefined if the host will not reserve it. */
function kernelMemory(length: number): { readonly buffer: ArrayBuffer } | undefined {
  try {
    return new (wasmApi()!.Memory)({ initial: 1 + Math.ceil((4 * length) / PAGE_BYTES) });
  } catch {
    return undefined; // the plain array below may still fit
  }
}

/** Options for {@link RingSum}. */
export interface RingSumOptions {
  /** Use the WebAssembly kernel where available (default); false forces the portable path (tests). */
  readonly kernel?: boolean;
}

/**
 * A running sum of vectors of one length, modulo 2^32, that adds an input only if every element is
 * below 2^bits.
 * @example
 * const sum = new RingSum(3);
 * sum.addInRange(Uint32Array.of(1, 2, 3), 8); // −1: added
 * sum.addInRange(Uint32Array.of(1, 256, 3), 8); // 1: refused, sum unchanged
 * sum.words; // Uint32Array [1, 2, 3]
 */
export class RingSum {
  /**
   * The sum. It may be a view into a WebAssembly memory that the sum owns; it is an ordinary
   * Uint32Array in every other respect (and stays valid: the memory never grows).
   */
  readonly words: Uint32Array;
  readonly #bytes: Uint8Array | undefined;
  readonly #add: AddKernel | undefined;

  /**
   * @param length - the vectors' length, a non-negative integer
   * @param options - see {@link RingSumOptions}
   * @throws RangeError if `length` is not a non-negative integer below 2^32
   */
  constructor(length: number, options: RingSumOptions = {}) {
    if (!(Number.isInteger(length) && length >= 0 && length < 2 ** 32)) {
      throw new RangeError(`length must be an integer in [0, 2^32), got ${length}`);
    }
    const kernel = options.kernel !== false && length > 0 && length <= MAX_KERNEL_WORDS && LITTLE_ENDIAN;
    if (kernel && compiled === undefined) compiled = compileWasm(ringSumWasm()) ?? null;
    const memory = kernel && compiled ? kernelMemory(length) : undefined;
    if (memory) {
      const { exports } = new (wasmApi()!.Instance)(compiled!, { env: { mem: memory } });
      this.#add = exports.add as AddKernel;
      this.#bytes = new Uint8Array(memory.buffer);
      this.words = new Uint32Array(memory.buffer, SCRATCH_BYTES, length);
    } else {
      this.words = new Uint32Array(length);
    }
  }

  /** Whether this sum adds with the WebAssembly SIMD kernel (a diagnostic; both paths are exact). */
  get usesKernel(): boolean {
    return this.#add !== undefined;
  }

  /**
   * Adds `v` (mod 2^32) if every element is below 2^bits; otherwise leaves the sum as it was and
   * returns the index of the first element that is not (as ring.ts's `addInRange`).
   * @param v - the addend, of the sum's length; not modified
   * @param bits - bit width, 1..32
   * @returns −1 when `v` was added, else the index of its first element ≥ 2^bits
   * @throws TypeError if `v` is not a Uint32Array; RangeError for a wrong length or bit width
   */
  addInRange(v: Uint32Array, bits: number): number {
    const add = this.#add;
    if (!add) return addInRange(this.words, v, bits);
    assertLength(v, this.words.length, 'v');
    assertBits(bits);
    const bytes = this.#bytes!;
    const input = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const lanes = input.length - (input.length % 16); // not `& ~15`: lengths reach 2^32 bytes
    let any = 0;
    for (let offset = 0; offset < lanes; offset += SCRATCH_BYTES) {
      const count = Math.min(SCRATCH_BYTES, lanes - offset);
      bytes.set(input.subarray(offset, offset + count), 0);
      any |= add(SCRATCH_BYTES + offset, 0, count);
    }
    // The (at most 3-word) tail past the last whole lane.
    const sum = this.words;
    for (let i = lanes >>> 2; i < sum.length; i++) {
      const x = v[i] as number;
      any |= x;
      sum[i] = (sum[i] as number) + x;
    }
    const high = bits === 32 ? 0 : ~((1 << bits) - 1);
    if ((any & high) === 0) return -1;
    subInto(sum, v);
    return firstOutOfRange(v, bits);
  }
}
