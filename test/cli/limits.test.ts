/**
 * `privagg serve`'s limits stated up front (src/server/limits.ts): every setting that sizes memory or
 * work is checked against its documented maximum before anything binds, with one line naming the
 * setting and the maximum. Before, `--dim 4294967295` started and then died on the first masked chunk
 * (an uncaught RangeError allocating the buffer), `--clients 300000` reported "Maximum call stack size
 * exceeded", and `--clients 100000000` never started. Most cases run in-process on the settings; two
 * run `privagg serve` itself, for the exit status, the single line, and no "listening on".
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConfigError, resolveServeSettings } from '../../src/server/config.ts';
import {
  MAX_CLIENTS,
  MAX_COMPLETE_GRAPH_CLIENTS,
  MAX_CONCURRENT_UPLOADS,
  MAX_DP_DIM,
  MAX_FRAMES_PER_STAGE,
  MAX_VECTORS,
  MAX_WORDS,
} from '../../src/server/limits.ts';
import { lines, privagg, scratch } from './procs.ts';

type Flags = Record<string, string | boolean | undefined>;
const BASE: Flags = { port: '0', clients: '20', dim: '10', out: 'rounds.jsonl' };
const DP: Flags = { dp: 'central', clip: '1', 'target-epsilon': '1', ledger: 'ledger.db' };

function settings(flags: Flags, file?: Record<string, unknown>) {
  return resolveServeSettings(
    file === undefined ? flags : { ...flags, config: '/etc/privagg/serve.json' },
    () => file ?? {},
  );
}

const configError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError && pattern.test(error.message);

describe('serve limits, in-process', () => {
  it('accepts each maximum', () => {
    const auto = { graph: 'auto', 'expected-dropout': '0.1', 'adversarial-fraction': '0.05' };
    assert.equal(settings({ ...BASE, ...auto, clients: String(MAX_CLIENTS.max) }).clients, MAX_CLIENTS.max);
    const complete = settings({ ...BASE, clients: String(MAX_COMPLETE_GRAPH_CLIENTS.max) });
    assert.equal(complete.clients, MAX_COMPLETE_GRAPH_CLIENTS.max);
    assert.equal(settings({ ...BASE, dim: String(MAX_WORDS.max) }).vectors[0]!.length, 2 ** 28);
    assert.equal(settings({ ...BASE, ...DP, dim: String(MAX_DP_DIM.max) }).vectors[0]!.length, 2 ** 27);
    const s = settings({
      ...BASE,
      'max-concurrent-uploads': String(MAX_CONCURRENT_UPLOADS.max),
      'max-frames-per-stage': String(MAX_FRAMES_PER_STAGE.max),
    });
    assert.equal(s.maxConcurrentUploads, 256);
    assert.equal(s.maxFramesPerStage, 2 ** 20);
    const vectors = Array.from({ length: MAX_VECTORS.max }, (_, i) => ({ name: `v${i}`, length: 1 }));
    assert.equal(settings({ ...BASE, dim: undefined }, { vectors }).vectors.length, 1024);
  });

  it('refuses a flag above its maximum, naming the flag and the maximum', () => {
    const cases: [Flags, RegExp][] = [
      [
        { dim: '4294967295' },
        /^--dim must be at most 268435456 \(2\^28 32-bit words per client.*\), got '4294967295'$/,
      ],
      [{ dim: String(2 ** 28 + 1) }, /^--dim must be at most 268435456 /],
      // Beyond the u32 range too: the maximum is what the message names.
      [{ dim: '99999999999' }, /^--dim must be at most 268435456 /],
      [{ clients: '100000000' }, /^--clients must be at most 65536 \(the largest cohort/],
      [{ clients: '300000' }, /^--clients must be at most 65536 /],
      [{ 'min-clients': '65537' }, /^--min-clients must be at most 65536 /],
      [{ threshold: '70000' }, /^--threshold must be at most 65536 /],
      [{ 'max-corrupt-clients': '70000' }, /^--max-corrupt-clients must be at most 65536 /],
      [
        { 'max-concurrent-uploads': '257' },
        /^--max-concurrent-uploads must be at most 256 \(each upload slot/,
      ],
      [{ 'max-frames-per-stage': '4294967295' }, /^--max-frames-per-stage must be at most 1048576 /],
      [
        { clients: '2049' },
        /^--clients on the complete graph must be at most 2048 .*use --graph auto\|harary/,
      ],
      [
        { ...DP, dim: String(2 ** 27 + 1) },
        /^--dim with --dp must be at most 134217728 \(a private update is padded/,
      ],
    ];
    for (const [flags, pattern] of cases) {
      assert.throws(() => settings({ ...BASE, ...flags }), configError(pattern), JSON.stringify(flags));
    }
  });

  it('refuses a configuration file above a maximum, naming the key', () => {
    const noDim = { ...BASE, dim: undefined };
    const cases: [Flags, Record<string, unknown>, RegExp][] = [
      [
        noDim,
        { vectors: [{ name: 'sum', length: 4294967295 }] },
        /^'vectors\[0\]'\.length must be at most 268435456 /,
      ],
      [
        noDim,
        {
          vectors: [
            { name: 'a', length: 2 ** 27 },
            { name: 'b', length: 2 ** 27 + 1 },
          ],
        },
        /^the lengths in 'vectors' must be at most 268435456 .*got 268435457 in all$/,
      ],
      [
        noDim,
        { vectors: Array.from({ length: 1025 }, (_, i) => ({ name: `v${i}`, length: 1 })) },
        /^'vectors' must be at most 1024 \(the most named vectors a round sums\), got 1025 vectors$/,
      ],
      [
        { ...BASE, clients: undefined },
        { clients: 1e8 },
        /^'clients' must be at most 65536 .*got 100000000$/,
      ],
      [{ ...BASE, dim: undefined }, { dim: 4294967295 }, /^'dim' must be at most 268435456 /],
    ];
    for (const [flags, file, pattern] of cases) {
      assert.throws(() => settings(flags, file), configError(pattern), JSON.stringify(file).slice(0, 80));
    }
  });

  it('repeats offending values escaped and bounded, and describes nested ones without walking them', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.throws(
      () => settings(BASE, { port: deep }),
      configError(/^'port' must be an integer .*, got an array$/),
    );
    assert.throws(
      () => settings({ ...BASE, 'log-level': `loud\u001b[2J${'!'.repeat(200)}` }),
      configError(/got 'loud\\u001b\[2J!+…'$/),
    );
    assert.throws(
      () => settings(BASE, { [`x\n${'k'.repeat(100)}`]: 1 }),
      configError(/^the config file has unknown key 'x\\nk+…' \(known:/),
    );
  });
});

describe('serve limits, as processes', { concurrency: true }, () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('--dim 4294967295 and a config file of that length: one line, exit 2, nothing bound', async () => {
    const out = `${tmp.dir}/dim.jsonl`;
    const config = tmp.file('big.json', { vectors: [{ name: 'w', length: 4294967295, bits: 32 }] });
    const [flag, file] = await Promise.all([
      privagg('serve', '--port', '0', '--clients', '3', '--dim', '4294967295', '--out', out),
      privagg('serve', '--port', '0', '--clients', '3', '--out', out, '--config', config),
    ]);
    for (const [run, pattern] of [
      [flag, /^privagg: --dim must be at most 268435456 /],
      [file, /^privagg: 'vectors\[0\]'\.length must be at most 268435456 /],
    ] as const) {
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '', 'no "listening on"');
      assert.equal(lines(run.stderr).length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    }
  });

  it(
    '--clients 100000000: one line, exit 2 (it used to run for minutes without starting)',
    { timeout: 30_000 },
    async () => {
      const run = await privagg(
        'serve',
        '--port',
        '0',
        '--clients',
        '100000000',
        '--dim',
        '4',
        '--out',
        `${tmp.dir}/c.jsonl`,
      );
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.deepEqual(lines(run.stderr), [
        "privagg: --clients must be at most 65536 (the largest cohort privagg serve runs), got '100000000'",
      ]);
    },
  );
});
