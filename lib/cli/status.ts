// `sunray status`: the cluster as the head sees it, as text or (--json) as one
// JSON object for scripts.

import { queryAutoscalerStatus, queryState, queryStatus } from '../cluster/status.js';
import type { AutoscalerStatus } from '../protocol/autoscaler.js';
import type { PlacementGroupRow } from '../protocol/placement-group.js';
import { parseFlags, usage, type VerbSpec } from './args.js';
import { HEAD_FLAGS, headTarget } from './head-target.js';

/** The flags of `sunray status`. */
export const SPEC: VerbSpec = {
  name: 'status',
  summary:
    'Shows the cluster as its head sees it: nodes, resources used/total, pending and infeasible demand, placement groups waiting.',
  flags: {
    ...HEAD_FLAGS,
    json: { type: 'boolean', help: 'print one JSON object instead of text' },
  },
};

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const { address, auth } = headTarget(f);
  const { nodes, heartbeatTimeoutMs } = await queryStatus(address, auth);
  const autoscaler = await queryAutoscalerStatus(address, auth);
  // Placement groups not (all) placed: reported with why, as infeasible tasks are.
  const groups = (await queryState(address, auth, 'placementGroups')).rows as PlacementGroupRow[];
  const waitingGroups = groups
    .filter((g) => g.state === 'PENDING' || g.state === 'RESCHEDULING')
    .map((g) => ({ id: g.placementGroupId, name: g.name, state: g.state, reason: g.pendingReason }));
  const alive = nodes.filter((n) => n.alive);
  const used: Record<string, number> = {};
  const total: Record<string, number> = {};
  const pending: Record<string, number> = {};
  for (const n of alive) {
    for (const [k, v] of Object.entries(n.total)) {
      total[k] = (total[k] ?? 0) + v;
      used[k] = (used[k] ?? 0) + v - (n.available[k] ?? 0);
    }
    for (const [k, v] of Object.entries(n.infeasible)) pending[k] = (pending[k] ?? 0) + v;
  }
  const queued = alive.reduce((s, n) => s + n.pendingTasks, 0);
  const totals = alive.map((n) => n.total);
  const infeasible = Object.entries(pending).filter(([shape]) => !fitsAnyNode(shape, totals));
  const names = Object.keys(total).sort();
  if (f.json) {
    const resources: Record<string, { used: number; total: number }> = {};
    for (const k of names) resources[k] = { used: used[k] ?? 0, total: total[k] ?? 0 };
    const report = {
      address,
      heartbeatTimeoutMs,
      nodes,
      resources,
      pendingTasks: queued,
      pendingActors: alive.reduce((s, n) => s + n.pendingActors, 0),
      actorsAwaitingProcess: alive.reduce((s, n) => s + n.actorsAwaitingProcess, 0),
      infeasible: infeasible.map(([shape, count]) => ({ shape, count })),
      placementGroupsWaiting: waitingGroups,
      ...(autoscaler ? { autoscaler } : {}),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [
    `cluster at ${address}: ${alive.length} node(s) alive, heartbeat timeout ${heartbeatTimeoutMs} ms`,
    '',
    'nodes:',
  ];
  for (const n of nodes) {
    const role = n.isHead ? 'head' : n.isDriver ? 'driver' : 'node';
    // Why its actors wait, when it is the process cap: what to do is in the line.
    const capped =
      n.alive && n.actorsAwaitingProcess > 0
        ? `  ${n.actorsAwaitingProcess} actor(s) wait for a worker process: the node runs its maxWorkerProcesses ` +
          "(kill actors you no longer need, raise --max-worker-processes, or use isolation: 'shared')"
        : '';
    lines.push(
      `  ${n.nodeId.slice(0, 8)} ${role.padEnd(6)} ${n.address.padEnd(21)} ${n.alive ? 'alive' : 'DEAD'}${capped}`,
    );
  }
  lines.push('', 'resources (used/total):');
  for (const k of names) lines.push(`  ${fmt(used[k] ?? 0)}/${fmt(total[k] ?? 0)} ${k}`);
  const waitingActors = alive.reduce((s, n) => s + n.pendingActors, 0);
  lines.push(
    '',
    `pending: ${queued} task(s) and actor(s) queued, of which ${waitingActors} actor(s) wait to be placed`,
  );
  if (infeasible.length > 0) {
    lines.push('infeasible demand (no node can run it):');
    for (const [shape, count] of infeasible) lines.push(`  ${count} x {${shape}}`);
  } else lines.push('infeasible demand: none');
  if (waitingGroups.length > 0) {
    lines.push('placement groups waiting to be placed:');
    for (const g of waitingGroups) lines.push(`  ${g.name || g.id.slice(0, 12)} ${g.state}: ${g.reason}`);
  }
  if (autoscaler) lines.push('', ...autoscalerLines(autoscaler));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** The autoscaler's part of `sunray status`: per node type its nodes by state, then the demand it could not meet. */
export function autoscalerLines(st: AutoscalerStatus): string[] {
  const idle = st.idleTimeoutMs / 1000;
  const lines = [`autoscaler (${st.provider} provider, idle timeout ${fmt(idle)} s):`];
  for (const [type, t] of Object.entries(st.nodeTypes)) {
    const mine = st.instances.filter((i) => i.nodeType === type);
    const count = (state: string) => mine.filter((i) => i.state === state).length;
    lines.push(
      `  ${type}: ${count('running')} running, ${count('launching')} launching, ${count('idle')} idle` +
        `${count('terminating') ? `, ${count('terminating')} terminating` : ''} ` +
        `(min ${t.minWorkers}, max ${t.maxWorkers}; ${JSON.stringify(t.resources)})`,
    );
    for (const i of mine.filter((x) => x.state === 'idle'))
      lines.push(`    ${i.id} idle for ${fmt((i.idleMs ?? 0) / 1000)} s`);
  }
  if (st.requested.length > 0) lines.push(`  requested (requestResources): ${JSON.stringify(st.requested)}`);
  if (st.unmet.length === 0) lines.push('  unmet demand: none');
  else {
    lines.push('  unmet demand (the autoscaler cannot launch for it):');
    for (const u of st.unmet) lines.push(`    ${u.count} x ${JSON.stringify(u.shape)}: ${u.reason}`);
  }
  for (const e of st.errors.slice(-3)) lines.push(`  error: ${e}`);
  return lines;
}

/** shape is a class key like "CPU=1,GPU=2" (or "actor CPU=1"). */
function fitsAnyNode(shape: string, totals: Record<string, number>[]): boolean {
  const demand = shape
    .replace(/^actor /, '')
    .split(',')
    .filter((p) => p.includes('='))
    .map((p) => p.split('=') as [string, string]);
  return totals.some((t) => demand.every(([k, v]) => (t[k] ?? 0) >= Number(v)));
}
