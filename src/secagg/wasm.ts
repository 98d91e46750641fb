/**
 * The little that the project's hand-assembled WebAssembly kernels share (prg.ts, ring-sum.ts):
 * module framing and loading. The kernels are a few dozen bytes each, written out instruction by
 * instruction beside their text form, so there is no build step and no file to load.
 * @module
 */

/** The module header: magic and version 1. */
export const WASM_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** An unsigned LEB128 encoding of `n` (a non-negative integer below 2^32). */
export function leb128(n: number): number[] {
  const out: number[] = [];
  for (let rest = n >>> 0; ; rest >>>= 7) {
    if (rest < 0x80) {
      out.push(rest);
      return out;
    }
    out.push((rest & 0x7f) | 0x80);
  }
}

/** A section: its id, its size (LEB128) and its content. */
export function wasmSection(id: number, content: readonly number[]): number[] {
  return [id, ...leb128(content.length), ...content];
}

/** A function body: its size (LEB128), then locals and code as given. */
export function wasmBody(code: readonly number[]): number[] {
  return [...leb128(code.length), ...code];
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
}

/** The host's WebAssembly, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/**
 * Compiles `bytes`, or returns undefined where the host lacks WebAssembly or rejects the module (for
 * instance one without SIMD): callers then take their portable JavaScript path.
 */
export function compileWasm(bytes: Uint8Array): object | undefined {
  const wasm = wasmApi();
  try {
    if (!wasm || !wasm.validate(bytes)) return undefined;
    return new wasm.Module(bytes);
  } catch {
    return undefined;
  }
}
