// The coordinator's unmask workers start from a plain-JavaScript bundle (no TypeScript loader).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundledWorkerUrl } from '../../src/server/worker-bundle.ts';

describe('bundledWorkerUrl', () => {
  const workerModule = new URL('../../src/server/unmask-worker.ts', import.meta.url);

  it('bundles the unmask worker into one plain ES module with no TypeScript loader', () => {
    const url = bundledWorkerUrl(workerModule);
    assert.ok(url, 'the unmask worker bundles');
    assert.equal(url.protocol, 'data:');
    const code = Buffer.from(url.href.slice(url.href.indexOf(',') + 1), 'base64').toString('utf8');
    assert.match(code, /from "node:worker_threads"/, 'Node built-ins stay imports');
    assert.doesNotMatch(code, /\.ts["']/, 'no TypeScript module is left to load');
    assert.doesNotMatch(code, /tsx/, 'no tsx loader');
    assert.equal(bundledWorkerUrl(workerModule), url, 'built once per module');
  });

  it('declines what it cannot bundle, so the caller falls back to the loader', () => {
    assert.equal(bundledWorkerUrl(new URL('https://example.com/worker.ts')), undefined);
    assert.equal(bundledWorkerUrl(new URL('./no-such-worker.ts', import.meta.url)), undefined);
  });
});
