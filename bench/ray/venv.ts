// The Python environment `--vs-ray` measures Ray in: a venv in a cache directory outside the
// package (SUNRAY_RAY_VENV, else $XDG_CACHE_HOME or ~/.cache, /sunray/ray-venv-<version>),
// made on the first --vs-ray run with `python3 -m venv` and the pinned Ray installed by pip,
// reused after. Anything missing (python3, venv, pip, the network) gives a reason, never an
// exception: the bench then runs without the Ray column.

import { execFile } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { RAY_PACKAGES, RAY_VERSION } from './counterparts.js';

/** A venv with the pinned Ray in it. */
export interface RayEnv {
  python: string;
  venv: string;
  version: string;
}

export type RayEnvResult = { ok: true; env: RayEnv } | { ok: false; reason: string };

/** Where the venv lives for this environment. */
export function venvDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SUNRAY_RAY_VENV) return env.SUNRAY_RAY_VENV;
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'sunray', `ray-venv-${RAY_VERSION}`);
}

interface Run {
  code: number | null;
  out: string;
  err: string;
  spawnError?: NodeJS.ErrnoException;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: unknown; killed?: boolean }) | null;
        const spawnError = e && typeof e.code === 'string' ? e : undefined;
        const timedOut = e?.killed ? `\ntimed out after ${Math.round(timeoutMs / 1000)} s` : '';
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : 1) : 0,
          out: String(stdout),
          err: String(stderr) + timedOut,
          spawnError,
        });
      },
    );
  });
}

const lastLine = (text: string): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-1)[0]
    ?.slice(0, 240) ?? '';

/**
 * A directory we run programs from must be ours and writable by nobody else (another user
 * could otherwise put their code in our venv). Returns why not, or undefined when it is fine.
 */
export function unsafeDir(dir: string): string | undefined {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (typeof process.getuid === 'function' && st.uid !== process.getuid())
    return `${dir} belongs to another user (uid ${st.uid})`;
  if (st.mode & 0o022) return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** The Ray version importable by that python with numpy and grpc, or why not. */
async function rayVersion(python: string, env: NodeJS.ProcessEnv): Promise<string | { reason: string }> {
  const r = await run(python, ['-c', 'import numpy, grpc, ray; print(ray.__version__)'], env, 180_000);
  if (r.code === 0) return r.out.trim();
  return { reason: lastLine(r.err) || `exit code ${r.code}` };
}

/**
 * The venv with Ray RAY_VERSION, made and installed first if needed. `log` gets a line before
 * anything slow (the first install takes minutes).
 */
export async function ensureRayVenv(
  opts: {
    env?: NodeJS.ProcessEnv;
    log?: (line: string) => void;
    installTimeoutMs?: number;
    /** Requirements beyond Ray's (RayCounterpart.pip of the selected rows). */
    extra?: readonly string[];
  } = {},
): Promise<RayEnvResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const venv = venvDir(env);
  const python = join(venv, 'bin', 'python');
  const wanted = [...new Set([...RAY_PACKAGES, ...(opts.extra ?? [])])];
  // What an install of ours put there (a venv made by hand has Ray's, checked by importing it).
  const marker = join(venv, 'sunray-requirements.txt');
  const installed = () =>
    existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean) : [...RAY_PACKAGES];
  // Pip and Python must not pick up a user's site-packages or write bytecode into the package.
  const childEnv: NodeJS.ProcessEnv = { ...env, PYTHONNOUSERSITE: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  for (const dir of [dirname(venv), venv]) {
    const bad = unsafeDir(dir);
    if (bad) return { ok: false, reason: `not using the Ray venv: ${bad}` };
  }
  if (existsSync(python)) {
    const v = await rayVersion(python, childEnv);
    const missing = wanted.filter((r) => !installed().includes(r));
    if (v === RAY_VERSION && missing.length === 0) return { ok: true, env: { python, venv, version: v } };
    log(
      v === RAY_VERSION
        ? `Ray: installing ${missing.join(' ')} into ${venv}`
        : `Ray: ${venv} has ${typeof v === 'string' ? `Ray ${v}` : `no usable Ray (${v.reason})`}; installing ${wanted.join(' ')}`,
    );
  } else {
    const probe = await run(
      'python3',
      ['-c', 'import venv, sys; print(sys.version.split()[0])'],
      childEnv,
      60_000,
    );
    if (probe.spawnError?.code === 'ENOENT') return { ok: false, reason: 'python3 is not on PATH' };
    if (probe.code !== 0)
      return {
        ok: false,
        reason: `python3 has no venv module (${lastLine(probe.err) || `exit ${probe.code}`})`,
      };
    try {
      mkdirSync(dirname(venv), { recursive: true, mode: 0o700 });
      mkdirSync(venv, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        return { ok: false, reason: `cannot make ${venv}: ${(e as Error).message}` };
    }
    for (const dir of [dirname(venv), venv]) {
      const bad = unsafeDir(dir);
      if (bad) return { ok: false, reason: `not using the Ray venv: ${bad}` };
    }
    log(
      `Ray: making a venv in ${venv} (python ${probe.out.trim()}) and installing ${wanted.join(' ')} (first --vs-ray run only; minutes)`,
    );
    const mk = await run('python3', ['-m', 'venv', venv], childEnv, 300_000);
    if (mk.code !== 0 || !existsSync(python))
      return {
        ok: false,
        reason: `python3 -m venv failed (${lastLine(mk.err) || lastLine(mk.out) || `exit ${mk.code}`})`,
      };
  }
  // pip's output goes to a log in the venv: the line we print on failure is its last one.
  const logPath = join(venv, 'sunray-install.log');
  const fd = openSync(logPath, 'w', 0o600);
  closeSync(fd);
  const pip = await run(
    python,
    ['-m', 'pip', 'install', '--log', logPath, ...wanted],
    childEnv,
    opts.installTimeoutMs ?? 20 * 60_000,
  );
  if (pip.code !== 0) {
    const why = lastLine(pip.err) || lastLine(readFileSync(logPath, 'utf8')) || `exit ${pip.code}`;
    return { ok: false, reason: `pip install ${wanted.join(' ')} failed (${why}; log: ${logPath})` };
  }
  writeFileSync(marker, `${[...new Set([...installed(), ...wanted])].join('\n')}\n`, { mode: 0o600 });
  const v = await rayVersion(python, childEnv);
  if (v !== RAY_VERSION)
    return {
      ok: false,
      reason: `after pip install, ${python} has ${typeof v === 'string' ? `Ray ${v}` : `no usable Ray (${v.reason})`}`,
    };
  return { ok: true, env: { python, venv, version: v } };
}
