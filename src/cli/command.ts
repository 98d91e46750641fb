/** What every `privagg` subcommand module exports, and the error type for bad command-line input. */

export interface Command {
  readonly name: string;
  /** One line for `privagg --help`. */
  readonly summary: string;
  /** Full usage text for `privagg <name> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** Thrown for bad command-line input; printed as `privagg: <message>` with exit code 2. */
export class CliError extends Error {
  override name = 'CliError';
}
