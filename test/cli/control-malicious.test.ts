/**
 * `privagg serve --control --roster`: the operator's aggregations run in the malicious setting. A
 * definition is checked by that setting's rules (2t > N + n_C; no Harary graph), and four enrolled
 * `privagg client --identity --roster` processes — which take part in malicious-setting rounds only —
 * complete a round started over the control API with the exact sum of their inputs.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import {
  type Aggregation,
  ControlClient,
  decodeSums,
  RoundStatus,
  Setting,
} from '../../src/client/control.ts';
import {
  enroll,
  failedStatus,
  inputVector,
  lines,
  Proc,
  privagg,
  Serve,
  scratch,
  sumMod32,
} from './procs.ts';

const DIM = 8;
const OPERATOR_TOKEN = 'operator-token-0123456789abcdef';
const NAMES = ['c1', 'c2', 'c3', 'c4'];

describe('privagg serve --control --roster', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());
  const { keys, roster } = enroll(tmp, NAMES);
  const operatorToken = tmp.file('operator-token', `${OPERATOR_TOKEN}\n`);

  it('refuses a roster it cannot read, in one line naming it', async () => {
    const run = await privagg(
      ...['serve', '--control', '--port', '0', '--control-token-file', operatorToken],
      ...['--roster', operatorToken],
    );
    assert.equal(run.status, 2);
    assert.equal(lines(run.stderr).length, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^privagg: --roster ${operatorToken}`));
  });

  it(
    'checks definitions by the malicious rules and runs their rounds with identities',
    { timeout: 60_000 },
    async () => {
      const serve = new Serve([
        ...['--control', '--port', '0', '--control-token-file', operatorToken, '--roster', roster],
        ...['--log-level', 'debug'],
      ]);
      const address = `127.0.0.1:${await serve.port}`;
      const control = new ControlClient({
        address,
        credentials: credentials.createInsecure(),
        token: OPERATOR_TOKEN,
      });
      try {
        await serve.until(
          (p) => /"serverModel":"malicious"/.test(p.stderr),
          'the setting in the start-up log',
        );
        const aggregation = (overrides: Partial<Aggregation>): Aggregation => ({
          name: 'signed',
          vectors: [{ name: 'sum', length: DIM, bits: 32 }],
          cohort: { clients: 4, minClients: 4, checkInWindowMs: 0 },
          stageTimeoutMs: 10_000,
          ...overrides,
        });
        // t = 3 of 5 with n_C = 1 satisfies the semi-honest rules (2t > N, t > n_C), not 2t > N + n_C.
        const low = await failedStatus(
          control.define(
            aggregation({
              cohort: { clients: 5, minClients: 5, checkInWindowMs: 0 },
              graph: { choice: { $case: 'complete', value: { threshold: 3, maxCorruptClients: 1 } } },
            }),
          ),
        );
        assert.equal(low.code, status.INVALID_ARGUMENT, low.details);
        assert.match(low.details, /^aggregation\.graph\.complete\.threshold: .*malicious/);
        const sparse = await failedStatus(
          control.define(
            aggregation({
              graph: {
                choice: { $case: 'harary', value: { expectedDropout: 0.1, adversarialFraction: 0.05 } },
              },
            }),
          ),
        );
        assert.equal(sparse.code, status.INVALID_ARGUMENT, sparse.details);
        assert.match(sparse.details, /^aggregation\.graph\.harary: /);

        const defined = await control.define(aggregation({}));
        assert.equal(defined.threshold, 3);
        assert.equal(defined.setting, Setting.SETTING_MALICIOUS);
        const events = control.watch('signed')[Symbol.asyncIterator]();
        const inputs = new Map(NAMES.map((name, i) => [name, inputVector(20 + i, DIM)]));
        const clients = NAMES.map(
          (name) =>
            new Proc([
              ...['client', '--server', address, '--id', name],
              ...['--identity', keys.get(name)!.path, '--roster', roster],
              ...['--input', tmp.file(`${name}.json`, inputs.get(name))],
            ]),
        );
        await serve.until(
          (p) => (p.stderr.match(/"msg":"client checked in"/g) ?? []).length >= NAMES.length,
          'four check-ins',
        );
        assert.equal((await control.startRound('signed')).round, 1);
        const next = await events.next();
        assert.equal(next.done, false);
        const event = next.value!;
        assert.equal(event.kind, 'outcome');
        const outcome = (event as Extract<typeof event, { kind: 'outcome' }>).outcome;
        assert.equal(outcome.status, RoundStatus.ROUND_STATUS_OK);
        assert.deepEqual(outcome.survivors, NAMES);
        assert.deepEqual(
          [...decodeSums(outcome).get('sum')!],
          sumMod32(
            NAMES.map((n) => inputs.get(n)!),
            DIM,
          ),
        );
        // A client with an identity takes part in malicious-setting rounds only: its completing is the
        // proof that the round was one.
        const runs = await Promise.all(clients.map((c) => c.exited));
        for (const [i, run] of runs.entries()) assert.equal(run.status, 0, `${NAMES[i]}: ${run.stderr}`);
      } finally {
        control.close();
        serve.child.kill('SIGTERM');
        await serve.exited;
      }
    },
  );
});
