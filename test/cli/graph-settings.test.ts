/**
 * `privagg serve --graph complete|auto|harary --expected-dropout F --adversarial-fraction F`
 * (src/server/config.ts): the threat model in terms a user states, the derived k and t, and the
 * combinations that are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { ConfigError, coordinatorConfig, resolveServeSettings } from '../../src/server/config.ts';

type Flags = Record<string, string | boolean | undefined>;
const BASE: Flags = { port: '0', clients: '500', dim: '10', out: 'rounds.jsonl' };
const THREAT: Flags = { graph: 'auto', 'expected-dropout': '0.1', 'adversarial-fraction': '0.05' };

function settings(flags: Flags, file?: Record<string, unknown>) {
  return resolveServeSettings(
    file === undefined ? flags : { ...flags, config: '/etc/privagg/serve.json' },
    () => file ?? {},
  );
}

const configError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError && pattern.test(error.message);

describe('serve --graph', () => {
  it('defaults to the complete graph, exactly as before', () => {
    const s = settings(BASE);
    assert.deepEqual(s.graph, { mode: 'complete' });
    assert.equal(s.graphPlans, undefined);
    assert.equal(s.threshold, 334);
    assert.equal(coordinatorConfig(s).graph, undefined);
  });

  it('auto: the Harary graph for 500 clients, with k, t and n_C derived from the threat model', () => {
    const s = settings({ ...BASE, ...THREAT });
    const plan = planGraph({ n: 500, dropoutRate: 0.1, adversarialRate: 0.05 });
    assert.deepEqual(s.graph, { mode: 'auto', expectedDropout: 0.1, adversarialFraction: 0.05 });
    assert.equal(s.threshold, plan.threshold);
    assert.equal(s.maxCorruptClients, 25);
    assert.equal(s.graphPlans?.length, 1);
    assert.match(s.graphPlans![0]!.summary, /Harary graph for n=500.*degree k=\d+.*threshold t=18/);
    assert.deepEqual(coordinatorConfig(s).graph, s.graph);
  });

  it('plans both cohort sizes when --min-clients is smaller', () => {
    const s = settings({ ...BASE, ...THREAT, 'min-clients': '50' });
    assert.deepEqual(
      s.graphPlans?.map((p) => p.n),
      [500, 50],
    );
    assert.equal(s.graphPlans![1]!.graph.kind, 'complete', 'auto keeps the complete graph for 50 clients');
  });

  it('reads the threat model from a configuration file too', () => {
    const s = settings(
      { config: 'x' },
      {
        port: 0,
        clients: 500,
        dim: 10,
        out: 'r',
        graph: 'harary',
        expectedDropout: 0,
        adversarialFraction: 0.05,
      },
    );
    assert.equal(s.graph.mode, 'harary');
    assert.equal(s.graphPlans![0]!.graph.kind, 'harary');
  });

  it('refuses an incomplete or contradictory threat model, naming the flag', () => {
    assert.throws(() => settings({ ...BASE, graph: 'harary' }), configError(/needs --expected-dropout/));
    assert.throws(
      () => settings({ ...BASE, graph: 'auto', 'expected-dropout': '0.1' }),
      configError(/needs --adversarial-fraction/),
    );
    assert.throws(
      () => settings({ ...BASE, 'expected-dropout': '0.1' }),
      configError(/needs --graph auto\|harary/),
    );
    assert.throws(
      () => settings({ ...BASE, ...THREAT, threshold: '100' }),
      configError(/--threshold cannot be combined/),
    );
    assert.throws(
      () => settings({ ...BASE, ...THREAT, 'max-corrupt-clients': '3' }),
      configError(/--max-corrupt-clients cannot be combined/),
    );
    assert.throws(() => settings({ ...BASE, graph: 'sparse' }), configError(/--graph must be one of/));
    assert.throws(
      () => settings({ ...BASE, ...THREAT, 'expected-dropout': '1' }),
      configError(/--expected-dropout must be a number in \[0, 1\)/),
    );
  });

  it('refuses a Harary graph where none fits, and a threat model nothing satisfies', () => {
    assert.throws(
      () => settings({ ...BASE, ...THREAT, graph: 'harary', clients: '3' }),
      configError(/--graph harary: no Harary graph for n=3/),
    );
    assert.throws(
      () => settings({ ...BASE, ...THREAT, 'expected-dropout': '0.5', 'adversarial-fraction': '0.45' }),
      configError(/--graph auto: .*0\.9/),
    );
  });

  it('fails closed for distributed DP on a Harary graph (central DP is fine)', () => {
    const dp: Flags = { clip: '1', 'target-epsilon': '8', ledger: 'p.db' };
    assert.throws(
      () => settings({ ...BASE, ...THREAT, dp: 'distributed', ...dp }),
      configError(/--dp distributed cannot run on a Harary graph/),
    );
    assert.equal(
      settings({ ...BASE, ...THREAT, dp: 'central', ...dp }).privacy?.mechanism,
      'central-gaussian',
    );
    // auto with a small cohort is the complete graph: distributed DP is allowed.
    assert.equal(
      settings({ ...BASE, ...THREAT, clients: '40', dp: 'distributed', ...dp }).privacy?.mechanism,
      'distributed-skellam',
    );
  });
});
