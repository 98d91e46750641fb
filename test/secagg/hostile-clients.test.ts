/**
 * One hostile client against the real state machines (issue 12): whatever a single client sends, the
 * honest clients refuse nothing, the offender is dropped or its bad shares are set aside, and the
 * round completes with exactly the survivors' sum — or, when too many shares are bad to recover a
 * secret, aborts with one clear reason. Hostile clients are played through the simulator's `forge`
 * hook (client → server); a tampering coordinator through `tamper` (server → client).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecAggClient } from '../../src/secagg/client.ts';
import { FIELD_PRIME, fieldElementFromBytes, fieldElementToBytes } from '../../src/secagg/crypto/shamir.ts';
import { ProtocolViolation, Refusal } from '../../src/secagg/errors.ts';
import { maxPrivateDropouts, minimumHararyThreshold } from '../../src/secagg/graph-params.ts';
import type {
  AdvertiseKeysMessage,
  ClientMessage,
  SecretShare,
  ServerMessage,
  Stage,
  UnmaskResponseMessage,
} from '../../src/secagg/messages.ts';
import { type RoundParams, splitViewMinimum } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { type RoundResult, SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId, ServerModel } from '../../src/secagg/types.ts';
import { type SimulationOptions, simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum, rngFor } from './harness.ts';

const id = (n: number) => n as ClientId;
const hexBytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const SMALL_ORDER = hexBytes('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
/** p itself, little-endian: bit 255 clear, value ≥ p. */
const P_BYTES = hexBytes(`ed${'ff'.repeat(30)}7f`);

type Report = ReturnType<typeof simulateRound>;

function run(params: RoundParams, label: string, options: Partial<SimulationOptions> = {}) {
  const inputs = makeInputs(params);
  const report = simulateRound({ params, inputs, rngFor: rngFor(label), ...options });
  return { inputs, report };
}

function assertOk(report: Report): RoundResult & { status: 'ok' } {
  const { result } = report;
  if (result.status !== 'ok') assert.fail(`round aborted: ${result.error.message}`);
  return result;
}

/** No honest client refused or failed: every error a client raised is a hostile one's. */
function assertNoRefusals(report: Report, hostile: readonly ClientId[] = []): void {
  for (const [who, error] of report.clientErrors) {
    assert.ok(hostile.includes(who), `client ${who} raised ${error.message}`);
  }
}

/**
 * `value + holder mod p` as fe bytes: still a field element, but the wrong share. (The error depends on
 * the holder so that two wrong shares never cancel at 0 by the symmetry of equal errors.)
 */
function wrongShare(share: Uint8Array, holder: ClientId): Uint8Array {
  return fieldElementToBytes((fieldElementFromBytes(share) + BigInt(holder)) % FIELD_PRIME);
}

/** Rewrites holder's shares of the given owners in its unmask response. */
function corruptUnmask(holder: ClientId, owners: readonly ClientId[], kind: 'self' | 'key' = 'self') {
  return (from: ClientId, message: ClientMessage): ClientMessage => {
    if (from !== holder || message.type !== 'unmask') return message;
    const edit = (shares: readonly SecretShare[]) =>
      shares.map((s) => (owners.includes(s.of) ? { ...s, share: wrongShare(s.share, holder) } : s));
    return kind === 'self'
      ? { ...message, selfMaskShares: edit(message.selfMaskShares) }
      : { ...message, keyShares: edit(message.keyShares) };
  };
}

/** Flips a byte in each share ciphertext `sender` sends to a recipient in `to` (all when omitted). */
function garbleShares(sender: ClientId, to?: readonly ClientId[]) {
  return (from: ClientId, message: ClientMessage): ClientMessage => {
    if (from !== sender || message.type !== 'shares') return message;
    return {
      ...message,
      ciphertexts: message.ciphertexts.map((c) => {
        if (to && !to.includes(c.to)) return c;
        const ciphertext = c.ciphertext.slice();
        ciphertext[20]! ^= 0x40;
        return { ...c, ciphertext };
      }),
    };
  };
}

/** Composes forge hooks; `undefined` from one swallows the message. */
function forges(...steps: ((from: ClientId, m: ClientMessage) => ClientMessage | undefined)[]) {
  return (from: ClientId, message: ClientMessage) =>
    steps.reduce<ClientMessage | undefined>((m, step) => (m ? step(from, m) : m), message);
}

/** Swallows a client's message of one stage: it stalls there and is dropped when the stage closes. */
const silentAt =
  (who: ClientId, type: ClientMessage['type']) =>
  (from: ClientId, message: ClientMessage): ClientMessage | undefined =>
    from === who && message.type === type ? undefined : message;

// ---- advertised keys ---------------------------------------------------------------------------

interface KeyCase {
  readonly name: string;
  readonly edit: (
    own: AdvertiseKeysMessage,
    earlier: ReadonlyMap<ClientId, AdvertiseKeysMessage>,
  ) => AdvertiseKeysMessage;
  readonly violation: RegExp;
}

const keyCases: KeyCase[] = [
  {
    name: 'a mask key with bit 255 set',
    edit: (m) => {
      const sPk = m.sPk.slice();
      sPk[31]! |= 0x80;
      return { ...m, sPk };
    },
    violation: /client 4's mask key is invalid: non-canonical encoding \(bit 255 set\)/,
  },
  {
    name: 'a cipher key equal to p',
    edit: (m) => ({ ...m, cPk: P_BYTES }),
    violation: /client 4's cipher key is invalid: non-canonical encoding \(value >= p\)/,
  },
  {
    name: 'a low-order mask key',
    edit: (m) => ({ ...m, sPk: SMALL_ORDER }),
    violation: /client 4's mask key is invalid: small-order point/,
  },
  {
    name: "another client's mask key",
    edit: (m, earlier) => ({ ...m, sPk: earlier.get(id(2))!.sPk }),
    violation: /client 4's mask key repeats a key client 2 advertised/,
  },
  {
    name: 'its own cipher key as its mask key',
    edit: (m) => ({ ...m, sPk: m.cPk }),
    violation: /client 4 advertises one key as both its cipher and mask key/,
  },
];

describe('a malformed advertised key', () => {
  for (const serverModel of ['semi-honest', 'malicious'] as const) {
    for (const c of keyCases) {
      it(`${c.name} (${serverModel}): its sender is dropped at advertise, nobody refuses, the sum is exact`, () => {
        const params = makeParams({ n: 6, threshold: 4, serverModel });
        const offender = id(4);
        const earlier = new Map<ClientId, AdvertiseKeysMessage>();
        const { inputs, report } = run(params, `bad-key/${c.name}/${serverModel}`, {
          forge: (from, message) => {
            if (message.type !== 'advertise') return message;
            if (from !== offender) {
              earlier.set(from, message);
              return message;
            }
            return c.edit(message, earlier);
          },
        });
        const result = assertOk(report);
        const others = params.clients.filter((u) => u !== offender);
        assert.deepEqual(result.survivors, others);
        assert.deepEqual([...result.dropped], [[offender, 'advertise']]);
        assert.deepEqual(result.sums, plainSum(params, inputs, others));
        assert.equal(report.violations.length, 1);
        assert.equal(report.violations[0]!.client, offender);
        assert.match(report.violations[0]!.message, c.violation);
        assertNoRefusals(report);
        for (const u of others) assert.equal(report.clients.get(u)!.state, 'done');
      });
    }
  }

  it('is refused without a trace: the rejected message changes nothing but dropping its sender', () => {
    const params = makeParams({ n: 4, threshold: 3 });
    const adverts = params.clients.map((u) =>
      new SecAggClient({
        id: u,
        params,
        input: makeInputs(params).get(u)!,
        rng: new DeterministicRng(`trace/${u}`),
      }).start(),
    );
    const server = new SecAggServer({ params });
    server.start(0);
    server.handle(id(1), adverts[0]!, 0);
    // Client 2 repeats client 1's mask key alongside a fresh cipher key.
    const repeat = { ...adverts[1]!, sPk: adverts[0]!.sPk };
    assert.throws(
      () => server.handle(id(2), repeat, 0),
      (e: unknown) =>
        e instanceof ProtocolViolation && e.client === 2 && /repeats a key client 1/.test(e.message),
    );
    assert.equal(server.stage, 'advertise');
    assert.equal(server.sessionId, undefined);
    assert.equal(server.pollTransmit(), undefined);
    // Its fresh cipher key was not recorded: another client may still advertise it.
    server.handle(id(3), { ...adverts[2]!, cPk: adverts[1]!.cPk }, 0);
    // The offender is out of the round: a corrected advertisement is refused too.
    assert.throws(() => server.handle(id(2), adverts[1]!, 0), /was dropped or disconnected/);
    server.handle(id(4), adverts[3]!, 0);
    assert.equal(server.stage, 'share');
    const peerKeys = server.pollTransmit()!.message;
    assert.equal(peerKeys.type, 'peer-keys');
    if (peerKeys.type === 'peer-keys')
      assert.deepEqual(
        peerKeys.peers.map((p) => p.id),
        [1, 3, 4],
      );
  });
});

// ---- corrupted unmask shares -------------------------------------------------------------------

describe('a corrupted unmask share', () => {
  it('with one share to spare (m = t + 1): found by leaving each out, its holder blamed', () => {
    const params = makeParams({ n: 5, threshold: 4 });
    // Holder 2's share of client 1's seed is among the t = 4 lowest, so the first try fails.
    const { inputs, report } = run(params, 'corrupt/one-spare', { forge: corruptUnmask(id(2), [id(1)]) });
    const result = assertOk(report);
    assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
    assert.deepEqual([...result.badShares], [[2, [1]]]);
    assert.deepEqual([...result.unreadableShares], []);
  });

  it('from two holders of one secret (m ≥ t + 4): both found by decoding, both blamed', () => {
    const params = makeParams({ n: 9, threshold: 5 });
    const forge = forges(corruptUnmask(id(1), [id(6)]), corruptUnmask(id(3), [id(6)]));
    const { inputs, report } = run(params, 'corrupt/two', { forge });
    const result = assertOk(report);
    assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
    assert.deepEqual(
      [...result.badShares],
      [
        [1, [6]],
        [3, [6]],
      ],
    );
  });

  it('every share from one holder: found once, then passed over for the other secrets', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    const { inputs, report } = run(params, 'corrupt/all-from-one', {
      forge: corruptUnmask(id(2), params.clients),
    });
    const result = assertOk(report);
    assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
    // Blamed for the first secret that used its share; later ones never tried it.
    assert.deepEqual([...result.badShares], [[2, [1]]]);
  });

  it("of a dropped client's mask key: found against its public key, the pair masks removed", () => {
    const params = makeParams({ n: 7, threshold: 4 });
    const lost = id(7);
    const { inputs, report } = run(params, 'corrupt/key', {
      dropouts: new Map<ClientId, Stage>([[lost, 'masked']]),
      forge: corruptUnmask(id(1), [lost], 'key'),
    });
    const result = assertOk(report);
    const inSum = params.clients.filter((u) => u !== lost);
    assert.deepEqual(result.survivors, inSum);
    assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
    assert.deepEqual([...result.badShares], [[1, [7]]]);
  });

  it('too many for one secret: a clean abort with one reason, naming the secret', () => {
    const params = makeParams({ n: 5, threshold: 4 });
    const forge = forges(corruptUnmask(id(1), [id(3)]), corruptUnmask(id(2), [id(3)]));
    const { report } = run(params, 'corrupt/too-many', { forge });
    const { result } = report;
    assert.equal(result.status, 'aborted');
    if (result.status !== 'aborted') return;
    assert.equal(result.error.code, 'reconstruction-failed');
    assert.equal(result.error.stage, 'unmask');
    assert.equal(
      result.error.message,
      "reconstruction-failed at unmask: client 3's self-mask seed matches no value its 5 shares give " +
        '(threshold 4: at most 1 wrong shares can be found among 5)',
    );
    // Every client is told the same single reason.
    for (const client of report.clients.values()) assert.equal(client.abortReason, result.error.message);
  });
});

// ---- unreadable share messages -----------------------------------------------------------------

/** A Harary round (PROTOCOL.md §2.2) on n clients of degree k, as harary-round.test.ts builds it. */
function hararyParams(n: number, degree: number): RoundParams {
  const lost = maxPrivateDropouts(n, degree, 1, 40);
  const threshold = Math.max(minimumHararyThreshold(n, degree, 1, 40), splitViewMinimum(degree + 1));
  return makeParams({
    n,
    threshold,
    maxCorruptClients: 1,
    graph: { kind: 'harary', degree, minSurvivors: Math.max(threshold, n - lost), securityBits: 40 },
  });
}

describe('a share message its recipients cannot read', () => {
  const settings: { name: string; params: () => RoundParams }[] = [
    { name: 'semi-honest', params: () => makeParams({ n: 6, threshold: 4 }) },
    { name: 'malicious', params: () => makeParams({ n: 6, threshold: 4, serverModel: 'malicious' }) },
    { name: 'Harary graph', params: () => hararyParams(20, 6) },
  ];
  for (const setting of settings) {
    it(`sent to everyone by a client that then stalls (${setting.name}): nobody refuses, it is dropped, the sum is exact`, () => {
      const params = setting.params();
      const hostile = params.clients.at(-1)!;
      const { inputs, report } = run(params, `unreadable/all/${setting.name}`, {
        forge: forges(garbleShares(hostile), silentAt(hostile, 'masked')),
      });
      const result = assertOk(report);
      const inSum = params.clients.filter((u) => u !== hostile);
      assert.deepEqual(result.survivors, inSum);
      assert.deepEqual([...result.dropped], [[hostile, 'masked']]);
      assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
      assertNoRefusals(report);
      // Its neighbours could not read its shares, masked with it anyway and revealed the pair seeds.
      const readers = [...report.clients.values()].filter((c) => c.id !== hostile);
      const neighbours = readers.filter((c) => c.state === 'done' && c.unreadableSenders.length > 0);
      assert.ok(neighbours.length >= 2);
      for (const c of readers) {
        assert.equal(c.state, 'done');
        assert.deepEqual(c.unreadableSenders, neighbours.includes(c) ? [hostile] : []);
      }
      assert.deepEqual(
        [...result.unreadableShares],
        [[hostile, neighbours.map((c) => c.id).sort((a, b) => a - b)]],
      );
      assert.deepEqual([...result.badShares], []);
    });
  }

  it('sent to one recipient by a client that stays: it is in the sum, its seed rebuilt from the others', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    const { inputs, report } = run(params, 'unreadable/one-stays', { forge: garbleShares(id(6), [id(2)]) });
    const result = assertOk(report);
    assert.deepEqual(result.survivors, params.clients);
    assert.deepEqual(result.sums, plainSum(params, inputs, params.clients));
    assert.deepEqual([...result.unreadableShares], [[6, [2]]]);
    assertNoRefusals(report);
  });

  it('sent to one recipient by a client that stalls: its key rebuilt, the revealed seed checked', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    const unmaskResponses = new Map<ClientId, UnmaskResponseMessage>();
    const { inputs, report } = run(params, 'unreadable/one-stalls', {
      forge: forges(garbleShares(id(6), [id(2)]), silentAt(id(6), 'masked')),
      observe: (from, message) => {
        if (message.type === 'unmask') unmaskResponses.set(from, message);
      },
    });
    const result = assertOk(report);
    const inSum = params.clients.filter((u) => u !== 6);
    assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
    assert.deepEqual([...result.unreadableShares], [[6, [2]]]);
    assert.deepEqual([...result.badShares], []);
    // Client 2 revealed its pair seed with 6 instead of a key share; the others sent key shares.
    assert.deepEqual(
      unmaskResponses.get(id(2))!.pairSeeds.map((s) => s.of),
      [6],
    );
    assert.deepEqual(unmaskResponses.get(id(2))!.keyShares, []);
    assert.deepEqual(
      unmaskResponses.get(id(3))!.keyShares.map((s) => s.of),
      [6],
    );
  });

  it('sent to everyone by a client whose masked input is summed: a clean abort naming it', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    const { report } = run(params, 'unreadable/all-stays', { forge: garbleShares(id(6)) });
    const { result } = report;
    assert.equal(result.status, 'aborted');
    if (result.status !== 'aborted') return;
    // Only its own share of its seed exists: its self mask cannot be removed, so nothing is released.
    assert.equal(
      result.error.message,
      "too-few-clients at unmask: only 1 shares of client 6's self-mask seed arrived, threshold is 4 " +
        '(5 of its holders could not read its share message)',
    );
    assertNoRefusals(report);
    assert.deepEqual([...result.unreadableShares], [[6, [1, 2, 3, 4, 5]]]);
  });

  it('a wrong pair seed revealed in place of a key share is caught when the key can be rebuilt', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    // Client 2 claims it could not read dropped client 6's shares and reveals a made-up seed.
    const lie = (from: ClientId, message: ClientMessage): ClientMessage => {
      if (from !== 2 || message.type !== 'unmask') return message;
      return { ...message, keyShares: [], pairSeeds: [{ of: id(6), seed: new Uint8Array(32).fill(7) }] };
    };
    const { inputs, report } = run(params, 'unreadable/lie', {
      dropouts: new Map<ClientId, Stage>([[id(6), 'masked']]),
      forge: lie,
    });
    const result = assertOk(report);
    const inSum = params.clients.filter((u) => u !== 6);
    assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
    assert.deepEqual([...result.badShares], [[2, [6]]]);
    assert.deepEqual([...result.unreadableShares], [[6, [2]]]);
  });
});

describe('a recipient reveals nothing of a sender whose share it could not read', () => {
  /** A coordinator that corrupts client 6's share message to client 1 (the recipient). */
  const corruptTo1 = (to: ClientId, message: ServerMessage): ServerMessage => {
    if (to !== 1 || message.type !== 'share-delivery') return message;
    return {
      ...message,
      ciphertexts: message.ciphertexts.map((c) => {
        if (c.from !== 6) return c;
        const ciphertext = c.ciphertext.slice();
        ciphertext[0]! ^= 1;
        return { ...c, ciphertext };
      }),
    };
  };

  for (const [serverModel, sixDrops] of [
    ['semi-honest', false],
    ['semi-honest', true],
    ['malicious', false],
    ['malicious', true],
  ] as [ServerModel, boolean][]) {
    it(`when it survives: no share of it; when it dropped: its pair seed only (${serverModel}, ${sixDrops ? 'dropped' : 'survivor'})`, () => {
      const params = makeParams({ n: 6, threshold: 4, serverModel });
      let response: UnmaskResponseMessage | undefined;
      const { inputs, report } = run(params, `recipient/${serverModel}/${sixDrops}`, {
        tamper: corruptTo1,
        dropouts: sixDrops ? new Map<ClientId, Stage>([[id(6), 'masked']]) : undefined,
        observe: (from, message) => {
          if (from === 1 && message.type === 'unmask') response = message;
        },
      });
      const result = assertOk(report);
      const inSum = sixDrops ? params.clients.filter((u) => u !== 6) : params.clients;
      assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
      assertNoRefusals(report);
      assert.deepEqual(report.clients.get(id(1))!.unreadableSenders, [6]);
      assert.ok(response);
      assert.ok(!response.selfMaskShares.some((s) => s.of === 6));
      assert.ok(!response.keyShares.some((s) => s.of === 6));
      assert.deepEqual(
        response.pairSeeds.map((s) => s.of),
        sixDrops ? [6] : [],
      );
    });
  }

  it('and still refuses to be asked for both of its secrets', () => {
    const params = makeParams({ n: 6, threshold: 4 });
    const { report } = run(params, 'recipient/both', {
      tamper: (to, message) => {
        const m = corruptTo1(to, message);
        return to === 1 && m.type === 'unmask-request' ? { ...m, dropped: [id(6)] } : m;
      },
    });
    const error = report.clientErrors.get(id(1));
    assert.ok(error instanceof Refusal && error.code === 'both-shares-requested', String(error));
  });
});

// ---- unmask responses the server refuses ----------------------------------------------------------

describe('an unmask response that does not match the request', () => {
  const cases: { name: string; edit: (m: UnmaskResponseMessage) => UnmaskResponseMessage }[] = [
    {
      name: "leaves out the responder's own share",
      edit: (m) => ({ ...m, selfMaskShares: m.selfMaskShares.filter((s) => s.of !== 3) }),
    },
    {
      name: 'gives both a key share and a pair seed for one dropped client',
      edit: (m) => ({ ...m, pairSeeds: [{ of: id(6), seed: new Uint8Array(32) }] }),
    },
    {
      name: 'gives a pair seed for a survivor',
      edit: (m) => ({ ...m, pairSeeds: [{ of: id(5), seed: new Uint8Array(32) }] }),
    },
    {
      name: 'gives a share of a client that is not its neighbour in E',
      edit: (m) => ({ ...m, keyShares: [...m.keyShares, { of: id(7), share: new Uint8Array(32) }] }),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: the responder's shares are not used, the round goes on`, () => {
      const params = makeParams({ n: 7, threshold: 4 });
      const { inputs, report } = run(params, `response/${c.name}`, {
        dropouts: new Map<ClientId, Stage>([[id(6), 'masked']]),
        forge: (from, message) => (from === 3 && message.type === 'unmask' ? c.edit(message) : message),
      });
      const result = assertOk(report);
      const inSum = params.clients.filter((u) => u !== 6);
      assert.deepEqual(result.sums, plainSum(params, inputs, inSum));
      assert.equal(report.violations.length, 1);
      assert.equal(report.violations[0]!.client, 3);
      assert.match(report.violations[0]!.message, /client 3's unmask response does not match the request/);
    });
  }
});
