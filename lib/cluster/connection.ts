// One authenticated TCP connection between two nodes (or a CLI and the head).
// Frames are a u32 length and a flatbuffers Frame; an ObjectChunk frame is
// followed by its raw bytes, handed to a sink without an intermediate copy.
// A connection we dial reads through the socket's `onread` hook: while a sink
// has named where its raw bytes belong (a slice of the store arena), the
// kernel reads them straight there, with no buffer in between and no copy.
// Until the handshake has proven both sides hold the cluster token, only the
// handshake messages are parsed, and frames are limited to a few KiB. The
// connecting side proves first (see handshake()). With TLS (tls.ts) the socket
// is a TLS one, mutually verified, and the token handshake runs inside it;
// reads then go through 'data' events (decrypted bytes are copied once).
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { native } from '../base/addon.js';
import { ClusterConnectionError, SunrayError } from '../base/errors.js';
import { NONCE_BYTES, newNonce, proof, proofMatches } from './auth.js';
import { FrameError, MAX_FRAME_BYTES, ProtocolVersion } from './frame.js';
import { causeOf, LogLimiter } from './log-limiter.js';
import { encodeMessage, type Message, type Parsed, parseFrame } from './messages.js';
import { TLS_HANDSHAKE_TIMEOUT_MS, type TlsMaterial, tlsClientOptions } from './tls.js';

/** Frames before authentication are only the small handshake messages. */
const MAX_HANDSHAKE_FRAME = 4096;
/** Raw chunk bytes after one frame: a transfer chunk, never more. */
export const MAX_RAW_BYTES = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5000;
const EMPTY = Buffer.alloc(0);
/** Replies carry the request's id with this bit set, so both sides may number requests freely. */
const REPLY_BIT = 1n << 63n;

/** How a connection authenticates, whom it says it is, and where its messages go. */
export interface ConnOptions {
  /** The cluster token both sides must prove they hold. */
  token: string;
  /** This node's id, sent in its hello. */
  nodeId: Buffer;
  /** Logs refusals and protocol errors (bad peers must not be silent). */
  log: (line: string) => void;
  /** Each message after the handshake that is not a reply to one of our requests. */
  onMessage: (conn: Conn, p: Parsed) => void;
  /** Once, when the connection closes for any reason. */
  onClose?: (conn: Conn, reason: string) => void;
  /** TLS under the connection (tls.ts); without it, plain TCP. */
  tls?: TlsMaterial | undefined;
}

/** One limiter per log (per node): every connection of a node shares its limits. */
const limiters = new WeakMap<(line: string) => void, LogLimiter>();

/** The log limiter of a node's log: refusals anywhere in the node share its limits. */
export function limiterFor(log: (line: string) => void): LogLimiter {
  let l = limiters.get(log);
  if (!l) limiters.set(log, (l = new LogLimiter(log)));
  return l;
}

/** Gets raw bytes in order; inPlace means they were read straight into the target given to takeRaw. */
export type RawSink = (piece: Buffer, inPlace: boolean) => void;

/** What a read takes when no raw target waits (Node's own read size). */
const READ_BYTES = 64 * 1024;

/**
 * While a chunk's bytes are read in place, the socket reads as readable only once this many
 * of them are queued (SO_RCVLOWAT; the kernel caps it at half its largest receive buffer), or
 * all that is left of the chunk if less: the reader wakes about once per chunk instead of once
 * per ~250 KiB. A 1 GiB pull went from 2.1-2.4 to 2.6-3.4 GB/s here (0.5 and 2 MiB did less).
 */
const LOW_WATER_BYTES = 8 * 1024 * 1024;

/** Routes an onread socket's reads to its Conn once there is one. */
class DirectReader {
  conn: Conn | undefined;
  readonly opts = {
    buffer: (): Buffer => this.conn?.readBuffer() ?? Buffer.allocUnsafe(READ_BYTES),
    callback: (n: number, buf: Uint8Array): boolean => {
      this.conn?.onRead(n, buf as Buffer);
      return true;
    },
  };
}

/**
 * One authenticated connection to a peer (see the file comment): one-way messages, requests
 * with their replies, and raw chunk bytes. Made by Conn.dial or Conn.accept; usable once
 * `ready` resolves.
 */
export class Conn {
  /** The peer's node id (hex), from its hello; '' until then. */
  peerId = '';
  /** The handshake is done: both sides proved they hold the token. */
  open = false;
  /** Closed, for good (close() was called or the socket ended). */
  closed = false;
  /** finish() was called: nothing more is sent, what was is on its way. */
  private ending = false;
  /** Why it closed (errors of later requests quote it). */
  closeReason = '';
  private chunks: Buffer[] = [];
  private buffered = 0;
  private raw: { left: number; sink: RawSink | undefined; target: Buffer | undefined } | undefined;
  /** The target slice handed to the socket for its next read, if any. */
  private directRead: Buffer | undefined;
  /** The socket's SO_RCVLOWAT as last set (1: the kernel's default). */
  private lowWater = 1;
  /** Whether reads go through `onread` (Conn.dial), so takeRaw's target is read into in place. */
  readonly readsInPlace: boolean;
  private nextRequest = 1n;
  private wantRef = true;
  private readonly pending = new Map<bigint, (p: Parsed | Error) => void>();
  private ourNonce = newNonce();
  private theirNonce: Buffer | undefined;
  private readonly opened: Promise<void>;
  private resolveOpen!: () => void;
  private rejectOpen!: (e: Error) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly limiter: LogLimiter;

  private constructor(
    readonly socket: Socket,
    private readonly opts: ConnOptions,
    readonly role: 'client' | 'server',
    reader?: DirectReader,
  ) {
    this.opened = new Promise((res, rej) => {
      this.resolveOpen = res;
      this.rejectOpen = rej;
    });
    this.opened.catch(() => {});
    this.remote =
      socket.remoteAddress !== undefined
        ? `${socket.remoteAddress}:${socket.remotePort}`
        : 'a peer that left before its address was read';
    this.limiter = limiterFor(opts.log);
    socket.setNoDelay(true);
    this.readsInPlace = reader !== undefined;
    if (reader) reader.conn = this;
    else socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.close(`socket error: ${e.message}`, false));
    socket.on('close', () =>
      this.close(
        this.open
          ? 'the peer closed the connection'
          : role === 'client' && this.theirNonce
            ? 'the listener closed the connection after our proof: it does not take our cluster token'
            : 'the peer left during the handshake',
        !this.open,
      ),
    );
    this.timer = setTimeout(() => {
      if (!this.open) this.close('no authenticated handshake within 5 s', true);
    }, HANDSHAKE_TIMEOUT_MS).unref();
  }

  /**
   * Dials host:port and connects as the client side, reading through `onread` (see the file
   * comment); resolves once both sides have proven the token.
   */
  static async dial(host: string, port: number, opts: ConnOptions, what: string): Promise<Conn> {
    if (opts.tls) return Conn.dialTls(host, port, opts, opts.tls, what);
    const reader = new DirectReader();
    const socket = net.connect({ host, port, onread: reader.opts });
    await new Promise<void>((res, rej) => {
      socket.once('connect', res);
      socket.once('error', (e) =>
        rej(new ClusterConnectionError(`cannot reach ${what}: ${e.message}`, { cause: e })),
      );
    });
    try {
      return await Conn.client(socket, opts, reader);
    } catch (err) {
      socket.destroy();
      throw new ClusterConnectionError(
        `${what} refused the handshake (${(err as Error).message}): is the cluster token right?`,
      );
    }
  }

  /** Dial over TLS: the TLS handshake (both certificates checked), then the token's inside it. */
  private static async dialTls(
    host: string,
    port: number,
    opts: ConnOptions,
    m: TlsMaterial,
    what: string,
  ): Promise<Conn> {
    const socket = tls.connect({ host, port, ...tlsClientOptions(m) });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(
        () => socket.destroy(new Error(`no TLS handshake within ${TLS_HANDSHAKE_TIMEOUT_MS} ms`)),
        TLS_HANDSHAKE_TIMEOUT_MS,
      ).unref();
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        res();
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        rej(new ClusterConnectionError(`cannot reach ${what} over TLS: ${e.message}`, { cause: e }));
      });
    });
    try {
      return await Conn.client(socket, opts);
    } catch (err) {
      socket.destroy();
      // TLS 1.3: a listener that refuses our certificate says so only after our side is done.
      throw new ClusterConnectionError(
        `${what} refused the handshake (${(err as Error).message}): is the cluster token right, and ` +
          "this node's certificate signed by the cluster's CA?",
      );
    }
  }

  /** Connects as the client side; resolves once both sides have proven the token. */
  static async client(socket: Socket, opts: ConnOptions, reader?: DirectReader): Promise<Conn> {
    const c = new Conn(socket, opts, 'client', reader);
    c.write(
      encodeMessage({
        t: 'hello',
        version: ProtocolVersion.Current,
        nodeId: opts.nodeId,
        nonce: c.ourNonce,
      }),
    );
    await c.opened;
    return c;
  }

  /** Serves an accepted socket; onOpen runs once the client has proven the token. */
  static server(socket: Socket, opts: ConnOptions, onOpen: (c: Conn) => void): Conn {
    const c = new Conn(socket, opts, 'server');
    c.opened.then(
      () => onOpen(c),
      () => {},
    );
    return c;
  }

  /** The peer's host:port, read at accept or connect: a destroyed socket no longer knows it. */
  readonly remote: string;

  // ---------------------------------------------------------------- sending

  private write(b: Buffer): void {
    if (!this.closed && !this.ending) this.socket.write(b);
  }

  /** Sends a one-way message; false if the connection is not open (any more). */
  send(m: Message, requestId = 0n): boolean {
    if (!this.open || this.closed || this.ending) return false;
    this.write(encodeMessage(m, requestId));
    return true;
  }

  /**
   * Answers request requestId with m, followed by raw bytes if given (a chunk's); written runs
   * once the kernel has them all (or at once if the connection is closed), so they may be unpinned.
   */
  reply(requestId: bigint, m: Message, raw?: Buffer[], written?: () => void): void {
    if (this.closed) {
      written?.();
      return;
    }
    this.socket.cork();
    this.write(encodeMessage(m, requestId | REPLY_BIT));
    if (raw) for (const r of raw) if (r.length > 0) this.socket.write(r);
    // The callback of the last write runs once the kernel has the bytes: the sender may unpin then.
    if (written) this.socket.write(Buffer.alloc(0), () => written());
    process.nextTick(() => this.socket.uncork());
  }

  /** Sends a request; cb runs synchronously when the reply frame is parsed (so it may take raw bytes). */
  requestCb(m: Message, cb: (p: Parsed | Error) => void): void {
    if (this.closed) {
      cb(new SunrayError(`connection to ${this.peerId.slice(0, 8)} is closed: ${this.closeReason}`));
      return;
    }
    const id = this.nextRequest++;
    this.pending.set(id, cb);
    if (this.pending.size === 1) this.applyRef();
    this.write(encodeMessage(m, id));
  }

  /** Sends a request; resolves with the reply, rejects if the connection closes first. */
  request(m: Message): Promise<Parsed> {
    return new Promise((res, rej) => this.requestCb(m, (p) => (p instanceof Error ? rej(p) : res(p))));
  }

  /**
   * Called from a handler of a frame followed by raw bytes: they go to sink, piece by piece.
   * target, exactly as long as the raw bytes, is where they belong: on a dialed connection
   * the socket reads them straight into it (the sink then gets inPlace = true).
   */
  takeRaw(sink: RawSink, target?: Buffer): void {
    if (!this.raw) return;
    this.raw.sink = sink;
    if (target && target.length === this.raw.left) this.raw.target = target;
  }

  /** onread: where the next read lands. */
  readBuffer(): Buffer {
    const r = this.raw;
    if (r?.target && r.left > 0 && this.buffered === 0 && !this.closed) {
      // Only the bytes still owed to the target: the read cannot run past them into the next frame.
      this.directRead = r.target.subarray(r.target.length - r.left);
      this.setLowWater(Math.min(r.left, LOW_WATER_BYTES));
      return this.directRead;
    }
    this.directRead = undefined;
    this.setLowWater(1);
    return Buffer.allocUnsafe(READ_BYTES);
  }

  /** onread: n bytes arrived in buf (readBuffer's last answer). */
  onRead(n: number, buf: Buffer): void {
    if (buf !== this.directRead || !this.raw) {
      this.onData(buf.subarray(0, n));
      return;
    }
    this.directRead = undefined;
    const r = this.raw;
    r.left -= n;
    if (r.left === 0) this.raw = undefined;
    // Never wait for more than is still owed: nothing else may follow the last chunk.
    this.setLowWater(Math.min(r.left, LOW_WATER_BYTES));
    r.sink?.(buf.subarray(0, n), true);
  }

  /** SO_RCVLOWAT, when it changes and the socket has an fd (best effort: a speed-up only). */
  private setLowWater(bytes: number): void {
    const want = Math.max(1, bytes);
    if (want === this.lowWater || this.closed) return;
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) return;
    try {
      native.setRecvLowWater(fd, want);
      this.lowWater = want;
    } catch {
      // not a TCP socket, or closing: reads simply wake as usual
    }
  }

  /** Whether this connection keeps the process alive; it always does while a request waits. */
  setRef(ref: boolean): void {
    this.wantRef = ref;
    this.applyRef();
  }

  private applyRef(): void {
    if (this.wantRef || this.pending.size > 0) this.socket.ref();
    else this.socket.unref();
  }

  /**
   * Closes the connection once what was sent is with the peer: a FIN after the bytes queued,
   * where close()'s destroy() may reset it and the peer lose what it had not read yet (a
   * sunray.kill() sent just before shutdown()). The peer's own end closes it; past timeoutMs
   * it is destroyed all the same.
   */
  finish(reason: string, timeoutMs = 1000): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ending = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.close(reason, false);
        resolve();
      }, timeoutMs).unref();
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  /** Closes the connection (once): pending requests fail with reason, which is logged unless log is false. */
  close(reason: string, log = true): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    clearTimeout(this.timer);
    // Rate limited by cause: these lines are what a hostile peer can make us write.
    if (log) this.limiter.line(causeOf(reason), `closing connection with ${this.remote}: ${reason}`);
    this.socket.destroy();
    const err = new SunrayError(`connection to ${this.remote} closed: ${reason}`);
    this.rejectOpen(err);
    for (const cb of this.pending.values()) cb(err);
    this.pending.clear();
    this.opts.onClose?.(this, reason);
  }

  // ---------------------------------------------------------------- receiving

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    try {
      this.drain();
    } catch (err) {
      this.close(err instanceof FrameError ? err.message : `protocol error: ${(err as Error).message}`);
    }
  }

  /** The oldest buffered chunk; callers have checked that enough bytes are buffered. */
  private head(): Buffer {
    const c = this.chunks[0];
    // Unreachable while `buffered` counts the chunks right; if not, the connection closes.
    if (c === undefined) throw new FrameError('read past the bytes received (internal error)');
    return c;
  }

  private take(n: number): Buffer {
    const first = this.head();
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.head();
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private drain(): void {
    while (!this.closed) {
      if (this.raw) {
        if (this.buffered === 0) return;
        const c = this.head();
        const k = Math.min(c.length, this.raw.left);
        const piece = this.take(k);
        this.raw.left -= k;
        const sink = this.raw.sink;
        if (this.raw.left === 0) this.raw = undefined;
        sink?.(piece, false);
        continue;
      }
      if (this.buffered < 4) return;
      const len = this.peekLength();
      const max = this.open ? MAX_FRAME_BYTES : MAX_HANDSHAKE_FRAME;
      if (len < 8 || len > max) throw new FrameError(`frame of ${len} bytes is outside 8..${max}`);
      if (this.buffered < 4 + len) return;
      this.take(4);
      const body = this.take(len);
      const p = parseFrame(body);
      if (!this.open) this.handshake(p);
      else this.dispatch(p);
    }
  }

  private peekLength(): number {
    const first = this.head();
    if (first.length >= 4) return first.readUInt32LE(0);
    const four = Buffer.alloc(4);
    let at = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, 4 - at);
      c.copy(four, at, 0, k);
      at += k;
      if (at === 4) break;
    }
    return four.readUInt32LE(0);
  }

  private dispatch(p: Parsed): void {
    if (p.msg.t === 'chunk' && p.msg.dataSize > 0) {
      if (p.msg.dataSize > MAX_RAW_BYTES)
        throw new FrameError(`chunk of ${p.msg.dataSize} bytes is too large`);
      this.raw = { left: p.msg.dataSize, sink: undefined, target: undefined }; // dropped unless a handler takes it
    }
    if (p.requestId & REPLY_BIT) {
      const id = p.requestId & ~REPLY_BIT;
      const cb = this.pending.get(id);
      if (!cb) return; // a reply nobody waits for any more
      this.pending.delete(id);
      if (this.pending.size === 0) this.applyRef();
      cb(p);
      return;
    }
    this.opts.onMessage(this, p);
  }

  /**
   * The handshake, as both sides see it. The connecting side proves first, so a peer without
   * the token gets nothing that depends on it (no offline-guessing oracle):
   *   client -> hello(version, node id, client nonce)
   *   listener -> challenge(version, listener nonce)
   *   client -> proof(HMAC(token, "client" | listener nonce | client nonce))
   *   listener -> proof(HMAC(token, "listener" | client nonce | listener nonce), node id),
   *               only if the client's proof was right; otherwise it closes, saying nothing.
   * theirNonce marks the second step on either side.
   */
  private handshake(p: Parsed): void {
    const m = p.msg;
    const refuse = (why: string) => {
      this.close(`handshake refused: ${why}`);
      throw new FrameError(why); // stop parsing this connection's bytes
    };
    const { token } = this.opts;
    if (this.role === 'server') {
      if (m.t === 'hello' && !this.theirNonce) {
        if (m.version !== ProtocolVersion.Current)
          refuse(`protocol version ${m.version}, this node speaks ${ProtocolVersion.Current}`);
        if (m.nonce.length !== NONCE_BYTES) refuse('bad nonce');
        this.theirNonce = m.nonce;
        this.peerId = m.nodeId.toString('hex');
        this.write(encodeMessage({ t: 'challenge', version: ProtocolVersion.Current, nonce: this.ourNonce }));
        return;
      }
      if (m.t === 'proof' && this.theirNonce) {
        const want = proof(token, 'client', this.ourNonce, this.theirNonce);
        if (!proofMatches(want, m.proof)) refuse('the peer does not hold the cluster token');
        this.write(
          encodeMessage({
            t: 'proof',
            proof: proof(token, 'listener', this.theirNonce, this.ourNonce),
            nodeId: this.opts.nodeId,
          }),
        );
        this.markOpen();
        return;
      }
    } else {
      if (m.t === 'challenge' && !this.theirNonce) {
        if (m.version !== ProtocolVersion.Current)
          refuse(`protocol version ${m.version}, this node speaks ${ProtocolVersion.Current}`);
        if (m.nonce.length !== NONCE_BYTES) refuse('bad nonce');
        this.theirNonce = m.nonce;
        this.write(
          encodeMessage({ t: 'proof', proof: proof(token, 'client', m.nonce, this.ourNonce), nodeId: EMPTY }),
        );
        return;
      }
      if (m.t === 'proof' && this.theirNonce) {
        const want = proof(token, 'listener', this.ourNonce, this.theirNonce);
        if (!proofMatches(want, m.proof)) refuse('the listener does not hold the cluster token');
        this.peerId = m.nodeId.toString('hex');
        this.markOpen();
        return;
      }
    }
    refuse(`unexpected ${m.t} message before authentication`);
  }

  private markOpen(): void {
    this.open = true;
    clearTimeout(this.timer);
    this.resolveOpen();
  }
}
