// What the job server (dashboard/job-manager.ts) hands the driver process of a submitted job:
// the cluster to join and its token, the job's namespace and runtime env, in a 0600 file of
// the server's private session directory whose path is in the driver's environment
// (SUNRAY_JOB_CONFIG: a path, nothing secret). The driver's init() reads it
// (node/driver.ts withJobDefaults), so `await sunray.init()` in a submitted script joins the
// cluster the job was submitted to, as Ray's drivers do under `ray job submit`.
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { InvalidArgumentError } from '../base/errors.js';

/** The environment variable that names a job driver's config file. */
export const JOB_CONFIG_ENV = 'SUNRAY_JOB_CONFIG';

/** A submitted job's driver configuration. */
export interface JobDriverConfig {
  /** The job's submission id. */
  submissionId: string;
  /** The head's host:port. */
  address: string;
  /** The cluster token. */
  token: string;
  /** The job's namespace (its submission id unless the submitter gave one). */
  namespace: string;
  /** The job's runtime env (runtime-env.ts text): its tasks and actors run in it. */
  runtimeEnv: string;
}

/** Writes the config into a new file (O_EXCL, O_NOFOLLOW, 0600) of a private directory. */
export function writeJobDriverConfig(path: string, cfg: JobDriverConfig): void {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    writeSync(fd, JSON.stringify(cfg));
  } finally {
    closeSync(fd);
  }
}

let cached: { path: string; cfg: JobDriverConfig } | undefined;

/**
 * This process's job driver config, when the job server started it (SUNRAY_JOB_CONFIG set),
 * else undefined. The file must be ours and private (InvalidArgumentError otherwise).
 */
export function jobDriverConfig(): JobDriverConfig | undefined {
  const path = process.env[JOB_CONFIG_ENV];
  if (!path) return undefined;
  if (cached?.path === path) return cached.cfg;
  const bad = (why: string) =>
    new InvalidArgumentError(
      `${JOB_CONFIG_ENV} names ${path}, which ${why}: unset it to run as a plain driver`,
    );
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw bad(`cannot be read (${(err as Error).message})`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o077) !== 0)
      throw bad('is not a private file of yours');
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const v = JSON.parse(text) as Record<string, unknown>;
  for (const k of ['submissionId', 'address', 'token', 'namespace', 'runtimeEnv'] as const) {
    if (typeof v[k] !== 'string') throw bad(`lacks its ${k}`);
  }
  cached = { path, cfg: v as unknown as JobDriverConfig };
  return cached.cfg;
}
