/**
 * A client's long-term identity key file: an Ed25519 private key in PKCS#8 PEM (RFC 8410), the
 * format OpenSSL reads and writes (`openssl pkey -in KEYFILE -pubout` shows its public key, and
 * `openssl genpkey -algorithm ed25519` makes one privagg accepts). `privagg keygen` writes it with
 * mode 0600 and never over an existing file; a client refuses one that other users can read, as ssh
 * does, because whoever reads it can take part as that client.
 *
 * The key is a secret: its bytes never reach a message or a log line, and the seed is held only as
 * long as it takes to build the signer.
 * @module
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Ed25519Signer } from '../secagg/crypto/ed25519.ts';

/** The key file cannot be written or used; the message names the file and says why (never the key). */
export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

/** PKCS#8 DER header of an Ed25519 private key (RFC 8410 §7): 16 bytes, then the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SEED_BYTES = 32;

/** A freshly generated identity: the PEM to store and the public key to enroll. */
export interface GeneratedIdentity {
  /** PKCS#8 PEM of the private key (a secret). */
  readonly pem: string;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/**
 * Generates an identity key from the OS CSPRNG; the public key is derived with @noble/curves, an
 * implementation independent of the OpenSSL one that signs.
 */
export function generateIdentity(): GeneratedIdentity {
  const seed = randomBytes(SEED_BYTES);
  try {
    const publicKey = ed25519.getPublicKey(seed);
    const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
    const body = der.toString('base64');
    der.fill(0);
    return { pem: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`, publicKey };
  } finally {
    seed.fill(0);
  }
}

/**
 * Writes a key file with mode 0600, refusing to replace anything already at `path` (an identity key
 * overwritten by mistake is an identity lost: the roster still names the old public key).
 * @param shown - how messages name the file
 * @throws KeyFileError when the file exists or cannot be created
 */
export function writeKeyFile(path: string, pem: string, shown: string): void {
  let fd: number;
  try {
    // 'wx': create, and fail if anything exists there (a file, a directory, a dangling link).
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new KeyFileError(`${shown} already exists: refusing to overwrite it`);
    throw new KeyFileError(`cannot create ${shown}: ${code}`);
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a key file into a signer.
 * @param shown - how messages name the file
 * @throws KeyFileError when it cannot be read, other users can read it (POSIX), or it is not an
 *   Ed25519 private key in PEM or DER PKCS#8
 */
export function readKeyFile(path: string, shown: string): Ed25519Signer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new KeyFileError(`cannot read ${shown}: ${(error as NodeJS.ErrnoException).code}`);
  }
  let bytes: Buffer;
  try {
    const mode = fstatSync(fd).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new KeyFileError(
        `${shown} is accessible by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): ` +
          'whoever reads it can take part as this client; chmod 600 it',
      );
    }
    bytes = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  let seed: Buffer | undefined;
  try {
    const key = createPrivateKey(
      bytes.includes('-----BEGIN')
        ? bytes.toString('utf8')
        : {
            key: bytes,
            format: 'der',
            type: 'pkcs8',
          },
    );
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new KeyFileError(
        `${shown} holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not an Ed25519 one`,
      );
    }
    const jwk = key.export({ format: 'jwk' });
    seed = Buffer.from(jwk.d ?? '', 'base64url');
    if (seed.length !== SEED_BYTES) throw new KeyFileError(`${shown} is not an Ed25519 private key`);
    return Ed25519Signer.fromSeed(seed);
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    // OpenSSL's message says nothing about the key's bytes, but it is not needed: say what was expected.
    throw new KeyFileError(`${shown} is not an Ed25519 private key in PKCS#8 PEM (as privagg keygen writes)`);
  } finally {
    seed?.fill(0);
    bytes.fill(0);
  }
}
