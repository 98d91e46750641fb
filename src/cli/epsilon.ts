/**
 * `privagg epsilon`: the (ε, δ) guarantee of a run of T rounds — the Poisson-subsampled Gaussian
 * mechanism of DP-SGD / DP-FedAvg, or the distributed Skellam mechanism of `privagg serve --dp
 * distributed` with its parameters — by the RDP accountant, the PLD accountant, or the smaller of the
 * two valid bounds (the default, what the privacy ledger charges); or, given a target ε, the smallest
 * noise multiplier that meets it.
 * @module
 */
import { type Conversion, calibrateSigma, RdpAccountant } from '../dp/index.ts';
import { PldAccountant } from '../dp/pld-accountant.ts';
import {
  calibrateNoiseMultiplier,
  type NoiseCalibration,
  plannedAccounting,
  searchNoiseMultiplier,
} from '../dp/round-planner.ts';
import { defaultThreshold } from '../secagg/params.ts';
import { echo } from '../text/echo.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';

const usage = `usage: privagg epsilon --q Q --sigma S --steps T --delta D [--accountant A] [--json]
       privagg epsilon --q Q --target-epsilon E --steps T --delta D [--accountant A] [--json]
       privagg epsilon --mechanism skellam --dimension D --clients N [--threshold T]
                       [--max-corrupt C] [--bits B] [--clip-count-stddev S]
                       --q Q (--sigma Z | --target-epsilon E) --steps T --delta D [...]

Privacy of T steps of the Poisson-subsampled Gaussian mechanism (each record sampled with
probability Q, Gaussian noise of S times the clipping norm), or of T rounds of the distributed
Skellam mechanism as privagg serve --dp distributed runs and its ledger charges them; or, given a
target epsilon, the smallest noise multiplier that meets it.

options:
  --q Q                 sampling probability per step, in [0, 1] (1: every client every round)
  --sigma S             noise multiplier, > 0: prints the epsilon it gives (for skellam: the noise
                        in the sum of any h honest clients over the L2 sensitivity after rounding)
  --target-epsilon E    instead of --sigma: prints the smallest multiplier with epsilon <= E
  --steps T             number of steps (rounds), a non-negative integer (>= 1 with --target-epsilon)
  --delta D             delta, in (0, 1)
  --accountant A        rdp (Renyi DP, Mironov et al. 2019) or pld (privacy loss distributions,
                        Doroshenko et al. 2022); default: both, and the smaller of the two valid
                        bounds is reported
  --conversion C        RDP to (epsilon, delta) bound: improved (default; Balle et al. 2020) or
                        classic (Mironov 2017; to reproduce values published with it; implies
                        --accountant rdp)
  --mechanism M         gaussian (default) or skellam (the distributed mechanism; neighbouring
                        relation: one client's update replaced by zero, its noise share kept)
  --dimension D         skellam: elements of a client's update
  --clients N           skellam: the most clients whose vectors can be in one sum
  --threshold T         skellam: the secure aggregation threshold (default floor(2N/3) + 1)
  --max-corrupt C       skellam: clients that may collude with the coordinator (default 0);
                        the noise is calibrated to the h = T - C honest clients any sum holds
  --bits B              skellam: ring bit width of the update (default 20)
  --clip-count-stddev S skellam: adaptive clipping's noise on the count of unclipped clients
                        (its query is charged with the update's)
  --json                print one line of JSON: {"epsilon":…,"accountant":…} (plus "order" and
                        "rdpEpsilon" when RDP was computed, "pldEpsilon" when PLD was), or with
                        --target-epsilon {"sigma":…,"epsilon":…,"accountant":…}, in full
                        precision (a value that is not a finite number prints as null); without
                        it, one line with sigma and epsilon rounded up to 5 significant digits`;

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a decimal flag value (no hex, no `Infinity`, no empty string) and range-checks it. */
function decimal(flag: string, raw: string, ok: (v: number) => boolean, what: string): number {
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || !ok(value))
    throw new CliError(`--${flag} must be ${what}, got '${echo(raw)}'`);
  return value;
}

function integer(flag: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new CliError(`--${flag} must be an integer in [${min}, ${max}], got '${echo(raw)}'`);
  }
  return value;
}

function required(flag: string, raw: string | undefined): string {
  if (raw === undefined) throw new CliError(`missing --${flag} (see privagg epsilon --help)`);
  return raw;
}

/**
 * Five significant digits, rounded up: a σ copied from the human line must not under-noise, and an
 * ε read from it must not understate the loss. (The JSON output keeps full precision.)
 */
function fmtUp(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  let shown = Number(x.toPrecision(5));
  if (shown < x) shown = Number((shown + 10 ** (Math.floor(Math.log10(shown)) - 4)).toPrecision(5));
  return String(shown);
}

/** The RDP order in parentheses, or "PLD" — how the reported ε was obtained. */
function how(result: { accountant: 'rdp' | 'pld'; order: number }): string {
  return result.accountant === 'rdp' ? `order ${result.order}` : 'PLD';
}

type Choice = 'rdp' | 'pld' | 'tightest';

interface Result {
  readonly epsilon: number;
  readonly accountant: 'rdp' | 'pld';
  readonly order: number;
  readonly rdpEpsilon?: number;
  readonly pldEpsilon?: number;
}

/** ε of `steps` steps of the sampled Gaussian by the chosen accountant(s). */
function gaussianEpsilon(
  q: number,
  sigma: number,
  steps: number,
  delta: number,
  choice: Choice,
  conversion: Conversion,
): Result {
  const rdp =
    choice === 'pld'
      ? undefined
      : new RdpAccountant().compose({ q, sigma }, steps).epsilon(delta, conversion);
  const pld =
    choice === 'rdp' || q === 0 || steps === 0
      ? undefined
      : new PldAccountant().compose({ kind: 'gaussian', sigma, q }, steps).epsilon(delta).epsilon;
  if (rdp && (pld === undefined || rdp.epsilon <= pld)) {
    return {
      epsilon: rdp.epsilon,
      accountant: 'rdp',
      order: rdp.order,
      rdpEpsilon: rdp.epsilon,
      ...(pld !== undefined && { pldEpsilon: pld }),
    };
  }
  const epsilon = pld ?? 0;
  return {
    epsilon,
    accountant: 'pld',
    order: rdp?.order ?? Number.NaN,
    ...(rdp && { rdpEpsilon: rdp.epsilon }),
    pldEpsilon: epsilon,
  };
}

const OPTIONS = {
  q: { type: 'string' },
  sigma: { type: 'string' },
  'target-epsilon': { type: 'string' },
  steps: { type: 'string' },
  delta: { type: 'string' },
  conversion: { type: 'string' },
  accountant: { type: 'string' },
  mechanism: { type: 'string' },
  dimension: { type: 'string' },
  clients: { type: 'string' },
  threshold: { type: 'string' },
  'max-corrupt': { type: 'string' },
  bits: { type: 'string' },
  'clip-count-stddev': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const SKELLAM_ONLY = [
  'dimension',
  'clients',
  'threshold',
  'max-corrupt',
  'bits',
  'clip-count-stddev',
] as const;

async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(argv, OPTIONS);
  const str = (name: keyof typeof OPTIONS): string | undefined => values[name] as string | undefined;

  const q = decimal('q', required('q', str('q')), (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const rawSteps = required('steps', str('steps'));
  const steps = /^\d+$/.test(rawSteps) ? Number(rawSteps) : Number.NaN;
  if (!Number.isSafeInteger(steps))
    throw new CliError(`--steps must be a non-negative integer, got '${echo(rawSteps)}'`);
  const delta = decimal(
    'delta',
    required('delta', str('delta')),
    (v) => v > 0 && v < 1,
    'a number in (0, 1)',
  );
  const rawConversion = str('conversion') ?? 'improved';
  if (rawConversion !== 'improved' && rawConversion !== 'classic') {
    throw new CliError(`--conversion must be 'improved' or 'classic', got '${echo(rawConversion)}'`);
  }
  const conversion: Conversion = rawConversion;
  const rawAccountant = str('accountant');
  if (rawAccountant !== undefined && rawAccountant !== 'rdp' && rawAccountant !== 'pld') {
    throw new CliError(`--accountant must be 'rdp' or 'pld', got '${echo(rawAccountant)}'`);
  }
  if (conversion === 'classic' && rawAccountant === 'pld') {
    throw new CliError('--conversion applies to the RDP accountant; it cannot be used with --accountant pld');
  }
  const choice: Choice = rawAccountant ?? (conversion === 'classic' ? 'rdp' : 'tightest');
  const mechanism = str('mechanism') ?? 'gaussian';
  if (mechanism !== 'gaussian' && mechanism !== 'skellam') {
    throw new CliError(`--mechanism must be 'gaussian' or 'skellam', got '${echo(mechanism)}'`);
  }
  if (mechanism === 'gaussian') {
    for (const flag of SKELLAM_ONLY) {
      if (str(flag) !== undefined) throw new CliError(`--${flag} needs --mechanism skellam`);
    }
  }
  const json = values['json'] === true;
  const rawSigma = str('sigma');
  const rawTarget = str('target-epsilon');
  if (rawSigma !== undefined && rawTarget !== undefined) {
    throw new CliError('give either --sigma or --target-epsilon, not both');
  }
  const targetEpsilon =
    rawTarget === undefined ? undefined : decimal('target-epsilon', rawTarget, (v) => v > 0, 'a number > 0');
  if (targetEpsilon !== undefined) {
    if (q === 0) throw new CliError('--q must be > 0 with --target-epsilon (q = 0 needs no noise)');
    if (steps === 0)
      throw new CliError('--steps must be >= 1 with --target-epsilon (no step needs no noise)');
  }
  const sigma =
    targetEpsilon === undefined
      ? decimal('sigma', required('sigma', rawSigma), (v) => v > 0, 'a number > 0')
      : undefined;

  let context: string;
  let result: Result;
  let calibrated: number | undefined;
  try {
    if (mechanism === 'skellam') {
      const c = skellamCalibration(str, { q, steps, delta, targetEpsilon: targetEpsilon ?? 1, choice });
      calibrated = targetEpsilon === undefined ? undefined : calibrateNoiseMultiplier(c);
      const z = calibrated ?? sigma!;
      result =
        steps === 0 || q === 0
          ? { epsilon: 0, accountant: 'rdp', order: Number.NaN }
          : plannedAccounting(c, z);
      if (choice === 'pld' && result.accountant !== 'pld') {
        throw new CliError(
          'no PLD for this round: the noise variance is beyond what the Gaussian domination is computed for; use --accountant rdp',
        );
      }
      const h = c.threshold - c.maxCorruptClients;
      context =
        `mechanism=skellam, q=${q}, z=${targetEpsilon === undefined ? z : fmtUp(z)}, steps=${steps}, delta=${delta}, ` +
        `d=${c.dimension}, bits=${c.bits}, clients=${c.clients}, h=${h}, relation=zero-out`;
    } else if (targetEpsilon !== undefined) {
      if (choice === 'rdp') {
        const r = calibrateSigma({ targetEpsilon, delta, q, steps, conversion });
        calibrated = r.sigma;
        result = { epsilon: r.epsilon, accountant: 'rdp', order: r.order };
      } else {
        const start = calibrateSigma({ targetEpsilon, delta, q, steps }).sigma;
        calibrated = searchNoiseMultiplier(
          (z) => gaussianEpsilon(q, z, steps, delta, choice, conversion).epsilon,
          targetEpsilon,
          start,
          `within ${steps} steps`,
        );
        result = gaussianEpsilon(q, calibrated, steps, delta, choice, conversion);
      }
      context = `q=${q}, steps=${steps}, delta=${delta}`;
    } else {
      result = gaussianEpsilon(q, sigma!, steps, delta, choice, conversion);
      context = `q=${q}, sigma=${sigma}, steps=${steps}, delta=${delta}`;
    }
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new CliError(error.message);
    throw error;
  }

  if (calibrated !== undefined) {
    if (json) {
      // The RDP accountant's calibration keeps its historical shape: {"sigma","epsilon","order"}.
      console.log(
        JSON.stringify({
          sigma: calibrated,
          epsilon: result.epsilon,
          ...(result.accountant === 'rdp' && { order: result.order }),
          accountant: result.accountant,
        }),
      );
    } else {
      console.log(
        `sigma = ${fmtUp(calibrated)} for epsilon <= ${targetEpsilon} (epsilon ${fmtUp(result.epsilon)}, ` +
          `${how(result)}) with ${context}`,
      );
    }
    return 0;
  }
  if (json) {
    console.log(
      JSON.stringify({
        epsilon: result.epsilon,
        accountant: result.accountant,
        ...(Number.isFinite(result.order) && { order: result.order }),
        ...(result.rdpEpsilon !== undefined && { rdpEpsilon: result.rdpEpsilon }),
        ...(result.pldEpsilon !== undefined && { pldEpsilon: result.pldEpsilon }),
      }),
    );
  } else {
    console.log(`epsilon = ${fmtUp(result.epsilon)} (${how(result)}) for ${context}`);
  }
  return 0;
}

/** The distributed round of the skellam flags, as privagg serve would announce it. */
function skellamCalibration(
  str: (name: keyof typeof OPTIONS) => string | undefined,
  common: { q: number; steps: number; delta: number; targetEpsilon: number; choice: Choice },
): NoiseCalibration {
  const dimension = integer('dimension', required('dimension', str('dimension')), 1, 2 ** 30);
  const clients = integer('clients', required('clients', str('clients')), 1, 2 ** 31);
  const maxCorrupt = integer('max-corrupt', str('max-corrupt') ?? '0', 0, clients - 1);
  const threshold = integer(
    'threshold',
    str('threshold') ?? String(defaultThreshold(clients, 'semi-honest', maxCorrupt)),
    maxCorrupt + 1,
    clients,
  );
  const bits = integer('bits', str('bits') ?? '20', 2, 32);
  const rawCount = str('clip-count-stddev');
  const countStddev =
    rawCount === undefined ? undefined : decimal('clip-count-stddev', rawCount, (v) => v > 0, 'a number > 0');
  return {
    mechanism: 'distributed-skellam',
    targetEpsilon: common.targetEpsilon,
    delta: common.delta,
    rounds: Math.max(1, common.steps),
    q: common.q === 0 ? 1 : common.q,
    dimension,
    clients,
    threshold,
    maxCorruptClients: maxCorrupt,
    clip: 1,
    bits,
    accountant: common.choice,
    ...(countStddev !== undefined && {
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: countStddev },
    }),
  };
}

/** The `privagg epsilon` command. */
export const epsilonCommand: Command = {
  name: 'epsilon',
  summary:
    'privacy (epsilon) of a subsampled-Gaussian or distributed-Skellam run, or the noise for a target epsilon',
  usage,
  run,
};
