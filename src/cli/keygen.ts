/**
 * `privagg keygen`: makes a client's long-term Ed25519 identity key. The private key goes to a file
 * of mode 0600 (never over an existing one); the public half is printed as one JSON line for the
 * federation's operator to enroll in the roster (src/identity/roster.ts).
 * @module
 */
import { ECHO_PATH_CHARS, echo } from '../text/echo.ts';
import { CliError, type Command, parseCommandLine } from './command.ts';

const usage = `usage: privagg keygen --name NAME --out KEYFILE

Generates a long-term Ed25519 identity key for the client NAME (the name it checks in under, 1..255
bytes). Writes the private key to KEYFILE (PKCS#8 PEM, mode 0600; an existing file is never
overwritten) and prints one JSON line for the roster:
  {"name": "NAME", "publicKey": "<base64 of the 32-byte public key>"}
The federation's operator collects these lines into the roster file, a JSON object
{"NAME": "<publicKey>", ...}, and gives the same roster to the coordinator ('privagg serve --roster')
and to every client ('privagg client --identity KEYFILE --roster FILE'). Keep KEYFILE secret: whoever
holds it can take part as NAME until the roster drops that key.`;

const utf8 = new TextEncoder();

async function run(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandLine(argv, { name: { type: 'string' }, out: { type: 'string' } });
  const name = values['name'];
  const out = values['out'];
  if (typeof name !== 'string') throw new CliError('missing --name (see privagg keygen --help)');
  if (typeof out !== 'string' || out === '') throw new CliError('missing --out (see privagg keygen --help)');
  const length = utf8.encode(name).length;
  if (length < 1 || length > 255) throw new CliError(`--name must be 1..255 UTF-8 bytes, got ${length}`);
  // Loaded once the flags are checked: --help and a bad flag need no cryptography.
  const { generateIdentity, KeyFileError, writeKeyFile } = await import('../identity/keyfile.ts');
  const { encodeIdentityKey } = await import('../identity/roster.ts');
  const identity = generateIdentity();
  try {
    writeKeyFile(out, identity.pem, `--out ${echo(out, ECHO_PATH_CHARS)}`);
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.message);
    throw error;
  }
  console.log(JSON.stringify({ name, publicKey: encodeIdentityKey(identity.publicKey) }));
  return 0;
}

/** The `privagg keygen` command. */
export const keygenCommand: Command = {
  name: 'keygen',
  summary: "make a client's long-term identity key; print its public key for the roster",
  usage,
  run,
};
