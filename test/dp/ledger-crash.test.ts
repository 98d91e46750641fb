// The privacy ledger survives a real SIGKILL at any point. A child process
// (test/fixtures/ledger-crash-child.ts) reserves and releases rounds in a loop; the parent kills it
// at chosen points — while opening (possibly mid-creation), between steps, inside a transaction
// after its row is written but before the commit, during a checkpoint, after a delay — reopens the
// ledger each time and checks: it opens; every round the child reported committed is there, in at
// least the reported state; no row is half-written (each holds exactly the curve its mechanism
// gives, the rounds are contiguous, SQLite's integrity check passes); and the ε it reports is at
// least that of the rounds known to be committed. The run then goes on to the budget stop. Two more
// children then race on one file to show that two processes cannot both reserve past the budget.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BudgetExceededError, type RoundMechanism } from '../../src/dp/budget.ts';
import { epsilonFromRdp } from '../../src/dp/conversion.ts';
import { PrivacyLedger } from '../../src/dp/ledger.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { computeRdp } from '../../src/dp/rdp.ts';

const CHILD = join(import.meta.dirname, '..', 'fixtures', 'ledger-crash-child.ts');
const dir = mkdtempSync(join(tmpdir(), 'privagg-ledger-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = { delta: 1e-5, targetEpsilon: 2 } as const;
const MECHANISMS: readonly RoundMechanism[] = [
  { kind: 'subsampled-gaussian', q: 0.02, sigma: 1.3, sensitivity: 1, steps: 40 },
  { kind: 'gaussian-central', sigma: 20, sensitivity: 0.5 },
];
const mechanismFor = (round: number) => MECHANISMS[round % MECHANISMS.length]!;

/** Each mechanism's RDP curve, computed here from its parameters (no ledger code involved). */
const curves = new Map<RoundMechanism, number[]>();
function curveOf(m: RoundMechanism): number[] {
  let curve = curves.get(m);
  if (!curve) {
    if (m.kind === 'subsampled-gaussian') curve = computeRdp({ q: m.q, sigma: m.sigma, steps: m.steps ?? 1 });
    else if (m.kind === 'gaussian-central') curve = computeRdp({ q: 1, sigma: m.sigma, steps: m.steps ?? 1 });
    else throw new Error(`unexpected mechanism ${m.kind}`);
    curves.set(m, curve);
  }
  return curve;
}

/** ε of the mechanisms composed: their curves added per order, converted at δ. */
function epsilonOf(mechanisms: readonly RoundMechanism[]): number {
  const sum = DEFAULT_RDP_ORDERS.map(() => 0);
  for (const m of mechanisms) {
    curveOf(m).forEach((r, k) => {
      sum[k]! += r;
    });
  }
  return epsilonFromRdp(DEFAULT_RDP_ORDERS, sum, CONFIG.delta).epsilon;
}

interface Plan {
  readonly path: string;
  readonly mode: 'loop' | 'race';
  readonly mechanisms?: readonly RoundMechanism[];
  readonly block?: { readonly operation: 'reserve' | 'release'; readonly nth: number };
}

interface Run {
  readonly lines: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/**
 * Runs the child; `killOn` sees each stdout line with a count of lines of the same first word so
 * far, and returns true to SIGKILL the child right away, or a number of ms to kill it after.
 */
function runChild(plan: Plan, killOn?: (line: string, nth: number) => boolean | number): Promise<Run> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify({ ...CONFIG, mechanisms: MECHANISMS, ...plan })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const counts = new Map<string, number>();
  let stderr = '';
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    child.kill('SIGKILL');
  };
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    const word = line.split(' ', 2).slice(0, 2).join(' ').replace(/ \d+$/, '');
    const nth = (counts.get(word) ?? 0) + 1;
    counts.set(word, nth);
    const verdict = killOn?.(line, nth) ?? false;
    if (verdict === true) kill();
    else if (typeof verdict === 'number') setTimeout(kill, verdict);
  });
  // A hung child must not hang the suite (this is a safety net, not an assertion on time).
  const guard = setTimeout(kill, 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ lines, code, signal, stderr });
    });
  });
}

/** The round numbers of the lines `<prefix> N`. */
const numbers = (lines: readonly string[], prefix: string) =>
  lines
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => Number(l.slice(prefix.length + 1).split(' ')[0]));

/** What the children have said about one ledger file, across all runs. */
class Witness {
  readonly reserved = new Set<number>();
  readonly released = new Set<number>();
  /** Rounds left `reserved` by a kill inside their release transaction. */
  readonly stuckReserved = new Set<number>();
  opened = false;

  note(run: Run): void {
    for (const n of numbers(run.lines, 'reserved')) this.reserved.add(n);
    for (const n of numbers(run.lines, 'released')) this.released.add(n);
    if (run.lines.some((l) => l.startsWith('opened'))) this.opened = true;
  }
}

/** Reopens the ledger and checks everything the witness knows, plus the file's own consistency. */
function verify(path: string, witness: Witness, absent: readonly number[] = []): number {
  const ledger = PrivacyLedger.open(path, CONFIG, { mustExist: witness.opened, accountant: 'rdp' });
  let epsilon: number;
  try {
    const rounds = ledger.rounds();
    rounds.forEach((r, i) => {
      assert.equal(r.round, i + 1, 'rounds are contiguous from 1');
      const m = mechanismFor(r.round);
      assert.equal(r.mechanism, m.kind);
      assert.deepEqual(r.rdp, curveOf(m), `round ${r.round} holds exactly its mechanism's curve`);
      assert.equal(r.counted, true);
      assert.notEqual(r.status, 'aborted');
      assert.ok(r.cumulativeEpsilon >= r.epsilon);
      if (i > 0) assert.ok(r.cumulativeEpsilon >= rounds[i - 1]!.cumulativeEpsilon);
    });
    const byNumber = new Map(rounds.map((r) => [r.round, r]));
    for (const n of witness.reserved) {
      assert.ok(byNumber.has(n), `round ${n} was reported reserved, so it must be in the ledger`);
    }
    for (const n of witness.released) {
      assert.equal(byNumber.get(n)?.status, 'released', `round ${n} was reported released`);
    }
    for (const n of witness.stuckReserved) {
      assert.equal(byNumber.get(n)?.status, 'reserved', `round ${n} was killed before its release committed`);
    }
    for (const n of absent) {
      assert.equal(byNumber.has(n), false, `round ${n} was killed before its reservation committed`);
    }

    const spent = ledger.spent();
    epsilon = spent.epsilon;
    assert.equal(spent.rounds, rounds.length);
    const known = epsilonOf([...witness.reserved].map(mechanismFor));
    assert.ok(epsilon >= known, `ε ${epsilon} must not be below ${known}, the ε of the reported rounds`);
    const all = epsilonOf(rounds.map((r) => mechanismFor(r.round)));
    assert.ok(Math.abs(epsilon - all) <= 1e-9 * all, `ε ${epsilon} is the composition of the rows (${all})`);
    assert.ok(epsilon <= CONFIG.targetEpsilon);
  } finally {
    ledger.close();
  }
  const raw = new Database(path, { fileMustExist: true });
  try {
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    raw.close();
  }
  return epsilon;
}

function assertKilled(run: Run): void {
  assert.equal(run.signal, 'SIGKILL', `the child should have been killed; stderr: ${run.stderr}`);
}

describe('ledger crash: SIGKILL at any point', () => {
  it('sequence 1: while opening, mid-reservation, after a reservation, during a checkpoint; then the budget stop', async () => {
    const path = join(dir, 'one.ledger');
    const witness = new Witness();

    // 1. As soon as it starts opening: the first run may die while creating the file.
    let run = await runChild({ path, mode: 'loop' }, (line) => line === 'opening');
    assertKilled(run);
    witness.note(run);
    if (existsSync(path)) verify(path, witness);

    // 2. Inside the 2nd reservation's transaction, after the INSERT, before the COMMIT.
    run = await runChild({ path, mode: 'loop', block: { operation: 'reserve', nth: 2 } }, (line) =>
      line.startsWith('in-txn reserve'),
    );
    assertKilled(run);
    witness.note(run);
    const blocked = numbers(run.lines, 'in-txn reserve');
    assert.equal(blocked.length, 1);
    assert.equal(witness.reserved.has(blocked[0]!), false);
    verify(path, witness, blocked);

    // 3. Right after the 2nd reservation committed, before its release.
    run = await runChild({ path, mode: 'loop' }, (line, nth) => line.startsWith('reserved ') && nth === 2);
    assertKilled(run);
    witness.note(run);
    verify(path, witness);

    // 4. During a checkpoint of the write-ahead log into the database file.
    run = await runChild({ path, mode: 'loop' }, (line) => line === 'checkpointing');
    assertKilled(run);
    witness.note(run);
    const before = verify(path, witness);

    // 5. Left alone, the run resumes and goes on until the budget refuses a round.
    run = await runChild({ path, mode: 'loop' });
    assert.equal(run.code, 0, run.stderr);
    witness.note(run);
    const refusal = run.lines.find((l) => l.startsWith('refused '));
    assert.ok(refusal, 'the run ends at the budget');
    assert.match(
      refusal,
      /would raise ε from [\d.]+ to [\d.]+, above the budget 2 \(δ=1e-5\); refusing to start it$/,
    );
    const refused = Number(refusal.split(' ')[1]);
    const after = verify(path, witness, [refused]);
    assert.ok(after >= before);
  });

  it('sequence 2: before a reservation commits, mid-release, after a release, after a delay', async () => {
    const path = join(dir, 'two.ledger');
    const witness = new Witness();

    // 1. Just after announcing the 2nd reservation: the kill lands before, during or after it.
    let run = await runChild(
      { path, mode: 'loop' },
      (line, nth) => line.startsWith('reserving ') && nth === 2,
    );
    assertKilled(run);
    witness.note(run);
    verify(path, witness);

    // 2. Inside the 1st release's transaction: the round must stay reserved, and counted.
    run = await runChild({ path, mode: 'loop', block: { operation: 'release', nth: 1 } }, (line) =>
      line.startsWith('in-txn release'),
    );
    assertKilled(run);
    witness.note(run);
    const stuck = numbers(run.lines, 'in-txn release');
    assert.equal(stuck.length, 1);
    witness.stuckReserved.add(stuck[0]!);
    assert.ok(witness.reserved.has(stuck[0]!));
    verify(path, witness);

    // 3. Right after the 3rd release committed.
    run = await runChild({ path, mode: 'loop' }, (line, nth) => line.startsWith('released ') && nth === 3);
    assertKilled(run);
    witness.note(run);
    verify(path, witness);

    // 4. A few milliseconds after opening, wherever that lands.
    run = await runChild({ path, mode: 'loop' }, (line) => (line.startsWith('opened') ? 5 : false));
    if (run.code !== 0) assertKilled(run);
    witness.note(run);
    verify(path, witness);

    // The orphaned reservation is still counted, and still reported as unsettled.
    const ledger = PrivacyLedger.open(path, CONFIG, { mustExist: true, accountant: 'rdp' });
    try {
      assert.ok(ledger.report().unsettled.includes(stuck[0]!));
    } finally {
      ledger.close();
    }
  });

  it('two processes racing on one file never reserve past the budget together', async () => {
    const path = join(dir, 'race.ledger');
    const mechanisms = [MECHANISMS[0]!];
    const [a, b] = await Promise.all([
      runChild({ path, mode: 'race', mechanisms }),
      runChild({ path, mode: 'race', mechanisms }),
    ]);
    for (const run of [a!, b!]) {
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.lines.some((l) => l.startsWith('refused ')));
    }
    const ra = numbers(a!.lines, 'reserved');
    const rb = numbers(b!.lines, 'reserved');
    assert.equal(new Set([...ra, ...rb]).size, ra.length + rb.length, 'no round reserved twice');

    const ledger = PrivacyLedger.open(path, CONFIG, { mustExist: true, accountant: 'rdp' });
    try {
      const rounds = ledger.rounds();
      assert.deepEqual(
        rounds.map((r) => r.round),
        [...ra, ...rb].sort((x, y) => x - y),
      );
      assert.ok(rounds.every((r) => r.status === 'released'));
      const { epsilon } = ledger.spent();
      assert.ok(epsilon <= CONFIG.targetEpsilon);
      assert.ok(Math.abs(epsilon - epsilonOf(rounds.map(() => MECHANISMS[0]!))) <= 1e-9 * epsilon);
      // Full: one more round of the same kind would not fit.
      assert.throws(() => ledger.checkBudget(MECHANISMS[0]!), BudgetExceededError);
    } finally {
      ledger.close();
    }
  });
});
