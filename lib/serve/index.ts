// sunray/serve: HTTP serving on actors (Ray Serve for Node). A deployment is a class whose
// `fetch(request)` answers WHATWG Requests, so a Hono app or any fetch handler serves as it
// is; replicas are actors behind a proxy per node, autoscaled on load, composed through
// typed handles. See docs/serve.md.

/**
 * HTTP serving on actors (Ray Serve): deployments, applications, handles, batching.
 *
 * @module sunray/serve
 */

import type { DeploymentOptions } from './config.js';
import { Deployment } from './deployment.js';

export type { RunOptions } from './api.js';
export { deleteApp as delete, getAppHandle, getDeploymentHandle, run, shutdown, status } from './api.js';
export { type BatchedFunction, type BatchOptions, batch } from './batch.js';
export type { AutoscalingConfig, DeploymentOptions, ReplicaActorOptions } from './config.js';
export type {
  ApplicationStatus,
  ApplicationStatusInfo,
  DeploymentStatus,
  DeploymentStatusInfo,
  ProxyStatus,
  ReplicaStatus,
  ServeStatus,
} from './controller-state.js';
export type { BindArgs, Bindable } from './deployment.js';
export { Application, Deployment } from './deployment.js';
export {
  BackPressureError,
  DeploymentFailedError,
  DeploymentUnavailableError,
  RequestCancelledError,
  ServeConfigError,
} from './errors.js';
export type {
  DeploymentHandle,
  DeploymentHandleBase,
  DeploymentMethod,
  HandleArgs,
  HandleOptions,
  MethodName,
  ResultOptions,
  StreamingDeploymentHandle,
  StreamingDeploymentMethod,
  Untyped,
  Yielded,
} from './handle.js';
export { DeploymentResponse, DeploymentResponseGenerator } from './handle.js';

type Ctor = abstract new (...args: never[]) => unknown;

/**
 * Makes a class a deployment: `.bind(...args)` gives an application for `serve.run`. The class
 * answers HTTP with `fetch(request: Request): Response | Promise<Response>` and may have other
 * methods for handles; `reconfigure(userConfig)` runs on config changes, `checkHealth()` on
 * the controller's health checks.
 */
export function deployment<C extends Ctor>(cls: C, opts: DeploymentOptions = {}): Deployment<C> {
  return new Deployment(cls, opts);
}
