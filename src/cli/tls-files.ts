/**
 * `privagg client`'s TLS files, checked before anything connects. grpc-js takes the bytes as they are
 * and only the TLS handshake finds them unusable — after every reconnection attempt, as "cannot reach
 * the coordinator" — so a CA file that is not a certificate, or a key that does not match its
 * certificate, would read as a network failure. Here it is bad input: one line naming the file.
 * @module
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { CliError } from './command.ts';

/** The TLS material for grpc-js's `credentials.createSsl`, each checked. */
export interface ClientTlsFiles {
  /** PEM certificates to trust for the coordinator; null for the system CAs. */
  readonly ca: Buffer | null;
  /** This client's PEM certificate chain (mutual TLS), or null. */
  readonly cert: Buffer | null;
  /** Its PEM private key, or null. */
  readonly key: Buffer | null;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function readFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(
      `cannot read ${flag} ${echo(path, ECHO_PATH_CHARS)}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

/**
 * The certificates of a PEM file, each parsed.
 * @throws CliError when the file holds no PEM certificate or one that does not parse
 */
function parseCertificates(pem: Buffer, path: string, flag: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  const shown = echo(path, ECHO_PATH_CHARS);
  if (blocks.length === 0) {
    throw new CliError(`${flag} ${shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      const which = blocks.length === 1 ? 'its certificate' : `certificate ${i + 1} of ${blocks.length}`;
      throw new CliError(`${flag} ${shown}: ${which} is not a valid X.509 certificate`);
    }
  });
}

/**
 * Reads and checks the files of `--tls-ca`, `--tls-cert` and `--tls-key`: every certificate parses,
 * the key is an unencrypted PEM private key, and it belongs to the first certificate of the chain.
 * @param paths - the flags' values; `cert` and `key` both or neither (checked by the caller)
 * @throws CliError naming the flag and the file
 */
export function readClientTlsFiles(paths: {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}): ClientTlsFiles {
  let ca: Buffer | null = null;
  if (paths.ca !== undefined) {
    ca = readFile(paths.ca, '--tls-ca');
    parseCertificates(ca, paths.ca, '--tls-ca');
  }
  if (paths.cert === undefined || paths.key === undefined) return { ca, cert: null, key: null };
  const cert = readFile(paths.cert, '--tls-cert');
  const key = readFile(paths.key, '--tls-key');
  const [leaf] = parseCertificates(cert, paths.cert, '--tls-cert');
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // Never quote the key file's content.
    throw new CliError(`--tls-key ${echo(paths.key, ECHO_PATH_CHARS)} is not an unencrypted PEM private key`);
  }
  if (!leaf!.checkPrivateKey(privateKey)) {
    throw new CliError(
      `--tls-key ${echo(paths.key, ECHO_PATH_CHARS)} does not match the certificate in --tls-cert ` +
        echo(paths.cert, ECHO_PATH_CHARS),
    );
  }
  return { ca, cert, key };
}
