/**
 * `privagg serve --control` under mutual TLS with `--control-client-name`: a control call needs the
 * operator token and the operator's certificate; a participant's certificate with the operator token
 * is refused, and the operator's certificate cannot take part in a round.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { ControlClient } from '../../src/client/control.ts';
import { certificateMaker } from './certs.ts';
import { Proc, privagg, Serve, scratch } from './procs.ts';

const TOKEN = 'operator-token-0123456789abcdef';
const tmp = scratch();
after(() => tmp.cleanup());
const path = (name: string) => join(tmp.dir, name);

function controlAs(address: string, cert: string): ControlClient {
  return new ControlClient({
    address,
    credentials: credentials.createSsl(
      readFileSync(path('ca.crt')),
      readFileSync(path(`${cert}.key`)),
      readFileSync(path(`${cert}.crt`)),
    ),
    token: TOKEN,
  });
}

describe('privagg serve --control with mutual TLS', () => {
  before(() => {
    const { makeCa, issue } = certificateMaker(tmp.dir);
    makeCa('ca', 'privagg test CA');
    issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    for (const cn of ['operator', 'p1']) issue(cn, cn, 'extendedKeyUsage=clientAuth\n');
  });

  it('takes control calls only with the operator token and certificate; that certificate never participates', async () => {
    const token = tmp.file('operator.token', TOKEN);
    const alone = await privagg(
      ...['serve', '--control', '--port', '0', '--control-token-file', token],
      ...['--control-client-name', 'operator'],
    );
    assert.equal(alone.status, 2);
    assert.equal(
      alone.stderr,
      'privagg: --control-client-name needs --tls-client-ca (it names a verified client certificate)\n',
    );

    const serve = new Serve([
      ...['--control', '--port', '0', '--control-token-file', token, '--control-client-name', 'operator'],
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
    const address = `127.0.0.1:${port}`;
    const aggregation = {
      name: 'tls',
      vectors: [{ name: 'sum', length: 4, bits: 32 }],
      cohort: { clients: 2, minClients: 0, checkInWindowMs: 0 },
      stageTimeoutMs: 0,
    };
    const participantCert = controlAs(address, 'p1');
    const operator = controlAs(address, 'operator');
    try {
      const refused = await participantCert.define(aggregation).then(
        () => undefined,
        (error: { code: number; details: string }) => error,
      );
      assert.equal(refused?.code, status.UNAUTHENTICATED);
      assert.equal(refused?.details, "the control service needs the client certificate of 'operator'");

      assert.equal((await operator.define(aggregation)).name, 'tls');
      const impostor = await new Proc([
        ...['client', '--server', address, '--id', 'operator', '--input', tmp.file('in.json', [1, 2, 3, 4])],
        ...[
          '--tls-ca',
          path('ca.crt'),
          '--tls-cert',
          path('operator.crt'),
          '--tls-key',
          path('operator.key'),
        ],
      ]).exited;
      assert.equal(impostor.status, 1);
      assert.match(impostor.stderr, /UNAUTHENTICATED: the operator's certificate cannot take part in rounds/);
      assert.equal((await operator.stop('tls')).lastRound, 0);
    } finally {
      participantCert.close();
      operator.close();
      serve.child.kill('SIGTERM');
    }
    assert.equal((await serve.exited).status, 143);
  });
});
