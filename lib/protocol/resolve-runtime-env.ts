// A RuntimeEnv as a program gives it (init, `.options()`) turned into the text specs carry:
// checked, its workingDir packed into an archive this process keeps until its driver uploads
// it (package-archive.ts), by content hash. The directory is read when an env object is
// first resolved: the same object later gives the same text (make a new object to re-read).
import { resolve } from 'node:path';
import { warn } from '../base/warnings.js';
import { packDirectory, rememberPacked } from './package-archive.js';
import { checkRuntimeEnv, type ResolvedRuntimeEnv, type RuntimeEnv, runtimeEnvText } from './runtime-env.js';

/** The spec text of a program's RuntimeEnv ('' for none); InvalidArgumentError or RuntimeEnvTooLargeError if it cannot be. */
export function resolveRuntimeEnv(env: RuntimeEnv | undefined, where: string): string {
  if (env === undefined) return '';
  let text = resolved.get(env);
  if (text === undefined) {
    text = resolveNow(env, where);
    resolved.set(env, text);
  }
  return text;
}

/** Env objects already resolved: an actor class's options resolve once, not per actor. */
const resolved = new WeakMap<RuntimeEnv, string>();

function resolveNow(env: RuntimeEnv, where: string): string {
  const e = checkRuntimeEnv(env, where);
  const out: ResolvedRuntimeEnv = {};
  if (e.envVars) out.envVars = { ...e.envVars };
  if (e.npmDependencies) out.npmDependencies = { ...e.npmDependencies };
  if (e.workingDir !== undefined) {
    const packed = packDirectory(e.workingDir);
    if (packed.skipped.length > 0) {
      warn(
        'SUNRAY_WORKING_DIR_SKIPPED',
        `${where}: runtimeEnv.workingDir ${e.workingDir}: ${packed.skipped.length} entries are not regular files ` +
          `(symbolic links, sockets) and were left out, e.g. ${packed.skipped.slice(0, 3).join(', ')}`,
      );
    }
    rememberPacked(packed.hash, packed.gz);
    out.workingDir = { hash: packed.hash, source: resolve(e.workingDir) };
  }
  return runtimeEnvText(out);
}
