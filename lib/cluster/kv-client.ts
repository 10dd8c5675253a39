// The directory's KV as any node uses it: the head reads and writes its own
// directory; other nodes ask the head over their connection to it (none: puts are
// dropped, gets find nothing, until the node has rejoined).
import { ClusterConnectionError } from '../base/errors.js';
import type { Directory } from './directory.js';
import type { Message, Parsed } from './messages.js';

/** What the KV client uses of the connection to the head. */
export interface KvHeadConn {
  request(m: Message): Promise<Parsed>;
  requestCb(m: Message, cb: (p: Parsed | Error) => void): void;
}

/** The directory's KV: the head's own, or the head's over the connection to it. */
export class KvClient {
  constructor(
    private readonly directory: Directory | undefined,
    private readonly headConn: () => KvHeadConn | undefined,
  ) {}

  /** Sets a key (no answer awaited). */
  put(ns: string, key: string, value: Buffer): void {
    if (this.directory) this.directory.kvPut(ns, key, value, true);
    else this.headConn()?.requestCb({ t: 'kvPut', namespace: ns, key, value, overwrite: true }, () => {});
  }

  /** Sets a key and waits until the head has it (rejects when the head cannot be reached). */
  async putAcked(ns: string, key: string, value: Buffer): Promise<void> {
    if (this.directory) {
      this.directory.kvPut(ns, key, value, true);
      return;
    }
    const head = this.headConn();
    if (!head) throw new ClusterConnectionError('this node is not connected to the head');
    const r = await head.request({ t: 'kvPut', namespace: ns, key, value, overwrite: true });
    if (r.msg.t !== 'kvReply') throw new ClusterConnectionError(`the head answered ${r.msg.t} to kvPut`);
  }

  /** Puts value unless the key holds something: then answers what it holds. */
  async putIfAbsent(ns: string, key: string, value: Buffer): Promise<Buffer | undefined> {
    const d = this.directory;
    if (d) return d.kvPut(ns, key, value, false) ? undefined : d.kvGet(ns, key);
    const head = this.headConn();
    if (!head) throw new ClusterConnectionError('this node is not connected to the head');
    const r = await head.request({ t: 'kvPut', namespace: ns, key, value, overwrite: false });
    if (r.msg.t !== 'kvReply') throw new ClusterConnectionError(`the head answered ${r.msg.t} to kvPut`);
    return r.msg.found ? r.msg.value : undefined;
  }

  /** Deletes a key while it still holds exactly ifValue. */
  async delete(ns: string, key: string, ifValue: Buffer): Promise<void> {
    if (this.directory) this.directory.kvDelete(ns, key, ifValue);
    else {
      const head = this.headConn();
      if (head) await head.request({ t: 'kvDelete', namespace: ns, key, ifValue });
    }
  }

  async get(ns: string, key: string): Promise<Buffer | undefined> {
    if (this.directory) return this.directory.kvGet(ns, key);
    const head = this.headConn();
    if (!head) return undefined;
    const r = await head.request({ t: 'kvGet', namespace: ns, key });
    return r.msg.t === 'kvReply' && r.msg.found ? r.msg.value : undefined;
  }
}
