// The privacy budget: what a round costs (src/dp/budget.ts), the budget stop of the ledger
// (src/dp/ledger.ts) — refusing a round that would exceed the target, saying so, and still refusing
// after a restart — and that the check is atomic across two handles on one file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RdpAccountant } from '../../src/dp/accountant.ts';
import {
  BudgetExceededError,
  checkBudget,
  formatDelta,
  formatUp,
  type RoundMechanism,
  roundCost,
} from '../../src/dp/budget.ts';
import { epsilonFromRdp } from '../../src/dp/conversion.ts';
import { PrivacyLedger } from '../../src/dp/ledger.ts';
import { computeRdp } from '../../src/dp/rdp.ts';

const dir = mkdtempSync(join(tmpdir(), 'privagg-budget-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(dir, `budget-${++files}.ledger`);

const ORDERS = [1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256];
const SUB: RoundMechanism = { kind: 'subsampled-gaussian', q: 0.05, sigma: 1.1, sensitivity: 1, steps: 20 };
const CHEAP: RoundMechanism = { kind: 'gaussian-central', sigma: 50, sensitivity: 1 };

describe('roundCost', () => {
  it('computes the curve of the built-in mechanisms with the accountant’s RDP', () => {
    const central = roundCost({ kind: 'gaussian-central', sigma: 2, sensitivity: 0.5, steps: 3 }, ORDERS);
    assert.deepEqual(central.rdp, computeRdp({ q: 1, sigma: 2, steps: 3, orders: ORDERS }));
    assert.deepEqual(central.params, { sigma: 2, sensitivity: 0.5, steps: 3 });
    const sub = roundCost({ kind: 'subsampled-gaussian', q: 0.05, sigma: 1.1, sensitivity: 1 }, ORDERS);
    assert.deepEqual(sub.rdp, computeRdp({ q: 0.05, sigma: 1.1, steps: 1, orders: ORDERS }));
    assert.deepEqual(sub.params, { q: 0.05, sigma: 1.1, sensitivity: 1, steps: 1 });
    assert.ok(Object.isFrozen(sub) && Object.isFrozen(sub.rdp) && Object.isFrozen(sub.params));
  });

  it('takes a precomputed curve at exactly the ledger’s orders, +∞ allowed', () => {
    const rdp = ORDERS.map((a, k) => (k === 0 ? Infinity : a / 100));
    const params = { noise: 'skellam', mu: 12.5, bits: 16, clients: [3, 4] };
    const cost = roundCost(
      { kind: 'precomputed', name: 'distributed-skellam', params, orders: ORDERS, rdp },
      ORDERS,
    );
    assert.equal(cost.kind, 'distributed-skellam');
    assert.deepEqual(cost.rdp, rdp);
    assert.deepEqual(cost.params, params);
    params.mu = 99; // a copy was kept
    assert.equal(cost.params['mu'], 12.5);
  });

  it('rejects a bad mechanism, never coercing it', () => {
    const bad: [unknown, typeof TypeError | typeof RangeError][] = [
      [null, TypeError],
      [{ kind: 7 }, TypeError],
      [{ kind: 'gaussian-central', sigma: '2', sensitivity: 1 }, TypeError],
      [{ kind: 'gaussian-central', sigma: 0, sensitivity: 1 }, RangeError],
      [{ kind: 'gaussian-central', sigma: Number.NaN, sensitivity: 1 }, RangeError],
      [{ kind: 'gaussian-central', sigma: 2 }, TypeError],
      [{ kind: 'gaussian-central', sigma: 2, sensitivity: 1, steps: 0 }, RangeError],
      [{ kind: 'gaussian-central', sigma: 2, sensitivity: 1, steps: 1.5 }, RangeError],
      [{ kind: 'gaussian-central', sigma: 2, sensitivity: 1, sgima: 3 }, RangeError],
      [{ kind: 'subsampled-gaussian', q: 0, sigma: 1, sensitivity: 1 }, RangeError],
      [{ kind: 'subsampled-gaussian', q: 1.5, sigma: 1, sensitivity: 1 }, RangeError],
      [{ kind: 'subsampled-gaussian', q: 0.1, sigma: 1, sensitivity: -1 }, RangeError],
      [{ kind: 'skellam', params: {}, orders: ORDERS, rdp: ORDERS.map(() => 0) }, RangeError],
      [{ kind: 'gaussian-central', params: {}, orders: ORDERS, rdp: ORDERS.map(() => 0) }, RangeError],
      [
        { kind: 'precomputed', name: 'Bad Name', params: {}, orders: ORDERS, rdp: ORDERS.map(() => 0) },
        RangeError,
      ],
      [{ kind: 'precomputed', name: 'gaussian-central', params: {}, orders: ORDERS, rdp: [0] }, RangeError],
      [{ kind: 'precomputed', name: 'precomputed', params: {}, orders: ORDERS, rdp: [0] }, RangeError],
      [{ kind: 'precomputed', params: {}, orders: ORDERS, rdp: ORDERS.map(() => 0) }, TypeError],
      [{ kind: 'precomputed', name: 'ddg', params: [], orders: ORDERS, rdp: ORDERS.map(() => 0) }, TypeError],
      [
        {
          kind: 'precomputed',
          name: 'ddg',
          params: { x: Infinity },
          orders: ORDERS,
          rdp: ORDERS.map(() => 0),
        },
        RangeError,
      ],
      [
        {
          kind: 'precomputed',
          name: 'ddg',
          params: { f: () => 1 },
          orders: ORDERS,
          rdp: ORDERS.map(() => 0),
        },
        TypeError,
      ],
      [
        { kind: 'precomputed', name: 'ddg', params: {}, orders: ORDERS.slice(1), rdp: ORDERS.slice(1) },
        RangeError,
      ],
      [
        {
          kind: 'precomputed',
          name: 'ddg',
          params: {},
          orders: ORDERS.map((a) => a + 1),
          rdp: ORDERS.map(() => 0),
        },
        RangeError,
      ],
      [{ kind: 'precomputed', name: 'ddg', params: {}, orders: ORDERS, rdp: ORDERS.slice(1) }, RangeError],
      [
        { kind: 'precomputed', name: 'ddg', params: {}, orders: ORDERS, rdp: ORDERS.map(() => -1) },
        RangeError,
      ],
      [
        { kind: 'precomputed', name: 'ddg', params: {}, orders: ORDERS, rdp: ORDERS.map(() => Number.NaN) },
        RangeError,
      ],
      [
        { kind: 'precomputed', name: 'ddg', params: {}, orders: ORDERS, rdp: ORDERS.map(() => '0') },
        TypeError,
      ],
    ];
    for (const [mechanism, type] of bad) {
      assert.throws(() => roundCost(mechanism as RoundMechanism, ORDERS), type, JSON.stringify(mechanism));
    }
  });
});

describe('checkBudget', () => {
  const zero = ORDERS.map(() => 0);
  const query = (spentRdp: readonly number[], mechanism: RoundMechanism, targetEpsilon: number) => ({
    round: 12,
    orders: ORDERS,
    spentRdp,
    cost: roundCost(mechanism, ORDERS),
    delta: 1e-5,
    targetEpsilon,
    conversion: 'improved' as const,
    // The RDP arithmetic; the tighter-of-two decision is checked in ledger-pld.test.ts.
    accountant: 'rdp' as const,
  });

  it('composes by adding curves, which is tighter than adding the rounds’ ε', () => {
    const one = roundCost(SUB, ORDERS);
    const check = checkBudget(query(one.rdp, SUB, 100));
    const expected = new RdpAccountant(ORDERS).compose({ q: 0.05, sigma: 1.1 }, 40).epsilon(1e-5);
    assert.ok(Math.abs(check.epsilonAfter - expected.epsilon) <= 1e-12 * expected.epsilon);
    assert.equal(check.order, expected.order);
    assert.equal(check.epsilonBefore, check.roundEpsilon);
    assert.ok(check.epsilonAfter < check.epsilonBefore + check.roundEpsilon);
  });

  it('passes at exactly the target and refuses just above it, with the numbers in the message', () => {
    const exact = epsilonFromRdp(ORDERS, roundCost(SUB, ORDERS).rdp, 1e-5).epsilon;
    assert.equal(checkBudget(query(zero, SUB, exact)).epsilonAfter, exact);
    assert.throws(() => checkBudget(query(zero, SUB, exact * (1 - 1e-12))), BudgetExceededError);
    try {
      checkBudget(query(roundCost(SUB, ORDERS).rdp, SUB, 2.25));
      assert.fail('should refuse');
    } catch (e) {
      assert.ok(e instanceof BudgetExceededError);
      assert.equal(e.round, 12);
      assert.equal(e.targetEpsilon, 2.25);
      assert.equal(e.delta, 1e-5);
      assert.ok(e.epsilonAfter > 2.25 && e.epsilonBefore <= 2.25);
      assert.equal(
        e.message,
        `round 12 would raise ε from ${formatUp(e.epsilonBefore)} to ${formatUp(e.epsilonAfter)}, ` +
          'above the budget 2.25 (δ=1e-5); refusing to start it',
      );
    }
  });

  it('refuses an infinite cost (σ too small for any order to bound)', () => {
    const infinite = ORDERS.map(() => Infinity);
    const mechanism = {
      kind: 'precomputed',
      name: 'ddg',
      params: {},
      orders: ORDERS,
      rdp: infinite,
    } as const;
    assert.throws(() => checkBudget(query(zero, mechanism, 1000)), /to ∞, above the budget 1000/);
  });

  it('formats ε rounded up (never understated) and δ as written', () => {
    assert.equal(formatUp(7.912), '7.912');
    assert.equal(formatUp(7.91234), '7.913');
    assert.equal(formatUp(8.0000001), '8.001');
    assert.equal(formatUp(0.000123456), '0.0001235');
    assert.equal(formatUp(0), '0');
    assert.equal(formatUp(Infinity), '∞');
    for (const x of [1e-9, 0.3, 1 / 3, 2.5, 7.99999, 123456.7, 9.9999]) assert.ok(Number(formatUp(x)) >= x);
    assert.equal(formatDelta(1e-5), '1e-5');
    assert.equal(formatDelta(2.5e-7), '2.5e-7');
    assert.equal(formatDelta(0.01), '0.01');
  });
});

describe('the budget stop of the ledger', () => {
  // The stop itself, with ε as RDP alone so that it can be checked against the composed curves; the
  // PLD path is ledger-pld.test.ts.
  const RDP = { accountant: 'rdp' } as const;
  it('refuses the round that would exceed the target, says so, writes nothing, and still takes a round that fits', () => {
    const path = fresh();
    const ledger = PrivacyLedger.open(path, { delta: 1e-5, targetEpsilon: 3, orders: ORDERS }, RDP);
    let refusal: BudgetExceededError | undefined;
    let round = 0;
    while (!refusal) {
      round = ledger.nextRound();
      try {
        ledger.reserve(round, SUB);
        ledger.release(round);
      } catch (error) {
        if (!(error instanceof BudgetExceededError)) throw error;
        refusal = error;
      }
    }
    assert.ok(round > 1, 'some rounds fit');
    assert.equal(refusal.round, round);
    assert.match(
      refusal.message,
      new RegExp(
        `^round ${round} would raise ε from \\d+\\.\\d+ to \\d+\\.\\d+, above the budget 3 \\(δ=1e-5\\); refusing to start it$`,
      ),
    );
    const spent = ledger.spent();
    assert.equal(spent.epsilon, refusal.epsilonBefore);
    assert.ok(spent.epsilon <= 3 && refusal.epsilonAfter > 3);
    assert.equal(spent.rounds, round - 1);
    assert.equal(ledger.round(round), undefined, 'a refused round is not written');
    assert.equal(ledger.nextRound(), round);
    assert.throws(() => ledger.checkBudget(SUB), BudgetExceededError);

    // A cheaper round may still fit, and is taken under the same number.
    const check = ledger.checkBudget(CHEAP);
    assert.ok(check.epsilonAfter <= 3 && check.epsilonAfter >= spent.epsilon);
    assert.equal(ledger.spent().rounds, round - 1, 'checkBudget writes nothing');
    assert.equal(ledger.reserve(round, CHEAP).cumulativeEpsilon, check.epsilonAfter);
    ledger.close();
  });

  it('resumes after a restart: the same ε, the next number, and the same refusal', () => {
    const path = fresh();
    const config = { delta: 1e-5, targetEpsilon: 2.5, orders: ORDERS };
    const first = PrivacyLedger.open(path, config, RDP);
    for (;;) {
      try {
        first.release(first.reserve(first.nextRound(), SUB).round);
      } catch (error) {
        if (error instanceof BudgetExceededError) break;
        throw error;
      }
    }
    const spent = first.spent();
    const next = first.nextRound();
    first.close();

    const second = PrivacyLedger.open(path, config, { mustExist: true, ...RDP });
    assert.deepEqual(second.spent(), spent);
    assert.equal(second.nextRound(), next);
    const expected = new RdpAccountant(ORDERS)
      .compose({ q: 0.05, sigma: 1.1 }, 20 * (next - 1))
      .epsilon(1e-5);
    assert.ok(Math.abs(spent.epsilon - expected.epsilon) <= 1e-12 * expected.epsilon);
    assert.throws(
      () => second.reserve(next, SUB),
      (e: unknown) =>
        e instanceof BudgetExceededError && e.round === next && e.epsilonBefore === spent.epsilon,
    );
    second.close();
  });

  it('counts a reserved round before it is released: the budget sees it at once', () => {
    const ledger = PrivacyLedger.open(fresh(), { delta: 1e-5, targetEpsilon: 3, orders: ORDERS }, RDP);
    const before = ledger.spent().epsilon;
    const reserved = ledger.reserve(1, SUB);
    assert.equal(reserved.status, 'reserved');
    assert.ok(ledger.spent().epsilon > before);
    assert.equal(ledger.spent().epsilon, reserved.cumulativeEpsilon);
    ledger.close();
  });

  it('two handles on one file cannot both reserve past the budget', () => {
    const path = fresh();
    const config = { delta: 1e-5, targetEpsilon: 3, orders: ORDERS };
    const a = PrivacyLedger.open(path, config, RDP);
    const b = PrivacyLedger.open(path, config, RDP);
    // Each handle checks first against what it has seen; both would fit if the other did not exist.
    let turn = 0;
    const refused = new Set<string>();
    while (refused.size < 2) {
      const [me, name] = turn++ % 2 === 0 ? [a, 'a'] : [b, 'b'];
      try {
        me.reserveNext(SUB);
      } catch (error) {
        if (!(error instanceof BudgetExceededError)) throw error;
        refused.add(name);
      }
    }
    const rounds = a.rounds();
    assert.deepEqual(b.rounds(), rounds);
    assert.ok(new Set(rounds.map((r) => r.session)).size === 2, 'both handles reserved rounds');
    const spent = a.spent().epsilon;
    assert.ok(spent <= 3);
    assert.equal(b.spent().epsilon, spent);
    const alone = new RdpAccountant(ORDERS)
      .compose({ q: 0.05, sigma: 1.1 }, 20 * rounds.length)
      .epsilon(1e-5);
    assert.ok(Math.abs(spent - alone.epsilon) <= 1e-12 * alone.epsilon);
    // A stale handle that reserves by number is refused too, not just the one that saw the last write.
    assert.throws(() => a.reserve(a.nextRound(), SUB), BudgetExceededError);
    a.close();
    b.close();
  });
});
