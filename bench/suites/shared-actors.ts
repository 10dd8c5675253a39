// Shared actors (isolation: 'shared'): calls to one, beside calls to a process actor
// measured in the same run (alternate runs, so both see the same moments of a noisy
// machine), and 10,000 created and called once, with the resident memory each adds to
// its host process.

import { PISCINA_ASYNC } from '../baselines/pools.js';
import { vmHwmKiB } from '../harness/rss.js';
import { summarize } from '../harness/stats.js';
import { rate } from '../harness/timing.js';
import type { Benchmark, Measurement } from '../harness/types.js';
import { noRay } from '../ray/counterparts.js';
import { batch, sunrayDefs, track } from './defs.js';

/** Shared actors created in one run of `shared actor launch`. */
const LAUNCHED = 10_000;
/** The bounds: calls at 0.8x a process actor's or better; under 20 KiB an actor. */
const MIN_VS_PROCESS = 0.8;
const MAX_KIB_PER_ACTOR = 20;

/** A process's resident set now, in KiB. */
const rssKiB = (pid: number) => vmHwmKiB(pid, 'VmRSS') ?? 0;

export const sharedActorBenchmarks: Benchmark[] = [
  {
    name: '1:1 shared actor calls async',
    group: 'actors',
    kind: 'sunray',
    shape:
      "1000 a.smallValue calls to an isolation: 'shared' actor, then one get of all; runs alternate with " +
      'the same batch to a process actor (vsProcessActor: the ratio of medians)',
    vsRay: noRay('Ray has no shared actors: its actors are processes'),
    baselines: [{ name: PISCINA_ASYNC }],
    goal: {
      text: `≥ ${MIN_VS_PROCESS}× a process actor (same run)`,
      met: (m) => Number(m.extra?.vsProcessActor) >= MIN_VS_PROCESS,
    },
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const shared = track(Actor.options({ isolation: 'shared' }).remote());
      const own = track(Actor.remote());
      const one = { ...ctx, runs: 1 };
      const sharedRuns: number[] = [];
      const ownRuns: number[] = [];
      for (let i = 0; i < ctx.runs; i++) {
        const s = await rate(() => batch(api, 1000, () => shared.smallValue.remote()), one, { units: 1000 });
        const p = await rate(() => batch(api, 1000, () => own.smallValue.remote()), one, { units: 1000 });
        sharedRuns.push(...s.runs);
        ownRuns.push(...p.runs);
      }
      const m = summarize(sharedRuns, 'calls/s', true);
      const p = summarize(ownRuns, 'calls/s', true);
      const ratio = m.median / p.median;
      return {
        ...m,
        extra: { vsProcessActor: Number(ratio.toFixed(3)), processActorCallsPerS: Math.round(p.median) },
        notes: [`process actor in the same run: ${Math.round(p.median)} calls/s (${ratio.toFixed(2)}×)`],
      };
    },
  },
  {
    name: 'shared actor launch',
    group: 'actors',
    kind: 'sunray',
    shape:
      `${LAUNCHED.toLocaleString('en')} shared actors created back to back, each called once (its host's pid), ` +
      'then killed (off the clock); figure = actors/s; RSS an actor = growth of the hosts beyond empty hosts',
    vsRay: noRay('Ray has no shared actors; its actors start at about 1 a second here (see actor launch)'),
    goal: {
      text: `${LAUNCHED.toLocaleString('en')} in < 10 s, < ${MAX_KIB_PER_ACTOR} KiB an actor`,
      met: (m) => m.median >= LAUNCHED / 10 && Number(m.extra?.rssKiBPerActor) < MAX_KIB_PER_ACTOR,
    },
    timeoutMs: 300_000,
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const Shared = Actor.options({ isolation: 'shared' });
      // One actor a host keeps each host up between runs: the empty hosts' RSS is measured
      // with them, and every run starts from the same hosts.
      const anchors = [track(Shared.remote()), track(Shared.remote())];
      const anchorPids = new Set<number>(await api.get(anchors.map((a: any) => a.pid.remote())));
      await new Promise((r) => setTimeout(r, 500));
      const emptyHostKiB = Math.max(...[...anchorPids].map(rssKiB));
      const rates: number[] = [];
      const perActor: number[] = [];
      const runs = Math.max(1, Math.min(ctx.runs, ctx.quick ? 1 : 3));
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        const actors = Array.from({ length: LAUNCHED }, () => Shared.remote());
        const pids: number[] = await api.get(actors.map((a: any) => a.pid.remote()));
        rates.push(LAUNCHED / ((performance.now() - t0) / 1000));
        const hosts = new Set(pids);
        const grown = [...hosts].reduce((sum, pid) => sum + rssKiB(pid) - emptyHostKiB, 0);
        perActor.push(grown / LAUNCHED);
        for (const a of actors) (api.kill as (h: unknown) => void)(a);
        ctx.log(`run ${r + 1}: ${hosts.size} hosts, ${(grown / LAUNCHED).toFixed(1)} KiB an actor`);
        await new Promise((res) => setTimeout(res, 1000)); // the drops land, hosts settle
      }
      const m: Measurement = summarize(rates, 'actors/s', true);
      const kib = [...perActor].sort((a, b) => a - b)[perActor.length >> 1] ?? Number.NaN;
      return {
        ...m,
        extra: {
          rssKiBPerActor: Number(kib.toFixed(1)),
          emptyHostRssMiB: Number((emptyHostKiB / 1024).toFixed(1)),
          secondsFor10k: Number((LAUNCHED / m.median).toFixed(2)),
        },
        notes: [
          `${(LAUNCHED / m.median).toFixed(2)} s for ${LAUNCHED.toLocaleString('en')}; ${kib.toFixed(1)} KiB RSS an ` +
            `actor beyond an empty host (${(emptyHostKiB / 1024).toFixed(1)} MiB)`,
        ],
      };
    },
  },
];
