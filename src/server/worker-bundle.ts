/**
 * Worker threads without a TypeScript loader. A worker that registers tsx in its own thread carries
 * tsx's loader and its caches: ~30 MB of resident memory per thread, measured here, against ~2 MB for
 * a plain script. The coordinator's unmask workers therefore start from their module bundled into one
 * plain ES module by esbuild (the compiler tsx itself runs on), handed to `new Worker` as a `data:`
 * URL. The bundle is built once per module and process (tens of milliseconds).
 *
 * Only for the TypeScript sources (tests, benchmarks, a development checkout): the compiled package
 * starts its workers from their `.js` files and needs no bundler. esbuild is a development
 * dependency, so it is loaded here on first use, never by an import that the compiled package would
 * resolve at start-up; where it is missing, the caller falls back to the tsx bootstrap.
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

type Esbuild = typeof import('esbuild');

let esbuild: Esbuild | null | undefined;

/** esbuild, loaded on first use (synchronously: its package is CommonJS), or null where it is not installed. */
function loadEsbuild(): Esbuild | null {
  if (esbuild === undefined) {
    try {
      esbuild = createRequire(import.meta.url)('esbuild') as Esbuild;
    } catch {
      esbuild = null;
    }
  }
  return esbuild;
}

const bundles = new Map<string, URL | null>();

/**
 * The worker module `moduleUrl` and everything it imports, as one plain ES module in a `data:` URL
 * (Node built-ins stay imports), or `undefined` when it cannot be bundled — then the caller starts
 * the worker through the TypeScript loader instead. Cached per module.
 * @param moduleUrl - a `file:` URL of a TypeScript (or JavaScript) worker module
 */
export function bundledWorkerUrl(moduleUrl: URL): URL | undefined {
  const key = moduleUrl.href;
  if (!bundles.has(key)) bundles.set(key, bundle(moduleUrl));
  return bundles.get(key) ?? undefined;
}

/**
 * Builds the bundle of {@link bundledWorkerUrl} in esbuild's own process, leaving the event loop
 * free, so that a later `bundledWorkerUrl` finds it cached instead of blocking ~100 ms on a
 * synchronous build (e.g. when the first round of a running coordinator starts its threads).
 */
export async function prepareWorkerBundle(moduleUrl: URL): Promise<void> {
  const key = moduleUrl.href;
  if (bundles.has(key) || moduleUrl.protocol !== 'file:') return;
  let url: URL | null = null;
  try {
    const build = loadEsbuild()?.build;
    if (build) url = dataUrl((await build(buildOptions(moduleUrl))).outputFiles?.[0]?.text);
  } catch {
    url = null;
  }
  if (!bundles.has(key)) bundles.set(key, url);
}

function buildOptions(moduleUrl: URL): BuildOptions & { write: false } {
  return {
    entryPoints: [fileURLToPath(moduleUrl)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  };
}

function dataUrl(code: string | undefined): URL | null {
  return code === undefined
    ? null
    : new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

function bundle(moduleUrl: URL): URL | null {
  if (moduleUrl.protocol !== 'file:') return null;
  const buildSync = loadEsbuild()?.buildSync;
  if (!buildSync) return null;
  try {
    return dataUrl(buildSync(buildOptions(moduleUrl)).outputFiles?.[0]?.text);
  } catch {
    return null;
  }
}
