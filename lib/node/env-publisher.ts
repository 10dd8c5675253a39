// A driver's runtime envs reach the cluster before any task that runs in them: the first
// call in an env whose working directory this process packed uploads the archive (into its
// own node, and the head's package store when it is in a cluster), and calls in that env
// wait for the upload (CoreWorker.envGate). Each archive is uploaded once per driver.
import { RuntimeEnvSetupError } from '../base/errors.js';
import { packedArchive } from '../protocol/package-archive.js';
import { parseRuntimeEnvText } from '../protocol/runtime-env.js';
import type { NodeManager } from './node-manager.js';

/** CoreWorker.envGate for a driver on `manager`: a promise while an env's archive is uploaded. */
export function envPublisher(manager: NodeManager): (envText: string) => Promise<void> | undefined {
  /** By hash: true once uploaded, the upload while it runs. */
  const published = new Map<string, Promise<void> | true>();
  const hashes = new Map<string, string>();
  return (text) => {
    let hash = hashes.get(text);
    if (hash === undefined) {
      hash = parseRuntimeEnvText(text).workingDir?.hash ?? '';
      hashes.set(text, hash);
    }
    if (hash === '') return undefined;
    const state = published.get(hash);
    if (state === true) return undefined;
    if (state) return state;
    const gz = packedArchive(hash);
    if (!gz) return undefined; // not packed here: an env this driver was given (a job's), uploaded already
    manager.envs.addPackage(hash, gz);
    const cluster = manager.cluster;
    if (!cluster) {
      published.set(hash, true);
      return undefined;
    }
    const up = cluster.putPackage(hash, gz).then(
      () => {
        published.set(hash, true);
      },
      (err: Error) => {
        published.delete(hash);
        throw new RuntimeEnvSetupError(
          `the working directory of a runtime env could not be uploaded to the cluster's head: ${err.message}`,
        );
      },
    );
    published.set(hash, up);
    return up;
  };
}
