/**
 * Choosing a round's graph, threshold and survivor floor from a threat model a user can state: the
 * cohort size n, the expected dropout rate δ and the fraction γ of clients that may collude with the
 * coordinator (docs/PROTOCOL.md §2.2, §7). This is the coordinator's side; clients only check what
 * it announces (`graph-params.ts` `checkHararyParameters`, called by `roundParams`).
 *
 * ## Harary graph (SecAgg+)
 * Start from fcp's choice (`graphParams`: the smallest even k, and t, such that privacy fails with
 * probability below 2^−σ and, with at most ⌊δn⌋ dropouts, the round with probability below 2^−η),
 * with t raised to at least k/2 + 1: the Harary graph runs without a consistency check, so a
 * client's k + 1 share holders must not split into two groups that each reach t (`splitViewMinimum`,
 * params.ts). That is what raises k at high dropout rates: a survivor needs t − 1 ≥ k/2 of its k
 * neighbours to answer.
 * Then fix the survivor floor: `minSurvivors = max(t, n − D)` with D the most lost clients for which
 * the honest survivors' graph stays connected (`maxPrivateDropouts`). Clients refuse to unmask for
 * fewer survivors, so privacy no longer rests on the dropout assumption; it holds for any dropouts.
 * What rests on δ is only whether rounds complete. With dropouts drawn independently at rate δ (not
 * "at most δn"), a round fails when
 * - more than D clients are lost: P[Binomial(n, δ) > D], or
 * - some client's secret cannot be rebuilt: a survivor needs t − 1 of its k neighbours to answer the
 *   unmask request (its own share is the t-th), a client lost after sharing its keys needs t, so with
 *   S ~ Binomial(k, 1 − δ) this is at most n · ((1 − δ) · P[S < t − 1] + δ · P[S < t]),
 * and fcp's own correctness bound (exactly ⌊δn⌋ dropouts) must hold too. The degree is raised from
 * fcp's, two at a time, until the sum of these is below 2^−η. For γ = 5% and δ = 10%: at n = 500
 * fcp gives k = 32 and the plan is k = 34, t = 18, minSurvivors = 360; at n = 100 fcp gives k = 16 and
 * the plan (forced with `harary`) k = 30, t = 16. At δ = 30% the rule t ≥ k/2 + 1 dominates: k = 206
 * at n = 1,000 where fcp gives 66.
 *
 * ## Complete graph
 * `auto` keeps the complete graph for small cohorts, where a sparse graph saves little: whenever the
 * Harary degree would exceed a quarter of the other clients ({@link AUTO_MAX_DEGREE_FRACTION}), or no
 * degree below n − 1 works, and always in the malicious setting (where the Harary graph is refused:
 * see `harary.ts`). Its threshold is the usual ⌊2n/3⌋ + 1 (`defaultThreshold`), lowered as far as the
 * §7 minimum (in the semi-honest setting ⌊n/2⌋ + 1 at least: `minimumThreshold`) if needed so that
 * P[Binomial(n, δ) > n − t] < 2^−η.
 * @module
 */
import type { GraphSpec } from './graph.ts';
import {
  checkHararyParameters,
  type GraphChoice,
  graphParams,
  logBinomialUpperTail,
  logExposureBound,
  logShortfallBound,
  maxPrivateDropouts,
  minimumHararyThreshold,
} from './graph-params.ts';
import { defaultThreshold, minimumThreshold, splitViewMinimum } from './params.ts';
import type { ServerModel } from './types.ts';

/** `auto`: Harary for large cohorts, complete for small ones; `harary`: the Harary graph or an error. */
export type GraphMode = 'auto' | 'harary';

/** In `auto` mode, the Harary graph is used only when k ≤ this fraction of the other n − 1 clients. */
export const AUTO_MAX_DEGREE_FRACTION = 0.25;

/** What {@link planGraph} needs. */
export interface GraphPlanInput {
  /** n: the clients selected for the round, an integer ≥ 2. */
  readonly n: number;
  /** δ: the expected fraction of clients lost during a round, in [0, 1). */
  readonly dropoutRate: number;
  /** γ: the fraction of clients that may collude with the coordinator, in [0, 1). */
  readonly adversarialRate: number;
  /** Default `auto`. */
  readonly mode?: GraphMode;
  /** Default semi-honest. The Harary graph is semi-honest only. */
  readonly serverModel?: ServerModel;
  /** σ, default 40. */
  readonly securityBits?: number;
  /** η, default 20. */
  readonly correctnessBits?: number;
}

/** A round's graph, threshold and corrupt-client bound, with what they promise. */
export interface GraphPlan {
  readonly n: number;
  readonly graph: GraphSpec;
  /** t. */
  readonly threshold: number;
  /** n_C = ⌊γn⌋. */
  readonly maxCorruptClients: number;
  /** The fewest survivors the round unmasks for (t for the complete graph). */
  readonly minSurvivors: number;
  /** log2 of a bound on P[the round fails] with dropouts independent at rate δ. */
  readonly log2FailureBound: number;
  /** log2 of a bound on P[privacy breach] (Harary: events 1 and 2; complete: −∞, none). */
  readonly log2BreachBound: number;
  /** One line for logs and the CLI: the choice, k and t, and what they promise. */
  readonly summary: string;
}

const DEFAULT_SECURITY_BITS = 40;
const DEFAULT_CORRECTNESS_BITS = 20;

function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

function log2Text(log: number): string {
  return log === -Infinity ? '0' : `2^${(log / Math.LN2).toFixed(1)}`;
}

/**
 * Chooses the round's graph (see the module comment).
 * @param input - n, δ, γ, mode, setting, σ and η
 * @returns a frozen {@link GraphPlan}; its Harary parameters pass `checkHararyParameters`
 * @throws TypeError / RangeError for inputs out of range; RangeError when `mode` is `harary` and no
 *   Harary graph fits (a small n, or the malicious setting), or when no parameters are secure at all
 * @example planGraph({ n: 500, dropoutRate: 0.1, adversarialRate: 0.05 }) // H(k = 34, t = 18), ≥ 360 survivors
 */
export function planGraph(input: GraphPlanInput): GraphPlan {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(
      `input must be a GraphPlanInput object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  const mode = input.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'harary') {
    throw new RangeError(`mode must be 'auto' or 'harary', got ${String(mode)}`);
  }
  const serverModel = input.serverModel ?? 'semi-honest';
  const securityBits = input.securityBits ?? DEFAULT_SECURITY_BITS;
  const correctnessBits = input.correctnessBits ?? DEFAULT_CORRECTNESS_BITS;
  // graphParams validates n, the rates, the setting and both bit counts.
  const fcp = graphParams({ ...input, serverModel, securityBits, correctnessBits });
  const { n } = fcp;
  const why = (reason: string) => {
    if (mode === 'harary') throw new RangeError(`no Harary graph for n=${n}: ${reason}`);
    return reason;
  };
  if (serverModel === 'malicious') {
    return completePlan(
      fcp,
      input.dropoutRate,
      why('the Harary graph is offered in the semi-honest setting only'),
    );
  }
  if (fcp.kind === 'complete')
    return completePlan(fcp, input.dropoutRate, why('no degree below n - 1 is secure'));
  const harary = hararyPlan(fcp, input.dropoutRate);
  if (harary === undefined) {
    return completePlan(
      fcp,
      input.dropoutRate,
      why('no degree below n - 1 completes rounds reliably enough'),
    );
  }
  const degree = (harary.graph as { degree: number }).degree;
  if (mode === 'auto' && degree > AUTO_MAX_DEGREE_FRACTION * (n - 1)) {
    return completePlan(
      fcp,
      input.dropoutRate,
      `the Harary degree ${degree} would exceed a quarter of the other ${n - 1} clients`,
    );
  }
  return harary;
}

/** The Harary plan: fcp's degree, raised until the survivor floor completes rounds reliably. */
function hararyPlan(fcp: GraphChoice & { kind: 'harary' }, dropoutRate: number): GraphPlan | undefined {
  const { n, corruptClients: corrupt, securityBits: sigma, correctnessBits: eta } = fcp;
  const limitSecurity = -(sigma + 1) * Math.LN2;
  const limitCorrectness = -eta * Math.LN2;
  for (let k = fcp.degree; k <= n - 2; k += 2) {
    // fcp's threshold rule for this k (semi-honest), confirmed with the clients' own check, and at
    // least what rules out a split view (2t > k + 1: the Harary graph has no consistency check).
    let t = Math.max(minimumHararyThreshold(n, k, corrupt, sigma), splitViewMinimum(k + 1));
    while (t <= k + 1 && !(logExposureBound(n, k, corrupt, t) < limitSecurity)) t++;
    if (t > k + 1) continue;
    const lost = maxPrivateDropouts(n, k, corrupt, sigma);
    if (lost < 0) continue;
    const minSurvivors = Math.max(t, n - lost);
    const check = checkHararyParameters({
      n,
      degree: k,
      threshold: t,
      corruptClients: corrupt,
      minSurvivors,
      securityBits: sigma,
    });
    if (!check.ok) continue;
    // Correctness with independent dropouts at rate δ, and fcp's with exactly ⌊δn⌋ dropouts.
    const logFloor = logBinomialUpperTail(n, dropoutRate, n - minSurvivors);
    // P[S < r] = P[more than k − r neighbours lost].
    const logShort =
      Math.log(n) +
      logAdd(
        Math.log1p(-dropoutRate) + logBinomialUpperTail(k, dropoutRate, k - t + 1),
        Math.log(dropoutRate) + logBinomialUpperTail(k, dropoutRate, k - t),
      );
    const logFailure = logAdd(logFloor, logShort);
    const logFcp = logShortfallBound(n, k, fcp.assumedSurvivors, t);
    if (!(logFailure < limitCorrectness) || !(logFcp < limitCorrectness)) continue;
    const logBreach = logAdd(check.log2DisconnectionBound * Math.LN2, check.log2ExposureBound * Math.LN2);
    const share = ((100 * k) / (n - 1)).toFixed(1);
    const summary =
      `SecAgg+ Harary graph for n=${n} (≤${corrupt} corrupt, ${(100 * dropoutRate).toFixed(1)}% expected dropout, ` +
      `semi-honest): degree k=${k} (${share}% of peers), threshold t=${t}, unmasked only with ≥${minSurvivors} ` +
      `survivors; P[privacy breach] ≤ ${log2Text(logBreach)} (< 2^-${sigma}), ` +
      `P[round fails] ≤ ${log2Text(logFailure)} (< 2^-${eta})`;
    return Object.freeze({
      n,
      graph: Object.freeze({ kind: 'harary', degree: k, minSurvivors, securityBits: sigma }),
      threshold: t,
      maxCorruptClients: corrupt,
      minSurvivors,
      log2FailureBound: logFailure / Math.LN2,
      log2BreachBound: logBreach / Math.LN2,
      summary,
    } satisfies GraphPlan);
  }
  return undefined;
}

/** The complete-graph plan: ⌊2n/3⌋ + 1, lowered towards the §7 minimum until rounds complete. */
function completePlan(fcp: GraphChoice, dropoutRate: number, reason: string): GraphPlan {
  const { n, corruptClients: corrupt, serverModel, correctnessBits: eta } = fcp;
  const minimum = minimumThreshold(n, serverModel, corrupt);
  if (minimum > n) {
    throw new RangeError(`no secure parameters for n=${n} with ${corrupt} corrupt clients (${serverModel})`);
  }
  const limit = -eta * Math.LN2;
  let t = defaultThreshold(n, serverModel, corrupt);
  const logFail = (threshold: number) => logBinomialUpperTail(n, dropoutRate, n - threshold);
  while (t > minimum && !(logFail(t) < limit)) t--;
  const logFailure = logFail(t);
  const meets = logFailure < limit;
  const summary =
    `complete graph for n=${n} (≤${corrupt} corrupt, ${(100 * dropoutRate).toFixed(1)}% expected dropout, ` +
    `${serverModel}): ${reason}; threshold t=${t}; P[round fails] ≤ ${log2Text(logFailure)}` +
    (meets
      ? ` (< 2^-${eta})`
      : ` (above the 2^-${eta} target: the threat model leaves no lower secure threshold)`);
  return Object.freeze({
    n,
    graph: Object.freeze({ kind: 'complete' }),
    threshold: t,
    maxCorruptClients: corrupt,
    minSurvivors: t,
    log2FailureBound: logFailure / Math.LN2,
    log2BreachBound: -Infinity,
    summary,
  } satisfies GraphPlan);
}
