// tune.run and the Tuner on a real sunray (2 CPUs): trials on reused actors, results on disk in
// Ray's layout, report() per iteration and stop criteria, random and TPE search, failures and
// retries, class trainables with checkpoints, progress output.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import * as tune from 'sunray/tune';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive } from '../helpers.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sunray-tune-test-'));
  await sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 });
});
afterAll(async () => {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { verbose: 0 as const };

describe('function trainables', () => {
  test("grid x numSamples trials run once each, on reused actors, with Ray's files on disk", async () => {
    const analysis = await tune.run(
      (config: { a: number; b: number }) => ({ score: config.a * config.b, pid: process.pid }),
      {
        config: { a: tune.gridSearch([1, 2, 3]), b: tune.uniform(0, 1) },
        metric: 'score',
        mode: 'max',
        numSamples: 2,
        storagePath: dir,
        name: 'grid',
        ...quiet,
      },
    );
    expect(analysis.trials).toHaveLength(6);
    expect(analysis.trials.every((t) => t.status === 'TERMINATED')).toBe(true);
    expect(analysis.trials.map((t) => t.config.a)).toEqual([1, 2, 3, 1, 2, 3]);
    const best = Math.max(...analysis.trials.map((t) => t.config.a * t.config.b));
    expect(analysis.bestResult.score).toBe(best);
    expect(analysis.bestConfig.a * analysis.bestConfig.b).toBe(best);
    expect(analysis.bestTrial.config).toEqual(analysis.bestConfig);
    expect(analysis.bestTrial.lastResult).toBe(analysis.bestResult);
    expect(Object.keys(analysis.results)).toHaveLength(6);
    // Two slots, two actors: trials after the first two ran in the same processes.
    expect(analysis.stats!.actorsStarted).toBe(2);
    expect(new Set(analysis.trials.map((t) => t.lastResult!.pid)).size).toBeLessThanOrEqual(2);

    const exp = join(dir, 'grid');
    expect(analysis.experimentPath).toBe(exp);
    expect(existsSync(join(exp, 'tuner.json'))).toBe(true);
    const journal = readFileSync(join(exp, 'experiment_state.jsonl'), 'utf8').trim().split('\n');
    expect(journal.filter((l) => l.includes('"e":"trial"'))).toHaveLength(6);
    for (const t of analysis.trials) {
      expect(t.path.startsWith(exp)).toBe(true);
      expect(JSON.parse(readFileSync(join(t.path, 'params.json'), 'utf8'))).toEqual(t.config);
      const lines = readFileSync(join(t.path, 'result.json'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        score: t.config.a * t.config.b,
        trial_id: t.trialId,
        training_iteration: 1,
        done: true,
      });
      expect(lines[0].config).toEqual(t.config);
      const csv = readFileSync(join(t.path, 'progress.csv'), 'utf8').trim().split('\n');
      expect(csv).toHaveLength(2);
      expect(csv[0]!.split(',')).toEqual(
        expect.arrayContaining(['score', 'training_iteration', 'config/a', 'config/b']),
      );
    }
    const rows = analysis.rows();
    expect(rows[0]).toMatchObject({ status: 'TERMINATED', 'config/a': 1 });
  });

  test('report() once per iteration; a stop criterion ends each trial', async () => {
    async function iterate(config: { rate: number }) {
      for (let i = 1; i <= 1000; i++) await tune.report({ value: config.rate * i });
    }
    const analysis = await tune.run(iterate, {
      config: { rate: tune.gridSearch([1, 2]) },
      stop: { training_iteration: 5 },
      storagePath: dir,
      ...quiet,
    });
    for (const t of analysis.trials) {
      expect(t.status).toBe('TERMINATED');
      const results = analysis.trialResults(t);
      expect(results.map((r) => r.training_iteration)).toEqual([1, 2, 3, 4, 5]);
      expect(results.map((r) => r.value)).toEqual([1, 2, 3, 4, 5].map((i) => i * t.config.rate));
      expect(results[4]!.time_total_s).toBeGreaterThanOrEqual(results[0]!.time_total_s);
    }
    expect(analysis.getBestConfig('value', 'max')).toEqual({ rate: 2 });
    expect(analysis.getBestTrial('value', 'min', 'all')!.config.rate).toBe(1);
  });

  test('random search and TPE search run numSamples trials over their space', async () => {
    const space = { x: tune.uniform(-5, 5), kind: tune.choice(['a', 'b']) };
    const objective = (c: { x: number; kind: string }) => ({
      loss: (c.x - 1) ** 2 + (c.kind === 'a' ? 0 : 1),
    });
    const random = await tune.run(objective, {
      config: space,
      metric: 'loss',
      mode: 'min',
      numSamples: 8,
      storagePath: dir,
      ...quiet,
    });
    expect(random.trials).toHaveLength(8);
    const tpe = new tune.TPESearch({ seed: 1, nStartupTrials: 4 });
    const tuned = await tune.run(objective, {
      config: space,
      metric: 'loss',
      mode: 'min',
      numSamples: 12,
      searchAlg: tpe,
      storagePath: dir,
      ...quiet,
    });
    expect(tuned.trials).toHaveLength(12);
    expect(tpe.numObservations).toBe(12);
    for (const t of tuned.trials) expect(Math.abs(t.config.x)).toBeLessThanOrEqual(5);
    expect(tuned.bestResult.loss).toBeLessThan(5);
  });

  test('maxConcurrentTrials 1: one actor, one trial at a time; resume: AUTO does not rerun a finished experiment', async () => {
    const f = (c: { a: number }) => ({ a: c.a, pid: process.pid, at: Date.now() });
    const opts = {
      config: { a: tune.gridSearch([1, 2, 3]) },
      maxConcurrentTrials: 1,
      storagePath: dir,
      name: 'resumable',
      ...quiet,
    };
    const first = await tune.run(f, opts);
    expect(first.stats!.actorsStarted).toBe(1);
    expect(new Set(first.trials.map((t) => t.lastResult!.pid)).size).toBe(1);
    const again = await tune.run(f, { ...opts, resume: 'AUTO' });
    expect(again.trials.map((t) => t.status)).toEqual(['TERMINATED', 'TERMINATED', 'TERMINATED']);
    expect(again.trials.map((t) => t.lastResult!.at)).toEqual(first.trials.map((t) => t.lastResult!.at));
    expect(again.stats!.trialsStarted).toBe(0);
    await expect(tune.run(f, opts)).rejects.toThrow(/exists: pass resume/);
    await expect(tune.run(f, { ...opts, name: 'never-ran', resume: true })).rejects.toThrow(tune.TuneError);
  });

  test('reuseActors false: a new actor per trial; the ResultGrid iterates, ranks and tabulates its trials', async () => {
    const f = (c: { a: number }) => ({ a: c.a, pid: process.pid });
    const tuner = new tune.Tuner(f, {
      paramSpace: { a: tune.gridSearch([1, 2, 3, 4]) },
      tuneConfig: {
        metric: 'a',
        mode: 'max',
        reuseActors: false,
        scheduler: new tune.FIFOScheduler(),
        searchAlg: new tune.BasicVariantGenerator(),
      },
      runConfig: { storagePath: dir, name: 'fresh-actors', verbose: 0 },
    });
    const grid = await tuner.fit();
    expect(grid.stats!.actorsStarted).toBe(4);
    expect(new Set([...grid].map((r) => r.metrics!.pid)).size).toBe(4);
    expect([...grid].map((r) => r.config.a)).toEqual([1, 2, 3, 4]);
    expect(grid.getBestResult().config.a).toBe(4);
    expect(grid.getBestResult('a', 'min').config.a).toBe(1);
    expect(grid.rows().map((r) => [r['config/a'], r.status])).toEqual([
      [1, 'TERMINATED'],
      [2, 'TERMINATED'],
      [3, 'TERMINATED'],
      [4, 'TERMINATED'],
    ]);
    expect(grid.errors).toEqual([]);
  });

  test('restore replaces a trial directory that a killed driver made but never journaled', async () => {
    const f = (c: { a: number }) => ({ a: c.a, at: Date.now() });
    const first = await tune.run(f, {
      config: { a: tune.gridSearch([1, 2, 3]) },
      maxConcurrentTrials: 1,
      storagePath: dir,
      name: 'leftover-dir',
      ...quiet,
    });
    // As if the driver was killed right after making trial 3's directory: the journal has
    // neither that trial nor the experiment's end, the directory is there with its files.
    const last = first.trials[2]!;
    const journal = join(first.experimentPath, 'experiment_state.jsonl');
    const kept = readFileSync(journal, 'utf8')
      .split('\n')
      .filter((l) => l && !l.includes(`"id":"${last.trialId}"`) && !l.includes('"e":"done"'));
    writeFileSync(journal, kept.map((l) => `${l}\n`).join(''));
    expect(existsSync(join(last.path, 'result.json'))).toBe(true);
    const tuner = tune.Tuner.restore(first.experimentPath, f);
    const grid = await tuner.fit();
    expect([...grid].map((r) => [r.config.a, r.metrics?.a, r.error])).toEqual([
      [1, 1, undefined],
      [2, 2, undefined],
      [3, 3, undefined],
    ]);
    // Trial 3 ran again in a fresh directory: one result, not the old run's as well.
    expect(grid.get(2).path).toBe(last.path);
    expect(readFileSync(join(last.path, 'result.json'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(grid.get(2).metrics?.at).toBeGreaterThan(Number(last.lastResult!.at));
    expect(grid.get(0).metrics?.at).toBe(first.trials[0]!.lastResult!.at);
  });

  test('a trainable reading a variable from outside itself is refused before anything runs', async () => {
    const factor = 3;
    const config = { a: tune.gridSearch([1, 2]) };
    const bad = (c: { a: number }) => ({ v: c.a * factor });
    await expect(tune.run(bad, { config, storagePath: dir, ...quiet })).rejects.toThrow(
      sunray.SerializationError,
    );
    await expect(tune.run(bad, { config, storagePath: dir, ...quiet })).rejects.toThrow(/reads 'factor'/);
    expect(() => tune.report({ x: 1 })).toThrow(tune.TuneError);
  });

  test('a trial asking for more than the cluster has is refused', async () => {
    await expect(
      tune.run(() => ({ x: 1 }), { resourcesPerTrial: { cpu: 3 }, storagePath: dir, ...quiet }),
    ).rejects.toThrow(/no trial could ever start/);
  });
});

describe('failures', () => {
  test('a trial that throws is retried up to maxFailures, then ERROR; the experiment goes on', async () => {
    const marks = mkdtempSync(join(dir, 'marks-'));
    async function flaky(config: { mode: string; marks: string }) {
      const fs = await import('node:fs');
      const path = await import('node:path');
      const mark = path.join(config.marks, tune.getContext().trialId);
      const attempt = fs.existsSync(mark) ? Number(fs.readFileSync(mark, 'utf8')) + 1 : 1;
      fs.writeFileSync(mark, String(attempt));
      fs.writeFileSync(`${mark}.pid${attempt}`, String(process.pid));
      if (config.mode === 'always') throw new Error(`broken config (attempt ${attempt})`);
      if (config.mode === 'once' && attempt === 1) throw new Error('transient');
      if (config.mode === 'crash' && attempt === 1) process.exit(3);
      return { ok: 1, attempt };
    }
    const space = { mode: tune.gridSearch(['always', 'once', 'crash', 'fine']), marks };
    await expect(
      tune.run(flaky, { config: space, maxFailures: 1, storagePath: dir, ...quiet }),
    ).rejects.toThrow(/1 of 4 trials ended in ERROR/);
    const analysisMarks = mkdtempSync(join(dir, 'marks-'));
    const analysis = await tune.run(flaky, {
      config: { ...space, marks: analysisMarks },
      maxFailures: 1,
      raiseOnFailedTrial: false,
      storagePath: dir,
      ...quiet,
    });
    const byMode = Object.fromEntries(analysis.trials.map((t) => [t.config.mode, t]));
    expect(byMode.always!.status).toBe('ERROR');
    expect(byMode.always!.numFailures).toBe(2);
    expect(byMode.always!.error).toBeInstanceOf(tune.TrialFailedError);
    expect(byMode.always!.error!.message).toMatch(/broken config \(attempt 2\)/);
    expect(byMode.always!.error!.attempts).toBe(2);
    expect(readFileSync(join(byMode.always!.path, 'error.txt'), 'utf8')).toMatch(/broken config/);
    // Retried once, then fine; a worker that died is replaced by a new actor.
    expect(byMode.once!.status).toBe('TERMINATED');
    expect(byMode.once!.lastResult!.attempt).toBe(2);
    expect(byMode.crash!.status).toBe('TERMINATED');
    expect(byMode.crash!.lastResult!.attempt).toBe(2);
    expect(byMode.fine!.lastResult!.attempt).toBe(1);
    // The crashed attempt's worker is gone; the retry ran in another process. (A replacement
    // actor is started only if no other is idle by then: 2 or 3 actors in all.)
    const pidOf = (t: tune.Trial, attempt: number) =>
      Number(readFileSync(join(analysisMarks, `${t.trialId}.pid${attempt}`), 'utf8'));
    expect(isAlive(pidOf(byMode.crash!, 1))).toBe(false);
    expect(pidOf(byMode.crash!, 2)).not.toBe(pidOf(byMode.crash!, 1));
    expect(analysis.stats!.actorsStarted).toBeGreaterThanOrEqual(2);
    expect(analysis.stats!.actorsStarted).toBeLessThanOrEqual(3);
    const tuner = new tune.Tuner(flaky, {
      paramSpace: { mode: tune.gridSearch(['always', 'fine']), marks: mkdtempSync(join(dir, 'marks-')) },
      runConfig: { storagePath: dir, verbose: 0 },
    });
    const grid = await tuner.fit();
    expect(grid.numErrors).toBe(1);
    expect(grid.errors[0]).toBeInstanceOf(tune.TrialFailedError);
    expect(grid.numTerminated).toBe(1);
  });
});

describe('schedulers on real trials', () => {
  async function curve(config: { q: number }) {
    for (let i = 1; i <= 100; i++) {
      await new Promise((r) => setTimeout(r, 2));
      await tune.report({ score: config.q * (1 - Math.exp(-i / 4)) });
    }
  }
  const space = { q: tune.gridSearch([0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4]) };

  test('ASHA stops bad trials early: fewer iterations than FIFO, and the best trial survives to maxT', async () => {
    const fifo = await tune.run(curve, {
      config: space,
      metric: 'score',
      mode: 'max',
      stop: { training_iteration: 16 },
      storagePath: dir,
      ...quiet,
    });
    const asha = await tune.run(curve, {
      config: space,
      metric: 'score',
      mode: 'max',
      scheduler: new tune.ASHAScheduler({ maxT: 16, gracePeriod: 1, reductionFactor: 2 }),
      storagePath: dir,
      ...quiet,
    });
    const iterations = (a: tune.ExperimentAnalysis<any, any>) =>
      a.trials.reduce((n, t) => n + t.numResults, 0);
    expect(iterations(fifo)).toBe(8 * 16);
    expect(iterations(asha)).toBeLessThan(0.7 * 8 * 16);
    expect(asha.bestConfig.q).toBe(0.9);
    expect(asha.bestResult.training_iteration).toBe(16);
    expect(asha.trials.every((t) => t.status === 'TERMINATED')).toBe(true);
  });

  test("PBT: weak trials restart from strong trials' checkpoints with perturbed configs", async () => {
    async function grow(config: { lr: number; barrier: string }) {
      const fs = await import('node:fs');
      const saved = tune.getCheckpoint()?.toDict() as { x: number; from: string[] } | undefined;
      if (!saved) {
        // Start together: PBT compares trials that run at the same time.
        fs.writeFileSync(`${config.barrier}/${tune.getContext().trialId}`, '');
        while (fs.readdirSync(config.barrier).length < 4) await new Promise((r) => setTimeout(r, 10));
      }
      let x = saved?.x ?? 0;
      const from = [...(saved?.from ?? []), tune.getContext().trialId];
      for (;;) {
        x += config.lr;
        await new Promise((r) => setTimeout(r, 10));
        await tune.report(
          { score: x, from: from.join('>') },
          { checkpoint: tune.Checkpoint.fromDict({ x, from }) },
        );
      }
    }
    const pbt = new tune.PopulationBasedTraining({
      timeAttr: 'training_iteration',
      perturbationInterval: 2,
      hyperparamMutations: { lr: [0.01, 0.1, 1, 2] },
      seed: 7,
    });
    const analysis = await tune.run(grow, {
      config: { lr: tune.gridSearch([0.01, 0.1, 1, 2]), barrier: mkdtempSync(join(dir, 'barrier-')) },
      metric: 'score',
      mode: 'max',
      scheduler: pbt,
      stop: { training_iteration: 10 },
      resourcesPerTrial: { cpu: 0.5 },
      checkpointConfig: { numToKeep: 2 },
      storagePath: dir,
      ...quiet,
    });
    expect(pbt.numPerturbations).toBeGreaterThan(0);
    const weakest = analysis.trials.find((t) => t.trialId.endsWith('_00000'))!;
    // It copied a stronger trial's state: its score is above what lr 0.01 reaches in 10 steps...
    expect(weakest.lastResult!.score).toBeGreaterThan(0.01 * 10 + 1e-9);
    // ...and its checkpoint's lineage names the trial it came from.
    expect(String(weakest.lastResult!.from).split('>').length).toBeGreaterThan(1);
    const journal = readFileSync(join(analysis.experimentPath, 'experiment_state.jsonl'), 'utf8');
    expect(journal).toContain(`"e":"config","id":"${weakest.trialId}"`);
    expect(weakest.lastResult!.training_iteration).toBe(10);
    // numToKeep 2: at most 2 checkpoint directories left per trial.
    for (const t of analysis.trials) {
      const ckpts = readdirSync(t.path).filter((f) => f.startsWith('checkpoint_'));
      expect(ckpts.length).toBeGreaterThan(0);
      expect(ckpts.length).toBeLessThanOrEqual(2);
    }
  });
});

describe('class trainables', () => {
  test('setup, step, checkpoints every n iterations; a crash resumes from the latest checkpoint', async () => {
    class Counter extends tune.Trainable<{ inc: number; marks: string }> {
      total = 0;
      override setup(config: { inc: number }) {
        this.total = 0;
        void config;
      }
      override async step() {
        const fs = await import('node:fs');
        const path = await import('node:path');
        this.total += this.config.inc;
        const mark = path.join(this.config.marks, this.trialId);
        if (this.iteration === 2 && !fs.existsSync(mark)) {
          fs.writeFileSync(mark, 'crashed once');
          throw new Error('crash at the third step');
        }
        return { total: this.total, restoredAt: this.iteration };
      }
      override saveCheckpoint() {
        return { total: this.total };
      }
      override loadCheckpoint(c: tune.Checkpoint) {
        this.total = c.toDict<{ total: number }>().total;
      }
    }
    const tuner = new tune.Tuner(Counter, {
      paramSpace: { inc: tune.gridSearch([1, 10]), marks: mkdtempSync(join(dir, 'marks-')) },
      tuneConfig: { metric: 'total', mode: 'max' },
      runConfig: {
        storagePath: dir,
        stop: { training_iteration: 5 },
        checkpointConfig: { checkpointFrequency: 2 },
        failureConfig: { maxFailures: 1 },
        verbose: 0,
      },
    });
    const grid = await tuner.fit();
    expect(grid.length).toBe(2);
    const best = grid.getBestResult();
    expect(best.config.inc).toBe(10);
    expect(best.metrics!.total).toBe(50);
    expect(best.metrics!.training_iteration).toBe(5);
    // Iterations 1-2, a crash at 3, then 3-5 again from the checkpoint of iteration 2.
    const iters = best.metricsRows().map((r) => r.training_iteration);
    expect(iters).toEqual([1, 2, 3, 4, 5]);
    expect(best.trial.numFailures).toBe(1);
    expect(best.checkpoint!.toDict()).toEqual({ total: 40 });
    for (const r of grid) expect(r.error).toBeUndefined();
  });
});

describe('progress output', () => {
  function sink(isTTY: boolean) {
    let text = '';
    const write = (s: string) => {
      text += s;
      return true;
    };
    return { out: { isTTY, write } as any, text: () => text };
  }

  test('verbose 1 prints status lines; verbose 2 a table; on a TTY it redraws in place', async () => {
    const f = (c: { a: number }) => ({ score: c.a });
    const lines = sink(false);
    await tune.run(f, {
      config: { a: tune.gridSearch([1, 2, 3]) },
      metric: 'score',
      mode: 'max',
      storagePath: dir,
      progressReporter: { out: lines.out },
    });
    expect(lines.text()).toMatch(/3 TERMINATED, 0 ERROR, 0 PENDING of 3 \| best score=3/);
    expect(lines.text()).not.toContain('\x1b[');
    const table = sink(false);
    await tune.run(f, {
      config: { a: tune.gridSearch([1, 2]) },
      metric: 'score',
      mode: 'max',
      verbose: 2,
      storagePath: dir,
      progressReporter: { out: table.out },
    });
    expect(table.text()).toMatch(/Trial name +status +loc +a +score +iter +total time \(s\)/);
    expect(table.text()).toMatch(/f_\w+_00001 +TERMINATED +\S+:\d+ +2 +2 +1/);
    const tty = sink(true);
    await tune.run(f, {
      config: { a: tune.gridSearch([1, 2]) },
      verbose: 2,
      storagePath: dir,
      progressReporter: { out: tty.out, intervalMs: 0 },
    });
    expect(tty.text()).toContain('\x1b[0J');
  });
});
