/**
 * Parsing a JSON file a user gave (an input vector, a configuration, a tokens file) with its nesting
 * bounded before the parser runs. V8's `JSON.parse` itself copes with deep nesting, but whatever walks
 * the result recursively afterwards (`JSON.stringify` in a message, a validator) overflows the stack a
 * few thousand levels down: a file nested that deeply is refused up front, whichever parser is used.
 * @module
 */
import { echo } from './echo.ts';

/** How much of the parser's message (which quotes the text around the error) is repeated. */
const SYNTAX_MESSAGE_CHARS = 160;

/**
 * The deepest nesting a privagg JSON file may have. Its own formats need 3 at most (a configuration's
 * `{"vectors": [{…}]}`); 64 leaves room for anything a user may reasonably write, and is far from
 * where recursion over the value could exhaust the stack.
 */
export const MAX_JSON_DEPTH = 64;

/** Why a text could not be parsed: nested too deeply, or not JSON (the parser's message). */
export class JsonTextError extends Error {
  override name = 'JsonTextError';
  constructor(
    readonly problem: 'too-deep' | 'syntax',
    message: string,
  ) {
    super(message);
  }
}

const OPEN_BRACKET = 0x5b; // [
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACKET = 0x5d; // ]
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * The deepest bracket nesting of a JSON text, counting `[` and `{` outside strings; stops counting
 * (and returns a value above `limit`) as soon as `limit` is exceeded. It does not check the syntax:
 * a malformed text is the parser's to refuse.
 */
export function jsonDepth(text: string, limit: number = Number.MAX_SAFE_INTEGER): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return deepest;
}

/**
 * `JSON.parse`, refusing first a text nested more than `maxDepth` levels.
 * @param text - the file's content
 * @param maxDepth - the deepest nesting allowed (default {@link MAX_JSON_DEPTH})
 * @returns the parsed value
 * @throws JsonTextError with problem `too-deep` (the message says the limit) or `syntax` (the
 *   parser's message, escaped and bounded)
 * @example
 * ```ts
 * parseJson('[[1]]'); // [[1]]
 * parseJson('['.repeat(100) + ']'.repeat(100)); // throws: nested more than 64 levels deep
 * ```
 */
export function parseJson(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new JsonTextError('too-deep', `is nested more than ${maxDepth} levels deep`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // The message quotes the file around the error: escape and bound it like any echoed value.
    throw new JsonTextError('syntax', echo((error as Error).message, SYNTAX_MESSAGE_CHARS));
  }
}
