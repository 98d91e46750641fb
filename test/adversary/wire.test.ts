/**
 * A cheating coordinator over the real wire (cheating-coordinator.ts) against real `Participant`s, in
 * both settings: every attack of attacks.ts is refused by every honest client, with the refusal
 * reason that names it, told to the coordinator in an Abort frame, and before the client sends
 * anything that would let the coordinator unmask an input. The same server with its cheating switched
 * off completes rounds with exact sums. In the malicious setting the clients hold identity keys and
 * the federation's roster, and the coordinator announces each round's cohort from the roster; the
 * attacks there are the semi-honest ones that still mean something, those on signatures
 * (MALICIOUS_ATTACKS) and those on the cohort (COHORT_ATTACKS).
 *
 * Not here: a coordinator that substitutes fresh keys of its own in the semi-honest setting is out of
 * that setting's threat model (README: the coordinator is trusted to relay keys), so no client can
 * refuse it; in the malicious setting it is refused (MALICIOUS_ATTACKS).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import {
  type ClientIdentity,
  ClientRefusedError,
  CoordinatorAbortError,
  Participant,
  type Participation,
} from '../../src/client/sdk.ts';
import { encodeIdentityKey, parseRoster } from '../../src/identity/roster.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import { checkHararyParameters } from '../../src/secagg/graph-params.ts';
import type { ClientMessage } from '../../src/secagg/messages.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId, ServerModel } from '../../src/secagg/types.ts';
import { inputsFor, plainSums, testRng } from '../server/robustness-harness.ts';
import {
  type Attack,
  COHORT_ATTACKS,
  exposedInputs,
  HARARY_PLAN,
  MALICIOUS_ATTACKS,
  splitView,
  WIRE_ATTACKS,
} from './attacks.ts';
import {
  CheatingCoordinator,
  type CheatingCoordinatorConfig,
  type CheatingRound,
} from './cheating-coordinator.ts';

const NAMES = ['client-1', 'client-2', 'client-3', 'client-4', 'client-5', 'client-6'];
const VECTORS = [{ name: 'v', length: 16, bits: 32 }];
const THRESHOLD = 4;
/** A participant that has not settled by then has failed to refuse (or to finish). */
const DEADLINE_MS = 20_000;

const coordinators: CheatingCoordinator[] = [];
after(() => {
  for (const c of coordinators) c.stop();
});

interface Played {
  /** Each client's outcome per round, by name. */
  readonly outcomes: ReadonlyMap<string, readonly (Participation | Error)[]>;
  /** The rounds as the cheating coordinator saw them. */
  readonly rounds: readonly CheatingRound[];
}

/** Each client's long-term identity key (the malicious setting), the same in every round. */
const SIGNERS = new Map(
  NAMES.map((name) => [name, Ed25519Signer.generate(new DeterministicRng(`identity/${name}`))]),
);
/** The federation's roster, as every client and the coordinator hold it. */
const ROSTER = parseRoster(
  JSON.stringify(Object.fromEntries([...SIGNERS].map(([name, s]) => [name, encodeIdentityKey(s.publicKey)]))),
  'the test roster',
);
const identityOf = (name: string): ClientIdentity => ({ signer: SIGNERS.get(name)!, roster: ROSTER });

/** Runs `rounds` rounds of the six clients against a cheating coordinator, in `setting`. */
async function play(
  options: Pick<CheatingCoordinatorConfig, 'attack' | 'closeAtRoundEnd'>,
  rounds = 1,
  setting: ServerModel = 'semi-honest',
): Promise<Played> {
  const malicious = setting === 'malicious';
  const coordinator = new CheatingCoordinator({
    cohort: NAMES,
    params: () => ({
      serverModel: setting,
      threshold: THRESHOLD,
      maxCorruptClients: 1,
      vectors: VECTORS,
    }),
    ...(malicious && { roster: ROSTER }),
    ...options,
  });
  coordinators.push(coordinator);
  const address = await coordinator.start();
  const outcomes = await Promise.all(
    NAMES.map(async (name, i) => {
      const participant = new Participant({
        address,
        credentials: credentials.createInsecure(),
        name,
        rng: testRng(1 + i),
        ...(malicious && { identity: identityOf(name) }),
      });
      const results: (Participation | Error)[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          results.push(
            await participant
              .participate(({ params }) => inputsFor(name)(params), DEADLINE_MS)
              .catch((error: Error) => error),
          );
        }
      } finally {
        participant.close();
      }
      return [name, results] as const;
    }),
  );
  const seen = await Promise.all(Array.from({ length: rounds }, (_, i) => coordinator.round(i)));
  return { outcomes: new Map(outcomes), rounds: seen };
}

/** Every message the clients sent in a round, with its sender. */
function sentIn(round: CheatingRound): [ClientId, ClientMessage][] {
  return [...round.sessions.values()].flatMap((log) =>
    log.sent.map((m): [ClientId, ClientMessage] => [log.id, m]),
  );
}

/** Asserts an honest round: every client done, the exact sum, nothing exposed. */
function assertHonestRound(played: Played, index: number): void {
  for (const [name, results] of played.outcomes) {
    const outcome = results[index];
    assert.ok(!(outcome instanceof Error), `${name} completed round ${index + 1}: ${String(outcome)}`);
  }
  const round = played.rounds[index]!;
  assert.equal(round.result?.status, 'ok', `round ${index + 1}: ${JSON.stringify(round.result?.status)}`);
  if (round.result?.status !== 'ok') return;
  assert.equal(round.result.survivors.length, NAMES.length);
  assert.deepEqual(round.result.sums, plainSums(NAMES, VECTORS));
  assert.deepEqual(exposedInputs(sentIn(round), round.params.threshold), []);
}

describe('the cheating coordinator with its cheating switched off', () => {
  for (const setting of ['semi-honest', 'malicious'] as const) {
    it(`completes two rounds over the wire with exact sums (${setting})`, async () => {
      const played = await play({}, 2, setting);
      assertHonestRound(played, 0);
      assertHonestRound(played, 1);
      assert.equal(played.rounds[0]!.params.serverModel, setting);
    });
  }
});

/** The attacks over the wire in the malicious setting, each with the refusal it meets there. */
const MALICIOUS_WIRE_ATTACKS: readonly Attack[] = [
  ...WIRE_ATTACKS.flatMap((attack) =>
    attack.inMalicious ? [{ ...attack, setting: 'malicious' as const, refusal: attack.inMalicious }] : [],
  ),
  ...MALICIOUS_ATTACKS,
  ...COHORT_ATTACKS,
];

for (const [setting, attacks] of [
  ['semi-honest', WIRE_ATTACKS],
  ['malicious', MALICIOUS_WIRE_ATTACKS],
] as const) {
  describe(`every honest client refuses a cheating coordinator, naming the attack (${setting})`, () => {
    for (const attack of attacks) {
      it(`${attack.name} → ${attack.refusal}`, { timeout: 2 * DEADLINE_MS }, async () => {
        const before = attack.roundsBefore ?? 0;
        const played = await play({ attack }, before + 1, setting);
        for (let r = 0; r < before; r++) assertHonestRound(played, r);
        assertRefused(played, attack, before);
      });
    }
  });
}

/**
 * Every client refused the attacked round with the attack's reason, told the coordinator so in an
 * Abort frame, and sent nothing that exposes an input (no unmask response at all, except the one
 * honest answer before a repeated request).
 */
function assertRefused(played: Played, attack: Attack, index: number): void {
  const round = played.rounds[index]!;
  assert.equal(round.attacked, true);
  for (const [name, results] of played.outcomes) {
    const outcome = results[index];
    assert.ok(outcome instanceof ClientRefusedError, `${name} refused: got ${String(outcome)}`);
    assert.equal(outcome.refusal.code, attack.refusal, `${name}: ${outcome.message}`);
    const log = round.sessions.get(name)!;
    assert.deepEqual(
      log.abort && { code: log.abort.code, refusal: log.abort.refusal },
      { code: 'client-refused', refusal: attack.refusal },
      `${name}'s Abort frame reached the coordinator`,
    );
    const unmaskResponses = log.sent.filter((m) => m.type === 'unmask').length;
    assert.equal(
      unmaskResponses,
      attack.refusal === 'repeated-request' ? 1 : 0,
      `${name}'s unmask responses`,
    );
    if (attack.announce) assert.deepEqual(log.sent, [], `${name} sent nothing after the announcement`);
  }
  assert.deepEqual(exposedInputs(sentIn(round), round.params.threshold), []);
}

describe('the Harary attacks test what they say', () => {
  it('the halved threshold passes the threat-model bounds: only the split-view rule refuses it', () => {
    const graph = HARARY_PLAN.graph as { degree: number; minSurvivors: number; securityBits: number };
    const check = checkHararyParameters({
      n: HARARY_PLAN.n,
      degree: graph.degree,
      threshold: graph.degree / 2,
      corruptClients: HARARY_PLAN.maxCorruptClients,
      minSurvivors: graph.minSurvivors,
      securityBits: graph.securityBits,
    });
    assert.equal(check.ok, true, JSON.stringify(check));
  });
});

describe('a split view at t > n/2', () => {
  it("is answered, and never holds t shares of both of a client's secrets", async () => {
    // Client 1's input would be exposed if clients 2 and 3 (with 1 itself: three holders) revealed
    // shares of its self-mask seed and 4, 5 and 6 shares of its mask key, with t = 3. At t = 4 each
    // side falls one short; a threshold of 3 for six clients is refused (the first attack above).
    const target = 1 as ClientId;
    const played = await play(
      {
        attack: { cheat: splitView(target, [2, 3] as ClientId[]) },
        closeAtRoundEnd: true,
      },
      1,
    );
    const round = played.rounds[0]!;
    const responses = sentIn(round).filter(([, m]) => m.type === 'unmask');
    assert.equal(responses.length, NAMES.length, 'every client answered its view of the round');
    const holders = (kind: 'selfMaskShares' | 'keyShares') =>
      responses
        .filter(([, m]) => m.type === 'unmask' && m[kind].some((s) => s.of === target))
        .map(([id]) => id);
    assert.deepEqual(holders('selfMaskShares'), [1, 2, 3]);
    assert.deepEqual(holders('keyShares'), [4, 5, 6]);
    assert.deepEqual(exposedInputs(responses, THRESHOLD), []);
    assert.deepEqual(exposedInputs(responses, 3), [target], 'at t = 3 the same answers would expose it');
  });
});

describe('a split view in the malicious setting', () => {
  it('splits the signatures: no list gathers t, no client is asked to unmask, nothing is exposed', async () => {
    // Clients 4, 5 and 6 are told at the consistency stage that client 1 dropped; 1, 2 and 3 that it
    // survived. Each group signs the list it was shown, and neither list can gather t = 4 signatures.
    const target = 1 as ClientId;
    const played = await play(
      {
        attack: { cheat: splitView(target, [2, 3] as ClientId[], 'consistency-request') },
        closeAtRoundEnd: true,
      },
      1,
      'malicious',
    );
    const round = played.rounds[0]!;
    const signedBy = (id: ClientId) => [...round.sessions.values()].find((log) => log.id === id)!.sent;
    for (const id of [1, 2, 3, 4, 5, 6] as ClientId[]) {
      assert.ok(
        signedBy(id).some((m) => m.type === 'consistency'),
        `client ${id} signed the list it was shown`,
      );
    }
    assert.equal(
      round.result?.status,
      'aborted',
      'the honest core could not gather t signatures on one list',
    );
    // Clients 1–3 are told the round aborted; 4–6, whose signatures did not verify on the core's list,
    // were dropped by it. No client completed.
    for (const [name, results] of played.outcomes) {
      const outcome = results[0];
      const id = round.sessions.get(name)!.id;
      if (id <= 3) assert.ok(outcome instanceof CoordinatorAbortError, `${name}: ${String(outcome)}`);
      else assert.ok(outcome instanceof Error, `${name} did not complete: ${String(outcome)}`);
    }
    assert.deepEqual(
      sentIn(round).filter(([, m]) => m.type === 'unmask'),
      [],
      'no unmask response was sent',
    );
    assert.deepEqual(exposedInputs(sentIn(round), 1), []);
  });
});
