// `npm pack` / `npm publish` run this first: the tarball must carry the compiled
// TypeScript and a prebuilt binary for this platform (users install with scripts
// blocked, so the prebuild is what they load). Builds what is missing and
// checks that it is there; fails the pack otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Build output goes to stderr: `npm pack --json` prints its result on stdout.
const run = (script) => execFileSync(npm, ['run', script], { cwd: root, stdio: ['ignore', 2, 2] });

// dist/ afresh: files of modules since moved or deleted would otherwise ship (and load).
rmSync(join(root, 'dist'), { recursive: true, force: true });
run('compile:ts');
const target = `${process.platform}-${process.arch}`;
const dir = join(root, 'prebuilds', target);
const hasBinary = () => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node'));
if (!hasBinary()) run('prebuild');
if (!hasBinary()) {
  console.error(`prepack: no prebuilt binary in prebuilds/${target}: the package would not load`);
  process.exit(1);
}
console.error(`prepack: dist/ built, prebuilds/${target} present`);
