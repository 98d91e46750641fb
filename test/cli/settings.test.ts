/**
 * In-process checks of the command-line plumbing: `privagg serve` settings from flags and a
 * configuration file (src/server/config.ts), the JSON line of a round (src/cli/serve.ts), and
 * host/port parsing with the loopback rule (src/cli/address.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackHost, parseHostPort } from '../../src/cli/address.ts';
import { inputForRound, readInput } from '../../src/cli/client.ts';
import { CliError } from '../../src/cli/command.ts';
import { outcomeRecord, outcomeSummary } from '../../src/cli/serve.ts';
import { roundParams } from '../../src/secagg/params.ts';
import {
  ConfigError,
  coordinatorConfig,
  defaultMaxFramesPerStage,
  maxReceiveMessageBytes,
  resolveServeSettings,
} from '../../src/server/config.ts';
import type { RoundOutcome } from '../../src/server/coordinator.ts';
import { scratch } from './procs.ts';

type Flags = Record<string, string | boolean | undefined>;
const BASE: Flags = { port: '0', clients: '20', dim: '10', out: 'rounds.jsonl' };

function settings(flags: Flags, file?: Record<string, unknown>) {
  return resolveServeSettings(
    file === undefined ? flags : { ...flags, config: '/etc/privagg/serve.json' },
    () => file ?? {},
  );
}

const configError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError && pattern.test(error.message);

describe('serve settings', () => {
  it('defaults: M = N, t = floor(2N/3)+1 capped at M, one 32-bit vector "sum" from --dim', () => {
    const s = settings(BASE);
    assert.equal(s.host, '127.0.0.1');
    assert.equal(s.minClients, 20);
    assert.equal(s.threshold, 14);
    assert.deepEqual(s.vectors, [{ name: 'sum', length: 10, bits: 32 }]);
    assert.equal(s.rounds, 1);
    assert.deepEqual(s.stageTimeoutsMs, {
      advertise: 30_000,
      share: 30_000,
      masked: 30_000,
      consistency: 30_000,
      unmask: 30_000,
    });
    assert.equal(s.logLevel, 'info');
    assert.equal(s.insecurePlaintextDevOnly, false);
    assert.equal(settings({ ...BASE, 'min-clients': '10' }).threshold, 10);
    assert.equal(settings({ ...BASE, threshold: '5' }).threshold, 5);
    const config = coordinatorConfig(s);
    assert.equal(config.cohortSize, 20);
    assert.equal(config.serverModel, 'semi-honest');
    assert.equal(config.maxFramesPerStage, 17);
  });

  it('--roster implies the malicious setting, with its threshold minimum, unless semi-honest is asked for', () => {
    const malicious = settings({ ...BASE, roster: 'roster.json' });
    assert.equal(malicious.serverModel, 'malicious');
    assert.equal(malicious.roster, 'roster.json');
    // floor(2·20/3)+1 = 14 already satisfies 2t > n + n_C for n_C = 0; with n_C = 9 it must be 15.
    assert.equal(malicious.threshold, 14);
    assert.equal(settings({ ...BASE, roster: 'r.json', 'max-corrupt-clients': '9' }).threshold, 15);
    assert.equal(settings({ ...BASE, 'max-corrupt-clients': '9' }).threshold, 14, 'semi-honest: t > n_C');
    const asked = settings({ ...BASE, roster: 'roster.json', 'server-model': 'semi-honest' });
    assert.equal(asked.serverModel, 'semi-honest');
    const roster = new Map([['a', new Uint8Array(32)]]);
    assert.equal(coordinatorConfig(malicious, roster).identities, roster);
    assert.equal(coordinatorConfig(malicious, roster).serverModel, 'malicious');
    assert.equal('identities' in coordinatorConfig(settings(BASE)), false);
    const fromFile = settings(BASE, { roster: 'keys/roster.json' });
    assert.equal(fromFile.roster, '/etc/privagg/keys/roster.json', 'relative to the config file');
    assert.equal(fromFile.serverModel, 'malicious');
    // The malicious setting has no Harary graph (PROTOCOL.md §2.2): auto plans the complete graph.
    const planned = settings({
      ...BASE,
      clients: '500',
      roster: 'r.json',
      graph: 'auto',
      'expected-dropout': '0.1',
      'adversarial-fraction': '0.05',
    });
    assert.equal(planned.graphPlans?.[0]?.graph.kind, 'complete');
  });

  it('--unmask-workers: absent means one per core (left to the coordinator); 0 means inline; negative refused', () => {
    assert.equal(settings(BASE).unmaskWorkers, undefined);
    assert.equal('unmaskWorkers' in coordinatorConfig(settings(BASE)), false);
    assert.equal(coordinatorConfig(settings({ ...BASE, 'unmask-workers': '0' })).unmaskWorkers, 0);
    assert.equal(coordinatorConfig(settings({ ...BASE, 'unmask-workers': '3' })).unmaskWorkers, 3);
    assert.equal(
      coordinatorConfig(settings(BASE, { unmaskWorkers: 2, port: 0, clients: 20, dim: 10, out: 'r' }))
        .unmaskWorkers,
      2,
    );
    assert.throws(() => settings({ ...BASE, 'unmask-workers': '-1' }), configError(/unmask-workers/));
    assert.throws(() => settings({ ...BASE, 'unmask-workers': 'two' }), configError(/unmask-workers/));
  });

  it('reads a configuration file (camelCase keys, vectors, per-stage deadlines); flags override it', () => {
    const file = {
      port: 7000,
      clients: 30,
      minClients: 25,
      maxCorruptClients: 2,
      rounds: 3,
      out: 'results/rounds.jsonl',
      tokens: 'tokens.json',
      vectors: [
        { name: 'update', length: 1000, bits: 32 },
        { name: 'count', length: 1, bits: 20 },
      ],
      stageTimeoutMs: { masked: 120_000 },
      checkInWindowMs: 5_000,
      logLevel: 'debug',
    };
    const s = settings({}, file);
    assert.equal(s.port, 7000);
    assert.equal(s.threshold, 21);
    assert.equal(s.minClients, 25);
    assert.equal(s.out, '/etc/privagg/results/rounds.jsonl', 'paths are relative to the file');
    assert.equal(s.tokens, '/etc/privagg/tokens.json');
    assert.equal(s.vectors.length, 2);
    assert.deepEqual(s.stageTimeoutsMs, {
      advertise: 30_000,
      share: 30_000,
      masked: 120_000,
      consistency: 30_000,
      unmask: 30_000,
    });
    const overridden = settings({ port: '0', dim: '5', 'stage-timeout-ms': '1000', out: 'x' }, file);
    assert.equal(overridden.port, 0);
    assert.deepEqual(overridden.vectors, [{ name: 'sum', length: 5, bits: 32 }]);
    assert.equal(overridden.stageTimeoutsMs.masked, 1000);
    assert.equal(overridden.out, 'x', 'a path flag is relative to the working directory');
  });

  it('refuses unknown keys, wrong types, flag-only settings in a file, and malicious', () => {
    const bad: [Flags, Record<string, unknown> | undefined, RegExp][] = [
      [BASE, { cohort: 3 }, /unknown key 'cohort'/],
      [BASE, { clients: '20' }, /'clients' must be an integer/],
      [BASE, { clients: 20.5 }, /'clients' must be an integer/],
      [BASE, { insecurePlaintextDevOnly: true }, /only be given on the command line/],
      [BASE, { config: 'other.json' }, /only be given on the command line/],
      [
        { ...BASE, dim: undefined },
        { dim: 3, vectors: [{ name: 'a', length: 3 }] },
        /both 'dim' and 'vectors'/,
      ],
      [{ ...BASE, dim: undefined }, { vectors: [] }, /non-empty array/],
      [{ ...BASE, dim: undefined }, { vectors: [{ name: 'a', length: 0 }] }, /length must be/],
      [{ ...BASE, dim: undefined }, { vectors: [{ name: 'a', length: 3, bits: 33 }] }, /bits must be/],
      [
        { ...BASE, dim: undefined },
        { vectors: [{ name: 'a', length: 3, signed: true }] },
        /unknown key 'signed'/,
      ],
      [
        { ...BASE, dim: undefined },
        {
          vectors: [
            { name: 'a', length: 1 },
            { name: 'a', length: 1 },
          ],
        },
        /repeats/,
      ],
      [BASE, { stageTimeoutMs: { reveal: 5 } }, /unknown stage 'reveal'/],
      [BASE, { stageTimeoutMs: { masked: -1 } }, /stageTimeoutMs\.masked/],
      [{ ...BASE, 'server-model': 'malicious' }, undefined, /malicious needs --roster FILE/],
      [BASE, { serverModel: 'malicious' }, /malicious needs --roster FILE/],
      [BASE, { serverModel: 'honest-ish' }, /must be 'semi-honest' or 'malicious'/],
      [{ ...BASE, clients: '007x' }, undefined, /--clients must be an integer/],
      [{ ...BASE, clients: '-3' }, undefined, /--clients must be an integer/],
      [{ ...BASE, 'tls-key': 'k.pem' }, undefined, /together/],
    ];
    for (const [flags, file, pattern] of bad) {
      assert.throws(
        () => settings(flags, file),
        configError(pattern),
        `${JSON.stringify(flags)} ${JSON.stringify(file)}`,
      );
    }
  });

  it('monitoring: off by default; port, host and token file from flags or the file (paths resolved)', () => {
    const FILE_BASE = { port: 0, clients: 20, dim: 10, out: 'rounds.jsonl' };
    assert.equal(settings(BASE).http, undefined);
    assert.deepEqual(settings({ ...BASE, 'http-port': '9464' }).http, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(
      settings({}, { ...FILE_BASE, httpPort: 0, httpHost: '::1', httpTokenFile: 'metrics.token' }).http,
      { host: '::1', port: 0, tokenFile: '/etc/privagg/metrics.token' },
    );
    assert.deepEqual(settings({ 'http-port': '1' }, { ...FILE_BASE, httpPort: 0 }).http, {
      host: '127.0.0.1',
      port: 1,
    });
    assert.throws(() => settings({ ...BASE, 'http-port': '65536' }), configError(/http-port/));
    assert.throws(() => settings({}, { ...FILE_BASE, httpPort: '9464' }), configError(/httpPort/));
    assert.throws(
      () => settings({ ...BASE, 'http-host': '::1' }),
      configError(/--http-host needs --http-port/),
    );
    assert.throws(
      () => settings({}, { ...FILE_BASE, httpTokenFile: 't' }),
      configError(/--http-token-file needs --http-port/),
    );
  });

  it('sizes the frame and message limits from the vectors and the cohort', () => {
    // 40,000,000 bytes packed, in 16 KiB chunks.
    assert.equal(defaultMaxFramesPerStage([{ name: 'v', length: 10_000_000, bits: 32 }]), 16 + 2442);
    assert.equal(maxReceiveMessageBytes(20), 2 << 20);
    assert.equal(maxReceiveMessageBytes(100_000), 100_000 * 128 + (64 << 10));
  });
});

describe('the JSON line of a round', () => {
  const vectors = [{ name: 'sum', length: 3, bits: 32 }];
  const timing = { totalMs: 1, stageMs: {}, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } };

  it('ok: survivors, dropped with stages, and the sum, in this key order', () => {
    const outcome: RoundOutcome = {
      round: 2,
      status: 'ok',
      survivors: ['a', 'c'],
      dropped: { b: 'share' },
      sums: [Uint32Array.of(1, 0xffff_ffff, 0)],
      vectors,
      timing,
    };
    assert.equal(
      JSON.stringify(outcomeRecord(outcome)),
      '{"round":2,"status":"ok","survivors":["a","c"],"dropped":{"b":"share"},"sum":[1,4294967295,0]}',
    );
    assert.equal(outcomeSummary(outcome), 'round 2: ok, 2 clients in the sum, 1 dropped');
  });

  it('aborted: a reason and no sum', () => {
    const outcome: RoundOutcome = {
      round: 1,
      status: 'aborted',
      survivors: [],
      dropped: { a: 'masked', b: 'masked' },
      sums: [],
      vectors,
      reason: 'too-few-clients at masked: 1 < 2',
      timing,
    };
    assert.equal(
      JSON.stringify(outcomeRecord(outcome)),
      '{"round":1,"status":"aborted","survivors":[],"dropped":{"a":"masked","b":"masked"},' +
        '"reason":"too-few-clients at masked: 1 < 2"}',
    );
  });

  it('several vectors: "sums" by name instead of "sum"', () => {
    const record = outcomeRecord({
      round: 1,
      status: 'ok',
      survivors: ['a', 'b'],
      dropped: {},
      sums: [Uint32Array.of(5), Uint32Array.of(1, 2)],
      vectors: [
        { name: 'count', length: 1, bits: 20 },
        { name: 'update', length: 2, bits: 32 },
      ],
      timing,
    });
    assert.deepEqual(record['sums'], { count: [5], update: [1, 2] });
    assert.equal('sum' in record, false);
  });
});

describe('addresses', () => {
  it('loopback is localhost, 127.0.0.0/8 and ::1 (in any spelling); nothing else', () => {
    for (const host of [
      'localhost',
      'LocalHost',
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '128.0.0.1',
      '::ffff:10.0.0.1',
      'fe80::1%lo',
      'example.com',
      'localhost.example.com',
    ]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  it('parses HOST:PORT and [IPv6]:PORT strictly', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:50051', 'x'), { host: '127.0.0.1', port: 50051 });
    assert.deepEqual(parseHostPort('[::1]:7', 'x'), { host: '::1', port: 7 });
    assert.deepEqual(parseHostPort('coordinator.example:443', 'x'), {
      host: 'coordinator.example',
      port: 443,
    });
    for (const text of [
      '127.0.0.1',
      ':80',
      '::1:80',
      'h:0',
      'h:65536',
      'h:+80',
      'h:8o',
      '[h]:80',
      'h:80:90',
    ]) {
      assert.throws(() => parseHostPort(text, '--server'), RangeError, text);
    }
  });
});

describe('client input against the announced round', () => {
  const tmp = scratch();
  const params = (vectors: { name: string; length: number; bits: number }[]) =>
    roundParams({ round: 4, serverModel: 'semi-honest', threshold: 2, clients: [1, 2, 3], vectors });
  const cliError = (pattern: RegExp) => (error: unknown) =>
    error instanceof CliError && pattern.test(error.message);

  it('an array fits one vector of its length; anything else is refused with the announced shape', () => {
    const path = tmp.file('array.json', [0, 4294967295, 7]);
    const input = readInput(path);
    const [vector] = inputForRound(input, params([{ name: 'sum', length: 3, bits: 32 }]), path);
    assert.deepEqual(vector, Uint32Array.of(0, 4294967295, 7));
    assert.throws(
      () => inputForRound(input, params([{ name: 'sum', length: 4, bits: 32 }]), path),
      cliError(/has 3 values but the coordinator's round 4 sums vectors of length 4$/),
    );
    assert.throws(
      () => inputForRound(input, params([{ name: 'sum', length: 3, bits: 16 }]), path),
      cliError(/\[1\] is 4294967295: not below 2\^16$/),
    );
    assert.throws(
      () =>
        inputForRound(
          input,
          params([
            { name: 'a', length: 3, bits: 32 },
            { name: 'b', length: 1, bits: 8 },
          ]),
          path,
        ),
      cliError(/sums 2 vectors \(a, b\)/),
    );
  });

  it('an object gives one array per vector name, in the order of the round', () => {
    const path = tmp.file('object.json', { update: [1, 2], count: [5] });
    const input = readInput(path);
    const round = params([
      { name: 'update', length: 2, bits: 32 },
      { name: 'count', length: 1, bits: 20 },
    ]);
    const vectors = inputForRound(input, round, path);
    assert.deepEqual(
      vectors,
      round.vectors.map((v) => (v.name === 'count' ? Uint32Array.of(5) : Uint32Array.of(1, 2))),
    );
    assert.throws(
      () => inputForRound(input, params([{ name: 'update', length: 2, bits: 32 }]), path),
      cliError(/names vectors \[update, count\] but the coordinator sums \[update\]/),
    );
    tmp.cleanup();
  });
});
