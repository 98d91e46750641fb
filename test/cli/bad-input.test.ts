/**
 * Bad input to `privagg client` and `privagg serve`: a non-zero exit and exactly one line on stderr
 * saying why. The common cases run as processes (the exit status and the single line are the
 * contract); the rest call the commands in-process, where a bad argument is a thrown CliError.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clientCommand } from '../../src/cli/client.ts';
import { CliError } from '../../src/cli/command.ts';
import { serveCommand } from '../../src/cli/serve.ts';
import { freePort, lines, privagg, type Run, scratch } from './procs.ts';

const tmp = scratch();
after(() => tmp.cleanup());

function assertOneLine(run: Run, status: number, pattern: RegExp): void {
  assert.equal(run.status, status, run.stderr);
  assert.equal(run.stdout, '');
  assert.equal(lines(run.stderr).length, 1, run.stderr);
  assert.match(run.stderr, pattern);
}

describe('bad input, as processes', { concurrency: true }, () => {
  it('client: a missing input file, values out of range, an unreachable server', async () => {
    const port = await freePort();
    const server = `127.0.0.1:${port}`;
    const client = (input: string, ...more: string[]) =>
      privagg('client', '--server', server, '--id', 'x', '--input', input, ...more);
    const big = tmp.file('big.json', '[1, 4294967296]');
    const negative = tmp.file('negative.json', '[-1]');
    const fraction = tmp.file('fraction.json', '[0, 1, 1.5]');
    const good = tmp.file('good.json', [1, 2, 3]);
    // 5,000 levels: a stack overflow (and a stack trace, exit 1) when the message was built.
    const nested = tmp.file('nested.json', `${'['.repeat(5000)}${']'.repeat(5000)}`);
    const [missing, tooBig, neg, frac, unreachable, deep] = await Promise.all([
      client(`${tmp.dir}/nope.json`),
      client(big),
      client(negative),
      client(fraction),
      client(good, '--retries', '1', '--retry-delay-ms', '10'),
      client(nested),
    ]);
    assertOneLine(deep, 2, /^privagg: --input .*nested\.json is nested more than 64 levels deep$/m);
    assertOneLine(missing, 2, /^privagg: cannot read --input .*nope\.json: ENOENT$/m);
    assertOneLine(
      tooBig,
      2,
      /^privagg: --input .*big\.json\[1\] is 4294967296: not an integer in \[0, 2\^32\)$/m,
    );
    assertOneLine(neg, 2, /^privagg: --input .*negative\.json\[0\] is -1: not an integer in \[0, 2\^32\)$/m);
    assertOneLine(
      frac,
      2,
      /^privagg: --input .*fraction\.json\[2\] is 1\.5: not an integer in \[0, 2\^32\)$/m,
    );
    assertOneLine(
      unreachable,
      1,
      new RegExp(
        `^privagg: round 1: cannot reach the coordinator at 127\\.0\\.0\\.1:${port} \\(2 attempts\\): UNAVAILABLE`,
        'm',
      ),
    );
  });

  it('serve: a threshold below the minimum, plaintext or no authentication off loopback, a port in use', async () => {
    const out = `${tmp.dir}/serve.jsonl`;
    const base = ['serve', '--port', '0', '--dim', '4', '--out', out];
    const blocker = await import('node:net').then(({ createServer }) => createServer());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const [low, plaintext, noAuth, inUse] = await Promise.all([
        privagg(...base, '--clients', '5', '--threshold', '1'),
        privagg(...base, '--clients', '5', '--host', '0.0.0.0'),
        privagg(...base, '--clients', '5', '--host', '0.0.0.0', '--insecure-plaintext-dev-only'),
        privagg('serve', '--port', String(taken), '--clients', '2', '--dim', '1', '--out', out),
      ]);
      assertOneLine(low, 2, /^privagg: threshold 1 is below the semi-honest minimum 3 for n=5/m);
      assertOneLine(
        plaintext,
        2,
        /^privagg: refusing plaintext on 0\.0\.0\.0:0, which is not a loopback address/m,
      );
      assertOneLine(noAuth, 2, /^privagg: refusing to serve 0\.0\.0\.0:0, .* without client authentication/m);
      assertOneLine(
        inUse,
        1,
        new RegExp(`^privagg: cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`, 'm'),
      );
    } finally {
      blocker.close();
    }
  });
});

describe('bad input, in-process', () => {
  const cliError = (pattern: RegExp) => (error: unknown) =>
    error instanceof CliError && pattern.test(error.message);

  it('client: malformed flags and input files are refused before connecting', async () => {
    const good = tmp.file('ok.json', [1, 2]);
    const run = (...args: string[]) => clientCommand.run(args);
    const base = ['--server', '127.0.0.1:1', '--id', 'x'];
    await assert.rejects(run('--id', 'x', '--input', good), cliError(/^missing --server/));
    await assert.rejects(run('--server', '127.0.0.1:1', '--input', good), cliError(/^missing --id/));
    await assert.rejects(run(...base), cliError(/^missing --input/));
    await assert.rejects(run('--server', 'nohost', '--id', 'x', '--input', good), cliError(/HOST:PORT/));
    await assert.rejects(
      run('--server', '127.0.0.1:0', '--id', 'x', '--input', good),
      cliError(/\[1, 65535\]/),
    );
    await assert.rejects(
      run('--server', '[nothex]:1', '--id', 'x', '--input', good),
      cliError(/not an IPv6/),
    );
    await assert.rejects(run('--server', '127.0.0.1:1', '--id', '', '--input', good), cliError(/1\.\.255/));
    await assert.rejects(run(...base, '--input', good, '--bogus'), cliError(/bogus/));
    await assert.rejects(
      run(...base, '--input', good, '--fail-at', 'reveal'),
      cliError(/^--fail-at must be one of advertise, share, masked, consistency, unmask, got 'reveal'$/),
    );
    await assert.rejects(
      run(...base, '--input', good, '--rounds', '0'),
      cliError(/--rounds must be an integer >= 1/),
    );
    await assert.rejects(run(...base, '--input', good, '--rounds', '1.5'), cliError(/--rounds/));
    // A negative number is the flag's value, refused by the flag's own check ("argument is ambiguous"
    // from the parser said nothing about the value).
    await assert.rejects(
      run(...base, '--input', good, '--retries', '-1'),
      cliError(/^--retries must be an integer >= 0, got '-1'$/),
    );
    await assert.rejects(
      run(...base, '--input', good, '--dp', '--min-noise-multiplier', '-0.5'),
      cliError(/^--min-noise-multiplier must be a number > 0, got '-0\.5'$/),
    );
    await assert.rejects(
      run(...base, '--input', good, '--fail-at', `x\u001b[2J${'y'.repeat(100)}`),
      cliError(/got 'x\\u001b\[2Jy+…'$/),
    );
    await assert.rejects(
      run(...base, '--input', good, '--token', 'a', '--token-file', good),
      cliError(/not both/),
    );
    await assert.rejects(run(...base, '--input', good, '--token', 'has space'), cliError(/visible ASCII/));
    await assert.rejects(
      run(...base, '--input', good, '--insecure-plaintext-dev-only', '--tls-ca', good),
      cliError(/contradicts --tls-ca/),
    );
    await assert.rejects(run(...base, '--input', good, '--tls-cert', good), cliError(/together/));
    for (const [content, pattern] of [
      ['[1, "2"]', /\[1\] is "2": not an integer/],
      ['[1, null]', /\[1\] is null/],
      // JSON.parse reads 1e400 as Infinity (which JSON.stringify would show as null).
      ['[1e400]', /\[0\] is Infinity \(a number too large for a double\): not a finite number$/],
      ['[1, -1e999]', /\[1\] is -Infinity \(a number too large for a double\): not a finite number$/],
      ['[1, [2]]', /\[1\] is an array: not an integer/],
      [`[1, "${'z'.repeat(500)}"]`, new RegExp(`\\[1\\] is "${'z'.repeat(64)}…": not an integer`)],
      [`{"a\\u001b[2J": [1, -2]}`, /"a\\u001b\[2J"\[1\] is -2/],
      [`${'['.repeat(5000)}${']'.repeat(5000)}`, /is nested more than 64 levels deep$/],
      [`{"sum": ${'['.repeat(100)}${']'.repeat(100)}}`, /is nested more than 64 levels deep$/],
      ['{"sum": [1, -2]}', /"sum"\[1\] is -2/],
      ['{}', /empty object/],
      ['42', /must be a JSON array/],
      ['[1, 2', /not valid JSON/],
    ] as const) {
      const path = tmp.file('bad.json', content);
      await assert.rejects(run(...base, '--input', path), cliError(pattern), content);
    }
  });

  it('serve: missing or malformed settings are refused before binding', async () => {
    const out = `${tmp.dir}/inproc.jsonl`;
    const run = (...args: string[]) => serveCommand.run(args);
    const base = ['--port', '0', '--dim', '4', '--out', out];
    await assert.rejects(run('--port', '0', '--dim', '4', '--clients', '3'), cliError(/^missing --out/));
    await assert.rejects(run('--dim', '4', '--out', out, '--clients', '3'), cliError(/^missing --port/));
    await assert.rejects(run('--port', '0', '--out', out, '--clients', '3'), cliError(/^missing --dim/));
    await assert.rejects(run(...base), cliError(/^missing --clients/));
    await assert.rejects(run(...base, '--clients', '1'), cliError(/at least 2/));
    for (const [flag, value] of [
      ['--threshold', '-1'],
      ['--clients', '-3'],
      ['--port', '-5'],
      ['--dim', '-1e3'],
    ]) {
      await assert.rejects(
        run(...base, '--clients', '5', flag!, value!),
        cliError(new RegExp(`^${flag} must be an integer in \\[\\d+, \\d+\\], got '${value}'$`)),
        `${flag} ${value}`,
      );
    }
    await assert.rejects(
      run(...base, '--clients', '5', '--dp', 'central', '--clip', '-1'),
      cliError(/^--clip must be a finite number > 0, got '-1'$/),
    );
    await assert.rejects(run(...base, '--clients', '3', '--min-clients', '4'), cliError(/exceeds --clients/));
    await assert.rejects(
      run(...base, '--clients', '5', '--threshold', '6'),
      cliError(/threshold 6 exceeds min clients 5/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--max-corrupt-clients', '3', '--threshold', '3'),
      cliError(/below the semi-honest minimum 4/),
    );
    // 2t > n: a coordinator lying about who dropped must not be able to reach t twice.
    await assert.rejects(
      run(...base, '--clients', '6', '--threshold', '3'),
      cliError(/threshold 3 is below the semi-honest minimum 4 for n=6.*two disjoint survivor views/),
    );
    // The default threshold is capped at M, which must then exceed N/2 as well.
    await assert.rejects(
      run(...base, '--clients', '10', '--min-clients', '4'),
      cliError(/threshold 4 is below the semi-honest minimum 6 for n=10/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--server-model', 'malicious'),
      cliError(/^--server-model malicious needs --roster FILE/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--port', '70000'),
      cliError(/--port must be an integer in \[0, 65535\]/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--stage-timeout-ms', '0'),
      cliError(/--stage-timeout-ms/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--log-level', 'loud'),
      cliError(/--log-level must be one of/),
    );
    await assert.rejects(run(...base, '--clients', '5', '--host', 'a b'), cliError(/--host must be/));
    await assert.rejects(run(...base, '--clients', '5', '--tls-cert', out), cliError(/together/));
    await assert.rejects(
      run(...base, '--clients', '5', '--tls-client-ca', out),
      cliError(/needs --tls-cert/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--tokens', `${tmp.dir}/none.json`),
      cliError(/ENOENT/),
    );
    await assert.rejects(
      run(...base, '--clients', '5', '--config', `${tmp.dir}/none.json`),
      cliError(/ENOENT/),
    );
    await assert.rejects(
      run('--port', '0', '--dim', '4', '--out', `${tmp.dir}/no/such/dir/x.jsonl`, '--clients', '3'),
      cliError(/cannot open --out/),
    );
  });
});
