/**
 * Cryptographic primitives of privagg/secagg/v1 (docs/PROTOCOL.md §1, §3–6), one per module:
 * hashing and HKDF, X25519, Ed25519, AES-256-GCM, the AES-CTR mask PRG and Shamir sharing over
 * GF(2^255 − 19). Public re-exports only.
 * @module
 */
export { aesGcmOpen, aesGcmSeal } from './aead.ts';
export {
  type BatchVerifier,
  Ed25519Signer,
  ed25519Verify,
  type SignatureCheck,
  type SignatureVerifier,
  VerifiedSignatures,
  verifyEachOnTheSpot,
  verifyOnTheSpot,
} from './ed25519.ts';
export { hkdf, sha256 } from './hash.ts';
export {
  addMask,
  addMasks,
  deriveMaskKey,
  expandMask,
  type MaskKey,
  type MaskTerm,
  PAIR_MASK_LABEL,
  selfMaskLabel,
} from './prg.ts';
export {
  FIELD_PRIME,
  fieldElementFromBytes,
  fieldElementToBytes,
  LagrangeCache,
  lagrangeCoefficientsAtZero,
  randomFieldElement,
  shamirReconstruct,
  shamirSplit,
} from './shamir.ts';
export { correctableShares, type DecodedSharing, shamirDecode } from './shamir-decode.ts';
export {
  assertValidX25519PublicKey,
  InvalidPublicKeyError,
  isClampedX25519PrivateKey,
  X25519PrivateKey,
  x25519PublicKeyFromPrivate,
  x25519PublicKeyProblem,
} from './x25519.ts';
