// The wire protocol against bad input: fuzzed frames never crash the decoder,
// and a listener closes (and logs) connections that are garbage, truncated,
// oversized, of another version or without the token, while serving others.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { newNonce, proof } from '../../lib/cluster/auth.js';
import { Conn } from '../../lib/cluster/connection.js';
import { FrameError, MAX_FRAME_BYTES, ProtocolVersion } from '../../lib/cluster/frame.js';
import { resolveAddress } from '../../lib/cluster/join.js';
import { encodeMessage, type Message, parseFrame } from '../../lib/cluster/messages.js';
import { queryStatus } from '../../lib/cluster/status.js';
import { until } from '../helpers.js';

const samples: Message[] = [
  { t: 'hello', version: 1, nodeId: randomBytes(16), nonce: randomBytes(32) },
  { t: 'challenge', version: 2, nonce: randomBytes(32) },
  { t: 'proof', proof: randomBytes(32), nodeId: Buffer.alloc(0) },
  { t: 'proof', proof: randomBytes(32), nodeId: randomBytes(28) },
  {
    t: 'register',
    nodeId: 'ab'.repeat(16),
    address: '127.0.0.1:1',
    resources: { CPU: 2, x: 0.5 },
    storeCapacity: 1 << 30,
    isDriver: false,
    labels: { zone: 'eu-1', 'sunray.io/x': 'é' },
  },
  {
    t: 'register',
    nodeId: 'ab'.repeat(16),
    address: '127.0.0.1:1',
    resources: {},
    storeCapacity: 1,
    isDriver: true,
    labels: {},
    job: {
      jobId: '0a0b0c0d',
      namespace: 'ns',
      entrypoint: 'node main.js',
      pid: 42,
      startTime: 1700000000000,
    },
  },
  { t: 'leave', nodeId: 'ab'.repeat(16), exitCode: -1 },
  { t: 'leave', nodeId: 'ab'.repeat(16), exitCode: 3 },
  {
    t: 'heartbeat',
    nodeId: 'cd'.repeat(16),
    available: { CPU: 1 },
    load: { CPU: 1 },
    pendingTasks: 3,
    infeasible: { 'GPU=1': 2 },
    pendingActors: 1,
    actorsAwaitingProcess: 1,
    idleMs: 12_345,
    waitingActors: { 'actor CPU=1': 2 },
  },
  {
    t: 'nodeTable',
    heartbeatTimeoutMs: 1000,
    nodes: [
      {
        nodeId: 'ef'.repeat(16),
        address: 'h:2',
        total: { CPU: 4 },
        available: { CPU: 2 },
        load: {},
        alive: true,
        isHead: true,
        isDriver: false,
        pendingTasks: 0,
        infeasible: {},
        storeCapacity: 5,
        pendingActors: 2,
        actorsAwaitingProcess: 0,
        labels: { gpu: 'a100' },
        jobId: '0a0b0c0d',
        idleMs: 0,
        waitingActors: {},
      },
    ],
  },
  { t: 'submit', origin: '01'.repeat(16), spec: randomBytes(100), def: randomBytes(40) },
  { t: 'result', objectId: randomBytes(28), status: 0, kind: 1, payload: randomBytes(64) },
  { t: 'pull', objectId: randomBytes(28), chunkIndex: 3, chunkSize: 5 << 20, waitMs: 10 },
  {
    t: 'chunk',
    objectId: randomBytes(28),
    chunkIndex: 0,
    totalSize: 99,
    metadataSize: 2,
    dataSize: 99,
    metadata: Buffer.from('hi'),
  },
  { t: 'kvPut', namespace: 'n', key: 'k', value: Buffer.from('v'), overwrite: true },
  { t: 'kvDelete', namespace: 'n', key: 'k', ifValue: Buffer.from('v') },
  { t: 'releaseActor', actorId: randomBytes(16) },
  { t: 'error', code: 2, message: 'no' },
  { t: 'refOps', ops: randomBytes(57 * 3) },
  { t: 'refOpsAck', deadOwners: randomBytes(32) },
  { t: 'ownersDied', ownerIds: randomBytes(16) },
  { t: 'cancel', taskId: randomBytes(24), force: false, recursive: false },
  { t: 'cancel', taskId: randomBytes(24), force: true, recursive: true },
  { t: 'streamConsumed', taskId: randomBytes(24), consumed: 0xfffffffe },
  { t: 'event', name: 'actorDied', payloadJson: '{"actorId":"ab","reason":"é"}' },
  { t: 'stateQuery', kind: 'actors', cluster: true },
  { t: 'stateRows', rowsJson: '[{"actorId":"ab","state":"ALIVE"}]', unreachableJson: '["cd"]' },
  {
    t: 'stateQuery',
    kind: 'tasks',
    cluster: false,
    selectionJson: '{"filters":[["state","=","FAILED"]],"limit":5}',
  },
  { t: 'stateRows', rowsJson: '[]', unreachableJson: '[]', extraJson: '{"tasks":3,"events":0}' },
  { t: 'taskEvents', eventsJson: '[{"taskId":"ab","attempt":0,"state":"RUNNING","at":1.5}]', dropped: 7 },
  { t: 'logLines', linesJson: '[{"pid":7,"err":false,"jobId":"0a","name":"f","text":"hi"}]', dropped: 2 },
];

function body(m: Message): Buffer {
  return encodeMessage(m, 5n).subarray(4);
}

describe('frame decoder fuzzing', () => {
  test('every message type round-trips', () => {
    for (const m of samples) expect(parseFrame(body(m)).msg).toEqual(m);
  });

  test('random bytes give a message or a FrameError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), (bytes) => {
        try {
          parseFrame(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('mutated and truncated valid frames give a message or a FrameError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.option(fc.nat()),
        (m, flips, cut) => {
          const b = Buffer.from(body(m));
          for (const [at, v] of flips) b[at % b.length] = v;
          const input = cut === null ? b : b.subarray(0, cut % (b.length + 1));
          try {
            parseFrame(input);
          } catch (err) {
            expect(err).toBeInstanceOf(FrameError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('a listener facing bad peers', () => {
  const token = 'f'.repeat(64);
  let server: net.Server;
  let port = 0;
  const logs: string[] = [];
  const opened: Conn[] = [];
  beforeAll(async () => {
    server = net.createServer((s) =>
      Conn.server(s, { token, nodeId: randomBytes(16), log: (l) => logs.push(l), onMessage: () => {} }, (c) =>
        opened.push(c),
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const c of opened) c.close('test over', false);
    await new Promise((r) => server.close(r));
  });

  async function closedAfter(bytes: Buffer): Promise<void> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => {});
    s.write(bytes);
    await new Promise((r) => s.once('close', r));
  }

  function frame(len: number, fill = 0): Buffer {
    const b = Buffer.alloc(4 + Math.min(len, 64), fill);
    b.writeUInt32LE(len, 0);
    return b;
  }

  test('garbage, oversized, wrong version and early messages are closed and logged', async () => {
    await closedAfter(randomBytes(64));
    await closedAfter(frame(MAX_FRAME_BYTES + 1));
    await closedAfter(frame(100_000)); // above the handshake limit
    await closedAfter(encodeMessage({ t: 'hello', version: 99, nodeId: randomBytes(16), nonce: newNonce() }));
    await closedAfter(encodeMessage({ t: 'status' }));
    await closedAfter(encodeMessage({ t: 'proof', proof: randomBytes(32), nodeId: Buffer.alloc(0) }));
    expect(logs.length).toBeGreaterThanOrEqual(6);
    expect(logs.some((l) => /version 99/.test(l))).toBe(true);
    expect(logs.some((l) => /outside 8\.\./.test(l))).toBe(true);
    expect(opened).toHaveLength(0);
  });

  test('a client with the wrong token is refused, and the token never crosses the wire', async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const seen: Buffer[] = [];
    s.on('data', (d) => seen.push(d));
    await expect(
      Conn.client(s, { token: 'e'.repeat(64), nodeId: randomBytes(16), log: () => {}, onMessage: () => {} }),
    ).rejects.toThrow(/token/);
    expect(Buffer.concat(seen).includes(Buffer.from(token))).toBe(false);
    expect(opened).toHaveLength(0);
  });

  test('a truncated handshake times out or closes without opening', async () => {
    const hello = encodeMessage({
      t: 'hello',
      version: ProtocolVersion.Current,
      nodeId: randomBytes(16),
      nonce: newNonce(),
    });
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(hello.subarray(0, hello.length - 5));
    s.end();
    await new Promise((r) => s.once('close', r));
    expect(opened).toHaveLength(0);
  });

  /** Frames a raw socket has received so far, parsed. */
  function framesIn(bytes: Buffer): ReturnType<typeof parseFrame>[] {
    const out = [];
    for (let at = 0; at + 4 <= bytes.length; ) {
      const len = bytes.readUInt32LE(at);
      if (at + 4 + len > bytes.length) break;
      out.push(parseFrame(bytes.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
    return out;
  }

  async function rawHello(): Promise<{ s: net.Socket; got: Buffer[]; nonce: Buffer }> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => {});
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    const nonce = newNonce();
    s.write(encodeMessage({ t: 'hello', version: ProtocolVersion.Current, nodeId: randomBytes(16), nonce }));
    const deadline = Date.now() + 5000;
    while (framesIn(Buffer.concat(got)).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    return { s, got, nonce };
  }

  test('an unauthenticated hello gets a nonce and nothing that depends on the token', async () => {
    const { s, got, nonce } = await rawHello();
    await new Promise((r) => setTimeout(r, 200)); // anything more the listener would volunteer
    const frames = framesIn(Buffer.concat(got));
    expect(frames).toHaveLength(1);
    const challenge = frames[0]!.msg;
    expect(challenge.t).toBe('challenge');
    if (challenge.t !== 'challenge') return;
    expect(Object.keys(challenge).sort()).toEqual(['nonce', 't', 'version']);
    // The listener's proof over our nonce, which would let us test token guesses offline, is nowhere.
    const theirs = challenge.nonce;
    const oracle = [proof(token, 'listener', nonce, theirs), proof(token, 'listener', theirs, nonce)];
    for (const p of oracle) expect(Buffer.concat(got).includes(p)).toBe(false);
    // A wrong proof is answered by closing, with no proof of the listener's.
    const before = Buffer.concat(got).length;
    s.write(encodeMessage({ t: 'proof', proof: randomBytes(32), nodeId: Buffer.alloc(0) }));
    await new Promise((r) => s.once('close', r));
    expect(Buffer.concat(got).length).toBe(before);
    expect(logs.some((l) => /does not hold the cluster token/.test(l))).toBe(true);
    expect(opened).toHaveLength(0);
  });

  test('the listener proves itself only after the connecting side has', async () => {
    const { s, got, nonce } = await rawHello();
    const challenge = framesIn(Buffer.concat(got))[0]!.msg;
    if (challenge.t !== 'challenge') throw new Error(`got ${challenge.t}`);
    const mine = proof(token, 'client', challenge.nonce, nonce);
    s.write(encodeMessage({ t: 'proof', proof: mine, nodeId: Buffer.alloc(0) }));
    const deadline = Date.now() + 5000;
    while (framesIn(Buffer.concat(got)).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const answer = framesIn(Buffer.concat(got))[1]!.msg;
    expect(answer.t).toBe('proof');
    if (answer.t !== 'proof') return;
    expect(answer.proof.equals(proof(token, 'listener', nonce, challenge.nonce))).toBe(true);
    expect(answer.nodeId.length).toBe(16);
    await until(() => opened.length === 1, 5000, 'the listener to open the connection');
    opened.pop()!.close('test over', false);
    s.destroy();
  });

  test('a right client opens after all that', async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const c = await Conn.client(s, { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {} });
    expect(c.open).toBe(true);
    c.close('done', false);
    // the proof is an HMAC of the nonces: different for every connection
    expect(proof(token, 'client', newNonce(), newNonce()).length).toBe(32);
  });
});

describe('a connection we dialed', () => {
  test('reads a chunk straight into the target its handler names, byte for byte', async () => {
    const token = 'a'.repeat(64);
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const accepted: Conn[] = [];
    const server = net.createServer((s) => {
      const onMessage = (c: Conn, p: ReturnType<typeof parseFrame>) => {
        if (p.msg.t !== 'pull') return;
        const meta = { objectId: p.msg.objectId, chunkIndex: 0, totalSize: payload.length, metadataSize: 0 };
        // Sent in three pieces, so some bytes come with the frame and some after it.
        const pieces = [payload.subarray(0, 100), payload.subarray(100, 1 << 20), payload.subarray(1 << 20)];
        c.reply(
          p.requestId,
          { t: 'chunk', ...meta, dataSize: payload.length, metadata: Buffer.alloc(0) },
          pieces,
        );
      };
      accepted.push(Conn.server(s, { token, nodeId: randomBytes(16), log: () => {}, onMessage }, () => {}));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const opts = { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {} };
    const c = await Conn.dial('127.0.0.1', port, opts, 'the test listener');
    expect(c.readsInPlace).toBe(true);
    const target = Buffer.alloc(payload.length);
    let inPlace = 0;
    await new Promise<void>((resolve, reject) => {
      const pull = {
        t: 'pull' as const,
        objectId: randomBytes(28),
        chunkIndex: 0,
        chunkSize: payload.length,
        waitMs: 0,
      };
      c.requestCb(pull, (p) => {
        if (p instanceof Error) return reject(p);
        let pos = 0;
        c.takeRaw((piece, inPlaceHere) => {
          if (inPlaceHere) inPlace += piece.length;
          else target.set(piece, pos);
          pos += piece.length;
          if (pos === payload.length) resolve();
        }, target);
      });
    });
    expect(target.equals(payload)).toBe(true);
    expect(inPlace).toBeGreaterThan(payload.length / 2);
    c.close('done', false);
    for (const a of accepted) a.close('done', false);
    await new Promise((r) => server.close(r));
  });

  test('names the address it cannot reach', async () => {
    const opts = { token: 'a'.repeat(64), nodeId: randomBytes(16), log: () => {}, onMessage: () => {} };
    await expect(Conn.dial('127.0.0.1', 1, opts, 'the head at 127.0.0.1:1')).rejects.toThrow(
      /cannot reach the head at 127\.0\.0\.1:1/,
    );
  });
});

describe('a cluster refuses what lacks its token', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
  });
  afterAll(async () => {
    await cluster.shutdown();
  });

  test('status and init with a wrong token or none are refused; the head keeps serving', async () => {
    // (by name: this test imports the source, sunray is the compiled package)
    await expect(queryStatus(cluster.address, 'bad')).rejects.toMatchObject({
      name: 'ClusterConnectionError',
    });
    const prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = `/tmp/sunray-test-empty-${process.pid}`;
    try {
      await expect(sunray.init({ address: cluster.address })).rejects.toThrow(/no cluster token/);
      await expect(sunray.init({ address: cluster.address, token: 'wrong-but-long-enough' })).rejects.toThrow(
        sunray.ClusterConnectionError,
      );
      // A token under 16 characters is refused before anything is sent, and says why.
      await expect(sunray.init({ address: cluster.address, token: 'wrong' })).rejects.toThrow(
        sunray.InvalidArgumentError,
      );
      await expect(sunray.init({ address: cluster.address, token: 'wrong' })).rejects.toThrow(
        /init\(\{ token \}\): a cluster token of 5 character\(s\) is too short to resist guessing; give at least 16/,
      );
      expect(() => resolveAddress({ address: cluster.address, token: 'x'.repeat(15) })).toThrow(/too short/);
      expect(resolveAddress({ address: cluster.address, token: 'x'.repeat(16) }).token).toBe('x'.repeat(16));
      process.env.SUNRAY_CLUSTER_TOKEN = 'tiny';
      try {
        expect(() => resolveAddress({ address: cluster.address })).toThrow(
          /SUNRAY_CLUSTER_TOKEN: a cluster token of 4/,
        );
      } finally {
        delete process.env.SUNRAY_CLUSTER_TOKEN;
      }
    } finally {
      if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
      else process.env.SUNRAY_SESSION_DIR = prev;
      rmSync(`/tmp/sunray-test-empty-${process.pid}`, { recursive: true, force: true });
    }
    expect(sunray.isInitialized()).toBe(false);
    const garbage = net.connect(Number(cluster.address.split(':')[1]), '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write(randomBytes(1000));
    await new Promise((r) => garbage.once('close', r));
    const table = await queryStatus(cluster.address, cluster.token);
    expect(table.nodes.filter((n) => n.alive)).toHaveLength(1);
  });
});
