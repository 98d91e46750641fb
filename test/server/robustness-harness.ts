/**
 * Harness for the coordinator's robustness and fuzz tests: an in-process {@link Coordinator} on a
 * loopback grpc-js server configured like the CLI's (2 MiB receive limit), raw Participate streams
 * that send arbitrary bytes, and a scripted participant that plays the protocol with the real client
 * core but lets a test replace, mutate, hold back or reorder the frames of any stage.
 * @module
 */

import { after } from 'node:test';
import {
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { type Logger, pino } from 'pino';
import { Participant } from '../../src/client/sdk.ts';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { SecAggClient } from '../../src/secagg/client.ts';
import { ProtocolViolation, Refusal } from '../../src/secagg/errors.ts';
import type { ClientMessage, ServerMessage } from '../../src/secagg/messages.ts';
import { type RoundParams, roundParams } from '../../src/secagg/params.ts';
import type { ClientId, Rng, VectorSpec } from '../../src/secagg/types.ts';
import {
  type Authenticate,
  Coordinator,
  type CoordinatorConfig,
  type RoundOutcome,
} from '../../src/server/coordinator.ts';
import {
  abortFromError,
  checkInToFrame,
  clientAbortToFrame,
  clientMessageToFrames,
  type InboundServerFrame,
  parseServerFrame,
  type WireAbort,
} from '../../src/wire/convert.ts';
import { participateService } from '../../src/wire/service.ts';

/** The coordinator's receive limit, as the CLI configures it. */
export const MAX_RECEIVE_BYTES = 2 << 20;

/** A deterministic, fast {@link Rng} for tests (not cryptographic). */
export function testRng(seed: number): Rng {
  let x = (seed * 2_654_435_761) >>> 0 || 1;
  return {
    randomBytes(length: number): Uint8Array {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        out[i] = x & 0xff;
      }
      return out;
    },
  };
}

/** A round configuration with generous deadlines, so nothing in a test is lost to time. */
export function testConfig(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    cohortSize: 5,
    minClients: 5,
    threshold: 3,
    serverModel: 'semi-honest',
    maxCorruptClients: 0,
    vectors: [{ name: 'v', length: 1000, bits: 20 }],
    rounds: 1,
    checkInMs: 30_000,
    timeouts: { advertise: 20_000, share: 20_000, masked: 20_000, unmask: 20_000 },
    maxConcurrentUploads: 2,
    maxFramesPerStage: 64,
    ...overrides,
  };
}

/** What the server-side spy saw of one Participate call. */
export interface CallRecord {
  /** The client name of the call's first frame, if it was a check-in. */
  name: string | undefined;
  frames: number;
  bytes: number;
  pauses: number;
  resumes: number;
  /** Messages the coordinator's side of the call holds read but not yet delivered. */
  readonly buffered: () => number;
}

/** A running coordinator with its gRPC server. */
export interface TestCoordinator {
  readonly coordinator: Coordinator;
  readonly address: string;
  /** Settles when `run()` returns. */
  readonly running: Promise<void>;
  /** Every call the server accepted, as the spy saw it. */
  readonly calls: CallRecord[];
  /** The `index`-th round's outcome (0-based). */
  outcome(index?: number): Promise<RoundOutcome>;
  /** Closes the coordinator and the server. */
  stop(): void;
}

/** Starts a coordinator on 127.0.0.1 with an ephemeral port and runs it. */
export async function startCoordinator(
  config: CoordinatorConfig,
  options: { authenticate?: Authenticate; logger?: Logger } = {},
): Promise<TestCoordinator> {
  const coordinator = new Coordinator(config, {
    logger: options.logger ?? pino({ level: 'silent' }),
    authenticate: options.authenticate ?? (() => ({ ok: true, name: undefined })),
  });
  const calls: CallRecord[] = [];
  const server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
  server.addService(participateService, {
    participate: (call: ServerDuplexStream<Uint8Array, pb.ServerFrame>) => {
      const record: CallRecord = {
        name: undefined,
        frames: 0,
        bytes: 0,
        pauses: 0,
        resumes: 0,
        buffered: () => call.readableLength,
      };
      calls.push(record);
      // Count what the coordinator pauses and resumes (the upload queue) without changing it.
      const pause = call.pause.bind(call);
      const resume = call.resume.bind(call);
      call.pause = () => {
        record.pauses++;
        return pause();
      };
      call.resume = () => {
        record.resumes++;
        return resume();
      };
      call.on('data', (bytes: Uint8Array) => {
        if (record.frames++ === 0) {
          try {
            const frame = pb.ClientFrame.decode(bytes);
            if (frame.frame?.$case === 'checkIn') record.name = frame.frame.value.clientName;
          } catch {
            // Not a frame: the coordinator will say so.
          }
        }
        record.bytes += bytes.length;
      });
      coordinator.handleParticipate(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const outcomes: RoundOutcome[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    for await (const outcome of coordinator.outcomes()) {
      outcomes.push(outcome);
      for (const wake of waiters.splice(0)) wake();
    }
  })();
  const running = coordinator.run();
  return {
    coordinator,
    address: `127.0.0.1:${port}`,
    running,
    calls,
    async outcome(index = 0) {
      while (outcomes.length <= index) await new Promise<void>((resolve) => waiters.push(resolve));
      return outcomes[index]!;
    },
    stop() {
      coordinator.close();
      server.forceShutdown();
    },
  };
}

/**
 * Starts coordinators for one test file and stops them all after it: call once at the file's top
 * level; the returned function starts one with `testConfig(overrides)`.
 */
export function coordinatorsForThisFile(): (
  overrides?: Partial<CoordinatorConfig>,
  options?: { authenticate?: Authenticate; logger?: Logger },
) => Promise<TestCoordinator> {
  const running: TestCoordinator[] = [];
  after(() => {
    for (const tc of running) tc.stop();
  });
  return async (overrides = {}, options = {}) => {
    const tc = await startCoordinator(testConfig(overrides), options);
    running.push(tc);
    return tc;
  };
}

/** The server-side record of the call that checked in as `name`. */
export function callOf(tc: TestCoordinator, name: string): CallRecord | undefined {
  return tc.calls.find((c) => c.name === name);
}

/** A latch: `wait()` resolves once `open()` was called. */
export function latch(): { open: () => void; wait: () => Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, wait: () => opened };
}

/** Resolves once `condition()` holds, checking every few milliseconds (not a timing assertion). */
export async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

// ---- raw streams -------------------------------------------------------------------------------

const RawClient = makeGenericClientConstructor(
  {
    participate: {
      ...participateService.participate!,
      requestSerialize: (value: Uint8Array): Buffer =>
        Buffer.from(value.buffer, value.byteOffset, value.length),
      requestDeserialize: (value: Buffer): Uint8Array => value,
      responseSerialize: (value: Uint8Array): Buffer => Buffer.from(value),
      responseDeserialize: (value: Buffer): Uint8Array => value,
    },
  },
  'privagg.v1.SecureAggregation',
);

type RawCall = ClientDuplexStream<Uint8Array, Uint8Array>;

/** One Participate call that sends whatever bytes it is given and records what comes back. */
export class RawStream {
  readonly call: RawCall;
  /** The call's final status (OK included); never rejects. */
  readonly status: Promise<StatusObject>;
  readonly #client: InstanceType<typeof RawClient>;
  readonly #inbox: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(address: string, metadata: Record<string, string> = {}) {
    this.#client = new RawClient(address, credentials.createInsecure());
    const md = new Metadata();
    for (const [key, value] of Object.entries(metadata)) md.set(key, value);
    this.call = (this.#client as unknown as { participate(metadata: Metadata): RawCall }).participate(md);
    this.call.on('data', (bytes: Uint8Array) => {
      this.#inbox.push(bytes);
      this.#wake?.();
    });
    this.call.on('error', () => {
      // Reported through `status`.
    });
    this.status = new Promise<StatusObject>((resolve) => {
      this.call.on('status', (status: StatusObject) => {
        this.#ended = true;
        this.#wake?.();
        resolve(status);
        this.#client.close();
      });
    });
  }

  /** Writes one message, waiting for the transport to drain when it asks to. */
  async send(bytes: Uint8Array): Promise<void> {
    if (!this.call.write(bytes)) {
      await new Promise<void>((resolve) => {
        this.call.once('drain', resolve);
        void this.status.then(() => resolve());
      });
    }
  }

  /** Encodes and writes one frame. */
  sendFrame(frame: pb.ClientFrame): Promise<void> {
    return this.send(pb.ClientFrame.encode(frame).finish());
  }

  /** The next server frame (raw), or undefined once the call has ended. */
  async nextBytes(): Promise<Uint8Array | undefined> {
    while (this.#inbox.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    return this.#inbox.shift();
  }

  /** Half-closes the call (no more frames from this side). */
  end(): void {
    this.call.end();
  }

  /** Cancels the call, as a client that crashes or loses its connection. */
  cancel(): void {
    this.call.cancel();
  }
}

/** Encodes a frame. */
export function encode(frame: pb.ClientFrame): Uint8Array {
  return pb.ClientFrame.encode(frame).finish();
}

type FrameCase = NonNullable<pb.ClientFrame['frame']>;
/** The content type of each frame case. */
type FrameContent = { [K in FrameCase as K['$case']]: K['value'] };

/** The content of a frame of the given case; throws if the frame is of another case. */
export function content<C extends keyof FrameContent>(
  frame: pb.ClientFrame | undefined,
  kind: C,
): FrameContent[C] {
  const inner = frame?.frame;
  if (inner?.$case !== kind) throw new Error(`expected a ${kind} frame, got ${inner?.$case}`);
  return inner.value as FrameContent[C];
}

/** A frame of the given case with the given content. */
export function frameOf<C extends keyof FrameContent>(kind: C, value: FrameContent[C]): pb.ClientFrame {
  return { frame: { $case: kind, value } as FrameCase };
}

// ---- scripted participants ---------------------------------------------------------------------

/** The client messages of a round, plus the check-in. */
export type ClientStep = 'check-in' | ClientMessage['type'];

/** What a scripted participant knows when it is about to send a step's frames. */
export interface StepContext {
  readonly stream: RawStream;
  readonly step: ClientStep;
  /** Set from the round announcement on. */
  readonly id: ClientId | undefined;
  readonly params: RoundParams | undefined;
  /** The last server message handled (the one this step answers), if any. */
  readonly received: ServerMessage | undefined;
}

/**
 * Replaces the frames of one step: gets the honest frames and returns what to send instead (frames
 * or raw bytes). Returning `undefined` sends the honest frames.
 */
export type Tamper = (
  frames: pb.ClientFrame[],
  context: StepContext,
) => (pb.ClientFrame | Uint8Array)[] | undefined | Promise<(pb.ClientFrame | Uint8Array)[] | undefined>;

/** Options of a {@link ScriptedParticipant}. */
export interface ScriptOptions {
  readonly name: string;
  /** The client's input for the announced round. */
  readonly input: (params: RoundParams) => readonly Uint32Array[];
  /** Per-step frame replacement. */
  readonly tamper?: Partial<Record<ClientStep, Tamper>>;
  /** Awaited before each step's frames are sent. */
  readonly gate?: Partial<Record<ClientStep, () => Promise<void>>>;
  /** Masked-input chunk size in bytes (default 1 MiB). */
  readonly maxChunkBytes?: number;
  readonly metadata?: Record<string, string>;
  readonly seed?: number;
}

/** How a scripted participant's call ended. */
export interface ScriptResult {
  readonly status: StatusObject;
  /** Its id in the round, if it was announced one. */
  readonly id: ClientId | undefined;
  /** The core's final state ('done' when it played every stage). */
  readonly state: string | undefined;
  /** Steps whose frames were sent, in order. */
  readonly sent: ClientStep[];
  /** The Abort frames the coordinator sent it (at most one: it is the last frame). */
  readonly aborts: readonly WireAbort[];
}

/**
 * A participant that runs the real client core over a {@link RawStream}, so each stage's frames are
 * honest unless a {@link Tamper} replaces them.
 */
export class ScriptedParticipant {
  readonly stream: RawStream;
  readonly options: ScriptOptions;
  #core: SecAggClient | undefined;
  #received: ServerMessage | undefined;
  readonly #sent: ClientStep[] = [];
  readonly #aborts: WireAbort[] = [];
  /** Resolves when the round announcement arrives. */
  readonly announced: Promise<void>;
  #announce!: () => void;

  constructor(address: string, options: ScriptOptions) {
    this.options = options;
    this.stream = new RawStream(address, options.metadata);
    this.announced = new Promise((resolve) => {
      this.#announce = resolve;
    });
  }

  get id(): ClientId | undefined {
    return this.#core?.id;
  }

  /** Plays the round until the call ends. */
  async run(): Promise<ScriptResult> {
    await this.#step('check-in', [checkInToFrame(this.options.name)]);
    let refused = false;
    for (let bytes = await this.stream.nextBytes(); bytes; bytes = await this.stream.nextBytes()) {
      if (refused) continue; // Its abort was its last frame; drain until the call ends.
      try {
        await this.#onFrame(parseServerFrame(bytes, this.#core?.id));
      } catch (error) {
        if (!(error instanceof Refusal || error instanceof ProtocolViolation)) throw error;
        // As the SDK: tell the coordinator why, then send nothing more.
        refused = true;
        await this.stream.sendFrame(clientAbortToFrame(abortFromError(error)));
        this.stream.end();
      }
    }
    return {
      status: await this.stream.status,
      id: this.#core?.id,
      state: this.#core?.state,
      sent: this.#sent,
      aborts: this.#aborts,
    };
  }

  async #onFrame(frame: InboundServerFrame): Promise<void> {
    if (frame.type === 'round') {
      const params = roundParams(frame.parameters);
      this.#core = new SecAggClient({
        id: frame.clientId,
        params,
        input: this.options.input(params),
        rng: testRng(this.options.seed ?? frame.clientId),
      });
      this.#announce();
      await this.#send(this.#core.start());
      return;
    }
    if (frame.type === 'abort') {
      this.#aborts.push(frame);
      return;
    }
    this.#received = frame;
    const reply = this.#core!.handle(frame);
    if (reply) await this.#send(reply);
  }

  async #send(message: ClientMessage): Promise<void> {
    const core = this.#core!;
    const frames = [
      ...clientMessageToFrames(message, {
        self: core.id,
        vectors: core.params.vectors,
        maxChunkBytes: this.options.maxChunkBytes,
      }),
    ];
    await this.#step(message.type, frames);
  }

  async #step(step: ClientStep, honest: pb.ClientFrame[]): Promise<void> {
    await this.options.gate?.[step]?.();
    const context: StepContext = {
      stream: this.stream,
      step,
      id: this.#core?.id,
      params: this.#core?.params,
      received: this.#received,
    };
    const frames = (await this.options.tamper?.[step]?.(honest, context)) ?? honest;
    this.#sent.push(step);
    for (const frame of frames) await this.stream.send(frame instanceof Uint8Array ? frame : encode(frame));
  }
}

/** An honest SDK participant; settles when its call does. */
export async function sdkParticipant(
  address: string,
  name: string,
  input: (params: RoundParams) => readonly Uint32Array[],
  options: { maxChunkBytes?: number } = {},
): Promise<void> {
  const participant = new Participant({
    address,
    credentials: credentials.createInsecure(),
    name,
    rng: testRng(name.length * 977 + name.charCodeAt(name.length - 1)),
    maxChunkBytes: options.maxChunkBytes,
  });
  try {
    await participant.participate(({ params }) => input(params));
  } finally {
    participant.close();
  }
}

// ---- inputs and sums ---------------------------------------------------------------------------

/** Client `name`'s input for `spec`: deterministic words below 2^bits. */
export function inputFor(name: string, spec: VectorSpec): Uint32Array {
  let h = 2166136261;
  for (const ch of `${name}/${spec.name}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const out = new Uint32Array(spec.length);
  const mask = spec.bits === 32 ? 0xffff_ffff : 2 ** spec.bits - 1;
  let x = h || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & mask;
  }
  return out;
}

/** The inputs of client `name` for a round's vectors. */
export function inputsFor(name: string): (params: { vectors: readonly VectorSpec[] }) => Uint32Array[] {
  return (params) => params.vectors.map((spec) => inputFor(name, spec));
}

/** The plain sum mod 2^bits of the named clients' inputs, one per vector. */
export function plainSums(names: readonly string[], vectors: readonly VectorSpec[]): Uint32Array[] {
  return vectors.map((spec) => {
    const sum = new Uint32Array(spec.length);
    for (const name of names) {
      const x = inputFor(name, spec);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + x[i]!;
    }
    if (spec.bits < 32) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! & (2 ** spec.bits - 1);
    return sum;
  });
}

/** Name of a status code, for assertion messages. */
export function codeName(status: StatusObject): string {
  return Status[status.code] ?? String(status.code);
}

// ---- rounds ------------------------------------------------------------------------------------

/** What {@link playRound} reports. */
export interface PlayedRound {
  readonly outcome: RoundOutcome;
  /** Each scripted participant's result, by name. */
  readonly scripted: ReadonlyMap<string, ScriptResult>;
  /** Each honest SDK participant's settlement, by name. */
  readonly honest: ReadonlyMap<string, PromiseSettledResult<void>>;
}

/** Runs honest SDK participants and scripted ones against `tc` until its next round ends. */
export async function playRound(
  tc: TestCoordinator,
  honest: readonly string[],
  scripted: readonly ScriptedParticipant[],
  options: { round?: number; maxChunkBytes?: number } = {},
): Promise<PlayedRound> {
  // Settled aggregates are taken at once, so a participant that fails early is never an unhandled
  // rejection while the round is still running.
  const scriptedRuns = Promise.all(scripted.map((s) => s.run()));
  const honestRuns = Promise.allSettled(
    honest.map((name) =>
      sdkParticipant(tc.address, name, inputsFor(name), { maxChunkBytes: options.maxChunkBytes }),
    ),
  );
  const outcome = await tc.outcome(options.round ?? 0);
  const scriptedResults = await scriptedRuns;
  const honestResults = await honestRuns;
  return {
    outcome,
    scripted: new Map(scripted.map((s, i) => [s.options.name, scriptedResults[i]!])),
    honest: new Map(honest.map((name, i) => [name, honestResults[i]!])),
  };
}
