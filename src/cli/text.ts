/** Small text helpers for command output. */

/**
 * Makes a message safe to print as one line: newlines become "; ", and other control characters
 * (which a misbehaving peer could use to rewrite the terminal) become U+FFFD.
 */
export function oneLine(text: string): string {
  return (
    text
      .replace(/\s*\n\s*/g, '; ')
      // grpc-js ends some messages with an empty "Resolution note: ".
      .replace(/\s*Resolution note:\s*$/, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd')
      .trim()
  );
}
