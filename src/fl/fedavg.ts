/**
 * The server side of federated averaging: apply the round's aggregated mean update Δ (the mean of
 * clients' new − old; with secure aggregation, the unmasked sum divided by the cohort size) to the
 * global model with a server optimizer. −Δ acts as a pseudo-gradient (Reddi et al., "Adaptive
 * Federated Optimization", ICLR 2021, Algorithm 2):
 *
 * - `sgd` (FedAvg, McMahan et al. 2017): w ← w + η·Δ. η = 1 (the default) is plain model averaging.
 * - `momentum` (FedAvgM, Hsu, Qi & Brown 2019): v ← β·v + Δ; w ← w + η·v.
 * - `adam` (FedAdam, Reddi et al. 2021): m ← β1·m + (1−β1)·Δ; v ← β2·v + (1−β2)·Δ²;
 *   w ← w + η·m/(√v + τ). As in the paper there is no bias correction. The first step moves each
 *   coordinate by η·(1−β1)·|Δ|/(√(1−β2)·|Δ| + τ): with the defaults β1 = 0.9, β2 = 0.99 that is
 *   η·0.1·|Δ|/(0.1·|Δ| + τ) < η, so τ (the "adaptivity", default 10⁻³) sets how small a coordinate
 *   must be before it stops taking a full step of η.
 *
 * Pure Float32Array arithmetic, no tfjs: the coordinator can import this without loading
 * TensorFlow.js. Each coordinate is computed in double precision and stored as float32, so results
 * are deterministic across machines. Server learning rates for momentum and Adam need tuning per task
 * (Reddi et al. tune η over a grid); the defaults are starting points, not recommendations.
 * @module
 */
import { assertPositive, kind } from '../dp/checks.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import type { EvaluateOptions, Evaluation } from './evaluate.ts';
import type { Weights } from './model.ts';

/** A server optimizer and its hyper-parameters (defaults in parentheses). */
export type ServerOptimizerConfig =
  | {
      /** FedAvg: w ← w + η·Δ. */
      readonly kind: 'sgd';
      /** η (1). */
      readonly learningRate?: number;
    }
  | {
      /** FedAvgM: v ← β·v + Δ; w ← w + η·v. */
      readonly kind: 'momentum';
      /** η (1). */
      readonly learningRate?: number;
      /** β in [0, 1) (0.9). */
      readonly momentum?: number;
    }
  | {
      /** FedAdam: w ← w + η·m/(√v + τ). */
      readonly kind: 'adam';
      /** η (0.01). */
      readonly learningRate?: number;
      /** β1 in [0, 1) (0.9). */
      readonly beta1?: number;
      /** β2 in [0, 1) (0.99). */
      readonly beta2?: number;
      /** τ > 0 (0.001). */
      readonly tau?: number;
    };

/**
 * A server optimizer with its state (momentum, Adam moments), created lazily to the model's layout
 * on the first {@link ServerOptimizer.apply}; later updates must have the same tensor names and
 * lengths.
 * @example
 * ```ts
 * const server = new ServerOptimizer({ kind: 'momentum', momentum: 0.9 });
 * weights = server.apply(weights, meanUpdate(updates));
 * ```
 */
export class ServerOptimizer {
  readonly config: Readonly<Required<ServerOptimizerConfig>>;
  readonly #first = new Map<string, Float32Array>();
  readonly #second = new Map<string, Float32Array>();
  #steps = 0;

  /** @throws TypeError / RangeError on a bad configuration */
  constructor(config: ServerOptimizerConfig = { kind: 'sgd' }) {
    if (typeof config !== 'object' || config === null) {
      throw new TypeError(`config must be an object, got ${kind(config)}`);
    }
    switch (config.kind) {
      case 'sgd':
        this.config = Object.freeze({
          kind: 'sgd',
          learningRate: assertPositive('learningRate', config.learningRate ?? 1),
        });
        break;
      case 'momentum':
        this.config = Object.freeze({
          kind: 'momentum',
          learningRate: assertPositive('learningRate', config.learningRate ?? 1),
          momentum: fraction('momentum', config.momentum ?? 0.9),
        });
        break;
      case 'adam':
        this.config = Object.freeze({
          kind: 'adam',
          learningRate: assertPositive('learningRate', config.learningRate ?? 0.01),
          beta1: fraction('beta1', config.beta1 ?? 0.9),
          beta2: fraction('beta2', config.beta2 ?? 0.99),
          tau: assertPositive('tau', config.tau ?? 0.001),
        });
        break;
      default: {
        const never: never = config;
        throw new RangeError(
          `config.kind must be 'sgd', 'momentum' or 'adam', got ${String((never as { kind: unknown }).kind)}`,
        );
      }
    }
  }

  /** Updates applied so far. */
  get steps(): number {
    return this.#steps;
  }

  /**
   * Applies one round's mean update.
   * @param weights - the current global weights (not modified)
   * @param update - the mean update Δ, same names and lengths as `weights`
   * @returns the new global weights
   * @throws TypeError / RangeError if the update does not match the weights or the earlier rounds'
   *   layout, or holds a non-finite value; the optimizer's state is then unchanged
   */
  apply(weights: NamedTensors, update: NamedTensors): Weights {
    checkMatching(weights, update);
    if (this.#steps > 0) {
      const state = this.config.kind === 'sgd' ? undefined : this.#first;
      if (state !== undefined) checkMatching(state, update, 'the optimizer state of earlier rounds');
    }
    for (const [name, delta] of update) {
      for (let i = 0; i < delta.length; i++) {
        if (!Number.isFinite(delta[i]!))
          throw new RangeError(`update '${name}'[${i}] is ${delta[i]}, not finite`);
      }
    }
    const out: Weights = new Map();
    const c = this.config;
    for (const [name, w] of weights) {
      const delta = update.get(name)!;
      const next = new Float32Array(w.length);
      if (c.kind === 'sgd') {
        for (let i = 0; i < w.length; i++) next[i] = w[i]! + c.learningRate * delta[i]!;
      } else if (c.kind === 'momentum') {
        const v = this.#slot(this.#first, name, w.length);
        for (let i = 0; i < w.length; i++) {
          v[i] = c.momentum * v[i]! + delta[i]!;
          next[i] = w[i]! + c.learningRate * v[i]!;
        }
      } else {
        const m = this.#slot(this.#first, name, w.length);
        const v = this.#slot(this.#second, name, w.length);
        for (let i = 0; i < w.length; i++) {
          const d = delta[i]!;
          m[i] = c.beta1 * m[i]! + (1 - c.beta1) * d;
          v[i] = c.beta2 * v[i]! + (1 - c.beta2) * d * d;
          next[i] = w[i]! + (c.learningRate * m[i]!) / (Math.sqrt(v[i]!) + c.tau);
        }
      }
      out.set(name, next);
    }
    this.#steps++;
    return out;
  }

  #slot(state: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let slot = state.get(name);
    if (slot === undefined) {
      slot = new Float32Array(length);
      state.set(name, slot);
    }
    return slot;
  }
}

/**
 * The uniform mean of client updates: Σ_k Δ_k / K, each coordinate summed in double precision.
 * Uniform, not weighted by example counts: with each Δ_k clipped to norm C, one client moves the sum
 * by at most C, which is the sensitivity differential privacy is calibrated to. Weighting by n_k
 * would let a client claim a large count and scale its influence; it needs public bounded weights
 * (`boundedWeight` in src/dp/clip.ts, McMahan et al. 2018) to keep the same guarantee.
 * @throws RangeError if `updates` is empty or the updates' layouts differ
 */
export function meanUpdate(updates: readonly NamedTensors[]): Weights {
  if (!Array.isArray(updates) || updates.length === 0)
    throw new RangeError('updates must be a non-empty array');
  const first = updates[0]!;
  const out: Weights = new Map();
  for (const [name, t] of first) {
    const sum = new Float64Array(t.length);
    updates.forEach((u, k) => {
      const values = u.get(name);
      if (values === undefined || values.length !== t.length || u.size !== first.size) {
        throw new RangeError(`updates[${k}] does not have the layout of updates[0] (tensor '${name}')`);
      }
      for (let i = 0; i < sum.length; i++) sum[i]! += values[i];
    });
    const mean = new Float32Array(t.length);
    for (let i = 0; i < mean.length; i++) mean[i] = sum[i]! / updates.length;
    out.set(name, mean);
  }
  return out;
}

/**
 * Test accuracy and loss (see ./evaluate.ts). Loads tfjs on first use only, so that importing this
 * module does not.
 */
export async function evaluate(
  weights: NamedTensors,
  testImages: Float32Array,
  testLabels: Uint8Array,
  options?: EvaluateOptions,
): Promise<Evaluation> {
  const module = await import('./evaluate.ts');
  return module.evaluate(weights, testImages, testLabels, options);
}

function fraction(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${kind(value)}`);
  if (!(value >= 0 && value < 1)) throw new RangeError(`${name} must be a number in [0, 1), got ${value}`);
  return value;
}

function checkMatching(weights: NamedTensors, update: NamedTensors, what = 'weights'): void {
  if (!(weights instanceof Map)) throw new TypeError(`weights must be a Map, got ${kind(weights)}`);
  if (!(update instanceof Map)) throw new TypeError(`update must be a Map, got ${kind(update)}`);
  if (weights.size !== update.size) {
    throw new RangeError(`update holds ${update.size} tensors, ${what} ${weights.size}`);
  }
  for (const [name, w] of weights) {
    const u = update.get(name);
    if (u === undefined) throw new RangeError(`update lacks '${name}', which ${what} hold`);
    if (u.length !== w.length) {
      throw new RangeError(`update '${name}' holds ${u.length} values, ${what} ${w.length}`);
    }
  }
}
