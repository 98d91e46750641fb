/**
 * What a client refuses on a Harary graph (PROTOCOL.md §2.2): announced parameters below what their
 * threat model requires (degree, threshold, survivor floor, σ, the malicious setting), and a
 * coordinator that departs from the graph the session id fixes (shares from a non-neighbour, a
 * survivor list below the floor, too few advertised keys).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Refusal } from '../../src/secagg/errors.ts';
import type { GraphSpec } from '../../src/secagg/graph.ts';
import { maxPrivateDropouts, minimumHararyThreshold } from '../../src/secagg/graph-params.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { neighbourGraph } from '../../src/secagg/harary.ts';
import { ParameterError, type RoundParams, roundParams, splitViewMinimum } from '../../src/secagg/params.ts';
import { sessionIdFor } from '../../src/secagg/transcript.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, rngFor } from './harness.ts';

const N = 500;
const PLAN = planGraph({ n: N, dropoutRate: 0.1, adversarialRate: 0.05 });
const clients = Array.from({ length: N }, (_, i) => i + 1);

function announce(overrides: { threshold?: number; maxCorruptClients?: number; graph?: Partial<GraphSpec> }) {
  const graph = { ...PLAN.graph, ...overrides.graph } as GraphSpec;
  return roundParams({
    round: 1,
    serverModel: 'semi-honest',
    threshold: overrides.threshold ?? PLAN.threshold,
    maxCorruptClients: overrides.maxCorruptClients ?? PLAN.maxCorruptClients,
    clients,
    vectors: [{ name: 'v', length: 4, bits: 16 }],
    graph,
  });
}

function refusedWith(problem: ParameterError['problem'], pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ParameterError, `a ParameterError, got ${String(error)}`);
    assert.equal(error.problem, problem);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('roundParams checks a Harary graph against its announced threat model', () => {
  it('accepts the planned parameters, whose t is far below n_C (§7’s whole-cohort rule does not apply)', () => {
    assert.equal(PLAN.graph.kind, 'harary');
    const params = announce({});
    assert.ok(
      params.threshold < params.maxCorruptClients,
      `t = ${params.threshold}, n_C = ${params.maxCorruptClients}`,
    );
    assert.equal(params.minSurvivors, PLAN.minSurvivors);
    assert.deepEqual(params.graph, PLAN.graph);
  });

  it('refuses a degree too small for n_C corrupt and n − minSurvivors lost clients', () => {
    assert.throws(
      () => announce({ threshold: 11, graph: { degree: 20 } }),
      refusedWith('graph-too-weak', /degree k=20 is too small/),
    );
  });

  it('refuses a threshold the corrupt neighbours could reach', () => {
    const k = (PLAN.graph as { degree: number }).degree;
    const exposed = minimumHararyThreshold(N, k, PLAN.maxCorruptClients, 40) - 1;
    assert.throws(() => announce({ threshold: exposed }), refusedWith('threshold-too-low', /threshold t=/));
  });

  it('refuses a threshold a split view could reach twice: 2t ≤ k + 1 (no consistency check)', () => {
    const k = (PLAN.graph as { degree: number }).degree;
    assert.ok(
      minimumHararyThreshold(N, k, PLAN.maxCorruptClients, 40) <= k / 2,
      'the threat model allows k/2',
    );
    assert.throws(
      () => announce({ threshold: k / 2 }),
      refusedWith('threshold-too-low', /2t > k \+ 1 is needed/),
    );
    assert.doesNotThrow(() => announce({ threshold: k / 2 + 1 }));
  });

  it('refuses the same parameters when more clients are assumed corrupt', () => {
    assert.throws(() => announce({ maxCorruptClients: 100 }), ParameterError);
  });

  it('refuses a survivor floor that lets too many clients be lost', () => {
    const lowest =
      N - maxPrivateDropouts(N, (PLAN.graph as { degree: number }).degree, PLAN.maxCorruptClients, 40);
    assert.doesNotThrow(() => announce({ graph: { minSurvivors: lowest } }));
    assert.throws(
      () => announce({ graph: { minSurvivors: lowest - 1 } }),
      refusedWith('graph-too-weak', /falls apart/),
    );
  });

  it('refuses σ below 40 bits', () => {
    assert.throws(
      () => announce({ graph: { securityBits: 39 } }),
      refusedWith('graph-too-weak', /below the 40 bits/),
    );
    assert.throws(() => announce({ graph: { securityBits: 129 } }), refusedWith('invalid', /securityBits/));
  });

  it('refuses malformed Harary parameters', () => {
    assert.throws(() => announce({ graph: { degree: 33 } }), refusedWith('invalid', /even/));
    assert.throws(() => announce({ graph: { degree: N } }), refusedWith('invalid', /degree/));
    assert.throws(() => announce({ threshold: 40 }), refusedWith('invalid', /exceeds what a client and its/));
    assert.throws(
      () => announce({ graph: { minSurvivors: PLAN.threshold - 1 } }),
      refusedWith('invalid', /minSurvivors/),
    );
    assert.throws(() => announce({ graph: { minSurvivors: N + 1 } }), refusedWith('invalid', /minSurvivors/));
  });

  it('refuses the Harary graph in the malicious setting (its ring could be ground)', () => {
    assert.throws(
      () =>
        roundParams({
          round: 1,
          serverModel: 'malicious',
          threshold: 400,
          clients,
          vectors: [{ name: 'v', length: 4, bits: 16 }],
          graph: PLAN.graph,
        }),
      refusedWith('invalid', /semi-honest setting only/),
    );
  });

  it('binds every graph parameter into configHash', () => {
    // t one above the plan's, so that a degree two higher still has 2t > k + 1.
    const threshold = PLAN.threshold + 1;
    const base = announce({ threshold }).configHash;
    const harary = PLAN.graph as GraphSpec & { kind: 'harary' };
    for (const graph of [
      { degree: harary.degree + 2 },
      { minSurvivors: harary.minSurvivors + 1 },
      { securityBits: 41, minSurvivors: harary.minSurvivors + 20 },
    ]) {
      assert.notDeepEqual(announce({ threshold, graph }).configHash, base, JSON.stringify(graph));
    }
  });
});

/** A small Harary round: n = 30, k = 6, n_C = 1, with the widest survivor floor. */
function smallRound(): RoundParams {
  const n = 30;
  const threshold = Math.max(minimumHararyThreshold(n, 6, 1, 40), splitViewMinimum(7));
  return makeParams({
    n,
    threshold,
    maxCorruptClients: 1,
    graph: { kind: 'harary', degree: 6, minSurvivors: n - maxPrivateDropouts(n, 6, 1, 40), securityBits: 40 },
  });
}

describe('a client refuses a coordinator that departs from the graph', () => {
  it('shares delivered from a client that is not its neighbour (a manipulated graph)', () => {
    const params = smallRound();
    const victim = params.clients[3]!;
    let graph: ReturnType<typeof neighbourGraph> | undefined;
    const report = simulateRound({
      params,
      inputs: makeInputs(params),
      rngFor: rngFor('stranger'),
      tamper: (to, message) => {
        if (message.type === 'peer-keys') {
          graph = neighbourGraph(
            params.graph,
            params.clients,
            sessionIdFor(params.configHash, message.peers),
          );
        }
        if (message.type !== 'share-delivery' || to !== victim) return message;
        // Another client's delivery, re-addressed: what a coordinator on another graph would send.
        const stranger = params.clients.find((c) => c !== victim && !graph!.isNeighbour(victim, c))!;
        const ciphertexts = [
          ...message.ciphertexts,
          { from: stranger, to: victim, ciphertext: new Uint8Array(88) },
        ];
        ciphertexts.sort((a, b) => a.from - b.from);
        return { ...message, ciphertexts };
      },
    });
    const error = report.clientErrors.get(victim);
    assert.ok(error instanceof Refusal, `the victim refuses, got ${String(error)}`);
    assert.equal(error.code, 'bad-peer-list');
    assert.match(error.message, /not this client's neighbour in the round's graph/);
  });

  it('an unmask request whose survivor list is below the floor', () => {
    const params = smallRound();
    const victim = params.clients[0]!;
    const report = simulateRound({
      params,
      inputs: makeInputs(params),
      rngFor: rngFor('floor'),
      tamper: (to, message) => {
        if (message.type !== 'unmask-request' || to !== victim) return message;
        return { ...message, survivors: message.survivors.slice(0, params.minSurvivors - 1) };
      },
    });
    const error = report.clientErrors.get(victim);
    assert.ok(error instanceof Refusal);
    assert.equal(error.code, 'survivors-below-threshold');
    assert.match(error.message, new RegExp(`floor of ${params.minSurvivors}`));
  });

  it('a peer list with fewer clients than the floor', () => {
    const params = smallRound();
    const victim = params.clients[0]!;
    const report = simulateRound({
      params,
      inputs: makeInputs(params),
      rngFor: rngFor('peers'),
      tamper: (to, message) => {
        if (message.type !== 'peer-keys' || to !== victim) return message;
        return { ...message, peers: message.peers.slice(0, params.minSurvivors - 1) };
      },
    });
    const error = report.clientErrors.get(victim);
    assert.ok(error instanceof Refusal);
    assert.equal(error.code, 'too-few-peers');
  });

  it('the server refuses shares sent along another graph', () => {
    const params = smallRound();
    const sender = params.clients[2]!;
    // The sender addresses one share to a non-neighbour: the server drops it as a violation.
    let graph: ReturnType<typeof neighbourGraph> | undefined;
    const tampered = simulateRound({
      params,
      inputs: makeInputs(params),
      rngFor: rngFor('server-side'),
      tamper: (_to, message) => {
        if (message.type === 'peer-keys') {
          graph = neighbourGraph(
            params.graph,
            params.clients,
            sessionIdFor(params.configHash, message.peers),
          );
        }
        return message;
      },
      observe: (from, message) => {
        if (from !== sender || message.type !== 'shares') return;
        const stranger = params.clients.find((c) => c !== sender && !graph!.isNeighbour(sender, c))!;
        const first = message.ciphertexts[0]! as { to: ClientId };
        first.to = stranger; // `observe` sees the message before the server does
      },
    });
    assert.ok(
      tampered.violations.some((v) => v.client === sender && /one share to each neighbour/.test(v.message)),
      'the sender is dropped for sharing outside its neighbourhood',
    );
  });
});
