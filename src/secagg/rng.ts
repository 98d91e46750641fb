/**
 * Randomness sources: the OS CSPRNG for production and a deterministic AES-CTR stream for tests and
 * test vectors. The deterministic stream is a real stream cipher keyed by a label, never a
 * Math.random-style generator, so vectors generated from it are reproducible in any language.
 * @module
 */
import { createCipheriv, createHash, randomBytes as osRandomBytes } from 'node:crypto';
import type { Rng } from './types.ts';

/** The operating system's CSPRNG (`crypto.randomBytes`). The only Rng production code should use. */
export const systemRng: Rng = {
  randomBytes(length: number): Uint8Array {
    return new Uint8Array(osRandomBytes(length));
  },
};

/**
 * A reproducible byte stream: AES-128-CTR keyed by SHA-256(label)[0..16], IV zero, reading the
 * keystream in order. For tests and published test vectors only — anyone who knows the label knows
 * every "random" byte.
 */
export class DeterministicRng implements Rng {
  readonly #cipher;

  constructor(label: string) {
    const key = createHash('sha256').update(label, 'utf8').digest().subarray(0, 16);
    this.#cipher = createCipheriv('aes-128-ctr', key, new Uint8Array(16));
  }

  randomBytes(length: number): Uint8Array {
    return new Uint8Array(this.#cipher.update(new Uint8Array(length)));
  }
}
