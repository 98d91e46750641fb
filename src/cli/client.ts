/**
 * `privagg client`: takes part in secure aggregation rounds with an input vector read from a JSON
 * file, through the client SDK (src/client/sdk.ts). One line per round on stdout; its own failures on
 * stderr, one line each. `--fail-at STAGE` is fault injection: the process exits abruptly on entering
 * that stage, with no goodbye frame, as a crashed client would.
 *
 * gRPC and the SDK are imported once the arguments have been checked, so a bad argument fails fast
 * (and `privagg --help` does not load them).
 * @module
 */
import { readFileSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ChannelCredentials, ClientOptions } from '@grpc/grpc-js';
import type { AssignedRound, Participation } from '../client/sdk.ts';
import type { NamedTensors } from '../dp/tensors.ts';
import { STAGES, type Stage } from '../secagg/messages.ts';
import type { RoundParams } from '../secagg/params.ts';
import { describeValue, ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { JsonTextError, parseJson } from '../text/json.ts';
import { formatHostPort, isLoopbackHost, parseHostPort } from './address.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';
import { runInputCommand } from './input-command.ts';
import { oneLine } from './text.ts';
import { diagnoseTls, type TlsProbeTarget } from './tls-diagnosis.ts';
import { type ClientTlsFiles, readClientTlsFiles } from './tls-files.ts';

/** Exit status of a process stopped by `--fail-at`. */
export const FAIL_AT_EXIT_CODE = 3;

/** The stages `--fail-at` accepts (`consistency` is reached in the malicious setting only). */
export const FAIL_AT_STAGES: readonly Stage[] = STAGES;

const DEFAULT_RETRIES = 6;
const DEFAULT_MIN_NOISE_MULTIPLIER = 0.5;
const DEFAULT_RETRY_DELAY_MS = 250;

/**
 * The SDK's default keepalive (src/client/sdk.ts DEFAULT_CLIENT_KEEPALIVE_MS), repeated here so that
 * `--help` does not load the SDK.
 */
const DEFAULT_KEEPALIVE_MS = 30_000;

/** The longest delay a Node timer honours. */
const MAX_TIMER_MS = 2_147_483_647;

const usage = `usage: privagg client --server HOST:PORT --id ID --input FILE [options]
       privagg client --server HOST:PORT --id ID --input-command CMD [options]

Takes part in secure aggregation rounds run by 'privagg serve'. The coordinator learns only the sum
of the surviving clients' inputs, never this input.

  --server HOST:PORT        the coordinator ([IPv6]:PORT for an IPv6 address)
  --id ID                   this client's name at the coordinator (1..255 bytes)
  --input FILE              JSON array of D integers in [0, 2^32); D must be the dimension the
                            coordinator announces. (For a coordinator summing several named
                            vectors: a JSON object {"name": [...], ...}.)
  --input-command CMD       instead of --input: each round, run /bin/sh -c CMD with the round's task
                            (e.g. the global model, checked against the digest bound into the round)
                            on its stdin and PRIVAGG_ROUND, PRIVAGG_CLIENT_ID in its environment; it
                            prints the input on stdout, as JSON like an --input file. It runs before
                            the advertise stage: it must finish within the coordinator's deadline
  --dp                      differential privacy: --input is a real-valued model update (a JSON
                            array of D numbers, or an object of named arrays whose lengths add up
                            to D); it is clipped, encoded and, with distributed DP, noised here as
                            the coordinator announces. Rounds without DP, or with less noise than
                            --min-noise-multiplier, are refused before anything is sent.
  --min-noise-multiplier Z  the least noise this client accepts (default ${DEFAULT_MIN_NOISE_MULTIPLIER})
  --accept-central          also take part in central-DP rounds, where the coordinator adds the
                            noise (and so sees the un-noised sum of the survivors)
  --rounds R                take part in R rounds, reconnecting between them (default 1)
  --fail-at STAGE           fault injection: exit abruptly (status ${FAIL_AT_EXIT_CODE}, no goodbye) on entering
                            STAGE: advertise, share, masked, consistency (malicious only) or unmask
  --retries N               reconnection attempts after the first, with exponential backoff, before
                            giving up on an unreachable coordinator (default ${DEFAULT_RETRIES})
  --retry-delay-ms MS       first backoff delay; it doubles up to 8x (default ${DEFAULT_RETRY_DELAY_MS})
  --keepalive-ms MS         ping the coordinator this often and give the connection up when the
                            answer has not come within as long again; 0: no pings (default ${DEFAULT_KEEPALIVE_MS})

identity (the malicious setting, where the coordinator is not trusted to follow the protocol):
  --identity KEYFILE        this client's long-term Ed25519 identity key ('privagg keygen'; mode
                            0600: a key file other users can read is refused)
  --roster FILE             the enrolled clients, {"name": "<base64 public key>", ...}, as the
                            federation's operator distributes it; it must list --id with KEYFILE's key
  With both, the client takes part only in malicious-setting rounds, and refuses one whose cohort
  names a client the roster does not enroll or announces a key other than the roster's.

authentication and transport security:
  --token-file FILE         file holding this client's bearer token (sent as
                            "authorization: Bearer <token>")
  --token TOKEN             the token itself (visible to other local users in the process list:
                            prefer --token-file)
  --tls-ca FILE             trust this CA for the coordinator's certificate (default: system CAs)
  --tls-cert FILE --tls-key FILE   client certificate and key (mutual TLS)
  --tls-server-name NAME    expect NAME in the coordinator's certificate instead of HOST
  --insecure-plaintext-dev-only   plaintext to a non-loopback host (DEVELOPMENT ONLY: anyone on
                            the path can read and rewrite the protocol and steal the token)
  A loopback HOST (localhost, 127.0.0.0/8, ::1) is reached in plaintext unless a --tls-* flag is
  given; any other host over TLS.

Prints "round K: done" or "round K: aborted (CODE): REASON" per round (K counts this client's
rounds). Exits 0 when every round completed or was aborted by the coordinator (an abort is the
coordinator's decision, not this client's failure); 1 when a round failed here (the coordinator
was lost mid-round, this client refused a request, or it was refused) or the coordinator could not
be reached; 2 on bad input.`;

/** The input as read from the file, before the announcement says what is expected. */
type Input =
  | { readonly kind: 'array'; readonly values: Uint32Array }
  | { readonly kind: 'object'; readonly vectors: ReadonlyMap<string, Uint32Array> };

/**
 * What an element of an input file is, for a message: JSON.parse turns a number too large for a
 * double (`1e999`) into Infinity, which `JSON.stringify` would show as `null`.
 */
function shownElement(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v)
    ? `${v} (a number too large for a double)`
    : describeValue(v);
}

function checkedArray(value: unknown, what: string): Uint32Array {
  if (!Array.isArray(value)) throw new CliError(`${what} must be a JSON array of integers in [0, 2^32)`);
  const out = new Uint32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new CliError(`${what}[${i}] is ${shownElement(v)}: not a finite number`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new CliError(`${what}[${i}] is ${shownElement(v)}: not an integer in [0, 2^32)`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Reads a JSON input file, its nesting bounded before it is parsed (src/text/json.ts).
 * @param shown - the path as messages show it (escaped and bounded)
 * @throws CliError when it cannot be read, is nested too deeply or is not JSON
 */
function readJsonInput(path: string, shown: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --input ${shown}: ${(error as NodeJS.ErrnoException).code}`);
  }
  try {
    return parseJson(text);
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error;
    throw new CliError(
      error.problem === 'too-deep'
        ? `--input ${shown} ${error.message}`
        : `--input ${shown} is not valid JSON: ${error.message}`,
    );
  }
}

/**
 * Reads and checks an input file: a JSON array of integers in [0, 2^32), or an object of such arrays.
 * @throws CliError naming the file and the first problem
 */
export function readInput(path: string): Input {
  const shown = echo(path, ECHO_PATH_CHARS);
  return inputFromJson(readJsonInput(path, shown), `--input ${shown}`);
}

/**
 * Checks a parsed input: a JSON array of integers in [0, 2^32), or an object of such arrays.
 * @param what - where it came from, for messages (`--input FILE`)
 */
function inputFromJson(value: unknown, what: string): Input {
  if (Array.isArray(value)) return { kind: 'array', values: checkedArray(value, what) };
  if (typeof value === 'object' && value !== null) {
    const vectors = new Map<string, Uint32Array>();
    for (const [name, v] of Object.entries(value)) {
      vectors.set(name, checkedArray(v, `${what} "${echo(name)}"`));
    }
    if (vectors.size === 0) throw new CliError(`${what} holds an empty object`);
    return { kind: 'object', vectors };
  }
  throw new CliError(`${what} must be a JSON array of integers in [0, 2^32)`);
}

/**
 * Reads a real-valued update for `--dp`: a JSON array of finite numbers (one tensor, "update"), or an
 * object of such arrays (named tensors, in file order).
 * @throws CliError naming the file and the first problem
 */
export function readUpdate(path: string): Map<string, Float64Array> {
  const shown = echo(path, ECHO_PATH_CHARS);
  return updateFromJson(readJsonInput(path, shown), `--input ${shown}`);
}

/** Checks a parsed real-valued update (see {@link readUpdate}); `what` says where it came from. */
function updateFromJson(value: unknown, what: string): Map<string, Float64Array> {
  const numbers = (v: unknown, what: string): Float64Array => {
    if (!Array.isArray(v) || v.length === 0)
      throw new CliError(`${what} must be a non-empty JSON array of numbers`);
    const at = v.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
    if (at >= 0) throw new CliError(`${what}[${at}] is ${shownElement(v[at])}: not a finite number`);
    return Float64Array.from(v as number[]);
  };
  if (Array.isArray(value)) return new Map([['update', numbers(value, what)]]);
  if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) {
    return new Map(Object.entries(value).map(([name, v]) => [name, numbers(v, `${what} "${echo(name)}"`)]));
  }
  throw new CliError(`${what} must be a JSON array of numbers or an object of such arrays`);
}

/**
 * The `--dp` update for an announced round, checked against the round's dimension (the total length
 * of its tensors), as {@link inputForRound} checks a plain input: a mismatch is bad input, one line.
 * @throws CliError when the lengths differ
 */
export function updateForRound(
  update: NamedTensors,
  round: AssignedRound,
  path: string,
  what = `--input ${echo(path, ECHO_PATH_CHARS)}`,
): NamedTensors {
  // privateUpdateInput refuses a round without privacy before asking for the update.
  const dimension = round.privacy!.announced.dimension;
  let total = 0;
  for (const values of update.values()) total += values.length;
  if (total !== dimension) {
    throw new CliError(
      `${what} has ${total} numbers but the coordinator's round ` +
        `${round.params.round} takes updates of ${dimension} numbers`,
    );
  }
  return update;
}

function positiveNumber(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!(value > 0) || !Number.isFinite(value))
    throw new CliError(`--${flag} must be a number > 0, got '${echo(raw)}'`);
  return value;
}

/**
 * The input vectors for an announced round, checked against its vector specs (names, lengths, and
 * each value below 2^bits).
 * @throws CliError when the input does not fit the announcement
 */
export function inputForRound(
  input: Input,
  params: RoundParams,
  path: string,
  what = `--input ${echo(path, ECHO_PATH_CHARS)}`,
): Uint32Array[] {
  const specs = params.vectors;
  // Names come from the input file and from the coordinator: both are echoed, and the lists bounded.
  const names = (list: readonly string[]) => echo(list.map((name) => echo(name)).join(', '), 4 * 64);
  let vectors: Uint32Array[];
  if (input.kind === 'array') {
    if (specs.length !== 1) {
      throw new CliError(
        `the coordinator sums ${specs.length} vectors (${names(specs.map((s) => s.name))}): ${what} ` +
          'must be a JSON object of one array per vector name',
      );
    }
    vectors = [input.values];
  } else {
    const expected = specs.map((s) => s.name);
    const extra = [...input.vectors.keys()].filter((name) => !expected.includes(name));
    const missing = expected.filter((name) => !input.vectors.has(name));
    if (extra.length > 0 || missing.length > 0) {
      throw new CliError(
        `${what} names vectors [${names([...input.vectors.keys()])}] but the coordinator sums ` +
          `[${names(expected)}]`,
      );
    }
    vectors = specs.map((s) => input.vectors.get(s.name)!);
  }
  return specs.map((spec, i) => {
    const values = vectors[i]!;
    const where = input.kind === 'array' ? what : `${what} "${echo(spec.name)}"`;
    if (values.length !== spec.length) {
      throw new CliError(
        `${where} has ${values.length} values but the coordinator's round ${params.round} sums vectors of ` +
          `length ${spec.length}`,
      );
    }
    if (spec.bits < 32) {
      const limit = 2 ** spec.bits;
      const at = values.findIndex((v) => v >= limit);
      if (at >= 0) throw new CliError(`${where}[${at}] is ${values[at]}: not below 2^${spec.bits}`);
    }
    return values.slice();
  });
}

function readSmallFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(
      `cannot read ${what} ${echo(path, ECHO_PATH_CHARS)}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

function nonNegativeInteger(flag: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new CliError(`--${flag} must be an integer >= ${min}, got '${echo(raw)}'`);
  }
  return value;
}

/**
 * grpc-js sets the TLS server name (SNI) to the host even when it is an IP address, and Node then
 * prints deprecation DEP0123 on stderr at every connection. SNI carries no meaning for an IP address
 * (the certificate is still checked against it), so that one warning is dropped; others still print.
 */
let ipServerNameWarningSilenced = false;
function silenceIpServerNameWarning(): void {
  if (ipServerNameWarningSilenced) return;
  ipServerNameWarningSilenced = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, second, third] = args;
    const code = typeof second === 'object' && second !== null ? (second as { code?: unknown }).code : third;
    if (code === 'DEP0123') return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}

interface Transport {
  readonly credentials: ChannelCredentials;
  readonly channelOptions: Partial<ClientOptions>;
  readonly warning?: string;
  /** The checked TLS files when the connection uses TLS (for {@link diagnoseTls}). */
  readonly tls?: ClientTlsFiles;
}

/** The client side of the transport policy (see the usage text). */
function transport(
  grpc: typeof import('@grpc/grpc-js'),
  host: string,
  values: Record<string, string | boolean | undefined>,
  address: string,
): Transport {
  const str = (name: string) => values[name] as string | undefined;
  const tlsFlags = ['tls-ca', 'tls-cert', 'tls-key', 'tls-server-name'].filter((f) => str(f) !== undefined);
  const insecure = values['insecure-plaintext-dev-only'] === true;
  if (insecure && tlsFlags.length > 0) {
    throw new CliError(`--insecure-plaintext-dev-only contradicts --${tlsFlags[0]}`);
  }
  const loopback = isLoopbackHost(host);
  if (insecure || (loopback && tlsFlags.length === 0)) {
    return {
      credentials: grpc.credentials.createInsecure(),
      channelOptions: {},
      warning: loopback
        ? undefined
        : `privagg: WARNING: plaintext connection to ${address}, which is not a loopback host ` +
          '(--insecure-plaintext-dev-only): the protocol and the token can be read and rewritten on the way',
    };
  }
  if ((str('tls-cert') === undefined) !== (str('tls-key') === undefined)) {
    throw new CliError('give --tls-cert and --tls-key together');
  }
  const files = readClientTlsFiles({ ca: str('tls-ca'), cert: str('tls-cert'), key: str('tls-key') });
  let creds: ChannelCredentials;
  try {
    creds = grpc.credentials.createSsl(files.ca, files.key, files.cert);
  } catch (error) {
    throw new CliError(`cannot use the TLS files: ${oneLine((error as Error).message)}`);
  }
  const serverName = str('tls-server-name');
  return {
    credentials: creds,
    channelOptions:
      serverName === undefined
        ? {}
        : { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName },
    tls: files,
  };
}

function readToken(values: Record<string, string | boolean | undefined>): string | undefined {
  const token = values['token'] as string | undefined;
  const tokenFile = values['token-file'] as string | undefined;
  if (token !== undefined && tokenFile !== undefined)
    throw new CliError('give --token or --token-file, not both');
  const raw =
    tokenFile === undefined ? token : readSmallFile(tokenFile, '--token-file').toString('utf8').trim();
  if (raw === undefined) return undefined;
  if (!/^[\x21-\x7e]+$/.test(raw)) {
    throw new CliError('the token must be a non-empty string of visible ASCII characters');
  }
  return raw;
}

/**
 * `--identity` and `--roster`, read and checked before connecting: both or neither; the key file
 * private to its owner and an Ed25519 key; the roster well formed and enrolling `--id` with that
 * key's public half. One line naming the file and the problem; the key itself is never shown.
 */
async function readIdentity(
  keyFile: string | undefined,
  rosterFile: string | undefined,
  name: string,
): Promise<import('../client/sdk.ts').ClientIdentity | undefined> {
  if (keyFile === undefined && rosterFile === undefined) return undefined;
  if (keyFile === undefined) throw new CliError('--roster needs --identity KEYFILE');
  if (rosterFile === undefined) throw new CliError('--identity needs --roster FILE');
  const { KeyFileError, readKeyFile } = await import('../identity/keyfile.ts');
  const { parseRoster, RosterError } = await import('../identity/roster.ts');
  const { equalBytes } = await import('../secagg/encoding.ts');
  const shownRoster = `--roster ${echo(rosterFile, ECHO_PATH_CHARS)}`;
  try {
    const signer = readKeyFile(keyFile, `--identity ${echo(keyFile, ECHO_PATH_CHARS)}`);
    const roster = parseRoster(readSmallFile(rosterFile, '--roster').toString('utf8'), shownRoster);
    const enrolled = roster.keyOf(name);
    if (enrolled === undefined) throw new CliError(`${shownRoster} does not enroll --id '${echo(name)}'`);
    if (!equalBytes(enrolled, signer.publicKey)) {
      throw new CliError(`${shownRoster} enrolls '${echo(name)}' with another key than --identity's`);
    }
    return { signer, roster };
  } catch (error) {
    if (error instanceof KeyFileError || error instanceof RosterError)
      throw new CliError(oneLine(error.message));
    throw error;
  }
}

async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(argv, {
    server: { type: 'string' },
    id: { type: 'string' },
    input: { type: 'string' },
    'input-command': { type: 'string' },
    rounds: { type: 'string' },
    'fail-at': { type: 'string' },
    retries: { type: 'string' },
    'retry-delay-ms': { type: 'string' },
    'keepalive-ms': { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-server-name': { type: 'string' },
    'insecure-plaintext-dev-only': { type: 'boolean' },
    dp: { type: 'boolean' },
    'min-noise-multiplier': { type: 'string' },
    'accept-central': { type: 'boolean' },
    identity: { type: 'string' },
    roster: { type: 'string' },
  });
  const str = (name: string) => values[name] as string | undefined;
  const required = (name: string): string => {
    const value = str(name);
    if (value === undefined) throw new CliError(`missing --${name} (see privagg client --help)`);
    return value;
  };

  let server: ReturnType<typeof parseHostPort>;
  try {
    server = parseHostPort(required('server'), '--server');
  } catch (error) {
    if (error instanceof RangeError) throw new CliError(error.message);
    throw error;
  }
  const address = formatHostPort(server.host, server.port);
  const id = required('id');
  const idBytes = Buffer.byteLength(id, 'utf8');
  if (idBytes < 1 || idBytes > 255) throw new CliError(`--id must be 1..255 UTF-8 bytes, got ${idBytes}`);
  const command = str('input-command');
  if (command !== undefined && str('input') !== undefined) {
    throw new CliError('give --input or --input-command, not both');
  }
  if (command !== undefined && command.trim() === '') throw new CliError('--input-command is empty');
  const inputPath = command === undefined ? required('input') : '';
  const dp = values['dp'] === true;
  if (!dp && (values['accept-central'] === true || str('min-noise-multiplier') !== undefined)) {
    throw new CliError('--min-noise-multiplier and --accept-central need --dp');
  }
  const update = dp && command === undefined ? readUpdate(inputPath) : undefined;
  const input = dp || command !== undefined ? undefined : readInput(inputPath);
  const privacyPolicy = dp
    ? {
        minNoiseMultiplier: positiveNumber(
          'min-noise-multiplier',
          str('min-noise-multiplier'),
          DEFAULT_MIN_NOISE_MULTIPLIER,
        ),
        mechanisms:
          values['accept-central'] === true
            ? (['distributed-skellam', 'central-gaussian'] as const)
            : (['distributed-skellam'] as const),
      }
    : undefined;
  const rounds = nonNegativeInteger('rounds', str('rounds'), 1, 1);
  const retries = nonNegativeInteger('retries', str('retries'), DEFAULT_RETRIES);
  const retryDelayMs = nonNegativeInteger('retry-delay-ms', str('retry-delay-ms'), DEFAULT_RETRY_DELAY_MS, 1);
  const keepaliveMs = nonNegativeInteger('keepalive-ms', str('keepalive-ms'), DEFAULT_KEEPALIVE_MS);
  if (keepaliveMs > MAX_TIMER_MS)
    throw new CliError(`--keepalive-ms must be at most ${MAX_TIMER_MS}, got ${keepaliveMs}`);
  const failAt = str('fail-at');
  if (failAt !== undefined && !(FAIL_AT_STAGES as readonly string[]).includes(failAt)) {
    throw new CliError(`--fail-at must be one of ${FAIL_AT_STAGES.join(', ')}, got '${echo(failAt)}'`);
  }
  const token = readToken(values);
  const identity = await readIdentity(str('identity'), str('roster'), id);
  const grpc = await import('@grpc/grpc-js');
  // Every failure is reported by this command in one line; grpc-js's own console errors would add more.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const { CoordinatorAbortError, Participant, TransportError, privateUpdateInput } = await import(
    '../client/sdk.ts'
  );
  const { ProtocolViolation } = await import('../secagg/errors.ts');
  const {
    credentials: channelCredentials,
    channelOptions,
    warning,
    tls,
  } = transport(grpc, server.host, values, address);
  if (isIP(server.host) !== 0) silenceIpServerNameWarning();
  if (warning) console.error(warning);

  const participant = new Participant({
    address,
    credentials: channelCredentials,
    name: id,
    token,
    keepaliveMs,
    ...(identity && { identity }),
    ...(privacyPolicy && { privacyPolicy }),
    channelOptions: {
      ...channelOptions,
      // Reconnect to a restarted coordinator on this client's schedule, not grpc-js's (1 s .. 120 s).
      'grpc.initial_reconnect_backoff_ms': retryDelayMs,
      'grpc.max_reconnect_backoff_ms': retryDelayMs * 8,
    },
    onStage: (stage) => {
      if (stage !== failAt) return;
      // Fault injection: no goodbye frame, no cleanup — the socket closes with the process.
      writeSync(2, `privagg: --fail-at ${stage}: exiting abruptly on entering stage '${stage}'\n`);
      process.exit(FAIL_AT_EXIT_CODE);
    },
  });

  let round = 0;
  let failed = 0;
  const onOutcome = (outcome: Participation | Error) => {
    round++;
    if (!(outcome instanceof Error)) {
      console.log(`round ${round}: done`);
    } else if (outcome instanceof CoordinatorAbortError) {
      console.log(`round ${round}: aborted (${outcome.code}): ${oneLine(outcome.reason)}`);
    } else if (outcome instanceof TransportError && outcome.stage !== undefined) {
      failed++;
      const what =
        outcome.code === grpc.status.UNAVAILABLE
          ? `lost the coordinator at ${address}`
          : `the coordinator at ${address} ended the session`;
      console.error(
        `privagg: round ${round}: ${what} during stage '${outcome.stage}': ${oneLine(outcome.message)}`,
      );
    } else {
      failed++;
      console.error(`privagg: round ${round}: ${oneLine(outcome.message)}`);
    }
  };
  try {
    const fromCommand = 'the output of --input-command';
    const commandOutput = (round: AssignedRound) =>
      runInputCommand(command!, {
        round: round.params.round,
        clientId: round.clientId,
        ...(round.task && { task: round.task }),
      });
    await participant.participateRounds(
      rounds,
      command !== undefined
        ? dp
          ? privateUpdateInput(async (round) =>
              updateForRound(updateFromJson(await commandOutput(round), fromCommand), round, '', fromCommand),
            )
          : async (round) =>
              inputForRound(
                inputFromJson(await commandOutput(round), fromCommand),
                round.params,
                '',
                fromCommand,
              )
        : update
          ? privateUpdateInput((round) => updateForRound(update, round, inputPath))
          : ({ params }) => inputForRound(input!, params, inputPath),
      onOutcome,
      {
        initialMs: retryDelayMs,
        maxMs: retryDelayMs * 8,
        maxAttempts: retries + 1,
        midRound: 'report',
      },
    );
  } catch (error) {
    if (error instanceof CliError) throw error;
    const which = `round ${round + 1}`;
    if (error instanceof TransportError) {
      // Only errors before a round's announcement get here (later ones are reported per round).
      if (error.retryable && tls) {
        // grpc-js reports a refused certificate as an unreachable coordinator: ask TLS itself.
        const probe: TlsProbeTarget = {
          host: server.host,
          port: server.port,
          ...(str('tls-server-name') !== undefined && { serverName: str('tls-server-name')! }),
          ...tls,
        };
        const reason = await diagnoseTls(probe);
        if (reason !== undefined) {
          console.error(`privagg: ${which}: ${address}: ${reason}`);
          return 1;
        }
      }
      const what = error.retryable
        ? `cannot reach the coordinator at ${address} (${retries + 1} attempt${retries === 0 ? '' : 's'})`
        : `the coordinator at ${address} refused`;
      console.error(`privagg: ${which}: ${what}: ${oneLine(error.message)}`);
      return 1;
    }
    if (error instanceof ProtocolViolation) {
      console.error(`privagg: ${which}: the coordinator broke the protocol: ${oneLine(error.message)}`);
      return 1;
    }
    throw error;
  } finally {
    participant.close();
  }
  return failed === 0 ? 0 : 1;
}

/** The `privagg client` command. */
export const clientCommand: Command = {
  name: 'client',
  summary: 'take part in secure aggregation rounds with an input vector from a JSON file',
  usage,
  run,
};
