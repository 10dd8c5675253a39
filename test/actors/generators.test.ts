// Generator actor methods (Ray's streaming actor calls): a method that is a generator or
// async generator gives an ObjectRefGenerator, from the driver (calls the node manager
// routes) and from a task (direct calls between workers), over the actor's own state, with
// order, backpressure, errors, cancel and restarts as for generator tasks. The generators
// write their progress to files, so that the tests see the producer while the consumer
// holds off.
import { existsSync, writeFileSync } from 'node:fs';
import * as sunray from 'sunray';
import { describe, expect, test } from 'vitest';
import { cancelAndDrain, generatorSession, progressOf, valuesOf } from '../generator-helpers.js';
import { until } from '../helpers.js';

/** A fresh path in the test's directory. */
const path = generatorSession('sunray-actor-gen-');

/** An actor with state, an async generator method, a sync one, and plain methods. */
class WordList {
  words: string[] = [];
  add(word: string) {
    this.words.push(word);
    return this.words.length;
  }
  /** Its words, then waits for `gate` to exist, then 'end'. */
  async *stream(gate: string) {
    const fs = await import('node:fs');
    for (const w of this.words) yield w;
    while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 5));
    yield 'end';
  }
  /** 0..count-1, writing how many it has yielded to `log` before each; throws at `failAt`. */
  async *counted(count: number, log: string, failAt = -1) {
    const fs = await import('node:fs');
    for (let i = 0; i < count; i++) {
      if (i === failAt) throw new RangeError(`boom at ${i}`);
      fs.writeFileSync(log, String(i + 1));
      yield i;
    }
  }
  /** Values to the end of time, 10 ms apart (until cancelled). */
  async *endless(log: string) {
    const fs = await import('node:fs');
    for (let i = 0; ; i++) {
      fs.writeFileSync(log, String(i + 1));
      yield i;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  *big(k: number) {
    for (let i = 0; i < k; i++) yield new Float64Array(40_000).fill(i); // 320 kB: in the store
  }
  size() {
    return this.words.length;
  }
}
const Words = sunray.remote(WordList);
type WordsHandle = ReturnType<typeof Words.remote>;

describe('generator actor methods', () => {
  test("stream from the actor's state, the first value before the generator ends", async () => {
    const w = Words.remote();
    await sunray.get([w.add.remote('a'), w.add.remote('b')]);
    const gate = path('gate');
    const it = w.stream.remote(gate);
    expect(it).toBeInstanceOf(sunray.ObjectRefGenerator);
    const first = await it.next();
    expect(await sunray.get(first.value as sunray.ObjectRef<string>)).toBe('a');
    const [ready] = await sunray.wait([it.completed], { timeout: 100 });
    expect(ready).toEqual([]); // still running
    writeFileSync(gate, '');
    expect(await valuesOf(it)).toEqual(['b', 'end']);
    expect(await sunray.get(it.completed)).toBe(3);
    // Many values in order, large ones through the store, from a sync generator method too.
    const log = path('log');
    expect(await valuesOf(w.counted.remote(300, log))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const arrays = await valuesOf(w.big.remote(2));
    expect(arrays.map((a) => [a.length, a[0], a[39_999]])).toEqual([
      [40_000, 0, 0],
      [40_000, 1, 1],
    ]);
    expect(() => w.big.options({ numReturns: 2 })).toThrow(/is a generator method/);
    expect(await sunray.get(w.size.remote())).toBe(2);
    sunray.kill(w);
  });

  test('a sync actor runs a generator call whole before its next call, in order', async () => {
    const Tally = sunray.remote(
      class Tally {
        n = 0;
        *take(k: number) {
          for (let i = 0; i < k; i++) yield this.n++;
        }
        next() {
          return this.n++;
        }
      },
    );
    const t = Tally.remote();
    const gen = t.take.remote(3);
    const after = t.next.remote();
    expect(await sunray.get(after)).toBe(3);
    expect(await valuesOf(gen)).toEqual([0, 1, 2]);
    sunray.kill(t);
  });

  test('generatorBackpressure on a method call pauses the generator', async () => {
    const w = Words.remote();
    const log = path('log');
    const it = w.counted.options({ generatorBackpressure: 2 }).remote(10, log);
    await until(() => progressOf(log) === 2, 10_000, 'the generator yields its first 2 values');
    await new Promise((r) => setTimeout(r, 400));
    expect(progressOf(log)).toBe(2); // paused: 2 values unconsumed
    expect(await sunray.get((await it.next()).value as sunray.ObjectRef<number>)).toBe(0);
    await until(() => progressOf(log) === 3, 10_000, 'one more value after one was consumed');
    expect(await valuesOf(it)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    sunray.kill(w);
  });

  test('from a task (direct calls): streams, backpressure, and the handle knows its generators', async () => {
    const w = Words.remote();
    const consume = sunray.remote(async (w: WordsHandle, log: string) => {
      const s = await import('sunray');
      const fs = await import('node:fs');
      await s.get(w.add.remote('x')); // the direct channel is open by now
      const it = w.counted.options({ generatorBackpressure: 2 }).remote(6, log);
      const deadline = Date.now() + 10_000;
      while (!fs.existsSync(log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 400));
      const paused = Number(fs.readFileSync(log, 'utf8'));
      const got: number[] = [];
      for await (const ref of it) got.push(await s.get(ref));
      // The method is a generator: known from the handle that came in the arguments.
      const plain: number[] = [];
      for await (const ref of w.counted.remote(3, `${log}-2`)) plain.push(await s.get(ref));
      return { paused, got, plain, completed: await s.get(it.completed) };
    });
    expect(await sunray.get(consume.remote(w, path('log')))).toEqual({
      paused: 2,
      got: [0, 1, 2, 3, 4, 5],
      plain: [0, 1, 2],
      completed: 6,
    });
    sunray.kill(w);
  });

  test('an error in a generator method rejects after the values before it; the actor lives on', async () => {
    const w = Words.remote();
    const it = w.counted.remote(5, path('log'), 3);
    const got: number[] = [];
    let caught: unknown;
    try {
      for await (const ref of it) got.push(await sunray.get(ref));
    } catch (err) {
      caught = err;
    }
    expect(got).toEqual([0, 1, 2]);
    expect(caught).toBeInstanceOf(sunray.TaskError);
    expect(String(caught)).toMatch(/boom at 3/);
    expect(await sunray.get(w.add.remote('still here'))).toBe(1);
    sunray.kill(w);
  });

  test('cancel(gen) stops a generator method, from the driver and from a task; refs stay valid', async () => {
    const w = Words.remote();
    const log = path('log');
    const it = w.endless.remote(log);
    const refs: sunray.ObjectRef<number>[] = [];
    for (let i = 0; i < 3; i++) refs.push((await it.next()).value as sunray.ObjectRef<number>);
    expect(await cancelAndDrain(it, refs)).toBeInstanceOf(sunray.TaskCancelledError);
    await new Promise((r) => setTimeout(r, 100));
    const stopped = progressOf(log);
    await new Promise((r) => setTimeout(r, 300));
    expect(progressOf(log)).toBe(stopped); // the side effect stopped
    expect(await sunray.get(refs)).toEqual(refs.map((_, i) => i));
    expect(await sunray.get(w.size.remote())).toBe(0); // the actor takes calls again
    // The same from a task, whose calls go straight to the actor.
    const cancelling = sunray.remote(async (w: WordsHandle, log: string) => {
      const s = await import('sunray');
      await s.get(w.size.remote());
      const it = w.endless.remote(log);
      const taken: number[] = [];
      for (let i = 0; i < 3; i++) taken.push(await s.get((await it.next()).value as never));
      s.cancel(it);
      let error = '';
      try {
        for await (const _ of it);
      } catch (err) {
        error = (err as Error).name;
      }
      return { taken, error };
    });
    const log2 = path('log');
    expect(await sunray.get(cancelling.remote(w, log2))).toEqual({
      taken: [0, 1, 2],
      error: 'TaskCancelledError',
    });
    await new Promise((r) => setTimeout(r, 100));
    const stopped2 = progressOf(log2);
    await new Promise((r) => setTimeout(r, 300));
    expect(progressOf(log2)).toBe(stopped2);
    sunray.kill(w);
  });

  test('a handle found by name knows the generator methods; numReturns streaming says so where none can', async () => {
    const w = Words.options({ name: 'words-by-name' }).remote();
    await sunray.get(w.add.remote('named'));
    const found = await sunray.getActor<WordList>('words-by-name');
    const gate = path('gate');
    writeFileSync(gate, '');
    expect(await valuesOf(found.stream.remote(gate))).toEqual(['named', 'end']);
    expect(await sunray.get(found.size.remote())).toBe(1);
    // A handle that cannot know (getIfExists in a worker, with a class of its own that has
    // no generator) gets an error saying what to do, and streams once told to.
    const viaTask = sunray.remote(async (gate: string) => {
      const s = await import('sunray');
      const Other = s.remote(
        class WordList {
          stream(_gate: string): unknown {
            return undefined;
          }
        },
      );
      const h = Other.options({ name: 'words-by-name', getIfExists: true }).remote();
      const error = await s.get(h.stream.remote(gate)).catch((e: Error) => `${e.name}: ${e.message}`);
      const streamed: unknown[] = [];
      for await (const ref of h.stream.options({ numReturns: 'streaming' }).remote(gate))
        streamed.push(await s.get(ref));
      // Once its registration answered (the calls above queued behind it), the handle knows
      // what the actor registered: the generator method streams without being told.
      const learned: unknown[] = [];
      for await (const ref of h.stream.remote(gate) as unknown as AsyncIterable<unknown>)
        learned.push(await s.get(ref as never));
      return { error, streamed, learned };
    });
    const { error, streamed, learned } = await sunray.get(viaTask.remote(gate));
    expect(error).toMatch(/^TaskError: .*WordList\.stream returned a generator.*numReturns: 'streaming'/);
    expect(streamed).toEqual(['named', 'end']);
    expect(learned).toEqual(['named', 'end']);
    sunray.kill(w);
  });

  test('an actor dying mid-stream restarts; the call is retried from the start, nothing given twice', async () => {
    const Crashing = sunray.remote(
      class Crashing {
        async *numbers(gate: string, marker: string) {
          const fs = await import('node:fs');
          for (let i = 0; i < 8; i++) {
            if (i === 3) {
              while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 5));
              // The first run dies here; the retry (in the restarted actor) goes on.
              if (!fs.existsSync(marker)) {
                fs.writeFileSync(marker, String(process.pid));
                await new Promise((r) => setTimeout(r, 50));
                process.exit(1);
              }
            }
            yield i;
          }
        }
      },
    );
    const c = Crashing.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote();
    const gate = path('gate');
    const marker = path('marker');
    const it = c.numbers.remote(gate, marker);
    const got: number[] = [];
    for (let i = 0; i < 2; i++)
      got.push(await sunray.get((await it.next()).value as sunray.ObjectRef<number>));
    writeFileSync(gate, '');
    for await (const ref of it) got.push(await sunray.get(ref));
    expect(existsSync(marker)).toBe(true);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await sunray.get(it.completed)).toBe(8);
    sunray.kill(c);
  });
});
