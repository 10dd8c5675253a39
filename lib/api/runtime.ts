// Using the API before init() starts an embedded local node, as Ray does. The
// node layer is loaded only then: a worker process, which imports the API too
// (actor handles, remote() inside tasks), never loads the node manager's code.
import { createRequire } from 'node:module';
import { currentRuntime, type Runtime } from '../worker/context.js';

const require = createRequire(import.meta.url);

/** The process's runtime, starting a local driver with the defaults if there is none. */
export function currentRuntimeOrStart(): Runtime {
  const rt = currentRuntime();
  if (rt) return rt;
  // Synchronous (put() and remote() are): Node 20.19+ loads an ES module graph by require.
  const { startDriver } = require('../node/driver.js') as typeof import('../node/driver.js');
  return startDriver({});
}
