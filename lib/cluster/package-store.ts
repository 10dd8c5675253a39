// The cluster's package store: runtime envs' working-directory archives, kept in the head's
// KV by content hash (Ray keeps its packages in the GCS the same way), in chunks that fit
// a frame (frame.ts: 16 MiB), the manifest written last, so a package whose manifest is
// there is whole. Puts never overwrite (same hash, same bytes); nodes fetch what they lack.
import { createHash } from 'node:crypto';
import { ClusterConnectionError } from '../base/errors.js';
import type { KvClient } from './kv-client.js';

/** The KV namespace of packages. */
const PKG_NS = 'sunray_packages';
/** Bytes per chunk: well under a frame, with room for the message around it. */
export const PACKAGE_CHUNK_BYTES = 4 * 1024 * 1024;

interface Manifest {
  size: number;
  chunks: number;
  /** sha256 of the gzipped bytes, checked on fetch. */
  sha256: string;
}

/** Upload and fetch of package archives (gzipped) through the head's KV. */
export class PackageStore {
  constructor(private readonly kv: Pick<KvClient, 'get' | 'putIfAbsent'>) {}

  /** Stores gz under hash, unless it is there already. */
  async put(hash: string, gz: Buffer): Promise<void> {
    if (await this.kv.get(PKG_NS, hash)) return;
    const chunks = Math.max(1, Math.ceil(gz.length / PACKAGE_CHUNK_BYTES));
    for (let i = 0; i < chunks; i++) {
      await this.kv.putIfAbsent(
        PKG_NS,
        `${hash}/${i}`,
        gz.subarray(i * PACKAGE_CHUNK_BYTES, (i + 1) * PACKAGE_CHUNK_BYTES),
      );
    }
    const manifest: Manifest = { size: gz.length, chunks, sha256: sha256(gz) };
    await this.kv.putIfAbsent(PKG_NS, hash, Buffer.from(JSON.stringify(manifest)));
  }

  /** The archive stored under hash (undefined: none is). */
  async get(hash: string): Promise<Buffer | undefined> {
    const raw = await this.kv.get(PKG_NS, hash);
    if (!raw) return undefined;
    const m = JSON.parse(raw.toString()) as Manifest;
    const parts: Buffer[] = [];
    for (let i = 0; i < m.chunks; i++) {
      const part = await this.kv.get(PKG_NS, `${hash}/${i}`);
      if (!part)
        throw new ClusterConnectionError(`package ${hash.slice(0, 12)} lacks chunk ${i} in the head's store`);
      parts.push(part);
    }
    const gz = Buffer.concat(parts);
    if (gz.length !== m.size || sha256(gz) !== m.sha256) {
      throw new ClusterConnectionError(
        `package ${hash.slice(0, 12)} came back damaged from the head's store`,
      );
    }
    return gz;
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
