/**
 * A client's model update as named float tensors, and the flat layout the privacy mechanisms work
 * on. The update is one vector for privacy purposes: clipping bounds the L2 norm across all its
 * tensors together (./clip.ts), and the distributed mechanism rotates and noises their concatenation
 * (./distributed.ts). The order of a `Map` is its insertion order, so the layout — names and lengths
 * in order — is fixed by how the update was built, and the server must decode with the same layout.
 * @module
 */
import { assertIntegerIn, kind } from './checks.ts';

/** One tensor of an update: 32- or 64-bit floats. */
export type FloatTensor = Float32Array | Float64Array;

/** An update: named tensors, in a fixed (insertion) order. */
export type NamedTensors = ReadonlyMap<string, FloatTensor>;

/** The name and element count of one tensor of a layout. */
export interface TensorShape {
  readonly name: string;
  readonly length: number;
}

/** The tensors of an update, in order: what a flat vector is cut into. */
export type TensorLayout = readonly TensorShape[];

/**
 * Checks that `tensors` is a non-empty `Map` from non-empty names to Float32Array/Float64Array.
 * @throws TypeError for a wrong type (naming the tensor); RangeError for an empty map or name
 */
export function assertTensors(tensors: unknown, name = 'tensors'): asserts tensors is NamedTensors {
  if (!(tensors instanceof Map)) {
    throw new TypeError(`${name} must be a Map of named Float32Array/Float64Array, got ${kind(tensors)}`);
  }
  if (tensors.size === 0) throw new RangeError(`${name} must hold at least one tensor`);
  for (const [key, value] of tensors) {
    if (typeof key !== 'string' || key.length === 0) {
      throw new RangeError(`${name} must be keyed by non-empty strings, got ${kind(key)} '${String(key)}'`);
    }
    if (!(value instanceof Float32Array || value instanceof Float64Array)) {
      throw new TypeError(`${name} '${key}' must be a Float32Array or Float64Array, got ${kind(value)}`);
    }
  }
}

/**
 * The layout of an update: its tensors' names and lengths, in order.
 * @throws TypeError / RangeError if `tensors` is not a valid update
 * @example
 * ```ts
 * layoutOf(new Map([['w', new Float32Array(6)], ['b', new Float32Array(2)]])); // [{w, 6}, {b, 2}]
 * ```
 */
export function layoutOf(tensors: NamedTensors): TensorLayout {
  assertTensors(tensors);
  return Object.freeze([...tensors].map(([name, t]) => Object.freeze({ name, length: t.length })));
}

/**
 * Checks a layout: a non-empty array of unique non-empty names with integer lengths ≥ 0.
 * @returns the total number of elements
 * @throws TypeError / RangeError otherwise
 */
export function layoutLength(layout: TensorLayout): number {
  if (!Array.isArray(layout)) throw new TypeError(`layout must be an array, got ${kind(layout)}`);
  if (layout.length === 0) throw new RangeError('layout must name at least one tensor');
  const names = new Set<string>();
  let total = 0;
  layout.forEach((shape: TensorShape, i) => {
    if (typeof shape?.name !== 'string' || shape.name.length === 0) {
      throw new RangeError(`layout[${i}].name must be a non-empty string`);
    }
    if (names.has(shape.name)) throw new RangeError(`layout names must be unique, '${shape.name}' repeats`);
    names.add(shape.name);
    total += assertIntegerIn(`layout[${i}].length`, shape.length, 0, 2 ** 32 - 1);
  });
  return total;
}

/**
 * Copies the tensors, in order, into one flat vector, after checking that they match `layout`.
 * @param tensors - the update
 * @param layout - the expected names and lengths, in order (default: the update's own)
 * @param out - where to write (default a new array); may be longer than the update (the rest is
 *   left as it is, e.g. zero padding)
 * @returns `out`
 * @throws TypeError / RangeError if the update does not match the layout or does not fit `out`
 */
export function flatten(
  tensors: NamedTensors,
  layout: TensorLayout = layoutOf(tensors),
  out?: Float64Array,
): Float64Array {
  assertTensors(tensors);
  const total = layoutLength(layout);
  if (tensors.size !== layout.length) {
    throw new RangeError(`the update has ${tensors.size} tensors, the layout ${layout.length}`);
  }
  const target = out ?? new Float64Array(total);
  if (!(target instanceof Float64Array)) throw new TypeError(`out must be a Float64Array, got ${kind(out)}`);
  if (target.length < total) throw new RangeError(`out has ${target.length} elements, ${total} needed`);
  let offset = 0;
  let i = 0;
  for (const [name, values] of tensors) {
    const shape = layout[i++]!;
    if (shape.name !== name || shape.length !== values.length) {
      throw new RangeError(
        `tensor ${i - 1} is '${name}' of length ${values.length}, the layout expects '${shape.name}' of length ${shape.length}`,
      );
    }
    target.set(values, offset);
    offset += values.length;
  }
  return target;
}

/**
 * Cuts a flat vector into named tensors (Float64Array copies), the inverse of {@link flatten}.
 * @param flat - at least as long as the layout (padding after it is ignored)
 * @param layout - names and lengths, in order
 * @returns a new Map in layout order
 * @throws TypeError / RangeError if `flat` is too short or the layout is invalid
 */
export function unflatten(flat: Float64Array, layout: TensorLayout): Map<string, Float64Array> {
  if (!(flat instanceof Float64Array)) throw new TypeError(`flat must be a Float64Array, got ${kind(flat)}`);
  const total = layoutLength(layout);
  if (flat.length < total) throw new RangeError(`flat has ${flat.length} elements, the layout ${total}`);
  const out = new Map<string, Float64Array>();
  let offset = 0;
  for (const { name, length } of layout) {
    out.set(name, flat.slice(offset, offset + length));
    offset += length;
  }
  return out;
}
