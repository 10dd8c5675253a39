// Runtime environments (Ray's runtime_env): what a task, actor, driver or job asks of the
// worker processes that run it (environment variables, a working directory shipped into
// the cluster, npm packages installed on each node), checked, merged as Ray merges them,
// and as the text a task spec carries (TaskSpec.runtimeEnv). The text is canonical JSON
// (sorted keys), so equal environments are equal strings: a node keys its worker pool and
// caches by it, and a worker reads it to know the environment it runs in.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../base/errors.js';

/** What a program asks for (init, `.options()`, a job): Ray's runtime_env, for Node. */
export interface RuntimeEnv {
  /** Environment variables of the worker processes (merged over the job's, name by name). */
  envVars?: Record<string, string>;
  /**
   * A local directory (or a .zip of one): packed, uploaded into the cluster once by its content's hash, and
   * unpacked on each node that runs this work, where its workers start (their cwd) and
   * where relative `import()`s of shipped functions resolve.
   */
  workingDir?: string;
  /** npm packages (`{ name: version }`), installed once per node; this work's `import()` finds them. */
  npmDependencies?: Record<string, string>;
}

/** A workingDir once packed: the archive's content hash, and where it was on the submitting machine. */
export interface PackedDir {
  /** sha256 (hex) of the archive's contents (package-archive.ts). */
  hash: string;
  /** The directory it was packed from (absolute), so code that names files in it can be found in the copy. */
  source: string;
}

/** A runtime env as specs carry it: its workingDir packed (uploaded, or to be). */
export interface ResolvedRuntimeEnv {
  envVars?: Record<string, string>;
  workingDir?: PackedDir;
  npmDependencies?: Record<string, string>;
}

/** The most environment variables one runtime env may set. */
const MAX_ENV_VARS = 1000;
/** npm package names (the registry's rules, scope included). */
const NPM_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;
/** Environment variables sunray sets for its workers: a runtime env may not. */
const RESERVED_VARS = new Set(['SUNRAY_WORKER_CONFIG', 'SUNRAY_CLUSTER_TOKEN']);

/** Checks a RuntimeEnv a program gave (`where` names the call); returns it, or throws InvalidArgumentError. */
export function checkRuntimeEnv(env: unknown, where: string): RuntimeEnv {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new InvalidArgumentError(
      `${where}: runtimeEnv must be an object { envVars?, workingDir?, npmDependencies? }`,
    );
  }
  const e = env as Record<string, unknown>;
  for (const k of Object.keys(e)) {
    if (k !== 'envVars' && k !== 'workingDir' && k !== 'npmDependencies') {
      throw new InvalidArgumentError(
        `${where}: runtimeEnv has no field '${k}' (it takes envVars, workingDir and npmDependencies)`,
      );
    }
  }
  if (e.envVars !== undefined) {
    const vars = stringMap(e.envVars, `${where}: runtimeEnv.envVars`);
    if (Object.keys(vars).length > MAX_ENV_VARS) {
      throw new InvalidArgumentError(`${where}: runtimeEnv.envVars sets more than ${MAX_ENV_VARS} variables`);
    }
    for (const name of Object.keys(vars)) {
      if (name === '' || name.includes('=') || name.includes('\0') || (vars[name] as string).includes('\0')) {
        throw new InvalidArgumentError(
          `${where}: runtimeEnv.envVars has an invalid variable name or value: '${name}'`,
        );
      }
      if (RESERVED_VARS.has(name)) {
        throw new InvalidArgumentError(
          `${where}: runtimeEnv.envVars may not set ${name} (sunray sets it itself)`,
        );
      }
    }
  }
  if (e.workingDir !== undefined && (typeof e.workingDir !== 'string' || e.workingDir === '')) {
    throw new InvalidArgumentError(`${where}: runtimeEnv.workingDir must be the path of a local directory`);
  }
  if (e.npmDependencies !== undefined) {
    const deps = stringMap(e.npmDependencies, `${where}: runtimeEnv.npmDependencies`);
    for (const [name, version] of Object.entries(deps)) {
      if (!NPM_NAME.test(name) || name.length > 214) {
        throw new InvalidArgumentError(
          `${where}: runtimeEnv.npmDependencies: '${name}' is not an npm package name`,
        );
      }
      if (version === '' || version.length > 512 || /[\s\0]/.test(version)) {
        throw new InvalidArgumentError(
          `${where}: runtimeEnv.npmDependencies['${name}'] must be a version or range like '7.0.0' or '^7', got ${JSON.stringify(version)}`,
        );
      }
    }
  }
  return e as RuntimeEnv;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`${what} must be an object of strings`);
  }
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string')
      throw new InvalidArgumentError(`${what}['${k}'] must be a string, got ${typeof x}`);
  }
  return v as Record<string, string>;
}

/**
 * Ray's merge of a task's or actor's runtime env over its job's (or parent's): the child's
 * fields replace the parent's, except envVars, which are merged name by name, the child's
 * winning.
 */
export function mergeRuntimeEnv(parent: ResolvedRuntimeEnv, child: ResolvedRuntimeEnv): ResolvedRuntimeEnv {
  const out: ResolvedRuntimeEnv = { ...parent, ...child };
  if (parent.envVars && child.envVars) out.envVars = { ...parent.envVars, ...child.envVars };
  return out;
}

/** The text a spec carries for a resolved env: canonical JSON, '' for the empty env. */
export function runtimeEnvText(env: ResolvedRuntimeEnv): string {
  const out: Record<string, unknown> = {};
  if (env.envVars && Object.keys(env.envVars).length > 0) out.envVars = sorted(env.envVars);
  if (env.workingDir) out.workingDir = { hash: env.workingDir.hash, source: env.workingDir.source };
  if (env.npmDependencies && Object.keys(env.npmDependencies).length > 0) {
    out.npmDependencies = sorted(env.npmDependencies);
  }
  return Object.keys(out).length === 0 ? '' : JSON.stringify(out);
}

function sorted(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as string;
  return out;
}

/** A spec's runtimeEnv text read back (from a peer or a worker's config): checked field by field. */
export function parseRuntimeEnvText(text: string): ResolvedRuntimeEnv {
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('a runtime env is not valid JSON');
  }
  const e = v as Record<string, unknown>;
  const { workingDir, ...rest } = typeof e === 'object' && e !== null ? e : {};
  checkRuntimeEnv(rest, 'runtime env');
  const out: ResolvedRuntimeEnv = rest as ResolvedRuntimeEnv;
  if (workingDir !== undefined) {
    const w = workingDir as Record<string, unknown>;
    if (typeof w?.hash !== 'string' || !/^[0-9a-f]{64}$/.test(w.hash) || typeof w.source !== 'string') {
      throw new InvalidArgumentError('a runtime env names its working directory by a sha256 hash and a path');
    }
    out.workingDir = { hash: w.hash, source: w.source };
  }
  return out;
}

/** A short key for an env text (caches, worker pools, file names): '' for the empty env. */
export function runtimeEnvKey(text: string): string {
  return text === '' ? '' : createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The key of a set of npm dependencies (its node cache directory's name). */
export function npmDependenciesKey(deps: Record<string, string>): string {
  return createHash('sha256')
    .update(JSON.stringify(sorted(deps)))
    .digest('hex')
    .slice(0, 16);
}

const mergedTexts = new Map<string, string>();
const MERGED_MAX = 256;

/**
 * The env text a call submitted with `own` (its options' env, '' for none) runs in, where
 * the submitting code runs in `inherited` (the job's, or the worker's own): merged as
 * mergeRuntimeEnv, cached (a submit calls this for every task).
 */
export function effectiveEnvText(own: string, inherited: string): string {
  if (inherited === '' || own === inherited) return own;
  if (own === '') return inherited;
  const key = `${own}\0${inherited}`;
  let m = mergedTexts.get(key);
  if (m === undefined) {
    m = runtimeEnvText(mergeRuntimeEnv(parseRuntimeEnvText(inherited), parseRuntimeEnvText(own)));
    if (mergedTexts.size >= MERGED_MAX) mergedTexts.clear();
    mergedTexts.set(key, m);
  }
  return m;
}
