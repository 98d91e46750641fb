/**
 * `privagg`: secure aggregation with differential privacy for federated learning. The root exports
 * what most applications need — the participant SDK and the coordinator — and points at the
 * subpath exports for the rest: `privagg/client`, `privagg/server`, `privagg/secagg` (the sans-I/O
 * protocol core) and `privagg/dp` (differential privacy and accounting).
 * @module
 */
export { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
export {
  ClientRefusedError,
  CoordinatorAbortError,
  Participant,
  type ParticipantOptions,
} from './client/sdk.ts';
export { Coordinator, type CoordinatorConfig, type RoundOutcome } from './server/coordinator.ts';
export { participateService } from './wire/service.ts';
