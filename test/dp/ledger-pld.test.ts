// The privacy ledger with two accountants (src/dp/ledger.ts, budget.ts, tightest.ts): ε is the smaller
// of RDP's and the PLD accountant's bound when every counted round recorded its PLD, RDP's otherwise;
// recomputed the same after a restart; and a version-1 file (RDP curves only) is migrated in place —
// its rounds keep RDP accounting and can never gain a PLD — or refused, naming why.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { RdpAccountant } from '../../src/dp/accountant.ts';
import { BudgetExceededError, checkBudget, type RoundMechanism, roundCost } from '../../src/dp/budget.ts';
import { LedgerConfigError, LedgerCorruptError, PrivacyLedger } from '../../src/dp/ledger.ts';
import { APPLICATION_ID, SCHEMA_V1_SQL } from '../../src/dp/ledger-schema.ts';
import { PldAccountant } from '../../src/dp/pld-accountant.ts';

const dir = mkdtempSync(join(tmpdir(), 'privagg-ledger-pld-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(dir, `ledger-${++files}.db`);

const ORDERS = [1.5, 2, 3, 4, 6, 8, 16, 32, 64];
const CONFIG = { delta: 1e-5, targetEpsilon: 8, orders: ORDERS } as const;
// The main job's operating point: q = 1, σ = 2.49 (README reference: RDP 7.92, PLD 7.36 for 15).
const ROUND: RoundMechanism = { kind: 'gaussian-central', sigma: 2.49, sensitivity: 1 };

function pldOf(rounds: number): number {
  return new PldAccountant().compose({ kind: 'gaussian', sigma: 2.49, q: 1 }, rounds).epsilon(1e-5).epsilon;
}

function rdpOf(rounds: number): number {
  return new RdpAccountant(ORDERS).compose({ q: 1, sigma: 2.49 }, rounds).epsilon(1e-5).epsilon;
}

describe('the ledger accounts with the tighter bound', () => {
  it('takes rounds RDP would refuse when the PLD bound keeps them within the budget', () => {
    const path = fresh();
    const ledger = PrivacyLedger.open(path, CONFIG);
    let taken = 0;
    for (;;) {
      try {
        ledger.release(ledger.reserveNext(ROUND).round);
        taken++;
      } catch (error) {
        if (error instanceof BudgetExceededError) break;
        throw error;
      }
    }
    // RDP allows 14 rounds at ε ≤ 8 (7.92 for 15 is RDP with the default orders; here fewer orders).
    assert.ok(rdpOf(taken) > 8, `${taken} rounds: RDP ${rdpOf(taken)} must be above the budget`);
    assert.ok(pldOf(taken) <= 8 && pldOf(taken + 1) > 8);
    const spent = ledger.spent();
    assert.equal(spent.accountant, 'pld');
    assert.equal(spent.rounds, taken);
    assert.ok(Math.abs(spent.epsilon - pldOf(taken)) < 1e-12);
    assert.equal(ledger.report().spent.accountant, 'pld');
    // The stored rows carry the PLD, and a restart recomputes the same ε from them.
    assert.deepEqual(ledger.round(1)!.pld, { event: { kind: 'gaussian', sigma: 2.49, q: 1 }, count: 1 });
    ledger.close();
    const again = PrivacyLedger.open(path, CONFIG, { mustExist: true });
    assert.deepEqual(again.spent(), spent);
    assert.throws(() => again.reserveNext(ROUND), BudgetExceededError);
    again.close();
    // Pinned to RDP, the same file counts more.
    const rdp = PrivacyLedger.open(path, CONFIG, { mustExist: true, accountant: 'rdp' });
    assert.equal(rdp.spent().accountant, 'rdp');
    assert.ok(Math.abs(rdp.spent().epsilon - rdpOf(taken)) < 1e-9);
    rdp.close();
  });

  it('falls back to RDP while any counted round has no PLD', () => {
    const ledger = PrivacyLedger.open(fresh(), CONFIG);
    ledger.reserve(1, ROUND);
    assert.equal(ledger.spent().accountant, 'pld');
    const curve = roundCost(ROUND, ORDERS).rdp;
    ledger.reserve(2, { kind: 'precomputed', name: 'curve-only', params: {}, orders: ORDERS, rdp: curve });
    assert.equal(ledger.spent().accountant, 'rdp');
    assert.ok(Math.abs(ledger.spent().epsilon - rdpOf(2)) < 1e-9);
    // An aborted, refunded round stops counting, and with it its missing PLD.
    ledger.abort(2, { reason: 'test', nothingReleased: true });
    assert.equal(ledger.spent().accountant, 'pld');
    ledger.close();
  });

  it('checkBudget: the smaller valid bound decides, and a precomputed PLD is validated', () => {
    const cost = roundCost(ROUND, ORDERS);
    let n = 1;
    while (rdpOf(n) <= 8) n++; // the first round RDP refuses
    assert.ok(pldOf(n) <= 8);
    const spentRdp = ORDERS.map((_, k) => (n - 1) * cost.rdp[k]!);
    const base = {
      round: n,
      orders: ORDERS,
      spentRdp,
      cost,
      delta: 1e-5,
      targetEpsilon: 8,
      conversion: 'improved',
    } as const;
    assert.throws(() => checkBudget(base), BudgetExceededError); // no PLD for the spent rounds: RDP
    const check = checkBudget({
      ...base,
      spentPld: [{ event: { kind: 'gaussian', sigma: 2.49, q: 1 }, count: n - 1 }],
    });
    assert.equal(check.accountant, 'pld');
    assert.ok(Math.abs(check.epsilonAfter - pldOf(n)) < 1e-12);
    assert.throws(
      () =>
        roundCost(
          {
            kind: 'precomputed',
            name: 'x',
            params: {},
            orders: ORDERS,
            rdp: cost.rdp,
            pld: { event: { kind: 'gaussian', sigma: -1, q: 1 }, count: 1 },
          } as never,
          ORDERS,
        ),
      /mechanism\.pld\.event\.sigma/,
    );
  });
});

/** A version-1 ledger as the previous build wrote it: the v1 schema, two released rounds. */
function versionOne(path: string): readonly number[] {
  const db = new Database(path);
  const curve = roundCost(ROUND, ORDERS).rdp;
  db.transaction(() => {
    db.exec(SCHEMA_V1_SQL);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma('user_version = 1');
    db.prepare(
      `INSERT INTO meta (id, schema_version, accounting, conversion, delta, target_epsilon, orders, created_at)
       VALUES (1, 1, 'rdp', 'improved', 1e-5, 8, ?, '2024-01-01T00:00:00.000Z')`,
    ).run(JSON.stringify(ORDERS));
    for (const round of [1, 2]) {
      db.prepare(
        `INSERT INTO rounds (round, mechanism, params, rdp, epsilon, cumulative_epsilon, status, counted, session,
                             reserved_at, released_at)
         VALUES (?, 'gaussian-central', '{"sigma":2.49,"sensitivity":1,"steps":1}', ?, 1, 2, 'released', 1, 's',
                 '2024-01-01T00:00:01.000Z', '2024-01-01T00:00:02.000Z')`,
      ).run(round, JSON.stringify(curve));
    }
  })();
  db.pragma('journal_mode = WAL');
  db.close();
  return curve;
}

describe('a version-1 ledger', () => {
  it('is migrated when opened: its rounds keep RDP accounting and can never gain a PLD', () => {
    const path = fresh();
    versionOne(path);
    const ledger = PrivacyLedger.open(path, CONFIG, { mustExist: true });
    assert.equal(ledger.spent().accountant, 'rdp');
    assert.equal(ledger.spent().rounds, 2);
    assert.ok(Math.abs(ledger.spent().epsilon - rdpOf(2)) < 1e-9);
    assert.equal(ledger.round(1)!.pld, null);
    // New rounds record their PLD, but ε stays RDP's while the old rounds count.
    ledger.reserve(3, ROUND);
    assert.notEqual(ledger.round(3)!.pld, null);
    assert.equal(ledger.spent().accountant, 'rdp');
    assert.ok(Math.abs(ledger.spent().epsilon - rdpOf(3)) < 1e-9);
    assert.equal(ledger.report().schemaVersion, 2);
    ledger.close();
    const db = new Database(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), 2);
      assert.deepEqual(db.prepare('SELECT from_version, to_version FROM migrations').all(), [
        { from_version: 1, to_version: 2 },
      ]);
      assert.throws(
        () =>
          db
            .prepare(
              `UPDATE rounds SET pld = '{"event":{"kind":"gaussian","sigma":100,"q":1},"count":1}' WHERE round = 1`,
            )
            .run(),
        /illegal privacy ledger transition/,
      );
    } finally {
      db.close();
    }
    // Opening again does not migrate twice.
    PrivacyLedger.open(path, CONFIG, { mustExist: true }).close();
  });

  it('is refused, naming the reason, when it cannot be migrated', () => {
    const path = fresh();
    versionOne(path);
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      assert.throws(
        () => PrivacyLedger.open(path, CONFIG, { mustExist: true, busyTimeoutMs: 0 }),
        (e: unknown) =>
          (e instanceof LedgerConfigError && /schema version 1 and could not be migrated/.test(e.message)) ||
          (e instanceof LedgerCorruptError && /locked/.test(e.message)),
      );
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const db = new Database(path);
    assert.equal(db.pragma('user_version', { simple: true }), 1, 'left as it was');
    db.close();
  });

  it('a round whose stored PLD does not decode makes the file corrupt', () => {
    const path = fresh();
    const ledger = PrivacyLedger.open(path, CONFIG);
    ledger.reserve(1, ROUND);
    ledger.close();
    const db = new Database(path);
    db.exec('DROP TRIGGER rounds_only_leave_reserved');
    db.prepare(`UPDATE rounds SET pld = '{"event":{"kind":"gaussian","sigma":0,"q":1},"count":1}'`).run();
    db.close();
    assert.throws(
      () => PrivacyLedger.open(path, CONFIG),
      (e: unknown) => e instanceof LedgerCorruptError && /PLD/.test(e.message),
    );
  });
});
