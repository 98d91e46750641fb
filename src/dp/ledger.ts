/**
 * The privacy ledger: a durable, append-only record of what each round of a run spent in
 * differential privacy, and the budget that stops the run before it spends more than its target.
 * One SQLite file (better-sqlite3) per run; the format is ./ledger-schema.ts, the arithmetic
 * ./budget.ts.
 *
 * Call order for a coordinator:
 *   1. `PrivacyLedger.open(path, { delta, targetEpsilon })` — creates the file, or resumes it.
 *   2. Per round: `reserve(round, mechanism)` (or `reserveNext`) BEFORE the round starts. It throws
 *      {@link BudgetExceededError} if the round would take ε past the target: do not start it.
 *   3. `release(round)` once the result exists and BEFORE handing it to anyone, then publish; or
 *      `abort(round, …)` if the round ends without a result.
 *   4. `close()`.
 *
 * Counting rule: ε is never under-counted.
 * - A round counts from the moment its reservation commits, before it has run. The budget check and
 *   the insert are one `BEGIN IMMEDIATE` transaction, so two coordinators sharing a file cannot
 *   both reserve past the budget.
 * - A released round counts.
 * - A reserved round that is never settled (the process died, the machine lost power) counts, for
 *   ever: whoever opens the ledger next cannot know whether the result escaped before the crash.
 * - An aborted round counts, with one exception, the refund: `abort(round, { nothingReleased: true })`
 *   called on the same ledger handle that reserved the round, while it is still `reserved`. The
 *   caller asserts that no noised output of the round (the sum, or anything from which it can be
 *   rebuilt) left the coordinator; the outputs actually released are then those of a run that
 *   never held the round, and discarding an output costs no privacy (post-processing). A restarted
 *   process holds a new handle, so it can never refund a round reserved before the restart.
 *   With distributed noise the coordinator is one of the parties the noise protects against, so
 *   there "left the coordinator" must read "reached the coordinator": refund only a round that
 *   aborted before the coordinator could unmask the sum. What the refund does not cover is the
 *   abort itself: if whether a round aborts depends on the data (say, on which clients drop out),
 *   the fact that it aborted is an output. Callers who cannot rule that out should pass
 *   `nothingReleased: false`.
 * Cumulative ε is always recomputed from what the rows store: by adding the counted rounds' RDP
 * curves order by order and converting once at δ, and — when every counted round also stored its
 * privacy loss distribution (schema version 2) — by composing those with the PLD accountant; the
 * smaller of the two valid bounds counts (./budget.ts, ./tightest.ts; the `accountant` option can
 * pin one). Each row also stores its own ε and the cumulative ε at its reservation, for the record.
 * The PLD computation is deterministic, so a restarted process recomputes the same ε.
 *
 * Durability: WAL journal with `synchronous = FULL` (each commit is fsynced before it returns), and
 * a new file is created complete or not at all (built under a temporary name, then hard-linked into
 * place, which fails if the name exists). A version-1 file (RDP curves only) is migrated to version 2
 * in one transaction when opened (./ledger-schema.ts); its old rounds keep RDP accounting. A file
 * that is not a complete ledger of a known version, or whose δ, target, orders or conversion differ
 * from the configuration given, is refused: the ledger never starts afresh silently.
 *
 * Errors: {@link BudgetExceededError} and {@link LedgerStateError} (a call that is illegal in the
 * round's state) change nothing and leave the handle usable. Any other failure during an operation
 * (an I/O error, a lock held past the busy timeout, a corrupt row) closes the handle; every later
 * call throws {@link LedgerClosedError}, and the ledger must be reopened.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type BudgetCheck,
  BudgetExceededError,
  checkBudget,
  formatDelta,
  type RoundCost,
  type RoundMechanism,
  roundCost,
} from './budget.ts';
import type { Conversion } from './conversion.ts';
import {
  APPLICATION_ID,
  decodeRound,
  encodeCurve,
  type LedgerRound,
  type MetaRow,
  MIGRATE_V1_TO_V2,
  type RoundRow,
  SCHEMA_V1_SQL,
  SCHEMA_VERSION,
} from './ledger-schema.ts';
import { DEFAULT_RDP_ORDERS } from './orders.ts';
import { type AccountantChoice, groupPld, type PldRounds, tightEpsilon } from './tightest.ts';
import { assertCount, assertInRange, assertNonNegative, assertOrders } from './validate.ts';

export type { LedgerRound, RoundStatus } from './ledger-schema.ts';

/** The run's privacy budget and accounting; fixed when the ledger file is created. */
export interface LedgerConfig {
  /** δ, in (0, 1). */
  readonly delta: number;
  /** The ε not to exceed, finite and > 0. */
  readonly targetEpsilon: number;
  /** Rényi orders to account at; default {@link DEFAULT_RDP_ORDERS}. */
  readonly orders?: readonly number[];
  /** RDP → (ε, δ) conversion; default `'improved'` (see ./conversion.ts). */
  readonly conversion?: Conversion;
}

/** How to open the ledger. */
export interface LedgerOptions {
  /**
   * Refuse to create the file if it does not exist (for a restart, where a missing file means a
   * wrong path or a lost ledger, not a new run). Default false: a missing file is created.
   */
  readonly mustExist?: boolean;
  /** How long to wait for another process's write lock, in ms; default 5000. */
  readonly busyTimeoutMs?: number;
  /** The clock for timestamps; default `() => new Date()`. */
  readonly now?: () => Date;
  /**
   * Which bound ε is computed with: 'rdp', 'pld' (falls back to RDP while some counted round has no
   * PLD) or 'tightest', the smaller valid one (default). Not part of the file's configuration: every
   * choice is a valid upper bound.
   */
  readonly accountant?: AccountantChoice;
  /**
   * For crash tests only: called inside each write transaction after the row is written and before
   * the commit. Whatever it throws rolls the transaction back and closes the handle.
   */
  readonly beforeCommit?: (operation: 'reserve' | 'release' | 'abort', round: number) => void;
}

/** What has been spent. */
export interface Spent {
  /** ε of every counted round composed, at the ledger's δ; 0 when nothing is counted. */
  readonly epsilon: number;
  /** The RDP order achieving RDP's bound. */
  readonly order: number;
  /** How many rounds are counted. */
  readonly rounds: number;
  /** Which accountant's bound `epsilon` is. */
  readonly accountant: 'rdp' | 'pld';
}

/** How a round ended without a result: see the counting rule in the module documentation. */
export interface AbortInfo {
  /** Why, for the record; a non-empty string of at most 1000 characters. */
  readonly reason: string;
  /**
   * True only if no noised output of the round left the coordinator. A refund is granted only when
   * this is true and this handle reserved the round.
   */
  readonly nothingReleased: boolean;
}

/** The JSON summary of a ledger ({@link PrivacyLedger.report}). Non-finite numbers are null. */
export interface LedgerReport {
  readonly path: string;
  readonly schemaVersion: number;
  readonly createdAt: string;
  readonly accounting: 'rdp';
  readonly conversion: Conversion;
  readonly delta: number;
  readonly targetEpsilon: number;
  readonly orders: readonly number[];
  readonly spent: {
    readonly epsilon: number;
    readonly order: number | null;
    readonly rounds: number;
    readonly accountant: 'rdp' | 'pld';
  };
  /** targetEpsilon − spent ε, for display only: ε does not compose additively. */
  readonly headroom: number;
  readonly nextRound: number;
  /** Rounds reserved but neither released nor aborted (in flight, or orphaned by a crash). */
  readonly unsettled: readonly number[];
  readonly rounds: readonly Omit<LedgerRound, 'rdp'>[];
}

/** Base class of the ledger's own errors. */
export class LedgerError extends Error {
  override readonly name: string = 'LedgerError';
}

/** The configuration is invalid for this file, or the file cannot be created: nothing was opened. */
export class LedgerConfigError extends LedgerError {
  override readonly name = 'LedgerConfigError';
}

/** The file is unreadable, not a ledger, of another schema version, or holds a malformed row. */
export class LedgerCorruptError extends LedgerError {
  override readonly name = 'LedgerCorruptError';
}

/** The call is not legal in the round's current state; nothing changed. */
export class LedgerStateError extends LedgerError {
  override readonly name = 'LedgerStateError';
}

/** The handle was closed, by `close()` or by an earlier failure (then the `cause`). */
export class LedgerClosedError extends LedgerError {
  override readonly name = 'LedgerClosedError';
}

/** The counted state, valid for one `PRAGMA data_version` of the connection. */
interface Snapshot {
  readonly version: number;
  /** Sum of the counted rounds' curves, per order. */
  readonly spentRdp: readonly number[];
  /** The counted rounds' PLDs, grouped; undefined if some counted round has none. */
  readonly spentPld: readonly PldRounds[] | undefined;
  readonly counted: number;
  /** The highest round number in the ledger (counted or not); 0 when empty. */
  readonly lastRound: number;
}

interface Checked {
  readonly delta: number;
  readonly targetEpsilon: number;
  readonly orders: readonly number[];
  readonly conversion: Conversion;
}

function checkConfig(config: LedgerConfig): Checked {
  if (typeof config !== 'object' || config === null) throw new TypeError('config must be an object');
  const delta = assertInRange('delta', config.delta, 0, 1);
  if (delta === 0 || delta === 1) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  const targetEpsilon = assertNonNegative('targetEpsilon', config.targetEpsilon, true);
  const orders = assertOrders('orders', config.orders ?? DEFAULT_RDP_ORDERS);
  const conversion = config.conversion ?? 'improved';
  if (conversion !== 'improved' && conversion !== 'classic') {
    throw new RangeError(`conversion must be 'improved' or 'classic', got ${String(conversion)}`);
  }
  return { delta, targetEpsilon, orders, conversion };
}

function checkRound(round: unknown): number {
  const r = assertCount('round', round);
  if (r === 0) throw new RangeError('round must be at least 1, got 0');
  return r;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates a complete ledger file at `path`, or does nothing if a file appeared there meanwhile. The
 * schema and configuration are committed to a temporary file in the same directory, which is then
 * hard-linked to `path`: `link` fails if `path` exists, so a racing creator's file is never
 * overwritten, and a crash leaves either no ledger or a whole one (plus, at worst, a stray
 * temporary file).
 */
function createFile(path: string, config: Checked, createdAt: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.creating-${process.pid}-${randomUUID()}`);
  let db: Database.Database;
  try {
    db = new Database(tmp);
  } catch (error) {
    throw new LedgerConfigError(`cannot create a privacy ledger at ${path}: ${message(error)}`, {
      cause: error,
    });
  }
  try {
    try {
      db.pragma('journal_mode = DELETE');
      db.pragma('synchronous = FULL');
      db.transaction(() => {
        db.exec(SCHEMA_V1_SQL);
        db.exec(MIGRATE_V1_TO_V2);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        db.prepare(
          `INSERT INTO meta (id, schema_version, accounting, conversion, delta, target_epsilon, orders, created_at)
           VALUES (1, ?, 'rdp', ?, ?, ?, ?, ?)`,
        ).run(
          SCHEMA_VERSION,
          config.conversion,
          config.delta,
          config.targetEpsilon,
          JSON.stringify(config.orders),
          createdAt,
        );
      })();
    } finally {
      db.close();
    }
    fsyncPath(tmp);
    try {
      linkSync(tmp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return; // Another process created it first; the caller opens and checks that one.
    }
    if (process.platform !== 'win32') fsyncPath(dirname(path));
  } catch (error) {
    throw new LedgerConfigError(`cannot create a privacy ledger at ${path}: ${message(error)}`, {
      cause: error,
    });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Best effort: a leftover temporary file is harmless.
    }
  }
}

/**
 * A privacy ledger over one SQLite file. See the module documentation for the call order, the
 * counting rule and the failure behaviour.
 *
 * @example
 * ```ts
 * const ledger = PrivacyLedger.open('run.ledger', { delta: 1e-5, targetEpsilon: 8 });
 * const round = ledger.nextRound();
 * ledger.reserve(round, { kind: 'subsampled-gaussian', q: 0.01, sigma: 1.1, sensitivity: 1 });
 * // … run the round …
 * ledger.release(round); // then publish the result
 * ledger.close();
 * ```
 */
export class PrivacyLedger {
  /** The file's path. */
  readonly path: string;
  readonly delta: number;
  readonly targetEpsilon: number;
  readonly orders: readonly number[];
  readonly conversion: Conversion;
  /** When the ledger file was created (ISO 8601). */
  readonly createdAt: string;
  /** This handle's id: a random UUID per open, recorded with each round it reserves. */
  readonly sessionId: string = randomUUID();

  readonly #db: Database.Database;
  readonly #now: () => Date;
  readonly #beforeCommit: LedgerOptions['beforeCommit'];
  readonly #accountant: AccountantChoice;
  /** The rounds this handle reserved: the only ones it may refund (see the counting rule). */
  readonly #reservedHere = new Set<number>();
  #snapshot: Snapshot | undefined;
  #closed: { readonly cause?: unknown } | undefined;

  private constructor(
    db: Database.Database,
    path: string,
    config: Checked,
    createdAt: string,
    options: LedgerOptions,
  ) {
    this.#db = db;
    this.path = path;
    this.delta = config.delta;
    this.targetEpsilon = config.targetEpsilon;
    this.orders = config.orders;
    this.conversion = config.conversion;
    this.createdAt = createdAt;
    this.#now = options.now ?? (() => new Date());
    this.#beforeCommit = options.beforeCommit;
    this.#accountant = options.accountant ?? 'tightest';
  }

  /**
   * Opens the ledger at `path`, creating it if it does not exist (unless `mustExist`).
   *
   * @param path a file path (not `:memory:`: the ledger must be durable); its directory must exist
   * @param config δ, the target ε and the accounting; must equal what the file was created with
   * @throws TypeError / RangeError on an invalid argument;
   *   LedgerConfigError if the file was created with another configuration, or cannot be created;
   *   LedgerCorruptError if the file is unreadable, not a ledger, of another schema version or
   *   holds a malformed row
   */
  static open(path: string, config: LedgerConfig, options: LedgerOptions = {}): PrivacyLedger {
    if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${typeof path}`);
    if (path === '' || path === ':memory:' || path.startsWith('file:')) {
      throw new RangeError(`path must name a file, got '${path}'`);
    }
    const checked = checkConfig(config);
    const busyTimeoutMs = assertCount('busyTimeoutMs', options.busyTimeoutMs ?? 5000);
    if (options.mustExist !== undefined && typeof options.mustExist !== 'boolean') {
      throw new TypeError(`mustExist must be a boolean, got ${typeof options.mustExist}`);
    }
    for (const hook of ['now', 'beforeCommit'] as const) {
      if (options[hook] !== undefined && typeof options[hook] !== 'function') {
        throw new TypeError(`${hook} must be a function, got ${typeof options[hook]}`);
      }
    }
    const now = options.now ?? (() => new Date());
    const accountant = options.accountant ?? 'tightest';
    if (accountant !== 'rdp' && accountant !== 'pld' && accountant !== 'tightest') {
      throw new RangeError(`accountant must be 'rdp', 'pld' or 'tightest', got ${String(accountant)}`);
    }

    if (!existsSync(path)) {
      if (options.mustExist) {
        throw new LedgerConfigError(
          `no privacy ledger at ${path}, and mustExist is set: refusing to start afresh`,
        );
      }
      createFile(path, checked, now().toISOString());
    }

    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
    } catch (error) {
      throw new LedgerCorruptError(`cannot open the privacy ledger at ${path}: ${message(error)}`, {
        cause: error,
      });
    }
    try {
      const createdAt = PrivacyLedger.#prepare(db, path, checked, now);
      const ledger = new PrivacyLedger(db, path, checked, createdAt, options);
      ledger.#read(() => ledger.#current()); // decodes every row: a malformed one fails the open
      return ledger;
    } catch (error) {
      db.close();
      if (error instanceof LedgerError) throw error;
      throw new LedgerCorruptError(`cannot read the privacy ledger at ${path}: ${message(error)}`, {
        cause: error,
      });
    }
  }

  /** Identifies the file, checks it, sets the connection up and compares the configuration. */
  static #prepare(db: Database.Database, path: string, config: Checked, now: () => Date): string {
    // Identify before writing anything: switching to WAL writes the header of whatever this is.
    const applicationId = db.pragma('application_id', { simple: true });
    if (applicationId !== APPLICATION_ID) {
      throw new LedgerCorruptError(
        `${path} is not a privagg privacy ledger (SQLite application_id ${String(applicationId)}); ` +
          'refusing to use it',
      );
    }
    const version = db.pragma('user_version', { simple: true });
    if (version !== SCHEMA_VERSION && version !== 1) {
      throw new LedgerCorruptError(
        `the privacy ledger at ${path} has schema version ${String(version)}; ` +
          `this build reads versions 1 (migrating it) and ${SCHEMA_VERSION}`,
      );
    }
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') {
      throw new LedgerCorruptError(`the privacy ledger at ${path} is corrupt: ${String(check)}`);
    }
    db.pragma('trusted_schema = OFF');
    db.pragma('cell_size_check = ON');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new LedgerConfigError(`cannot put ${path} in WAL mode (got '${String(mode)}')`);
    db.pragma('synchronous = FULL');
    if (version === 1) PrivacyLedger.#migrate(db, path, now);

    const rows = db.prepare('SELECT * FROM meta').all() as MetaRow[];
    const meta = rows[0];
    if (rows.length !== 1 || !meta) {
      throw new LedgerCorruptError(
        `the privacy ledger at ${path} has ${rows.length} configuration rows, not 1`,
      );
    }
    if ((meta.schema_version !== 1 && meta.schema_version !== SCHEMA_VERSION) || meta.accounting !== 'rdp') {
      throw new LedgerCorruptError(
        `the privacy ledger at ${path} records schema ${String(meta.schema_version)} and accounting ` +
          `'${meta.accounting}'; expected 1 or ${SCHEMA_VERSION} and 'rdp'`,
      );
    }
    let storedOrders: readonly number[];
    try {
      storedOrders = assertOrders('orders', JSON.parse(meta.orders));
    } catch (error) {
      throw new LedgerCorruptError(`the privacy ledger at ${path} has malformed orders: ${message(error)}`);
    }
    const differences: string[] = [];
    if (meta.delta !== config.delta) {
      differences.push(`δ ${formatDelta(meta.delta)}, not ${formatDelta(config.delta)}`);
    }
    if (meta.target_epsilon !== config.targetEpsilon) {
      differences.push(`target ε ${meta.target_epsilon}, not ${config.targetEpsilon}`);
    }
    if (meta.conversion !== config.conversion) {
      differences.push(`the '${meta.conversion}' conversion, not '${config.conversion}'`);
    }
    const sameOrders =
      storedOrders.length === config.orders.length && storedOrders.every((a, k) => a === config.orders[k]);
    if (!sameOrders) {
      differences.push(
        `other Rényi orders (${storedOrders.length} stored, ${config.orders.length} given, not element for element equal)`,
      );
    }
    if (differences.length > 0) {
      throw new LedgerConfigError(
        `the privacy ledger at ${path} was created with ${differences.join(', ')}; refusing to open it ` +
          'with another configuration (the budget would silently change). Use the original ' +
          'configuration, or a new ledger file for a new run.',
      );
    }
    return meta.created_at;
  }

  /**
   * Version 1 → 2, in one immediate transaction (a concurrent opener migrating first is fine: the
   * version is checked again inside it). Old rounds get no PLD, so their accounting is unchanged.
   * @throws LedgerConfigError naming the reason if the file cannot be migrated (e.g. read-only)
   */
  static #migrate(db: Database.Database, path: string, now: () => Date): void {
    try {
      db.transaction(() => {
        if (db.pragma('user_version', { simple: true }) !== 1) return;
        db.exec(MIGRATE_V1_TO_V2);
        db.prepare('INSERT INTO migrations (from_version, to_version, migrated_at) VALUES (1, ?, ?)').run(
          SCHEMA_VERSION,
          now().toISOString(),
        );
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } catch (error) {
      throw new LedgerConfigError(
        `the privacy ledger at ${path} has schema version 1 and could not be migrated to version ` +
          `${SCHEMA_VERSION} (${message(error)}); refusing to open it. Its rounds are intact.`,
        { cause: error },
      );
    }
  }

  // ---- getters -------------------------------------------------------------------------------

  /** The number the next round should have: one more than the highest round in the ledger. */
  nextRound(): number {
    return this.#read(() => this.#current().lastRound + 1);
  }

  /** ε spent so far: every counted round composed, at the ledger's δ. */
  spent(): Spent {
    return this.#read(() => {
      const snapshot = this.#current();
      const { epsilon, order, accountant } = this.#epsilon(snapshot);
      return { epsilon, order, rounds: snapshot.counted, accountant };
    });
  }

  /** One round, or undefined if it is not in the ledger. */
  round(round: number): LedgerRound | undefined {
    const r = checkRound(round);
    return this.#read(() => this.#getRound(r));
  }

  /** Every round, in order. */
  rounds(): LedgerRound[] {
    return this.#read(() => this.#allRows().map((row) => this.#decode(row)));
  }

  /**
   * Whether a round with this mechanism would fit the budget now. Changes nothing; `reserve` checks
   * again, atomically.
   *
   * @param round the round's number, for the message; default {@link nextRound}
   * @returns ε before and after the round (after ≤ the target)
   * @throws BudgetExceededError if it would not fit; TypeError / RangeError on a bad mechanism
   */
  checkBudget(mechanism: RoundMechanism, round?: number): BudgetCheck {
    const cost = roundCost(mechanism, this.orders);
    const r = round === undefined ? undefined : checkRound(round);
    return this.#read(() => {
      const snapshot = this.#current();
      return checkBudget({ ...this.#budget(snapshot), round: r ?? snapshot.lastRound + 1, cost });
    });
  }

  /** A JSON-ready summary for people and the CLI (no per-round RDP curves). */
  report(): LedgerReport {
    return this.#read(() => {
      const snapshot = this.#current();
      const rounds = this.#allRows().map((row) => {
        const { rdp: _rdp, ...rest } = this.#decode(row);
        return rest;
      });
      const { epsilon, order, accountant } = this.#epsilon(snapshot);
      return {
        path: this.path,
        schemaVersion: SCHEMA_VERSION,
        createdAt: this.createdAt,
        accounting: 'rdp',
        conversion: this.conversion,
        delta: this.delta,
        targetEpsilon: this.targetEpsilon,
        orders: this.orders,
        spent: {
          epsilon,
          order: Number.isFinite(order) ? order : null,
          rounds: snapshot.counted,
          accountant,
        },
        headroom: this.targetEpsilon - epsilon,
        nextRound: snapshot.lastRound + 1,
        unsettled: rounds.filter((r) => r.status === 'reserved').map((r) => r.round),
        rounds,
      };
    });
  }

  // ---- commands ------------------------------------------------------------------------------

  /**
   * Records that `round` is about to run `mechanism`, and counts its cost from now on. Commits (and
   * fsyncs) before returning; start the round only after it returns.
   *
   * @param round the round's number: ≥ 1 and above every round already in the ledger
   * @returns the round as recorded
   * @throws BudgetExceededError if the round would take ε past the target (nothing is written);
   *   LedgerStateError if the number is not above every round in the ledger (nothing is written);
   *   TypeError / RangeError on a bad argument; LedgerClosedError if the handle is closed
   */
  reserve(round: number, mechanism: RoundMechanism): LedgerRound {
    const r = checkRound(round);
    return this.#reserve(r, roundCost(mechanism, this.orders));
  }

  /** {@link reserve} with the number chosen inside the transaction: {@link nextRound} at that moment. */
  reserveNext(mechanism: RoundMechanism): LedgerRound {
    return this.#reserve(undefined, roundCost(mechanism, this.orders));
  }

  /**
   * Records that the round's result is being released. Call it after the result exists and before
   * it leaves the coordinator. The round stays counted.
   * @throws LedgerStateError if the round is not in the ledger or not `reserved`
   */
  release(round: number): LedgerRound {
    const r = checkRound(round);
    return this.#write('release', r, (row) => {
      this.#db
        .prepare("UPDATE rounds SET status = 'released', released_at = ? WHERE round = ?")
        .run(this.#timestamp(), row.round);
      return false;
    });
  }

  /**
   * Records that the round ended without a result. It stays counted unless this handle reserved it
   * and `nothingReleased` is true (the refund; see the counting rule).
   * @returns the round as recorded; check `counted` to see whether it was refunded
   * @throws LedgerStateError if the round is not in the ledger or not `reserved`;
   *   TypeError / RangeError on a bad argument
   */
  abort(round: number, info: AbortInfo): LedgerRound {
    const r = checkRound(round);
    if (typeof info !== 'object' || info === null) throw new TypeError('info must be an object');
    if (typeof info.reason !== 'string') throw new TypeError('info.reason must be a string');
    if (info.reason.length === 0 || info.reason.length > 1000) {
      throw new RangeError(`info.reason must have 1 to 1000 characters, got ${info.reason.length}`);
    }
    if (typeof info.nothingReleased !== 'boolean') {
      throw new TypeError(`info.nothingReleased must be a boolean, got ${typeof info.nothingReleased}`);
    }
    return this.#write('abort', r, (row) => {
      const refund = info.nothingReleased && this.#reservedHere.has(row.round);
      this.#db
        .prepare(
          "UPDATE rounds SET status = 'aborted', aborted_at = ?, abort_reason = ?, counted = ? WHERE round = ?",
        )
        .run(this.#timestamp(), info.reason, refund ? 0 : 1, row.round);
      return refund;
    });
  }

  /** Moves the write-ahead log into the database file (SQLite also does this on its own). */
  checkpoint(): void {
    this.#guard(() => {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    });
  }

  /** Closes the file. Later calls throw {@link LedgerClosedError}; closing twice does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = {};
    this.#db.close();
  }

  // ---- internals -----------------------------------------------------------------------------

  #reserve(round: number | undefined, cost: RoundCost): LedgerRound {
    // Compute the check once outside the write lock: the PLD composition can take a second, and the
    // identical computation inside the transaction then comes from ./tightest.ts's memo (unless
    // another handle wrote in between, when it is recomputed there, as it must be).
    try {
      this.#read(() => {
        const snapshot = this.#current();
        checkBudget({ ...this.#budget(snapshot), round: round ?? snapshot.lastRound + 1, cost });
      });
    } catch (error) {
      if (!(error instanceof BudgetExceededError)) throw error;
    }
    const { record, snapshot } = this.#guard(() =>
      this.#db
        .transaction(() => {
          const before = this.#current();
          const r = round ?? before.lastRound + 1;
          if (r <= before.lastRound) {
            const existing = this.#getRound(r);
            throw new LedgerStateError(
              existing
                ? `round ${r} is already in the ledger (${existing.status})`
                : `round ${r} is not after the last round in the ledger (${before.lastRound})`,
            );
          }
          const check = checkBudget({ ...this.#budget(before), round: r, cost });
          this.#db
            .prepare(
              `INSERT INTO rounds (round, mechanism, params, rdp, pld, epsilon, cumulative_epsilon, status,
                                   counted, session, reserved_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', 1, ?, ?)`,
            )
            .run(
              r,
              cost.kind,
              JSON.stringify(cost.params),
              encodeCurve(cost.rdp),
              cost.pld === undefined ? null : JSON.stringify(cost.pld),
              check.roundEpsilon,
              check.epsilonAfter,
              this.sessionId,
              this.#timestamp(),
            );
          this.#beforeCommit?.('reserve', r);
          const after: Snapshot = {
            version: before.version,
            spentRdp: check.rdpAfter,
            spentPld:
              before.spentPld === undefined || cost.pld === undefined
                ? undefined
                : groupPld([...before.spentPld, cost.pld]),
            counted: before.counted + 1,
            lastRound: r,
          };
          return { record: this.#getRound(r)!, snapshot: after };
        })
        .immediate(),
    );
    // Only now that the commit has returned does the cache move on.
    this.#snapshot = snapshot;
    this.#reservedHere.add(record.round);
    return record;
  }

  /** A transition of an existing round; `apply` returns whether the round stopped counting. */
  #write(operation: 'release' | 'abort', round: number, apply: (row: LedgerRound) => boolean): LedgerRound {
    const { record, refunded } = this.#guard(() =>
      this.#db
        .transaction(() => {
          this.#current();
          const row = this.#getRound(round);
          if (!row) throw new LedgerStateError(`cannot ${operation} round ${round}: it is not in the ledger`);
          if (row.status !== 'reserved') {
            throw new LedgerStateError(
              `cannot ${operation} round ${round}: it is ${row.status}, and only a reserved round can be ` +
                (operation === 'release' ? 'released' : 'aborted'),
            );
          }
          const refunded = apply(row);
          this.#beforeCommit?.(operation, round);
          return { record: this.#getRound(round)!, refunded };
        })
        .immediate(),
    );
    // A refund lowers the sum: recompute it from the rows rather than subtract (rounding).
    if (refunded) this.#snapshot = undefined;
    return record;
  }

  /** Runs `fn` in a read transaction, so everything it reads is one snapshot. */
  #read<T>(fn: () => T): T {
    return this.#guard(() => this.#db.transaction(fn).deferred());
  }

  /** Runs an operation; an error other than a refusal closes the handle. */
  #guard<T>(fn: () => T): T {
    if (this.#closed) {
      const cause = this.#closed.cause;
      throw new LedgerClosedError(
        cause === undefined
          ? `the privacy ledger at ${this.path} is closed`
          : `the privacy ledger at ${this.path} failed earlier (${message(cause)}) and was closed; reopen it`,
        cause === undefined ? undefined : { cause },
      );
    }
    try {
      return fn();
    } catch (error) {
      if (error instanceof BudgetExceededError || error instanceof LedgerStateError) throw error;
      this.#closed = { cause: error };
      this.#snapshot = undefined;
      try {
        this.#db.close();
      } catch {
        // Already failing; the first error is the one to report.
      }
      if (error instanceof LedgerError) throw error;
      throw new LedgerClosedError(
        `the privacy ledger at ${this.path} failed (${message(error)}) and was closed; reopen it`,
        { cause: error },
      );
    }
  }

  /**
   * The counted state as of this transaction's snapshot. `PRAGMA data_version` changes exactly when
   * another connection has committed, so the cache is reused only while no one else has written;
   * it is read first, which also starts the snapshot it then describes.
   */
  #current(): Snapshot {
    const version = this.#db.pragma('data_version', { simple: true }) as number;
    if (this.#snapshot?.version === version) return this.#snapshot;
    // Every row is decoded in full on a reload, so a malformed one is found now, not when read.
    const spentRdp = this.orders.map(() => 0);
    let spentPld: PldRounds[] | undefined = [];
    let counted = 0;
    let lastRound = 0;
    for (const row of this.#allRows()) {
      const round = this.#decode(row);
      lastRound = Math.max(lastRound, round.round);
      if (!round.counted) continue;
      round.rdp.forEach((r, k) => {
        spentRdp[k]! += r;
      });
      if (round.pld === null) spentPld = undefined;
      else spentPld?.push(round.pld);
      counted++;
    }
    this.#snapshot = {
      version,
      spentRdp: Object.freeze(spentRdp),
      spentPld: spentPld && Object.freeze(groupPld(spentPld)),
      counted,
      lastRound,
    };
    return this.#snapshot;
  }

  #budget(snapshot: Snapshot) {
    return {
      orders: this.orders,
      spentRdp: snapshot.spentRdp,
      spentPld: snapshot.spentPld,
      delta: this.delta,
      targetEpsilon: this.targetEpsilon,
      conversion: this.conversion,
      accountant: this.#accountant,
    };
  }

  /** ε of a snapshot by the ledger's accountant ('pld' falls back to RDP without every PLD). */
  #epsilon(snapshot: Snapshot) {
    const accountant =
      this.#accountant === 'pld' && snapshot.spentPld === undefined ? 'rdp' : this.#accountant;
    return tightEpsilon({ orders: this.orders, rdp: snapshot.spentRdp, pld: snapshot.spentPld }, this.delta, {
      conversion: this.conversion,
      accountant,
    });
  }

  #allRows(): RoundRow[] {
    return this.#db.prepare('SELECT * FROM rounds ORDER BY round').all() as RoundRow[];
  }

  #getRound(round: number): LedgerRound | undefined {
    const row = this.#db.prepare('SELECT * FROM rounds WHERE round = ?').get(round) as RoundRow | undefined;
    return row && this.#decode(row);
  }

  #decode(row: RoundRow): LedgerRound {
    try {
      return decodeRound(row, this.orders.length);
    } catch (error) {
      throw this.#corrupt(message(error));
    }
  }

  #corrupt(what: string): LedgerCorruptError {
    return new LedgerCorruptError(`the privacy ledger at ${this.path} holds a malformed row: ${what}`);
  }

  #timestamp(): string {
    const t = this.#now();
    if (!(t instanceof Date) || Number.isNaN(t.getTime()))
      throw new TypeError('now() must return a valid Date');
    return t.toISOString();
  }
}
