// Compiles src/ to dist/ (npm run build; also `prepare`, so `npm ci` and `npm pack` build): ES modules,
// .d.ts declarations and source maps, with tsconfig.build.json. tsc rewrites the `.ts` extensions of
// relative imports to `.js` in the JavaScript it emits (rewriteRelativeImportExtensions) but not in
// the declarations, whose `import … from './x.ts'` would then name files the package does not ship:
// this script rewrites those to `.js` as well (a declaration's `.js` import resolves to its `.d.ts`),
// and copies the non-TypeScript files the code loads at run time (the dashboard page).
//
// The build is incremental (dist/.tsbuildinfo): a rebuild with nothing changed takes a few seconds,
// a first build ~20 s on 2 cores.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (result.error) throw result.error;
if (result.status !== 0) process.exit(result.status ?? 1);

/** Every .d.ts file under `dir`. */
function declarations(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarations(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

// A relative specifier ending in .ts, in `from '…'`, `import('…')` and `declare module '…'` forms.
const RELATIVE_TS = /(['"])(\.\.?\/[^'"]*?)\.ts\1/g;
let rewritten = 0;
for (const file of declarations(DIST)) {
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(RELATIVE_TS, (_, quote, path) => `${quote}${path}.js${quote}`);
  if (fixed !== text) {
    writeFileSync(file, fixed);
    rewritten++;
  }
}
// Files the compiled code reads at run time beside itself (new URL('./…', import.meta.url)); tsc
// copies only what it compiles.
const ASSETS = ['server/dashboard/index.html'];
for (const asset of ASSETS) cpSync(join(ROOT, 'src', asset), join(DIST, asset));

console.log(`build: dist/ is up to date (${rewritten} declaration file(s) had .ts imports rewritten)`);
