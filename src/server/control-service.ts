/**
 * The gRPC adapter of the control service, `privagg.v1.AggregationControl`
 * (proto/privagg/v1/control.proto): each call authenticated as the operator (./operator-auth.ts), its
 * request decoded and checked at the edge (./control-define.ts), then handed to the in-process
 * {@link Aggregation}, whose answers and outcomes are encoded back (./control-codec.ts). Nothing here
 * decides anything about rounds.
 *
 * It also routes participants: the Participate handler registered at listen time hands each call to
 * the coordinator of the aggregation defined now, and turns a call away with UNAVAILABLE (retry later)
 * while none is.
 *
 * Every failure becomes one gRPC status through {@link statusOf}: a {@link ControlRequestError}'s own
 * code and message (which names the field), anything else INTERNAL with a fixed message (the detail
 * goes to the log only).
 * @module
 */
import {
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  status as Status,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  AggregationControlService,
  type Budget as BudgetMessage,
  DefineRequest,
  type DefineResponse,
  GetBudgetRequest,
  Setting,
  StartRoundRequest,
  type StartRoundResponse,
  StopRequest,
  type StopResponse,
  WatchOutcomesRequest,
} from '../gen/privagg/v1/control.ts';
import { echo } from '../text/echo.ts';
import { Aggregation, type AggregationEnvironment, type AggregationEvent } from './aggregation.ts';
import { eventMessage } from './control-codec.ts';
import { ControlRequestError, checkDefinition, invalid } from './control-define.ts';
import type { Coordinator } from './coordinator.ts';
import { checkOperator, type OperatorCredentials } from './operator-auth.ts';
import { SESSION_ENDS } from './session-end.ts';

/** What the control service needs from the server. */
export interface ControlEnvironment {
  readonly logger: Logger;
  readonly operator: OperatorCredentials;
  /** Given to every aggregation; its `authenticate` must refuse the operator (operator-auth.ts). */
  readonly aggregations: AggregationEnvironment;
  /** Told of every event of every aggregation, in order (serve's JSON lines and summary lines). */
  readonly onEvent?: (aggregation: Aggregation, event: AggregationEvent) => void;
}

/**
 * The service definition, with requests arriving as bytes: each handler decodes its own, so a
 * malformed request becomes INVALID_ARGUMENT naming the request rather than grpc-js's INTERNAL.
 */
export const controlServiceDefinition: ServiceDefinition = Object.fromEntries(
  Object.entries(AggregationControlService).map(([name, method]) => [
    name,
    { ...method, requestDeserialize: (bytes: Buffer): Buffer => bytes },
  ]),
);

/** Decodes a request; malformed bytes are the caller's fault. */
function decode<T>(codec: { decode(bytes: Uint8Array): T }, bytes: Uint8Array, what: string): T {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw invalid(
      'request',
      `not a valid ${what}: ${error instanceof Error ? error.message : 'undecodable'}`,
    );
  }
}

/** A thrown value as a gRPC status: the request's own fault, or an internal error. */
export function statusOf(error: unknown, logger: Logger, call: string): { code: Status; details: string } {
  if (error instanceof ControlRequestError) return { code: error.code, details: error.message };
  logger.error(
    { call, error: error instanceof Error ? error.message : String(error) },
    'control call failed',
  );
  return { code: Status.INTERNAL, details: 'internal error (see the server log)' };
}

type Unary<Res> = (call: ServerUnaryCall<Buffer, Res>, callback: sendUnaryData<Res>) => void;

/** The control service (see the module documentation). */
export class ControlService {
  readonly #env: ControlEnvironment;
  readonly #logger: Logger;
  #current: Aggregation | undefined;
  /** The current aggregation's run, with its events handed to the server. */
  #following: Promise<void> = Promise.resolve();

  constructor(env: ControlEnvironment) {
    this.#env = env;
    this.#logger = env.logger.child({ service: 'control' });
  }

  /** The aggregation defined now (ended or not), if any. */
  get current(): Aggregation | undefined {
    return this.#current;
  }

  /** The Participate handler: the current aggregation's coordinator, or UNAVAILABLE. */
  readonly participate: Coordinator['handleParticipate'] = (call) => {
    const aggregation = this.#current;
    if (aggregation && !aggregation.ended) {
      aggregation.coordinator.handleParticipate(call);
      return;
    }
    // Credentials first, as the coordinator would check them: a refused caller learns nothing more.
    const auth = this.#env.aggregations.authenticate(call);
    if (!auth.ok) {
      call.emit('error', { code: SESSION_ENDS.unauthenticated.status, details: auth.reason });
      return;
    }
    call.emit('error', {
      code: SESSION_ENDS['no-aggregation'].status,
      details: 'no aggregation is running: the operator has not defined one (retry later)',
    });
  };

  /** Ends the current aggregation, if one runs, as the server shuts down. */
  async shutdown(): Promise<void> {
    const aggregation = this.#current;
    if (aggregation && !aggregation.ended) await aggregation.shutdown();
    await this.#following;
  }

  /** Checks the caller is the operator; else a refusal for the log and the caller. */
  #operator(
    call: { metadata: Metadata; getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: unknown } } } },
    method: string,
  ): void {
    const check = checkOperator(this.#env.operator, call.metadata, () => {
      const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
      return typeof cn === 'string' ? cn : undefined;
    });
    if (!check.ok) {
      this.#logger.warn({ call: method, reason: check.reason }, 'refused a control call');
      throw new ControlRequestError(Status.UNAUTHENTICATED, check.reason);
    }
  }

  /** The aggregation a request names. */
  #named(name: string): Aggregation {
    const aggregation = this.#current;
    if (!aggregation || aggregation.definition.name !== name) {
      if (name === '') throw invalid('aggregation', 'is required: the name given to Define');
      throw new ControlRequestError(
        Status.NOT_FOUND,
        `aggregation: no aggregation named '${echo(name)}' is defined`,
      );
    }
    return aggregation;
  }

  /** Runs a unary handler on the request's bytes, turning whatever it throws into the call's status. */
  #unary<Res>(method: string, handle: (request: Buffer) => Res | Promise<Res>): Unary<Res> {
    return (call, callback) => {
      void (async () => {
        try {
          this.#operator(call, method);
          callback(null, await handle(call.request));
        } catch (error) {
          callback(statusOf(error, this.#logger, method));
        }
      })();
    };
  }

  #define(bytes: Buffer): DefineResponse {
    const request = decode(DefineRequest, bytes, 'DefineRequest');
    const current = this.#current;
    if (current && !current.ended) {
      throw new ControlRequestError(
        Status.ALREADY_EXISTS,
        `aggregation.name: aggregation '${current.definition.name}' is defined and running: Stop it first`,
      );
    }
    const definition = checkDefinition(request.aggregation, this.#env.aggregations.serverModel);
    const aggregation = Aggregation.open(definition, this.#env.aggregations);
    this.#current = aggregation;
    this.#following = this.#follow(aggregation).catch((error: unknown) => {
      this.#logger.error(
        { aggregation: definition.name, error: error instanceof Error ? error.message : String(error) },
        'aggregation failed',
      );
    });
    this.#logger.info(
      {
        aggregation: definition.name,
        clients: definition.clients,
        minClients: definition.minClients,
        threshold: definition.threshold,
        serverModel: this.#env.aggregations.serverModel ?? 'semi-honest',
        vectors: definition.vectors.map((v) => `${v.name}[${v.length}]/${v.bits}`),
        ...(definition.privacy && {
          dp: definition.privacy.mechanism,
          noiseMultiplier: aggregation.noiseMultiplier,
          targetEpsilon: definition.privacy.targetEpsilon,
        }),
      },
      'aggregation defined',
    );
    return {
      name: definition.name,
      vectors: definition.vectors.map((v) => ({ ...v })),
      threshold: definition.threshold,
      graph: definition.graphPlans?.[0]?.summary ?? `complete graph, threshold t=${definition.threshold}`,
      firstRound: aggregation.firstRound,
      noiseMultiplier: aggregation.noiseMultiplier ?? 0,
      setting:
        this.#env.aggregations.serverModel === 'malicious'
          ? Setting.SETTING_MALICIOUS
          : Setting.SETTING_SEMI_HONEST,
    };
  }

  /** Runs the aggregation and hands its events to the server as they come. */
  async #follow(aggregation: Aggregation): Promise<void> {
    const running = aggregation.run();
    for await (const event of aggregation.events()) this.#env.onEvent?.(aggregation, event);
    await running;
  }

  async #startRound(bytes: Buffer): Promise<StartRoundResponse> {
    const request = decode(StartRoundRequest, bytes, 'StartRoundRequest');
    const aggregation = this.#named(request.aggregation);
    const { round, taskDigest } = await aggregation.start(request.task.length > 0 ? request.task : undefined);
    return { round, taskDigest: taskDigest ?? new Uint8Array(0) };
  }

  #getBudget(bytes: Buffer): BudgetMessage {
    const request = decode(GetBudgetRequest, bytes, 'GetBudgetRequest');
    return this.#named(request.aggregation).budget();
  }

  async #stop(bytes: Buffer): Promise<StopResponse> {
    const request = decode(StopRequest, bytes, 'StopRequest');
    const end = await this.#named(request.aggregation).stop();
    return { lastRound: end.lastRound };
  }

  async #watch(call: ServerWritableStream<Buffer, unknown>): Promise<void> {
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    try {
      this.#operator(call, 'WatchOutcomes');
      const request = decode(WatchOutcomesRequest, call.request, 'WatchOutcomesRequest');
      const aggregation = this.#named(request.aggregation);
      const privateRounds = aggregation.definition.privacy !== undefined;
      for await (const event of aggregation.events(request.afterRound)) {
        if (cancelled) return;
        call.write(eventMessage(event, privateRounds));
      }
      call.end();
    } catch (error) {
      if (cancelled) return;
      call.emit('error', statusOf(error, this.#logger, 'WatchOutcomes'));
    }
  }

  /** The handlers to register with `server.addService(controlServiceDefinition, …)`. */
  readonly implementation: UntypedServiceImplementation = {
    define: this.#unary('Define', (bytes) => this.#define(bytes)),
    startRound: this.#unary('StartRound', (bytes) => this.#startRound(bytes)),
    getBudget: this.#unary('GetBudget', (bytes) => this.#getBudget(bytes)),
    stop: this.#unary('Stop', (bytes) => this.#stop(bytes)),
    watchOutcomes: (call: ServerWritableStream<Buffer, unknown>) => {
      void this.#watch(call);
    },
  };
}
