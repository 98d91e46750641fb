/**
 * One cell of `npm run bench:scale`: a complete round of n real clients (this process) and the real
 * coordinator (a child process, `scale-remote.ts`), with every client's d-word input generated just
 * before it masks, and the unmasked sum checked against the plain sum of the survivors' inputs.
 * @module
 */
import { availableParallelism } from 'node:os';
import { type GraphPlan, planGraph } from '../../src/secagg/graph-plan.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { type RoundParams, type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { processCpuMs, simulateLargeRound } from '../../src/sim/large.ts';
import { benchInput } from './inputs.ts';
import { MeasuredWorker } from './measured.ts';
import { remoteServer } from './scale-remote.ts';
import type { ScaleServerStats } from './scale-server.ts';
import { median } from './stats.ts';

/** γ of every planned cell. */
export const ADVERSARIAL_RATE = 0.05;

/** Flower 1.28's SecAgg+ example: 7 shares (6 neighbours and the client itself), threshold 4. */
export const FLOWER = { degree: 6, threshold: 4 } as const;

/** What one cell runs. */
export interface ScaleCell {
  readonly n: number;
  readonly d: number;
  /** Fraction of clients lost after sharing their keys (on entering the masked stage). */
  readonly dropout: number;
  /**
   * `planned`: the graph `planGraph` chooses (auto, γ = 5%, δ = `dropout`). `flower`: Flower's
   * parameters (H(n, 6), t = 4, no survivor floor), which `roundParams` refuses at 10% dropout
   * (the graph then falls apart with probability ~2^-3); for timing comparison only.
   */
  readonly graph: 'planned' | 'flower';
  /** Ring bit width. */
  readonly bits: number;
  /** Unmask worker threads in the coordinator process (default: available parallelism). */
  readonly workers?: number;
}

/** What one cell measured. */
export interface ScaleResult {
  readonly cell: ScaleCell;
  /** `H(k=34, t=17, ≥360)` or `complete t=67`. */
  readonly graphText: string;
  readonly plan?: GraphPlan;
  readonly lost: number;
  /**
   * Per-client time of the measured clients (every call into the client's state machine, each after
   * a full GC and a quiet moment, in a worker thread whose heap holds only them): process CPU time
   * (median, max) and wall time (median).
   */
  readonly clientCpuMedianMs: number;
  readonly clientCpuMaxMs: number;
  readonly clientMedianMs: number;
  /** How many clients were measured that way. */
  readonly measured: number;
  /**
   * The median CPU time of all the other clients that finished, run back to back in this process's
   * shared heap (so they also pay for collecting every other simulated client's garbage).
   */
  readonly sharedHeapCpuMedianMs: number;
  readonly clients: number;
  readonly server: ScaleServerStats;
  /** The whole round, wall, including IPC and input generation. */
  readonly roundMs: number;
  readonly status: 'ok' | 'aborted';
  readonly reason?: string;
  /** The unmasked sum equals the plain sum of the survivors' inputs. */
  readonly verified: boolean;
  /** Dropout draws tried before one completed (`retryAborted` only); the aborts' reasons. */
  readonly abortedDraws: readonly string[];
}

/** How many clients are timed in the measured worker. */
const MEASURED = 8;
/** The seed of every client's input (bench/lib/inputs.ts). */
const INPUT_SEED = 0x5ca1e;

/** `count` distinct clients, chosen by a seeded shuffle. */
function pick(clients: readonly ClientId[], count: number, seed: number): ClientId[] {
  const a = [...clients];
  let x = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, count);
}

function describe(params: RoundParams, cell: ScaleCell): string {
  const g = params.graph;
  if (g.kind === 'complete') return `complete t=${params.threshold}`;
  return cell.graph === 'flower'
    ? `H(k=${FLOWER.degree}, t=${FLOWER.threshold}) unchecked`
    : `H(k=${g.degree}, t=${params.threshold}, ≥${g.minSurvivors})`;
}

/**
 * Runs one cell; with `retryAborted`, draws other dropouts (up to 5 times) while the round aborts —
 * for Flower's parameters, whose rounds abort often at 10% dropout; the aborts are reported.
 * @param cell - what to run
 * @param round - the round number (each cell its own, so sessions never repeat)
 */
export async function runScaleCell(
  cell: ScaleCell,
  round: number,
  retryAborted = false,
): Promise<ScaleResult> {
  const abortedDraws: string[] = [];
  for (let draw = 0; ; draw++) {
    const result = await runOnce(cell, round, draw);
    if (result.status === 'ok' || !retryAborted || draw >= 4) return { ...result, abortedDraws };
    abortedDraws.push(result.reason ?? 'aborted');
  }
}

async function runOnce(
  cell: ScaleCell,
  round: number,
  draw: number,
): Promise<Omit<ScaleResult, 'abortedDraws'>> {
  const { n, d, bits } = cell;
  const clients = Array.from({ length: n }, (_, i) => i + 1);
  const vectors = [{ name: 'update', length: d, bits }];
  let input: RoundParamsInput;
  let plan: GraphPlan | undefined;
  let unchecked: { threshold: number; degree: number; minSurvivors: number } | undefined;
  if (cell.graph === 'planned') {
    plan = planGraph({ n, dropoutRate: cell.dropout, adversarialRate: ADVERSARIAL_RATE });
    input = {
      round,
      serverModel: 'semi-honest',
      threshold: plan.threshold,
      maxCorruptClients: plan.maxCorruptClients,
      clients,
      vectors,
      graph: plan.graph,
    };
  } else {
    // Validated as a round the checks accept (no corrupt client, no loss, Flower's threshold, which
    // is k/2 + 1), then given no survivor floor, on both sides alike.
    input = {
      round,
      serverModel: 'semi-honest',
      threshold: FLOWER.threshold,
      maxCorruptClients: 0,
      clients,
      vectors,
      graph: { kind: 'harary', degree: FLOWER.degree, minSurvivors: n - 5, securityBits: 40 },
    };
    unchecked = { threshold: FLOWER.threshold, degree: FLOWER.degree, minSurvivors: FLOWER.threshold };
  }
  let params = roundParams(input);
  if (unchecked && params.graph.kind === 'harary') {
    params = Object.freeze({
      ...params,
      threshold: unchecked.threshold,
      minSurvivors: unchecked.minSurvivors,
      graph: { ...params.graph, minSurvivors: unchecked.minSurvivors },
    });
  }
  const shuffled = pick(params.clients, n, round * 7919 + n + 104_729 * draw);
  const lostIds = shuffled.slice(0, Math.round(cell.dropout * n));
  const measuredIds = shuffled.slice(lostIds.length, lostIds.length + MEASURED).sort((a, b) => a - b);
  const dropouts = new Map<ClientId, Stage>(lostIds.map((id) => [id, 'masked']));
  const spec = params.vectors[0]!;
  const plain = new Uint32Array(d);
  const addPlain = (x: Uint32Array) => {
    for (let i = 0; i < d; i++) plain[i] = plain[i]! + x[i]!;
  };
  for (const id of measuredIds) addPlain(benchInput(spec, INPUT_SEED, id));
  const rngLabel = `bench/scale/${round}/${draw}`;
  const measured = new MeasuredWorker();
  await measured.warm(Math.min(d, 10_000), bits);
  const times = new Map<ClientId, { cpu: number; wall: number }>();
  const add = (id: ClientId, t: { cpu: number; wall: number }) => {
    const sum = times.get(id) ?? { cpu: 0, wall: 0 };
    times.set(id, { cpu: sum.cpu + t.cpu, wall: sum.wall + t.wall });
  };
  const constructed = await measured.init({
    paramsInput: input,
    ids: measuredIds,
    rngLabel,
    inputSeed: INPUT_SEED,
    ...(unchecked && { unchecked: { threshold: unchecked.threshold, minSurvivors: unchecked.minSurvivors } }),
  });
  measuredIds.forEach((id, i) => {
    add(id, constructed[i]!);
  });
  const server = await remoteServer(input, cell.workers ?? availableParallelism(), unchecked);
  const started = performance.now();
  let report: Awaited<ReturnType<typeof simulateLargeRound>>;
  try {
    report = await simulateLargeRound({
      params,
      input: (id) => {
        const x = benchInput(spec, INPUT_SEED, id);
        addPlain(x);
        return [x];
      },
      rngFor: (id) => new DeterministicRng(`${rngLabel}/${id}`),
      dropouts,
      server,
      external: {
        ids: new Set(measuredIds),
        start: async (id) => {
          const { reply, timing } = await measured.start(id);
          add(id, timing);
          return reply;
        },
        handle: async (id, message) => {
          const { reply, timing } = await measured.handle(id, message);
          add(id, timing);
          return reply;
        },
      },
      clock: () => performance.now(),
      cpuClock: processCpuMs,
      // Masked inputs go to the coordinator about one megabyte at a time (one input at d = 1M), as
      // uploads reach a real coordinator one stream chunk at a time: larger IPC batches are held
      // three times over while they cross (read buffer, concatenation, decoded arrays) and showed
      // up as ~160 MiB of extra peak memory at n = 500, d = 1M.
      maxBatchBytes: 1 << 20,
    });
  } catch (error) {
    server.close();
    await measured.close();
    throw error;
  }
  await measured.close();
  const roundMs = performance.now() - started;
  const stats = await server.stats();
  server.close();
  const { outcome } = report;
  let verified = false;
  if (outcome.status === 'ok') {
    const mask = bits === 32 ? 0xffff_ffff : 2 ** bits - 1;
    const sum = outcome.sums[0]!;
    verified = sum.length === d && sum.every((v, i) => v === (plain[i]! & mask) >>> 0);
  }
  const finished = (times: ReadonlyMap<ClientId, number>) =>
    [...times]
      .filter(([id]) => !dropouts.has(id))
      .map(([, ms]) => ms)
      .sort((a, b) => a - b);
  const measuredCpu = measuredIds.map((id) => times.get(id)!.cpu).sort((a, b) => a - b);
  const measuredWall = measuredIds.map((id) => times.get(id)!.wall);
  const shared = finished(report.clientCpuMs);
  return {
    cell,
    graphText: describe(params, cell),
    ...(plan && { plan }),
    lost: lostIds.length,
    clientCpuMedianMs: median(measuredCpu),
    clientCpuMaxMs: measuredCpu.at(-1) ?? Number.NaN,
    clientMedianMs: median(measuredWall),
    measured: measuredIds.length,
    sharedHeapCpuMedianMs: median(shared),
    clients: shared.length + measuredIds.length,
    server: stats,
    roundMs,
    status: outcome.status,
    ...(outcome.status === 'aborted' && { reason: outcome.reason }),
    verified,
  };
}
