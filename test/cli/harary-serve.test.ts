/**
 * `privagg serve --graph harary --expected-dropout F --adversarial-fraction F` with 16 `privagg client`
 * processes, two lost: the round runs on the SecAgg+ Harary graph planned from the threat model, its
 * log names the derived degree and threshold, and the JSON line is the usual one, with the
 * survivors' exact sum.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { inputVector, lines, Proc, readRounds, Serve, scratch, sumMod32 } from './procs.ts';

const DIM = 32;
const CLIENTS = 16;
const FAIL_AT: Record<string, string> = { c04: 'masked', c09: 'unmask' };

describe('privagg serve --graph harary', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('runs the planned Harary graph, logs k and t, and sums exactly the survivors', async () => {
    const out = `${tmp.dir}/rounds.jsonl`;
    const serve = new Serve([
      '--port',
      '0',
      '--clients',
      String(CLIENTS),
      '--dim',
      String(DIM),
      '--out',
      out,
      '--graph',
      'harary',
      '--expected-dropout',
      // 16 clients: with t ≥ k/2 + 1 a Harary graph completes reliably only at low dropout rates.
      '0.02',
      '--adversarial-fraction',
      '0.05',
    ]);
    const port = await serve.port;
    const names = Array.from({ length: CLIENTS }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
    const inputs = new Map(names.map((name, i) => [name, inputVector(i, DIM)]));
    const clients = names.map((name) => {
      const args = ['client', '--server', `127.0.0.1:${port}`, '--id', name];
      args.push('--input', tmp.file(`${name}.json`, inputs.get(name)));
      if (FAIL_AT[name]) args.push('--fail-at', FAIL_AT[name]);
      return new Proc(args);
    });
    await Promise.all(clients.map((c) => c.exited));
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);

    const survivors = names.filter((n) => FAIL_AT[n] !== 'masked');
    assert.deepEqual(readRounds(out), [
      {
        round: 1,
        status: 'ok',
        survivors,
        dropped: { c04: 'masked' },
        lostAfterMasked: { c09: 'unmask' },
        sum: sumMod32(
          survivors.map((n) => inputs.get(n)!),
          DIM,
        ),
      },
    ]);
    const plan = planGraph({ n: CLIENTS, dropoutRate: 0.02, adversarialRate: 0.05, mode: 'harary' });
    assert.equal(plan.graph.kind, 'harary');
    const logs = lines(served.stderr).map((l) => JSON.parse(l) as Record<string, unknown>);
    const listening = logs.find((l) => l['msg'] === 'coordinator listening');
    assert.deepEqual(listening?.['graph'], [plan.summary]);
    assert.equal(listening?.['threshold'], plan.threshold);
    const started = logs.find((l) => l['msg'] === 'round started');
    assert.equal(started?.['degree'], plan.graph.kind === 'harary' ? plan.graph.degree : undefined);
    assert.equal(started?.['minSurvivors'], plan.minSurvivors);
    assert.match(
      String(logs.find((l) => l['msg'] === 'round graph')?.['graph']),
      /SecAgg\+ Harary graph for n=16/,
    );
  });
});
