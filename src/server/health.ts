/**
 * The standard gRPC health checking service, `grpc.health.v1.Health`
 * (https://github.com/grpc/grpc/blob/master/doc/health-checking.md; proto/grpc/health/v1/health.proto),
 * so load balancers, Kubernetes gRPC probes and `grpc_health_probe` can check the coordinator.
 *
 * Known services: `""` (the server as a whole) and `privagg.v1.SecureAggregation`. `Check` answers
 * their status, or NOT_FOUND for any other name; `Watch` sends the current status (SERVICE_UNKNOWN
 * for an unknown name) and then every change, until the client cancels or {@link HealthService.shutdown}.
 * @module
 */
import { type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import {
  type HealthCheckRequest,
  HealthCheckResponse,
  type HealthServer,
  HealthService as HealthServiceDefinition,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../gen/grpc/health/v1/health.ts';

/** The grpc-js service definition to register the implementation with. */
export const healthServiceDefinition = HealthServiceDefinition;

/** A serving status a service can be set to. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING';

/** Holds each known service's status and answers `Check` and `Watch`. */
export class HealthService {
  readonly #status = new Map<string, HealthStatus>();
  readonly #watchers = new Set<{
    readonly service: string;
    readonly call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
  }>();

  /**
   * @param services - the service names to report, each starting with the given status (`""`, the
   *   whole server, is always known)
   */
  constructor(services: readonly string[], initial: HealthStatus) {
    this.#status.set('', initial);
    for (const service of services) this.#status.set(service, initial);
  }

  /** Sets every known service's status and tells the watchers of each. */
  setAll(value: HealthStatus): void {
    for (const service of this.#status.keys()) this.#status.set(service, value);
    for (const watcher of this.#watchers) watcher.call.write(this.#response(watcher.service));
  }

  /** Ends every `Watch` call (with status OK), so the server can shut down. */
  shutdown(): void {
    for (const watcher of this.#watchers) watcher.call.end();
    this.#watchers.clear();
  }

  #response(service: string): HealthCheckResponse {
    const value = this.#status.get(service);
    return HealthCheckResponse.fromPartial({
      status:
        value === undefined
          ? ServingStatus.SERVICE_UNKNOWN
          : value === 'SERVING'
            ? ServingStatus.SERVING
            : ServingStatus.NOT_SERVING,
    });
  }

  /** The handlers to register with `server.addService(healthServiceDefinition, …)`. */
  readonly implementation: HealthServer = {
    check: (
      call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: sendUnaryData<HealthCheckResponse>,
    ) => {
      const { service } = call.request;
      if (!this.#status.has(service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service '${service}'` });
        return;
      }
      callback(null, this.#response(service));
    },
    watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      const watcher = { service: call.request.service, call };
      this.#watchers.add(watcher);
      const forget = () => this.#watchers.delete(watcher);
      call.on('cancelled', forget);
      call.on('close', forget);
      call.on('error', forget);
      call.write(this.#response(watcher.service));
    },
  };
}
