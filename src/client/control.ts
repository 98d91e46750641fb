/**
 * The operator's client for the control service (`privagg serve --control`,
 * proto/privagg/v1/control.proto): the generated grpc-js client with promises, the operator token
 * sent with every call, and the outcome stream as an async iterator of decoded outcomes.
 *
 * ```ts
 * const control = new ControlClient({ address: '127.0.0.1:50051', credentials: credentials.createInsecure(), token });
 * await control.define({ name: 'fedavg', cohort: { clients: 10, minClients: 8, checkInWindowMs: 0 },
 *   vectors: [{ name: 'update', length: 7850, bits: 32 }], stageTimeoutMs: 0 });
 * const events = control.watch('fedavg');
 * const { round } = await control.startRound('fedavg', modelBytes);
 * for await (const event of events) { if (event.kind === 'outcome') { ... } else break; }
 * await control.stop('fedavg');
 * ```
 * @module
 */
import {
  type CallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ClientReadableStream,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  type Aggregation,
  AggregationControlClient,
  type AggregationEnded,
  type AggregationEvent,
  type Budget,
  type DefineResponse,
  type RoundOutcome,
  type StartRoundResponse,
  type StopResponse,
} from '../gen/privagg/v1/control.ts';

export type {
  Aggregation,
  AggregationEnded,
  Budget,
  DefineResponse,
  RoundOutcome,
  StartRoundResponse,
  StopResponse,
} from '../gen/privagg/v1/control.ts';
export {
  EndReason,
  PrivacyMechanism,
  RoundStatus,
  Setting,
  /** The stage a client was lost at, in `RoundOutcome.dropped`. */
  Stage as RoundStage,
} from '../gen/privagg/v1/control.ts';

/** Options for {@link ControlClient}. */
export interface ControlClientOptions {
  /** `host:port` of `privagg serve --control`. */
  readonly address: string;
  readonly credentials: ChannelCredentials;
  /** The operator token (`--control-token-file`), sent as `authorization: Bearer <token>`. */
  readonly token: string;
  readonly channelOptions?: Partial<ClientOptions>;
}

/** One event of an aggregation's outcome stream. */
export type ControlEvent =
  | { readonly kind: 'outcome'; readonly outcome: RoundOutcome }
  | { readonly kind: 'ended'; readonly ended: AggregationEnded };

/** A round's sums decoded from their little-endian bytes, by vector name. */
export function decodeSums(outcome: RoundOutcome): Map<string, Uint32Array> {
  return new Map(
    outcome.sums.map((sum) => {
      const view = new DataView(sum.values.buffer, sum.values.byteOffset, sum.values.byteLength);
      const values = new Uint32Array(sum.values.byteLength / 4);
      for (let i = 0; i < values.length; i++) values[i] = view.getUint32(4 * i, true);
      return [sum.name, values];
    }),
  );
}

/** A private round's release decoded from its little-endian bytes (undefined when it has none). */
export function decodeReleaseSum(outcome: RoundOutcome): Float64Array | undefined {
  const bytes = outcome.release?.sum;
  if (!bytes) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(bytes.byteLength / 8);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(8 * i, true);
  return values;
}

type Callback<T> = (error: ServiceError | null, response: T) => void;

/** The operator's control client (see the module documentation). */
export class ControlClient {
  readonly #client: AggregationControlClient;
  readonly #token: string;

  constructor(options: ControlClientOptions) {
    this.#client = new AggregationControlClient(options.address, options.credentials, {
      // A round's sums or release can exceed grpc-js's 4 MiB default (1M words: 4 MiB + framing).
      'grpc.max_receive_message_length': -1,
      ...options.channelOptions,
    });
    this.#token = options.token;
  }

  #metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.#token}`);
    return metadata;
  }

  #unary<T>(
    call: (metadata: Metadata, options: Partial<CallOptions>, callback: Callback<T>) => void,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      call(this.#metadata(), {}, (error, response) => (error ? reject(error) : resolve(response)));
    });
  }

  /** Defines the aggregation (Define). Rejects with the call's ServiceError (`code`, `details`). */
  define(aggregation: Aggregation): Promise<DefineResponse> {
    return this.#unary((m, o, c) => this.#client.define({ aggregation }, m, o, c));
  }

  /** Starts the next round with `task` (StartRound). */
  startRound(aggregation: string, task: Uint8Array = new Uint8Array(0)): Promise<StartRoundResponse> {
    return this.#unary((m, o, c) => this.#client.startRound({ aggregation, task }, m, o, c));
  }

  /** The privacy budget (GetBudget). */
  budget(aggregation: string): Promise<Budget> {
    return this.#unary((m, o, c) => this.#client.getBudget({ aggregation }, m, o, c));
  }

  /** Stops the aggregation (Stop); resolves once it has ended. */
  stop(aggregation: string): Promise<StopResponse> {
    return this.#unary((m, o, c) => this.#client.stop({ aggregation }, m, o, c));
  }

  /**
   * The aggregation's outcomes (WatchOutcomes) from the first round after `afterRound`, then its end.
   * The call starts at once, so a round started after this returns is never missed. Breaking out of
   * the loop cancels the call. Throws the call's ServiceError if it fails.
   */
  watch(aggregation: string, afterRound = 0): AsyncIterable<ControlEvent> {
    const call: ClientReadableStream<AggregationEvent> = this.#client.watchOutcomes(
      { aggregation, afterRound },
      this.#metadata(),
    );
    const queue: ControlEvent[] = [];
    let failure: Error | undefined;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    call.on('data', (message: AggregationEvent) => {
      const event = message.event;
      if (event?.$case === 'outcome') queue.push({ kind: 'outcome', outcome: event.value });
      else if (event?.$case === 'ended') queue.push({ kind: 'ended', ended: event.value });
      notify();
    });
    call.on('error', (error: Error) => {
      failure = error;
      notify();
    });
    call.on('end', () => {
      finished = true;
      notify();
    });
    return {
      [Symbol.asyncIterator]: async function* () {
        try {
          while (true) {
            const next = queue.shift();
            if (next) {
              yield next;
              continue;
            }
            if (failure) throw failure;
            if (finished) return;
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        } finally {
          if (!finished && !failure) call.cancel();
        }
      },
    };
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}
