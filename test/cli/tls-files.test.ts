/**
 * `privagg client`'s TLS files are checked before connecting (src/cli/tls-files.ts): a --tls-ca that
 * is not a certificate, or a key that does not match its certificate, is bad input (exit 2, one
 * line) — it used to surface only after every reconnection attempt, as "cannot reach the
 * coordinator". And the TLS failures the client diagnoses after giving up (src/cli/tls-diagnosis.ts)
 * are classified by the alert or check that failed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clientCommand } from '../../src/cli/client.ts';
import { CliError } from '../../src/cli/command.ts';
import { tlsFailure } from '../../src/cli/tls-diagnosis.ts';
import { readClientTlsFiles } from '../../src/cli/tls-files.ts';
import { scratch } from './procs.ts';

const tmp = scratch();
after(() => tmp.cleanup());
const path = (name: string) => join(tmp.dir, name);
const read = (name: string) => readFileSync(path(name), 'utf8');

function openssl(...args: string[]): void {
  const result = spawnSync('openssl', args, { cwd: tmp.dir, encoding: 'utf8' });
  if (result.error) throw result.error;
  assert.equal(result.status, 0, `openssl ${args.join(' ')}: ${result.stderr}`);
}

/** A self-signed P-256 certificate and its key. */
function selfSigned(name: string): void {
  openssl(
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`],
  );
}

const cliError = (pattern: RegExp) => (error: unknown) =>
  error instanceof CliError && pattern.test(error.message);

describe('client TLS files', () => {
  before(() => {
    selfSigned('a');
    selfSigned('b');
  });

  it('accepts a certificate, a bundle, and a certificate with its own key', () => {
    const bundle = tmp.file('bundle.pem', `${read('a.crt')}\n${read('b.crt')}`);
    assert.ok(readClientTlsFiles({ ca: path('a.crt') }).ca!.length > 0);
    assert.ok(readClientTlsFiles({ ca: bundle }).ca!.length > 0);
    const files = readClientTlsFiles({ ca: path('a.crt'), cert: path('b.crt'), key: path('b.key') });
    assert.ok(files.cert && files.key);
  });

  it('refuses a --tls-ca that is not, or not only, PEM certificates', () => {
    const garbage = tmp.file('garbage.pem', 'hello\n');
    const broken = tmp.file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const mixed = tmp.file('mixed.pem', `${read('a.crt')}${read('broken.pem')}`);
    assert.throws(
      () => readClientTlsFiles({ ca: garbage }),
      cliError(/^--tls-ca .*garbage\.pem holds no PEM certificate/),
    );
    assert.throws(
      () => readClientTlsFiles({ ca: broken }),
      cliError(/^--tls-ca .*broken\.pem: its certificate is not a valid X\.509 certificate$/),
    );
    assert.throws(
      () => readClientTlsFiles({ ca: mixed }),
      cliError(/^--tls-ca .*mixed\.pem: certificate 2 of 2 is not a valid X\.509 certificate$/),
    );
    assert.throws(
      () => readClientTlsFiles({ ca: path('none.pem') }),
      cliError(/^cannot read --tls-ca .*: ENOENT$/),
    );
  });

  it('refuses a key that is not a PEM key, or belongs to another certificate, without quoting it', () => {
    const notKey = tmp.file('not.key', 'secret-looking-content\n');
    assert.throws(
      () => readClientTlsFiles({ cert: path('a.crt'), key: notKey }),
      (error: unknown) =>
        cliError(/^--tls-key .*not\.key is not an unencrypted PEM private key$/)(error) &&
        !(error as Error).message.includes('secret-looking'),
    );
    assert.throws(
      () => readClientTlsFiles({ cert: path('a.crt'), key: path('b.key') }),
      cliError(/^--tls-key .*b\.key does not match the certificate in --tls-cert .*a\.crt$/),
    );
  });

  it('makes privagg client refuse a garbage --tls-ca before connecting', async () => {
    const input = tmp.file('input.json', [1, 2]);
    const garbage = tmp.file('garbage2.pem', 'not a certificate');
    // Port 1 on loopback: were it to connect, it would retry and fail as "cannot reach", not throw.
    await assert.rejects(
      clientCommand.run(['--server', '127.0.0.1:1', '--id', 'x', '--input', input, '--tls-ca', garbage]),
      cliError(/^--tls-ca .*garbage2\.pem holds no PEM certificate/),
    );
  });
});

describe('tlsFailure', () => {
  it('reads a certificate alert from the coordinator as a refusal of this client', () => {
    const alert = (text: string) => ({ message: `error:0A000418:SSL routines::tlsv1 alert ${text}` });
    assert.equal(
      tlsFailure(alert('unknown ca'), true),
      "the coordinator rejected this client's certificate (TLS alert: unknown ca)",
    );
    assert.match(tlsFailure(alert('bad certificate'), true)!, /rejected this client's certificate/);
    assert.match(
      tlsFailure({ message: 'ssl3_read_bytes:tlsv13 alert certificate required' }, false)!,
      /requires a client certificate \(mutual TLS\): give --tls-cert and --tls-key$/,
    );
  });

  it("reads a failed check of the coordinator's certificate as this client's distrust", () => {
    assert.match(
      tlsFailure(
        { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' },
        false,
      )!,
      /^this client does not trust the coordinator's certificate: self-signed/,
    );
    assert.match(
      tlsFailure(
        {
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
          message: "Hostname/IP does not match certificate's altnames",
        },
        true,
      )!,
      /does not trust the coordinator's certificate/,
    );
  });

  it('has nothing to say about other failures', () => {
    assert.equal(
      tlsFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, true),
      undefined,
    );
    assert.equal(tlsFailure({ message: 'socket hang up' }, true), undefined);
  });
});
