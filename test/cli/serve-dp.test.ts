/**
 * `privagg serve --dp` with `privagg client --dp` processes: each round's JSON line carries the noisy
 * sum of the clipped updates and the cumulative ε from the ledger; a restart with the same ledger and
 * a budget the next round would exceed says so and stops before it binds (it used to bind, wait for a
 * cohort and only then refuse it); misconfigurations fail before anything runs, and a client whose
 * update does not have the announced length stops with one line and exit 2.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { planMechanism, privacyPlan } from '../../src/dp/announced.ts';
import { formatUp, roundCost } from '../../src/dp/budget.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { PrivacyRounds } from '../../src/dp/round-planner.ts';
import { tightEpsilon } from '../../src/dp/tightest.ts';
import { lines, Proc, privagg, readRounds, Serve, scratch } from './procs.ts';

const DIM = 16;
const CLIENTS = 4;
const Z = 0.7;

/**
 * ε after `rounds` rounds as the coordinator accounts them (same parameters, δ = 1e-5): the smaller
 * of RDP's and the PLD accountant's bound, as the ledger computes it.
 */
function epsilonAfter(rounds: number): number {
  const shape = { clients: CLIENTS, threshold: 3, maxCorruptClients: 0 };
  const announced = new PrivacyRounds({
    mechanism: 'distributed-skellam',
    dimension: DIM,
    clip: 1,
    noiseMultiplier: Z,
  }).announce(shape);
  const mechanism = planMechanism(privacyPlan(announced, CLIENTS), 1, DEFAULT_RDP_ORDERS);
  const cost = roundCost(mechanism, DEFAULT_RDP_ORDERS);
  const pld = cost.pld && [{ event: cost.pld.event, count: rounds * cost.pld.count }];
  return tightEpsilon({ orders: DEFAULT_RDP_ORDERS, rdp: cost.rdp.map((r) => rounds * r), pld }, 1e-5)
    .epsilon;
}

describe('privagg serve --dp', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  const serveArgs = (
    ledger: string,
    out: string,
    target: string,
    rounds: number,
    noise: readonly string[] = ['--noise-multiplier', String(Z)],
  ) => [
    ...['--port', '0', '--clients', String(CLIENTS), '--threshold', '3', '--dim', String(DIM)],
    ...['--rounds', String(rounds), '--out', out, '--dp', 'distributed', '--clip', '1'],
    ...noise,
    ...['--target-epsilon', target, '--ledger', ledger],
  ];

  async function serveRounds(
    ledger: string,
    out: string,
    target: string,
    rounds: number,
    noise: readonly string[] = ['--noise-multiplier', String(Z)],
  ) {
    const serve = new Serve(serveArgs(ledger, out, target, rounds, noise));
    const port = await serve.port;
    const clients = Array.from({ length: CLIENTS }, (_, i) => {
      // Client i sends 0.1·(i+1) in every coordinate: norm 0.4·(i+1), so clients 2 and 3 are clipped.
      const update = new Array(DIM).fill(0.1 * (i + 1));
      const input = tmp.file(`u${i}.json`, update);
      return new Proc([
        'client',
        '--server',
        `127.0.0.1:${port}`,
        '--id',
        `c${i}`,
        '--input',
        input,
        '--dp',
        '--rounds',
        String(rounds),
      ]);
    });
    const runs = await Promise.all(clients.map((c) => c.exited));
    const served = await serve.exited;
    return { served, runs };
  }

  it('releases noisy sums with ε per round, and a restart stops at the budget', async () => {
    const ledger = `${tmp.dir}/ledger.db`;
    const out = `${tmp.dir}/rounds.jsonl`;
    // A budget that holds two rounds but not three.
    const target = String((epsilonAfter(2) + epsilonAfter(3)) / 2);
    const first = await serveRounds(ledger, out, target, 2);
    assert.equal(first.served.status, 0, first.served.stderr);
    for (const run of first.runs) assert.equal(run.status, 0, run.stderr);
    const rounds = readRounds(out);
    assert.equal(rounds.length, 2);
    // Unclipped: 0.1 + 0.2; clipped to norm 1 = 0.25 per coordinate each for clients 2 and 3.
    const expected = 0.1 + 0.2 + 0.25 + 0.25;
    let previous = 0;
    for (const r of rounds) {
      assert.equal(r['status'], 'ok');
      const sum = r['sum'] as number[];
      assert.equal(sum.length, DIM);
      const mean = sum.reduce((a, b) => a + b, 0) / DIM;
      // Noise σ = 0.7·Δ in the sum of h = 3 clients (Δ ≈ 1): the mean of 16 coordinates is within ±1.
      assert.ok(Math.abs(mean - expected) < 1, `round ${r['round']}: mean ${mean} vs ${expected}`);
      const epsilon = r['epsilon'] as number;
      assert.ok(epsilon > previous, `ε grows: ${previous} → ${epsilon}`);
      previous = epsilon;
    }
    assert.ok(
      Math.abs(previous - epsilonAfter(2)) < 1e-9 * previous,
      `ledger ε ${previous} vs ${epsilonAfter(2)}`,
    );
    // Restart with the same ledger and budget: the third round would exceed it. The coordinator says
    // so and stops at once, without binding (no "listening on"), with the status of a run the budget
    // stopped midway.
    const again = await privagg('serve', ...serveArgs(ledger, `${tmp.dir}/again.jsonl`, target, 1));
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(lines(again.stdout), [
      `stopped: round 3 would raise ε from ${formatUp(epsilonAfter(2))} to ${formatUp(epsilonAfter(3))}, ` +
        `above the budget ${target} (δ=1e-5); refusing to start it`,
    ]);
    assert.match(again.stderr, /privacy budget exhausted: not starting/);
    assert.equal(existsSync(`${tmp.dir}/again.jsonl`), false, 'the --out file is not even created');
  });

  it('stops a client whose update is not of the announced length: one line, exit 2', async () => {
    const out = `${tmp.dir}/length.jsonl`;
    const serve = new Serve([
      ...['--port', '0', '--clients', '2', '--dim', '8', '--out', out, '--dp', 'central', '--clip', '1'],
      ...['--target-epsilon', '100', '--noise-multiplier', '1', '--ledger', `${tmp.dir}/length.db`],
      ...['--stage-timeout-ms', '5000'],
    ]);
    const port = await serve.port;
    const client = (id: string, update: number[]) =>
      privagg(
        ...['client', '--server', `127.0.0.1:${port}`, '--id', id, '--dp', '--accept-central'],
        ...['--input', tmp.file(`${id}.json`, update)],
      );
    const [short, good] = await Promise.all([
      client('short', [0.1, 0.2, 0.3]),
      client('good', new Array(8).fill(0.1)),
    ]);
    assert.equal(short.status, 2, short.stderr);
    assert.deepEqual(lines(short.stderr), [
      `privagg: --input ${tmp.dir}/short.json has 3 numbers but the coordinator's round 1 takes updates of 8 numbers`,
    ]);
    // The round goes on without it (and, with 2 clients, aborts).
    assert.notEqual(good.status, null);
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
    assert.equal(readRounds(out)[0]!['status'], 'aborted');
  });

  it('calibrated with adaptive clipping, runs every round it planned within the budget', async () => {
    // The reported bug: without --noise-multiplier, calibration ignored the clip count's share and
    // the ledger refused round 1 ("would raise ε from 0 to 8.113, above the budget 8").
    const ledger = `${tmp.dir}/adaptive.db`;
    const out = `${tmp.dir}/adaptive.jsonl`;
    const run = await serveRounds(ledger, out, '8', 2, ['--adaptive-clip-quantile', '0.5']);
    assert.equal(run.served.status, 0, run.served.stderr);
    assert.doesNotMatch(run.served.stdout, /stopped/);
    const rounds = readRounds(out);
    assert.equal(rounds.length, 2);
    for (const r of rounds) assert.equal(r['status'], 'ok');
    const epsilon = rounds.at(-1)!['epsilon'] as number;
    assert.ok(epsilon <= 8 && epsilon > 7.9, `ε ${epsilon}`);
  });

  it('fails closed on incomplete privacy settings', async () => {
    const base = ['serve', '--port', '0', '--clients', '3', '--dim', '4', '--out', `${tmp.dir}/x.jsonl`];
    const cases: [string[], RegExp][] = [
      [['--dp', 'distributed'], /--dp needs --clip/],
      [['--dp', 'distributed', '--clip', '1'], /--dp needs --target-epsilon/],
      [['--dp', 'distributed', '--clip', '1', '--target-epsilon', '3'], /--dp needs --ledger/],
      [['--dp', 'local', '--clip', '1'], /--dp must be 'distributed' or 'central'/],
      [['--clip', '1'], /--clip needs --dp/],
      [['--dp', 'central', '--clip=-1'], /--clip must be a finite number > 0/],
      [['--dp', 'central', '--clip', '1', '--delta', '1'], /--delta must be a number in \(0, 1\)/],
    ];
    for (const [args, message] of cases) {
      const run = await privagg(...base, ...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(lines(run.stderr).at(-1) ?? '', message, args.join(' '));
    }
    const client = await privagg(
      'client',
      '--server',
      '127.0.0.1:1',
      '--id',
      'a',
      '--input',
      tmp.file('bad.json', [0.5, 'x']),
      '--dp',
    );
    assert.equal(client.status, 2);
    assert.match(client.stderr, /\[1\] is "x": not a finite number/);
  });
});
