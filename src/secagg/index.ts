/**
 * `privagg/secagg`: the sans-I/O secure aggregation core (docs/PROTOCOL.md). Drive a
 * {@link SecAggServer} and its {@link SecAggClient}s by handing messages in (`handle*`) and taking
 * them out (`poll*`); the core touches no socket, clock or entropy pool of its own. Public exports
 * only: the modules beside this one are internal and may change.
 * @module
 */
export * from './client.ts';
export * from './cohort.ts';
export * from './crypto/index.ts';
export * from './errors.ts';
export * from './graph-params.ts';
export * from './messages.ts';
export * from './params.ts';
export * from './quantize.ts';
export { systemRng } from './rng.ts';
export * from './server.ts';
export * from './types.ts';
export * from './unmask-plan.ts';
