import * as api from './dist/index.js';
import { readFileSync } from 'node:fs';
await api.init();
const Actor = api.remote(class Actor {
  async smallValueBatch(n) {
    const s = await import('sunray');
    const g = globalThis;
    g.__f ??= s.remote(() => 'ok');
    const refs = [];
    for (let i = 0; i < n; i++) refs.push(g.__f.remote());
    await s.get(refs);
  }
  pid() { return process.pid; }
});
const actors = Array.from({ length: Number(process.env.NA ?? 4) }, () => Actor.remote());
const pids = await api.get(actors.map((a) => a.pid.remote()));
const cpu = (pid) => { try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; } catch { return 0; } };
const children = () => readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
await api.get(actors.map((a) => a.smallValueBatch.remote(2000)));
const all = [process.pid, ...children()];
const before = all.map(cpu);
const t0 = performance.now();
for (let r = 0; r < Number(process.env.R ?? 5); r++) await api.get(actors.map((a) => a.smallValueBatch.remote(10000)));
const ms = performance.now() - t0;
const after = all.map(cpu);
console.log(`rate ${((10000 * Number(process.env.R ?? 5) * actors.length) / ms * 1000).toFixed(0)}/s over ${ms.toFixed(0)} ms`);
all.forEach((p, i) => console.log(p === process.pid ? 'driver' : pids.includes(p) ? 'actor ' : 'worker', p, `${(after[i] - before[i])} ms cpu`));
await api.shutdown();
