// Objects & memory: each node's object store (bytes in use, objects, pinned, spilled), the
// objects grouped by the call site that made them, and every reference to an object in
// every process, with why it is alive there.

import { api, bar, bytes, counts, h, section, short, table, tail } from '../lib.js';
import * as sampler from '../sampler.js';

const storeColumns = [
  { title: 'node', get: (n) => short(n.nodeId) },
  { title: 'in use', get: (n) => bar(n.usage.store.used, n.usage.store.capacity, bytes) },
  { title: 'objects', cls: 'num', get: (n) => n.usage.store.objects },
  { title: 'pinned', cls: 'num', get: (n) => n.usage.store.pinned },
  {
    title: 'spilled',
    cls: 'num',
    get: (n) => `${n.usage.store.spilledObjects} (${bytes(n.usage.store.spilledBytes)})`,
  },
];

const objectColumns = [
  { title: 'object', get: (o) => tail(o.objectId, 16) },
  { title: 'size', cls: 'num', get: (o) => bytes(o.objectSize) },
  { title: 'reference', get: (o) => o.referenceType },
  { title: 'task status', get: (o) => o.taskStatus },
  { title: 'node', get: (o) => short(o.nodeId) },
  { title: 'pid', cls: 'num', get: (o) => o.pid },
  { title: 'process', get: (o) => o.type },
  { title: 'local refs', cls: 'num', get: (o) => o.localRefs },
  { title: 'in store', get: (o) => (o.inStore ? 'yes' : 'no') },
  { title: 'call site', cls: 'wrap', get: (o) => o.callSite },
];

/** Mounts the objects view. */
export function mount(root, ctx) {
  const stores = h('div');
  const summary = h('div');
  const list = h('div');
  const total = h('p', { class: 'muted' });
  root.append(
    section('Object stores', stores),
    section('Objects by call site', total, summary),
    section('References (the largest 500)', list),
  );
  const unsubscribe = sampler.subscribe((s) => {
    if (s)
      stores.replaceChildren(
        table(
          'stores-table',
          storeColumns,
          s.nodes.filter((n) => n.usage?.store),
        ),
      );
  });
  ctx.poll(async () => {
    const a = await api('objects');
    const sites = Object.entries(a.summary.byCallSite).sort(([, x], [, y]) => y.sizeBytes - x.sizeBytes);
    total.textContent = `${a.summary.totalObjects} objects, ${bytes(a.summary.totalSizeBytes)} (call sites need init({ recordCallSites: true }))`;
    summary.replaceChildren(
      table(
        'objects-summary',
        [
          { title: 'call site', cls: 'wrap', get: ([site]) => site },
          { title: 'objects', cls: 'num', get: ([, e]) => e.objects },
          { title: 'bytes', cls: 'num', get: ([, e]) => bytes(e.sizeBytes) },
          { title: 'references', get: ([, e]) => counts(e.references) },
        ],
        sites,
      ),
    );
    list.replaceChildren(
      // The largest first: what holds the memory.
      table(
        'objects-table',
        objectColumns,
        [...a.rows].sort((x, y) => y.objectSize - x.objectSize).slice(0, 500),
        {
          empty: 'No objects.',
        },
      ),
    );
  }, 2000);
  return unsubscribe;
}
