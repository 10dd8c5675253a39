// Letting go of store views promptly in workers. A block a task reads is a view of the store's
// memory, pinned until the view is garbage-collected (sunray's API has no explicit release of a
// view; docs/data.md lists the gap). A worker that streams many blocks makes little garbage of
// its own, so collections come late and deleted blocks stay pinned, holding store memory the
// executor's budget believes free. After every MiB of blocks read, a young-generation
// collection (cheap: the views are young) lets their finalizers unpin them.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Bytes of views read since the last collection before the next one. */
const EVERY_BYTES = 1024 * 1024;

let gc: ((opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void) | undefined | null;
let pending = 0;
let rounds = 0;

function collector(): typeof gc {
  if (gc !== undefined) return gc;
  gc = (globalThis as { gc?: typeof gc }).gc ?? null;
  if (!gc) {
    try {
      // --expose-gc set at run time makes `gc` available to contexts created after it.
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as typeof gc;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Notes that `bytes` of block views were read and are no longer used by this task. */
export function releaseViews(bytes: number): void {
  pending += bytes;
  if (pending < EVERY_BYTES) return;
  pending = 0;
  const collect = collector();
  if (!collect) return;
  // Finalizers run after the current task returns, in a later turn of the event loop.
  // Views that outlived a few scavenges are old: every fourth time, a full collection.
  const full = ++rounds % 4 === 0;
  setImmediate(() => {
    try {
      if (full) collect();
      else collect({ type: 'minor' });
    } catch {
      collect();
    }
  });
}
