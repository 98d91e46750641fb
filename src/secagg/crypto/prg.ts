/**
 * Mask expansion, docs/PROTOCOL.md §6.1–6.2: a 32-byte seed is turned into a per-vector AES-128-CTR
 * key and IV with HKDF, and the keystream, read as little-endian u32 words, is added to or
 * subtracted from an accumulator modulo 2^32 (reducing to 2^bits once at the end is the caller's job;
 * 2^bits divides 2^32, so the result is the same).
 *
 * This is the hot path of the protocol: every client expands one self mask and one mask per
 * neighbour, and the server as many again per dropped neighbour. The keystream comes from OpenSSL
 * (AES-NI) in fixed 64 KiB chunks, so memory stays constant whatever the vector length and each chunk
 * is still in cache when it is added.
 * @module
 */
import { type Cipher, createCipheriv } from 'node:crypto';
import {
  ascii,
  assertBytes,
  assertInteger,
  concatBytes,
  describe,
  str,
  u8,
  u32,
  utf8Bytes,
} from '../encoding.ts';
import { addInt32Words, subInt32Words } from '../ring.ts';
import type { ClientId, VectorSpec } from '../types.ts';
import { prgWasm } from '../wasm/prg.wasm.ts';
import { compileWasm, wasmApi } from '../wasm.ts';
import { hkdf } from './hash.ts';

/** An AES-128-CTR key and initial counter block, derived per seed and vector (PROTOCOL.md §6.1). */
export interface MaskKey {
  /** 16-byte AES-128 key. */
  readonly key: Uint8Array;
  /** 16-byte initial counter block, incremented as a 128-bit big-endian integer. */
  readonly iv: Uint8Array;
}

const SEED_LENGTH = 32;
const SESSION_ID_LENGTH = 32;
const MAX_U32 = 0xffff_ffff;
/** Keystream chunk: 64 KiB fits in L2 with room to spare and amortises the per-call cost of OpenSSL. */
const CHUNK_BYTES = 64 * 1024;
const CHUNK_WORDS = CHUNK_BYTES / 4;
/** Typed-array views use the platform's byte order; the spec's words are little-endian. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

const SELF_MASK_PREFIX = ascii('privagg/v1/self-mask');

/**
 * The HKDF label of pairwise masks, `"privagg/v1/pair-mask"` (PROTOCOL.md §6.1). The pair's ids are
 * already bound into its seed (§4.1), so the label carries none. Shared constant: do not mutate.
 */
export const PAIR_MASK_LABEL: Uint8Array = ascii('privagg/v1/pair-mask');

/**
 * The HKDF label of client `id`'s self mask: `"privagg/v1/self-mask" ‖ u32(id)` (PROTOCOL.md §6.1).
 * @param id - the client whose self mask is derived
 * @returns 24 new bytes
 * @throws TypeError if `id` is not a number; RangeError if it is not a valid client id
 * @example deriveMaskKey(fe(b_u), sessionId, selfMaskLabel(u), spec)
 */
export function selfMaskLabel(id: ClientId): Uint8Array {
  assertInteger(id, 'id', 1, MAX_U32);
  return concatBytes(SELF_MASK_PREFIX, u32(id));
}

/**
 * Derives the PRG key of one mask for one vector (PROTOCOL.md §6.1):
 * `okm = HKDF(seed, salt = sessionId, info = label ‖ str(name) ‖ u32(length) ‖ u8(bits), 32)`,
 * `key = okm[0..16]`, `iv = okm[16..32]`. Binding the vector's name, length and width makes masks of
 * different vectors (and of a re-announced vector with another shape) independent.
 * @param seed - 32-byte seed: `fe(b_u)` for a self mask, `pairSeed_uv` for a pairwise mask
 * @param sessionId - the 32-byte session id
 * @param label - {@link selfMaskLabel}(u) or {@link PAIR_MASK_LABEL}
 * @param spec - the vector: name of 1..255 UTF-8 bytes, length in [1, 2^32 − 1], bits in [1, 32]
 * @returns a frozen {@link MaskKey} with its own key and iv arrays
 * @throws TypeError for arguments of the wrong type; RangeError for wrong lengths or an invalid spec
 * @example const mk = deriveMaskKey(pairSeed, sessionId, PAIR_MASK_LABEL, { name: 'w', length: 10, bits: 16 });
 */
export function deriveMaskKey(
  seed: Uint8Array,
  sessionId: Uint8Array,
  label: Uint8Array,
  spec: VectorSpec,
): MaskKey {
  assertBytes(seed, 'seed', SEED_LENGTH);
  assertBytes(sessionId, 'sessionId', SESSION_ID_LENGTH);
  assertBytes(label, 'label');
  if (label.length === 0) throw new RangeError('label must not be empty');
  if (typeof spec !== 'object' || spec === null) {
    throw new TypeError(`spec must be a VectorSpec, got ${describe(spec)}`);
  }
  const nameBytes = utf8Bytes(spec.name, 'spec.name');
  if (nameBytes.length < 1 || nameBytes.length > 255) {
    throw new RangeError(`spec.name must be 1..255 UTF-8 bytes, got ${nameBytes.length}`);
  }
  assertInteger(spec.length, 'spec.length', 1, MAX_U32);
  assertInteger(spec.bits, 'spec.bits', 1, 32);
  const info = concatBytes(label, str(spec.name), u32(spec.length), u8(spec.bits));
  const okm = hkdf(seed, sessionId, info, 32);
  const mask = Object.freeze({ key: okm.slice(0, 16), iv: okm.slice(16, 32) });
  okm.fill(0);
  return mask;
}

function assertMaskKey(mask: MaskKey): void {
  if (typeof mask !== 'object' || mask === null) {
    throw new TypeError(`mask must be a MaskKey, got ${describe(mask)}`);
  }
  assertBytes(mask.key, 'mask.key', 16);
  assertBytes(mask.iv, 'mask.iv', 16);
}

// ---- the add/subtract kernel ----------------------------------------------------------------
//
// Adding the keystream word by word in JavaScript costs more than generating it: ~1.7 ns per word
// against ~0.8 ns per word of AES-CTR keystream through node:crypto. A 16-byte-lane WebAssembly SIMD
// kernel does the addition, including three 64 KiB memcpys per chunk (keystream and accumulator in,
// accumulator out), in ~0.35 ns per word: a whole 1M-word mask went from ~3.3 ms to ~1.35 ms (and a
// 100k-word one from ~0.33 ms to ~0.13 ms) on the 2-core reference machine. The kernel's source is
// WebAssembly text, src/secagg/wasm/prg.wat (add, sub, and the reduction `and`, over a 2-page memory:
// keystream chunk at 0, accumulator chunk at 64 KiB), assembled by `npm run gen` with wabt into
// prg.wasm.ts: a 200-byte module compiled once per isolate, with no file to load.
//
// No loop over the vector is left in JavaScript on this path. That matters because a client masks
// once per round: its JavaScript runs cold (interpreted, then compiled on background threads), and a
// full GC throws the optimised code away again (it holds weak references to the round's objects).
// A JavaScript reduction loop cost a 1M-word client ~3 ms of interpreter and ~5 ms of background
// compilation per round that way; the kernels run at full speed from their first call.
//
// Hosts without WebAssembly SIMD fall back to an unrolled JavaScript loop. Wasm is little-endian,
// like the spec's words; big-endian hosts take the DataView path.

/** The accumulator half of the kernel's memory starts here; the keystream half starts at 0. */
const KERNEL_ACC_OFFSET = CHUNK_BYTES;

interface Kernel {
  /** The kernel's whole memory: keystream at 0, accumulator at {@link KERNEL_ACC_OFFSET}. */
  readonly memory: Uint8Array;
  /** The same memory as words, for the (at most 3-word) tail of a chunk. */
  readonly words: Int32Array;
  readonly add: (bytes: number) => void;
  readonly sub: (bytes: number) => void;
  /** Reduces the accumulator's first `bytes` (a positive multiple of 16) with `and` by `mask`. */
  readonly and: (bytes: number, mask: number) => void;
}

function loadKernel(): Kernel | undefined {
  const module = compileWasm(prgWasm());
  try {
    if (!module) return undefined;
    const { exports } = new (wasmApi()!.Instance)(module);
    const buffer = (exports.mem as { buffer: ArrayBuffer }).buffer;
    return {
      memory: new Uint8Array(buffer),
      words: new Int32Array(buffer),
      add: exports.add as (bytes: number) => void,
      sub: exports.sub as (bytes: number) => void,
      and: exports.and as (bytes: number, mask: number) => void,
    };
  } catch {
    return undefined;
  }
}

/** Loaded on first use; `null` once found unavailable. One per isolate (workers get their own). */
let kernel: Kernel | null | undefined;
/** Set by tests to exercise the portable path on a host that has the kernel. */
let portableForced = false;

function activeKernel(): Kernel | null {
  if (kernel === undefined) kernel = (LITTLE_ENDIAN && loadKernel()) || null;
  return portableForced ? null : kernel;
}

/**
 * Which path {@link addMasks} takes on this host: the WebAssembly SIMD kernel, or the portable
 * JavaScript loops (several times slower) where WebAssembly SIMD is missing or the host is
 * big-endian. A diagnostic: the kernel failing to load is otherwise silent, since both are exact.
 */
export function maskKernel(): 'wasm-simd' | 'javascript' {
  return activeKernel() ? 'wasm-simd' : 'javascript';
}

/**
 * For tests: makes {@link addMasks} take the portable JavaScript path (`true`) even where the kernel
 * loads, or restores the default (`false`). Affects this isolate only.
 */
export function forcePortableMaskPath(portable: boolean): void {
  portableForced = portable;
}

/**
 * Adds every term's next keystream chunk into `acc32[offset, offset + count)` through the SIMD
 * kernel: the accumulator's chunk is copied into the kernel's memory once, each keystream chunk is
 * generated, copied in, zeroed and added (or subtracted) there in turn, and the chunk is copied back
 * once — so k masks cost k keystream copies and two accumulator copies per chunk, not 3k copies. The
 * (at most 3-word) tail past the last whole 16-byte lane is added word by word straight into `acc32`.
 * With a `reduceMask` other than −1 (all bits), the chunk is reduced with it before it is copied back.
 */
function addChunkKernel(
  k: Kernel,
  accBytes: Uint8Array,
  acc32: Int32Array,
  ciphers: readonly Cipher[],
  signs: readonly (1 | -1)[],
  input: Uint8Array,
  offset: number,
  reduceMask: number,
): void {
  const { memory, words } = k;
  const count = input.length >>> 2;
  const vectorBytes = input.length & ~15;
  const at = 4 * offset;
  if (vectorBytes > 0) memory.set(accBytes.subarray(at, at + vectorBytes), KERNEL_ACC_OFFSET);
  for (let t = 0; t < ciphers.length; t++) {
    const keystream = ciphers[t]!.update(input);
    memory.set(keystream, 0);
    keystream.fill(0);
    const sign = signs[t]!;
    if (vectorBytes > 0) {
      if (sign === 1) k.add(vectorBytes);
      else k.sub(vectorBytes);
    }
    for (let i = vectorBytes >>> 2; i < count; i++) {
      acc32[offset + i] = ((acc32[offset + i] as number) + sign * (words[i] as number)) | 0;
    }
  }
  if (reduceMask !== -1) {
    // Still in the kernel's memory, hot in cache: cheaper than a separate pass over the vector.
    if (vectorBytes > 0) k.and(vectorBytes, reduceMask);
    for (let i = vectorBytes >>> 2; i < count; i++)
      acc32[offset + i] = (acc32[offset + i] as number) & reduceMask;
  }
  if (vectorBytes > 0) accBytes.set(memory.subarray(KERNEL_ACC_OFFSET, KERNEL_ACC_OFFSET + vectorBytes), at);
}

// The JavaScript fallback (hosts without WebAssembly SIMD) adds with ring.ts's Int32 kernels.

/** Portable path for big-endian hosts: reads each keystream word little-endian explicitly. */
function addWordsBigEndianHost(acc: Uint32Array, bytes: Uint8Array, offset: number, sign: 1 | -1): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.length >>> 2;
  for (let i = 0; i < count; i++) {
    acc[offset + i] = (acc[offset + i] as number) + sign * view.getUint32(4 * i, true);
  }
}

/** One mask to add (`sign = 1`) or subtract (`sign = -1`), for {@link addMasks}. */
export interface MaskTerm {
  readonly mask: MaskKey;
  readonly sign: 1 | -1;
}

/**
 * Adds (`sign = 1`) or subtracts (`sign = -1`) a mask to `acc` in place, modulo 2^32:
 * `acc[i] = acc[i] ± w_i`, with `w_i` the i-th little-endian u32 word of AESCTR(mask.key, mask.iv)
 * (PROTOCOL.md §6.2). The mask has exactly `acc.length` words. Memory use is constant (one 64 KiB
 * chunk at a time); keystream chunks and the kernel's scratch memory are zeroed after use, best
 * effort. To apply several masks to one vector, {@link addMasks} is faster.
 * @param acc - the accumulator, modified in place
 * @param mask - from {@link deriveMaskKey}
 * @param sign - 1 to add, -1 to subtract
 * @throws TypeError for arguments of the wrong type; RangeError for a bad mask key length or sign
 * @example addMask(y, deriveMaskKey(b, sessionId, selfMaskLabel(u), spec), 1)
 */
export function addMask(acc: Uint32Array, mask: MaskKey, sign: 1 | -1): void {
  addMasks(acc, [{ mask, sign }]);
}

/**
 * Applies several masks to one accumulator in a single pass, modulo 2^32: the same result as
 * {@link addMask} once per term, in any order. The pass walks the vector one 64 KiB chunk at a time
 * and, for each chunk, runs every term's keystream over it while the chunk stays in cache — one
 * read and one write of the accumulator for all the terms, instead of one per term. Memory is one
 * keystream chunk (64 KiB) whatever the vector length, plus one AES context per term.
 * @param acc - the accumulator, modified in place
 * @param terms - the masks and their signs (checked before anything is changed)
 * @param reduceBits - if given, the result is also reduced modulo 2^reduceBits in the same pass (as
 *   `reduceInto` would do after it), while each chunk is in cache; default 32: no reduction
 * @param afterChunk - if given, called after each 64 KiB chunk of the vector has had every term
 *   applied. Each term's keystream chunk is a new 64 KiB Buffer (node:crypto has no way to write into
 *   a caller's memory), and V8 frees dead Buffers only at a garbage collection, which it delays until
 *   ~64 MB of them have piled up per thread; a caller expanding hundreds of masks can collect sooner
 *   here (the unmask workers do, src/server/unmask-worker.ts)
 * @throws TypeError for arguments of the wrong type; RangeError for a bad mask key length, sign or
 *   bit width
 * @example addMasks(y, [{ mask: selfMask, sign: 1 }, { mask: pairMask, sign: -1 }], spec.bits)
 */
export function addMasks(
  acc: Uint32Array,
  terms: readonly MaskTerm[],
  reduceBits = 32,
  afterChunk?: () => void,
): void {
  if (!(acc instanceof Uint32Array)) throw new TypeError(`acc must be a Uint32Array, got ${describe(acc)}`);
  if (!Array.isArray(terms)) throw new TypeError(`terms must be an array, got ${describe(terms)}`);
  for (const { mask, sign } of terms) {
    assertMaskKey(mask);
    if (typeof sign !== 'number') throw new TypeError(`sign must be 1 or -1, got ${describe(sign)}`);
    if (sign !== 1 && sign !== -1) throw new RangeError(`sign must be 1 or -1, got ${sign}`);
  }
  assertInteger(reduceBits, 'reduceBits', 1, 32);
  // As an Int32 mask: −1 keeps every bit (no reduction).
  const reduceMask = (0xffff_ffff >>> (32 - reduceBits)) | 0;
  if (acc.length === 0 || (terms.length === 0 && reduceMask === -1)) return;

  const ciphers = terms.map(({ mask }) => createCipheriv('aes-128-ctr', mask.key, mask.iv));
  const signs = terms.map(({ sign }) => sign);
  const zeros = new Uint8Array(Math.min(CHUNK_BYTES, acc.length * 4));
  const acc32 = new Int32Array(acc.buffer, acc.byteOffset, acc.length);
  const k = activeKernel();
  const accBytes = new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength);
  let aligned: Int32Array | undefined;
  for (let offset = 0; offset < acc.length; offset += CHUNK_WORDS) {
    const count = Math.min(CHUNK_WORDS, acc.length - offset);
    const input = count === CHUNK_WORDS ? zeros : zeros.subarray(0, 4 * count);
    if (k) {
      addChunkKernel(k, accBytes, acc32, ciphers, signs, input, offset, reduceMask);
      afterChunk?.();
      continue;
    }
    ciphers.forEach((cipher, t) => {
      const keystream = cipher.update(input);
      const sign = signs[t]!;
      if (!LITTLE_ENDIAN) {
        addWordsBigEndianHost(acc, keystream, offset, sign);
      } else {
        let words: Int32Array;
        if (keystream.byteOffset % 4 === 0) {
          words = new Int32Array(keystream.buffer, keystream.byteOffset, count);
        } else {
          // An Int32Array view needs 4-byte alignment; OpenSSL output normally has it, but a pooled
          // Buffer need not, so copy into an aligned scratch array.
          aligned ??= new Int32Array(CHUNK_WORDS);
          new Uint8Array(aligned.buffer).set(keystream);
          words = aligned;
        }
        if (sign === 1) addInt32Words(acc32, words, offset, count);
        else subInt32Words(acc32, words, offset, count);
      }
      keystream.fill(0);
    });
    if (reduceMask !== -1) {
      for (let i = offset; i < offset + count; i++) acc32[i] = (acc32[i] as number) & reduceMask;
    }
    afterChunk?.();
  }
  // The scratch held keystream and (partly masked) input words.
  if (k) {
    const used = Math.min(CHUNK_BYTES, acc.byteLength);
    k.memory.fill(0, 0, used);
    k.memory.fill(0, KERNEL_ACC_OFFSET, KERNEL_ACC_OFFSET + used);
  }
  aligned?.fill(0);
}

/**
 * The first `length` words of a mask's keystream (PROTOCOL.md §6.2), unreduced. For tests and test
 * vectors; the protocol itself uses {@link addMask}.
 * @param mask - from {@link deriveMaskKey}
 * @param length - number of words, in [0, 2^32 − 1] (bounded in practice by memory)
 * @returns a new Uint32Array of `length` words
 * @throws TypeError for arguments of the wrong type; RangeError for a bad mask key or length
 */
export function expandMask(mask: MaskKey, length: number): Uint32Array {
  assertMaskKey(mask);
  assertInteger(length, 'length', 0, MAX_U32);
  const out = new Uint32Array(length);
  addMask(out, mask, 1);
  return out;
}
