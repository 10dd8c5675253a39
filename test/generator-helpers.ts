// Helpers for tests of streaming generators: how far a generator got (the count it last wrote
// to a file), and every value of an ObjectRefGenerator, in order.
import { existsSync, readFileSync } from 'node:fs';
import * as sunray from 'sunray';

/** The number a generator last wrote to file p (0 before it wrote). */
export function progressOf(p: string): number {
  return existsSync(p) ? Number(readFileSync(p, 'utf8')) : 0;
}

/** Every value of a generator's refs, in order. */
export async function valuesOf<T>(gen: AsyncIterable<sunray.ObjectRef<T>>): Promise<T[]> {
  const out: T[] = [];
  for await (const ref of gen) out.push(await sunray.get(ref));
  return out;
}
