// Using the API before init() starts an embedded local node, as Ray does.

import { startDriver } from '../node/driver.js';
import { currentRuntime, type Runtime } from '../worker/context.js';

export function currentRuntimeOrStart(): Runtime {
  return currentRuntime() ?? startDriver({});
}
