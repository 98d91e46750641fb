/**
 * `privagg serve --dp`: the privacy ledger, the noise calibrated to the budget, and the round planner
 * that announces each round's privacy and follows the clip norm when clipping is adaptive.
 * @module
 */
import { planMechanism, privacyPlan } from '../dp/announced.ts';
import { BudgetExceededError } from '../dp/budget.ts';
import { PrivacyLedger } from '../dp/ledger.ts';
import { calibrateNoiseMultiplier, PrivacyRounds } from '../dp/round-planner.ts';
import type { ServePrivacySettings, ServeSettings } from './config.ts';
import type { RoundPlanner, RoundPrivacy } from './coordinator.ts';

export { LedgerError } from '../dp/ledger.ts';

/** Andrew et al. 2021's learning rate for the geometric clip update. */
const ADAPTIVE_LEARNING_RATE = 0.2;

/** What the coordinator runs private rounds with. */
export interface ServePrivacy {
  readonly ledger: PrivacyLedger;
  readonly planner: RoundPlanner;
  readonly accounting: RoundPrivacy;
  /** The effective noise multiplier every round uses. */
  readonly noiseMultiplier: number;
  /** Whether `noiseMultiplier` was calibrated to the budget (rather than given). */
  readonly calibrated: boolean;
  /**
   * Why no round can start within the budget, decided before the coordinator binds: the round the
   * ledger would number next exceeds the target for a full cohort and for the smallest one allowed
   * (their costs can differ a little through the ring's scale). Undefined when a round may fit; the
   * coordinator still reserves every round in the ledger, which remains the authority.
   */
  budgetRefusal(): string | undefined;
}

/**
 * The round settings the privacy setup reads: those of `privagg serve` (its flags), or of an
 * aggregation an operator defined (server/aggregation.ts). `rounds` matters only when the noise is
 * calibrated to the budget.
 */
export type PrivacyRoundSettings = Pick<
  ServeSettings,
  'vectors' | 'clients' | 'minClients' | 'rounds' | 'threshold' | 'maxCorruptClients' | 'graphPlans'
>;

/**
 * Opens the ledger and builds the planner. The sampling rate claimed for amplification is 1: the
 * coordinator takes whoever checks in, which is not Poisson sampling from a known population.
 * @throws LedgerConfigError if the ledger was created with another δ or budget; RangeError if no
 *   admissible parameters exist
 */
export function setUpPrivacy(settings: PrivacyRoundSettings, privacy: ServePrivacySettings): ServePrivacy {
  const dimension = settings.vectors[0]!.length;
  // Andrew et al. suggest σ_b = m/20 for m clients per round.
  const adaptive = privacy.adaptiveClipQuantile !== undefined && {
    targetQuantile: privacy.adaptiveClipQuantile,
    learningRate: ADAPTIVE_LEARNING_RATE,
    bitNoiseStddev: Math.max(1, settings.clients / 20),
  };
  const noiseMultiplier =
    privacy.noiseMultiplier ??
    calibrateNoiseMultiplier({
      mechanism: privacy.mechanism,
      targetEpsilon: privacy.targetEpsilon,
      delta: privacy.delta,
      rounds: settings.rounds,
      q: 1,
      dimension,
      clients: settings.clients,
      threshold: settings.threshold,
      maxCorruptClients: settings.maxCorruptClients,
      clip: privacy.clip,
      // The clip count's share of every round is charged by the ledger, so calibrated for too.
      ...(adaptive && { adaptive }),
    });
  const rounds = new PrivacyRounds({
    mechanism: privacy.mechanism,
    dimension,
    clip: privacy.clip,
    noiseMultiplier,
    ...(adaptive && { adaptive }),
  });
  const ledger = PrivacyLedger.open(privacy.ledger, {
    delta: privacy.delta,
    targetEpsilon: privacy.targetEpsilon,
  });
  const mechanismFor = (round: number, plan: Parameters<RoundPrivacy['mechanism']>[1]) => {
    if (!plan) throw new Error(`round ${round} has no announced privacy`);
    return planMechanism(plan, 1, ledger.orders);
  };
  const budgetRefusal = (): string | undefined => {
    const round = ledger.nextRound();
    const sizes =
      settings.minClients < settings.clients ? [settings.clients, settings.minClients] : [settings.clients];
    let refusal: string | undefined;
    for (const n of sizes) {
      // The threshold and n_C a round of n clients would have (a planned graph's, or the settings').
      const graphPlan = settings.graphPlans?.find((p) => p.n === n);
      const shape = {
        clients: n,
        threshold: graphPlan?.threshold ?? settings.threshold,
        maxCorruptClients: graphPlan?.maxCorruptClients ?? settings.maxCorruptClients,
      };
      try {
        // A throwaway announcement: it draws a rotation seed, and changes nothing the rounds use.
        const plan = privacyPlan(rounds.announce(shape), n);
        ledger.checkBudget(mechanismFor(round, plan), round);
        return undefined;
      } catch (error) {
        // Anything but a budget refusal is for the round itself to report, as it would have.
        if (!(error instanceof BudgetExceededError)) return undefined;
        refusal ??= error.message;
      }
    }
    return refusal;
  };
  return {
    ledger,
    noiseMultiplier,
    calibrated: privacy.noiseMultiplier === undefined,
    budgetRefusal,
    planner: {
      plan: (shape) => ({ privacy: rounds.announce(shape) }),
      complete: (outcome) => {
        if (outcome.release) rounds.observe(outcome.release);
      },
    },
    accounting: { ledger, mechanism: mechanismFor },
  };
}
