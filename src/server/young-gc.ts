/**
 * Freeing dead buffers sooner than V8 would. The coordinator streams far more bytes through short-lived
 * ArrayBuffers than it keeps: every masked input (4 MB at d = 1M) is dead once added to the sum, and
 * every keystream chunk an unmask worker expands (64 KiB, hundreds of megabytes per round) is dead
 * once added. V8 keeps such buffers' memory until a garbage collection, and it triggers one on their
 * account only after ~64 MB of them have piled up in a thread — measured here as ~70 MiB of extra
 * peak memory across two unmask threads, and as much again on the main thread during the masked stage.
 *
 * A young-generation collection (a scavenge) frees dead young buffers and costs well under a
 * millisecond when little is alive in the young generation, as on these paths. V8 exposes it only
 * through its `gc` extension, which the `--expose-gc` flag enables for contexts created afterwards;
 * the flag is set here at run time, and `gc` is taken from a fresh context. Where that is
 * unavailable, collecting is a no-op: memory is then only higher, never wrong.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * How many bytes of summed masked input the coordinator lets die between young-generation
 * collections. V8 would wait for ~64 MB (~16 inputs at d = 1M), most of the coordinator's peak memory
 * in the masked stage; collecting after every 8 MB (two inputs at d = 1M) cut the peak of
 * `npm run bench:scale`'s n = 500, d = 1M row from ~205 to 145–180 MiB, for ~0.2–0.5 ms of collection
 * per input. Used by the gRPC coordinator and the simulator alike.
 */
export const DEAD_INPUT_BYTES_PER_COLLECTION = 8_000_000;

type GcFunction = (options?: { type?: 'major' | 'minor' }) => void;

let gc: GcFunction | null | undefined;

function load(): GcFunction | null {
  try {
    setFlagsFromString('--expose-gc');
    const found = runInNewContext('typeof gc === "function" ? gc : undefined') as GcFunction | undefined;
    return found ?? null;
  } catch {
    return null;
  }
}

/** Whether {@link collectYoungGarbage} can collect in this thread. */
export function canCollectYoungGarbage(): boolean {
  gc ??= load();
  return gc !== null;
}

/** Runs a young-generation collection now, freeing dead young ArrayBuffers (see the module note). */
export function collectYoungGarbage(): void {
  gc ??= load();
  gc?.({ type: 'minor' });
}

/**
 * A function to call with the size of each buffer a loop drops; it collects young garbage once
 * `threshold` bytes have been dropped since the last collection. The coordinator calls it with each
 * masked input it has added to the sum.
 * @param threshold - bytes per collection, a positive integer
 */
export function collectPerBytes(threshold: number): (droppedBytes: number) => void {
  if (!(Number.isInteger(threshold) && threshold >= 1)) {
    throw new RangeError(`threshold must be a positive integer, got ${threshold}`);
  }
  let dropped = 0;
  return (droppedBytes) => {
    dropped += droppedBytes;
    if (dropped >= threshold) {
      dropped = 0;
      collectYoungGarbage();
    }
  };
}
