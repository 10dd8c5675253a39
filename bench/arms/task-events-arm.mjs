// One arm of the task-events rows (bench/suites/task-events.ts): a driver of its own with
// task events on or off (argv[3]), running one hot-path loop (argv[2]) after a warm-up for
// argv[4] ms, then printing {"rate": operations per second}. Separate processes, so each arm
// pays what recording costs everywhere: node, driver and workers.
import * as sunray from 'sunray';

const [, , row, onOff, msText] = process.argv;
const ms = Number(msText) || 1500;
await sunray.init({ numCpus: 2, objectStoreMemory: 256 << 20, taskEvents: onOff === 'on' });
const small = sunray.remote(() => 'ok');
class Actor {
  smallValue() {
    return 'ok';
  }
}
const actor = sunray.remote(Actor).remote();
/** A worker that calls the actor over a direct channel, n calls then one get. */
const caller = sunray.remote(async (h, n) => {
  const s = await import('sunray');
  const refs = [];
  for (let i = 0; i < n; i++) refs.push(h.smallValue.remote());
  await s.get(refs);
  return n;
});

const loops = {
  'tasks sync': async () => {
    await sunray.get(small.remote());
    return 1;
  },
  'tasks async': async () => {
    await sunray.get(Array.from({ length: 1000 }, () => small.remote()));
    return 1000;
  },
  'actor calls sync': async () => {
    await sunray.get(actor.smallValue.remote());
    return 1;
  },
  'actor calls async': async () => {
    await sunray.get(Array.from({ length: 1000 }, () => actor.smallValue.remote()));
    return 1000;
  },
  'direct actor calls async': () => sunray.get(caller.remote(actor, 1000)),
};
const step = loops[row];
if (!step) throw new Error(`no row ${row}: one of ${Object.keys(loops).join(', ')}`);

const until = async (end) => {
  let ops = 0;
  while (performance.now() < end) ops += await step();
  return ops;
};
await until(performance.now() + Math.min(1000, ms)); // warm-up: workers started, channels open
const t0 = performance.now();
const ops = await until(t0 + ms);
console.log(JSON.stringify({ rate: ops / ((performance.now() - t0) / 1000) }));
await sunray.shutdown();
