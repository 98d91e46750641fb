/**
 * The control service's outgoing messages from the in-process types: a {@link RoundOutcome} as the
 * proto's RoundOutcome (the facts of `privagg serve`'s JSON line: cli/serve.ts `outcomeRecord`), an
 * aggregation's end, and the budget. Vectors travel as little-endian bytes (control.proto).
 *
 * A private round's raw sums never leave here: with privacy only the release is encoded (with central
 * DP the raw sums carry no noise at all).
 * @module
 */
import {
  type AggregationEvent,
  EndReason,
  type RoundOutcome as RoundOutcomeMessage,
  RoundStatus,
  Stage,
} from '../gen/privagg/v1/control.ts';
import type { Stage as CoreStage } from '../secagg/messages.ts';
import type { AggregationEnd } from './aggregation.ts';
import type { RoundOutcome } from './coordinator.ts';

const STAGES: Readonly<Record<CoreStage, Stage>> = {
  advertise: Stage.STAGE_ADVERTISE,
  share: Stage.STAGE_SHARE,
  masked: Stage.STAGE_MASKED,
  consistency: Stage.STAGE_CONSISTENCY,
  unmask: Stage.STAGE_UNMASK,
};

const END_REASONS: Readonly<Record<AggregationEnd['reason'], EndReason>> = {
  stopped: EndReason.END_REASON_STOPPED,
  'budget-exhausted': EndReason.END_REASON_BUDGET_EXHAUSTED,
  shutdown: EndReason.END_REASON_SHUTDOWN,
  failed: EndReason.END_REASON_FAILED,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a typed array in little-endian order (a view on little-endian hosts, else a copy). */
function littleEndian(values: Uint32Array | Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (values instanceof Uint32Array) view.setUint32(i * 4, v, true);
    else view.setFloat64(i * 8, v, true);
  }
  return out;
}

/** Clients and the stage each was lost at, sorted by client. */
function droppedClients(lost: Readonly<Record<string, CoreStage>>): { client: string; stage: Stage }[] {
  return Object.entries(lost)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([client, stage]) => ({ client, stage: STAGES[stage] }));
}

/**
 * One round's outcome as the control service streams it.
 * @param privateRounds - the aggregation has differential privacy: raw sums are never encoded, even
 *   if some were present (fail closed)
 */
export function outcomeMessage(outcome: RoundOutcome, privateRounds: boolean): RoundOutcomeMessage {
  const ok = outcome.status === 'ok';
  const release = ok ? outcome.release : undefined;
  return {
    round: outcome.round,
    status: ok ? RoundStatus.ROUND_STATUS_OK : RoundStatus.ROUND_STATUS_ABORTED,
    survivors: [...outcome.survivors],
    dropped: droppedClients(outcome.dropped),
    lostAfterMasked: droppedClients(outcome.lostAfterMasked ?? {}),
    // A private round's outcome has no raw sums (coordinator.ts #released): only its release.
    sums:
      ok && !privateRounds
        ? outcome.vectors.map((v, i) => ({
            name: v.name,
            bits: v.bits,
            values: littleEndian(outcome.sums[i]!),
          }))
        : [],
    ...(release && {
      release: {
        sum: littleEndian(release.sum),
        ...(release.unclippedFraction !== undefined && {
          adaptive: { $case: 'unclippedFraction' as const, value: release.unclippedFraction },
        }),
      },
    }),
    reason: ok ? '' : (outcome.reason ?? 'aborted'),
    epsilonSpent: outcome.epsilon ?? 0,
    durationMs: outcome.timing.totalMs,
  };
}

/** An aggregation event as the control service streams it. */
export function eventMessage(
  event: { kind: 'outcome'; outcome: RoundOutcome } | { kind: 'ended'; end: AggregationEnd },
  privateRounds: boolean,
): AggregationEvent {
  if (event.kind === 'outcome') {
    return { event: { $case: 'outcome', value: outcomeMessage(event.outcome, privateRounds) } };
  }
  const { end } = event;
  return {
    event: {
      $case: 'ended',
      value: { reason: END_REASONS[end.reason], detail: end.detail, lastRound: end.lastRound },
    },
  };
}
