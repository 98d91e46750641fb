/**
 * Certificates for the TLS tests, made with `openssl` in a scratch folder: a self-signed CA, and
 * P-256 keys with certificates it signs (the client's name being the certificate's CN).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Makes `NAME.crt` / `NAME.key` files in `dir`. */
export function certificateMaker(dir: string): {
  /** A self-signed CA certificate `name`.crt with its key. */
  makeCa: (name: string, cn: string) => void;
  /** A P-256 key and a certificate for `cn` signed by the CA `ca` (default `ca`). */
  issue: (name: string, cn: string, extensions: string, ca?: string) => void;
} {
  const openssl = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.error) throw result.error;
    assert.equal(result.status, 0, `openssl ${args.join(' ')}: ${result.stderr}`);
  };
  return {
    makeCa: (name, cn) =>
      openssl(
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`],
        ...[
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
      ),
    issue: (name, cn, extensions, ca = 'ca') => {
      openssl(
        ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`],
      );
      writeFileSync(join(dir, `${name}.ext`), extensions);
      openssl(
        ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`],
        ...['-set_serial', String(Math.floor(Math.random() * 2 ** 40)), '-days', '2'],
        ...['-extfile', `${name}.ext`, '-out', `${name}.crt`],
      );
    },
  };
}
