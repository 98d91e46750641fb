/**
 * The `privagg` command: dispatches to one module per subcommand. Each subcommand module exports a
 * `Command` (./command.ts); a bad argument prints a one-line reason and exits non-zero.
 * @module
 */
import { echo } from '../text/echo.ts';
import { CliError } from './command.ts';
import { commands } from './commands.ts';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: privagg <command> [options]',
    '',
    'Secure aggregation with differential privacy for federated learning.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'privagg <command> --help' for a command's options.",
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new CliError(`unknown command '${echo(name)}' (see privagg --help)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof CliError) {
    console.error(`privagg: ${error.message}`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
