/**
 * src/text/echo.ts: untrusted text is escaped and bounded before it is repeated in an error or a log,
 * and a parsed JSON value is described without walking into it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeValue, ECHO_CHARS, echo } from '../../src/text/echo.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none remain is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('echo', () => {
  it('leaves printable text, including non-ASCII and emoji, as it is', () => {
    assert.equal(echo('alice'), 'alice');
    assert.equal(echo('Zoë 😀 日本'), 'Zoë 😀 日本');
  });

  it('escapes control characters, separators, bidi controls, lone surrogates and the backslash', () => {
    assert.equal(echo('a\nb\rc\td'), 'a\\nb\\rc\\td');
    assert.equal(echo('x\u001b[2Jy'), 'x\\u001b[2Jy');
    assert.equal(echo('\u0000\u007f\u009b'), '\\u0000\\u007f\\u009b');
    assert.equal(echo('a\u2028b\u2029'), 'a\\u2028b\\u2029');
    assert.equal(echo('abc\u202edef\u2066\u200f'), 'abc\\u202edef\\u2066\\u200f');
    assert.equal(echo('\ud800x\udfff'), '\\ud800x\\udfff');
    // The escaped form is unambiguous: a literal backslash-n is not a newline.
    assert.equal(echo('\\n'), '\\\\n');
    assert.notEqual(echo('\\n'), echo('\n'));
    // Nothing unprintable is left.
    assert.doesNotMatch(echo(String.fromCharCode(...Array.from({ length: 0xa0 }, (_, i) => i))), CONTROL);
  });

  it('bounds the length with an ellipsis, never cutting an escape or a surrogate pair', () => {
    assert.equal(echo('x'.repeat(ECHO_CHARS)), 'x'.repeat(ECHO_CHARS));
    assert.equal(echo('x'.repeat(ECHO_CHARS + 1)), `${'x'.repeat(ECHO_CHARS)}…`);
    assert.equal(echo('x'.repeat(1_000_000), 8), 'xxxxxxxx…');
    assert.equal(echo('abcdefg\u001b', 8), 'abcdefg…');
    assert.equal(echo('abcdefg😀', 8), 'abcdefg…');
    assert.equal(echo('abcdef😀', 8), 'abcdef😀');
  });

  it('refuses a non-string text and a bad bound', () => {
    assert.throws(() => echo(42 as unknown as string), TypeError);
    assert.throws(() => echo('a', 0), RangeError);
    assert.throws(() => echo('a', 1.5), RangeError);
  });
});

describe('describeValue', () => {
  it('shows scalars as written and strings through echo', () => {
    assert.equal(describeValue(42), '42');
    assert.equal(describeValue(-1.5), '-1.5');
    assert.equal(describeValue(Number.POSITIVE_INFINITY), 'Infinity');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(true), 'true');
    assert.equal(describeValue('a\nb'), '"a\\nb"');
    assert.equal(describeValue('y'.repeat(500)), `"${'y'.repeat(ECHO_CHARS)}…"`);
    assert.equal(describeValue(undefined), 'nothing');
  });

  it('names an array or object by its kind, however deep or large', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.throws(() => JSON.stringify(deep), RangeError);
    assert.equal(describeValue(deep), 'an array');
    assert.equal(describeValue({ a: deep }), 'an object');
  });
});
