/**
 * Child process of `npm run bench:round`: runs one round's server, secure (the real
 * {@link Coordinator}) or plaintext ({@link PlainAggregator}), on its own, so that its peak RSS
 * (VmHWM) and CPU time are the server's alone, not the clients'. Protocol over the IPC channel:
 * the parent sends a {@link ServerJob}; the child answers {@link ServerReady} once listening, then
 * {@link ServerDone} when the round has ended, and exits on the parent's next message (sent once
 * every client has finished, so no call is cut short).
 * @module
 */
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { ServerFrame } from '../../src/gen/privagg/v1/secagg.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import type { ServerModel, VectorSpec } from '../../src/secagg/types.ts';
import { Coordinator, type CoordinatorConfig } from '../../src/server/coordinator.ts';
import { Monitor } from '../../src/server/monitor.ts';
import { participateService } from '../../src/wire/service.ts';
import { PlainAggregator } from './round-plain.ts';

/** What the parent asks for. */
export interface ServerJob {
  readonly mode: 'secure' | 'plain';
  readonly clients: number;
  readonly threshold: number;
  readonly vectors: readonly VectorSpec[];
  readonly maxConcurrentUploads: number;
  readonly maxFramesPerStage: number;
  readonly maxReceiveMessageBytes: number;
  /** Secure mode: serve metrics and the dashboard (server/monitor.ts) on this loopback port. */
  readonly httpPort?: number;
  /** Secure mode: the setting (default semi-honest). */
  readonly serverModel?: ServerModel;
  /** Secure mode, malicious setting: the roster, name → identity public key. */
  readonly roster?: readonly (readonly [string, Uint8Array])[];
}

/** Sent once the server listens. */
export interface ServerReady {
  readonly type: 'ready';
  readonly port: number;
  /** VmRSS after start-up, before any client connects, in KiB. */
  readonly idleRssKiB: number;
  /** With `httpPort`: the port metrics and the dashboard are served on. */
  readonly httpPort?: number;
}

/** Sent when the round has ended. */
export interface ServerDone {
  readonly type: 'done';
  readonly status: 'ok' | 'aborted';
  readonly reason?: string;
  /** Announcement to result, as the server measured it. */
  readonly totalMs: number;
  readonly stageMs: Readonly<Partial<Record<Stage, number>>>;
  readonly sums: readonly Uint32Array[];
  /** Per Participate call: the bytes of every ClientFrame received (serialized), and their count. */
  readonly calls: readonly { readonly bytes: number; readonly frames: number }[];
  /** VmHWM: the process's peak resident set, in KiB. */
  readonly peakRssKiB: number;
  /** CPU time of this process from listening to the result (user + system), ms. */
  readonly cpuMs: number;
}

/** Reads one `Vm*:` line of /proc/self/status, in KiB (0 where /proc is not available). */
export function procStatusKiB(field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

async function serve(job: ServerJob): Promise<void> {
  const calls: { bytes: number; frames: number }[] = [];
  let handler: (call: ServerDuplexStream<Uint8Array, ServerFrame>) => void;
  let outcome: Promise<Omit<ServerDone, 'type' | 'calls' | 'peakRssKiB' | 'cpuMs'>>;
  let monitor: Monitor | undefined;
  let httpPort: number | undefined;
  if (job.mode === 'secure' && job.httpPort !== undefined) {
    monitor = new Monitor();
    httpPort = await monitor.listen('127.0.0.1', job.httpPort);
  }
  if (job.mode === 'secure') {
    const config: CoordinatorConfig = {
      cohortSize: job.clients,
      minClients: job.clients,
      threshold: job.threshold,
      serverModel: job.serverModel ?? 'semi-honest',
      ...(job.roster && { identities: new Map(job.roster) }),
      maxCorruptClients: 0,
      vectors: job.vectors,
      rounds: 1,
      checkInMs: 600_000,
      timeouts: {
        advertise: 600_000,
        share: 600_000,
        masked: 600_000,
        consistency: 600_000,
        unmask: 600_000,
      },
      maxConcurrentUploads: job.maxConcurrentUploads,
      maxFramesPerStage: job.maxFramesPerStage,
    };
    const coordinator = new Coordinator(config, {
      logger: pino({ level: 'silent' }),
      authenticate: () => ({ ok: true, name: undefined }),
      ...(monitor && { observer: monitor.observer }),
    });
    monitor?.attach(coordinator);
    handler = coordinator.handleParticipate;
    void coordinator.run();
    outcome = (async () => {
      for await (const o of coordinator.outcomes()) {
        return {
          status: o.status,
          reason: o.reason,
          totalMs: o.timing.totalMs,
          stageMs: o.timing.stageMs,
          sums: o.sums,
        };
      }
      throw new Error('the coordinator ended without a round');
    })();
  } else {
    const params = roundParams({
      round: 1,
      serverModel: 'semi-honest',
      threshold: job.threshold,
      maxCorruptClients: 0,
      clients: Array.from({ length: job.clients }, (_, i) => i + 1),
      vectors: job.vectors,
    });
    const plain = new PlainAggregator(params, job.maxConcurrentUploads);
    handler = plain.handleParticipate;
    outcome = plain.result.then((r) => ({
      status: 'ok' as const,
      totalMs: r.totalMs,
      stageMs: {},
      sums: r.sums,
    }));
  }

  const server = new Server({ 'grpc.max_receive_message_length': job.maxReceiveMessageBytes });
  server.addService(participateService, {
    participate: (call: ServerDuplexStream<Uint8Array, ServerFrame>) => {
      // Count what the client sent: each message is one serialized ClientFrame.
      const record = { bytes: 0, frames: 0 };
      calls.push(record);
      call.on('data', (bytes: Uint8Array) => {
        record.bytes += bytes.length;
        record.frames++;
      });
      handler(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const cpu0 = process.cpuUsage();
  process.send!({
    type: 'ready',
    port,
    idleRssKiB: procStatusKiB('VmRSS'),
    ...(httpPort !== undefined && { httpPort }),
  } satisfies ServerReady);
  const result = await outcome;
  const cpu = process.cpuUsage(cpu0);
  if (httpPort !== undefined) {
    // Outside the measured CPU time: check the metrics really were on and counted the round.
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    if (!text.includes('privagg_rounds_total{status="ok"} 1'))
      throw new Error('the metrics missed the round');
  }
  const done: ServerDone = {
    type: 'done',
    ...result,
    calls,
    peakRssKiB: procStatusKiB('VmHWM'),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  // Stay up until the parent says every client has its final status, then go.
  process.once('message', () => {
    server.forceShutdown();
    void monitor?.close();
    process.exit(0);
  });
  process.send!(done);
}

process.once('message', (job: ServerJob) => {
  serve(job).catch((error) => {
    console.error(error);
    process.exit(1);
  });
});
