// The driver's side of serve: run, status, delete, shutdown and handles. These talk to the
// controller actor, starting it (detached, named SERVE_CONTROLLER in namespace 'serve') on
// the first run; sunray itself is started if it is not yet.
import * as sunray from '../index.js';
import { ServeController } from './controller.js';
import type { ServeStatus } from './controller-state.js';
import { type Application, buildApp, type Deployment, type ImportPath } from './deployment.js';
import { DeploymentFailedError, DeploymentUnavailableError, fromRemote } from './errors.js';
import { type DeploymentHandle, makeHandle, type Untyped } from './handle.js';
import { CONTROLLER_NAME, SERVE_NAMESPACE } from './names.js';
import { forgetController } from './routing.js';

/** Options of `serve.run`. */
export interface RunOptions {
  /** The application's name (default 'default'); running another app of the same name updates it. */
  name?: string;
  /** Where HTTP requests reach the app (default '/'); null: no HTTP, handles only. */
  routePrefix?: string | null;
  /** The address proxies listen on (default 127.0.0.1: this machine only; '0.0.0.0' for every interface). */
  host?: string;
  /** The port proxies listen on (default 8000; 0 picks a free one, see `status().proxies`). */
  port?: number;
  /** Wait until the app is deleted or serve shut down (Ctrl-C shuts serve down). */
  blocking?: boolean;
  /** How long to wait for the app to run before DeploymentFailedError (default 300000 ms). */
  timeoutMs?: number;
}

type Ctor = abstract new (...args: never[]) => unknown;

const ControllerClass = sunray.remote(ServeController, {
  module: new URL('./controller.js', import.meta.url).href,
});

async function ensureInit(): Promise<void> {
  if (!sunray.isInitialized()) await sunray.init();
}

/** The controller, started if `create` and it is not running; undefined if not running. */
async function controller(create: boolean): Promise<sunray.ActorHandle<ServeController> | undefined> {
  await ensureInit();
  if (create) {
    return ControllerClass.options({
      name: CONTROLLER_NAME,
      namespace: SERVE_NAMESPACE,
      lifetime: 'detached',
      getIfExists: true,
      maxConcurrency: 100_000,
    }).remote();
  }
  try {
    return await sunray.getActor<ServeController>(CONTROLLER_NAME, { namespace: SERVE_NAMESPACE });
  } catch {
    return undefined;
  }
}

async function call<T>(ref: sunray.ObjectRef<T>, timeout?: number): Promise<T> {
  try {
    return await sunray.get(ref, timeout === undefined ? {} : { timeout });
  } catch (err) {
    throw fromRemote(err);
  }
}

function checkRunOptions(o: RunOptions): void {
  const bad = (m: string): never => {
    throw new sunray.InvalidArgumentError(`serve.run(): ${m}`);
  };
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[\w.-]{1,100}$/.test(o.name)))
    bad(`name must be 1-100 letters, digits, '_', '-' or '.', got ${JSON.stringify(o.name)}`);
  if (o.routePrefix !== undefined && o.routePrefix !== null) {
    if (typeof o.routePrefix !== 'string' || !o.routePrefix.startsWith('/') || /[?#\s]/.test(o.routePrefix))
      bad(
        `routePrefix must be a path starting with '/' (or null for no HTTP), got ${JSON.stringify(o.routePrefix)}`,
      );
  }
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535))
    bad(`port must be a whole number from 0 to 65535, got ${o.port}`);
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) bad('host must be an address');
  if (o.timeoutMs !== undefined && !(typeof o.timeoutMs === 'number' && o.timeoutMs > 0))
    bad(`timeoutMs must be a number > 0, got ${o.timeoutMs}`);
}

/**
 * Deploys an application (a bound deployment and, through its arguments, the deployments it
 * composes) and waits until it runs. Gives a handle to its ingress deployment.
 */
export async function run<T>(app: Application<T>, opts: RunOptions = {}): Promise<DeploymentHandle<T>> {
  return runApp(app, opts);
}

/** @internal serve.run, and the CLI's, whose classes travel through the application's import path. */
export async function runApp<T>(
  app: Application<T>,
  opts: RunOptions,
  importPath?: ImportPath,
): Promise<DeploymentHandle<T>> {
  checkRunOptions(opts);
  const name = opts.name ?? 'default';
  const routePrefix = opts.routePrefix === undefined ? '/' : opts.routePrefix;
  const spec = buildApp(app, name, routePrefix, importPath);
  const c = await controller(true);
  if (!c) throw new DeploymentUnavailableError('the serve controller could not be made: is sunray running?');
  const http: { host?: string; port?: number } = {};
  if (opts.host !== undefined) http.host = opts.host;
  if (opts.port !== undefined) http.port = opts.port;
  await call(c.deploy.remote(spec, http));
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const st = await call(c.waitForApp.remote(name, timeoutMs));
  if (!st)
    throw new DeploymentUnavailableError(`application '${name}' was deleted while it was being deployed`);
  if (st.status === 'DEPLOY_FAILED') {
    throw new DeploymentFailedError(`application '${name}' failed to deploy: ${st.message}`);
  }
  if (st.status === 'DEPLOYING') {
    const waiting = Object.entries(st.deployments)
      .filter(([, d]) => d.status !== 'HEALTHY')
      .map(
        ([n, d]) =>
          `${n}: ${d.replicaStates.RUNNING ?? 0}/${d.targetReplicas} running${d.message ? ` (${d.message})` : ''}`,
      );
    throw new DeploymentFailedError(
      `application '${name}' is not running after ${timeoutMs} ms (${waiting.join('; ')}); it keeps trying: ` +
        'check serve.status(), the resources its replicas ask for, or give a longer timeoutMs',
    );
  }
  const ingress = spec.deployments.find((d) => d.name === spec.ingress);
  if (!ingress)
    throw new DeploymentFailedError(`application '${name}' has no ingress deployment '${spec.ingress}'`);
  const handle = makeHandle<T>(name, ingress.name, ingress.methods);
  if (opts.blocking) await blockUntilGone(name);
  return handle;
}

/** @internal Waits until the application is gone; SIGINT/SIGTERM shut serve down first. */
export async function blockUntilGone(name: string): Promise<void> {
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const onSignal = () => {
    void shutdown().finally(stop);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (;;) {
      const st = await Promise.race([status().catch(() => undefined), stopped.then(() => undefined)]);
      if (!st || !st.applications[name]) return;
      await Promise.race([new Promise((r) => setTimeout(r, 1000)), stopped]);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The state of every application, deployment, replica and proxy (empty when serve is not running). */
export async function status(): Promise<ServeStatus> {
  const c = await controller(false);
  if (!c) return { proxies: {}, applications: {} };
  return call(c.status.remote(), 30_000);
}

/** Deletes an application: its replicas finish their requests and stop. False if there was none. */
export async function deleteApp(name: string): Promise<boolean> {
  const c = await controller(false);
  if (!c) return false;
  return call(c.deleteApp.remote(name));
}

/** Deletes every application, stops the proxies and the controller. Nothing to do if serve is not running. */
export async function shutdown(): Promise<void> {
  if (!sunray.isInitialized()) return;
  const c = await controller(false);
  forgetController();
  if (!c) return;
  try {
    await call(c.shutdown.remote(), 120_000);
  } finally {
    sunray.kill(c);
  }
}

/** A handle to an application's ingress deployment. */
export async function getAppHandle<T = Untyped>(name: string): Promise<DeploymentHandle<T>> {
  const c = await controller(false);
  const info = c ? await call(c.appInfo.remote(name), 30_000) : null;
  if (!info)
    throw new DeploymentUnavailableError(
      `no application named '${name}' is running: deploy it with serve.run()`,
    );
  return makeHandle<T>(name, info.ingress, info.methods);
}

/** A handle to a deployment of an application (by the Deployment, typed, or by its name). */
export async function getDeploymentHandle<C extends Ctor>(
  deployment: Deployment<C>,
  app?: string,
): Promise<DeploymentHandle<InstanceType<C>>>;
export async function getDeploymentHandle<T = Untyped>(
  deployment: string,
  app?: string,
): Promise<DeploymentHandle<T>>;
export async function getDeploymentHandle(
  deployment: string | Deployment<Ctor>,
  app = 'default',
): Promise<unknown> {
  const name = typeof deployment === 'string' ? deployment : deployment.name;
  const c = await controller(false);
  const info = c ? await call(c.deploymentInfo.remote(app, name), 30_000) : null;
  if (!info) {
    throw new DeploymentUnavailableError(
      `application '${app}' has no deployment '${name}': check serve.status()`,
    );
  }
  return makeHandle(app, name, info.methods);
}
