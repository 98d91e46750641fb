/**
 * `privagg serve` with 20 `privagg client` processes, six of them killed by `--fail-at` at each of the
 * four stages: the JSON line names exactly the survivors, the stage each other client was lost at,
 * and the survivors' exact sum mod 2^32.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inputVector, lines, Proc, readRounds, Serve, scratch, sumMod32 } from './procs.ts';

const DIM = 64;
const CLIENTS = 20;
const FAIL_AT: Record<string, string> = {
  c02: 'advertise',
  c07: 'advertise',
  c05: 'share',
  c11: 'masked',
  c13: 'masked',
  c17: 'unmask',
};

describe('privagg serve with 20 client processes', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('sums exactly the survivors and names the stage each dropped client was lost at', async () => {
    const out = `${tmp.dir}/rounds.jsonl`;
    // Threshold default: floor(2*20/3)+1 = 14; 15 clients reach the masked stage, 14 answer unmask.
    const serve = new Serve([
      '--port',
      '0',
      '--clients',
      String(CLIENTS),
      '--dim',
      String(DIM),
      '--out',
      out,
    ]);
    const port = await serve.port;
    const names = Array.from({ length: CLIENTS }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
    const inputs = new Map(names.map((name, i) => [name, inputVector(i, DIM)]));
    const clients = names.map((name) => {
      const args = ['client', '--server', `127.0.0.1:${port}`, '--id', name];
      args.push('--input', tmp.file(`${name}.json`, inputs.get(name)));
      if (FAIL_AT[name]) args.push('--fail-at', FAIL_AT[name]);
      return { name, proc: new Proc(args) };
    });
    const runs = await Promise.all(clients.map((c) => c.proc.exited));
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);

    const rounds = readRounds(out);
    assert.equal(rounds.length, 1);
    const survivors = names.filter((n) => !FAIL_AT[n] || FAIL_AT[n] === 'unmask');
    const dropped = Object.fromEntries(Object.entries(FAIL_AT).filter(([, stage]) => stage !== 'unmask'));
    // A client lost at unmask is a survivor (its input is in the sum) that did not finish.
    const lostAfterMasked = Object.fromEntries(
      Object.entries(FAIL_AT).filter(([, stage]) => stage === 'unmask'),
    );
    assert.ok(Object.keys(lostAfterMasked).length > 0);
    assert.deepEqual(rounds[0], {
      round: 1,
      status: 'ok',
      survivors,
      dropped,
      lostAfterMasked,
      sum: sumMod32(
        survivors.map((n) => inputs.get(n)!),
        DIM,
      ),
    });

    clients.forEach(({ name }, i) => {
      const run = runs[i]!;
      if (FAIL_AT[name]) {
        assert.equal(run.status, 3, `${name}: ${run.stderr}`);
        assert.deepEqual(lines(run.stderr), [
          `privagg: --fail-at ${FAIL_AT[name]}: exiting abruptly on entering stage '${FAIL_AT[name]}'`,
        ]);
      } else {
        assert.equal(run.status, 0, `${name}: ${run.stderr}`);
        assert.equal(run.stdout, 'round 1: done\n');
        assert.equal(run.stderr, '');
      }
    });
    assert.deepEqual(lines(served.stdout), [
      `listening on 127.0.0.1:${port}`,
      'round 1: ok, 15 clients in the sum, 5 dropped',
    ]);
  });
});
