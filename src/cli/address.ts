/**
 * Host and port handling shared by `privagg serve` and `privagg client`: parsing `HOST:PORT`, and the
 * loopback test that decides whether plaintext is allowed without the development-only flag.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { echo } from '../text/echo.ts';

/** A parsed `HOST:PORT`. `host` has no brackets, even for IPv6. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * True when `host` can only reach this machine: `localhost`, an address in 127.0.0.0/8, `::1`, or
 * an IPv4-mapped loopback address (`::ffff:127.x.y.z`). Anything else — including `0.0.0.0` and `::`,
 * which bind every interface — is not loopback.
 * @param host - a host name or IP address, without brackets
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (isIPv6(h)) {
    // The URL parser writes an IPv6 address in its one canonical form (RFC 5952), so `0:0::1` is
    // `::1` and `::ffff:127.0.0.1` is `::ffff:7f00:1`.
    // A scoped address (`fe80::1%eth0`) does not parse; it is not loopback either.
    if (h.includes('%')) return false;
    const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canonical);
  }
  return false;
}

/**
 * Checks a port number given as text: decimal digits only, in [min, 65535].
 * @throws RangeError naming the flag when the text is not such a number
 */
export function parsePort(text: string, what: string, min: 0 | 1): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= min && port <= 65_535)) {
    throw new RangeError(`${what} must be a port number in [${min}, 65535], got '${echo(text)}'`);
  }
  return port;
}

/**
 * Parses `HOST:PORT` or `[IPv6]:PORT`.
 * @param what - how to name the value in an error, e.g. `--server`
 * @throws RangeError when the text is not of that form or the port is not in [1, 65535]
 */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^\[([^\]]+)\]:([^:]*)$/.exec(text) ?? /^([^:[\]]+):([^:]*)$/.exec(text);
  if (!match) throw new RangeError(`${what} must be HOST:PORT (or [IPv6]:PORT), got '${echo(text)}'`);
  const host = match[1]!;
  if (match[0].startsWith('[') && !isIPv6(host)) {
    throw new RangeError(`${what}: '${echo(host)}' in brackets is not an IPv6 address`);
  }
  return { host, port: parsePort(match[2]!, `the port in ${what}`, 1) };
}

/** Formats a host and port as `HOST:PORT`, bracketing an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
