// One run of "first put gigabytes (fresh store)" (bench/suites/store.ts): a driver of its
// own measures memcpy of 800 MiB between two touched buffers, then init()s a fresh node
// (default store size) and times its first put of the same 800 MiB right after init()
// returns. Prints {"put": GB/s, "memcpy": GB/s, "initMs": ms}.
import * as sunray from 'sunray';

const N = 800 * 1024 * 1024;
const src = Buffer.alloc(N, 3);
const dst = Buffer.alloc(N, 4);
let memcpy = 0;
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  src.copy(dst);
  memcpy = Math.max(memcpy, N / ((performance.now() - t) * 1e6));
}
const t0 = performance.now();
await sunray.init({ numCpus: 2 });
const initMs = performance.now() - t0;
const t = performance.now();
const ref = sunray.put(src);
const put = N / ((performance.now() - t) * 1e6);
ref.release();
await sunray.shutdown();
console.log(JSON.stringify({ put, memcpy, initMs }));
