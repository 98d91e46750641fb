/**
 * Monitoring for one coordinator: its Prometheus metrics (metrics.ts), the dashboard's state
 * (dashboard-state.ts) and the HTTP server that serves both (http.ts), built together so that
 * `privagg serve` and the training job (src/fl/job.ts) wire them the same way.
 *
 * Order: build the {@link Monitor}, pass {@link Monitor.observer} to the Coordinator, then
 * {@link Monitor.attach} the coordinator (its live counters), then {@link Monitor.listen}; finally
 * {@link Monitor.close}. Until attached, the live counts read zero.
 * @module
 */
import { DashboardState } from './dashboard-state.ts';
import { type MonitorServer, startMonitorServer } from './http.ts';
import { type CoordinatorMetrics, createMetrics } from './metrics.ts';
import { type ClientStates, type CoordinatorGauges, type CoordinatorObserver, fanOut } from './observer.ts';

const NO_CLIENTS: ClientStates = { waiting: 0, inRound: 0, uploading: 0, queuedForUpload: 0 };

/** What a monitor knows before the first round. */
export interface MonitorOptions {
  /** With differential privacy: the budget ε and what the ledger had spent already. */
  readonly privacy?: { readonly budget: number; readonly spent: number };
  /** Node's default process metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** Metrics, dashboard state and their HTTP server for one coordinator. */
export class Monitor {
  readonly metrics: CoordinatorMetrics;
  readonly dashboard: DashboardState;
  /** Pass to the Coordinator's environment. */
  readonly observer: CoordinatorObserver;
  readonly #source: { gauges: CoordinatorGauges | undefined } = { gauges: undefined };
  #server: MonitorServer | undefined;

  constructor(options: MonitorOptions = {}) {
    // The coordinator is built after its observer: read its counters through this indirection.
    const source = this.#source;
    const gauges: CoordinatorGauges = {
      get bytesReceived() {
        return source.gauges?.bytesReceived ?? 0;
      },
      get bytesSent() {
        return source.gauges?.bytesSent ?? 0;
      },
      clientStates: () => source.gauges?.clientStates() ?? NO_CLIENTS,
    };
    this.metrics = createMetrics({
      gauges,
      ...(options.privacy && { epsilonBudget: options.privacy.budget, epsilonSpent: options.privacy.spent }),
      ...(options.defaultMetrics !== undefined && { defaultMetrics: options.defaultMetrics }),
    });
    this.dashboard = new DashboardState(gauges, options.privacy);
    this.observer = fanOut(this.metrics.observer, this.dashboard);
  }

  /** Reads the live counters from `gauges` (the coordinator) from now on. */
  attach(gauges: CoordinatorGauges): void {
    this.#source.gauges = gauges;
  }

  /** Serves `/`, `/healthz`, `/metrics` and `/state`; resolves with the bound port. */
  async listen(host: string, port: number, token?: string): Promise<number> {
    this.#server = await startMonitorServer({
      host,
      port,
      registry: this.metrics.registry,
      snapshot: () => this.dashboard.snapshot(),
      ...(token !== undefined && { token }),
    });
    return this.#server.port;
  }

  /** Stops serving and sampling. */
  async close(): Promise<void> {
    this.metrics.close();
    const server = this.#server;
    this.#server = undefined;
    await server?.close();
  }
}
