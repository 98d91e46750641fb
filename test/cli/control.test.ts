/**
 * `privagg serve --control` as a process, driven by a grpc-js client as an operator would: define an
 * aggregation, start rounds with a task that `privagg client --input-command cat` participants turn
 * into their input, stream the outcomes (a client lost at the masked stage is named, the sums are
 * exact), stop; then a private aggregation's release and budget. Bad requests end with a status whose
 * message names the field; the operator and participants cannot use each other's credentials.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, Metadata, makeGenericClientConstructor, status } from '@grpc/grpc-js';
import {
  type Aggregation,
  ControlClient,
  type ControlEvent,
  decodeReleaseSum,
  decodeSums,
  EndReason,
  PrivacyMechanism,
  type RoundOutcome,
  RoundStage,
  RoundStatus,
  Setting,
} from '../../src/client/control.ts';
import { planMechanism, privacyPlan } from '../../src/dp/announced.ts';
import { roundCost } from '../../src/dp/budget.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { PrivacyRounds } from '../../src/dp/round-planner.ts';
import { tightEpsilon } from '../../src/dp/tightest.ts';
import {
  failedStatus,
  inputVector,
  lines,
  Proc,
  privagg,
  readRounds,
  Serve,
  scratch,
  sumMod32,
} from './procs.ts';

const DIM = 8;
const OPERATOR_TOKEN = 'operator-token-0123456789abcdef';
const PARTICIPANTS = ['c1', 'c2', 'c3', 'c4', 'd1', 'd2', 'd3'] as const;
const tokenOf = (name: string) => `participant-${name}-0123456789`;

/** Collects events from an outcome stream until `count` outcomes (or the end) have come. */
async function take(events: AsyncIterator<ControlEvent>, count: number): Promise<ControlEvent[]> {
  const got: ControlEvent[] = [];
  while (got.filter((e) => e.kind === 'outcome').length < count) {
    const next = await events.next();
    if (next.done) break;
    got.push(next.value);
    if (next.value.kind === 'ended') break;
  }
  return got;
}

function plainAggregation(overrides: Partial<Aggregation> = {}): Aggregation {
  return {
    name: 'plain',
    vectors: [{ name: 'sum', length: DIM, bits: 32 }],
    cohort: { clients: 4, minClients: 3, checkInWindowMs: 300 },
    stageTimeoutMs: 5_000,
    ...overrides,
  };
}

describe('privagg serve --control', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('refuses the fixed-configuration flags, and control flags without --control', async () => {
    const token = tmp.file('op-token', OPERATOR_TOKEN);
    const [withDim, noToken, strayToken] = await Promise.all([
      privagg('serve', '--control', '--port', '0', '--control-token-file', token, '--dim', '4'),
      privagg('serve', '--control', '--port', '0'),
      privagg(
        ...['serve', '--port', '0', '--clients', '3', '--dim', '4', '--out', `${tmp.dir}/x`],
        ...['--control-token-file', token],
      ),
    ]);
    assert.equal(withDim.status, 2);
    assert.equal(
      withDim.stderr,
      "privagg: --dim cannot be used with --control: the operator's Define call sets it (aggregation.vectors)\n",
    );
    assert.equal(noToken.status, 2);
    assert.match(noToken.stderr, /^privagg: --control needs --control-token-file FILE/);
    assert.equal(strayToken.status, 2);
    assert.equal(strayToken.stderr, 'privagg: --control-token-file needs --control\n');
  });

  it('defines, starts rounds with a task, streams outcomes and a dropped client, stops; budget with DP', async () => {
    const tokens = tmp.file('tokens.json', Object.fromEntries(PARTICIPANTS.map((n) => [n, tokenOf(n)])));
    const operatorTokenFile = tmp.file('operator-token', `${OPERATOR_TOKEN}\n`);
    const out = `${tmp.dir}/rounds.jsonl`;
    const serve = new Serve([
      ...['--control', '--port', '0', '--control-token-file', operatorTokenFile, '--tokens', tokens],
      ...['--ledger-dir', tmp.dir, '--out', out, '--log-level', 'debug'],
    ]);
    const port = await serve.port;
    const address = `127.0.0.1:${port}`;
    const control = new ControlClient({
      address,
      credentials: credentials.createInsecure(),
      token: OPERATOR_TOKEN,
    });
    const participant = (name: string, ...args: string[]) =>
      new Proc(['client', '--server', address, '--id', name, '--token', tokenOf(name), ...args]);
    try {
      // ---- operator authentication -----------------------------------------------------------
      const anonymous = new ControlClient({ address, credentials: credentials.createInsecure(), token: 'x' });
      const wrong = await failedStatus(anonymous.define(plainAggregation()));
      assert.equal(wrong.code, status.UNAUTHENTICATED);
      assert.match(wrong.details, /not the operator token/);
      anonymous.close();
      const asParticipant = new ControlClient({
        address,
        credentials: credentials.createInsecure(),
        token: tokenOf('c1'),
      });
      assert.equal(
        (await failedStatus(asParticipant.define(plainAggregation()))).code,
        status.UNAUTHENTICATED,
      );
      asParticipant.close();
      const Raw = makeGenericClientConstructor(
        {
          define: {
            path: '/privagg.v1.AggregationControl/Define',
            requestStream: false,
            responseStream: false,
            requestSerialize: (b: Buffer) => b,
            requestDeserialize: (b: Buffer) => b,
            responseSerialize: (b: Buffer) => b,
            responseDeserialize: (b: Buffer) => b,
          },
        },
        'privagg.v1.AggregationControl',
      );
      const raw = new Raw(address, credentials.createInsecure());
      const rawDefine = (bytes: Buffer, metadata: Metadata) =>
        new Promise<unknown>((resolve, reject) =>
          (raw as unknown as Record<string, (...a: unknown[]) => void>)['define']!(
            bytes,
            metadata,
            (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value)),
          ),
        );
      const none = await failedStatus(rawDefine(Buffer.alloc(0), new Metadata()));
      assert.equal(none.code, status.UNAUTHENTICATED);
      assert.match(none.details, /^missing bearer token/);
      const operatorMetadata = new Metadata();
      operatorMetadata.set('authorization', `Bearer ${OPERATOR_TOKEN}`);
      const malformed = await failedStatus(rawDefine(Buffer.from([0x0a, 0xff]), operatorMetadata));
      assert.equal(malformed.code, status.INVALID_ARGUMENT);
      assert.match(malformed.details, /^request: not a valid DefineRequest/);
      raw.close();

      // ---- bad requests name the field --------------------------------------------------------
      const bad: [Aggregation, RegExp][] = [
        [plainAggregation({ name: 'no spaces' }), /^aggregation\.name: must be 1\.\.64 characters/],
        [plainAggregation({ cohort: undefined }), /^aggregation\.cohort: is required$/],
        [
          plainAggregation({ cohort: { clients: 4, minClients: 5, checkInWindowMs: 0 } }),
          /^aggregation\.cohort\.min_clients: must be in \[2, cohort\.clients = 4\]/,
        ],
        [
          plainAggregation({ vectors: [{ name: 'sum', length: DIM, bits: 33 }] }),
          /^aggregation\.vectors\[0\]\.bits: must be in \[1, 32\], got 33$/,
        ],
        [
          plainAggregation({
            graph: { choice: { $case: 'auto', value: { expectedDropout: 1.5, adversarialFraction: 0 } } },
          }),
          /^aggregation\.graph\.auto\.expected_dropout: must be a number in \[0, 1\), got 1\.5$/,
        ],
      ];
      for (const [aggregation, message] of bad) {
        const { code, details } = await failedStatus(control.define(aggregation));
        assert.equal(code, status.INVALID_ARGUMENT, details);
        assert.match(details, message);
      }
      const unknown = await failedStatus(control.startRound('nope'));
      assert.equal(unknown.code, status.NOT_FOUND);
      assert.equal(unknown.details, "aggregation: no aggregation named 'nope' is defined");

      // ---- aggregation 1: two rounds, a client lost at the masked stage ----------------------
      const defined = await control.define(plainAggregation());
      assert.deepEqual(
        {
          name: defined.name,
          threshold: defined.threshold,
          firstRound: defined.firstRound,
          setting: defined.setting,
        },
        { name: 'plain', threshold: 3, firstRound: 1, setting: Setting.SETTING_SEMI_HONEST },
      );
      assert.equal((await failedStatus(control.define(plainAggregation()))).code, status.ALREADY_EXISTS);
      const budgetless = await failedStatus(control.budget('plain'));
      assert.equal(budgetless.code, status.FAILED_PRECONDITION);
      assert.match(budgetless.details, /^aggregation: 'plain' has no differential privacy/);
      const events = control.watch('plain')[Symbol.asyncIterator]();

      const input3 = inputVector(3, DIM);
      const input4 = inputVector(4, DIM);
      const checkedIn = (count: number) => (p: Proc) =>
        (p.stderr.match(/"msg":"client checked in"/g) ?? []).length >= count;
      const clients = [
        participant('c1', '--input-command', 'cat', '--rounds', '2'),
        participant('c2', '--input-command', 'cat', '--rounds', '2'),
        participant('c3', '--input', tmp.file('c3.json', input3), '--rounds', '2'),
        participant('c4', '--input', tmp.file('c4.json', input4), '--fail-at', 'masked'),
      ];
      // The operator token never takes part in a round.
      const impostor = await new Proc([
        'client',
        '--server',
        address,
        '--id',
        'c1',
        '--token',
        OPERATOR_TOKEN,
        '--input',
        tmp.file('i.json', input3),
      ]).exited;
      assert.equal(impostor.status, 1);
      assert.match(impostor.stderr, /UNAUTHENTICATED: the operator token cannot take part in rounds/);
      await serve.until(checkedIn(4), 'four check-ins');

      const task1 = inputVector(11, DIM);
      const started = await control.startRound('plain', Buffer.from(JSON.stringify(task1)));
      assert.equal(started.round, 1);
      assert.equal(started.taskDigest.length, 32);
      const busy = await failedStatus(control.startRound('plain', Buffer.from('[]')));
      assert.equal(busy.code, status.FAILED_PRECONDITION);
      assert.match(
        busy.details,
        /^aggregation: round 1 is still running: start the next one after its outcome$/,
      );
      const [first] = await take(events, 1);
      assert.equal(first?.kind, 'outcome');
      const outcome1 = (first as { outcome: RoundOutcome }).outcome;
      assert.equal(outcome1.status, RoundStatus.ROUND_STATUS_OK);
      assert.deepEqual(outcome1.survivors, ['c1', 'c2', 'c3']);
      assert.deepEqual(outcome1.dropped, [{ client: 'c4', stage: RoundStage.STAGE_MASKED }]);
      const expected1 = sumMod32([task1, task1, input3], DIM);
      assert.deepEqual([...decodeSums(outcome1).get('sum')!], expected1);

      const task2 = inputVector(12, DIM);
      assert.equal((await control.startRound('plain', Buffer.from(JSON.stringify(task2)))).round, 2);
      const [second] = await take(events, 1);
      const outcome2 = (second as { outcome: RoundOutcome }).outcome;
      assert.deepEqual(outcome2.survivors, ['c1', 'c2', 'c3']);
      assert.deepEqual(outcome2.dropped, []);
      const expected2 = sumMod32([task2, task2, input3], DIM);
      assert.deepEqual([...decodeSums(outcome2).get('sum')!], expected2);

      assert.equal((await control.stop('plain')).lastRound, 2);
      const [ended] = await take(events, 1);
      assert.deepEqual(ended, {
        kind: 'ended',
        ended: { reason: EndReason.END_REASON_STOPPED, detail: 'stopped by the operator', lastRound: 2 },
      });
      const runs = await Promise.all(clients.map((c) => c.exited));
      for (const [i, run] of runs.slice(0, 3).entries()) {
        assert.equal(run.status, 0, `c${i + 1}: ${run.stderr}`);
        assert.equal(run.stdout, 'round 1: done\nround 2: done\n');
      }
      assert.equal(runs[3]!.status, 3);
      // A late watcher gets the whole history, then the end.
      const replay = [];
      for await (const event of control.watch('plain', 1)) replay.push(event);
      assert.deepEqual(
        replay.map((e) => (e.kind === 'outcome' ? e.outcome.round : e.kind)),
        [2, 'ended'],
      );
      const afterStop = await failedStatus(control.startRound('plain'));
      assert.equal(afterStop.code, status.FAILED_PRECONDITION);

      // ---- aggregation 2: distributed DP, its release and budget ------------------------------
      const privateAggregation: Aggregation = {
        name: 'private',
        vectors: [],
        cohort: { clients: 3, minClients: 0, checkInWindowMs: 0 },
        stageTimeoutMs: 5_000,
        privacy: {
          mechanism: PrivacyMechanism.PRIVACY_MECHANISM_DISTRIBUTED_SKELLAM,
          dimension: DIM,
          clip: 1,
          noise: { $case: 'noiseMultiplier', value: 0.7 },
          targetEpsilon: 20,
          delta: 0,
          ledger: 'private.ledger',
          adaptiveClipQuantile: 0,
        },
      };
      const noLedger = await failedStatus(
        control.define({ ...privateAggregation, privacy: { ...privateAggregation.privacy!, ledger: '' } }),
      );
      assert.equal(noLedger.code, status.INVALID_ARGUMENT);
      assert.match(noLedger.details, /^aggregation\.privacy\.ledger: is required/);
      const definedPrivate = await control.define(privateAggregation);
      assert.equal(definedPrivate.noiseMultiplier, 0.7);
      const privateEvents = control.watch('private')[Symbol.asyncIterator]();
      const update = tmp.file('update.json', new Array(DIM).fill(0.1));
      const dpClients = ['d1', 'd2', 'd3'].map((name) => participant(name, '--dp', '--input', update));
      // 4 check-ins for round 1, 3 for round 2, and these 3.
      await serve.until(checkedIn(10), 'three more check-ins');
      assert.equal((await control.startRound('private')).round, 1);
      const [privateEvent] = await take(privateEvents, 1);
      const outcome3 = (privateEvent as { outcome: RoundOutcome }).outcome;
      assert.equal(outcome3.status, RoundStatus.ROUND_STATUS_OK);
      assert.deepEqual(outcome3.sums, [], 'a private round never streams its raw sums');
      const release = decodeReleaseSum(outcome3)!;
      assert.equal(release.length, DIM);
      // Three updates of 0.1 per coordinate (unclipped), plus noise of σ = 0.7·Δ (Δ ≈ 1) in the sum:
      // the mean of the 8 coordinates is within ±1 of 0.3.
      const mean = release.reduce((a, b) => a + b, 0) / DIM;
      assert.ok(Math.abs(mean - 0.3) < 1, `mean ${mean}`);
      const announced = new PrivacyRounds({
        mechanism: 'distributed-skellam',
        dimension: DIM,
        clip: 1,
        noiseMultiplier: 0.7,
      }).announce({ clients: 3, threshold: 3, maxCorruptClients: 0 });
      const cost = roundCost(
        planMechanism(privacyPlan(announced, 3), 1, DEFAULT_RDP_ORDERS),
        DEFAULT_RDP_ORDERS,
      );
      const epsilon = tightEpsilon(
        {
          orders: DEFAULT_RDP_ORDERS,
          rdp: cost.rdp,
          pld: cost.pld && [{ event: cost.pld.event, count: cost.pld.count }],
        },
        1e-5,
      ).epsilon;
      assert.ok(Math.abs(outcome3.epsilonSpent - epsilon) < 1e-9, `${outcome3.epsilonSpent} vs ${epsilon}`);
      const budget = await control.budget('private');
      assert.deepEqual(
        { ...budget, epsilonSpent: Math.round(budget.epsilonSpent * 1e9) },
        {
          epsilonSpent: Math.round(outcome3.epsilonSpent * 1e9),
          targetEpsilon: 20,
          delta: 1e-5,
          roundsCounted: 1,
          accountant: budget.accountant,
        },
      );
      await control.stop('private');
      for (const run of await Promise.all(dpClients.map((c) => c.exited)))
        assert.equal(run.status, 0, run.stderr);

      // ---- the JSON lines are the outcomes, as serve writes them without --control ------------
      const recorded = readRounds(out);
      assert.deepEqual(
        recorded.map((r) => [r['round'], r['status'], r['dropped']]),
        [
          [1, 'ok', { c4: 'masked' }],
          [2, 'ok', {}],
          [1, 'ok', {}],
        ],
      );
      assert.deepEqual(recorded[0]!['sum'], expected1);
      assert.deepEqual(recorded[2]!['sum'], [...release]);
    } finally {
      control.close();
      serve.child.kill('SIGTERM');
    }
    const served = await serve.exited;
    assert.equal(served.status, 143, served.stderr.slice(-2000));
    assert.deepEqual(lines(served.stdout), [
      `listening on 127.0.0.1:${port}`,
      'plain: round 1: ok, 3 clients in the sum, 1 dropped',
      'plain: round 2: ok, 3 clients in the sum, 0 dropped',
      'plain: ended (stopped): stopped by the operator',
      'private: round 1: ok, 3 clients in the sum, 0 dropped',
      'private: ended (stopped): stopped by the operator',
    ]);
    // Logs never carry a token.
    assert.ok(!served.stderr.includes(OPERATOR_TOKEN));
    assert.ok(!served.stderr.includes(tokenOf('c1')));
  });
});
