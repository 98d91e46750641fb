/**
 * The main job (`npm start`). Until the federated training demo exists, it runs one in-memory secure
 * aggregation round of 50 simulated clients, with clients dropping out at different stages, and
 * checks the unmasked sum against the survivors' plain sum.
 * @module
 */

import type { Stage } from './secagg/messages.ts';
import { defaultThreshold, roundParams } from './secagg/params.ts';
import { systemRng } from './secagg/rng.ts';
import type { ClientId, VectorSpec } from './secagg/types.ts';
import { simulateRound } from './sim/round.ts';

const CLIENTS = 50;
const VECTORS: VectorSpec[] = [
  { name: 'update', length: 100_000, bits: 32 },
  { name: 'example_count', length: 1, bits: 20 },
];
const DROPOUTS: [number, Stage][] = [
  [3, 'advertise'],
  [11, 'share'],
  [19, 'masked'],
  [27, 'masked'],
  [42, 'unmask'],
];

function randomInput(spec: VectorSpec): Uint32Array {
  const bytes = systemRng.randomBytes(4 * spec.length);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, spec.length);
  if (spec.bits < 32) for (let i = 0; i < words.length; i++) words[i]! &= 2 ** spec.bits - 1;
  return words;
}

const ids = Array.from({ length: CLIENTS }, (_, i) => i + 1);
const params = roundParams({
  round: 1,
  serverModel: 'malicious',
  threshold: defaultThreshold(CLIENTS, 'malicious'),
  clients: ids,
  vectors: VECTORS,
});
const inputs = new Map(params.clients.map((id) => [id, params.vectors.map(randomInput)]));
const dropouts = new Map(DROPOUTS.map(([id, stage]) => [id as ClientId, stage]));

console.log(
  `privagg: one secure aggregation round, ${CLIENTS} clients, threshold ${params.threshold}, ` +
    `malicious-server setting, vectors ${params.vectors.map((v) => `${v.name}[${v.length}]@${v.bits}b`).join(', ')}`,
);
console.log(`dropping: ${DROPOUTS.map(([id, stage]) => `client ${id} at ${stage}`).join(', ')}`);
const started = performance.now();
const report = simulateRound({
  params,
  inputs,
  rngFor: () => systemRng,
  dropouts,
  clock: () => performance.now(),
});
const wall = performance.now() - started;
const { result } = report;
if (result.status !== 'ok') {
  console.error(`round aborted: ${result.error.message}`);
  process.exit(1);
}
let mismatches = 0;
params.vectors.forEach((spec, i) => {
  const expected = new Uint32Array(spec.length);
  for (const id of result.survivors) {
    const x = inputs.get(id)![i]!;
    for (let j = 0; j < expected.length; j++) expected[j] = (expected[j]! + x[j]!) >>> 0;
  }
  if (spec.bits < 32) for (let j = 0; j < expected.length; j++) expected[j]! &= 2 ** spec.bits - 1;
  const sum = result.sums[i]!;
  for (let j = 0; j < expected.length; j++) if (sum[j] !== expected[j]) mismatches++;
});
const clientMs = [...report.clientMs.values()].sort((a, b) => a - b);
console.log(`survivors (inputs in the sum): ${result.survivors.length}`);
console.log(`dropped: ${[...result.dropped].map(([id, stage]) => `${id}@${stage}`).join(' ')}`);
console.log(
  `time: ${wall.toFixed(0)} ms wall; per client median ${clientMs[clientMs.length >> 1]!.toFixed(1)} ms; ` +
    `server ${report.serverMs.toFixed(0)} ms`,
);
const sumOf = (name: string) => result.sums[params.vectors.findIndex((v) => v.name === name)]!;
console.log(`sum of 'update'[0..4]: ${[...sumOf('update').subarray(0, 5)].join(', ')} (mod 2^32)`);
console.log(`sum of 'example_count': ${sumOf('example_count')[0]} (mod 2^20)`);
if (mismatches > 0) {
  console.error(`FAILED: ${mismatches} elements differ from the survivors' plain sum`);
  process.exit(1);
}
console.log(
  `verified: the unmasked sum equals the survivors' plain sum in all ${params.vectors.reduce((n, v) => n + v.length, 0)} elements`,
);
