// Running a provider's command (a shell command of the user's, ssh): a child process with
// a timeout, its stdout and stderr kept (up to 1 MiB), something written to its stdin
// (the token, never an argument), an environment without the cluster token. Providers take
// a Runner, so tests can give a fake one and check the command lines built.
import { spawn } from 'node:child_process';
import { NodeProviderError } from '../../base/errors.js';

/** How a command ended. */
export interface RunResult {
  /** Its exit code (-1: killed by a signal or the timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

/** What a command is run with. */
export interface RunOptions {
  /** Written to its stdin, which is then closed (absent: stdin is empty). */
  stdin?: string;
  timeoutMs: number;
}

/** Runs `file args`; resolves with how it ended (rejects only when it could not start). */
export type Runner = (file: string, args: string[], opts: RunOptions) => Promise<RunResult>;

/** The most output kept of a command. */
const MAX_OUTPUT = 1 << 20;

/** The environment of provider commands: ours without the token. */
function commandEnv(): NodeJS.ProcessEnv {
  const { SUNRAY_CLUSTER_TOKEN: _, ...env } = process.env;
  return env;
}

/** The real Runner: a child process, killed (its process group) at the timeout. */
export const runCommand: Runner = (file, args, opts) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: commandEnv(), detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString('utf8');
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new NodeProviderError(`could not run ${file}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a command that does not read its stdin
    child.stdin.end(opts.stdin ?? '');
  });

/** The end of a command's stderr, for an error message. */
export function tail(text: string, max = 400): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

/** Runs a command and fails with NodeProviderError (naming `what`) unless it exits 0. */
export async function runChecked(
  run: Runner,
  what: string,
  file: string,
  args: string[],
  opts: RunOptions,
): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    throw new NodeProviderError(
      `${what} failed (exit ${r.code})${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}`,
    );
  }
  return r.stdout;
}

/** A value as one shell word: single-quoted, its quotes escaped. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_./:@=,+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The arguments of `sunray start` that join a node of a launch to the head (shell-quoted, joined by spaces). */
export function startArgs(
  headAddress: string,
  launch: { resources: Record<string, number>; labels: Record<string, string>; objectStoreMemory?: number },
): string[] {
  const { CPU, GPU, ...custom } = launch.resources;
  const args = ['--address', headAddress, '--num-cpus', String(CPU ?? 0)];
  if (GPU) args.push('--num-gpus', String(GPU));
  if (Object.keys(custom).length > 0) args.push('--resources', JSON.stringify(custom));
  args.push('--labels', JSON.stringify(launch.labels));
  if (launch.objectStoreMemory !== undefined)
    args.push('--object-store-memory', String(launch.objectStoreMemory));
  return args;
}
