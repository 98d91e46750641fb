/**
 * `npm run bench:load`: the service as users deploy it, under load. For each cell it starts
 * `privagg serve` (the compiled build in dist/, which the npm script rebuilds first) in its own process and n real SDK participants spread over several client-host
 * processes (bench/lib/load-host.ts), each participant with its own TCP connection, runs R rounds,
 * and reads what happened from the coordinator's JSON lines and logs and from the clients.
 *
 * Per cell it prints: rounds completed; spurious drops (clients the coordinator dropped that had not
 * failed on purpose); whether every round had exactly the expected survivors and an exact sum;
 * per-stage p50/p99 as the clients saw them; the coordinator's event-loop delay (p99 and max over the
 * rounds), CPU time and peak RSS; and gRPC bytes per client per round.
 *
 * Options: `--n 100,300,1000`, `--d 1000,100000`, `--graph auto,complete` (auto is
 * `--graph auto --expected-dropout 0.1`), `--complete-n 100,300` (complete-graph cells only up to
 * these n; `--complete-n 100,300,1000` adds n = 1,000), `--rounds 5`, `--fail 0` (fraction of the
 * participants that vanish on purpose, each round, at a random stage), `--hosts H` (client processes;
 * default one per 125 participants, at least 2), `--stage-timeout-ms MS`, `--keepalive-ms MS`
 * (passed to serve and to the SDK), `--seed S`, `--json FILE`, `--cpu-prof-dir DIR` (profile the
 * coordinator with `node --cpu-prof`), `--serve-node-flags='...'` (Node flags for the coordinator alone,
 * e.g. `--trace-gc`; its stdout is echoed), `--client-nice 10` (the client processes' nice value: they
 * stand for devices elsewhere and yield the two cores to the coordinator; 0 to compete equally),
 * `--setting malicious` (every participant gets an identity key and the coordinator and participants
 * one roster: the malicious setting, whose `auto` plans the complete graph; default semi-honest).
 * @module
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { encodeIdentityKey } from '../src/identity/roster.ts';
import { Ed25519Signer } from '../src/secagg/crypto/ed25519.ts';
import type { Stage } from '../src/secagg/messages.ts';
import type { ClientRound, HostClient, HostJob, HostReport } from './lib/load-host.ts';
import { loadSum } from './lib/load-inputs.ts';
import { loadLine, machineLine } from './lib/machine.ts';
import { table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100,300,1000' },
    d: { type: 'string', default: '1000,100000' },
    graph: { type: 'string', default: 'auto,complete' },
    'complete-n': { type: 'string', default: '100,300' },
    rounds: { type: 'string', default: '5' },
    fail: { type: 'string', default: '0' },
    hosts: { type: 'string' },
    'stage-timeout-ms': { type: 'string' },
    'keepalive-ms': { type: 'string' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    'cpu-prof-dir': { type: 'string' },
    'client-nice': { type: 'string', default: '10' },
    'serve-node-flags': { type: 'string' },
    setting: { type: 'string', default: 'semi-honest' },
  },
});

function list(text: string, flag: string): number[] {
  const items = text.split(',').map(Number);
  if (items.some((x) => !Number.isSafeInteger(x) || x < 1)) {
    throw new RangeError(`--${flag} must be a comma-separated list of positive integers, got '${text}'`);
  }
  return items;
}

const ns = list(values.n, 'n');
const ds = list(values.d, 'd');
const completeNs = new Set(list(values['complete-n'], 'complete-n'));
const graphs = values.graph.split(',') as ('auto' | 'complete')[];
if (graphs.some((g) => g !== 'auto' && g !== 'complete'))
  throw new RangeError('--graph must list auto, complete');
const [rounds] = list(values.rounds, 'rounds');
const failFraction = Number(values.fail);
if (!(failFraction >= 0 && failFraction < 0.5)) throw new RangeError('--fail must be in [0, 0.5)');
const [seed] = list(values.seed, 'seed');
const clientNice = Number(values['client-nice']);
if (!Number.isInteger(clientNice) || clientNice < 0 || clientNice > 19) {
  throw new RangeError('--client-nice must be an integer in [0, 19]');
}

const setting = values.setting;
if (setting !== 'semi-honest' && setting !== 'malicious') {
  throw new RangeError(`--setting must be semi-honest or malicious, got '${setting}'`);
}
const malicious = setting === 'malicious';

/** The stages a participant may vanish at (every setting has them). */
const STAGES: readonly Stage[] = ['advertise', 'share', 'masked', 'unmask'];
/** The stages timed per client: the malicious setting adds the consistency stage. */
const TIMED_STAGES: readonly Stage[] = malicious
  ? ['advertise', 'share', 'masked', 'consistency', 'unmask']
  : STAGES;
const EXPECTED_DROPOUT = 0.1;
const ADVERSARIAL_FRACTION = 0.05;
/** Participants per client-host process by default. */
const CLIENTS_PER_HOST = 125;

interface Cell {
  readonly n: number;
  readonly d: number;
  readonly graph: 'auto' | 'complete';
}

interface CellResult {
  readonly cell: Cell;
  readonly hosts: number;
  readonly roundsOk: number;
  readonly roundsRun: number;
  readonly spuriousDrops: number;
  readonly plannedFailures: number;
  /** Every round ok, with exactly the expected survivors and an exact sum. */
  readonly exact: boolean;
  readonly problems: readonly string[];
  readonly stageMs: Readonly<Record<string, { readonly p50: number; readonly p99: number }>>;
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly coordinatorCpuS: number;
  readonly coordinatorPeakRssMiB: number;
  readonly bytesPerClientRound: { readonly sent: number; readonly received: number };
  readonly wallS: number;
  readonly graphChosen: string;
}

/** A deterministic xorshift stream for the failure plan. */
function planRng(s: number): () => number {
  let x = s | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Which participant vanishes at which stage in which round. */
function failurePlan(n: number, roundCount: number): Map<number, Map<number, Stage>> {
  const random = planRng(seed! * 7919 + n);
  const plan = new Map<number, Map<number, Stage>>();
  const perRound = Math.floor(failFraction * n);
  for (let round = 1; round <= roundCount; round++) {
    const chosen = new Map<number, Stage>();
    while (chosen.size < perRound) {
      chosen.set(Math.floor(random() * n), STAGES[Math.floor(random() * STAGES.length)]!);
    }
    plan.set(round, chosen);
  }
  return plan;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function stageTimeoutFor(cell: Cell): number {
  if (values['stage-timeout-ms'] !== undefined)
    return list(values['stage-timeout-ms'], 'stage-timeout-ms')[0]!;
  // The share stage of a complete graph costs every client O(n) key agreements and an O(n·t) Shamir
  // split, n clients on the same 2 cores: O(n³) in all, ~10 s at n = 300 and ~130 s at n = 1,000.
  // Give the clients (not the coordinator) the time they need: 120 s, growing with n² from n = 300.
  if (cell.graph !== 'complete') return 120_000;
  return Math.min(600_000, Math.max(120_000, Math.round(120_000 * (cell.n / 300) ** 2)));
}

async function runCell(cell: Cell): Promise<CellResult> {
  const dir = mkdtempSync(join(tmpdir(), 'privagg-load-'));
  const out = join(dir, 'rounds.jsonl');
  const keepaliveMs = values['keepalive-ms'];
  const serveArgs = [
    'bin/privagg.js',
    'serve',
    '--port',
    '0',
    '--clients',
    String(cell.n),
    '--dim',
    String(cell.d),
    '--rounds',
    String(rounds),
    '--out',
    out,
    '--check-in-window-ms',
    '600000',
    '--stage-timeout-ms',
    String(stageTimeoutFor(cell)),
    ...(cell.graph === 'auto'
      ? [
          '--graph',
          'auto',
          '--expected-dropout',
          String(EXPECTED_DROPOUT),
          '--adversarial-fraction',
          String(ADVERSARIAL_FRACTION),
        ]
      : []),
    ...(keepaliveMs !== undefined ? ['--keepalive-ms', keepaliveMs] : []),
  ];
  const names = Array.from({ length: cell.n }, (_, i) => `c${String(i).padStart(5, '0')}`);
  // The malicious setting: identity keys from fixed seeds (test data) and the roster of their public
  // keys, made before the coordinator starts (enrolment is not part of a round).
  const seeds = malicious
    ? names.map((name) => createHash('sha256').update(`bench:load identity ${seed} ${name}`).digest())
    : undefined;
  if (seeds) {
    const roster = Object.fromEntries(
      names.map((name, i) => [name, encodeIdentityKey(Ed25519Signer.fromSeed(seeds[i]!).publicKey)]),
    );
    writeFileSync(join(dir, 'roster.json'), JSON.stringify(roster));
    serveArgs.push('--roster', join(dir, 'roster.json'));
  }
  const started = performance.now();
  const profile = values['cpu-prof-dir'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof-dir']] : [];
  const nodeFlags = values['serve-node-flags']?.split(' ').filter(Boolean) ?? [];
  const serve = spawn(process.execPath, [...profile, ...nodeFlags, ...serveArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderrTail: string[] = [];
  createInterface({ input: serve.stderr! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (
        entry['msg'] === 'round ended' ||
        entry['msg'] === 'all rounds done' ||
        entry['msg'] === 'round graph'
      ) {
        logs.push(entry);
      }
    } catch {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    }
  });
  const exited = once(serve, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: serve.stdout! });
    lines.on('line', (line) => {
      const match = /^listening on (.+)$/.exec(line);
      if (match) resolve(match[1]!);
      if (values['serve-node-flags']) console.error(`serve: ${line}`);
    });
    void exited.then(([code]) => reject(new Error(`serve exited (${code}): ${stderrTail.join(' | ')}`)));
  });

  const plan = failurePlan(cell.n, rounds!);
  const hostCount = Math.max(
    2,
    values.hosts ? list(values.hosts, 'hosts')[0]! : Math.ceil(cell.n / CLIENTS_PER_HOST),
  );
  const hostJobs: HostClient[][] = Array.from({ length: hostCount }, () => []);
  names.forEach((name, index) => {
    const failAt: Record<number, Stage> = {};
    for (const [round, chosen] of plan) {
      const stage = chosen.get(index);
      if (stage) failAt[round] = stage;
    }
    hostJobs[index % hostCount]!.push({
      name,
      index,
      failAt,
      ...(seeds && { identitySeed: seeds[index]!.toString('hex') }),
    });
  });
  const hosts: ChildProcess[] = hostJobs.map((clients) => {
    const host = fork(join(import.meta.dirname, 'lib', 'load-host.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    // The participants stand for devices elsewhere: they yield the CPU to the coordinator, as they
    // would if they were not on its two cores (README: how bench:load runs).
    if (host.pid !== undefined) setPriority(host.pid, clientNice);
    host.send({
      type: 'job',
      address,
      dim: cell.d,
      clients,
      keepaliveMs: keepaliveMs === undefined ? 30_000 : Number(keepaliveMs),
      ...(seeds && { roster: readFileSync(join(dir, 'roster.json'), 'utf8') }),
    } satisfies HostJob);
    return host;
  });
  const reports = hosts.map(
    (host) =>
      new Promise<HostReport>((resolve, reject) => {
        host.on('message', (m: HostReport | { type: 'started' }) => {
          if (m.type === 'report') resolve(m);
        });
        host.on('exit', (code) => reject(new Error(`client host exited with ${code} before reporting`)));
      }),
  );
  const [code] = await exited;
  const wallS = (performance.now() - started) / 1000;
  for (const host of hosts) host.send({ type: 'stop' });
  const hostReports = await Promise.all(reports);
  if (code !== 0) throw new Error(`serve exited with ${code}: ${stderrTail.join(' | ')}`);

  // ---- what the coordinator published, checked against the plan --------------------------------
  const problems: string[] = [];
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          round: number;
          status: string;
          survivors: string[];
          dropped: Record<string, string>;
          sum?: number[];
          reason?: string;
        },
    );
  rmSync(dir, { recursive: true, force: true });
  let spuriousDrops = 0;
  let plannedFailures = 0;
  let roundsOk = 0;
  let exact = lines.length === rounds;
  for (const line of lines) {
    const chosen = plan.get(line.round) ?? new Map<number, Stage>();
    plannedFailures += chosen.size;
    for (const [name, stage] of Object.entries(line.dropped)) {
      const planned = chosen.get(Number(name.slice(1)));
      if (planned === undefined) spuriousDrops++;
      else if (planned !== stage && line.status === 'ok') {
        problems.push(`round ${line.round}: ${name} vanished at ${planned} but was dropped at ${stage}`);
      }
    }
    if (line.status !== 'ok') {
      exact = false;
      problems.push(`round ${line.round} aborted: ${line.reason}`);
      continue;
    }
    roundsOk++;
    // Clients lost in the unmask stage are survivors: their inputs are in the sum.
    const expected = names.filter((_, i) => {
      const stage = chosen.get(i);
      return stage === undefined || stage === 'unmask';
    });
    const survivors = [...line.survivors].sort();
    if (survivors.join(',') !== expected.join(',')) {
      exact = false;
      problems.push(`round ${line.round}: ${survivors.length} survivors, expected ${expected.length}`);
      continue;
    }
    const want = loadSum(
      survivors.map((s) => Number(s.slice(1))),
      line.round,
      cell.d,
    );
    const got = line.sum ?? [];
    if (got.length !== want.length || got.some((x, i) => x !== want[i])) {
      exact = false;
      problems.push(`round ${line.round}: the sum is wrong`);
    }
  }

  // ---- the coordinator's own figures ------------------------------------------------------------
  const ended = logs.filter((l) => l['msg'] === 'round ended');
  const delays = ended.map((l) => l['eventLoopDelayMs'] as { p99: number; max: number });
  const done = logs.find((l) => l['msg'] === 'all rounds done') as
    | { cpuMs: number; peakRssMiB: number }
    | undefined;
  const graphChosen = logs.find((l) => l['msg'] === 'round graph')?.['graph'];

  // ---- the clients' view ------------------------------------------------------------------------
  const all: ClientRound[] = hostReports.flatMap((r) => r.rounds);
  const stageMs: Record<string, { p50: number; p99: number }> = {};
  for (const stage of TIMED_STAGES) {
    const samples = all
      .filter((r) => r.result === 'done' && r.stageMs[stage] !== undefined)
      .map((r) => r.stageMs[stage]!)
      .sort((a, b) => a - b);
    stageMs[stage] = { p50: percentile(samples, 50), p99: percentile(samples, 99) };
  }
  const participations = new Map<string, number>();
  for (const r of all) participations.set(r.name, (participations.get(r.name) ?? 0) + 1);
  const traffic = hostReports.flatMap((r) => r.traffic);
  const perRound = (bytes: (t: (typeof traffic)[number]) => number) =>
    traffic.reduce((sum, t) => sum + bytes(t) / Math.max(1, participations.get(t.name) ?? 1), 0) /
    Math.max(1, traffic.length);
  const errors = all.filter((r) => r.result === 'error' || r.result === 'aborted');
  for (const e of errors.slice(0, 5))
    problems.push(`client ${e.name} round ${e.round}: ${e.result}: ${e.detail}`);

  return {
    cell,
    hosts: hostCount,
    roundsOk,
    roundsRun: lines.length,
    spuriousDrops,
    plannedFailures,
    exact,
    problems,
    stageMs,
    eventLoopDelayMs: {
      p99: Math.max(0, ...delays.map((d) => d.p99)),
      max: Math.max(0, ...delays.map((d) => d.max)),
    },
    coordinatorCpuS: (done?.cpuMs ?? Number.NaN) / 1000,
    coordinatorPeakRssMiB: done?.peakRssMiB ?? Number.NaN,
    bytesPerClientRound: { sent: perRound((t) => t.sent), received: perRound((t) => t.received) },
    wallS,
    graphChosen:
      typeof graphChosen === 'string'
        ? graphChosen
        : cell.graph === 'complete'
          ? 'complete'
          : 'complete (small n)',
  };
}

function kb(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function fmtMs(x: number): string {
  return Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '-';
}

async function main(): Promise<void> {
  console.log('privagg bench:load — privagg serve over loopback gRPC, SDK participants in other processes');
  console.log(`machine: ${machineLine()}`);
  console.log(`load average at start: ${loadLine()}`);
  console.log(
    `rounds per cell: ${rounds}; participants failing on purpose per round: ${(failFraction * 100).toFixed(0)}%; ` +
      `client processes at nice ${clientNice}; setting: ${setting}`,
  );
  const cells: Cell[] = [];
  for (const graph of graphs) {
    for (const n of ns) {
      if (graph === 'complete' && !completeNs.has(n)) continue;
      for (const d of ds) cells.push({ n, d, graph });
    }
  }
  const results: CellResult[] = [];
  for (const cell of cells) {
    process.stdout.write(`\n${cell.graph} n=${cell.n} d=${cell.d}: `);
    try {
      const r = await runCell(cell);
      results.push(r);
      console.log(
        `${r.roundsOk}/${rounds} ok, ${r.spuriousDrops} spurious drops, exact ${r.exact ? 'yes' : 'NO'}, ` +
          `event loop p99/max ${fmtMs(r.eventLoopDelayMs.p99)}/${fmtMs(r.eventLoopDelayMs.max)} ms, ` +
          `cpu ${r.coordinatorCpuS.toFixed(1)} s, peak ${r.coordinatorPeakRssMiB} MiB, ${r.wallS.toFixed(0)} s` +
          ` [${r.graphChosen}; ${r.hosts} client processes]`,
      );
      for (const p of r.problems.slice(0, 8)) console.log(`  ${p}`);
    } catch (error) {
      console.log(`failed: ${(error as Error).message}`);
    }
  }
  const header = [
    'graph',
    'n',
    'd',
    'rounds ok',
    'spurious',
    'exact',
    ...TIMED_STAGES.map((s) => `${s} p50/p99 ms`),
    'loop p99/max ms',
    'coord cpu s',
    'peak MiB',
    'sent/client',
    'recv/client',
  ];
  const rows = results.map((r) => [
    r.cell.graph === 'auto' ? `auto (${r.graphChosen.split(' ')[0]})` : 'complete',
    String(r.cell.n),
    String(r.cell.d),
    `${r.roundsOk}/${rounds}`,
    String(r.spuriousDrops),
    r.exact ? 'yes' : 'no',
    ...TIMED_STAGES.map((s) => `${fmtMs(r.stageMs[s]!.p50)}/${fmtMs(r.stageMs[s]!.p99)}`),
    `${fmtMs(r.eventLoopDelayMs.p99)}/${fmtMs(r.eventLoopDelayMs.max)}`,
    r.coordinatorCpuS.toFixed(1),
    String(r.coordinatorPeakRssMiB),
    kb(r.bytesPerClientRound.sent),
    kb(r.bytesPerClientRound.received),
  ]);
  console.log(`\n${table(header, rows)}`);
  console.log(`\nload average at end: ${loadLine()}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
}

await main();
