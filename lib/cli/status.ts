// `sunray status`: the cluster as the head sees it.
import { loadHead } from '../cluster/session.js';
import { queryStatus } from '../cluster/status.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseFlags, stringFlag } from './args.js';

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, []);
  const local = loadHead();
  const address = stringFlag(f, 'address') ?? local?.address;
  const token = stringFlag(f, 'token') ?? process.env.SUNRAY_CLUSTER_TOKEN ?? local?.token;
  if (!address || !token) {
    throw new InvalidArgumentError(
      'no cluster started on this machine: give --address HOST:PORT --token TOKEN, or run `sunray start --head`',
    );
  }
  const { nodes, heartbeatTimeoutMs } = await queryStatus(address, token);
  const alive = nodes.filter((n) => n.alive);
  const lines: string[] = [
    `cluster at ${address}: ${alive.length} node(s) alive, heartbeat timeout ${heartbeatTimeoutMs} ms`,
    '',
  ];
  lines.push('nodes:');
  for (const n of nodes) {
    const role = n.isHead ? 'head' : n.isDriver ? 'driver' : 'node';
    lines.push(
      `  ${n.nodeId.slice(0, 8)} ${role.padEnd(6)} ${n.address.padEnd(21)} ${n.alive ? 'alive' : 'DEAD'}`,
    );
  }
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
  lines.push('', 'resources (used/total):');
  for (const k of Object.keys(total).sort()) lines.push(`  ${fmt(used[k] ?? 0)}/${fmt(total[k] ?? 0)} ${k}`);
  const queued = alive.reduce((s, n) => s + n.pendingTasks, 0);
  const waitingActors = alive.reduce((s, n) => s + n.pendingActors, 0);
  lines.push(
    '',
    `pending: ${queued} task(s) and actor(s) queued, of which ${waitingActors} actor(s) wait to be placed`,
  );
  const infeasible = Object.entries(pending).filter(
    ([shape]) =>
      !fitsAnyNode(
        shape,
        alive.map((n) => n.total),
      ),
  );
  if (infeasible.length > 0) {
    lines.push('infeasible demand (no node can run it):');
    for (const [shape, count] of infeasible) lines.push(`  ${count} x {${shape}}`);
  } else lines.push('infeasible demand: none');
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
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
