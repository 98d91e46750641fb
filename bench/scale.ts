/**
 * `npm run bench:scale`: SecAgg+ at scale. Per-client time, coordinator time and coordinator peak
 * memory for n ∈ {100, 1,000, 10,000} at d = 100k and n ∈ {100, 1,000} at d = 1M, dropout 0/10/30%,
 * on the graph `planGraph` chooses for γ = 5% (σ = 40, η = 20); Flower's SecAgg+ parameters beside
 * our own at n = 500, d = 1M, 10% dropout; and, with `--failure-rounds R`, the round failure rate over
 * R rounds at n = 500 with independent random 10% dropout.
 *
 * Method (printed with the results):
 * - Each cell is one complete round through the real state machines: every one of the n clients is a
 *   real SecAggClient with a real d-word input (24-bit, generated just before it masks, outside its
 *   timed work), in this process; the coordinator is the real SecAggServer in a child process of its
 *   own, unmasking on the coordinator's worker pool (one thread per core), driven over IPC
 *   (src/sim/large.ts, bench/lib/scale-*.ts). The unmasked sum is checked against the plain sum of
 *   the survivors' inputs in every cell.
 * - Dropped clients (exactly ⌊δn⌉, a seeded random choice) vanish on entering the masked stage,
 *   after sharing their keys: the coordinator must rebuild their mask keys and remove their pairwise
 *   masks with every surviving neighbour, the expensive case.
 * - Per-client time: 8 clients (never dropped) run in a worker thread of their own, as bench:core's
 *   measured clients do: a real client's heap holds only its own state, whereas here 10,000 simulated
 *   clients share one heap and each would pay for collecting the others' garbage. Every call into a
 *   measured client's state machine (construction, start, each message) is timed after a full GC and
 *   a quiet moment, on process CPU time and wall time, and summed per client; the median (and max)
 *   of the 8 is reported. The other n − 8 clients run back to back in this process; their median
 *   CPU time in that shared heap is printed beside it.
 * - Coordinator time: wall time spent in its state machine and in the unmask executor (reconstruction,
 *   then the mask expansions on the worker threads), measured in its process; not counted: decoding
 *   the IPC messages (reported within its CPU time, which covers every thread of its process).
 * - Coordinator peak memory: the child process's peak resident set size (Linux's VmHWM: getrusage's
 *   maxRSS would also count the forking parent's image), which includes Node itself, the TypeScript
 *   loader and the unmask worker threads (started from a plain-JavaScript bundle); its size right
 *   after start-up and once the threads are up is printed for reference. Masked inputs reach it
 *   about 1 MiB of IPC at a time, as uploads reach a real coordinator one chunk at a time.
 * - Flower's figures are those measured on this kind of machine (/work/shared/README.md): Flower
 *   1.28's own SecAgg+ with its examples' setting (7 shares: 6 neighbours and the client, threshold
 *   4). "ours, Flower's k" runs our protocol with those parameters (which our parameter checks
 *   refuse at 10% dropout, so they are applied unchecked, for timing only); "ours, planned" runs
 *   the parameters planGraph chooses for the same n, d and dropout.
 * @module
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { loadLine, machineLine } from './lib/machine.ts';
import { type FailureRound, runFailureRun } from './lib/scale-failure.ts';
import { runScaleCell, type ScaleCell, type ScaleResult } from './lib/scale-round.ts';
import { ms, table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    cells: { type: 'string' },
    dropouts: { type: 'string', default: '0,0.1,0.3' },
    'skip-grid': { type: 'boolean', default: false },
    'skip-flower': { type: 'boolean', default: false },
    'failure-rounds': { type: 'string', default: '0' },
    'failure-n': { type: 'string', default: '500' },
    'failure-dropout': { type: 'string', default: '0.1' },
    bits: { type: 'string', default: '24' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run bench:scale [-- options]
  --cells NxD,...          grid cells to run, e.g. 1000x100k,100x1M (default: all five)
  --dropouts F,...         dropout rates (default 0,0.1,0.3)
  --skip-grid              only the Flower comparison (and the failure run)
  --skip-flower            no Flower comparison
  --failure-rounds R       also run R rounds at --failure-n clients (500) with independent random
                           --failure-dropout (0.1) and count the failed ones (default 0: skip)
  --bits B                 ring bit width (default 24)`);
  process.exit(0);
}

const size = (s: string) =>
  s.endsWith('M') ? Number(s.slice(0, -1)) * 1e6 : s.endsWith('k') ? Number(s.slice(0, -1)) * 1e3 : Number(s);
const GRID: readonly [number, number][] = [
  [100, 100_000],
  [1000, 100_000],
  [10_000, 100_000],
  [100, 1_000_000],
  [1000, 1_000_000],
];
const cells: [number, number][] = values.cells
  ? values.cells.split(',').map((c) => {
      const [n, d] = c.split('x');
      return [size(n!), size(d!)];
    })
  : [...GRID];
const dropouts = values.dropouts.split(',').map(Number);
const bits = Number(values.bits);
const fmtD = (d: number) => (d >= 1e6 ? `${d / 1e6}M` : `${d / 1e3}k`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

console.log('bench:scale — SecAgg+ at scale (src/sim/large.ts, bench/lib/scale-*.ts)');
console.log(`machine: ${machineLine()}; load ${loadLine()}`);
console.log(
  `method: one real round per cell; n real clients here, the real coordinator in a child process with ` +
    `${availableParallelism()} unmask threads; ${bits}-bit inputs; dropped clients lost after sharing keys; ` +
    'graph from planGraph (auto, γ = 5%, σ = 40, η = 20); every sum checked (see bench/scale.ts)',
);

let round = 1;
/** A quiet-machine estimate of the coordinator's wall time: its one-thread CPU time plus the unmask CPU spread over its workers. */
const quietMs = (r: ScaleResult) =>
  r.server.serverCpuMs - r.server.unmaskCpuMs + r.server.unmaskCpuMs / Math.max(1, r.server.workers);

async function run(cell: ScaleCell, retryAborted = false): Promise<ScaleResult> {
  const r = await runScaleCell(cell, round, retryAborted);
  round += 1 + r.abortedDraws.length;
  for (const reason of r.abortedDraws) console.log(`  (a dropout draw aborted: ${reason}; drawing again)`);
  console.log(
    `  n=${cell.n} d=${fmtD(cell.d)} dropout=${cell.dropout * 100}% ${r.graphText}: ${r.status}` +
      `${r.verified ? ' (sum verified)' : r.reason ? ` (${r.reason})` : ' (SUM WRONG)'}; client median ` +
      `${ms(r.clientCpuMedianMs)} ms CPU / ${ms(r.clientMedianMs)} ms wall; coordinator ${ms(r.server.serverCpuMs)} ms CPU ` +
      `/ ${ms(r.server.serverMs)} ms wall, peak ${mib(r.server.maxRssBytes)}; round ${(r.roundMs / 1000).toFixed(1)} s; ` +
      `load ${loadLine()}`,
  );
  return r;
}

const grid: ScaleResult[] = [];
if (!values['skip-grid']) {
  console.log('\ngrid:');
  for (const [n, d] of cells) {
    for (const dropout of dropouts) grid.push(await run({ n, d, dropout, graph: 'planned', bits }));
  }
}

const flower: ScaleResult[] = [];
if (!values['skip-flower']) {
  console.log('\nFlower comparison (n = 500, d = 1M):');
  flower.push(await run({ n: 500, d: 1_000_000, dropout: 0, graph: 'flower', bits }));
  flower.push(await run({ n: 500, d: 1_000_000, dropout: 0.1, graph: 'flower', bits }, true));
  flower.push(await run({ n: 500, d: 1_000_000, dropout: 0.1, graph: 'planned', bits }));
}

let failures: FailureRound[] = [];
const failureRounds = Number(values['failure-rounds']);
if (failureRounds > 0) {
  const n = Number(values['failure-n']);
  const rate = Number(values['failure-dropout']);
  console.log(
    `\nfailure run: ${failureRounds} rounds at n = ${n}, independent ${rate * 100}% dropout at random stages:`,
  );
  let done = 0;
  failures = await runFailureRun(n, rate, failureRounds, availableParallelism(), (r) => {
    done++;
    if (!r.ok || !r.verified || done % 50 === 0) {
      console.log(
        `  ${done}/${failureRounds}: round ${r.round} ${r.ok ? (r.verified ? 'ok' : 'SUM WRONG') : `ABORTED (${r.reason})`}, ` +
          `${r.lost} lost, ${(r.ms / 1000).toFixed(1)} s`,
      );
    }
  });
}

// ---- the report ----------------------------------------------------------------------------------

if (grid.length > 0) {
  console.log(
    '\nper-client and coordinator cost (one round per cell; CPU = process CPU time, all threads):\n',
  );
  console.log(
    table(
      [
        'n',
        'd',
        'dropout',
        'graph',
        'client CPU ms',
        'max',
        'client wall',
        'all, shared heap',
        'coord. CPU ms',
        'of it unmask',
        'coord. wall ms',
        'quiet est. ms',
        'coord. peak RSS',
        'above idle',
        'sum',
      ],
      grid.map((r) => [
        String(r.cell.n),
        fmtD(r.cell.d),
        `${r.cell.dropout * 100}%`,
        r.graphText,
        ms(r.clientCpuMedianMs),
        ms(r.clientCpuMaxMs),
        ms(r.clientMedianMs),
        ms(r.sharedHeapCpuMedianMs),
        ms(r.server.serverCpuMs),
        ms(r.server.unmaskCpuMs),
        ms(r.server.serverMs),
        ms(quietMs(r)),
        mib(r.server.maxRssBytes),
        mib(r.server.maxRssBytes - r.server.readyRssBytes),
        r.status === 'ok' ? (r.verified ? 'exact' : 'WRONG') : 'aborted',
      ]),
    ),
  );
  const first = grid[0]?.server;
  if (first) {
    console.log(
      `(coordinator process RSS: ${mib(first.startRssBytes)} right after start-up, ${mib(first.readyRssBytes)} ` +
        `once its ${first.workers} unmask threads are up (Node and the tsx TypeScript loader are ~75 MiB of it); "above idle" is ` +
        'the peak minus the latter. "quiet est." = the state machine\'s CPU time + the unmask CPU time ÷ threads: ' +
        'the wall time on an otherwise idle machine)',
    );
  }
  console.log('\nper-client time from n = 1,000 to n = 10,000 at d = 100k (goal: within 2×), CPU median:');
  for (const dropout of dropouts) {
    const at = (n: number) =>
      grid.find((r) => r.cell.n === n && r.cell.d === 100_000 && r.cell.dropout === dropout);
    const a = at(1000);
    const b = at(10_000);
    if (!a || !b) continue;
    const ratio = b.clientCpuMedianMs / a.clientCpuMedianMs;
    console.log(
      `  dropout ${dropout * 100}%: ${ms(a.clientCpuMedianMs)} → ${ms(b.clientCpuMedianMs)} ms, ×${ratio.toFixed(2)} ` +
        `${ratio <= 2 ? '(within 2×)' : '(OVER 2×)'} (${a.graphText} → ${b.graphText})`,
    );
  }
}

if (flower.length > 0) {
  const [flowerClient, flowerServer, planned] = flower as [ScaleResult, ScaleResult, ScaleResult];
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.log('\nbeside Flower 1.28 (n = 500, d = 1M; client at 0% dropout, coordinator at 10%):\n');
  console.log(
    table(
      [
        '',
        'k',
        'client ms (CPU)',
        'coordinator s (wall / quiet est.)',
        'coord. peak memory',
        'above idle',
        'goals',
      ],
      [
        ['Flower 1.28 (measured here, README)', '6 + self', '63', '13', '3.6 GB', '', ''],
        [
          "ours, Flower's k (unchecked)",
          '6',
          ms(flowerClient.clientCpuMedianMs),
          `${(flowerServer.server.serverMs / 1000).toFixed(2)} / ${(quietMs(flowerServer) / 1000).toFixed(2)}`,
          mib(flowerServer.server.maxRssBytes),
          mib(flowerServer.server.maxRssBytes - flowerServer.server.readyRssBytes),
          `client ≤ 21 ms ${verdict(flowerClient.clientCpuMedianMs <= 21)}; coordinator ≤ 1.3 s ` +
            `${verdict(quietMs(flowerServer) <= 1300)} (quiet est.), ≤ 200 MB ${verdict(flowerServer.server.maxRssBytes <= 200e6)}`,
        ],
        [
          'ours, planned (γ = 5%)',
          planned.graphText,
          ms(planned.clientCpuMedianMs),
          `${(planned.server.serverMs / 1000).toFixed(2)} / ${(quietMs(planned) / 1000).toFixed(2)}`,
          mib(planned.server.maxRssBytes),
          mib(planned.server.maxRssBytes - planned.server.readyRssBytes),
          `coordinator ≤ 1.3 s ${verdict(quietMs(planned) <= 1300)} (quiet est.), ≤ 200 MB ${verdict(planned.server.maxRssBytes <= 200e6)}`,
        ],
      ],
    ),
  );
  if (flowerServer.abortedDraws.length > 0) {
    console.log(
      `(with Flower's parameters ${flowerServer.abortedDraws.length} of ${flowerServer.abortedDraws.length + 1} ` +
        'dropout draws aborted the round — too few surviving neighbours — before one completed)',
    );
  }
}

if (failures.length > 0) {
  const failed = failures.filter((r) => !r.ok);
  const wrong = failures.filter((r) => r.ok && !r.verified);
  const lost = failures.reduce((s, r) => s + r.lost, 0) / failures.length;
  const maxLost = Math.max(...failures.map((r) => r.lost));
  console.log(
    `\nround failure rate: ${failed.length} failed of ${failures.length} rounds at n = ${values['failure-n']} ` +
      `(independent ${Number(values['failure-dropout']) * 100}% dropout at random stages; ${lost.toFixed(1)} lost ` +
      `per round on average, at most ${maxLost}); ${wrong.length} wrong sums; the parameters promise < 2^-20`,
  );
  for (const r of failed) console.log(`  round ${r.round}: ${r.reason}`);
}

const wrongCells = [...grid, ...flower].filter((r) => r.status === 'ok' && !r.verified);
if (wrongCells.length > 0) process.exitCode = 1;
