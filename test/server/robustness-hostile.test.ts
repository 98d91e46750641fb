/**
 * One hostile client against the coordinator over loopback gRPC (issue 12), next to honest SDK
 * participants: a key that honest clients would refuse is never relayed (its sender gets
 * INVALID_ARGUMENT and is dropped at advertise); share messages nobody can read and a wrong unmask
 * share are survived, and reported by sender in the outcome and its JSON line. Every round ends ok
 * with exactly the survivors' plain sum, and every honest participant completes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { outcomeRecord } from '../../src/cli/serve.ts';
import type * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { FIELD_PRIME, fieldElementFromBytes, fieldElementToBytes } from '../../src/secagg/crypto/shamir.ts';
import {
  codeName,
  content,
  frameOf,
  inputsFor,
  type PlayedRound,
  plainSums,
  playRound,
  ScriptedParticipant,
  startCoordinator,
  type Tamper,
  type TestCoordinator,
  testConfig,
} from './robustness-harness.ts';

const HONEST = ['honest-0', 'honest-1', 'honest-2', 'honest-3'];

const running: TestCoordinator[] = [];
after(() => {
  for (const tc of running) tc.stop();
});

/** Plays one round of the honest participants and the scripted ones; checks what every round shares. */
async function roundWith(
  scripts: readonly {
    name: string;
    tamper: ConstructorParameters<typeof ScriptedParticipant>[1]['tamper'];
  }[],
  inSum: readonly string[],
): Promise<PlayedRound> {
  const n = HONEST.length + scripts.length;
  // The lowest threshold allowed (2t > n): the honest clients alone must be able to finish the round.
  const tc = await startCoordinator(
    testConfig({ cohortSize: n, minClients: n, threshold: Math.floor(n / 2) + 1 }),
  );
  running.push(tc);
  const scripted = scripts.map(
    (s) => new ScriptedParticipant(tc.address, { name: s.name, input: inputsFor(s.name), tamper: s.tamper }),
  );
  const played = await playRound(tc, HONEST, scripted);
  const { outcome } = played;
  assert.equal(outcome.status, 'ok', outcome.reason);
  assert.deepEqual([...outcome.survivors].sort(), [...inSum].sort());
  assert.deepEqual(outcome.sums, plainSums(inSum, outcome.vectors));
  for (const [name, result] of played.honest) assert.equal(result.status, 'fulfilled', name);
  return played;
}

/** Replaces the advertised keys of the honest frame. */
const advertise =
  (edit: (keys: pb.AdvertiseKeys) => pb.AdvertiseKeys): Tamper =>
  (frames) => [frameOf('advertiseKeys', edit(content(frames[0], 'advertiseKeys')))];

describe('a hostile client over gRPC', () => {
  it('advertising keys that honest clients would refuse is dropped at advertise; nothing is relayed', async () => {
    const cases = [
      {
        name: 'bit-255',
        tamper: advertise((k) => {
          const sPk = k.sPk.slice();
          sPk[31]! |= 0x80;
          return { ...k, sPk };
        }),
        details: /mask key is invalid: non-canonical encoding \(bit 255 set\)/,
      },
      {
        name: 'low-order',
        tamper: advertise((k) => ({
          ...k,
          cPk: Uint8Array.from(
            Buffer.from('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', 'hex'),
          ),
        })),
        details: /cipher key is invalid: small-order point/,
      },
      {
        name: 'one-key-twice',
        tamper: advertise((k) => ({ ...k, sPk: k.cPk })),
        details: /advertises one key as both its cipher and mask key/,
      },
    ];
    const played = await roundWith(
      cases.map((c) => ({ name: c.name, tamper: { advertise: c.tamper } })),
      HONEST,
    );
    const { outcome } = played;
    assert.deepEqual(outcome.dropped, Object.fromEntries(cases.map((c) => [c.name, 'advertise'])));
    for (const c of cases) {
      const { status } = played.scripted.get(c.name)!;
      assert.equal(codeName(status), Status[Status.INVALID_ARGUMENT], `${c.name}: ${status.details}`);
      assert.match(status.details, c.details, c.name);
    }
    assert.equal(outcome.badShares, undefined);
    assert.equal(outcome.unreadableShares, undefined);
    // The JSON line of an ordinary round has no new keys.
    assert.deepEqual(Object.keys(outcomeRecord(outcome)), ['round', 'status', 'survivors', 'dropped', 'sum']);
  });

  it("repeating another client's keys (two clients with one random stream) loses its place, the first stays", async () => {
    const tc = await startCoordinator(testConfig({ cohortSize: 6, minClients: 6, threshold: 4 }));
    running.push(tc);
    // The same seed gives both the same key pairs: whichever advertisement arrives second repeats a key.
    const twins = ['twin-a', 'twin-b'].map(
      (name) => new ScriptedParticipant(tc.address, { name, input: inputsFor(name), seed: 7 }),
    );
    const played = await playRound(tc, HONEST, twins);
    const { outcome } = played;
    assert.equal(outcome.status, 'ok', outcome.reason);
    const lost = Object.keys(outcome.dropped);
    assert.equal(lost.length, 1);
    assert.ok(lost[0] === 'twin-a' || lost[0] === 'twin-b');
    assert.deepEqual(outcome.dropped, { [lost[0]!]: 'advertise' });
    const { status } = played.scripted.get(lost[0]!)!;
    assert.equal(codeName(status), Status[Status.INVALID_ARGUMENT], status.details);
    assert.match(status.details, /cipher key repeats a key client \d+ advertised/);
    const inSum = [...HONEST, lost[0] === 'twin-a' ? 'twin-b' : 'twin-a'];
    assert.deepEqual([...outcome.survivors].sort(), inSum.sort());
    assert.deepEqual(outcome.sums, plainSums(inSum, outcome.vectors));
    for (const [name, result] of played.honest) assert.equal(result.status, 'fulfilled', name);
  });

  it('sending share messages nobody can read, then leaving: dropped at masked, reported by sender', async () => {
    const name = 'garbler';
    const played = await roundWith(
      [
        {
          name,
          tamper: {
            shares: (frames) => {
              const v = content(frames[0], 'encryptedShares');
              const ciphertexts = v.ciphertexts.map((c) => {
                const ciphertext = c.ciphertext.slice();
                ciphertext[30]! ^= 0x01;
                return { ...c, ciphertext };
              });
              return [frameOf('encryptedShares', { ...v, ciphertexts })];
            },
            // It leaves instead of sending its masked input.
            masked: (_frames, { stream }) => {
              stream.cancel();
              return [];
            },
          },
        },
      ],
      HONEST,
    );
    const { outcome } = played;
    assert.deepEqual(outcome.dropped, { [name]: 'masked' });
    assert.deepEqual(outcome.unreadableShares, { [name]: HONEST });
    assert.equal(outcome.badShares, undefined);
    assert.deepEqual(outcomeRecord(outcome)['unreadableShares'], { [name]: HONEST });
  });

  it('sending one wrong unmask share: the round completes with it in the sum, the share reported', async () => {
    // Named to sort first, so it gets id 1 and its shares are among the t lowest holders of each
    // secret: its wrong share of id 2's seed is used, found and set aside.
    const name = 'a-wrong-share';
    const played = await roundWith(
      [
        {
          name,
          tamper: {
            unmask: (frames) => {
              const v = content(frames[0], 'unmaskResponse');
              const selfMaskShares = v.selfMaskShares.map((s) =>
                s.owner === 2
                  ? { ...s, share: fieldElementToBytes((fieldElementFromBytes(s.share) + 5n) % FIELD_PRIME) }
                  : s,
              );
              return [frameOf('unmaskResponse', { ...v, selfMaskShares })];
            },
          },
        },
      ],
      [name, ...HONEST],
    );
    const { outcome } = played;
    assert.deepEqual(outcome.dropped, {});
    // Ids follow the sorted names: id 2 is the first honest participant.
    assert.deepEqual(outcome.badShares, { [name]: ['honest-0'] });
    assert.equal(codeName(played.scripted.get(name)!.status), Status[Status.OK]);
    assert.deepEqual(outcomeRecord(outcome)['badShares'], { [name]: ['honest-0'] });
  });
});
