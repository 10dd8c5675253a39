// `sunray logs`: workers' log files from any machine of the cluster, as Ray's `ray logs`.
// Without a selector it lists every worker's files on every node; with --actor, --task, or
// --node and --worker it prints one worker's stdout (--err: its stderr), the last --tail
// lines (default 1000), and with --follow keeps printing what the worker writes, until
// interrupted. Everything is read through the head, which asks the node the file is on.
import { type HeadAuth, queryLogFiles, queryLogRead, queryState, queryStatus } from '../cluster/status.js';
import { chunkTail, LOG_READ_BYTES, type LogRead } from '../protocol/log-lines.js';
import type { ActorStateRow } from '../protocol/state-rows.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import { parseFlags, stringFlag, UsageError, usage, type VerbSpec } from './args.js';
import { HEAD_FLAGS, headTarget } from './head-target.js';
import { table } from './list.js';

/** The flags of `sunray logs`. */
export const SPEC: VerbSpec = {
  name: 'logs',
  summary:
    "Lists the workers' log files of the cluster, or prints one worker's (an actor's, a task's, or a node's pid).",
  flags: {
    ...HEAD_FLAGS,
    actor: { type: 'string', value: 'ID', help: "the actor's process" },
    task: { type: 'string', value: 'ID', help: 'the worker that ran the task (its last attempt)' },
    node: { type: 'string', value: 'ID', help: 'a node (its id, or the start of it), with --worker' },
    worker: { type: 'string', value: 'PID', help: "with --node: the worker's process id" },
    err: { type: 'boolean', help: 'its stderr, not its stdout' },
    tail: {
      type: 'string',
      value: 'N',
      help: 'the last N lines (default 1000; 0 with --follow: only new ones)',
    },
    follow: { type: 'boolean', help: 'keep printing what it writes, until interrupted' },
    json: { type: 'boolean', help: 'the list of files as one JSON array' },
  },
};

/** How often --follow asks for more. */
const FOLLOW_MS = 500;

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const { address, auth } = headTarget(f);
  const actor = stringFlag(f, 'actor');
  const task = stringFlag(f, 'task');
  const node = stringFlag(f, 'node');
  const worker = stringFlag(f, 'worker');
  if ([actor, task, node ?? worker].filter((x) => x !== undefined).length === 0) {
    const { rows, unreachable } = await queryLogFiles(address, auth);
    process.stdout.write(f.json ? `${JSON.stringify(rows, null, 2)}\n` : table(rows as never[]));
    if (unreachable.length > 0)
      process.stderr.write(`nodes that did not answer: ${unreachable.join(', ')}\n`);
    return 0;
  }
  const tailFlag = stringFlag(f, 'tail');
  const tail = tailFlag === undefined ? 1000 : Number(tailFlag);
  if (!Number.isSafeInteger(tail) || tail < 0)
    throw new UsageError(`--tail takes a number of lines, got ${tailFlag}`);
  const target = await findTarget(address, auth, { actor, task, node, worker });
  if (typeof target === 'string') {
    process.stderr.write(`${target}\n`);
    return 1;
  }
  const req: LogRead = {
    ...target,
    stream: f.err ? 'err' : 'out',
    offset: -LOG_READ_BYTES,
    maxBytes: LOG_READ_BYTES,
  };
  const first = await queryLogRead(address, auth, req);
  if (first.size < 0) {
    process.stderr.write(`node ${target.nodeId.slice(0, 8)} keeps no log of worker ${target.pid}\n`);
    return 1;
  }
  process.stdout.write(chunkTail(first, tail));
  if (!f.follow) return 0;
  let offset = first.size;
  let stop = false;
  const end = () => {
    stop = true;
  };
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  while (!stop) {
    await new Promise((r) => setTimeout(r, FOLLOW_MS));
    const chunk = await queryLogRead(address, auth, { ...req, offset, maxBytes: LOG_READ_BYTES });
    if (chunk.size < 0) {
      process.stderr.write('the log is gone (its node stopped, or dropped the files of old workers)\n');
      return 1;
    }
    // Shorter than where we were: the file was rotated; its new part starts at 0.
    if (chunk.size < offset) offset = 0;
    else {
      process.stdout.write(chunk.text);
      offset = chunk.size;
    }
  }
  return 0;
}

/** The node and pid a selector names, or why there is none. */
async function findTarget(
  address: string,
  auth: HeadAuth,
  s: {
    actor?: string | undefined;
    task?: string | undefined;
    node?: string | undefined;
    worker?: string | undefined;
  },
): Promise<{ nodeId: string; pid: number } | string> {
  if ([s.actor, s.task, s.node ?? s.worker].filter((x) => x !== undefined).length !== 1) {
    throw new UsageError('give one of --actor ID, --task ID, or --node ID with --worker PID');
  }
  if (s.actor !== undefined) {
    const { rows } = await queryState(address, auth, 'actors');
    const a = (rows as ActorStateRow[]).find((r) => r.actorId === s.actor);
    if (!a) return `no actor ${s.actor} in the cluster`;
    return a.pid === null ? `actor ${s.actor} has no process (${a.state})` : { nodeId: a.nodeId, pid: a.pid };
  }
  if (s.task !== undefined) {
    const { rows } = await queryState(address, auth, 'tasks', {
      filters: [['taskId', '=', s.task]],
      limit: 1,
    });
    const t = (rows as TaskStateRow[])[0];
    if (!t) return `no task ${s.task} in the cluster's records`;
    return t.workerPid === null || !t.nodeId
      ? `task ${s.task} has not run yet (${t.state})`
      : { nodeId: t.nodeId, pid: t.workerPid };
  }
  const pid = Number(s.worker);
  if (s.node === undefined || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new UsageError('--node ID goes with --worker PID (a process id)');
  }
  const { nodes } = await queryStatus(address, auth);
  const matching = nodes.filter((n) => n.nodeId.startsWith(s.node ?? ''));
  if (matching.length !== 1)
    return `${matching.length === 0 ? 'no' : 'more than one'} node with id ${s.node}`;
  return { nodeId: matching[0]?.nodeId ?? '', pid };
}
