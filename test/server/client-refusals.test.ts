/**
 * A client that refuses tells the coordinator why: the SDK sends an Abort frame (CLIENT_REFUSED with
 * its refusal reason) and lets the coordinator close the call, instead of cancelling it at once (which
 * lost the frame). The coordinator drops the client as any other that leaves, and counts the refusal
 * by reason in the round's outcome (`refusals`, in the JSON line of `privagg serve` only when there
 * were some), logs one line per refusal, and exports the count to Prometheus.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { outcomeRecord } from '../../src/cli/serve.ts';
import { ClientRefusedError, Participant, privateUpdateInput } from '../../src/client/sdk.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { checkInToFrame, clientAbortToFrame, parseServerFrame } from '../../src/wire/convert.ts';
import {
  codeName,
  coordinatorsForThisFile,
  inputsFor,
  plainSums,
  RawStream,
  sdkParticipant,
  testRng,
} from './robustness-harness.ts';

const start = coordinatorsForThisFile();
const HONEST = ['honest-1', 'honest-2', 'honest-3', 'honest-4', 'honest-5'];
const REFUSER = 'strict';

describe('a client that refuses', () => {
  it('is counted by reason in the outcome, the JSON line, the log and the metrics; the round goes on', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const tc = await start({ cohortSize: 6, minClients: 6, threshold: 4 }, { logger });
    // A client that insists on differential privacy refuses a round without it, before sending
    // anything: its Abort is the only frame it sends after checking in.
    const strict = new Participant({
      address: tc.address,
      credentials: credentials.createInsecure(),
      name: REFUSER,
      rng: testRng(99),
    });
    const refused = strict
      .participate(privateUpdateInput(() => new Map([['update', Float64Array.of(0.5)]])))
      .then(
        () => assert.fail('the strict client must refuse'),
        (error: unknown) => error,
      )
      .finally(() => strict.close());
    const honest = Promise.all(HONEST.map((name) => sdkParticipant(tc.address, name, inputsFor(name))));
    const outcome = await tc.outcome();
    await honest;
    const error = await refused;

    assert.ok(error instanceof ClientRefusedError, String(error));
    assert.equal(error.refusal.code, 'insufficient-privacy');
    assert.equal(outcome.status, 'ok');
    assert.deepEqual(outcome.survivors, HONEST);
    assert.deepEqual(outcome.dropped, { [REFUSER]: 'advertise' });
    assert.deepEqual(outcome.sums, plainSums(HONEST, outcome.vectors));
    assert.deepEqual(outcome.refusals, { 'insufficient-privacy': 1 });

    const record = outcomeRecord(outcome);
    assert.deepEqual(Object.keys(record), ['round', 'status', 'survivors', 'dropped', 'sum', 'refusals']);
    assert.deepEqual(record['refusals'], { 'insufficient-privacy': 1 });

    const refusalLines = lines.filter((l) => l['msg'] === 'client refused');
    assert.equal(refusalLines.length, 1);
    assert.equal(refusalLines[0]!['client'], REFUSER);
    assert.equal(refusalLines[0]!['refusal'], 'insufficient-privacy');
    assert.equal(refusalLines[0]!['stage'], 'advertise');
    // One line of names, codes and the client's own bounded words: no field for anything else.
    assert.deepEqual(Object.keys(refusalLines[0]!).sort(), [
      'client',
      'detail',
      'hostname',
      'level',
      'msg',
      'pid',
      'refusal',
      'round',
      'stage',
      'time',
    ]);
    const ended = lines.find((l) => l['msg'] === 'round ended')!;
    assert.deepEqual(ended['refusals'], { 'insufficient-privacy': 1 });

    const metrics = createMetrics({ gauges: tc.coordinator, defaultMetrics: false });
    try {
      metrics.observer.roundEnded?.(outcome);
      metrics.observer.roundEnded?.(outcome);
      const text = await metrics.registry.metrics();
      assert.match(text, /^privagg_round_refusals_total\{reason="insufficient-privacy"\} 2$/m);
      // Sessions turned away before selection are another metric: nothing was counted there.
      assert.doesNotMatch(text, /^privagg_client_refusals_total\{/m);
    } finally {
      metrics.close();
    }
  });

  it('from any implementation: its Abort and half-close get status OK and no frame back', async () => {
    const tc = await start({ cohortSize: 4, minClients: 4, threshold: 3 });
    const raw = new RawStream(tc.address);
    await raw.sendFrame(checkInToFrame('raw'));
    const honest = Promise.all(
      ['h-1', 'h-2', 'h-3'].map((name) => sdkParticipant(tc.address, name, inputsFor(name))),
    );
    const announcement = parseServerFrame((await raw.nextBytes())!);
    assert.equal(announcement.type, 'round');
    await raw.sendFrame(
      clientAbortToFrame({
        type: 'abort',
        code: 'client-refused',
        refusal: 'threshold-too-low',
        reason: 'threshold-too-low: not enough for this client',
      }),
    );
    raw.end();
    const status = await raw.status;
    assert.equal(codeName(status), 'OK', status.details);
    assert.equal(await raw.nextBytes(), undefined, 'no frame follows the announcement');
    await honest;
    const outcome = await tc.outcome();
    assert.equal(outcome.status, 'ok');
    assert.deepEqual(outcome.dropped, { raw: 'advertise' });
    assert.deepEqual(outcome.refusals, { 'threshold-too-low': 1 });
  });

  it('leaves a round without refusals with no refusals field', async () => {
    const tc = await start({ cohortSize: 3, minClients: 3, threshold: 2 });
    const names = ['a', 'b', 'c'];
    await Promise.all(names.map((name) => sdkParticipant(tc.address, name, inputsFor(name))));
    const outcome = await tc.outcome();
    assert.equal(outcome.status, 'ok');
    assert.equal('refusals' in outcome, false);
    assert.equal('refusals' in outcomeRecord(outcome), false);
  });
});
