/**
 * The attacks a cheating coordinator tries on its clients, as data: each one rewrites the honest
 * round's announcement or its server messages, and names the refusal an honest client must answer
 * with. The same {@link Cheat} runs over the real wire (cheating-coordinator.ts, real `Participant`s)
 * and against the protocol core in process (`simulateRound`'s tamper hook), so an attack written
 * once is tried wherever the setting it needs is served.
 *
 * Which setting an attack needs decides where it runs. Over the wire (wire.test.ts) every attack runs
 * in each setting it applies to: the semi-honest ones (WIRE_ATTACKS) against clients without identity
 * keys, and — against clients holding identity keys and the roster, with the cohort announced —
 * those of them that mean something there (`inMalicious`), the attacks on signatures
 * (MALICIOUS_ATTACKS) and those on the cohort (COHORT_ATTACKS). MALICIOUS_ATTACKS also run against
 * the core in process (malicious-core.test.ts), which has no announcement and no roster.
 * @module
 */
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import { X25519PrivateKey } from '../../src/secagg/crypto/x25519.ts';
import type { RefusalCode } from '../../src/secagg/errors.ts';
import { type GraphPlan, planGraph } from '../../src/secagg/graph-plan.ts';
import type {
  AdvertisedKeys,
  ClientMessage,
  ConsistencySignature,
  ServerMessage,
} from '../../src/secagg/messages.ts';
import type { RoundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import type { ClientId, ServerModel } from '../../src/secagg/types.ts';
import type { AnnouncedParameters } from '../../src/wire/convert.ts';

/** What the coordinator saw of an earlier round with the same clients (for replays). */
export interface EarlierRound {
  /** Every client's advertised keys (with signatures in the malicious setting), by id. */
  readonly keys: ReadonlyMap<ClientId, AdvertisedKeys>;
  /** The consistency signatures the round's unmask requests carried (malicious setting). */
  readonly signatures?: readonly ConsistencySignature[];
}

/** What a cheat knows besides the message it rewrites. */
export interface CheatContext {
  /** The honest parameters of the round being played. */
  readonly params: RoundParams;
  /** The rounds played before it with the same clients, oldest first. */
  readonly earlier: readonly EarlierRound[];
}

/**
 * Rewrites one honest server message to one client: the message(s) to send instead, in order (the
 * honest message itself when the attack leaves it alone).
 */
export type Cheat = (
  to: ClientId,
  message: ServerMessage,
  context: CheatContext,
) => ServerMessage | readonly ServerMessage[];

/** One attack on the clients. */
export interface Attack {
  readonly name: string;
  /** The setting the attack is written for. */
  readonly setting: ServerModel;
  /** The refusal every honest client answers with. */
  readonly refusal: RefusalCode;
  /**
   * The refusal when the same attack is made on clients of the malicious setting (identities, the
   * cohort announced, signed keys); absent when it has no meaning there. Over the wire, each attack is
   * tried in every setting it applies to.
   */
  readonly inMalicious?: RefusalCode;
  /** Replaces the announced parameters (the honest ones are what the coordinator runs). */
  readonly announce?: (honest: RoundParams) => AnnouncedParameters;
  /** Rewrites the server's messages. */
  readonly cheat?: Cheat;
  /**
   * Honest rounds played first with the same clients (a replay needs one); the attack is made in the
   * round after them. Default 0.
   */
  readonly roundsBefore?: number;
}

/** A small-order X25519 point (PROTOCOL.md §3.1): every shared secret with it is predictable. */
export const SMALL_ORDER_POINT = Uint8Array.from(
  Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
);

/** Applies `rewrite` to messages of one type, leaving the others as they are. */
function on<T extends ServerMessage['type']>(
  type: T,
  rewrite: (
    message: Extract<ServerMessage, { type: T }>,
    to: ClientId,
    context: CheatContext,
  ) => ServerMessage | readonly ServerMessage[],
): Cheat {
  return (to, message, context) =>
    message.type === type ? rewrite(message as Extract<ServerMessage, { type: T }>, to, context) : message;
}

/** Another client of the round than `to` (the lowest such id). */
function peerOf(params: RoundParams, to: ClientId): ClientId {
  return params.clients.find((id) => id !== to)!;
}

/**
 * A SecAgg+ plan the clients accept: 500 clients, 5% adversarial, 10% expected dropout. The Harary
 * attacks announce it weakened to clients whose ids are among its 500.
 */
export const HARARY_PLAN: GraphPlan = planGraph({
  n: 500,
  dropoutRate: 0.1,
  adversarialRate: 0.05,
  mode: 'harary',
});

/** The honest round's announcement turned into {@link HARARY_PLAN}'s, with `changes` made to it. */
export function hararyAnnouncement(
  honest: RoundParams,
  changes: { readonly degree?: number; readonly threshold?: number },
): AnnouncedParameters {
  const graph = HARARY_PLAN.graph as Extract<RoundParams['graph'], { kind: 'harary' }>;
  return {
    ...honest,
    clients: Array.from({ length: HARARY_PLAN.n }, (_, i) => (i + 1) as ClientId),
    threshold: changes.threshold ?? HARARY_PLAN.threshold,
    maxCorruptClients: HARARY_PLAN.maxCorruptClients,
    graph: { ...graph, ...(changes.degree !== undefined && { degree: changes.degree }) },
  };
}

/**
 * Attacks over the wire in the semi-honest setting (and on the announcement), for a round of six
 * clients announced honestly with t = 4 (> n/2) and n_C = 1.
 */
export const WIRE_ATTACKS: readonly Attack[] = [
  // ---- the announcement: a threshold or graph below the announced threat model ------------------
  {
    name: 'a threshold of n/2: a split view would reach t twice (n = 6, t = 3)',
    setting: 'semi-honest',
    refusal: 'threshold-too-low',
    inMalicious: 'threshold-too-low',
    announce: (honest) => ({ ...honest, threshold: 3 }),
  },
  {
    name: 'a threshold not above the corrupt clients it announces (t = n_C = 4)',
    setting: 'semi-honest',
    refusal: 'threshold-too-low',
    inMalicious: 'threshold-too-low',
    announce: (honest) => ({ ...honest, maxCorruptClients: 4 }),
  },
  {
    name: 'a Harary degree below what the announced threat model needs',
    setting: 'semi-honest',
    refusal: 'bad-parameters',
    // t = 11 = k/2 + 1 for k = 20, so that only the degree is wrong.
    announce: (honest) => hararyAnnouncement(honest, { degree: 20, threshold: 11 }),
  },
  {
    name: 'a Harary threshold of half the neighbourhood: a split view would reach t twice (2t ≤ k + 1)',
    setting: 'semi-honest',
    refusal: 'threshold-too-low',
    announce: (honest) =>
      hararyAnnouncement(honest, { threshold: (HARARY_PLAN.graph as { degree: number }).degree / 2 }),
  },
  {
    name: 'the malicious setting, to clients that hold no identity keys',
    setting: 'semi-honest',
    refusal: 'bad-parameters',
    // A well-formed malicious announcement (the wire requires its cohort): the clients, holding no
    // identity keys, refuse it however the cohort looks.
    announce: (honest) => ({
      ...honest,
      serverModel: 'malicious',
      threshold: 4,
      cohort: honest.clients.map((id) => ({
        id,
        name: `client-${id}`,
        identityKey: new Uint8Array(32).fill(id),
      })),
    }),
  },
  // ---- stage 0: keys ---------------------------------------------------------------------------
  {
    name: "a peer's keys substituted by a small-order point",
    setting: 'semi-honest',
    refusal: 'invalid-public-key',
    inMalicious: 'invalid-public-key',
    cheat: on('peer-keys', (m, to, { params }) => {
      const victim = peerOf(params, to);
      return { ...m, peers: m.peers.map((p) => (p.id === victim ? { ...p, sPk: SMALL_ORDER_POINT } : p)) };
    }),
  },
  {
    name: "a peer's keys substituted by another peer's (a replay within the round)",
    setting: 'semi-honest',
    refusal: 'duplicate-public-key',
    inMalicious: 'duplicate-public-key',
    cheat: on('peer-keys', (m, to) => {
      const others = m.peers.filter((p) => p.id !== to);
      const [first, second] = others;
      return { ...m, peers: m.peers.map((p) => (p.id === second!.id ? { ...p, sPk: first!.sPk } : p)) };
    }),
  },
  {
    name: "the client's own keys replayed from its previous round",
    setting: 'semi-honest',
    refusal: 'own-keys-altered',
    inMalicious: 'own-keys-altered',
    roundsBefore: 1,
    cheat: on('peer-keys', (m, to, { earlier }) => {
      const old = earlier.at(-1)!.keys.get(to)!;
      return { ...m, peers: m.peers.map((p) => (p.id === to ? { ...p, cPk: old.cPk, sPk: old.sPk } : p)) };
    }),
  },
  {
    name: 'too few peers to reach the threshold',
    setting: 'semi-honest',
    refusal: 'too-few-peers',
    inMalicious: 'too-few-peers',
    cheat: on('peer-keys', (m, to, { params }) => {
      const keep = [to, peerOf(params, to)];
      return { ...m, peers: m.peers.filter((p) => keep.includes(p.id)) };
    }),
  },
  // ---- stage 4: the unmask request -------------------------------------------------------------
  {
    name: 'both shares of one peer: listed as survivor and dropped at once',
    setting: 'semi-honest',
    refusal: 'both-shares-requested',
    inMalicious: 'both-shares-requested',
    cheat: on('unmask-request', (m, to, { params }) => ({ ...m, dropped: [peerOf(params, to)] })),
  },
  {
    name: 'the client listed as dropped, then asked to unmask',
    setting: 'semi-honest',
    refusal: 'self-listed-as-dropped',
    inMalicious: 'self-listed-as-dropped',
    cheat: on('unmask-request', (m, to) => ({
      ...m,
      survivors: m.survivors.filter((id) => id !== to),
      dropped: [...m.dropped, to].sort((a, b) => a - b),
    })),
  },
  {
    name: 'a survivor list below the threshold (the rest declared dropped)',
    setting: 'semi-honest',
    refusal: 'survivors-below-threshold',
    inMalicious: 'survivors-below-threshold',
    cheat: on('unmask-request', (m, to, { params }) => {
      const survivors = [to, peerOf(params, to)].sort((a, b) => a - b);
      return { ...m, survivors, dropped: m.survivors.filter((id) => !survivors.includes(id)) };
    }),
  },
  {
    name: 'consistency signatures in a semi-honest round: an empty list',
    setting: 'semi-honest',
    refusal: 'bad-signature',
    cheat: on('unmask-request', (m) => ({ ...m, signatures: [] })),
  },
  {
    name: 'consistency signatures in a semi-honest round: one per survivor',
    setting: 'semi-honest',
    refusal: 'bad-signature',
    cheat: on('unmask-request', (m) => ({
      ...m,
      signatures: m.survivors.map((id) => ({ id, signature: new Uint8Array(64).fill(id) })),
    })),
  },
  {
    name: 'a second unmask request asking for the other secret of a survivor',
    setting: 'semi-honest',
    refusal: 'repeated-request',
    inMalicious: 'repeated-request',
    cheat: on('unmask-request', (m, to, { params }) => {
      const victim = peerOf(params, to);
      return [
        m,
        { ...m, survivors: m.survivors.filter((id) => id !== victim), dropped: [...m.dropped, victim] },
      ];
    }),
  },
];

/**
 * Attacks that need the malicious setting (signed keys, the signed consistency check), for a round of
 * six clients with t = 4 and n_C = 1: over the wire and against the core in process (module comment).
 */
export const MALICIOUS_ATTACKS: readonly Attack[] = [
  {
    name: "a peer's keys substituted by fresh keys of the coordinator's (a man in the middle)",
    setting: 'malicious',
    refusal: 'bad-signature',
    cheat: on('peer-keys', (m, to, { params }) => {
      const victim = peerOf(params, to);
      const rng = new DeterministicRng(`man-in-the-middle/${to}`);
      const cPk = X25519PrivateKey.generate(rng).publicKey;
      const sPk = X25519PrivateKey.generate(rng).publicKey;
      return { ...m, peers: m.peers.map((p) => (p.id === victim ? { ...p, cPk, sPk } : p)) };
    }),
  },
  {
    name: "a peer's keys and their signature replayed from the previous round",
    setting: 'malicious',
    refusal: 'bad-signature',
    roundsBefore: 1,
    cheat: on('peer-keys', (m, to, { params, earlier }) => {
      const victim = peerOf(params, to);
      const old = earlier.at(-1)!.keys.get(victim)!;
      return { ...m, peers: m.peers.map((p) => (p.id === victim ? { ...old, id: victim } : p)) };
    }),
  },
  {
    name: 'consistency signatures replayed from the previous round',
    setting: 'malicious',
    refusal: 'bad-signature',
    roundsBefore: 1,
    cheat: on('unmask-request', (m, _to, { earlier }) => ({ ...m, signatures: earlier.at(-1)!.signatures! })),
  },
  {
    name: 'too few consistency signatures',
    setting: 'malicious',
    refusal: 'survivors-below-threshold',
    cheat: on('unmask-request', (m, _to, { params }) => ({
      ...m,
      signatures: m.signatures!.slice(0, params.threshold - 1),
    })),
  },
  {
    name: 'a forged consistency signature',
    setting: 'malicious',
    refusal: 'bad-signature',
    cheat: on('unmask-request', (m) => ({
      ...m,
      signatures: m.signatures!.map((s, i) => (i === 0 ? { ...s, signature: new Uint8Array(64) } : s)),
    })),
  },
  {
    name: 'a survivor list that differs from the one the client signed (a peer moved to dropped)',
    setting: 'malicious',
    refusal: 'inconsistent-survivors',
    cheat: on('unmask-request', (m, to, { params }) => {
      const victim = peerOf(params, to);
      return {
        ...m,
        survivors: m.survivors.filter((id) => id !== victim),
        dropped: [...m.dropped, victim].sort((a, b) => a - b),
      };
    }),
  },
];

/**
 * A split view: the clients in `half` (and `target` itself) are told that `target` survived (they
 * reveal shares of its self-mask seed, and it reveals its own), the others that it dropped (they
 * reveal shares of its mask key). Each view is consistent in itself, so no client can see the lie;
 * only a threshold with 2t > n keeps both groups from reaching t. Made at the unmask request (the
 * semi-honest setting) or, with `at: 'consistency-request'`, at the list the malicious setting's
 * clients sign: each group then signs a different list.
 */
export function splitView(
  target: ClientId,
  half: readonly ClientId[],
  at: 'unmask-request' | 'consistency-request' = 'unmask-request',
): Cheat {
  const told = (to: ClientId) => to === target || half.includes(to);
  if (at === 'consistency-request') {
    return on('consistency-request', (m, to) =>
      told(to) ? m : { ...m, survivors: m.survivors.filter((id) => id !== target) },
    );
  }
  return on('unmask-request', (m, to) => {
    if (told(to)) return m;
    return {
      ...m,
      survivors: m.survivors.filter((id) => id !== target),
      dropped: [...m.dropped, target].sort((a, b) => a - b),
    };
  });
}

/**
 * The clients whose input the coordinator could unmask from what it was sent: for each owner, the
 * distinct holders that revealed a share of its self-mask seed and of its mask key (a pair seed
 * revealed in place of a key share counts as one too). An input is exposed when both reach t.
 * @returns the exposed owners, ascending (empty when nothing is exposed)
 */
export function exposedInputs(
  responses: Iterable<readonly [ClientId, ClientMessage]>,
  threshold: number,
): ClientId[] {
  const selfMask = new Map<ClientId, Set<ClientId>>();
  const maskKey = new Map<ClientId, Set<ClientId>>();
  const add = (map: Map<ClientId, Set<ClientId>>, owner: ClientId, holder: ClientId) => {
    const set = map.get(owner) ?? new Set();
    set.add(holder);
    map.set(owner, set);
  };
  for (const [holder, message] of responses) {
    if (message.type !== 'unmask') continue;
    for (const s of message.selfMaskShares) add(selfMask, s.of, holder);
    for (const s of message.keyShares) add(maskKey, s.of, holder);
    for (const s of message.pairSeeds) add(maskKey, s.of, holder);
  }
  return [...selfMask.keys()]
    .filter((owner) => selfMask.get(owner)!.size >= threshold && (maskKey.get(owner)?.size ?? 0) >= threshold)
    .sort((a, b) => a - b);
}

/** An identity key the coordinator made itself: no roster enrols it. */
const COORDINATOR_IDENTITY = Ed25519Signer.generate(
  new DeterministicRng('the coordinator’s own identity'),
).publicKey;

/** The honest announcement with the last cohort member rewritten by `change`. */
function withLastMember(
  honest: RoundParams,
  change: (member: NonNullable<RoundParams['cohort']>[number]) => NonNullable<RoundParams['cohort']>[number],
): AnnouncedParameters {
  const last = honest.clients.at(-1)!;
  return { ...honest, cohort: honest.cohort!.map((m) => (m.id === last ? change(m) : m)) };
}

/**
 * Attacks on the announced cohort, which exists only over the network (the roster is the clients'
 * trust anchor, PROTOCOL.md §2.3), for the six clients of the malicious wire tests.
 */
export const COHORT_ATTACKS: readonly Attack[] = [
  {
    name: 'a cohort member the roster does not enrol (a Sybil under a name of its own)',
    setting: 'malicious',
    refusal: 'bad-parameters',
    announce: (honest) =>
      withLastMember(honest, (m) => ({ ...m, name: 'mallory', identityKey: COORDINATOR_IDENTITY })),
  },
  {
    name: "an enrolled member's identity key swapped for one the coordinator holds",
    setting: 'malicious',
    refusal: 'bad-parameters',
    announce: (honest) => withLastMember(honest, (m) => ({ ...m, identityKey: COORDINATOR_IDENTITY })),
  },
  {
    name: "two members' names swapped (each with the other's key: a different id → key table)",
    setting: 'malicious',
    refusal: 'bad-parameters',
    announce: (honest) => {
      const cohort = honest.cohort!;
      const [a, b] = [cohort.at(-2)!, cohort.at(-1)!];
      return {
        ...honest,
        cohort: cohort.map((m) => (m === a ? { ...m, name: b.name } : m === b ? { ...m, name: a.name } : m)),
      };
    },
  },
  {
    name: 'a semi-honest announcement to clients with identities (a downgrade that drops the signatures)',
    setting: 'malicious',
    refusal: 'bad-parameters',
    announce: ({ cohort: _, ...honest }) => ({ ...honest, serverModel: 'semi-honest' }),
  },
];
