// One arm of the TLS transfer row (bench/suites/tls.ts): a driver of its own heads a two-node
// cluster whose connections run over TLS (argv[2] 'tls', certificates made here by openssl)
// or plain TCP ('plain'); after two untimed transfers it times argv[3] transfers of a 256 MiB
// object from the driver's node to a task on the other node, and prints {"gbps": [...]}.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, makeTestCertificates } from 'sunray/testing';

const [, , mode, countText] = process.argv;
const count = Number(countText) || 5;
const SIZE = 256 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'sunray-bench-tls-'));
let cluster;
try {
  const tls = mode === 'tls' ? makeTestCertificates(dir).node : undefined;
  await sunray.init({ numCpus: 1, objectStoreMemory: 1024 ** 3, logToDriver: false });
  cluster = new Cluster(tls ? { tls } : {});
  // This process runs sunray, so its node becomes the head; the node added is the other one.
  await cluster.addNode({
    numCpus: 1,
    resources: { far: 100 },
    objectStoreMemory: 1024 ** 3,
    prefaultStore: true,
  });
  const read = sunray.remote((b) => b.length, { resources: { far: 1 } });
  const buf = Buffer.alloc(SIZE, 7);
  const gbps = [];
  for (let i = 0; i < count + 2; i++) {
    const ref = sunray.put(buf);
    const t0 = performance.now();
    const n = await sunray.get(read.remote(ref));
    const ms = performance.now() - t0;
    ref.release();
    if (n !== SIZE) throw new Error(`read ${n} bytes, not ${SIZE}`);
    if (i >= 2) gbps.push(SIZE / 1e6 / ms); // the first two page in arenas and socket buffers
  }
  console.log(JSON.stringify({ gbps }));
} finally {
  await sunray.shutdown();
  await cluster?.shutdown();
  rmSync(dir, { recursive: true, force: true });
}
