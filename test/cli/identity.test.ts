/**
 * Identities on the command line: `privagg keygen`, then `privagg serve --roster` (the malicious
 * setting by default) with `privagg client --identity --roster` processes over gRPC. Eight enrolled
 * clients with `--threshold 6`, one lost at `share` and one at `masked`: the six survivors' exact sum;
 * one more lost: aborted, no sum. And the one-line refusals of bad identity input.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { generateIdentity, writeKeyFile } from '../../src/identity/keyfile.ts';
import { enroll, inputVector, lines, Proc, privagg, readRounds, Serve, scratch, sumMod32 } from './procs.ts';

const DIM = 32;
const NAMES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];

describe('privagg keygen', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('writes a 0600 PKCS#8 key, prints one JSON line for the roster, and never overwrites', async () => {
    const key = `${tmp.dir}/alice.key`;
    const run = await privagg('keygen', '--name', 'alice', '--out', key);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(printed), ['name', 'publicKey']);
    assert.equal(printed['name'], 'alice');
    assert.match(String(printed['publicKey']), /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(lines(run.stdout).length, 1);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    const pem = readFileSync(key, 'utf8');
    assert.ok(!run.stdout.includes(pem.split('\n')[1]!), 'the private key is not printed');

    const again = await privagg('keygen', '--name', 'alice', '--out', key);
    assert.equal(again.status, 2);
    assert.equal(again.stdout, '');
    assert.deepEqual(lines(again.stderr), [`privagg: --out ${key} already exists: refusing to overwrite it`]);
    assert.equal(readFileSync(key, 'utf8'), pem, 'the key is untouched');

    const missing = await privagg('keygen', '--name', 'alice');
    assert.equal(missing.status, 2);
    assert.deepEqual(lines(missing.stderr), ['privagg: missing --out (see privagg keygen --help)']);
  });
});

describe('a malicious-setting round of privagg client processes', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());
  const { keys, roster } = enroll(tmp, NAMES);
  const inputs = new Map(NAMES.map((name, i) => [name, inputVector(i, DIM)]));

  async function round(failAt: Record<string, string>, out: string) {
    const serve = new Serve([
      '--port',
      '0',
      '--clients',
      '8',
      '--threshold',
      '6',
      '--dim',
      String(DIM),
      '--out',
      out,
      '--roster',
      roster,
      '--stage-timeout-ms',
      '20000',
    ]);
    const port = await serve.port;
    const clients = NAMES.map((name) => {
      const args = ['client', '--server', `127.0.0.1:${port}`, '--id', name];
      args.push('--input', tmp.file(`${name}.json`, inputs.get(name)));
      args.push('--identity', keys.get(name)!.path, '--roster', roster);
      if (failAt[name]) args.push('--fail-at', failAt[name]);
      return new Proc(args);
    });
    const runs = await Promise.all(clients.map((c) => c.exited));
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
    return { runs, served, port };
  }

  it('8 clients, --threshold 6, one lost at share and one at masked: the exact sum of the 6 survivors', async () => {
    const out = `${tmp.dir}/ok.jsonl`;
    const failAt: Record<string, string> = { c3: 'share', c6: 'masked' };
    const { runs, served, port } = await round(failAt, out);
    const survivors = NAMES.filter((n) => !failAt[n]);
    assert.deepEqual(readRounds(out), [
      {
        round: 1,
        status: 'ok',
        survivors,
        dropped: failAt,
        sum: sumMod32(
          survivors.map((n) => inputs.get(n)!),
          DIM,
        ),
      },
    ]);
    NAMES.forEach((name, i) => {
      const run = runs[i]!;
      if (failAt[name]) {
        assert.equal(run.status, 3, `${name}: ${run.stderr}`);
      } else {
        assert.equal(run.status, 0, `${name}: ${run.stderr}`);
        assert.equal(run.stdout, 'round 1: done\n');
        assert.equal(run.stderr, '');
      }
    });
    assert.deepEqual(lines(served.stdout), [
      `listening on 127.0.0.1:${port}`,
      'round 1: ok, 6 clients in the sum, 2 dropped',
    ]);
    const listening = lines(served.stderr)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry['msg'] === 'coordinator listening');
    assert.equal(listening?.['serverModel'], 'malicious');
    // The logs hold names and counts, never a key.
    for (const { publicKey } of keys.values()) assert.ok(!served.stderr.includes(publicKey));
  });

  it('below the threshold: aborted, no sum, and the clients still there are told why', async () => {
    const out = `${tmp.dir}/aborted.jsonl`;
    const failAt: Record<string, string> = { c2: 'share', c3: 'share', c6: 'masked' };
    const { runs } = await round(failAt, out);
    const [record] = readRounds(out);
    assert.equal(record?.['status'], 'aborted');
    assert.equal('sum' in record!, false);
    assert.deepEqual(record?.['survivors'], []);
    assert.match(String(record?.['reason']), /^too-few-clients at /);
    NAMES.forEach((name, i) => {
      if (failAt[name]) return;
      const run = runs[i]!;
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      assert.match(run.stdout, /^round 1: aborted \(too-few-clients\): /);
    });
  });
});

describe('bad identity input: one line, exit 2, before connecting', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());
  const identity = generateIdentity();
  const key = `${tmp.dir}/a.key`;
  writeKeyFile(key, identity.pem, key);
  const other = generateIdentity();
  const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64');
  const roster = tmp.file('roster.json', { a: b64(identity.publicKey), b: b64(other.publicKey) });
  const input = tmp.file('in.json', [1, 2, 3]);
  const client = (...extra: string[]) =>
    privagg('client', '--server', '127.0.0.1:1', '--id', 'a', '--input', input, '--retries', '0', ...extra);

  const cases: [string[], RegExp][] = [
    [['--identity', key], /^privagg: --identity needs --roster FILE$/],
    [['--roster', roster], /^privagg: --roster needs --identity KEYFILE$/],
    [
      ['--identity', `${tmp.dir}/none.key`, '--roster', roster],
      /^privagg: cannot read --identity .*none\.key: ENOENT$/,
    ],
    [
      ['--identity', key, '--roster', tmp.file('bad.json', { a: 'nope' })],
      /^privagg: --roster .*bad\.json: the key of 'a' must be the base64/,
    ],
    [
      [
        '--identity',
        key,
        '--roster',
        tmp.file('other.json', { a: b64(other.publicKey), b: b64(identity.publicKey) }),
      ],
      /^privagg: --roster .*other\.json enrolls 'a' with another key than --identity's$/,
    ],
    [
      [
        '--identity',
        key,
        '--roster',
        tmp.file('absent.json', { b: b64(other.publicKey), c: b64(identity.publicKey) }),
      ],
      /^privagg: --roster .*absent\.json does not enroll --id 'a'$/,
    ],
  ];
  for (const [extra, pattern] of cases) {
    it(extra.join(' ').replaceAll(tmp.dir, '…'), async () => {
      const run = await client(...extra);
      assert.equal(run.status, 2, run.stderr);
      assert.equal(lines(run.stderr).length, 1, run.stderr);
      assert.match(lines(run.stderr)[0]!, pattern);
    });
  }

  it('serve: a bad roster stops it before it binds', async () => {
    const bad = tmp.file('dup.json', `{"a": "${b64(identity.publicKey)}", "a": "${b64(other.publicKey)}"}`);
    const run = await privagg(
      'serve',
      '--port',
      '0',
      '--clients',
      '2',
      '--dim',
      '3',
      '--out',
      `${tmp.dir}/o`,
      '--roster',
      bad,
    );
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(lines(run.stderr)[0]!, /^privagg: --roster .*dup\.json names 'a' twice$/);
  });
});
