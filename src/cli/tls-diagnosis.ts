/**
 * Why a TLS coordinator could not be reached, when the reason is TLS itself. grpc-js reports every
 * failed connection as UNAVAILABLE, and when the coordinator refuses this client's certificate it
 * says only "Failed to connect": in TLS 1.3 the client's side of the handshake is over before the
 * server has checked the client's certificate, and Node's TLS server then just closes the socket.
 * Read as "cannot reach the coordinator", that sends the operator to look for a network problem.
 *
 * So once the SDK has given up, {@link diagnoseTls} makes one plain TLS connection with the same
 * files and reads what happens:
 * - an alert naming a certificate (`certificate required`, `unknown ca`, `bad certificate`, …): the
 *   coordinator refused this client's certificate, or wanted one;
 * - a failed verification of the coordinator's certificate (self-signed, wrong name, expired, …):
 *   this client does not trust the coordinator;
 * - a finished handshake, then the connection closed before the coordinator's first HTTP/2 frame
 *   (which an accepting gRPC server sends at once), having presented a certificate: it was refused;
 * - anything else (refused connection, timeout, a working handshake): no TLS diagnosis.
 * @module
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { oneLine } from './text.ts';

/** Where and how to connect: the client's own TLS settings. */
export interface TlsProbeTarget {
  readonly host: string;
  readonly port: number;
  /** The name the coordinator's certificate must carry (`--tls-server-name`), if not `host`. */
  readonly serverName?: string;
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

/** How long the probe waits for the coordinator to answer or close. */
export const TLS_PROBE_TIMEOUT_MS = 3_000;

/** Alerts a TLS server sends when it does not accept the client's certificate (RFC 8446 §6.2). */
const CERTIFICATE_ALERT =
  /alert (certificate required|unknown ca|bad certificate|certificate unknown|certificate revoked|certificate expired|unsupported certificate|access denied)/i;

/** Codes of Node's checks of the server's certificate chain and name. */
const SERVER_CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Classifies a TLS error: a certificate alert from the coordinator, or a failed check of the
 * coordinator's certificate; undefined for anything else.
 * @param error - an error from a TLS socket (its `code` and message)
 * @param presentedCertificate - whether this client sent a certificate
 */
export function tlsFailure(
  error: { readonly code?: unknown; readonly message: string },
  presentedCertificate: boolean,
): string | undefined {
  const alert = CERTIFICATE_ALERT.exec(error.message);
  if (alert) {
    return alert[1]!.toLowerCase() === 'certificate required' && !presentedCertificate
      ? 'the coordinator requires a client certificate (mutual TLS): give --tls-cert and --tls-key'
      : `the coordinator rejected this client's certificate (TLS alert: ${alert[1]!.toLowerCase()})`;
  }
  if (typeof error.code === 'string' && SERVER_CERTIFICATE_CODES.has(error.code)) {
    return `this client does not trust the coordinator's certificate: ${oneLine(error.message)}`;
  }
  return undefined;
}

/**
 * Connects once with the client's TLS settings and says what, if anything, TLS refused.
 * @returns a one-line reason, or undefined when the failure is not a TLS one (or cannot be told)
 */
export function diagnoseTls(
  target: TlsProbeTarget,
  timeoutMs = TLS_PROBE_TIMEOUT_MS,
): Promise<string | undefined> {
  const presented = target.cert !== null;
  const name = target.serverName ?? target.host;
  return new Promise((resolve) => {
    let settled = false;
    let handshook = false;
    const socket = connect({
      host: target.host,
      port: target.port,
      // SNI carries a host name only; for an IP address the certificate is checked against `host`.
      ...(isIP(name) === 0 && { servername: name }),
      ...(target.ca && { ca: target.ca }),
      ...(target.cert && { cert: target.cert }),
      ...(target.key && { key: target.key }),
      ALPNProtocols: ['h2'],
    });
    const finish = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('secureConnect', () => {
      handshook = true;
    });
    // The coordinator's HTTP/2 SETTINGS frame: it accepted the connection.
    socket.on('data', () => finish(undefined));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(tlsFailure(error, presented)));
    socket.on('close', () =>
      finish(
        handshook && presented
          ? "the coordinator rejected this client's certificate (it closed the connection right after the TLS handshake)"
          : undefined,
      ),
    );
  });
}
