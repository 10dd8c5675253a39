// cancel(ref, { force, recursive = true }): a cancelled task's children (the tasks it
// submitted while it ran) and their children are cancelled too, as in Ray; recursive:
// false cancels only that task. Children are owned by the worker that submitted them, so
// what each level saw is read from files the tasks write.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isRunning, until } from '../helpers.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sunray-cancel-'));
  await sunray.init({ numCpus: 4, objectStoreMemory: 128 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Three levels: this task submits a middle one, which submits a leaf that writes its pid
 * to `<out>-leaf-pid` and waits for `gate`. Each of the two upper levels writes what its
 * get() of the level below gave ('value 1', or the error's name) to `<out>-0` / `<out>-1`.
 * Each file appears whole (written beside it, then renamed): a poll never reads half of one.
 */
const top = sunray.remote(async (out: string, gate: string) => {
  const s = await import('sunray');
  const fs = await import('node:fs');
  // Written whole or not at all (then renamed): the test polls these files.
  const put = (f: string, v: string) => {
    fs.writeFileSync(`${f}.part`, v);
    fs.renameSync(`${f}.part`, f);
  };
  const middle = s.remote(async (out: string, gate: string) => {
    const s = await import('sunray');
    const fs = await import('node:fs');
    // Written whole or not at all (then renamed): the test polls these files.
    const put = (f: string, v: string) => {
      fs.writeFileSync(`${f}.part`, v);
      fs.renameSync(`${f}.part`, f);
    };
    const leaf = s.remote(async (out: string, gate: string) => {
      const fs = await import('node:fs');
      // Written whole or not at all (then renamed): the test polls these files.
      const put = (f: string, v: string) => {
        fs.writeFileSync(`${f}.part`, v);
        fs.renameSync(`${f}.part`, f);
      };
      put(`${out}-leaf-pid`, String(process.pid));
      while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
      return 1;
    });
    try {
      const v = await s.get(leaf.remote(out, gate));
      put(`${out}-1`, `value ${v}`);
      return v;
    } catch (e) {
      put(`${out}-1`, (e as Error).name);
      throw e;
    }
  });
  try {
    const v = await s.get(middle.remote(out, gate));
    put(`${out}-0`, `value ${v}`);
    return v;
  } catch (e) {
    put(`${out}-0`, (e as Error).name);
    throw e;
  }
});

const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);

describe('recursive cancel', () => {
  test("cancel() reaches the task's children and theirs (the default, as in Ray)", async () => {
    const out = join(dir, 'recursive');
    const gate = join(dir, 'recursive-gate');
    const ref = top.remote(out, gate);
    await until(() => existsSync(`${out}-leaf-pid`), 20_000, 'the leaf task to start');
    sunray.cancel(ref);
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    // The top task itself runs on (JS cannot interrupt it); its get() of the middle one and
    // the middle one's get() of the leaf were cancelled, with the leaf still waiting.
    await until(
      () => read(`${out}-0`) !== undefined && read(`${out}-1`) !== undefined,
      10_000,
      'both levels',
    );
    expect(read(`${out}-0`)).toBe('TaskCancelledError');
    expect(read(`${out}-1`)).toBe('TaskCancelledError');
    expect(existsSync(gate)).toBe(false);
    writeFileSync(gate, '');
  });

  test('recursive: false cancels only that task: its children run to the end', async () => {
    const out = join(dir, 'flat');
    const gate = join(dir, 'flat-gate');
    const ref = top.remote(out, gate);
    await until(() => existsSync(`${out}-leaf-pid`), 20_000, 'the leaf task to start');
    sunray.cancel(ref, { recursive: false });
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    await new Promise((r) => setTimeout(r, 300));
    expect(read(`${out}-1`)).toBeUndefined(); // the middle one still waits for the leaf
    writeFileSync(gate, '');
    await until(() => read(`${out}-0`) !== undefined, 10_000, 'the top task to end');
    expect(read(`${out}-1`)).toBe('value 1');
    expect(read(`${out}-0`)).toBe('value 1');
  });

  test('with force, the workers of the task and of its children are killed', async () => {
    const out = join(dir, 'force');
    const gate = join(dir, 'force-gate');
    const pidOf = sunray.remote(() => process.pid);
    const ref = top.remote(out, gate);
    await until(() => existsSync(`${out}-leaf-pid`), 20_000, 'the leaf task to start');
    const leafPid = Number(read(`${out}-leaf-pid`));
    expect(isRunning(leafPid)).toBe(true);
    sunray.cancel(ref, { force: true });
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    await until(() => !isRunning(leafPid), 10_000, "the leaf's worker to be killed");
    // Killed, not finished: nobody wrote what they got, and the gate was never opened.
    expect(read(`${out}-0`)).toBeUndefined();
    expect(read(`${out}-1`)).toBeUndefined();
    expect(existsSync(gate)).toBe(false);
    // The node carries on.
    expect(typeof (await sunray.get(pidOf.remote()))).toBe('number');
  });

  test('cancel of an actor call reaches the tasks it submitted, routed or direct', async () => {
    // The method starts a child that waits for `gate`, and writes what its get() gave.
    const Parent = sunray.remote(
      class Parent {
        async spawn(out: string, gate: string) {
          const s = await import('sunray');
          const fs = await import('node:fs');
          const put = (f: string, v: string) => {
            fs.writeFileSync(`${f}.part`, v);
            fs.renameSync(`${f}.part`, f);
          };
          const child = s.remote(async (out: string, gate: string) => {
            const fs = await import('node:fs');
            fs.writeFileSync(`${out}-child.part`, '');
            fs.renameSync(`${out}-child.part`, `${out}-child`);
            while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
            return 1;
          });
          try {
            put(`${out}-call`, `value ${await s.get(child.remote(out, gate))}`);
          } catch (e) {
            put(`${out}-call`, (e as Error).name);
          }
          return 'done';
        }
        ping() {
          return 'pong';
        }
      },
    );
    type ParentHandle = ReturnType<typeof Parent.remote>;
    const p = Parent.remote();
    // From the driver (the node routes the call and the cancel), recursive and not.
    for (const recursive of [true, false]) {
      const out = join(dir, `actor-${recursive}`);
      const gate = join(dir, `actor-${recursive}-gate`);
      const ref = p.spawn.remote(out, gate);
      await until(() => existsSync(`${out}-child`), 20_000, 'the child task to start');
      sunray.cancel(ref, { recursive });
      await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
      if (recursive) {
        await until(() => read(`${out}-call`) !== undefined, 10_000, 'the call to see its child cancelled');
        expect(read(`${out}-call`)).toBe('TaskCancelledError');
      } else {
        await new Promise((r) => setTimeout(r, 300));
        expect(read(`${out}-call`)).toBeUndefined(); // the child runs on
      }
      writeFileSync(gate, '');
      await until(() => read(`${out}-call`) !== undefined, 10_000, 'the call to end');
      if (!recursive) expect(read(`${out}-call`)).toBe('value 1');
    }
    // From a task, whose calls (and cancels) go straight to the actor.
    const out = join(dir, 'actor-direct');
    const gate = join(dir, 'actor-direct-gate');
    const caller = sunray.remote(async (p: ParentHandle, out: string, gate: string) => {
      const s = await import('sunray');
      const fs = await import('node:fs');
      await s.get(p.ping.remote()); // the direct channel is open by now
      const ref = p.spawn.remote(out, gate);
      while (!fs.existsSync(`${out}-child`)) await new Promise((r) => setTimeout(r, 10));
      s.cancel(ref);
      return s.get(ref).catch((e: Error) => e.name);
    });
    expect(await sunray.get(caller.remote(p, out, gate))).toBe('TaskCancelledError');
    await until(
      () => read(`${out}-call`) !== undefined,
      10_000,
      'the direct call to see its child cancelled',
    );
    expect(read(`${out}-call`)).toBe('TaskCancelledError');
    writeFileSync(gate, '');
    sunray.kill(p);
  });
});
