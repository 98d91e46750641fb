/**
 * The coordinator's structured logs: pino, one JSON object per line, on stderr (stdout is for the
 * `listening on …` line and the per-round summaries). Log records carry client names, stages, counts
 * and reasons only; keys, seeds, shares, vectors and tokens never reach a log call, and the paths
 * below are redacted as a second line of defence.
 * @module
 */
import { destination, type Logger, pino } from 'pino';

/** The levels `--log-level` accepts, most to least verbose. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** True when `value` names a {@link LOG_LEVELS} level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * A logger writing synchronously to stderr (so nothing is lost when the process exits right after
 * a record).
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      name: 'privagg',
      level,
      redact: {
        paths: ['authorization', 'token', 'tokens', '*.authorization', '*.token', 'metadata'],
        censor: '[redacted]',
      },
    },
    destination({ dest: 2, sync: true }),
  );
}
