/**
 * `privagg serve` and `privagg client` as processes: an aborted round, a client whose input has the
 * wrong length, a coordinator killed mid-round and replaced on the same port, the first line with
 * `--port 0`, health checking, and SIGTERM.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { Participant, TransportError } from '../../src/client/sdk.ts';
import {
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from '../../src/gen/grpc/health/v1/health.ts';
import { inputVector, lines, Proc, privagg, readRounds, Serve, scratch, sumMod32 } from './procs.ts';

const tmp = scratch();
after(() => tmp.cleanup());

function client(port: number, id: string, input: string, ...more: string[]): Proc {
  return new Proc(['client', '--server', `127.0.0.1:${port}`, '--id', id, '--input', input, ...more]);
}

describe('privagg serve and client processes', { concurrency: true }, () => {
  it('aborts below threshold: an "aborted" line with a reason and no sum; clients say why', async () => {
    const out = `${tmp.dir}/abort.jsonl`;
    const serve = new Serve([
      '--port',
      '0',
      '--clients',
      '5',
      '--threshold',
      '4',
      '--dim',
      '3',
      '--out',
      out,
    ]);
    const port = await serve.port;
    const good = tmp.file('abort-good.json', [1, 2, 3]);
    const long = tmp.file('abort-long.json', [1, 2, 3, 4]);
    const [a, b, c, d, e] = await Promise.all([
      client(port, 'a', good, '--fail-at', 'masked').exited,
      client(port, 'b', good, '--fail-at', 'masked').exited,
      client(port, 'c', good).exited,
      client(port, 'd', good).exited,
      // Its input is one value too long: it learns the dimension from the announcement and leaves.
      client(port, 'e', long).exited,
    ]);
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
    const [round, ...more] = readRounds(out);
    assert.equal(more.length, 0);
    assert.equal(round!['status'], 'aborted');
    assert.deepEqual(round!['survivors'], []);
    // Nobody's input is in a sum: every selected client is dropped, at the stage it was lost or, for
    // those still there, at the stage the round aborted in.
    assert.deepEqual(round!['dropped'], {
      a: 'masked',
      b: 'masked',
      c: 'masked',
      d: 'masked',
      e: 'advertise',
    });
    assert.match(String(round!['reason']), /^too-few-clients at masked/);
    assert.equal('sum' in round!, false);
    assert.deepEqual(Object.keys(round!), ['round', 'status', 'survivors', 'dropped', 'reason']);

    for (const run of [a, b]) assert.equal(run.status, 3);
    for (const run of [c, d]) {
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^round 1: aborted \(too-few-clients\): too-few-clients at masked.*\n$/);
    }
    assert.equal(e.status, 2);
    assert.deepEqual(lines(e.stderr), [
      `privagg: --input ${long} has 4 values but the coordinator's round 1 sums vectors of length 3`,
    ]);
  });

  it('a coordinator killed mid-round: clients fail with one line; a new one on the port serves', async () => {
    const dim = 5;
    const out1 = `${tmp.dir}/killed-1.jsonl`;
    const out2 = `${tmp.dir}/killed-2.jsonl`;
    const first = new Serve(['--port', '0', '--clients', '4', '--dim', String(dim), '--out', out1]);
    const port = await first.port;
    const input = (name: string, seed: number) => ({
      path: tmp.file(`killed-${name}.json`, inputVector(seed, dim)),
      values: inputVector(seed, dim),
    });
    const [ia, ib, ic, id] = [input('a', 1), input('b', 2), input('c', 3), input('d', 4)];
    const retry = ['--retries', '40', '--retry-delay-ms', '100'];
    // a and b take part in two rounds; d in one.
    const a = client(port, 'a', ia.path, '--rounds', '2', ...retry);
    const b = client(port, 'b', ib.path, '--rounds', '2', ...retry);
    const d = client(port, 'd', id.path);
    // The fourth client runs here: on entering the share stage (so every client has sent its keys and
    // is waiting for the coordinator) it kills the coordinator.
    const inTest = new Participant({
      address: `127.0.0.1:${port}`,
      credentials: credentials.createInsecure(),
      name: 'killer',
      onStage: (stage) => {
        if (stage === 'share') first.child.kill('SIGKILL');
      },
    });
    await assert.rejects(inTest.participate(() => [Uint32Array.from(inputVector(9, dim))]));
    inTest.close();
    assert.equal((await first.exited).signal, 'SIGKILL');

    const lost =
      /^privagg: round 1: lost the coordinator at 127\.0\.0\.1:\d+ during stage '(advertise|share)': UNAVAILABLE/;
    const dRun = await d.exited;
    assert.equal(dRun.status, 1);
    assert.equal(dRun.stdout, '');
    assert.equal(lines(dRun.stderr).length, 1, dRun.stderr);
    assert.match(dRun.stderr, lost);

    const second = new Serve(['--port', String(port), '--clients', '3', '--dim', String(dim), '--out', out2]);
    assert.equal(await second.port, port);
    const c = client(port, 'c', ic.path);
    const [aRun, bRun, cRun, served] = await Promise.all([a.exited, b.exited, c.exited, second.exited]);
    assert.equal(served.status, 0, served.stderr);
    assert.deepEqual(readRounds(out2), [
      {
        round: 1,
        status: 'ok',
        survivors: ['a', 'b', 'c'],
        dropped: {},
        sum: sumMod32([ia.values, ib.values, ic.values], dim),
      },
    ]);
    assert.equal(cRun.status, 0, cRun.stderr);
    for (const run of [aRun, bRun]) {
      // Round 1 was lost with the first coordinator (exit 1 says so); round 2 ran on the second.
      assert.equal(run.status, 1);
      assert.equal(run.stdout, 'round 2: done\n');
      assert.equal(lines(run.stderr).length, 1, run.stderr);
      assert.match(run.stderr, lost);
    }
    assert.equal(readRounds(out1).length, 0);
  });

  it('--port 0 prints the port first; health is SERVING; SIGTERM stops it cleanly', async () => {
    const out = `${tmp.dir}/health.jsonl`;
    const serve = new Serve([
      '--port',
      '0',
      '--clients',
      '3',
      '--dim',
      '1',
      '--out',
      out,
      '--log-level',
      'debug',
    ]);
    const port = await serve.port;
    const health = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        health.check({ service }, (error, response) => (error ? reject(error) : resolve(response))),
      );
    try {
      assert.equal((await check('')).status, HealthCheckResponse_ServingStatus.SERVING);
      assert.equal(
        (await check('privagg.v1.SecureAggregation')).status,
        HealthCheckResponse_ServingStatus.SERVING,
      );
      await assert.rejects(check('no.such.Service'), /NOT_FOUND/);
    } finally {
      health.close();
    }
    // Two clients wait for a round that never comes; on SIGTERM both are told the coordinator is going.
    const waiting = ['w1', 'w2'].map(
      (name) =>
        new Participant({ address: `127.0.0.1:${port}`, credentials: credentials.createInsecure(), name }),
    );
    const calls = waiting.map((p) => p.participate(() => [Uint32Array.of(1)]));
    await serve.until((p) => p.stderr.split('client checked in').length === 3, 'two check-ins');
    serve.child.kill('SIGTERM');
    for (const call of calls) {
      await assert.rejects(
        call,
        (error: unknown) =>
          error instanceof TransportError &&
          error.retryable &&
          /coordinator shutting down/.test(error.details),
      );
    }
    for (const p of waiting) p.close();
    const run = await serve.exited;
    assert.equal(run.status, 128 + 15);
    assert.deepEqual(lines(run.stdout), [`listening on 127.0.0.1:${port}`]);
    assert.equal(readRounds(out).length, 0);
  });

  it('--help lists the commands; serve and client --help print their usage', async () => {
    const [top, serve, client] = await Promise.all([
      privagg('--help'),
      privagg('serve', '--help'),
      privagg('client', '--help'),
    ]);
    assert.equal(top.status, 0);
    assert.match(top.stdout, /^ {2}serve {2}/m);
    assert.match(top.stdout, /^ {2}client {1}/m);
    assert.equal(serve.status, 0);
    assert.match(serve.stdout, /^usage: privagg serve --port P --clients N --dim D --out FILE/);
    assert.match(serve.stdout, /--insecure-plaintext-dev-only/);
    assert.equal(client.status, 0);
    assert.match(client.stdout, /^usage: privagg client --server HOST:PORT --id ID --input FILE/);
    assert.match(client.stdout, /--fail-at STAGE/);
  });
});
