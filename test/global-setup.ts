// Runs once before the suite: the tests import 'sunray' as users do (the
// package's self-reference, i.e. dist/ plus the compiled addon), so both must
// exist. After the suite, nothing may be left behind in /dev/shm.
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function sunraySegments(): string[] {
  try {
    return readdirSync('/dev/shm').filter((f) => f.startsWith('sunray'));
  } catch {
    return [];
  }
}

export default function setup(): () => void {
  if (!existsSync(resolve(root, 'dist/index.js'))) {
    throw new Error('dist/ is missing: run `npm run compile:ts` (npm test does it for you)');
  }
  if (!existsSync(resolve(root, 'build/Release/sunray.node')) && !existsSync(resolve(root, 'prebuilds'))) {
    throw new Error('the native addon is not built: run `npm run compile:native`');
  }
  const before = new Set(sunraySegments());
  return () => {
    const leaked = sunraySegments().filter((f) => !before.has(f));
    if (leaked.length > 0)
      throw new Error(`tests left shared-memory segments in /dev/shm: ${leaked.join(', ')}`);
  };
}
