/**
 * `npm run bench:round`: one secure aggregation round over loopback gRPC per cell, n ∈ {10, 100}
 * clients × d ∈ {100k, 1M} elements, against a plaintext round through the same transport in the
 * same run. Prints a table, the machine and the method (see {@link printMethod}).
 *
 * Options: `--n 10,100`, `--d 100000,1000000`, `--input-bits 16`, `--uploads 4` (the coordinator's
 * maxConcurrentUploads, the CLI default), `--budget-s 480` (cells whose projected time would not fit
 * in what is left are skipped, with the reason printed), `--http-port 0` (each cell also runs
 * `--monitor-pairs` (3) pairs of secure rounds, one with the coordinator serving its metrics and
 * dashboard — server/monitor.ts, scraped once a second — and one without, alternating, and prints
 * what monitoring costs in coordinator CPU), `--settings semi-honest,malicious` (the default: each
 * cell also runs the malicious setting — identity keys, the cohort in the announcement, signed keys
 * and the consistency stage — and a table sets it beside the semi-honest round; `--settings
 * semi-honest` leaves it out), `--setting-pairs 3` (that comparison is made over this many pairs of
 * rounds, semi-honest and malicious, in alternating order — semi first, then malicious first — and the
 * table gives each pair's ratio and their median: a shared machine's speed drifts by more than the
 * difference measured).
 * @module
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { packedLength } from '../src/secagg/bitpack.ts';
import type { Stage } from '../src/secagg/messages.ts';
import {
  CHUNK_BYTES,
  expectedSum,
  type RoundRun,
  type RoundSpec,
  ringBits,
  runRound,
} from './lib/round-run.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10,100' },
    d: { type: 'string', default: '100000,1000000' },
    'input-bits': { type: 'string', default: '16' },
    uploads: { type: 'string', default: '4' },
    'budget-s': { type: 'string', default: '480' },
    'http-port': { type: 'string' },
    'monitor-pairs': { type: 'string', default: '3' },
    settings: { type: 'string', default: 'semi-honest,malicious' },
    'setting-pairs': { type: 'string', default: '3' },
  },
});

function positiveList(text: string, name: string): number[] {
  const list = text.split(',').map(Number);
  if (list.length === 0 || list.some((x) => !Number.isSafeInteger(x) || x < 1)) {
    throw new RangeError(`--${name} must be a comma-separated list of positive integers, got '${text}'`);
  }
  return list;
}

const ns = positiveList(values.n, 'n');
const ds = positiveList(values.d, 'd');
const [inputBits] = positiveList(values['input-bits'], 'input-bits');
const [uploads] = positiveList(values.uploads, 'uploads');
const [budgetS] = positiveList(values['budget-s'], 'budget-s');
const [monitorPairs] = positiveList(values['monitor-pairs'], 'monitor-pairs');
const [settingPairs] = positiveList(values['setting-pairs'], 'setting-pairs');
const httpPort = values['http-port'] === undefined ? undefined : Number(values['http-port']);
if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 0 && httpPort <= 65_535)) {
  throw new RangeError(`--http-port must be a port number (0: a free one), got '${values['http-port']}'`);
}
if (inputBits! > 32) throw new RangeError('--input-bits must be at most 32');
const settings = values.settings.split(',');
if (!settings.includes('semi-honest') || settings.some((s) => s !== 'semi-honest' && s !== 'malicious')) {
  throw new RangeError(
    `--settings must be 'semi-honest' or 'semi-honest,malicious' (the semi-honest round is the baseline), got '${values.settings}'`,
  );
}
const withMalicious = settings.includes('malicious');

const STAGES: readonly Stage[] = ['advertise', 'share', 'masked', 'unmask'];

interface Cell {
  readonly spec: RoundSpec;
  /** The semi-honest secure round. */
  secure?: RoundRun;
  /** The malicious-setting secure round (with `--settings …,malicious`). */
  malicious?: RoundRun;
  /** Pairs of rounds in the two settings (the first is `secure` and `malicious`), alternating order. */
  settingPairs?: { readonly secure: RoundRun; readonly malicious: RoundRun }[];
  plain?: RoundRun;
  /** With --http-port: secure rounds without and with monitoring, alternating. */
  unmonitored?: RoundRun[];
  monitored?: RoundRun[];
  skipped?: string;
}

const mib = (kib: number) => (kib / 1024).toFixed(0);
const ms = (x: number) => (x >= 10_000 ? x.toFixed(0) : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const kShort = (d: number) =>
  d % 1_000_000 === 0 ? `${d / 1_000_000}M` : d % 1000 === 0 ? `${d / 1000}k` : `${d}`;

function ratioText(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** The median (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

function printMachine(): void {
  const cpu = cpus();
  console.log('privagg bench:round — one aggregation round over loopback gRPC');
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} logical cores, ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}`,
  );
  printLoad('at start');
}

/**
 * The load average: other processes on the machine slow every number here down. At the end it also
 * counts this benchmark's own two processes.
 */
function printLoad(when: 'at start' | 'at the end'): void {
  const [one, five] = loadavg();
  const busy = when === 'at start' && one! > cpus().length / 2;
  console.log(
    `load average ${when}: ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min)` +
      (busy ? ' — WARNING: other processes are using the CPUs; times will be inflated and noisy' : '') +
      (when === 'at the end' ? " (this benchmark's own client and server processes included)" : ''),
  );
}

function printMethod(): void {
  const notes = [
    'One process per server: each round (secure or plaintext) gets a fresh child process running only the',
    'server (the real Coordinator, or the benchmark-only plaintext summer), so its peak RSS is VmHWM of that',
    'process and its CPU time is its own. All n clients run in this (parent) process on one thread, and the',
    `machine has ${cpus().length} cores: client CPU competes with the coordinator for them. In a deployment each client has`,
    'its own device, so the secure round here is slower than the server alone would make it: e.g. the',
    "masked stage includes n clients' mask expansion (n² PRG streams of d words) run one after another.",
    'Times: "round" is the server\'s announcement-to-result time (RoundOutcome.timing.totalMs, and',
    'timing.stageMs per stage); "wall" is from starting the clients (connect, check-in) until the last',
    'client finished and the result arrived. One round per cell and mode (no repetitions): these are',
    'single measurements; a warm-up round (n=3, d=1000) of each mode runs first, untimed.',
    'Malicious round (with --settings …,malicious): the same, in the malicious setting: every client has an',
    'Ed25519 identity key, enrolled in a roster made before the round (not timed); the announcement carries',
    "the cohort's names and keys; clients sign their advertised keys and the survivor list, and check",
    "every neighbour's signature and the t consistency signatures; the consistency stage adds a round trip.",
    'Secure round: semi-honest, complete graph, threshold ⌊2n/3⌋+1, no dropouts, the SDK Participant with',
    `the OS CSPRNG, masked input bit-packed and sent in ${CHUNK_BYTES / 2 ** 20} MiB chunks; coordinator maxConcurrentUploads=${uploads},`,
    'receive limit max(2 MiB, 128·n + 64 KiB), frame limit 16 + ⌈packed/64 KiB⌉ per stage (the CLI defaults).',
    `Inputs are ${inputBits}-bit integers, summed in the ring Z/2^b with b = ${inputBits} + ⌈log2 n⌉ (the narrowest ring that`,
    'holds the exact sum; the sum is checked against the plain sum in every round).',
    'Plaintext round ("plain"): the same clients stream the same vector, bit-packed at the same b bits, in',
    'the same 1 MiB MaskedInputChunk frames, after the same check-in and round announcement, to a server',
    'with the same transport path (strict parsing, upload slots with paused queues, the assembler,',
    'unpacking, ring addition) that just sums them: no keys, shares, masks or unmasking.',
    '"ratio" = secure round / plain round (server times). "CPU ratio" = the coordinator process\'s CPU time',
    "(user + system, from listening to the result) in the secure round / in the plain one: the server's own",
    'cost, which the clients sharing the cores do not inflate.',
    'Communication: bytes of every serialized ClientFrame a client sent (counted at the server, one gRPC',
    "message = one ClientFrame; gRPC's 5-byte message prefix and HTTP/2 framing are not counted), divided",
    `by the same vector bit-packed in clear: ⌈d·${inputBits}/8⌉ bytes at the input width ("vs ${inputBits}-bit", the`,
    'measure of Bonawitz et al. 2017, who report 1.73× at 2^10 users and 2^20 elements of 16 bits), and',
    '⌈d·b/8⌉ at the ring width ("vs b-bit": what the protocol adds beyond the wider ring). Server-to-client',
    'traffic (peer keys, share delivery, unmask request: O(n) small messages per client) is not included.',
  ];
  console.log('\nMethod:');
  for (const note of notes) console.log(`  ${note}`);
}

async function main(): Promise<void> {
  printMachine();
  const started = performance.now();
  const budgetMs = budgetS! * 1000;

  // Warm the clients' code in this process (each server is a fresh process anyway).
  const warm: RoundSpec = { clients: 3, length: 1000, inputBits: inputBits!, maxConcurrentUploads: uploads! };
  await runRound('plain', warm);
  await runRound('secure', warm);
  if (withMalicious) await runRound('malicious', warm);

  const cells: Cell[] = [];
  for (const n of ns)
    for (const d of ds)
      cells.push({
        spec: {
          clients: n,
          length: d,
          inputBits: inputBits!,
          maxConcurrentUploads: uploads!,
        },
      });
  cells.sort((a, b) => a.spec.clients * a.spec.length - b.spec.clients * b.spec.length);

  for (const cell of cells) {
    const { clients: n, length: d } = cell.spec;
    const projected = project(cells, cell);
    const left = budgetMs - (performance.now() - started);
    if (projected !== undefined && projected > left) {
      cell.skipped =
        `skipped: projected ${(projected / 1000).toFixed(0)} s (from the measured cells, scaling the client work ` +
        `as n²·d and the rest as n·d) exceeds the ${(left / 1000).toFixed(0)} s left of the --budget-s ${budgetS} s`;
      console.log(`n=${n} d=${kShort(d)}: ${cell.skipped}`);
      continue;
    }
    process.stdout.write(`n=${n} d=${kShort(d)}: expected sum… `);
    const expected = expectedSum(cell.spec, ringBits(cell.spec.inputBits, n));
    process.stdout.write('plain… ');
    cell.plain = await runRound('plain', cell.spec, expected);
    process.stdout.write(`${ms(cell.plain.serverMs)} ms; secure… `);
    cell.secure = await runRound('secure', cell.spec, expected);
    if (withMalicious) {
      process.stdout.write(`${ms(cell.secure.serverMs)} ms; malicious… `);
      cell.malicious = await runRound('malicious', cell.spec, expected);
      console.log(`${ms(cell.malicious.serverMs)} ms (sums exact)`);
      cell.settingPairs = [{ secure: cell.secure, malicious: cell.malicious }];
      for (let pair = 1; pair < settingPairs!; pair++) {
        // Odd pairs run the malicious round first, so that a drift in the machine's speed favours
        // neither setting.
        const order =
          pair % 2 === 1 ? (['malicious', 'secure'] as const) : (['secure', 'malicious'] as const);
        process.stdout.write(`  setting pair ${pair + 1}/${settingPairs}: `);
        const runs: Partial<Record<'secure' | 'malicious', RoundRun>> = {};
        for (const mode of order) {
          process.stdout.write(`${mode === 'secure' ? 'semi-honest' : 'malicious'}… `);
          runs[mode] = await runRound(mode, cell.spec, expected);
        }
        cell.settingPairs.push({ secure: runs.secure!, malicious: runs.malicious! });
        console.log(`wall ${ratioText(runs.malicious!.wallMs, runs.secure!.wallMs)}`);
      }
    } else {
      console.log(`${ms(cell.secure.serverMs)} ms (sums exact)`);
    }
    if (httpPort !== undefined) {
      cell.unmonitored = [];
      cell.monitored = [];
      for (let pair = 0; pair < monitorPairs!; pair++) {
        process.stdout.write(`  monitoring pair ${pair + 1}/${monitorPairs}: without… `);
        cell.unmonitored.push(await runRound('secure', cell.spec, expected));
        process.stdout.write('with… ');
        cell.monitored.push(await runRound('secure', { ...cell.spec, httpPort }, expected));
        console.log(
          `${ms(cell.monitored.at(-1)!.serverCpuMs)} vs ${ms(cell.unmonitored.at(-1)!.serverCpuMs)} CPU ms`,
        );
      }
    }
  }

  const done = cells.filter((c) => c.secure && c.plain);
  printTable(
    'Round time (ms; server clock, announcement → result)',
    ['n', 'd', 'b', 't', 'secure', ...STAGES, 'plain', 'ratio', 'secure wall', 'plain wall'],
    done.map(({ spec, secure, plain }) => [
      String(spec.clients),
      kShort(spec.length),
      String(secure!.vector.bits),
      String(secure!.threshold),
      ms(secure!.serverMs),
      ...STAGES.map((s) => (secure!.stageMs[s] === undefined ? '-' : ms(secure!.stageMs[s]!))),
      ms(plain!.serverMs),
      `${(secure!.serverMs / plain!.serverMs).toFixed(1)}×`,
      ms(secure!.wallMs),
      ms(plain!.wallMs),
    ]),
  );
  printTable(
    'Server and client resources (CPU ms over the round; coordinator RSS in MiB)',
    [
      'n',
      'd',
      'coord CPU secure',
      'coord CPU plain',
      'CPU ratio',
      'clients CPU secure',
      'clients CPU plain',
      'coord peak RSS secure',
      'coord peak RSS plain',
      'idle RSS',
    ],
    done.map(({ spec, secure, plain }) => [
      String(spec.clients),
      kShort(spec.length),
      ms(secure!.serverCpuMs),
      ms(plain!.serverCpuMs),
      `${(secure!.serverCpuMs / plain!.serverCpuMs).toFixed(1)}×`,
      ms(secure!.clientCpuMs),
      ms(plain!.clientCpuMs),
      mib(secure!.serverPeakRssKiB),
      mib(plain!.serverPeakRssKiB),
      mib(secure!.serverIdleRssKiB),
    ]),
  );
  printTable(
    'Communication per client (client → coordinator, serialized ClientFrames)',
    [
      'n',
      'd',
      'b',
      'frames',
      'bytes secure',
      'bytes plain',
      `clear ${inputBits}-bit`,
      `vs ${inputBits}-bit`,
      'vs b-bit',
      'plain vs b-bit',
    ],
    done.map(({ spec, secure, plain }) => {
      const clearInput = Math.ceil((spec.length * spec.inputBits) / 8);
      const clearRing = packedLength(spec.length, secure!.vector.bits);
      return [
        String(spec.clients),
        kShort(spec.length),
        String(secure!.vector.bits),
        secure!.framesPerClient.toFixed(0),
        secure!.bytesPerClient.mean.toFixed(0),
        plain!.bytesPerClient.mean.toFixed(0),
        String(clearInput),
        `${(secure!.bytesPerClient.mean / clearInput).toFixed(3)}×`,
        `${(secure!.bytesPerClient.mean / clearRing).toFixed(4)}×`,
        `${(plain!.bytesPerClient.mean / clearRing).toFixed(4)}×`,
      ];
    }),
  );
  const monitoredCells = done.filter((c) => c.monitored && c.unmonitored);
  if (monitoredCells.length > 0) {
    const total = (runs: readonly RoundRun[], of: (r: RoundRun) => number) =>
      runs.reduce((sum, r) => sum + of(r), 0);
    printTable(
      `Monitoring cost: coordinator CPU of ${monitorPairs} secure rounds serving metrics and the dashboard (scraped once a second) vs ${monitorPairs} without, alternating`,
      ['n', 'd', 'CPU without', 'CPU with', 'CPU ratio', 'wall ratio', 'scrapes'],
      monitoredCells.map(({ spec, monitored, unmonitored }) => {
        const cpuWith = total(monitored!, (r) => r.serverCpuMs);
        const cpuWithout = total(unmonitored!, (r) => r.serverCpuMs);
        const wallRatio = total(monitored!, (r) => r.serverMs) / total(unmonitored!, (r) => r.serverMs);
        return [
          String(spec.clients),
          kShort(spec.length),
          ms(cpuWithout),
          ms(cpuWith),
          `${(cpuWith / cpuWithout).toFixed(3)}×`,
          `${wallRatio.toFixed(3)}×`,
          String(total(monitored!, (r) => r.scrapes ?? 0)),
        ];
      }),
    );
  }
  const both = done.filter((c) => c.settingPairs);
  if (both.length > 0) {
    const maliciousStages: readonly Stage[] = [...STAGES.slice(0, 3), 'consistency', 'unmask'];
    const medianOf = (runs: readonly RoundRun[], f: (r: RoundRun) => number | undefined) => {
      const values = runs.map(f).filter((v): v is number => v !== undefined);
      return values.length === 0 ? undefined : median(values);
    };
    const stageCell = (runs: readonly RoundRun[], stage: Stage) => {
      const value = medianOf(runs, (r) => r.stageMs[stage]);
      return value === undefined ? '-' : ms(value);
    };
    printTable(
      `Time per stage in the two settings (ms; server clock; median of ${settingPairs} round(s) each)`,
      ['n', 'd', 'setting', 'round', ...maliciousStages],
      both.flatMap(({ spec, settingPairs: pairs }) =>
        (['secure', 'malicious'] as const).map((mode) => {
          const runs = pairs!.map((p) => p[mode]);
          return [
            String(spec.clients),
            kShort(spec.length),
            mode === 'secure' ? 'semi-honest' : 'malicious',
            ms(medianOf(runs, (r) => r.serverMs)!),
            ...maliciousStages.map((stage) => stageCell(runs, stage)),
          ];
        }),
      ),
    );
    printTable(
      `The malicious setting beside the semi-honest one (target: ≤ 1.15× the wall time and the bytes; ${settingPairs} pair(s) of rounds in alternating order: each pair's wall ratio, and medians)`,
      [
        'n',
        'd',
        'wall ratio per pair',
        'wall semi',
        'wall mal',
        'wall ratio',
        'bytes semi',
        'bytes mal',
        'bytes ratio',
        'coord CPU semi',
        'coord CPU mal',
        'CPU ratio',
      ],
      both.map(({ spec, settingPairs: pairs }) => {
        const semi = pairs!.map((p) => p.secure);
        const mal = pairs!.map((p) => p.malicious);
        const med = (runs: RoundRun[], f: (r: RoundRun) => number) => medianOf(runs, f)!;
        const wallRatios = pairs!.map((p) => p.malicious.wallMs / p.secure.wallMs);
        return [
          String(spec.clients),
          kShort(spec.length),
          wallRatios.map((r) => `${r.toFixed(2)}`).join(' '),
          ms(med(semi, (r) => r.wallMs)),
          ms(med(mal, (r) => r.wallMs)),
          `${median(wallRatios).toFixed(2)}×`,
          med(semi, (r) => r.bytesPerClient.mean).toFixed(0),
          med(mal, (r) => r.bytesPerClient.mean).toFixed(0),
          ratioText(
            med(mal, (r) => r.bytesPerClient.mean),
            med(semi, (r) => r.bytesPerClient.mean),
          ),
          ms(med(semi, (r) => r.serverCpuMs)),
          ms(med(mal, (r) => r.serverCpuMs)),
          `${median(pairs!.map((p) => p.malicious.serverCpuMs / p.secure.serverCpuMs)).toFixed(2)}×`,
        ];
      }),
    );
  }
  for (const cell of cells) {
    if (cell.skipped) console.log(`\nn=${cell.spec.clients} d=${kShort(cell.spec.length)}: ${cell.skipped}`);
  }
  printMethod();
  console.log('');
  printLoad('at the end');
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Projected time of both rounds of `cell` from the largest measured cell: the secure round's client
 * CPU scales as n²·d (each client expands a mask per peer), everything else as n·d.
 */
function project(cells: readonly Cell[], cell: Cell): number | undefined {
  const measured = cells.filter((c) => c.secure && c.plain);
  const base = measured.at(-1);
  if (!base) return undefined;
  const { clients: n0, length: d0 } = base.spec;
  const { clients: n, length: d } = cell.spec;
  const linear = (n * d) / (n0 * d0);
  const quadratic = linear * (n / n0);
  const clientSecure = Math.min(base.secure!.clientCpuMs, base.secure!.wallMs);
  const secure = clientSecure * quadratic + (base.secure!.wallMs - clientSecure) * linear;
  const malicious = base.malicious ? (secure * base.malicious.wallMs) / base.secure!.wallMs : 0;
  // With the malicious setting, the two secure rounds run --setting-pairs times.
  const pairs = base.malicious ? settingPairs! : 1;
  return pairs * (secure + malicious) + base.plain!.wallMs * linear;
}

await main();
