/**
 * `npm run bench:core`: client time and server unmask time of the secure-aggregation core against
 * the bare lower bound measured in the same run, for n ∈ {100, 500}, d ∈ {100k, 1M} and dropout
 * ∈ {0, 10%, 30%}. Goal: client ≤ 1.5× its bound, server ≤ 2× its bound.
 *
 * Method (printed with the results):
 * - Each cell is one real semi-honest round, driven message by message through the real
 *   SecAggServer and SecAggClient state machines: complete graph, threshold ⌊2n/3⌋+1, one vector of
 *   d words of `--bits` bits. Dropped clients vanish on entering the masked-input stage, after
 *   sharing their keys, so the server has to reconstruct their mask keys and re-create their
 *   pairwise masks with every survivor (the expensive case).
 * - Client time: `--measured` clients (default 5) run with the real parameters and real inputs and
 *   every call into them is timed (constructor, start, each message); the median is reported. They
 *   run in a worker thread of their own, so that, like a real client process, their heap holds only
 *   their own state (timed next to the server's heap they would pay for its garbage collections).
 * - Server unmask time: every server call during the unmask stage (accepting the unmask responses,
 *   then reconstructing the seeds and mask keys, re-deriving pair seeds and removing the masks), in
 *   the main thread, whose heap is essentially the server's.
 * - The other n − k clients ("peers") are real state machines too, run in worker threads while the
 *   main thread waits, so no timed work overlaps them. Expanding the peers' 250,000 masks of 4 MB
 *   in an n = 500, d = 1M round would take ~6 minutes per cell (~1.4 ms each), so they run with the round's
 *   parameters except that their vector is one word long (`shim`): same configuration hash, session
 *   id, keys, shares and pair seeds; the server receives a stand-in d-word vector in place of each
 *   peer's masked input. The server's unmask work does not depend on the values summed, so its time
 *   is exact; its sum is garbage and not checked in these rounds.
 * - Correctness: for n = 100, d = 100k (every selected dropout) the same round is also run with
 *   `full` peers (real parameters, real inputs, real masked vectors), the sum is checked against the
 *   plain sum of the survivors' inputs, and its timings are printed next to the shim round's.
 * - Lower bound: derive the same number of mask keys with the protocol's deriveMaskKey and add them
 *   with its addMask into one d-word accumulator — 1 + |E_v| masks for a client, |U3| + Σ_{dropped}
 *   |surviving neighbours| for the server — in the measured clients' worker (a near-empty heap: the
 *   bare cost of the masks). One repetition right before each measured client's
 *   masked-input stage. For the server, each repetition (1 to 3, as `--max-bound-s` allows) is
 *   timed in two halves, half the masks right before the unmask stage and half right after it, and
 *   summed, so that drift in the machine's speed during a long unmask hits both alike. Medians are
 *   reported.
 * - Every timed section runs after an unreported warm-up round, a forced full GC, and a wait until the
 *   whole process (peer workers and V8 helper threads included) is idle. Each is timed on two
 *   clocks: wall time, and process CPU time, which is far less disturbed by other processes on a
 *   shared machine. The verdict uses the CPU-time ratios and also counts the wall-time ones.
 * - Time budget (`--max-minutes`, default 10): a cell predicted (from the cells already run) to end
 *   past the budget is not run, and the output says so and how to run it alone. Nothing predicted
 *   is reported as a measurement.
 * @module
 */
import { availableParallelism } from 'node:os';
import { type CellResult, type CellSpec, cellProblem, runCell } from './lib/cell.ts';
import { loadLine, machineLine } from './lib/machine.ts';
import { MeasuredWorker } from './lib/measured.ts';
import { InProcessPeers, type PeerHost, WorkerPeers } from './lib/peers.ts';
import { median, ms, spread, table } from './lib/stats.ts';
import type { Timing } from './lib/timing.ts';

const CLIENT_GOAL = 1.5;
const SERVER_GOAL = 2;

interface Options {
  ns: number[];
  ds: number[];
  dropouts: number[];
  bits: number;
  measured: number;
  workers: number;
  maxBoundMs: number;
  verify: boolean;
  /** Skip cells predicted to end past this many ms since start (0 = no limit). */
  budgetMs: number;
}

const USAGE = `usage: npm run bench:core -- [options]
  --quick            n = 100, d = 100k only (smoke run)
  --n 100,500        client counts
  --d 100k,1M        vector lengths (k and M suffixes allowed)
  --dropout 0,10%,30%  dropout rates (fractions or percentages)
  --bits 24          bit width of the summed vector
  --measured 5       clients timed per cell
  --workers 2        worker threads for the untimed peers (0 = in-process)
  --max-bound-s 20   time budget for the server's lower-bound repetitions per cell (1 to 3 run)
  --max-minutes 10   skip (and say so) any cell predicted to end after this many minutes; 0 = no limit
  --no-verify        skip the full-peer correctness rounds at n = 100, d = 100k`;

function parseCount(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`not a count: '${text}'`);
  const scale = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6;
  const value = Number(m[1]) * scale;
  if (!Number.isInteger(value) || value < 1) throw new Error(`not a positive integer: '${text}'`);
  return value;
}

function parseRate(text: string): number {
  const t = text.trim();
  const value = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!Number.isFinite(value) || value < 0 || value >= 1)
    throw new Error(`not a dropout rate in [0, 1): '${text}'`);
  return value;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    ns: [100, 500],
    ds: [100_000, 1_000_000],
    dropouts: [0, 0.1, 0.3],
    bits: 24,
    measured: 5,
    workers: Math.min(2, availableParallelism()),
    maxBoundMs: 20_000,
    verify: true,
    budgetMs: 10 * 60_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const list = () => value().split(',');
    switch (flag) {
      case '--quick':
        options.ns = [100];
        options.ds = [100_000];
        break;
      case '--n':
        options.ns = list().map(parseCount);
        break;
      case '--d':
        options.ds = list().map(parseCount);
        break;
      case '--dropout':
        options.dropouts = list().map(parseRate);
        break;
      case '--bits':
        options.bits = parseCount(value());
        break;
      case '--measured':
        options.measured = parseCount(value());
        break;
      case '--workers':
        options.workers = Number(value());
        break;
      case '--max-bound-s':
        options.maxBoundMs = Number(value()) * 1000;
        break;
      case '--max-minutes':
        options.budgetMs = Number(value()) * 60_000;
        break;
      case '--no-verify':
        options.verify = false;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option '${arg}'\n${USAGE}`);
    }
  }
  if (!(options.bits >= 1 && options.bits <= 32)) throw new Error('--bits must be in 1..32');
  if (!(Number.isInteger(options.workers) && options.workers >= 0)) throw new Error('--workers must be ≥ 0');
  if (!(options.budgetMs >= 0)) throw new Error('--max-minutes must be ≥ 0');
  return options;
}

const pct = (p: number) => `${Math.round(p * 100)}%`;
const count = (d: number) =>
  d % 1_000_000 === 0 ? `${d / 1e6}M` : d % 1000 === 0 ? `${d / 1000}k` : String(d);
const cellName = (s: CellSpec) => `n=${s.n} d=${count(s.d)} drop=${pct(s.dropout)}`;
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-');

const wall = (ts: readonly Timing[]) => median(ts.map((t) => t.wall));
const cpu = (ts: readonly Timing[]) => median(ts.map((t) => t.cpu));

/** Client time over its bound: medians over the measured clients and the bound repetitions. */
function clientRatio(r: CellResult, clock: 'wall' | 'cpu' = 'wall'): number {
  const f = clock === 'wall' ? wall : cpu;
  return f(r.client) / f(r.clientBound);
}

function serverRatio(r: CellResult, clock: 'wall' | 'cpu' = 'wall'): number {
  const f = clock === 'wall' ? wall : cpu;
  return f([r.serverUnmask]) / f(r.serverBound);
}

/**
 * How long a cell will take, predicted from the cells already run (for scheduling only; nothing
 * predicted is ever reported as a result): the slowest per-mask rates seen for this d (server:
 * preferably at this n), the peers' setup time at this n (or scaled by n² from another n), and the
 * bound repetitions. Undefined when no cell with this d has run yet.
 */
function predictMs(spec: CellSpec, done: readonly CellResult[]): number | undefined {
  const sameD = done.filter((r) => r.spec.d === spec.d);
  if (sameD.length === 0 || done.length === 0) return undefined;
  const boundPerMask = Math.max(...sameD.map((r) => wall(r.clientBound) / r.clientMasks));
  const serverBasis = sameD.some((r) => r.spec.n === spec.n)
    ? sameD.filter((r) => r.spec.n === spec.n)
    : sameD;
  const serverPerMask = Math.max(...serverBasis.map((r) => r.serverUnmask.wall / r.serverMasks));
  const sameN = done.filter((r) => r.spec.n === spec.n);
  const peersMs =
    sameN.length > 0
      ? Math.max(...sameN.map((r) => r.peerMs))
      : Math.max(...done.map((r) => r.peerMs * (spec.n / r.spec.n) ** 2));
  const dropped = Math.round(spec.dropout * spec.n);
  const survivors = spec.n - dropped;
  const serverMasks = survivors + dropped * survivors; // complete graph
  const reps = Math.max(1, Math.min(3, Math.floor(spec.maxBoundMs / (boundPerMask * serverMasks))));
  const clientsMs = 2 * spec.measured * spec.n * boundPerMask * 1.5;
  return peersMs + serverMasks * (serverPerMask + reps * boundPerMask) + clientsMs + 2000;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  console.log('privagg bench:core — secure aggregation core vs. the mask-expansion lower bound');
  console.log(`machine: ${machineLine()}`);
  console.log(`load average at start (1/5/15 min): ${loadLine()}`);
  console.log(
    `setting: semi-honest, complete graph, threshold ⌊2n/3⌋+1, one ${options.bits}-bit vector, ` +
      `${options.measured} measured clients per cell, peers in ${options.workers} worker thread(s), ` +
      `time budget ${options.budgetMs > 0 ? `${options.budgetMs / 60_000} min` : 'none'}`,
  );

  const peers: PeerHost = options.workers > 0 ? new WorkerPeers(options.workers) : new InProcessPeers();
  const timingWorker = new MeasuredWorker();
  const base = { bits: options.bits, measured: options.measured, maxBoundMs: options.maxBoundMs };
  const results: CellResult[] = [];
  const skipped: string[] = [];
  const checks: { full: CellResult; shim?: CellResult }[] = [];
  try {
    // Warm-up (not reported): JIT-compiles every code path and loads the workers' modules.
    log('[warm-up] n=20 d=50k drop=10% …');
    await runCell(
      { ...base, measured: 2, n: 20, d: 50_000, dropout: 0.1, mode: 'shim' },
      peers,
      timingWorker,
    );
    if (options.verify) {
      for (const dropout of options.dropouts) {
        const spec: CellSpec = { ...base, n: 100, d: 100_000, dropout, mode: 'full' };
        if (cellProblem(spec)) continue;
        log(`[verify] ${cellName(spec)} (full peers) …`);
        const r = await runCell(spec, peers, timingWorker);
        checks.push({ full: r });
        log(
          `[verify] ${cellName(spec)}: sum ${r.sumCorrect ? 'correct' : 'WRONG'} (${(r.wallMs / 1000).toFixed(1)} s)`,
        );
      }
    }
    for (const n of options.ns) {
      for (const d of options.ds) {
        for (const dropout of options.dropouts) {
          const spec: CellSpec = { ...base, n, d, dropout, mode: 'shim' };
          const problem = cellProblem(spec);
          if (problem) {
            skipped.push(`${cellName(spec)}: skipped, ${problem}`);
            continue;
          }
          const predicted = predictMs(spec, results);
          const elapsed = performance.now() - started;
          if (options.budgetMs > 0 && predicted !== undefined && elapsed + predicted > options.budgetMs) {
            const min = (x: number) => (x / 60_000).toFixed(1);
            skipped.push(
              `${cellName(spec)}: skipped, predicted to take ~${min(predicted)} min after ${min(elapsed)} min, ` +
                `past the ${min(options.budgetMs)}-minute budget; measure it alone with ` +
                `\`npm run bench:core -- --n ${n} --d ${count(d)} --dropout ${pct(dropout)} --no-verify\` ` +
                'or lift the budget with --max-minutes 0',
            );
            log(`[cell] ${cellName(spec)}: skipped (time budget)`);
            continue;
          }
          log(`[cell] ${cellName(spec)} …`);
          const r = await runCell(spec, peers, timingWorker);
          results.push(r);
          const check = checks.find(
            (c) => c.full.spec.n === n && c.full.spec.d === d && c.full.spec.dropout === dropout,
          );
          if (check) check.shim = r;
          log(
            `[cell] ${cellName(spec)}: client ${ms(wall(r.client))} ms (${ratio(clientRatio(r))}), ` +
              `server ${ms(r.serverUnmask.wall)} ms (${ratio(serverRatio(r))}), wall ${(r.wallMs / 1000).toFixed(1)} s`,
          );
        }
      }
    }
  } finally {
    await Promise.all([peers.close(), timingWorker.close()]);
  }

  console.log('');
  console.log(
    table(
      [
        'n',
        'd',
        'dropout',
        'client ms',
        'bound ms',
        'ratio',
        'cpu ratio',
        'server unmask ms',
        'bound ms',
        'ratio',
        'cpu ratio',
      ],
      results.map((r) => [
        String(r.spec.n),
        count(r.spec.d),
        pct(r.spec.dropout),
        ms(wall(r.client)),
        ms(wall(r.clientBound)),
        ratio(clientRatio(r)),
        ratio(clientRatio(r, 'cpu')),
        ms(r.serverUnmask.wall),
        ms(wall(r.serverBound)),
        ratio(serverRatio(r)),
        ratio(serverRatio(r, 'cpu')),
      ]),
    ),
  );
  console.log(
    'ms = wall-clock milliseconds (medians); ratio = wall time / bound; cpu ratio = the same on process CPU ' +
      'time, which other processes on the machine disturb much less.',
  );
  for (const line of skipped) console.log(line);

  console.log('\nDetails (wall ms; a–b = min–max over repetitions, count in parentheses)');
  console.log(
    table(
      [
        'cell',
        't',
        '|U3|',
        'masks c/s',
        'bound µs/mask',
        'client setup/share/masked/unmask',
        'client bound reps',
        'srv last call',
        'srv other stages',
        'srv bound reps',
        'peers s',
        'wall s',
      ],
      results.map((r) => {
        const st = (k: keyof CellResult['clientStages'][number]) => ms(wall(r.clientStages.map((s) => s[k])));
        const perMask = (1000 * wall(r.clientBound)) / r.clientMasks;
        return [
          cellName(r.spec),
          String(r.threshold),
          String(r.survivors),
          `${r.clientMasks}/${r.serverMasks}`,
          perMask.toFixed(0),
          `${st('setup')}/${st('share')}/${st('masked')}/${st('unmask')}`,
          `${spread(
            r.clientBound.map((t) => t.wall),
            1,
          )} (${r.clientBound.length})`,
          ms(r.serverUnmaskLastCall.wall),
          ms(r.serverOther.wall),
          `${spread(
            r.serverBound.map((t) => t.wall),
            0,
          )} (${r.serverBound.length})`,
          (r.peerMs / 1000).toFixed(1),
          (r.wallMs / 1000).toFixed(1),
        ];
      }),
    ),
  );

  if (checks.length > 0) {
    console.log(
      '\nCorrectness: the same rounds with full peers (real parameters and masked inputs for all n)',
    );
    console.log(
      table(
        ['cell', 'sum', 'client ms full/shim', 'server unmask ms full/shim'],
        checks.map(({ full, shim }) => [
          cellName(full.spec),
          full.sumCorrect ? 'correct' : 'WRONG',
          `${ms(wall(full.client))} / ${shim ? ms(wall(shim.client)) : '-'}`,
          `${ms(full.serverUnmask.wall)} / ${shim ? ms(shim.serverUnmask.wall) : '-'}`,
        ]),
      ),
    );
  }

  console.log(
    '\nMethod: one real round per cell through the real SecAggServer/SecAggClient; the median of ' +
      `${options.measured} fully timed clients (real parameters, real input, in a worker thread of their own); ` +
      "the server's unmask stage timed in full (main thread). The other clients run the real state " +
      'machine untimed in worker threads, with their vector cut ' +
      'to one word (same session, keys, shares and pair seeds); the server gets a stand-in d-word vector in ' +
      'place of each of their masked inputs (its unmask cost does not depend on the values). Dropped ' +
      'clients leave after sharing keys. Bound = deriveMaskKey + addMask of the same number of masks into one ' +
      'd-word accumulator (client: 1 + |E_v|; server: |U3| + Σ_dropped |surviving neighbours|), measured ' +
      "in the measured clients' worker next to each measurement (one repetition before each timed client; each server " +
      'repetition split into halves timed right before and right after the unmask stage and summed). ' +
      'Every timed section follows a forced GC with the process idle (workers included); ' +
      '"cpu" = process CPU time (user + system). Sums verified with full peers at n=100, d=100k.',
  );
  const allChecks = checks.every((c) => c.full.sumCorrect);
  if (results.length > 0) {
    const tally = (f: (r: CellResult, clock: 'wall' | 'cpu') => number, goal: number) => {
      const okWall = results.filter((r) => f(r, 'wall') <= goal).length;
      const okCpu = results.filter((r) => f(r, 'cpu') <= goal).length;
      const w = results.reduce((a, b) => (f(b, 'cpu') > f(a, 'cpu') ? b : a), results[0]!);
      const verdict = okCpu === results.length ? 'MET' : 'NOT MET';
      return (
        `${verdict} (cpu ratio within goal in ${okCpu}/${results.length} cells, wall ratio in ${okWall}/${results.length}; ` +
        `worst cpu ratio ${ratio(f(w, 'cpu'))} at ${cellName(w.spec)})`
      );
    };
    const sums =
      checks.length === 0
        ? 'not verified (--no-verify)'
        : allChecks
          ? `correct in ${checks.length}/${checks.length} full rounds`
          : 'WRONG in a full round';
    console.log(
      `\nVerdict: client ≤ ${CLIENT_GOAL}× bound ${tally(clientRatio, CLIENT_GOAL)}; ` +
        `server ≤ ${SERVER_GOAL}× bound ${tally(serverRatio, SERVER_GOAL)}; sums ${sums}` +
        (skipped.length > 0 ? `; ${skipped.length} cell(s) not measured (see above).` : '.'),
    );
  }
  console.log(`load average at end (1/5/15 min): ${loadLine()}`);
  console.log(`total runtime: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (!allChecks) process.exitCode = 1;
}

await main();
