// Ray's `placement group create/removal` (ray_perf.py): 100 groups of one tiny bundle made at
// once, each waited for, then all removed; groups per second. Ray asks 0.001 of a custom
// resource its node was started with; here 0.001 CPU of the bench's node. The bench's API
// may predate placement groups: then the row is skipped.
import { rate } from '../harness/timing.js';
import { type Benchmark, SkipError } from '../harness/types.js';
import { rayPerf } from '../ray/counterparts.js';
import { sunrayDefs } from './defs.js';

/** What the row uses of the API (the bench loads whichever build it measures). */
interface GroupApi {
  placementGroup(bundles: Record<string, number>[]): { ready(): Promise<void> };
  removePlacementGroup(pg: { ready(): Promise<void> }): Promise<void>;
}

/** Groups per timed call, as ray_perf's NUM_PGS. */
const GROUPS = 100;

export const placementGroupBenchmarks: Benchmark[] = [
  {
    name: 'placement group create/removal',
    group: 'actors',
    kind: 'sunray',
    shape: `${GROUPS} placementGroup([{ CPU: 0.001 }]) made at once, each ready(), then all removed; groups/s`,
    vsRay: rayPerf('placement group create/removal', {
      note: "Ray: ray_perf's own test, 0.001 of a custom resource its node was started with",
    }),
    async run(ctx) {
      const api = (await sunrayDefs()).api as Partial<GroupApi>;
      const { placementGroup, removePlacementGroup } = api;
      if (!placementGroup || !removePlacementGroup) {
        throw new SkipError('this build of sunray has no placement groups');
      }
      const once = async () => {
        const pgs = Array.from({ length: GROUPS }, () => placementGroup([{ CPU: 0.001 }]));
        await Promise.all(pgs.map((pg) => pg.ready()));
        await Promise.all(pgs.map((pg) => removePlacementGroup(pg)));
      };
      return rate(once, ctx, { units: GROUPS, unit: 'groups/s' });
    },
  },
];
