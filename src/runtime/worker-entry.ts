/**
 * How a worker thread starts, whether the process runs the compiled package (dist/, plain
 * JavaScript) or the TypeScript sources through tsx (tests, benchmarks, a development checkout).
 *
 * Compiled, a worker module is an ordinary `.js` file beside its caller and starts as it is: no
 * loader, no bundling, and neither tsx nor esbuild is needed (they are development dependencies).
 * From the sources, the module is a `.ts` file, and a worker does not inherit the parent's loader on
 * Node 20: it starts from a one-line bootstrap that registers tsx in its own thread, then imports
 * the module. tsx is resolved here, only on that path, so the compiled package never looks for it.
 * @module
 */

/** Whether `url` names a TypeScript module (the sources, run through tsx) rather than compiled JavaScript. */
export function isTypeScriptModule(url: URL | string): boolean {
  return new URL(url).pathname.endsWith('.ts');
}

/**
 * The module `name` (no extension) beside the module at `metaUrl`, in the caller's own form: `.ts`
 * when the caller runs from the sources, `.js` when it runs compiled (tsc rewrites import
 * specifiers, but not a URL built at run time).
 * @param name - a relative module path without extension, e.g. `'./unmask-worker'`
 * @param metaUrl - the caller's `import.meta.url`
 */
export function siblingModule(name: string, metaUrl: string): URL {
  return new URL(`${name}${isTypeScriptModule(metaUrl) ? '.ts' : '.js'}`, metaUrl);
}

/** The first two arguments of `new Worker` for a module: its URL, or an eval'd bootstrap. */
export interface WorkerEntry {
  readonly filename: string | URL;
  readonly eval: boolean;
}

/**
 * What to start a worker thread from to run `moduleUrl`: the module itself when it is JavaScript,
 * else a bootstrap that registers tsx in the thread and imports it. A failure to load is an
 * unhandled rejection in the thread, which ends the worker with an `'error'` event either way.
 * @throws Error (from `import.meta.resolve`) for a TypeScript module where tsx is not installed
 */
export function workerEntry(moduleUrl: URL): WorkerEntry {
  if (!isTypeScriptModule(moduleUrl)) return { filename: moduleUrl, eval: false };
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const module = JSON.stringify(moduleUrl.href);
  return {
    filename: `import(${tsx}).then((tsx) => { tsx.register(); return import(${module}); });`,
    eval: true,
  };
}
