/**
 * The operator's credentials for the control service, kept apart from the participants'. The
 * operator sends `authorization: Bearer <token>` with the token of `--control-token-file`; under
 * mutual TLS `--control-client-name` may also require a client certificate with that subject CN.
 * Apart both ways: a control call with a participant's token (or certificate alone) is refused, and a
 * participant call carrying the operator's token, or the operator's certificate name, is refused, so a
 * leaked participant credential cannot steer rounds and the operator cannot pose as a participant.
 *
 * The token is kept only as its SHA-256 digest after loading and compared in constant time; it is
 * never logged or repeated in a message.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { AuthConfigError, bearerToken, type TokenTable, tokenOwner } from './auth.ts';
import type { Authenticate } from './coordinator.ts';

/** The operator's credentials as loaded. */
export interface OperatorCredentials {
  readonly tokenDigest: Buffer;
  /** Under mutual TLS: the subject CN the operator's client certificate must have. */
  readonly clientName?: string;
  /** The token file can be read by users other than its owner (POSIX mode bits). */
  readonly readableByOthers: boolean;
}

/** Shortest operator token accepted: 16 characters (e.g. 96 bits of base64). */
const MIN_TOKEN_CHARS = 16;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Reads the operator token file: one token of 16..4096 visible ASCII characters, one trailing newline
 * allowed.
 * @param participants - the participants' tokens, which must not include the operator's
 * @throws AuthConfigError when the file cannot be read, holds no usable token, or the token is also a
 *   participant's
 */
export function loadOperatorCredentials(
  path: string,
  participants: TokenTable | undefined,
  clientName?: string,
): OperatorCredentials {
  const shown = echo(path, ECHO_PATH_CHARS);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AuthConfigError(
      `cannot read --control-token-file ${shown}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  const token = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!/^[\x21-\x7e]+$/.test(token) || token.length < MIN_TOKEN_CHARS || token.length > 4096) {
    throw new AuthConfigError(
      `--control-token-file ${shown} must hold one token of ${MIN_TOKEN_CHARS} to 4096 printable ASCII characters without spaces`,
    );
  }
  if (participants && tokenOwner(participants, token) !== undefined) {
    throw new AuthConfigError(
      `--control-token-file ${shown} holds a participant's token (in --tokens): the operator needs a token of its own`,
    );
  }
  if (clientName !== undefined && participants?.entries.some((e) => e.name === clientName)) {
    throw new AuthConfigError(
      `--control-client-name '${echo(clientName)}' is also a participant's name in --tokens: the operator needs a name of its own`,
    );
  }
  const readableByOthers = process.platform !== 'win32' && (statSync(path).mode & 0o044) !== 0;
  return { tokenDigest: digest(token), ...(clientName !== undefined && { clientName }), readableByOthers };
}

/** The verified client certificate's subject CN, if the call has one. */
type PeerCertificateName = () => string | undefined;

/** Whether a control call is the operator's; a reason when it is not (never quoting the token). */
export function checkOperator(
  credentials: OperatorCredentials,
  metadata: Metadata,
  certificateName: PeerCertificateName,
): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  const bearer = bearerToken(metadata);
  if (!bearer.ok)
    return { ok: false, reason: `${bearer.reason} (the operator token of --control-token-file)` };
  if (!timingSafeEqual(digest(bearer.token), credentials.tokenDigest)) {
    return {
      ok: false,
      reason: 'not the operator token: the control service takes only --control-token-file',
    };
  }
  if (credentials.clientName !== undefined && certificateName() !== credentials.clientName) {
    return {
      ok: false,
      reason: `the control service needs the client certificate of '${echo(credentials.clientName)}'`,
    };
  }
  return { ok: true };
}

/**
 * Wraps the participants' `authenticate` so that the operator's credentials never take part in a
 * round: a call carrying the operator token, or (under mutual TLS) the operator's certificate name, is
 * refused before the participants' own check.
 */
export function refuseOperator(authenticate: Authenticate, credentials: OperatorCredentials): Authenticate {
  return (call) => {
    const bearer = bearerToken(call.metadata);
    if (bearer.ok && timingSafeEqual(digest(bearer.token), credentials.tokenDigest)) {
      return { ok: false, reason: 'the operator token cannot take part in rounds' };
    }
    if (credentials.clientName !== undefined) {
      const cn: unknown = call.getAuthContext().sslPeerCertificate?.subject?.CN;
      if (cn === credentials.clientName) {
        return { ok: false, reason: "the operator's certificate cannot take part in rounds" };
      }
    }
    return authenticate(call);
  };
}
