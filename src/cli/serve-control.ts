/**
 * `privagg serve --control`: the coordinator with no fixed aggregation. The operator defines each one
 * through the control service (server/control-service.ts) on the same port, starts its rounds and
 * receives their outcomes; participants check in as they would with `privagg serve`.
 *
 * Output, as without `--control`: `listening on HOST:PORT` first, then one summary line per round
 * (and a line when an aggregation is defined or ends); with `--out FILE`, each round's JSON line
 * (cli/serve.ts `outcomeRecord`). Runs until SIGINT/SIGTERM: the active round gets the grace period
 * to finish (a second signal stops at once), then it exits 130/143.
 * @module
 */
import { closeSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { format } from 'node:util';
import { type ControlServeSettings, maxReceiveMessageBytes } from '../server/config.ts';
import { MAX_CLIENTS } from '../server/limits.ts';
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { formatHostPort } from './address.ts';
import { CliError } from './command.ts';
import {
  asCliError,
  checkHost,
  loadModules,
  loadSetting,
  outcomeRecord,
  outcomeSummary,
  prepare,
  resourcesUsed,
  SHUTDOWN_GRACE_MS,
  shutdownOnSignals,
} from './serve.ts';
import { oneLine } from './text.ts';

/** The control service's name, as the health service reports it. */
const CONTROL_SERVICE = 'privagg.v1.AggregationControl';

function checkLedgerDir(path: string): void {
  const shown = echo(path, ECHO_PATH_CHARS);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new CliError(`cannot use --ledger-dir ${shown}: ${(error as NodeJS.ErrnoException).code}`);
  }
  if (!isDirectory) throw new CliError(`--ledger-dir ${shown} is not a directory`);
}

/** Runs `privagg serve --control` with checked settings; resolves with the exit status. */
export async function runControl(settings: ControlServeSettings): Promise<number> {
  checkHost(settings.host);
  if (settings.ledgerDir !== undefined) checkLedgerDir(settings.ledgerDir);
  const setting = await loadSetting(settings);
  const m = await loadModules();
  const prepared = prepare(settings, m);
  const { tokens, tls } = prepared;
  const warnings = [...prepared.warnings, ...setting.warnings];
  const operator = asCliError(
    () => m.operator.loadOperatorCredentials(settings.controlTokenFile, tokens, settings.controlClientName),
    m,
  );
  if (operator.readableByOthers) {
    warnings.push(`the control token file ${settings.controlTokenFile} is readable by other users`);
  }
  const logger = m.logging.createLogger(settings.logLevel);
  m.grpc.setLogger({ error: (...args: unknown[]) => logger.debug({ grpc: format(...args) }, 'grpc-js') });

  let out: number | undefined;
  if (settings.out !== undefined) {
    try {
      out = openSync(settings.out, 'a');
    } catch (error) {
      throw new CliError(
        `cannot open --out ${echo(settings.out, ECHO_PATH_CHARS)}: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
  }
  const control = new m.control.ControlService({
    logger,
    operator,
    aggregations: {
      logger,
      authenticate: m.operator.refuseOperator(
        m.auth.makeAuthenticate({ tokens, clientCertificates: tls?.mutual ?? false }),
        operator,
      ),
      ...(settings.ledgerDir !== undefined && { ledgerDir: settings.ledgerDir }),
      ...(settings.unmaskWorkers !== undefined && { unmaskWorkers: settings.unmaskWorkers }),
      serverModel: settings.serverModel,
      ...(setting.roster && { identities: setting.roster }),
    },
    onEvent: (aggregation, event) => {
      const name = aggregation.definition.name;
      if (event.kind === 'outcome') {
        if (out !== undefined) {
          writeSync(out, `${JSON.stringify(outcomeRecord(event.outcome))}\n`);
          fsyncSync(out);
        }
        console.log(`${name}: ${outcomeSummary(event.outcome)}`);
      } else {
        console.log(`${name}: ended (${event.end.reason}): ${oneLine(event.end.detail)}`);
      }
    },
  });
  const health = new m.health.HealthService(['privagg.v1.SecureAggregation', CONTROL_SERVICE], 'SERVING');
  let listening: Awaited<ReturnType<typeof m.listen.listen>>;
  try {
    listening = await m.listen.listen({
      address: formatHostPort(settings.host, settings.port),
      credentials: tls?.credentials ?? m.grpc.ServerCredentials.createInsecure(),
      // The cohort is not known yet: room for the largest cohort's share messages, which is also room
      // for a StartRound with an 8 MiB task.
      maxReceiveMessageBytes: maxReceiveMessageBytes(MAX_CLIENTS.max),
      keepaliveMs: settings.keepaliveMs,
      coordinator: { handleParticipate: control.participate },
      health,
      services: [{ definition: m.control.controlServiceDefinition, implementation: control.implementation }],
    });
  } catch (error) {
    if (out !== undefined) closeSync(out);
    if (error instanceof m.listen.ListenError) {
      console.error(`privagg: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { server, port } = listening;
  const address = formatHostPort(settings.host, port);
  console.log(`listening on ${address}`);
  for (const warning of warnings) logger.warn(warning);
  logger.info(
    {
      address,
      tls: tls === undefined ? 'off' : tls.mutual ? 'mutual' : 'server',
      auth: tokens ? (tls?.mutual ? 'tokens+certificates' : 'tokens') : tls?.mutual ? 'certificates' : 'off',
      control: settings.controlClientName === undefined ? 'token' : 'token+certificate',
      ledgerDir: settings.ledgerDir ?? 'none (private aggregations refused)',
      serverModel: settings.serverModel,
    },
    'coordinator listening for its operator',
  );

  // The aggregation ends (its last events go out), then the server, within the grace period.
  const signals = shutdownOnSignals(logger, server, health, () =>
    Promise.all([control.shutdown(), m.listen.shutdown(server, SHUTDOWN_GRACE_MS)]),
  );
  const signalled = await signals.stopped;
  signals.detach();
  health.shutdown();
  if (out !== undefined) closeSync(out);
  logger.info({ signal: signalled, ...resourcesUsed() }, 'stopped');
  return 128 + constants.signals[signalled];
}
