/**
 * The live dashboard in a real browser (Debian's Chromium driven by playwright-core): loaded while
 * `privagg serve --dp --http-port 0` runs rounds with client processes, some lost at a stage and one
 * round aborted, it shows what a person would check — the round count, the stages clients were lost
 * at, ε rising against the budget, the aborted round and its reason — and no sum. A screenshot is
 * kept in test-artifacts/ (not committed). `.ci/run` installs Chromium, so this never skips.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { httpPort, Proc, readRounds, Serve, scratch } from './procs.ts';

/** Debian's chromium package; the launch flags keep it off the (closed) network. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const DIM = 16;
const CLIENTS = 4;

describe('the dashboard in Chromium', () => {
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('shows rounds, drops by stage, ε rising and an aborted round during a real run', async () => {
    const out = `${tmp.dir}/rounds.jsonl`;
    const serve = new Serve([
      ...['--port', '0', '--clients', String(CLIENTS), '--threshold', '3', '--dim', String(DIM)],
      ...['--rounds', '4', '--out', out, '--dp', 'distributed', '--clip', '1', '--noise-multiplier', '0.7'],
      ...['--target-epsilon', '100', '--ledger', `${tmp.dir}/ledger.db`, '--http-port', '0'],
    ]);
    const port = await serve.port;
    const http = await httpPort(serve);
    const round = async (failAt: Record<string, string>) => {
      const procs = Array.from({ length: CLIENTS }, (_, i) => {
        const name = `c${i}`;
        const args = ['client', '--server', `127.0.0.1:${port}`, '--id', name, '--dp', '--retries', '0'];
        args.push('--input', tmp.file(`${name}.json`, new Array(DIM).fill(0.05 * (i + 1))));
        if (failAt[name]) args.push('--fail-at', failAt[name]);
        return new Proc(args);
      });
      await Promise.all(procs.map((p) => p.exited));
    };

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`http://127.0.0.1:${http}/`);
      await page.locator('#conn', { hasText: /^live/ }).waitFor();
      assert.equal(await page.textContent('#rounds-count'), 'no rounds yet');

      await round({ c3: 'masked' }); // ok: 3 survivors
      await round({ c0: 'advertise', c1: 'advertise' }); // 2 < t = 3: aborted
      await round({}); // ok: 4 survivors
      await serve.until((p) => p.stdout.includes('round 3:'), 'round 3');

      await page.locator('#rounds-count', { hasText: /^3 rounds: 2 ok, 1 aborted$/ }).waitFor();
      const row = async (n: number, cell: string) =>
        (await page.textContent(`#timeline tr[data-round="${n}"] .${cell}`))?.trim();
      assert.equal(await row(1, 'status'), 'ok');
      assert.equal(await row(1, 'survivors'), '3');
      assert.equal(await row(1, 'dropped'), 'masked 1');
      assert.equal(await row(2, 'status'), 'aborted');
      // An aborted round lists every selected client as lost at the stage it aborted in.
      assert.equal(await row(2, 'dropped'), 'advertise 4');
      assert.match((await row(2, 'reason'))!, /too-few-clients/);
      assert.equal(await row(3, 'survivors'), '4');
      const eps = async (n: number) => Number(await row(n, 'epsilon'));
      assert.ok((await eps(1)) > 0);
      assert.ok((await eps(3)) > (await eps(1)), 'ε rises with each released round');
      assert.equal(await page.textContent('#epsilon'), `ε ${(await eps(3)).toFixed(3)} of 100.000`);
      assert.equal(await page.locator('#epsilon-chart circle').count(), 3);
      assert.equal((await page.locator('#stage-chart rect').count()) > 0, true);

      // The page shows no released sum (and the coordinator never has an un-noised one here).
      const shown = await page.textContent('body');
      for (const r of readRounds(out)) {
        for (const v of (r['sum'] as number[] | undefined) ?? []) {
          assert.ok(!shown!.includes(String(v)), `sum element ${v} shown`);
        }
      }
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
    } finally {
      await browser.close();
      serve.child.kill('SIGTERM');
    }
    const served = await serve.exited;
    assert.equal(served.status, 143, served.stderr);
  });
});
