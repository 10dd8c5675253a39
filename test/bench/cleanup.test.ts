// The bench's cleanups: what closes at the end of a run, and what closes as soon as the rows
// that need it have run (the two-node rows' second node, which later rows must not see).

import { afterEach, describe, expect, it } from 'vitest';
import { onCleanup, onRowsDone, runCleanups, runRowsDone } from '../../bench/harness/cleanup.js';

afterEach(async () => {
  await runCleanups();
});

describe('onRowsDone', () => {
  it('runs once none of its rows is left, and only once', async () => {
    const ran: string[] = [];
    onRowsDone(['a', 'b'], 'second node', () => ran.push('node'));
    expect(await runRowsDone(new Set(['a', 'b', 'c']))).toEqual([]);
    expect(await runRowsDone(new Set(['b', 'c']))).toEqual([]);
    expect(ran).toEqual([]);
    await runRowsDone(new Set(['c']));
    expect(ran).toEqual(['node']);
    await runRowsDone(new Set());
    expect(ran).toEqual(['node']);
  });

  it('a run that selects none of its rows closes it after the first row', async () => {
    const ran: string[] = [];
    onRowsDone(['a'], 'second node', () => ran.push('node'));
    await runRowsDone(new Set(['x', 'y']));
    expect(ran).toEqual(['node']);
  });

  it('a failing or hanging cleanup is reported by name, and the others still run', async () => {
    const ran: string[] = [];
    onRowsDone(['a'], 'throws', () => {
      throw new Error('boom');
    });
    onRowsDone(['a'], 'hangs', () => new Promise(() => {}));
    onRowsDone(['a'], 'fine', () => ran.push('fine'));
    const failed = await runRowsDone(new Set(), 50);
    expect(failed.sort()).toEqual(['hangs: timed out', 'throws: boom']);
    expect(ran).toEqual(['fine']);
  });

  it('the end of the run drops what was not yet due, and runs the ordinary cleanups last first', async () => {
    const ran: string[] = [];
    onRowsDone(['a'], 'second node', () => ran.push('node'));
    onCleanup('first', () => ran.push('first'));
    onCleanup('second', () => ran.push('second'));
    expect(await runCleanups()).toEqual([]);
    expect(ran).toEqual(['second', 'first']);
    await runRowsDone(new Set());
    expect(ran).toEqual(['second', 'first']);
  });
});
