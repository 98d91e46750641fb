/**
 * The limits of `privagg serve`, stated up front: every setting that sizes memory or work is checked
 * against its maximum before the coordinator binds (src/server/config.ts), so a setting that could
 * never run is refused at once with one line naming it — rather than starting, and failing when the
 * first client arrives (a `--dim` whose buffers cannot be allocated), or never starting at all (a
 * cohort whose parameters take minutes and gigabytes to compute). The README's "Limits" table lists
 * the same numbers and reasons.
 * @module
 */
import { MAX_VECTOR_ELEMENTS } from '../secagg/params.ts';

/** One maximum: the number, and the reason in a few words for the error message. */
export interface Limit {
  readonly max: number;
  readonly why: string;
}

/**
 * Clients in a round (`--clients`, and so `--min-clients`, `--threshold`, `--max-corrupt-clients`):
 * 65,536 = 2^16. What the core does per round grows with n and has been run at 10,000 (the
 * simulator and `bench:scale`); at 65,536 planning a Harary graph takes milliseconds (degree ≤ ~330
 * for any dropout and adversary rate up to 30%), validating the parameters ~0.1 s, and a client's
 * gRPC messages (one encrypted share, ~100 bytes, per neighbour) stay under 9 MiB. Client ids (u32)
 * and the Shamir field (2^255 − 19) have room for far more; beyond ~300,000 clients the parameter
 * hash's argument list would overflow the stack (before this limit existed, `--clients 300000` failed
 * that way, and `--clients 100000000` ran for minutes without starting).
 */
export const MAX_CLIENTS: Limit = { max: 65_536, why: 'the largest cohort privagg serve runs' };

/**
 * Clients in a round on the complete graph: 2,048. There every client sends an encrypted share to
 * every other, and the coordinator holds all n·(n − 1) of them in the share stage before relaying
 * them: about 250 bytes each in memory (88 of ciphertext, the rest object and view overhead), so
 * ~1 GB at 2,048 clients and ~4 GB at 4,096 — all of Node's default heap. A larger cohort needs the
 * sparse graph (`--graph auto|harary`), whose shares grow as n·log n.
 */
export const MAX_COMPLETE_GRAPH_CLIENTS: Limit = {
  max: 2_048,
  why: 'the complete graph makes the coordinator hold N·(N-1) encrypted shares: use --graph auto|harary',
};

/**
 * 32-bit words summed per client, over all its vectors: 2^28 (1 GiB unpacked). Each client and the
 * coordinator's upload slots hold buffers of this size (the input, its mask, the packed copy), and
 * in the SDK's 16 KiB chunks it is 65,536 frames. Set in the core (`secagg/params.ts`), which
 * refuses a longer round, so no buffer is ever sized from an unchecked length.
 */
export const MAX_WORDS: Limit = {
  max: MAX_VECTOR_ELEMENTS,
  why: '2^28 32-bit words per client: 1 GiB unpacked',
};

/**
 * `--dim` with `--dp`: 2^27. The update is padded to a power of two for the rotation (so up to
 * 2·D − 1 words), and adaptive clipping adds a one-word vector: D ≤ 2^27 keeps both within
 * {@link MAX_WORDS}.
 */
export const MAX_DP_DIM: Limit = {
  max: MAX_VECTOR_ELEMENTS / 2,
  why: 'a private update is padded to a power of two, which must stay within 2^28 words',
};

/**
 * Named vectors in a round (`vectors` in a configuration file): 1,024. Each costs every client at
 * least one chunk frame and the coordinator an upload slot entry; a model has tens to hundreds of
 * tensors, and 1,024 specs (names up to 255 bytes) keep the round announcement under ~270 KiB.
 */
export const MAX_VECTORS: Limit = { max: 1_024, why: 'the most named vectors a round sums' };

/**
 * `--max-concurrent-uploads`: 256. A slot holds one client's packed masked input while it is
 * assembled, so slots × input size is the memory this setting grants; assembling is a copy and
 * summing is serial, so more slots than a few per core buy no speed. 256 keeps a large value a
 * choice rather than a typo for 2^32.
 */
export const MAX_CONCURRENT_UPLOADS: Limit = {
  max: 256,
  why: 'each upload slot holds one packed masked input',
};

/**
 * `--max-frames-per-stage`: 2^20. Enough for the largest masked input (2^28 words, 1 GiB packed) in
 * 1 KiB chunks; a bound beyond that no longer bounds the per-frame work one client can cause.
 */
export const MAX_FRAMES_PER_STAGE: Limit = {
  max: 1 << 20,
  why: 'the largest masked input in 1 KiB chunks',
};

/**
 * Checked-in clients waiting for a round (`--max-waiting-clients`): 131,136 = twice the largest
 * cohort plus 64, the default's formula at that cohort. A waiting session costs the coordinator about
 * 15 KiB (its HTTP/2 stream and buffers: 10,000 idle sessions measured +150 MiB), so this bounds them
 * to ~2 GB even so.
 */
export const MAX_WAITING_CLIENTS: Limit = {
  max: 2 * MAX_CLIENTS.max + 64,
  why: 'each waiting session holds ~15 KiB of the coordinator',
};
