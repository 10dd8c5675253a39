// `sunray stop`: stops the node daemons started on this machine (SIGTERM, then
// SIGKILL after a grace period), and forgets the local cluster's token and the head's
// saved state (the cluster ended: the next `sunray start --head` starts a new one).
import { forgetHeadStates } from '../cluster/head-state.js';
import { clearHead, daemonRunning, daemons, forgetDaemon } from '../session/session-dir.js';
import { numberFlag, parseFlags, usage, type VerbSpec } from './args.js';

/** The flags of `sunray stop`. */
export const SPEC: VerbSpec = {
  name: 'stop',
  summary:
    "Stops the node daemons started on this machine by `sunray start` (workers first, then the head), and forgets the head's saved state.",
  flags: {
    'grace-period-ms': {
      type: 'string',
      value: 'MS',
      help: 'how long a node may take to stop after SIGTERM before it is killed (default 10000)',
    },
  },
};

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const graceMs = numberFlag(f, 'grace-period-ms') ?? 10_000;
  const nodes = daemons();
  // Worker nodes first, then the head.
  nodes.sort((a, b) => Number(a.head) - Number(b.head));
  let stopped = 0;
  for (const d of nodes) {
    // A record whose daemon died without saying so may name a pid another process reuses now:
    // only the process that started then is signalled.
    if (!daemonRunning(d)) {
      forgetDaemon(d.pid);
      continue;
    }
    process.kill(d.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (daemonRunning(d) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (daemonRunning(d)) process.kill(d.pid, 'SIGKILL');
    forgetDaemon(d.pid);
    stopped++;
    process.stdout.write(
      `sunray: stopped ${d.head ? 'head ' : ''}node ${d.nodeId.slice(0, 8)} (pid ${d.pid})\n`,
    );
  }
  clearHead();
  forgetHeadStates();
  if (stopped === 0) process.stdout.write('sunray: no nodes were running on this machine\n');
  return 0;
}
