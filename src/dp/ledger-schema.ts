/**
 * The on-disk format of the privacy ledger (./ledger.ts): the SQLite schema, its version, and the
 * strict decoding of what is read back. A row that does not decode is corruption, never a default.
 *
 * The file identifies itself by `PRAGMA application_id` (ASCII "PRVL") and carries its schema
 * version in `PRAGMA user_version` (the version of its schema now) and in the `meta` row (the version
 * it was created with; the configuration is immutable). Triggers make the database itself refuse
 * what the ledger never does: deleting a round, changing a round's mechanism, curve, PLD or ε after
 * it was reserved, leaving a round's terminal state, and changing the configuration.
 *
 * Versions. 1: RDP curves only. 2: each round may also record its privacy loss distribution (the
 * `pld` column: a {@link PldRounds} as JSON), so that ε can be recomputed by the PLD accountant too;
 * and a `migrations` table. A version-1 file is migrated in place when opened ({@link MIGRATE_V1_TO_V2}):
 * its rounds keep no PLD (the triggers forbid adding one later), so while they are counted ε stays
 * RDP's, exactly as before. A new file is created as version 1 and migrated in the same
 * transaction, so old and new files end with the same schema.
 * @module
 */
import { checkPldRounds, type JsonValue } from './budget.ts';
import type { PldRounds } from './tightest.ts';

/** `PRAGMA application_id` of a ledger file: the bytes "PRVL". */
export const APPLICATION_ID = 0x5052564c;

/** The schema version this build writes and reads (older versions are migrated when opened). */
export const SCHEMA_VERSION = 2;

/** The status of a round in the ledger. See ./ledger.ts for the transitions and the counting rule. */
export type RoundStatus = 'reserved' | 'released' | 'aborted';

/** The schema, version 1. Applied once, in the transaction that creates the file. */
export const SCHEMA_V1_SQL = `
CREATE TABLE meta (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  accounting     TEXT    NOT NULL CHECK (accounting = 'rdp'),
  conversion     TEXT    NOT NULL CHECK (conversion IN ('improved', 'classic')),
  delta          REAL    NOT NULL CHECK (delta > 0 AND delta < 1),
  target_epsilon REAL    NOT NULL CHECK (target_epsilon > 0),
  orders         TEXT    NOT NULL CHECK (json_valid(orders) AND json_type(orders) = 'array'),
  created_at     TEXT    NOT NULL
) STRICT;

CREATE TABLE rounds (
  round              INTEGER PRIMARY KEY CHECK (round >= 1),
  mechanism          TEXT    NOT NULL CHECK (length(mechanism) BETWEEN 1 AND 64),
  params             TEXT    NOT NULL CHECK (json_valid(params) AND json_type(params) = 'object'),
  rdp                TEXT    NOT NULL CHECK (json_valid(rdp) AND json_type(rdp) = 'array'),
  epsilon            REAL    NOT NULL CHECK (epsilon >= 0),
  cumulative_epsilon REAL    NOT NULL CHECK (cumulative_epsilon >= epsilon),
  status             TEXT    NOT NULL CHECK (status IN ('reserved', 'released', 'aborted')),
  counted            INTEGER NOT NULL CHECK (counted = 1 OR (counted = 0 AND status = 'aborted')),
  session            TEXT    NOT NULL,
  reserved_at        TEXT    NOT NULL,
  released_at        TEXT    CHECK ((status = 'released') = (released_at IS NOT NULL)),
  aborted_at         TEXT    CHECK ((status = 'aborted') = (aborted_at IS NOT NULL)),
  abort_reason       TEXT    CHECK ((status = 'aborted') = (abort_reason IS NOT NULL))
) STRICT;

CREATE TRIGGER meta_is_immutable BEFORE UPDATE ON meta
BEGIN SELECT RAISE(ABORT, 'the privacy ledger configuration is immutable'); END;

CREATE TRIGGER meta_is_kept BEFORE DELETE ON meta
BEGIN SELECT RAISE(ABORT, 'the privacy ledger configuration is never deleted'); END;

CREATE TRIGGER rounds_are_kept BEFORE DELETE ON rounds
BEGIN SELECT RAISE(ABORT, 'privacy ledger rounds are never deleted'); END;

CREATE TRIGGER rounds_only_leave_reserved BEFORE UPDATE ON rounds
WHEN OLD.status <> 'reserved' OR NEW.status = 'reserved'
  OR NEW.round IS NOT OLD.round OR NEW.mechanism IS NOT OLD.mechanism
  OR NEW.params IS NOT OLD.params OR NEW.rdp IS NOT OLD.rdp
  OR NEW.epsilon IS NOT OLD.epsilon OR NEW.cumulative_epsilon IS NOT OLD.cumulative_epsilon
  OR NEW.session IS NOT OLD.session OR NEW.reserved_at IS NOT OLD.reserved_at
  OR (NEW.status = 'released' AND NEW.counted <> 1)
BEGIN SELECT RAISE(ABORT, 'illegal privacy ledger transition'); END;
`;

/**
 * Version 1 → 2: the `pld` column (NULL for every existing round, and immutable like the rest of a
 * reserved round: the transition trigger is recreated to cover it) and the `migrations` record.
 * Applied in one transaction together with `PRAGMA user_version = 2`.
 */
export const MIGRATE_V1_TO_V2 = `
ALTER TABLE rounds ADD COLUMN pld TEXT
  CHECK (pld IS NULL OR (json_valid(pld) AND json_type(pld) = 'object'));

DROP TRIGGER rounds_only_leave_reserved;
CREATE TRIGGER rounds_only_leave_reserved BEFORE UPDATE ON rounds
WHEN OLD.status <> 'reserved' OR NEW.status = 'reserved'
  OR NEW.round IS NOT OLD.round OR NEW.mechanism IS NOT OLD.mechanism
  OR NEW.params IS NOT OLD.params OR NEW.rdp IS NOT OLD.rdp OR NEW.pld IS NOT OLD.pld
  OR NEW.epsilon IS NOT OLD.epsilon OR NEW.cumulative_epsilon IS NOT OLD.cumulative_epsilon
  OR NEW.session IS NOT OLD.session OR NEW.reserved_at IS NOT OLD.reserved_at
  OR (NEW.status = 'released' AND NEW.counted <> 1)
BEGIN SELECT RAISE(ABORT, 'illegal privacy ledger transition'); END;

CREATE TABLE migrations (
  from_version INTEGER NOT NULL,
  to_version   INTEGER NOT NULL,
  migrated_at  TEXT    NOT NULL,
  PRIMARY KEY (from_version, to_version)
) STRICT;

CREATE TRIGGER migrations_are_kept BEFORE DELETE ON migrations
BEGIN SELECT RAISE(ABORT, 'the privacy ledger migration record is never deleted'); END;

CREATE TRIGGER migrations_are_immutable BEFORE UPDATE ON migrations
BEGIN SELECT RAISE(ABORT, 'the privacy ledger migration record is immutable'); END;
`;

/** The `meta` row as stored. */
export interface MetaRow {
  readonly schema_version: number;
  readonly accounting: string;
  readonly conversion: string;
  readonly delta: number;
  readonly target_epsilon: number;
  readonly orders: string;
  readonly created_at: string;
}

/** A `rounds` row as stored. */
export interface RoundRow {
  readonly round: number;
  readonly mechanism: string;
  readonly params: string;
  readonly rdp: string;
  readonly epsilon: number;
  readonly cumulative_epsilon: number;
  readonly status: string;
  readonly counted: number;
  readonly session: string;
  readonly reserved_at: string;
  readonly released_at: string | null;
  readonly aborted_at: string | null;
  readonly abort_reason: string | null;
  /** Version 2: the round's PLD as JSON, or NULL. */
  readonly pld: string | null;
}

/** One round of the ledger, decoded. */
export interface LedgerRound {
  /** The round number, ≥ 1; unique; rounds are reserved in increasing order. */
  readonly round: number;
  /** The mechanism kind: 'gaussian-central', 'subsampled-gaussian' or a precomputed one's name. */
  readonly mechanism: string;
  /** The mechanism's parameters as recorded. */
  readonly params: { readonly [key: string]: JsonValue };
  /** The round's RDP curve, one value per order of the ledger (+∞ where no finite bound holds). */
  readonly rdp: readonly number[];
  /** The round's privacy loss distribution, when it was recorded (version 2 rounds that had one). */
  readonly pld: PldRounds | null;
  /** ε of this round alone, at the ledger's δ. */
  readonly epsilon: number;
  /**
   * ε of everything counted when the round was reserved, this round included. An upper bound on
   * the ε at that point: a round refunded later (see ./ledger.ts) is not taken out of it.
   */
  readonly cumulativeEpsilon: number;
  readonly status: RoundStatus;
  /** Whether the round counts towards ε now; false only for a refunded abort. */
  readonly counted: boolean;
  /** Which ledger handle reserved the round (a random id per open). */
  readonly session: string;
  /** ISO 8601 times. */
  readonly reservedAt: string;
  readonly releasedAt: string | null;
  readonly abortedAt: string | null;
  readonly abortReason: string | null;
}

/**
 * Encodes an RDP curve as a JSON array, +∞ as `null` (JSON has no infinity). Reading `null` back as
 * +∞ is the safe direction: a curve misread that way over-counts, never under-counts.
 */
export function encodeCurve(rdp: readonly number[]): string {
  return JSON.stringify(rdp.map((r) => (r === Infinity ? null : r)));
}

/**
 * Decodes a stored RDP curve of `length` values.
 * @throws Error naming what is wrong (the caller turns it into a LedgerCorruptError)
 */
export function decodeCurve(text: string, length: number): number[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw new Error('the RDP curve is not an array');
  if (value.length !== length) {
    throw new Error(`the RDP curve has ${value.length} values for ${length} orders`);
  }
  return value.map((r: unknown, k) => {
    if (r === null) return Infinity;
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) {
      throw new Error(`the RDP curve's value ${k} is ${JSON.stringify(r)}, not a number >= 0`);
    }
    return r;
  });
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${name} is not a non-empty string`);
  return value;
}

function nullableText(name: string, value: unknown): string | null {
  return value === null ? null : text(name, value);
}

function finite(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} is ${String(value)}, not a finite number >= 0`);
  }
  return value;
}

/**
 * Decodes and checks one `rounds` row against the ledger's number of orders.
 * @throws Error naming what is wrong (the caller turns it into a LedgerCorruptError)
 */
export function decodeRound(row: RoundRow, orderCount: number): LedgerRound {
  const at = `round ${String(row.round)}`;
  if (!Number.isSafeInteger(row.round) || row.round < 1) throw new Error(`${at}: bad round number`);
  const status = row.status;
  if (status !== 'reserved' && status !== 'released' && status !== 'aborted') {
    throw new Error(`${at}: unknown status ${JSON.stringify(status)}`);
  }
  if (row.counted !== 0 && row.counted !== 1) throw new Error(`${at}: counted is ${String(row.counted)}`);
  if (row.counted === 0 && status !== 'aborted') throw new Error(`${at}: a ${status} round is not counted`);
  const params: unknown = JSON.parse(row.params);
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new Error(`${at}: the parameters are not a JSON object`);
  }
  let rdp: number[];
  try {
    rdp = decodeCurve(row.rdp, orderCount);
  } catch (error) {
    throw new Error(`${at}: ${(error as Error).message}`);
  }
  let pld: PldRounds | null = null;
  if (row.pld !== null && row.pld !== undefined) {
    try {
      pld = checkPldRounds(JSON.parse(row.pld), 'pld');
    } catch (error) {
      throw new Error(`${at}: its PLD does not decode: ${(error as Error).message}`);
    }
  }
  const epsilon = finite(`${at}: epsilon`, row.epsilon);
  const cumulativeEpsilon = finite(`${at}: cumulative epsilon`, row.cumulative_epsilon);
  const releasedAt = nullableText(`${at}: released_at`, row.released_at);
  const abortedAt = nullableText(`${at}: aborted_at`, row.aborted_at);
  const abortReason = nullableText(`${at}: abort_reason`, row.abort_reason);
  if ((status === 'released') !== (releasedAt !== null) || (status === 'aborted') !== (abortedAt !== null)) {
    throw new Error(`${at}: its timestamps do not match its status '${status}'`);
  }
  return Object.freeze({
    round: row.round,
    mechanism: text(`${at}: mechanism`, row.mechanism),
    params: Object.freeze(params as { [key: string]: JsonValue }),
    rdp: Object.freeze(rdp),
    pld,
    epsilon,
    cumulativeEpsilon,
    status,
    counted: row.counted === 1,
    session: text(`${at}: session`, row.session),
    reservedAt: text(`${at}: reserved_at`, row.reserved_at),
    releasedAt,
    abortedAt,
    abortReason,
  });
}
