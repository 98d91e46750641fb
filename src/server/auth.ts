/**
 * Client authentication for the coordinator: per-client bearer tokens (`authorization: Bearer <token>`
 * call metadata, checked in constant time) and/or the subject CN of a client certificate verified by
 * mutual TLS. The name a call authenticates as is the only name it may check in under; the
 * coordinator enforces that (src/server/coordinator.ts).
 *
 * Tokens are secrets: they are kept only as SHA-256 digests after loading, compared with
 * `timingSafeEqual`, and never logged.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import type { Authenticate } from './coordinator.ts';

/** The tokens file or its content is unusable; the message says why (never quoting a token). */
export class AuthConfigError extends Error {
  override name = 'AuthConfigError';
}

/** Shortest token accepted without a warning: 16 characters (e.g. 96 bits of base64). */
export const SHORT_TOKEN_CHARS = 16;
const MAX_NAME_BYTES = 255;
/** A token is sent as an HTTP/2 header value: visible ASCII, no spaces. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** One configured client: its name and the SHA-256 digest of its token. */
interface TokenEntry {
  readonly name: string;
  readonly digest: Buffer;
}

/** Loaded tokens: who they belong to, and which problems to warn about. */
export interface TokenTable {
  readonly entries: readonly TokenEntry[];
  /** Names whose token is shorter than {@link SHORT_TOKEN_CHARS}. */
  readonly shortTokens: readonly string[];
  /** The file it was read from can be read by users other than its owner (POSIX mode bits). */
  readonly readableByOthers?: boolean;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Validates a tokens object `{ "clientName": "token", ... }`.
 * @throws AuthConfigError when it is not such an object, a name is empty or over 255 bytes, a token
 *   is empty or has characters other than visible ASCII, or two clients share a token (a token must
 *   name exactly one client)
 */
export function parseTokens(value: unknown, source: string): TokenTable {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthConfigError(`${source}: must be a JSON object mapping client names to tokens`);
  }
  const entries: TokenEntry[] = [];
  const shortTokens: string[] = [];
  const seen = new Map<string, string>();
  for (const [name, token] of Object.entries(value)) {
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes < 1 || bytes > MAX_NAME_BYTES) {
      throw new AuthConfigError(`${source}: client names must be 1..${MAX_NAME_BYTES} UTF-8 bytes`);
    }
    if (typeof token !== 'string' || !TOKEN_CHARS.test(token)) {
      throw new AuthConfigError(
        `${source}: the token of client '${echo(name)}' must be a non-empty string of visible ASCII characters`,
      );
    }
    const key = digest(token).toString('hex');
    const other = seen.get(key);
    if (other !== undefined) {
      throw new AuthConfigError(
        `${source}: clients '${echo(other)}' and '${echo(name)}' have the same token`,
      );
    }
    seen.set(key, name);
    if (token.length < SHORT_TOKEN_CHARS) shortTokens.push(name);
    entries.push({ name, digest: digest(token) });
  }
  if (entries.length === 0) throw new AuthConfigError(`${source}: names no client`);
  return { entries, shortTokens };
}

/**
 * Reads and validates a tokens file (JSON).
 * @throws AuthConfigError when the file cannot be read, is not JSON, or fails {@link parseTokens}
 */
export function loadTokens(path: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AuthConfigError(
      `cannot read the tokens file ${echo(path, ECHO_PATH_CHARS)}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message may quote part of the file, i.e. a token: do not repeat it.
    throw new AuthConfigError(`the tokens file ${echo(path, ECHO_PATH_CHARS)} is not valid JSON`);
  }
  const table = parseTokens(value, `tokens file ${echo(path, ECHO_PATH_CHARS)}`);
  const readableByOthers = process.platform !== 'win32' && (statSync(path).mode & 0o044) !== 0;
  return { ...table, readableByOthers };
}

/**
 * The client a bearer token belongs to, comparing the token's digest with every entry in constant
 * time (no early exit, so the time taken does not depend on which entry matched, or how much of it).
 */
export function tokenOwner(table: TokenTable, token: string): string | undefined {
  const presented = digest(token);
  let owner: string | undefined;
  for (const entry of table.entries) {
    if (timingSafeEqual(presented, entry.digest)) owner = entry.name;
  }
  return owner;
}

/** The bearer token in `authorization` metadata, or a reason there is none usable. */
export function bearerToken(
  metadata: Metadata,
): { readonly ok: true; readonly token: string } | { readonly ok: false; readonly reason: string } {
  const values = metadata.get('authorization');
  if (values.length === 0) {
    return { ok: false, reason: 'missing bearer token: send authorization metadata "Bearer <token>"' };
  }
  if (values.length > 1) return { ok: false, reason: 'more than one authorization header' };
  const value = values[0];
  // RFC 6750 §2.1: the scheme name is case-insensitive.
  const match = typeof value === 'string' ? /^bearer +([\x21-\x7e]+)$/i.exec(value) : null;
  if (!match) return { ok: false, reason: 'malformed authorization metadata: expected "Bearer <token>"' };
  return { ok: true, token: match[1]! };
}

/** What authenticates a call. With neither set, a client is who it says it is (loopback only). */
export interface AuthOptions {
  readonly tokens?: TokenTable;
  /** Take the client name from the verified client certificate's subject CN (mutual TLS). */
  readonly clientCertificates?: boolean;
}

/** The subject CN of the call's verified client certificate, or a reason there is none. */
function certificateName(
  call: Parameters<Authenticate>[0],
): { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string } {
  // grpc-js sets sslPeerCertificate only for a TLS socket whose peer certificate verified.
  const certificate = call.getAuthContext().sslPeerCertificate;
  if (!certificate) return { ok: false, reason: 'no verified client certificate' };
  const cn: unknown = certificate.subject?.CN;
  if (typeof cn !== 'string' || cn.length === 0 || Buffer.byteLength(cn, 'utf8') > MAX_NAME_BYTES) {
    return { ok: false, reason: 'the client certificate must have exactly one subject CN of 1..255 bytes' };
  }
  return { ok: true, name: cn };
}

/**
 * Builds the coordinator's `authenticate` hook. With tokens, a call must carry a valid bearer token;
 * with client certificates, a verified certificate's CN names the client; with both, both must hold
 * and name the same client. Refusals become UNAUTHENTICATED with the reason (which never quotes the
 * presented token).
 */
export function makeAuthenticate(options: AuthOptions): Authenticate {
  const { tokens, clientCertificates = false } = options;
  if (!tokens && !clientCertificates) return () => ({ ok: true, name: undefined });
  return (call) => {
    let name: string | undefined;
    if (clientCertificates) {
      const fromCertificate = certificateName(call);
      if (!fromCertificate.ok) return fromCertificate;
      name = fromCertificate.name;
    }
    if (tokens) {
      const bearer = bearerToken(call.metadata);
      if (!bearer.ok) return bearer;
      const owner = tokenOwner(tokens, bearer.token);
      if (owner === undefined) return { ok: false, reason: 'invalid bearer token' };
      if (name !== undefined && owner !== name) {
        return {
          ok: false,
          reason: `the client certificate names '${echo(name)}' but the bearer token belongs to another client`,
        };
      }
      name = owner;
    }
    return { ok: true, name };
  };
}
