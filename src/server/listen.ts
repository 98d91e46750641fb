/**
 * The coordinator's gRPC server: message-size limits and keepalive, the Participate and health
 * services (and, with `privagg serve --control`, the operator's control service), binding, and
 * shutdown.
 * @module
 */
import {
  Server,
  type ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { participateService } from '../wire/service.ts';
import type { Coordinator } from './coordinator.ts';
import { type HealthService, healthServiceDefinition } from './health.ts';

/** How to build and bind the server. */
export interface ListenOptions {
  /** `HOST:PORT` (`[IPv6]:PORT`); port 0 picks a free port. */
  readonly address: string;
  readonly credentials: ServerCredentials;
  /** Largest gRPC message accepted, in bytes (`grpc.max_receive_message_length`). */
  readonly maxReceiveMessageBytes: number;
  /**
   * Ping every connection this often (ms), and close one whose answer has not come within as long
   * again; 0 sends no pings.
   */
  readonly keepaliveMs: number;
  /** Serves Participate: a coordinator's, or one that routes to a coordinator (control-service.ts). */
  readonly coordinator: Pick<Coordinator, 'handleParticipate'>;
  readonly health: HealthService;
  /** Further services on the same port and credentials (the control service). */
  readonly services?: readonly {
    readonly definition: ServiceDefinition;
    readonly implementation: UntypedServiceImplementation;
  }[];
}

/** The bound server. */
export interface Listening {
  readonly server: Server;
  /** The port actually bound (the one picked when `port` was 0). */
  readonly port: number;
}

/** Binding the address failed (in use, not an address of this host, …). */
export class ListenError extends Error {
  override name = 'ListenError';
}

/**
 * Creates the server, registers the services and binds it.
 * @throws ListenError when the address cannot be bound
 */
export async function listen(options: ListenOptions): Promise<Listening> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
    // Pings notice a client that vanished without closing its socket; its round does not wait for
    // them (a stage deadline drops a client that does not answer). grpc-js checks the answer with a
    // timer, so a timeout shorter than the longest stall of either event loop would drop a healthy
    // client: the answer is given as long as the interval.
    ...(options.keepaliveMs > 0 && {
      'grpc.keepalive_time_ms': options.keepaliveMs,
      'grpc.keepalive_timeout_ms': options.keepaliveMs,
    }),
  });
  server.addService(participateService, { participate: options.coordinator.handleParticipate });
  server.addService(healthServiceDefinition, options.health.implementation);
  for (const service of options.services ?? []) server.addService(service.definition, service.implementation);
  const { address } = options;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.credentials, (error, bound) => {
      if (error) reject(new ListenError(`cannot listen on ${address}: ${oneLine(error.message)}`));
      else resolve(bound);
    });
  });
  return { server, port };
}

/**
 * Stops accepting calls and waits up to `graceMs` for the open ones to finish, then cancels the rest.
 */
export function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}
