/** What the server sees of one client: a masked input that is statistically uniform. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MaskedInputMessage } from '../../src/secagg/messages.ts';
import { roundParams } from '../../src/secagg/params.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { rngFor } from './harness.ts';

/** Chi-square statistic of `values` (each < bins) against the uniform distribution. */
function chiSquare(values: Uint32Array, bins: number): number {
  const counts = new Float64Array(bins);
  for (const v of values) counts[v]!++;
  const expected = values.length / bins;
  let statistic = 0;
  for (const c of counts) statistic += (c - expected) ** 2 / expected;
  return statistic;
}

describe('a masked input', () => {
  it('is uniform even when the input is constant (chi-square, 256 bins, fixed seed)', () => {
    const length = 1 << 16;
    const params = roundParams({
      round: 1,
      serverModel: 'semi-honest',
      threshold: 3,
      clients: [1, 2, 3, 4],
      vectors: [{ name: 'v', length, bits: 8 }],
    });
    // Every client's input is all zeros: anything non-uniform in y would be the masks' fault.
    const inputs = new Map(params.clients.map((id) => [id, [new Uint32Array(length)]]));
    const masked = new Map<ClientId, Uint32Array>();
    const report = simulateRound({
      params,
      inputs,
      rngFor: rngFor('uniform'),
      observe: (from, message) => {
        if (message.type === 'masked') masked.set(from, (message as MaskedInputMessage).vectors[0]!.slice());
      },
    });
    assert.equal(report.result.status, 'ok');
    assert.equal(masked.size, 4);
    // Critical value of chi-square with 255 degrees of freedom at p = 0.001 is 330.5.
    for (const [id, y] of masked) {
      const statistic = chiSquare(y, 256);
      assert.ok(statistic < 330.5, `client ${id}: chi-square ${statistic.toFixed(1)} ≥ 330.5`);
    }
    // And the sum of all-zero inputs unmasks to exactly zero.
    if (report.result.status === 'ok') assert.ok(report.result.sums[0]!.every((x) => x === 0));
  });

  it('differs from the same client input in a second round with fresh keys', () => {
    const length = 64;
    const make = (round: number) =>
      roundParams({
        round,
        serverModel: 'semi-honest',
        threshold: 2,
        clients: [1, 2, 3],
        vectors: [{ name: 'v', length, bits: 32 }],
      });
    const seen: Uint32Array[] = [];
    for (const round of [1, 2]) {
      const params = make(round);
      const inputs = new Map(params.clients.map((id) => [id, [new Uint32Array(length).fill(7)]]));
      simulateRound({
        params,
        inputs,
        rngFor: rngFor(`fresh/${round}`),
        observe: (from, message) => {
          if (from === 1 && message.type === 'masked') seen.push(message.vectors[0]!.slice());
        },
      });
    }
    assert.equal(seen.length, 2);
    const equalElements = seen[0]!.filter((x, i) => x === seen[1]![i]).length;
    assert.ok(equalElements <= 1, `${equalElements} of ${length} masked elements repeat across rounds`);
  });
});
