/**
 * One benchmark cell (n clients, vector length d, dropout rate): a real round driven message by
 * message through the real SecAggServer and real SecAggClients. Three kinds of thread take part:
 *
 * - The main thread runs the server. Every call into it is timed and attributed to the stage open
 *   at the call. Server unmask time = all calls during the unmask stage: accepting the unmask
 *   responses, and, in the last one, reconstructing seeds and keys, re-deriving the dropped
 *   clients' pair seeds and removing the masks.
 * - The timing worker ({@link MeasuredWorker}) runs a few "measured" clients, with the round's real
 *   parameters and real inputs, timing every call into them (constructor, start, each message);
 *   client time = the sum. It also runs every lower-bound repetition (maskBound), in its near-empty
 *   heap.
 * - Peer workers run the other clients ({@link PeerHost}), untimed, while everything else waits.
 *
 * Dropped clients vanish on entering the masked-input stage (after sending their shares): the case
 * where the server must re-create their pairwise masks, as in Bonawitz et al. 2017's figures.
 * Before every timed section the process is settled (full GC, then idle: no thread busy). Lower
 * bounds are measured in between: one repetition right before each measured client's masked-input
 * stage; for the server, each repetition (as many as `maxBoundMs` allows, 1 to 3) is timed in two
 * halves, the first half of the masks right before the unmask stage and the second right after
 * it, and summed.
 * @module
 */
import type { ClientMessage, Stage } from '../../src/secagg/messages.ts';
import { defaultThreshold, type RoundParamsInput, roundParams } from '../../src/secagg/params.ts';
import { type Outgoing, SecAggServer } from '../../src/secagg/server.ts';
import type { ClientId, VectorSpec } from '../../src/secagg/types.ts';
import { fillWords, plainSum } from './inputs.ts';
import type { MeasuredWorker } from './measured.ts';
import type { Delivery, PeerHost, PeerMode } from './peers.ts';
import { settle } from './settle.ts';
import { median } from './stats.ts';
import { plus, type Timing, timed, ZERO } from './timing.ts';

export interface CellSpec {
  readonly n: number;
  readonly d: number;
  /** Fraction of clients that drop, in [0, 1). */
  readonly dropout: number;
  readonly bits: number;
  readonly mode: PeerMode;
  /** How many clients to time (each also gets one lower-bound repetition). */
  readonly measured: number;
  /** Budget for the server's lower-bound repetitions, in ms (one is always run). */
  readonly maxBoundMs: number;
}

/** Client time split by the message that caused the work. */
export interface ClientStages {
  /** Constructor (copies and checks the input) and start() (two key pairs). */
  readonly setup: Timing;
  /** peer-keys: key checks, two Shamir splits, one share ciphertext per neighbour. */
  readonly share: Timing;
  /** share-delivery: opening shares, pair seeds, masking the input (the masks). */
  readonly masked: Timing;
  /** unmask-request: checks and share selection. */
  readonly unmask: Timing;
}

export interface CellResult {
  readonly spec: CellSpec;
  readonly threshold: number;
  readonly survivors: number;
  readonly dropped: number;
  /** 1 self mask + |E_v| pairwise masks, per measured client. */
  readonly clientMasks: number;
  /** |U3| self masks + Σ over dropped clients of their surviving neighbours. */
  readonly serverMasks: number;
  /** Per measured client, the sum of its stages. */
  readonly client: readonly Timing[];
  readonly clientStages: readonly ClientStages[];
  readonly clientBound: readonly Timing[];
  readonly serverUnmask: Timing;
  /** The last unmask-stage call: reconstruction and mask removal. */
  readonly serverUnmaskLastCall: Timing;
  /** Server time in every other stage (accepting keys, shares and masked inputs, routing). */
  readonly serverOther: Timing;
  readonly serverBound: readonly Timing[];
  /** `full` mode: whether the server's sum equals the plain sum of the survivors' inputs. */
  readonly sumCorrect: boolean | undefined;
  readonly wallMs: number;
  /** Wall time spent waiting for peers. */
  readonly peerMs: number;
}

const INPUT_SEED = 0x5eed;

/** A small deterministic shuffle (xorshift32), so the dropped set is the same on every run. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Why a cell cannot run as specified, or undefined. */
export function cellProblem(spec: CellSpec): string | undefined {
  const threshold = defaultThreshold(spec.n, 'semi-honest');
  const dropped = Math.round(spec.dropout * spec.n);
  if (spec.n - dropped < threshold) {
    return `${spec.n - dropped} survivors is below the threshold ${threshold}: the round would abort`;
  }
  if (spec.measured > spec.n - dropped) {
    return `cannot measure ${spec.measured} clients with ${spec.n - dropped} survivors`;
  }
  return undefined;
}

/** Runs one cell; throws if the round does not complete. */
export async function runCell(
  spec: CellSpec,
  peers: PeerHost,
  measured: MeasuredWorker,
): Promise<CellResult> {
  const wallStart = performance.now();
  const problem = cellProblem(spec);
  if (problem) throw new Error(problem);
  const { n, d, bits } = spec;
  const threshold = defaultThreshold(n, 'semi-honest');
  const vector: VectorSpec = { name: 'bench/weights', length: d, bits };
  const paramsInput: RoundParamsInput = {
    round: 1,
    serverModel: 'semi-honest',
    threshold,
    clients: Array.from({ length: n }, (_, i) => i + 1),
    vectors: [vector],
  };
  const params = roundParams(paramsInput);
  const ids = params.clients;
  const measuredIds = Array.from(
    { length: spec.measured },
    (_, i) => ids[Math.floor(((i + 0.5) * n) / spec.measured)]!,
  );
  const measuredSet = new Set<ClientId>(measuredIds);
  const droppedIds = shuffled(
    ids.filter((id) => !measuredSet.has(id)),
    n * 7919 + d,
  ).slice(0, Math.round(spec.dropout * n));
  const droppedSet = new Set<ClientId>(droppedIds);
  const label = `privagg-bench/${n}/${d}/${spec.dropout}`;

  let peerMs = 0;
  const waitPeers = async <T>(p: Promise<T>): Promise<T> => {
    const start = performance.now();
    const value = await p;
    peerMs += performance.now() - start;
    return value;
  };
  await waitPeers(
    peers.init({
      paramsInput,
      mode: spec.mode,
      ids: ids.filter((id) => !measuredSet.has(id)),
      rngLabel: label,
      inputSeed: INPUT_SEED,
    }),
  );

  type Stages = { setup: Timing; share: Timing; masked: Timing; unmask: Timing };
  const stages = new Map<ClientId, Stages>();
  const constructed = await measured.init({
    paramsInput,
    ids: measuredIds,
    rngLabel: label,
    inputSeed: INPUT_SEED,
  });
  measuredIds.forEach((id, i) => {
    stages.set(id, { setup: constructed[i]!, share: ZERO, masked: ZERO, unmask: ZERO });
  });

  const server = new SecAggServer({ params });
  const serverStages = new Map<Stage | 'idle' | 'ended', Timing>();
  let lastUnmaskCall = ZERO;
  const serverDo = (f: () => void) => {
    const stage = server.stage;
    const [, t] = timed(f);
    serverStages.set(stage, plus(serverStages.get(stage) ?? ZERO, t));
    if (stage === 'unmask') lastUnmaskCall = t;
  };
  serverDo(() => server.start(0));

  // Stage 0: advertisements (peers first, then the measured clients, then all to the server).
  const replies: { from: ClientId; reply: ClientMessage }[] = [];
  for (const r of await waitPeers(peers.start())) replies.push({ from: r.from, reply: r.reply! });
  for (const id of measuredIds) {
    const { reply, timing: t } = await measured.start(id);
    const record = stages.get(id)!;
    record.setup = plus(record.setup, t);
    replies.push({ from: id, reply });
  }
  replies.sort((a, b) => a.from - b.from);
  for (const { from, reply } of replies) serverDo(() => server.handle(from, reply, 0));

  const standIn = new Uint32Array(d);
  fillWords(standIn, bits, 0x7a11);
  const clientBound: Timing[] = [];
  const serverBoundBefore: Timing[] = [];
  let clientMasks = 0;
  let serverMasks = 0;
  let serverReps = 0;
  let firstHalf = 0;

  while (!server.result) {
    const batch: Outgoing[] = [];
    for (let o = server.pollTransmit(); o; o = server.pollTransmit()) batch.push(o);
    if (batch.length === 0) {
      serverDo(() => server.closeStage(0));
      continue;
    }
    const disconnects: ClientId[] = [];
    const toPeers: Delivery[] = [];
    const toMeasured: Delivery[] = [];
    for (const o of batch) {
      if (o.message.type === 'share-delivery' && droppedSet.has(o.to)) disconnects.push(o.to);
      else if (measuredSet.has(o.to)) toMeasured.push(o);
      else toPeers.push(o);
    }
    const stageReplies: { from: ClientId; reply: ClientMessage }[] = [];
    for (const r of await waitPeers(peers.deliver(toPeers))) {
      if (r.error !== undefined) throw new Error(`peer ${r.from} failed: ${r.error}`);
      if (r.reply) stageReplies.push({ from: r.from, reply: r.reply });
    }
    for (const { to, message } of toMeasured) {
      const record = stages.get(to)!;
      if (message.type === 'share-delivery') {
        const masks = 1 + message.ciphertexts.length;
        if (clientMasks !== 0 && clientMasks !== masks)
          throw new Error('measured clients mask different counts');
        clientMasks = masks;
        clientBound.push(await measured.bound(masks, vector));
      }
      const { reply, timing: t } = await measured.handle(to, message);
      if (message.type === 'peer-keys') record.share = plus(record.share, t);
      else if (message.type === 'share-delivery') record.masked = plus(record.masked, t);
      else if (message.type === 'unmask-request') record.unmask = plus(record.unmask, t);
      else record.setup = plus(record.setup, t);
      if (reply) stageReplies.push({ from: to, reply });
    }
    const request = batch.find((o) => o.message.type === 'unmask-request')?.message;
    if (request?.type === 'unmask-request') {
      const survivors = new Set(request.survivors);
      serverMasks =
        request.survivors.length +
        // bench:core runs the complete graph: every survivor is each dropped client's neighbour.
        request.dropped.length * survivors.size;
      // Each repetition of the server's bound is split in two halves, one timed right before the
      // unmask stage and one right after, and summed: drift in the machine's speed (other tenants,
      // cache contention) then affects bound and measurement alike, at the cost of one repetition.
      const perMask = median(clientBound.map((t) => t.wall)) / clientMasks;
      serverReps = Math.max(1, Math.min(3, Math.floor(spec.maxBoundMs / (perMask * serverMasks))));
      firstHalf = Math.ceil(serverMasks / 2);
      for (let i = 0; i < serverReps; i++) serverBoundBefore.push(await measured.bound(firstHalf, vector));
      await settle();
    }
    for (const id of disconnects) serverDo(() => server.handleDisconnect(id, 0));
    stageReplies.sort((a, b) => a.from - b.from);
    for (const { from, reply } of stageReplies) {
      const message: ClientMessage =
        spec.mode === 'shim' && reply.type === 'masked' && !measuredSet.has(from)
          ? { type: 'masked', vectors: params.vectors.map(() => standIn) }
          : reply;
      serverDo(() => server.handle(from, message, 0));
    }
  }
  const serverBound: Timing[] = [];
  for (let i = 0; i < serverReps; i++) {
    serverBound.push(plus(serverBoundBefore[i]!, await measured.bound(serverMasks - firstHalf, vector)));
  }

  const result = server.result;
  if (result.status !== 'ok') throw new Error(`round aborted: ${result.error.message}`);
  const expectedSurvivors = ids.filter((id) => !droppedSet.has(id));
  if (result.survivors.length !== expectedSurvivors.length) throw new Error('unexpected survivor set');
  let sumCorrect: boolean | undefined;
  if (spec.mode === 'full') {
    const expected = plainSum(vector, INPUT_SEED, result.survivors);
    sumCorrect = Buffer.compare(Buffer.from(expected.buffer), Buffer.from(result.sums[0]!.buffer)) === 0;
  }
  let serverOther = ZERO;
  for (const [stage, t] of serverStages) if (stage !== 'unmask') serverOther = plus(serverOther, t);
  const clientStages = measuredIds.map((id) => stages.get(id)!);
  return {
    spec,
    threshold,
    survivors: result.survivors.length,
    dropped: droppedIds.length,
    clientMasks,
    serverMasks,
    client: clientStages.map((s) => plus(plus(s.setup, s.share), plus(s.masked, s.unmask))),
    clientStages,
    clientBound,
    serverUnmask: serverStages.get('unmask') ?? ZERO,
    serverUnmaskLastCall: lastUnmaskCall,
    serverOther,
    serverBound,
    sumCorrect,
    wallMs: performance.now() - wallStart,
    peerMs,
  };
}
