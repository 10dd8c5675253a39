// sunray.events across nodes: what happens on this node to work owned on another (a worker
// that ran its tasks exited, one of its actors restarted or died) is sent to the owners'
// nodes, where the driver's program hears it as if it had happened there. Owners are
// named by the ids of their tasks (an owner id starts with its node's prefix: ids.ts). A
// peer's event is checked (a known name, an object) before it is reported.
import {
  OWNED_WORK_EVENTS,
  type OwnedWorkEvent,
  reportEvent,
  type SunrayEventMap,
} from '../protocol/events.js';
import type { Message } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/** The event names another node may send (nodeAdded and nodeDead each node sees for itself). */
const RELAYED = new Set<string>(OWNED_WORK_EVENTS);

/** Sends events to owners' nodes, and reports those other nodes send here. */
export class EventRelay {
  constructor(
    private readonly table: Pick<NodeTable, 'ownerNode' | 'selfId'>,
    private readonly peers: Pick<PeerLinks, 'peer'>,
  ) {}

  /** Reports event `name` on the nodes (other than this one) of the owners of these task ids. */
  send<K extends OwnedWorkEvent>(
    ownerTaskIds: readonly Uint8Array[],
    name: K,
    ...args: SunrayEventMap[K]
  ): void {
    const nodes = new Set<string>();
    for (const id of ownerTaskIds) {
      const n = this.table.ownerNode(Buffer.from(id.buffer, id.byteOffset, id.byteLength));
      if (n?.alive && n.nodeId !== this.table.selfId) nodes.add(n.nodeId);
    }
    if (nodes.size === 0) return;
    const m: Message = { t: 'event', name, payloadJson: JSON.stringify(args[0]) };
    for (const nodeId of nodes) {
      this.peers.peer(nodeId).then(
        (c) => c.send(m),
        () => {}, // its node is gone: so is the program that would hear it
      );
    }
  }

  /** An event another node sent: reported here if it is one of ours to hear, else dropped. */
  onEvent(m: Extract<Message, { t: 'event' }>): void {
    if (!RELAYED.has(m.name)) return;
    let payload: unknown;
    try {
      payload = JSON.parse(m.payloadJson);
    } catch {
      return;
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return;
    reportEvent(m.name as OwnedWorkEvent, payload as never);
  }
}
