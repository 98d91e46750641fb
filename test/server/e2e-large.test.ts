/**
 * A 10M-parameter round over real gRPC: three SDK clients, one vector of 10,000,000 32-bit elements
 * (40 MB packed), sent in 1 MiB chunks to a coordinator that accepts at most 2 MiB per message
 * (`MAX_RECEIVE_BYTES`, as the CLI configures it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { VectorSpec } from '../../src/secagg/types.ts';
import {
  inputFor,
  playRound,
  startCoordinator,
  type TestCoordinator,
  testConfig,
} from './robustness-harness.ts';

const SPEC: VectorSpec = { name: 'model', length: 10_000_000, bits: 32 };
const CLIENTS = ['client-0', 'client-1', 'client-2'];

const running: TestCoordinator[] = [];
after(() => {
  for (const tc of running) tc.stop();
});

describe('a 10M-parameter round', () => {
  it('completes with three clients and an exact sum', async () => {
    const tc = await startCoordinator(
      testConfig({
        cohortSize: 3,
        minClients: 3,
        threshold: 2,
        vectors: [SPEC],
        maxConcurrentUploads: 1,
        maxFramesPerStage: 64,
      }),
    );
    running.push(tc);
    const played = await playRound(tc, CLIENTS, [], { maxChunkBytes: 1 << 20 });
    const { outcome } = played;
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.deepEqual(outcome.survivors, CLIENTS);
    for (const [name, result] of played.honest) assert.equal(result.status, 'fulfilled', name);
    const expected = new Uint32Array(SPEC.length);
    for (const name of CLIENTS) {
      const x = inputFor(name, SPEC);
      for (let i = 0; i < expected.length; i++) expected[i] = expected[i]! + x[i]!;
    }
    const sum = outcome.sums[0]!;
    assert.equal(sum.length, SPEC.length);
    // deepEqual on 10M elements is slow; compare the bytes.
    assert.ok(Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).equals(Buffer.from(expected.buffer)));
    // Each client's 40 MB went through as 1 MiB chunks, each well inside the 2 MiB receive limit.
    for (const name of CLIENTS) {
      const call = tc.calls.find((c) => c.name === name)!;
      assert.ok(call.bytes > SPEC.length * 4, `${name} sent its whole vector`);
      assert.ok(call.frames >= Math.ceil((SPEC.length * 4) / (1 << 20)), `${name} sent it in chunks`);
    }
  });
});
