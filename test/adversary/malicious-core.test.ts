/**
 * The attacks that need the malicious setting (attacks.ts MALICIOUS_ATTACKS), against the protocol
 * core in process: the honest server's messages pass through the same {@link Cheat} the wire driver
 * uses, and every client must refuse with the attack's reason before revealing a share. The same
 * attacks run over the wire against clients with identities in wire.test.ts. Also here: a split view against the signed consistency check, which needs
 * the coordinator to forge the rest of the round itself, and the liveness side — one client's garbage
 * signature drops that client, not the round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecAggClient } from '../../src/secagg/client.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import { Refusal } from '../../src/secagg/errors.ts';
import type {
  AdvertisedKeys,
  ClientMessage,
  ConsistencySignature,
  ServerMessage,
} from '../../src/secagg/messages.ts';
import type { RoundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId, Rng } from '../../src/secagg/types.ts';
import { type SimulationReport, simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, plainSum } from '../secagg/harness.ts';
import { type Attack, type EarlierRound, MALICIOUS_ATTACKS } from './attacks.ts';

const N = 6;
const THRESHOLD = 4;

function params(round: number): RoundParams {
  return makeParams({ n: N, threshold: THRESHOLD, maxCorruptClients: 1, serverModel: 'malicious', round });
}

/**
 * Each client's randomness for one round: its long-term identity key first (the same in every round,
 * as a provisioned key would be), then a stream of the round's own.
 */
function roundRng(label: string, round: number): (id: ClientId) => Rng {
  return (id) => {
    const identity = new DeterministicRng(`${label}/identity/${id}`);
    const rest = new DeterministicRng(`${label}/round/${round}/${id}`);
    let first = true;
    return {
      randomBytes(length: number): Uint8Array {
        if (!first) return rest.randomBytes(length);
        first = false;
        return identity.randomBytes(length);
      },
    };
  };
}

interface CoreRound {
  readonly report: SimulationReport;
  /** Every client message the server was sent, with its sender. */
  readonly sent: [ClientId, ClientMessage][];
  readonly earlier: EarlierRound;
}

/** One round through the core, its server messages passed through `attack`'s cheat. */
function playCore(
  label: string,
  round: number,
  earlier: readonly EarlierRound[],
  attack?: Attack,
): CoreRound {
  const p = params(round);
  const sent: [ClientId, ClientMessage][] = [];
  const keys = new Map<ClientId, AdvertisedKeys>();
  let signatures: readonly ConsistencySignature[] | undefined;
  const report = simulateRound({
    params: p,
    inputs: makeInputs(p, `${label}/${round}`),
    rngFor: roundRng(label, round),
    observe: (from, message) => {
      sent.push([from, message]);
      if (message.type === 'advertise')
        keys.set(from, { id: from, cPk: message.cPk, sPk: message.sPk, signature: message.signature! });
    },
    tamper: (to, message: ServerMessage) => {
      if (message.type === 'unmask-request' && message.signatures) signatures = message.signatures;
      if (!attack?.cheat) return message;
      const rewritten = attack.cheat(to, message, { params: p, earlier });
      if (Array.isArray(rewritten)) throw new Error('the core driver delivers one message per message');
      return rewritten as ServerMessage;
    },
  });
  return { report, sent, earlier: { keys, ...(signatures && { signatures }) } };
}

describe('the core in the malicious setting, honestly', () => {
  it('completes two rounds with the same identities and exact sums', () => {
    const first = playCore('honest', 1, []);
    const second = playCore('honest', 2, [first.earlier]);
    for (const [round, { report }] of [first, second].entries()) {
      assert.equal(report.result.status, 'ok', `round ${round + 1}`);
      if (report.result.status !== 'ok') continue;
      const p = params(round + 1);
      assert.deepEqual(report.result.sums, plainSum(p, makeInputs(p, `honest/${round + 1}`), p.clients));
      assert.equal(report.clientErrors.size, 0);
    }
  });
});

describe('every client refuses a cheating coordinator in the malicious setting, naming the attack', () => {
  for (const attack of MALICIOUS_ATTACKS) {
    it(`${attack.name} → ${attack.refusal}`, () => {
      const earlier: EarlierRound[] = [];
      for (let r = 1; r <= (attack.roundsBefore ?? 0); r++) {
        const honest = playCore(attack.name, r, earlier);
        assert.equal(honest.report.result.status, 'ok', `honest round ${r}`);
        earlier.push(honest.earlier);
      }
      const { report, sent } = playCore(attack.name, earlier.length + 1, earlier, attack);
      assert.equal(report.clientErrors.size, N, 'every client refused');
      for (const [id, error] of report.clientErrors) {
        assert.ok(error instanceof Refusal, `client ${id}: ${String(error)}`);
        assert.equal(error.code, attack.refusal, `client ${id}: ${error.message}`);
      }
      assert.deepEqual(
        sent.filter(([, m]) => m.type === 'unmask'),
        [],
        'no client revealed a share',
      );
      assert.equal(report.result.status, 'aborted');
    });
  }
});

/**
 * Runs a malicious round honestly through the masked stage: every client has sent its masked input
 * and waits for the consistency request, which the returned coordinator may write as it likes.
 */
function roundAtConsistency(label: string): {
  readonly clients: ReadonlyMap<ClientId, SecAggClient>;
  readonly survivors: readonly ClientId[];
} {
  const p = params(1);
  const inputs = makeInputs(p, label);
  const rngOf = roundRng(label, 1);
  const rngs = new Map(p.clients.map((id) => [id, rngOf(id)]));
  const signers = new Map(p.clients.map((id) => [id, Ed25519Signer.generate(rngs.get(id)!)]));
  const identities = new Map([...signers].map(([id, s]) => [id, s.publicKey]));
  const server = new SecAggServer({ params: p, identities });
  const clients = new Map(
    p.clients.map((id) => [
      id,
      new SecAggClient({
        id,
        params: p,
        input: inputs.get(id)!,
        rng: rngs.get(id)!,
        identity: signers.get(id),
        peerIdentities: identities,
      }),
    ]),
  );
  server.start(0);
  for (const [id, client] of clients) server.handle(id, client.start(), 0);
  for (let out = server.pollTransmit(); out; out = server.pollTransmit()) {
    if (out.message.type === 'consistency-request') return { clients, survivors: out.message.survivors };
    const reply = clients.get(out.to)!.handle(out.message);
    if (reply) server.handle(out.to, reply, 0);
  }
  throw new Error('the round did not reach the consistency stage');
}

describe('a split view against the signed consistency check', () => {
  // Clients 1 (the target), 2 and 3 are asked to sign a survivor list with 1 on it; 4, 5 and 6 one
  // without it. Neither list gathers t = 4 signatures, so whatever the coordinator shows next, the
  // clients refuse: with only the signatures of the list, too few; padded with the others', invalid.
  const target = 1 as ClientId;
  const groupA = [1, 2, 3] as ClientId[];

  function splitAndSign(label: string) {
    const { clients, survivors } = roundAtConsistency(label);
    const listA = survivors;
    const listB = survivors.filter((id) => id !== target);
    const signed = new Map<ClientId, ConsistencySignature>();
    for (const [id, client] of clients) {
      const reply = client.handle({
        type: 'consistency-request',
        survivors: groupA.includes(id) ? listA : listB,
      });
      assert.equal(reply?.type, 'consistency', `client ${id} signs the list it was shown`);
      if (reply?.type === 'consistency') signed.set(id, { id, signature: reply.signature });
    }
    const signaturesOf = (ids: readonly ClientId[]) => ids.map((id) => signed.get(id)!);
    return { clients, listA, listB, signaturesOf };
  }

  function unmaskEach(
    clients: ReadonlyMap<ClientId, SecAggClient>,
    request: (id: ClientId) => ServerMessage,
  ): Map<ClientId, unknown> {
    const outcomes = new Map<ClientId, unknown>();
    for (const [id, client] of clients) {
      try {
        outcomes.set(id, client.handle(request(id)));
      } catch (error) {
        outcomes.set(id, error);
      }
    }
    return outcomes;
  }

  it("with each list's own signatures only: too few → survivors-below-threshold", () => {
    const { clients, listA, listB, signaturesOf } = splitAndSign('split/own');
    const outcomes = unmaskEach(clients, (id) =>
      groupA.includes(id)
        ? { type: 'unmask-request', survivors: listA, dropped: [], signatures: signaturesOf(groupA) }
        : {
            type: 'unmask-request',
            survivors: listB,
            dropped: [target],
            signatures: signaturesOf(listB.filter((u) => !groupA.includes(u))),
          },
    );
    for (const [id, outcome] of outcomes) {
      assert.ok(outcome instanceof Refusal, `client ${id}: ${String(outcome)}`);
      assert.equal(outcome.code, 'survivors-below-threshold');
    }
  });

  it("padded with the other group's signatures: invalid → bad-signature", () => {
    const { clients, listA, listB, signaturesOf } = splitAndSign('split/padded');
    const all = signaturesOf([1, 2, 3, 4, 5, 6] as ClientId[]);
    const outcomes = unmaskEach(clients, (id) =>
      groupA.includes(id)
        ? { type: 'unmask-request', survivors: listA, dropped: [], signatures: all }
        : { type: 'unmask-request', survivors: listB, dropped: [target], signatures: all },
    );
    for (const [id, outcome] of outcomes) {
      assert.ok(outcome instanceof Refusal, `client ${id}: ${String(outcome)}`);
      assert.equal(outcome.code, 'bad-signature');
    }
  });
});

describe('one client with a garbage signature is dropped, not the round (malicious setting)', () => {
  const offender = 3 as ClientId;
  const garbage = (m: ClientMessage): ClientMessage =>
    m.type === 'advertise'
      ? { ...m, signature: new Uint8Array(64).fill(7) }
      : m.type === 'consistency'
        ? { ...m, signature: new Uint8Array(64).fill(7) }
        : m;

  for (const stage of ['advertise', 'consistency'] as const) {
    it(`on its ${stage === 'advertise' ? 'key advertisement' : 'consistency signature'}`, () => {
      const p = params(1);
      const inputs = makeInputs(p, `garbage/${stage}`);
      const unmaskedBy: ClientId[] = [];
      const report = simulateRound({
        params: p,
        inputs,
        rngFor: roundRng(`garbage/${stage}`, 1),
        forge: (from, m) => (from === offender && m.type === stage ? garbage(m) : m),
        tamper: (to, m) => {
          if (m.type === 'unmask-request') unmaskedBy.push(to);
          return m;
        },
      });
      assert.equal(report.clientErrors.size, 0, 'no client refused');
      assert.equal(report.violations.length, 1);
      assert.equal(report.violations[0]!.client, offender);
      assert.match(report.violations[0]!.message, /signature is invalid/);
      assert.equal(report.result.status, 'ok');
      if (report.result.status !== 'ok') return;
      assert.equal(unmaskedBy.includes(offender), false, 'the offender is not asked to unmask');
      // Dropped at advertise it shared nothing and is not in the sum; dropped at consistency its
      // masked input is in (its self mask is rebuilt from the others' shares), so it is a survivor.
      assert.equal(report.result.dropped.get(offender), stage === 'advertise' ? 'advertise' : undefined);
      const inSum = stage === 'advertise' ? p.clients.filter((id) => id !== offender) : p.clients;
      assert.deepEqual(report.result.survivors, inSum);
      assert.deepEqual(report.result.sums, plainSum(p, inputs, inSum));
    });
  }
});
