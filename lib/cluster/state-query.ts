// The state API across the cluster: the node asked (a driver's, or the head for `sunray
// list`) gathers a kind of rows from every alive node, its own included, and says which
// nodes did not answer in time; each node answers for itself (node/state-rows.ts). Jobs
// are the head's alone (its directory's job table): other nodes ask it.
import { within } from '../base/deadline.js';
import type { JobStateRow } from '../protocol/job.js';
import { type LogChunk, type LogRead, NO_LOG_FILE, readLogRead } from '../protocol/log-lines.js';
import type { PlacementGroupRow } from '../protocol/placement-group.js';
import type { LocalStateKind } from '../protocol/state-rows.js';
import type { Conn } from './connection.js';
import type { Message, Parsed } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/** How long a node has to answer before it is listed as unreachable. */
const ANSWER_MS = 5000;

/** The kinds every node answers for itself, gathered over the cluster. */
const GATHERED = new Set<string>(['actors', 'workers', 'liveTasks', 'objects', 'usage', 'logFiles']);

/** Rows gathered from the nodes, and the nodes that did not answer. */
export interface GatheredRows {
  rows: unknown[];
  unreachable: string[];
}

/** Gathers state rows from the cluster's nodes, and answers other nodes' queries for this one. */
export class StateQueries {
  constructor(
    private readonly table: Pick<NodeTable, 'values' | 'selfId'>,
    private readonly peers: Pick<PeerLinks, 'peer'>,
    /** This node's own rows of a kind (for logRead, of a selection: a LogRead as JSON). */
    private readonly local: (kind: LocalStateKind, selectionJson?: string) => unknown[] | Promise<unknown[]>,
    /** The head's tables of jobs and placement groups (on the head; undefined elsewhere). */
    private readonly headTables:
      | { jobs(): JobStateRow[]; placementGroups(): PlacementGroupRow[] }
      | undefined,
    /** The connection to the head (other nodes). */
    private readonly headConn: () =>
      | { readonly closed: boolean; requestCb(m: Message, cb: (p: Parsed | Error) => void): void }
      | undefined,
  ) {}

  /** The cluster's jobs: the head's table, asked of the head from other nodes. */
  async jobs(): Promise<JobStateRow[]> {
    if (this.headTables) return this.headTables.jobs();
    const c = this.headConn();
    if (!c || c.closed) throw new Error('the head is not reachable; try again once this node rejoined it');
    const rows = await within(rowsOf(c, { t: 'stateQuery', kind: 'jobs', cluster: false }), ANSWER_MS);
    if (!rows) throw new Error(`the head did not answer a jobs query within ${ANSWER_MS} ms`);
    return rows as JobStateRow[];
  }

  /** Every alive node's rows of `kind`, this node's first. */
  async gather(kind: LocalStateKind): Promise<GatheredRows> {
    const others = [...this.table.values()].filter((n) => n.alive && n.nodeId !== this.table.selfId);
    const [own, answers] = await Promise.all([
      this.local(kind),
      Promise.all(others.map((n) => this.ask(n.nodeId, kind))),
    ]);
    const rows = [...own];
    const unreachable: string[] = [];
    answers.forEach((a, i) => {
      if (a) rows.push(...a);
      else unreachable.push(others[i]?.nodeId ?? '');
    });
    return { rows, unreachable };
  }

  private ask(nodeId: string, kind: LocalStateKind): Promise<unknown[] | undefined> {
    return this.askNode(nodeId, { t: 'stateQuery', kind, cluster: false });
  }

  /** A node's answer to a stateQuery within ANSWER_MS (undefined: it could not be asked, or was silent). */
  private askNode(nodeId: string, m: Message): Promise<unknown[] | undefined> {
    return within(
      this.peers
        .peer(nodeId)
        .then((conn) => rowsOf(conn, m))
        .catch(() => undefined),
      ANSWER_MS,
    );
  }

  /**
   * A worker's log file read on the node it is on: this one, or asked of that node (its
   * answer within ANSWER_MS, else an error naming it). A node that is not alive in the table
   * has no file to read (NO_LOG_FILE, as for a worker a node does not know).
   */
  async readLog(req: LogRead): Promise<LogChunk> {
    if (req.nodeId === this.table.selfId) {
      return ((await this.local('logRead', JSON.stringify(req))) as LogChunk[])[0] ?? NO_LOG_FILE;
    }
    // A node that is not (or no longer) alive in the table keeps no files we can read.
    if (![...this.table.values()].some((n) => n.nodeId === req.nodeId && n.alive)) return NO_LOG_FILE;
    const selectionJson = JSON.stringify(req);
    const rows = await this.askNode(req.nodeId, {
      t: 'stateQuery',
      kind: 'logRead',
      cluster: false,
      selectionJson,
    });
    if (!rows) throw new Error(`node ${req.nodeId} did not answer within ${ANSWER_MS} ms`);
    return (rows[0] as LogChunk | undefined) ?? NO_LOG_FILE;
  }

  /** A stateQuery from a peer or a client: this node's rows, or (cluster) every node's. */
  async serve(c: Conn, p: Parsed, m: Extract<Message, { t: 'stateQuery' }>): Promise<void> {
    const answer = (rows: unknown[], unreachable: string[] = []) =>
      c.reply(p.requestId, {
        t: 'stateRows',
        rowsJson: JSON.stringify(rows),
        unreachableJson: JSON.stringify(unreachable),
      });
    if (m.kind === 'jobs') return answer(this.headTables?.jobs() ?? []);
    if (m.kind === 'placementGroups') return answer(this.headTables?.placementGroups() ?? []);
    if (m.kind === 'logRead') {
      const req = readLogRead(m.selectionJson);
      if (!req) return answer([NO_LOG_FILE]);
      // From a client (`sunray logs` asks the head): read on the node the file is on.
      const read = m.cluster ? this.readLog(req) : this.readLog({ ...req, nodeId: this.table.selfId });
      return read.then(
        (chunk) => answer([chunk]),
        (err: Error) => answer([], [`${req.nodeId}: ${err.message}`]),
      );
    }
    if (!GATHERED.has(m.kind)) return answer([]);
    const kind = m.kind as LocalStateKind;
    if (!m.cluster) return answer(await this.local(kind));
    const { rows, unreachable } = await this.gather(kind);
    answer(rows, unreachable);
  }
}

/** The rows a connection answers a stateQuery with (undefined: an error, or not rows). */
function rowsOf(
  conn: { requestCb(m: Message, cb: (p: Parsed | Error) => void): void },
  m: Message,
): Promise<unknown[] | undefined> {
  return new Promise((resolve) =>
    conn.requestCb(m, (r) =>
      resolve(
        r instanceof Error || r.msg.t !== 'stateRows' ? undefined : (JSON.parse(r.msg.rowsJson) as unknown[]),
      ),
    ),
  );
}
