/**
 * `privagg/client`: the participant SDK. A {@link Participant} checks in with a coordinator over gRPC,
 * takes part in secure aggregation rounds and hides its input under the protocol's masks. The
 * operator's {@link ControlClient} drives `privagg serve --control`: defines an aggregation, starts
 * its rounds and receives their outcomes.
 * `credentials` is grpc-js's, re-exported so that an application needs no direct dependency on it.
 * @module
 */
export { credentials } from '@grpc/grpc-js';
export { KeyFileError, readKeyFile } from '../identity/keyfile.ts';
export { parseRoster, Roster, RosterError } from '../identity/roster.ts';
export * from './control.ts';
export * from './sdk.ts';
