// Worker log logic without processes: the tag a worker puts on its lines and the node reads
// off; Ray's deduplication with a fake clock (first copy at once, copies from other
// processes counted and folded when the window ends, a process's own repeats all printed);
// the driver's printer; a worker's files rotated at their size bound, bounded in number,
// read by offset and from the end, and removed with the node.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEDUP_WINDOW_MS, dedupKey, LogDedup, type PrintLine } from '../../../lib/node/log-dedup.js';
import { LogPrinter } from '../../../lib/node/log-printer.js';
import { LogRouter } from '../../../lib/node/log-router.js';
import {
  checkLogRotation,
  MAX_EXITED_WORKERS,
  NO_LOG_FILES,
  WorkerLogFiles,
} from '../../../lib/node/worker-log-files.js';
import { lastLines, linePrefix, lineTag, readLine } from '../../../lib/protocol/log-lines.js';

const line = (pid: number, text: string, node?: string): PrintLine => ({
  pid,
  err: false,
  jobId: 'j',
  name: 'f',
  text,
  ...(node ? { node } : {}),
});

describe('log lines', () => {
  test("a tagged line gives its job, task and text; an untagged one is the worker's", () => {
    expect(readLine(`${lineTag('0a0b0c0d', 'Room.enter')}hello`, 7, true)).toEqual({
      pid: 7,
      err: true,
      jobId: '0a0b0c0d',
      name: 'Room.enter',
      text: 'hello',
    });
    // Control characters in a name cannot break the tag.
    expect(readLine(`${lineTag('', 'a\u0003b')}x`, 1, false)).toMatchObject({ name: 'a b', text: 'x' });
    expect(readLine('from a native addon', 3, false)).toEqual({
      pid: 3,
      err: false,
      jobId: '',
      name: 'worker',
      text: 'from a native addon',
    });
    expect(linePrefix({ name: 'f', pid: 9 })).toBe('(f pid=9) ');
    expect(linePrefix({ name: 'f', pid: 9 }, 'abcdef0123456789')).toBe('(f pid=9, node=abcdef01) ');
  });

  test('lastLines keeps the last n whole lines', () => {
    expect(lastLines('a\nb\nc\n', 2, false)).toBe('b\nc\n');
    expect(lastLines('partial\nb\nc', 5, true)).toBe('b\nc');
    expect(lastLines('a\nb\n', 0, false)).toBe('');
    expect(lastLines('a\nb\n', Number.POSITIVE_INFINITY, false)).toBe('a\nb\n');
  });
});

describe('log deduplication', () => {
  test('words with digits or long hex are left out of the comparison', () => {
    expect(dedupKey({ err: false, text: 'step 12 on worker 9a1f0000deadbeef77' })).toBe(
      dedupKey({ err: false, text: 'step 13 on worker 77c20000deadbeef12' }),
    );
    expect(dedupKey({ err: false, text: 'x' })).not.toBe(dedupKey({ err: true, text: 'x' }));
    expect(dedupKey({ err: false, text: '42 17' })).toBe('');
  });

  test('copies from other processes are held back and folded when the window ends', () => {
    let now = 0;
    const d = new LogDedup(() => now);
    expect(d.take([line(1, 'loading 1 of 3'), line(2, 'loading 2 of 3')]).map((l) => l.text)).toEqual([
      'loading 1 of 3',
    ]);
    now = 1000;
    // Another node's process, and a line that is not alike.
    expect(d.take([line(3, 'loading 3 of 3', 'n2'), line(2, 'done')]).map((l) => l.text)).toEqual(['done']);
    // The first process repeating itself prints every time.
    expect(d.take([line(1, 'loading 9 of 9')]).map((l) => l.text)).toEqual(['loading 9 of 9']);
    expect(d.flush()).toEqual([]);
    now = DEDUP_WINDOW_MS;
    expect(d.flush()).toEqual([{ ...line(3, 'loading 3 of 3 [repeated 2x across cluster]', 'n2') }]);
    // A new window: printed at once again.
    expect(d.take([line(4, 'loading 4 of 9')]).map((l) => l.text)).toEqual(['loading 4 of 9']);
    expect(d.take([line(5, 'loading 5 of 9')])).toEqual([]);
    expect(d.flush(true).map((l) => l.text)).toEqual(['loading 5 of 9 [repeated 1x across cluster]']);
  });

  test('a line whose window ended is folded before the next copy starts a new one', () => {
    let now = 0;
    const d = new LogDedup(() => now);
    d.take([line(1, 'tick 1'), line(2, 'tick 2')]);
    now = DEDUP_WINDOW_MS + 1;
    expect(d.take([line(3, 'tick 3')]).map((l) => l.text)).toEqual([
      'tick 2 [repeated 1x across cluster]',
      'tick 3',
    ]);
  });

  test("the printer writes each stream's lines with their prefix; without dedup every line", () => {
    const written: Array<[boolean, string]> = [];
    const p = new LogPrinter(false, (err, text) => written.push([err, text]));
    p.print([line(1, 'a'), { ...line(2, 'b', 'ffeeddcc99'), err: true }, line(3, 'a')]);
    p.close();
    expect(written).toEqual([
      [false, '(f pid=1) a\n(f pid=3) a\n'],
      [true, '(f pid=2, node=ffeeddcc) b\n'],
    ]);
  });
});

describe('worker log files', () => {
  let session = '';
  const before = process.env.SUNRAY_SESSION_DIR;
  beforeAll(() => {
    session = mkdtempSync(join(tmpdir(), 'sunray-logs-test-'));
    process.env.SUNRAY_SESSION_DIR = join(session, 's');
  });
  afterAll(() => {
    if (before === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = before;
    rmSync(session, { recursive: true, force: true });
  });

  test('files rotate past maxBytes, keep backupCount, read by offset and from the end', () => {
    const files = new WorkerLogFiles('ab'.repeat(16), { maxBytes: 4096, backupCount: 2 });
    const w = files.forWorker(101);
    const kb = (c: string) => Buffer.from(`${c.repeat(1023)}\n`);
    for (const c of 'abcdefghijklmnop') w.write(false, kb(c));
    w.write(true, Buffer.from('oops\n'));
    const names = readdirSync(files.dir).sort();
    expect(names).toEqual(['worker-101.err', 'worker-101.out', 'worker-101.out.1', 'worker-101.out.2']);
    expect(readFileSync(join(files.dir, 'worker-101.out'), 'utf8')).toBe(
      ['m', 'n', 'o', 'p'].map((c) => `${c.repeat(1023)}\n`).join(''),
    );
    expect(files.read(101, 'err', 0, 100)).toEqual({ text: 'oops\n', size: 5 });
    expect(files.read(101, 'err', 2, 2)).toEqual({ text: 'ps', size: 4 });
    expect(files.read(101, 'out', -1024, 1 << 20).text).toBe(`${'p'.repeat(1023)}\n`);
    expect(files.read(999, 'out', 0, 10)).toEqual({ text: '', size: -1 });
    expect(files.list()).toEqual([
      { nodeId: 'ab'.repeat(16), pid: 101, stream: 'out', size: 4096, alive: true },
      { nodeId: 'ab'.repeat(16), pid: 101, stream: 'err', size: 5, alive: true },
    ]);
    w.close();
    expect(files.list().every((r) => !r.alive)).toBe(true);
    expect(files.read(101, 'err', 0, 100).text).toBe('oops\n');
    files.removeAll();
    expect(() => readdirSync(files.dir)).toThrow();
  });

  test('files of exited workers are kept up to MAX_EXITED_WORKERS, oldest removed first', () => {
    const files = new WorkerLogFiles('cd'.repeat(16), { maxBytes: 4096, backupCount: 0 });
    for (let pid = 1; pid <= MAX_EXITED_WORKERS + 3; pid++) {
      const w = files.forWorker(pid);
      w.write(false, Buffer.from(`${pid}\n`));
      w.close();
    }
    const pids = new Set(files.list().map((r) => r.pid));
    expect(pids.size).toBe(MAX_EXITED_WORKERS);
    expect(pids.has(3)).toBe(false);
    expect(pids.has(4)).toBe(true);
    expect(readdirSync(files.dir)).toHaveLength(2 * MAX_EXITED_WORKERS);
    files.removeAll();
  });

  test('a node whose log directory cannot be made keeps no files, says so, and runs on', async () => {
    const unsafe = join(session, 'open-to-all');
    mkdirSync(unsafe, { mode: 0o777 });
    chmodSync(unsafe, 0o777);
    const warned: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warned.push(w.code ?? '');
    process.on('warning', onWarning);
    process.env.SUNRAY_SESSION_DIR = unsafe;
    try {
      const router = new LogRouter('ef'.repeat(16), { logToDriver: false }, () => undefined);
      expect(router.files).toBe(NO_LOG_FILES);
      router.fromWorker([line(1, 'still routed')]);
      router.close();
      await new Promise((r) => setImmediate(r));
      expect(warned).toContain('SUNRAY_LOG_FILES');
    } finally {
      process.off('warning', onWarning);
      process.env.SUNRAY_SESSION_DIR = join(session, 's');
    }
  });

  test('logRotation is checked', () => {
    expect(checkLogRotation(undefined, 'init()')).toEqual({ maxBytes: 64 << 20, backupCount: 2 });
    expect(checkLogRotation({ backupCount: 0 }, 'init()')).toEqual({ maxBytes: 64 << 20, backupCount: 0 });
    expect(() => checkLogRotation({ maxBytes: 10 }, 'init()')).toThrow(/maxBytes/);
    expect(() => checkLogRotation({ backupCount: -1 }, 'init()')).toThrow(/backupCount/);
  });
});
