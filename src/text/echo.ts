/**
 * Echoing untrusted text in errors and logs. A client name comes from a peer and a flag value or an
 * input file from a user; either may hold control characters (a terminal obeys ESC sequences, a
 * newline forges a second log or error line, bidi overrides reorder what is shown) or be megabytes
 * long. Everything privagg repeats back goes through {@link echo} (a string) or {@link describeValue}
 * (a parsed JSON value), which escape what would not print as itself and bound the length.
 *
 * Escaping, not replacing: the escaped form still says what was sent (`a\u001b[2Jb`), and it is
 * unambiguous because a backslash is itself escaped.
 * @module
 */

/** How many characters of an offending value an error message shows by default. */
export const ECHO_CHARS = 64;

/** How many characters of a file path a message shows: enough for any sensible path. */
export const ECHO_PATH_CHARS = 200;

/** Shown in place of whatever a bounded echo leaves out. */
export const ELLIPSIS = '…';

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * True for a code point that must not reach a terminal or a log line as itself: C0 and C1 controls
 * and DEL; the line and paragraph separators (a line break to some readers); the bidi marks,
 * embeddings, overrides and isolates (they reorder the text around them: "Trojan Source",
 * CVE-2021-42574); and a lone surrogate half (not a character at all).
 */
function unprintable(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}

/**
 * Makes untrusted text safe to repeat on one line: a backslash, newline, carriage return and tab
 * become `\\`, `\n`, `\r`, `\t`; every other unprintable code point (controls, line separators,
 * bidi controls, lone surrogates) becomes `\uXXXX`. The result is at most `maxChars` UTF-16 units
 * plus an ellipsis when something was left out; a surrogate pair or an escape is never cut in half.
 * @param text - the text to show
 * @param maxChars - the most characters to show before the ellipsis, a positive integer
 *   (default {@link ECHO_CHARS})
 * @returns the escaped, bounded text
 * @throws TypeError if `text` is not a string; RangeError if `maxChars` is not a positive integer
 * @example
 * ```ts
 * echo('alice\u001b[2J'); // 'alice\\u001b[2J'
 * echo('x'.repeat(100), 8); // 'xxxxxxxx…'
 * ```
 */
export function echo(text: string, maxChars: number = ECHO_CHARS): string {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  if (!Number.isSafeInteger(maxChars) || maxChars < 1) {
    throw new RangeError(`maxChars must be a positive integer, got ${maxChars}`);
  }
  let out = '';
  // for..of walks code points: a surrogate pair arrives whole, a lone half on its own.
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const shown =
      SHORT_ESCAPES[char] ?? (unprintable(code) ? `\\u${code.toString(16).padStart(4, '0')}` : char);
    if (out.length + shown.length > maxChars) return out + ELLIPSIS;
    out += shown;
  }
  return out;
}

/**
 * A short description of a parsed JSON value for an error message: a number as written
 * (`Infinity` for one that overflowed a double), a string quoted through {@link echo}, and an array
 * or object by its kind only. It never walks into a value, so a value nested thousands deep costs
 * nothing (`JSON.stringify` would overflow the stack on it) and a huge one is not repeated.
 * @param value - any value, typically from `JSON.parse`
 * @param maxChars - passed to {@link echo} for a string (default {@link ECHO_CHARS})
 * @returns e.g. `42`, `"abc"`, `null`, `an array`, `an object`
 * @example
 * ```ts
 * describeValue(JSON.parse('[[[1]]]')); // 'an array'
 * describeValue('a\nb'); // '"a\\nb"'
 * ```
 */
export function describeValue(value: unknown, maxChars: number = ECHO_CHARS): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `"${echo(value, maxChars)}"`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return 'nothing';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}
