/**
 * Every way the coordinator ends a client's session, and what the client is told: one table from
 * cause to (Abort frame, gRPC status), as grpc-js maps errors to statuses in one place. The proto
 * comments on `Participate` and PROTOCOL.md §12.2 state the same table for implementers.
 *
 * The rule: before a client is selected for a round it has no round to abort, so its session ends
 * with a status alone. Once selected, every end the coordinator decides sends an `Abort` frame that
 * names why, then the status; the only silent ends are the normal one (the round completed and the
 * client played its part: status OK) and the answer to the client's own Abort (status OK).
 * @module
 */
import { status as Status } from '@grpc/grpc-js';
import type { WireAbortCode } from '../wire/convert.ts';

/** Why the coordinator ends a session. */
export type SessionEndCause =
  // before selection: a status alone
  | 'unauthenticated'
  | 'name-not-caller'
  | 'name-taken'
  | 'waiting-full'
  | 'budget-exhausted'
  | 'no-aggregation'
  | 'shutting-down'
  // either side of selection
  | 'malformed-frame'
  | 'out-of-order'
  | 'too-many-frames'
  | 'half-closed'
  // after selection
  | 'protocol-violation'
  | 'round-completed'
  | 'round-aborted'
  | 'missed-deadline'
  | 'client-aborted';

/** What the client is told. */
export interface SessionEndSignal {
  readonly status: Status;
  /**
   * The Abort frame's reason when the client has been selected for a round (undefined: no frame).
   * `round` means the round's own abort code (too-few-clients, reconstruction-failed, …).
   */
  readonly abort: WireAbortCode | 'round' | undefined;
}

/** The table. */
export const SESSION_ENDS: Readonly<Record<SessionEndCause, SessionEndSignal>> = {
  unauthenticated: { status: Status.UNAUTHENTICATED, abort: undefined },
  'name-not-caller': { status: Status.PERMISSION_DENIED, abort: undefined },
  'name-taken': { status: Status.ALREADY_EXISTS, abort: undefined },
  'waiting-full': { status: Status.UNAVAILABLE, abort: undefined },
  'budget-exhausted': { status: Status.RESOURCE_EXHAUSTED, abort: undefined },
  // `privagg serve --control` before the operator has defined an aggregation (control-service.ts).
  'no-aggregation': { status: Status.UNAVAILABLE, abort: undefined },
  'shutting-down': { status: Status.UNAVAILABLE, abort: 'server-aborted' },
  'malformed-frame': { status: Status.INVALID_ARGUMENT, abort: 'protocol-violation' },
  'out-of-order': { status: Status.FAILED_PRECONDITION, abort: 'protocol-violation' },
  'too-many-frames': { status: Status.RESOURCE_EXHAUSTED, abort: 'protocol-violation' },
  'protocol-violation': { status: Status.INVALID_ARGUMENT, abort: 'protocol-violation' },
  'half-closed': { status: Status.CANCELLED, abort: undefined },
  'round-completed': { status: Status.OK, abort: undefined },
  'round-aborted': { status: Status.OK, abort: 'round' },
  'missed-deadline': { status: Status.OK, abort: 'dropped' },
  'client-aborted': { status: Status.OK, abort: undefined },
};
