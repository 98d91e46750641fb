/**
 * The roster: the federation's list of enrolled clients, each name with its long-term Ed25519
 * identity public key (README "Enrolling clients"). The operator of the federation — not the
 * coordinator process — writes it from the lines `privagg keygen` prints, and gives the same file to
 * the coordinator and to every client, out of band. It is the trust anchor of the malicious setting:
 * a client takes part only in a round whose announced cohort (names, ids, identity keys;
 * docs/PROTOCOL.md §2.3) agrees with its own copy, so a coordinator cannot invent members or swap a
 * member's key for one it holds.
 *
 * The file is a JSON object `{"name": "<base64 of the 32-byte public key>", ...}`, parsed strictly:
 * anything unexpected is refused in one line naming what is wrong, never repaired.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { IDENTITY_KEY_BYTES, MAX_COHORT_NAME_BYTES } from '../secagg/cohort.ts';
import { equalBytes } from '../secagg/encoding.ts';
import { echo } from '../text/echo.ts';
import { JsonTextError, parseJson } from '../text/json.ts';

/** The roster file or a roster entry is unusable; the message names the entry and the problem. */
export class RosterError extends Error {
  override name = 'RosterError';
}

/** A cohort member as the announcement gives it (secagg/cohort.ts `CohortMember` fits). */
export interface AnnouncedMember {
  readonly id: number;
  readonly name: string;
  readonly identityKey: Uint8Array;
}

const utf8 = new TextEncoder();
/** Standard base64 of 32 bytes: 43 characters and one `=` of padding. */
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Decodes the base64 text of an identity public key and checks that it is one a signature can be
 * trusted under: 32 bytes in canonical base64, a canonical encoding of a curve point (RFC 8032
 * §5.1.3), and not of small order — under a small-order key anyone can forge signatures that verify
 * for many messages, so such a roster entry would let anybody act as that client.
 * @param text - the base64 text
 * @param what - how the message names the key (e.g. `the roster entry 'alice'`)
 * @returns the 32 key bytes
 * @throws RosterError naming `what` and the problem
 */
export function decodeIdentityKey(text: unknown, what: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64_KEY.test(text)) {
    throw new RosterError(
      `${what} must be the base64 of a ${IDENTITY_KEY_BYTES}-byte Ed25519 public key (44 characters ending in '='), got ${describe(text)}`,
    );
  }
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  // Base64 has several spellings of the last character's spare bits: only the canonical one is taken.
  if (bytes.length !== IDENTITY_KEY_BYTES || Buffer.from(bytes).toString('base64') !== text) {
    throw new RosterError(`${what} is not canonical base64 of ${IDENTITY_KEY_BYTES} bytes`);
  }
  let point: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    point = ed25519.Point.fromBytes(bytes);
  } catch {
    throw new RosterError(`${what} is not an Ed25519 public key (not a point of the curve)`);
  }
  if (point.isSmallOrder()) {
    throw new RosterError(`${what} is a small-order point: anyone could sign as it`);
  }
  return bytes;
}

/** The base64 text of an identity public key, as `privagg keygen` prints it and a roster holds it. */
export function encodeIdentityKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${echo(value)}'`;
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** The enrolled clients: names and their identity public keys. Build with {@link parseRoster}. */
export class Roster {
  readonly #keys: ReadonlyMap<string, Uint8Array>;

  /** @param keys - name → 32-byte key, already checked (see {@link parseRoster}) */
  private constructor(keys: ReadonlyMap<string, Uint8Array>) {
    this.#keys = keys;
  }

  /** @internal Used by {@link parseRoster} only. */
  static fromChecked(keys: ReadonlyMap<string, Uint8Array>): Roster {
    return new Roster(new Map([...keys].map(([name, key]) => [name, Uint8Array.from(key)])));
  }

  /** How many clients are enrolled. */
  get size(): number {
    return this.#keys.size;
  }

  /** The enrolled names, in file order. */
  get names(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** A copy of `name`'s identity key, or undefined when `name` is not enrolled. */
  keyOf(name: string): Uint8Array | undefined {
    const key = this.#keys.get(name);
    return key && Uint8Array.from(key);
  }

  /** Name → identity key (copies), as the coordinator's configuration takes them. */
  toMap(): Map<string, Uint8Array> {
    return new Map([...this.#keys].map(([name, key]) => [name, Uint8Array.from(key)]));
  }

  /**
   * Checks an announced cohort against this roster (what a client does before it takes part):
   * every member must be enrolled under its name, with the roster's key for that name.
   * @returns why the cohort is refused, naming the first member at fault, or undefined when it agrees
   */
  cohortProblem(cohort: readonly AnnouncedMember[]): string | undefined {
    for (const member of cohort) {
      const key = this.#keys.get(member.name);
      if (key === undefined) {
        return `cohort member '${echo(member.name)}' (client ${member.id}) is not in the roster`;
      }
      if (!equalBytes(key, member.identityKey)) {
        return `the identity key announced for '${echo(member.name)}' (client ${member.id}) is not the roster's`;
      }
    }
    return undefined;
  }
}

/**
 * The names a JSON text's top-level object spells, in order, duplicates included. `JSON.parse` keeps
 * the last of two equal keys without a word; a roster that names a client twice (with two keys) is
 * an operator's mistake that must be refused, not resolved by position. The text is known to parse.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (/\s/.test(text[k] ?? '')) k++;
        if (text[k] === ':') keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
    }
  }
  return keys;
}

/**
 * Parses a roster file's text: a JSON object of at least two entries, each a name of 1..255 UTF-8
 * bytes (the check-in's limit) mapped to the base64 of its Ed25519 public key
 * ({@link decodeIdentityKey}); no name twice, no key twice (one key holder would count as two
 * clients, a Sybil the threshold does not account for).
 * @param text - the file's content
 * @param source - how messages name the file (e.g. `--roster roster.json`)
 * @throws RosterError with one line naming the file, the entry and the problem
 */
export function parseRoster(text: string, source: string): Roster {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error;
    throw new RosterError(
      error.problem === 'too-deep'
        ? `${source} ${error.message}`
        : `${source} is not valid JSON: ${error.message}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RosterError(`${source} must hold a JSON object mapping client names to identity keys`);
  }
  const seenNames = new Set<string>();
  for (const name of topLevelKeys(text)) {
    if (seenNames.has(name)) throw new RosterError(`${source} names '${echo(name)}' twice`);
    seenNames.add(name);
  }
  const keys = new Map<string, Uint8Array>();
  const owners = new Map<string, string>();
  for (const [name, raw] of Object.entries(value)) {
    const length = utf8.encode(name).length;
    if (length < 1 || length > MAX_COHORT_NAME_BYTES) {
      throw new RosterError(
        `${source}: the name '${echo(name)}' must be 1..${MAX_COHORT_NAME_BYTES} UTF-8 bytes, got ${length}`,
      );
    }
    const key = decodeIdentityKey(raw, `${source}: the key of '${echo(name)}'`);
    const hex = Buffer.from(key).toString('hex');
    const owner = owners.get(hex);
    if (owner !== undefined) {
      throw new RosterError(`${source}: '${echo(name)}' has the same key as '${echo(owner)}'`);
    }
    owners.set(hex, name);
    keys.set(name, key);
  }
  if (keys.size < 2) {
    throw new RosterError(`${source} must enroll at least 2 clients (a round needs 2), got ${keys.size}`);
  }
  return Roster.fromChecked(keys);
}
