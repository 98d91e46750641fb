/**
 * Transport security for the coordinator: loading the TLS certificate, key and (for mutual TLS) the
 * client CA, and the policy that decides when plaintext or unauthenticated clients are allowed.
 *
 * The policy (README, "Transport security and authentication"):
 * - TLS when a certificate and key are given; mutual TLS when a client CA is given too.
 * - Plaintext only on a loopback address, unless `--insecure-plaintext-dev-only` (then with a loud
 *   warning): a network attacker could otherwise read and rewrite every frame, including the public
 *   keys of the semi-honest setting, which only the transport protects.
 * - Clients must authenticate (bearer tokens or client certificates) unless the coordinator is bound
 *   to a loopback address; then they are identified by the name they claim.
 * @module
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';

/** A TLS file is unusable, or the settings break the transport policy; the message says why. */
export class TransportConfigError extends Error {
  override name = 'TransportConfigError';
}

/** PEM files for the coordinator's TLS. */
export interface ServerTlsFiles {
  readonly cert: string;
  readonly key: string;
  /** CA that client certificates must chain to; when given, clients must present one (mTLS). */
  readonly clientCa?: string;
}

/** Loaded TLS material. */
export interface ServerTls {
  readonly credentials: ServerCredentials;
  /** The coordinator's own (leaf) certificate, for logging its subject and validity. */
  readonly certificate: X509Certificate;
  readonly mutual: boolean;
}

/** A path as a message shows it: escaped and bounded (src/text/echo.ts). */
function shownPath(path: string): string {
  return echo(path, ECHO_PATH_CHARS);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TransportConfigError(
      `cannot read the ${what} ${shownPath(path)}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

function parseCertificate(pem: Buffer, path: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TransportConfigError(`the ${what} ${shownPath(path)} is not a PEM X.509 certificate`);
  }
}

/**
 * Reads and checks the PEM files (a certificate, the private key that matches it, the client CA) and
 * builds grpc-js server credentials.
 * @throws TransportConfigError when a file cannot be read or parsed, or the key does not match
 */
export function loadServerTls(files: ServerTlsFiles): ServerTls {
  const certPem = readPem(files.cert, 'TLS certificate');
  const keyPem = readPem(files.key, 'TLS key');
  const certificate = parseCertificate(certPem, files.cert, 'TLS certificate');
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    // Never quote the key file's content.
    throw new TransportConfigError(`the TLS key ${shownPath(files.key)} is not a PEM private key`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TransportConfigError(
      `the TLS key ${shownPath(files.key)} does not match the certificate ${shownPath(files.cert)}`,
    );
  }
  let clientCa: Buffer | null = null;
  if (files.clientCa !== undefined) {
    clientCa = readPem(files.clientCa, 'client CA');
    const ca = parseCertificate(clientCa, files.clientCa, 'client CA');
    if (!ca.ca) {
      throw new TransportConfigError(`the client CA ${shownPath(files.clientCa)} is not a CA certificate`);
    }
  }
  const credentials = ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: certPem, private_key: keyPem }],
    clientCa !== null,
  );
  return { credentials, certificate, mutual: clientCa !== null };
}

/** What the transport policy is decided from. */
export interface ServerTransportSettings {
  readonly address: string;
  readonly loopback: boolean;
  readonly tls: boolean;
  readonly mutualTls: boolean;
  readonly tokens: boolean;
  readonly insecurePlaintextDevOnly: boolean;
}

/**
 * Applies the transport policy.
 * @returns warnings to log once the coordinator is up
 * @throws TransportConfigError when the settings are refused
 */
export function checkServerTransport(s: ServerTransportSettings): string[] {
  const warnings: string[] = [];
  if (s.insecurePlaintextDevOnly && s.tls) {
    throw new TransportConfigError('--insecure-plaintext-dev-only contradicts --tls-cert/--tls-key');
  }
  if (!s.tls && !s.loopback) {
    if (!s.insecurePlaintextDevOnly) {
      throw new TransportConfigError(
        `refusing plaintext on ${s.address}, which is not a loopback address: give --tls-cert and ` +
          '--tls-key (or, for development only, --insecure-plaintext-dev-only)',
      );
    }
    warnings.push(
      `INSECURE: serving plaintext gRPC on ${s.address} (--insecure-plaintext-dev-only). Anyone on the ` +
        'network can read and rewrite every frame, steal bearer tokens, and substitute the public keys ' +
        'that protect client inputs. Never use this outside development.',
    );
  }
  if (!s.tokens && !s.mutualTls) {
    if (!s.loopback) {
      throw new TransportConfigError(
        `refusing to serve ${s.address}, which is not a loopback address, without client ` +
          'authentication: give --tokens FILE or --tls-client-ca FILE',
      );
    }
    warnings.push(
      'client authentication is off (no --tokens, no --tls-client-ca): clients are identified by the ' +
        'name they claim; this is allowed only on a loopback address',
    );
  }
  return warnings;
}
