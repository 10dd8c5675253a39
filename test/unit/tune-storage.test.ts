// An experiment's files are written when the controller flushes them, after a turn's calls to
// the trial actors have gone out: until then nothing is on disk; a flush writes the lines in
// order, a close writes what is left, and a restored trial's progress.csv keeps its header.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ExperimentStorage, TrialLogger } from '../../lib/tune/storage.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sunray-tune-storage-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);

describe('ExperimentStorage journal', () => {
  test('lines logged are written by flush, in order, and the rest by close', () => {
    const s = ExperimentStorage.create(root, 'exp');
    const journal = join(s.path, 'experiment_state.jsonl');
    s.log({ e: 'trial', id: 'a', index: 0, config: { x: 1 }, dir: 'a' });
    s.log({ e: 'status', id: 'a', status: 'TERMINATED', failures: 0 });
    expect(readFileSync(journal, 'utf8')).toBe('');
    s.flush();
    expect(lines(journal).map((l) => JSON.parse(l).e)).toEqual(['trial', 'status']);
    s.log({ e: 'done', at: 'now' });
    s.close();
    expect(s.readJournal().map((e) => e.e)).toEqual(['trial', 'status', 'done']);
  });
});

describe('TrialLogger', () => {
  test('params and results reach disk at flush; the CSV header comes from the first result', () => {
    const s = ExperimentStorage.create(root, 'exp');
    const dir = s.makeTrialDir('t0');
    const log = new TrialLogger(dir, true);
    log.writeParams({ lr: 0.1 });
    log.write({ loss: 2, training_iteration: 1 });
    log.write({ loss: 1, training_iteration: 2 });
    expect(() => readFileSync(join(dir, 'params.json'))).toThrow(/ENOENT/);
    log.flush();
    expect(JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8'))).toEqual({ lr: 0.1 });
    expect(lines(join(dir, 'result.json')).map((l) => JSON.parse(l).loss)).toEqual([2, 1]);
    expect(lines(join(dir, 'progress.csv'))).toEqual(['loss,training_iteration', '2,1', '1,2']);
    log.write({ loss: 0.5, training_iteration: 3 });
    log.close();
    expect(lines(join(dir, 'progress.csv'))).toEqual(['loss,training_iteration', '2,1', '1,2', '0.5,3']);
    s.close();
  });

  test("a restored trial's logger appends under the header already in progress.csv", () => {
    const s = ExperimentStorage.create(root, 'exp');
    const dir = s.makeTrialDir('t0');
    const first = new TrialLogger(dir, true);
    first.write({ a: 1, b: 2 });
    first.close();
    const again = new TrialLogger(dir);
    again.write({ b: 4, a: 3, c: 5 });
    again.close();
    expect(lines(join(dir, 'progress.csv'))).toEqual(['a,b', '1,2', '3,4']);
    expect(lines(join(dir, 'result.json'))).toHaveLength(2);
    s.close();
  });
});
