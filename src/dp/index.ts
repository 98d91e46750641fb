/**
 * Differential privacy for privagg. Accounting: Rényi DP of the Poisson-subsampled Gaussian
 * mechanism (./rdp.ts), conversion to (ε, δ) (./conversion.ts), an accountant that composes
 * heterogeneous steps and calibrates σ (./accountant.ts), the Skellam mechanism's exact (subsampled)
 * RDP (./skellam-rdp.ts, ./skellam-exact.ts, ./subsampled-rdp.ts; Zhu–Wang's general bound in
 * ./subsampling.ts), privacy loss distributions (./pld.ts, ./pld-mechanisms.ts, ./pld-accountant.ts)
 * with the Skellam mechanism's dominating Gaussian (./skellam-gdp.ts), and the smaller of the two
 * valid bounds (./tightest.ts). Mechanisms: clipping and bounded FedAvg
 * weights (./clip.ts), noise samplers (./sampling.ts), central Gaussian noise (./central.ts), the
 * distributed Skellam mechanism (./distributed.ts, with ./hadamard.ts, ./rounding.ts, ./wrap.ts) and
 * adaptive clipping (./adaptive.ts). Public exports only.
 * @module
 */
export {
  type Calibration,
  type CalibrationQuery,
  calibrateSigma,
  DEFAULT_SIGMA_TOLERANCE,
  RdpAccountant,
  type RdpStep,
} from './accountant.ts';
export {
  CLIP_COUNT_VECTOR,
  type ClipCountInput,
  type ClipCountParams,
  type ClipUpdateOptions,
  centredIndicator,
  clipCountParams,
  clipCountQuery,
  clipCountVectorSpec,
  combinedNoiseMultiplier,
  decodeClipFraction,
  encodeClipCount,
  encodeClipIndicator,
  noisyClipFraction,
  splitNoiseMultiplier,
  updateClipNorm,
} from './adaptive.ts';
export {
  BUILTIN_MECHANISMS,
  type BudgetCheck,
  BudgetExceededError,
  checkBudget,
  type GaussianCentral,
  type JsonValue,
  type PrecomputedMechanism,
  type RoundCost,
  type RoundMechanism,
  roundCost,
  type SubsampledGaussian as SubsampledGaussianMechanism,
} from './budget.ts';
export {
  addCentralNoise,
  type CentralNoiseOptions,
  centralNoiseStddev,
  type Quantization,
  quantizedSensitivity,
} from './central.ts';
export {
  boundedWeight,
  type ClipOptions,
  type ClipReport,
  clipCopy,
  clipInPlace,
  contributionBound,
  fixedDenominatorMean,
  l2Norm,
} from './clip.ts';
export {
  type Conversion,
  type DeltaResult,
  deltaFromRdp,
  type EpsilonResult,
  epsilonFromRdp,
} from './conversion.ts';
export {
  assertLayout,
  DEFAULT_MAX_WRAP_PROBABILITY,
  decodeSum,
  type EncodedUpdate,
  encodeUpdate,
  maxSkellamScale,
  minNoisyClients,
  type SkellamInput,
  type SkellamParams,
  skellamParams,
  skellamQuery,
  skellamVectorSpec,
} from './distributed.ts';
export { paddedLength, rotate, unrotate } from './hadamard.ts';
export {
  type AbortInfo,
  LedgerClosedError,
  type LedgerConfig,
  LedgerConfigError,
  LedgerCorruptError,
  LedgerError,
  type LedgerOptions,
  type LedgerReport,
  type LedgerRound,
  LedgerStateError,
  PrivacyLedger,
  type RoundStatus,
  type Spent,
} from './ledger.ts';
export { DEFAULT_RDP_ORDERS } from './orders.ts';
export { DEFAULT_PLD_INTERVAL, type PldPmf } from './pld.ts';
export {
  checkPldEvent,
  PldAccountant,
  type PldEpsilon,
  type PldEvent,
} from './pld-accountant.ts';
export { gaussianPld, type IntegerNoise, integerNoisePld, type PldDirection } from './pld-mechanisms.ts';
export { computeRdp, type RdpQuery, type SampledGaussian } from './rdp.ts';
export { DEFAULT_BETA, roundedSquaredBound } from './rounding.ts';
export {
  addSkellamMod,
  fillGaussian,
  fillSkellam,
  PoissonSampler,
  type RandomSource,
  RandomStream,
  skellamPmf,
  withStream,
} from './sampling.ts';
export { skellamQueryRdpTable, skellamShiftRdp } from './skellam-exact.ts';
export { type GaussianDominance, skellamGaussianDominance, skellamIncrementBound } from './skellam-gdp.ts';
export { type SkellamQuery, SkellamRound, skellamRdp } from './skellam-rdp.ts';
export { subsampledSymmetricCurve, subsampledSymmetricRdp } from './subsampled-rdp.ts';
export { poissonSubsampledRdp } from './subsampling.ts';
export {
  type FloatTensor,
  flatten,
  layoutOf,
  type NamedTensors,
  type TensorLayout,
  type TensorShape,
  unflatten,
} from './tensors.ts';
export {
  type AccountantChoice,
  type Composition,
  type PldRounds,
  type TightEpsilon,
  tightEpsilon,
} from './tightest.ts';
export { type WrapQuery, wrapProbability } from './wrap.ts';
