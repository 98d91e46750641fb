/**
 * The little that the project's WebAssembly kernels share (crypto/prg.ts, ring-sum.ts): loading. The
 * kernels are written as WebAssembly text (wasm/*.wat) and assembled by `npm run gen` into byte
 * literals (wasm/*.wasm.ts), so there is no file to load at run time.
 * @module
 */

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
