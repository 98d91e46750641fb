// The privacy ledger (src/dp/ledger.ts): the file it creates, resuming it, failing closed on a
// misconfiguration or a damaged file (and leaving that file alone), the round transitions, the
// counting rule for aborted rounds, the report, and what a failure does to the handle.
// The real-kill crash test is ledger-crash.test.ts; the budget stop is budget.test.ts; accounting by
// the tighter of RDP and PLD, and the migration of version-1 files, ledger-pld.test.ts. Here the
// ledgers account with RDP alone (accountant 'rdp') so that ε can be checked against the RDP curves.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { RoundMechanism } from '../../src/dp/budget.ts';
import { epsilonFromRdp } from '../../src/dp/conversion.ts';
import {
  LedgerClosedError,
  type LedgerConfig,
  LedgerConfigError,
  LedgerCorruptError,
  LedgerStateError,
  PrivacyLedger,
} from '../../src/dp/ledger.ts';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../src/dp/ledger-schema.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { computeRdp } from '../../src/dp/rdp.ts';

const dir = mkdtempSync(join(tmpdir(), 'privagg-ledger-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(dir, `ledger-${++files}.db`);

const ORDERS = [1.5, 2, 3, 4, 6, 8, 16, 32, 64];
const CONFIG: LedgerConfig = { delta: 1e-5, targetEpsilon: 10, orders: ORDERS };
const SUB: RoundMechanism = { kind: 'subsampled-gaussian', q: 0.01, sigma: 1.0, sensitivity: 2, steps: 10 };
const CENTRAL: RoundMechanism = { kind: 'gaussian-central', sigma: 8, sensitivity: 1 };

/** A clock that ticks one second per call, from a fixed start. */
function clock(): () => Date {
  let t = Date.UTC(2025, 0, 1);
  return () => {
    t += 1000;
    return new Date(t);
  };
}

function open(path: string, config: LedgerConfig = CONFIG, options = {}): PrivacyLedger {
  return PrivacyLedger.open(path, config, { now: clock(), accountant: 'rdp', ...options });
}

/** A ledger with rounds 1 (released), 2 (released), 3 (reserved). */
function populated(): { path: string; ledger: PrivacyLedger } {
  const path = fresh();
  const ledger = open(path);
  ledger.reserve(1, SUB);
  ledger.release(1);
  ledger.reserve(2, CENTRAL);
  ledger.release(2);
  ledger.reserve(3, SUB);
  return { path, ledger };
}

function raw(path: string): Database.Database {
  return new Database(path, { fileMustExist: true });
}

describe('creating and resuming', () => {
  it('creates a versioned, identified WAL file with the configuration and no rounds', () => {
    const path = fresh();
    const ledger = open(path);
    assert.equal(ledger.nextRound(), 1);
    assert.deepEqual(ledger.spent(), { epsilon: 0, order: 1.5, rounds: 0, accountant: 'rdp' });
    assert.equal(ledger.createdAt, '2025-01-01T00:00:01.000Z');
    ledger.close();
    const db = raw(path);
    try {
      assert.equal(db.pragma('application_id', { simple: true }), APPLICATION_ID);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT * FROM meta').all(), [
        {
          id: 1,
          schema_version: 2,
          accounting: 'rdp',
          conversion: 'improved',
          delta: 1e-5,
          target_epsilon: 10,
          orders: JSON.stringify(ORDERS),
          created_at: '2025-01-01T00:00:01.000Z',
        },
      ]);
    } finally {
      db.close();
    }
    // No temporary file is left beside it.
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('creating')),
      [],
    );
  });

  it('records each round: mechanism, parameters, curve, its ε and the cumulative ε', () => {
    const { path, ledger } = populated();
    const rounds = ledger.rounds();
    assert.deepEqual(
      rounds.map((r) => [r.round, r.mechanism, r.status, r.counted]),
      [
        [1, 'subsampled-gaussian', 'released', true],
        [2, 'gaussian-central', 'released', true],
        [3, 'subsampled-gaussian', 'reserved', true],
      ],
    );
    const [one, two, three] = rounds as [(typeof rounds)[0], (typeof rounds)[0], (typeof rounds)[0]];
    assert.deepEqual(one.params, { q: 0.01, sigma: 1, sensitivity: 2, steps: 10 });
    assert.deepEqual(two.params, { sigma: 8, sensitivity: 1, steps: 1 });
    const c1 = computeRdp({ q: 0.01, sigma: 1, steps: 10, orders: ORDERS });
    const c2 = computeRdp({ q: 1, sigma: 8, steps: 1, orders: ORDERS });
    assert.deepEqual(one.rdp, c1);
    assert.deepEqual(two.rdp, c2);
    const eps = (rdp: number[]) => epsilonFromRdp(ORDERS, rdp, 1e-5).epsilon;
    assert.equal(one.epsilon, eps(c1));
    assert.equal(one.cumulativeEpsilon, eps(c1));
    assert.equal(two.epsilon, eps(c2));
    assert.equal(two.cumulativeEpsilon, eps(c1.map((r, k) => r + c2[k]!)));
    const all = c1.map((r, k) => 2 * r + c2[k]!);
    assert.equal(three.cumulativeEpsilon, eps(all));
    assert.equal(ledger.spent().epsilon, eps(all));
    assert.ok(
      ledger.spent().epsilon < one.epsilon + two.epsilon + three.epsilon,
      'RDP composition is tighter',
    );
    assert.equal(one.reservedAt, '2025-01-01T00:00:02.000Z');
    assert.equal(one.releasedAt, '2025-01-01T00:00:03.000Z');
    assert.equal(three.releasedAt, null);
    ledger.close();
    assert.ok(existsSync(path));
  });

  it('resumes from the file after a restart, with the same rounds, ε and next round', () => {
    const { path, ledger } = populated();
    const before = { rounds: ledger.rounds(), spent: ledger.spent(), next: ledger.nextRound() };
    ledger.close();
    const again = open(path, CONFIG, { mustExist: true });
    assert.deepEqual(again.rounds(), before.rounds);
    assert.deepEqual(again.spent(), before.spent);
    assert.equal(again.nextRound(), 4);
    again.close();
  });

  it('stores an infinite RDP value of a precomputed curve and reads it back as +∞', () => {
    const ledger = open(fresh());
    const rdp = ORDERS.map((a, k) => (k < 2 ? Infinity : a * 1e-3));
    const r = ledger.reserve(1, {
      kind: 'precomputed',
      name: 'distributed-dgauss',
      params: { sigma: 3.2 },
      orders: ORDERS,
      rdp,
    });
    assert.equal(r.mechanism, 'distributed-dgauss');
    assert.deepEqual(r.rdp, rdp);
    assert.ok(Number.isFinite(ledger.spent().epsilon));
    ledger.close();
  });
});

describe('a misconfiguration fails closed', () => {
  const mismatches: [string, LedgerConfig, RegExp][] = [
    ['δ', { ...CONFIG, delta: 1e-6 }, /created with δ 1e-5, not 1e-6/],
    ['target ε', { ...CONFIG, targetEpsilon: 20 }, /target ε 10, not 20/],
    ['orders', { ...CONFIG, orders: [...ORDERS, 128] }, /other Rényi orders \(9 stored, 10 given/],
    ['default orders', { delta: 1e-5, targetEpsilon: 10 }, /other Rényi orders \(9 stored, 156 given/],
    ['conversion', { ...CONFIG, conversion: 'classic' }, /'improved' conversion, not 'classic'/],
  ];
  for (const [what, config, message] of mismatches) {
    it(`refuses to open an existing ledger with another ${what}, and changes nothing`, () => {
      const { path, ledger } = populated();
      const before = ledger.rounds();
      const spent = ledger.spent();
      ledger.close();
      assert.throws(
        () => open(path, config),
        (e: unknown) => e instanceof LedgerConfigError && message.test(e.message),
      );
      const again = open(path);
      assert.deepEqual(again.rounds(), before);
      assert.deepEqual(again.spent(), spent);
      again.close();
    });
  }

  it('rejects an invalid configuration before touching the disk', () => {
    const bad: [LedgerConfig, typeof TypeError | typeof RangeError][] = [
      [{ delta: 0, targetEpsilon: 1 }, RangeError],
      [{ delta: 1, targetEpsilon: 1 }, RangeError],
      [{ delta: Number.NaN, targetEpsilon: 1 }, RangeError],
      [{ delta: '1e-5' as unknown as number, targetEpsilon: 1 }, TypeError],
      [{ delta: 1e-5, targetEpsilon: 0 }, RangeError],
      [{ delta: 1e-5, targetEpsilon: Infinity }, RangeError],
      [{ delta: 1e-5, targetEpsilon: -1 }, RangeError],
      [{ delta: 1e-5, targetEpsilon: 1, orders: [] }, RangeError],
      [{ delta: 1e-5, targetEpsilon: 1, orders: [1, 2] }, RangeError],
      [{ delta: 1e-5, targetEpsilon: 1, conversion: 'best' as 'classic' }, RangeError],
    ];
    for (const [config, type] of bad) {
      const path = fresh();
      assert.throws(() => open(path, config), type, JSON.stringify(config));
      assert.equal(existsSync(path), false);
    }
    assert.throws(() => open(':memory:'), RangeError);
    assert.throws(() => open(''), RangeError);
  });

  it('with mustExist, refuses a missing file instead of starting afresh', () => {
    const path = fresh();
    assert.throws(() => open(path, CONFIG, { mustExist: true }), LedgerConfigError);
    assert.equal(existsSync(path), false);
  });

  it('refuses a path whose directory does not exist', () => {
    const path = join(dir, 'no-such-dir', 'x.db');
    assert.throws(() => open(path), LedgerConfigError);
    assert.equal(existsSync(join(dir, 'no-such-dir')), false);
  });
});

describe('a damaged or foreign file fails closed and is left alone', () => {
  function refuses(path: string, pattern: RegExp): void {
    const bytes = readFileSync(path);
    assert.throws(
      () => open(path),
      (e: unknown) => e instanceof LedgerCorruptError && pattern.test(e.message),
    );
    assert.deepEqual(readFileSync(path), bytes, 'the file is not modified');
  }

  it('refuses a file of random bytes', () => {
    const path = fresh();
    writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
    refuses(path, /cannot read|not a database/);
  });

  it('refuses an empty file', () => {
    const path = fresh();
    writeFileSync(path, '');
    refuses(path, /not a privagg privacy ledger/);
  });

  it('refuses another application’s SQLite database', () => {
    const path = fresh();
    const db = new Database(path);
    db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)');
    db.close();
    refuses(path, /not a privagg privacy ledger/);
  });

  it('refuses a truncated ledger', () => {
    const { path, ledger } = populated();
    ledger.checkpoint();
    ledger.close();
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    refuses(path, /corrupt|malformed|cannot read/);
  });

  it('refuses a ledger of another schema version', () => {
    const { path, ledger } = populated();
    ledger.close();
    const db = raw(path);
    db.pragma('user_version = 3');
    db.close();
    refuses(path, /schema version 3; this build reads versions 1 \(migrating it\) and 2/);
  });

  it('refuses a ledger holding a malformed row', () => {
    const { path, ledger } = populated();
    ledger.close();
    const db = raw(path);
    // Bypasses the ledger: a curve with one value too few (the CHECKs only see a JSON array).
    db.prepare(
      `INSERT INTO rounds (round, mechanism, params, rdp, epsilon, cumulative_epsilon, status, counted, session, reserved_at)
       VALUES (9, 'x', '{}', ?, 0, 0, 'reserved', 1, 's', 't')`,
    ).run(JSON.stringify(ORDERS.slice(1).map(() => 0)));
    db.close();
    refuses(path, /round 9: the RDP curve has 8 values for 9 orders/);
  });

  it('the database itself refuses to delete a round or rewrite its cost', () => {
    const { path, ledger } = populated();
    ledger.close();
    const db = raw(path);
    try {
      assert.throws(() => db.prepare('DELETE FROM rounds WHERE round = 1').run(), /never deleted/);
      assert.throws(() => db.prepare("UPDATE rounds SET rdp = '[]' WHERE round = 3").run(), /illegal/);
      assert.throws(
        () => db.prepare("UPDATE rounds SET status = 'reserved' WHERE round = 1").run(),
        /illegal/,
      );
      assert.throws(() => db.prepare('UPDATE rounds SET counted = 0 WHERE round = 1').run(), /illegal|CHECK/);
      assert.throws(() => db.prepare('UPDATE meta SET target_epsilon = 100').run(), /immutable/);
      assert.throws(() => db.prepare('DELETE FROM meta').run(), /never deleted/);
    } finally {
      db.close();
    }
  });
});

describe('round transitions', () => {
  it('refuses illegal transitions and changes nothing', () => {
    const { ledger } = populated();
    const before = ledger.rounds();
    const attempts: [() => unknown, RegExp][] = [
      [() => ledger.reserve(3, SUB), /round 3 is already in the ledger \(reserved\)/],
      [() => ledger.reserve(2, SUB), /round 2 is already in the ledger \(released\)/],
      [() => ledger.release(1), /cannot release round 1: it is released/],
      [() => ledger.release(7), /cannot release round 7: it is not in the ledger/],
      [
        () => ledger.abort(2, { reason: 'late', nothingReleased: true }),
        /cannot abort round 2: it is released/,
      ],
      [() => ledger.abort(8, { reason: 'x', nothingReleased: false }), /not in the ledger/],
    ];
    for (const [attempt, message] of attempts)
      assert.throws(attempt, (e: unknown) => e instanceof LedgerStateError && message.test(e.message));
    assert.deepEqual(ledger.rounds(), before);
    // The handle is still usable after a refusal.
    ledger.release(3);
    assert.throws(() => ledger.abort(3, { reason: 'x', nothingReleased: true }), LedgerStateError);
    ledger.close();
  });

  it('refuses a round number that is not above every round in the ledger, even with a gap', () => {
    const ledger = open(fresh());
    ledger.reserve(5, CENTRAL); // a gap is allowed
    assert.equal(ledger.nextRound(), 6);
    assert.throws(
      () => ledger.reserve(4, CENTRAL),
      /round 4 is not after the last round in the ledger \(5\)/,
    );
    assert.throws(() => ledger.reserve(0, CENTRAL), RangeError);
    assert.throws(() => ledger.reserve(1.5, CENTRAL), RangeError);
    assert.equal(ledger.reserveNext(CENTRAL).round, 6);
    ledger.close();
  });

  it('validates the mechanism and the abort details before writing anything', () => {
    const { ledger } = populated();
    const before = ledger.rounds();
    assert.throws(
      () => ledger.reserve(4, { kind: 'gaussian-central', sigma: -1, sensitivity: 1 }),
      RangeError,
    );
    assert.throws(() => ledger.abort(3, { reason: '', nothingReleased: true }), RangeError);
    assert.throws(() => ledger.abort(3, { reason: 'x' } as never), TypeError);
    assert.deepEqual(ledger.rounds(), before);
    ledger.close();
  });
});

describe('the counting rule for aborted rounds', () => {
  it('refunds a round aborted by the handle that reserved it, when nothing was released', () => {
    const { ledger } = populated();
    const withThree = ledger.spent();
    const aborted = ledger.abort(3, { reason: 'too few clients at unmasking', nothingReleased: true });
    assert.equal(aborted.status, 'aborted');
    assert.equal(aborted.counted, false);
    assert.equal(aborted.abortReason, 'too few clients at unmasking');
    const spent = ledger.spent();
    assert.equal(spent.rounds, 2);
    assert.ok(spent.epsilon < withThree.epsilon);
    const rounds = ledger.rounds();
    const expected = epsilonFromRdp(
      ORDERS,
      rounds[0]!.rdp.map((r, k) => r + rounds[1]!.rdp[k]!),
      1e-5,
    ).epsilon;
    assert.equal(spent.epsilon, expected);
    assert.equal(ledger.nextRound(), 4, 'the number is not reused');
    ledger.close();
  });

  it('keeps counting a round aborted after something may have been released', () => {
    const { ledger } = populated();
    const before = ledger.spent();
    const aborted = ledger.abort(3, {
      reason: 'unmasking failed after shares were sent',
      nothingReleased: false,
    });
    assert.equal(aborted.status, 'aborted');
    assert.equal(aborted.counted, true);
    assert.deepEqual(ledger.spent(), before);
    ledger.close();
  });

  it('does not let another handle on the same file refund a round it did not reserve', () => {
    const { path, ledger } = populated();
    const before = ledger.spent();
    const other = open(path);
    assert.equal(other.abort(3, { reason: 'not mine', nothingReleased: true }).counted, true);
    assert.deepEqual(ledger.spent(), before);
    other.close();
    ledger.close();
  });

  it('keeps counting a round left reserved by a crash, even if the restarted process aborts it', () => {
    const { path, ledger } = populated();
    const before = ledger.spent();
    ledger.close(); // the process "dies" with round 3 reserved

    const restarted = open(path);
    assert.deepEqual(restarted.spent(), before);
    assert.deepEqual(restarted.report().unsettled, [3]);
    const aborted = restarted.abort(3, { reason: 'coordinator restarted', nothingReleased: true });
    assert.equal(aborted.counted, true, 'a new handle cannot know that nothing escaped');
    assert.deepEqual(restarted.spent(), before);
    assert.deepEqual(restarted.report().unsettled, []);
    restarted.close();
  });
});

describe('report', () => {
  it('summarises the ledger as JSON, without the curves', () => {
    const { path, ledger } = populated();
    ledger.abort(3, { reason: 'dropouts', nothingReleased: true });
    const report = ledger.report();
    const parsed = JSON.parse(JSON.stringify(report));
    assert.deepEqual(parsed, report);
    assert.equal(report.path, path);
    assert.equal(report.schemaVersion, 2);
    assert.equal(report.accounting, 'rdp');
    assert.equal(report.delta, 1e-5);
    assert.equal(report.targetEpsilon, 10);
    assert.deepEqual(report.orders, ORDERS);
    assert.equal(report.spent.rounds, 2);
    assert.equal(report.spent.epsilon, ledger.spent().epsilon);
    assert.equal(report.headroom, 10 - report.spent.epsilon);
    assert.equal(report.nextRound, 4);
    assert.deepEqual(
      report.rounds.map((r) => [r.round, r.status, r.counted]),
      [
        [1, 'released', true],
        [2, 'released', true],
        [3, 'aborted', false],
      ],
    );
    assert.equal('rdp' in report.rounds[0]!, false);
    ledger.close();
  });

  it('reports an empty ledger', () => {
    const ledger = PrivacyLedger.open(fresh(), { delta: 1e-6, targetEpsilon: 1 }, { accountant: 'rdp' });
    const report = ledger.report();
    assert.deepEqual(report.spent, { epsilon: 0, order: 1.1, rounds: 0, accountant: 'rdp' });
    assert.deepEqual(report.orders, DEFAULT_RDP_ORDERS);
    assert.deepEqual(report.rounds, []);
    ledger.close();
  });
});

describe('failures close the handle', () => {
  it('an error inside a write transaction rolls it back; every later call says the handle failed', () => {
    const path = fresh();
    const ledger = open(path, CONFIG, {
      beforeCommit: (operation: string, round: number) => {
        if (operation === 'reserve' && round === 2) throw new Error('disk on fire');
      },
    });
    ledger.reserve(1, SUB);
    assert.throws(
      () => ledger.reserve(2, SUB),
      (e: unknown) => e instanceof LedgerClosedError && /disk on fire/.test(e.message),
    );
    assert.throws(
      () => ledger.spent(),
      (e: unknown) => e instanceof LedgerClosedError && /failed earlier \(disk on fire\)/.test(e.message),
    );
    assert.throws(() => ledger.release(1), LedgerClosedError);
    ledger.close(); // harmless

    const again = open(path);
    assert.deepEqual(
      again.rounds().map((r) => r.round),
      [1],
      'the failed reservation was rolled back',
    );
    again.close();
  });

  it('a closed handle refuses every call', () => {
    const ledger = open(fresh());
    ledger.close();
    ledger.close();
    assert.throws(() => ledger.nextRound(), /is closed/);
    assert.throws(() => ledger.reserve(1, SUB), LedgerClosedError);
  });

  it('two handles opened on one path share one ledger, and a mismatched third is refused', () => {
    const sub = join(dir, 'race');
    mkdirSync(sub);
    const path = join(sub, 'shared.db');
    const a = open(path);
    const b = open(path);
    a.reserve(1, SUB);
    assert.equal(b.nextRound(), 2);
    a.close();
    b.close();
    assert.throws(() => open(path, { ...CONFIG, targetEpsilon: 11 }), LedgerConfigError);
    assert.deepEqual(
      readdirSync(sub).filter((f) => f.includes('creating')),
      [],
    );
  });
});
