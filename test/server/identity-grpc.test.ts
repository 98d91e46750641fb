/**
 * The malicious setting over gRPC, in one process (docs/PROTOCOL.md §2.3): the coordinator announces
 * each round's cohort from its roster, every client checks it against its own copy, and signs with
 * its identity key. What each side refuses: the coordinator a name its roster does not enroll
 * (PERMISSION_DENIED); a client a cohort member its roster does not enroll (naming it), a key other
 * than its roster's, and a semi-honest round (a downgrade).
 * And liveness: one client whose signatures are garbage is ended alone, and the round completes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  type ClientIdentity,
  ClientRefusedError,
  Participant,
  TransportError,
} from '../../src/client/sdk.ts';
import { parseRoster, type Roster } from '../../src/identity/roster.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import type { Stage } from '../../src/secagg/messages.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { Coordinator, type CoordinatorConfig, type RoundOutcome } from '../../src/server/coordinator.ts';
import { participateService } from '../../src/wire/service.ts';

const DIM = 64;
const NAMES = ['ana', 'ben', 'cai', 'dee', 'eli', 'fay'];
const signers = new Map(
  NAMES.map((name) => [name, Ed25519Signer.generate(new DeterministicRng(`id/${name}`))]),
);
const rosterOf = (entries: [string, Ed25519Signer][]): Roster =>
  parseRoster(
    JSON.stringify(
      Object.fromEntries(entries.map(([name, s]) => [name, Buffer.from(s.publicKey).toString('base64')])),
    ),
    'roster',
  );
const ROSTER = rosterOf([...signers]);

function config(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    cohortSize: 6,
    minClients: 6,
    threshold: 4,
    serverModel: 'malicious',
    identities: ROSTER.toMap(),
    maxCorruptClients: 0,
    vectors: [{ name: 'v', length: DIM, bits: 32 }],
    rounds: 1,
    checkInMs: 5_000,
    timeouts: { advertise: 5_000, share: 5_000, masked: 5_000, consistency: 5_000, unmask: 5_000 },
    maxConcurrentUploads: 2,
    maxFramesPerStage: 64,
    ...overrides,
  };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.forceShutdown();
});

async function startCoordinator(cfg: CoordinatorConfig) {
  const coordinator = new Coordinator(cfg, {
    logger: pino({ level: 'silent' }),
    authenticate: () => ({ ok: true, name: undefined }),
  });
  const server = new Server();
  servers.push(server);
  server.addService(participateService, { participate: coordinator.handleParticipate });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { coordinator, port, running: coordinator.run() };
}

const inputOf = (i: number) => Uint32Array.from({ length: DIM }, (_, j) => (i * 2_654_435_761 + j) >>> 0);

async function outcomesOf(coordinator: Coordinator, running: Promise<void>): Promise<RoundOutcome[]> {
  await running;
  const outcomes: RoundOutcome[] = [];
  for await (const o of coordinator.outcomes()) outcomes.push(o);
  return outcomes;
}

function participant(port: number, name: string, identity?: ClientIdentity, onStage?: (s: Stage) => void) {
  return new Participant({
    address: `127.0.0.1:${port}`,
    credentials: credentials.createInsecure(),
    name,
    ...(identity && { identity }),
    ...(onStage && { onStage }),
  });
}

async function runAll(
  port: number,
  identityOf: (name: string) => ClientIdentity | undefined,
  drop = {} as Record<string, Stage>,
) {
  return Promise.allSettled(
    NAMES.map(async (name, i) => {
      const p = participant(port, name, identityOf(name), (stage) => {
        if (drop[name] === stage) throw new Error(`simulated crash of ${name} at ${stage}`);
      });
      try {
        return await p.participate(() => [inputOf(i)]);
      } finally {
        p.close();
      }
    }),
  );
}

describe('the malicious setting over gRPC', () => {
  it('announces the cohort, checks the consistency signatures, and sums the survivors exactly', async () => {
    const { coordinator, port, running } = await startCoordinator(config());
    const results = await runAll(port, (name) => ({ signer: signers.get(name)!, roster: ROSTER }), {
      cai: 'masked',
    });
    const [outcome] = await outcomesOf(coordinator, running);
    assert.ok(outcome);
    assert.equal(outcome.status, 'ok', outcome.reason);
    const survivors = NAMES.filter((n) => n !== 'cai');
    assert.deepEqual(outcome.survivors, survivors);
    assert.deepEqual(outcome.dropped, { cai: 'masked' });
    assert.equal(outcome.lostAfterMasked, undefined, 'everyone left in the round finished it');
    const expected = new Uint32Array(DIM);
    for (const name of survivors) {
      const x = inputOf(NAMES.indexOf(name));
      for (let j = 0; j < DIM; j++) expected[j] = (expected[j]! + x[j]!) >>> 0;
    }
    assert.deepEqual(outcome.sums[0], expected);
    assert.ok(outcome.timing.stageMs.consistency !== undefined, 'the consistency stage ran');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
  });

  it('every client refuses a cohort member its roster does not enroll, naming it; nothing is summed', async () => {
    // The coordinator's roster enrolls 'fay' with a key of its own choosing; the clients' roster
    // does not know 'fay' at all.
    const mallory = Ed25519Signer.generate(new DeterministicRng('mallory'));
    const coordinatorRoster = new Map(
      [...ROSTER.toMap()].map(([n, k]) => [n, n === 'fay' ? mallory.publicKey : k]),
    );
    const clientsRoster = rosterOf([...signers].filter(([n]) => n !== 'fay'));
    const { coordinator, port, running } = await startCoordinator(config({ identities: coordinatorRoster }));
    const results = await runAll(port, (name) =>
      name === 'fay'
        ? {
            signer: mallory,
            roster: rosterOf([...signers].filter(([n]) => n !== 'fay').concat([['fay', mallory]])),
          }
        : { signer: signers.get(name)!, roster: clientsRoster },
    );
    const [outcome] = await outcomesOf(coordinator, running);
    assert.equal(outcome?.status, 'aborted');
    NAMES.forEach((name, i) => {
      const r = results[i]!;
      if (name === 'fay') return; // mallory's own client accepts the round and is left alone in it
      assert.equal(r.status, 'rejected');
      const error = (r as PromiseRejectedResult).reason as Error;
      assert.ok(error instanceof ClientRefusedError, `${name}: ${error}`);
      assert.equal(error.refusal.code, 'bad-parameters');
      assert.match(error.message, /cohort member 'fay' \(client 6\) is not in the roster/);
    });
  });

  it('a client refuses a key other than its roster’s for an enrolled name', async () => {
    const other = Ed25519Signer.generate(new DeterministicRng('other'));
    const swapped = new Map([...ROSTER.toMap()].map(([n, k]) => [n, n === 'ben' ? other.publicKey : k]));
    const { coordinator, port, running } = await startCoordinator(config({ identities: swapped }));
    const ana = participant(port, 'ana', { signer: signers.get('ana')!, roster: ROSTER });
    const others = NAMES.slice(1).map((name) =>
      participant(port, name, {
        signer: name === 'ben' ? other : signers.get(name)!,
        roster:
          name === 'ben' ? rosterOf([...signers].map(([n, s]) => [n, n === 'ben' ? other : s])) : ROSTER,
      }),
    );
    const results = await Promise.allSettled(
      [ana, ...others].map((p, i) => p.participate(() => [inputOf(i)])),
    );
    for (const p of [ana, ...others]) p.close();
    await outcomesOf(coordinator, running);
    const refused = (results[0] as PromiseRejectedResult).reason as ClientRefusedError;
    assert.ok(refused instanceof ClientRefusedError);
    assert.match(refused.message, /the identity key announced for 'ben' \(client 2\) is not the roster's/);
  });

  it('the coordinator refuses a check-in under a name its roster does not enroll', async () => {
    const { coordinator, port, running } = await startCoordinator(
      config({ rounds: 1, checkInMs: 50, cohortSize: 2, minClients: 2, threshold: 2 }),
    );
    const stranger = participant(port, 'stranger');
    await assert.rejects(
      stranger.participate(() => [inputOf(0)]),
      (e: unknown) =>
        e instanceof TransportError &&
        e.code === status.PERMISSION_DENIED &&
        /'stranger' is not in the roster/.test(e.details),
    );
    stranger.close();
    coordinator.close();
    await running;
  });

  it('a client with an identity refuses a semi-honest round (a downgrade), before anything is sent', async () => {
    const { coordinator, port, running } = await startCoordinator(
      config({ serverModel: 'semi-honest', cohortSize: 2, minClients: 2, threshold: 2 }),
    );
    const results = await Promise.allSettled(
      ['ana', 'ben'].map(async (name, i) => {
        const p = participant(port, name, { signer: signers.get(name)!, roster: ROSTER });
        try {
          return await p.participate(() => [inputOf(i)]);
        } finally {
          p.close();
        }
      }),
    );
    await outcomesOf(coordinator, running);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const error = (r as PromiseRejectedResult).reason as ClientRefusedError;
      assert.ok(error instanceof ClientRefusedError);
      assert.match(error.message, /announced a semi-honest round; this client has an identity/);
    }
  });

  it('a client without an identity refuses a malicious-setting round, saying what it needs', async () => {
    const { coordinator, port, running } = await startCoordinator(
      config({ cohortSize: 2, minClients: 2, threshold: 2 }),
    );
    const results = await Promise.allSettled(
      ['ana', 'ben'].map(async (name, i) => {
        const p = participant(port, name);
        try {
          return await p.participate(() => [inputOf(i)]);
        } finally {
          p.close();
        }
      }),
    );
    const [outcome] = await outcomesOf(coordinator, running);
    assert.equal(outcome?.status, 'aborted');
    for (const r of results) {
      const error = (r as PromiseRejectedResult).reason as ClientRefusedError;
      assert.ok(error instanceof ClientRefusedError, String(error));
      assert.match(
        error.message,
        /needs an identity key and the roster \(privagg client --identity --roster\)/,
      );
    }
  });

  it('a Participant refuses a roster that does not enroll it with its own key', () => {
    assert.throws(
      () => participant(1, 'zed', { signer: signers.get('ana')!, roster: ROSTER }),
      /the roster does not enroll 'zed'/,
    );
    assert.throws(
      () => participant(1, 'ben', { signer: signers.get('ana')!, roster: ROSTER }),
      /enrolls 'ben' with another key than this identity's/,
    );
  });
});

describe('one client signing garbage is dropped, not the round (malicious setting over gRPC)', () => {
  const sumOf = (names: readonly string[]) => {
    const sum = new Uint32Array(DIM);
    for (const name of names) {
      const x = inputOf(NAMES.indexOf(name));
      for (let j = 0; j < DIM; j++) sum[j] = (sum[j]! + x[j]!) >>> 0;
    }
    return sum;
  };
  /** Every client but `offender` completed; the offender was told, in words matching `why`. */
  function assertOnlyOffenderEnded(
    results: PromiseSettledResult<unknown>[],
    offender: string,
    why: RegExp,
  ): void {
    results.forEach((result, i) => {
      if (NAMES[i] !== offender) {
        assert.equal(result.status, 'fulfilled', `${NAMES[i]} completed`);
        return;
      }
      assert.equal(result.status, 'rejected', `${offender} did not complete`);
      assert.match(String((result as PromiseRejectedResult).reason), why);
    });
  }

  /**
   * `name`'s enrolled identity, whose signatures over messages with the domain `label` (PROTOCOL.md
   * §4.0, §4.4) are 64 bytes of garbage: a client that is broken or malicious, not an impostor.
   */
  function garbleSignatures(name: string, label: 'advertise' | 'consistency'): ClientIdentity {
    const signer = Ed25519Signer.generate(new DeterministicRng(`id/${name}`));
    const honest = signer.sign.bind(signer);
    const domain = `privagg/v1/${label}`;
    signer.sign = (message: Uint8Array) =>
      Buffer.from(message.subarray(0, domain.length)).toString('latin1') === domain
        ? new Uint8Array(64).fill(0x5a)
        : honest(message);
    return { signer, roster: ROSTER };
  }

  it('a garbage advertise signature: that client dropped at advertise, the others summed exactly', async () => {
    const { coordinator, port, running } = await startCoordinator(config());
    const offender = 'dee';
    const results = await runAll(port, (name) =>
      name === offender
        ? garbleSignatures(name, 'advertise')
        : { signer: signers.get(name)!, roster: ROSTER },
    );
    const [outcome] = await outcomesOf(coordinator, running);
    assert.ok(outcome);
    assert.equal(outcome.status, 'ok', outcome.reason);
    const survivors = NAMES.filter((n) => n !== offender);
    assert.deepEqual(outcome.survivors, survivors);
    assert.deepEqual(outcome.dropped, { [offender]: 'advertise' });
    assert.deepEqual(outcome.sums[0], sumOf(survivors));
    assertOnlyOffenderEnded(results, offender, /key advertisement signature is invalid/);
  });

  it('a garbage consistency signature: that client gets no unmask request; the sum is still exact', async () => {
    // Its masked input is already in (U3, the list every client signed, is fixed at the masked
    // stage), so it stays a survivor; it is told why it is ended, and is not asked to unmask (U4).
    const { coordinator, port, running } = await startCoordinator(config());
    const offender = 'dee';
    const results = await runAll(port, (name) =>
      name === offender
        ? garbleSignatures(name, 'consistency')
        : { signer: signers.get(name)!, roster: ROSTER },
    );
    const [outcome] = await outcomesOf(coordinator, running);
    assert.ok(outcome);
    assert.equal(outcome.status, 'ok', outcome.reason);
    assert.deepEqual(outcome.survivors, NAMES);
    assert.deepEqual(outcome.dropped, {});
    // …and the outcome shows it was ended after its input was taken.
    assert.deepEqual(outcome.lostAfterMasked, { [offender]: 'consistency' });
    assert.deepEqual(outcome.sums[0], sumOf(NAMES));
    assertOnlyOffenderEnded(results, offender, /consistency signature is invalid/);
  });
});
