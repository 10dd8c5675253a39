// Helpers for tests that drive real processes.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..');
export const fixtures = resolve(import.meta.dirname, 'fixtures');

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether pid runs (not gone, and not a zombie: a killed orphan stays one until the
 * reaper it was handed to collects it, which on a loaded machine takes a while).
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Polls until cond() holds, or fails after timeoutMs. `what` names it in the failure: a
 * function is called then, so it can show what was seen by the end (output collected meanwhile).
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`,
  );
}

/**
 * Collects garbage until process pid is gone (an actor whose last handle was dropped),
 * or fails after 10 s. Needs --expose-gc (set in vitest.config.ts).
 */
export async function untilGoneAfterGc(pid: number, what: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('untilGoneAfterGc needs node --expose-gc');
  await until(
    () => {
      gc();
      return !isAlive(pid);
    },
    10_000,
    what,
  );
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node [execArgv] script args` to completion, capturing output. */
export function runNode(
  script: string,
  args: string[] = [],
  opts: { execArgv?: string[]; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, [...(opts.execArgv ?? []), script, ...args], {
      cwd: opts.cwd ?? repoRoot,
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${script} did not finish in ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, opts.timeoutMs ?? 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Child pids of a process (from /proc), to check that workers are gone. */
export async function childPids(pid: number): Promise<number[]> {
  const { readFileSync } = await import('node:fs');
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Runs tsc on a fixture project (`dir`, its tsconfig) and reads what a type test checks: the
 * errors tsc gives in `file` as "line:TSxxxx", the ones the file marks with `// error TSxxxx`,
 * and tsc's output (to show when they differ).
 */
export function typeErrors(
  dir: string,
  file: string,
): { errors: string[]; expected: string[]; output: string } {
  let output = '';
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? '');
  }
  const name = file.replace(/[.]/g, '\\.');
  const errors = [...output.matchAll(new RegExp(`${name}\\((\\d+),\\d+\\): error (TS\\d+)`, 'g'))].map(
    (m) => `${m[1]}:${m[2]}`,
  );
  const expected = readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const m = /\/\/ error (TS\d+)/.exec(line);
      return m ? [`${i + 1}:${m[1]}`] : [];
    });
  return { errors, expected, output };
}

/**
 * How many of the spans ran at one moment, at most: what resources bound, measured on the
 * tasks themselves, so a loaded machine (slow dispatch) cannot pass for a limit or hide one.
 */
export function mostAtOnce(spans: [number, number][]): number {
  const edges = spans.flatMap(([a, b]) => [
    [a, 1],
    [b, -1],
  ]);
  edges.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!); // an end before a start at the same ms
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d!));
  return most;
}
