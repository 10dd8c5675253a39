// Where a new task or actor of this node runs (the policies are in policy.ts: this
// gathers what they look at, this node's resources and load beside the table's),
// and the cluster's resources as a whole.
import { TaskUnschedulableError } from '../base/errors.js';
import { actorPlaceDemand, decodeActorOptions } from '../protocol/actor-options.js';
import { TaskKind, type TaskSpec } from '../protocol/spec.js';
import type { LocalNode } from './local-node.js';
import type { NodeTable } from './node-table.js';
import { type NodeView, place, type SchedulingStrategy } from './policy.js';

/** Places this node's new tasks and actors (SPREAD takes turns across calls). */
export class Placer {
  private spreadTurn = 0;

  constructor(
    private readonly local: Pick<LocalNode, 'nodeId' | 'pool' | 'loadSnapshot'>,
    private readonly table: Pick<NodeTable, 'others' | 'values'>,
  ) {}

  /** The node a new task or actor should run on: undefined for here, an Error if none can. */
  place(spec: TaskSpec): string | undefined | Error {
    const demand =
      spec.kind === TaskKind.ActorCreate
        ? actorPlaceDemand(decodeActorOptions(spec.method), spec.demand)
        : spec.demand;
    let strategy: SchedulingStrategy = 'DEFAULT';
    if (spec.strategy === 'SPREAD') strategy = 'SPREAD';
    else if (spec.strategy) strategy = JSON.parse(spec.strategy) as SchedulingStrategy;
    const local: NodeView = {
      nodeId: this.local.nodeId,
      total: this.local.pool.total(),
      load: this.local.loadSnapshot().load,
    };
    const p = place(demand, strategy, local, this.table.others(), this.spreadTurn);
    if (strategy === 'SPREAD') this.spreadTurn++;
    if ('unschedulable' in p) {
      return new TaskUnschedulableError(`task ${spec.name} cannot be scheduled: ${p.unschedulable}`);
    }
    return p.node === this.local.nodeId ? undefined : p.node;
  }

  /** Resources of the whole cluster (alive nodes; this one's as of now). */
  clusterResources(kind: 'total' | 'available'): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.table.values()) {
      if (!n.alive) continue;
      const r =
        n.nodeId === this.local.nodeId
          ? kind === 'total'
            ? this.local.pool.total()
            : this.local.pool.available()
          : kind === 'total'
            ? n.total
            : n.available;
      for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }
}
