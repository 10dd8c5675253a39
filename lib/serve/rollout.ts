// The plan that moves a deployment's replicas towards its target: how many to start, which
// to stop, which to reconfigure. A new code version rolls replicas one by one: one new
// replica is started; once it runs, one old replica is stopped (drained first), and so on,
// so the replicas serving never drop below the target and never exceed it by more than one.
// A change of only userConfig reconfigures running replicas in place; a change of only the
// count starts or stops replicas (stopping those still starting first, then the newest).
// Pure: the controller applies the plan and calls again when something changed.

/** A replica's state as the plan sees it. */
export type ReplicaState = 'STARTING' | 'RUNNING' | 'STOPPING';

/** A replica as the plan sees it. */
export interface PlanReplica {
  id: string;
  version: string;
  /** Which userConfig it runs with (a counter the controller bumps). */
  configVersion: number;
  state: ReplicaState;
  /** When it was started (newest are stopped first when scaling down). */
  startedAt: number;
}

/** What to do now. */
export interface Plan {
  start: number;
  stop: string[];
  reconfigure: string[];
}

/** The next step towards `target` replicas of `version` with userConfig `configVersion`. */
export function planRollout(
  target: number,
  version: string,
  configVersion: number,
  replicas: readonly PlanReplica[],
): Plan {
  const live = replicas.filter((r) => r.state !== 'STOPPING');
  const current = live.filter((r) => r.version === version);
  const old = live.filter((r) => r.version !== version);
  const plan: Plan = { start: 0, stop: [], reconfigure: [] };
  plan.reconfigure = current
    .filter((r) => r.state === 'RUNNING' && r.configVersion !== configVersion)
    .map((r) => r.id);
  if (old.length > 0) {
    // Old replicas still starting serve nothing yet: stop them now.
    const oldStarting = old.filter((r) => r.state === 'STARTING');
    const oldRunning = old.filter((r) => r.state === 'RUNNING');
    plan.stop.push(...oldStarting.map((r) => r.id));
    if (target === 0) {
      plan.stop.push(...oldRunning.map((r) => r.id));
      plan.stop.push(...current.map((r) => r.id));
      return plan;
    }
    if (current.some((r) => r.state === 'STARTING')) return plan; // wait for it to run
    const serving = current.length + oldRunning.length;
    if (serving <= target && current.length < target) {
      // One more than the target at most, while old ones are replaced.
      plan.start = Math.max(1, target - serving);
      return plan;
    }
    const excess = serving - target;
    if (excess > 0)
      plan.stop.push(
        ...newestFirst(oldRunning)
          .slice(0, excess)
          .map((r) => r.id),
      );
    return plan;
  }
  if (current.length < target) plan.start = target - current.length;
  else if (current.length > target) {
    const starting = newestFirst(current.filter((r) => r.state === 'STARTING'));
    const running = newestFirst(current.filter((r) => r.state === 'RUNNING'));
    plan.stop = [...starting, ...running].slice(0, current.length - target).map((r) => r.id);
    plan.reconfigure = plan.reconfigure.filter((id) => !plan.stop.includes(id));
  }
  return plan;
}

function newestFirst<T extends PlanReplica>(rs: T[]): T[] {
  return [...rs].sort((a, b) => b.startedAt - a.startedAt);
}
