/**
 * `privagg epsilon`: the (ε, δ) guarantee of a DP-SGD / DP-FedAvg run — T steps of the
 * Poisson-subsampled Gaussian mechanism — from the RDP accountant in src/dp; or, given a target ε,
 * the smallest noise multiplier σ that meets it.
 * @module
 */
import { type Conversion, calibrateSigma, RdpAccountant } from '../dp/index.ts';
import { echo } from '../text/echo.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';

const usage = `usage: privagg epsilon --q Q --sigma S --steps T --delta D [--json] [--conversion C]
       privagg epsilon --q Q --target-epsilon E --steps T --delta D [--json] [--conversion C]

Privacy of T steps of the Poisson-subsampled Gaussian mechanism (each record sampled with
probability Q, Gaussian noise of S times the clipping norm), by Rényi DP accounting.

options:
  --q Q                 sampling probability per step, in [0, 1]
  --sigma S             noise multiplier, > 0: prints the epsilon it gives
  --target-epsilon E    instead of --sigma: prints the smallest sigma with epsilon <= E
  --steps T             number of steps, a non-negative integer (>= 1 with --target-epsilon)
  --delta D             delta, in (0, 1)
  --conversion C        RDP to (epsilon, delta) bound: improved (default; Balle et al. 2020) or
                        classic (Mironov 2017; to reproduce values published with it)
  --json                print one line of JSON: {"epsilon":…,"order":…}, or with
                        --target-epsilon {"sigma":…,"epsilon":…,"order":…}, in full precision
                        (a value that is not a finite number prints as null); without it, one
                        line with sigma and epsilon rounded up to 5 significant digits`;

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a decimal flag value (no hex, no `Infinity`, no empty string) and range-checks it. */
function decimal(flag: string, raw: string, ok: (v: number) => boolean, what: string): number {
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || !ok(value))
    throw new CliError(`--${flag} must be ${what}, got '${echo(raw)}'`);
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

async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(argv, {
    q: { type: 'string' },
    sigma: { type: 'string' },
    'target-epsilon': { type: 'string' },
    steps: { type: 'string' },
    delta: { type: 'string' },
    conversion: { type: 'string' },
    json: { type: 'boolean' },
  });
  const str = (name: string): string | undefined => values[name] as string | undefined;

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
  const json = values['json'] === true;
  const rawSigma = str('sigma');
  const rawTarget = str('target-epsilon');
  if (rawSigma !== undefined && rawTarget !== undefined) {
    throw new CliError('give either --sigma or --target-epsilon, not both');
  }
  const context = `q=${q}, steps=${steps}, delta=${delta}`;

  if (rawTarget !== undefined) {
    const targetEpsilon = decimal('target-epsilon', rawTarget, (v) => v > 0, 'a number > 0');
    if (q === 0) throw new CliError('--q must be > 0 with --target-epsilon (q = 0 needs no noise)');
    if (steps === 0)
      throw new CliError('--steps must be >= 1 with --target-epsilon (no step needs no noise)');
    let result: ReturnType<typeof calibrateSigma>;
    try {
      result = calibrateSigma({ targetEpsilon, delta, q, steps, conversion });
    } catch (error) {
      if (error instanceof RangeError) throw new CliError(error.message);
      throw error;
    }
    if (json) {
      console.log(JSON.stringify({ sigma: result.sigma, epsilon: result.epsilon, order: result.order }));
    } else {
      console.log(
        `sigma = ${fmtUp(result.sigma)} for epsilon <= ${targetEpsilon} (epsilon ${fmtUp(result.epsilon)}, ` +
          `order ${result.order}) with ${context}`,
      );
    }
    return 0;
  }

  const sigma = decimal('sigma', required('sigma', rawSigma), (v) => v > 0, 'a number > 0');
  const { epsilon, order } = new RdpAccountant().compose({ q, sigma }, steps).epsilon(delta, conversion);
  if (json) {
    console.log(JSON.stringify({ epsilon, order }));
  } else {
    console.log(
      `epsilon = ${fmtUp(epsilon)} (order ${order}) for q=${q}, sigma=${sigma}, steps=${steps}, delta=${delta}`,
    );
  }
  return 0;
}

/** The `privagg epsilon` command. */
export const epsilonCommand: Command = {
  name: 'epsilon',
  summary: 'privacy (epsilon) of a subsampled-Gaussian training run, or the noise for a target epsilon',
  usage,
  run,
};
