/**
 * The one error of the wire layer: a frame (or a message about to become one) breaks the format of
 * proto/privagg/v1/secagg.proto. The message names the field, by its path in the .proto (snake_case,
 * with list indices), and what was wrong; it never contains key, share or vector bytes.
 * @module
 */

/**
 * Which way the conversion went, and so whose fault the error is:
 * - `decode`: bytes or a frame received from the peer are malformed; the peer broke the protocol
 *   (the coordinator drops that client, a client aborts its session);
 * - `encode`: the local caller handed over a message that cannot be sent (a local bug); nothing was
 *   sent.
 */
export type WireDirection = 'decode' | 'encode';

/** A frame, or a message being converted to or from one, is malformed. */
export class WireFormatError extends Error {
  override name = 'WireFormatError';
  /**
   * @param direction - `decode` for received data (the peer's fault), `encode` for outgoing data
   * @param field - path of the offending field, e.g. `encrypted_shares.ciphertexts[2].ciphertext`
   * @param problem - what was wrong, e.g. `must be 88 bytes, got 87`
   */
  constructor(
    readonly direction: WireDirection,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${direction === 'decode' ? 'malformed frame' : 'cannot encode'}: ${field} ${problem}`);
  }
}
