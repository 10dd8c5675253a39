// State queries with fakes: a gather asks every other alive node once (never a dead one),
// puts this node's rows first, and lists a node that cannot be dialed or does not answer
// in time as unreachable; row selection (filters, limit, columns) as the API and CLI use it.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { InvalidArgumentError } from '../../../lib/base/errors.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import { StateQueries } from '../../../lib/cluster/state-query.js';
import { type ActorStateRow, selectRows, summarizeActorRows } from '../../../lib/protocol/state-rows.js';
import { FakeConn, FakePeers, nodeIdOf, nodeInfo, settle } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const B = nodeIdOf(0xb0);
const C = nodeIdOf(0xc0);
const DEAD = nodeIdOf(0xd0);

afterEach(() => vi.useRealTimers());

describe('state queries', () => {
  test("gathers this node's rows and each live peer's; a peer that cannot be dialed or is silent is unreachable", async () => {
    vi.useFakeTimers();
    const table = new NodeTable(SELF);
    table.apply([nodeInfo(SELF), nodeInfo(B), nodeInfo(C), nodeInfo(DEAD, false)]);
    const peers = new FakePeers();
    const q = new StateQueries(
      table,
      peers,
      (kind) => [{ kind, nodeId: SELF }],
      undefined,
      () => undefined,
    );
    const gathered = q.gather('actors');
    await vi.advanceTimersByTimeAsync(0);
    // One question each to B and C, none to the dead node.
    expect([...peers.conns.keys()].sort()).toEqual([B, C].sort());
    expect(peers.conn(B).requests[0]?.m).toEqual({ t: 'stateQuery', kind: 'actors', cluster: false });
    peers
      .conn(B)
      .answer({ t: 'stateRows', rowsJson: JSON.stringify([{ nodeId: B }]), unreachableJson: '[]' });
    // C never answers: after 5 s it is unreachable, and the gather ends with what came.
    await vi.advanceTimersByTimeAsync(5000);
    expect(await gathered).toEqual({
      rows: [{ kind: 'actors', nodeId: SELF }, { nodeId: B }],
      unreachable: [C],
    });

    vi.useRealTimers();
    peers.unreachable.add(B);
    const again = q.gather('workers');
    await settle();
    // (The first gather's question to C is still open: answer it, then this one.)
    expect(peers.conn(C).requests).toHaveLength(2);
    peers.conn(C).requests.shift();
    peers.conn(C).answer({ t: 'stateRows', rowsJson: '[]', unreachableJson: '[]' });
    expect(await again).toEqual({ rows: [{ kind: 'workers', nodeId: SELF }], unreachable: [B] });
  });

  test("jobs are the head's table: answered there, asked of the head elsewhere (unreachable: an error)", async () => {
    const table = new NodeTable(SELF);
    const jobRow = { jobId: '0000000a', status: 'RUNNING' };
    const head = new StateQueries(
      table,
      new FakePeers(),
      () => [],
      { jobs: () => [jobRow as never], placementGroups: () => [] },
      () => undefined,
    );
    expect(await head.jobs()).toEqual([jobRow]);
    const headConn = new FakeConn(B);
    let conn: FakeConn | undefined;
    const other = new StateQueries(
      table,
      new FakePeers(),
      () => [],
      undefined,
      () => conn,
    );
    await expect(other.jobs()).rejects.toThrow(/head is not reachable/);
    conn = headConn;
    const asked = other.jobs();
    expect(headConn.requests[0]?.m).toEqual({ t: 'stateQuery', kind: 'jobs', cluster: false });
    headConn.answer({ t: 'stateRows', rowsJson: JSON.stringify([jobRow]), unreachableJson: '[]' });
    expect(await asked).toEqual([jobRow]);
  });

  const actor = (id: string, state: ActorStateRow['state'], className = 'Room'): ActorStateRow => ({
    actorId: id,
    className,
    state,
    name: '',
    namespace: 'default',
    nodeId: SELF,
    pid: state === 'DEAD' ? null : 7,
    numRestarts: 0,
    jobId: '01000000',
    isolation: 'process',
    detached: false,
    maxRestarts: 0,
    requiredResources: { CPU: 1 },
    deathCause: '',
  });

  test('rows are filtered (= and !=, as text), limited, and shown with the default columns unless detail', () => {
    const rows = [actor('a', 'ALIVE'), actor('b', 'DEAD'), actor('c', 'ALIVE', 'Game'), actor('d', 'ALIVE')];
    expect(selectRows('actors', rows, { filters: [['state', '=', 'ALIVE']] }).map((r) => r.actorId)).toEqual([
      'a',
      'c',
      'd',
    ]);
    expect(
      selectRows('actors', rows, {
        filters: [
          ['state', '!=', 'DEAD'],
          ['className', '=', 'Room'],
        ],
        limit: 1,
      }).map((r) => r.actorId),
    ).toEqual(['a']);
    expect(selectRows('actors', rows, { filters: [['pid', '=', 7]] })).toHaveLength(3);
    expect(Object.keys(selectRows('actors', rows, {})[0] ?? {})).not.toContain('deathCause');
    expect(Object.keys(selectRows('actors', rows, { detail: true })[0] ?? {})).toContain('deathCause');
    expect(() => selectRows('actors', rows, { filters: [['nope' as never, '=', 1]] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => selectRows('actors', rows, { limit: -1 })).toThrow(/limit/);
    expect(summarizeActorRows(rows)).toEqual({
      total: 4,
      byClass: { Room: { ALIVE: 2, DEAD: 1 }, Game: { ALIVE: 1 } },
    });
  });
});
