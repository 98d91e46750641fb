/**
 * `privagg serve`: runs the coordinator over gRPC for a number of rounds and appends one JSON line per
 * round to a file. Transport security and client authentication follow the policy in
 * src/server/tls.ts (TLS, or plaintext on loopback only; tokens or mutual TLS, or claimed names on
 * loopback only).
 *
 * The server modules (gRPC, pino, the coordinator) are imported once the flags and the configuration
 * file have been checked, so a bad setting fails fast and `privagg --help` does not load them.
 * @module
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { format } from 'node:util';
import type { ServerModel } from '../secagg/types.ts';
import type { TokenTable } from '../server/auth.ts';
import {
  ConfigError,
  coordinatorConfig,
  MIN_CHUNK_BYTES_FOR_DEFAULT_LIMIT,
  maxReceiveMessageBytes,
  resolveControlSettings,
  resolveServeSettings,
  SERVE_DEFAULTS,
  type ServeSettings,
  serveParseArgsOptions,
} from '../server/config.ts';
import type { RoundOutcome } from '../server/coordinator.ts';
import type { ServerTls } from '../server/tls.ts';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { formatHostPort, isLoopbackHost } from './address.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';
import { oneLine } from './text.ts';

/** How long a signal lets the active round run before its calls are cancelled. */
export const SHUTDOWN_GRACE_MS = 10_000;

const usage = `usage: privagg serve --port P --clients N --dim D --out FILE [options]
       privagg serve --config FILE [options]
       privagg serve --control --port P --control-token-file FILE [options]

Runs the secure aggregation coordinator: R rounds, each summing one input vector of D unsigned
32-bit integers (mod 2^32) over a cohort of N clients, of which at least the threshold must survive.
Appends one JSON line per round to FILE:
  {"round":1,"status":"ok","survivors":["id",...],"dropped":{"id":"stage",...},"sum":[...]}
  {"round":2,"status":"aborted","survivors":[],"dropped":{...},"reason":"..."}
plus, only when a round had them, "badShares" ({"id":["whose secret",...]}: unmask shares found
wrong, by sender), "unreadableShares" ({"id":["recipient",...]}: share messages not readable),
"refusals" ({"reason":count,...}: requests the clients refused, by refusal reason) and
"lostAfterMasked" ({"id":"stage",...}: survivors, summed, lost at consistency or unmask).
The first line on stdout is "listening on HOST:PORT"; then one summary line per round. Logs (JSON,
pino) go to stderr. Exits 0 after R rounds, or when the privacy budget allows no further round
(a "stopped: ..." line on stdout; checked before binding too); 130/143 after SIGINT/SIGTERM (the
active round gets ${SHUTDOWN_GRACE_MS / 1000} s to finish; a second signal stops at once); 2 on a bad
setting; 1 when it cannot listen.

round:
  --clients N               cohort size: clients selected per round (2..65536; at most 2048 on the
                            complete graph)
  --min-clients M           start with M..N clients once the check-in window has passed
                            (default N: always wait for N)
  --threshold T             clients that must survive to the unmask stage
                            (default floor(2N/3)+1, at least the malicious minimum, capped at M);
                            it must exceed N/2, so that a coordinator lying about who dropped
                            cannot reach T twice
  --max-corrupt-clients C   clients that may collude with the coordinator; T must exceed C
                            (default 0)
  --server-model semi-honest|malicious   the coordinator the clients protect themselves against
                            (default: malicious with --roster, else semi-honest). malicious: clients
                            sign their keys and the survivor list with their identity keys, and
                            check every round's cohort against their roster; needs --roster and
                            2T > N + C
  --roster FILE             the enrolled clients: a JSON object {"name": "<base64 Ed25519 public
                            key>", ...} ('privagg keygen' prints each entry). A check-in under a name
                            it does not list is refused (PERMISSION_DENIED); in the malicious setting
                            a client without that name's key is dropped at the advertise stage
  --graph complete|auto|harary   the neighbour graph (default complete). auto and harary choose
                            each round's graph, threshold and corrupt-client bound from the threat
                            model below and the cohort size, and log what they chose (k, t, the
                            survivor floor, the bounds); harary always uses SecAgg+'s sparse random
                            Harary graph (O(log N) neighbours per client), auto only for cohorts
                            large enough to gain from it. Not with --threshold/--max-corrupt-clients
  --expected-dropout F      with --graph auto|harary: the fraction of selected clients expected to be
                            lost in a round, in [0, 1); rounds complete with probability 1 - 2^-20
  --adversarial-fraction F  with --graph auto|harary: the fraction of selected clients that may
                            collude with the coordinator, in [0, 1); privacy fails with probability
                            below 2^-40
  --dim D                   one vector of D 32-bit integers, named "sum" (D <= 2^28; 2^27 with --dp)
  --rounds R                rounds to run (default ${SERVE_DEFAULTS.rounds})
  --out FILE                file to append the JSON line of each round to
  --check-in-window-ms MS   how long to wait for N clients before starting with >= M
                            (default ${SERVE_DEFAULTS.checkInWindowMs})
  --stage-timeout-ms MS     deadline of each stage; a client that misses it is dropped
                            (default ${SERVE_DEFAULTS.stageTimeoutMs})
  --max-concurrent-uploads K   masked inputs assembled at once (default: as many as fit in
                            64 MiB unpacked, 4..64)
  --max-frames-per-stage F  frames a client may send in one stage before it is cut off
                            (default: the masked input in ${MIN_CHUNK_BYTES_FOR_DEFAULT_LIMIT / 1024} KiB chunks + 16)
  --max-waiting-clients W   checked-in clients that may wait for a round at once; more are turned
                            away (UNAVAILABLE: retry later) (default 2N+64)
  --keepalive-ms MS         ping every connection this often; close it when the answer has not come
                            within as long again; 0: never (default ${SERVE_DEFAULTS.keepaliveMs})
  --unmask-workers W        worker threads that remove the masks at the end of a round, so the event
                            loop keeps serving (default: one per core, at most that; 0: inline)

network and security:
  --host HOST               address to bind (default ${SERVE_DEFAULTS.host})
  --port P                  port to bind; 0 picks a free one
  --tls-cert FILE --tls-key FILE   serve TLS with this PEM certificate (chain) and key
  --tls-client-ca FILE      require client certificates signed by this CA (mutual TLS); a client's
                            name is its certificate's subject CN
  --tokens FILE             JSON {"clientName": "token", ...}: a client must send
                            "authorization: Bearer <token>" and check in under its own name
  --insecure-plaintext-dev-only   allow plaintext on a non-loopback address (DEVELOPMENT ONLY:
                            anyone on the path can read and rewrite the protocol)
  Without TLS the coordinator serves only a loopback address; without --tokens or --tls-client-ca
  only a loopback address, with clients named by what they claim.

differential privacy (each round's noise is announced to the clients and bound into the round):
  --dp distributed|central  distributed: every client adds Skellam noise to its clipped, rotated
                            update, so the coordinator never sees an un-noised sum; central: clients
                            clip, the coordinator adds Gaussian noise to the unmasked sum. The
                            clients send real-valued updates of length D ('privagg client --dp').
  --clip C                  L2 clip norm of an update (required with --dp)
  --noise-multiplier Z      noise standard deviation / sensitivity (default: the least that keeps
                            R rounds within --target-epsilon)
  --target-epsilon E        the privacy budget: a round that would exceed it is not started
                            (required with --dp)
  --delta DELTA             delta of the budget (default 1e-5)
  --ledger FILE             the durable privacy ledger (SQLite), written before each result is
                            released; a restarted coordinator resumes from it (required with --dp)
  --adaptive-clip-quantile Q   let the clip norm follow the Q-quantile of update norms (Andrew et
                            al. 2021); the clipped-or-not bits are summed securely and noised
  A private round's JSON line has "sum" as the noisy sum of the clipped updates (real numbers),
  "epsilon" (cumulative), "clip" and, with adaptive clipping, "unclippedFraction".

monitoring (read-only HTTP: metrics and a live dashboard; never keys, shares, inputs or sums):
  --http-port P             serve / (the dashboard), /metrics, /state and /healthz on this port; 0
                            picks a free one, printed as "http on HOST:PORT" after "listening on"
  --http-host HOST          address to bind (default 127.0.0.1); another address needs
                            --http-token-file (the pages name clients and time their rounds)
  --http-token-file FILE    a file holding a token: /metrics and /state then need
                            "authorization: Bearer <token>"; open the dashboard as /#token=<token>

operator control (privagg.v1.AggregationControl, proto/privagg/v1/control.proto, on the same port):
  --control                 serve the control service: the operator defines each aggregation (the
                            cohort, vectors, graph, privacy), starts every round with a task and
                            streams the outcomes; the round flags above (--clients, --dim, --rounds,
                            --dp, ...) are refused, the operator's Define call sets them. Runs until
                            SIGINT/SIGTERM; --out, when given, gets every round's JSON line.
                            --server-model and --roster set the setting of every aggregation
  --control-token-file FILE   the operator's token (16..4096 printable characters): every control
                            call must send "authorization: Bearer <token>"; it never works as a
                            participant's, nor a participant's here (required with --control)
  --control-client-name NAME   with --tls-client-ca: control calls must also come with a client
                            certificate whose subject CN is NAME, which cannot take part in rounds
  --ledger-dir DIR          the folder private aggregations keep their ledgers in (their Define
                            names a file in it); without it a private aggregation is refused

other:
  --config FILE             JSON settings: the flags' names in camelCase ("minClients", ...), plus
                            "vectors": [{"name","length","bits"}] instead of dim, and
                            "stageTimeoutMs" as a number or {"advertise": MS, ...}; flags override it
  --log-level LEVEL         trace, debug, info, warn, error, fatal or silent (default ${SERVE_DEFAULTS.logLevel})`;

/** The JSON object written for one round (see the usage text and the README). */
export function outcomeRecord(outcome: RoundOutcome): Record<string, unknown> {
  const record: Record<string, unknown> = {
    round: outcome.round,
    status: outcome.status,
    survivors: [...outcome.survivors],
    dropped: { ...outcome.dropped },
  };
  if (outcome.status === 'ok' && outcome.release) {
    record['sum'] = Array.from(outcome.release.sum);
    if (outcome.release.unclippedFraction !== undefined) {
      record['unclippedFraction'] = outcome.release.unclippedFraction;
    }
  } else if (outcome.status === 'ok') {
    if (outcome.vectors.length === 1) {
      record['sum'] = Array.from(outcome.sums[0]!);
    } else {
      record['sums'] = Object.fromEntries(
        outcome.vectors.map((v, i) => [v.name, Array.from(outcome.sums[i]!)]),
      );
    }
  } else {
    record['reason'] = outcome.reason ?? 'aborted';
  }
  if (outcome.epsilon !== undefined) record['epsilon'] = outcome.epsilon;
  // Present only when a round had them, so that ordinary lines keep their fields.
  if (outcome.badShares) record['badShares'] = outcome.badShares;
  if (outcome.unreadableShares) record['unreadableShares'] = outcome.unreadableShares;
  if (outcome.refusals) record['refusals'] = { ...outcome.refusals };
  if (outcome.lostAfterMasked) record['lostAfterMasked'] = { ...outcome.lostAfterMasked };
  return record;
}

/** The human line printed on stdout for one round. */
export function outcomeSummary(outcome: RoundOutcome): string {
  const dropped = Object.keys(outcome.dropped).length;
  if (outcome.status === 'ok') {
    return `round ${outcome.round}: ok, ${outcome.survivors.length} clients in the sum, ${dropped} dropped`;
  }
  return `round ${outcome.round}: aborted, ${oneLine(outcome.reason ?? '')}`;
}

function parseFlags(argv: readonly string[]): Record<string, string | boolean | undefined> {
  return parseCommandLine(argv, serveParseArgsOptions()).values;
}

/** The server modules, imported once the settings are known to be usable. */
export async function loadModules() {
  const [grpc, auth, coordinator, health, listen, logging, tls, privacy, monitor, control, operator] =
    await Promise.all([
      import('@grpc/grpc-js'),
      import('../server/auth.ts'),
      import('../server/coordinator.ts'),
      import('../server/health.ts'),
      import('../server/listen.ts'),
      import('../server/logging.ts'),
      import('../server/tls.ts'),
      import('../server/privacy-setup.ts'),
      import('../server/monitor.ts'),
      import('../server/control-service.ts'),
      import('../server/operator-auth.ts'),
    ]);
  return { grpc, auth, coordinator, health, listen, logging, tls, privacy, monitor, control, operator };
}

export type Modules = Awaited<ReturnType<typeof loadModules>>;

/** Turns the setting modules' own errors into one-line command-line errors. */
export function asCliError<T>(f: () => T, m?: Modules): T {
  try {
    return f();
  } catch (error) {
    if (
      error instanceof ConfigError ||
      (m && error instanceof m.auth.AuthConfigError) ||
      (m && error instanceof m.tls.TransportConfigError) ||
      (m && error instanceof m.privacy.LedgerError) ||
      error instanceof RangeError // the core's ParameterError, and the coordinator's own checks
    ) {
      throw new CliError(oneLine(error.message));
    }
    throw error;
  }
}

export function checkHost(host: string, flag = '--host'): void {
  if (
    isIP(host) === 0 &&
    !/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
  ) {
    throw new CliError(`${flag} must be an IP address or a host name, got '${echo(host)}'`);
  }
}

/**
 * The monitoring server's token, read and checked before anything binds. A non-loopback
 * `--http-host` without one is refused, not warned about: the dashboard and /metrics name clients,
 * the stages they were lost at and how long rounds take, which is the coordinator's view of its
 * participants; as with the gRPC port (server/tls.ts), exposing it must be a deliberate choice.
 */
function httpToken(settings: ServeSettings): string | undefined {
  const http = settings.http!;
  checkHost(http.host, '--http-host');
  if (http.tokenFile === undefined) {
    if (!isLoopbackHost(http.host)) {
      throw new CliError(
        `--http-host ${echo(http.host)} is not a loopback address: give --http-token-file too (the ` +
          'dashboard and metrics name clients and time their rounds)',
      );
    }
    return undefined;
  }
  const shownPath = echo(http.tokenFile, ECHO_PATH_CHARS);
  let text: string;
  try {
    text = readFileSync(http.tokenFile, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read --http-token-file ${shownPath}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  // One trailing newline is what editors and `echo` add; anything else is part of the token or wrong.
  const token = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!/^[\x21-\x7e]{16,4096}$/.test(token)) {
    throw new CliError(
      `--http-token-file ${shownPath} must hold one token of 16 to 4096 printable ASCII characters without spaces`,
    );
  }
  return token;
}

/** The settings the transport and the participants' authentication are set up from. */
export type TransportSettings = Pick<
  ServeSettings,
  'host' | 'port' | 'tokens' | 'tlsCert' | 'tlsKey' | 'tlsClientCa' | 'insecurePlaintextDevOnly'
>;

/**
 * Reads and checks `--roster` (src/identity/roster.ts): one line naming the file and the entry at
 * fault. The keys in it are public; the file need not be secret, only trustworthy.
 */
async function loadRoster(path: string): Promise<ReadonlyMap<string, Uint8Array>> {
  const shown = `--roster ${echo(path, ECHO_PATH_CHARS)}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${shown}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const { parseRoster, RosterError } = await import('../identity/roster.ts');
  try {
    return parseRoster(text, shown).toMap();
  } catch (error) {
    if (error instanceof RosterError) throw new CliError(oneLine(error.message));
    throw error;
  }
}

/**
 * The setting's roster, read and checked (`--roster`), and the warning a semi-honest setting with one
 * deserves — alike for `privagg serve` and `privagg serve --control`.
 */
export async function loadSetting(settings: {
  readonly serverModel: ServerModel;
  readonly roster?: string;
}): Promise<{ roster?: ReadonlyMap<string, Uint8Array>; warnings: string[] }> {
  if (settings.roster === undefined) return { warnings: [] };
  const roster = await loadRoster(settings.roster);
  const warnings =
    settings.serverModel === 'semi-honest'
      ? [
          'semi-honest with --roster: the roster only lists the names allowed to check in; nothing is signed, ' +
            'so neither the names nor the keys the coordinator relays are verified (use --server-model malicious)',
        ]
      : [];
  return { roster, warnings };
}

/** Everything checked and loaded before the server binds. */
export interface Prepared {
  readonly settings: TransportSettings;
  readonly tokens: TokenTable | undefined;
  readonly tls: ServerTls | undefined;
  readonly warnings: readonly string[];
}

export function prepare(settings: TransportSettings, m: Modules): Prepared {
  const tokens =
    settings.tokens === undefined ? undefined : asCliError(() => m.auth.loadTokens(settings.tokens!), m);
  const tls =
    settings.tlsCert === undefined
      ? undefined
      : asCliError(
          () =>
            m.tls.loadServerTls({
              cert: settings.tlsCert!,
              key: settings.tlsKey!,
              clientCa: settings.tlsClientCa,
            }),
          m,
        );
  const warnings = asCliError(
    () =>
      m.tls.checkServerTransport({
        address: formatHostPort(settings.host, settings.port),
        loopback: isLoopbackHost(settings.host),
        tls: tls !== undefined,
        mutualTls: tls?.mutual ?? false,
        tokens: tokens !== undefined,
        insecurePlaintextDevOnly: settings.insecurePlaintextDevOnly,
      }),
    m,
  );
  if (tokens && tokens.shortTokens.length > 0) {
    warnings.push(
      `the tokens of ${tokens.shortTokens.length} client(s) are shorter than ${m.auth.SHORT_TOKEN_CHARS} characters ` +
        'and may be guessable',
    );
  }
  if (tokens?.readableByOthers)
    warnings.push(`the tokens file ${settings.tokens} is readable by other users`);
  if (tls && Date.parse(tls.certificate.validTo) < Date.now()) {
    warnings.push(`the TLS certificate ${settings.tlsCert} expired on ${tls.certificate.validTo}`);
  }
  return { settings, tokens, tls, warnings };
}

async function run(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags['control'] === true) {
    const { runControl } = await import('./serve-control.ts');
    return runControl(asCliError(() => resolveControlSettings(flags)));
  }
  const settings = asCliError(() => resolveServeSettings(flags));
  checkHost(settings.host);
  const setting = await loadSetting(settings);
  const roster = setting.roster;
  const m = await loadModules();
  const prepared = prepare(settings, m);
  const { tokens, tls } = prepared;
  const warnings = [...prepared.warnings, ...setting.warnings];
  const httpTokenValue = settings.http && httpToken(settings);
  if (settings.http && !isLoopbackHost(settings.http.host)) {
    warnings.push(
      `the monitoring server on ${settings.http.host} is plain HTTP: its bearer token crosses the network in clear`,
    );
  }
  const logger = m.logging.createLogger(settings.logLevel);
  // grpc-js writes its own errors to the console; route them into the logs (what matters is
  // reported by privagg itself, e.g. a port in use), so stderr stays JSON lines and one-line reasons.
  m.grpc.setLogger({ error: (...args: unknown[]) => logger.debug({ grpc: format(...args) }, 'grpc-js') });
  const privacy =
    settings.privacy && asCliError(() => m.privacy.setUpPrivacy(settings, settings.privacy!), m);
  // A ledger with no budget left for another round: say so and stop, without binding or waiting for
  // clients only to refuse them (the same line and status as a run the budget stops midway).
  const refusal = privacy?.budgetRefusal();
  if (refusal !== undefined) {
    logger.error({ reason: refusal }, 'privacy budget exhausted: not starting');
    console.log(`stopped: ${oneLine(refusal)}`);
    privacy!.ledger.close();
    return 0;
  }
  const monitor =
    settings.http &&
    new m.monitor.Monitor(
      privacy
        ? { privacy: { budget: settings.privacy!.targetEpsilon, spent: privacy.ledger.spent().epsilon } }
        : {},
    );
  const coordinator = asCliError(
    () =>
      new m.coordinator.Coordinator(coordinatorConfig(settings, roster), {
        logger,
        authenticate: m.auth.makeAuthenticate({ tokens, clientCertificates: tls?.mutual ?? false }),
        ...(privacy && { planner: privacy.planner, privacy: privacy.accounting }),
        ...(monitor && { observer: monitor.observer }),
      }),
    m,
  );
  monitor?.attach(coordinator);
  let out: number;
  try {
    out = openSync(settings.out, 'a');
  } catch (error) {
    throw new CliError(
      `cannot open --out ${echo(settings.out, ECHO_PATH_CHARS)}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  const health = new m.health.HealthService(['privagg.v1.SecureAggregation'], 'SERVING');
  let listening: Awaited<ReturnType<Modules['listen']['listen']>>;
  try {
    listening = await m.listen.listen({
      address: formatHostPort(settings.host, settings.port),
      credentials: tls?.credentials ?? m.grpc.ServerCredentials.createInsecure(),
      maxReceiveMessageBytes: maxReceiveMessageBytes(settings.clients),
      keepaliveMs: settings.keepaliveMs,
      coordinator,
      health,
    });
  } catch (error) {
    closeSync(out);
    if (error instanceof m.listen.ListenError) {
      console.error(`privagg: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { server, port } = listening;
  const address = formatHostPort(settings.host, port);
  console.log(`listening on ${address}`);
  if (monitor) {
    const http = settings.http!;
    try {
      const httpPort = await monitor.listen(http.host, http.port, httpTokenValue);
      console.log(`http on ${formatHostPort(http.host, httpPort)}`);
    } catch (error) {
      console.error(
        `privagg: cannot serve http on ${formatHostPort(http.host, http.port)}: ${(error as NodeJS.ErrnoException).code ?? oneLine(String(error))}`,
      );
      coordinator.close();
      server.forceShutdown();
      await monitor.close();
      closeSync(out);
      return 1;
    }
  }

  for (const warning of warnings) logger.warn(warning);
  logger.info(
    {
      address,
      tls: tls === undefined ? 'off' : tls.mutual ? 'mutual' : 'server',
      auth: tokens ? (tls?.mutual ? 'tokens+certificates' : 'tokens') : tls?.mutual ? 'certificates' : 'off',
      serverModel: settings.serverModel,
      ...(roster && { rosterClients: roster.size }),
      clients: settings.clients,
      minClients: settings.minClients,
      threshold: settings.threshold,
      ...(settings.graphPlans && { graph: settings.graphPlans.map((p) => p.summary) }),
      vectors: settings.vectors.map((v) => `${v.name}[${v.length}]/${v.bits}`),
      rounds: settings.rounds,
      ...(privacy && {
        dp: settings.privacy!.mechanism,
        noiseMultiplier: privacy.noiseMultiplier,
        calibrated: privacy.calibrated,
        epsilonSpent: privacy.ledger.spent().epsilon,
        targetEpsilon: settings.privacy!.targetEpsilon,
      }),
    },
    'coordinator listening',
  );

  const signals = shutdownOnSignals(logger, server, health, () => {
    coordinator.close();
    // No new connections from here on; calls in progress get the grace period, then are cancelled.
    return m.listen.shutdown(server, SHUTDOWN_GRACE_MS);
  });

  let written = 0;
  const record = (outcome: RoundOutcome) => {
    writeSync(out, `${JSON.stringify(outcomeRecord(outcome))}\n`);
    fsyncSync(out);
    written = outcome.round;
    console.log(outcomeSummary(outcome));
  };
  const running = coordinator.run();
  for await (const outcome of coordinator.outcomes()) record(outcome);
  await running;
  // A round still running when a signal closed the coordinator ends after outcomes() has: catch it.
  for await (const outcome of coordinator.outcomes()) if (outcome.round > written) record(outcome);

  if (coordinator.budgetStop !== undefined) console.log(`stopped: ${oneLine(coordinator.budgetStop)}`);
  privacy?.ledger.close();
  health.setAll('NOT_SERVING');
  health.shutdown();
  await (signals.stopping ?? m.listen.shutdown(server, 2_000));
  await monitor?.close();
  signals.detach();
  closeSync(out);
  const signalled = signals.signalled;
  if (signalled !== undefined) {
    logger.info({ signal: signalled, rounds: written, ...resourcesUsed() }, 'stopped');
    return 128 + constants.signals[signalled];
  }
  logger.info({ rounds: written, ...resourcesUsed() }, 'all rounds done');
  return 0;
}

/** What {@link shutdownOnSignals} reports. */
export interface ShutdownSignals {
  /** The first signal received, if any. */
  readonly signalled: NodeJS.Signals | undefined;
  /** The graceful stop the first signal started, if any. */
  readonly stopping: Promise<unknown> | undefined;
  /** Resolves with the first signal once the stop it started is over. */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Removes the handlers. */
  detach(): void;
}

/**
 * SIGINT and SIGTERM for a serving process (`serve`, `serve --control`): the first signal marks the
 * services NOT_SERVING and starts `stop` (a graceful stop within {@link SHUTDOWN_GRACE_MS}); a second
 * cancels every call at once.
 */
export function shutdownOnSignals(
  logger: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void },
  server: { forceShutdown(): void },
  health: { setAll(status: 'NOT_SERVING'): void },
  stop: () => Promise<unknown>,
): ShutdownSignals {
  let signalled: NodeJS.Signals | undefined;
  let stopping: Promise<unknown> | undefined;
  let stoppedWith!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    stoppedWith = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== undefined) {
      logger.warn({ signal }, 'second signal: cancelling every call now');
      server.forceShutdown();
      return;
    }
    signalled = signal;
    logger.info(
      { signal, graceMs: SHUTDOWN_GRACE_MS },
      'shutting down: no new rounds; the active round, if any, may finish',
    );
    health.setAll('NOT_SERVING');
    stopping = stop();
    void stopping.then(() => stoppedWith(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get signalled() {
      return signalled;
    },
    get stopping() {
      return stopping;
    },
    stopped,
    detach() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The process's CPU time and peak resident memory (unmask worker threads included), for the log. */
export function resourcesUsed(): { cpuMs: number; peakRssMiB: number } {
  const usage = process.resourceUsage();
  return {
    cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
    peakRssMiB: Math.round(usage.maxRSS / 1024),
  };
}

/** The `privagg serve` command. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the secure aggregation coordinator over gRPC; one JSON line per round',
  usage,
  run,
};
