// A TypeScript program on sunray, as a user writes one: remote functions (tasks), an actor
// with state, a streaming generator, and an ActorPool spreading work over two actors. It imports `sunray` as an
// installed package; the types come from the package's .d.ts files, so a wrong argument or
// method name fails to compile.
// Run: `npm run compile:ts`, then `npx tsc -p examples/typescript` and
// `node examples/typescript/dist/main.js`. test/api/typescript-example.test.ts does the same.
import * as sunray from 'sunray';
import { ActorPool } from 'sunray';

// Remote functions are shipped to workers by source: keep them self-contained (no closures
// over module variables). The target is ES2022, so the compiled source stays close to this.
const square = sunray.remote((x: number): number => x * x);
const sum = sunray.remote((...xs: number[]): number => xs.reduce((a, b) => a + b, 0));

// A streaming generator: each yielded value is an object the caller reads as soon as it is
// yielded, before the generator ends (`.remote()` gives an ObjectRefGenerator<string>).
const words = sunray.remote(async function* (text: string) {
  for (const w of text.split(' ')) yield w.toUpperCase();
});

// An actor: a class instance in its own worker process, called many times.
const Counter = sunray.remote(
  class Counter {
    n = 0;
    incr(k = 1): number {
      return (this.n += k);
    }
  },
);

// A stateful "model": each actor of the pool loads it once, then serves many calls.
const Scaler = sunray.remote(
  class Scaler {
    constructor(private readonly factor: number) {}
    scale(x: number): number {
      return x * this.factor;
    }
  },
);

await sunray.init({ numCpus: 2 });
try {
  // Tasks: four squares in parallel, then a task on their refs (passed without a get).
  const squares = [1, 2, 3, 4].map((x) => square.remote(x));
  console.log('squares:', (await sunray.get(squares)).join(' '));
  console.log('sum of squares:', await sunray.get(sum.remote(...squares)));

  // An actor keeps its state between calls; calls from one caller run in order.
  const counter = Counter.remote();
  for (let i = 0; i < 3; i++) counter.incr.remote(2);
  console.log('counter:', await sunray.get(counter.incr.remote()));

  // An ActorPool of two actors: map yields the results in the order of the values.
  const pool = new ActorPool([Scaler.remote(10), Scaler.remote(10)]);
  const scaled: number[] = [];
  for await (const y of pool.map((a, x: number) => a.scale.remote(x), [1, 2, 3, 4, 5])) scaled.push(y);
  console.log('pool map:', scaled.join(' '));

  // A streaming generator: its refs arrive in the order the values were yielded.
  const streamed: string[] = [];
  for await (const ref of words.remote('values as they come')) streamed.push(await sunray.get(ref));
  console.log('streamed:', streamed.join(' '));
} finally {
  await sunray.shutdown();
}
