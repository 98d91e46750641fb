/**
 * The metrics and the dashboard's state fed by hand-made coordinator events: each event lands in the
 * series it should, the live counts are read at scrape time, ε is exported against the budget, and
 * an outcome's sums never reach /metrics or the dashboard's snapshot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoundOutcome } from '../../src/server/coordinator.ts';
import { DashboardState } from '../../src/server/dashboard-state.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import type { ClientStates, CoordinatorGauges } from '../../src/server/observer.ts';
import { sample } from '../cli/procs.ts';

const SUM = Uint32Array.of(3_141_592_653, 2_718_281_828, 1_414_213_562);

function outcome(round: number, status: 'ok' | 'aborted', epsilon?: number): RoundOutcome {
  return {
    round,
    status,
    survivors: status === 'ok' ? ['a', 'b', 'c'] : [],
    dropped: status === 'ok' ? { d: 'share' } : { a: 'masked', b: 'masked', c: 'masked', d: 'share' },
    sums: status === 'ok' ? [SUM] : [],
    vectors: [{ name: 'sum', length: 3, bits: 32 }],
    ...(status === 'aborted' && { reason: 'too-few-clients at masked: 2 < 3' }),
    ...(epsilon !== undefined && { epsilon }),
    timing: {
      totalMs: 1500,
      stageMs: { advertise: 500, share: 250, masked: 750 },
      eventLoopDelayMs: { p50: 0, p99: 1, max: 2 },
    },
  };
}

class FakeGauges implements CoordinatorGauges {
  bytesReceived = 0;
  bytesSent = 0;
  states: ClientStates = { waiting: 0, inRound: 0, uploading: 0, queuedForUpload: 0 };
  clientStates(): ClientStates {
    return this.states;
  }
}

describe('coordinator metrics', () => {
  it('counts rounds, stages, drops and refusals; reads live counts when scraped; exports ε', async () => {
    const gauges = new FakeGauges();
    const metrics = createMetrics({ gauges, epsilonBudget: 8, epsilonSpent: 1, defaultMetrics: false });
    try {
      let text = await metrics.registry.metrics();
      assert.equal(sample(text, 'privagg_epsilon_spent'), 1);
      assert.equal(sample(text, 'privagg_epsilon_budget'), 8);
      assert.equal(sample(text, 'privagg_rounds_total{status="aborted"}'), 0);

      metrics.observer.roundEnded!(outcome(1, 'ok', 2.5));
      metrics.observer.roundEnded!(outcome(2, 'aborted', 2.5));
      metrics.observer.refused!('name-taken');
      metrics.observer.refused!('waiting-full');
      metrics.observer.refused!('waiting-full');
      gauges.bytesReceived = 1234;
      gauges.bytesSent = 5678;
      gauges.states = { waiting: 4, inRound: 7, uploading: 2, queuedForUpload: 3 };
      text = await metrics.registry.metrics();
      assert.equal(sample(text, 'privagg_rounds_total{status="ok"}'), 1);
      assert.equal(sample(text, 'privagg_rounds_total{status="aborted"}'), 1);
      assert.equal(sample(text, 'privagg_round_duration_seconds_sum'), 3);
      assert.equal(sample(text, 'privagg_stage_duration_seconds_sum{stage="masked"}'), 1.5);
      assert.equal(sample(text, 'privagg_stage_duration_seconds_count{stage="unmask"}'), undefined);
      assert.equal(sample(text, 'privagg_clients_dropped_total{stage="share"}'), 2);
      assert.equal(sample(text, 'privagg_clients_dropped_total{stage="masked"}'), 3);
      assert.equal(sample(text, 'privagg_client_refusals_total{reason="waiting-full"}'), 2);
      assert.equal(sample(text, 'privagg_client_refusals_total{reason="name-taken"}'), 1);
      assert.equal(sample(text, 'privagg_bytes_received_total'), 1234);
      assert.equal(sample(text, 'privagg_bytes_sent_total'), 5678);
      assert.equal(sample(text, 'privagg_clients{state="waiting"}'), 4);
      assert.equal(sample(text, 'privagg_clients{state="in_round"}'), 7);
      assert.equal(sample(text, 'privagg_clients{state="uploading"}'), 2);
      assert.equal(sample(text, 'privagg_clients{state="queued_for_upload"}'), 3);
      assert.equal(sample(text, 'privagg_epsilon_spent'), 2.5);
      for (const v of SUM) assert.ok(!text.includes(String(v)), `sum element ${v} exported`);
    } finally {
      metrics.close();
    }
  });

  it('has no ε series without differential privacy', async () => {
    const metrics = createMetrics({ gauges: new FakeGauges(), defaultMetrics: false });
    try {
      const text = await metrics.registry.metrics();
      assert.ok(!text.includes('privagg_epsilon'), text);
    } finally {
      metrics.close();
    }
  });
});

describe('dashboard state', () => {
  it('follows a round through its stages, keeps metadata only, and takes finite notes', () => {
    const gauges = new FakeGauges();
    const state = new DashboardState(gauges, { budget: 8, spent: 0 });
    state.roundStarted(1, 4);
    state.stage(1, 'share');
    assert.deepEqual(state.snapshot().current, { round: 1, clients: 4, stage: 'share' });
    state.roundEnded(outcome(1, 'ok', 2.5));
    state.roundEnded(outcome(2, 'aborted', 2.5));
    state.annotate(1, { accuracy: 0.75 });
    assert.throws(() => state.annotate(1, { accuracy: Number.NaN }), RangeError);
    const snap = state.snapshot();
    assert.equal(snap.current, null);
    assert.equal(snap.roundsOk, 1);
    assert.equal(snap.roundsAborted, 1);
    assert.equal(snap.epsilonSpent, 2.5);
    assert.deepEqual(snap.rounds[0], {
      round: 1,
      status: 'ok',
      survivors: 3,
      droppedByStage: { share: 1 },
      durationMs: 1500,
      stageMs: { advertise: 500, share: 250, masked: 750 },
      epsilon: 2.5,
      notes: { accuracy: 0.75 },
    });
    assert.deepEqual(snap.rounds[1]!.droppedByStage, { masked: 3, share: 1 });
    assert.equal(snap.rounds[1]!.reason, 'too-few-clients at masked: 2 < 3');
    const json = JSON.stringify(snap);
    for (const v of SUM) assert.ok(!json.includes(String(v)), `sum element ${v} in the snapshot`);
  });
});
