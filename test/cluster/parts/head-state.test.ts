// The head's saved directory (head-state.ts, Directory.persistTo): what is saved, what a
// restarted head takes back, and the files it refuses to read.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Directory } from '../../../lib/cluster/directory.js';
import { HEAD_STATE_VERSION, HeadState, readHeadState } from '../../../lib/cluster/head-state.js';
import { nodeIdOf, nodeInfo } from './fakes.js';

const OLD_HEAD = nodeIdOf(0x10);
const NEW_HEAD = nodeIdOf(0x11);
const W1 = nodeIdOf(0x20);
const W2 = nodeIdOf(0x30);
const DRIVER = nodeIdOf(0x40);
const TOKEN = 'a'.repeat(64);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sunray-head-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A directory saving into file, as a head's ClusterNode makes it. */
function headDirectory(file: string, selfId: string) {
  const d = new Directory(
    10_000,
    () => {},
    () => {},
  );
  const state = new HeadState(file, TOKEN, () => {});
  d.persistTo(state, selfId);
  return { d, state };
}

describe('the head state', () => {
  test('nodes, KV and jobs come back in a head started again; the old head is dead', () => {
    const file = join(dir, 'directory.json');
    const first = headDirectory(file, OLD_HEAD);
    first.d.upsert({ ...nodeInfo(OLD_HEAD), isHead: true });
    first.d.upsert(nodeInfo(W1));
    first.d.upsert(nodeInfo(W2));
    first.d.upsert({ ...nodeInfo(DRIVER), isDriver: true });
    first.d.jobs.started(DRIVER, {
      jobId: 'j1',
      namespace: 'default',
      entrypoint: 'x.js',
      pid: 1,
      startTime: 5,
    });
    first.d.markDead(W2, 'test');
    first.d.kvPut('actors', 'a1', Buffer.from([0, 1, 255]), true);
    first.d.kvPut('named', 'keeper', Buffer.from('rec'), true);
    first.d.kvDelete('named', 'keeper');
    first.d.kvPut('named', 'other', Buffer.from('rec2'), true);
    first.state.flush();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.version).toBe(HEAD_STATE_VERSION);
    expect(saved.token).toBe(TOKEN);
    expect(Object.keys(saved.tables).sort()).toEqual(['jobs', 'kv', 'nodes']);

    const second = headDirectory(file, NEW_HEAD);
    expect(second.state.load().sort()).toEqual(['jobs', 'kv', 'nodes']);
    const byId = new Map(second.d.table().map((n) => [n.nodeId, n]));
    expect(byId.get(OLD_HEAD)?.alive).toBe(false); // the head that saved it is gone
    expect(byId.get(W1)?.alive).toBe(true); // alive until it misses its rejoin
    expect(byId.get(W2)?.alive).toBe(false);
    expect(byId.get(DRIVER)?.isDriver).toBe(true);
    expect(second.d.kvGet('actors', 'a1')).toEqual(Buffer.from([0, 1, 255]));
    expect(second.d.kvGet('named', 'keeper')).toBeUndefined();
    expect(second.d.kvGet('named', 'other')?.toString()).toBe('rec2');
    expect(second.d.jobs.rows().map((j) => [j.jobId, j.status])).toEqual([['j1', 'RUNNING']]);
    // The restored driver never comes back: its job fails when its node is declared dead.
    second.d.markDead(DRIVER, 'no heartbeat');
    expect(second.d.jobs.rows()[0]?.status).toBe('FAILED');
  });

  test('changes are saved after a short debounce, in one write', async () => {
    const file = join(dir, 'directory.json');
    const { d } = headDirectory(file, OLD_HEAD);
    for (let i = 0; i < 50; i++) d.kvPut('ns', `k${i}`, Buffer.from(String(i)), true);
    expect(readHeadState(file)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect((readHeadState(file)?.tables.kv as unknown[]).length).toBe(50);
  });

  test('another table registers with persist(name, get, set) and comes back', () => {
    const file = join(dir, 'directory.json');
    const groups = new Map<string, number>([['pg1', 2]]);
    const a = new HeadState(file, TOKEN, () => {});
    a.persist(
      'placementGroups',
      () => [...groups],
      () => {},
    );
    a.flush();
    const back = new Map<string, number>();
    const b = new HeadState(file, TOKEN, () => {});
    b.persist(
      'placementGroups',
      () => [],
      (v) => {
        for (const [k, n] of v as [string, number][]) back.set(k, n);
      },
    );
    expect(b.load()).toEqual(['placementGroups']);
    expect(back.get('pg1')).toBe(2);
    expect(() =>
      b.persist(
        'placementGroups',
        () => 0,
        () => {},
      ),
    ).toThrow(/twice/);
  });

  test('a file readable by others, not JSON, or of a later version is refused', () => {
    const file = join(dir, 'directory.json');
    writeFileSync(file, JSON.stringify({ version: 1, token: TOKEN, savedAt: 0, tables: {} }), {
      mode: 0o644,
    });
    chmodSync(file, 0o644);
    expect(() => readHeadState(file)).toThrow(expect.objectContaining({ code: 'SUNRAY_HEAD_STATE' }));
    chmodSync(file, 0o600);
    expect(readHeadState(file)?.token).toBe(TOKEN);
    writeFileSync(file, '{nope');
    expect(() => readHeadState(file)).toThrow(/not JSON/);
    writeFileSync(file, JSON.stringify({ version: HEAD_STATE_VERSION + 1, token: TOKEN, tables: {} }));
    expect(() => readHeadState(file)).toThrow(/newer/);
  });

  test('a save that fails is logged once and the head runs on', () => {
    const lines: string[] = [];
    const s = new HeadState(join(dir, 'missing', 'directory.json'), TOKEN, (l) => lines.push(l));
    s.persist(
      't',
      () => 1,
      () => {},
    );
    s.flush();
    s.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('could not save');
  });
});
