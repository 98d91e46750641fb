// Runs every test file under test/ with Node's own test runner. Files are listed explicitly because
// on Node 20 a bare `node --test` with a glob can run nothing and still exit 0. The tests run the
// TypeScript sources through tsx, and PRIVAGG_FROM_SOURCE=1 makes the `bin/privagg.js` they spawn do
// the same (rather than a dist/ that may be stale); scripts/test-package.mjs tests the built package.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const filter = process.argv.slice(2);
const files = findTests('test')
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, PRIVAGG_FROM_SOURCE: '1' },
});
process.exit(result.status ?? 1);
