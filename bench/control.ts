/**
 * `npm run bench:control`: rounds driven through the control API (`privagg serve --control`, a
 * ControlClient starting each round when the previous outcome has arrived) against the same rounds
 * from `privagg serve` flags, in the same run, with the same participants and inputs.
 *
 * Both runs: n SDK participants in client-host processes (bench/lib/load-host.ts, one TCP connection
 * each), whose input in round r is `loadInput(index, r, d)`; R rounds of one d-word 32-bit vector
 * named `sum` on the complete graph. What is compared:
 * - the result: every round's JSON line (`--out`, the same writer in both modes) must be identical —
 *   same survivors, same sum — and equal to the plain sum of the inputs;
 * - the round period: (time the R-th outcome arrived − time the first did) / (R − 1), as the
 *   benchmark process sees them (the flags run's stdout line, the control run's outcome stream). With
 *   flags the coordinator starts the next round as soon as one ends; with control it starts when the
 *   operator's StartRound comes, one round trip after the outcome: that, and streaming the outcome,
 *   is the overhead measured.
 * Modes alternate, `--reps` times each; the medians are reported.
 *
 * Options: `--n 10`, `--d 100000`, `--rounds 8`, `--reps 3`.
 * @module
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { ControlClient } from '../src/client/control.ts';
import type { HostClient, HostJob, HostReport } from './lib/load-host.ts';
import { loadSum } from './lib/load-inputs.ts';
import { loadLine, machineLine } from './lib/machine.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    d: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '8' },
    reps: { type: 'string', default: '3' },
  },
});

function positive(name: string): number {
  const value = Number(values[name as keyof typeof values]);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer`);
  return value;
}

const n = positive('n');
const d = positive('d');
const rounds = positive('rounds');
const reps = positive('reps');
if (rounds < 2) throw new RangeError('--rounds must be at least 2 (the period is measured between outcomes)');

const TOKEN = 'bench-operator-token-0123456789';
const STAGE_TIMEOUT_MS = 120_000;

/** A `privagg serve` process, its address and the arrival times of its stdout lines. */
interface ServeProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly lineTimes: { line: string; at: number }[];
  readonly exited: Promise<unknown>;
}

async function startServe(args: readonly string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['bin/privagg.js', 'serve', ...args, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lineTimes: { line: string; at: number }[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = once(child, 'exit');
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lineTimes.push({ line, at: performance.now() });
      const match = /^listening on (.+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)));
  });
  return { child, address, lineTimes, exited };
}

/** Client hosts running n participants round after round until told to stop. */
function startHosts(address: string): { stop: () => Promise<void> } {
  const clients: HostClient[] = Array.from({ length: n }, (_, index) => ({
    name: `c${String(index).padStart(4, '0')}`,
    index,
    failAt: {},
  }));
  const groups = [clients.filter((_, i) => i % 2 === 0), clients.filter((_, i) => i % 2 === 1)].filter(
    (g) => g.length > 0,
  );
  const hosts = groups.map((group) => {
    const host = fork(join(import.meta.dirname, 'lib', 'load-host.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    host.send({ type: 'job', address, dim: d, clients: group, keepaliveMs: 30_000 } satisfies HostJob);
    return host;
  });
  const reports = hosts.map(
    (host) =>
      new Promise<void>((resolve) => {
        host.on('message', (m: HostReport | { type: 'started' }) => {
          if (m.type === 'report') resolve();
        });
        host.on('exit', () => resolve());
      }),
  );
  return {
    stop: async () => {
      for (const host of hosts) host.send({ type: 'stop' });
      await Promise.all(reports);
    },
  };
}

interface Run {
  readonly periodMs: number;
  readonly lines: readonly string[];
}

function period(times: readonly number[]): number {
  return (times[times.length - 1]! - times[0]!) / (times.length - 1);
}

async function runFlags(dir: string): Promise<Run> {
  const out = join(dir, 'flags.jsonl');
  const serve = await startServe([
    ...['--port', '0', '--clients', String(n), '--dim', String(d), '--rounds', String(rounds)],
    ...['--out', out, '--check-in-window-ms', '600000', '--stage-timeout-ms', String(STAGE_TIMEOUT_MS)],
  ]);
  const hosts = startHosts(serve.address);
  await serve.exited;
  await hosts.stop();
  const times = serve.lineTimes.filter((l) => /^round \d+: /.test(l.line)).map((l) => l.at);
  if (times.length !== rounds) throw new Error(`the flags run ended after ${times.length} rounds`);
  return { periodMs: period(times), lines: readFileSync(out, 'utf8').trim().split('\n') };
}

async function runControl(dir: string): Promise<Run> {
  const out = join(dir, 'control.jsonl');
  const tokenFile = join(dir, 'operator.token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const serve = await startServe([
    '--control',
    '--port',
    '0',
    '--control-token-file',
    tokenFile,
    '--out',
    out,
  ]);
  const hosts = startHosts(serve.address);
  const control = new ControlClient({
    address: serve.address,
    credentials: credentials.createInsecure(),
    token: TOKEN,
  });
  const times: number[] = [];
  try {
    await control.define({
      name: 'bench',
      vectors: [{ name: 'sum', length: d, bits: 32 }],
      cohort: { clients: n, minClients: 0, checkInWindowMs: 600_000 },
      stageTimeoutMs: STAGE_TIMEOUT_MS,
    });
    const events = control.watch('bench')[Symbol.asyncIterator]();
    for (let round = 1; round <= rounds; round++) {
      await control.startRound('bench');
      const next = await events.next();
      if (next.done || next.value.kind !== 'outcome') throw new Error(`no outcome for round ${round}`);
      times.push(performance.now());
    }
    await control.stop('bench');
  } finally {
    control.close();
    serve.child.kill('SIGTERM');
    await serve.exited;
    await hosts.stop();
  }
  return { periodMs: period(times), lines: readFileSync(out, 'utf8').trim().split('\n') };
}

/** Checks a run's lines against the inputs: every round ok, every client in, the exact sum. */
function checkExact(lines: readonly string[], mode: string): void {
  const everyone = Array.from({ length: n }, (_, i) => i);
  lines.forEach((text, i) => {
    const line = JSON.parse(text) as { round: number; status: string; survivors: string[]; sum?: number[] };
    const expected = Array.from(loadSum(everyone, i + 1, d));
    const same =
      line.round === i + 1 &&
      line.status === 'ok' &&
      line.survivors.length === n &&
      line.sum?.length === d &&
      line.sum.every((v, j) => v === expected[j]);
    if (!same) throw new Error(`${mode}: round ${i + 1} is not the exact sum of the inputs`);
  });
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  console.log(`bench:control — n=${n} clients, d=${d}, ${rounds} rounds per run, ${reps} runs per mode`);
  console.log(`machine: ${machineLine()}; load ${loadLine()}`);
  const flagPeriods: number[] = [];
  const controlPeriods: number[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    const dir = mkdtempSync(join(tmpdir(), 'privagg-bench-control-'));
    try {
      const flags = await runFlags(dir);
      const control = await runControl(dir);
      checkExact(flags.lines, 'flags');
      checkExact(control.lines, 'control');
      // The same writer in both modes: the same inputs must give byte-identical lines.
      if (flags.lines.join('\n') !== control.lines.join('\n')) {
        throw new Error('the control run published other results than the flags run');
      }
      flagPeriods.push(flags.periodMs);
      controlPeriods.push(control.periodMs);
      console.log(
        `run ${rep}: round period ${flags.periodMs.toFixed(1)} ms with flags, ` +
          `${control.periodMs.toFixed(1)} ms with control; ${rounds} rounds each, identical exact sums`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const a = median(flagPeriods);
  const b = median(controlPeriods);
  console.log(
    `median round period: flags ${a.toFixed(1)} ms, control ${b.toFixed(1)} ms; ` +
      `control ÷ flags = ${(b / a).toFixed(3)}; overhead ${(b - a).toFixed(1)} ms per round`,
  );
}

await main();
