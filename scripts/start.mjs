// `npm start`: runs the demo workload on an embedded local cluster. Checks the
// build first so a newcomer gets a clear message rather than a stack trace.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error(
    'sunray is not built yet: run `npm install` (it compiles the addon and the TypeScript), then `npm start`.',
  );
  process.exit(1);
}
await import(join(root, 'examples', 'demo.mjs'));
