/** Byte-string mutations for fuzzing decoders, shared by the wire and coordinator fuzz tests. */
import fc from 'fast-check';

/** One edit of a byte string: overwrite, insert, delete, truncate, or splice in random bytes. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 12 }) }),
);

export type Edit = {
  readonly kind: string;
  readonly at: number;
  readonly byte?: number;
  readonly bytes?: Uint8Array;
};

/** Applies the edits in order; positions wrap around the current length. */
export function mutate(input: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let out = Array.from(input);
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % (out.length + 1);
    if (edit.kind === 'set' && at < out.length) out[at] = edit.byte!;
    else if (edit.kind === 'insert') out.splice(at, 0, edit.byte!);
    else if (edit.kind === 'delete') out.splice(at, 1);
    else if (edit.kind === 'truncate') out = out.slice(0, at);
    else if (edit.kind === 'splice') out.splice(at, 0, ...edit.bytes!);
  }
  return Uint8Array.from(out);
}
