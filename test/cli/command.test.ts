/**
 * The flag parser every `privagg` subcommand shares (src/cli/command.ts): a negative number after a
 * flag that takes a value is that value (so the flag's own check can say what is wrong with it),
 * and the parser's own errors are one escaped, bounded line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, parseCommandLine } from '../../src/cli/command.ts';

const options = { threshold: { type: 'string' }, dp: { type: 'boolean' }, out: { type: 'string' } } as const;

describe('parseCommandLine', () => {
  it('takes a negative number after a string flag as its value', () => {
    for (const value of ['-1', '-0.5', '-.5', '-1e3', '-Infinity']) {
      assert.deepEqual({ ...parseCommandLine(['--threshold', value], options).values }, { threshold: value });
    }
    assert.deepEqual(
      { ...parseCommandLine(['--threshold=-1', '--dp'], options).values },
      {
        threshold: '-1',
        dp: true,
      },
    );
  });

  it('still refuses a flag where a value should be, and a negative number after a boolean flag', () => {
    assert.throws(
      () => parseCommandLine(['--out', '--dp'], options),
      (error: unknown) => error instanceof CliError && /argument is ambiguous/.test(error.message),
    );
    assert.throws(() => parseCommandLine(['--dp', '-1'], options), CliError);
    assert.throws(() => parseCommandLine(['--threshold'], options), CliError);
  });

  it('reports an unknown flag on one escaped, bounded line', () => {
    for (const flag of [`--x\u001b[2J\n${'y'.repeat(1000)}`, `--x\u001b[2J${'y'.repeat(1000)}`]) {
      assert.throws(
        () => parseCommandLine([flag], options),
        (error: unknown) =>
          error instanceof CliError &&
          error.message.startsWith("Unknown option '--x\\u001b[2J") &&
          // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none remain is the point
          !/[\u0000-\u001f]/.test(error.message) &&
          error.message.length <= 201,
      );
    }
  });

  it('allows positionals only when asked', () => {
    assert.throws(() => parseCommandLine(['privacy'], options), CliError);
    assert.deepEqual(parseCommandLine(['privacy'], options, true).positionals, ['privacy']);
  });
});
