// Backend selection (src/fl/backend.ts): tfjs-node is not installed here, so the wasm backend is
// chosen, once, in the main thread and in a worker thread; tfjs is unreachable before the choice;
// and the pure-JS cpu backend — the one that prints tfjs's "install our node backend" banner on its
// first tensor — is never initialised.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { initBackend, tfjs } from '../../src/fl/backend.ts';

describe('initBackend', () => {
  it('refuses tfjs use before a backend is chosen', () => {
    assert.throws(() => tfjs(), /initBackend/);
  });

  it('falls back to wasm when tfjs-node is absent, and says why', async () => {
    const backend = await initBackend();
    assert.equal(backend.name, 'wasm');
    assert.equal(backend.nodeUnavailable, 'not installed');
    assert.equal(backend.tf.getBackend(), 'wasm');
    assert.equal(tfjs(), backend.tf);
  });

  it('is idempotent: every call shares one initialisation', async () => {
    const [a, b] = await Promise.all([initBackend(), initBackend()]);
    assert.equal(a, b);
    assert.equal(await initBackend(), a);
  });

  it('never initialises the cpu backend, whose first tensor prints the tfjs-node banner', async () => {
    const { tf } = await initBackend();
    tf.tidy(() => tf.matMul(tf.ones([4, 4]), tf.ones([4, 4])).dataSync());
    const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
    assert.deepEqual(Object.keys(registry), ['wasm'], `initialised backends: ${Object.keys(registry)}`);
  });

  it('works in a worker thread', async () => {
    // Workers do not inherit tsx's loader on Node 20: register it in the worker, then load the fixture.
    const fixture = new URL('./fixtures/backend-worker.ts', import.meta.url).href;
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(fixture)}); });`;
    const worker = new Worker(bootstrap, { eval: true });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.deepEqual(message, {
      name: 'wasm',
      nodeUnavailable: 'not installed',
      sum: 10,
      backend: 'wasm',
      tensors: 0,
    });
  });
});
