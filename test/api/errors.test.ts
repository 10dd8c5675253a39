// Every error class a user can catch has a stable code, distinct from the
// others, carried by its instances, and a row in docs/errors.md: the table
// cannot drift from the code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sunray from 'sunray';
import * as store from 'sunray/store';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../helpers.js';

type ErrorClass = (new (message: string) => Error) & { code?: string };

function errorClasses(mod: Record<string, unknown>): Array<[string, ErrorClass]> {
  return Object.entries(mod).filter(
    (e): e is [string, ErrorClass] =>
      typeof e[1] === 'function' && (e[1] as { prototype?: unknown }).prototype instanceof Error,
  );
}

const doc = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
const rows = new Map(
  [...doc.matchAll(/^\| `(\w+)` \| `(\w+)` \|/gm)].map((m) => [m[1] as string, m[2] as string]),
);

describe('error codes', () => {
  const all = [...errorClasses(sunray), ...errorClasses(store), ['SunrayError', sunray.SunrayError]] as Array<
    [string, ErrorClass]
  >;
  const ours = all.filter(
    ([, cls]) => cls.prototype instanceof sunray.SunrayError || cls === sunray.SunrayError,
  );

  test('each SunrayError class has its own stable code, and its instances carry it', () => {
    const byCode = new Map<string, string>();
    for (const [name, cls] of ours) {
      expect(cls.code, name).toMatch(/^[A-Z][A-Z_]+$/);
      const other = byCode.get(cls.code!);
      if (other !== undefined && other !== name) throw new Error(`${name} and ${other} share ${cls.code}`);
      byCode.set(cls.code!, name);
      const err = (
        (cls as unknown) === sunray.TaskError
          ? new sunray.TaskError('t', { name: 'Error', message: 'x', stack: '' })
          : new cls('x')
      ) as Error & { code: string };
      expect(err.code, name).toBe(cls.code);
      expect(err.name, name).toBe(name);
    }
    expect(byCode.size).toBeGreaterThan(25);
  });

  test('docs/errors.md has a row for each, with its code', () => {
    for (const [name, cls] of ours) expect(`${name}: ${rows.get(name)}`).toBe(`${name}: ${cls.code}`);
  });

  test('a task error keeps the remote error: instanceof, code and fields', async () => {
    await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
    try {
      const f = sunray.remote(async () => {
        const fs = await import('node:fs');
        return fs.readFileSync('/nonexistent/sunray');
      });
      const err = (await sunray.get(f.remote()).catch((e: unknown) => e)) as sunray.TaskError;
      expect(err).toBeInstanceOf(sunray.TaskError);
      expect(err.code).toBe('SUNRAY_TASK_ERROR');
      expect((err.cause as { code?: string }).code).toBe('ENOENT');
    } finally {
      await sunray.shutdown();
    }
  });
});
