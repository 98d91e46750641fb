/**
 * `npm run bench:kernels`: the vector kernels on the hot paths of a large round, each beside a
 * baseline measured in the same run (these machines are shared and noisy; ratios, not timings, are
 * the result):
 *
 * - coordinator, per masked input: `addInRange` (check and add in one pass, Int32 views) against the
 *   check pass and add pass it replaced (`bench/lib/baseline-kernels.ts`), and `RingSum` (the same
 *   in a WebAssembly SIMD kernel, the sum held in WebAssembly memory: what the coordinator now
 *   uses) against `addInRange`. Inputs cycle through more vectors than fit in cache, and the
 *   running sum holds full 32-bit words, as in a round.
 * - client, masking: `addMasks` with a self mask and k pairwise masks in one pass, against `addMask`
 *   once per mask (one pass each, the previous client code), and against the keystream alone
 *   (AES-128-CTR through node:crypto in 64 KiB chunks: the floor of any mask expansion here).
 * - coordinator, unmasking: a batch of 64 mask jobs through `addMasks`, against one pass per job.
 * - client, the malicious setting's signature checks: 100 Ed25519 verifications by `ed25519Verify`
 *   (libsodium, through sodium-native), against OpenSSL's implementation of the same equation
 *   (node:crypto, what privagg used before and falls back to).
 *
 * Each figure is the median of repeated timings (wall clock) after a warm-up.
 * @module
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ED25519_EQUATIONS, Ed25519Signer, ed25519Verify } from '../src/secagg/crypto/ed25519.ts';
import {
  addMask,
  addMasks,
  deriveMaskKey,
  type MaskTerm,
  PAIR_MASK_LABEL,
} from '../src/secagg/crypto/prg.ts';
import { addInRange } from '../src/secagg/ring.ts';
import { RingSum } from '../src/secagg/ring-sum.ts';
import { systemRng } from '../src/secagg/rng.ts';
import { baselineAddInto, baselineFirstOutOfRange } from './lib/baseline-kernels.ts';
import { loadLine, machineLine } from './lib/machine.ts';
import { median, table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    d: { type: 'string', default: '1000000' },
    k: { type: 'string', default: '6' },
    reps: { type: 'string', default: '30' },
  },
});
const d = Number(values.d);
const k = Number(values.k);
const reps = Number(values.reps);
const BITS = 24;

function time(f: () => void): number {
  for (let i = 0; i < 3; i++) f();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    f();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const rows: string[][] = [];
function row(what: string, baselineName: string, baseline: number, current: number): void {
  rows.push([
    what,
    baselineName,
    baseline.toFixed(3),
    current.toFixed(3),
    `${(baseline / current).toFixed(2)}×`,
  ]);
}

console.log('bench:kernels — hot-path vector kernels vs. their baselines, same run');
console.log(`machine: ${machineLine()}; load ${loadLine()}`);
console.log(
  `d = ${d.toLocaleString('en')} words, ${BITS}-bit inputs, k = ${k} pairwise masks, ${reps} timed repetitions\n`,
);

// ---- coordinator: one masked input into the running sum --------------------------------------
{
  const inputs = Array.from({ length: 16 }, () => {
    const v = new Uint32Array(randomBytes(4 * d).buffer);
    for (let i = 0; i < d; i++) v[i] = v[i]! >>> (32 - BITS);
    return v;
  });
  const sum = new Uint32Array(randomBytes(4 * d).buffer);
  let next = 0;
  const before = time(() => {
    const v = inputs[next++ % inputs.length]!;
    if (baselineFirstOutOfRange(v, BITS) >= 0) throw new Error('out of range');
    baselineAddInto(sum, v);
  });
  const after = time(() => {
    if (addInRange(sum, inputs[next++ % inputs.length]!, BITS) >= 0) throw new Error('out of range');
  });
  row('coordinator: check + add one masked input', 'two passes, Uint32 loops', before, after);
  const ringSum = new RingSum(d);
  ringSum.words.set(sum);
  if (!ringSum.usesKernel)
    console.log('(RingSum has no WebAssembly SIMD kernel here: its row is the portable path)');
  const simd = time(() => {
    if (ringSum.addInRange(inputs[next++ % inputs.length]!, BITS) >= 0) throw new Error('out of range');
  });
  row('coordinator: check + add one masked input', 'addInRange (one pass, Int32)', after, simd);
}

// ---- client: masking with a self mask and k pairwise masks -------------------------------------
const sessionId = randomBytes(32);
const spec = { name: 'update', length: d, bits: BITS };
const termsOf = (count: number): MaskTerm[] =>
  Array.from({ length: count }, (_, i) => ({
    mask: deriveMaskKey(randomBytes(32), sessionId, PAIR_MASK_LABEL, spec),
    sign: i % 2 === 0 ? 1 : -1,
  }));
{
  const acc = new Uint32Array(d);
  const terms = termsOf(k + 1);
  const zeros = new Uint8Array(64 * 1024);
  const floor = time(() => {
    for (const { mask } of terms) {
      const cipher = createCipheriv('aes-128-ctr', mask.key, mask.iv);
      for (let offset = 0; offset < 4 * d; offset += zeros.length) {
        cipher.update(offset + zeros.length <= 4 * d ? zeros : zeros.subarray(0, 4 * d - offset));
      }
    }
  });
  const oneByOne = time(() => {
    for (const { mask, sign } of terms) addMask(acc, mask, sign);
  });
  const fused = time(() => addMasks(acc, terms));
  row(`client: ${k + 1} masks (self + ${k} pairwise)`, 'one pass per mask', oneByOne, fused);
  row(`client: ${k + 1} masks (self + ${k} pairwise)`, 'keystream alone (floor)', floor, fused);
}

// ---- coordinator: a batch of unmask jobs -------------------------------------------------------
{
  const acc = new Uint32Array(d);
  const terms = termsOf(64);
  const oneByOne = time(() => {
    for (const { mask, sign } of terms) addMask(acc, mask, sign);
  });
  const fused = time(() => addMasks(acc, terms));
  row('coordinator: 64 unmask jobs', 'one pass per job', oneByOne, fused);
}

// ---- client: Ed25519 verification (the malicious setting's n − 1 + t checks per round) ---------
{
  const { libsodium, openssl } = ED25519_EQUATIONS;
  const checks = Array.from({ length: 100 }, (_, i) => {
    const signer = Ed25519Signer.generate(systemRng);
    const message = randomBytes(150 + i);
    return { publicKey: signer.publicKey, message, signature: signer.sign(message) };
  });
  const viaOpenSsl = time(() => {
    for (const c of checks)
      if (!openssl(c.publicKey, c.message, c.signature))
        throw new Error('OpenSSL rejected a valid signature');
  });
  const now = time(() => {
    for (const c of checks)
      if (!ed25519Verify(c.publicKey, c.message, c.signature)) throw new Error('rejected a valid signature');
  });
  row(
    `client: 100 Ed25519 verifications (${libsodium ? 'libsodium' : 'OpenSSL: sodium-native did not load'})`,
    'OpenSSL (node:crypto)',
    viaOpenSsl,
    now,
  );
}

console.log(table(['kernel', 'baseline', 'baseline ms', 'now ms', 'speed-up'], rows));
console.log(`\nload at end: ${loadLine()}`);
