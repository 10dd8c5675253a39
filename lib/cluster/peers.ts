// This node's connections: the TCP listener and the connections it accepts, the
// ones it dials, reuse of one connection to a node in either direction, the extra
// connections it dials only to pull objects over, and closing them all with the node.
// What arrives on any of them goes to the onMessage given (the ClusterNode's switch).
import net from 'node:net';
import tls from 'node:tls';
import { ClusterConnectionError } from '../base/errors.js';
import { Conn, limiterFor } from './connection.js';
import { causeOf } from './log-limiter.js';
import type { NodeInfoMsg, Parsed } from './messages.js';
import { formatAddress } from './node-address.js';
import { type TlsMaterial, tlsServerOptions } from './tls.js';

/** What the other parts use of a connection (their unit tests give fakes). */
export type PeerConn = Pick<Conn, 'peerId' | 'send' | 'requestCb'>;

/** Connections by node, as the other parts ask for them. */
export interface PeerLinks {
  /** An authenticated connection to a node, reusing one in either direction. */
  peer(nodeId: string): Promise<PeerConn>;
  /** The connection to a node, if there is one already (it may be closed). */
  connected(nodeId: string): PeerConn | undefined;
}

/** What Peers needs from the node it serves. */
export interface PeersOptions {
  token: string;
  nodeId: string;
  /** A driver's embedded node: connections are referenced only while busy() (see setRef). */
  isDriver: boolean;
  log: (line: string) => void;
  /** Where each node listens (the node table). */
  lookup: (nodeId: string) => NodeInfoMsg | undefined;
  onMessage: (c: Conn, p: Parsed) => void;
  /** After a connection closed and was forgotten here. */
  onClose: (c: Conn) => void;
  busy: () => boolean;
  closed: () => boolean;
  /** Every connection over mutually verified TLS (tls.ts); none: plain TCP. */
  tls?: TlsMaterial | undefined;
}

/** This node's listener and its connections to the other nodes. */
export class Peers implements PeerLinks {
  /** host:port other nodes reach this one at (set by listen). */
  address = '';
  private readonly server: net.Server;
  private readonly conns = new Map<string, Conn>();
  /** Connections we dialed for pulling objects, where conns has only one the peer dialed. */
  private readonly pullConns = new Map<string, Promise<Conn>>();
  private readonly connecting = new Map<string, Promise<Conn>>();
  private readonly allConns = new Set<Conn>();

  constructor(private readonly opts: PeersOptions) {
    if (opts.tls) {
      // A peer whose certificate the CA did not sign, or that speaks plain TCP, ends here.
      const server = tls.createServer(tlsServerOptions(opts.tls), (s) => this.accept(s));
      server.on('tlsClientError', (err, socket) => {
        const why = `TLS handshake failed: ${err.message}`;
        const from = `${socket.remoteAddress}:${socket.remotePort}`;
        limiterFor(opts.log).line(causeOf(why), `closing connection with ${from}: ${why}`);
      });
      this.server = server;
    } else this.server = net.createServer((s) => this.accept(s));
  }

  /** Listens on bind:port; other nodes are told `advertise` (never a wildcard: node-address.ts). */
  listen(bind: string, port: number, advertise: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, bind.replace(/^\[|\]$/g, ''), () => {
        const a = this.server.address() as net.AddressInfo;
        this.address = formatAddress(advertise, a.port);
        this.server.off('error', reject);
        if (this.opts.isDriver) this.server.unref();
        resolve();
      });
    });
  }

  private connOpts() {
    return {
      token: this.opts.token,
      nodeId: Buffer.from(this.opts.nodeId, 'hex'),
      log: this.opts.log,
      onMessage: this.opts.onMessage,
      onClose: (c: Conn) => this.onConnClose(c),
      tls: this.opts.tls,
    };
  }

  private accept(socket: net.Socket): void {
    if (this.opts.closed()) {
      socket.destroy();
      return;
    }
    const c = Conn.server(socket, this.connOpts(), (open) => this.adopt(open));
    this.allConns.add(c);
  }

  /** Every connection is closed with the node, and a driver's follow its busy state (setRef). */
  private track(c: Conn): void {
    this.allConns.add(c);
    if (this.opts.isDriver) c.setRef(this.opts.busy());
  }

  private adopt(c: Conn): void {
    this.track(c);
    const existing = this.conns.get(c.peerId);
    if (!existing || existing.closed) this.conns.set(c.peerId, c);
  }

  private onConnClose(c: Conn): void {
    this.allConns.delete(c);
    if (this.conns.get(c.peerId) === c) this.conns.delete(c.peerId);
    const pulling = this.pullConns.get(c.peerId);
    pulling?.then(
      (d) => d === c && this.pullConns.get(c.peerId) === pulling && this.pullConns.delete(c.peerId),
      () => {},
    );
    this.opts.onClose(c);
  }

  connected(nodeId: string): Conn | undefined {
    return this.conns.get(nodeId);
  }

  peer(nodeId: string): Promise<Conn> {
    const c = this.conns.get(nodeId);
    if (c && !c.closed) return Promise.resolve(c);
    const pending = this.connecting.get(nodeId);
    if (pending) return pending;
    const info = this.opts.lookup(nodeId);
    if (!info || !info.alive) {
      return Promise.reject(new ClusterConnectionError(`node ${nodeId.slice(0, 8)} is not alive`));
    }
    const p = this.dial(info.address).finally(() => this.connecting.delete(nodeId));
    this.connecting.set(nodeId, p);
    return p;
  }

  /**
   * A connection to nodeId for pulling objects: one we dialed, since only those read
   * chunks straight into the arena (see connection.ts).
   */
  pullConn(nodeId: string): Promise<Conn> {
    // Over TLS no connection reads in place: any one will do.
    if (this.opts.tls) return this.peer(nodeId);
    const c = this.conns.get(nodeId);
    if (c && !c.closed && c.readsInPlace) return Promise.resolve(c);
    let p = this.pullConns.get(nodeId);
    if (!p) {
      const info = this.opts.lookup(nodeId);
      if (!info || !info.alive) return this.peer(nodeId);
      const [host, port] = splitAddress(info.address);
      p = Conn.dial(host, port, this.connOpts(), info.address).then((d) => {
        this.track(d);
        if (this.opts.closed()) d.close('this node is shutting down', false);
        return d;
      });
      // A dial that failed is forgotten here; a connection that closes later, in onConnClose.
      p.catch(() => this.pullConns.delete(nodeId));
      this.pullConns.set(nodeId, p);
    }
    return p.then((d) => (d.closed ? this.peer(nodeId) : d)).catch(() => this.peer(nodeId));
  }

  /** Dials a node (or the head) and keeps the connection for reuse. */
  async dial(address: string): Promise<Conn> {
    const [host, port] = splitAddress(address);
    const c = await Conn.dial(host, port, this.connOpts(), address);
    this.adopt(c);
    return c;
  }

  /** A driver's process stays alive while it waits on other nodes, and may exit when idle. */
  setRef(busy: boolean): void {
    for (const c of this.allConns) c.setRef(busy);
  }

  /**
   * Stops accepting and ends every connection once what it carries is sent (Conn.finish);
   * resolves once the listener and the connections have closed. `keep` (the link to the
   * head) is left for the caller to end: it says it leaves on it after the others are done.
   */
  close(keep?: unknown): Promise<void> {
    // The server's callback waits for the connections it accepted: end them after it stops accepting.
    const stopped = new Promise<void>((r) => this.server.close(() => r()));
    const ended = [...this.allConns]
      .filter((c) => c !== keep)
      .map((c) => c.finish('this node is shutting down'));
    return Promise.all([stopped, ...ended]).then(() => {});
  }
}

/** host:port as [host, port]; ClusterConnectionError if it is not that. */
export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ClusterConnectionError(`'${address}' is not HOST:PORT`);
  }
  // An IPv6 host comes in brackets ([::1]:6380): sockets want it bare.
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), port];
}
