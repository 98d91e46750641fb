/**
 * src/text/json.ts: a user's JSON file nested too deeply is refused before it is parsed, whatever
 * the nesting is made of; strings that hold brackets do not count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonTextError, jsonDepth, MAX_JSON_DEPTH, parseJson } from '../../src/text/json.ts';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('jsonDepth', () => {
  it('counts arrays and objects, not brackets inside strings or after escaped quotes', () => {
    assert.equal(jsonDepth('1'), 0);
    assert.equal(jsonDepth('[]'), 1);
    assert.equal(jsonDepth('{"a": [1, {"b": []}]}'), 4);
    assert.equal(jsonDepth('["[[[[", "\\"[[[["]'), 1);
    assert.equal(jsonDepth('[[1], [2], [[3]]]'), 3);
  });

  it('stops once past the limit', () => {
    assert.equal(jsonDepth(nested(1_000_000), 10), 11);
  });
});

describe('parseJson', () => {
  it('parses a text up to the limit', () => {
    assert.deepEqual(parseJson('{"sum": [1, 2]}'), { sum: [1, 2] });
    assert.equal(JSON.stringify(parseJson(nested(MAX_JSON_DEPTH))), nested(MAX_JSON_DEPTH));
  });

  it('refuses a text nested deeper, as arrays or as objects', () => {
    for (const text of [nested(MAX_JSON_DEPTH + 1), `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`]) {
      assert.throws(
        () => parseJson(text),
        (error: unknown) =>
          error instanceof JsonTextError &&
          error.problem === 'too-deep' &&
          error.message === `is nested more than ${MAX_JSON_DEPTH} levels deep`,
      );
    }
  });

  it("reports a syntax error with the parser's message, escaped and bounded", () => {
    assert.throws(
      () => parseJson('[1, 2'),
      (error: unknown) => error instanceof JsonTextError && error.problem === 'syntax',
    );
    assert.throws(
      () => parseJson(`["\u001b[2J${'x'.repeat(1000)}`),
      (error: unknown) =>
        error instanceof JsonTextError &&
        // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none remain is the point
        !/[\u0000-\u001f]/.test(error.message) &&
        error.message.length <= 161,
    );
  });
});
