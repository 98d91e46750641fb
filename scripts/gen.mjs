// `npm run gen`: every generated artefact from its source — the protobuf stubs (gen-proto.mjs) and the
// WebAssembly kernels (gen-wasm.mjs). `npm run gen -- --check` checks both and fails if either is
// stale (npm hands the arguments to this script only, hence one script rather than `a && b`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (args.some((arg) => arg !== '--check')) {
  console.error('usage: node scripts/gen.mjs [--check]');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
let status = 0;
for (const script of ['gen-proto.mjs', 'gen-wasm.mjs']) {
  const result = spawnSync(process.execPath, [join(here, script), ...args], { stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
