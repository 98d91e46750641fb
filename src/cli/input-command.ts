/**
 * `privagg client --input-command CMD`: the client's input computed per round from the round's task,
 * by a program of the operator's choosing (local training, in any language). For each round the
 * client runs `/bin/sh -c CMD` with the task's bytes on its standard input (nothing when the round has
 * no task) and `PRIVAGG_ROUND` / `PRIVAGG_CLIENT_ID` in its environment, and reads the input from its
 * standard output: the same JSON as an `--input` file. The task has already been checked against the
 * digest bound into the round (PROTOCOL.md §2.1) when the command sees it.
 *
 * The command runs after the round is announced and before the advertise stage answers, so it must
 * finish within the coordinator's stage deadline. Its standard error is kept (the last 4 KiB) and its
 * last line is repeated only when it fails, so the client's own stderr stays one line per failure.
 * @module
 */
import { spawn } from 'node:child_process';
import { echo } from '../text/echo.ts';
import { JsonTextError, parseJson } from '../text/json.ts';
import { CliError } from './command.ts';

/** Largest standard output read from the command (a 2^27-number update as JSON is ~2.5 GB: too much). */
export const MAX_INPUT_COMMAND_OUTPUT_BYTES = 512 << 20;

const STDERR_TAIL_BYTES = 4096;

/** What the command is told about the round. */
export interface InputCommandRound {
  readonly round: number;
  readonly clientId: number;
  readonly task?: Uint8Array;
}

/**
 * Runs the command for one round and parses what it printed.
 * @returns the parsed JSON (checked by the caller as an `--input` file's content)
 * @throws CliError when it cannot start, exits with another status than 0, prints too much, or prints
 *   something that is not JSON
 */
export function runInputCommand(
  command: string,
  round: InputCommandRound,
  maxOutputBytes = MAX_INPUT_COMMAND_OUTPUT_BYTES,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PRIVAGG_ROUND: String(round.round), PRIVAGG_CLIENT_ID: String(round.clientId) },
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = Buffer.alloc(0);
    let failed: CliError | undefined;
    const fail = (message: string) => {
      failed ??= new CliError(`--input-command (round ${round.round}): ${message}`);
      child.kill('SIGKILL');
    };
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxOutputBytes) fail(`printed more than ${maxOutputBytes} bytes`);
      else chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const all = Buffer.concat([stderr, chunk]);
      stderr = all.subarray(Math.max(0, all.length - STDERR_TAIL_BYTES));
    });
    // A command that does not read its standard input closes it early: not an error of ours.
    child.stdin.on('error', () => {});
    child.stdin.end(round.task ?? Buffer.alloc(0));
    child.on('error', (error: NodeJS.ErrnoException) => fail(`cannot run: ${error.code ?? error.message}`));
    child.on('close', (code, signal) => {
      if (failed) return reject(failed);
      if (code !== 0) {
        const lines = stderr.toString('utf8').trimEnd().split('\n');
        const last = lines.at(-1) ?? '';
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        return reject(
          new CliError(`--input-command (round ${round.round}) ${how}${last ? `: ${echo(last, 200)}` : ''}`),
        );
      }
      try {
        resolve(parseJson(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        if (!(error instanceof JsonTextError)) return reject(error);
        reject(
          new CliError(`--input-command (round ${round.round}) printed no valid JSON: ${error.message}`),
        );
      }
    });
  });
}
