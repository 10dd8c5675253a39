// Ownership across nodes (Ray's borrower protocol): a process on another node
// that keeps a ref is counted by the ref's owner until it lets go, wherever the
// ref came from; a borrower that dies stops counting; a result lost with its
// node, or lost later, is made again by running its task on another node.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, inStore, loseObject, type NodeHandle, storeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, until } from '../helpers.js';

const MiB = 1024 * 1024;

/** Collects garbage here and lets finalizers run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
}

class Keeper {
  kept: unknown[] = [];
  keep(box: { ref: sunray.ObjectRef<Buffer> }) {
    this.kept.push(box.ref);
    return this.kept.length;
  }
  async read() {
    const s = await import('sunray');
    const bufs = (await s.get(this.kept as sunray.ObjectRef<Buffer>[])) as Buffer[];
    return bufs.map((b) => [b.length, b[0], b[b.length - 1]]);
  }
  drop() {
    // Nodes started by Cluster run without --expose-gc: let go explicitly, as users should.
    for (const r of this.kept as sunray.ObjectRef<Buffer>[]) r.release();
    this.kept = [];
    return 0;
  }
  pid() {
    return process.pid;
  }
}

describe('borrowing across nodes', () => {
  let cluster: Cluster;
  let b: NodeHandle;
  let c: NodeHandle;
  const on = (n: NodeHandle) => ({ schedulingStrategy: { nodeId: n.nodeId, soft: false } });
  const dir = mkdtempSync(join(tmpdir(), 'sunray-borrow-'));

  beforeAll(async () => {
    // The driver's node is the head and runs nothing: every task and actor is on b or c.
    await sunray.init({ numCpus: 0, objectStoreMemory: 1024 * MiB });
    cluster = new Cluster();
    b = await cluster.addNode({ numCpus: 2, objectStoreMemory: 1024 * MiB });
    c = await cluster.addNode({ numCpus: 2, objectStoreMemory: 512 * MiB });
  });

  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an actor on another node keeps a ref the driver dropped; the object goes when it lets go', async () => {
    const k = sunray.remote(Keeper).options(on(b)).remote();
    const ref = sunray.put(Buffer.alloc(8 * MiB, 7));
    await sunray.get(k.keep.remote({ ref }));
    ref.release();
    await collect();
    // The owner counts the actor as a borrower: the object stays.
    await new Promise((r) => setTimeout(r, 300));
    expect(inStore(ref)).toBe(true);
    expect(await sunray.get(k.read.remote())).toEqual([[8 * MiB, 7, 7]]);
    await sunray.get(k.drop.remote());
    await until(() => !inStore(ref), 10_000, 'the owner to free the object');
    sunray.kill(k);
  });

  test('a ref handed on by a task on one node to an actor on a third outlives every handle before it', async () => {
    const hand = sunray.remote(
      async (keeper: { keep: { remote(box: unknown): sunray.ObjectRef<number> } }, box: unknown) => {
        const s = await import('sunray');
        return s.get(keeper.keep.remote(box));
      },
      on(b),
    );
    for (let i = 0; i < 8; i++) {
      const k = sunray.remote(Keeper).options(on(c)).remote();
      const ref = sunray.put(Buffer.alloc(2 * MiB, i + 1));
      expect(await sunray.get(hand.remote(k, { ref }))).toBe(1);
      // The task on b and the driver let go; the actor on c registered before they did.
      ref.release();
      await collect();
      expect(await sunray.get(k.read.remote())).toEqual([[2 * MiB, i + 1, i + 1]]);
      sunray.kill(k);
    }
  });

  test('a borrower killed on another node no longer keeps the object', async () => {
    const k = sunray.remote(Keeper).options(on(c)).remote();
    const ref = sunray.put(Buffer.alloc(4 * MiB, 5));
    await sunray.get(k.keep.remote({ ref }));
    const pid = await sunray.get(k.pid.remote());
    ref.release();
    await collect();
    expect(inStore(ref)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await until(() => !isAlive(pid), 5000, 'the actor to die');
    await until(() => !inStore(ref), 10_000, 'the owner to free what the dead borrower held');
  });

  test('a result lost from the owner is made again by its task on another node', async () => {
    const log = join(dir, 'runs-lost');
    const make = sunray.remote(
      async (n: number, file: string) => {
        const s = await import('sunray');
        const fs = await import('node:fs');
        fs.appendFileSync(file, `${s.getRuntimeContext().nodeId}\n`);
        return Buffer.alloc(n, 9);
      },
      { maxRetries: 2 },
    );
    const ref = make.remote(3 * MiB, log);
    await sunray.wait([ref]); // ready, without holding a view of it
    expect(loseObject(ref)).toBe(true);
    const got = await sunray.get(ref);
    expect([got.length, got[0], got[got.length - 1]]).toEqual([3 * MiB, 9, 9]);
    const runs = readFileSync(log, 'utf8').trim().split('\n');
    expect(runs).toHaveLength(2);
    for (const n of runs) expect([b.nodeId, c.nodeId]).toContain(n);
  });

  test('a result lost with its node on the way home is made again elsewhere', async () => {
    const log = join(dir, 'runs-transit');
    appendFileSync(log, '');
    const size = 320 * MiB;
    const make = sunray.remote(
      async (n: number, file: string) => {
        const s = await import('sunray');
        const fs = await import('node:fs');
        fs.appendFileSync(file, `${s.getRuntimeContext().nodeId}\n`);
        return Buffer.alloc(n, 4);
      },
      { maxRetries: 2 },
    );
    // Hard affinity would keep the re-run on b, which is dead by then: soft lets it go to c.
    const ref = make.options({ schedulingStrategy: { nodeId: b.nodeId, soft: true } }).remote(size, log);
    // The moment the driver's store holds the result unsealed, its pull from b has begun:
    // b dies mid-transfer (fresh arena pages make the pull take far longer than this poll).
    await until(() => storeStats().unsealed > 0, 60_000, 'the result to start arriving');
    b.process.kill('SIGKILL');
    const got = await sunray.get(ref);
    expect([got.length, got[0], got[got.length - 1]]).toEqual([size, 4, 4]);
    const runs = readFileSync(log, 'utf8').trim().split('\n');
    expect(runs).toEqual([b.nodeId, c.nodeId]);
  }, 120_000);
});
