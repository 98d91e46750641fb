/**
 * SecAgg+ parameters: the degree `k` of the random Harary graph and the Shamir threshold `t`, derived
 * from the cohort size and a threat model, following Bell et al., *Secure Single-Server Aggregation
 * with (Poly)Logarithmic Overhead* (CCS 2020, §3–4) as Google's federated-compute implements it
 * (`fcp/secagg/server/graph_parameter_finder.cc`, `distribution_utilities.cc`). Pure arithmetic: no
 * I/O, no randomness.
 *
 * ## The model
 * `n` clients sit on a ring in a uniformly random order; each is connected to the `k/2` nearest on
 * either side (see `harary.ts`). Before the order is drawn, the adversary fixes a set of at most
 * `A = ⌊γn⌋` corrupt clients, and at most `D = ⌊δn⌋` clients drop out (so at least `M = ⌈(1 − δ)n⌉`
 * survive). Because the order is random and independent of those sets, the number of corrupt (or
 * surviving) neighbours of any one client is hypergeometric: `k` draws without replacement from a
 * population of `n` with `A` (or `M`) marked. (fcp draws from `n`, not the `n − 1` other clients; we
 * keep its model so that the numbers agree.)
 *
 * ## The three events (probabilities per round, union-bounded)
 * With `q_σ = 2^−(σ+1) / n` and `q_η = 2^−η / n`:
 * 1. **Disconnection** (privacy): the graph minus the corrupt and dropped clients falls apart, so the
 *    server learns partial sums. Cutting a ring-Harary graph needs `k/2` consecutive removed nodes in
 *    two separate places: `k` specific nodes. There are `n(n − k − 1)/2` such pairs of gaps, and `k`
 *    given nodes all lie in a random set of `B = A + D` with probability `B!(n−k)! / ((B−k)! n!)`, so
 *    `P_disc ≤ n(n − k − 1)/2 · Π_{i<k} (B − i)/(n − i)` (zero when `k > B`). Required:
 *    `P_disc < 2^−(σ+1)`.
 * 2. **Too many corrupt neighbours** (privacy): a client's secrets are exposed when its corrupt
 *    neighbours hold `t` shares (semi-honest), or — when the server may lie about who dropped — when
 *    two disjoint groups of honest neighbours could each reach `t` together with the corrupt ones, i.e.
 *    `2t ≤ k + X` (malicious; the per-neighbourhood form of `2t > n + n_C`, §7). With
 *    `X ~ HG(n, A, k)`, let `t1 = min{s : P[X > s] < q_σ}`. Then `t = t1 + 1` (semi-honest) or
 *    `t = ⌊(t1 + k)/2⌋ + 1` (malicious) makes the event's probability `< q_σ` per client, `< 2^−(σ+1)`
 *    in all. (fcp writes the malicious rule as `⌈(t1 + k − 1.25)/2⌉ + 1`, which is the same integer.)
 * 3. **Too few surviving neighbours** (correctness): a dropped client's key cannot be reconstructed
 *    when fewer than `t` of its neighbours survive. With `S ~ HG(n, M, k)` and
 *    `t2 = min{r : P[S ≤ r] ≥ q_η}`, any `t ≤ t2` gives `P[S < t] < q_η` per client, `< 2^−η` in all.
 *
 * The search tries `k = 2, 4, 6, …` up to `n − 2` and returns the first `k` that passes event 1 and
 * admits a threshold `t ≤ t2` (the smallest such `t`, which keeps reconstruction cheap), with `t ≥ 2`.
 * Events 1 and 2 together stay below `2^−σ`. If no `k < n − 1` works, the complete graph is used, as
 * in fcp, with `t = M = ⌈(1 − δ)n⌉`: then nothing is probabilistic.
 *
 * One deliberate difference from fcp: fcp returns `max(t1 + 1, 2)` whenever `t1 < t2`, which can
 * exceed `t2` when `t1 = 0` (no corrupt clients), breaking its own correctness bound (fcp's test
 * expects k = 4, t = 2 for n = 10, γ = 0, δ = 0.33, where `P[S ≤ 1] = 1/30`). We require the threshold
 * actually returned to be at most `t2`. This never matters once `γn ≥ 1`.
 *
 * ## Numerics
 * Every probability is carried as a natural logarithm. Binomial coefficients are sums of logarithms
 * of exact integer ratios (`ln C(a, b) = Σ_{i=1..b} ln((a − b + i)/i)`), the probability mass function
 * follows from one such anchor by its ratio recurrence, and tails are summed with log-add, so nothing
 * overflows or underflows at n = 10^6; each value is accurate to about `k · 10^−15` in the log. Cost:
 * `O(k)` per candidate degree, `O(k²)` for the search.
 * @module
 */
import type { ServerModel } from './types.ts';

/** What {@link graphParams} needs. Rates are fractions of the cohort, in [0, 1). */
export interface GraphParamsInput {
  /** Cohort size n: the number of selected clients, an integer in [2, 2^32 − 1]. */
  readonly n: number;
  /** δ: the expected fraction of clients that drop out during the round, in [0, 1). */
  readonly dropoutRate: number;
  /** γ: the fraction of clients that may collude with the server, in [0, 1). */
  readonly adversarialRate: number;
  /** The security setting (docs/PROTOCOL.md §7); `'semi-honest'` by default. */
  readonly serverModel?: ServerModel;
  /** σ: privacy fails with probability below 2^−σ; an integer in [1, 128], default 40. */
  readonly securityBits?: number;
  /** η: a round fails (too few shares) with probability below 2^−η; an integer in [1, 64], default 20. */
  readonly correctnessBits?: number;
}

/** Fields common to both outcomes of {@link graphParams}. */
interface GraphChoiceBase {
  /** Cohort size. */
  readonly n: number;
  readonly serverModel: ServerModel;
  readonly securityBits: number;
  readonly correctnessBits: number;
  /** A = ⌊γn⌋: corrupt clients assumed (the `maxCorruptClients` of the round). */
  readonly corruptClients: number;
  /**
   * M = ⌈(1 − δ)n⌉: clients assumed to survive the round (D = n − M may drop), the model of events 1
   * and 3. Not the survivor floor a round announces (`graph-plan.ts` `minSurvivors`).
   */
  readonly assumedSurvivors: number;
  /** Shamir threshold t: shares needed to reconstruct a client's secrets. */
  readonly threshold: number;
  /** One line, for logs and the CLI: the choice and what it promises. */
  readonly summary: string;
}

/** A sparse random Harary graph H(n, k) (Bell et al. 2020). */
export interface HararyChoice extends GraphChoiceBase {
  readonly kind: 'harary';
  /** k: neighbours per client, even, in [2, n − 2]. */
  readonly degree: number;
  /** log2 of the computed bound on P[some client has fewer than t surviving neighbours]; < −η. */
  readonly log2FailureBound: number;
  /** log2 of the computed bound on P[disconnection or t corrupt shares somewhere]; < −σ. */
  readonly log2BreachBound: number;
}

/** The complete graph (Bonawitz et al. 2017): every client is every other's neighbour. */
export interface CompleteChoice extends GraphChoiceBase {
  readonly kind: 'complete';
  /** Why the complete graph: no even degree below n − 1 meets both bounds (always so for n < 4). */
  readonly reason: 'no-sparse-degree';
}

/** The outcome of {@link graphParams}. */
export type GraphChoice = HararyChoice | CompleteChoice;

const DEFAULT_SECURITY_BITS = 40;
const DEFAULT_CORRECTNESS_BITS = 20;
const MAX_CLIENTS = 0xffff_ffff;
/**
 * Added to γ and δ before rounding the client counts (as fcp's `kSmall`): γ·n is often an integer that
 * floating point lands just below (0.07 · 100 = 7.000000000000001, but 0.29 · 100 = 28.999999999999996),
 * and rounding it down would assume one corrupt client fewer than intended.
 */
const RATE_SLACK = 1e-14;
/** fcp's feasibility limits: above them no sensible degree exists (semi-honest; malicious counts δ twice). */
const MAX_BAD_FRACTION = 0.9;

function checkRate(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new RangeError(`${name} must be a fraction in [0, 1), got ${value}`);
  }
  return value;
}

function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** log(e^a + e^b), exact for −∞ operands. */
function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** ln C(a, b) for integers 0 ≤ b ≤ a, as Σ_{i=1..b'} ln((a − b' + i)/i) with b' = min(b, a − b). */
function logBinomial(a: number, b: number): number {
  const m = Math.min(b, a - b);
  let sum = 0;
  for (let i = 1; i <= m; i++) sum += Math.log((a - m + i) / i);
  return sum;
}

/**
 * The hypergeometric distribution: the number X of marked items in `draws` draws without replacement
 * from `population` items of which `marked` are marked. Holds ln P[X = x] for x in [lo, hi].
 */
class Hypergeometric {
  readonly lo: number;
  readonly hi: number;
  /** logPmf[x − lo] = ln P[X = x]. */
  readonly logPmf: Float64Array;

  constructor(population: number, marked: number, draws: number) {
    const unmarked = population - marked;
    this.lo = Math.max(0, draws - unmarked);
    this.hi = Math.min(draws, marked);
    this.logPmf = new Float64Array(this.hi - this.lo + 1);
    // P[X = x] = C(marked, x) C(unmarked, draws − x) / C(population, draws); from the anchor x = lo,
    // P[X = x + 1] / P[X = x] = (marked − x)(draws − x) / ((x + 1)(unmarked − draws + x + 1)).
    let lp =
      logBinomial(marked, this.lo) + logBinomial(unmarked, draws - this.lo) - logBinomial(population, draws);
    for (let x = this.lo; x <= this.hi; x++) {
      this.logPmf[x - this.lo] = lp;
      lp += Math.log(((marked - x) * (draws - x)) / ((x + 1) * (unmarked - draws + x + 1)));
    }
  }

  /** ln P[X = x]; −∞ outside the support. */
  at(x: number): number {
    return x < this.lo || x > this.hi ? -Infinity : (this.logPmf[x - this.lo] as number);
  }

  /** ln P[X > s]. */
  logUpperTail(s: number): number {
    let sum = -Infinity;
    for (let x = this.hi; x > s && x >= this.lo; x--) sum = logAdd(sum, this.at(x));
    return s < this.lo ? 0 : sum;
  }

  /** ln P[X ≤ r]. */
  logCdf(r: number): number {
    let sum = -Infinity;
    for (let x = this.lo; x <= r && x <= this.hi; x++) sum = logAdd(sum, this.at(x));
    return r >= this.hi ? 0 : sum;
  }

  /** min{s : P[X > s] < e^logQ}: walks down from the top of the support until the tail reaches q. */
  upperQuantile(logQ: number): number {
    let tail = -Infinity; // ln P[X > s] for the current s
    let s = this.hi;
    while (s >= this.lo) {
      const wider = logAdd(tail, this.at(s)); // ln P[X > s − 1]
      if (wider >= logQ) break;
      tail = wider;
      s--;
    }
    return s;
  }

  /** min{r : P[X ≤ r] ≥ e^logQ}: walks up from the bottom of the support until the CDF reaches q. */
  lowerQuantile(logQ: number): number {
    let cdf = -Infinity;
    for (let r = this.lo; r < this.hi; r++) {
      cdf = logAdd(cdf, this.at(r));
      if (cdf >= logQ) return r;
    }
    return this.hi;
  }
}

interface Candidate {
  readonly threshold: number;
  readonly logFailure: number;
  readonly logBreach: number;
}

/**
 * Checks events 2 and 3 of the module comment for one even degree k that passed event 1 (with bound
 * `logDisc`): the smallest threshold and the bounds it achieves, or undefined.
 */
function tryDegree(
  n: number,
  k: number,
  corrupt: number,
  survivors: number,
  malicious: boolean,
  logDisc: number,
  logQSecurity: number,
  correctnessBits: number,
): Candidate | undefined {
  const logN = Math.log(n);
  const adversarial = new Hypergeometric(n, corrupt, k);
  const surviving = new Hypergeometric(n, survivors, k);
  const t1 = adversarial.upperQuantile(logQSecurity - logN);
  const t2 = surviving.lowerQuantile(-correctnessBits * Math.LN2 - logN);
  const threshold = Math.max(2, malicious ? Math.floor((t1 + k) / 2) + 1 : t1 + 1);
  if (threshold > t2) return undefined;

  // The bounds actually achieved by this (k, t), for the summary. The corrupt neighbours win when
  // X ≥ t (semi-honest) or X ≥ 2t − k (malicious).
  const exposedAt = malicious ? 2 * threshold - k : threshold;
  const logBreach = logAdd(logDisc, logN + adversarial.logUpperTail(exposedAt - 1));
  const logFailure = logN + surviving.logCdf(threshold - 1);
  return { threshold, logFailure, logBreach };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatLog2(log2: number): string {
  return log2 === -Infinity ? '0' : `2^${log2.toFixed(1)}`;
}

/**
 * Derives the SecAgg+ graph degree k and Shamir threshold t for a cohort of `n` clients, as fcp's
 * `HararyGraphParameterFinder` does (see the module comment for the analysis), or says the complete
 * graph is needed.
 * @param input - cohort size, dropout and adversarial rates, setting, and the two security parameters
 * @returns a frozen {@link HararyChoice} (the smallest even k that works, and the smallest t for it) or
 *   {@link CompleteChoice} (t = ⌈(1 − δ)n⌉)
 * @throws TypeError for a non-number field; RangeError naming the field for a value out of range, when
 *   γ + δ > 0.9 (semi-honest) or γ + 2δ > 0.9 (malicious), or when not even the complete graph is secure
 * @example graphParams({ n: 500, dropoutRate: 0.1, adversarialRate: 0.05 }) // { kind: 'harary', degree: 32, … }
 */
export function graphParams(input: GraphParamsInput): GraphChoice {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(
      `input must be a GraphParamsInput object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  const n = checkInt(input.n, 'n', 2, MAX_CLIENTS);
  const dropoutRate = checkRate(input.dropoutRate, 'dropoutRate');
  const adversarialRate = checkRate(input.adversarialRate, 'adversarialRate');
  const serverModel = input.serverModel ?? 'semi-honest';
  if (serverModel !== 'semi-honest' && serverModel !== 'malicious') {
    throw new RangeError(`serverModel must be 'semi-honest' or 'malicious', got ${String(serverModel)}`);
  }
  const securityBits = checkInt(input.securityBits ?? DEFAULT_SECURITY_BITS, 'securityBits', 1, 128);
  const correctnessBits = checkInt(
    input.correctnessBits ?? DEFAULT_CORRECTNESS_BITS,
    'correctnessBits',
    1,
    64,
  );
  const malicious = serverModel === 'malicious';
  if (malicious && adversarialRate + 2 * dropoutRate > MAX_BAD_FRACTION) {
    throw new RangeError(
      `adversarialRate + 2·dropoutRate must be at most ${MAX_BAD_FRACTION} in the malicious setting, ` +
        `got ${adversarialRate} + 2·${dropoutRate}`,
    );
  }
  if (!malicious && adversarialRate + dropoutRate > MAX_BAD_FRACTION) {
    throw new RangeError(
      `adversarialRate + dropoutRate must be at most ${MAX_BAD_FRACTION} in the semi-honest setting, ` +
        `got ${adversarialRate} + ${dropoutRate}`,
    );
  }

  const corruptClients = Math.floor((adversarialRate + RATE_SLACK) * n);
  const assumedSurvivors = Math.ceil((1 - dropoutRate - RATE_SLACK) * n);
  const base = { n, serverModel, securityBits, correctnessBits, corruptClients, assumedSurvivors };
  const who = `n=${n} (≤${corruptClients} corrupt, ≤${n - assumedSurvivors} dropouts, ${serverModel})`;

  // Event 1's bound ln P_disc(k) = ln n + ln(n − k − 1) − ln 2 + Σ_{i<k} ln((B − i)/(n − i)) is kept
  // as a running sum (two more factors per step), so degrees that fail it cost O(1) each; only the
  // others pay O(k) for the hypergeometric tails. B < n, so every factor is below 1.
  const bad = corruptClients + (n - assumedSurvivors);
  const logQSecurity = -(securityBits + 1) * Math.LN2; // per privacy event: 2^−σ split evenly over two
  let logFalling = 0; // Σ_{i<k} ln((B − i)/(n − i))
  for (let k = 2; k < n - 1; k += 2) {
    logFalling += Math.log((bad - k + 2) / (n - k + 2)) + Math.log((bad - k + 1) / (n - k + 1));
    const logDisc = k > bad ? -Infinity : Math.log(n) + Math.log(n - k - 1) - Math.LN2 + logFalling;
    if (logDisc >= logQSecurity) continue;
    const found = tryDegree(
      n,
      k,
      corruptClients,
      assumedSurvivors,
      malicious,
      logDisc,
      logQSecurity,
      correctnessBits,
    );
    if (found === undefined) continue;
    const log2FailureBound = found.logFailure / Math.LN2;
    const log2BreachBound = found.logBreach / Math.LN2;
    const share = ((100 * k) / (n - 1)).toFixed(1);
    const summary =
      `SecAgg+ Harary graph for ${who}: degree k=${k} (${share}% of peers), threshold t=${found.threshold}; ` +
      `P[round fails] < 2^-${correctnessBits} (bound ${formatLog2(log2FailureBound)}), ` +
      `P[privacy breach] < 2^-${securityBits} (bound ${formatLog2(log2BreachBound)})`;
    return Object.freeze({
      kind: 'harary',
      ...base,
      degree: k,
      threshold: found.threshold,
      log2FailureBound,
      log2BreachBound,
      summary,
    });
  }

  // The complete graph (fcp's CheckFullGraphParameters): t = ⌈(1 − δ)n⌉ survivors are needed, so at
  // most D clients may drop; it must exceed the ⌈γn⌉ corrupt clients (semi-honest) or ⌈(n + γn)/2⌉
  // (malicious, so that two disjoint views cannot both reach t). fcp rounds γn up here, one client
  // more conservative than ⌊γn⌋ when γn is not an integer.
  const threshold = assumedSurvivors;
  const corruptCeil = Math.ceil(adversarialRate * n);
  const needed = Math.max(2, (malicious ? Math.ceil((n + adversarialRate * n) / 2) : corruptCeil) + 1);
  if (threshold < needed) {
    throw new RangeError(
      `no secure parameters for ${who}: the complete graph needs threshold ⌈(1 − dropoutRate)·n⌉ = ` +
        `${threshold} ≥ ${needed}; lower dropoutRate or adversarialRate`,
    );
  }
  const summary =
    `complete graph for ${who}: no degree below n-1 meets P[privacy breach] < 2^-${securityBits} and ` +
    `P[round fails] < 2^-${correctnessBits}; threshold t=${threshold}, so the round succeeds with up to ` +
    `${plural(n - threshold, 'dropout')} and stays private against ${plural(corruptCeil, 'corrupt client')}, ` +
    'with no error probability';
  return Object.freeze({ kind: 'complete', ...base, threshold, reason: 'no-sparse-degree', summary });
}

// ---- checking announced parameters -------------------------------------------------------------
//
// A client does not search: it is told (k, t, n_C, minSurvivors, σ) and checks that events 1 and 2
// of the module comment stay below 2^−(σ+1) each for them. The same functions serve the coordinator
// (graph-plan.ts), which checks every plan it announces with them, so what it announces passes the
// clients' check bit for bit.

/**
 * ln of event 1's bound (module comment): `n(n − k − 1)/2 · Π_{i<k} (B − i)/(n − i)`, the probability
 * that `bad` clients (corrupt or lost, placed independently of the ring order) cut H(n, k). −∞ when
 * `k > bad` or `k ≥ n − 1` (then no set of `bad` clients can cut it).
 * @param n - clients, an integer ≥ 3
 * @param degree - k, even, in [2, n − 1]
 * @param bad - B: corrupt plus lost clients, an integer in [0, n]
 * @returns a natural logarithm, ≤ about ln(n²/2)
 * @throws TypeError / RangeError for arguments out of range
 * @example logDisconnectionBound(500, 32, 75) / Math.LN2 // about −96
 */
export function logDisconnectionBound(n: number, degree: number, bad: number): number {
  checkInt(n, 'n', 3, MAX_CLIENTS);
  checkInt(degree, 'degree', 2, n - 1);
  checkInt(bad, 'bad', 0, n);
  if (degree > bad || degree >= n - 1) return -Infinity;
  let sum = Math.log(n) + Math.log(n - degree - 1) - Math.LN2;
  for (let i = 0; i < degree; i++) sum += Math.log((bad - i) / (n - i));
  return sum;
}

/**
 * ln of event 2's bound (module comment): `n · P[X ≥ e]` with `X ~ HG(n, corrupt, k)` the corrupt
 * neighbours of a client and `e = t` (semi-honest: t corrupt shares reveal a secret) or `e = 2t − k`
 * (malicious: two disjoint views can both reach t).
 * @param n - clients, an integer ≥ 3
 * @param degree - k, in [2, n − 1]
 * @param corrupt - A: corrupt clients, in [0, n]
 * @param threshold - t, an integer ≥ 1
 * @param serverModel - the setting (default semi-honest)
 * @returns a natural logarithm (−∞ when no client can have that many corrupt neighbours)
 * @throws TypeError / RangeError for arguments out of range
 * @example logExposureBound(500, 32, 25, 17) / Math.LN2 // below −41
 */
export function logExposureBound(
  n: number,
  degree: number,
  corrupt: number,
  threshold: number,
  serverModel: ServerModel = 'semi-honest',
): number {
  checkInt(n, 'n', 3, MAX_CLIENTS);
  checkInt(degree, 'degree', 2, n - 1);
  checkInt(corrupt, 'corrupt', 0, n);
  checkInt(threshold, 'threshold', 1, MAX_CLIENTS);
  const exposedAt = serverModel === 'malicious' ? 2 * threshold - degree : threshold;
  if (exposedAt <= 0) return Math.log(n); // every client is exposed: P = 1
  return Math.log(n) + new Hypergeometric(n, corrupt, degree).logUpperTail(exposedAt - 1);
}

/**
 * ln of event 3's bound (module comment) for a given threshold: `n · P[S < t]`, `S ~ HG(n, M, k)` the
 * surviving neighbours of a client when exactly `survivors` = M clients survive.
 * @returns a natural logarithm
 * @throws TypeError / RangeError for arguments out of range
 */
export function logShortfallBound(n: number, degree: number, survivors: number, threshold: number): number {
  checkInt(n, 'n', 3, MAX_CLIENTS);
  checkInt(degree, 'degree', 2, n - 1);
  checkInt(survivors, 'survivors', 0, n);
  checkInt(threshold, 'threshold', 1, MAX_CLIENTS);
  return Math.log(n) + new Hypergeometric(n, survivors, degree).logCdf(threshold - 1);
}

/**
 * fcp's threshold for degree k (event 2 of the module comment): `t1 + 1` (semi-honest) or
 * `⌊(t1 + k)/2⌋ + 1` (malicious), at least 2, with `t1 = min{s : P[X > s] < 2^−(σ+1)/n}`.
 * @returns t; may exceed k + 1 when no threshold is secure for this k
 * @throws TypeError / RangeError for arguments out of range
 * @example minimumHararyThreshold(500, 32, 25, 40) // 17
 */
export function minimumHararyThreshold(
  n: number,
  degree: number,
  corrupt: number,
  securityBits: number,
  serverModel: ServerModel = 'semi-honest',
): number {
  checkInt(n, 'n', 3, MAX_CLIENTS);
  checkInt(degree, 'degree', 2, n - 1);
  checkInt(corrupt, 'corrupt', 0, n);
  checkInt(securityBits, 'securityBits', 1, 128);
  const t1 = new Hypergeometric(n, corrupt, degree).upperQuantile(
    -(securityBits + 1) * Math.LN2 - Math.log(n),
  );
  return Math.max(2, serverModel === 'malicious' ? Math.floor((t1 + degree) / 2) + 1 : t1 + 1);
}

/**
 * The most clients that may be lost from a round on H(n, k) with `corrupt` corrupt clients while
 * event 1's bound stays below 2^−(σ+1): the largest D with
 * `logDisconnectionBound(n, k, corrupt + D) < −(σ + 1)·ln 2`, or −1 when not even D = 0 passes. The
 * bound grows with D, so this is a binary search.
 * @param n - clients, ≥ 3
 * @param degree - k, in [2, n − 1]
 * @param corrupt - A, in [0, n]
 * @param securityBits - σ, in [1, 128]
 * @returns D in [−1, n − corrupt]
 * @throws TypeError / RangeError for arguments out of range
 * @example maxPrivateDropouts(500, 32, 25, 40) // 129
 */
export function maxPrivateDropouts(n: number, degree: number, corrupt: number, securityBits: number): number {
  checkInt(corrupt, 'corrupt', 0, n);
  checkInt(securityBits, 'securityBits', 1, 128);
  const limit = -(securityBits + 1) * Math.LN2;
  const passes = (lost: number) => logDisconnectionBound(n, degree, corrupt + lost) < limit;
  if (!passes(0)) return -1;
  let lo = 0; // passes
  let hi = n - corrupt; // may pass
  if (passes(hi)) return hi;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** What {@link checkHararyParameters} checks: an announced Harary graph and its threat model. */
export interface HararyParametersInput {
  /** n: the round's clients. */
  readonly n: number;
  /** k. */
  readonly degree: number;
  /** t. */
  readonly threshold: number;
  /** n_C = A: clients assumed corrupt. */
  readonly corruptClients: number;
  /** The fewest survivors the round unmasks for: at most `n − minSurvivors` clients are lost. */
  readonly minSurvivors: number;
  /** σ. */
  readonly securityBits: number;
  /** Default semi-honest. */
  readonly serverModel?: ServerModel;
}

/** The outcome of {@link checkHararyParameters}; the bounds are log2 of probabilities. */
export type HararyParametersCheck =
  | {
      readonly ok: true;
      /** Event 1 at B = n_C + (n − minSurvivors); below −(σ + 1). */
      readonly log2DisconnectionBound: number;
      /** Event 2 at t; below −(σ + 1). */
      readonly log2ExposureBound: number;
    }
  | {
      readonly ok: false;
      /** `disconnection`: k too small for the corrupt and lost clients; `exposure`: t too small. */
      readonly problem: 'disconnection' | 'exposure';
      readonly message: string;
    };

/**
 * Checks announced Harary-graph parameters against their threat model (docs/PROTOCOL.md §2.2):
 * event 1 with `B = n_C + (n − minSurvivors)` lost-or-corrupt clients, and event 2 with threshold t,
 * each below 2^−(σ+1), so a privacy breach has probability below 2^−σ. The ranges of the arguments
 * are checked first (a RangeError), then the bounds (the result).
 * @param input - the round's n, k, t, n_C, minSurvivors and σ
 * @returns `{ ok: true, … }` with the bounds achieved, or the problem with a message naming the numbers
 * @throws TypeError for a non-number; RangeError for an integer out of range (k odd or outside
 *   [2, n − 1], t outside [2, k + 1], minSurvivors outside [t, n], σ outside [1, 128], n_C ≥ n)
 * @example checkHararyParameters({ n: 500, degree: 32, threshold: 17, corruptClients: 25, minSurvivors: 371, securityBits: 40 })
 */
export function checkHararyParameters(input: HararyParametersInput): HararyParametersCheck {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`input must be a HararyParametersInput object, got ${typeof input}`);
  }
  const n = checkInt(input.n, 'n', 3, MAX_CLIENTS);
  const k = checkInt(input.degree, 'degree', 2, n - 1);
  if (k % 2 !== 0) throw new RangeError(`degree must be even, got ${k}`);
  const t = checkInt(input.threshold, 'threshold', 2, k + 1);
  const corrupt = checkInt(input.corruptClients, 'corruptClients', 0, n - 1);
  const minSurvivors = checkInt(input.minSurvivors, 'minSurvivors', t, n);
  const sigma = checkInt(input.securityBits, 'securityBits', 1, 128);
  const serverModel = input.serverModel ?? 'semi-honest';
  if (serverModel !== 'semi-honest' && serverModel !== 'malicious') {
    throw new RangeError(`serverModel must be 'semi-honest' or 'malicious', got ${String(serverModel)}`);
  }
  const limit = -(sigma + 1) * Math.LN2;
  const lost = n - minSurvivors;
  const logDisc = logDisconnectionBound(n, k, corrupt + lost);
  if (!(logDisc < limit)) {
    return Object.freeze({
      ok: false,
      problem: 'disconnection',
      message:
        `degree k=${k} is too small for n=${n} with ${corrupt} corrupt and up to ${lost} lost clients ` +
        `(minSurvivors=${minSurvivors}): P[the honest survivors' graph falls apart] ≤ ${formatLog2(logDisc / Math.LN2)}, ` +
        `needs < 2^-${sigma + 1}`,
    });
  }
  const logExposure = logExposureBound(n, k, corrupt, t, serverModel);
  if (!(logExposure < limit)) {
    return Object.freeze({
      ok: false,
      problem: 'exposure',
      message:
        `threshold t=${t} is too low for degree k=${k}, n=${n} and ${corrupt} corrupt clients ` +
        `(${serverModel}): P[some client's corrupt neighbours reach t] ≤ ${formatLog2(logExposure / Math.LN2)}, ` +
        `needs < 2^-${sigma + 1}`,
    });
  }
  return Object.freeze({
    ok: true,
    log2DisconnectionBound: logDisc / Math.LN2,
    log2ExposureBound: logExposure / Math.LN2,
  });
}

// ---- binomial tails, for dropouts drawn independently at a rate ----------------------------------

/**
 * ln P[X > s] for X ~ Binomial(trials, p): the chance that more than `s` of `trials` independent
 * events of probability `p` happen. Summed in logs from the pmf's ratio recurrence; O(trials).
 * @param trials - an integer ≥ 0
 * @param p - in [0, 1]
 * @param s - an integer
 * @returns a natural logarithm (0 when s < 0, −∞ when s ≥ trials or p = 0)
 * @example logBinomialUpperTail(500, 0.1, 129) / Math.LN2 // about −70
 */
export function logBinomialUpperTail(trials: number, p: number, s: number): number {
  checkInt(trials, 'trials', 0, MAX_CLIENTS);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1], got ${p}`);
  if (!Number.isInteger(s)) throw new RangeError(`s must be an integer, got ${s}`);
  if (s < 0) return 0;
  if (s >= trials || p === 0) return -Infinity;
  if (p === 1) return 0;
  // ln P[X = x] from the anchor x = s + 1, walking up: P[x + 1] / P[x] = (trials − x)/(x + 1) · p/(1 − p).
  const x0 = s + 1;
  let lp = logBinomial(trials, x0) + x0 * Math.log(p) + (trials - x0) * Math.log1p(-p);
  let sum = -Infinity;
  const ratio = Math.log(p) - Math.log1p(-p);
  for (let x = x0; x <= trials; x++) {
    sum = logAdd(sum, lp);
    lp += Math.log((trials - x) / (x + 1)) + ratio;
    if (lp < sum - 50) break; // the remaining terms shrink geometrically past the mode
  }
  return sum;
}
