// `privagg epsilon`: end to end through the real launcher (a few cases, each a process start-up),
// and the command's argument handling in-process (src/cli/epsilon.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { epsilonCommand } from '../../src/cli/epsilon.ts';
import { calibrateSigma, RdpAccountant } from '../../src/dp/index.ts';
import { PldAccountant } from '../../src/dp/pld-accountant.ts';
import { plannedEpsilon } from '../../src/dp/round-planner.ts';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/privagg.js epsilon …` without blocking, so the cases can run side by side. */
function privagg(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/privagg.js', 'epsilon', ...args],
      { encoding: 'utf8' },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Runs the command in-process and returns what it printed with console.log. */
async function runInProcess(t: TestContext, ...args: string[]): Promise<string[]> {
  const log = t.mock.method(console, 'log', () => {});
  assert.equal(await epsilonCommand.run(args), 0);
  return log.mock.calls.map((call) => String(call.arguments[0]));
}

const CASE_1 = ['--q', '0.004266666666666667', '--sigma', '1.1', '--steps', '14063', '--delta', '1e-5'];

describe('privagg epsilon (spawned)', { concurrency: true }, () => {
  it('--json prints exactly one line: by default the smaller of the RDP and PLD bounds, with both', async () => {
    const out = await privagg(
      '--q',
      '0.01',
      '--sigma',
      '4.0',
      '--steps',
      '10000',
      '--delta',
      '1e-5',
      '--json',
    );
    assert.equal(out.status, 0, out.stderr);
    assert.equal(lines(out.stdout).length, 1);
    const rdp = new RdpAccountant().compose({ q: 0.01, sigma: 4 }, 10000).epsilon(1e-5);
    const pld = new PldAccountant()
      .compose({ kind: 'gaussian', sigma: 4, q: 0.01 }, 10000)
      .epsilon(1e-5).epsilon;
    assert.deepEqual(JSON.parse(out.stdout), {
      epsilon: pld,
      accountant: 'pld',
      order: rdp.order,
      rdpEpsilon: rdp.epsilon,
      pldEpsilon: pld,
    });
    // dp_accounting's PLD accountant: 0.947 (RDP 1.036).
    assert.ok(Math.abs(pld - 0.947) < 0.001);
  });

  it('prints a human line naming ε, how it was bounded and the inputs', async () => {
    const [rdp, pld] = await Promise.all([privagg(...CASE_1, '--accountant', 'rdp'), privagg(...CASE_1)]);
    assert.equal(rdp.status, 0, rdp.stderr);
    assert.deepEqual(lines(rdp.stdout), [
      'epsilon = 2.5967 (order 8.1) for q=0.004266666666666667, sigma=1.1, steps=14063, delta=0.00001',
    ]);
    assert.equal(pld.status, 0, pld.stderr);
    assert.match(
      lines(pld.stdout)[0]!,
      /^epsilon = 2\.\d+ \(PLD\) for q=0\.004266666666666667, sigma=1\.1, steps=14063, delta=0\.00001$/,
    );
  });

  it('--target-epsilon --json prints the calibrated σ', async () => {
    const out = await privagg(
      '--q',
      '0.01',
      '--target-epsilon',
      '1',
      '--steps',
      '10000',
      '--delta',
      '1e-5',
      '--json',
      '--accountant',
      'rdp',
    );
    assert.equal(out.status, 0, out.stderr);
    assert.equal(lines(out.stdout).length, 1);
    const parsed = JSON.parse(out.stdout) as { sigma: number; epsilon: number; order: number };
    assert.deepEqual(parsed, {
      ...calibrateSigma({ targetEpsilon: 1, delta: 1e-5, q: 0.01, steps: 10000 }),
      accountant: 'rdp',
    });
    assert.ok(parsed.epsilon <= 1);
  });

  it('bad input exits with code 2 and one line on stderr', async () => {
    const out = await privagg('--q', 'abc', '--sigma', '1', '--steps', '10', '--delta', '1e-5', '--json');
    assert.equal(out.status, 2);
    assert.equal(out.stdout, '');
    assert.deepEqual(lines(out.stderr), ["privagg: --q must be a number in [0, 1], got 'abc'"]);
  });
});

describe('privagg epsilon (in-process)', () => {
  it('--conversion classic reproduces the published ε ≈ 3.01', async (t) => {
    const [line] = await runInProcess(t, ...CASE_1, '--json', '--conversion', 'classic');
    const { epsilon } = JSON.parse(line!) as { epsilon: number };
    assert.ok(Math.abs(epsilon - 3.01) <= 0.02, `ε = ${epsilon}`);
  });

  it('rounds σ and ε up in the human line, so a copied σ never under-noises', async (t) => {
    const printed = await runInProcess(
      t,
      '--q',
      '0.01',
      '--target-epsilon',
      '1',
      '--steps',
      '10000',
      '--delta',
      '1e-5',
      '--accountant',
      'rdp',
    );
    assert.equal(printed.length, 1);
    const exact = calibrateSigma({ targetEpsilon: 1, delta: 1e-5, q: 0.01, steps: 10000 });
    const match = /^sigma = ([0-9.e+-]+) for epsilon <= 1 \(epsilon ([0-9.e+-]+), order [0-9.]+\)/.exec(
      printed[0]!,
    );
    assert.ok(match, printed[0]);
    const [sigma, epsilon] = [Number(match[1]), Number(match[2])];
    assert.ok(sigma >= exact.sigma && sigma <= exact.sigma * 1.0001, `${sigma} vs ${exact.sigma}`);
    assert.ok(epsilon >= exact.epsilon, `${epsilon} vs ${exact.epsilon}`);
  });

  it('--target-epsilon by default calibrates on the tighter bound: less noise than RDP, still within', async (t) => {
    const args = ['--q', '0.01', '--target-epsilon', '1', '--steps', '10000', '--delta', '1e-5', '--json'];
    const [line] = await runInProcess(t, ...args);
    const { sigma, epsilon, accountant } = JSON.parse(line!) as {
      sigma: number;
      epsilon: number;
      accountant: string;
    };
    assert.equal(accountant, 'pld');
    const rdp = calibrateSigma({ targetEpsilon: 1, delta: 1e-5, q: 0.01, steps: 10000 }).sigma;
    assert.ok(sigma < rdp * 0.95, `${sigma} vs RDP's ${rdp}`);
    const check = new PldAccountant()
      .compose({ kind: 'gaussian', sigma, q: 0.01 }, 10000)
      .epsilon(1e-5).epsilon;
    assert.ok(epsilon <= 1 && check <= 1 && Math.abs(check - epsilon) < 1e-12);
    const lower = new PldAccountant().compose({ kind: 'gaussian', sigma: sigma / 1.002, q: 0.01 }, 10000);
    assert.ok(lower.epsilon(1e-5).epsilon > 1, 'not minimal');
  });

  it('--mechanism skellam accounts the distributed round as the ledger charges it', async (t) => {
    const flags = [
      '--mechanism',
      'skellam',
      '--dimension',
      '64',
      '--clients',
      '8',
      '--q',
      '0.5',
      '--steps',
      '20',
    ];
    const [line] = await runInProcess(t, ...flags, '--sigma', '1.5', '--delta', '1e-5', '--json');
    const got = JSON.parse(line!) as {
      epsilon: number;
      accountant: string;
      rdpEpsilon: number;
      pldEpsilon: number;
    };
    const c = {
      mechanism: 'distributed-skellam',
      targetEpsilon: 1,
      delta: 1e-5,
      rounds: 20,
      q: 0.5,
      dimension: 64,
      clients: 8,
      threshold: 6,
      maxCorruptClients: 0,
      clip: 1,
      bits: 20,
    } as const;
    assert.equal(got.epsilon, plannedEpsilon(c, 1.5));
    assert.ok(got.epsilon === Math.min(got.rdpEpsilon, got.pldEpsilon));
    const [rdp] = await runInProcess(
      t,
      ...flags,
      '--sigma',
      '1.5',
      '--delta',
      '1e-5',
      '--json',
      '--accountant',
      'rdp',
    );
    assert.equal(JSON.parse(rdp!).accountant, 'rdp');
    const [human] = await runInProcess(t, ...flags, '--target-epsilon', '3', '--delta', '1e-5');
    assert.match(
      human!,
      /^sigma = [\d.]+ for epsilon <= 3 \(epsilon [\d.]+, PLD\) with mechanism=skellam.*h=6, relation=zero-out$/,
    );
  });

  it('accepts steps = 0 (nothing spent)', async (t) => {
    const [line] = await runInProcess(
      t,
      '--q',
      '0.1',
      '--sigma',
      '1',
      '--steps',
      '0',
      '--delta',
      '1e-5',
      '--json',
    );
    assert.equal((JSON.parse(line!) as { epsilon: number }).epsilon, 0);
  });

  const base = ['--steps', '10', '--delta', '1e-5'];
  const bad: readonly (readonly [string, readonly string[], RegExp])[] = [
    ['q above 1', ['--q', '1.5', '--sigma', '1', ...base], /^--q must be a number in \[0, 1\], got '1.5'$/],
    ['an empty q', ['--q', '', '--sigma', '1', ...base], /^--q must be a number in \[0, 1\], got ''$/],
    ['a hex σ', ['--q', '0.1', '--sigma', '0x10', ...base], /^--sigma must be a number > 0, got '0x10'$/],
    ['σ = 0', ['--q', '0.1', '--sigma', '0', ...base], /^--sigma must be a number > 0, got '0'$/],
    ['σ = Infinity', ['--q', '0.1', '--sigma', 'Infinity', ...base], /^--sigma must be a number > 0/],
    [
      'fractional steps',
      ['--q', '0.1', '--sigma', '1', '--steps', '2.5', '--delta', '1e-5'],
      /^--steps must be a non-negative integer, got '2.5'$/,
    ],
    [
      'δ = 0',
      ['--q', '0.1', '--sigma', '1', '--steps', '10', '--delta', '0'],
      /^--delta must be a number in \(0, 1\), got '0'$/,
    ],
    ['a missing --delta', ['--q', '0.1', '--sigma', '1', '--steps', '10'], /^missing --delta/],
    ['a missing --q', ['--sigma', '1', ...base], /^missing --q/],
    ['neither --sigma nor --target-epsilon', ['--q', '0.1', ...base], /^missing --sigma/],
    [
      'both --sigma and --target-epsilon',
      ['--q', '0.1', '--sigma', '1', '--target-epsilon', '1', ...base],
      /^give either/,
    ],
    [
      'a negative target',
      ['--q', '0.1', '--target-epsilon=-1', ...base],
      /^--target-epsilon must be a number > 0/,
    ],
    [
      '--target-epsilon with q = 0',
      ['--q', '0', '--target-epsilon', '1', ...base],
      /^--q must be > 0 with --target-epsilon/,
    ],
    [
      '--target-epsilon with no steps',
      ['--q', '0.1', '--target-epsilon', '1', '--steps', '0', '--delta', '1e-5'],
      /^--steps must be >= 1/,
    ],
    [
      'an unknown flag',
      ['--q', '0.1', '--sigma', '1', ...base, '--epochs', '3'],
      /^Unknown option '--epochs'/,
    ],
    ['a stray argument', ['--q', '0.1', '--sigma', '1', ...base, 'now'], /^Unexpected argument 'now'/],
    [
      'a flag without its value',
      ['--q', '0.1', '--sigma', '--steps', '10', '--delta', '1e-5'],
      /^Option '--sigma' argument is ambiguous/,
    ],
    [
      'an unknown conversion',
      ['--q', '0.1', '--sigma', '1', ...base, '--conversion', 'loose'],
      /^--conversion must be/,
    ],
    [
      'an unknown accountant',
      ['--q', '0.1', '--sigma', '1', ...base, '--accountant', 'moments'],
      /^--accountant must be/,
    ],
    [
      'the classic conversion with the PLD accountant',
      ['--q', '0.1', '--sigma', '1', ...base, '--accountant', 'pld', '--conversion', 'classic'],
      /^--conversion applies to the RDP accountant/,
    ],
    [
      'an unknown mechanism',
      ['--q', '0.1', '--sigma', '1', ...base, '--mechanism', 'laplace'],
      /^--mechanism must be/,
    ],
    [
      'a skellam flag without skellam',
      ['--q', '0.1', '--sigma', '1', ...base, '--bits', '16'],
      /^--bits needs --mechanism skellam$/,
    ],
    [
      'skellam without --dimension',
      ['--mechanism', 'skellam', '--q', '0.1', '--sigma', '1', ...base],
      /^missing --dimension/,
    ],
    [
      'a threshold not above the colluders',
      [
        '--mechanism',
        'skellam',
        '--dimension',
        '4',
        '--clients',
        '5',
        '--max-corrupt',
        '2',
        '--threshold',
        '2',
        '--q',
        '1',
        '--sigma',
        '1',
        ...base,
      ],
      /^--threshold must be an integer in \[3, 5\]/,
    ],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with a one-line CliError`, async () => {
      await assert.rejects(epsilonCommand.run(args), (error: Error) => {
        assert.equal(error.name, 'CliError');
        assert.match(error.message, message);
        assert.ok(!error.message.includes('\n'));
        return true;
      });
    });
  }
});
