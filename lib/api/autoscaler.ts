// sunray.autoscaler: what a program asks of the cluster's autoscaler (Ray's
// ray.autoscaler.sdk.request_resources). The request is kept on the head as standing
// demand: the autoscaler keeps room for those bundles until a later request replaces
// it (an empty list clears it), launching nodes ahead of the work.
import { InvalidArgumentError } from '../base/errors.js';
import { validateDemand } from '../protocol/resources.js';
import { currentRuntimeOrStart } from './runtime.js';

/** The most bundles one request may name. */
const MAX_BUNDLES = 10_000;

/**
 * Asks the autoscaler for room for these bundles, ahead of the work that will need it
 * (Ray's `request_resources(bundles=...)`): it launches nodes until the cluster's nodes
 * together could hold every bundle at once (each bundle on one node), and keeps them
 * while the request stands, even idle. The latest request replaces earlier ones; an
 * empty list clears it. Resolves once the head has the request. Without a cluster (an
 * embedded node alone) there is no autoscaler and nothing is asked.
 *
 * ```ts
 * await sunray.autoscaler.requestResources([{ CPU: 1, special: 1 }, { CPU: 1, special: 1 }]);
 * ```
 *
 * @param bundles resource amounts by name, one object per bundle ({ CPU: 4, GPU: 1 })
 * @throws InvalidArgumentError when a bundle is not an object of amounts >= 0
 */
export async function requestResources(bundles: ReadonlyArray<Record<string, number>>): Promise<void> {
  if (!Array.isArray(bundles))
    throw new InvalidArgumentError('requestResources(bundles): bundles must be an array of resource objects');
  if (bundles.length > MAX_BUNDLES)
    throw new InvalidArgumentError(
      `requestResources(bundles): at most ${MAX_BUNDLES} bundles, got ${bundles.length}`,
    );
  const copy = bundles.map((b, i) => {
    if (typeof b !== 'object' || b === null || Array.isArray(b))
      throw new InvalidArgumentError(
        `requestResources(bundles): bundles[${i}] must be an object like { CPU: 1 }`,
      );
    validateDemand(b, `requestResources(bundles): bundles[${i}]`);
    return { ...b };
  });
  await currentRuntimeOrStart().backend.request('requestResources', copy);
}

/** The autoscaler as a program reaches it (`sunray.autoscaler`). */
export const autoscaler = {
  /**
   * Asks the autoscaler for room for `bundles` ahead of work (Ray's request_resources): it
   * stands until the next request replaces it; an empty list clears it.
   */
  requestResources,
} as const;
