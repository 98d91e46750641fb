/**
 * The monitoring HTTP server (`privagg serve --http-port`): node:http and a small router, read-only.
 *
 * | path       | what                                             | token |
 * |------------|--------------------------------------------------|-------|
 * | `/`        | the dashboard page (static: it holds no data)    | no    |
 * | `/healthz` | `ok` while the process serves                    | no    |
 * | `/metrics` | Prometheus text format (server/metrics.ts)       | yes   |
 * | `/state`   | the dashboard's JSON snapshot (dashboard-state.ts) | yes |
 *
 * With a token every data route needs `Authorization: Bearer <token>`. The page itself is public
 * because a browser cannot send a header on navigation: it takes the token from the URL's fragment
 * (`/#token=…`, which the browser never sends to a server) and sends it with each poll.
 * The page polls `/state` (once a second) rather than holding a server-sent-events stream: a
 * snapshot is small, and polling needs no per-client state here and carries the header.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DashboardSnapshot } from './dashboard-state.ts';

/** The dashboard page, a hand-written static asset (no CDN: it draws its charts as inline SVG). */
const PAGE_URL = new URL('./dashboard/index.html', import.meta.url);

/** What the monitoring server serves. */
export interface MonitorServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  readonly snapshot: () => DashboardSnapshot;
  /** Required as a bearer token on the data routes when set. */
  readonly token?: string;
}

/** A listening monitoring server. */
export interface MonitorServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the monitoring server; rejects if it cannot listen. */
export async function startMonitorServer(options: MonitorServerOptions): Promise<MonitorServer> {
  const page = readFileSync(PAGE_URL);
  const expected = options.token === undefined ? undefined : digest(options.token);
  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    // Compare digests of equal length in constant time: the token's length is not leaked either.
    return match !== null && timingSafeEqual(digest(match[1]!), expected);
  };
  const server = createServer((req, res) => {
    void route(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain', 'read-only: GET or HEAD\n');
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') return send(res, 200, 'text/html; charset=utf-8', page);
    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (path !== '/metrics' && path !== '/state') return send(res, 404, 'text/plain', 'not found\n');
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, 'text/plain', 'a bearer token is required\n');
    }
    if (path === '/metrics') {
      return send(res, 200, options.registry.contentType, await options.registry.metrics());
    }
    return send(res, 200, 'application/json', JSON.stringify(options.snapshot()));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => closeServer(server),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    // The page loads nothing from elsewhere; say so, so an injected name could not load a script.
    'content-security-policy':
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
