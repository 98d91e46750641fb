/**
 * The round-failure run of `npm run bench:scale -- --failure-rounds R`: R complete rounds through
 * the real state machines at n clients with independent random dropout at rate δ — each client is
 * lost with probability δ, at a stage drawn uniformly from advertise, share, masked and unmask — on
 * the graph `planGraph` chooses (γ = 5%). A short vector (the failure of a round does not depend on
 * its length); every completed round's sum is checked. Rounds are split over child processes (this
 * module is also their entry point), one per core.
 * @module
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateLargeRound } from '../../src/sim/large.ts';
import { ADVERSARIAL_RATE } from './scale-round.ts';

const STAGES: readonly Stage[] = ['advertise', 'share', 'masked', 'unmask'];
const D = 16;
const BITS = 24;

/** One round's outcome. */
export interface FailureRound {
  readonly round: number;
  readonly ok: boolean;
  readonly verified: boolean;
  readonly lost: number;
  readonly reason?: string;
  readonly ms: number;
}

/** Rounds `from` … `to − 1` at n clients and dropout rate δ, in this process. */
export async function runFailureRounds(
  n: number,
  dropoutRate: number,
  from: number,
  to: number,
  onRound: (r: FailureRound) => void,
): Promise<void> {
  const plan = planGraph({ n, dropoutRate, adversarialRate: ADVERSARIAL_RATE });
  for (let round = from; round < to; round++) {
    const params = roundParams({
      round: round + 1,
      serverModel: 'semi-honest',
      threshold: plan.threshold,
      maxCorruptClients: plan.maxCorruptClients,
      clients: Array.from({ length: n }, (_, i) => i + 1),
      vectors: [{ name: 'v', length: D, bits: BITS }],
      graph: plan.graph,
    });
    // Independent dropouts from a stream of their own per round.
    const coins = new DeterministicRng(
      `bench/scale/failure/${n}/${dropoutRate}/${round}/dropouts`,
    ).randomBytes(8 * n);
    const view = new DataView(coins.buffer, coins.byteOffset, coins.byteLength);
    const dropouts = new Map<ClientId, Stage>();
    for (const id of params.clients) {
      const u = view.getUint32(8 * (id - 1), true) / 2 ** 32;
      if (u < dropoutRate) dropouts.set(id, STAGES[view.getUint32(8 * (id - 1) + 4, true) % 4]!);
    }
    const plain = new Uint32Array(D);
    const started = performance.now();
    const report = await simulateLargeRound({
      params,
      input: (id) => {
        const x = Uint32Array.from({ length: D }, (_, j) => (id * 7919 + j * 104_729) % 2 ** BITS);
        for (let j = 0; j < D; j++) plain[j] = plain[j]! + x[j]!;
        return [x];
      },
      rngFor: (id) => new DeterministicRng(`bench/scale/failure/${n}/${round}/${id}`),
      dropouts,
    });
    const { outcome } = report;
    onRound({
      round,
      ok: outcome.status === 'ok',
      verified:
        outcome.status === 'ok' &&
        outcome.sums[0]!.every((v, j) => v === (plain[j]! & (2 ** BITS - 1)) >>> 0),
      lost: dropouts.size,
      ...(outcome.status === 'aborted' && { reason: outcome.reason }),
      ms: performance.now() - started,
    });
  }
}

/**
 * Runs `rounds` rounds split over `processes` child processes; calls `onRound` as each finishes.
 * @returns every round's outcome, by round index
 */
export async function runFailureRun(
  n: number,
  dropoutRate: number,
  rounds: number,
  processes: number,
  onRound: (r: FailureRound) => void,
): Promise<FailureRound[]> {
  const results: FailureRound[] = [];
  const per = Math.ceil(rounds / processes);
  await Promise.all(
    Array.from({ length: processes }, (_, p) => {
      const from = p * per;
      const to = Math.min(rounds, from + per);
      if (from >= to) return Promise.resolve();
      return new Promise<void>((done, reject) => {
        const child = fork(
          new URL(import.meta.url),
          [String(n), String(dropoutRate), String(from), String(to)],
          {
            execArgv: ['--import', 'tsx'],
            serialization: 'advanced',
          },
        );
        child.on('message', (r: FailureRound) => {
          results.push(r);
          onRound(r);
        });
        child.on('exit', (code) =>
          code === 0 ? done() : reject(new Error(`failure-run process ${p} exited with ${code}`)),
        );
      });
    }),
  );
  return results.sort((a, b) => a.round - b.round);
}

// As a child process: argv = n, δ, from, to.
if (
  process.send &&
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  const [n, rate, from, to] = process.argv.slice(2).map(Number) as [number, number, number, number];
  await runFailureRounds(n, rate, from, to, (r) => process.send!(r));
  process.disconnect();
}
