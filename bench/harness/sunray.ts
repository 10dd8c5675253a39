// Loads sunray (the package's self-reference, i.e. dist/) and starts it once for all
// suites. Typed loosely on purpose: the API is being written in parallel, and a
// benchmark whose API is missing must be skipped at run time, not fail to compile.

import { SkipError } from './types.js';

export interface Ref {
  readonly __ref?: unknown;
}

export interface RemoteFn {
  remote(...args: any[]): any;
  options?(opts: Record<string, unknown>): RemoteFn;
}

export interface SunrayApi {
  init(opts?: Record<string, unknown>): Promise<void>;
  shutdown(): Promise<void>;
  remote(fnOrClass: any, opts?: any): any;
  get(refs: any, opts?: { timeout?: number }): Promise<any>;
  put(value: unknown): any;
  wait(
    refs: any[],
    opts: { numReturns?: number; timeout?: number; fetchLocal?: boolean },
  ): Promise<[any[], any[]]>;
  isInitialized?(): boolean;
  [k: string]: unknown;
}

export interface StoreModule {
  ObjectStore: { create(opts: { capacity: number }): any };
  ObjectId: { random(): any };
  [k: string]: unknown;
}

const specifier = (name: string) => name; // keeps tsc from resolving the modules at compile time

let loaded: Promise<SunrayApi> | undefined;
let started = false;

function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 200);
}

/** The sunray API, initialized (once). Throws SkipError when it can't be loaded or started. */
export function sunray(initOpts: Record<string, unknown> = {}): Promise<SunrayApi> {
  loaded ??= (async () => {
    let api: SunrayApi;
    try {
      api = (await import(specifier('sunray'))) as SunrayApi;
    } catch (e) {
      throw new SkipError(`sunray runtime not available (import 'sunray' failed: ${reason(e)})`);
    }
    for (const fn of ['init', 'shutdown', 'remote', 'get', 'put', 'wait'] as const) {
      if (typeof api[fn] !== 'function') throw new SkipError(`sunray.${fn} is not exported yet`);
    }
    try {
      await api.init(initOpts);
      started = true;
    } catch (e) {
      throw new SkipError(`sunray.init() failed: ${reason(e)}`);
    }
    return api;
  })();
  return loaded;
}

/** The sunray/testing helpers, or undefined. */
export async function testing(): Promise<Record<string, any> | undefined> {
  try {
    return (await import(specifier('sunray/testing'))) as Record<string, any>;
  } catch {
    return undefined;
  }
}

/** Shuts sunray down if it was started; never throws, never waits more than ms. */
export async function shutdownSunray(ms = 15_000): Promise<string | undefined> {
  if (!started || !loaded) return undefined;
  started = false;
  const api = await loaded.catch(() => undefined);
  loaded = undefined;
  if (!api) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      api.shutdown(),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`shutdown took over ${ms / 1000} s`)), ms);
        timer.unref();
      }),
    ]);
    return undefined;
  } catch (e) {
    return reason(e);
  } finally {
    clearTimeout(timer);
  }
}

let storeMod: Promise<StoreModule> | undefined;
const stores: any[] = [];

/** The sunray/store module. Throws SkipError when dist/store/index.js isn't there yet. */
export function storeModule(): Promise<StoreModule> {
  storeMod ??= (async () => {
    try {
      const m = (await import(specifier('sunray/store'))) as StoreModule;
      if (typeof m.ObjectStore?.create !== 'function' || typeof m.ObjectId?.random !== 'function') {
        throw new Error('ObjectStore.create / ObjectId.random not exported');
      }
      return m;
    } catch (e) {
      throw new SkipError(`object store not available (import 'sunray/store' failed: ${reason(e)})`);
    }
  })();
  return storeMod;
}

let shared: Promise<any> | undefined;

/** One store arena shared by the store-API benchmarks (created once: first touch of pages is slow here). */
export function sharedStore(capacity: number): Promise<any> {
  shared ??= (async () => {
    const m = await storeModule();
    try {
      const s = await m.ObjectStore.create({ capacity });
      stores.push(s);
      return s;
    } catch (e) {
      throw new SkipError(`ObjectStore.create({ capacity: ${capacity} }) failed: ${reason(e)}`);
    }
  })();
  return shared;
}

export function closeStores(): void {
  for (const s of stores.splice(0)) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  shared = undefined;
}
