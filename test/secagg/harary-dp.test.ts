/**
 * Distributed DP on a Harary graph (src/dp/announced.ts `maxMinNoisyClients`): a client accepts
 * h ≤ minSurvivors − n_C — every sum the coordinator can unmask holds at least minSurvivors
 * survivors, of whom at most n_C are corrupt, and the graph's privacy bounds exclude partial sums —
 * and refuses anything larger; the complete graph keeps h ≤ t − n_C.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAnnouncedPrivacy, maxMinNoisyClients, privacyPlan } from '../../src/dp/announced.ts';
import { PrivacyRounds } from '../../src/dp/round-planner.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { roundContext } from '../../src/wire/context.ts';

const N = 500;
const PLAN = planGraph({ n: N, dropoutRate: 0.1, adversarialRate: 0.05 });

/** A distributed-DP announcement sized for h noisy clients. */
function announced(h: number) {
  const shape = {
    clients: N,
    threshold: h + PLAN.maxCorruptClients,
    maxCorruptClients: PLAN.maxCorruptClients,
  };
  const a = new PrivacyRounds(
    { mechanism: 'distributed-skellam', dimension: 64, clip: 1, noiseMultiplier: 1 },
    new DeterministicRng('harary-dp'),
  ).announce(shape);
  assert.ok(a.mechanism === 'distributed-skellam');
  assert.equal(a.minNoisyClients, h);
  return a;
}

function round(privacy: ReturnType<typeof announced>, graph: 'harary' | 'complete') {
  return roundParams({
    round: 1,
    serverModel: 'semi-honest',
    threshold: graph === 'harary' ? PLAN.threshold : 334,
    maxCorruptClients: PLAN.maxCorruptClients,
    clients: Array.from({ length: N }, (_, i) => i + 1),
    vectors: privacyPlan(privacy, N).vectors,
    graph: graph === 'harary' ? PLAN.graph : { kind: 'complete' },
    context: roundContext(privacy, undefined),
  });
}

describe('distributed DP on a Harary graph', () => {
  it('h may be minSurvivors − n_C, where t − n_C would be negative', () => {
    const h = PLAN.minSurvivors - PLAN.maxCorruptClients;
    assert.ok(PLAN.threshold - PLAN.maxCorruptClients < 1, 't − n_C gives no bound at all');
    const a = announced(h);
    const params = round(a, 'harary');
    assert.equal(maxMinNoisyClients(params), h);
    assert.equal(checkAnnouncedPrivacy(a, params), undefined);
  });

  it('refuses h above minSurvivors − n_C', () => {
    const h = PLAN.minSurvivors - PLAN.maxCorruptClients;
    const a = announced(h + 1);
    assert.match(
      checkAnnouncedPrivacy(a, round(a, 'harary')) ?? '',
      new RegExp(`exceeds minSurvivors - n_C = ${h}`),
    );
  });

  it('keeps h ≤ t − n_C on the complete graph', () => {
    const ok = announced(334 - PLAN.maxCorruptClients);
    assert.equal(checkAnnouncedPrivacy(ok, round(ok, 'complete')), undefined);
    const inflated = announced(334 - PLAN.maxCorruptClients + 1);
    assert.match(checkAnnouncedPrivacy(inflated, round(inflated, 'complete')) ?? '', /exceeds t - n_C = 309/);
  });
});
