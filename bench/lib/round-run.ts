/**
 * One measured round of `npm run bench:round`: starts the server in a child process
 * (bench/lib/round-coordinator.ts), runs the n clients in this process over loopback gRPC, checks
 * the sum, and collects the server's and the clients' numbers.
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { credentials } from '@grpc/grpc-js';
import { Participant } from '../../src/client/sdk.ts';
import { parseRoster } from '../../src/identity/roster.ts';
import { packedLength } from '../../src/secagg/bitpack.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { defaultThreshold } from '../../src/secagg/params.ts';
import { systemRng } from '../../src/secagg/rng.ts';
import type { VectorSpec } from '../../src/secagg/types.ts';
import type { ServerDone, ServerJob, ServerReady } from './round-coordinator.ts';
import { plainParticipant } from './round-plain.ts';

/** The SDK's masked-input chunk size, used by both modes. */
export const CHUNK_BYTES = 1 << 20;

/** One cell of the table: n clients with d-element inputs of `inputBits` bits. */
export interface RoundSpec {
  readonly clients: number;
  readonly length: number;
  readonly inputBits: number;
  readonly maxConcurrentUploads: number;
  /** Serve the coordinator's metrics and dashboard on this loopback port (0: a free one). */
  readonly httpPort?: number;
}

/**
 * What a round runs: the plaintext baseline, or secure aggregation in a setting. The malicious
 * setting adds what it needs over the semi-honest one: every client's identity key and the roster
 * (generated here, before the clock starts), the cohort in the announcement, Ed25519 signatures on
 * the advertised keys and on the survivor list, and the consistency stage.
 */
export type RoundMode = 'plain' | 'secure' | 'malicious';

/** The measurements of one round. */
export interface RoundRun {
  readonly mode: RoundMode;
  readonly spec: RoundSpec;
  readonly vector: VectorSpec;
  readonly threshold: number;
  /** The server's announcement-to-result time. */
  readonly serverMs: number;
  readonly stageMs: Readonly<Partial<Record<Stage, number>>>;
  /** This process's view: from starting the clients to the last client done and the result in. */
  readonly wallMs: number;
  readonly serverCpuMs: number;
  /** CPU time of this process (all n clients) over the round. */
  readonly clientCpuMs: number;
  readonly serverPeakRssKiB: number;
  readonly serverIdleRssKiB: number;
  /** Serialized ClientFrame bytes per client: mean and max. */
  readonly bytesPerClient: { readonly mean: number; readonly max: number };
  readonly framesPerClient: number;
  /** A monitored coordinator: how many times /metrics and /state were fetched during the round. */
  readonly scrapes?: number;
}

/**
 * The ring width that holds the exact sum of n inputs of `inputBits` bits: inputBits + ⌈log2 n⌉.
 * Elements are summed modulo 2^bits, so a narrower ring would wrap.
 */
export function ringBits(inputBits: number, clients: number): number {
  return Math.min(32, inputBits + Math.ceil(Math.log2(clients)));
}

/** Client `index`'s input: deterministic xorshift words below 2^inputBits (test data). */
export function benchInput(index: number, length: number, inputBits: number): Uint32Array {
  const out = new Uint32Array(length);
  const mask = inputBits === 32 ? 0xffff_ffff : 2 ** inputBits - 1;
  let x = (Math.imul(index + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & mask;
  }
  return out;
}

/** The plain sum of every client's {@link benchInput}, mod 2^bits. */
export function expectedSum(spec: RoundSpec, bits: number): Uint32Array {
  const sum = new Uint32Array(spec.length);
  for (let c = 0; c < spec.clients; c++) {
    const x = benchInput(c, spec.length, spec.inputBits);
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + x[i]!;
  }
  if (bits < 32) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! & (2 ** bits - 1);
  return sum;
}

const clientName = (index: number, clients: number) =>
  `client-${String(index).padStart(String(clients).length, '0')}`;

/** The server's frame limit: the masked input in 64 KiB chunks plus slack, as the CLI's default. */
function maxFramesPerStage(vector: VectorSpec): number {
  return 16 + Math.ceil(packedLength(vector.length, vector.bits) / (64 << 10));
}

async function startServer(job: ServerJob): Promise<{ child: ChildProcess; ready: ServerReady }> {
  const child = fork(new URL('./round-coordinator.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.send(job);
  const [ready] = (await once(child, 'message')) as [ServerReady];
  return { child, ready };
}

/** Runs one round in `mode` and returns its measurements; throws if the sum is not exact. */
export async function runRound(mode: RoundMode, spec: RoundSpec, expected?: Uint32Array): Promise<RoundRun> {
  const bits = ringBits(spec.inputBits, spec.clients);
  const vector: VectorSpec = { name: 'model', length: spec.length, bits };
  const serverModel = mode === 'malicious' ? 'malicious' : 'semi-honest';
  const threshold = defaultThreshold(spec.clients, serverModel);
  // Enrolment happens before any round: keys and roster are made outside the measured time.
  const names = Array.from({ length: spec.clients }, (_, index) => clientName(index, spec.clients));
  const signers =
    mode === 'malicious'
      ? new Map(names.map((name) => [name, Ed25519Signer.generate(systemRng)]))
      : undefined;
  const roster =
    signers &&
    parseRoster(
      JSON.stringify(
        Object.fromEntries(
          [...signers].map(([name, s]) => [name, Buffer.from(s.publicKey).toString('base64')]),
        ),
      ),
      'bench roster',
    );
  const { child, ready } = await startServer({
    mode: mode === 'plain' ? 'plain' : 'secure',
    serverModel,
    ...(roster && { roster: [...roster.toMap()] }),
    clients: spec.clients,
    threshold,
    vectors: [vector],
    maxConcurrentUploads: spec.maxConcurrentUploads,
    maxFramesPerStage: maxFramesPerStage(vector),
    // As the CLI: 2 MiB, or more for a cohort whose share messages need it.
    maxReceiveMessageBytes: Math.max(2 << 20, spec.clients * 128 + (64 << 10)),
    ...(spec.httpPort !== undefined && { httpPort: spec.httpPort }),
  });
  const done = new Promise<ServerDone>((resolve, reject) => {
    child.on('message', (m: ServerDone) => {
      if (m.type === 'done') resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`the ${mode} server exited with code ${code}`)));
  });
  const address = `127.0.0.1:${ready.port}`;
  const input = (index: number) => () => [benchInput(index, spec.length, spec.inputBits)];

  // A monitored coordinator is scraped as in production: /metrics by a Prometheus and /state by an
  // open dashboard, each once a second, so that what serving them costs is in its CPU time.
  const scraper = ready.httpPort === undefined ? undefined : scrapeEverySecond(ready.httpPort);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const clients = Array.from({ length: spec.clients }, async (_, index) => {
    const name = clientName(index, spec.clients);
    if (mode === 'plain') {
      return plainParticipant(address, credentials.createInsecure(), name, input(index), CHUNK_BYTES);
    }
    const participant = new Participant({
      address,
      credentials: credentials.createInsecure(),
      name,
      maxChunkBytes: CHUNK_BYTES,
      ...(signers && roster && { identity: { signer: signers.get(name)!, roster } }),
    });
    try {
      await participant.participate(input(index));
    } finally {
      participant.close();
    }
  });
  const [result] = await Promise.all([done, Promise.all(clients)]);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const scrapes = await scraper?.stop();
  const exited = once(child, 'exit');
  child.send('exit');
  await exited;

  if (result.status !== 'ok') throw new Error(`the ${mode} round aborted: ${result.reason}`);
  const sum = result.sums[0]!;
  const want = expected ?? expectedSum(spec, bits);
  if (!Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).equals(Buffer.from(want.buffer))) {
    throw new Error(`the ${mode} round's sum is wrong (n=${spec.clients}, d=${spec.length})`);
  }
  const bytes = result.calls.map((c) => c.bytes);
  return {
    mode,
    spec,
    vector,
    threshold,
    serverMs: result.totalMs,
    stageMs: result.stageMs,
    wallMs,
    serverCpuMs: result.cpuMs,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    serverPeakRssKiB: result.peakRssKiB,
    serverIdleRssKiB: ready.idleRssKiB,
    bytesPerClient: { mean: bytes.reduce((a, b) => a + b, 0) / bytes.length, max: Math.max(...bytes) },
    framesPerClient: result.calls.reduce((a, c) => a + c.frames, 0) / result.calls.length,
    ...(scrapes !== undefined && { scrapes }),
  };
}

/** Fetches /metrics and /state every second until stopped; resolves to the number of scrapes. */
function scrapeEverySecond(port: number): { stop(): Promise<number> } {
  let scrapes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const scrape = async () => {
    for (const path of ['/metrics', '/state']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
      await response.arrayBuffer();
    }
    scrapes++;
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(scrape);
  }, 1000);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return scrapes;
    },
  };
}
