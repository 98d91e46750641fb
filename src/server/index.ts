/**
 * `privagg/server`: the coordinator. A {@link Coordinator} serves the participate call of
 * {@link participateService} on a grpc-js `Server` (re-exported with `ServerCredentials`, so that an
 * application needs no direct dependency on grpc-js) and yields one {@link RoundOutcome} per round.
 * `privagg serve` (src/cli/serve.ts) is the same thing with flags, TLS, tokens and a JSON-lines log.
 * @module
 */
export { Server, ServerCredentials } from '@grpc/grpc-js';
export { parseRoster, Roster, RosterError } from '../identity/roster.ts';
export { participateService } from '../wire/service.ts';
export { Aggregation, type AggregationEnd, type AggregationEvent } from './aggregation.ts';
export * from './config.ts';
export { type AggregationDefinition, ControlRequestError, checkDefinition } from './control-define.ts';
export { ControlService, controlServiceDefinition } from './control-service.ts';
export * from './coordinator.ts';
export * from './listen.ts';
export { createLogger, type LogLevel } from './logging.ts';
export { OperatorRounds, RoundRefusedError } from './operator-rounds.ts';
export { UnmaskPool, UnmaskPoolError, type UnmaskPoolOptions } from './unmask-pool.ts';
