// The remote functions and actor classes of Ray's ray_perf.py, rebuilt for sunray.
// Functions and classes are shipped to workers by SOURCE: they must not read outside
// variables; inside a worker `await import('sunray')` is the same API, connected to the node.

import { type SunrayApi, sunray } from '../harness/sunray.js';

export interface Defs {
  api: SunrayApi;
  smallValue: any;
  smallValueBatch: any;
  createObjectContainingRef: any;
  doPutSmall: any;
  doPut: any;
  work: any;
  Actor: any;
  AsyncActor: any;
  Client: any;
  /** A generator task yielding 0..n-1 (streaming: one object per value). */
  streamItems: any;
}

let defs: Promise<Defs> | undefined;

/** Object store sized for the largest benchmark (2 GiB puts; 10 clients x 80 MiB) with room to spare. */
export const STORE_BYTES = 5 * 1024 ** 3;

export function sunrayDefs(): Promise<Defs> {
  defs ??= (async () => {
    const api = await sunray({ objectStoreMemory: STORE_BYTES });
    const smallValue = api.remote(() => 'ok');
    const streamItems = api.remote(function* streamItems(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    const smallValueBatch = api.remote(async (n: number) => {
      const s: any = await import('sunray');
      const g: any = globalThis;
      g.__benchSmallValue ??= s.remote(() => 'ok');
      const refs: unknown[] = [];
      for (let i = 0; i < n; i++) refs.push(g.__benchSmallValue.remote());
      await s.get(refs);
      return 0;
    });
    const createObjectContainingRef = api.remote(async () => {
      const s: any = await import('sunray');
      const refs: unknown[] = [];
      for (let i = 0; i < 10_000; i++) refs.push(s.put(1));
      return refs;
    });
    const doPutSmall = api.remote(async () => {
      const s: any = await import('sunray');
      for (let i = 0; i < 100; i++) s.put(0).release?.();
      return 0;
    });
    const doPut = api.remote(async () => {
      const s: any = await import('sunray');
      for (let i = 0; i < 10; i++) s.put(Buffer.alloc(80 * 1024 * 1024)).release?.();
      return 0;
    });
    const work = api.remote(async (actors: any[], n: number) => {
      const s: any = await import('sunray');
      const refs: unknown[] = [];
      for (let i = 0; i < n; i++) refs.push(actors[i % actors.length].smallValue.remote());
      await s.get(refs);
      return 0;
    });
    const Actor = api.remote(
      class Actor {
        smallValue() {
          return 'ok';
        }
        pid() {
          return process.pid;
        }
        smallValueArg(_x: unknown) {
          return 'ok';
        }
        async smallValueBatch(n: number) {
          const s: any = await import('sunray');
          const g: any = globalThis;
          g.__benchSmallValue ??= s.remote(() => 'ok');
          const refs: unknown[] = [];
          for (let i = 0; i < n; i++) refs.push(g.__benchSmallValue.remote());
          await s.get(refs);
          return 0;
        }
      },
    );
    const AsyncActor = api.remote(
      class AsyncActor {
        async smallValue() {
          return 'ok';
        }
        async smallValueWithArg(_x: unknown) {
          return 'ok';
        }
      },
    );
    const Client = api.remote(
      class Client {
        servers: any[];
        constructor(servers: any) {
          this.servers = Array.isArray(servers) ? servers : [servers];
        }
        async smallValueBatch(n: number) {
          const s: any = await import('sunray');
          const refs: unknown[] = [];
          for (const srv of this.servers) for (let i = 0; i < n; i++) refs.push(srv.smallValue.remote());
          await s.get(refs);
          return 0;
        }
        async smallValueBatchArg(n: number) {
          const s: any = await import('sunray');
          const x = s.put(0);
          const refs: unknown[] = [];
          for (const srv of this.servers) for (let i = 0; i < n; i++) refs.push(srv.smallValueArg.remote(x));
          await s.get(refs);
          return 0;
        }
      },
    );
    return {
      api,
      smallValue,
      smallValueBatch,
      createObjectContainingRef,
      doPutSmall,
      doPut,
      work,
      Actor,
      AsyncActor,
      Client,
      streamItems,
    };
  })();
  return defs;
}

export function resetDefs(): void {
  defs = undefined;
}

/** Submits n calls of make() and gets them all. */
export function batch(api: SunrayApi, n: number, make: (i: number) => unknown): Promise<unknown> {
  const refs = new Array<unknown>(n);
  for (let i = 0; i < n; i++) refs[i] = make(i);
  return api.get(refs);
}

const live: any[] = [];

/** Records an actor handle so it is killed when the benchmark that made it ends. */
export function track<T>(handle: T): T {
  live.push(handle);
  return handle;
}

/** Kills the actors the last benchmark made (so their processes and CPUs are freed). */
export async function killTracked(): Promise<void> {
  const handles = live.splice(0);
  if (!handles.length || !defs) return;
  const d = await defs.catch(() => undefined);
  const kill = d?.api.kill as ((h: unknown) => void) | undefined;
  if (typeof kill !== 'function') return;
  for (const h of handles) {
    try {
      kill(h);
    } catch {
      // already dead
    }
  }
}
