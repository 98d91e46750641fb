/** How worker threads start: compiled modules as they are, TypeScript sources through tsx. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { isTypeScriptModule, siblingModule, workerEntry } from '../../src/runtime/worker-entry.ts';

describe('worker entry', () => {
  it('names a sibling module in the caller’s own form', () => {
    assert.equal(
      siblingModule('./unmask-worker', 'file:///p/src/server/unmask-pool.ts').href,
      'file:///p/src/server/unmask-worker.ts',
    );
    assert.equal(
      siblingModule('./unmask-worker', 'file:///p/dist/server/unmask-pool.js').href,
      'file:///p/dist/server/unmask-worker.js',
    );
  });

  it('tells TypeScript from JavaScript by the path, not the query', () => {
    assert.equal(isTypeScriptModule('file:///p/a.ts'), true);
    assert.equal(isTypeScriptModule('file:///p/a.js'), false);
    assert.equal(isTypeScriptModule('file:///p/a.js?x=.ts'), false);
  });

  it('starts a JavaScript module as it is, with no bootstrap', () => {
    const url = new URL('file:///p/dist/server/unmask-worker.js');
    assert.deepEqual(workerEntry(url), { filename: url, eval: false });
  });

  it('starts a TypeScript module through a bootstrap that registers tsx, and it runs', async () => {
    const entry = workerEntry(new URL('../fixtures/echo-worker.ts', import.meta.url));
    assert.equal(entry.eval, true);
    const worker = new Worker(entry.filename, { eval: true, execArgv: [] });
    try {
      const reply = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage(20);
      });
      assert.equal(reply, 21);
    } finally {
      await worker.terminate();
    }
  });
});
