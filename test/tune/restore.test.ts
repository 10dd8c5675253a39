// Tuner.restore after the driver is SIGKILLed in the middle of an experiment: the experiment
// completes, trials that had finished are not run again, trials that were running resume from
// their latest checkpoint, and the killed driver's workers are gone.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { isAlive, repoRoot, runNode, until } from '../helpers.js';

const driver = join(repoRoot, 'test', 'tune', 'fixtures', 'tune-driver.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sunray-tune-restore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function journal(path: string): { e: string; id?: string; status?: string; iteration?: number }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l));
}

test('an experiment whose driver was killed is restored and completes without rerunning finished trials', async () => {
  const storage = join(dir, 'results');
  const logs = mkdtempSync(join(dir, 'logs-'));
  const state = join(storage, 'killed', 'experiment_state.jsonl');
  const child: ChildProcess = spawn(process.execPath, [driver, 'run', storage, 'killed', logs], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  try {
    // Kill it once three trials have ended and trial x=4 (index 3), which holds after its
    // second iteration, has saved that checkpoint.
    await until(
      () => {
        const j = journal(state);
        return (
          j.filter((e) => e.status === 'TERMINATED').length >= 3 &&
          j.some((e) => e.e === 'ckpt' && e.id?.endsWith('_00003') && e.iteration === 2)
        );
      },
      60_000,
      'three trials done and trial x=4 checkpointed',
    );
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((r) => child.once('exit', r));
  const before = journal(state);
  const finished = new Set(before.filter((e) => e.status === 'TERMINATED').map((e) => e.id!));
  const created = before.filter((e) => e.e === 'trial').length;
  expect(finished.size).toBeGreaterThanOrEqual(3);
  expect(finished.size).toBeLessThan(8);
  const startsBefore = readFileSync(join(logs, 'starts.log'), 'utf8').trim().split('\n');
  // The killed driver's workers notice it is gone and exit by themselves.
  const workers = new Set<number>();
  for (const d of readdirSync(join(storage, 'killed'))) {
    if (!existsSync(join(storage, 'killed', d, 'result.json'))) continue;
    for (const line of readFileSync(join(storage, 'killed', d, 'result.json'), 'utf8').split('\n')) {
      if (line.endsWith('}')) workers.add(JSON.parse(line).pid);
    }
  }
  expect(workers.size).toBeGreaterThan(0);
  await until(() => [...workers].every((p) => !isAlive(p)), 20_000, "the killed driver's workers to exit");

  writeFileSync(join(logs, 'release'), '');
  const out = await runNode(driver, ['restore', storage, 'killed', logs], { timeoutMs: 90_000 });
  expect(out.code, out.stderr).toBe(0);
  const summary = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
    trials: { id: string; status: string; iters: number[] }[];
    best: number;
  };
  expect(summary.trials).toHaveLength(8);
  expect(summary.trials.every((t) => t.status === 'TERMINATED')).toBe(true);
  expect(summary.best).toBe(8);
  const starts = readFileSync(join(logs, 'starts.log'), 'utf8').trim().split('\n');
  const startsOf = (id: string) => starts.filter((l) => l.startsWith(`${id} `));
  for (const t of summary.trials) {
    // Every trial reached iteration 4 and its results count 1, 2, 3, 4 in order (a trial
    // interrupted between its report and the next one may repeat that iteration, as in Ray).
    expect(t.iters[t.iters.length - 1]).toBe(4);
    expect(new Set(t.iters)).toEqual(new Set([1, 2, 3, 4]));
    if (finished.has(t.id)) expect(startsOf(t.id)).toHaveLength(1);
  }
  // Trials that were running at the kill resumed from their latest checkpoint, not from the start.
  const latest = new Map<string, number>();
  for (const e of before) if (e.e === 'ckpt') latest.set(e.id!, e.iteration!);
  const restarts = starts.slice(startsBefore.length).map((l) => l.split(' '));
  const held = summary.trials.find((t) => t.id.endsWith('_00003'))!;
  expect(restarts, JSON.stringify({ before: before.filter((e) => e.id === held.id), starts })).toContainEqual(
    [held.id, '2'],
  );
  for (const [id, from] of restarts)
    expect(Number(from)).toBe(finished.has(id!) ? -1 : (latest.get(id!) ?? 0));
  // Trials the killed driver never created were created by the restored searcher, once each.
  expect(created).toBeLessThan(8);
  for (const t of summary.trials) expect(startsOf(t.id).length).toBeLessThanOrEqual(2);
});
