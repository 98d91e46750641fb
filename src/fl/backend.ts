/**
 * Chooses the TensorFlow.js backend once per thread, before any tensor exists.
 *
 * - `@tensorflow/tfjs-node` (libtensorflow, native and multi-threaded) when it is installed and
 *   loads. It is an optional extra, never a dependency: its install script downloads libtensorflow,
 *   which fails on machines without that host. So it is looked up with a dynamic import of a
 *   computed name, which neither TypeScript nor a bundler follows.
 * - Otherwise `@tensorflow/tfjs` with `@tensorflow/tfjs-backend-wasm` (the .wasm files ship inside
 *   the npm package). On Node, tfjs 4.22 turns the wasm backend's threads off
 *   (`WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false under Node) and uses the SIMD build when
 *   the runtime validates SIMD: one core per thread. Parallel clients need worker threads; each
 *   worker has its own module graph, so it calls {@link initBackend} itself.
 *
 * Nothing else in `src/fl` imports the tfjs runtime: modules import its *types* only and reach the
 * runtime through {@link tfjs}, which throws until a backend has been chosen. That is what keeps
 * tfjs quiet: its pure-JS `cpu` backend prints a "Hi, looks like you are running TensorFlow.js in
 * Node.js … install our node backend" banner (`console.warn`, so stderr) on its first tensor, and
 * the cpu backend is only ever initialised if a tensor is made before a backend is set. The global
 * `PROD` flag would hide the banner too, but also tfjs's warnings that matter ("Initialization of
 * backend wasm failed"), so it is left alone. tfjs never writes to stdout on these paths; we avoid
 * `LayersModel.fit`, whose verbose logging would (with tfjs-node, a progress bar on stdout).
 * @module
 */
import type * as Tf from '@tensorflow/tfjs';

/** The tfjs namespace (`@tensorflow/tfjs`). */
export type TfModule = typeof Tf;

/** The backends this module selects: tfjs-node's native `tensorflow`, or `wasm`. */
export type BackendName = 'tensorflow' | 'wasm';

/** The outcome of {@link initBackend}. */
export interface Backend {
  /** The active backend. */
  readonly name: BackendName;
  /** The tfjs namespace, ready to use. */
  readonly tf: TfModule;
  /** Why tfjs-node was not used, when it was not: `'not installed'`, or the error it failed with. */
  readonly nodeUnavailable?: string;
}

/** Kept out of a string literal so that neither tsc nor a bundler tries to resolve it. */
const TFJS_NODE = ['@tensorflow', 'tfjs-node'].join('/');

let chosen: Promise<Backend> | undefined;
let ready: TfModule | undefined;

/**
 * Selects and initialises the backend: tfjs-node if it resolves and initialises, else wasm.
 * Idempotent: every call in a thread returns the same promise, so concurrent first calls share one
 * initialisation. Call it before any other tfjs use.
 * @returns which backend is active, with the tfjs namespace
 * @throws Error if neither backend can be initialised (the wasm binary could not be loaded); the
 *   pure-JS cpu backend is not a silent fallback, being 2–4× slower than wasm here
 * @example
 * ```ts
 * const { name, tf } = await initBackend(); // name: 'wasm' without tfjs-node
 * ```
 */
export function initBackend(): Promise<Backend> {
  chosen ??= select().catch((err: unknown) => {
    chosen = undefined; // let a later call retry rather than caching the failure
    throw err;
  });
  return chosen;
}

/**
 * The tfjs namespace, once {@link initBackend} has resolved. Synchronous, for code inside
 * `tf.tidy` and gradient closures.
 * @throws Error if no backend has been chosen yet in this thread
 */
export function tfjs(): TfModule {
  if (ready === undefined) throw new Error('no TensorFlow.js backend yet: await initBackend() first');
  return ready;
}

async function select(): Promise<Backend> {
  const tf: TfModule = await import('@tensorflow/tfjs');
  let nodeUnavailable: string;
  try {
    await import(TFJS_NODE);
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      ready = tf;
      return Object.freeze({ name: 'tensorflow', tf });
    }
    nodeUnavailable = 'tfjs-node loaded but its backend did not initialise';
  } catch (err) {
    nodeUnavailable = isModuleNotFound(err) ? 'not installed' : `failed to load: ${message(err)}`;
  }
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(`the TensorFlow.js wasm backend did not initialise (tfjs-node: ${nodeUnavailable})`);
  }
  await tf.ready();
  ready = tf;
  return Object.freeze({ name: 'wasm', tf, nodeUnavailable });
}

/**
 * True when tfjs-node itself is absent — not when it is present but one of its own files (the
 * native binding) is missing, which is a broken install worth reporting as such.
 */
function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  return notFound && message(err).includes(`'${TFJS_NODE}'`);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
