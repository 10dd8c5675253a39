// Names shared by the driver, the controller, proxies and replicas: where the controller is
// found, and the keys callers long-poll it on.

/** The controller's actor name, in SERVE_NAMESPACE. */
export const CONTROLLER_NAME = 'SERVE_CONTROLLER';
/** The namespace of serve's own actors (apart from the user's names). */
export const SERVE_NAMESPACE = 'serve';

/** The long-poll key of a deployment's replica set. */
export function replicasKey(app: string, deployment: string): string {
  return `replicas:${app}/${deployment}`;
}

/** The long-poll key of the HTTP route table. */
export const ROUTES_KEY = 'routes';

/** A route of the proxies' table: requests under `prefix` go to the app's ingress deployment. */
export interface Route {
  prefix: string;
  app: string;
  deployment: string;
}
