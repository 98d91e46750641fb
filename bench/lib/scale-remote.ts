/**
 * The parent's side of `scale-server.ts`: a {@link SimServer} whose coordinator runs in a child
 * process. Each call is one IPC message and one reply (request ids match them up); the child's
 * measurements are fetched at the end with {@link RemoteServer.stats}.
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { RoundParamsInput } from '../../src/secagg/params.ts';
import type { SimEvent, SimReply, SimServer } from '../../src/sim/large.ts';
import type { FromScaleServer, ScaleServerStats, ToScaleServer } from './scale-server.ts';

const CHILD = new URL('./scale-server.ts', import.meta.url);

/** A coordinator in a child process. */
export interface RemoteServer extends SimServer {
  /** The child's measurements; then it exits. */
  stats(): Promise<ScaleServerStats>;
  /** Ends the child (idempotent). */
  close(): void;
}

type Pending = { resolve: (value: FromScaleServer) => void; reject: (error: Error) => void };

/**
 * Starts a coordinator for `params` in a child process.
 * @param params - the round (the child validates it with `roundParams`)
 * @param workers - unmask worker threads in the child
 * @param unchecked - see `scale-server.ts` (Flower's parameters only)
 */
export async function remoteServer(
  params: RoundParamsInput,
  workers: number,
  unchecked?: { threshold: number; degree: number; minSurvivors: number },
): Promise<RemoteServer> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: [
      '--import',
      'tsx',
      '--max-old-space-size=4096',
      // For profiling the coordinator: SCALE_CPU_PROF=DIR writes a .cpuprofile of its process there.
      ...(process.env['SCALE_CPU_PROF']
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env['SCALE_CPU_PROF']}`]
        : []),
    ],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, Pending>();
  let next = 1;
  let exited: Error | undefined;
  child.on('message', (message: FromScaleServer) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    waiter?.resolve(message);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`the coordinator process exited (${signal ?? code})`);
    for (const waiter of pending.values()) waiter.reject(exited);
    pending.clear();
  });

  type Request = ToScaleServer extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;
  const call = (message: Request): Promise<FromScaleServer> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ ...message, id } as ToScaleServer);
    });
  const reply = async (message: Request): Promise<SimReply> => {
    const answer = await call(message);
    if ('error' in answer) throw new Error(`coordinator process: ${answer.error}`);
    if (!('reply' in answer)) throw new Error(`unexpected answer to '${message.op}'`);
    return answer.reply;
  };

  const init = await call({ op: 'init', params, workers, ...(unchecked && { unchecked }) });
  if ('error' in init) throw new Error(`coordinator process: ${init.error}`);
  return {
    start: () => reply({ op: 'start' }),
    exchange: (events: readonly SimEvent[]) => reply({ op: 'exchange', events }),
    closeStage: () => reply({ op: 'close-stage' }),
    stats: async () => {
      const answer = await call({ op: 'stats' });
      if ('error' in answer) throw new Error(`coordinator process: ${answer.error}`);
      if (!('stats' in answer)) throw new Error("unexpected answer to 'stats'");
      child.disconnect();
      return answer.stats;
    },
    close: () => {
      // Disconnecting lets the child exit on its own (and write a profile); kill it if it lingers.
      if (child.connected) child.disconnect();
      if (child.exitCode === null) setTimeout(() => child.exitCode === null && child.kill(), 10_000).unref();
    },
  };
}
