/**
 * Client authentication and TLS between `privagg serve` and `privagg client` processes: bearer tokens
 * (a wrong, missing or borrowed token is refused and the round goes on for the others), and mutual
 * TLS with certificates made here by `openssl`, the client's name being its certificate's CN.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certificateMaker } from './certs.ts';
import { inputVector, lines, Proc, readRounds, Serve, scratch, sumMod32 } from './procs.ts';

const DIM = 6;
const tmp = scratch();
after(() => tmp.cleanup());

const { makeCa, issue } = certificateMaker(tmp.dir);

const path = (name: string) => join(tmp.dir, name);

function client(port: number, id: string, ...more: string[]): Proc {
  const input = tmp.file(`${id}-input.json`, inputVector(id.charCodeAt(0), DIM));
  return new Proc(['client', '--server', `127.0.0.1:${port}`, '--id', id, '--input', input, ...more]);
}

describe('authentication and TLS', { concurrency: true }, () => {
  before(() => {
    makeCa('ca', 'privagg test CA');
    issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    for (const cn of ['alice', 'bob', 'mallory']) issue(cn, cn, 'extendedKeyUsage=clientAuth\n');
    // A client certificate from a CA the coordinator does not trust.
    makeCa('rogue', 'another CA');
    issue('eve', 'eve', 'extendedKeyUsage=clientAuth\n', 'rogue');
  });

  it('with --tokens: a wrong, missing or borrowed token is refused; the round goes on', async () => {
    const tokens = {
      a: 'token-of-a-0123456789abcdef0123',
      b: 'token-of-b-0123456789abcdef0123',
      c: 'token-of-c-0123456789abcdef0123',
    };
    const tokensFile = tmp.file('tokens.json', tokens);
    chmodSync(tokensFile, 0o600);
    const out = path('tokens.jsonl');
    const serve = new Serve([
      ...['--port', '0', '--clients', '3', '--dim', String(DIM), '--out', out],
      ...['--tokens', tokensFile],
    ]);
    const port = await serve.port;
    // The refused clients first: once a, b and c are in, the only round runs and the coordinator exits.
    const [wrong, missing, borrower] = await Promise.all([
      client(port, 'wrong', '--token', 'not-a-valid-token-0123456789abcdef').exited,
      client(port, 'missing').exited,
      // b's token, but checking in as someone else.
      client(port, 'borrower', '--token', tokens.b).exited,
    ]);
    const [a, b, c] = await Promise.all([
      client(port, 'a', '--token-file', tmp.file('a.token', `${tokens.a}\n`)).exited,
      client(port, 'b', '--token', tokens.b).exited,
      client(port, 'c', '--token', tokens.c).exited,
    ]);
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
    assert.deepEqual(readRounds(out), [
      {
        round: 1,
        status: 'ok',
        survivors: ['a', 'b', 'c'],
        dropped: {},
        sum: sumMod32(
          ['a', 'b', 'c'].map((id) => inputVector(id.charCodeAt(0), DIM)),
          DIM,
        ),
      },
    ]);
    for (const run of [a, b, c]) {
      assert.equal(run!.status, 0, run!.stderr);
      assert.equal(run!.stdout, 'round 1: done\n');
    }
    const refused = (run: typeof a, pattern: RegExp) => {
      assert.equal(run!.status, 1);
      assert.equal(lines(run!.stderr).length, 1, run!.stderr);
      assert.match(run!.stderr, pattern);
    };
    refused(wrong, /refused: UNAUTHENTICATED: invalid bearer token$/m);
    refused(missing, /refused: UNAUTHENTICATED: missing bearer token/);
    refused(borrower, /refused: PERMISSION_DENIED: authenticated as 'b', not 'borrower'$/m);
    // Tokens never reach the logs.
    for (const token of Object.values(tokens)) assert.equal(served.stderr.includes(token), false);
  });

  it('with mutual TLS: the name is the certificate CN; another CN or no certificate is refused', async () => {
    const out = path('mtls.jsonl');
    const serve = new Serve([
      ...['--port', '0', '--clients', '2', '--dim', String(DIM), '--out', out],
      ...[
        '--tls-cert',
        path('server.crt'),
        '--tls-key',
        path('server.key'),
        '--tls-client-ca',
        path('ca.crt'),
      ],
    ]);
    const port = await serve.port;
    const tls = (name: string) => [
      ...['--tls-ca', path('ca.crt'), '--tls-cert', path(`${name}.crt`), '--tls-key', path(`${name}.key`)],
    ];
    // The refused clients first: once alice and bob are in, the only round runs and the coordinator exits.
    const [impostor, noCert, untrusted] = await Promise.all([
      // mallory's certificate, claiming to be someone else.
      client(port, 'eve', ...tls('mallory')).exited,
      client(port, 'carol', '--tls-ca', path('ca.crt'), '--retries', '0').exited,
      client(port, 'eve', ...tls('eve'), '--retries', '0').exited,
    ]);
    const [alice, bob] = await Promise.all([
      client(port, 'alice', ...tls('alice')).exited,
      client(port, 'bob', ...tls('bob')).exited,
    ]);
    const served = await serve.exited;
    assert.equal(served.status, 0, served.stderr);
    const [round] = readRounds(out);
    assert.deepEqual(round, {
      round: 1,
      status: 'ok',
      survivors: ['alice', 'bob'],
      dropped: {},
      sum: sumMod32(
        ['alice', 'bob'].map((id) => inputVector(id.charCodeAt(0), DIM)),
        DIM,
      ),
    });
    for (const run of [alice, bob]) assert.equal(run.status, 0, run.stderr);
    assert.equal(impostor.status, 1);
    assert.match(impostor.stderr, /refused: PERMISSION_DENIED: authenticated as 'mallory', not 'eve'$/m);
    // Without a client certificate, or with one the coordinator does not trust, the TLS handshake
    // fails; grpc-js calls both "cannot reach", the client tells them apart (src/cli/tls-diagnosis.ts).
    assert.equal(noCert.status, 1);
    assert.deepEqual(lines(noCert.stderr), [
      `privagg: round 1: 127.0.0.1:${port}: the coordinator requires a client certificate (mutual TLS): give --tls-cert and --tls-key`,
    ]);
    assert.equal(untrusted.status, 1);
    assert.equal(lines(untrusted.stderr).length, 1, untrusted.stderr);
    assert.match(
      untrusted.stderr,
      /^privagg: round 1: .*: the coordinator rejected this client's certificate/,
    );
  });
});
