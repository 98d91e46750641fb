// Start-up time and memory of the compiled package against the TypeScript sources through tsx, in
// one run, alternating the two so that both see the same machine load (npm run measure:startup).
//
//   serve:  `privagg serve --port 0 …` until its first stdout line, `listening on HOST:PORT`
//           (wall time from spawn), then its resident memory (VmRSS) after 1 s idle.
//             compiled: node dist/cli/main.js (what bin/privagg.js runs)
//             tsx:      node --import tsx src/cli/main.ts (what bin/privagg.js ran before dist/)
//   worker: the resident memory one unmask worker adds: a process loads UnmaskPool, reads its RSS,
//           runs a one-job plan on N threads (so each has loaded its module and expanded a mask),
//           waits 1 s and reads it again; (after − before) / N.
//             compiled:       dist/server/unmask-pool.js: the workers run unmask-worker.js
//             tsx + bundle:   src/server/unmask-pool.ts under tsx: workers run the esbuild bundle
//             tsx + loader:   a worker that registers tsx itself (the fallback where esbuild is missing)
//
//   node scripts/measure-startup.mjs [--runs N] [--threads N]     (defaults 5 and 2)
// Needs dist/ (npm run build). Prints medians (and min–max) per mode.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string' }, threads: { type: 'string' } } });
const RUNS = Number(values.runs ?? 5);
const THREADS = Number(values.threads ?? 2);
const MiB = 1024 * 1024;

function rssOf(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line[1]) * 1024;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One `serve` start: ms to `listening on`, and RSS after 1 s idle. */
async function serveOnce(args) {
  const out = mkdtempSync(join(tmpdir(), 'privagg-startup-'));
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...args,
      'serve',
      '--port',
      '0',
      '--clients',
      '3',
      '--dim',
      '10',
      '--out',
      join(out, 'r.jsonl'),
      '--log-level',
      'silent',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ms = await new Promise((res, rej) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('listening on')) res(performance.now() - t0);
    });
    child.on('exit', (code) => rej(new Error(`serve exited (${code}) before listening`)));
  });
  await sleep(1000);
  const rss = rssOf(child.pid);
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  rmSync(out, { recursive: true, force: true });
  return { ms, rss };
}

/** Per-worker RSS: a child process measures its own RSS around starting `threads` pool workers. */
function workerOnce(kind) {
  const poolTs = join(ROOT, 'src/server/unmask-pool.ts');
  const poolJs = join(ROOT, 'dist/server/unmask-pool.js');
  const planTs = join(ROOT, 'src/secagg/unmask-plan.ts');
  const planJs = join(ROOT, 'dist/secagg/unmask-plan.js');
  const workerTs = join(ROOT, 'src/server/unmask-worker.ts');
  const entryTs = join(ROOT, 'src/runtime/worker-entry.ts');
  const code = `
    const { readFileSync } = await import('node:fs');
    const { pathToFileURL } = await import('node:url');
    const rss = () => Number(readFileSync('/proc/self/status', 'utf8').match(/^VmRSS:\\s+(\\d+) kB/m)[1]) * 1024;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const kind = ${JSON.stringify(kind)};
    const compiled = kind === 'compiled';
    const { UnmaskPool } = await import(pathToFileURL(compiled ? ${JSON.stringify(poolJs)} : ${JSON.stringify(poolTs)}).href);
    const { unmaskPlan } = await import(pathToFileURL(compiled ? ${JSON.stringify(planJs)} : ${JSON.stringify(planTs)}).href);
    const seed = (b) => new Uint8Array(32).fill(b);
    const plan = unmaskPlan(seed(1), [{ name: 'v', length: 1000, bits: 32 }],
      Array.from({ length: ${THREADS} }, (_, i) => ({ kind: 'pair', seed: seed(i + 2), sign: 1 })));
    if (kind === 'tsx-loader') {
      // The pool's fallback path: each worker registers tsx in its own thread.
      const { workerEntry } = await import(pathToFileURL(${JSON.stringify(entryTs)}).href);
      const { Worker } = await import('node:worker_threads');
      const entry = workerEntry(pathToFileURL(${JSON.stringify(workerTs)}));
      await sleep(500);
      const before = rss();
      const workers = Array.from({ length: ${THREADS} }, () => new Worker(entry.filename, { eval: entry.eval, execArgv: [] }));
      // The worker answers 'begin' only once its module is loaded; 'end' then returns its partial sum.
      await Promise.all(workers.map((w) => new Promise((res, rej) => {
        w.on('message', (m) => (m.type === 'partial' ? res() : rej(new Error(JSON.stringify(m)))));
        w.on('error', rej);
        w.postMessage({ type: 'begin', sessionId: seed(1), vectors: [{ name: 'v', length: 1000, bits: 32 }] });
        w.postMessage({ type: 'end' });
      })));
      await sleep(1000);
      console.log(JSON.stringify({ perWorker: (rss() - before) / ${THREADS} }));
      await Promise.all(workers.map((w) => w.terminate()));
    } else {
      const pool = new UnmaskPool({ size: ${THREADS}, oversubscribe: true, batchSize: 1 });
      await pool.prepare();
      await sleep(500);
      const before = rss();
      await pool.run(plan);
      await sleep(1000);
      console.log(JSON.stringify({ perWorker: (rss() - before) / ${THREADS}, threads: pool.threads }));
      await pool.close();
    }
  `;
  const args = kind === 'compiled' ? [] : ['--import', 'tsx'];
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${kind}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

function summary(xs, unit, scale) {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x) => (x / scale).toFixed(unit === 'ms' ? 0 : 1);
  return `${f(s[Math.floor(s.length / 2)])} ${unit} (${f(s[0])}–${f(s.at(-1))})`;
}

const SERVE = { compiled: ['dist/cli/main.js'], tsx: ['--import', 'tsx', 'src/cli/main.ts'] };
const serve = { compiled: { ms: [], rss: [] }, tsx: { ms: [], rss: [] } };
for (let i = 0; i < RUNS; i++) {
  for (const mode of i % 2 === 0 ? ['compiled', 'tsx'] : ['tsx', 'compiled']) {
    const { ms, rss } = await serveOnce(SERVE[mode]);
    serve[mode].ms.push(ms);
    serve[mode].rss.push(rss);
  }
}
const KINDS = ['compiled', 'tsx-bundle', 'tsx-loader'];
const worker = Object.fromEntries(KINDS.map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  for (const kind of i % 2 === 0 ? KINDS : [...KINDS].reverse())
    worker[kind].push(workerOnce(kind).perWorker);
}
console.log(`privagg serve, ${RUNS} starts each (median, min–max), node ${process.version}:`);
for (const mode of ['compiled', 'tsx']) {
  console.log(
    `  ${mode.padEnd(9)} to 'listening on' ${summary(serve[mode].ms, 'ms', 1)}   idle RSS ${summary(serve[mode].rss, 'MiB', MiB)}`,
  );
}
console.log(`unmask worker, RSS added per thread (${THREADS} threads, ${RUNS} processes each):`);
for (const kind of KINDS) console.log(`  ${kind.padEnd(12)} ${summary(worker[kind], 'MiB', MiB)}`);
