/**
 * The ε of a composition of rounds by the tighter of two valid accountants: Rényi DP (each round's
 * curve, added order by order and converted once, ./conversion.ts) and privacy loss distributions
 * (each round's {@link PldEvent}, composed by FFT, ./pld-accountant.ts). Both are upper bounds on the
 * same quantity for the same rounds, so their minimum is one too. The PLD bound needs every round's
 * event; a round recorded without one (a ledger written before PLDs existed, a precomputed mechanism
 * that gave only a curve, a Skellam round beyond the variance the Gaussian domination is computed
 * for) leaves RDP as the only bound.
 * @module
 */
import { type Conversion, epsilonFromRdp } from './conversion.ts';
import { DEFAULT_PLD_INTERVAL } from './pld.ts';
import { PldAccountant, type PldEvent } from './pld-accountant.ts';

/** Which bound to use: one of the two, or the smaller of both (the default). */
export type AccountantChoice = 'rdp' | 'pld' | 'tightest';

/** `count` rounds of one PLD event. */
export interface PldRounds {
  readonly event: PldEvent;
  readonly count: number;
}

/** Everything composed so far, in both forms. */
export interface Composition {
  readonly orders: readonly number[];
  /** The summed RDP curve. */
  readonly rdp: readonly number[];
  /** Every round's PLD event, or undefined when some round has none. */
  readonly pld: readonly PldRounds[] | undefined;
}

/** The ε of a composition and where it came from. */
export interface TightEpsilon {
  readonly epsilon: number;
  /** The accountant whose bound is reported. */
  readonly accountant: 'rdp' | 'pld';
  /** RDP's ε and its optimal order (computed unless the choice was 'pld'). */
  readonly rdpEpsilon: number;
  readonly order: number;
  /** PLD's ε, when it was computed. */
  readonly pldEpsilon?: number;
}

/** Options of {@link tightEpsilon}. */
export interface TightOptions {
  readonly conversion?: Conversion;
  readonly accountant?: AccountantChoice;
  /** The PLD grid interval; default {@link DEFAULT_PLD_INTERVAL}. */
  readonly interval?: number;
}

const cache = new Map<string, number>();

/** PLD ε of a list of rounds at δ, memoised (the ledger and calibrations ask for the same ones). */
export function pldEpsilon(
  rounds: readonly PldRounds[],
  delta: number,
  interval = DEFAULT_PLD_INTERVAL,
): number {
  const key = JSON.stringify([rounds, delta, interval]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const accountant = new PldAccountant(interval);
  for (const { event, count } of rounds) accountant.compose(event, count);
  const { epsilon } = accountant.epsilon(delta);
  if (cache.size > 512) cache.clear();
  cache.set(key, epsilon);
  return epsilon;
}

/**
 * The ε of the composition at δ by the chosen accountant ('tightest': the smaller valid bound).
 * @throws RangeError if 'pld' is asked for and some round has no PLD event, or on a bad argument
 */
export function tightEpsilon(
  composition: Composition,
  delta: number,
  options: TightOptions = {},
): TightEpsilon {
  const choice = options.accountant ?? 'tightest';
  if (choice !== 'rdp' && choice !== 'pld' && choice !== 'tightest')
    throw new RangeError(`accountant must be 'rdp', 'pld' or 'tightest', got ${String(choice)}`);
  const { pld } = composition;
  if (choice === 'pld' && pld === undefined)
    throw new RangeError('the PLD accountant needs every round’s PLD event, and some round has none');
  const rdp =
    choice === 'pld'
      ? { epsilon: Infinity, order: Number.NaN }
      : epsilonFromRdp(composition.orders, composition.rdp, delta, options.conversion ?? 'improved');
  if (choice === 'rdp' || pld === undefined) {
    return { epsilon: rdp.epsilon, accountant: 'rdp', rdpEpsilon: rdp.epsilon, order: rdp.order };
  }
  const live = pld.filter((r) => r.count > 0);
  const byPld = live.length === 0 ? 0 : pldEpsilon(live, delta, options.interval);
  const usePld = choice === 'pld' || byPld < rdp.epsilon;
  return {
    epsilon: usePld ? byPld : rdp.epsilon,
    accountant: usePld ? 'pld' : 'rdp',
    rdpEpsilon: rdp.epsilon,
    order: rdp.order,
    pldEpsilon: byPld,
  };
}

/** Groups PLD rounds by event (equal events compose by one FFT power). */
export function groupPld(rounds: readonly PldRounds[]): PldRounds[] {
  const groups = new Map<string, { event: PldEvent; count: number }>();
  for (const { event, count } of rounds) {
    const key = JSON.stringify(event);
    const g = groups.get(key);
    if (g) g.count += count;
    else groups.set(key, { event, count });
  }
  return [...groups.values()];
}
