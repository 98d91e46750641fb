// The progress writer (src/fl/progress.ts): never stdout; a redrawn, throttled bar on a TTY; plain
// lines at each tenth elsewhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Progress, type ProgressStream } from '../../src/fl/progress.ts';

function fake(isTTY: boolean): ProgressStream & { text: string } {
  const stream = {
    text: '',
    isTTY,
    columns: 80,
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
  };
  return stream;
}

describe('Progress', () => {
  it('refuses stdout', () => {
    assert.throws(() => new Progress({ total: 1, stream: process.stdout }), TypeError);
    assert.throws(() => new Progress({ total: 1, stream: { write: () => true, fd: 1 } }), TypeError);
  });

  it('writes to stderr by default and never to stdout', () => {
    const out = process.stdout.write;
    const err = process.stderr.write;
    let toStdout = 0;
    let toStderr = 0;
    process.stdout.write = (() => {
      toStdout++;
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = (() => {
      toStderr++;
      return true;
    }) as typeof process.stderr.write;
    try {
      const bar = new Progress({ total: 4, label: 'rounds' });
      for (let i = 0; i < 4; i++) bar.tick();
      bar.finish('done');
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
    assert.equal(toStdout, 0, 'progress wrote to stdout');
    assert.ok(toStderr > 0, 'progress wrote nothing to stderr');
  });

  it('prints a line per tenth, and the end, when not a TTY', () => {
    const stream = fake(false);
    const bar = new Progress({ total: 20, label: 'clients', stream });
    for (let i = 0; i < 20; i++) bar.tick(1, `#${i}`);
    bar.finish('ok');
    bar.finish('again');
    const lines = stream.text.trimEnd().split('\n');
    assert.equal(lines.length, 10, `expected 9 tenths and the end, got ${lines.length} lines`);
    assert.ok(!stream.text.includes('\r'), 'a carriage return in non-TTY output');
    assert.equal(lines.at(-1), 'clients 20/20 (100%) ok');
  });

  it('redraws one line on a TTY, at most once per interval', () => {
    const stream = fake(true);
    let now = 0;
    const bar = new Progress({ total: 100, stream, now: () => now, intervalMs: 100 });
    for (let i = 0; i < 100; i++) {
      now += 10; // 10 ms per unit: one redraw per 10 units
      bar.tick();
    }
    bar.finish();
    const draws = stream.text.split('\r').length - 1;
    assert.ok(draws >= 10 && draws <= 12, `${draws} redraws for 1 s of work at a 100 ms interval`);
    assert.ok(
      stream.text.endsWith('100% 100/100\x1b[K\n'),
      `the last draw is ${JSON.stringify(stream.text.slice(-40))}`,
    );
    assert.equal(stream.text.split('\n').length, 2, 'a TTY bar should end with a single newline');
  });
});
