// Using the API before init() starts an embedded local node, as Ray does.
import { currentRuntime, type Runtime } from './context.js';
import { startDriver } from './driver.js';

export function currentRuntimeOrStart(): Runtime {
  return currentRuntime() ?? startDriver({});
}
