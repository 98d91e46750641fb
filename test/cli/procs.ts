/**
 * Helpers for the command-line tests: run `node bin/privagg.js …` as real processes (without blocking,
 * so several run side by side), watch a `serve` process's output, and make scratch files.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, writeKeyFile } from '../../src/identity/keyfile.ts';

/** How a process ended and what it printed. */
export interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running process whose output is collected. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Run>;
  readonly #watchers: { test: () => boolean; resolve: () => void }[] = [];

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, ['bin/privagg.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      this.#check();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      this.#check();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (status, signal) => {
        this.#check();
        resolve({ status, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  #check(): void {
    for (let i = this.#watchers.length - 1; i >= 0; i--) {
      const watcher = this.#watchers[i]!;
      if (watcher.test()) {
        this.#watchers.splice(i, 1);
        watcher.resolve();
      }
    }
  }

  /** Resolves once `test` holds for the output so far; rejects if the process exits first. */
  until(test: (p: Proc) => boolean, what: string): Promise<void> {
    if (test(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#watchers.push({ test: () => test(this), resolve });
      void this.exited.then((run) => {
        if (!test(this)) {
          reject(new Error(`exited (${run.status ?? run.signal}) before ${what}; stderr: ${run.stderr}`));
        }
      });
    });
  }
}

/** Runs `privagg …` to completion. */
export function privagg(...args: string[]): Promise<Run> {
  return new Proc(args).exited;
}

/** A `privagg serve` process and the port it printed on its first line. */
export class Serve extends Proc {
  readonly port: Promise<number>;
  constructor(args: readonly string[]) {
    super(['serve', ...args]);
    this.port = this.until((p) => p.stdout.includes('\n'), 'the first line').then(() => {
      const first = this.stdout.split('\n')[0]!;
      const match = /^listening on 127\.0\.0\.1:(\d+)$/.exec(first);
      if (!match) throw new Error(`unexpected first line: ${first}`);
      return Number(match[1]);
    });
  }
}

/** Non-empty lines of a text. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** The JSON lines of a serve `--out` file. */
export function readRounds(path: string): Record<string, unknown>[] {
  return lines(readFileSync(path, 'utf8')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A scratch folder, removed by `cleanup`. */
export function scratch(): {
  dir: string;
  file: (name: string, content: unknown) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'privagg-cli-'));
  return {
    dir,
    file: (name, content) => {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A loopback port that was free a moment ago (for an unreachable address, or a fixed --port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A deterministic input vector that wraps mod 2^32 when summed. */
export function inputVector(seed: number, dim: number): number[] {
  return Array.from(
    { length: dim },
    (_, j) => (Math.imul(seed + 1, 2_654_435_761) + j * 40_503 + 0xf000_0000) >>> 0,
  );
}

/** The element-wise sum mod 2^32 of some vectors. */
export function sumMod32(vectors: readonly (readonly number[])[], dim: number): number[] {
  const out = new Array<number>(dim).fill(0);
  for (const v of vectors) for (let j = 0; j < dim; j++) out[j] = (out[j]! + v[j]!) >>> 0;
  return out;
}

/** The value of one sample in Prometheus text, e.g. `sample(t, 'privagg_clients{state="waiting"}')`. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The `http on HOST:PORT` line's port (the second stdout line). */
export async function httpPort(serve: Serve): Promise<number> {
  await serve.until((p) => /\nhttp on [^\n]+:\d+\n/.test(p.stdout), 'the http line');
  const line = serve.stdout.split('\n')[1]!;
  const match = /^http on 127\.0\.0\.1:(\d+)$/.exec(line);
  if (!match) throw new Error(`unexpected second line: ${line}`);
  return Number(match[1]);
}

/**
 * Enrolls `names`: an identity key file for each (as `privagg keygen` writes one) in `tmp`, and the
 * roster of their public keys.
 * @returns each name's key file and base64 public key, and the roster file's path
 */
export function enroll(
  tmp: ReturnType<typeof scratch>,
  names: readonly string[],
): { keys: ReadonlyMap<string, { path: string; publicKey: string }>; roster: string } {
  const keys = new Map(
    names.map((name) => {
      const identity = generateIdentity();
      const path = `${tmp.dir}/${name}.key`;
      writeKeyFile(path, identity.pem, path);
      return [name, { path, publicKey: Buffer.from(identity.publicKey).toString('base64') }];
    }),
  );
  const roster = tmp.file(
    'roster.json',
    Object.fromEntries([...keys].map(([name, k]) => [name, k.publicKey])),
  );
  return { keys, roster };
}

/** The gRPC status a call failed with (its code and details); throws if the call succeeded. */
export async function failedStatus(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as { code: number; details: string };
    return { code, details };
  }
  throw new Error('the call succeeded');
}
