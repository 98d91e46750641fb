/**
 * What every `privagg` subcommand module exports, the error type for bad command-line input, and the
 * flag parser they share.
 * @module
 */
import { parseArgs } from 'node:util';
import { echo } from '../text/echo.ts';

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

/** A flag's type, as `node:util` `parseArgs` takes it. */
export type FlagOptions = Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;

/** What {@link parseCommandLine} returns. */
export interface CommandLine {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** How much of a parser message (which quotes the offending argument) is repeated. */
const PARSER_MESSAGE_CHARS = 200;

/**
 * A value that is a negative number (`-1`, `-0.5`, `-.5`, `-1e3`, `-Infinity`): what a user means
 * after a flag that takes a value, never a flag of its own (no privagg flag starts with a digit).
 */
const NEGATIVE_NUMBER = /^-(?:\d|\.\d|Infinity$)/;

/**
 * Parses `argv` strictly (unknown flags, missing values and, unless allowed, stray arguments are
 * errors). A negative number after a flag that takes a value is that flag's value: `parseArgs` on its
 * own refuses `--threshold -1` as "argument is ambiguous", which hides the real problem; this way the
 * flag's own check says what is wrong with -1.
 * @param argv - the arguments after the subcommand's name
 * @param options - the flags and their types
 * @param allowPositionals - whether arguments other than flags are allowed (default false)
 * @throws CliError with the parser's first line, escaped and bounded (it quotes the argument)
 */
export function parseCommandLine(
  argv: readonly string[],
  options: FlagOptions,
  allowPositionals = false,
): CommandLine {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const flag = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    if (flag?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: options as Record<string, { type: 'string' | 'boolean' }>,
      strict: true,
      allowPositionals,
    });
    return { values, positionals };
  } catch (error) {
    // parseArgs reports unknown flags, missing values and stray arguments as TypeErrors.
    throw new CliError(echo((error as Error).message.split('\n')[0]!, PARSER_MESSAGE_CHARS));
  }
}
