/**
 * A curious or malicious server's requests that could expose a client's input are refused, with the
 * reason named, and the refusing client reveals nothing further. Each case rewrites one server
 * message to one client through the simulator's tamper hook.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Refusal, type RefusalCode } from '../../src/secagg/errors.ts';
import type { ServerMessage } from '../../src/secagg/messages.ts';
import { minimumThreshold, ParameterError, roundParams } from '../../src/secagg/params.ts';
import type { ClientId, ServerModel } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, makeParams, rngFor, TWO_VECTORS } from './harness.ts';

const SMALL_ORDER_POINT = Uint8Array.from(
  Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
);

interface Case {
  readonly name: string;
  readonly code: RefusalCode;
  readonly serverModel?: ServerModel;
  /** Rewrites the message to the victim; returns the message unchanged when it is not the target. */
  readonly rewrite: (message: ServerMessage, victim: ClientId) => ServerMessage;
}

const VICTIM_INDEX = 1;

const cases: Case[] = [
  {
    name: 'a peer list with a duplicate entry',
    code: 'bad-peer-list',
    rewrite: (m) => (m.type === 'peer-keys' ? { ...m, peers: [m.peers[0]!, ...m.peers] } : m),
  },
  {
    name: 'a peer list without the client itself',
    code: 'bad-peer-list',
    rewrite: (m, victim) =>
      m.type === 'peer-keys' ? { ...m, peers: m.peers.filter((p) => p.id !== victim) } : m,
  },
  {
    name: "a peer list that alters the client's own keys",
    code: 'own-keys-altered',
    rewrite: (m, victim) =>
      m.type === 'peer-keys'
        ? { ...m, peers: m.peers.map((p) => (p.id === victim ? { ...p, sPk: m.peers[0]!.cPk } : p)) }
        : m,
  },
  {
    name: 'a small-order public key',
    code: 'invalid-public-key',
    rewrite: (m, victim) =>
      m.type === 'peer-keys'
        ? {
            ...m,
            peers: m.peers.map((p) => (p.id !== victim && p.id === 3 ? { ...p, sPk: SMALL_ORDER_POINT } : p)),
          }
        : m,
  },
  {
    name: "a peer advertising the client's own mask key (a replay)",
    code: 'duplicate-public-key',
    rewrite: (m, victim) => {
      if (m.type !== 'peer-keys') return m;
      const own = m.peers.find((p) => p.id === victim)!;
      return { ...m, peers: m.peers.map((p) => (p.id === 4 ? { ...p, sPk: own.sPk } : p)) };
    },
  },
  {
    name: 'too few peers to reach the threshold',
    code: 'too-few-peers',
    rewrite: (m, victim) =>
      m.type === 'peer-keys' ? { ...m, peers: m.peers.filter((p) => p.id <= victim) } : m,
  },
  {
    name: 'a request for both the self-mask share and the key share of one peer',
    code: 'both-shares-requested',
    rewrite: (m) => (m.type === 'unmask-request' ? { ...m, dropped: [m.survivors[3]!] } : m),
  },
  {
    name: 'a request that lists the client itself as dropped',
    code: 'self-listed-as-dropped',
    rewrite: (m, victim) =>
      m.type === 'unmask-request'
        ? { ...m, survivors: m.survivors.filter((id) => id !== victim), dropped: [victim] }
        : m,
  },
  {
    name: 'a survivor list below the threshold',
    code: 'survivors-below-threshold',
    rewrite: (m, victim) =>
      m.type === 'unmask-request'
        ? {
            ...m,
            survivors: [victim, ...m.survivors.filter((id) => id !== victim).slice(0, 1)].sort(
              (a, b) => a - b,
            ),
          }
        : m,
  },
  {
    name: 'a survivor list with duplicates',
    code: 'inconsistent-survivors',
    rewrite: (m) =>
      m.type === 'unmask-request' ? { ...m, survivors: [m.survivors[0]!, ...m.survivors] } : m,
  },
  {
    name: 'a survivor list that leaves a peer it saw unaccounted for',
    code: 'inconsistent-survivors',
    rewrite: (m, victim) =>
      m.type === 'unmask-request'
        ? { ...m, survivors: m.survivors.filter((id) => id === victim || id > 2) }
        : m,
  },
  {
    name: 'an unmask request carrying an empty list of consistency signatures',
    code: 'bad-signature',
    rewrite: (m) => (m.type === 'unmask-request' ? { ...m, signatures: [] } : m),
  },
  {
    name: 'an unmask request carrying one consistency signature per survivor',
    code: 'bad-signature',
    rewrite: (m) =>
      m.type === 'unmask-request'
        ? { ...m, signatures: m.survivors.map((id) => ({ id, signature: new Uint8Array(64) })) }
        : m,
  },
  {
    name: 'a key advertisement with a bad signature',
    code: 'bad-signature',
    serverModel: 'malicious',
    rewrite: (m, victim) => {
      if (m.type !== 'peer-keys') return m;
      return {
        ...m,
        peers: m.peers.map((p) => {
          if (p.id === victim || !p.signature) return p;
          const signature = p.signature.slice();
          signature[0]! ^= 1;
          return { ...p, signature };
        }),
      };
    },
  },
  {
    name: 'an unmask request whose survivors differ from the signed list',
    code: 'inconsistent-survivors',
    serverModel: 'malicious',
    rewrite: (m, victim) =>
      m.type === 'unmask-request'
        ? { ...m, survivors: m.survivors.filter((id) => id === victim || id !== 5), dropped: [5 as ClientId] }
        : m,
  },
  {
    name: 'an unmask request with too few consistency signatures',
    code: 'survivors-below-threshold',
    serverModel: 'malicious',
    rewrite: (m) => (m.type === 'unmask-request' ? { ...m, signatures: m.signatures!.slice(0, 2) } : m),
  },
  {
    name: 'an unmask request with a forged consistency signature',
    code: 'bad-signature',
    serverModel: 'malicious',
    rewrite: (m) => {
      if (m.type !== 'unmask-request') return m;
      const [first, ...rest] = m.signatures!;
      const signature = first!.signature.slice();
      signature[5]! ^= 1;
      return { ...m, signatures: [{ ...first!, signature }, ...rest] };
    },
  },
];

describe('a client refuses requests that could expose its input', () => {
  for (const c of cases) {
    const serverModel = c.serverModel ?? 'semi-honest';
    it(`${c.name} (${serverModel}) → ${c.code}`, () => {
      const params = makeParams({ n: 6, serverModel, threshold: 4 });
      const victim = params.clients[VICTIM_INDEX]!;
      const inputs = makeInputs(params);
      const sent: ServerMessage['type'][] = [];
      const report = simulateRound({
        params,
        inputs,
        rngFor: rngFor(`refusal/${c.name}`),
        tamper: (to, message) => {
          if (to !== victim) return message;
          const rewritten = c.rewrite(message, victim);
          sent.push(rewritten.type);
          return rewritten;
        },
      });
      const error = report.clientErrors.get(victim);
      assert.ok(error instanceof Refusal, `expected a refusal, got ${error}`);
      assert.equal(error.code, c.code);
      const client = report.clients.get(victim)!;
      assert.equal(client.state, 'failed');
      // A failed client answers nothing more: every later call throws the same refusal.
      assert.throws(() => client.handle({ type: 'abort', reason: 'x' }), Refusal);
      // No other client refused: the tampering targeted only the victim.
      assert.deepEqual([...report.clientErrors.keys()], [victim]);
    });
  }

  it('a second unmask request in the same session', () => {
    const params = makeParams({ n: 4, threshold: 3 });
    const inputs = makeInputs(params);
    let replay: ServerMessage | undefined;
    const victim = params.clients[0]!;
    const report = simulateRound({
      params,
      inputs,
      rngFor: rngFor('repeat'),
      tamper: (to, message) => {
        if (to === victim && message.type === 'unmask-request') replay = message;
        return message;
      },
    });
    assert.equal(report.result.status, 'ok');
    const client = report.clients.get(victim)!;
    assert.equal(client.state, 'done');
    assert.ok(replay);
    assert.throws(
      () => client.handle({ ...replay!, dropped: [] } as ServerMessage),
      (e: unknown) => e instanceof Refusal && e.code === 'repeated-request',
    );
  });
});

describe('parameter validation', () => {
  it('refuses a semi-honest threshold not above the number of corrupt clients', () => {
    assert.throws(
      () =>
        roundParams({
          round: 1,
          serverModel: 'semi-honest',
          threshold: 3,
          maxCorruptClients: 3,
          clients: [1, 2, 3, 4, 5],
          vectors: TWO_VECTORS,
        }),
      (e: unknown) =>
        e instanceof ParameterError && e.problem === 'threshold-too-low' && /minimum 4/.test(e.message),
    );
  });

  it('refuses a semi-honest threshold two disjoint survivor views could both reach (2t <= n)', () => {
    const input = {
      round: 1,
      serverModel: 'semi-honest' as const,
      maxCorruptClients: 0,
      clients: [1, 2, 3, 4, 5, 6],
      vectors: TWO_VECTORS,
    };
    assert.throws(
      () => roundParams({ ...input, threshold: 3 }),
      (e: unknown) =>
        e instanceof ParameterError &&
        e.problem === 'threshold-too-low' &&
        /minimum 4 for n=6/.test(e.message) &&
        /two disjoint survivor views/.test(e.message),
    );
    assert.equal(roundParams({ ...input, threshold: 4 }).threshold, 4);
    // The malicious setting's consistency check bound, 2t > n + n_C, already implies it.
    assert.equal(minimumThreshold(6, 'malicious', 0), 4);
    assert.equal(minimumThreshold(7, 'semi-honest', 0), 4);
    assert.equal(minimumThreshold(7, 'semi-honest', 5), 6);
  });

  it('refuses a malicious threshold with 2t <= n + n_C, and names what is needed', () => {
    assert.throws(
      () =>
        roundParams({
          round: 1,
          serverModel: 'malicious',
          threshold: 6,
          maxCorruptClients: 2,
          clients: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
          vectors: TWO_VECTORS,
        }),
      (e: unknown) =>
        e instanceof ParameterError && /minimum 7/.test(e.message) && /2t > n \+ n_C/.test(e.message),
    );
  });

  it('refuses t = 1, duplicate ids, duplicate vector names and bad bit widths', () => {
    const base = {
      round: 1,
      serverModel: 'semi-honest' as const,
      threshold: 2,
      clients: [1, 2, 3],
      vectors: TWO_VECTORS,
    };
    assert.throws(() => roundParams({ ...base, threshold: 1 }), ParameterError);
    assert.throws(() => roundParams({ ...base, clients: [1, 2, 2] }), /repeats/);
    assert.throws(() => roundParams({ ...base, clients: [0, 1, 2] }), /client id/);
    assert.throws(
      () => roundParams({ ...base, vectors: [TWO_VECTORS[0]!, { ...TWO_VECTORS[1]!, name: 'weights' }] }),
      /unique/,
    );
    assert.throws(() => roundParams({ ...base, vectors: [{ name: 'v', length: 4, bits: 33 }] }), /bits/);
  });
});
