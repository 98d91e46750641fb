/**
 * A client name is the client's own text: the coordinator's refusals that repeat it (ALREADY_EXISTS,
 * PERMISSION_DENIED) escape its control characters and bound its length (src/text/echo.ts), so a
 * name cannot forge lines or drive the terminal of whoever reads the error.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ECHO_CHARS } from '../../src/text/echo.ts';
import { checkInToFrame } from '../../src/wire/convert.ts';
import {
  codeName,
  RawStream,
  startCoordinator,
  type TestCoordinator,
  testConfig,
  until,
} from './robustness-harness.ts';

const running: TestCoordinator[] = [];
after(() => {
  for (const tc of running) tc.stop();
});

describe('client names in the coordinator’s refusals', () => {
  it('are escaped and bounded in ALREADY_EXISTS and PERMISSION_DENIED', async () => {
    const tc = await startCoordinator(testConfig({ cohortSize: 3, minClients: 3 }), {
      authenticate: (call) => {
        const name = call.metadata.get('x-test-client')[0];
        return { ok: true, name: typeof name === 'string' ? name : undefined };
      },
    });
    running.push(tc);
    // ESC [2J clears a terminal; the newline would start a forged line; 200 bytes in all.
    const name = `evil\u001b[2J\nprivagg: fake${'x'.repeat(180)}`;
    const first = new RawStream(tc.address);
    await first.sendFrame(checkInToFrame(name));
    await until(() => tc.calls.some((c) => c.name === name), 'the first check-in');

    const twin = new RawStream(tc.address);
    await twin.sendFrame(checkInToFrame(name));
    const taken = await twin.status;
    assert.equal(codeName(taken), 'ALREADY_EXISTS');
    const shown = /^client '(.*)' already has a session$/.exec(taken.details)?.[1];
    assert.ok(shown !== undefined, taken.details);
    assert.ok(shown.startsWith('evil\\u001b[2J\\nprivagg: fake'), shown);
    assert.ok(shown.endsWith('…') && shown.length === ECHO_CHARS + 1, shown);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none remain is the point
    assert.doesNotMatch(taken.details, /[\u0000-\u001f]/);

    const other = new RawStream(tc.address, { 'x-test-client': 'm'.repeat(100) });
    await other.sendFrame(checkInToFrame('bob\u0007'));
    const denied = await other.status;
    assert.equal(codeName(denied), 'PERMISSION_DENIED');
    assert.equal(denied.details, `authenticated as '${'m'.repeat(ECHO_CHARS)}…', not 'bob\\u0007'`);
  });
});
