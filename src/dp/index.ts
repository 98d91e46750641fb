/**
 * Differential-privacy accounting for privagg: Rényi DP of the Poisson-subsampled Gaussian
 * mechanism (./rdp.ts), conversion to (ε, δ) (./conversion.ts), an accountant that composes
 * heterogeneous steps and calibrates σ (./accountant.ts). Public exports only.
 * @module
 */
export {
  type Calibration,
  type CalibrationQuery,
  calibrateSigma,
  DEFAULT_SIGMA_TOLERANCE,
  RdpAccountant,
} from './accountant.ts';
export {
  type Conversion,
  type DeltaResult,
  deltaFromRdp,
  type EpsilonResult,
  epsilonFromRdp,
} from './conversion.ts';
export { DEFAULT_RDP_ORDERS } from './orders.ts';
export { computeRdp, type RdpQuery, type SampledGaussian } from './rdp.ts';
