// `npm install` of a runtime env's npmDependencies into a directory of the node's cache
// (runtime-envs.ts), with the machine's npm: a package.json listing them, then npm run
// without a shell (its arguments are ours; the names and versions only reach it inside the
// package.json), with a time limit, and without the cluster token in its environment. A
// marker file written last says the directory is complete.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RuntimeEnvSetupError } from '../base/errors.js';

/** The file that says an install finished. */
export const INSTALLED_MARKER = '.sunray-installed';
/** An install taking longer is killed and fails. */
export const NPM_INSTALL_TIMEOUT_MS = 5 * 60_000;
/** Bytes of npm's output kept for the error. */
const OUTPUT_TAIL = 4000;

/** The npm beside this node binary (where Node's installers put it), else `npm` from PATH. */
export function npmCommand(): string {
  const beside = join(dirname(process.execPath), 'npm');
  return existsSync(beside) ? beside : 'npm';
}

/**
 * Installs deps into dir (which exists, is private and empty but for what an earlier,
 * failed try left). Resolves once dir/node_modules holds them; RuntimeEnvSetupError
 * otherwise, with npm's output and what to check.
 */
export function npmInstall(dir: string, deps: Record<string, string>, nodeId: string): Promise<void> {
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'sunray-runtime-env', private: true, dependencies: deps }, null, 2)}\n`,
    { mode: 0o600 },
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SUNRAY_CLUSTER_TOKEN;
  delete env.SUNRAY_WORKER_CONFIG;
  const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--omit=dev', '--loglevel=error'];
  const command = npmCommand();
  return new Promise((resolve, reject) => {
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-OUTPUT_TAIL);
    };
    const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      output += `\n(killed after ${NPM_INSTALL_TIMEOUT_MS / 1000} s)`;
      child.kill('SIGKILL');
    }, NPM_INSTALL_TIMEOUT_MS);
    const failed = (how: string) =>
      new RuntimeEnvSetupError(
        `npm install of ${JSON.stringify(deps)} (runtimeEnv.npmDependencies) failed on node ` +
          `${nodeId.slice(0, 8)}: ${how}.${output.trim() ? ` npm said:\n${output.trim().replace(/^/gm, '  | ')}\n` : ' '}` +
          'Check the names and versions, and that this node reaches the npm registry ' +
          '(`npm config get registry`; a private one is set in ~/.npmrc of the user that runs the node).',
      );
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(failed(`${command} could not be run (${err.message}); install Node.js with npm on this node`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        writeFileSync(join(dir, INSTALLED_MARKER), `${new Date().toISOString()}\n`, { mode: 0o600 });
        resolve();
      } else reject(failed(signal ? `npm was killed by ${signal}` : `npm exited with code ${code}`));
    });
  });
}
