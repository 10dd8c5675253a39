// The event relay with fakes: an event about work owned elsewhere goes once to each live
// owner node (never to this node, a dead one or one the table does not know), and an event
// a peer sends is reported here only when it is one of the relayed names with an object.
import { afterEach, describe, expect, test } from 'vitest';
import { EventRelay } from '../../../lib/cluster/event-relay.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import { events } from '../../../lib/protocol/events.js';
import { FakePeers, nodeIdOf, nodeInfo, objectOf } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const B = nodeIdOf(0xb0);
const C = nodeIdOf(0xc0);
const DEAD = nodeIdOf(0xd0);

function makeRelay() {
  const table = new NodeTable(SELF);
  table.apply([nodeInfo(SELF), nodeInfo(B), nodeInfo(C), nodeInfo(DEAD, false)]);
  const peers = new FakePeers();
  return { relay: new EventRelay(table, peers), peers };
}

const died = { actorId: 'ab', className: 'Tally', name: undefined, reason: 'killed' };

afterEach(() => events.removeAllListeners());

describe('event relay', () => {
  test('goes once to each live owner node other than this one', async () => {
    const { relay, peers } = makeRelay();
    const ids = [
      objectOf(B, 1),
      objectOf(B, 2),
      objectOf(C),
      objectOf(SELF),
      objectOf(DEAD),
      objectOf(nodeIdOf(0xee)),
    ];
    relay.send(
      ids.map((id) => id.subarray(0, 24)),
      'actorDied',
      died,
    );
    await new Promise((r) => setImmediate(r));
    const m = { t: 'event', name: 'actorDied', payloadJson: JSON.stringify(died) };
    expect(peers.conn(B).sent).toEqual([m]);
    expect(peers.conn(C).sent).toEqual([m]);
    expect(peers.connected(SELF)).toBeUndefined();
    expect(peers.connected(DEAD)).toBeUndefined();
  });

  test("a peer's event is reported when it is a relayed one, with an object", async () => {
    const { relay } = makeRelay();
    const heard: unknown[] = [];
    events.on('actorDied', (e) => heard.push(e));
    events.on('nodeDead', (e) => heard.push(e));
    relay.onEvent({ t: 'event', name: 'actorDied', payloadJson: JSON.stringify(died) });
    relay.onEvent({ t: 'event', name: 'nodeDead', payloadJson: '{"nodeId":"x"}' }); // not relayed
    relay.onEvent({ t: 'event', name: 'actorDied', payloadJson: '{not json' });
    relay.onEvent({ t: 'event', name: 'actorDied', payloadJson: '[1]' });
    relay.onEvent({ t: 'event', name: 'actorDied', payloadJson: 'null' });
    relay.onEvent({ t: 'event', name: 'constructor', payloadJson: '{}' });
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual([{ actorId: 'ab', className: 'Tally', reason: 'killed' }]);
  });
});
