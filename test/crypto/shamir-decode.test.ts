// Shamir reconstruction with wrong shares (docs/PROTOCOL.md §4.6, §5): Gao's decoder for m ≥ t + 2,
// leave-one-out for m = t + 1, and a clean `undefined` beyond what can be found.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { shamirSplit } from '../../src/secagg/crypto/shamir.ts';
import { correctableShares, shamirDecode } from '../../src/secagg/crypto/shamir-decode.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId } from '../../src/secagg/types.ts';

const P = 2n ** 255n - 19n;

/** Shares of `secret` at `ids`, with the shares at `wrong` (indices) replaced by other values. */
function sharing(secret: bigint, t: number, ids: number[], wrong: number[], label: string) {
  const rng = new DeterministicRng(label);
  const values = shamirSplit(secret, t, ids as ClientId[], rng);
  return ids.map((id, i) => ({
    id: id as ClientId,
    value: wrong.includes(i) ? (values[i]! + 1n + BigInt(i) * 7919n) % P : values[i]!,
  }));
}

describe('shamirDecode', () => {
  it('finds the secret and names exactly the wrong shares, up to the bound', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 0, max: 10 }),
        fc.bigInt({ min: 0n, max: P - 1n }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (t, spare, secret, seed) => {
          const m = t + spare;
          const ids = Array.from({ length: m }, (_, i) => 1 + i * 3 + (seed % 5));
          const e = correctableShares(m, t);
          // Wrong shares spread over the list, so the lowest ids are hit too.
          const wrong = Array.from({ length: e }, (_, i) => (i * 5 + seed) % m).filter(
            (x, i, a) => a.indexOf(x) === i,
          );
          const shares = sharing(secret, t, ids, wrong, `decode/${seed}`);
          const found = shamirDecode(shares, t, (s) => s === secret);
          assert.ok(found, `t=${t} m=${m} wrong=${wrong}`);
          assert.equal(found.secret, secret);
          assert.deepEqual(
            found.bad,
            wrong.map((i) => ids[i]!).sort((a, b) => a - b),
          );
        },
      ),
      { numRuns: 120, seed: 20261201 },
    );
  });

  it('with one spare share finds one wrong share by leaving each out', () => {
    const ids = [3, 7, 12, 300, 2 ** 32 - 2];
    for (let wrong = 0; wrong < ids.length; wrong++) {
      const shares = sharing(42n, 4, ids, [wrong], 'one-spare');
      const found = shamirDecode(shares, 4, (s) => s === 42n);
      assert.deepEqual(found, { secret: 42n, bad: [ids[wrong]] });
    }
  });

  it('returns undefined beyond the bound, and never a secret the check rejects', () => {
    const ids = [1, 2, 3, 4, 5, 6, 7];
    // t = 3, m = 7: two wrong shares are found, three are not.
    assert.ok(shamirDecode(sharing(9n, 3, ids, [0, 4], 'bound'), 3, (s) => s === 9n));
    const calls: bigint[] = [];
    const result = shamirDecode(sharing(9n, 3, ids, [0, 2, 4], 'bound'), 3, (s) => {
      calls.push(s);
      return s === 9n;
    });
    assert.equal(result, undefined);
    assert.ok(!calls.includes(9n));
    // No spare share: a wrong one is detected but cannot be found.
    assert.equal(
      shamirDecode(sharing(9n, 3, [1, 2, 3], [1], 'none'), 3, (s) => s === 9n),
      undefined,
    );
    // Right shares but a check that rejects everything: nothing is returned.
    assert.equal(
      shamirDecode(sharing(9n, 3, ids, [], 'reject'), 3, () => false),
      undefined,
    );
  });

  it('with every share right reports none as wrong', () => {
    for (const m of [3, 4, 9]) {
      const ids = Array.from({ length: m }, (_, i) => i + 1);
      assert.deepEqual(
        shamirDecode(sharing(5n, 3, ids, [], `right/${m}`), 3, (s) => s === 5n),
        {
          secret: 5n,
          bad: [],
        },
      );
    }
  });

  it('rejects malformed arguments', () => {
    const shares = sharing(1n, 2, [1, 2, 3], [], 'args');
    assert.throws(() => shamirDecode(shares.slice(0, 1), 2, () => true), RangeError);
    assert.throws(() => shamirDecode([shares[0]!, shares[0]!], 2, () => true), /duplicate id 1/);
    assert.throws(
      () => shamirDecode([{ id: 0 as ClientId, value: 1n }, shares[1]!], 2, () => true),
      RangeError,
    );
    assert.throws(() => shamirDecode([{ ...shares[0]!, value: P }, shares[1]!], 2, () => true), RangeError);
    assert.throws(() => shamirDecode(shares, 1, () => true), RangeError);
    assert.throws(() => shamirDecode(shares, 2, undefined as never), TypeError);
  });
});
