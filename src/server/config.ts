/**
 * The settings of `privagg serve`: one table of options, read from command-line flags and from a JSON
 * configuration file (`--config FILE`), flags overriding the file. A file key is its flag's name in
 * camelCase (`--min-clients` → `minClients`); the file alone can also give `vectors` (several named
 * vectors) and per-stage deadlines. Every value is checked (exact types, integer ranges, and the
 * maxima of ./limits.ts for whatever sizes memory); unknown keys are refused, nothing is coerced. An
 * offending value is repeated in the message escaped and bounded (src/text/echo.ts).
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { packedLength } from '../secagg/bitpack.ts';
import { type GraphPlan, planGraph } from '../secagg/graph-plan.ts';
import { STAGES } from '../secagg/messages.ts';
import { defaultThreshold } from '../secagg/params.ts';
import type { ServerModel, VectorSpec } from '../secagg/types.ts';
import { describeValue, ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { JsonTextError, parseJson } from '../text/json.ts';
import type { CoordinatorConfig, CoordinatorGraph } from './coordinator.ts';
import {
  type Limit,
  MAX_CLIENTS,
  MAX_COMPLETE_GRAPH_CLIENTS,
  MAX_CONCURRENT_UPLOADS,
  MAX_DP_DIM,
  MAX_FRAMES_PER_STAGE,
  MAX_VECTORS,
  MAX_WAITING_CLIENTS,
  MAX_WORDS,
} from './limits.ts';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './logging.ts';

/** A setting is missing, malformed or out of range; the message names it and says what is expected. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The stages a per-stage deadline can be set for: every stage (`consistency` runs in the malicious setting only). */
export const DEADLINE_STAGES = STAGES;

/** The monitoring HTTP server's settings (server/http.ts). */
export interface ServeHttpSettings {
  readonly host: string;
  /** 0 picks a free one (printed as `http on HOST:PORT`). */
  readonly port: number;
  /** A file holding the bearer token the data routes require. */
  readonly tokenFile?: string;
}

/** Everything `privagg serve` runs with, after defaults. */
export interface ServeSettings {
  readonly host: string;
  readonly port: number;
  readonly clients: number;
  readonly minClients: number;
  readonly threshold: number;
  /**
   * `malicious` (the default with a roster): advertised keys and the survivor list are signed with
   * the clients' identity keys, checked against the roster. `semi-honest` without a roster, or with
   * one as a list of the names allowed to check in.
   */
  readonly serverModel: ServerModel;
  /** `--roster`: the file of enrolled clients' identity keys (src/identity/roster.ts). */
  readonly roster?: string;
  readonly maxCorruptClients: number;
  readonly vectors: readonly VectorSpec[];
  readonly rounds: number;
  readonly checkInWindowMs: number;
  readonly stageTimeoutsMs: Readonly<Record<(typeof DEADLINE_STAGES)[number], number>>;
  readonly maxConcurrentUploads: number;
  readonly maxFramesPerStage: number;
  /**
   * Checked-in clients that may wait for a round at once (beyond them a check-in is turned away as
   * UNAVAILABLE, to retry later): bounds the memory idle sessions hold.
   */
  readonly maxWaitingClients: number;
  /**
   * The coordinator pings every connection this often (ms) and closes one whose answer has not come
   * within as long again; 0: no pings.
   */
  readonly keepaliveMs: number;
  /** Worker threads that remove the masks (0: on the event loop); default: one per core. */
  readonly unmaskWorkers?: number;
  /** File the JSON line of each round is appended to. */
  readonly out: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly tokens?: string;
  readonly logLevel: LogLevel;
  readonly insecurePlaintextDevOnly: boolean;
  /** Differential privacy, when `--dp` is given. */
  readonly privacy?: ServePrivacySettings;
  /**
   * `--graph`: the complete graph (default), or a graph planned per round from the threat model
   * (`--expected-dropout`, `--adversarial-fraction`); then `threshold` and `maxCorruptClients` are
   * those of the plan for `clients` clients.
   */
  readonly graph: CoordinatorGraph;
  /** With `--graph auto|harary`: the plans for `clients` and, if smaller, `minClients` clients. */
  readonly graphPlans?: readonly GraphPlan[];
  /** The monitoring HTTP server (metrics, dashboard), when `--http-port` is given. */
  readonly http?: ServeHttpSettings;
}

/** `--graph` values. */
export const GRAPH_MODES = ['complete', 'auto', 'harary'] as const;

/** The differential privacy of `privagg serve --dp`. */
export interface ServePrivacySettings {
  readonly mechanism: 'distributed-skellam' | 'central-gaussian';
  /** C: the clip norm (the first round's, with adaptive clipping). */
  readonly clip: number;
  /** z; when absent, calibrated so that `rounds` rounds stay within the target. */
  readonly noiseMultiplier?: number;
  readonly targetEpsilon: number;
  readonly delta: number;
  /** The SQLite privacy ledger. */
  readonly ledger: string;
  /** γ of adaptive clipping, when the clip norm follows a quantile. */
  readonly adaptiveClipQuantile?: number;
}

/** `--dp` values and the mechanisms they select. */
export const DP_MECHANISMS = {
  distributed: 'distributed-skellam',
  central: 'central-gaussian',
} as const;

/** Defaults (documented in `privagg serve --help` and the README). */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  rounds: 1,
  maxCorruptClients: 0,
  checkInWindowMs: 30_000,
  stageTimeoutMs: 30_000,
  keepaliveMs: 60_000,
  logLevel: 'info',
} as const;

/**
 * The default number of upload slots: as many masked inputs as fit in 64 MiB while they are assembled
 * (a slot holds one unpacked input, 4 bytes a word), between 4 and 64. Each upload waits on round
 * trips (HTTP/2 flow control), so slots are what lets a thousand clients' uploads overlap: at
 * n = 1,000, d = 100k four slots made the masked stage take ~28 s, mostly waiting.
 */
export function defaultMaxConcurrentUploads(vectors: readonly VectorSpec[]): number {
  const inputBytes = 4 * vectors.reduce((words, v) => words + v.length, 0);
  return Math.min(64, Math.max(4, Math.floor((64 << 20) / Math.max(1, inputBytes))));
}

/**
 * The default cap on waiting clients for a cohort of N: room for this round's cohort and the next
 * (clients check in again as soon as a round ends), plus slack for stragglers and reconnections.
 */
export function defaultMaxWaitingClients(clients: number): number {
  return 2 * clients + 64;
}

/**
 * A client must send masked-input chunks of at least this many bytes (all but the last of each
 * vector) to stay within the default frame limit: PROTOCOL.md §12.1. The SDK sends exactly this.
 */
export const MIN_CHUNK_BYTES_FOR_DEFAULT_LIMIT = 16 * 1024;

/** How a value is checked. */
type Kind =
  | 'count'
  | 'nonnegative'
  | 'ms'
  | 'msOrOff'
  | 'port'
  | 'text'
  | 'path'
  | 'level'
  | 'model'
  | 'flag'
  | 'positive'
  | 'fraction'
  | 'rate'
  | 'graph'
  | 'dp';

interface OptionSpec {
  readonly flag: string;
  readonly key: string;
  readonly kind: Kind;
  /** Only on the command line, never in a file. */
  readonly flagOnly?: boolean;
  /** The documented maximum of a value that sizes memory or work (./limits.ts). */
  readonly limit?: Limit;
}

/** Every `privagg serve` option; the flag parser and the config file reader both use this table. */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { flag: 'config', key: 'config', kind: 'path', flagOnly: true },
  { flag: 'host', key: 'host', kind: 'text' },
  { flag: 'port', key: 'port', kind: 'port' },
  { flag: 'clients', key: 'clients', kind: 'count', limit: MAX_CLIENTS },
  { flag: 'min-clients', key: 'minClients', kind: 'count', limit: MAX_CLIENTS },
  { flag: 'threshold', key: 'threshold', kind: 'count', limit: MAX_CLIENTS },
  { flag: 'server-model', key: 'serverModel', kind: 'model' },
  { flag: 'roster', key: 'roster', kind: 'path' },
  { flag: 'max-corrupt-clients', key: 'maxCorruptClients', kind: 'nonnegative', limit: MAX_CLIENTS },
  { flag: 'dim', key: 'dim', kind: 'count', limit: MAX_WORDS },
  { flag: 'rounds', key: 'rounds', kind: 'count' },
  { flag: 'check-in-window-ms', key: 'checkInWindowMs', kind: 'ms' },
  { flag: 'stage-timeout-ms', key: 'stageTimeoutMs', kind: 'ms' },
  {
    flag: 'max-concurrent-uploads',
    key: 'maxConcurrentUploads',
    kind: 'count',
    limit: MAX_CONCURRENT_UPLOADS,
  },
  { flag: 'max-frames-per-stage', key: 'maxFramesPerStage', kind: 'count', limit: MAX_FRAMES_PER_STAGE },
  { flag: 'unmask-workers', key: 'unmaskWorkers', kind: 'nonnegative' },
  { flag: 'max-waiting-clients', key: 'maxWaitingClients', kind: 'count', limit: MAX_WAITING_CLIENTS },
  { flag: 'keepalive-ms', key: 'keepaliveMs', kind: 'msOrOff' },
  { flag: 'out', key: 'out', kind: 'path' },
  { flag: 'http-port', key: 'httpPort', kind: 'port' },
  { flag: 'http-host', key: 'httpHost', kind: 'text' },
  { flag: 'http-token-file', key: 'httpTokenFile', kind: 'path' },
  { flag: 'tls-cert', key: 'tlsCert', kind: 'path' },
  { flag: 'tls-key', key: 'tlsKey', kind: 'path' },
  { flag: 'tls-client-ca', key: 'tlsClientCa', kind: 'path' },
  { flag: 'tokens', key: 'tokens', kind: 'path' },
  { flag: 'log-level', key: 'logLevel', kind: 'level' },
  { flag: 'dp', key: 'dp', kind: 'dp' },
  { flag: 'clip', key: 'clip', kind: 'positive' },
  { flag: 'noise-multiplier', key: 'noiseMultiplier', kind: 'positive' },
  { flag: 'target-epsilon', key: 'targetEpsilon', kind: 'positive' },
  { flag: 'delta', key: 'delta', kind: 'fraction' },
  { flag: 'ledger', key: 'ledger', kind: 'path' },
  { flag: 'adaptive-clip-quantile', key: 'adaptiveClipQuantile', kind: 'fraction' },
  { flag: 'graph', key: 'graph', kind: 'graph' },
  { flag: 'expected-dropout', key: 'expectedDropout', kind: 'rate' },
  { flag: 'adversarial-fraction', key: 'adversarialFraction', kind: 'rate' },
  // The operator's control service (server/control-service.ts). `--control` itself changes what the
  // command does, so it is chosen at launch.
  { flag: 'control', key: 'control', kind: 'flag', flagOnly: true },
  { flag: 'control-token-file', key: 'controlTokenFile', kind: 'path' },
  { flag: 'control-client-name', key: 'controlClientName', kind: 'text' },
  { flag: 'ledger-dir', key: 'ledgerDir', kind: 'path' },
  // Deliberately flag-only: plaintext off loopback must be chosen at launch, not inherited from a
  // configuration file copied from a development machine.
  { flag: 'insecure-plaintext-dev-only', key: 'insecurePlaintextDevOnly', kind: 'flag', flagOnly: true },
];

/** Settings that mean something only with `--control`. */
const CONTROL_ONLY_KEYS = ['controlTokenFile', 'controlClientName', 'ledgerDir'] as const;

/**
 * The settings an operator gives through the control service's Define call instead (the field it
 * is, for the refusal). `--http-*` are not served with `--control` yet: the metrics and dashboard
 * follow one coordinator, and an aggregation's coordinator comes and goes.
 */
const DEFINED_BY_OPERATOR: Readonly<Record<string, string>> = {
  clients: 'aggregation.cohort.clients',
  minClients: 'aggregation.cohort.min_clients',
  checkInWindowMs: 'aggregation.cohort.check_in_window_ms',
  threshold: 'aggregation.graph.complete.threshold',
  maxCorruptClients: 'aggregation.graph.complete.max_corrupt_clients',
  serverModel: 'aggregation (semi-honest only)',
  graph: 'aggregation.graph',
  expectedDropout: 'aggregation.graph.auto.expected_dropout',
  adversarialFraction: 'aggregation.graph.auto.adversarial_fraction',
  dim: 'aggregation.vectors',
  vectors: 'aggregation.vectors',
  rounds: 'one StartRound call per round',
  stageTimeoutMs: 'aggregation.stage_timeout_ms',
  maxConcurrentUploads: 'derived from aggregation.vectors',
  maxFramesPerStage: 'derived from aggregation.vectors',
  maxWaitingClients: 'derived from aggregation.cohort.clients',
  dp: 'aggregation.privacy.mechanism',
  clip: 'aggregation.privacy.clip',
  noiseMultiplier: 'aggregation.privacy.noise_multiplier',
  targetEpsilon: 'aggregation.privacy.target_epsilon',
  delta: 'aggregation.privacy.delta',
  ledger: 'aggregation.privacy.ledger, a file in --ledger-dir',
  adaptiveClipQuantile: 'aggregation.privacy.adaptive_clip_quantile',
};

/** What `privagg serve --control` runs with: the server's own settings; aggregations come from Define. */
export interface ControlServeSettings {
  readonly host: string;
  readonly port: number;
  readonly keepaliveMs: number;
  readonly unmaskWorkers?: number;
  /** When given, every round's JSON line is appended here too (as without `--control`). */
  readonly out?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly tokens?: string;
  readonly logLevel: LogLevel;
  readonly insecurePlaintextDevOnly: boolean;
  /** The operator's token file. */
  readonly controlTokenFile: string;
  /** Under mutual TLS: the subject CN the operator's client certificate must have. */
  readonly controlClientName?: string;
  /** Where private aggregations keep their ledgers; without it they are refused. */
  readonly ledgerDir?: string;
  /** The setting of every aggregation defined (as `privagg serve`'s: malicious with a roster). */
  readonly serverModel: ServerModel;
  /** `--roster`: the enrolled clients' identity keys (needed by, and implying, the malicious setting). */
  readonly roster?: string;
}

/**
 * The settings of `privagg serve --control`: the flags (and configuration file) that set up the
 * server; every setting of an aggregation is refused, naming the Define field that sets it.
 * @throws ConfigError naming the first bad, missing or misplaced setting
 */
export function resolveControlSettings(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  readFile: (path: string) => Record<string, unknown> = readConfigFile,
): ControlServeSettings {
  const { values, fileVectors, fileStageTimeouts } = readValues(flags, readFile);
  const misplaced = [...values.keys(), ...(fileVectors ? ['vectors'] : [])].find(
    (key) => DEFINED_BY_OPERATOR[key] !== undefined,
  );
  const stageTimeouts = fileStageTimeouts !== undefined ? 'stageTimeoutMs' : undefined;
  const key = misplaced ?? stageTimeouts;
  if (key !== undefined) {
    const spec = SERVE_OPTIONS.find((o) => o.key === key);
    const name = spec && flags[spec.flag] !== undefined ? `--${spec.flag}` : `'${key}'`;
    throw new ConfigError(
      `${name} cannot be used with --control: the operator's Define call sets it (${DEFINED_BY_OPERATOR[key]})`,
    );
  }
  for (const key of ['httpPort', 'httpHost', 'httpTokenFile']) {
    if (values.has(key)) {
      const flag = SERVE_OPTIONS.find((o) => o.key === key)!.flag;
      throw new ConfigError(
        `--${flag} is not available with --control yet (the dashboard follows one coordinator)`,
      );
    }
  }
  const get = <T>(key: string): T | undefined => values.get(key) as T | undefined;
  const { serverModel, roster } = settingOf(get);
  const port = get<number>('port');
  if (port === undefined) throw new ConfigError('missing --port (see privagg serve --help)');
  const controlTokenFile = get<string>('controlTokenFile');
  if (controlTokenFile === undefined) {
    throw new ConfigError(
      '--control needs --control-token-file FILE (the operator token the control calls must send)',
    );
  }
  const { tlsCert, tlsKey, tlsClientCa } = tlsFiles(get);
  const controlClientName = get<string>('controlClientName');
  if (controlClientName !== undefined && tlsClientCa === undefined) {
    throw new ConfigError(
      '--control-client-name needs --tls-client-ca (it names a verified client certificate)',
    );
  }
  const unmaskWorkers = get<number>('unmaskWorkers');
  const out = get<string>('out');
  const ledgerDir = get<string>('ledgerDir');
  return {
    host: get<string>('host') ?? SERVE_DEFAULTS.host,
    port,
    keepaliveMs: get<number>('keepaliveMs') ?? SERVE_DEFAULTS.keepaliveMs,
    ...(unmaskWorkers !== undefined && { unmaskWorkers }),
    ...(out !== undefined && { out }),
    tlsCert,
    tlsKey,
    tlsClientCa,
    tokens: get<string>('tokens'),
    logLevel: get<LogLevel>('logLevel') ?? SERVE_DEFAULTS.logLevel,
    insecurePlaintextDevOnly: flags['insecure-plaintext-dev-only'] === true,
    controlTokenFile,
    ...(controlClientName !== undefined && { controlClientName }),
    ...(ledgerDir !== undefined && { ledgerDir }),
    serverModel,
    ...(roster !== undefined && { roster }),
  };
}

/**
 * `--server-model` and `--roster`, alike with and without `--control`: the malicious setting is the
 * default with a roster, and needs one.
 */
function settingOf(get: <T>(key: string) => T | undefined): { serverModel: ServerModel; roster?: string } {
  const roster = get<string>('roster');
  const serverModel = get<ServerModel>('serverModel') ?? (roster === undefined ? 'semi-honest' : 'malicious');
  if (serverModel === 'malicious' && roster === undefined) {
    throw new ConfigError(
      "--server-model malicious needs --roster FILE: the clients' identity keys its signatures are checked against",
    );
  }
  return { serverModel, ...(roster !== undefined && { roster }) };
}

/** Keys only a configuration file can have. */
const FILE_ONLY_KEYS = ['vectors'] as const;

/** The `parseArgs` option table for {@link SERVE_OPTIONS}. */
export function serveParseArgsOptions(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(
    SERVE_OPTIONS.map((o) => [
      o.flag,
      { type: o.kind === 'flag' ? ('boolean' as const) : ('string' as const) },
    ]),
  );
}

const MAX_MS = 2_147_483_647; // the largest delay setTimeout honours

function integerRange(kind: Kind): [number, number] | undefined {
  switch (kind) {
    case 'count':
      return [1, 0xffff_ffff];
    case 'nonnegative':
      return [0, 0xffff_ffff];
    case 'ms':
      return [1, MAX_MS];
    case 'msOrOff':
      return [0, MAX_MS];
    case 'port':
      return [0, 65_535];
    default:
      return undefined;
  }
}

/** A flag's text, or a file's JSON value, as an error message repeats it: escaped and bounded. */
function shownValue(raw: unknown, where: 'flag' | 'file'): string {
  return where === 'flag' && typeof raw === 'string' ? `'${echo(raw)}'` : describeValue(raw);
}

/** `name must be at most MAX (why), got VALUE` when `value` is over the limit. */
function checkLimit(name: string, value: number, limit: Limit, shown: string): void {
  if (value > limit.max)
    throw new ConfigError(`${name} must be at most ${limit.max} (${limit.why}), got ${shown}`);
}

/** Checks one value; `raw` is a flag's text or a file's JSON value. */
function checkValue(spec: OptionSpec, raw: unknown, where: 'flag' | 'file', baseDir: string): unknown {
  const name = where === 'flag' ? `--${spec.flag}` : `'${spec.key}'`;
  const range = integerRange(spec.kind);
  if (range) {
    let value: number;
    if (where === 'flag') {
      value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    } else {
      value = typeof raw === 'number' ? raw : Number.NaN;
    }
    const shown = shownValue(raw, where);
    // The limit first: for 4294967296 "at most 65536" says more than the u32 range does.
    if (spec.limit && Number.isSafeInteger(value) && value >= range[0])
      checkLimit(name, value, spec.limit, shown);
    if (!Number.isSafeInteger(value) || value < range[0] || value > range[1]) {
      const max = spec.limit?.max ?? range[1];
      throw new ConfigError(`${name} must be an integer in [${range[0]}, ${max}], got ${shown}`);
    }
    return value;
  }
  if (spec.kind === 'flag') {
    if (typeof raw !== 'boolean') throw new ConfigError(`${name} must be true or false`);
    return raw;
  }
  if (spec.kind === 'positive' || spec.kind === 'fraction' || spec.kind === 'rate') {
    const value =
      where === 'flag' ? (typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN) : raw;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (spec.kind === 'rate' ? value >= 0 : value > 0) &&
      (spec.kind === 'positive' || value < 1);
    if (!ok) {
      const shown = shownValue(raw, where);
      const range =
        spec.kind === 'positive'
          ? 'a finite number > 0'
          : spec.kind === 'rate'
            ? 'a number in [0, 1)'
            : 'a number in (0, 1)';
      throw new ConfigError(`${name} must be ${range}, got ${shown}`);
    }
    return value;
  }
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new ConfigError(`${name} must be a non-empty string, got ${describeValue(raw)}`);
  }
  switch (spec.kind) {
    case 'path':
      return where === 'file' ? resolve(baseDir, raw) : raw;
    case 'level':
      if (!isLogLevel(raw))
        throw new ConfigError(`${name} must be one of ${LOG_LEVELS.join(', ')}, got '${echo(raw)}'`);
      return raw;
    case 'graph':
      if (!(GRAPH_MODES as readonly string[]).includes(raw)) {
        throw new ConfigError(`${name} must be one of ${GRAPH_MODES.join(', ')}, got '${echo(raw)}'`);
      }
      return raw;
    case 'dp':
      if (!Object.hasOwn(DP_MECHANISMS, raw)) {
        throw new ConfigError(`${name} must be 'distributed' or 'central', got '${echo(raw)}'`);
      }
      return raw;
    case 'model':
      if (raw !== 'semi-honest' && raw !== 'malicious') {
        throw new ConfigError(`${name} must be 'semi-honest' or 'malicious', got '${echo(raw)}'`);
      }
      return raw;
    default:
      return raw;
  }
}

function checkVectors(raw: unknown): VectorSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new ConfigError(`'vectors' must be a non-empty array of {"name", "length", "bits"}`);
  }
  checkLimit(`'vectors'`, raw.length, MAX_VECTORS, `${raw.length} vectors`);
  const names = new Set<string>();
  const vectors = raw.map((v: unknown, i) => {
    const at = `'vectors[${i}]'`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ConfigError(`${at} must be an object {"name", "length", "bits"}`);
    }
    const extra = Object.keys(v).filter((k) => k !== 'name' && k !== 'length' && k !== 'bits');
    if (extra.length > 0) throw new ConfigError(`${at} has unknown key '${echo(extra[0]!)}'`);
    const { name, length, bits } = v as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0)
      throw new ConfigError(`${at}.name must be a non-empty string`);
    if (names.has(name)) throw new ConfigError(`vector name '${echo(name)}' repeats`);
    names.add(name);
    if (typeof length === 'number' && Number.isSafeInteger(length) && length >= 1) {
      checkLimit(`${at}.length`, length, MAX_WORDS, describeValue(length));
    }
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1) {
      throw new ConfigError(
        `${at}.length must be an integer in [1, ${MAX_WORDS.max}], got ${describeValue(length)}`,
      );
    }
    const b = bits ?? 32;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 1 || b > 32) {
      throw new ConfigError(`${at}.bits must be an integer in [1, 32], got ${describeValue(bits)}`);
    }
    return { name, length, bits: b };
  });
  const total = vectors.reduce((sum, v) => sum + v.length, 0);
  checkLimit(`the lengths in 'vectors'`, total, MAX_WORDS, `${total} in all`);
  return vectors;
}

type StageTimeouts = ServeSettings['stageTimeoutsMs'];

function checkStageTimeouts(raw: unknown, fallback: number): StageTimeouts {
  const spec = SERVE_OPTIONS.find((o) => o.key === 'stageTimeoutMs')!;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const all = checkValue(spec, raw, 'file', '') as number;
    return Object.fromEntries(DEADLINE_STAGES.map((s) => [s, all])) as StageTimeouts;
  }
  const unknown = Object.keys(raw).find((k) => !(DEADLINE_STAGES as readonly string[]).includes(k));
  if (unknown !== undefined) {
    throw new ConfigError(
      `'stageTimeoutMs' has unknown stage '${echo(unknown)}' (stages: ${DEADLINE_STAGES.join(', ')})`,
    );
  }
  const values = raw as Record<string, unknown>;
  return Object.fromEntries(
    DEADLINE_STAGES.map((s) => [
      s,
      values[s] === undefined
        ? fallback
        : checkValue({ ...spec, key: `stageTimeoutMs.${s}` }, values[s], 'file', ''),
    ]),
  ) as StageTimeouts;
}

/** Reads a JSON configuration file into an object. */
export function readConfigFile(path: string): Record<string, unknown> {
  const shown = echo(path, ECHO_PATH_CHARS);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${shown}: ${(error as NodeJS.ErrnoException).code}`);
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error;
    throw new ConfigError(
      error.problem === 'too-deep'
        ? `the config file ${shown} ${error.message}`
        : `the config file ${shown} is not valid JSON: ${error.message}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`the config file ${shown} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Merges the flags over the configuration file (if `--config` names one), checks every value and fills
 * in the defaults.
 * @param flags - `parseArgs` values for {@link serveParseArgsOptions}
 * @param readFile - reads the configuration file (injected by tests)
 * @throws ConfigError naming the first bad or missing setting
 */
export function resolveServeSettings(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  readFile: (path: string) => Record<string, unknown> = readConfigFile,
): ServeSettings {
  const { values, fileVectors, fileStageTimeouts } = readValues(flags, readFile);
  const controlOnly = CONTROL_ONLY_KEYS.find((key) => values.has(key));
  if (controlOnly !== undefined) {
    throw new ConfigError(`--${SERVE_OPTIONS.find((o) => o.key === controlOnly)!.flag} needs --control`);
  }
  return resolveFixedSettings(flags, values, fileVectors, fileStageTimeouts);
}

/** Every value of the flags and the configuration file, checked one by one (not yet together). */
function readValues(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  readFile: (path: string) => Record<string, unknown>,
): { values: Map<string, unknown>; fileVectors?: VectorSpec[]; fileStageTimeouts?: unknown } {
  const values = new Map<string, unknown>();
  let fileVectors: VectorSpec[] | undefined;
  let fileStageTimeouts: unknown;
  const configPath = flags['config'];
  if (typeof configPath === 'string') {
    const file = readFile(configPath);
    const baseDir = dirname(resolve(configPath));
    for (const [key, raw] of Object.entries(file)) {
      if (key === 'vectors') {
        fileVectors = checkVectors(raw);
        continue;
      }
      const spec = SERVE_OPTIONS.find((o) => o.key === key);
      if (!spec) {
        const known = [...SERVE_OPTIONS.filter((o) => !o.flagOnly).map((o) => o.key), ...FILE_ONLY_KEYS];
        throw new ConfigError(`the config file has unknown key '${echo(key)}' (known: ${known.join(', ')})`);
      }
      if (spec.flagOnly)
        throw new ConfigError(`'${key}' can only be given on the command line, as --${spec.flag}`);
      if (key === 'stageTimeoutMs') {
        fileStageTimeouts = raw;
        continue;
      }
      values.set(key, checkValue(spec, raw, 'file', baseDir));
    }
  }
  for (const spec of SERVE_OPTIONS) {
    const raw = flags[spec.flag];
    if (raw === undefined || spec.key === 'config') continue;
    values.set(spec.key, checkValue(spec, raw, 'flag', ''));
  }
  return { values, ...(fileVectors && { fileVectors }), fileStageTimeouts };
}

/** The settings of a fixed-configuration serve (without `--control`): every value checked together. */
function resolveFixedSettings(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  values: ReadonlyMap<string, unknown>,
  fileVectors: VectorSpec[] | undefined,
  fileStageTimeouts: unknown,
): ServeSettings {
  const get = <T>(key: string): T | undefined => values.get(key) as T | undefined;
  const need = <T>(key: string, flag: string): T => {
    const value = get<T>(key);
    if (value === undefined) throw new ConfigError(`missing --${flag} (see privagg serve --help)`);
    return value;
  };

  const port = need<number>('port', 'port');
  const clients = need<number>('clients', 'clients');
  const out = need<string>('out', 'out');
  if (clients < 2) throw new ConfigError(`--clients must be at least 2, got ${clients}`);
  const minClients = get<number>('minClients') ?? clients;
  if (minClients > clients) {
    throw new ConfigError(`--min-clients ${minClients} exceeds --clients ${clients}`);
  }
  if (minClients < 2) throw new ConfigError(`--min-clients must be at least 2, got ${minClients}`);
  const { serverModel, roster } = settingOf(get);
  const { graph, graphPlans } = graphSettings(get, clients, minClients, serverModel);
  checkCompleteGraphSize(graph, graphPlans, clients);
  const planned = graphPlans?.[0];
  const maxCorruptClients =
    planned?.maxCorruptClients ?? get<number>('maxCorruptClients') ?? SERVE_DEFAULTS.maxCorruptClients;
  const threshold =
    planned?.threshold ??
    get<number>('threshold') ??
    Math.min(defaultThreshold(clients, serverModel, maxCorruptClients), minClients);

  const dim = get<number>('dim');
  if (dim !== undefined && fileVectors !== undefined && flags['dim'] === undefined) {
    throw new ConfigError("the config file gives both 'dim' and 'vectors': give one");
  }
  const vectors: VectorSpec[] =
    dim !== undefined ? [{ name: 'sum', length: dim, bits: 32 }] : (fileVectors ?? []);
  if (vectors.length === 0) throw new ConfigError('missing --dim (or vectors in the --config file)');

  const all = (ms: number) => Object.fromEntries(DEADLINE_STAGES.map((s) => [s, ms])) as StageTimeouts;
  const flagStageTimeout = get<number>('stageTimeoutMs');
  const stageTimeoutsMs =
    flagStageTimeout !== undefined
      ? all(flagStageTimeout)
      : fileStageTimeouts !== undefined
        ? checkStageTimeouts(fileStageTimeouts, SERVE_DEFAULTS.stageTimeoutMs)
        : all(SERVE_DEFAULTS.stageTimeoutMs);

  const { tlsCert, tlsKey, tlsClientCa } = tlsFiles(get);

  const http = httpSettings(get);
  const privacy = privacySettings(get);
  if (privacy && fileVectors !== undefined && dim === undefined) {
    throw new ConfigError("--dp needs --dim (the update's length), not 'vectors'");
  }
  if (privacy && dim !== undefined) checkLimit('--dim with --dp', dim, MAX_DP_DIM, String(dim));
  if (privacy?.mechanism === 'distributed-skellam' && graphPlans?.some((p) => p.graph.kind === 'harary')) {
    // Fail closed: on a Harary graph each client may add noise for h = minSurvivors − n_C honest
    // clients (dp/announced.ts checks that bound), but serve's planner sizes the noise from t − n_C,
    // which a Harary threshold leaves at or below zero. Until it uses the survivor floor, refuse.
    throw new ConfigError(
      '--dp distributed cannot run on a Harary graph in privagg serve yet (its noise planner assumes ' +
        'the complete graph, h = t - n_C); use --graph complete, or --dp central',
    );
  }

  return {
    host: get<string>('host') ?? SERVE_DEFAULTS.host,
    port,
    clients,
    minClients,
    threshold,
    serverModel,
    ...(roster !== undefined && { roster }),
    maxCorruptClients,
    vectors,
    rounds: get<number>('rounds') ?? SERVE_DEFAULTS.rounds,
    checkInWindowMs: get<number>('checkInWindowMs') ?? SERVE_DEFAULTS.checkInWindowMs,
    stageTimeoutsMs,
    maxConcurrentUploads:
      get<number>('maxConcurrentUploads') ??
      defaultMaxConcurrentUploads(privacy ? [{ name: 'update', length: 2 * dim!, bits: 32 }] : vectors),
    maxFramesPerStage:
      get<number>('maxFramesPerStage') ??
      // A private update is padded to a power of two (at most 2·D elements).
      defaultMaxFramesPerStage(privacy ? [{ name: 'update', length: 2 * dim!, bits: 32 }] : vectors),
    maxWaitingClients: get<number>('maxWaitingClients') ?? defaultMaxWaitingClients(clients),
    keepaliveMs: get<number>('keepaliveMs') ?? SERVE_DEFAULTS.keepaliveMs,
    ...(get<number>('unmaskWorkers') !== undefined && { unmaskWorkers: get<number>('unmaskWorkers')! }),
    out,
    tlsCert,
    tlsKey,
    tlsClientCa,
    tokens: get<string>('tokens'),
    logLevel: get<LogLevel>('logLevel') ?? SERVE_DEFAULTS.logLevel,
    insecurePlaintextDevOnly: flags['insecure-plaintext-dev-only'] === true,
    ...(privacy && { privacy }),
    graph,
    ...(graphPlans && { graphPlans }),
    ...(http && { http }),
  };
}

/** The default `--http-host`: loopback, as the dashboard names clients and times their rounds. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

/** The TLS file flags, checked to come in the combinations that make sense. */
function tlsFiles(get: <T>(key: string) => T | undefined): {
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
} {
  const tlsCert = get<string>('tlsCert');
  const tlsKey = get<string>('tlsKey');
  const tlsClientCa = get<string>('tlsClientCa');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('give --tls-cert and --tls-key together');
  }
  if (tlsClientCa !== undefined && tlsCert === undefined) {
    throw new ConfigError('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)');
  }
  return { tlsCert, tlsKey, tlsClientCa };
}

/**
 * `--http-port`, `--http-host`, `--http-token-file`. The host and the token file mean nothing
 * without a port, so they are refused alone rather than ignored. Whether a non-loopback host has a
 * token is checked by the command (cli/serve.ts), which knows what loopback is.
 */
function httpSettings(get: <T>(key: string) => T | undefined): ServeHttpSettings | undefined {
  const port = get<number>('httpPort');
  const host = get<string>('httpHost');
  const tokenFile = get<string>('httpTokenFile');
  if (port === undefined) {
    if (host !== undefined) throw new ConfigError('--http-host needs --http-port');
    if (tokenFile !== undefined) throw new ConfigError('--http-token-file needs --http-port');
    return undefined;
  }
  return { host: host ?? DEFAULT_HTTP_HOST, port, ...(tokenFile !== undefined && { tokenFile }) };
}

/**
 * The complete graph's own cohort limit ({@link MAX_COMPLETE_GRAPH_CLIENTS}): for `--graph complete`,
 * `--clients`; for `--graph auto`, any cohort size it plans the complete graph for.
 */
function checkCompleteGraphSize(
  graph: CoordinatorGraph,
  graphPlans: readonly GraphPlan[] | undefined,
  clients: number,
): void {
  const limit = MAX_COMPLETE_GRAPH_CLIENTS;
  if (graph.mode === 'complete') {
    checkLimit('--clients on the complete graph', clients, limit, String(clients));
    return;
  }
  const complete = graphPlans?.find((p) => p.graph.kind === 'complete' && p.n > limit.max);
  if (complete) {
    throw new ConfigError(
      `--graph ${graph.mode} plans the complete graph for ${complete.n} clients, above its maximum ` +
        `${limit.max} (the coordinator would hold N·(N-1) encrypted shares): lower --adversarial-fraction ` +
        'or --expected-dropout, or the cohort',
    );
  }
}

/**
 * `--graph`, `--expected-dropout` and `--adversarial-fraction`. The threat-model modes plan every
 * round from the cohort size (`secagg/graph-plan.ts`), so `--threshold` and `--max-corrupt-clients`
 * cannot be combined with them; a threat model no parameters satisfy is refused here, naming why.
 */
function graphSettings(
  get: <T>(key: string) => T | undefined,
  clients: number,
  minClients: number,
  serverModel: ServerModel,
): { graph: CoordinatorGraph; graphPlans?: GraphPlan[] } {
  const mode = get<(typeof GRAPH_MODES)[number]>('graph') ?? 'complete';
  const expectedDropout = get<number>('expectedDropout');
  const adversarialFraction = get<number>('adversarialFraction');
  if (mode === 'complete') {
    if (expectedDropout !== undefined) throw new ConfigError('--expected-dropout needs --graph auto|harary');
    if (adversarialFraction !== undefined) {
      throw new ConfigError('--adversarial-fraction needs --graph auto|harary');
    }
    return { graph: { mode } };
  }
  for (const [key, flag] of [
    ['threshold', 'threshold'],
    ['maxCorruptClients', 'max-corrupt-clients'],
  ] as const) {
    if (get(key) !== undefined) {
      throw new ConfigError(
        `--${flag} cannot be combined with --graph ${mode}: each round's threshold and corrupt-client ` +
          'bound follow from --expected-dropout and --adversarial-fraction',
      );
    }
  }
  if (expectedDropout === undefined) {
    throw new ConfigError(
      `--graph ${mode} needs --expected-dropout F (the fraction of clients lost per round)`,
    );
  }
  if (adversarialFraction === undefined) {
    throw new ConfigError(
      `--graph ${mode} needs --adversarial-fraction F (the fraction of clients that may collude with the coordinator)`,
    );
  }
  let graphPlans: GraphPlan[];
  try {
    graphPlans = planCohortGraphs({
      clients,
      minClients,
      expectedDropout,
      adversarialFraction,
      mode,
      serverModel,
    });
  } catch (error) {
    if (error instanceof RangeError) throw new ConfigError(`--graph ${mode}: ${error.message}`);
    throw error;
  }
  return { graph: { mode, expectedDropout, adversarialFraction }, graphPlans };
}

/**
 * The graph plans for a cohort of `clients` that may shrink to `minClients` (both sizes, the full one
 * first), as `privagg serve --graph auto|harary` and the control API's Define choose them.
 * @throws RangeError when no plan fits a size (planGraph's reason)
 */
export function planCohortGraphs(cohort: {
  readonly clients: number;
  readonly minClients: number;
  readonly expectedDropout: number;
  readonly adversarialFraction: number;
  readonly mode: 'auto' | 'harary';
  readonly serverModel: ServerModel;
}): GraphPlan[] {
  const { clients, minClients } = cohort;
  const sizes = minClients < clients ? [clients, minClients] : [clients];
  return sizes.map((n) =>
    planGraph({
      n,
      dropoutRate: cohort.expectedDropout,
      adversarialRate: cohort.adversarialFraction,
      mode: cohort.mode,
      serverModel: cohort.serverModel,
    }),
  );
}

/** Default δ of `--dp`. */
export const DEFAULT_DELTA = 1e-5;

function privacySettings(get: <T>(key: string) => T | undefined): ServePrivacySettings | undefined {
  const dp = get<keyof typeof DP_MECHANISMS>('dp');
  const dpOnly = ['clip', 'noiseMultiplier', 'targetEpsilon', 'delta', 'ledger', 'adaptiveClipQuantile'];
  if (dp === undefined) {
    const stray = dpOnly.find((key) => get(key) !== undefined);
    if (stray !== undefined) {
      const flag = SERVE_OPTIONS.find((o) => o.key === stray)!.flag;
      throw new ConfigError(`--${flag} needs --dp distributed|central`);
    }
    return undefined;
  }
  const clip = get<number>('clip');
  if (clip === undefined) throw new ConfigError('--dp needs --clip C (the L2 clip norm of an update)');
  const targetEpsilon = get<number>('targetEpsilon');
  const ledger = get<string>('ledger');
  // Fail closed: a private round is always accounted in a durable ledger against a budget.
  if (targetEpsilon === undefined)
    throw new ConfigError('--dp needs --target-epsilon E (the privacy budget)');
  if (ledger === undefined) throw new ConfigError('--dp needs --ledger FILE (the durable privacy ledger)');
  const noiseMultiplier = get<number>('noiseMultiplier');
  const adaptiveClipQuantile = get<number>('adaptiveClipQuantile');
  return {
    mechanism: DP_MECHANISMS[dp],
    clip,
    targetEpsilon,
    delta: get<number>('delta') ?? DEFAULT_DELTA,
    ledger,
    ...(noiseMultiplier !== undefined && { noiseMultiplier }),
    ...(adaptiveClipQuantile !== undefined && { adaptiveClipQuantile }),
  };
}

/**
 * The default per-stage frame limit: the masked input in chunks of at least
 * {@link MIN_CHUNK_BYTES_FOR_DEFAULT_LIMIT} bytes, plus 16 frames of slack for the other messages.
 */
export function defaultMaxFramesPerStage(vectors: readonly VectorSpec[]): number {
  let frames = 16;
  for (const v of vectors)
    frames += Math.ceil(packedLength(v.length, v.bits) / MIN_CHUNK_BYTES_FOR_DEFAULT_LIMIT);
  return frames;
}

/**
 * The largest gRPC message the coordinator accepts: 2 MiB (a 1 MiB masked-input chunk with room to
 * spare), or more when the cohort is so large that one client's encrypted shares (about 100 bytes per
 * peer) or unmask response need it.
 */
export function maxReceiveMessageBytes(clients: number): number {
  return Math.max(2 << 20, clients * 128 + (64 << 10));
}

/**
 * The coordinator's configuration for these settings.
 * @param roster - the enrolled clients' identity keys read from `s.roster` (name → key)
 */
export function coordinatorConfig(
  s: ServeSettings,
  roster?: ReadonlyMap<string, Uint8Array>,
): CoordinatorConfig {
  return {
    cohortSize: s.clients,
    minClients: s.minClients,
    threshold: s.threshold,
    serverModel: s.serverModel,
    ...(roster && { identities: roster }),
    maxCorruptClients: s.maxCorruptClients,
    // With --dp the announced mechanism determines the vectors (src/dp/announced.ts).
    vectors: s.privacy ? [] : s.vectors,
    rounds: s.rounds,
    checkInMs: s.checkInWindowMs,
    timeouts: { ...s.stageTimeoutsMs },
    maxConcurrentUploads: s.maxConcurrentUploads,
    maxFramesPerStage: s.maxFramesPerStage,
    maxWaitingClients: s.maxWaitingClients,
    ...(s.unmaskWorkers !== undefined && { unmaskWorkers: s.unmaskWorkers }),
    ...(s.graph.mode !== 'complete' && { graph: s.graph }),
  };
}
