/**
 * Error types of the core, by who is at fault:
 * - {@link UsageError}: the local caller misused the API (wrong call order, bad argument);
 * - {@link ProtocolViolation}: a remote party sent something the protocol forbids; for the server,
 *   the offending client is named and dropped while the round goes on;
 * - {@link Refusal}: a client declines a server request because honouring it could expose its input;
 * - {@link RoundAborted}: the round cannot complete (too few survivors, a failed check); nothing is
 *   revealed.
 * Messages never contain keys, seeds, shares or vectors.
 * @module
 */
import type { Stage } from './messages.ts';
import type { ClientId } from './types.ts';

/** The local API was called wrongly. The state machine is unchanged. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A remote party broke the protocol. `client` is set when the culprit is a client. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
  constructor(
    message: string,
    readonly client?: ClientId,
  ) {
    super(message);
  }
}

/** Why a client refused a server request. One code per refusal rule of docs/PROTOCOL.md §3–4. */
export type RefusalCode =
  | 'bad-parameters'
  | 'threshold-too-low'
  | 'bad-peer-list'
  | 'invalid-public-key'
  | 'duplicate-public-key'
  | 'bad-signature'
  | 'own-keys-altered'
  | 'too-few-peers'
  /** Not raised any more: an unreadable share message is treated as missing (§4.2); kept for the wire. */
  | 'bad-share'
  | 'survivors-below-threshold'
  | 'inconsistent-survivors'
  | 'self-listed-as-dropped'
  | 'both-shares-requested'
  | 'repeated-request'
  | 'insufficient-privacy';

/** A client declined a request; the client is aborted and reveals nothing further. */
export class Refusal extends Error {
  override name = 'Refusal';
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Why a round aborted. */
export type AbortCode = 'too-few-clients' | 'reconstruction-failed' | 'server-aborted' | 'client-refused';

/** The round ended without a result; no secret was reconstructed. */
export class RoundAborted extends Error {
  override name = 'RoundAborted';
  /**
   * @param code - why, as a code
   * @param stage - the stage the round was in
   * @param detail - what happened, naming who is at fault; the message is `<code> at <stage>: <detail>`
   */
  constructor(
    readonly code: AbortCode,
    readonly stage: Stage,
    readonly detail: string,
  ) {
    super(`${code} at ${stage}: ${detail}`);
  }
}
