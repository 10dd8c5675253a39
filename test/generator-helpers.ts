// Helpers for tests of streaming generators: a session with a directory for the files the
// generators write, how far a generator got (the count it last wrote to a file), and every
// value of an ObjectRefGenerator, in order.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll } from 'vitest';

/**
 * Starts sunray (2 CPUs, a 128 MiB store) and a private directory for the test file, both
 * ended after its tests. Returns a function naming a fresh file in that directory.
 */
export function generatorSession(prefix: string): (what: string) => string {
  let dir = '';
  let n = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    await sunray.init({ numCpus: 2, objectStoreMemory: 128 << 20 });
  });
  afterAll(async () => {
    await sunray.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  return (what) => join(dir, `${what}-${n++}`);
}

/** The number a generator last wrote to file p (0 before it wrote). */
export function progressOf(p: string): number {
  return existsSync(p) ? Number(readFileSync(p, 'utf8')) : 0;
}

/**
 * Cancels a generator, then takes the refs it still gives into `into`: resolves with what
 * the consumer caught (a cancelled generator's consumer gets TaskCancelledError).
 */
export async function cancelAndDrain<T>(
  gen: sunray.ObjectRefGenerator<T>,
  into: sunray.ObjectRef<T>[],
): Promise<unknown> {
  sunray.cancel(gen);
  try {
    for await (const ref of gen) into.push(ref);
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Every value of a generator's refs, in order. */
export async function valuesOf<T>(gen: AsyncIterable<sunray.ObjectRef<T>>): Promise<T[]> {
  const out: T[] = [];
  for await (const ref of gen) out.push(await sunray.get(ref));
  return out;
}
