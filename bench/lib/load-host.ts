/**
 * A client host of `npm run bench:load`: a child process that runs many real SDK participants
 * ({@link Participant}), each with its own gRPC channel and TCP connection, against a `privagg serve`
 * in another process. Every participant takes part in round after round until the parent says stop;
 * a participant planned to fail in a round vanishes (cancels its call, as a device going offline
 * would) on entering the planned stage, and checks in again for the next round.
 *
 * IPC: the parent sends one {@link HostJob}; the host answers {@link HostStarted} once every
 * participant has checked in for its first round, and {@link HostReport} after the parent's
 * `{ type: 'stop' }`, then exits.
 * @module
 */
import { credentials } from '@grpc/grpc-js';
import { CoordinatorAbortError, Participant } from '../../src/client/sdk.ts';
import { parseRoster } from '../../src/identity/roster.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { loadInput } from './load-inputs.ts';

/** One participant of a host. */
export interface HostClient {
  readonly name: string;
  /** Seeds the participant's inputs (see {@link loadInput}). */
  readonly index: number;
  /** Round number → the stage at which this participant vanishes in that round. */
  readonly failAt: Readonly<Record<number, Stage>>;
  /** The malicious setting: the 32-byte seed of its identity key, hex (benchmark data, not a secret). */
  readonly identitySeed?: string;
}

/** What the parent asks a host to run. */
export interface HostJob {
  readonly type: 'job';
  readonly address: string;
  readonly dim: number;
  readonly clients: readonly HostClient[];
  /** Client-side keepalive (ms; 0: none). */
  readonly keepaliveMs: number;
  /** The malicious setting: the roster's JSON text (every client holds it). */
  readonly roster?: string;
}

export interface HostStarted {
  readonly type: 'started';
}

/** One participation as the client saw it. */
export interface ClientRound {
  readonly name: string;
  readonly round: number;
  /** done: its part is over; vanished: failed on purpose; other: aborted, refused or failed. */
  readonly result: 'done' | 'vanished' | 'aborted' | 'error';
  readonly detail?: string;
  /** Milliseconds spent in each stage the client entered, from entering it to entering the next. */
  readonly stageMs: Readonly<Partial<Record<Stage, number>>>;
}

export interface HostReport {
  readonly type: 'report';
  readonly rounds: readonly ClientRound[];
  /** Per participant: gRPC message bytes sent and received over the whole run. */
  readonly traffic: readonly { readonly name: string; readonly sent: number; readonly received: number }[];
}

/** Thrown from `onStage` to make the SDK cancel the call, as a device going offline would. */
class Vanish extends Error {}

async function runClient(
  job: HostJob,
  client: HostClient,
  participant: Participant,
  hooks: {
    readonly stopped: () => boolean;
    readonly record: (r: ClientRound) => void;
    readonly checkedIn: () => void;
  },
  stageHook: { onStage?: (stage: Stage) => void },
): Promise<void> {
  let round = 0;
  let entered: { stage: Stage; at: number } | undefined;
  let stageMs: Partial<Record<Stage, number>> = {};
  const closeStage = (now: number) => {
    if (entered) stageMs[entered.stage] = now - entered.at;
    entered = undefined;
  };
  stageHook.onStage = (stage) => {
    const now = performance.now();
    closeStage(now);
    entered = { stage, at: now };
    if (client.failAt[round] === stage) throw new Vanish(stage);
  };
  let first = true;
  while (!hooks.stopped()) {
    round = 0;
    stageMs = {};
    entered = undefined;
    let result: ClientRound['result'] = 'done';
    let detail: string | undefined;
    const participation = participant.participate(({ params }) => {
      round = params.round;
      return [loadInput(client.index, round, job.dim)];
    });
    if (first) {
      first = false;
      hooks.checkedIn();
    }
    try {
      await participation;
    } catch (error) {
      if (error instanceof Vanish) result = 'vanished';
      else if (error instanceof CoordinatorAbortError) {
        result = 'aborted';
        detail = error.message;
      } else {
        result = 'error';
        detail = (error as Error).message;
        if (round === 0) {
          // Not selected: the coordinator has finished its rounds (or is not up yet). Try again
          // until the parent says stop.
          await new Promise((resolve) => setTimeout(resolve, 200));
          continue;
        }
      }
    }
    closeStage(performance.now());
    if (round > 0) hooks.record({ name: client.name, round, result, ...(detail && { detail }), stageMs });
  }
}

function main(): void {
  let stopping = false;
  const rounds: ClientRound[] = [];
  const participants: { name: string; participant: Participant }[] = [];
  let running: Promise<unknown> | undefined;
  process.on('message', async (message: HostJob | { type: 'stop' }) => {
    if (message.type === 'job') {
      let pending = message.clients.length;
      const checkedIn = () => {
        if (--pending === 0) process.send!({ type: 'started' } satisfies HostStarted);
      };
      const roster = message.roster === undefined ? undefined : parseRoster(message.roster, 'the roster');
      running = Promise.all(
        message.clients.map((client) => {
          const stageHook: { onStage?: (stage: Stage) => void } = {};
          const participant = new Participant({
            address: message.address,
            credentials: credentials.createInsecure(),
            name: client.name,
            keepaliveMs: message.keepaliveMs,
            // One TCP connection per participant, as separate devices would have (grpc-js otherwise
            // shares one connection among the channels to an address in a process).
            channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
            onStage: (stage) => stageHook.onStage?.(stage),
            ...(roster &&
              client.identitySeed && {
                identity: {
                  signer: Ed25519Signer.fromSeed(Buffer.from(client.identitySeed, 'hex')),
                  roster,
                },
              }),
          });
          participants.push({ name: client.name, participant });
          const hooks = { stopped: () => stopping, record: (r: ClientRound) => rounds.push(r), checkedIn };
          return runClient(message, client, participant, hooks, stageHook);
        }),
      );
      return;
    }
    stopping = true;
    // The coordinator has exited: every loop ends within one retry delay.
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5000))]);
    for (const { participant } of participants) participant.close();
    process.send!(
      {
        type: 'report',
        rounds,
        traffic: participants.map(({ name, participant }) => ({
          name,
          sent: participant.traffic.sentBytes,
          received: participant.traffic.receivedBytes,
        })),
      } satisfies HostReport,
      undefined,
      {},
      () => process.exit(0),
    );
  });
}

main();
