/**
 * What one round of a federated run costs in Rényi DP, and the budget check that refuses a round
 * whose cost would take the run past its (ε, δ) target. Pure: no I/O, no clock. The durable record
 * of what was spent is ./ledger.ts, which runs {@link checkBudget} inside its write transaction.
 *
 * A round's cost is its RDP curve, one value per tracked order. Rounds compose by adding their
 * curves order by order (Mironov, "Rényi Differential Privacy", 2017, Prop. 1), and the budget is
 * tested on the (ε, δ) conversion of the composed curve (./conversion.ts). Adding the rounds' own ε
 * values instead would also be a valid bound (basic composition), but a much looser one: it is
 * never used for the decision, only the composed curve is.
 *
 * A round's cost may also carry its privacy loss distribution (a {@link PldEvent}, ./pld-accountant.ts):
 * the built-in Gaussian kinds always do, a precomputed mechanism may. When every counted round has
 * one, the budget is tested on the smaller of the two valid bounds, RDP's and the PLD accountant's
 * (./tightest.ts); otherwise on RDP's.
 * @module
 */
import type { Conversion } from './conversion.ts';
import { checkPldEvent } from './pld-accountant.ts';
import { computeRdp } from './rdp.ts';
import { type AccountantChoice, type PldRounds, tightEpsilon } from './tightest.ts';
import { assertCount, assertInRange, assertNonNegative, assertOrders } from './validate.ts';

/** A JSON value, as stored in a round's parameters. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * The Gaussian mechanism applied centrally to the whole population (every record takes part): noise
 * of standard deviation `sigma · sensitivity` added to a sum whose L2 sensitivity is `sensitivity`.
 * Per release its RDP is α/(2σ²) (Mironov 2017, Prop. 7).
 */
export interface GaussianCentral {
  readonly kind: 'gaussian-central';
  /** Noise multiplier σ: noise standard deviation divided by the L2 sensitivity; finite, > 0. */
  readonly sigma: number;
  /** L2 sensitivity (clipping norm), finite, > 0. Recorded; the accounting depends only on σ. */
  readonly sensitivity: number;
  /** How many releases the round makes, an integer ≥ 1; default 1. */
  readonly steps?: number;
}

/**
 * The Poisson-subsampled Gaussian mechanism: each record (client) takes part independently with
 * probability `q`, and noise of standard deviation `sigma · sensitivity` is added to the sum of the
 * sampled, clipped contributions (./rdp.ts).
 */
export interface SubsampledGaussian {
  readonly kind: 'subsampled-gaussian';
  /** Sampling probability, in (0, 1]. */
  readonly q: number;
  /** Noise multiplier σ, finite, > 0. */
  readonly sigma: number;
  /** L2 sensitivity (clipping norm), finite, > 0. Recorded; the accounting depends only on q and σ. */
  readonly sensitivity: number;
  /** How many steps the round makes, an integer ≥ 1; default 1. */
  readonly steps?: number;
}

/**
 * Any other mechanism (for instance the distributed discrete Gaussian or Skellam mechanism of a
 * secure-aggregation round), whose RDP curve the caller computed. The ledger cannot check the
 * curve, only its shape: it must be given at exactly the ledger's orders.
 */
export interface PrecomputedMechanism {
  readonly kind: 'precomputed';
  /**
   * The mechanism's name, recorded as the round's mechanism (e.g. 'distributed-discrete-gaussian'):
   * lower-case letters, digits, '.' and '-', starting with a letter, at most 64 characters, and
   * not 'precomputed' or one of the built-in kinds.
   */
  readonly name: string;
  /** The mechanism's parameters, recorded as JSON (finite numbers, strings, booleans, null). */
  readonly params: { readonly [key: string]: JsonValue };
  /** The orders `rdp` is given at; must equal the ledger's orders, element for element. */
  readonly orders: readonly number[];
  /** RDP of the whole round at each order, each ≥ 0 or +∞ (no finite bound at that order). */
  readonly rdp: readonly number[];
  /**
   * Optionally, the round's privacy loss distribution: `count` releases of `event`, which must
   * dominate the round (./pld-accountant.ts). Omit it when no such event is known.
   */
  readonly pld?: PldRounds;
}

/** The mechanism a round runs, as handed to {@link roundCost} and the ledger. */
export type RoundMechanism = GaussianCentral | SubsampledGaussian | PrecomputedMechanism;

/** The built-in mechanism kinds, whose RDP the ledger computes itself. */
export const BUILTIN_MECHANISMS: readonly string[] = Object.freeze([
  'gaussian-central',
  'subsampled-gaussian',
]);

const RESERVED_NAMES: readonly string[] = [...BUILTIN_MECHANISMS, 'precomputed'];

/** A validated mechanism and its RDP curve at a given list of orders. Frozen. */
export interface RoundCost {
  /** The mechanism as recorded: the built-in kind, or a precomputed mechanism's name. */
  readonly kind: string;
  /** The parameters as recorded (for built-in kinds: exactly the fields that define the cost). */
  readonly params: { readonly [key: string]: JsonValue };
  /** RDP of the round at each order, each ≥ 0 or +∞. */
  readonly rdp: readonly number[];
  /** The round's PLD event and count, when known (always for the built-in kinds). */
  readonly pld?: PldRounds;
}

const NAME = /^[a-z][a-z0-9.-]{0,63}$/;

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function onlyKeys(name: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new RangeError(`${name} has an unknown field '${key}' (expected only ${allowed.join(', ')})`);
    }
  }
}

/** A deep, frozen copy of a JSON value; rejects what JSON cannot carry faithfully. */
function copyJson(name: string, value: unknown, depth = 0): JsonValue {
  if (depth > 16) throw new RangeError(`${name} is nested more than 16 levels deep`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${show(value)}`);
    return value;
  }
  if (Array.isArray(value)) {
    return Object.freeze(value.map((v: unknown, i) => copyJson(`${name}[${i}]`, v, depth + 1)));
  }
  if (isPlainObject(value)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyJson(`${name}.${k}`, v, depth + 1);
    return Object.freeze(out);
  }
  throw new TypeError(`${name} must be a JSON value, got ${show(value)}`);
}

function optionalSteps(name: string, value: unknown): number {
  if (value === undefined) return 1;
  const steps = assertCount(name, value);
  if (steps === 0) throw new RangeError(`${name} must be at least 1, got 0`);
  return steps;
}

/**
 * Validates a round's mechanism and computes its RDP curve at `orders`.
 *
 * @param mechanism the round's mechanism; anything else is rejected, never coerced (a string σ, an
 *   unknown field of a built-in kind, a NaN, a curve at other orders)
 * @param orders the Rényi orders the curve is wanted at, each finite and > 1
 * @returns the validated parameters and the curve, frozen
 * @throws TypeError if a field has the wrong type; RangeError if it is out of range
 * @example
 * ```ts
 * const cost = roundCost({ kind: 'subsampled-gaussian', q: 0.01, sigma: 1.1, sensitivity: 1 }, [2, 8, 32]);
 * ```
 */
export function roundCost(mechanism: RoundMechanism, orders: readonly number[]): RoundCost {
  const checkedOrders = assertOrders('orders', orders);
  const m: unknown = mechanism;
  if (!isPlainObject(m)) throw new TypeError(`mechanism must be an object, got ${show(m)}`);
  const kind = m['kind'];
  if (typeof kind !== 'string') throw new TypeError(`mechanism.kind must be a string, got ${show(kind)}`);
  switch (kind) {
    case 'gaussian-central': {
      onlyKeys('a gaussian-central mechanism', m, ['kind', 'sigma', 'sensitivity', 'steps']);
      const sigma = assertNonNegative('mechanism.sigma', m['sigma'], true);
      const sensitivity = assertNonNegative('mechanism.sensitivity', m['sensitivity'], true);
      const steps = optionalSteps('mechanism.steps', m['steps']);
      const rdp = computeRdp({ q: 1, sigma, steps, orders: checkedOrders });
      return freezeCost(kind, { sigma, sensitivity, steps }, rdp, {
        event: { kind: 'gaussian', sigma, q: 1 },
        count: steps,
      });
    }
    case 'subsampled-gaussian': {
      onlyKeys('a subsampled-gaussian mechanism', m, ['kind', 'q', 'sigma', 'sensitivity', 'steps']);
      const q = assertInRange('mechanism.q', m['q'], 0, 1);
      if (q === 0) throw new RangeError('mechanism.q must be in (0, 1], got 0 (a round that samples nobody)');
      const sigma = assertNonNegative('mechanism.sigma', m['sigma'], true);
      const sensitivity = assertNonNegative('mechanism.sensitivity', m['sensitivity'], true);
      const steps = optionalSteps('mechanism.steps', m['steps']);
      const rdp = computeRdp({ q, sigma, steps, orders: checkedOrders });
      return freezeCost(kind, { q, sigma, sensitivity, steps }, rdp, {
        event: { kind: 'gaussian', sigma, q },
        count: steps,
      });
    }
    case 'precomputed':
      return precomputedCost(m, checkedOrders);
    default:
      throw new RangeError(
        `mechanism.kind must be 'gaussian-central', 'subsampled-gaussian' or 'precomputed', got ${show(kind)}`,
      );
  }
}

function precomputedCost(m: Record<string, unknown>, orders: readonly number[]): RoundCost {
  onlyKeys('a precomputed mechanism', m, ['kind', 'name', 'params', 'orders', 'rdp', 'pld']);
  const name = m['name'];
  if (typeof name !== 'string') throw new TypeError(`mechanism.name must be a string, got ${show(name)}`);
  if (!NAME.test(name) || RESERVED_NAMES.includes(name)) {
    throw new RangeError(
      `mechanism.name must be lower-case letters, digits, '.' and '-', start with a letter, have at ` +
        `most 64 characters and not be ${RESERVED_NAMES.map((n) => `'${n}'`).join(', ')}; got ${show(name)}`,
    );
  }
  if (!isPlainObject(m['params'])) {
    throw new TypeError(`mechanism.params must be a plain object, got ${show(m['params'])}`);
  }
  const params = copyJson('mechanism.params', m['params']) as { readonly [key: string]: JsonValue };
  const given = assertOrders('mechanism.orders', m['orders']);
  const same = given.length === orders.length && given.every((a, k) => a === orders[k]);
  if (!same) {
    throw new RangeError(
      `mechanism.orders must be the ledger's ${orders.length} orders, element for element ` +
        `(got ${given.length} orders${given.length === orders.length ? ' that differ' : ''})`,
    );
  }
  const rdp = m['rdp'];
  if (!Array.isArray(rdp)) throw new TypeError(`mechanism.rdp must be an array of numbers, got ${show(rdp)}`);
  if (rdp.length !== orders.length) {
    throw new RangeError(`mechanism.rdp must have one value per order (${orders.length}), got ${rdp.length}`);
  }
  const curve = rdp.map((v: unknown, k) =>
    v === Infinity ? v : assertNonNegative(`mechanism.rdp[${k}]`, v),
  );
  return freezeCost(name, params, curve, m['pld'] === undefined ? undefined : checkPldRounds(m['pld']));
}

/**
 * Validates a round's PLD: `{ event, count }` with a valid event and a count ≥ 1.
 * @throws TypeError / RangeError naming the field
 */
export function checkPldRounds(value: unknown, name = 'mechanism.pld'): PldRounds {
  if (!isPlainObject(value)) throw new TypeError(`${name} must be an object, got ${show(value)}`);
  onlyKeys(name, value, ['event', 'count']);
  const event = checkPldEvent(value['event'], `${name}.event`);
  const count = assertCount(`${name}.count`, value['count']);
  if (count === 0) throw new RangeError(`${name}.count must be at least 1, got 0`);
  return Object.freeze({ event, count });
}

function freezeCost(
  kind: string,
  params: { readonly [key: string]: JsonValue },
  rdp: number[],
  pld?: PldRounds,
): RoundCost {
  return Object.freeze({
    kind,
    params: Object.freeze(params),
    rdp: Object.freeze(rdp),
    ...(pld && { pld: Object.freeze({ event: pld.event, count: pld.count }) }),
  });
}

/** Arguments of {@link checkBudget}. */
export interface BudgetQuery {
  /** The number of the round about to start (for the message). */
  readonly round: number;
  readonly orders: readonly number[];
  /** RDP already counted, per order (the sum over every counted round). */
  readonly spentRdp: readonly number[];
  /** The round's cost, from {@link roundCost} at the same orders. */
  readonly cost: RoundCost;
  readonly delta: number;
  readonly targetEpsilon: number;
  readonly conversion: Conversion;
  /**
   * The PLD events of every counted round, or undefined if some counted round has none (then only
   * RDP can bound the composition). Absent: undefined.
   */
  readonly spentPld?: readonly PldRounds[] | undefined;
  /** Which bound decides; default 'tightest' (the smaller valid one). */
  readonly accountant?: AccountantChoice;
}

/** The outcome of a budget check that passed. */
export interface BudgetCheck {
  readonly round: number;
  /** ε of what was counted before the round. */
  readonly epsilonBefore: number;
  /** ε once the round is counted too (≤ the target), and the RDP order that achieves RDP's bound. */
  readonly epsilonAfter: number;
  readonly order: number;
  /** Which accountant gave `epsilonAfter`. */
  readonly accountant: 'rdp' | 'pld';
  /** ε of the round on its own. */
  readonly roundEpsilon: number;
  /** The composed RDP curve after the round. */
  readonly rdpAfter: readonly number[];
}

/**
 * The round would take the run past its privacy budget; it must not start. Carries the numbers the
 * message states.
 */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  constructor(
    readonly round: number,
    readonly epsilonBefore: number,
    readonly epsilonAfter: number,
    readonly targetEpsilon: number,
    readonly delta: number,
  ) {
    super(
      `round ${round} would raise ε from ${formatUp(epsilonBefore)} to ${formatUp(epsilonAfter)}, ` +
        `above the budget ${targetEpsilon} (δ=${formatDelta(delta)}); refusing to start it`,
    );
  }
}

/**
 * ε shown to four significant digits, rounded up, so the message never understates a loss (and a
 * value above the budget never prints as equal to it: rounding up keeps it above).
 */
export function formatUp(x: number): string {
  if (x === Infinity) return '∞';
  if (!Number.isFinite(x) || x === 0) return String(x);
  let shown = Number(x.toPrecision(4));
  if (shown < x) shown = Number((shown + 10 ** (Math.floor(Math.log10(shown)) - 3)).toPrecision(4));
  return String(shown);
}

/** δ as people write it: 1e-5 rather than 0.00001. */
export function formatDelta(delta: number): string {
  return delta < 1e-3 ? delta.toExponential() : String(delta);
}

/**
 * Whether one more round fits the budget: composes the round's curve with what was already spent
 * and converts at δ.
 *
 * @returns ε before and after the round when ε after ≤ targetEpsilon
 * @throws BudgetExceededError when ε after the round would exceed targetEpsilon (including ε = ∞)
 * @throws RangeError if the curves do not match the orders
 * @example
 * ```ts
 * const cost = roundCost({ kind: 'gaussian-central', sigma: 5, sensitivity: 1 }, orders);
 * checkBudget({ round: 1, orders, spentRdp: orders.map(() => 0), cost, delta: 1e-5, targetEpsilon: 8, conversion: 'improved' });
 * ```
 */
export function checkBudget(query: BudgetQuery): BudgetCheck {
  const { orders, spentRdp, cost, delta, targetEpsilon, conversion } = query;
  if (spentRdp.length !== orders.length || cost.rdp.length !== orders.length) {
    throw new RangeError(`RDP curves must have one value per order (${orders.length})`);
  }
  const options = { conversion, accountant: query.accountant ?? 'tightest' } as const;
  // 'pld' alone cannot decide without every round's event: fall back to RDP rather than refuse.
  const usable = (pld: readonly PldRounds[] | undefined) =>
    options.accountant === 'pld' && pld === undefined ? { ...options, accountant: 'rdp' as const } : options;
  const rdpAfter = Object.freeze(spentRdp.map((r, k) => r + cost.rdp[k]!));
  const spentPld = query.spentPld;
  const pldAfter = spentPld !== undefined && cost.pld !== undefined ? [...spentPld, cost.pld] : undefined;
  const before = tightEpsilon({ orders, rdp: spentRdp, pld: spentPld }, delta, usable(spentPld)).epsilon;
  const after = tightEpsilon({ orders, rdp: rdpAfter, pld: pldAfter }, delta, usable(pldAfter));
  // `!(≤)` rather than `>`: a NaN must refuse, not pass.
  if (!(after.epsilon <= targetEpsilon)) {
    throw new BudgetExceededError(query.round, before, after.epsilon, targetEpsilon, delta);
  }
  const ownPld = cost.pld === undefined ? undefined : [cost.pld];
  const own = tightEpsilon({ orders, rdp: cost.rdp, pld: ownPld }, delta, usable(ownPld)).epsilon;
  return {
    round: query.round,
    epsilonBefore: before,
    epsilonAfter: after.epsilon,
    order: after.order,
    accountant: after.accountant,
    roundEpsilon: own,
    rdpAfter,
  };
}
