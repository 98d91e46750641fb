/**
 * The training task a federated round sends to its clients (`RoundAnnouncement.task`): the global
 * model's weights and the local training settings. privagg binds its SHA-256 into the round
 * (docs/PROTOCOL.md §2.1), so every client of a round trains from the same model.
 *
 * Format: `"privagg-task/v1\n"` ‖ u32le(header length) ‖ header (UTF-8 JSON) ‖ the tensors' float32
 * values, little-endian, in header order. Decoding is strict: a wrong magic, a header that is not
 * the expected shape, sizes that do not add up, or a non-finite weight are refused.
 * @module
 */

/** Local training settings a round asks for. */
export interface LocalTraining {
  /** E: passes over the client's data. */
  readonly epochs: number;
  /** B: minibatch size. */
  readonly batchSize: number;
  /** Client SGD learning rate. */
  readonly learningRate: number;
  /** Passes over the data per epoch, as TFF's `dataset.repeat(R)` (default 1). */
  readonly repeat?: number;
}

/**
 * How a round without differential privacy wants the update encoded for secure aggregation: clipped
 * to L2 norm `clip` (so the sum cannot wrap), then quantized at `scale` into `bits`-bit words. A
 * private round is encoded as its announced mechanism says instead (src/dp/announced.ts).
 */
export interface PlainEncoding {
  readonly clip: number;
  readonly scale: number;
  readonly bits: number;
}

/** One named weight tensor. */
export interface TaskTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** A round's training task. */
export interface TrainingTask {
  readonly round: number;
  readonly training: LocalTraining;
  readonly weights: readonly TaskTensor[];
  /** Present exactly when the round has no differential privacy. */
  readonly encoding?: PlainEncoding;
}

const MAGIC = new TextEncoder().encode('privagg-task/v1\n');
const MAX_HEADER_BYTES = 1 << 20;

/** The task is malformed; the message says what is wrong. */
export class TaskFormatError extends Error {
  override name = 'TaskFormatError';
}

/** Encodes a task. */
export function encodeTask(task: TrainingTask): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({
      round: task.round,
      training: task.training,
      ...(task.encoding && { encoding: task.encoding }),
      tensors: task.weights.map((t) => ({ name: t.name, shape: t.shape })),
    }),
  );
  let floats = 0;
  for (const t of task.weights) {
    if (t.values.length !== elements(t.shape)) {
      throw new RangeError(`tensor '${t.name}' has ${t.values.length} values for shape [${t.shape}]`);
    }
    floats += t.values.length;
  }
  const out = new Uint8Array(MAGIC.length + 4 + header.length + floats * 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  let at = MAGIC.length + 4 + header.length;
  for (const t of task.weights) {
    for (const v of t.values) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fail(problem: string): never {
  throw new TaskFormatError(`training task: ${problem}`);
}

function positive(value: unknown, what: string, integer: boolean): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    fail(
      `${what} must be a ${integer ? 'positive integer' : 'finite number > 0'}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Decodes and checks a task.
 * @throws TaskFormatError naming the problem
 */
export function decodeTask(bytes: Uint8Array): TrainingTask {
  if (bytes.length < MAGIC.length + 4 || MAGIC.some((b, i) => bytes[i] !== b)) fail('wrong magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (headerLength > MAX_HEADER_BYTES || start + headerLength > bytes.length)
    fail('header length out of range');
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, start + headerLength)),
    );
  } catch {
    fail('the header is not UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null) fail('the header is not an object');
  const h = header as Record<string, unknown>;
  const round = positive(h['round'], 'round', true);
  const t = h['training'] as Record<string, unknown> | undefined;
  if (typeof t !== 'object' || t === null) fail('training settings are missing');
  const training: LocalTraining = {
    epochs: positive(t['epochs'], 'training.epochs', true),
    batchSize: positive(t['batchSize'], 'training.batchSize', true),
    learningRate: positive(t['learningRate'], 'training.learningRate', false),
    ...(t['repeat'] !== undefined && { repeat: positive(t['repeat'], 'training.repeat', true) }),
  };
  const e = h['encoding'] as Record<string, unknown> | undefined;
  let encoding: PlainEncoding | undefined;
  if (e !== undefined) {
    if (typeof e !== 'object' || e === null) fail('encoding must be an object');
    const bits = positive(e['bits'], 'encoding.bits', true);
    if (bits < 2 || bits > 32) fail(`encoding.bits must be in [2, 32], got ${bits}`);
    encoding = {
      clip: positive(e['clip'], 'encoding.clip', false),
      scale: positive(e['scale'], 'encoding.scale', false),
      bits,
    };
  }
  if (!Array.isArray(h['tensors']) || h['tensors'].length === 0) fail('tensors must be a non-empty list');
  let at = start + headerLength;
  const names = new Set<string>();
  const weights = (h['tensors'] as unknown[]).map((raw, i): TaskTensor => {
    const spec = raw as { name?: unknown; shape?: unknown };
    if (typeof spec?.name !== 'string' || spec.name.length === 0 || names.has(spec.name)) {
      fail(`tensors[${i}].name must be a unique non-empty string`);
    }
    names.add(spec.name);
    if (!Array.isArray(spec.shape) || spec.shape.length === 0)
      fail(`tensors[${i}].shape must be a non-empty list`);
    const shape = spec.shape.map((d) => positive(d, `tensors[${i}].shape`, true));
    const count = elements(shape);
    if (at + count * 4 > bytes.length) fail(`tensor '${spec.name}' runs past the end`);
    const values = new Float32Array(count);
    for (let k = 0; k < count; k++, at += 4) {
      const v = view.getFloat32(at, true);
      if (!Number.isFinite(v)) fail(`tensor '${spec.name}'[${k}] is not finite`);
      values[k] = v;
    }
    return { name: spec.name, shape, values };
  });
  if (at !== bytes.length) fail(`${bytes.length - at} bytes after the last tensor`);
  return { round, training, weights, ...(encoding && { encoding }) };
}
