// The demo `npm start` runs: the README's example, then a CPU-bound workload
// run serially in this process and in parallel as sunray tasks on an
// embedded local cluster, with the speed-up.
import { cpus } from 'node:os';
import * as sunray from 'sunray';

await sunray.init();
console.log(`sunray: embedded local node with ${sunray.clusterResources().CPU} CPUs`);

const add = sunray.remote((a, b) => a + b);
console.log('add.remote(5, 10)            ->', await sunray.get(add.remote(5, 10)));
const multiply = sunray.remote((a, b) => a * b);
console.log(
  'multiply.remote(i, i + 1)    ->',
  await sunray.get([0, 1, 2, 3, 4].map((i) => multiply.remote(i, i + 1))),
);

// Count primes in [lo, hi): pure CPU work, the same function both ways.
function countPrimes(lo, hi) {
  let count = 0;
  for (let n = Math.max(lo, 2); n < hi; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}
const N = 6_000_000;
const chunks = Math.max(2, cpus().length) * 4;
const ranges = Array.from({ length: chunks }, (_, i) => [
  Math.floor((i * N) / chunks),
  Math.floor(((i + 1) * N) / chunks),
]);

let t0 = performance.now();
const serial = ranges.reduce((s, [lo, hi]) => s + countPrimes(lo, hi), 0);
const serialMs = performance.now() - t0;

const remoteCount = sunray.remote(countPrimes);
await sunray.get(ranges.slice(0, 2).map(() => remoteCount.remote(0, 10))); // workers warm
t0 = performance.now();
const parallel = (await sunray.get(ranges.map(([lo, hi]) => remoteCount.remote(lo, hi)))).reduce(
  (a, b) => a + b,
  0,
);
const parallelMs = performance.now() - t0;

console.log(`primes below ${N.toLocaleString()}: ${serial} (serial) / ${parallel} (tasks)`);
console.log(
  `serial ${serialMs.toFixed(0)} ms, ${chunks} tasks ${parallelMs.toFixed(0)} ms: ` +
    `${(serialMs / parallelMs).toFixed(2)}x speed-up on ${cpus().length} cores`,
);
if (serial !== parallel) throw new Error('the parallel result differs from the serial one');
await sunray.shutdown();
