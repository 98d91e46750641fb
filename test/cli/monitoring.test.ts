/**
 * `privagg serve --http-port`: /metrics scraped between rounds of a real run (clients waiting, a
 * refused duplicate name) and after rounds with drops and an abort, checked against the rounds' JSON
 * lines; neither /metrics nor /state contains a sum value. The bearer token, /healthz and the
 * refusals of unsafe or meaningless flag combinations.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { httpPort, inputVector, Proc, privagg, readRounds, Serve, sample, scratch } from './procs.ts';

const DIM = 8;
const CLIENTS = 5;

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await res.text() };
}

/** Polls /metrics until `test` holds (the run makes progress on its own; no time limit but the test's). */
async function scrapeUntil(port: number, test: (text: string) => boolean): Promise<string> {
  for (;;) {
    const { body } = await get(port, '/metrics');
    if (test(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('privagg serve --http-port', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('exports round, drop, refusal, client and byte metrics that match the rounds, and no sums', async () => {
    const out = `${tmp.dir}/rounds.jsonl`;
    const serve = new Serve([
      ...['--port', '0', '--clients', String(CLIENTS), '--threshold', '4', '--dim', String(DIM)],
      ...['--rounds', '3', '--out', out, '--http-port', '0'],
    ]);
    const port = await serve.port;
    const http = await httpPort(serve);
    const names = Array.from({ length: CLIENTS }, (_, i) => `c${i}`);
    const client = (name: string, round: number, failAt?: string) => {
      const args = ['client', '--server', `127.0.0.1:${port}`, '--id', name, '--retries', '0'];
      args.push(
        '--input',
        tmp.file(`${name}-${round}.json`, inputVector(round * 10 + names.indexOf(name), DIM)),
      );
      if (failAt) args.push('--fail-at', failAt);
      return new Proc(args);
    };

    // Round 1: c4 is lost at the masked stage; 4 survive (t = 4).
    const first = names.map((n) => client(n, 1, n === 'c4' ? 'masked' : undefined));
    await Promise.all(first.map((c) => c.exited));
    await serve.until((p) => p.stdout.includes('round 1:'), 'round 1');

    // Between rounds: two clients wait, and a second 'c0' is refused while the first waits.
    const second = [client('c0', 2, 'share'), client('c1', 2, 'share')];
    let text = await scrapeUntil(http, (t) => sample(t, 'privagg_clients{state="waiting"}') === 2);
    const duplicate = await client('c0', 2).exited;
    assert.equal(duplicate.status, 1, duplicate.stderr);
    text = await scrapeUntil(
      http,
      (t) => sample(t, 'privagg_client_refusals_total{reason="name-taken"}') === 1,
    );
    assert.equal(sample(text, 'privagg_rounds_total{status="ok"}'), 1);
    assert.equal(sample(text, 'privagg_clients{state="in_round"}'), 0);
    // Round 2: c0 and c1 are lost at the share stage: 3 < t, so the round aborts.
    second.push(client('c2', 2), client('c3', 2), client('c4', 2));
    await Promise.all(second.map((c) => c.exited));
    await serve.until((p) => p.stdout.includes('round 2:'), 'round 2');

    text = (await get(http, '/metrics')).body;
    const rounds = readRounds(out);
    assert.equal(rounds.length, 2);
    assert.deepEqual(
      rounds.map((r) => r['status']),
      ['ok', 'aborted'],
    );
    assert.equal(sample(text, 'privagg_rounds_total{status="ok"}'), 1);
    assert.equal(sample(text, 'privagg_rounds_total{status="aborted"}'), 1);
    assert.equal(sample(text, 'privagg_round_duration_seconds_count'), 2);
    assert.equal(sample(text, 'privagg_stage_duration_seconds_count{stage="advertise"}'), 2);
    const dropsByStage = new Map<string, number>();
    for (const r of rounds) {
      for (const stage of Object.values(r['dropped'] as Record<string, string>)) {
        dropsByStage.set(stage, (dropsByStage.get(stage) ?? 0) + 1);
      }
    }
    // The aborted round lists every selected client as lost at the stage it aborted in.
    assert.deepEqual(Object.fromEntries(dropsByStage), { masked: 1, share: 5 });
    for (const [stage, n] of dropsByStage) {
      assert.equal(sample(text, `privagg_clients_dropped_total{stage="${stage}"}`), n, stage);
    }
    assert.ok(sample(text, 'privagg_bytes_received_total')! > 0);
    assert.ok(sample(text, 'privagg_bytes_sent_total')! > 0);
    assert.ok(sample(text, 'privagg_event_loop_delay_seconds{quantile="max"}')! >= 0);
    assert.ok(sample(text, 'process_cpu_user_seconds_total')! > 0, 'the Node default metrics');
    assert.equal(sample(text, 'privagg_epsilon_budget'), undefined, 'no privacy, no budget');

    const state = JSON.parse((await get(http, '/state')).body) as { rounds: unknown[] };
    assert.equal(state.rounds.length, 2);
    const sum = rounds[0]!['sum'] as number[];
    assert.equal(sum.length, DIM);
    for (const body of [text, JSON.stringify(state)]) {
      for (const v of sum) assert.ok(!body.includes(String(v)), `sum element ${v} exposed`);
    }

    const third = names.map((n) => client(n, 3));
    await Promise.all(third.map((c) => c.exited));
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
  });

  it('requires the bearer token on /metrics and /state, not on / and /healthz', async () => {
    const token = 'a-long-enough-monitoring-token';
    const tokenFile = tmp.file('http-token', `${token}\n`);
    const serve = new Serve([
      ...['--port', '0', '--clients', '2', '--dim', '2', '--out', `${tmp.dir}/t.jsonl`],
      ...['--http-port', '0', '--http-token-file', tokenFile],
    ]);
    await serve.port;
    const http = await httpPort(serve);
    for (const path of ['/metrics', '/state']) {
      assert.equal((await get(http, path)).status, 401, path);
      assert.equal((await get(http, path, 'wrong-token-of-some-length')).status, 401, path);
      assert.equal((await get(http, path, token)).status, 200, path);
    }
    assert.equal((await get(http, '/healthz')).body, 'ok\n');
    assert.match((await get(http, '/')).body, /<title>privagg coordinator<\/title>/);
    assert.equal((await get(http, '/nope', token)).status, 404);
    const post = await fetch(`http://127.0.0.1:${http}/state`, { method: 'POST' });
    assert.equal(post.status, 405);
    serve.child.kill('SIGTERM');
    const served = await serve.exited;
    assert.equal(served.status, 143, served.stderr);
  });

  it('refuses a non-loopback --http-host without a token, and HTTP flags without --http-port', async () => {
    const base = ['serve', '--port', '0', '--clients', '2', '--dim', '2', '--out', `${tmp.dir}/x.jsonl`];
    const cases: [string[], RegExp][] = [
      [['--http-port', '0', '--http-host', '0.0.0.0'], /--http-host 0\.0\.0\.0 is not a loopback address/],
      [['--http-host', '127.0.0.1'], /--http-host needs --http-port/],
      [['--http-token-file', tmp.file('t2', 'x'.repeat(20))], /--http-token-file needs --http-port/],
      [['--http-port', '0', '--http-token-file', tmp.file('t3', 'short')], /must hold one token of 16/],
      [['--http-port', '70000'], /http-port/],
    ];
    for (const [args, message] of cases) {
      const run = await privagg(...base, ...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /^privagg: /);
    }
  });
});
