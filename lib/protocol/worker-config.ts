// What a node manager hands a worker process at start (as SUNRAY_WORKER_CONFIG in
// its environment; nothing secret): who it is, where its node's fds are.

/** What a worker reads from SUNRAY_WORKER_CONFIG at start. */
export interface WorkerConfig {
  index: number;
  nodeId: string;
  ownerId: string; // hex: the worker's own ownership id
  /** The node manager's pid: the worker exits when its parent is no longer this process. */
  parentPid: number;
  driverDir: string;
  namespace: string;
  /** The job of the driver whose embedded node started the worker (none on a `sunray start` node). */
  jobId?: string;
  /** Record task events (the node's taskEvents option). */
  taskEvents: boolean;
  /** The runtime env it was started for (runtime-env.ts text): what the tasks it submits inherit. */
  runtimeEnv?: string;
  /** Its env's directory: where shipped functions' `import()` and `require` resolve from. */
  envHome?: string;
  /** Where its env's working directory was packed from: module URLs under it are read from envHome. */
  envSource?: string;
  /** Its env's npm packages (an env without a working directory): bare imports not found elsewhere resolve there. */
  envPackages?: string;
  // fds, as inherited: store arena, completion ring + its eventfd, inbox ring + its eventfd,
  // and the control socket on which other workers' ring fds arrive
  fds: {
    store: number;
    completion: number;
    completionBell: number;
    inbox: number;
    inboxBell: number;
    control: number;
  };
}
